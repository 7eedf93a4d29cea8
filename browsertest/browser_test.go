package browsertest

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/caddybin"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

var updateDocs = flag.Bool("update-docs", false, "write the screenshot of a rejection page to docs/rejection-page.png")

// The screenshot that -update-docs copies for the README.
const docsScenario = "production_attacker_host"

// Registries of the test. Callbacks are on app.test; the sandbox serves
// them over http, production only over https (the test's https callback
// server).
const sandboxRegistry = `{
  "environment": "sandbox",
  "clients": [
    {"client_id": "APP-SANDBOXLIBRARY1", "name": "Example Library (sandbox)", "redirect_uris": ["http://app.test:{A}/cb"]},
    {"client_id": "APP-SANDBOXPORTAL02", "name": "Example Portal (sandbox)", "redirect_uris": ["http://app.test:{A}"]},
    {"client_id": "APP-SANDBOXLEAKED03", "name": "Compromised Integration (sandbox)", "disabled": true, "redirect_uris": ["http://app.test:{A}/cb"]}
  ]
}
`

const productionRegistry = `{
  "environment": "production",
  "clients": [
    {"client_id": "APP-5X9K2L7M3N8P4Q1R", "name": "Example University Library", "redirect_uris": ["https://app.test:{AT}/cb"]}
  ]
}
`

const (
	sandboxLibrary = "APP-SANDBOXLIBRARY1" // registered http://app.test:{A}/cb (full)
	sandboxPortal  = "APP-SANDBOXPORTAL02" // registered http://app.test:{A} (host-only)
	sandboxLeaked  = "APP-SANDBOXLEAKED03" // disabled
	prodLibrary    = "APP-5X9K2L7M3N8P4Q1R"
)

// scenario is one sign-in link that a victim follows. Ports in URIs are
// placeholders: {A} the client's http callback server, {AT} its https one,
// {E} the attacker's http server, {ET} its https one.
type scenario struct {
	name        string
	site        string // "sandbox" or "production"
	path        string // the authorize path as the link spells it (default /oauth/authorize)
	clientID    string
	redirectURI string
	extra       string // appended to the query as is, e.g. a second redirect_uri

	// Allowed links: where the browser must end, and which server gets
	// the code.
	landsOn     string
	landsServer string

	// Rejected links: the reason on the rejection page, and (the control)
	// which server gets the code when the policy only reports: "evil" for
	// a real theft, "app" where Chromium itself stays on the client's host.
	reason    policy.Reason
	unguarded string
}

var scenarios = []scenario{
	// The legitimate client.
	{name: "sandbox_registered_callback", site: "sandbox", clientID: sandboxLibrary,
		redirectURI: "http://app.test:{A}/cb", landsOn: "http://app.test:{A}/cb?code=SECRET", landsServer: "app"},
	{name: "sandbox_host_only_registration", site: "sandbox", clientID: sandboxPortal,
		redirectURI: "http://app.test:{A}/welcome?lang=en", landsOn: "http://app.test:{A}/welcome?lang=en&code=SECRET", landsServer: "app"},
	{name: "production_registered_https_callback", site: "production", clientID: prodLibrary,
		redirectURI: "https://app.test:{AT}/cb", landsOn: "https://app.test:{AT}/cb?code=SECRET", landsServer: "app-tls"},

	// Stolen or misused credentials.
	{name: "sandbox_attacker_host", site: "sandbox", clientID: sandboxLibrary,
		redirectURI: "http://evil.test:{E}/cb", reason: policy.RedirectURINotRegistered, unguarded: "evil"},
	{name: "production_attacker_host", site: "production", clientID: prodLibrary,
		redirectURI: "https://evil.test:{ET}/orcid/callback", reason: policy.RedirectURINotRegistered, unguarded: "evil"},
	// Same port as the registration, so only the host differs: the name
	// resolves to the attacker (the app server hands foreign names to the
	// attacker's handler).
	{name: "subdomain_of_registered_host", site: "sandbox", clientID: sandboxPortal,
		redirectURI: "http://evil.app.test:{A}/cb", reason: policy.RedirectURINotRegistered, unguarded: "evil"},
	{name: "host_only_look_alike", site: "sandbox", clientID: sandboxPortal,
		redirectURI: "http://app.test.evil.test:{A}/cb", reason: policy.RedirectURINotRegistered, unguarded: "evil"},
	{name: "userinfo_trick", site: "sandbox", clientID: sandboxLibrary,
		redirectURI: "http://app.test:{A}@evil.test:{E}/cb", reason: policy.UserinfoInRedirectURI, unguarded: "evil"},
	{name: "production_userinfo_trick", site: "production", clientID: prodLibrary,
		redirectURI: "https://app.test:{AT}@evil.test:{ET}/cb", reason: policy.UserinfoInRedirectURI, unguarded: "evil"},
	// A parser that reads "\" as part of the user information sees
	// app.test; the browser reads it as "/" and goes to evil.test.
	{name: "backslash_userinfo", site: "sandbox", clientID: sandboxLibrary,
		redirectURI: `http://evil.test:{E}\@app.test:{A}/cb`, reason: policy.MalformedRedirectURI, unguarded: "evil"},
	// The reverse spelling: a parser that reads "\" as user information
	// sees evil.test; Chromium stays on app.test (path /@evil.test...).
	{name: "backslash_userinfo_reversed", site: "sandbox", clientID: sandboxLibrary,
		redirectURI: `http://app.test:{A}\@evil.test:{E}/cb`, reason: policy.MalformedRedirectURI, unguarded: "app"},
	// Not absolute: as a Location, "/\host" is scheme-relative in browsers.
	{name: "backslash_scheme_relative", site: "sandbox", clientID: sandboxLibrary,
		redirectURI: `/\evil.test:{E}/cb`, reason: policy.MalformedRedirectURI, unguarded: "evil"},
	// Production registers https only. The downgrade from
	// https://app.test:{AT} to http://app.test:{A} is the real-world
	// https://app.test (443) to http://app.test (80): another port and a
	// plaintext listener, where anyone on the network reads the code.
	{name: "production_scheme_downgrade", site: "production", clientID: prodLibrary,
		redirectURI: "http://app.test:{A}/cb", reason: policy.InsecureScheme, unguarded: "app"},
	// The browser resolves %2e%2e and lands on the client's open redirect.
	{name: "encoded_traversal", site: "sandbox", clientID: sandboxLibrary,
		redirectURI: "http://app.test:{A}/cb/%2e%2e/continue?next=http://evil.test:{E}/stolen",
		reason:      policy.PathTraversal, unguarded: "evil"},
	// The upstream takes the last copy.
	{name: "duplicate_redirect_uri", site: "sandbox", clientID: sandboxLibrary,
		redirectURI: "http://app.test:{A}/cb", extra: "&redirect_uri=http%3A%2F%2Fevil.test%3A{E}%2Fcb",
		reason: policy.DuplicateParameter, unguarded: "evil"},
	{name: "duplicate_redirect_uri_php_spelling", site: "sandbox", clientID: sandboxLibrary,
		redirectURI: "http://app.test:{A}/cb", extra: "&Redirect.URI=http%3A%2F%2Fevil.test%3A{E}%2Fcb",
		reason: policy.DuplicateParameter, unguarded: "evil"},
	// The upstream routes every spelling of the path to its authorize
	// endpoint.
	{name: "case_variant_authorize_path", site: "sandbox", path: "/OAuth/Authorize", clientID: sandboxLibrary,
		redirectURI: "http://evil.test:{E}/cb", reason: policy.RedirectURINotRegistered, unguarded: "evil"},
	{name: "slashes_variant_authorize_path", site: "production", path: "//oauth//authorize/", clientID: prodLibrary,
		redirectURI: "https://evil.test:{ET}/cb", reason: policy.RedirectURINotRegistered, unguarded: "evil"},
	// Chromium sends %2F as is; Go's path.Clean lets the ".." remove ";x"
	// and routes to /oauth/authorize, a reader that drops ";x" first would
	// not.
	{name: "dot_dot_after_junk_segment", site: "production", path: "/oauth/authorize%2F;x%2F..", clientID: prodLibrary,
		redirectURI: "https://evil.test:{ET}/cb", reason: policy.MalformedRequest, unguarded: "evil"},
	{name: "php_front_controller", site: "sandbox", path: "/index.php/oauth/authorize", clientID: sandboxLibrary,
		redirectURI: "http://evil.test:{E}/cb", reason: policy.RedirectURINotRegistered, unguarded: "evil"},
	// Credentials known to be stolen: cut off at the edge.
	{name: "disabled_client", site: "sandbox", clientID: sandboxLeaked,
		redirectURI: "http://evil.test:{E}/cb", reason: policy.ClientDisabled, unguarded: "evil"},
}

// TestVictimBrowserNeverReachesAttacker follows every sign-in link of
// scenarios in headless Chromium, through the real Caddy with the module,
// in front of an authorization server that redirects with the code at once
// and checks nothing. Legitimate links must end on the client's callback
// with the code; every other link must end on the rejection page, with no
// request at all reaching the attacker. The same links through report-only
// twins of the sites (the control) show that each one does carry the code
// away when the policy does not enforce, so the assertions above cannot
// pass for want of a working attack.
func TestVictimBrowserNeverReachesAttacker(t *testing.T) {
	requireChromium(t)      // before building Caddy: fail fast
	bin := caddybin.Path(t) // may build Caddy first: outside the time budget below

	start := time.Now()
	// A bound that stops a hung browser, not a speed check: under the full
	// suite on two cores a run has taken over 90 s.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	e := &env{}
	cert, spki := testCertificate(t)
	e.asPort = serve(t, http.HandlerFunc(e.demoAS), nil)
	e.appPort = serve(t, e.appHandler("app"), nil)
	e.appTLSPort = serve(t, e.appHandler("app-tls"), &cert)
	e.evilPort = serve(t, http.HandlerFunc(e.evilHandler), nil)
	e.evilTLS = serve(t, http.HandlerFunc(e.evilHandler), &cert)

	dir := t.TempDir()
	sandboxJSON := filepath.Join(dir, "sandbox.json")
	prodJSON := filepath.Join(dir, "production.json")
	for path, content := range map[string]string{sandboxJSON: sandboxRegistry, prodJSON: productionRegistry} {
		if err := os.WriteFile(path, []byte(e.expand(content)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.startCaddy(ctx, t, bin, dir, sandboxJSON, prodJSON)
	browser := startChromium(ctx, t, spki)
	t.Logf("servers on 127.0.0.1: authorization server :%d, client http :%d https :%d, attacker http :%d https :%d; "+
		"Caddy sandbox :%d (report-only :%d), production :%d (report-only :%d)",
		e.asPort, e.appPort, e.appTLSPort, e.evilPort, e.evilTLS,
		e.sandboxPort, e.sandboxReportPort, e.prodPort, e.prodReportPort)

	artifacts := artifactsDir(t)
	t.Logf("screenshots in %s", artifacts)

	// Enforced first: the control sends the browser to the attacker, so
	// nothing of it can be in flight while the enforced links are checked.
	for i, sc := range scenarios {
		t.Run("enforced/"+sc.name, func(t *testing.T) {
			e.runEnforced(ctx, t, browser, sc, filepath.Join(artifacts, fmt.Sprintf("%02d-enforced-%s.png", i+1, sc.name)))
		})
	}
	for i, sc := range scenarios {
		if sc.reason == "" {
			continue
		}
		t.Run("report_only_control/"+sc.name, func(t *testing.T) {
			e.runControl(ctx, t, browser, sc, filepath.Join(artifacts, fmt.Sprintf("%02d-control-%s.png", i+1, sc.name)))
		})
	}
	t.Logf("browser test took %s (after the Caddy binary was ready)", time.Since(start).Round(time.Millisecond))
}

// authorizeURL is the sign-in link of a scenario on the enforcing site, or
// on its report-only twin.
func (e *env) authorizeURL(sc scenario, reportOnly bool) string {
	host, port := sandboxAuthHost, e.sandboxPort
	switch {
	case sc.site == "sandbox" && reportOnly:
		port = e.sandboxReportPort
	case sc.site == "production" && !reportOnly:
		host, port = prodAuthHost, e.prodPort
	case sc.site == "production" && reportOnly:
		host, port = prodAuthHost, e.prodReportPort
	}
	path := sc.path
	if path == "" {
		path = "/oauth/authorize"
	}
	return fmt.Sprintf("http://%s:%d%s?client_id=%s&response_type=code&scope=%%2Fauthenticate&redirect_uri=%s%s",
		host, port, path, url.QueryEscape(sc.clientID), url.QueryEscape(e.expand(sc.redirectURI)), e.expand(sc.extra))
}

func (e *env) runEnforced(ctx context.Context, t *testing.T, browser context.Context, sc scenario, shot string) {
	link := e.authorizeURL(sc, false)
	mark := e.traffic.mark()
	v := visitPage(ctx, t, browser, link, shot, sc.reason != "")
	hits := e.traffic.since(mark)
	t.Logf("link   %s\nstatus %d, final URL %s\nrequests: %v", link, v.status, v.final, hits)

	if sc.reason == "" {
		e.checkLanded(t, sc, v, hits)
		return
	}

	// The rejection page, still at the guarded authorize URL.
	if v.status != 400 {
		t.Errorf("status %d, want 400", v.status)
	}
	if v.location != "" {
		t.Errorf("the rejection has a Location header: %q", v.location)
	}
	if v.final != link || v.docURL != link {
		t.Errorf("the browser ended on %q (document %q), want the guarded authorize URL %q", v.final, v.docURL, link)
	}
	for _, want := range []string{
		"This sign-in link is not valid",
		"nothing was sent anywhere",
		string(sc.reason),
		sc.reason.Description(),
	} {
		if !strings.Contains(v.text, want) {
			t.Errorf("the page does not show %q; it reads:\n%s", want, v.text)
		}
	}
	if strings.Contains(v.text, secretCode) {
		t.Errorf("the page shows the code:\n%s", v.text)
	}

	// Nothing reached the attacker, the upstream or the client.
	for _, h := range hits {
		switch {
		case h.Server == "evil":
			t.Errorf("the attacker's server received a request: %v", h)
		case h.carriesCode():
			t.Errorf("a code was delivered: %v", h)
		case h.Path == "/favicon.ico":
			// Chromium asks every origin it shows for an icon.
		case h.Server == "as":
			t.Errorf("the request reached the authorization server: %v", h)
		default:
			t.Errorf("unexpected request: %v", h)
		}
	}
	if *updateDocs && sc.name == docsScenario && !t.Failed() {
		copyFile(t, shot, filepath.Join("..", "docs", "rejection-page.png"))
	}
}

func (e *env) checkLanded(t *testing.T, sc scenario, v page, hits []hit) {
	t.Helper()
	want := e.expand(sc.landsOn)
	if v.status != 200 {
		t.Errorf("status %d, want 200", v.status)
	}
	if v.final != want {
		t.Errorf("the browser ended on %q, want the callback %q", v.final, want)
	}
	if !strings.Contains(v.text, "You are signed in") || !strings.Contains(v.text, "code="+secretCode) {
		t.Errorf("the callback page reads:\n%s", v.text)
	}
	u, err := url.Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	var authorize, delivered int
	for _, h := range hits {
		switch {
		case h.Server == "evil":
			t.Errorf("the attacker's server received a request: %v", h)
		case h.Server == "as" && strings.Contains(h.RawQuery, "redirect_uri="):
			authorize++
		case h.Server == sc.landsServer && h.carriesCode():
			delivered++
			if h.Host != u.Host || h.Path != u.EscapedPath() || h.RawQuery != u.RawQuery {
				t.Errorf("the callback got %v, want %s", h, want)
			}
		case h.carriesCode():
			t.Errorf("a code went elsewhere: %v", h)
		}
	}
	if authorize != 1 || delivered != 1 {
		t.Errorf("the authorization server got %d authorize requests and the callback %d codes, want 1 and 1: %v", authorize, delivered, hits)
	}
}

// runControl follows the link through the report-only twin: the policy
// decides the same but forwards, and the code goes where the link says.
func (e *env) runControl(ctx context.Context, t *testing.T, browser context.Context, sc scenario, shot string) {
	link := e.authorizeURL(sc, true)
	mark := e.traffic.mark()
	v := visitPage(ctx, t, browser, link, shot, false)
	hits := e.traffic.since(mark)
	t.Logf("link   %s\nstatus %d, final URL %s\nrequests: %v", link, v.status, v.final, hits)

	var stolen []hit
	for _, h := range hits {
		if h.Server == sc.unguarded && h.carriesCode() {
			stolen = append(stolen, h)
		}
	}
	if len(stolen) == 0 {
		t.Errorf("without enforcement the code was expected at %q; requests: %v", sc.unguarded, hits)
	}
	final, err := url.Parse(v.final)
	if err != nil {
		t.Fatalf("final URL %q: %v", v.final, err)
	}
	landedOnApp := final.Hostname() == appHost
	if landedOnApp != (sc.unguarded == "app") {
		t.Errorf("without enforcement the browser ended on %s", v.final)
	}
	if sc.unguarded == "evil" && !strings.Contains(v.text, "stolen: ") {
		t.Errorf("the attacker's page reads:\n%s", v.text)
	}
}

// page is what the browser ended on.
type page struct {
	status   int64
	location string // the Location header of the final response
	docURL   string // the URL of the final document response
	final    string // document.location
	text     string // document.body.innerText
}

// visitPage follows link in a new tab, waits for the page to settle when
// asked (a page that redirects by itself would have done it by then), reads
// it and saves a full screenshot to shot.
func visitPage(ctx context.Context, t *testing.T, browser context.Context, link, shot string, settle bool) page {
	t.Helper()
	tab, closeTab := chromedp.NewContext(browser)
	defer closeTab()
	if err := chromedp.Do(tab); err != nil { // opens the tab
		t.Fatalf("opening a tab: %v", err)
	}
	nctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel) // the test's overall budget
	defer stop()

	resp, err := chromedp.Run(nctx, chromedp.NavigateResponse(link))
	if err != nil {
		t.Fatalf("navigating to %s: %v", link, err)
	}
	if resp == nil {
		t.Fatalf("navigating to %s: %v", link, errNoResponse)
	}
	var p page
	p.status, p.docURL = resp.Status, resp.URL
	for k, v := range resp.Headers {
		if strings.EqualFold(k, "Location") {
			p.location = fmt.Sprint(v)
		}
	}
	if settle {
		if err := chromedp.Do(nctx, chromedp.Sleep(300*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	if p.final, err = chromedp.Run(nctx, chromedp.Location()); err != nil {
		t.Fatal(err)
	}
	if p.text, err = chromedp.Run(nctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(nctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", to)
}
