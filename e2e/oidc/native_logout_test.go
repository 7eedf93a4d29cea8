package oidc

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

const logoutDecisions = "caddy_redirect_uri_policy_logout_decisions_total"

// appListener is a native app's loopback listener (RFC 8252 §7.3) on a
// port the system picks: it records the authorization response it gets.
type appListener struct {
	port  int
	mu    sync.Mutex
	query url.Values
}

func listenApp(t *testing.T) *appListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &appListener{port: ln.Addr().(*net.TCPAddr).Port}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.query = r.URL.Query()
		a.mu.Unlock()
		fmt.Fprint(w, "signed in; you may close this window")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return a
}

func (a *appListener) received() url.Values {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.query
}

// authorizeStopped sends the native app's authorize request for
// redirectURI, as a browser would, and fails t unless the module rejects
// it for reason and the server never sees it.
func authorizeStopped(t *testing.T, s *stack, redirectURI, reason string) {
	t.Helper()
	probe := "native-evil-" + url.QueryEscape(redirectURI)
	q := url.Values{"client_id": {nativeID}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}, "redirect_uri": {redirectURI}}
	res := do(t, http.MethodGet, s.guarded+"/auth?"+q.Encode(), probe, nil, "")
	if r := res.rejection(t); res.Status != http.StatusBadRequest || r.Reason != reason {
		t.Errorf("redirect_uri %s: %d %+v, want the module's %s rejection", redirectURI, res.Status, r, reason)
	}
	if got := s.strict.sawProbe(t, probe); len(got) != 0 {
		t.Errorf("redirect_uri %s: the server saw %+v", redirectURI, got)
	}
}

// stoppedAtCaddy fails t unless the flow ended at the module's rejection
// for reason and the server never saw a request with the probe at path.
func stoppedAtCaddy(t *testing.T, s *stack, f flow, probe, path, reason string) {
	t.Helper()
	if f.Final == nil || f.Final.Status != http.StatusBadRequest || !strings.Contains(f.Final.Body, `"reason":"`+reason+`"`) {
		t.Errorf("want the module's %s rejection; the flow ended with %+v (failure %+v)", reason, f.Final, f.Failure)
	}
	for _, r := range s.strict.sawProbe(t, probe) {
		if r.Path == path {
			t.Errorf("the server saw %s %s?%s", r.Method, r.Path, r.Query)
		}
	}
}

// TestNativeAppLoopback: a native app in production receives its code on
// a loopback port it picked at random, not the registered one, and
// exchanges it; a look-alike loopback host is stopped at Caddy.
func TestNativeAppLoopback(t *testing.T) {
	s := sharedStack(t)
	app := listenApp(t)
	redirect := fmt.Sprintf("http://127.0.0.1:%d/cb", app.port)
	before := s.decisions(t, "strict", "allowed", "loopback_match")
	f := s.signIn(t, s.guarded, map[string]any{
		"client_id": nativeID, "auth": "none", "redirect_uri": redirect, "deliver": true, "probe": "native-loopback",
	})
	f.completed(t)
	if f.Final == nil || !strings.HasPrefix(f.Final.Location, redirect+"?") {
		t.Errorf("the server sent the browser to %+v, want %s", f.Final, redirect)
	}
	if got := app.received(); f.Delivered == nil || f.Delivered.Status != http.StatusOK || got.Get("code") == "" || got.Get("code") != f.Code {
		t.Errorf("the app's listener got %v (delivery %+v), want the code %q", got, f.Delivered, f.Code)
	}
	if after := s.decisions(t, "strict", "allowed", "loopback_match"); after != before+1 {
		t.Errorf("loopback_match decisions went from %v to %v", before, after)
	}
	saw := false
	for _, r := range s.strict.sawProbe(t, "native-loopback") {
		saw = saw || r.Path == "/auth" && strings.Contains(r.Query, url.QueryEscape(redirect))
	}
	if !saw {
		t.Error("the server did not see the authorize request with the app's port")
	}

	for evil, reason := range map[string]string{
		fmt.Sprintf("http://localhost:%d/cb", app.port):      "loopback_not_allowed", // not the IP literal
		fmt.Sprintf("http://127.0.0.2:%d/cb", app.port):      "loopback_not_allowed",
		fmt.Sprintf("http://127.0.0.1:%d/cb/evil", app.port): "redirect_uri_not_registered",
		fmt.Sprintf("http://evil.example:%d/cb", app.port):   "insecure_scheme",
		fmt.Sprintf("https://127.0.0.1:%d/cb", app.port):     "loopback_not_allowed",
	} {
		authorizeStopped(t, s, evil, reason)
	}
}

// TestNativeAppPrivateUseScheme: the native app's private-use scheme gets
// its code and exchanges it; another app's look-alike scheme, and the
// registered scheme with a host, are stopped at Caddy.
func TestNativeAppPrivateUseScheme(t *testing.T) {
	s := sharedStack(t)
	before := s.decisions(t, "strict", "allowed", "exact_match")
	f := s.signIn(t, s.guarded, map[string]any{"client_id": nativeID, "auth": "none", "redirect_uri": nativeScheme, "probe": "native-scheme"})
	f.completed(t)
	if f.Final == nil || !strings.HasPrefix(f.Final.Location, nativeScheme+"?code=") {
		t.Errorf("the server sent the browser to %+v, want %s", f.Final, nativeScheme)
	}
	if after := s.decisions(t, "strict", "allowed", "exact_match"); after < before+1 {
		t.Errorf("exact_match decisions went from %v to %v", before, after)
	}
	for evil, reason := range map[string]string{
		"com.example.app.evil:/oauth2redirect":          "redirect_uri_not_registered",
		"com.examp1e.app:/oauth2redirect":               "redirect_uri_not_registered",
		"com.example.app://evil.example/oauth2redirect": "malformed_redirect_uri",
		"comexampleapp:/oauth2redirect":                 "disallowed_scheme",
	} {
		authorizeStopped(t, s, evil, reason)
	}
}

// TestLogout: an RP-initiated logout to the registered post-logout
// redirect URI completes through Caddy; to an attacker's URI it stops at
// Caddy, whether the client is named by client_id or by id_token_hint,
// and the server never sees it.
func TestLogout(t *testing.T) {
	s := sharedStack(t)
	signedIn := s.signIn(t, s.guarded, map[string]any{"mode": "plain", "probe": "logout-signin"})
	signedIn.completed(t)
	if signedIn.IDToken == "" {
		t.Fatal("the sign-in gave no ID token")
	}
	const evil = "https://evil.example/logged-out"
	for _, tc := range []struct {
		name   string
		params map[string]string
		reason string // "" completes
	}{
		{"registered, id_token_hint", map[string]string{"post_logout_redirect_uri": loggedOut, "id_token_hint": signedIn.IDToken, "state": "s1"}, ""},
		{"registered, client_id", map[string]string{"post_logout_redirect_uri": loggedOut, "client_id": clientID, "state": "s2"}, ""},
		{"attacker, client_id", map[string]string{"post_logout_redirect_uri": evil, "client_id": clientID}, "post_logout_redirect_uri_not_registered"},
		{"attacker, id_token_hint", map[string]string{"post_logout_redirect_uri": evil, "id_token_hint": signedIn.IDToken}, "post_logout_redirect_uri_not_registered"},
		{"attacker, another client's id", map[string]string{"post_logout_redirect_uri": loggedOut, "client_id": nativeID, "id_token_hint": signedIn.IDToken}, "logout_client_mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probe := "logout-" + strings.ReplaceAll(tc.name, " ", "-")
			decision := map[bool]string{true: "allowed", false: "rejected"}[tc.reason == ""]
			reason := tc.reason
			if reason == "" {
				reason = "exact_match"
			}
			before := s.counted(t, logoutDecisions, "strict", decision, reason)
			f := s.signIn(t, s.guarded, map[string]any{"op": "logout", "params": tc.params, "probe": probe})
			if tc.reason == "" {
				want := loggedOut + "?state=" + tc.params["state"]
				if f.Failure != nil || f.Final == nil || f.Final.Location != want {
					t.Errorf("logout ended with %+v (failure %+v), want a redirect to %s", f.Final, f.Failure, want)
				}
				saw := false
				for _, r := range s.strict.sawProbe(t, probe) {
					saw = saw || r.Path == "/session/end/confirm"
				}
				if !saw {
					t.Error("the server did not see the logout confirmed")
				}
			} else {
				stoppedAtCaddy(t, s, f, probe, "/session/end", tc.reason)
			}
			if after := s.counted(t, logoutDecisions, "strict", decision, reason); after != before+1 {
				t.Errorf("%s %s logout decisions went from %v to %v", decision, reason, before, after)
			}
		})
	}

	// openid-client always names its client; a hand-made link may not.
	res := do(t, http.MethodGet, s.guarded+"/session/end?post_logout_redirect_uri="+url.QueryEscape(evil), "logout-no-client", nil, "")
	if r := res.rejection(t); res.Status != http.StatusBadRequest || r.Reason != "logout_client_missing" {
		t.Errorf("a logout naming no client: %d %+v", res.Status, r)
	}
	if got := s.strict.sawProbe(t, "logout-no-client"); len(got) != 0 {
		t.Errorf("the server saw %+v", got)
	}
}

// TestOmittedRedirectURI: an authorize request without redirect_uri is
// rejected by default; behind the site with omitted_redirect_uri single,
// the client with one registered redirect URI signs in with it and the
// native app with two is still rejected.
func TestOmittedRedirectURI(t *testing.T) {
	s := sharedStack(t)
	f := s.signIn(t, s.guarded, map[string]any{"redirect_uri": nil, "probe": "omitted-reject"})
	stoppedAtCaddy(t, s, f, "omitted-reject", "/auth", "missing_redirect_uri")

	before := s.decisions(t, "omit", "allowed", "omitted_redirect_uri")
	f = s.signIn(t, s.guarded, map[string]any{"redirect_uri": nil, "authorize_origin": s.omitSite, "probe": "omitted-single"})
	f.completed(t)
	if f.Final == nil || !strings.HasPrefix(f.Final.Location, callback+"?") || strings.Contains(f.AuthorizeURL, "redirect_uri") {
		t.Errorf("authorize URL %s ended at %+v, want the registered %s", f.AuthorizeURL, f.Final, callback)
	}
	if after := s.decisions(t, "omit", "allowed", "omitted_redirect_uri"); after != before+1 {
		t.Errorf("omitted_redirect_uri decisions went from %v to %v", before, after)
	}

	f = s.signIn(t, s.guarded, map[string]any{"client_id": nativeID, "auth": "none", "redirect_uri": nil, "authorize_origin": s.omitSite, "probe": "omitted-two"})
	stoppedAtCaddy(t, s, f, "omitted-two", "/auth", "missing_redirect_uri")
}
