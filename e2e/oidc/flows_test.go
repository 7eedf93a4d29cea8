package oidc

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSignIn: the flows a registered client uses complete to tokens and
// userinfo through Caddy, walking the server's own interaction pages and
// the login resumed at /auth/<uid>, which pass untouched.
func TestSignIn(t *testing.T) {
	s := sharedStack(t)
	for _, tc := range []struct {
		name   string
		opts   map[string]any
		reason string // the module's decision on the authorize request
	}{
		{"code+PKCE", map[string]any{"mode": "plain"}, "exact_match"},
		{"code+PKCE form_post", map[string]any{"mode": "plain", "response_mode": "form_post"}, "exact_match"},
		{"PAR", map[string]any{"mode": "par"}, "pushed_request"},
		{"JAR by value", map[string]any{"mode": "jar"}, "exact_match"},
		{"JAR inside PAR", map[string]any{"mode": "par+jar"}, "pushed_request"},
		{"JAR inside PAR, form_post", map[string]any{"mode": "par+jar", "response_mode": "form_post"}, "pushed_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probe := "signin-" + strings.ReplaceAll(tc.name, " ", "-")
			tc.opts["probe"] = probe
			before := s.decisions(t, "strict", "allowed", tc.reason)
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
			want := []string{"GET /auth", "POST /token", "GET /me", "GET /.well-known/openid-configuration"}
			if strings.HasPrefix(tc.opts["mode"].(string), "par") {
				want = append(want, "POST /request")
			}
			for _, w := range want {
				if !got[w] {
					t.Errorf("the server did not see %s; it saw %v", w, got)
				}
			}
			// The authorize request (and the push, when there is one) were
			// allowed for the reason expected.
			if after := s.decisions(t, "strict", "allowed", tc.reason); after < before+1 {
				t.Errorf("allowed %s decisions went from %v to %v", tc.reason, before, after)
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

		// Request objects by value, signed with the client's own key.
		{"request object", "GET", "/auth?client_id=" + clientID + "&request=" + s.requestObject(t, evilCallback, clientID), nil, "", "redirect_uri_not_registered"},
		{"request object and another query copy", "GET", "/auth?" + authorize(callback) + "&request=" + s.requestObject(t, evilCallback, clientID), nil, "", "redirect_uri_mismatch"},
		{"request object for another client", "GET", "/auth?client_id=" + clientID + "&request=" + s.requestObject(t, callback, "other-client"), nil, "", "client_id_mismatch"},
		{"request object in the body", "POST", "/auth", formHeader("", ""), "client_id=" + clientID + "&request=" + s.requestObject(t, evilCallback, clientID), "redirect_uri_not_registered"},
		{"encrypted request object", "GET", "/auth?client_id=" + clientID + "&request=" + jwe, nil, "", "request_object_encrypted"},
		{"unreadable request object", "GET", "/auth?client_id=" + clientID + "&request=not.a-jws", nil, "", "request_object_unreadable"},
		{"request object by an unregistered reference", "GET", "/auth?client_id=" + clientID + "&request_uri=" + url.QueryEscape("https://evil.example/req.jwt"), nil, "", "request_uri_not_registered"},
		{"pushed request_uri of an unknown client", "GET", "/auth?client_id=stranger&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Aabc", nil, "", "unknown_client"},
		{"pushed request_uri with an evil query copy", "GET", "/auth?client_id=" + clientID + "&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Aabc&redirect_uri=" + url.QueryEscape(evilCallback), nil, "", "redirect_uri_not_registered"},

		// PAR pushes with the client's stolen credentials.
		{"push", "POST", "/request", formHeader(clientID, clientSecret), authorize(evilCallback), "redirect_uri_not_registered"},
		{"push, credentials in the body", "POST", "/request", formHeader("", ""), authorize(evilCallback) + "&client_secret=" + clientSecret, "redirect_uri_not_registered"},
		{"push, path spelling", "POST", "/Request/", formHeader(clientID, clientSecret), authorize(evilCallback), "redirect_uri_not_registered"},
		{"push, second copy in the query", "POST", "/request?redirect_uri=" + url.QueryEscape(evilCallback), formHeader(clientID, clientSecret), authorize(callback), "duplicate_parameter"},
		{"push, Basic for another client", "POST", "/request", formHeader("other-client", "x"), authorize(callback), "client_id_mismatch"},
		{"push, request object", "POST", "/request", formHeader(clientID, clientSecret), "client_id=" + clientID + "&request=" + s.requestObject(t, evilCallback, clientID), "redirect_uri_not_registered"},
		{"push, request object and another copy", "POST", "/request", formHeader(clientID, clientSecret), authorize(callback) + "&request=" + s.requestObject(t, evilCallback, clientID), "redirect_uri_mismatch"},
		{"push, encrypted request object", "POST", "/request", formHeader(clientID, clientSecret), "client_id=" + clientID + "&request=" + jwe, "request_object_encrypted"},
		{"push, request_uri", "POST", "/request", formHeader(clientID, clientSecret), "client_id=" + clientID + "&request_uri=" + url.QueryEscape("https://evil.example/req.jwt"), "malformed_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probe := "attack-" + strings.ReplaceAll(tc.name, " ", "-")
			r := do(t, tc.method, s.guarded+tc.path, probe, tc.header, tc.body)
			rej := r.rejection(t)
			if r.Status != http.StatusBadRequest || rej.Reason != tc.reason {
				t.Errorf("got %d %s, want 400 %s", r.Status, r.Body, tc.reason)
			}
			if strings.HasPrefix(tc.path, "/request") || strings.HasPrefix(tc.path, "/Request") {
				// RFC 9126 §2.3's error shape, whatever the client accepts.
				if rej.Error != "invalid_request" || r.Header.Get("Content-Type") != "application/json" {
					t.Errorf("push rejection %q %s is not RFC 9126's", r.Header.Get("Content-Type"), r.Body)
				}
			}
			if seen := s.strict.sawProbe(t, probe); len(seen) != 0 {
				t.Errorf("the server saw the attack: %+v", seen)
			}
		})
	}
}

// jwe is a request object in JWE compact serialization: five parts the
// module cannot read, so it refuses them.
const jwe = "eyJhbGciOiJSU0EtT0FFUC0yNTYiLCJlbmMiOiJBMjU2R0NNIn0.a2V5.aXY.Y2lwaGVydGV4dA.dGFn"

// requestObject is a request object signed with the client's key, as the
// server would accept it, for redirect and client.
func (s *stack) requestObject(t *testing.T, redirect, client string) string {
	t.Helper()
	return s.signES256(t, map[string]any{
		"iss": client, "aud": s.guarded, "client_id": client, "redirect_uri": redirect,
		"response_type": "code", "scope": "openid", "code_challenge": strings.Repeat("A", 43), "code_challenge_method": "S256",
		"exp": time.Now().Add(5 * time.Minute).Unix(), "nbf": time.Now().Add(-time.Minute).Unix(), "iat": time.Now().Unix(),
	})
}

// TestStolenCredentialPush: with the client's credentials an attacker
// pushes an authorization request with its own redirect URI. A server that
// accepts unregistered redirect URIs in pushes (RFC 9126 §2.4) hands the
// code to the attacker; the same push through Caddy stops there.
func TestStolenCredentialPush(t *testing.T) {
	s := sharedStack(t)
	attack := map[string]any{"mode": "par", "redirect_uri": evilCallback}

	attack["probe"] = "stolen-direct"
	direct := s.signIn(t, s.lax.issuer, attack)
	if direct.Final == nil || !strings.HasPrefix(direct.Final.Location, evilCallback+"?") || direct.Code == "" {
		t.Fatalf("without Caddy the attacker's push should deliver a code to %s: %+v", evilCallback, direct)
	}
	direct.completed(t) // and the stolen secret redeems it

	attack["probe"] = "stolen-guarded"
	guarded := s.signIn(t, s.laxSite, attack)
	if guarded.Failure == nil || guarded.Stage != "push" || guarded.Failure.Status != http.StatusBadRequest || guarded.Code != "" {
		t.Fatalf("through Caddy the push should fail: %+v", guarded)
	}
	var body struct {
		Error  string `json:"error"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(guarded.Failure.Body, &body); err != nil || body.Error != "invalid_request" || body.Reason != "redirect_uri_not_registered" {
		t.Errorf("push rejection body %s (%v)", guarded.Failure.Body, err)
	}
	for _, r := range s.laxGuarded.sawProbe(t, "stolen-guarded") {
		if r.Path != "/.well-known/openid-configuration" {
			t.Errorf("the server saw %s %s of the attack", r.Method, r.Path)
		}
	}

	// The legitimate client still signs in through the same site.
	s.signIn(t, s.laxSite, map[string]any{"mode": "par", "probe": "lax-legit"}).completed(t)
}

// TestRegisteredRequestURIPasses: a request object by reference registered
// for the client reaches the server (which fetches it; here it cannot, and
// says so itself); the module never fetches it.
func TestRegisteredRequestURIPasses(t *testing.T) {
	s := sharedStack(t)
	before := s.decisions(t, "strict", "allowed", "registered_request_uri")
	r := do(t, "GET", s.guarded+"/auth?client_id="+clientID+"&request_uri="+url.QueryEscape(requestURI), "by-reference", nil, "")
	if strings.Contains(r.Body, `"reason"`) {
		t.Errorf("the module answered: %d %s", r.Status, r.Body)
	}
	if len(s.strict.sawProbe(t, "by-reference")) != 1 {
		t.Error("the server did not see the request")
	}
	if after := s.decisions(t, "strict", "allowed", "registered_request_uri"); after != before+1 {
		t.Errorf("registered_request_uri decisions went from %v to %v", before, after)
	}
}
