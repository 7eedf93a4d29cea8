package caddymodule_test

import (
	"net/http"
	"net/url"
	"testing"
)

// TestIntegrationPathSpellings sends an evil redirect_uri to every spelling
// of the authorize path that an upstream could route to the same endpoint
// (POLICY §3), over raw TCP so that nothing cleans the path up: each must be
// checked and rejected. The good redirect_uri on the same spellings is let
// through untouched, and other paths pass with any query.
func TestIntegrationPathSpellings(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	reg := writeRegistry(t, dir, "clients.json", "production",
		regClient{ClientID: "APP-PATH", RedirectURIs: []string{"https://app.example/cb"}})
	s := newSite(t, up, "registry "+caddyfileQuote(reg), "environment production", "name itp-prod")
	startCaddy(t, s)

	evilQuery := "?client_id=APP-PATH&response_type=code&redirect_uri=" + url.QueryEscape("https://evil.example/cb")
	goodQuery := "?client_id=APP-PATH&response_type=code&redirect_uri=" + url.QueryEscape("https://app.example/cb")

	// Spellings that normalize to the authorize path.
	spellings := []string{
		"/oauth/authorize",
		"/OAUTH/Authorize",
		"/oauth/AUTHORIZE",
		"/oauth/authorize/",
		"//oauth//authorize",
		"///oauth///authorize//",
		"/oauth/./authorize",
		"/./oauth/authorize/.",
		"/x/../oauth/authorize",
		"/oauth/x/../authorize",
		"/oauth/authorize/x/..",
		"/x/%2e%2e/oauth/authorize",
		"/x/%2E%2E/oauth/%2E/authorize",
		"/oauth/%61uthorize",
		"/%6F%61%75%74%68/%61%75%74%68%6F%72%69%7A%65",
		"/oauth%2fauthorize",
		"/oauth%2Fauthorize",
		"/%2Foauth%2Fauthorize%2F",
		"/%252Foauth/authorize",
		"/oauth/%2561uthorize",
		"/oauth%252fauthorize",
		"/oauth/%252561uthorize",
		"/oauth;jsessionid=1/authorize",
		"/oauth/authorize;jsessionid=ABC",
		"/oauth/authorize;x=y",
		"/oauth/authorize%3Bx=y",
		"/oauth/authorize.json",
		"/oauth/authorize.html",
		"/oauth\\authorize",
		"/oauth%5cauthorize",
		"/oauth/authorize%00",
		"/oauth/authorize%00.jpg",
		"/oauth/authorize%20",
		"/oauth/authorize.",
		"/oauth/authorize...",
		"/oauth/authorize%2e",
		"/oauth/authorize%20%20/",
		"/oauth/authorize%EF%BC%8F",
		"/x/%EF%BC%8E%EF%BC%8E/oauth/authorize",
		"/index.php/oauth/authorize",
		"/app.php/OAuth/Authorize/",
		"/oauth/authorize.php/x",
		"/(S(abc123))/oauth/authorize",
		"//attacker.example/oauth/authorize",
	}
	for _, path := range spellings {
		t.Run("evil"+path, func(t *testing.T) {
			n := up.count()
			res := get(t, s.addr(), path+evilQuery)
			checkRejected(t, path, res, "redirect_uri_not_registered", up, n)
		})
		t.Run("good"+path, func(t *testing.T) {
			n := up.count()
			res := get(t, s.addr(), path+goodQuery)
			got := checkForwarded(t, path, res, up, n)
			// The query is forwarded as is; the path as Go's URL writes
			// it (a raw backslash, for one, is sent on as %5C).
			want, _ := url.PathUnescape(path)
			if gotPath, _ := url.PathUnescape(got.Path); gotPath != want || got.RawQuery != goodQuery[1:] {
				t.Errorf("%s: the upstream received path %q query %q, want %q (decoded) %q", path, got.Path, got.RawQuery, want, goodQuery[1:])
			}
		})
	}

	// A request target that is not a path is refused by Go's HTTP server
	// before any handler runs: nothing reaches the upstream either.
	t.Run("not-a-path", func(t *testing.T) {
		n := up.count()
		res := get(t, s.addr(), "\\oauth\\authorize"+evilQuery)
		if res.Status != http.StatusBadRequest || len(up.since(n)) != 0 {
			t.Errorf("status %d, upstream received %d requests: want 400 and none", res.Status, len(up.since(n)))
		}
	})

	// The absolute form of the request target names the same path.
	t.Run("absolute-form", func(t *testing.T) {
		n := up.count()
		target := "http://" + s.addr() + "/OAuth/Authorize" + evilQuery
		checkRejected(t, target, get(t, s.addr(), target), "redirect_uri_not_registered", up, n)
	})

	// A path that cannot be normalized is rejected, not passed.
	for _, path := range []string{
		"/oauth/%25252561uthorize", // encoded four times
		"/%2525252Foauth/authorize",
		// a ".." that upstreams resolve differently: Go's path.Clean
		// (this upstream) routes these to /oauth/authorize
		"/oauth/authorize%2F;x%2F..",
		"/oauth/authorize/;x/..",
		"/oauth/authorize%2F%20%2F..",
		"/oauth/authorize/.%20/..",
		"/oauth/authorize/%252e%252e%2F..",
		"/x%00%2F..%2Foauth/authorize",
		"/x%2500/../oauth/authorize",
		"/oauth/authorize%3F/..",
		"/oauth/authorize/.%3Fclient_id=APP-PATH%26redirect_uri=https://evil.example/cb",
	} {
		t.Run("malformed"+path, func(t *testing.T) {
			n := up.count()
			checkRejected(t, path, get(t, s.addr(), path+goodQuery), "malformed_request", up, n)
		})
	}

	// A path header that some frameworks route by names the endpoint:
	// the request is checked whatever its own path.
	for _, h := range [][2]string{
		{"X-Original-URL", "/oauth/authorize"},
		{"X-Rewrite-URL", "/OAuth/Authorize?x=1"},
	} {
		t.Run("header-"+h[0], func(t *testing.T) {
			n := up.count()
			checkRejected(t, h[0], get(t, s.addr(), "/static/app.js"+evilQuery, h), "redirect_uri_not_registered", up, n)
			n = up.count()
			got := checkForwarded(t, h[0], get(t, s.addr(), "/static/app.js"+goodQuery, h), up, n)
			if got.Header.Get(h[0]) != h[1] {
				t.Errorf("%s: the upstream received %s %q, want %q", h[0], h[0], got.Header.Get(h[0]), h[1])
			}
		})
	}

	// Frameworks that route the front page by its query string.
	for _, route := range []string{"/?q=oauth/authorize&", "/index.php?r=OAuth%2FAuthorize&"} {
		t.Run("query-route"+route, func(t *testing.T) {
			n := up.count()
			checkRejected(t, route, get(t, s.addr(), route+evilQuery[1:]), "redirect_uri_not_registered", up, n)
			n = up.count()
			checkSameTarget(t, route, checkForwarded(t, route, get(t, s.addr(), route+goodQuery[1:]), up, n), route+goodQuery[1:])
		})
	}
	t.Run("query-path", func(t *testing.T) {
		n := up.count()
		target := "/?/oauth/authorize" + evilQuery
		checkRejected(t, target, get(t, s.addr(), target), "malformed_request", up, n)
	})

	// A form the authorization server posts back to its endpoint, with
	// none of response_type, redirect_uri and a request object, is a
	// consent decision, not an authorize request: it passes, its body
	// intact. With any of them it is checked as an authorize request.
	form := [2]string{"Content-Type", formType}
	for _, c := range []rawReq{
		{Method: "POST", Target: "/oauth/authorize", Header: [][2]string{form}, Body: []byte("user_oauth_approval=true&scope.openid=true")},
		{Method: "POST", Target: "/oauth/authorize", Header: [][2]string{form}, Body: []byte("client_id=APP-PATH&state=xyz&scope=openid")},
		{Method: "DELETE", Target: "/oauth/authorize", Header: [][2]string{form}, Body: []byte("client_id=APP-PATH&state=xyz&auth_token=t")},
	} {
		t.Run("consent-"+c.Method+"-"+string(c.Body), func(t *testing.T) {
			n := up.count()
			got := checkForwarded(t, string(c.Body), send(t, s.addr(), c), up, n)
			checkSameBody(t, string(c.Body), got, c.Body)
		})
	}
	for _, c := range []struct {
		req    rawReq
		reason string
	}{
		{rawReq{Method: "POST", Target: "/oauth/authorize", Header: [][2]string{form}, Body: []byte("client_id=APP-PATH&response_type=code")}, "missing_redirect_uri"},
		{rawReq{Method: "POST", Target: "/oauth/authorize", Header: [][2]string{form}, Body: []byte("client_id=APP-PATH&request_uri=urn%3Ax")}, "request_uri_not_registered"},
		{rawReq{Method: "POST", Target: "/oauth/authorize", Header: [][2]string{form, {"Cookie", "redirect_uri=https%3A%2F%2Fevil.example%2Fcb"}}, Body: []byte("client_id=APP-PATH")}, "redirect_uri_not_registered"},
		{rawReq{Method: "POST", Target: "/oauth/authorize", Header: [][2]string{{"Content-Type", "application/json"}}, Body: []byte(`{"client_id":"APP-PATH"}`)}, "unsupported_body"},
		{rawReq{Method: "GET", Target: "/oauth/authorize?client_id=APP-PATH"}, "missing_redirect_uri"},
		// prefixed names that model binders read (ASP.NET's req.x)
		{rawReq{Method: "POST", Target: "/oauth/authorize", Header: [][2]string{form}, Body: []byte("req.client_id=APP-PATH&req.response_type=code&req.redirect_uri=https%3A%2F%2Fevil.example%2Fcb")}, "missing_client_id"},
		{rawReq{Method: "POST", Target: "/oauth/authorize?req.redirect_uri=x", Header: [][2]string{form}, Body: []byte("client_id=APP-PATH")}, "missing_redirect_uri"},
	} {
		t.Run("not-consent-"+c.req.Method+"-"+string(c.req.Body)+c.req.Target, func(t *testing.T) {
			n := up.count()
			checkRejected(t, c.reason, send(t, s.addr(), c.req), c.reason, up, n)
		})
	}

	// Elsewhere, a request that carries response_type and redirect_uri in
	// its query is checked with what the upstream there may read as
	// parameters: a form, a JSON object's keys, multipart fields. Other
	// bodies (a sign-in page's JSON without those names, text) pass
	// untouched.
	for _, c := range []struct {
		ct, body, reason string
	}{
		{"application/json", `{"username":"u","redirectUri":"x"}`, ""},
		{"text/plain", "redirect_uri=https://evil.example/cb", ""},
		{formType, "username=u", ""},
		{formType, "redirect_uri=" + url.QueryEscape("https://evil.example/cb"), "duplicate_parameter"},
		{"application/json; charset=utf-8", `{"redirect_uri":"https://evil.example/cb"}`, "duplicate_parameter"},
		{"application/json", "\xef\xbb\xbf{\"Client_Id\":\"APP-OTHER\"}", "duplicate_parameter"},
		{"multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data; name=\"redirect_uri\"\r\n\r\nhttps://evil.example/cb\r\n--XX--\r\n", "duplicate_parameter"},
		{"text/json", `{"redirect_uri":"https://evil.example/cb"}`, "duplicate_parameter"},
		// what other parsers read and Go's would not
		{"application/x-www-form-urlencoded, text/plain", "redirect_uri=https://evil.example/cb", "unsupported_body"},
		{"multipart/form-data boundary=XX", "--XX\r\nContent-Disposition: form-data; name=\"redirect_uri\"\r\n\r\nhttps://evil.example/cb\r\n--XX--\r\n", "unsupported_body"},
		{"application/json; charset=utf-16le", "{\x00\"\x00}\x00", "unsupported_body"},
		{"application/json", `{"a":1,`, "unsupported_body"},
		{"multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data; name=\"redirect_uri\"; name*=utf-8''x\r\n\r\nhttps://evil.example/cb\r\n--XX--\r\n", "unsupported_body"},
		{"multipart/form-data; boundary=XX", "--XX--\r\n--XX\r\nContent-Disposition: form-data; name=\"redirect_uri\"\r\n\r\nhttps://evil.example/cb\r\n", "unsupported_body"},
	} {
		t.Run("elsewhere-body-"+c.ct+"-"+c.body, func(t *testing.T) {
			req := rawReq{Method: "POST", Target: "/oauth/authorize/x" + goodQuery, Header: [][2]string{{"Content-Type", c.ct}}, Body: []byte(c.body)}
			n := up.count()
			if c.reason != "" {
				checkRejected(t, c.body, send(t, s.addr(), req), c.reason, up, n)
				return
			}
			got := checkForwarded(t, c.body, send(t, s.addr(), req), up, n)
			checkSameBody(t, c.body, got, []byte(c.body))
			req.Target = "/oauth/authorize/x" + evilQuery
			n = up.count()
			checkRejected(t, c.body, send(t, s.addr(), req), "redirect_uri_not_registered", up, n)
		})
	}

	// Cookies that an upstream merging them into its parameters reads as
	// redirect_uri or client_id are second copies; other cookies pass.
	t.Run("cookies", func(t *testing.T) {
		n := up.count()
		got := checkForwarded(t, "cookies", get(t, s.addr(), "/oauth/authorize"+goodQuery, [2]string{"Cookie", "session=abc; theme=dark"}), up, n)
		if got.Header.Get("Cookie") != "session=abc; theme=dark" {
			t.Errorf("the upstream received Cookie %q", got.Header.Get("Cookie"))
		}
		for _, cookie := range []string{"session=abc; redirect_uri=" + url.QueryEscape("https://evil.example/cb"), "Client.Id=APP-OTHER"} {
			n = up.count()
			checkRejected(t, cookie, get(t, s.addr(), "/oauth/authorize"+goodQuery, [2]string{"Cookie", cookie}), "duplicate_parameter", up, n)
		}
	})

	// A query with response_type and redirect_uri is an authorize request
	// on any path: under the endpoint (Express's app.use, a PHP
	// index.php below it), routed by a parameter (Drupal 7 on any page,
	// WordPress's ?oauth=authorize), or a sign-in page that carries the
	// request on.
	for _, path := range []string{"/oauth/authorize/x", "/oauth/authorize/index.php", "/node", "/any-page/", "/signin"} {
		t.Run("response-type"+path, func(t *testing.T) {
			n := up.count()
			target := path + "?oauth=authorize&q=oauth/authorize&" + evilQuery[1:]
			checkRejected(t, target, get(t, s.addr(), target), "redirect_uri_not_registered", up, n)
			n = up.count()
			target = path + goodQuery
			checkSameTarget(t, target, checkForwarded(t, target, get(t, s.addr(), target), up, n), target)
		})
	}

	// Other paths pass untouched, with any query that is not an authorize
	// request (without response_type).
	otherQuery := "?client_id=APP-PATH&redirect_uri=" + url.QueryEscape("https://evil.example/cb")
	for _, target := range []string{
		"/oauth/token" + otherQuery + "&redirect_uri=x&request=y",
		"/oauth/token?redirect_uri=javascript:alert(1)&client_id=&client_id=",
		"/static/app.js" + otherQuery,
		"/static/app.js?%zz=%&redirect_uri",
		"/oauth/authorizex" + otherQuery,
		"/oauth/authorize-old" + otherQuery,
		"/oauth/authorize.json/x" + otherQuery,
		"/oauth" + otherQuery,
		"/authorize" + otherQuery,
		"/" + otherQuery,
		"/oauth/token",
		"/index.php/oauth/token" + otherQuery,
		"/static/../app.js" + otherQuery,
		"/search?q=oauth/authorize&redirect_uri=x",
		"/logout?redirect_uri=https%3A%2F%2Fevil.example%2F",
		"/docs?response_type=code",
	} {
		t.Run("other"+target, func(t *testing.T) {
			n := up.count()
			got := checkForwarded(t, target, get(t, s.addr(), target), up, n)
			checkSameTarget(t, target, got, target)
		})
	}
	t.Run("other-post-json", func(t *testing.T) {
		n := up.count()
		req := rawReq{Method: "POST", Target: "/oauth/token?redirect_uri=https%3A%2F%2Fevil.example", Header: [][2]string{{"Content-Type", "application/json"}}, Body: []byte(`{"grant_type":"authorization_code","redirect_uri":"https://evil.example"}`)}
		got := checkForwarded(t, "POST /oauth/token", send(t, s.addr(), req), up, n)
		checkSameTarget(t, "POST /oauth/token", got, req.Target)
		checkSameBody(t, "POST /oauth/token", got, req.Body)
	})
}

// TestIntegrationCustomPaths checks that configured authorize paths are
// checked in every spelling, and only they.
func TestIntegrationCustomPaths(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	reg := writeRegistry(t, dir, "clients.json", "production",
		regClient{ClientID: "APP-CP", RedirectURIs: []string{"https://app.example/cb"}})
	s := newSite(t, up, "registry "+caddyfileQuote(reg), "environment production", "name itcp",
		"paths /oauth2/authorize", "paths /connect/Authorize /as/authorization.oauth2")
	startCaddy(t, s)

	evilQuery := "?client_id=APP-CP&redirect_uri=" + url.QueryEscape("https://evil.example/cb")
	for _, path := range []string{
		"/oauth2/authorize", "/OAuth2//Authorize/", "/oauth2/%61uthorize",
		"/connect/authorize", "/CONNECT/authorize;x=1", "/x/../connect/authorize",
		"/as/authorization.oauth2", "/as/authorization%2Eoauth2", "/AS/Authorization.OAuth2/",
	} {
		n := up.count()
		checkRejected(t, path, get(t, s.addr(), path+evilQuery), "redirect_uri_not_registered", up, n)
	}
	// The default path is not among those configured.
	n := up.count()
	target := "/oauth/authorize" + evilQuery
	checkSameTarget(t, target, checkForwarded(t, target, get(t, s.addr(), target), up, n), target)
}
