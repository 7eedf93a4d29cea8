package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAttackOfflineClean(t *testing.T) {
	f := writeFile(t, "full.json", fullRegistry)
	r := runCLI(t, "attack", "--registry", f, "--environment", "production", "--fail-on-allowed")
	expect(t, r, 0,
		"client APP-FULL (Full URIs): 2 registered redirect URIs; ",
		"client APP-OTHER: 1 registered redirect URI; ",
		", 0 flagged\n")
	for _, row := range [][]string{
		{"registered", "allowed", "exact_match", "https://app.example.com/oauth/callback\n"},
		{"attacker-host", "rejected", "redirect_uri_not_registered", "https://evil.example/oauth/callback\n"},
		{"suffix-host", "rejected", "redirect_uri_not_registered", "https://app.example.com.evil.example/oauth/callback\n"},
		{"userinfo", "rejected", "userinfo_in_redirect_uri", "https://app.example.com@evil.example/oauth/callback\n"},
		{"scheme", "rejected", "insecure_scheme", "http://app.example.com/oauth/callback\n"},
		{"path-traversal", "rejected", "path_traversal", "https://app.example.com/oauth/callback/../evil\n"},
		{"loopback", "rejected", "loopback_not_allowed", "https://localhost/oauth/callback\n"},
		{"request", "rejected", "duplicate_parameter", "GET /oauth/authorize?response_type=code&client_id=APP-FULL&redirect_uri=https%3A%2F%2Fapp.example.com%2Foauth%2Fcallback&redirect_uri=https%3A%2F%2Fevil.example%2Foauth%2Fcallback\n"},
		{"request", "rejected", "request_uri_not_registered", "GET /oauth/authorize?response_type=code&client_id=APP-FULL&redirect_uri=https%3A%2F%2Fapp.example.com%2Foauth%2Fcallback&request_uri="},
	} {
		expectRow(t, r, row...)
	}
	if strings.Contains(r.stdout, "FLAGGED") || strings.Contains(r.stdout, "!!") || strings.Contains(r.stdout, "path-spelling") {
		t.Errorf("nothing is flagged, and path spellings are online only\n%s", r)
	}
}

func TestAttackOfflineFlagged(t *testing.T) {
	f := writeFile(t, "prod.json", prodRegistry)
	args := []string{"attack", "--registry", f, "--environment", "production"}
	r := runCLI(t, args...)
	want := []string{
		"FLAGGED: ",
		"  APP-HOST open-path https://portal.example.org/evil\n      host_match: host-only entry \"https://portal.example.org\" accepts every path and query on https://portal.example.org",
		"client APP-OFF (Disabled): 1 registered redirect URI, disabled; ",
		"rejected  client_disabled",
		"(--fail-on-allowed makes this fail)",
	}
	expect(t, r, 0, want...)
	expectRow(t, r, "!!", "open-path", "ALLOWED", "host_match", "https://portal.example.org/evil\n")
	if strings.Contains(r.stdout, "APP-FULL open-path") {
		t.Errorf("a full-URI client is flagged\n%s", r)
	}

	r = runCLI(t, append(args, "--fail-on-allowed")...)
	expect(t, r, 1, want[:3]...)
	expectRow(t, r, "!!", "open-path", "ALLOWED", "host_match", "https://portal.example.org/evil\n")

	// One client only.
	r = runCLI(t, append(args, "--fail-on-allowed", "--client", "APP-FULL")...)
	expect(t, r, 0, "1 client, ", " 0 flagged\n")
	if strings.Contains(r.stdout, "APP-HOST") {
		t.Errorf("--client APP-FULL attacks other clients\n%s", r)
	}

	sf := writeFile(t, "sandbox.json", sandboxRegistry)
	r = runCLI(t, "attack", "--registry", sf, "--environment", "sandbox", "--fail-on-allowed")
	expect(t, r, 1,
		"  APP-OPEN attacker-host https://evil.example/callback\n      unrestricted_client: unrestricted sandbox client",
		"  APP-NATIVE loopback http://127.0.0.1:49152/cb\n      loopback_match: loopback port rule (RFC 8252 §7.3): entry \"http://127.0.0.1/cb\" accepts http://127.0.0.1 on any port")

	r = runCLI(t, "attack", "--registry", writeFile(t, "full.json", fullRegistry), "--environment", "production", "--match", "prefix", "--fail-on-allowed")
	expect(t, r, 1, "  APP-FULL prefix-extension https://app.example.com/oauth/callback/extra\n      prefix_match: prefix mode: entry \"https://app.example.com/oauth/callback\"")
}

func TestAttackOfflineJSON(t *testing.T) {
	f := writeFile(t, "prod.json", prodRegistry)
	r := runCLI(t, "attack", "--registry", f, "--environment", "production", "--format", "json", "--fail-on-allowed")
	expect(t, r, 1)
	var rep attackReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r)
	}
	if rep.ExitCode != 1 || rep.Target != nil || len(rep.Clients) != 4 || rep.Summary.Clients != 4 ||
		rep.Summary.Variants != len(rep.Variants) || rep.Summary.Flagged == 0 ||
		rep.Summary.Flagged+rep.Summary.Registered+rep.Summary.Rejected != rep.Summary.Variants {
		t.Fatalf("report %+v", rep.Summary)
	}
	classes := map[string]bool{}
	for _, v := range rep.Variants {
		classes[v.Class] = true
		if v.Flagged && (v.ClientID != "APP-HOST" || v.Why == "" || v.Entry != "https://portal.example.org") {
			t.Errorf("flagged %+v", v)
		}
		if v.RequestLevel != (v.Class == ClassRequest) || v.Query == "" || v.Method == "" || v.Path != "/oauth/authorize" {
			t.Errorf("variant %+v", v)
		}
	}
	for _, c := range Classes {
		if !classes[c] && c != ClassPathSpelling && c != ClassPAR && c != ClassPrivateScheme && c != ClassLogout {
			t.Errorf("no %s variant in the report", c)
		}
	}
	if !strings.Contains(r.stdout, `"query": "response_type=code&client_id=APP-FULL&redirect_uri=`) {
		t.Error("queries are not written as they are sent")
	}
}

func TestAttackUsage(t *testing.T) {
	f := writeFile(t, "full.json", fullRegistry)
	base := []string{"attack", "--registry", f, "--environment", "production"}
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"--client", "APP-NOBODY"}, `--client "APP-NOBODY" is not in the registry`},
		{[]string{"--path", "/authorize"}, "--path needs --target"},
		{[]string{"--target", "ftp://127.0.0.1:1"}, `--target "ftp://127.0.0.1:1"`},
		{[]string{"--target", "http://127.0.0.1:1?x=1"}, "want the proxy's base URL"},
		{[]string{"--target", "http://127.0.0.1:1", "--path", "oauth"}, `--path "oauth"`},
		{[]string{"--target", "http://127.0.0.1:1", "--max-requests", "0"}, "--max-requests must be at least 1"},
		{[]string{"--target", "http://127.0.0.1:1", "--rate", "0"}, "--rate must be a positive number"},
		{[]string{"--target", "http://127.0.0.1:1", "--timeout", "0s"}, "--timeout must be positive"},
		{[]string{"--rate", "fast"}, `invalid argument "fast" for "--rate"`},
	} {
		r := runCLI(t, append(base, tc.args...)...)
		expect(t, r, 2)
		expectStderr(t, r, tc.stderr)
	}
	r := runCLI(t, "attack", "--registry", writeFile(t, "broken.json", brokenRegistry), "--environment", "production")
	expect(t, r, 2)
	expectStderr(t, r, "the registry does not load")
}

// fakeProxy records the requests it gets, as they arrived, and answers
// with answer.
type fakeProxy struct {
	mu       sync.Mutex
	requests []string // method, request URI and body
	srv      *httptest.Server
}

func newFakeProxy(t *testing.T, answer http.HandlerFunc) *fakeProxy {
	fp := &fakeProxy{}
	fp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		fp.mu.Lock()
		fp.requests = append(fp.requests, r.Method+" "+r.RequestURI+" "+string(body))
		fp.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(fp.srv.Close)
	return fp
}

func (fp *fakeProxy) seen() []string {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return append([]string(nil), fp.requests...)
}

func TestAttackTargetSendsRawRequests(t *testing.T) {
	f := writeFile(t, "full.json", fullRegistry)
	// An upstream without any policy: it redirects every request to the
	// redirect_uri, as an authorization server would after sign-in. Every
	// variant the registry rejects is then a difference, and the redirect
	// must not be followed.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a redirect was followed to %s", r.URL)
	}))
	t.Cleanup(evil.Close)
	fp := newFakeProxy(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, evil.URL+"/steal", http.StatusFound)
	})
	r := runCLI(t, "attack", "--registry", f, "--environment", "production", "--client", "APP-FULL",
		"--target", fp.srv.URL, "--rate", "2000")
	expect(t, r, 1, "DIFFERENCES: ")
	expectRow(t, r, "APP-FULL", "path-spelling", "rejected: redirect_uri_not_registered", "forwarded (302) to "+evil.URL+"/steal",
		"GET /oauth/authorize/?response_type=code&client_id=APP-FULL&redirect_uri=https%3A%2F%2Fevil.example%2Foauth%2Fcallback\n")
	expectRow(t, r, "APP-FULL", "request", "rejected: duplicate_parameter", "forwarded (302)")
	expectRow(t, r, "APP-FULL", "attacker-host", "rejected: redirect_uri_not_registered", "forwarded (302)")
	if regexp.MustCompile(`(?m)^APP-FULL +registered `).MatchString(r.stdout) {
		t.Errorf("forwarding a registered URI is no difference\n%s", r)
	}
	seen := strings.Join(fp.seen(), "\n")
	for _, want := range []string{
		// Repeated and case-variant names and ';' reach the proxy as sent.
		"GET /oauth/authorize?response_type=code&client_id=APP-FULL&redirect_uri=https%3A%2F%2Fapp.example.com%2Foauth%2Fcallback&redirect_uri=https%3A%2F%2Fevil.example%2Foauth%2Fcallback ",
		"&Redirect_URI=https%3A%2F%2Fevil.example%2Foauth%2Fcallback ",
		"&redirect_uri=https%3A%2F%2Fapp.example.com%2Foauth%2Fcallback;redirect_uri=https%3A%2F%2Fevil.example%2Foauth%2Fcallback ",
		"POST /oauth/authorize?response_type=code&client_id=APP-FULL&redirect_uri=https%3A%2F%2Fapp.example.com%2Foauth%2Fcallback redirect_uri=https%3A%2F%2Fevil.example%2Foauth%2Fcallback",
		// Path spellings too.
		"GET /oauth//authorize?", "GET /oauth/./authorize?", "GET /oauth/x/../authorize?", "GET /oauth/%61uthorize?", "GET /oauth/authorize;x=1?",
	} {
		if !strings.Contains(seen, want) {
			t.Errorf("the proxy did not get %q", want)
		}
	}
}

func TestAttackTargetAgrees(t *testing.T) {
	f := writeFile(t, "full.json", fullRegistry)
	// A proxy that answers exactly what the registry says: no difference.
	// It knows the expected answers from a first, offline run.
	r := runCLI(t, "attack", "--registry", f, "--environment", "production", "--client", "APP-OTHER", "--format", "json")
	var offline attackReport
	if err := json.Unmarshal([]byte(r.stdout), &offline); err != nil {
		t.Fatal(err)
	}
	answers := map[string]string{}
	for _, v := range offline.Variants {
		if v.Decision == "rejected" {
			answers[v.Query+" "+v.Body] = v.Reason
		}
	}
	fp := newFakeProxy(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		key := r.URL.RawQuery + " " + string(body)
		if reason, ok := answers[key]; ok && strings.HasPrefix(r.RequestURI, "/oauth/authorize?") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "reason": reason})
			return
		}
		w.Write([]byte("ok"))
	})
	// The path spellings are sent to other paths, which this fake does not
	// check: they are the only differences.
	r = runCLI(t, "attack", "--registry", f, "--environment", "production", "--client", "APP-OTHER",
		"--target", fp.srv.URL+"/", "--rate", "2000", "--format", "json")
	expect(t, r, 1)
	var rep attackReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r)
	}
	if rep.Target == nil || rep.Target.URL != fp.srv.URL || rep.Target.Path != "/oauth/authorize" ||
		rep.Summary.Sent != len(rep.Variants) || rep.Summary.Skipped != 0 || rep.Summary.Differences == 0 {
		t.Fatalf("report target %+v summary %+v", rep.Target, rep.Summary)
	}
	for _, v := range rep.Variants {
		if v.Got == nil {
			t.Fatalf("%s not sent", v.URI)
		}
		if (v.Difference != "") != (v.Class == ClassPathSpelling) {
			t.Errorf("%s %s %s: got %+v, difference %q", v.Class, v.Path, v.URI, v.Got, v.Difference)
		}
	}
	// Path spellings are sent first, so that --max-requests keeps them.
	if rep.Variants[0].Class != ClassPathSpelling {
		t.Errorf("first variant sent is %s", rep.Variants[0].Class)
	}
}

func TestAttackTargetBounds(t *testing.T) {
	f := writeFile(t, "full.json", fullRegistry)
	fp := newFakeProxy(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	start := time.Now()
	r := runCLI(t, "attack", "--registry", f, "--environment", "production", "--target", fp.srv.URL,
		"--max-requests", "6", "--rate", "20")
	elapsed := time.Since(start)
	expect(t, r, 1, "6 requests of 2 clients sent (")
	expectStderr(t, r, "Warning: --max-requests 6 reached: ")
	if n := len(fp.seen()); n != 6 {
		t.Errorf("%d requests sent, want 6", n)
	}
	// 6 requests at 20 per second take at least 5 intervals of 50 ms.
	if elapsed < 250*time.Millisecond {
		t.Errorf("6 requests at --rate 20 took %v", elapsed)
	}

	// A target that does not answer in time.
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	r = runCLI(t, "attack", "--registry", f, "--environment", "production", "--target", slow.URL,
		"--max-requests", "2", "--timeout", "100ms", "--rate", "1000")
	expect(t, r, 2, "the target did not answer any request: ", "Timeout")

	// A target that is not there.
	fp.srv.Close()
	r = runCLI(t, "attack", "--registry", f, "--environment", "production", "--target", fp.srv.URL,
		"--max-requests", "2", "--rate", "1000")
	expect(t, r, 2, "the target did not answer any request: ", "connection refused")
}

// TestAttackNativeAndLogout: attack tries a native app's private-use
// scheme and, with --logout-path, the logout door; none of the
// attacker's variants is allowed.
func TestAttackNativeAndLogout(t *testing.T) {
	f := writeFile(t, "rules.json", clientRulesRegistry)
	r := runCLI(t, "attack", "--registry", f, "--environment", "production", "--logout-path", "/session/end", "--format", "json")
	expect(t, r, 0)
	var rep attackReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r)
	}
	n := map[string]int{}
	for _, v := range rep.Variants {
		n[v.Class]++
		if v.Class == ClassLogout && v.Path != "/session/end" {
			t.Errorf("logout variant sent to %s", v.Path)
		}
		if v.Decision == "allowed" && (v.Class == ClassPrivateScheme || v.Class == ClassLogout && strings.Contains(v.URI, AttackerHost)) {
			t.Errorf("attacker's variant allowed: %+v", v)
		}
	}
	if n[ClassPrivateScheme] < 8 || n[ClassLogout] < 10 {
		t.Errorf("variants by class %v", n)
	}
	r = runCLI(t, "attack", "--registry", f, "--environment", "production", "--logout-path", "session/end")
	expect(t, r, 2)
}
