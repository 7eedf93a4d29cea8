package browsertest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/caddybin"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/loopback"
)

// chromiumPath is Debian's Chromium (packages chromium and chromium-driver).
const chromiumPath = "/usr/bin/chromium"

// The authorization code that the demo authorization server hands out. It
// must never reach a server other than the registered callback.
const secretCode = "SECRET"

// Host names of the test. --host-resolver-rules maps every *.test name to
// 127.0.0.1 and keeps the port of the URL, so each server has its own port,
// and the Host header tells the names apart.
const (
	prodAuthHost    = "auth.test"         // the production authorization server (Caddy)
	sandboxAuthHost = "sandbox.auth.test" // the sandbox authorization server (Caddy)
	appHost         = "app.test"          // the legitimate client's callback
	evilHost        = "evil.test"         // the attacker
	evilSubdomain   = "evil.app.test"     // a subdomain of the registered host (taken over)
	evilLookAlike   = "app.test.evil.test"
)

// hit is one request that a test server received.
type hit struct {
	Server   string // "as", "app", "app-tls" or "evil"
	Method   string
	Host     string
	Path     string // escaped, as sent
	RawQuery string
}

func (h hit) String() string {
	s := h.Server + ": " + h.Method + " " + h.Host + h.Path
	if h.RawQuery != "" {
		s += "?" + h.RawQuery
	}
	return s
}

func (h hit) carriesCode() bool {
	return strings.Contains(h.RawQuery, "code="+secretCode)
}

// traffic records every request of every test server, in order.
type traffic struct {
	mu   sync.Mutex
	hits []hit
}

func (tr *traffic) record(server string, r *http.Request) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.hits = append(tr.hits, hit{Server: server, Method: r.Method, Host: r.Host, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery})
}

// mark returns a position to pass to since.
func (tr *traffic) mark() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.hits)
}

// since returns the requests recorded after mark.
func (tr *traffic) since(mark int) []hit {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]hit(nil), tr.hits[mark:]...)
}

// env is everything the scenarios run against.
type env struct {
	traffic traffic

	asPort     int // demo authorization server (plain Go server behind Caddy)
	appPort    int // the client's callback, http
	appTLSPort int // the client's callback, https
	evilPort   int // the attacker, http
	evilTLS    int // the attacker, https

	sandboxPort, sandboxReportPort int // Caddy sites
	prodPort, prodReportPort       int
}

// expand replaces the port placeholders of a scenario.
func (e *env) expand(s string) string {
	return strings.NewReplacer(
		"{A}", strconv.Itoa(e.appPort),
		"{AT}", strconv.Itoa(e.appTLSPort),
		"{E}", strconv.Itoa(e.evilPort),
		"{ET}", strconv.Itoa(e.evilTLS),
	).Replace(s)
}

// lenientName reads a parameter name the way the most lenient framework
// does (PHP): any letter case, with ".", " " and "[" read as "_".
func lenientName(name string) string {
	return strings.NewReplacer(".", "_", " ", "_", "[", "_").Replace(strings.ToLower(name))
}

// demoAS is the worst possible upstream: every request that names a
// redirect_uri, on any path, is an authorize request; the last copy of the
// parameter in any spelling wins; and the browser is sent there at once with
// the code, nothing checked.
func (e *env) demoAS(w http.ResponseWriter, r *http.Request) {
	e.traffic.record("as", r)
	var redirectURI string
	for pair := range strings.SplitSeq(r.URL.RawQuery, "&") {
		name, value, _ := strings.Cut(pair, "=")
		name, err1 := url.QueryUnescape(name)
		value, err2 := url.QueryUnescape(value)
		if err1 == nil && err2 == nil && lenientName(name) == "redirect_uri" {
			redirectURI = value
		}
	}
	if redirectURI == "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "demo authorization server: %s %s\n", r.Method, r.URL.Path)
		return
	}
	sep := "?"
	if strings.Contains(redirectURI, "?") {
		sep = "&"
	}
	// Set the header directly: http.Redirect would clean the URL up.
	w.Header().Set("Location", redirectURI+sep+"code="+secretCode)
	w.WriteHeader(http.StatusFound)
}

// appHandler is the legitimate client on app.test. Requests for any other
// name on its ports went to a name the attacker controls (a taken-over
// subdomain, a look-alike): they count as the attacker's. /continue is an
// open redirect on the client's host that forwards its other parameters to
// "next" (RFC 9700 §4.11).
func (e *env) appHandler(server string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if hostname(r.Host) != appHost {
			e.evilHandler(w, r)
			return
		}
		e.traffic.record(server, r)
		if r.URL.Path == "/continue" {
			q := r.URL.Query()
			next := q.Get("next")
			q.Del("next")
			if next != "" {
				w.Header().Set("Location", next+"?"+q.Encode())
				w.WriteHeader(http.StatusFound)
				return
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!DOCTYPE html><title>Example Library</title><h1>Example Library</h1><p>You are signed in. Callback %s received: %s</p>",
			html.EscapeString(r.URL.Path), html.EscapeString(r.URL.RawQuery))
	}
}

// evilHandler is the attacker's server.
func (e *env) evilHandler(w http.ResponseWriter, r *http.Request) {
	e.traffic.record("evil", r)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!DOCTYPE html><title>attacker</title><h1>Attacker %s</h1><p>stolen: %s</p>",
		html.EscapeString(r.Host), html.EscapeString(r.URL.RawQuery))
}

func hostname(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// quietLog drops the servers' own error logs (TLS handshake errors of
// probes and the like): the test asserts on what the handlers record.
var quietLog = log.New(io.Discard, "", 0)

// serve starts a Go server on a fresh 127.0.0.1 port and returns the port.
func serve(t *testing.T, h http.Handler, cert *tls.Certificate) int {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.Config.ErrorLog = quietLog
	if cert != nil {
		s.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	_, port, err := net.SplitHostPort(s.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return p
}

// testCertificate makes a self-signed certificate for the https test
// servers and returns it with the base64 SHA-256 of its public key, which
// Chromium is told to trust with --ignore-certificate-errors-spki-list (that
// flag trusts this key only, and only with --user-data-dir).
func testCertificate(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "browsertest"},
		DNSNames:              []string{appHost, evilHost, evilSubdomain, evilLookAlike},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, base64.StdEncoding.EncodeToString(sum[:])
}

// caddyfile is the configuration of the Caddy under test: a production and
// a sandbox authorization server, each enforcing, and a report-only twin of
// each as the control that shows what the browser does without the policy.
func (e *env) caddyfile(admin int, sandboxJSON, prodJSON string) string {
	site := func(host string, port int, registry, environment, name string, reportOnly bool) string {
		ro := ""
		if reportOnly {
			ro = "\n\t\treport_only"
		}
		return fmt.Sprintf(`
http://%s:%d {
	bind 127.0.0.1
	redirect_uri_policy {
		registry %s
		environment %s
		reload_interval off
		name %s%s
	}
	reverse_proxy 127.0.0.1:%d
}
`, host, port, registry, environment, name, ro, e.asPort)
	}
	return fmt.Sprintf("{\n\tadmin 127.0.0.1:%d\n\tauto_https off\n\tpersist_config off\n}\n", admin) +
		site(sandboxAuthHost, e.sandboxPort, sandboxJSON, "sandbox", "sandbox", false) +
		site(sandboxAuthHost, e.sandboxReportPort, sandboxJSON, "sandbox", "sandbox_report_only", true) +
		site(prodAuthHost, e.prodPort, prodJSON, "production", "production", false) +
		site(prodAuthHost, e.prodReportPort, prodJSON, "production", "production_report_only", true)
}

// startCaddy runs the Caddy binary with the module on the configuration
// that e.caddyfile makes, with fresh ports (up to three tries when a port
// was taken meanwhile), and stops it by its PID when the test ends.
func (e *env) startCaddy(ctx context.Context, t *testing.T, bin, dir, sandboxJSON, prodJSON string) {
	t.Helper()
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		ports := loopback.Ports(t, 5)
		admin := ports[0]
		e.sandboxPort, e.sandboxReportPort, e.prodPort, e.prodReportPort = ports[1], ports[2], ports[3], ports[4]
		config := filepath.Join(dir, "Caddyfile")
		if err := os.WriteFile(config, []byte(e.caddyfile(admin, sandboxJSON, prodJSON)), 0o644); err != nil {
			t.Fatal(err)
		}
		logPath := filepath.Join(dir, fmt.Sprintf("caddy-%d.log", attempt))
		if lastErr = runCaddy(ctx, t, bin, dir, config, logPath, admin, ports[1:]); lastErr == nil {
			return
		}
		t.Logf("caddy attempt %d: %v\n%s", attempt, lastErr, tail(logPath, 40))
	}
	t.Fatalf("caddy did not start: %v", lastErr)
}

func runCaddy(ctx context.Context, t *testing.T, bin, dir, config, logPath string, admin int, sites []int) error {
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close() // the child has its own copy
	cmd := exec.Command(bin, "run", "--config", config, "--adapter", "caddyfile")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = caddybin.Env(dir)
	// Caddy dies with the test process, whatever happens.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	stop := func() {
		select {
		case <-exited:
			return
		default:
		}
		syscall.Kill(pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Logf("caddy (pid %d) ignored SIGTERM for 10s; killing it", pid)
			syscall.Kill(pid, syscall.SIGKILL)
			<-exited
		}
	}

	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	for {
		select {
		case <-exited:
			return fmt.Errorf("caddy (pid %d) exited during start: %v", pid, cmd.ProcessState)
		case <-ctx.Done():
			stop()
			return ctx.Err()
		default:
		}
		if caddyReady(client, admin, sites) {
			break
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("caddy (pid %d) not ready after 30s", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("caddy running: pid %d, admin 127.0.0.1:%d, log %s", pid, admin, logPath)
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("caddy log (%s):\n%s", logPath, tail(logPath, 60))
		}
	})
	return nil
}

// caddyReady reports whether the admin endpoint answers and every site's
// port accepts connections (without sending a request to the upstream).
func caddyReady(client *http.Client, admin int, sites []int) bool {
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/config/", admin))
	if err != nil {
		return false
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("redirect_uri_policy")) {
		return false
	}
	for _, p := range sites {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p), time.Second)
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// requireChromium fails the test, never skips it, when Chromium is missing.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is required and missing (%v): install Debian's packages chromium and chromium-driver "+
			"(apt-get install -y chromium chromium-driver)", err)
	}
}

// startChromium starts Debian's headless Chromium through chromedp and
// returns the context of the browser. The browser, and every process that
// it started, is stopped by PID when the test ends.
func startChromium(ctx context.Context, t *testing.T, spki string) context.Context {
	t.Helper()
	requireChromium(t)
	dir := t.TempDir() // removed after the cleanup below has run
	userData := filepath.Join(dir, "user-data")
	home := filepath.Join(dir, "home")
	for _, d := range []string{userData, home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	chromeLog, err := os.Create(filepath.Join(dir, "chromium.log"))
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // root in a container
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(userData),
		// Every test name is 127.0.0.1 (the port stays the URL's);
		// every other name fails to resolve, so nothing leaves the
		// machine.
		chromedp.Flag("host-resolver-rules", "MAP *.test 127.0.0.1, MAP * ~NOTFOUND"),
		chromedp.Flag("no-proxy-server", true),
		// Trust the test certificate's key, and nothing else, for the
		// https callbacks of the production scenarios.
		chromedp.Flag("ignore-certificate-errors-spki-list", spki),
		chromedp.WindowSize(1000, 760),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Env("HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache")),
		chromedp.CombinedOutput(chromeLog),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)

	var pid int
	t.Cleanup(func() {
		// Close the browser gracefully, then make sure that the
		// browser and all its children (found by the unique user data
		// directory on their command lines) are gone, before
		// t.TempDir removes the directory.
		cctx, cancel := context.WithTimeout(browserCtx, 10*time.Second)
		chromedp.Cancel(cctx)
		cancel()
		cancelBrowser()
		cancelAlloc() // waits for the browser process
		chromeLog.Close()
		// cancelAlloc has reaped the browser's own process (pid); its
		// children may outlive it.
		if killed := killUserDataDir(userData); len(killed) > 0 {
			t.Logf("killed leftover Chromium processes %v (browser pid %d)", killed, pid)
		}
		if t.Failed() {
			t.Logf("chromium log:\n%s", tail(chromeLog.Name(), 30))
		}
	})

	if err := chromedp.Do(browserCtx); err != nil { // starts the browser
		t.Fatalf("starting Chromium: %v\n%s", err, tail(chromeLog.Name(), 30))
	}
	if c := chromedp.FromContext(browserCtx); c != nil && c.Browser != nil && c.Browser.Process() != nil {
		pid = c.Browser.Process().Pid
	}
	version, _ := exec.Command(chromiumPath, "--version").Output()
	t.Logf("chromium running: pid %d, %s", pid, strings.TrimSpace(string(version)))
	return browserCtx
}

// processAlive reports whether pid is a process that has not exited (a
// zombie has exited).
func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

// killUserDataDir kills, by PID, the processes whose command line has
// --user-data-dir=dir: the browser this test started and its children,
// which Chromium starts with the same flag, and nothing else, because the
// directory is unique to the test. It looks again until it finds nothing
// several times in a row, as a child can fork while its parent dies.
func killUserDataDir(dir string) []int {
	want := []byte("--user-data-dir=" + dir)
	var killed []int
	deadline := time.Now().Add(5 * time.Second)
	for quiet := 0; quiet < 3 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		found := 0
		entries, _ := os.ReadDir("/proc")
		for _, entry := range entries {
			pid, err := strconv.Atoi(entry.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			cmdline, err := os.ReadFile("/proc/" + entry.Name() + "/cmdline")
			if err != nil || !processAlive(pid) {
				continue
			}
			for arg := range bytes.SplitSeq(cmdline, []byte{0}) {
				if bytes.Equal(arg, want) {
					if syscall.Kill(pid, syscall.SIGKILL) == nil {
						killed = append(killed, pid)
					}
					found++
					break
				}
			}
		}
		if found == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
	return killed
}

// artifactsDir is where the screenshots go: $BROWSERTEST_ARTIFACTS when
// set, else a temporary directory of the test.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("BROWSERTEST_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("BROWSERTEST_ARTIFACTS: %v", err)
	}
	return dir
}

var errNoResponse = errors.New("the navigation produced no document response")
