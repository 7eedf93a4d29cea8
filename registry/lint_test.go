package registry

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

func TestLint(t *testing.T) {
	type want struct {
		sev      Severity
		line     int
		clientID string
		msg      string
	}
	tests := []struct {
		name string
		env  policy.Environment
		file string
		want []want
	}{
		{
			name: "clean production file",
			env:  policy.Production,
			file: `{"clients": [{"client_id": "APP-1", "redirect_uris": ["https://a.example.com/cb", "https://a.example.com/cb?x=1"]}]}`,
		},
		{
			name: "production host-only",
			env:  policy.Production,
			file: "{\"clients\": [\n  {\"client_id\": \"APP-1\", \"redirect_uris\": [\"https://a.example.com/cb\",\n    \"https://portal.example.com\", \"https://portal2.example.com/\"]}\n]}",
			want: []want{
				{Warning, 3, "APP-1", `client "APP-1" redirect_uris[1] "https://portal.example.com" is host-only`},
				{Warning, 3, "APP-1", `client "APP-1" redirect_uris[2] "https://portal2.example.com/" is host-only`},
			},
		},
		{
			name: "sandbox unrestricted clients",
			env:  policy.Sandbox,
			file: "{\"clients\": [\n  {\"client_id\": \"OPEN-1\"},\n  {\"client_id\": \"OPEN-2\", \"redirect_uris\": []},\n  {\"client_id\": \"OFF\", \"disabled\": true},\n  {\"client_id\": \"NATIVE\", \"redirect_uris\": [\"http://localhost:8080/cb\", \"http://127.0.0.1/cb\", \"https://a.example.com/cb\"]}\n]}",
			want: []want{
				{Warning, 2, "OPEN-1", `client "OPEN-1" has no registered redirect URIs: in sandbox it may use any valid redirect URI`},
				{Warning, 3, "OPEN-2", `client "OPEN-2" has no registered redirect URIs`},
			},
		},
		{
			name: "sandbox http",
			env:  policy.Sandbox,
			file: "{\"clients\": [\n  {\"client_id\": \"WEB\", \"redirect_uris\": [\"https://a.example.com/cb\",\n \"http://a.example.com/cb\"]}\n]}",
			want: []want{
				{Warning, 3, "WEB", `client "WEB" redirect_uris[1] "http://a.example.com/cb" uses http: codes travel unencrypted`},
			},
		},
		{
			name: "errors with warnings",
			env:  policy.Production,
			file: "{\"clients\": [\n  {\"client_id\": \"APP-1\", \"redirect_uris\": [\"https://portal.example.com\"]},\n  {\"client_id\": \"APP-2\", \"redirect_uris\": [\"http://a.example.com/cb\"]}\n]}",
			want: []want{
				{Error, 3, "APP-2", `client "APP-2" redirect_uris[0] "http://a.example.com/cb": production requires https`},
				{Warning, 2, "APP-1", `"https://portal.example.com" is host-only`},
			},
		},
		{
			name: "errors and warnings in file order",
			env:  policy.Production,
			file: "{\"clients\": [\n  {\"client_id\": \"APP-1\", \"redirect_uris\": [\"https://portal.example.com\"]},\n  {\"client_id\": \"APP-2\", \"redirect_uris\": [\"http://a.example.com/cb\"]},\n  {\"client_id\": \"APP-3\", \"redirect_uris\": [\"https://portal3.example.com\"]}\n],\n\"x\": 1}",
			want: []want{
				{Error, 3, "APP-2", `production requires https`},
				{Error, 6, "", `unknown field "x"`},
				{Warning, 2, "APP-1", `"https://portal.example.com" is host-only`},
				{Warning, 4, "APP-3", `"https://portal3.example.com" is host-only`},
			},
		},
		{
			name: "native clients in production",
			env:  policy.Production,
			file: "{\"clients\": [\n  {\"client_id\": \"APP-1\", \"application_type\": \"native\", \"redirect_uris\": [\"http://127.0.0.1/cb\", \"com.example.app:/cb\"]},\n  {\"client_id\": \"APP-2\", \"application_type\": \"web\", \"redirect_uris\": [\"https://a.example.com/cb\"]},\n  {\"client_id\": \"APP-3\", \"disabled\": true,\n \"application_type\": \"native\", \"redirect_uris\": [\"http://[::1]/cb\"]}\n]}",
			want: []want{
				{Warning, 2, "APP-1", `client "APP-1" is a native app`},
				{Warning, 5, "APP-3", `client "APP-3" is a native app`},
			},
		},
		{
			name: "native client errors",
			env:  policy.Production,
			file: "{\"clients\": [\n  {\"client_id\": \"N\", \"application_type\": \"native\", \"redirect_uris\": [\n\"http://localhost/cb\",\n\"myapp:/cb\",\n\"http://a.example.com/cb\"]}\n]}",
			want: []want{
				{Error, 3, "N", `client "N" redirect_uris[0] "http://localhost/cb": a native client's loopback redirect URI uses the IP literal 127.0.0.1 or [::1]`},
				{Error, 4, "N", `client "N" redirect_uris[1] "myapp:/cb": a private-use scheme must contain a dot`},
				{Error, 5, "N", `client "N" redirect_uris[2] "http://a.example.com/cb": a native client uses http only to 127.0.0.1 or [::1]`},
			},
		},
		{
			name: "native client in sandbox",
			env:  policy.Sandbox,
			file: "{\"clients\": [\n  {\"client_id\": \"N\", \"application_type\": \"native\", \"redirect_uris\": [\"http://127.0.0.1/cb\"]}\n]}",
		},
		{
			name: "post-logout URIs",
			env:  policy.Production,
			file: "{\"clients\": [\n  {\"client_id\": \"L\", \"redirect_uris\": [\"https://a.example.com/cb\"],\n \"post_logout_redirect_uris\": [\"https://a.example.com/out\",\n \"https://a.example.com\"]}\n]}",
			want: []want{
				{Error, 4, "L", `client "L" post_logout_redirect_uris[1] "https://a.example.com": is host-only`},
			},
		},
		{
			name: "syntax error",
			env:  policy.Production,
			file: "{\"clients\": [\n  {\"client_id\": \"APP-1\"}}\n]}",
			want: []want{{Error, 2, "", `invalid JSON`}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "clients.json", []byte(tc.file))
			p := mustPolicy(t, tc.env)
			got, err := Lint(path, p)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("Lint found %d problems, want %d: %v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Severity != w.sev || g.Line != w.line || g.ClientID != w.clientID || g.File != path || !strings.Contains(g.Message, w.msg) {
					t.Errorf("problem %d = %+v, want %+v", i, g, w)
				}
			}
			// Warnings never stop a file from loading; errors always do.
			_, loadErr := Load(path, p)
			hasErrors := len(tc.want) > 0 && tc.want[0].sev == Error
			if (loadErr != nil) != hasErrors {
				t.Errorf("Load: %v, want an error: %v", loadErr, hasErrors)
			}
		})
	}
}

// TestLintManyWarnings checks that warnings are capped like errors.
func TestLintManyWarnings(t *testing.T) {
	data, _ := genRegistry(genOptions{Clients: 2000, Seed: 3, HostOnly: true, Indent: true})
	path := writeFile(t, t.TempDir(), "clients.json", data)
	got, err := Lint(path, mustPolicy(t, policy.Production))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != MaxProblems {
		t.Fatalf("Lint returned %d warnings, want the cap %d", len(got), MaxProblems)
	}
	for _, p := range got {
		if p.Severity != Warning || !strings.Contains(p.Message, "is host-only") || p.ClientID == "" {
			t.Fatalf("unexpected problem %+v", p)
		}
	}
}

func TestLintMissingFile(t *testing.T) {
	_, err := Lint(filepath.Join(t.TempDir(), "nope.json"), mustPolicy(t, policy.Production))
	if !os.IsNotExist(err) {
		t.Fatalf("Lint of a missing file: %v", err)
	}
}
