package registry

import (
	"strings"
	"testing"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

func TestRequestURIs(t *testing.T) {
	const ok = `{"clients": [{"client_id": "a", "redirect_uris": ["https://app.example/cb"],
		"request_uris": ["https://app.example/req.jwt", "https://app.example/req.jwt#sha256"]}]}`
	s, err := Parse("clients.json", []byte(ok), mustPolicy(t, policy.Production))
	if err != nil {
		t.Fatal(err)
	}
	c := s.Client("a")
	for uri, want := range map[string]bool{
		"https://app.example/req.jwt":        true,
		"https://app.example/req.jwt#sha256": true,
		"https://APP.example/req.jwt":        false, // compared exactly
		"https://app.example/req.jwt/":       false,
		"https://app.example/req.jwt?x":      false,
		"":                                   false,
	} {
		if got := c.HasRequestURI(uri); got != want {
			t.Errorf("HasRequestURI(%q) = %v, want %v", uri, got, want)
		}
	}

	for _, tc := range []struct{ uris, msg string }{
		{`["http://app.example/req.jwt"]`, `request_uris[0] "http://app.example/req.jwt": must be an absolute https URL`},
		{`["/req.jwt"]`, "must be an absolute https URL"},
		{`["https:///req.jwt"]`, "must name a host"},
		{`["https://u@app.example/req.jwt"]`, "must name a host and no user information"},
		{`["https://app.example/a b"]`, "printable ASCII"},
		{`["https://app.example/r", "https://app.example/r"]`, `request_uris[1] "https://app.example/r": duplicate of request_uris[0]`},
		{`["https://app.example/` + strings.Repeat("a", 2048) + `"]`, "longer than 2048 bytes"},
		{`[1]`, "request_uris[0]"},
		{`"https://app.example/r"`, "request_uris"},
	} {
		content := `{"clients": [{"client_id": "a", "request_uris": ` + tc.uris + `}]}`
		_, le := loadError(t, policy.Production, content)
		if !strings.Contains(le.Error(), tc.msg) || !strings.Contains(le.Error(), ":1:") {
			t.Errorf("%s: error %q, want %q at line 1", tc.uris, le.Error(), tc.msg)
		}
	}
}
