package oidc

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/caddybin"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/loopback"
)

// The registered client and what the attacker wants instead. The redirect
// URIs are never fetched: the driver reads where the server sends the
// browser, and a code in that URL is delivered.
const (
	clientID     = "web-app"
	clientSecret = "web-app-secret-0123456789abcdefghijklmnop"
	callback     = "https://app.example/cb"
	evilCallback = "https://evil.example/steal"
	// A request object the client publishes; registered in both the
	// server's and Caddy's registry.
	requestURI = "https://app.example/requests/signin.jwt"
	// Where the web application sends the browser after a logout.
	loggedOut = "https://app.example/logged-out"

	// A native app (RFC 8252): a public client that receives its code on
	// a loopback port of its choosing or on its private-use scheme.
	nativeID       = "native-app"
	nativeLoopback = "http://127.0.0.1/cb"
	nativeScheme   = "com.example.app:/oauth2redirect"
)

// nodeDir holds the Node side of the suite.
var nodeDir = func() string {
	d, _ := filepath.Abs("node")
	return d
}()

// stack is one running set of processes shared by the package's tests:
//   - strict: the authorization server as deployed (registered redirect
//     URIs enforced), reached through Caddy at guarded;
//   - lax and laxGuarded: two instances of a server that accepts
//     unregistered redirect URIs in PAR pushes (allowUnregisteredRedirectUris,
//     RFC 9126 §2.4), lax reached directly and laxGuarded through Caddy at
//     laxSite.
type stack struct {
	strict, lax, laxGuarded *provider
	guarded, laxSite        string // base URLs of Caddy's sites
	// omitSite is another site in front of strict, configured with
	// omitted_redirect_uri single.
	omitSite string
	admin    string // Caddy's admin endpoint
	key      *ecdsa.PrivateKey
	jwk      map[string]any // the client's private key, for the driver
	regFile  string
}

var (
	stackOnce sync.Once
	shared    *stack
	stackErr  error

	cleanupMu sync.Mutex
	cleanups  []func()
)

// atEnd registers f to run when the package's tests end; processes start
// concurrently, so it locks.
func atEnd(f func()) {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	cleanups = append(cleanups, f)
}

func TestMain(m *testing.M) {
	code := m.Run()
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	os.Exit(code)
}

// sharedStack starts the stack on first use; it runs until the package's
// tests end.
func sharedStack(t *testing.T) *stack {
	t.Helper()
	stackOnce.Do(func() { shared, stackErr = startStack(t) })
	if stackErr != nil {
		t.Fatal(stackErr)
	}
	return shared
}

func startStack(t *testing.T) (*stack, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return nil, fmt.Errorf("node is required: %v", err)
	}
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", "oidc-provider", "package.json")); err != nil {
		return nil, fmt.Errorf("the Node packages are missing: run npm ci in e2e/oidc/node (scripts/test does): %v", err)
	}
	dir, err := os.MkdirTemp("", "e2e-oidc")
	if err != nil {
		return nil, err
	}
	atEnd(func() { os.RemoveAll(dir) })
	s := &stack{}
	if s.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	s.jwk = ecJWK(s.key, true)

	ports, err := loopback.FreePorts(7)
	if err != nil {
		return nil, err
	}
	s.omitSite = fmt.Sprintf("http://127.0.0.1:%d", ports[6])
	guardedPort, laxSitePort, adminPort := ports[0], ports[1], ports[2]
	s.guarded = fmt.Sprintf("http://127.0.0.1:%d", guardedPort)
	s.laxSite = fmt.Sprintf("http://127.0.0.1:%d", laxSitePort)
	s.admin = fmt.Sprintf("http://127.0.0.1:%d", adminPort)

	clients := serverClients(s)
	type start struct {
		p   **provider
		cfg providerConfig
	}
	starts := []start{
		{&s.strict, providerConfig{Port: ports[3], Issuer: s.guarded, Clients: clients}},
		{&s.lax, providerConfig{Port: ports[4], Issuer: fmt.Sprintf("http://127.0.0.1:%d", ports[4]), Clients: clients, AllowUnregisteredRedirectURIs: true}},
		{&s.laxGuarded, providerConfig{Port: ports[5], Issuer: s.laxSite, Clients: clients, AllowUnregisteredRedirectURIs: true}},
	}
	errs := make([]error, len(starts))
	var wg sync.WaitGroup
	for i, st := range starts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			*st.p, errs[i] = startProvider(dir, fmt.Sprintf("provider-%d", i), st.cfg)
		}()
	}
	// Caddy's binary may need building meanwhile.
	bin := caddybin.Path(t)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}

	s.regFile = filepath.Join(dir, "registry.json")
	reg, err := json.MarshalIndent(map[string]any{"environment": "production", "clients": registryClients()}, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(s.regFile, reg, 0o644); err != nil {
		return nil, err
	}
	caddyfile := fmt.Sprintf(`{
	admin 127.0.0.1:%d
	auto_https off
	persist_config off
}
%s {
	redirect_uri_policy {
%s
	}
	reverse_proxy 127.0.0.1:%d
}
%s {
	redirect_uri_policy {
%s
	}
	reverse_proxy 127.0.0.1:%d
}
%s {
	redirect_uri_policy {
%s
		omitted_redirect_uri single
	}
	reverse_proxy 127.0.0.1:%d
}
`, adminPort, s.guarded, policyBlock(s.regFile, "strict"), s.strict.port, s.laxSite, policyBlock(s.regFile, "lax"), s.laxGuarded.port,
		s.omitSite, policyBlock(s.regFile, "omit"), s.strict.port)
	if err := startCaddy(dir, bin, caddyfile, s.guarded, s.laxSite, s.omitSite); err != nil {
		return nil, err
	}
	return s, nil
}

// policyBlock is the module's configuration on both sites.
func policyBlock(regFile, name string) string {
	return strings.Join([]string{
		"\t\tregistry " + regFile,
		"\t\tenvironment production",
		"\t\tname " + name,
		"\t\tpaths /auth",
		"\t\tpar_paths /request",
		"\t\tlogout_paths /session/end",
		"\t\treload_interval off",
	}, "\n")
}

// serverClients are the clients as the authorization server knows them.
func serverClients(s *stack) []map[string]any {
	pub := ecJWK(s.key, false)
	return []map[string]any{{
		"client_id":                  clientID,
		"client_secret":              clientSecret,
		"redirect_uris":              []string{callback},
		"request_uris":               []string{requestURI},
		"token_endpoint_auth_method": "client_secret_basic",
		"request_object_signing_alg": "ES256",
		"jwks":                       map[string]any{"keys": []any{pub}},
		"post_logout_redirect_uris":  []string{loggedOut},
	}, {
		"client_id":                  nativeID,
		"application_type":           "native",
		"token_endpoint_auth_method": "none",
		"redirect_uris":              []string{nativeLoopback, nativeScheme},
	}}
}

// registryClients are the same clients in the module's registry.
func registryClients() []map[string]any {
	return []map[string]any{{
		"client_id":                 clientID,
		"name":                      "Example web application",
		"redirect_uris":             []string{callback},
		"request_uris":              []string{requestURI},
		"post_logout_redirect_uris": []string{loggedOut},
	}, {
		"client_id":        nativeID,
		"name":             "Example native app",
		"application_type": "native",
		"redirect_uris":    []string{nativeLoopback, nativeScheme},
	}}
}

// ecJWK is key as a JWK, with its private part when private is set.
func ecJWK(key *ecdsa.PrivateKey, private bool) map[string]any {
	b64 := func(n *big.Int) string { return base64.RawURLEncoding.EncodeToString(n.FillBytes(make([]byte, 32))) }
	jwk := map[string]any{"kty": "EC", "crv": "P-256", "x": b64(key.X), "y": b64(key.Y), "kid": "client-key", "alg": "ES256", "use": "sig"}
	if private {
		jwk["d"] = b64(key.D)
	}
	return jwk
}

// signES256 is a compact JWS of claims under the client's key: what a
// holder of the client's key (or the key itself, stolen) can make.
func (s *stack) signES256(t *testing.T, claims map[string]any) string {
	t.Helper()
	header, _ := json.Marshal(map[string]any{"alg": "ES256", "kid": "client-key", "typ": "oauth-authz-req+jwt"})
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	digest := sha256.Sum256([]byte(input))
	r, sig, err := ecdsa.Sign(rand.Reader, s.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	raw := append(r.FillBytes(make([]byte, 32)), sig.FillBytes(make([]byte, 32))...)
	return input + "." + base64.RawURLEncoding.EncodeToString(raw)
}

// decisions reads from Caddy's metrics how many decisions the named policy
// made with decision and reason.
func (s *stack) decisions(t *testing.T, policyName, decision, reason string) float64 {
	t.Helper()
	return s.counted(t, "caddy_redirect_uri_policy_decisions_total", policyName, decision, reason)
}

// counted reads the sum of the metric's series of the named policy with
// decision and reason.
func (s *stack) counted(t *testing.T, metric, policyName, decision, reason string) float64 {
	t.Helper()
	resp, err := http.Get(s.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, metric+"{") ||
			!strings.Contains(line, `policy="`+policyName+`"`) || !strings.Contains(line, `decision="`+decision+`"`) ||
			!strings.Contains(line, `reason="`+reason+`"`) {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		n += v
	}
	return n
}

// seen is one request as the authorization server logged it.
type seen struct {
	Method, Path, Query, Probe string
}

// provider is one running node-oidc-provider.
type provider struct {
	port   int
	issuer string
	mu     sync.Mutex
	log    []seen
	lines  chan struct{}
}

type providerConfig struct {
	Port                          int              `json:"port"`
	Issuer                        string           `json:"issuer"`
	Clients                       []map[string]any `json:"clients"`
	AllowUnregisteredRedirectURIs bool             `json:"allowUnregisteredRedirectUris"`
}

func startProvider(dir, name string, cfg providerConfig) (*provider, error) {
	file := filepath.Join(dir, name+".json")
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command("node", filepath.Join(nodeDir, "provider.mjs"), file)
	cmd.Dir = nodeDir
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := stopAtEnd(cmd, 5*time.Second)
	p := &provider{port: cfg.Port, issuer: cfg.Issuer, lines: make(chan struct{}, 1)}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var line struct {
				Seen      *seen `json:"seen"`
				Listening int   `json:"listening"`
			}
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			if line.Listening != 0 {
				close(ready)
			}
			if line.Seen != nil {
				p.mu.Lock()
				p.log = append(p.log, *line.Seen)
				p.mu.Unlock()
				select {
				case p.lines <- struct{}{}:
				default:
				}
			}
		}
	}()
	select {
	case <-ready:
		return p, nil
	case <-exited:
		return nil, fmt.Errorf("%s exited: %s", name, stderr.String())
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("%s did not start: %s", name, stderr.String())
	}
}

// seenSince returns the requests logged from position mark on.
func (p *provider) seenSince(mark int) []seen {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]seen(nil), p.log[mark:]...)
}

// mark is a position in the log for seenSince.
func (p *provider) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.log)
}

// sync sends the server a request of its own, directly, and waits until
// its log shows it: every request that reached the server before is then
// in the log too.
func (p *provider) sync(t *testing.T) {
	t.Helper()
	probe := fmt.Sprintf("sync-%d", time.Now().UnixNano())
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/.well-known/openid-configuration", p.port), nil)
	req.Header.Set("X-E2E-Probe", probe)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	deadline := time.After(10 * time.Second)
	for {
		for _, s := range p.seenSince(0) {
			if s.Probe == probe {
				return
			}
		}
		select {
		case <-p.lines:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatal("the server's log does not show its own request")
		}
	}
}

// sawProbe reports whether a request with the probe reached the server
// (after a sync).
func (p *provider) sawProbe(t *testing.T, probe string) []seen {
	t.Helper()
	p.sync(t)
	var got []seen
	for _, s := range p.seenSince(0) {
		if s.Probe == probe {
			got = append(got, s)
		}
	}
	return got
}

// stopAtEnd makes the tests' end stop the started process cmd: SIGTERM,
// then a kill after grace. The channel it returns closes when cmd exits.
func stopAtEnd(cmd *exec.Cmd, grace time.Duration) <-chan struct{} {
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	atEnd(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(grace):
			cmd.Process.Kill()
			<-exited
		}
	})
	return exited
}

// startCaddy runs Caddy's binary with caddyfile until the tests end.
func startCaddy(dir, bin, caddyfile string, sites ...string) error {
	config := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(config, []byte(caddyfile), 0o644); err != nil {
		return err
	}
	logs := &lockedBuffer{}
	cmd := exec.Command(bin, "run", "--config", config, "--adapter", "caddyfile")
	cmd.Dir = dir
	cmd.Env = caddybin.Env(dir)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := stopAtEnd(cmd, 10*time.Second)
	if err := caddybin.WaitReady(sites, "/.well-known/openid-configuration", exited, 30*time.Second); err != nil {
		return fmt.Errorf("%w\n%s", err, logs.String())
	}
	return nil
}

// flow is what driver.mjs reports of one sign-in.
type flow struct {
	Stage        string `json:"stage"`
	AuthorizeURL string `json:"authorize_url"`
	Steps        []struct {
		Method, URL string
		Status      int
	} `json:"steps"`
	Final *struct {
		Status      int               `json:"status"`
		Location    string            `json:"location"`
		FormPost    string            `json:"form_post"`
		Fields      map[string]string `json:"fields"`
		ContentType string            `json:"content_type"`
		Body        string            `json:"body"`
	} `json:"final"`
	Code      string `json:"code"`
	Error     string `json:"error"`
	IDToken   string `json:"id_token"`
	LogoutURL string `json:"logout_url"`
	Delivered *struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	} `json:"delivered"`
	Tokens *struct {
		AccessToken bool `json:"access_token"`
		IDToken     bool `json:"id_token"`
	} `json:"tokens"`
	Sub         string `json:"sub"`
	UserinfoSub string `json:"userinfo_sub"`
	Failure     *struct {
		Name    string          `json:"name"`
		Message string          `json:"message"`
		Status  int             `json:"status"`
		Body    json.RawMessage `json:"body"`
	} `json:"failure"`
}

// signIn runs driver.mjs's op "flow" with opts, against issuer as the
// registered client unless opts say otherwise.
func (s *stack) signIn(t *testing.T, issuer string, opts map[string]any) flow {
	t.Helper()
	all := map[string]any{
		"op":            "flow",
		"issuer":        issuer,
		"client_id":     clientID,
		"client_secret": clientSecret,
		"redirect_uri":  callback,
		"jwk":           s.jwk,
	}
	for k, v := range opts {
		all[k] = v
	}
	arg, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join(nodeDir, "driver.mjs"), string(arg))
	cmd.Dir = nodeDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("driver: %v\n%s", err, stderr.String())
	}
	var f flow
	if err := json.Unmarshal(out, &f); err != nil {
		t.Fatalf("driver output: %v\n%s", err, out)
	}
	return f
}

// completed fails t unless the sign-in ended with tokens and userinfo.
func (f flow) completed(t *testing.T) {
	t.Helper()
	if f.Failure != nil || f.Stage != "done" || f.Tokens == nil || !f.Tokens.AccessToken || !f.Tokens.IDToken || f.UserinfoSub != "alice" {
		b, _ := json.MarshalIndent(f, "", "  ")
		t.Fatalf("sign-in did not complete:\n%s", b)
	}
}

// response is a raw HTTP exchange the tests make themselves.
type response struct {
	Status int
	Header http.Header
	Body   string
}

// rejection is the module's JSON answer to a rejected request.
type rejection struct {
	Error, ErrorDescription, Reason string
}

func (r response) rejection(t *testing.T) rejection {
	t.Helper()
	var v struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
		Reason           string `json:"reason"`
	}
	if err := json.Unmarshal([]byte(r.Body), &v); err != nil {
		t.Fatalf("not a JSON rejection (%d): %s", r.Status, r.Body)
	}
	return rejection{v.Error, v.ErrorDescription, v.Reason}
}

// do sends one request without following redirects, marked with probe.
func do(t *testing.T, method, target, probe string, header http.Header, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("X-E2E-Probe", probe)
	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

// formHeader is the header of a form POST, with HTTP Basic credentials
// when user is set (URL-encoded first, as RFC 6749 §2.3.1 asks).
func formHeader(user, password string) http.Header {
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	if user != "" {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(user)+":"+url.QueryEscape(password))))
	}
	return h
}

// lockedBuffer is an io.Writer safe for a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
