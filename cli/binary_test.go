package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/caddybin"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/loopback"
)

// runBinary runs the Caddy binary with args and returns what it printed and
// its exit status.
func runBinary(t *testing.T, args ...string) result {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(caddybin.Path(t), args...)
	cmd.Env = caddybin.Env(dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	status := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		status = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("running caddy %v: %v", args, err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), status: status}
}

func TestBinaryHelp(t *testing.T) {
	r := runBinary(t, "help", CommandName)
	expect(t, r, 0, "caddy redirect-uri-policy", "Available Commands:",
		"\n  attack ", "\n  check ", "\n  lint ", "--fail-on-allowed", "--target")
	r = runBinary(t, "help", CommandName, "check")
	expect(t, r, 0, "--redirect-uri string", "--client string", "--registry string", "Exit status: 0 allowed, 1 rejected, 2 usage or load errors.")
}

func TestBinaryExitStatuses(t *testing.T) {
	prod := writeFile(t, "prod.json", prodRegistry)
	broken := writeFile(t, "broken.json", brokenRegistry)
	lint := []string{CommandName, "lint", "--environment", "production", "--registry"}
	check := []string{CommandName, "check", "--registry", prod, "--environment", "production", "--client", "APP-FULL", "--redirect-uri"}
	for _, tc := range []struct {
		args   []string
		status int
		stdout string
		stderr string
	}{
		{append(lint, prod), 0, "0 errors, 1 warning (4 clients, 4 redirect URIs)", ""},
		{append(lint, prod, "--strict"), 1, "0 errors, 1 warning", ""},
		{append(lint, broken), 2, "3 errors, 0 warnings: the registry does not load", ""},
		{append(lint, broken, "--format", "json"), 2, `"status": "errors"`, ""},
		{append(check, "https://app.example.com/oauth/callback"), 0, "decision:     allowed", ""},
		{append(check, "https://app.example.com/oauth/callback/"), 1, "path differs at byte 16", ""},
		{append(check, "https://x.example/", "--format", "json"), 1, `"decision": "rejected"`, ""},
		{check, 2, "", "flag needs an argument: --redirect-uri"},
		{[]string{CommandName, "check", "--registry", broken, "--environment", "production", "--client", "A", "--redirect-uri", "https://a.example/"}, 2, "", "the registry does not load"},
		{[]string{CommandName, "attack", "--registry", prod, "--environment", "production"}, 0, "FLAGGED: ", ""},
		{[]string{CommandName, "attack", "--registry", prod, "--environment", "production", "--fail-on-allowed"}, 1, "FLAGGED: ", ""},
		{[]string{CommandName, "attack", "--registry", prod, "--environment", "production", "--client", "APP-FULL", "--fail-on-allowed"}, 0, " 0 flagged\n", ""},
		{[]string{CommandName, "nonsense"}, 2, "", `unknown subcommand "nonsense"`},
	} {
		r := runBinary(t, tc.args...)
		if r.status != tc.status || !strings.Contains(r.stdout, tc.stdout) || !strings.Contains(r.stderr, tc.stderr) {
			t.Errorf("caddy %s: want status %d, stdout with %q, stderr with %q; got %s",
				strings.Join(tc.args, " "), tc.status, tc.stdout, tc.stderr, r)
		}
	}
}

// startCaddy runs the binary with a Caddyfile until the test ends, and
// waits until every listed site answers.
func startCaddy(t *testing.T, caddyfile string, sites ...string) {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(config, []byte(caddyfile), 0o644); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "caddy.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(caddybin.Path(t), "run", "--config", config, "--adapter", "caddyfile")
	cmd.Dir = dir
	cmd.Env = caddybin.Env(dir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		// Stop the process we started, by its PID, and wait for it.
		if p, err := os.FindProcess(pid); err == nil {
			p.Signal(syscall.SIGTERM)
		}
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		logFile.Close()
	})
	showLog := func() string {
		b, _ := os.ReadFile(logFile.Name())
		return string(b)
	}
	if err := caddybin.WaitReady(sites, "/ready", exited, 60*time.Second); err != nil {
		if errors.Is(err, caddybin.ErrExited) {
			err = fmt.Errorf("%w: %v", err, waitErr)
		}
		t.Fatalf("%v\n%s", err, showLog())
	}
}

// TestAttackTargetRealCaddy runs attack --target against Caddy with the
// module: a correctly configured site answers every variant as the registry
// says; sites where the directive does not cover the authorize endpoint in
// every spelling, or at all, are caught.
func TestAttackTargetRealCaddy(t *testing.T) {
	reg := writeFile(t, "prod.json", prodRegistry)
	admin, good, routed, otherPath := loopback.Port(t), loopback.Port(t), loopback.Port(t), loopback.Port(t)
	policy := fmt.Sprintf("redirect_uri_policy {\n\t\tregistry %s\n\t\tenvironment production\n", reg)
	caddyfile := fmt.Sprintf(`{
	admin 127.0.0.1:%d
	persist_config off
}

# Correct: every request goes through the policy.
http://127.0.0.1:%d {
	%s	}
	respond "ok" 200
}

# Misconfigured: the policy runs only where the path matcher matches, so
# /oauth/authorize/, /oauth/authorize;x=1 and /index.php/oauth/authorize
# reach the upstream unchecked.
http://127.0.0.1:%d {
	route /oauth/authorize {
		%s		}
	}
	respond "ok" 200
}

# Misconfigured: the policy checks another path (but still every request
# with response_type and redirect_uri).
http://127.0.0.1:%d {
	%s		paths /other/authorize
	}
	respond "ok" 200
}
`, admin, good, policy, routed, strings.ReplaceAll(policy, "\n\t", "\n\t\t\t"), otherPath, policy)
	site := func(port int) string { return fmt.Sprintf("http://127.0.0.1:%d", port) }
	startCaddy(t, caddyfile, site(good), site(routed), site(otherPath))

	attack := []string{"attack", "--registry", reg, "--environment", "production", "--rate", "2000", "--max-requests", "1000", "--target"}

	r := runCLI(t, append(attack, site(good))...)
	expect(t, r, 0, "target "+site(good)+"/oauth/authorize", "0 differences: every answer is what the registry says")
	if strings.Contains(r.stdout, " 0 requests") || strings.Contains(r.stdout, "DIFFERENCES") {
		t.Errorf("nothing sent or differences\n%s", r)
	}

	r = runCLI(t, append(attack, site(routed))...)
	expect(t, r, 1, "DIFFERENCES: ")
	expectRow(t, r, "APP-FULL", "path-spelling", "rejected: redirect_uri_not_registered", "forwarded (200)",
		"GET /oauth/authorize/?response_type=code&client_id=APP-FULL&redirect_uri=https%3A%2F%2Fevil.example%2Foauth%2Fcallback\n")
	expectRow(t, r, "APP-FULL", "path-spelling", "rejected: redirect_uri_not_registered", "forwarded (200)",
		"GET /oauth/authorize;x=1?response_type=code&client_id=APP-FULL&")
	expectRow(t, r, "APP-OFF", "path-spelling", "rejected: client_disabled", "forwarded (200)", "GET /oauth/authorize/?")
	expectRow(t, r, "APP-FULL", "path-spelling", "rejected: redirect_uri_not_registered", "forwarded (200)", "GET /index.php/oauth/authorize?")
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "APP-") && !strings.Contains(line, "path-spelling") {
			t.Errorf("only path spellings differ on the routed site: %s", line)
		}
	}

	// A policy set to check another path still checks every request that
	// carries response_type and redirect_uri in its query. The differences
	// are a dot-dot path, which mentions that path's last segment
	// (authorize) and is rejected as ambiguous, and the requests below
	// /oauth/authorize that split their parameters between query and body
	// or leave out response_type: only a policy that knows the endpoint
	// checks those.
	r = runCLI(t, append(attack, site(otherPath), "--client", "APP-FULL")...)
	expect(t, r, 1, "DIFFERENCES: 5 answers differ")
	expectRow(t, r, "APP-FULL", "path-spelling", "rejected: redirect_uri_not_registered", "rejected: malformed_request (400)",
		"GET /oauth/x/../authorize?")
	for _, req := range []string{"GET /oauth/authorize/x?client_id=APP-FULL&redirect_uri=", "POST /oauth/authorize/x?client_id=APP-FULL&state=s&redirect_uri=",
		"POST /oauth/authorize/x?response_type=code&client_id=APP-FULL body redirect_uri=", "GET /OAUTH/AUTHORIZE//x/?client_id=APP-FULL&redirect_uri="} {
		expectRow(t, r, "APP-FULL", "path-spelling", "rejected: redirect_uri_not_registered", "forwarded (200)", req)
	}
	if strings.Count(r.stdout, "forwarded (") != 4 {
		t.Errorf("a request with both parameters in its query got through the policy set to check another path:\n%s", r.stdout)
	}

	// The same run as operators do it, from the binary.
	r = runBinary(t, append([]string{CommandName}, append(attack, site(good), "--client", "APP-HOST")...)...)
	expect(t, r, 0, "0 differences")
	r = runBinary(t, append([]string{CommandName}, append(attack, site(routed), "--client", "APP-HOST", "--format", "json")...)...)
	expect(t, r, 1, `"differences": 8`, `"difference": "the proxy let it through (status 200) but the registry rejects it (redirect_uri_not_registered)"`)
}
