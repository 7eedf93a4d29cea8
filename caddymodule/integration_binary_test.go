package caddymodule_test

// Tests that run the built Caddy binary as operators do: as its own user,
// reloaded with `caddy reload`, with its own admin endpoint and logs.

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/caddybin"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/loopback"
)

// binaryWait bounds how long a running binary takes to see a change.
const binaryWait = 15 * time.Second

// caddyProc is a Caddy binary running until the test ends.
type caddyProc struct {
	t      *testing.T
	bin    string
	dir    string // home, config and log directory
	admin  string // host:port of the admin endpoint
	log    string // stdout and stderr
	cred   *syscall.Credential
	exited chan error
}

// binaryGlobals are the global options of a binary's Caddyfile: its own
// admin endpoint, no automatic HTTPS, nothing autosaved.
func binaryGlobals(admin, more string) string {
	return "{\n\tadmin " + admin + "\n\tauto_https off\n\tpersist_config off\n" + more + "}\n"
}

// startBinary runs the Caddy binary with the Caddyfile that config returns
// for the admin address, as the user of cred (nil: this process's user),
// and waits until the admin endpoint and every site port answer. dir must
// be writable by that user.
func startBinary(t *testing.T, bin, dir string, cred *syscall.Credential, config func(admin string) string, sitePorts ...int) *caddyProc {
	t.Helper()
	p := &caddyProc{t: t, bin: bin, dir: dir, admin: "127.0.0.1:" + itoa(loopback.Port(t)), log: filepath.Join(dir, "caddy.out"), cred: cred, exited: make(chan error, 1)}
	file := p.writeConfig("Caddyfile", config(p.admin))
	out, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		if err := os.Chown(p.log, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "run", "--config", file, "--adapter", "caddyfile")
	cmd.Dir = dir
	cmd.Env = caddybin.Env(dir)
	cmd.Stdout, cmd.Stderr = out, out
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- cmd.Wait() }()
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		// Stop the process this test started, by its PID.
		syscall.Kill(pid, syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(pid, syscall.SIGKILL)
			<-p.exited
		}
		out.Close()
		if t.Failed() {
			t.Logf("caddy output:\n%s", p.output())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	addrs := []string{p.admin}
	for _, port := range sitePorts {
		addrs = append(addrs, "127.0.0.1:"+itoa(port))
	}
	for {
		for len(addrs) > 0 {
			c, err := dialOK(addrs[0])
			if err != nil {
				break
			}
			c.Close()
			addrs = addrs[1:]
		}
		if len(addrs) == 0 {
			return p
		}
		select {
		case err := <-p.exited:
			p.exited <- err
			t.Fatalf("caddy exited: %v\n%s", err, p.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("caddy did not answer at %s\n%s", addrs[0], p.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *caddyProc) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// writeConfig writes a Caddyfile into the process's directory.
func (p *caddyProc) writeConfig(name, text string) string {
	p.t.Helper()
	file := filepath.Join(p.dir, name)
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		p.t.Fatal(err)
	}
	return file
}

// reload runs `caddy reload --force` with a new Caddyfile and returns its
// output and error.
func (p *caddyProc) reload(config string) (string, error) {
	p.t.Helper()
	file := p.writeConfig("Caddyfile.next", config)
	cmd := exec.Command(p.bin, "reload", "--force", "--config", file, "--adapter", "caddyfile", "--address", p.admin)
	cmd.Dir = p.dir
	cmd.Env = caddybin.Env(p.t.TempDir())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// mustReload is reload that fails the test when the reload fails.
func (p *caddyProc) mustReload(config string) {
	p.t.Helper()
	if out, err := p.reload(config); err != nil {
		p.t.Fatalf("caddy reload: %v\n%s", err, out)
	}
}

// logEntries returns the JSON log lines of file with the given message.
func logEntries(t *testing.T, file, msg string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var found []map[string]any
	for _, l := range strings.Split(string(data), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			found = append(found, m)
		}
	}
	return found
}

// dialOK connects to addr.
func dialOK(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, time.Second) }

// binarySite is a site block of a binary's Caddyfile: the policy with the
// given lines in front of the upstream.
func binarySite(port int, up *upstream, policyLines []string, extra ...string) string {
	return (&site{port: port, policy: strings.Join(policyLines, "\n"), extra: extra, upstream: up}).caddyfile()
}

// statusOf sends an authorize request and returns the status and reason.
func statusOf(t *testing.T, addr, clientID, redirectURI string) (int, string) {
	t.Helper()
	res := get(t, addr, authorize(clientID, redirectURI))
	var rb rejectionBody
	json.Unmarshal(res.Body, &rb)
	return res.Status, rb.Reason
}

// unprivileged returns the credential of a system user for Caddy to run
// as, creating the user when missing. It fails (never skips) when this
// process cannot switch users.
func unprivileged(t *testing.T) *syscall.Credential {
	t.Helper()
	const name = "redirect-uri-policy-test"
	if os.Geteuid() != 0 {
		t.Fatalf("this test runs Caddy as an unprivileged user and must start as root (running as uid %d)", os.Geteuid())
	}
	u, err := user.Lookup(name)
	if err != nil {
		out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name).CombinedOutput()
		if err != nil {
			t.Fatalf("useradd %s: %v\n%s", name, err, out)
		}
		if u, err = user.Lookup(name); err != nil {
			t.Fatal(err)
		}
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil || uid == 0 {
		t.Fatalf("user %s: uid %q gid %q", name, u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// copyBinary copies the Caddy binary to dir, where any user may run it.
func copyBinary(t *testing.T, dir string) string {
	t.Helper()
	src, err := os.Open(caddybin.Path(t))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(dir, "caddy")
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBinaryUnreadableEditApplied deploys an edit as operators do, with
// mktemp and mv, while Caddy runs as its own user: the new file is 0600
// and owned by the editor, so Caddy cannot read it. The failure is logged
// and counted; once the operator fixes the mode, the edit (the runbook's
// emergency "disabled": true) is applied.
func TestBinaryUnreadableEditApplied(t *testing.T) {
	cred := unprivileged(t)
	base := t.TempDir()
	// The test's directory and its parent are private to this user.
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := copyBinary(t, base)
	home := filepath.Join(base, "home")
	regDir := filepath.Join(base, "registry")
	for _, d := range []string{home, regDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(home, int(cred.Uid), int(cred.Gid)); err != nil {
		t.Fatal(err)
	}
	reg := filepath.Join(regDir, "clients.json")
	client := regClient{ClientID: "APP-UNPRIV", RedirectURIs: []string{"https://app.example/cb"}}
	if err := os.WriteFile(reg, registryJSON(t, "production", client), 0o644); err != nil {
		t.Fatal(err)
	}
	up := newUpstream(t)
	port := loopback.Port(t)
	logFile := filepath.Join(home, "policy.log")
	startBinary(t, bin, home, cred, func(admin string) string {
		return binaryGlobals(admin, "\tlog policy {\n\t\toutput file "+caddyfileQuote(logFile)+"\n\t\tformat json\n\t\tinclude http.handlers.redirect_uri_policy\n\t}\n") +
			binarySite(port, up, []string{"registry " + caddyfileQuote(reg), "environment production", "reload_interval 100ms"})
	}, port)
	addr := "127.0.0.1:" + itoa(port)
	if status, reason := statusOf(t, addr, client.ClientID, "https://app.example/cb"); status != 200 {
		t.Fatalf("before the edit: status %d (%s), want 200", status, reason)
	}

	// tmp=$(mktemp); edit "$tmp"; mv "$tmp" clients.json
	client.Disabled = true
	tmp, err := os.CreateTemp(regDir, "tmp.")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.Write(registryJSON(t, "production", client)); err != nil {
		t.Fatal(err)
	}
	tmp.Close()
	if info, err := os.Stat(tmp.Name()); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("mktemp's file: %v, %v; want mode 0600", info.Mode(), err)
	}
	if err := os.Rename(tmp.Name(), reg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the unreadable file is reported", binaryWait, func() bool {
		for _, m := range logEntries(t, logFile, "registry reload failed; the previous registry goes on serving") {
			if s, _ := m["error"].(string); strings.Contains(s, "permission denied") {
				return true
			}
		}
		return false
	})
	if status, reason := statusOf(t, addr, client.ClientID, "https://app.example/cb"); status != 200 {
		t.Errorf("while the file is unreadable: status %d (%s), want 200 from the previous registry", status, reason)
	}

	// Wait past a few polls, so that the loader has seen the unreadable
	// file more than once, then fix the mode.
	time.Sleep(500 * time.Millisecond)
	if err := os.Chmod(reg, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the edit is applied once the file is readable", binaryWait, func() bool {
		_, reason := statusOf(t, addr, client.ClientID, "https://app.example/cb")
		return reason == "client_disabled"
	})
	if len(logEntries(t, logFile, "registry reloaded")) == 0 {
		t.Errorf("the reload after the fix is not logged")
	}
}

// TestBinaryOnePolicyNameOneRegistry: two production sites with different
// registry files and the default name would write the same series; the
// config is refused with an error that says to set name. With names set,
// or with one file spelled relatively and absolutely, it runs.
func TestBinaryOnePolicyNameOneRegistry(t *testing.T) {
	bin := caddybin.Path(t)
	dir := t.TempDir()
	up := newUpstream(t)
	regA := writeRegistry(t, dir, "a.json", "production", regClient{ClientID: "APP-A", RedirectURIs: []string{"https://a.example/cb"}})
	regB := writeRegistry(t, dir, "b.json", "production", regClient{ClientID: "APP-B", RedirectURIs: []string{"https://b.example/cb"}})
	validate := func(sites ...string) (string, error) {
		t.Helper()
		file := filepath.Join(t.TempDir(), "Caddyfile")
		if err := os.WriteFile(file, []byte(binaryGlobals("off", "")+strings.Join(sites, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "validate", "--config", file, "--adapter", "caddyfile")
		cmd.Dir = dir
		cmd.Env = caddybin.Env(t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	siteOn := func(reg string, more ...string) string {
		return binarySite(loopback.Port(t), up, append([]string{"registry " + caddyfileQuote(reg), "environment production"}, more...))
	}

	out, err := validate(siteOn(regA), siteOn(regB))
	if err == nil {
		t.Fatalf("two policies named production on different files validate:\n%s", out)
	}
	for _, want := range []string{"two redirect_uri_policy handlers of this name read different registries", regA, regB, "set name"} {
		if !strings.Contains(out, want) {
			t.Errorf("caddy validate output lacks %q:\n%s", want, out)
		}
	}
	if out, err := validate(siteOn(regA, "name prod-a"), siteOn(regB, "name prod-b")); err != nil {
		t.Errorf("two named policies: %v\n%s", err, out)
	}
	if out, err := validate(siteOn(regA), siteOn("a.json")); err != nil {
		t.Errorf("one file spelled absolutely and relatively: %v\n%s", err, out)
	}
}

// TestBinaryConfigReloadRereadsRegistry: with reload_interval off, `caddy
// reload` is how an edit is applied; a registry that does not load fails
// the reload as it fails the start, and the previous config goes on
// serving.
func TestBinaryConfigReloadRereadsRegistry(t *testing.T) {
	dir := t.TempDir()
	up := newUpstream(t)
	client := regClient{ClientID: "APP-CR", RedirectURIs: []string{"https://app.example/cb"}}
	reg := writeRegistry(t, dir, "clients.json", "production", client)
	port := loopback.Port(t)
	addr := "127.0.0.1:" + itoa(port)
	config := func(admin string) string {
		return binaryGlobals(admin, "") + binarySite(port, up, []string{"registry " + caddyfileQuote(reg), "environment production", "reload_interval off"})
	}
	p := startBinary(t, caddybin.Path(t), dir, nil, config, port)
	if status, reason := statusOf(t, addr, client.ClientID, "https://new.example/cb"); status != 400 || reason != "redirect_uri_not_registered" {
		t.Fatalf("before the edit: %d %s", status, reason)
	}

	client.RedirectURIs = append(client.RedirectURIs, "https://new.example/cb")
	writeAtomic(t, reg, registryJSON(t, "production", client))
	p.mustReload(config(p.admin))
	if status, reason := statusOf(t, addr, client.ClientID, "https://new.example/cb"); status != 200 {
		t.Errorf("after the edit and caddy reload: %d %s, want the new URI allowed", status, reason)
	}

	writeAtomic(t, reg, []byte("{"))
	out, err := p.reload(config(p.admin))
	if err == nil {
		t.Errorf("caddy reload succeeded on a registry that does not load:\n%s", out)
	}
	if !strings.Contains(out, reg) {
		t.Errorf("caddy reload output does not name the registry %s:\n%s", reg, out)
	}
	if status, reason := statusOf(t, addr, client.ClientID, "https://new.example/cb"); status != 200 {
		t.Errorf("after the failed reload: %d %s, want the last good registry serving", status, reason)
	}
}

// TestBinaryReloadLogsToNewConfig: after `caddy reload` to a config that
// logs the policy elsewhere, registry reload failures go to the new log,
// never to the unloaded config's.
func TestBinaryReloadLogsToNewConfig(t *testing.T) {
	dir := t.TempDir()
	up := newUpstream(t)
	reg := writeRegistry(t, dir, "clients.json", "production", regClient{ClientID: "APP-LOG", RedirectURIs: []string{"https://app.example/cb"}})
	port := loopback.Port(t)
	logA, logB := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	config := func(admin, logFile string) string {
		return binaryGlobals(admin, "\tlog policy {\n\t\toutput file "+caddyfileQuote(logFile)+"\n\t\tformat json\n\t\tinclude http.handlers.redirect_uri_policy\n\t}\n") +
			binarySite(port, up, []string{"registry " + caddyfileQuote(reg), "environment production", "reload_interval 100ms"})
	}
	p := startBinary(t, caddybin.Path(t), dir, nil, func(admin string) string { return config(admin, logA) }, port)
	p.mustReload(config(p.admin, logB))

	writeAtomic(t, reg, []byte("{\n  \"clients\": [\n    {\"client_id\": \"APP-LOG\", \"redirect_uris\": [\"http://app.example/cb\"]}\n  ]\n}\n"))
	const failed = "registry reload failed; the previous registry goes on serving"
	waitFor(t, "the failure is logged to the new config's log", binaryWait, func() bool {
		return len(logEntries(t, logB, failed)) > 0
	})
	if got := logEntries(t, logA, failed); len(got) != 0 {
		t.Errorf("the unloaded config's log got %v", got)
	}
	m := logEntries(t, logB, failed)[0]
	if e, _ := m["error"].(string); strings.Contains(e, "\n") || !strings.Contains(e, "1 problem(s)") {
		t.Errorf("error field %q: want the one-line summary", e)
	}
	if ps, _ := m["problems"].([]any); len(ps) != 1 || !strings.Contains(ps[0].(string), "clients.json:3:48: client \"APP-LOG\"") {
		t.Errorf("problems field %v: want one entry with file:line:column", m["problems"])
	}
}

// TestBinaryHandleErrors: with `rejection error`, handle_errors answers a
// rejection with the policy's placeholders; by default the handler's own
// page answers even with handle_errors configured. Every rejection emits
// the redirect_uri_rejected event (seen in the events app's debug log).
func TestBinaryHandleErrors(t *testing.T) {
	dir := t.TempDir()
	up := newUpstream(t)
	reg := writeRegistry(t, dir, "clients.json", "production", regClient{ClientID: "APP-HE", Name: "Example", RedirectURIs: []string{"https://app.example/cb"}})
	branded, plain := loopback.Port(t), loopback.Port(t)
	debugLog := filepath.Join(dir, "debug.log")
	handleErrors := "handle_errors {\n\t\theader X-Branded yes\n\t\trespond \"Branded {err.status_code} {http.redirect_uri_policy.reason} client={http.redirect_uri_policy.client_id}: {err.message}\"\n\t}"
	startBinary(t, caddybin.Path(t), dir, nil, func(admin string) string {
		return binaryGlobals(admin, "\tlog {\n\t\toutput file "+caddyfileQuote(debugLog)+"\n\t\tformat json\n\t\tlevel DEBUG\n\t}\n") +
			binarySite(branded, up, []string{"registry " + caddyfileQuote(reg), "environment production", "rejection error"}, handleErrors) + "\n" +
			binarySite(plain, up, []string{"registry " + caddyfileQuote(reg), "environment production"}, handleErrors)
	}, branded, plain)

	res := get(t, "127.0.0.1:"+itoa(branded), authorize("APP-HE", "https://evil.example/cb"))
	want := "Branded 400 redirect_uri_not_registered client=APP-HE: The redirect URI is not registered for this client. (no registered redirect URI matches)"
	if res.Status != 400 || string(res.Body) != want || res.Header.Get("X-Branded") != "yes" {
		t.Errorf("rejection error: status %d, X-Branded %q, body %q; want 400 and %q", res.Status, res.Header.Get("X-Branded"), res.Body, want)
	}
	if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Location") != "" {
		t.Errorf("rejection error: Cache-Control %q, Location %q", res.Header.Get("Cache-Control"), res.Header.Get("Location"))
	}
	res = get(t, "127.0.0.1:"+itoa(branded), authorize("Call +1 555 0100", "https://evil.example/cb"))
	if res.Status != 400 || !strings.Contains(string(res.Body), "Branded 400 unknown_client client=:") {
		t.Errorf("unknown client: status %d, body %q; want no client_id", res.Status, res.Body)
	}

	n := up.count()
	checkRejected(t, "default page", get(t, "127.0.0.1:"+itoa(plain), authorize("APP-HE", "https://evil.example/cb")), "redirect_uri_not_registered", up, n)

	waitFor(t, "three rejection events", binaryWait, func() bool {
		count := 0
		for _, m := range logEntries(t, debugLog, "event") {
			if m["name"] == "redirect_uri_rejected" {
				count++
			}
		}
		return count == 3
	})
	for _, m := range logEntries(t, debugLog, "event") {
		if m["name"] != "redirect_uri_rejected" {
			continue
		}
		data, _ := m["data"].(map[string]any)
		if m["origin"] != "http.handlers.redirect_uri_policy" || data["policy"] != "production" || data["decision"] != "rejected" || data["reason"] == nil {
			t.Errorf("event %v", m)
		}
	}
}
