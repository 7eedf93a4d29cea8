package caddymodule_test

// Helpers of the integration tests: a real Caddy started in-process by the
// caddytest harness (admin on localhost:2999), in front of a real HTTP
// upstream that records every request it receives, with registries written
// as real files. Requests are written by hand on raw TCP connections so that
// no client cleans up a path, re-encodes a query or adds headers.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	_ "github.com/redirect-uri-policy/caddy-redirect-uri-policy/caddymodule"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/caddybin"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/loopback"
)

// adminAddr is where the caddytest harness expects Caddy's admin endpoint.
const adminAddr = "localhost:2999"

// ---------------------------------------------------------------------------
// Upstream

// seen is one request as the upstream received it.
type seen struct {
	Method           string
	RequestURI       string // the request target, as sent by Caddy
	Path             string // r.URL.EscapedPath()
	RawQuery         string
	Header           http.Header
	ContentLength    int64
	TransferEncoding []string
	Body             []byte
}

// upstream is a real HTTP server that records every request.
type upstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []seen
}

const upstreamReply = "upstream reached\n"

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	return newUpstreamWith(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, upstreamReply)
	})
}

// newUpstreamWith is newUpstream answering with reply, which may read the
// request's body again.
func newUpstreamWith(t *testing.T, reply http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("upstream: reading body of %s %s: %v", r.Method, r.RequestURI, err)
		}
		u.mu.Lock()
		u.reqs = append(u.reqs, seen{
			Method:           r.Method,
			RequestURI:       r.RequestURI,
			Path:             r.URL.EscapedPath(),
			RawQuery:         r.URL.RawQuery,
			Header:           r.Header.Clone(),
			ContentLength:    r.ContentLength,
			TransferEncoding: r.TransferEncoding,
			Body:             body,
		})
		u.mu.Unlock()
		w.Header().Set("X-Upstream", "yes")
		r.Body = io.NopCloser(bytes.NewReader(body))
		reply(w, r)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// addr returns host:port of the upstream.
func (u *upstream) addr() string { return u.srv.Listener.Addr().String() }

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

// since returns the requests received after the first n.
func (u *upstream) since(n int) []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.reqs[n:])
}

// ---------------------------------------------------------------------------
// Caddy

// globalOptions starts every config: the harness's admin address, no
// automatic HTTPS, nothing written to the autosave file.
const globalOptions = `{
	admin ` + adminAddr + `
	auto_https off
	persist_config off
}
`

// site is one site of a test config: an http:// address on 127.0.0.1 that
// runs the policy with the given subdirectives in front of an upstream.
type site struct {
	port     int
	policy   string   // lines inside redirect_uri_policy { }
	extra    []string // more directives of the site
	upstream *upstream
}

func newSite(t *testing.T, up *upstream, policyLines ...string) *site {
	return &site{port: loopback.Port(t), policy: strings.Join(policyLines, "\n"), upstream: up}
}

func (s *site) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *site) caddyfile() string {
	var b strings.Builder
	fmt.Fprintf(&b, "http://127.0.0.1:%d {\n\tbind 127.0.0.1\n\tredirect_uri_policy {\n", s.port)
	for _, l := range strings.Split(s.policy, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			fmt.Fprintf(&b, "\t\t%s\n", l)
		}
	}
	b.WriteString("\t}\n")
	for _, l := range s.extra {
		fmt.Fprintf(&b, "\t%s\n", l)
	}
	fmt.Fprintf(&b, "\treverse_proxy %s\n}\n", s.upstream.addr())
	return b.String()
}

// caddyConfig is a whole Caddyfile with the given sites.
func caddyConfig(sites ...*site) string {
	var b strings.Builder
	b.WriteString(globalOptions)
	for _, s := range sites {
		b.WriteString("\n")
		b.WriteString(s.caddyfile())
	}
	return b.String()
}

// startCaddy loads a Caddyfile into the in-process Caddy of the harness
// (starting it on first use) and stops the test if it does not run.
func startCaddy(t *testing.T, sites ...*site) {
	t.Helper()
	startCaddyWith(t, "", sites...)
}

// startCaddyWith is startCaddy with more global options.
func startCaddyWith(t *testing.T, globals string, sites ...*site) {
	t.Helper()
	prebuildOnce.Do(func() {
		if selected("TestIntegrationValidate") {
			go caddybin.Path(quietTB{t})
		}
	})
	cfg := caddyConfig(sites...)
	if globals != "" {
		cfg = strings.Replace(cfg, "\tpersist_config off\n", "\tpersist_config off\n"+globals+"\n", 1)
	}
	tester := caddytest.NewTester(t)
	tester.InitServer(cfg, "caddyfile")
	if t.Failed() {
		t.Fatalf("Caddy did not load the config:\n%s", cfg)
	}
}

// prebuildOnce starts building the caddy binary of TestIntegrationValidate
// in the background while the other tests run: linking Caddy takes a while.
// caddybin builds once per process; a failure is reported to the test that
// asks for the binary.
var prebuildOnce sync.Once

// selected reports whether the -run and -skip flags (their top-level
// patterns) let the named test run. It only decides whether to prebuild:
// getting it wrong costs time, never a result.
func selected(name string) bool {
	match := func(flagName string) (set, matches bool) {
		f := flag.Lookup(flagName)
		if f == nil || f.Value.String() == "" {
			return false, false
		}
		re, err := regexp.Compile(strings.Split(f.Value.String(), "/")[0])
		return true, err == nil && re.MatchString(name)
	}
	if set, ok := match("test.run"); set && !ok {
		return false
	}
	if set, ok := match("test.skip"); set && ok {
		return false
	}
	return true
}

// quietTB lets caddybin.Path run off a test's goroutine: it neither marks
// helpers nor stops a test (Path records a build failure for the next
// caller).
type quietTB struct{ testing.TB }

func (quietTB) Helper()               {}
func (quietTB) Fatalf(string, ...any) {}

// assertLoadError loads a Caddyfile through the harness and fails unless
// loading fails with an error containing every one of wants. It guards
// caddytest.AssertLoadError, which panics when the config loads after all.
func assertLoadError(t *testing.T, cfg string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("the config loaded, want a load error containing %q (AssertLoadError: %v):\n%s", want, r, cfg)
				}
			}()
			caddytest.AssertLoadError(t, cfg, "caddyfile", want)
		}()
	}
}

// ---------------------------------------------------------------------------
// Registries

type regClient struct {
	ClientID        string   `json:"client_id"`
	Name            string   `json:"name,omitempty"`
	Disabled        bool     `json:"disabled,omitempty"`
	ApplicationType string   `json:"application_type,omitempty"`
	RedirectURIs    []string `json:"redirect_uris,omitempty"`
	PostLogoutURIs  []string `json:"post_logout_redirect_uris,omitempty"`
}

type regFile struct {
	Environment string      `json:"environment,omitempty"`
	Clients     []regClient `json:"clients"`
}

func registryJSON(t *testing.T, env string, clients ...regClient) []byte {
	t.Helper()
	if clients == nil {
		clients = []regClient{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(regFile{Environment: env, Clients: clients}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// writeAtomic replaces path with data by a rename, as editors and
// deployment tools do, so that no reader ever sees a half-written file.
func writeAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tmp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		t.Fatal(err)
	}
}

// writeRegistry writes a registry file named name into dir.
func writeRegistry(t *testing.T, dir, name, env string, clients ...regClient) string {
	t.Helper()
	path := filepath.Join(dir, name)
	writeAtomic(t, path, registryJSON(t, env, clients...))
	return path
}

// caddyfileQuote quotes a file path for a Caddyfile.
func caddyfileQuote(s string) string { return strconv.Quote(s) }

// ---------------------------------------------------------------------------
// Raw HTTP

// rawReq is an HTTP/1.1 request written byte for byte as given.
type rawReq struct {
	Method  string
	Target  string      // request target, sent verbatim
	Header  [][2]string // in order; Host and Connection are added
	Body    []byte
	Chunked bool // send the body chunked, without Content-Length
}

func (r rawReq) bytes(host string) []byte {
	var b bytes.Buffer
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, r.Target, host)
	for _, h := range r.Header {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	switch {
	case r.Chunked:
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		for body := r.Body; len(body) > 0; {
			n := min(len(body), 300) // several chunks
			fmt.Fprintf(&b, "%x\r\n", n)
			b.Write(body[:n])
			b.WriteString("\r\n")
			body = body[n:]
		}
		b.WriteString("0\r\n\r\n")
	case r.Body != nil:
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(r.Body))
		b.Write(r.Body)
	default:
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// response is what came back for a raw request.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// send writes req to addr on a new connection and reads the response.
func send(t *testing.T, addr string, req rawReq) response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	// A server may answer and close before reading the whole body (413):
	// a failed write is no error as long as a response arrives.
	go conn.Write(req.bytes(addr))
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: reading response: %v", req.Method, req.Target, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading response body: %v", req.Method, req.Target, err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: body}
}

// get sends GET target.
func get(t *testing.T, addr, target string, header ...[2]string) response {
	t.Helper()
	return send(t, addr, rawReq{Method: http.MethodGet, Target: target, Header: header})
}

const formType = "application/x-www-form-urlencoded"

// ---------------------------------------------------------------------------
// Assertions about responses and the upstream

// rejectionBody is the JSON of a rejection.
type rejectionBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	Reason           string `json:"reason"`
}

// errorCode is the OAuth error of a rejection reason.
func errorCode(reason string) string {
	if reason == "unknown_client" || reason == "client_disabled" {
		return "unauthorized_client"
	}
	return "invalid_request"
}

// checkRejected fails t unless res is the middleware's JSON rejection for
// reason: 400 (413 for request_too_large), no-store, no Location, the JSON
// fields; and unless the upstream received nothing since n requests.
func checkRejected(t *testing.T, what string, res response, reason string, up *upstream, n int) {
	t.Helper()
	status := http.StatusBadRequest
	if reason == "request_too_large" {
		status = http.StatusRequestEntityTooLarge
	}
	if res.Status != status {
		t.Errorf("%s: status %d, want %d (body %q)", what, res.Status, status, truncateForLog(res.Body))
	}
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", what, got)
	}
	if _, ok := res.Header["Location"]; ok {
		t.Errorf("%s: Location header %q on a rejection", what, res.Header.Get("Location"))
	}
	if res.Header.Get("X-Upstream") != "" {
		t.Errorf("%s: the response came from the upstream", what)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
	var rb rejectionBody
	dec := json.NewDecoder(bytes.NewReader(res.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rb); err != nil {
		t.Errorf("%s: rejection body %q is not the JSON rejection: %v", what, truncateForLog(res.Body), err)
	} else {
		if rb.Reason != reason {
			t.Errorf("%s: reason %q, want %q (%s)", what, rb.Reason, reason, rb.ErrorDescription)
		}
		if want := errorCode(reason); rb.Error != want {
			t.Errorf("%s: error %q, want %q", what, rb.Error, want)
		}
		if rb.ErrorDescription == "" {
			t.Errorf("%s: empty error_description", what)
		}
	}
	if got := up.since(n); len(got) != 0 {
		t.Errorf("%s: rejected, yet the upstream received %d request(s): %s %s", what, len(got), got[0].Method, got[0].RequestURI)
	}
}

// checkForwarded fails t unless res came from the upstream and the upstream
// received exactly one request since n, which it returns.
func checkForwarded(t *testing.T, what string, res response, up *upstream, n int) seen {
	t.Helper()
	if res.Status != http.StatusOK || res.Header.Get("X-Upstream") != "yes" {
		t.Errorf("%s: status %d, body %q: want the upstream's 200", what, res.Status, truncateForLog(res.Body))
	}
	got := up.since(n)
	if len(got) != 1 {
		t.Errorf("%s: the upstream received %d requests, want 1", what, len(got))
		return seen{}
	}
	return got[0]
}

// checkSameTarget fails t unless the upstream received path and raw query
// exactly as sent in target.
func checkSameTarget(t *testing.T, what string, got seen, target string) {
	t.Helper()
	path, query, _ := strings.Cut(target, "?")
	if got.Path != path || got.RawQuery != query {
		t.Errorf("%s: the upstream received path %q query %q, want %q %q", what, got.Path, got.RawQuery, path, query)
	}
}

// checkSameBody fails t unless the upstream received the body byte for
// byte as sent.
func checkSameBody(t *testing.T, what string, got seen, body []byte) {
	t.Helper()
	if !bytes.Equal(got.Body, body) {
		t.Errorf("%s: upstream body (%d bytes) %q\nwant (%d bytes) %q", what, len(got.Body), truncateForLog(got.Body), len(body), truncateForLog(body))
	}
}

func truncateForLog(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// ---------------------------------------------------------------------------
// Metrics

const (
	mDecisions        = "caddy_redirect_uri_policy_decisions_total"
	mClientRejections = "caddy_redirect_uri_policy_client_rejections_total"
	mRegistryClients  = "caddy_redirect_uri_policy_registry_clients"
	mRegistryURIs     = "caddy_redirect_uri_policy_registry_redirect_uris"
	mReloads          = "caddy_redirect_uri_policy_registry_reloads_total"
	mLastReloadOK     = "caddy_redirect_uri_policy_registry_last_reload_successful"
	mLastSuccess      = "caddy_redirect_uri_policy_registry_last_success_timestamp_seconds"
)

// labels is a label set; key() is its canonical text.
type labels map[string]string

func (l labels) key() string {
	names := make([]string, 0, len(l))
	for n := range l {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + strconv.Quote(l[n])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// metricsSnapshot is one scrape of the admin /metrics endpoint.
type metricsSnapshot struct {
	raw      []byte
	families map[string]*dto.MetricFamily
}

// scrape reads and parses the admin endpoint's metrics in the text format.
func scrape(t *testing.T) metricsSnapshot {
	t.Helper()
	return scrapeAt(t, adminAddr)
}

// scrapeAt is scrape for the admin endpoint at addr.
func scrapeAt(t *testing.T, addr string) metricsSnapshot {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	client := &http.Client{Timeout: 10 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("scraping metrics: %v", err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("scraping metrics: status %d, %v", res.StatusCode, err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parsing the metrics exposition: %v", err)
	}
	return metricsSnapshot{raw: raw, families: fams}
}

// series returns every series of a counter or gauge, by label key.
func (s metricsSnapshot) series(name string) map[string]float64 {
	out := map[string]float64{}
	fam := s.families[name]
	if fam == nil {
		return out
	}
	for _, m := range fam.GetMetric() {
		l := labels{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		var v float64
		switch {
		case m.Counter != nil:
			v = m.GetCounter().GetValue()
		case m.Gauge != nil:
			v = m.GetGauge().GetValue()
		case m.Untyped != nil:
			v = m.GetUntyped().GetValue()
		}
		out[l.key()] = v
	}
	return out
}

// labelSets returns the label sets of every series of name.
func (s metricsSnapshot) labelSets(name string) []labels {
	var out []labels
	for _, m := range s.families[name].GetMetric() {
		l := labels{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		out = append(out, l)
	}
	return out
}

// value returns the value of the series of name with exactly the labels l.
func (s metricsSnapshot) value(name string, l labels) (float64, bool) {
	v, ok := s.series(name)[l.key()]
	return v, ok
}

// deltas returns the changes of the series of name whose labels include
// every pair of where, between s and after; unchanged series are left out.
func (s metricsSnapshot) deltas(after metricsSnapshot, name string, where labels) map[string]float64 {
	before, now := s.series(name), after.series(name)
	out := map[string]float64{}
	for _, l := range after.labelSets(name) {
		if !l.includes(where) {
			continue
		}
		k := l.key()
		if d := now[k] - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

func (l labels) includes(sub labels) bool {
	for k, v := range sub {
		if l[k] != v {
			return false
		}
	}
	return true
}

// checkDeltas fails t unless the changes of name's series (among those
// matching where) are exactly want.
func checkDeltas(t *testing.T, what string, before, after metricsSnapshot, name string, where labels, want map[string]float64) {
	t.Helper()
	got := before.deltas(after, name, where)
	if want == nil {
		want = map[string]float64{}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %s%s changed by %v, want %v", what, name, where.key(), got, want)
		return
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s%s changed by %v, want %v", what, name, where.key(), got, want)
			return
		}
	}
}

// promtoolCheck runs `promtool check metrics` on a scrape. promtool is a
// requirement of the suite (CI installs Debian's prometheus package).
func promtoolCheck(t *testing.T, s metricsSnapshot) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is not on PATH (install Debian's prometheus package): %v", err)
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = bytes.NewReader(s.raw)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
