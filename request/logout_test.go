package request

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

// idToken returns a JWS compact serialization with the given payload and
// a signature nobody checks here.
func idToken(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"k"}`)) + "." + enc([]byte(payload)) + ".c2lnbmF0dXJl"
}

const logoutURI = "https://app.example/logged-out"

func TestReadLogout(t *testing.T) {
	enc := "https%3A%2F%2Fapp.example%2Flogged-out"
	hint := idToken(`{"iss":"https://op.example","aud":"APP-1","sub":"u"}`)
	for _, tc := range []struct {
		name, method, query, body, cookie string
		contentType                       string
		want                              policy.Reason
		client, uri, hint                 string
	}{
		{name: "GET", method: "GET", query: "client_id=APP-1&post_logout_redirect_uri=" + enc + "&state=s", client: "APP-1", uri: logoutURI},
		{name: "POST form", method: "POST", body: "client_id=APP-1&post_logout_redirect_uri=" + enc, client: "APP-1", uri: logoutURI},
		{name: "hint only", method: "GET", query: "id_token_hint=" + hint + "&post_logout_redirect_uri=" + enc, uri: logoutURI, hint: hint},
		{name: "no redirect", method: "GET", query: "client_id=APP-1", client: "APP-1"},
		{name: "folded names", method: "GET", query: "Client_ID=APP-1&POST.LOGOUT.REDIRECT.URI=" + enc + "&id%5Ftoken%5Fhint=" + hint, client: "APP-1", uri: logoutURI, hint: hint},
		{name: "two URIs", method: "GET", query: "post_logout_redirect_uri=" + enc + "&Post_Logout_Redirect_Uri=https%3A%2F%2Fevil.example", want: policy.DuplicateParameter},
		{name: "URI in query and body", method: "POST", query: "post_logout_redirect_uri=" + enc, body: "post_logout_redirect_uri=https%3A%2F%2Fevil.example", want: policy.DuplicateParameter},
		{name: "URI in a cookie", method: "GET", query: "post_logout_redirect_uri=" + enc, cookie: "post_logout_redirect_uri=https%3A%2F%2Fevil.example", want: policy.DuplicateParameter},
		{name: "two hints", method: "GET", query: "id_token_hint=" + hint + "&id_token_hint[]=" + hint, want: policy.DuplicateParameter},
		{name: "two client ids", method: "POST", query: "client_id=APP-1", body: "client_id=APP-2", want: policy.DuplicateParameter},
		{name: "semicolon", method: "GET", query: "client_id=APP-1;post_logout_redirect_uri=" + enc, want: policy.MalformedRequest},
		{name: "JSON body", method: "POST", body: `{"post_logout_redirect_uri":"https://evil.example"}`, contentType: "application/json", want: policy.UnsupportedBody},
		{name: "body too large", method: "POST", body: "post_logout_redirect_uri=" + strings.Repeat("a", 2000), want: policy.RequestTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/session/end?"+tc.query, strings.NewReader(tc.body))
			if tc.body != "" {
				ct := tc.contentType
				if ct == "" {
					ct = "application/x-www-form-urlencoded"
				}
				r.Header.Set("Content-Type", ct)
			} else {
				r.Body, r.ContentLength = http.NoBody, 0
			}
			if tc.cookie != "" {
				r.Header.Set("Cookie", tc.cookie)
			}
			var l Logout
			reason, detail := ReadLogout(r, &l, 1024)
			if reason != tc.want {
				t.Fatalf("ReadLogout = %q (%s), want %q", reason, detail, tc.want)
			}
			if reason != "" {
				if detail == "" {
					t.Error("no detail")
				}
				return
			}
			if l.ClientID != tc.client || l.PostLogoutRedirectURI != tc.uri || l.IDTokenHint != tc.hint {
				t.Errorf("read client %q uri %q hint %q, want %q %q %q", l.ClientID, l.PostLogoutRedirectURI, l.IDTokenHint, tc.client, tc.uri, tc.hint)
			}
		})
	}
}

func TestLogoutClient(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	for _, tc := range []struct {
		name, clientID, hint string
		want                 string
		reason               policy.Reason
	}{
		{"client_id", "APP-1", "", "APP-1", ""},
		{"aud string", "", idToken(`{"aud":"APP-1"}`), "APP-1", ""},
		{"aud array of one", "", idToken(`{"aud":["APP-1"]}`), "APP-1", ""},
		{"azp among aud", "", idToken(`{"aud":["APP-1","API"],"azp":"APP-1"}`), "APP-1", ""},
		{"both agree", "APP-1", idToken(`{"aud":"APP-1"}`), "APP-1", ""},
		{"both disagree", "APP-1", idToken(`{"aud":"APP-2"}`), "", policy.LogoutClientMismatch},
		{"azp disagrees", "APP-1", idToken(`{"aud":["APP-1","APP-2"],"azp":"APP-2"}`), "", policy.LogoutClientMismatch},
		{"neither", "", "", "", policy.LogoutClientMissing},
		{"several aud, no azp", "", idToken(`{"aud":["APP-1","APP-2"]}`), "", policy.IDTokenHintUnreadable},
		{"azp not in aud", "", idToken(`{"aud":"APP-1","azp":"APP-2"}`), "", policy.IDTokenHintUnreadable},
		{"aud twice", "", idToken(`{"aud":"APP-1","aud":"APP-2"}`), "", policy.IDTokenHintUnreadable},
		{"AUD is not aud", "", idToken(`{"AUD":"APP-1"}`), "", policy.IDTokenHintUnreadable},
		{"aud a number", "", idToken(`{"aud":1}`), "", policy.IDTokenHintUnreadable},
		{"aud empty", "", idToken(`{"aud":""}`), "", policy.IDTokenHintUnreadable},
		{"not an object", "", idToken(`["APP-1"]`), "", policy.IDTokenHintUnreadable},
		{"trailing data", "", idToken(`{"aud":"APP-1"} {}`), "", policy.IDTokenHintUnreadable},
		{"not base64url", "", "eyJhbGciOiJub25lIn0.eyJhdWQiOiJBUFAtMSJ9=.x", "", policy.IDTokenHintUnreadable},
		{"encrypted (JWE)", "APP-1", "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", "", policy.IDTokenHintUnreadable},
		{"two parts", "", enc([]byte(`{}`)) + "." + enc([]byte(`{"aud":"APP-1"}`)), "", policy.IDTokenHintUnreadable},
		{"too long", "", idToken(`{"aud":"APP-1","x":"` + strings.Repeat("a", MaxIDTokenHint) + `"}`), "", policy.IDTokenHintUnreadable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := Logout{IDTokenHint: tc.hint}
			l.ClientID = tc.clientID
			got, reason, detail := l.Client()
			if got != tc.want || reason != tc.reason {
				t.Errorf("Client() = %q, %q (%s); want %q, %q", got, reason, detail, tc.want, tc.reason)
			}
			if reason != "" && detail == "" {
				t.Error("no detail")
			}
		})
	}
}

// TestReadLogoutLeavesAuthorizeAlone: the names of a logout request mean
// nothing to the authorize reader.
func TestReadLogoutLeavesAuthorizeAlone(t *testing.T) {
	var p Params
	if r := p.Scan("client_id=A&post_logout_redirect_uri=x&post_logout_redirect_uri=y&id_token_hint=z&redirect_uri=u"); r != "" || p.Reason() != "" {
		t.Fatalf("Scan = %q, Reason = %q", r, p.Reason())
	}
}
