package cli

import (
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
)

func TestVariantsClasses(t *testing.T) {
	vs := Variants("APP-1", []string{"https://app.example.com/cb"}, VariantOptions{PathSpellings: true})
	byClass := map[string][]string{}
	for _, v := range vs {
		byClass[v.Class] = append(byClass[v.Class], v.URI)
	}
	for _, c := range Classes {
		if c == ClassPrivateScheme || c == ClassLogout {
			continue // TestVariantsNativeAndLogout
		}
		if len(byClass[c]) == 0 && c != ClassPAR {
			t.Errorf("no variant of class %s", c)
		}
	}
	for class, want := range map[string][]string{
		ClassRegistered:       {"https://app.example.com/cb"},
		ClassAttackerHost:     {"https://evil.example/cb"},
		ClassOpenPath:         {"https://app.example.com/evil"},
		ClassSuffixHost:       {"https://app.example.com.evil.example/cb"},
		ClassLookAlikeHost:    {"https://app-example-com.evil.example/cb", "https://appexamplecom.evil/cb"},
		ClassSubdomain:        {"https://evil.app.example.com/cb"},
		ClassParentDomain:     {"https://example.com/cb"},
		ClassUserinfo:         {"https://app.example.com@evil.example/cb", "https://evil.example@app.example.com/cb"},
		ClassBackslash:        {`https://evil.example\@app.example.com/cb`},
		ClassScheme:           {"http://app.example.com/cb"},
		ClassPort:             {"https://app.example.com:8443/cb", "https://app.example.com:443/cb"},
		ClassPathTraversal:    {"https://app.example.com/cb/../evil"},
		ClassEncodedTraversal: {"https://app.example.com/cb/%2e%2e/evil", "https://app.example.com/cb/%252e%252e/evil"},
		ClassPrefixExtension:  {"https://app.example.com/cbx", "https://app.example.com/cb/extra", "https://app.example.com/cb/"},
		ClassFragment:         {"https://app.example.com/cb#evil"},
		ClassQueryInjection:   {"https://app.example.com/cb?next=https%3A%2F%2Fevil.example%2F"},
		ClassLoopback:         {"http://localhost/cb", "http://127.0.0.1/cb", "http://[::1]/cb", "http://2130706433/cb"},
		ClassIDN:              {"https://аpp.example.com/cb", "https://xn--" + punycode("аpp") + ".example.com/cb"},
		ClassTrailingDot:      {"https://app.example.com./cb"},
		ClassCase:             {"https://APP.EXAMPLE.COM/cb", "HTTPS://app.example.com/cb", "https://app.example.com/CB"},
		ClassPathSpelling:     {"https://evil.example/cb"},
	} {
		for _, w := range want {
			if !slices.Contains(byClass[class], w) {
				t.Errorf("class %s lacks %q; has %q", class, w, byClass[class])
			}
		}
	}

	// Request-level variants carry their raw query and expected reason.
	requests := map[string]policy.Reason{}
	for _, v := range vs {
		if v.Class == ClassRequest {
			if !v.RequestLevel() {
				t.Errorf("%s: request variant without an expected reason", v.Name)
			}
			requests[v.Method+" ?"+v.RawQuery+" "+v.Body] = v.Expect
		} else if v.RequestLevel() && !(v.Class == ClassPathSpelling && v.Expect == policy.MalformedRequest) {
			// Only an ambiguous path spelling is rejected before its
			// redirect URI is read.
			t.Errorf("%s (%s) is not request-level", v.Name, v.Class)
		}
	}
	good, evil := url.QueryEscape("https://app.example.com/cb"), url.QueryEscape("https://evil.example/cb")
	id := "response_type=code&client_id=APP-1"
	for req, reason := range map[string]policy.Reason{
		"GET ?" + id + "&redirect_uri=" + good + "&redirect_uri=" + evil + " ":                                               policy.DuplicateParameter,
		"GET ?" + id + "&redirect_uri=" + good + "&Redirect_URI=" + evil + " ":                                               policy.DuplicateParameter,
		"GET ?" + id + "&redirect_uri=" + good + "&redirect.uri=" + evil + " ":                                               policy.DuplicateParameter,
		"POST ?" + id + "&redirect_uri=" + good + " redirect_uri=" + evil:                                                    policy.DuplicateParameter,
		"GET ?" + id + "&redirect_uri=" + good + ";redirect_uri=" + evil + " ":                                               policy.MalformedRequest,
		"GET ?" + id + "&redirect_uri=" + good + "&request_uri=" + url.QueryEscape("https://evil.example/request.jwt") + " ": policy.RequestURINotRegistered,
		"GET ?" + id + "&redirect_uri=" + good + "&Request_Uri=" + url.QueryEscape("https://evil.example/request.jwt") + " ": policy.RequestURINotRegistered,
		"GET ?" + id + "&client_id=attacker-client&redirect_uri=" + good + " ":                                               policy.DuplicateParameter,
	} {
		if got, ok := requests[req]; !ok || got != reason {
			t.Errorf("request %s: got %q (present %v), want %s", req, got, ok, reason)
		}
	}

	// Path spellings send the attacker's URI elsewhere than the default path.
	var paths []string
	for _, v := range vs {
		if v.Class == ClassPathSpelling {
			paths = append(paths, v.Path)
		} else if v.Path != "/oauth/authorize" {
			t.Errorf("%s: path %q", v.Name, v.Path)
		}
	}
	for _, p := range []string{"/oauth/authorize/", "/oauth//authorize", "/OAUTH/AUTHORIZE", "/oauth/./authorize",
		"/oauth/x/../authorize", "/oauth/%61uthorize", "/oauth/authorize;x=1"} {
		if !slices.Contains(paths, p) {
			t.Errorf("no path spelling %q in %q", p, paths)
		}
	}
	if vs := Variants("APP-1", []string{"https://app.example.com/cb"}, VariantOptions{}); slices.ContainsFunc(vs, func(v Variant) bool { return v.Class == ClassPathSpelling }) {
		t.Error("path spellings without PathSpellings")
	}
}

// TestVariantsPAR: with a PAR path, pushes of the attacker's redirect URI
// go there as form POSTs; those not decided by their shape carry the URI.
func TestVariantsPAR(t *testing.T) {
	vs := Variants("APP-1", []string{"https://app.example.com/cb"}, VariantOptions{ParPath: "/par"})
	reasons := map[policy.Reason]bool{}
	n := 0
	for _, v := range vs {
		if v.Class != ClassPAR {
			continue
		}
		n++
		reasons[v.Expect] = true
		if v.Method != "POST" || v.Path != "/par" || v.Body == "" {
			t.Errorf("%s: %s %s body %q", v.Name, v.Method, v.Path, v.Body)
		}
		form, err := url.ParseQuery(v.Body)
		if err != nil || form.Get("client_id") != "APP-1" {
			t.Errorf("%s: body %q does not name the client", v.Name, v.Body)
		}
		if !v.RequestLevel() && form.Get("redirect_uri") != v.URI && form.Get("request") == "" {
			t.Errorf("%s: body %q carries neither %q nor a request object", v.Name, v.Body, v.URI)
		}
	}
	for _, r := range []policy.Reason{"", policy.DuplicateParameter, policy.RedirectURIMismatch, policy.ClientIDMismatch, policy.RequestObjectEncrypted, policy.MalformedRequest} {
		if !reasons[r] {
			t.Errorf("no PAR variant expecting %q", r)
		}
	}
	if n < 7 {
		t.Errorf("%d PAR variants", n)
	}
}

func TestVariantsPure(t *testing.T) {
	registered := []string{"https://App.example:8443/a/b?x=1", "https://app.example:8443/a/b?x=1", "http://[::1]/cb", "https://portal.example"}
	a := Variants("APP 1&2", registered, VariantOptions{AuthorizePath: "/authorize", PathSpellings: true})
	b := Variants("APP 1&2", slices.Clone(registered), VariantOptions{AuthorizePath: "/authorize", PathSpellings: true})
	if !reflect.DeepEqual(a, b) {
		t.Fatal("Variants is not deterministic")
	}
	seen := map[string]bool{}
	for _, v := range a {
		key := v.Method + " " + v.Path + "?" + v.RawQuery + "\n" + v.Body
		if seen[key] {
			t.Errorf("duplicate request %s", key)
		}
		seen[key] = true
		if v.Method != "GET" && v.Method != "POST" || (v.Method == "POST") != (v.Body != "") {
			t.Errorf("%s: method %s with body %q", v.Name, v.Method, v.Body)
		}
		if v.RequestLevel() || strings.HasPrefix(v.Name, "request below") {
			continue // the split shapes: TestVariantsBelowPath
		}
		// A URI variant is an ordinary authorize request for its URI.
		if v.RawQuery != "response_type=code&client_id=APP+1%262&redirect_uri="+url.QueryEscape(v.URI) {
			t.Errorf("%s: query %q", v.Name, v.RawQuery)
		}
		q, err := url.ParseQuery(v.RawQuery)
		if err != nil || len(q["redirect_uri"]) != 1 || q.Get("redirect_uri") != v.URI || q.Get("client_id") != "APP 1&2" {
			t.Errorf("%s: query %q does not carry %q", v.Name, v.RawQuery, v.URI)
		}
	}
	// The IPv6 base gets no host-name tricks, the equal bases no second copy.
	for _, v := range a {
		if strings.Contains(v.URI, "[::1].") || strings.Contains(v.URI, ".[::1]") {
			t.Errorf("host-name variant of an IPv6 literal: %s", v.URI)
		}
	}
	if len(Variants("X", nil, VariantOptions{})) == 0 {
		t.Error("a client without registered URIs gets no variants")
	}
}

func TestPunycode(t *testing.T) {
	for in, want := range map[string]string{
		"bücher":  "bcher-kva",
		"münchen": "mnchen-3ya",
		"日本語":     "wgv71a119e",
		"ü":       "tda",
		"аpple":   "pple-43d", // Cyrillic а
	} {
		if got := punycode(in); got != want {
			t.Errorf("punycode(%q) = %q, want %q", in, got, want)
		}
	}
	if u, a := homoglyph("login.example.org"); u != "lоgin.example.org" || a != "xn--lgin-"+strings.TrimPrefix(punycode("lоgin"), "lgin-")+".example.org" {
		t.Errorf("homoglyph = %q, %q", u, a)
	}
}

// decideAll decides every variant of every client of a registry file.
func decideAll(t *testing.T, content string, env policy.Environment, match policy.MatchMode) map[string][]variantResult {
	t.Helper()
	p, err := policy.New(policy.Options{Environment: env, Match: match})
	if err != nil {
		t.Fatal(err)
	}
	s, err := registry.Parse("test.json", []byte(content), p)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]variantResult{}
	for _, c := range s.Clients() {
		var raws []string
		for _, e := range c.URIs.Entries() {
			raws = append(raws, e.Raw)
		}
		for _, v := range Variants(c.ID, raws, VariantOptions{}) {
			out[c.ID] = append(out[c.ID], decideVariant(p, s, c.ID, v))
		}
	}
	return out
}

func TestVariantsDecided(t *testing.T) {
	prod := decideAll(t, prodRegistry, policy.Production, policy.MatchExact)

	// A client with full URIs in production: nothing gets through but
	// its registered URIs, in another spelling at most.
	for _, r := range prod["APP-FULL"] {
		if r.Flagged {
			t.Errorf("APP-FULL: %s %s flagged: %s", r.Class, r.URI, r.Why)
		}
		if r.Decision == "allowed" && (r.Reason != "exact_match" || r.Class != ClassRegistered && r.Class != ClassCase && r.Class != ClassPort) {
			t.Errorf("APP-FULL: %s %s allowed (%s)", r.Class, r.URI, r.Reason)
		}
	}
	for _, r := range prod["APP-OFF"] {
		if r.Decision != "rejected" || !r.RequestLevel && r.Reason != "client_disabled" {
			t.Errorf("APP-OFF: %s %s: %s %s", r.Class, r.URI, r.Decision, r.Reason)
		}
	}
	for _, r := range prod["APP-NONE"] {
		if r.Decision != "rejected" {
			t.Errorf("APP-NONE: %s %s allowed", r.Class, r.URI)
		}
	}

	// A host-only client: the open paths are flagged, for that reason.
	flagged := map[string]bool{}
	for _, r := range prod["APP-HOST"] {
		if r.Flagged {
			flagged[r.URI] = true
			if r.Reason != "host_match" || !strings.Contains(r.Why, `host-only entry "https://portal.example.org"`) {
				t.Errorf("APP-HOST: %s flagged as %s: %s", r.URI, r.Reason, r.Why)
			}
		}
		if r.Class == ClassOpenPath && r.URI != "https://portal.example.org/" && !r.Flagged {
			t.Errorf("APP-HOST: open path %s not flagged (%s %s)", r.URI, r.Decision, r.Reason)
		}
		if (r.Class == ClassRegistered || r.URI == "https://portal.example.org/") && r.Flagged {
			t.Errorf("APP-HOST: the registered URI %s is flagged", r.URI)
		}
		if r.Class == ClassAttackerHost || r.Class == ClassSubdomain || r.Class == ClassScheme || r.Class == ClassPort && r.URI != "https://portal.example.org:443/" {
			if r.Decision != "rejected" {
				t.Errorf("APP-HOST: %s %s %s", r.Class, r.URI, r.Decision)
			}
		}
	}
	for _, u := range []string{"https://portal.example.org/evil", "https://portal.example.org/logout?next=https%3A%2F%2Fevil.example%2F",
		"https://portal.example.org/extra", "https://portal.example.org/?next=https%3A%2F%2Fevil.example%2F"} {
		if !flagged[u] {
			t.Errorf("APP-HOST: %s not flagged", u)
		}
	}

	sandbox := decideAll(t, sandboxRegistry, policy.Sandbox, policy.MatchExact)
	// An unrestricted sandbox client: every valid URI is flagged as such.
	n := 0
	for _, r := range sandbox["APP-OPEN"] {
		if r.Decision == "allowed" {
			n++
			if !r.Flagged || r.Reason != "unrestricted_client" || !strings.HasPrefix(r.Why, "unrestricted sandbox client") {
				t.Errorf("APP-OPEN: %s allowed, flagged %v, %s: %s", r.URI, r.Flagged, r.Reason, r.Why)
			}
		}
	}
	if n < 3 {
		t.Errorf("APP-OPEN: only %d variants allowed", n)
	}
	// A native app: the other ports of its loopback URIs, by the loopback
	// rule; nothing else.
	for _, r := range sandbox["APP-NATIVE"] {
		if !r.Flagged {
			continue
		}
		if r.Reason != "loopback_match" || !strings.Contains(r.Why, "loopback port rule") {
			t.Errorf("APP-NATIVE: %s flagged as %s: %s", r.URI, r.Reason, r.Why)
		}
	}
	if !slices.ContainsFunc(sandbox["APP-NATIVE"], func(r variantResult) bool { return r.Flagged && r.URI == "http://127.0.0.1:49152/cb" }) {
		t.Error("APP-NATIVE: the ephemeral port is not flagged")
	}
	for _, r := range sandbox["APP-DEV"] {
		if r.Flagged {
			t.Errorf("APP-DEV: %s flagged: %s", r.URI, r.Why)
		}
	}

	// Prefix mode lets longer paths through, at segment boundaries only.
	prefix := decideAll(t, fullRegistry, policy.Production, policy.MatchPrefix)
	got := map[string]variantResult{}
	for _, r := range prefix["APP-FULL"] {
		got[r.URI] = r
	}
	for u, want := range map[string]bool{
		"https://app.example.com/oauth/callback/extra":                                       true,
		"https://app.example.com/oauth/callback/%252e%252e/evil":                             true,
		"https://app.example.com/oauth/callback?tenant=a&next=https%3A%2F%2Fevil.example%2F": true,
		"https://app.example.com/oauth/callbackx":                                            false,
		"https://app.example.com/oauth/callback%2f..%2fevil":                                 false,
		"https://app.example.com/oauth/callback/../evil":                                     false,
	} {
		r, ok := got[u]
		if !ok {
			t.Errorf("no variant %s", u)
			continue
		}
		if r.Flagged != want || want && !strings.HasPrefix(r.Why, "prefix mode:") {
			t.Errorf("prefix mode: %s flagged %v (%s %s: %s), want %v", u, r.Flagged, r.Decision, r.Reason, r.Why, want)
		}
	}
}

func TestVariantsLookAlikeForms(t *testing.T) {
	var uris []string
	for _, v := range Variants("APP-1", []string{"https://app.example/cb"}, VariantOptions{}) {
		uris = append(uris, v.URI)
	}
	for _, want := range []string{
		"https://app.example.evil.example/cb", // suffix
		"https://app-example.evil.example/cb", // look-alike
		"https://appexample.evil/cb",          // look-alike
		"https://evil.app.example/cb",         // subdomain
	} {
		if !slices.Contains(uris, want) {
			t.Errorf("no variant %s", want)
		}
	}
}

// TestVariantsBelowPath: online, the attacker's URI goes below the
// authorize path too, with the parameters split between query and body.
func TestVariantsBelowPath(t *testing.T) {
	evil := url.QueryEscape("https://evil.example/cb")
	want := map[string]bool{
		"GET /oauth/authorize/x?response_type=code&client_id=APP-1&redirect_uri=" + evil + " ":         true,
		"GET /oauth/authorize/x?client_id=APP-1&redirect_uri=" + evil + " ":                            true,
		"POST /oauth/authorize/x?client_id=APP-1&state=s&redirect_uri=" + evil + " response_type=code": true,
		"POST /oauth/authorize/x?response_type=code&client_id=APP-1 redirect_uri=" + evil:              true,
		"GET /OAUTH/AUTHORIZE//x/?client_id=APP-1&redirect_uri=" + evil + " ":                          true,
	}
	for _, v := range Variants("APP-1", []string{"https://app.example.com/cb"}, VariantOptions{PathSpellings: true}) {
		key := v.Method + " " + v.Path + "?" + v.RawQuery + " " + v.Body
		if want[key] {
			if v.Class != ClassPathSpelling || v.URI != "https://evil.example/cb" || v.RequestLevel() {
				t.Errorf("%s: class %s URI %s expect %q", key, v.Class, v.URI, v.Expect)
			}
			delete(want, key)
		}
	}
	for key := range want {
		t.Errorf("no variant %s", key)
	}
}

// TestVariantsNativeAndLogout: a native app's private-use scheme gets its
// look-alikes and odd forms, and a logout path the logout requests; the
// registry rejects every one but the registered URIs and their spellings.
func TestVariantsNativeAndLogout(t *testing.T) {
	const app, out = "com.example.app:/oauth2redirect", "https://app.example.com/logged-out"
	vs := Variants("APP-N", []string{app, "http://127.0.0.1/cb"}, VariantOptions{LogoutPath: "/session/end", PostLogoutURIs: []string{out}})
	byClass := map[string][]string{}
	for _, v := range vs {
		byClass[v.Class] = append(byClass[v.Class], v.URI)
		if v.Class == ClassLogout && (!v.Logout || v.Path != "/session/end") {
			t.Errorf("logout variant %q: Logout %v, path %q", v.Name, v.Logout, v.Path)
		}
	}
	for class, want := range map[string][]string{
		ClassRegistered:    {app, "http://127.0.0.1/cb"},
		ClassCase:          {"COM.EXAMPLE.APP:/oauth2redirect"},
		ClassPrivateScheme: {"com.example.app.evil:/oauth2redirect", "com-example-app:/oauth2redirect", "com.example.app://evil.example/oauth2redirect", "com.example.app:oauth2redirect", "com.example.app:%2Foauth2redirect", "com.example.app:///oauth2redirect"},
		ClassLoopback:      {"http://localhost/cb"},
		ClassLogout:        {out, "https://evil.example/logged-out"},
	} {
		for _, w := range want {
			if !slices.Contains(byClass[class], w) {
				t.Errorf("class %s lacks %q; has %q", class, w, byClass[class])
			}
		}
	}

	reg := `{"environment": "production", "clients": [{"client_id": "APP-N", "application_type": "native",
		"redirect_uris": ["` + app + `", "http://127.0.0.1/cb"], "post_logout_redirect_uris": ["` + out + `"]}]}`
	p, err := policy.New(policy.Options{Environment: policy.Production})
	if err != nil {
		t.Fatal(err)
	}
	s, err := registry.Parse("r.json", []byte(reg), p)
	if err != nil {
		t.Fatal(err)
	}
	allowed := 0
	for _, v := range vs {
		r := decideVariant(p, s, "APP-N", v)
		if r.Decision == "allowed" {
			allowed++
			if r.Class != ClassRegistered && r.Class != ClassCase && r.Class != ClassPort && r.Reason != "loopback_match" && !(r.Class == ClassLogout && r.URI == out) {
				t.Errorf("%s %q (%s) allowed: %s", r.Class, r.URI, r.Name, r.Reason)
			}
		}
		if r.Flagged && r.Reason != "loopback_match" {
			t.Errorf("%s %q flagged: %s", r.Class, r.URI, r.Why)
		}
	}
	if allowed < 4 {
		t.Errorf("%d variants allowed; want the registered URIs in their spellings", allowed)
	}
}
