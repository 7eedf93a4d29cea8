package registry

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

// position returns the 1-based line and column (in bytes) of the nth
// occurrence of sub in content, moved by delta bytes; an empty sub means
// the end of the file.
func position(t *testing.T, content, sub string, nth, delta int) (line, col int) {
	t.Helper()
	off := len(content)
	if sub != "" {
		off = -1
		for i, from := 0, 0; i <= nth; i++ {
			j := strings.Index(content[from:], sub)
			if j < 0 {
				t.Fatalf("test case: %q occurs fewer than %d times", sub, nth+1)
			}
			off, from = from+j, from+j+1
		}
	}
	off += delta
	before := content[:off]
	line = strings.Count(before, "\n") + 1
	col = off - (strings.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// loadError loads content from a real file and returns the *LoadError,
// failing the test if the file loads or fails otherwise.
func loadError(t *testing.T, env policy.Environment, content string) (string, *LoadError) {
	t.Helper()
	path := writeFile(t, t.TempDir(), "clients.json", []byte(content))
	s, err := Load(path, mustPolicy(t, env))
	if err == nil {
		t.Fatalf("Load succeeded with %d clients, want an error", s.Len())
	}
	if s != nil {
		t.Errorf("Load returned a snapshot with its error")
	}
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("Load error is %T (%v), want *LoadError", err, err)
	}
	if le.File != path {
		t.Errorf("LoadError.File = %q, want %q", le.File, path)
	}
	for _, p := range le.Problems {
		if p.File != path || p.Severity != Error || p.Line < 1 || p.Column < 1 {
			t.Errorf("problem %+v: want file %q, severity error and a position", p, path)
		}
		if !strings.Contains(err.Error(), p.String()) {
			t.Errorf("LoadError.Error() does not list %q:\n%s", p, err)
		}
	}
	return path, le
}

// one client, to build files from
const okClient = `{"client_id": "APP-OK", "redirect_uris": ["https://ok.example.com/cb"]}`

// TestLoadErrors checks each kind of error: its message, and the line and
// column it names.
func TestLoadErrors(t *testing.T) {
	long := strings.Repeat("A", 257)
	tests := []struct {
		name  string
		env   policy.Environment // production if empty
		file  string
		at    string // the problem is at the nth occurrence of at, moved by delta; "" is the end
		nth   int
		delta int
		want  string // in the message
		n     int    // problems in all, if more than 1
	}{
		// Syntax.
		{name: "syntax missing comma", file: "{\n  \"clients\": [\n    {\"client_id\": \"APP-1\" \"name\": \"x\"}\n  ]\n}\n",
			at: `"name"`, want: `invalid JSON: invalid character '"' after object key:value pair`},
		{name: "syntax bad literal deep in file", file: "{\n  \"clients\": [\n    " + okClient + ",\n    {\n      \"client_id\": \"APP-2\",\n      \"disabled\": tru,\n      \"name\": \"x\"\n    }\n  ]\n}\n",
			at: "tru,", delta: 3, want: `invalid character ',' in literal true (expecting 'e')`},
		{name: "syntax bad escape", file: "{\"clients\": [\n {\"client_id\": \"APP-1\", \"name\": \"a\\qb\"}]}",
			at: `\q`, delta: 1, want: `invalid character 'q' in string escape code`},
		{name: "syntax bad unicode escape", file: "{\"clients\": [\n {\"client_id\": \"APP-1\", \"name\": \"a\\u12x4\"}]}",
			at: `12x4`, delta: 2, want: `invalid character 'x' in \u hexadecimal character escape`},
		{name: "syntax control character in string", file: "{\"clients\": [\n {\"client_id\": \"APP\t1\"}]}",
			at: "\t", want: `invalid character '\t' in string literal`},
		{name: "syntax trailing comma in array", file: "{\"clients\": [\n  " + okClient + ",\n]}",
			at: "]}", nth: 1, want: `invalid character ']' looking for beginning of value`},
		{name: "syntax trailing comma in object", file: "{\"clients\": [],\n}",
			at: "}", want: `invalid character '}' looking for beginning of object key string`},
		{name: "syntax bad number", file: "{\"clients\": [{\"client_id\": \"APP-1\", \"notes\": -x}]}",
			at: "x}", want: `invalid character 'x' in numeric literal`},
		{name: "syntax single quotes", file: "{'clients': []}",
			at: "'", want: `invalid character '\'' looking for beginning of object key string`},
		{name: "syntax missing colon", file: "{\"clients\" []}",
			at: "[", want: `invalid character '[' after object key`},
		{name: "syntax comment", file: "{\n  // clients\n  \"clients\": []\n}",
			at: "//", want: `invalid character '/' looking for beginning of object key string`},

		// Truncated and empty files.
		{name: "truncated in a string", file: "{\n  \"clients\": [\n    {\"client_id\": \"APP-1\", \"redirect_uris\": [\"https://a.exam",
			want: "invalid JSON: unexpected end of file"},
		{name: "truncated after a value", file: "{\n  \"clients\": [\n    " + okClient + "\n",
			want: "invalid JSON: unexpected end of file"},
		{name: "truncated in a literal", file: "{\"clients\": [{\"client_id\": \"APP-1\", \"disabled\": fal",
			want: "invalid JSON: unexpected end of file"},
		{name: "truncated after key", file: "{\"clients\"",
			want: "invalid JSON: unexpected end of file"},
		{name: "only an opening brace", file: "{",
			want: "invalid JSON: unexpected end of file"},
		{name: "empty file", file: "", want: "file is empty"},
		{name: "white space only", file: " \n\t\r\n", at: " ", want: "file is empty"},

		// Encoding.
		{name: "invalid UTF-8", file: "{\"clients\": [{\"client_id\": \"APP-1\",\n \"name\": \"Café \uFFFD \xff\"}]}",
			at: "\xff", want: "file is not valid UTF-8"},
		{name: "byte order mark", file: "\uFEFF{\"clients\": []}", at: "\uFEFF", want: "byte order mark"},

		// Fields.
		{name: "unknown client field", file: "{\"clients\": [\n  {\"client_id\": \"APP-1\", \"redirect_uri\": \"https://a.example/cb\"}\n]}",
			at: `"redirect_uri"`, want: `unknown field "clients[0].redirect_uri"`},
		{name: "unknown top-level field", file: "{\"version\": 2, \"clients\": []}",
			at: `"version"`, want: `unknown field "version"`},
		{name: "unknown nested field value is skipped", file: "{\"clients\": [], \"meta\": {\"a\": [1, {\"b\": null}], \"c\": \"d\"}}",
			at: `"meta"`, want: `unknown field "meta"`},
		{name: "wrong-case field", file: "{\"clients\": [\n  {\"Client_ID\": \"APP-1\"}\n]}",
			at: `"Client_ID"`, want: `unknown field "clients[0].Client_ID" (field names are case-sensitive: did you mean "client_id"?)`, n: 2},
		{name: "wrong-case top-level field", file: "{\"Clients\": []}",
			at: `"Clients"`, want: `unknown field "Clients" (field names are case-sensitive: did you mean "clients"?)`, n: 2},
		{name: "duplicate client key", file: "{\"clients\": [\n  {\"client_id\": \"APP-1\", \"name\": \"a\",\n   \"name\": \"b\"}\n]}",
			at: `"name"`, nth: 1, want: `clients[0]: duplicate field "name"`},
		{name: "duplicate top-level key", file: "{\"clients\": [],\n \"clients\": [" + okClient + "]}",
			at: `"clients"`, nth: 1, want: `the registry: duplicate field "clients"`},
		{name: "duplicate key spelled with an escape", file: "{\"clients\": [{\"client_id\": \"APP-1\", \"client\\u005fid\": \"APP-2\"}]}",
			at: `"client\u005fid"`, want: `clients[0]: duplicate field "client_id"`},
		{name: "duplicate unknown key", file: "{\"clients\": [], \"x\": 1, \"x\": 2}",
			at: `"x"`, nth: 1, want: `the registry: duplicate field "x"`, n: 2},

		// Nulls.
		{name: "null clients", file: "{\"clients\": null}", at: "null", want: "clients: want an array, got null"},
		{name: "null client", file: "{\"clients\": [" + okClient + ", null]}", at: "null", want: "clients[1]: want an object, got null"},
		{name: "null client_id", file: "{\"clients\": [{\"client_id\": null}]}", at: "null", want: "clients[0].client_id: want a string, got null"},
		{name: "null name", file: "{\"clients\": [{\"client_id\": \"APP-1\", \"name\": null}]}", at: "null", want: "clients[0].name: want a string, got null"},
		{name: "null redirect_uris", file: "{\"clients\": [{\"client_id\": \"APP-1\", \"redirect_uris\": null}]}", at: "null", want: "clients[0].redirect_uris: want an array, got null"},
		{name: "null redirect URI", file: "{\"clients\": [{\"client_id\": \"APP-1\", \"redirect_uris\": [\"https://a.example/cb\", null]}]}", at: "null", want: "clients[0].redirect_uris[1]: want a string, got null"},
		{name: "null disabled", file: "{\"clients\": [{\"client_id\": \"APP-1\", \"disabled\": null}]}", at: "null", want: "clients[0].disabled: want true or false, got null"},
		{name: "null environment", file: "{\"environment\": null, \"clients\": []}", at: "null", want: "environment: want a string, got null"},
		{name: "null file", file: "null", at: "null", want: "the registry: want an object, got null"},

		// Wrong types.
		{name: "clients is an object", file: "{\"clients\": {\"client_id\": \"APP-1\"}}", at: "{\"client_id", want: "clients: want an array, got an object"},
		{name: "client is a string", file: "{\"clients\": [\"APP-1\"]}", at: "\"APP-1\"", want: "clients[0]: want an object, got a string"},
		{name: "client_id is a number", file: "{\"clients\": [{\"client_id\": 42}]}", at: "42", want: "clients[0].client_id: want a string, got a number"},
		{name: "redirect_uris is a string", file: "{\"clients\": [{\"client_id\": \"APP-1\", \"redirect_uris\": \"https://a.example/cb\"}]}",
			at: "\"https", want: "clients[0].redirect_uris: want an array, got a string"},
		{name: "redirect URI is an object", file: "{\"clients\": [{\"client_id\": \"APP-1\", \"redirect_uris\": [{\"uri\": \"https://a.example/cb\"}]}]}",
			at: "{\"uri", want: "clients[0].redirect_uris[0]: want a string, got an object"},
		{name: "disabled is a string", file: "{\"clients\": [{\"client_id\": \"APP-1\", \"disabled\": \"yes\"}]}", at: "\"yes\"", want: "clients[0].disabled: want true or false, got a string"},
		{name: "disabled is a number", file: "{\"clients\": [{\"client_id\": \"APP-1\", \"disabled\": 1}]}", at: "1}", want: "clients[0].disabled: want true or false, got a number"},
		{name: "environment is a boolean", file: "{\"environment\": true, \"clients\": []}", at: "true", want: "environment: want a string, got a boolean"},
		{name: "file is an array", file: "[" + okClient + "]", at: "[", want: "the registry: want an object, got an array"},

		// Missing fields.
		{name: "missing clients", file: "{\"environment\": \"production\"}", want: `missing field "clients"`, at: "{"},
		{name: "empty object", file: "{}", want: `missing field "clients"`, at: "{"},
		{name: "missing client_id", file: "{\"clients\": [\n  " + okClient + ",\n  {\"name\": \"x\"}\n]}",
			at: `{"name"`, want: `clients[1]: missing field "client_id"`},

		// Client ids.
		{name: "duplicate client_id", file: "{\"clients\": [\n  " + okClient + ",\n  {\"client_id\": \"APP-2\"},\n  " + okClient + "\n]}",
			at: okClient, nth: 1, want: `clients[2]: duplicate client_id "APP-OK" (first at clients[0])`},
		{name: "client_id with a space", file: "{\"clients\": [{\"client_id\": \"APP 1\"}]}", at: "{\"client_id", want: `clients[0]: client_id "APP 1" must be printable ASCII without spaces`},
		{name: "client_id too long", file: "{\"clients\": [{\"client_id\": \"" + long + "\"}]}", at: "{\"client_id", want: `must be 1 to 256 characters long`},
		{name: "empty client_id", file: "{\"clients\": [{\"client_id\": \"\"}]}", at: "{\"client_id", want: `clients[0]: client_id "" must be 1 to 256 characters long`},
		{name: "non-ASCII client_id", file: "{\"clients\": [{\"client_id\": \"APP-é\"}]}", at: "{\"client_id", want: `clients[0]: client_id "APP-é" must be printable ASCII without spaces`},
		{name: "client_id with an escaped control character", file: "{\"clients\": [{\"client_id\": \"APP\\u0000\"}]}", at: "{\"client_id", want: `must be printable ASCII without spaces`},
		{name: "empty client_id after a client without one", file: "{\"clients\": [{\"name\": \"a\"}, {\"client_id\": \"\"}]}",
			at: "{\"client_id", want: `clients[1]: client_id "" must be 1 to 256 characters long`, n: 2},

		// Trailing data.
		{name: "trailing object", file: "{\"clients\": []}\n{}\n", at: "{}", want: "trailing data after the registry object"},
		{name: "trailing garbage", file: "{\"clients\": []} x", at: "x", want: "trailing data after the registry object"},
		{name: "trailing string", file: "{\"clients\": []}\n  \"abc\"", at: "\"abc\"", want: "trailing data after the registry object"},
		{name: "trailing comma", file: "{\"clients\": []},", at: ",", want: "trailing data after the registry object"},
		{name: "trailing bracket", file: "{\"clients\": []}]", at: "}]", delta: 1, want: "trailing data after the registry object"},

		// Environment.
		{name: "sandbox file in production", file: "{\n  \"environment\": \"sandbox\",\n  \"clients\": []\n}",
			at: `"environment"`, want: `environment "sandbox" does not match the policy's environment "production"`},
		{name: "production file in sandbox", env: policy.Sandbox, file: "{\n  \"environment\": \"production\",\n  \"clients\": []\n}",
			at: `"environment"`, want: `environment "production" does not match the policy's environment "sandbox"`},
		{name: "unknown environment", file: "{\"environment\": \"Production\", \"clients\": []}",
			at: `"environment"`, want: `environment "Production" does not match`},

		// Redirect URIs.
		{name: "production http", file: "{\"clients\": [{\"client_id\": \"APP-1\", \"redirect_uris\": [\"https://a.example/cb\",\n \"http://a.example/cb\"]}]}",
			at: `"http://`, want: `client "APP-1" redirect_uris[1] "http://a.example/cb": production requires https`},
		{name: "production localhost", file: "{\"clients\": [{\"client_id\": \"APP-1\", \"redirect_uris\": [\"https://localhost/cb\"]}]}",
			at: `"https://localhost`, want: `client "APP-1" redirect_uris[0] "https://localhost/cb": production does not allow loopback hosts`},
		{name: "production loopback IPv4", file: "{\"clients\": [{\"client_id\": \"APP-1\", \"redirect_uris\": [\"https://127.0.0.1:8443/cb\"]}]}",
			at: `"https://127`, want: `production does not allow loopback hosts`},
		{name: "production loopback IPv6", file: "{\"clients\": [{\"client_id\": \"APP-1\", \"redirect_uris\": [\"https://[::1]/cb\"]}]}",
			at: `"https://[`, want: `production does not allow loopback hosts`},
		{name: "production http localhost", file: "{\"clients\": [{\"client_id\": \"APP-1\", \"redirect_uris\": [\"http://localhost:3000/cb\"]}]}",
			at: `"http://`, want: `production requires https`},
		{name: "sandbox unspecified address", env: policy.Sandbox, file: "{\"clients\": [{\"client_id\": \"APP-1\", \"redirect_uris\": [\"http://0.0.0.0/cb\"]}]}",
			at: `"http://`, want: `unspecified address is not a valid host`},
		{name: "sandbox wildcard host", env: policy.Sandbox, file: "{\"clients\": [{\"client_id\": \"APP-1\", \"redirect_uris\": [\"https://*.example.com/cb\"]}]}",
			at: `"https://*`, want: `host contains a wildcard`},
		{name: "sandbox custom scheme", env: policy.Sandbox, file: "{\"clients\": [{\"client_id\": \"APP-1\", \"redirect_uris\": [\"myapp://cb\"]}]}",
			at: `"myapp`, want: `"myapp://cb": scheme is not http or https`},
		{name: "fragment", file: "{\"clients\": [{\"client_id\": \"APP-1\", \"redirect_uris\": [\"https://a.example/cb#x\"]}]}",
			at: `"https://`, want: `contains a fragment`},
		{name: "duplicate after normalization", file: "{\"clients\": [{\"client_id\": \"APP-1\", \"redirect_uris\": [\n  \"https://a.example.com/cb\",\n  \"HTTPS://A.Example.com:443/cb\"\n]}]}",
			at: `"HTTPS`, want: `client "APP-1" redirect_uris[1] "HTTPS://A.Example.com:443/cb": duplicate of redirect_uris[0] "https://a.example.com/cb" after normalization`},
		{name: "duplicate after a value that is not a string", file: "{\"clients\": [{\"client_id\": \"APP-1\", \"redirect_uris\": [\n  null,\n  \"https://a.example.com/cb\",\n  \"https://a.example.com:443/cb\"\n]}]}",
			at: `"https://a.example.com:443`, want: `redirect_uris[2] "https://a.example.com:443/cb": duplicate of redirect_uris[1] "https://a.example.com/cb"`, n: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := tc.env
			if env == "" {
				env = policy.Production
			}
			path, le := loadError(t, env, tc.file)
			n := max(tc.n, 1)
			if len(le.Problems) != n {
				t.Errorf("got %d problems, want %d:\n%v", len(le.Problems), n, le)
			}
			line, col := position(t, tc.file, tc.at, tc.nth, tc.delta)
			want := fmt.Sprintf("%s:%d:%d: ", path, line, col)
			for _, p := range le.Problems {
				if strings.Contains(p.Message, tc.want) {
					if got := p.String(); !strings.HasPrefix(got, want) {
						t.Errorf("problem is at %d:%d, want %d:%d:\n%s", p.Line, p.Column, line, col, got)
					}
					return
				}
			}
			t.Errorf("no problem says %q:\n%v", tc.want, le)
		})
	}
}

// TestIssueExample checks the message of the issue, to the byte.
func TestIssueExample(t *testing.T) {
	file := `{
  "environment": "production",
  "clients": [
    {
      "client_id": "APP-0",
      "name": "Zero",
      "redirect_uris": ["https://zero.example/cb"]
    },
    {
      "client_id": "APP-1",
      "redirect_uris": [
      "https://x.example/a",
      "https://x.example/b",
      "http://x.example/cb"
      ]
    }
  ]
}
`
	path, le := loadError(t, policy.Production, file)
	if len(le.Problems) != 1 {
		t.Fatalf("got %d problems, want 1:\n%v", len(le.Problems), le)
	}
	want := path + `:14:7: client "APP-1" redirect_uris[2] "http://x.example/cb": production requires https`
	if got := le.Problems[0].String(); got != want {
		t.Errorf("problem:\n got %s\nwant %s", got, want)
	}
	if got := le.Problems[0].ClientID; got != "APP-1" {
		t.Errorf("ClientID = %q, want APP-1", got)
	}
	if got := le.Error(); got != "registry "+path+": 1 problem(s)\n\t"+want {
		t.Errorf("Error() = %q", got)
	}
}

// TestSeveralErrors checks that every problem of a file is reported at
// once, in the order of the file, and that nothing of the file is served.
func TestSeveralErrors(t *testing.T) {
	file := `{
  "environment": "sandbox",
  "clients": [
    {"client_id": "APP-1", "redirect_uris": ["http://a.example/cb"]},
    {"client_id": "APP 2"},
    {"client_id": "APP-3", "Name": "three"},
    {"client_id": "APP-1"},
    {"client_id": "APP-5", "disabled": "no", "redirect_uris": ["https://e.example/cb", "https://E.example/cb"]},
    {"client_id": "APP-6", "redirect_uris": ["https://good.example/cb"]}
  ],
  "extra": true
}`
	_, le := loadError(t, policy.Production, file)
	want := []struct {
		line int
		msg  string
	}{
		{2, `environment "sandbox" does not match`},
		{4, `client "APP-1" redirect_uris[0] "http://a.example/cb": production requires https`},
		{5, `client_id "APP 2" must be printable ASCII without spaces`},
		{6, `unknown field "clients[2].Name"`},
		{7, `clients[3]: duplicate client_id "APP-1" (first at clients[0])`},
		{8, `clients[4].disabled: want true or false, got a string`},
		{8, `client "APP-5" redirect_uris[1] "https://E.example/cb": duplicate of redirect_uris[0]`},
		{11, `unknown field "extra"`},
	}
	if len(le.Problems) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(le.Problems), len(want), le)
	}
	for i, w := range want {
		if p := le.Problems[i]; p.Line != w.line || !strings.Contains(p.Message, w.msg) {
			t.Errorf("problem %d = %s, want line %d and %q", i, p, w.line, w.msg)
		}
	}
	if le.Truncated {
		t.Errorf("Truncated with %d problems", len(le.Problems))
	}
}

// TestMaxProblems checks the cap on the problems reported for one file.
func TestMaxProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"clients": [`)
	for i := range MaxProblems + 50 {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `{"client_id": "APP-%d", "redirect_uris": ["http://a%d.example/cb"]}`, i, i)
	}
	b.WriteString("]}")
	_, le := loadError(t, policy.Production, b.String())
	if len(le.Problems) != MaxProblems || !le.Truncated {
		t.Fatalf("got %d problems, truncated %v; want %d, truncated", len(le.Problems), le.Truncated, MaxProblems)
	}
	if !strings.Contains(le.Error(), "(more not shown)") {
		t.Errorf("Error() does not say that problems were left out")
	}
	if p := le.Problems[MaxProblems-1]; p.Line != MaxProblems {
		t.Errorf("last problem is on line %d, want the first %d problems of the file", p.Line, MaxProblems)
	}
}

// TestLoadMissingFile checks that a file that cannot be read is not a
// LoadError.
func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.json"), mustPolicy(t, policy.Production))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load of a missing file: %v, want ErrNotExist", err)
	}
}

// TestValidFiles checks files that load, and the decisions of their
// snapshots.
func TestValidFiles(t *testing.T) {
	long := strings.Repeat("A", 256)
	file := `{
  "environment": "production",
  "clients": [
    {
      "client_id": "APP-5X9K2L7M3N8P4Q1R",
      "name": "Example University Library",
      "description": "d", "website": "https://library.example.edu", "contact_email": "it@example.edu", "notes": "n\u00e9\n",
      "redirect_uris": [
        "https://library.example.edu/orcid/callback",
        "https://portal.example.edu",
        "https://library.example.edu/cb?tenant=1"
      ]
    },
    {"client_id": "DISABLED-1", "disabled": true, "redirect_uris": ["https://stolen.example.com/cb"]},
    {"client_id": "ENABLED-1", "disabled": false, "redirect_uris": ["https://ok.example.com/cb"]},
    {"client_id": "NO-URIS"},
    {"client_id": "EMPTY-URIS", "redirect_uris": []},
    {"client_id": "` + long + `", "redirect_uris": ["https://long.example.com/cb"]},
    {"client_id": "APP-~!#$%&'()*+,-./:;<=>?@[]^_{|}", "redirect_uris": ["https://punct.example.com/cb"]}
  ]
}`
	path := writeFile(t, t.TempDir(), "clients.json", []byte(file))
	s, err := Load(path, mustPolicy(t, policy.Production))
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 7 || s.URIs() != 7 || len(s.Clients()) != 7 || s.File != path {
		t.Fatalf("Len %d, URIs %d, Clients %d, File %q; want 7, 7, 7, %q", s.Len(), s.URIs(), len(s.Clients()), s.File, path)
	}
	if c := s.Clients()[0]; c.ID != "APP-5X9K2L7M3N8P4Q1R" || c.Name != "Example University Library" || c.Description != "d" ||
		c.Website != "https://library.example.edu" || c.ContactEmail != "it@example.edu" || c.Notes != "né\n" || c.Disabled {
		t.Errorf("first client decoded as %+v", c)
	}
	tests := []struct {
		client, uri string
		want        policy.Reason
	}{
		{"APP-5X9K2L7M3N8P4Q1R", "https://library.example.edu/orcid/callback", policy.ExactMatch},
		{"APP-5X9K2L7M3N8P4Q1R", "https://library.example.edu/cb?tenant=1", policy.ExactMatch},
		{"APP-5X9K2L7M3N8P4Q1R", "https://library.example.edu/cb?tenant=2", policy.RedirectURINotRegistered},
		{"APP-5X9K2L7M3N8P4Q1R", "https://portal.example.edu/anything?x=1", policy.HostMatch},
		{"APP-5X9K2L7M3N8P4Q1R", "https://evil.example/orcid/callback", policy.RedirectURINotRegistered},
		{"APP-5X9K2L7M3N8P4Q1R", "http://library.example.edu/orcid/callback", policy.InsecureScheme},
		{"DISABLED-1", "https://stolen.example.com/cb", policy.ClientDisabled},
		{"DISABLED-1", "javascript:alert(1)", policy.ClientDisabled},
		{"ENABLED-1", "https://ok.example.com/cb", policy.ExactMatch},
		{"NO-URIS", "https://any.example.com/cb", policy.NoRegisteredRedirectURIs},
		{"EMPTY-URIS", "https://any.example.com/cb", policy.NoRegisteredRedirectURIs},
		{long, "https://long.example.com/cb", policy.ExactMatch},
		{"APP-~!#$%&'()*+,-./:;<=>?@[]^_{|}", "https://punct.example.com/cb", policy.ExactMatch},
		{"UNKNOWN", "https://ok.example.com/cb", policy.UnknownClient},
		{"enabled-1", "https://ok.example.com/cb", policy.UnknownClient},
		{"", "https://ok.example.com/cb", policy.UnknownClient},
	}
	for _, tc := range tests {
		d := s.Decide(tc.client, tc.uri)
		if d.Reason != tc.want {
			t.Errorf("Decide(%q, %q) = %s (%s), want %s", tc.client, tc.uri, d.Reason, d.Detail, tc.want)
		}
		if c := s.Client(tc.client); d.Client != c {
			t.Errorf("Decide(%q, %q).Client = %p, want %p", tc.client, tc.uri, d.Client, c)
		}
		if (tc.want == policy.UnknownClient) != (d.Client == nil) {
			t.Errorf("Decide(%q, %q).Client = %v", tc.client, tc.uri, d.Client)
		}
		if tc.want == policy.UnknownClient && d.Detail != "" {
			// The reason's description says it; a detail would repeat it.
			t.Errorf("Decide(%q, %q).Detail = %q, want none", tc.client, tc.uri, d.Detail)
		}
		if d.Allowed() != tc.want.Allows() {
			t.Errorf("Decide(%q, %q).Allowed() = %v", tc.client, tc.uri, d.Allowed())
		}
	}
}

// TestEmptyClientList checks that an empty list is a valid registry in
// which every client is unknown.
func TestEmptyClientList(t *testing.T) {
	for _, file := range []string{`{"clients": []}`, "{\n  \"environment\": \"sandbox\",\n  \"clients\": [ ]\n}\n"} {
		path := writeFile(t, t.TempDir(), "clients.json", []byte(file))
		s, err := Load(path, mustPolicy(t, policy.Sandbox))
		if err != nil {
			t.Fatalf("%q: %v", file, err)
		}
		if s.Len() != 0 || s.URIs() != 0 {
			t.Errorf("%q: Len %d, URIs %d", file, s.Len(), s.URIs())
		}
		if d := s.Decide("APP-1", "https://a.example/cb"); d.Reason != policy.UnknownClient || d.Client != nil {
			t.Errorf("%q: Decide = %+v, want unknown_client", file, d)
		}
	}
}

// TestSandboxFile checks the sandbox rules as a registry applies them.
func TestSandboxFile(t *testing.T) {
	file := `{"environment": "sandbox", "clients": [
  {"client_id": "NATIVE", "redirect_uris": ["http://localhost:3000/cb", "http://127.0.0.1/cb"]},
  {"client_id": "OPEN"},
  {"client_id": "WEB", "redirect_uris": ["http://web.example.com/cb"]}
]}`
	s, err := Parse("sandbox.json", []byte(file), mustPolicy(t, policy.Sandbox))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		client, uri string
		want        policy.Reason
	}{
		{"NATIVE", "http://localhost:51234/cb", policy.LoopbackMatch},
		{"NATIVE", "http://127.0.0.1:8080/cb", policy.LoopbackMatch},
		{"NATIVE", "http://localhost:3000/other", policy.RedirectURINotRegistered},
		{"OPEN", "https://anything.example.org/x", policy.UnrestrictedClient},
		{"OPEN", "javascript:alert(1)", policy.DisallowedScheme},
		{"WEB", "http://web.example.com/cb", policy.ExactMatch},
	} {
		if d := s.Decide(tc.client, tc.uri); d.Reason != tc.want {
			t.Errorf("Decide(%q, %q) = %s, want %s", tc.client, tc.uri, d.Reason, tc.want)
		}
	}
}

// TestParseMatchesLoad checks that Parse names problems after the name it is
// given, as Load does after the path.
func TestParseMatchesLoad(t *testing.T) {
	_, err := Parse("inline", []byte(`{"clients": [{"client_id": ""}]}`), mustPolicy(t, policy.Production))
	var le *LoadError
	if !errors.As(err, &le) || le.File != "inline" || le.Problems[0].File != "inline" || !strings.HasPrefix(le.Problems[0].String(), "inline:1:14: ") {
		t.Fatalf("Parse: %v", err)
	}
}

// TestClientRules checks application_type and post_logout_redirect_uris:
// their errors name the field, line and client, and the decisions use
// each client's rules.
func TestClientRules(t *testing.T) {
	content := "{\"clients\": [\n" +
		"  {\"client_id\": \"NATIVE\", \"application_type\": \"native\", \"redirect_uris\": [\"http://127.0.0.1/cb\", \"com.example.app:/cb\"],\n" +
		"   \"post_logout_redirect_uris\": [\"com.example.app:/out\", \"http://[::1]/out\"]},\n" +
		"  {\"client_id\": \"WEB\", \"application_type\": \"web\", \"redirect_uris\": [\"https://a.example.com/cb\"], \"post_logout_redirect_uris\": [\"https://a.example.com/out\"]},\n" +
		"  {\"client_id\": \"TWO\", \"redirect_uris\": [\"https://a.example.com/cb\", \"https://a.example.com/cb2\"]},\n" +
		"  {\"client_id\": \"HOST\", \"redirect_uris\": [\"https://a.example.com\"]},\n" +
		"  {\"client_id\": \"OFF\", \"disabled\": true, \"redirect_uris\": [\"https://a.example.com/cb\"]}\n" +
		"]}"
	s, err := Parse("clients.json", []byte(content), mustPolicy(t, policy.Production))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		decide func() Decision
		want   policy.Reason
	}{
		{func() Decision { return s.Decide("NATIVE", "http://127.0.0.1:49152/cb") }, policy.LoopbackMatch},
		{func() Decision { return s.Decide("NATIVE", "COM.EXAMPLE.APP:/cb") }, policy.ExactMatch},
		{func() Decision { return s.Decide("NATIVE", "com.example.app.evil:/cb") }, policy.RedirectURINotRegistered},
		{func() Decision { return s.Decide("WEB", "http://127.0.0.1:49152/cb") }, policy.InsecureScheme},
		{func() Decision { return s.Decide("WEB", "com.example.app:/cb") }, policy.DisallowedScheme},
		{func() Decision { return s.DecideLogout("NATIVE", "http://[::1]:5000/out") }, policy.LoopbackMatch},
		{func() Decision { return s.DecideLogout("NATIVE", "com.example.app:/cb") }, policy.PostLogoutRedirectURINotRegistered},
		{func() Decision { return s.DecideLogout("WEB", "https://a.example.com/out") }, policy.ExactMatch},
		{func() Decision { return s.DecideLogout("WEB", "https://a.example.com/cb") }, policy.PostLogoutRedirectURINotRegistered},
		{func() Decision { return s.DecideLogout("TWO", "https://a.example.com/cb") }, policy.NoRegisteredPostLogoutRedirectURIs},
		{func() Decision { return s.DecideLogout("OFF", "https://a.example.com/cb") }, policy.ClientDisabled},
		{func() Decision { return s.DecideLogout("NOPE", "https://a.example.com/cb") }, policy.UnknownClient},
		{func() Decision { return s.DecideOmitted("WEB") }, policy.OmittedRedirectURI},
		{func() Decision { return s.DecideOmitted("TWO") }, policy.MissingRedirectURI},
		{func() Decision { return s.DecideOmitted("HOST") }, policy.MissingRedirectURI},
		{func() Decision { return s.DecideOmitted("NATIVE") }, policy.MissingRedirectURI},
		{func() Decision { return s.DecideOmitted("OFF") }, policy.ClientDisabled},
		{func() Decision { return s.DecideOmitted("NOPE") }, policy.UnknownClient},
	} {
		d := c.decide()
		if d.Reason != c.want {
			t.Errorf("decision %s (%s), want %s", d.Reason, d.Detail, c.want)
		}
	}
	if d := s.DecideOmitted("WEB"); d.Entry == nil || d.Entry.Raw != "https://a.example.com/cb" {
		t.Errorf("DecideOmitted(WEB) entry = %v, want the registered URI", d.Entry)
	}
	if !s.Client("NATIVE").Native || s.Client("WEB").Native || s.Client("TWO").LogoutURIs.Len() != 0 {
		t.Error("client fields not read")
	}

	bad := "{\"clients\": [\n" +
		"  {\"client_id\": \"A\", \"application_type\": \"Native\"},\n" +
		"  {\"client_id\": \"B\", \"post_logout_redirect_uris\": [\"https://b.example.com/out\",\n \"HTTPS://B.example.com:443/out\"]},\n" +
		"  {\"client_id\": \"C\", \"Application_Type\": \"native\"}\n" +
		"]}"
	_, le := loadError(t, policy.Production, bad)
	wants := []struct {
		line           int
		client, substr string
	}{
		{2, "A", `client "A" application_type "Native" is not "web" or "native"`},
		{4, "B", `client "B" post_logout_redirect_uris[1] "HTTPS://B.example.com:443/out": duplicate of post_logout_redirect_uris[0] "https://b.example.com/out" after normalization`},
		{5, "", `unknown field "clients[2].Application_Type" (field names are case-sensitive: did you mean "application_type"?)`},
	}
	if len(le.Problems) != len(wants) {
		t.Fatalf("%d problems, want %d: %v", len(le.Problems), len(wants), le)
	}
	for i, w := range wants {
		if p := le.Problems[i]; p.Line != w.line || p.ClientID != w.client || !strings.Contains(p.Message, w.substr) {
			t.Errorf("problem %d = %+v, want line %d client %q %q", i, p, w.line, w.client, w.substr)
		}
	}
}
