package caddymodule_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// authorize returns an authorize request target with the given client_id
// and redirect_uri, each percent-encoded.
func authorize(clientID, redirectURI string) string {
	return "/oauth/authorize?client_id=" + url.QueryEscape(clientID) +
		"&response_type=code&redirect_uri=" + url.QueryEscape(redirectURI)
}

// reasonCase is one request of TestIntegrationReasons.
type reasonCase struct {
	name   string
	site   *site
	policy string // the site's name label
	env    string
	req    rawReq
	reason string
	client string // registered client whose rejections are counted, if any
}

// TestIntegrationReasons drives every allow and reject reason of POLICY §6
// that a request can produce through a real Caddy, checking the response,
// what the upstream received and the metrics.
func TestIntegrationReasons(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	prodReg := writeRegistry(t, dir, "production.json", "production",
		regClient{ClientID: "APP-PROD-EXACT", Name: "Exact", RedirectURIs: []string{"https://app.example/cb", "https://portal.example.org"}},
		regClient{ClientID: "APP-PROD-DISABLED", Name: "Stolen", Disabled: true, RedirectURIs: []string{"https://old.example.net/cb"}},
		regClient{ClientID: "APP-PROD-NOURIS", Name: "Nothing registered"},
	)
	prefixReg := writeRegistry(t, dir, "prefix.json", "production",
		regClient{ClientID: "APP-PFX", RedirectURIs: []string{"https://app.example/orcid"}},
	)
	sandboxReg := writeRegistry(t, dir, "sandbox.json", "sandbox",
		regClient{ClientID: "APP-SBX-LOOP", RedirectURIs: []string{"http://127.0.0.1/callback", "http://localhost/callback"}},
		regClient{ClientID: "APP-SBX-OPEN"},
	)
	prod := newSite(t, up, "registry "+caddyfileQuote(prodReg), "environment production", "name itr-prod", "max_body 1KiB")
	prefix := newSite(t, up, "registry "+caddyfileQuote(prefixReg), "environment production", "name itr-prefix", "match prefix")
	sandbox := newSite(t, up, "registry "+caddyfileQuote(sandboxReg), "environment sandbox", "name itr-sandbox")
	noClientMetrics := newSite(t, up, "registry "+caddyfileQuote(prodReg), "environment production", "name itr-nocm", "client_metrics off")
	startCaddy(t, prod, prefix, sandbox, noClientMetrics)

	const good = "https://app.example/cb"
	get := func(target string) rawReq { return rawReq{Target: target} }
	cases := []reasonCase{
		// Allowed.
		{name: "exact", site: prod, req: get(authorize("APP-PROD-EXACT", good)), reason: "exact_match"},
		{name: "host", site: prod, req: get(authorize("APP-PROD-EXACT", "https://portal.example.org/any/path?x=1&y=2")), reason: "host_match"},
		{name: "prefix", site: prefix, req: get(authorize("APP-PFX", "https://app.example/orcid/callback?state=1")), reason: "prefix_match"},
		{name: "loopback", site: sandbox, req: get(authorize("APP-SBX-LOOP", "http://127.0.0.1:51234/callback")), reason: "loopback_match"},
		{name: "loopback-localhost", site: sandbox, req: get(authorize("APP-SBX-LOOP", "http://localhost:8000/callback")), reason: "loopback_match"},
		{name: "unrestricted", site: sandbox, req: get(authorize("APP-SBX-OPEN", "https://anything.example/whatever?q=1")), reason: "unrestricted_client"},

		// Rejected: request-level reasons.
		{name: "missing-client-id", site: prod, req: get("/oauth/authorize?response_type=code&redirect_uri=" + url.QueryEscape(good)), reason: "missing_client_id"},
		{name: "empty-client-id", site: prod, req: get("/oauth/authorize?client_id=&response_type=code&redirect_uri=" + url.QueryEscape(good)), reason: "missing_client_id"},
		{name: "missing-redirect-uri", site: prod, req: get("/oauth/authorize?client_id=APP-PROD-EXACT&response_type=code"), reason: "missing_redirect_uri"},
		{name: "duplicate-redirect-uri", site: prod, req: get(authorize("APP-PROD-EXACT", good) + "&redirect_uri=" + url.QueryEscape("https://evil.example/cb")), reason: "duplicate_parameter"},
		{name: "duplicate-client-id", site: prod, req: get(authorize("APP-PROD-EXACT", good) + "&client_id=APP-PROD-EXACT"), reason: "duplicate_parameter"},
		{name: "semicolon-query", site: prod, req: get("/oauth/authorize?client_id=APP-PROD-EXACT;redirect_uri=https://evil.example&response_type=code&redirect_uri=" + url.QueryEscape(good)), reason: "malformed_request"},
		{name: "bad-escape", site: prod, req: get(authorize("APP-PROD-EXACT", good) + "&state=%zz"), reason: "malformed_request"},
		{name: "unnormalizable-path", site: prod, req: get("/oauth/%25252561uthorize?client_id=APP-PROD-EXACT&redirect_uri=" + url.QueryEscape("https://evil.example/")), reason: "malformed_request"},
		{name: "unsupported-body", site: prod, req: rawReq{Method: "POST", Target: authorize("APP-PROD-EXACT", good), Header: [][2]string{{"Content-Type", "application/json"}}, Body: []byte(`{"redirect_uri":"https://evil.example/cb"}`)}, reason: "unsupported_body"},
		{name: "request-too-large", site: prod, req: rawReq{Method: "POST", Target: "/oauth/authorize", Header: [][2]string{{"Content-Type", formType}}, Body: []byte(authorize("APP-PROD-EXACT", good)[len("/oauth/authorize?"):] + "&state=" + strings.Repeat("x", 2048))}, reason: "request_too_large"},
		{name: "request-object", site: prod, req: get(authorize("APP-PROD-EXACT", good) + "&request=eyJhbGciOiJub25lIn0.eyJyZWRpcmVjdF91cmkiOiJodHRwczovL2V2aWwuZXhhbXBsZS9jYiJ9."), reason: "redirect_uri_mismatch"},
		{name: "request-uri", site: prod, req: get(authorize("APP-PROD-EXACT", good) + "&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Ax"), reason: "request_object_not_supported"},

		// Rejected: client lookup.
		{name: "unknown-client", site: prod, req: get(authorize("APP-UNKNOWN-CLIENT-0001", good)), reason: "unknown_client"},
		{name: "unknown-client-sandbox", site: sandbox, req: get(authorize("APP-UNKNOWN-CLIENT-0002", "http://127.0.0.1/callback")), reason: "unknown_client"},
		{name: "disabled", site: prod, req: get(authorize("APP-PROD-DISABLED", "https://old.example.net/cb")), reason: "client_disabled", client: "APP-PROD-DISABLED"},

		// Rejected: syntax of the redirect URI.
		{name: "malformed-uri", site: prod, req: get(authorize("APP-PROD-EXACT", "https://app.example/c b")), reason: "malformed_redirect_uri", client: "APP-PROD-EXACT"},
		{name: "malformed-relative", site: prod, req: get(authorize("APP-PROD-EXACT", "/cb")), reason: "malformed_redirect_uri", client: "APP-PROD-EXACT"},
		{name: "disallowed-scheme", site: prod, req: get(authorize("APP-PROD-EXACT", "javascript:alert(1)//https://app.example/cb")), reason: "disallowed_scheme", client: "APP-PROD-EXACT"},
		{name: "userinfo", site: prod, req: get(authorize("APP-PROD-EXACT", "https://app.example@evil.example/cb")), reason: "userinfo_in_redirect_uri", client: "APP-PROD-EXACT"},
		{name: "fragment", site: prod, req: get(authorize("APP-PROD-EXACT", "https://app.example/cb#x")), reason: "fragment_in_redirect_uri", client: "APP-PROD-EXACT"},
		{name: "path-traversal", site: prod, req: get(authorize("APP-PROD-EXACT", "https://app.example/cb/../evil")), reason: "path_traversal", client: "APP-PROD-EXACT"},
		{name: "path-traversal-sandbox", site: sandbox, req: get(authorize("APP-SBX-OPEN", "https://any.example/a/%2e%2e/b")), reason: "path_traversal", client: "APP-SBX-OPEN"},

		// Rejected: environment.
		{name: "insecure-scheme", site: prod, req: get(authorize("APP-PROD-EXACT", "http://app.example/cb")), reason: "insecure_scheme", client: "APP-PROD-EXACT"},
		{name: "loopback-not-allowed", site: prod, req: get(authorize("APP-PROD-EXACT", "https://localhost/cb")), reason: "loopback_not_allowed", client: "APP-PROD-EXACT"},
		{name: "unspecified-not-allowed", site: prod, req: get(authorize("APP-PROD-EXACT", "https://0.0.0.0/cb")), reason: "loopback_not_allowed", client: "APP-PROD-EXACT"},

		// Rejected: matching.
		{name: "no-registered-uris", site: prod, req: get(authorize("APP-PROD-NOURIS", good)), reason: "no_registered_redirect_uris", client: "APP-PROD-NOURIS"},
		{name: "not-registered", site: prod, req: get(authorize("APP-PROD-EXACT", "https://evil.example/cb")), reason: "redirect_uri_not_registered", client: "APP-PROD-EXACT"},
		{name: "not-registered-subdomain", site: prod, req: get(authorize("APP-PROD-EXACT", "https://evil.portal.example.org/")), reason: "redirect_uri_not_registered", client: "APP-PROD-EXACT"},
		{name: "not-registered-prefix-boundary", site: prefix, req: get(authorize("APP-PFX", "https://app.example/orcidevil")), reason: "redirect_uri_not_registered", client: "APP-PFX"},
		{name: "not-registered-loopback-path", site: sandbox, req: get(authorize("APP-SBX-LOOP", "http://127.0.0.1:51234/other")), reason: "redirect_uri_not_registered", client: "APP-SBX-LOOP"},

		// client_metrics off: the decision is counted, the client is not.
		{name: "no-client-metrics", site: noClientMetrics, req: get(authorize("APP-PROD-EXACT", "https://evil.example/cb")), reason: "redirect_uri_not_registered"},
		{name: "no-client-metrics-disabled", site: noClientMetrics, req: get(authorize("APP-PROD-DISABLED", "https://old.example.net/cb")), reason: "client_disabled"},
	}
	policies := map[*site][2]string{
		prod: {"itr-prod", "production"}, prefix: {"itr-prefix", "production"},
		sandbox: {"itr-sandbox", "sandbox"}, noClientMetrics: {"itr-nocm", "production"},
	}

	allowReasons := map[string]bool{"exact_match": true, "host_match": true, "prefix_match": true, "loopback_match": true, "unrestricted_client": true}
	seenReasons := map[string]bool{}
	before := scrape(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			policyName, env := policies[c.site][0], policies[c.site][1]
			n := up.count()
			res := send(t, c.site.addr(), c.req)
			prev, after := before, scrape(t)
			before = after
			decision := "rejected"
			if allowReasons[c.reason] {
				decision = "allowed"
				got := checkForwarded(t, c.name, res, up, n)
				checkSameTarget(t, c.name, got, c.req.Target)
			} else {
				checkRejected(t, c.name, res, c.reason, up, n)
			}
			seenReasons[c.reason] = true
			checkDeltas(t, c.name, prev, after, mDecisions, labels{"policy": policyName},
				map[string]float64{labels{"policy": policyName, "environment": env, "decision": decision, "reason": c.reason}.key(): 1})
			var wantClient map[string]float64
			if c.client != "" {
				wantClient = map[string]float64{labels{"policy": policyName, "client_id": c.client, "class": clientClass[c.reason]}.key(): 1}
			}
			checkDeltas(t, c.name, prev, after, mClientRejections, labels{"policy": policyName}, wantClient)
		})
	}

	// Every reason a request can produce was produced.
	for _, r := range []string{
		"exact_match", "prefix_match", "host_match", "loopback_match", "unrestricted_client",
		"missing_client_id", "unknown_client", "client_disabled", "missing_redirect_uri", "duplicate_parameter",
		"malformed_request", "unsupported_body", "request_too_large", "request_object_not_supported",
		"malformed_redirect_uri", "disallowed_scheme", "userinfo_in_redirect_uri", "fragment_in_redirect_uri",
		"path_traversal", "insecure_scheme", "loopback_not_allowed", "no_registered_redirect_uris", "redirect_uri_not_registered",
	} {
		if !seenReasons[r] {
			t.Errorf("reason %s was not exercised", r)
		}
	}

	// Label values of the per-client counter come only from registries:
	// unknown client ids never appear, and client_metrics off adds none.
	final := scrape(t)
	for _, l := range final.labelSets(mClientRejections) {
		if strings.HasPrefix(l["client_id"], "APP-UNKNOWN") {
			t.Errorf("unknown client id %q is a label value: %v", l["client_id"], l)
		}
		if l["policy"] == "itr-nocm" {
			t.Errorf("client_metrics off, yet a client series exists: %v", l)
		}
	}
	// The registry gauges describe what is loaded.
	for name, want := range map[string]float64{"itr-prod": 3, "itr-prefix": 1, "itr-sandbox": 2, "itr-nocm": 3} {
		if v, ok := final.value(mRegistryClients, labels{"policy": name}); !ok || v != want {
			t.Errorf("%s{policy=%q} = %v (present %v), want %v", mRegistryClients, name, v, ok, want)
		}
		if v, ok := final.value(mLastReloadOK, labels{"policy": name}); !ok || v != 1 {
			t.Errorf("%s{policy=%q} = %v (present %v), want 1", mLastReloadOK, name, v, ok)
		}
	}
	if v, _ := final.value(mRegistryURIs, labels{"policy": "itr-prod"}); v != 3 {
		t.Errorf("%s{policy=itr-prod} = %v, want 3", mRegistryURIs, v)
	}
	promtoolCheck(t, final)
}

// browserAccept is the Accept header of a browser's navigation request.
const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

// TestIntegrationHTMLAndJSON checks the two forms of a rejection: the HTML
// page for browsers, with a CSP that forbids scripts, and JSON for everyone
// else; and that what the request echoes is escaped in both.
func TestIntegrationHTMLAndJSON(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	reg := writeRegistry(t, dir, "clients.json", "production",
		regClient{ClientID: "APP-HTML", Name: "Library <b>Portal</b>", RedirectURIs: []string{"https://app.example/cb"}})
	s := newSite(t, up, "registry "+caddyfileQuote(reg), "environment production", "name ith-prod")
	startCaddy(t, s)

	xssURI := `https://evil.example/"><script>alert(1)</script>`
	xssClient := `<script>alert(1)</script>"><img src=x onerror=alert(2)>`
	cases := []struct {
		name, target, reason string
		echoes               []string // raw strings that must not appear in HTML
		escaped              []string // their escaped forms that must
	}{
		{"not-registered", authorize("APP-HTML", "https://evil.example/cb"), "redirect_uri_not_registered",
			[]string{"<b>Portal", "/cb"}, []string{"<code>evil.example</code>", "APP-HTML", "Library &lt;b&gt;Portal&lt;/b&gt;"}},
		// The page shows a requested URI by its host, and an unregistered
		// client_id not at all: nothing an attacker words, escaped or not.
		{"xss-redirect-uri", authorize("APP-HTML", xssURI), "malformed_redirect_uri",
			[]string{"<script>", `"><`, "script"}, nil},
		{"xss-client-id", authorize(xssClient, "https://app.example/cb"), "unknown_client",
			[]string{"<script>", "<img", `"><`, "script", "onerror"}, []string{"<code>app.example</code>"}},
	}
	for _, c := range cases {
		t.Run(c.name+"/html", func(t *testing.T) {
			n := up.count()
			res := get(t, s.addr(), c.target, [2]string{"Accept", browserAccept}, [2]string{"User-Agent", "Mozilla/5.0"})
			if res.Status != http.StatusBadRequest {
				t.Errorf("status %d, want 400", res.Status)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q, want text/html", ct)
			}
			csp := res.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
				t.Errorf("Content-Security-Policy %q: want default-src 'none' and no script-src", csp)
			}
			if res.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", res.Header.Get("Cache-Control"))
			}
			if _, ok := res.Header["Location"]; ok {
				t.Errorf("Location %q on a rejection", res.Header.Get("Location"))
			}
			body := string(res.Body)
			if !strings.Contains(body, "<html") || !strings.Contains(body, c.reason) {
				t.Errorf("the page does not name the reason %s:\n%s", c.reason, body)
			}
			if want := reasonText[c.reason]; !strings.Contains(body, want) {
				t.Errorf("the page does not explain the reason in words (%q):\n%s", want, body)
			}
			if strings.Contains(body, "<script") {
				t.Errorf("the page contains a script tag:\n%s", body)
			}
			for _, raw := range c.echoes {
				if strings.Contains(body, raw) {
					t.Errorf("the page contains %q unescaped:\n%s", raw, body)
				}
			}
			for _, esc := range c.escaped {
				if !strings.Contains(body, esc) {
					t.Errorf("the page does not show %q:\n%s", esc, body)
				}
			}
			if got := up.since(n); len(got) != 0 {
				t.Errorf("the upstream received %s", got[0].RequestURI)
			}
		})
		for _, accept := range []string{"", "application/json", "*/*", "text/html;q=0.5, application/json", "text/html;q=0"} {
			t.Run(c.name+"/json/"+accept, func(t *testing.T) {
				n := up.count()
				var hdr [][2]string
				if accept != "" {
					hdr = [][2]string{{"Accept", accept}}
				}
				res := send(t, s.addr(), rawReq{Target: c.target, Header: hdr})
				checkRejected(t, c.name, res, c.reason, up, n)
				if strings.Contains(string(res.Body), "<script") || strings.Contains(string(res.Body), "<img") {
					t.Errorf("the JSON contains markup: %s", res.Body)
				}
			})
		}
	}
}

// reasonText is a phrase of each reason's description, as the HTML page
// shows it.
var reasonText = map[string]string{
	"redirect_uri_not_registered": "not registered for this client",
	"malformed_redirect_uri":      "not a valid absolute URI",
	"unknown_client":              "client_id is not registered",
}

// TestIntegrationTwoEnvironments runs a sandbox and a production site in one
// Caddy, with separate registries: what sandbox allows (http, loopback on
// any port) production rejects, and the metrics tell the policies apart.
func TestIntegrationTwoEnvironments(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	sbxReg := writeRegistry(t, dir, "sandbox.json", "sandbox",
		regClient{ClientID: "APP-BOTH", RedirectURIs: []string{"http://app.example/cb", "http://127.0.0.1/cb", "https://localhost/cb", "https://app.example/cb"}})
	prodReg := writeRegistry(t, dir, "production.json", "production",
		regClient{ClientID: "APP-BOTH", RedirectURIs: []string{"https://app.example/cb"}})
	// Default policy names: the environment.
	sandbox := newSite(t, up, "registry "+caddyfileQuote(sbxReg), "environment sandbox")
	prod := newSite(t, up, "registry "+caddyfileQuote(prodReg), "environment production")
	startCaddy(t, sandbox, prod)

	cases := []struct {
		uri, sandboxReason, prodReason string
	}{
		{"http://app.example/cb", "exact_match", "insecure_scheme"},
		{"http://127.0.0.1:49152/cb", "loopback_match", "insecure_scheme"},
		{"http://127.0.0.1/cb", "exact_match", "insecure_scheme"},
		{"https://localhost:8443/cb", "loopback_match", "loopback_not_allowed"},
		{"https://localhost/cb", "exact_match", "loopback_not_allowed"},
		{"https://127.0.0.1/cb", "redirect_uri_not_registered", "loopback_not_allowed"},
		{"https://app.example/cb", "exact_match", "exact_match"},
	}
	for _, c := range cases {
		t.Run(c.uri, func(t *testing.T) {
			target := authorize("APP-BOTH", c.uri)
			for _, e := range []struct {
				s         *site
				env, want string
			}{{sandbox, "sandbox", c.sandboxReason}, {prod, "production", c.prodReason}} {
				before := scrape(t)
				n := up.count()
				res := get(t, e.s.addr(), target)
				after := scrape(t)
				decision := "rejected"
				if strings.HasSuffix(e.want, "_match") {
					decision = "allowed"
					checkSameTarget(t, e.env, checkForwarded(t, e.env, res, up, n), target)
				} else {
					checkRejected(t, e.env, res, e.want, up, n)
				}
				// The policy label is the site's own; the other policy's
				// counters do not move.
				checkDeltas(t, e.env, before, after, mDecisions, labels{},
					map[string]float64{labels{"policy": e.env, "environment": e.env, "decision": decision, "reason": e.want}.key(): 1})
			}
		})
	}
}

// TestIntegrationPlaceholders checks the placeholders of POLICY §7 through
// Caddy's own header directive, deferred until the response is written.
func TestIntegrationPlaceholders(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	reg := writeRegistry(t, dir, "clients.json", "production",
		regClient{ClientID: "APP-PH", RedirectURIs: []string{"https://app.example/cb"}})
	s := newSite(t, up, "registry "+caddyfileQuote(reg), "environment production", "name itph")
	s.extra = []string{
		`header >X-Policy-Decision "{http.redirect_uri_policy.decision}"`,
		`header >X-Policy-Reason "{http.redirect_uri_policy.reason}"`,
		`header >X-Policy-Client "{http.redirect_uri_policy.client_id}"`,
	}
	startCaddy(t, s)

	for _, c := range []struct {
		target, decision, reason, client string
	}{
		{authorize("APP-PH", "https://app.example/cb"), "allowed", "exact_match", "APP-PH"},
		{authorize("APP-PH", "https://evil.example/cb"), "rejected", "redirect_uri_not_registered", "APP-PH"},
		// The request's own text never: it may hold anything.
		{authorize("APP-NOBODY", "https://evil.example/cb"), "rejected", "unknown_client", ""},
		// Requests the module does not check: empty, not literal text.
		{"/static/app.js", "", "", ""},
		{"/oauth/authorize/interaction/Zx81", "", "", ""},
	} {
		res := get(t, s.addr(), c.target)
		got := [3]string{res.Header.Get("X-Policy-Decision"), res.Header.Get("X-Policy-Reason"), res.Header.Get("X-Policy-Client")}
		if want := [3]string{c.decision, c.reason, c.client}; got != want {
			t.Errorf("GET %s: placeholders %q, want %q", c.target, got, want)
		}
	}
}

// TestIntegrationLogs checks the structured log line of POLICY §7: one per
// rejected and per reported request, none for an allowed one.
func TestIntegrationLogs(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	reg := writeRegistry(t, dir, "clients.json", "production",
		regClient{ClientID: "APP-LOG", Name: "Logged Library", RedirectURIs: []string{"https://app.example/cb"}})
	logFile := filepath.Join(dir, "policy.log")
	enforce := newSite(t, up, "registry "+caddyfileQuote(reg), "environment production", "name itlog")
	report := newSite(t, up, "registry "+caddyfileQuote(reg), "environment production", "name itlog-report", "report_only")
	// Caddy's client IP honours trusted_proxies: behind a load balancer,
	// the remote address is the balancer's.
	startCaddyWith(t, "\tservers {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t}\n\tlog policy {\n\t\toutput file "+caddyfileQuote(logFile)+"\n\t\tformat json\n\t\tinclude http.handlers.redirect_uri_policy\n\t}", enforce, report)

	longURI := "https://evil.example/" + strings.Repeat("a", 1000)
	get(t, enforce.addr(), authorize("APP-LOG", "https://app.example/cb"))
	get(t, enforce.addr(), authorize("APP-LOG", longURI), [2]string{"X-Forwarded-For", "203.0.113.9"})
	get(t, report.addr(), authorize("APP-LOG-UNKNOWN", "https://evil.example/cb"))
	// Decided before the client is looked up, yet the client is named.
	get(t, enforce.addr(), authorize("APP-LOG", "https://app.example/cb")+"&Redirect.URI=x")

	type line struct {
		Logger, Msg, Policy, Decision, Reason, ClientID, ClientName, RedirectURI, ClientIP, RequestID string
	}
	var lines []line
	waitFor(t, "three log lines", reloadWait, func() bool {
		data, _ := os.ReadFile(logFile)
		lines = nil
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) != nil || m["decision"] == nil {
				continue
			}
			str := func(k string) string { s, _ := m[k].(string); return s }
			lines = append(lines, line{str("logger"), str("msg"), str("policy"), str("decision"), str("reason"),
				str("client_id"), str("client_name"), str("redirect_uri"), str("client_ip"), str("request_id")})
		}
		return len(lines) >= 3
	})
	time.Sleep(200 * time.Millisecond) // no fourth line is coming
	if len(lines) != 3 {
		t.Fatalf("%d decision log lines, want 3: %+v", len(lines), lines)
	}
	rej, rep, dup := lines[0], lines[1], lines[2]
	if dup.Decision != "rejected" || dup.Reason != "duplicate_parameter" || dup.ClientID != "APP-LOG" || dup.ClientName != "Logged Library" {
		t.Errorf("duplicate's log line %+v: want the client named", dup)
	}
	if rej.Decision != "rejected" || rej.Reason != "redirect_uri_not_registered" || rej.ClientID != "APP-LOG" ||
		rej.ClientName != "Logged Library" || rej.Policy != "itlog" || !strings.HasPrefix(longURI, strings.TrimSuffix(rej.RedirectURI, "…")) ||
		len(rej.RedirectURI) >= len(longURI) || rej.ClientIP != "203.0.113.9" || rej.RequestID == "" {
		t.Errorf("rejection log line %+v", rej)
	}
	if rep.Decision != "reported" || rep.Reason != "unknown_client" || rep.ClientID != "APP-LOG-UNKNOWN" ||
		rep.ClientName != "" || rep.Policy != "itlog-report" || rep.RedirectURI != "https://evil.example/cb" || rep.ClientIP != "127.0.0.1" {
		t.Errorf("report log line %+v", rep)
	}
}

// TestIntegrationClientIDPlaceholderSafe: in report-only mode a request is
// forwarded with the client_id placeholder in a header; a client_id with a
// line break must not break the forwarded request (a 502 before).
func TestIntegrationClientIDPlaceholderSafe(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	reg := writeRegistry(t, dir, "clients.json", "production",
		regClient{ClientID: "APP-HDR", RedirectURIs: []string{"https://app.example/cb"}})
	s := newSite(t, up, "registry "+caddyfileQuote(reg), "environment production", "name ithdr", "report_only")
	// reverse_proxy with header_up, written by hand: site.caddyfile adds a
	// plain reverse_proxy.
	cfg := caddyConfig(s)
	cfg = strings.Replace(cfg, "\treverse_proxy "+up.addr()+"\n", "\treverse_proxy "+up.addr()+" {\n\t\theader_up X-Client \"{http.redirect_uri_policy.client_id}\"\n\t}\n", 1)
	caddytest.NewTester(t).InitServer(cfg, "caddyfile")

	for _, c := range []struct{ target, want string }{
		{"/oauth/authorize?client_id=APP-X%0d%0aX-Injected:%20yes&response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fcb", ""},
		{authorize("APP-HDR", "https://evil.example/cb"), "APP-HDR"},
	} {
		n := up.count()
		res := get(t, s.addr(), c.target)
		got := checkForwarded(t, c.target, res, up, n)
		if got.Header.Get("X-Client") != c.want || got.Header.Get("X-Injected") != "" {
			t.Errorf("%s: upstream got X-Client %q, X-Injected %q; want %q and none", c.target, got.Header.Get("X-Client"), got.Header.Get("X-Injected"), c.want)
		}
	}
}
