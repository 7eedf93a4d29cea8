package caddymodule_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/corpus"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/loopback"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

const mLogoutDecisions = "caddy_redirect_uri_policy_logout_decisions_total"

// logoutPath is the end-session endpoint of the tests (node-oidc-provider's).
const logoutPath = "/session/end"

// corpusClient is the registry entry of corpus case c: its registered URIs
// are redirect URIs or, for a logout case, post-logout redirect URIs.
func corpusClient(id string, c corpus.Case) regClient {
	rc := regClient{ClientID: id, Name: c.ID, ApplicationType: c.ApplicationType}
	if c.Endpoint == "logout" {
		rc.PostLogoutURIs = c.Registered
	} else {
		rc.RedirectURIs = c.Registered
	}
	return rc
}

// TestIntegrationNativeAndLogoutCorpus runs the corpora of native clients
// and of logout redirects black-box through a real Caddy with a sandbox
// and a production site, each with one registry holding a client per case
// and a logout endpoint; each registration that must not load is loaded on
// its own and must fail, naming the file, its line and the client.
func TestIntegrationNativeAndLogoutCorpus(t *testing.T) {
	var cases []corpus.Case
	for _, f := range []string{"../policy/testdata/native_cases.json", "../policy/testdata/logout_cases.json"} {
		cases = append(cases, corpus.Load(t, f)...)
	}
	up := newUpstream(t)
	dir := t.TempDir()
	clients := map[string][]regClient{}
	for i, c := range cases {
		if !c.RegistryError {
			clients[c.Environment] = append(clients[c.Environment], corpusClient(corpusClientID(i), c))
		}
	}
	sites := map[string]*site{}
	for _, env := range []string{"sandbox", "production"} {
		reg := writeRegistry(t, dir, env+".json", env, clients[env]...)
		sites[env] = newSite(t, up, "registry "+caddyfileQuote(reg), "environment "+env, "name nlc-"+env, "logout_paths "+logoutPath)
	}
	startCaddy(t, sites["sandbox"], sites["production"])
	before := scrape(t)

	want := map[string]float64{} // metric/environment/decision
	for i, c := range cases {
		if c.RegistryError {
			continue // below: a failed load ends the harness's Caddy
		}
		t.Run(c.ID, func(t *testing.T) {
			id := corpusClientID(i)
			target, metric := "/oauth/authorize?client_id="+id+"&response_type=code&redirect_uri="+url.QueryEscape(*c.RedirectURI), mDecisions
			if c.Endpoint == "logout" {
				target, metric = logoutPath+"?client_id="+id+"&post_logout_redirect_uri="+url.QueryEscape(*c.RedirectURI), mLogoutDecisions
			}
			n := up.count()
			res := get(t, sites[c.Environment].addr(), target)
			if c.Expect == "allow" {
				checkSameTarget(t, c.ID, checkForwarded(t, c.ID, res, up, n), target)
				want[metric+"/"+c.Environment+"/allowed"]++
			} else {
				var rb rejectionBody
				json.Unmarshal(res.Body, &rb)
				if !slices.Contains(policy.RejectReasons, policy.Reason(rb.Reason)) {
					t.Fatalf("status %d, body %q: not a rejection", res.Status, truncateForLog(res.Body))
				}
				checkRejected(t, c.ID, res, rb.Reason, up, n)
				want[metric+"/"+c.Environment+"/rejected"]++
			}
			if t.Failed() {
				t.Logf("%s (%s): %s; registered %q; sent GET %s", c.ID, c.Environment, c.Note, c.Registered, target)
			}
		})
	}
	after := scrape(t)
	defer func() {
		for i, c := range cases {
			if c.RegistryError {
				checkClientRegistryError(t, dir, c, corpusClientID(i))
			}
		}
	}()
	for _, metric := range []string{mDecisions, mLogoutDecisions} {
		for _, env := range []string{"sandbox", "production"} {
			for _, decision := range []string{"allowed", "rejected"} {
				var got float64
				for _, d := range before.deltas(after, metric, labels{"policy": "nlc-" + env, "decision": decision}) {
					got += d
				}
				if w := want[metric+"/"+env+"/"+decision]; got != w {
					t.Errorf("%s %s/%s counted %v, want %v", metric, env, decision, got, w)
				}
			}
		}
	}
}

// checkClientRegistryError fails t unless a registry holding only the
// client of c fails to load through the harness, naming the file and the
// client. It leaves the harness's Caddy stopped.
func checkClientRegistryError(t *testing.T, dir string, c corpus.Case, id string) {
	t.Helper()
	path := writeRegistry(t, dir, c.ID+".json", c.Environment, corpusClient(id, c))
	assertLoadError(t, policyCaddyfile(loopback.Port(t), path, c.Environment), path+":", id)
}

// hintFor returns an ID token (signature unchecked by the module) issued
// to the client aud.
func hintFor(aud string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(`{"iss":"https://op.example","sub":"u1","aud":"`+aud+`"}`)) + ".c2ln"
}

// TestIntegrationLogout covers the logout door: GET and POST, the client
// named by client_id or by id_token_hint, every spelling of the path and
// of the names, its reasons and its own counter; a logout request without
// post_logout_redirect_uri passes unrecorded.
func TestIntegrationLogout(t *testing.T) {
	up := newUpstream(t)
	const out, evil = "https://app.example/logged-out", "https://evil.example/logged-out"
	reg := writeRegistry(t, t.TempDir(), "clients.json", "production",
		regClient{ClientID: "RP-1", RedirectURIs: []string{"https://app.example/cb"}, PostLogoutURIs: []string{out}},
		regClient{ClientID: "RP-2", RedirectURIs: []string{"https://two.example/cb"}},
		regClient{ClientID: "RP-OFF", Disabled: true, PostLogoutURIs: []string{out}},
	)
	s := newSite(t, up, "registry "+caddyfileQuote(reg), "environment production", "name itlogout",
		"logout_paths "+logoutPath+" /oidc/logout")
	startCaddy(t, s)
	outQ, evilQ := url.QueryEscape(out), url.QueryEscape(evil)
	form := [2]string{"Content-Type", formType}
	for _, c := range []struct {
		name   string
		req    rawReq
		reason string // "" forwarded; "-" forwarded unrecorded
	}{
		{"GET registered", rawReq{Target: logoutPath + "?client_id=RP-1&post_logout_redirect_uri=" + outQ + "&state=s"}, "exact_match"},
		{"GET attacker", rawReq{Target: logoutPath + "?client_id=RP-1&post_logout_redirect_uri=" + evilQ}, "post_logout_redirect_uri_not_registered"},
		{"POST registered", rawReq{Method: "POST", Target: logoutPath, Header: [][2]string{form}, Body: []byte("client_id=RP-1&post_logout_redirect_uri=" + outQ)}, "exact_match"},
		{"POST attacker", rawReq{Method: "POST", Target: logoutPath, Header: [][2]string{form}, Body: []byte("client_id=RP-1&post_logout_redirect_uri=" + evilQ)}, "post_logout_redirect_uri_not_registered"},
		{"PUT attacker", rawReq{Method: "PUT", Target: logoutPath + "?client_id=RP-1&post_logout_redirect_uri=" + evilQ}, "post_logout_redirect_uri_not_registered"},
		{"hint names the client", rawReq{Target: logoutPath + "?id_token_hint=" + hintFor("RP-1") + "&post_logout_redirect_uri=" + outQ}, "exact_match"},
		{"hint of another client", rawReq{Target: logoutPath + "?id_token_hint=" + hintFor("RP-2") + "&post_logout_redirect_uri=" + outQ}, "no_registered_post_logout_redirect_uris"},
		{"client_id and hint disagree", rawReq{Target: logoutPath + "?client_id=RP-1&id_token_hint=" + hintFor("RP-2") + "&post_logout_redirect_uri=" + outQ}, "logout_client_mismatch"},
		{"unreadable hint", rawReq{Target: logoutPath + "?client_id=RP-1&id_token_hint=abc&post_logout_redirect_uri=" + outQ}, "id_token_hint_unreadable"},
		{"no client", rawReq{Target: logoutPath + "?post_logout_redirect_uri=" + outQ}, "logout_client_missing"},
		{"unknown client", rawReq{Target: logoutPath + "?client_id=NOPE&post_logout_redirect_uri=" + outQ}, "unknown_client"},
		{"disabled client", rawReq{Target: logoutPath + "?client_id=RP-OFF&post_logout_redirect_uri=" + outQ}, "client_disabled"},
		{"second copy in another spelling", rawReq{Target: logoutPath + "?client_id=RP-1&post_logout_redirect_uri=" + outQ + "&Post.Logout_Redirect_URI=" + evilQ}, "duplicate_parameter"},
		{"second copy in the body", rawReq{Method: "POST", Target: logoutPath + "?client_id=RP-1&post_logout_redirect_uri=" + outQ, Header: [][2]string{form}, Body: []byte("post_logout_redirect_uri=" + evilQ)}, "duplicate_parameter"},
		{"path in capitals with a trailing slash", rawReq{Target: "/Session//END/?client_id=RP-1&post_logout_redirect_uri=" + evilQ}, "post_logout_redirect_uri_not_registered"},
		{"encoded path", rawReq{Target: "/session/%65nd?client_id=RP-1&post_logout_redirect_uri=" + evilQ}, "post_logout_redirect_uri_not_registered"},
		{"front controller routed by its query", rawReq{Target: "/index.php?q=session/end&client_id=RP-1&post_logout_redirect_uri=" + evilQ}, "post_logout_redirect_uri_not_registered"},
		{"path given in X-Original-URL", rawReq{Target: "/?client_id=RP-1&post_logout_redirect_uri=" + evilQ, Header: [][2]string{{"X-Original-URL", "/session/end"}}}, "post_logout_redirect_uri_not_registered"},
		{"second logout path", rawReq{Target: "/oidc/logout?client_id=RP-1&post_logout_redirect_uri=" + evilQ}, "post_logout_redirect_uri_not_registered"},
		{"JSON body", rawReq{Method: "POST", Target: logoutPath, Header: [][2]string{{"Content-Type", "application/json"}}, Body: []byte(`{"post_logout_redirect_uri":"` + evil + `"}`)}, "unsupported_body"},
		{"authorize request at the logout endpoint", rawReq{Target: logoutPath + "?client_id=RP-1&response_type=code&redirect_uri=" + url.QueryEscape("https://app.example/cb") + "&post_logout_redirect_uri=" + evilQ}, "malformed_request"},
		{"no post_logout_redirect_uri", rawReq{Target: logoutPath + "?client_id=RP-1&state=s"}, "-"},
		{"no parameters", rawReq{Target: logoutPath}, "-"},
		{"confirm form below the endpoint", rawReq{Method: "POST", Target: logoutPath + "/confirm", Header: [][2]string{form}, Body: []byte("xsrf=x&logout=yes")}, "-"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := scrape(t)
			n := up.count()
			res := send(t, s.addr(), c.req)
			switch c.reason {
			case "-":
				checkForwarded(t, c.name, res, up, n)
			case "exact_match":
				checkForwarded(t, c.name, res, up, n)
			default:
				checkRejected(t, c.name, res, c.reason, up, n)
			}
			after := scrape(t)
			var wantLogout map[string]float64
			if c.reason != "-" {
				decision := "rejected"
				if c.reason == "exact_match" {
					decision = "allowed"
				}
				wantLogout = map[string]float64{labels{"policy": "itlogout", "environment": "production", "decision": decision, "reason": c.reason}.key(): 1}
			}
			checkDeltas(t, c.name, before, after, mLogoutDecisions, labels{"policy": "itlogout"}, wantLogout)
			checkDeltas(t, c.name, before, after, mDecisions, labels{"policy": "itlogout"}, nil)
		})
	}

	// A browser sees the sign-out page, not the sign-in one.
	n := up.count()
	res := get(t, s.addr(), logoutPath+"?client_id=RP-1&post_logout_redirect_uri="+evilQ, [2]string{"Accept", "text/html"})
	if res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), "sign-out link is not valid") || up.count() != n {
		t.Errorf("HTML rejection: status %d, body %q", res.Status, truncateForLog(res.Body))
	}
}

// TestIntegrationOmittedRedirectURI: without redirect_uri, a client with
// exactly one registered full URI passes under omitted_redirect_uri
// single, counted as omitted_redirect_uri, and is rejected by default.
func TestIntegrationOmittedRedirectURI(t *testing.T) {
	up := newUpstream(t)
	reg := writeRegistry(t, t.TempDir(), "clients.json", "production",
		regClient{ClientID: "ONE", RedirectURIs: []string{"https://app.example/cb"}},
		regClient{ClientID: "TWO", RedirectURIs: []string{"https://app.example/cb", "https://app.example/cb2"}},
		regClient{ClientID: "HOST", RedirectURIs: []string{"https://app.example"}},
		regClient{ClientID: "OFF", Disabled: true, RedirectURIs: []string{"https://app.example/cb"}},
	)
	single := newSite(t, up, "registry "+caddyfileQuote(reg), "environment production", "name itomit-single", "omitted_redirect_uri single")
	def := newSite(t, up, "registry "+caddyfileQuote(reg), "environment production", "name itomit-default")
	startCaddy(t, single, def)
	for _, c := range []struct {
		client, query       string
		singleWant, defWant string
	}{
		{"ONE", "", "omitted_redirect_uri", "missing_redirect_uri"},
		{"ONE", "&redirect_uri=", "omitted_redirect_uri", "missing_redirect_uri"},
		{"ONE", "&redirect_uri=" + url.QueryEscape("https://evil.example/cb"), "redirect_uri_not_registered", "redirect_uri_not_registered"},
		{"TWO", "", "missing_redirect_uri", "missing_redirect_uri"},
		{"HOST", "", "missing_redirect_uri", "missing_redirect_uri"},
		{"OFF", "", "client_disabled", "missing_redirect_uri"},
		{"NOPE", "", "unknown_client", "missing_redirect_uri"},
		{"ONE", "&request_uri=" + url.QueryEscape("https://evil.example/r"), "request_uri_not_registered", "request_uri_not_registered"},
	} {
		for _, s := range []struct {
			site *site
			want string
			name string
		}{{single, c.singleWant, "itomit-single"}, {def, c.defWant, "itomit-default"}} {
			what := s.name + " " + c.client + c.query
			target := "/oauth/authorize?response_type=code&client_id=" + c.client + "&state=s" + c.query
			before := scrape(t)
			n := up.count()
			res := get(t, s.site.addr(), target)
			decision := "rejected"
			if s.want == "omitted_redirect_uri" {
				decision = "allowed"
				checkSameTarget(t, what, checkForwarded(t, what, res, up, n), target)
			} else {
				checkRejected(t, what, res, s.want, up, n)
			}
			checkDeltas(t, what, before, scrape(t), mDecisions, labels{"policy": s.name},
				map[string]float64{labels{"policy": s.name, "environment": "production", "decision": decision, "reason": s.want}.key(): 1})
		}
	}
}
