package cli

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

func TestCheckAllowed(t *testing.T) {
	f := writeFile(t, "prod.json", prodRegistry)
	r := runCLI(t, "check", "--registry", f, "--environment", "production",
		"--client", "APP-FULL", "--redirect-uri", "https://APP.example.com:443/oauth/callback?tenant=a")
	expect(t, r, 0,
		"decision:     allowed\n",
		"reason:       exact_match: ",
		"client:       APP-FULL (Full URIs), 2 registered redirect URIs\n",
		"matched:      https://app.example.com/oauth/callback?tenant=a (full)\n")
	if strings.Contains(r.stdout, "closest") || strings.Contains(r.stdout, "note:") {
		t.Errorf("an exact match needs no closest entry or note\n%s", r)
	}

	// Allowed, but only because of a host-only entry: said so.
	r = runCLI(t, "check", "--registry", f, "--environment", "production",
		"--client", "APP-HOST", "--redirect-uri", "https://portal.example.org/any/path?x=1")
	expect(t, r, 0, "reason:       host_match: ",
		"matched:      https://portal.example.org (host-only, normalized https://portal.example.org/)",
		`note:         host-only entry "https://portal.example.org" accepts every path and query on https://portal.example.org`)

	// The sandbox loopback rule.
	sf := writeFile(t, "sandbox.json", sandboxRegistry)
	r = runCLI(t, "check", "--registry", sf, "--environment", "sandbox",
		"--client", "APP-NATIVE", "--redirect-uri", "http://127.0.0.1:51004/cb")
	expect(t, r, 0, "reason:       loopback_match: ", "matched:      http://127.0.0.1/cb (full)", "loopback port rule")

	r = runCLI(t, "check", "--registry", sf, "--environment", "sandbox",
		"--client", "APP-OPEN", "--redirect-uri", "https://anything.example/x")
	expect(t, r, 0, "reason:       unrestricted_client: ")
}

func TestCheckRejected(t *testing.T) {
	f := writeFile(t, "prod.json", prodRegistry)
	for _, tc := range []struct {
		client, uri string
		want        []string
	}{
		{"APP-FULL", "https://app.example.com/oauth/callbackx", []string{
			"reason:       redirect_uri_not_registered: ",
			"closest:      https://app.example.com/oauth/callback (full)",
			`path: path differs at byte 16: it extends the registered path "/oauth/callback" without a segment boundary`,
			"      requested:  /oauth/callbackx\n      registered: /oauth/callback\n                                 ^\n",
		}},
		{"APP-FULL", "https://app.example.com/oauth/callback/extra", []string{
			`path differs at byte 16: it extends the registered path "/oauth/callback" (only match prefix would accept that`,
		}},
		{"APP-FULL", "https://app.example.com/oauth/callback/", []string{
			"path differs at byte 16: a trailing slash the registered path does not have",
		}},
		{"APP-FULL", "https://app.example.com/OAuth/callback", []string{
			"path differs at byte 2 in letter case only",
		}},
		{"APP-FULL", "https://app.example.com/oauth/cb", []string{
			"path differs at byte 9\n",
		}},
		{"APP-FULL", "https://app.example.com/oauth/callback?tenant=b", []string{
			"closest:      https://app.example.com/oauth/callback?tenant=a (full)",
			"query: query differs at byte 8",
		}},
		{"APP-FULL", "https://app.example.com/oauth/callback?x=1&y=2", []string{
			`query: query differs: the request has "?x=1&y=2", the registered URI has none`,
		}},
		{"APP-FULL", "https://evil.app.example.com/oauth/callback", []string{
			"host: subdomain of the registered host: evil.app.example.com is not app.example.com (a subdomain is a different host)",
		}},
		{"APP-FULL", "https://app.example.com.evil.example/oauth/callback", []string{
			"host: the registered host app.example.com followed by another domain: app.example.com.evil.example belongs to whoever owns evil.example",
		}},
		{"APP-FULL", "https://app-example-com.evil.example/oauth/callback", []string{
			"host: look-alike of the registered host",
		}},
		{"APP-FULL", "https://evil.example/oauth/callback", []string{
			"host: other host: evil.example is not app.example.com",
		}},
		{"APP-FULL", "https://app.example.com:8443/oauth/callback", []string{
			"port: other port: 8443 instead of the default (443)",
		}},
		{"APP-FULL", "http://app.example.com/oauth/callback", []string{
			"reason:       insecure_scheme: ",
			"scheme: other scheme: http instead of https",
		}},
		{"APP-FULL", "https://evil.example@app.example.com/oauth/callback", []string{
			"reason:       userinfo_in_redirect_uri: ",
			"userinfo: user information before the host (evil.example@)",
		}},
		{"APP-FULL", "https://app.example.com/oauth/callback#frag", []string{
			"reason:       fragment_in_redirect_uri: ",
			"fragment: a fragment (#...): never allowed",
		}},
		{"APP-FULL", "https://app.example.com/oauth/callback/../x", []string{
			"reason:       path_traversal: ",
		}},
		{"APP-HOST", "http://portal.example.org/", []string{
			"closest:      https://portal.example.org (host-only)",
			"scheme: other scheme: http instead of https",
		}},
		{"APP-HOST", "https://www.portal.example.org/cb", []string{
			"host: subdomain of the registered host: www.portal.example.org is not portal.example.org",
		}},
		{"APP-OFF", "https://old.example.net/cb", []string{
			"reason:       client_disabled: ",
			"client:       APP-OFF (Disabled), 1 registered redirect URI, disabled",
			"otherwise:    exact_match (if the client were enabled)",
		}},
		{"APP-NONE", "https://none.example/cb", []string{
			"reason:       no_registered_redirect_uris: ",
			"client:       APP-NONE (No URIs), 0 registered redirect URIs",
		}},
		{"APP-NOBODY", "https://app.example.com/oauth/callback", []string{
			"reason:       unknown_client: ",
			"client:       APP-NOBODY (not registered)",
		}},
	} {
		r := runCLI(t, "check", "--registry", f, "--environment", "production", "--client", tc.client, "--redirect-uri", tc.uri)
		expect(t, r, 1, append([]string{"decision:     rejected\n", "redirect_uri: " + tc.uri + "\n"}, tc.want...)...)
	}
}

func TestCheckPrefixMode(t *testing.T) {
	f := writeFile(t, "prod.json", prodRegistry)
	args := []string{"check", "--registry", f, "--environment", "production", "--match", "prefix", "--client", "APP-FULL"}
	r := runCLI(t, append(args, "--redirect-uri", "https://app.example.com/oauth/callback/extra?q=1")...)
	expect(t, r, 0, "reason:       prefix_match: ", "environment:  production, match prefix", "note:         prefix mode")
	r = runCLI(t, append(args, "--redirect-uri", "https://app.example.com/oauth/callbackevil")...)
	expect(t, r, 1, "without a segment boundary")
	if strings.Contains(r.stdout, "query") {
		t.Errorf("prefix mode ignores the query\n%s", r)
	}
}

func TestCheckJSON(t *testing.T) {
	f := writeFile(t, "prod.json", prodRegistry)
	r := runCLI(t, "check", "--registry", f, "--environment", "production", "--format", "json",
		"--client", "APP-FULL", "--redirect-uri", "https://app.example.com:8443/oauth/callback/")
	expect(t, r, 1)
	var rep struct {
		Decision, Reason, Description string
		Client                        *struct {
			ID           string `json:"id"`
			RedirectURIs int    `json:"redirect_uris"`
		}
		Matched *struct{} `json:"matched"`
		Closest *struct {
			URI         string `json:"uri"`
			Kind        string `json:"kind"`
			Differences []struct {
				Part, Message, Requested, Registered string
				Byte                                 int
			}
		}
		ExitCode int `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r)
	}
	if rep.Decision != "rejected" || rep.Reason != "redirect_uri_not_registered" || rep.ExitCode != 1 ||
		rep.Client == nil || rep.Client.ID != "APP-FULL" || rep.Client.RedirectURIs != 2 || rep.Matched != nil ||
		rep.Closest == nil || rep.Closest.URI != "https://app.example.com/oauth/callback" || rep.Closest.Kind != "full" ||
		len(rep.Closest.Differences) != 2 {
		t.Fatalf("report %+v\n%s", rep, r)
	}
	port, path := rep.Closest.Differences[0], rep.Closest.Differences[1]
	if port.Part != "port" || port.Requested != "8443" || port.Registered != "443" ||
		path.Part != "path" || path.Byte != 16 || path.Requested != "/oauth/callback/" || path.Registered != "/oauth/callback" {
		t.Errorf("differences %+v\n%s", rep.Closest.Differences, r)
	}

	r = runCLI(t, "check", "--registry", f, "--environment", "production", "--format", "json",
		"--client", "APP-FULL", "--redirect-uri", "https://app.example.com/oauth/callback")
	expect(t, r, 0, `"decision": "allowed"`, `"reason": "exact_match"`, `"closest": null`,
		`"matched": {`, `"uri": "https://app.example.com/oauth/callback"`)
}

func TestCheckErrors(t *testing.T) {
	f := writeFile(t, "broken.json", brokenRegistry)
	r := runCLI(t, "check", "--registry", f, "--environment", "production", "--client", "A", "--redirect-uri", "https://app.example.com/cb")
	expect(t, r, 2)
	expectStderr(t, r, "the registry does not load", "production requires https")
	if r.stdout != "" {
		t.Errorf("nothing on stdout when the registry does not load\n%s", r)
	}

	g := writeFile(t, "full.json", fullRegistry)
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"--redirect-uri", "https://x.example/"}, "--client is required"},
		{[]string{"--client", "APP-FULL"}, "--redirect-uri is required"},
		{[]string{"--client", "APP-FULL", "--redirect-uri"}, "flag needs an argument: --redirect-uri"},
	} {
		r := runCLI(t, append([]string{"check", "--registry", g, "--environment", "production"}, tc.args...)...)
		expect(t, r, 2)
		expectStderr(t, r, tc.stderr)
	}

	// An empty redirect_uri is what the handler calls missing.
	r = runCLI(t, "check", "--registry", g, "--environment", "production", "--client", "APP-FULL", "--redirect-uri", "")
	expect(t, r, 1, "reason:       missing_redirect_uri: ")
}

// TestCheckRequestObject: --request-object decides as the handler does on
// a request object by value.
func TestCheckRequestObject(t *testing.T) {
	f := writeFile(t, "prod.json", prodRegistry)
	object := func(claims string) string {
		return "eyJhbGciOiJFUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".c2ln"
	}
	good := `"redirect_uri":"https://app.example.com/oauth/callback?tenant=a"`
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"object's redirect_uri", []string{"--request-object", object(`{"client_id":"APP-FULL",` + good + `}`)}, 0, "reason:       exact_match: "},
		{"equal copies", []string{"--redirect-uri", "https://app.example.com/oauth/callback?tenant=a", "--request-object", object(`{` + good + `}`)}, 0, "reason:       exact_match: "},
		{"evil object", []string{"--request-object", object(`{"redirect_uri":"https://evil.example/cb"}`)}, 1, "reason:       redirect_uri_not_registered: "},
		{"mismatched copies", []string{"--redirect-uri", "https://app.example.com/oauth/callback?tenant=a", "--request-object", object(`{"redirect_uri":"https://evil.example/cb"}`)}, 1,
			`reason:       redirect_uri_mismatch: The request carries different redirect URIs. (the request object's redirect_uri is "https://evil.example/cb")`},
		{"another client", []string{"--request-object", object(`{"client_id":"APP-HOST",` + good + `}`)}, 1, "reason:       client_id_mismatch: "},
		{"encrypted", []string{"--request-object", "a.b.c.d.e"}, 1, "reason:       request_object_encrypted: "},
		{"unreadable", []string{"--request-object", "a.b"}, 1, "reason:       request_object_unreadable: "},
		{"no redirect_uri anywhere", []string{"--request-object", object(`{"client_id":"APP-FULL"}`)}, 1, "reason:       missing_redirect_uri: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"check", "--registry", f, "--environment", "production", "--client", "APP-FULL"}, tc.args...)
			expect(t, runCLI(t, args...), tc.code, tc.want)
		})
	}
}

// clientRulesRegistry has a native app in production and a web client
// with post-logout redirect URIs.
const clientRulesRegistry = `{
  "environment": "production",
  "clients": [
    {
      "client_id": "APP-NATIVE",
      "name": "Native",
      "application_type": "native",
      "redirect_uris": ["http://127.0.0.1/cb", "com.example.app:/oauth2redirect"]
    },
    {
      "client_id": "APP-WEB",
      "name": "Web",
      "redirect_uris": ["https://app.example.com/cb"],
      "post_logout_redirect_uris": ["https://app.example.com/logged-out"]
    }
  ]
}
`

// TestCheckClientRules: check decides native clients' URIs, post-logout
// redirect URIs and an omitted redirect_uri as the handler does.
func TestCheckClientRules(t *testing.T) {
	f := writeFile(t, "rules.json", clientRulesRegistry)
	base := []string{"check", "--registry", f, "--environment", "production"}
	for _, tc := range []struct {
		args   []string
		status int
		want   []string
	}{
		{[]string{"--client", "APP-NATIVE", "--redirect-uri", "http://127.0.0.1:49152/cb"}, 0,
			[]string{"reason:       loopback_match: ", "client:       APP-NATIVE (Native), native app, 2 registered redirect URIs"}},
		{[]string{"--client", "APP-NATIVE", "--redirect-uri", "COM.Example.App:/oauth2redirect"}, 0,
			[]string{"reason:       exact_match: ", "matched:      com.example.app:/oauth2redirect (full)"}},
		{[]string{"--client", "APP-NATIVE", "--redirect-uri", "com.example.app.evil:/oauth2redirect"}, 1,
			[]string{"reason:       redirect_uri_not_registered: "}},
		{[]string{"--client", "APP-NATIVE", "--redirect-uri", "http://127.0.0.1:49152/other"}, 1,
			[]string{"reason:       redirect_uri_not_registered: ", "closest:      http://127.0.0.1/cb (full)", "path differs"}},
		{[]string{"--client", "APP-WEB", "--redirect-uri", "com.example.app:/oauth2redirect"}, 1,
			[]string{"reason:       disallowed_scheme: "}},
		{[]string{"--client", "APP-WEB", "--post-logout-redirect-uri", "https://app.example.com/logged-out"}, 0,
			[]string{"reason:       exact_match: ", "post_logout_redirect_uri: https://app.example.com/logged-out", "1 post-logout redirect URI"}},
		{[]string{"--client", "APP-WEB", "--post-logout-redirect-uri", "https://evil.example/logged-out"}, 1,
			[]string{"reason:       post_logout_redirect_uri_not_registered: ", "closest:      https://app.example.com/logged-out (full)"}},
		{[]string{"--client", "APP-NATIVE", "--post-logout-redirect-uri", "https://app.example.com/logged-out"}, 1,
			[]string{"reason:       no_registered_post_logout_redirect_uris: "}},
		{[]string{"--client", "APP-WEB", "--omitted-redirect-uri", "single"}, 0,
			[]string{"reason:       omitted_redirect_uri: ", "matched:      https://app.example.com/cb (full)"}},
		{[]string{"--client", "APP-WEB", "--omitted-redirect-uri", "reject"}, 1,
			[]string{"reason:       missing_redirect_uri: "}},
		{[]string{"--client", "APP-NATIVE", "--omitted-redirect-uri", "single"}, 1,
			[]string{"reason:       missing_redirect_uri: "}},
	} {
		r := runCLI(t, append(base, tc.args...)...)
		expect(t, r, tc.status, tc.want...)
	}
	r := runCLI(t, append(base, "--format", "json", "--client", "APP-WEB", "--post-logout-redirect-uri", "https://evil.example/x")...)
	var got checkReport
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("%v\n%s", err, r)
	}
	if got.Endpoint != "logout" || got.Client == nil || got.Client.PostLogoutURIs != 1 || got.Client.ApplicationType != "web" {
		t.Errorf("JSON report %+v", got)
	}
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"--client", "APP-WEB", "--redirect-uri", "https://x.example/", "--post-logout-redirect-uri", "https://x.example/"}, "is for a logout request"},
		{[]string{"--client", "APP-WEB", "--omitted-redirect-uri", "allow"}, "--omitted-redirect-uri is reject or single"},
		{[]string{"--client", "APP-WEB", "--omitted-redirect-uri", "single", "--redirect-uri", "https://x.example/"}, "--omitted-redirect-uri is reject or single"},
		{[]string{"--client", "APP-WEB", "--post-logout-redirect-uri", ""}, "passes unchecked"},
	} {
		r := runCLI(t, append(base, tc.args...)...)
		expect(t, r, 2)
		expectStderr(t, r, tc.stderr)
	}
}
