package request

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

// jws is a compact JWS with payload as its claims and a signature nobody
// checks here.
func jws(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"ES256"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

func TestReadRequestObject(t *testing.T) {
	for _, tc := range []struct {
		name, jwt string
		want      RequestObject
		reason    policy.Reason
	}{
		{"both claims", jws(`{"client_id":"a","redirect_uri":"https://x/cb","scope":"openid"}`), RequestObject{"a", "https://x/cb", true, true}, ""},
		{"no redirect_uri", jws(`{"client_id":"a","claims":{"redirect_uri":"nested, not read"}}`), RequestObject{ClientID: "a", HasClientID: true}, ""},
		{"unsigned (alg none)", strings.TrimSuffix(jws(`{"redirect_uri":"https://x/cb"}`), "c2ln"), RequestObject{RedirectURI: "https://x/cb", HasRedirectURI: true}, ""},
		{"escaped claim value", jws(`{"redirect_uri":"https:\/\/x\/cb"}`), RequestObject{RedirectURI: "https://x/cb", HasRedirectURI: true}, ""},
		{"JWE", "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", RequestObject{}, policy.RequestObjectEncrypted},
		{"two parts", "a.b", RequestObject{}, policy.RequestObjectUnreadable},
		{"six parts", "a.b.c.d.e.f", RequestObject{}, policy.RequestObjectUnreadable},
		{"empty payload", "a..c", RequestObject{}, policy.RequestObjectUnreadable},
		{"padded payload", "a.eyJ9.c=", RequestObject{}, policy.RequestObjectUnreadable},
		{"padding in the payload", "a." + base64.URLEncoding.EncodeToString([]byte(`{"a":1}`)) + ".c", RequestObject{}, policy.RequestObjectUnreadable},
		{"line break in the payload", "a.eyJh\nIjoxfQ.c", RequestObject{}, policy.RequestObjectUnreadable},
		{"standard alphabet", "a." + base64.RawStdEncoding.EncodeToString([]byte(`{"redirect_uri":"https://x/?>>>"}`)) + ".c", RequestObject{}, policy.RequestObjectUnreadable},
		{"not JSON", jws(`redirect_uri=https://x`), RequestObject{}, policy.RequestObjectUnreadable},
		{"JSON array", jws(`["redirect_uri"]`), RequestObject{}, policy.RequestObjectUnreadable},
		{"trailing data", jws(`{"redirect_uri":"https://x/cb"}{"redirect_uri":"https://evil/"}`), RequestObject{}, policy.RequestObjectUnreadable},
		{"truncated", jws(`{"redirect_uri":"https://x/cb"`), RequestObject{}, policy.RequestObjectUnreadable},
		{"twice", jws(`{"redirect_uri":"https://x/cb","redirect_uri":"https://evil/"}`), RequestObject{}, policy.RequestObjectUnreadable},
		{"twice in another case", jws(`{"redirect_uri":"https://x/cb","Redirect_URI":"https://evil/"}`), RequestObject{}, policy.RequestObjectUnreadable},
		{"client_id twice", jws(`{"client_id":"a","client_id":"b"}`), RequestObject{}, policy.RequestObjectUnreadable},
		{"array value", jws(`{"redirect_uri":["https://x/cb","https://evil/"]}`), RequestObject{}, policy.RequestObjectUnreadable},
		{"number client_id", jws(`{"client_id":7}`), RequestObject{}, policy.RequestObjectUnreadable},
		{"nested request", jws(`{"request":"x.y.z"}`), RequestObject{}, policy.RequestObjectUnreadable},
		{"nested request_uri", jws(`{"request_uri":"https://evil/r.jwt"}`), RequestObject{}, policy.RequestObjectUnreadable},
		{"too long", jws(`{"x":"` + strings.Repeat("a", MaxRequestObject) + `"}`), RequestObject{}, policy.RequestObjectUnreadable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, reason, detail := ReadRequestObject(tc.jwt)
			if got != tc.want || reason != tc.reason || (reason == "") != (detail == "") {
				t.Errorf("got %+v %q %q, want %+v %q", got, reason, detail, tc.want, tc.reason)
			}
		})
	}
}

func BenchmarkReadRequestObject(b *testing.B) {
	jwt := jws(`{"iss":"web-app","aud":"https://auth.example","client_id":"web-app","redirect_uri":"https://app.example/cb",` +
		`"response_type":"code","scope":"openid","state":"Xk3v9QbW2mN7pL4rT8yZ","code_challenge":"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",` +
		`"code_challenge_method":"S256","nonce":"n-0S6_WzA2Mj","exp":1767225600,"iat":1767225300,"nbf":1767225300,"jti":"a1b2c3"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, reason, _ := ReadRequestObject(jwt); reason != "" {
			b.Fatal(reason)
		}
	}
}
