package oidc

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSignIn: the flows a registered client uses complete to tokens and
// userinfo through Caddy, walking the server's own interaction pages and
// the login resumed at /auth/<uid>, which pass untouched.
func TestSignIn(t *testing.T) {
	s := sharedStack(t)
	for _, tc := range []struct {
		name string
		opts map[string]any
	}{
		{"code+PKCE", map[string]any{"mode": "plain"}},
		{"code+PKCE form_post", map[string]any{"mode": "plain", "response_mode": "form_post"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probe := "signin-" + strings.ReplaceAll(tc.name, " ", "-")
			tc.opts["probe"] = probe
			f := s.signIn(t, s.guarded, tc.opts)
			f.completed(t)
			var interaction, resume bool
			for _, st := range f.Steps {
				u, _ := url.Parse(st.URL)
				interaction = interaction || strings.HasPrefix(u.Path, "/interaction/")
				resume = resume || strings.HasPrefix(u.Path, "/auth/")
			}
			if !interaction || !resume {
				t.Errorf("the flow did not go through the server's interaction (%v) and resume (%v) pages: %+v", interaction, resume, f.Steps)
			}
			// Every step, token and userinfo included, reached the server.
			got := map[string]bool{}
			for _, r := range s.strict.sawProbe(t, probe) {
				got[r.Method+" "+r.Path] = true
			}
			for _, want := range []string{"GET /auth", "POST /token", "GET /me", "GET /.well-known/openid-configuration"} {
				if !got[want] {
					t.Errorf("the server did not see %s; it saw %v", want, got)
				}
			}
		})
	}
}

// TestServerPagesPassUntouched: the server's own pages and its own error
// answers reach the client as the server sent them.
func TestServerPagesPassUntouched(t *testing.T) {
	s := sharedStack(t)
	for _, tc := range []struct {
		name, method, path string
		header             http.Header
		body               string
		status             int
		contains           string
	}{
		{"discovery", "GET", "/.well-known/openid-configuration", nil, "", 200, `"pushed_authorization_request_endpoint"`},
		{"JWKS", "GET", "/jwks", nil, "", 200, `"keys"`},
		{"resume of an unknown login", "GET", "/auth/no-such-interaction", http.Header{"Accept": {"text/html"}}, "", 400, "oops! something went wrong"},
		{"interaction without a session", "GET", "/interaction/no-such-interaction", http.Header{"Accept": {"text/html"}}, "", 400, "oops! something went wrong"},
		{"token with a bad code", "POST", "/token", formHeader(clientID, clientSecret), "grant_type=authorization_code&code=nope&redirect_uri=" + url.QueryEscape(callback) + "&code_verifier=" + strings.Repeat("a", 43), 400, `"invalid_grant"`},
		{"userinfo without a token", "GET", "/me", nil, "", 401, `"invalid_token"`},
		{"the server's own authorize error", "GET", "/auth?client_id=" + clientID + "&redirect_uri=" + url.QueryEscape(callback) + "&response_type=code&scope=openid", http.Header{"Accept": {"application/json"}}, "", 303, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probe := "page-" + strings.ReplaceAll(tc.name, " ", "-")
			r := do(t, tc.method, s.guarded+tc.path, probe, tc.header, tc.body)
			if r.Status != tc.status || !strings.Contains(strings.ToLower(r.Body), strings.ToLower(tc.contains)) {
				t.Errorf("got %d %q, want %d with %q", r.Status, r.Body, tc.status, tc.contains)
			}
			if len(s.strict.sawProbe(t, probe)) != 1 {
				t.Errorf("the server did not see the request")
			}
			if strings.Contains(r.Body, `"reason"`) {
				t.Errorf("the module answered: %s", r.Body)
			}
		})
	}
}

// TestAttackerStopsAtCaddy: an attacker's redirect URI never reaches the
// server, whichever door it takes; the server's log shows it never saw it.
func TestAttackerStopsAtCaddy(t *testing.T) {
	s := sharedStack(t)
	authorize := func(redirect string) string {
		return "client_id=" + clientID + "&response_type=code&scope=openid&code_challenge=" + strings.Repeat("A", 43) +
			"&code_challenge_method=S256&redirect_uri=" + url.QueryEscape(redirect)
	}
	for _, tc := range []struct {
		name, method, path string
		header             http.Header
		body               string
		reason             string
	}{
		{"query", "GET", "/auth?" + authorize(evilCallback), nil, "", "redirect_uri_not_registered"},
		{"query, second copy", "GET", "/auth?" + authorize(callback) + "&redirect_uri=" + url.QueryEscape(evilCallback), nil, "", "duplicate_parameter"},
		{"form body", "POST", "/auth", formHeader("", ""), authorize(evilCallback), "redirect_uri_not_registered"},
		{"query and body", "POST", "/auth?" + authorize(callback), formHeader("", ""), "redirect_uri=" + url.QueryEscape(evilCallback), "duplicate_parameter"},
		{"sub-path", "GET", "/auth/x?" + authorize(evilCallback), nil, "", "redirect_uri_not_registered"},
		{"path spelling", "GET", "//AUTH/?" + authorize(evilCallback), nil, "", "redirect_uri_not_registered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probe := "attack-" + strings.ReplaceAll(tc.name, " ", "-")
			r := do(t, tc.method, s.guarded+tc.path, probe, tc.header, tc.body)
			if r.Status != http.StatusBadRequest || r.rejection(t).Reason != tc.reason {
				t.Errorf("got %d %s, want 400 %s", r.Status, r.Body, tc.reason)
			}
			if seen := s.strict.sawProbe(t, probe); len(seen) != 0 {
				t.Errorf("the server saw the attack: %+v", seen)
			}
		})
	}
}
