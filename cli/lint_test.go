package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestLintClean(t *testing.T) {
	f := writeFile(t, "full.json", fullRegistry)
	r := runCLI(t, "lint", "--registry", f, "--environment", "production")
	expect(t, r, 0, "0 errors, 0 warnings (2 clients, 3 redirect URIs)\n")
	if strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("a clean file prints the summary only\n%s", r)
	}
	// --strict changes nothing without warnings.
	r = runCLI(t, "lint", "--registry", f, "--environment", "production", "--strict")
	expect(t, r, 0, "0 errors, 0 warnings")
}

func TestLintWarnings(t *testing.T) {
	f := writeFile(t, "prod.json", prodRegistry)
	line, col := position(t, prodRegistry, `"https://portal.example.org"`)
	want := fmt.Sprintf("%s:%d:%d: warning: client \"APP-HOST\" redirect_uris[0] \"https://portal.example.org\" is host-only", f, line, col)

	r := runCLI(t, "lint", "--registry", f, "--environment", "production")
	expect(t, r, 0, want, "0 errors, 1 warning (4 clients, 4 redirect URIs)")

	r = runCLI(t, "lint", "--registry", f, "--environment", "production", "--strict")
	expect(t, r, 1, want, "0 errors, 1 warning", "--strict: warnings fail")

	// Sandbox warnings: http and the unrestricted client.
	sf := writeFile(t, "sandbox.json", sandboxRegistry)
	r = runCLI(t, "lint", "--registry", sf, "--environment", "sandbox", "--strict")
	expect(t, r, 1, `warning: client "APP-DEV" redirect_uris[0] "http://dev.example.com:8000/cb" uses http`,
		`warning: client "APP-OPEN" has no registered redirect URIs`, "0 errors, 2 warnings")
}

func TestLintErrors(t *testing.T) {
	f := writeFile(t, "broken.json", brokenRegistry)
	r := runCLI(t, "lint", "--registry", f, "--environment", "production")
	uriLine, uriCol := position(t, brokenRegistry, `"http://app.example.com/cb"`)
	dupLine, _ := position(t, brokenRegistry, `{"client_id": "A", "redirect_uris": ["https://`)
	keyLine, keyCol := position(t, brokenRegistry, `"Redirect_URIs"`)
	expect(t, r, 2,
		fmt.Sprintf("%s:%d:%d: error: ", f, uriLine, uriCol), "production requires https",
		fmt.Sprintf("%s:%d:", f, dupLine), `duplicate client_id "A"`,
		fmt.Sprintf("%s:%d:%d: error: ", f, keyLine, keyCol), `did you mean "redirect_uris"?`,
		"3 errors, 0 warnings: the registry does not load")
	// Problems come in file order.
	if a, b := strings.Index(r.stdout, "production requires https"), strings.Index(r.stdout, "did you mean"); a > b {
		t.Errorf("problems are not in file order\n%s", r)
	}

	// The wrong environment is an error too.
	sf := writeFile(t, "sandbox.json", sandboxRegistry)
	r = runCLI(t, "lint", "--registry", sf, "--environment", "production")
	expect(t, r, 2, sf+":2:3: error: environment \"sandbox\" does not match", "the registry does not load")
}

func TestLintJSON(t *testing.T) {
	type report struct {
		File     string `json:"file"`
		Problems []struct {
			Severity string `json:"severity"`
			File     string `json:"file"`
			Line     int    `json:"line"`
			Column   int    `json:"column"`
			ClientID string `json:"client_id"`
			Message  string `json:"message"`
		} `json:"problems"`
		Errors, Warnings, Clients, RedirectURIs int
		Status                                  string `json:"status"`
		ExitCode                                int    `json:"exit_code"`
		Truncated                               *bool  `json:"truncated"`
	}
	decode := func(r result) report {
		t.Helper()
		var rep report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, r)
		}
		if rep.ExitCode != r.status {
			t.Errorf("exit_code %d, status %d", rep.ExitCode, r.status)
		}
		if rep.Truncated == nil || rep.Problems == nil {
			t.Errorf("truncated and problems must always be present\n%s", r)
		}
		return rep
	}

	f := writeFile(t, "prod.json", prodRegistry)
	r := runCLI(t, "lint", "--registry", f, "--environment", "production", "--format", "json", "--strict")
	rep := decode(r)
	expect(t, r, 1)
	if rep.File != f || rep.Errors != 0 || rep.Warnings != 1 || rep.Status != "warnings" || len(rep.Problems) != 1 ||
		rep.Problems[0].Severity != "warning" || rep.Problems[0].ClientID != "APP-HOST" || rep.Problems[0].Line == 0 || rep.Problems[0].Column == 0 {
		t.Errorf("report %+v\n%s", rep, r)
	}
	if !strings.Contains(r.stdout, `"redirect_uris": 4`) || !strings.Contains(r.stdout, `"clients": 4`) {
		t.Errorf("counts missing\n%s", r)
	}

	f = writeFile(t, "broken.json", brokenRegistry)
	r = runCLI(t, "lint", "--registry", f, "--environment", "production", "--format", "json")
	rep = decode(r)
	expect(t, r, 2)
	if rep.Errors != 3 || rep.Status != "errors" || len(rep.Problems) != 3 {
		t.Errorf("report %+v\n%s", rep, r)
	}
	for _, p := range rep.Problems {
		if p.Severity != "error" || p.File != f || p.Line < 4 || p.Column < 1 {
			t.Errorf("problem %+v", p)
		}
	}
	if r.stderr != "" {
		t.Errorf("JSON output writes nothing to stderr\n%s", r)
	}

	// An unreadable file is reported in the same object.
	r = runCLI(t, "lint", "--registry", f+".missing", "--environment", "production", "--format", "json")
	rep = decode(r)
	expect(t, r, 2, "no such file or directory")
	if rep.Errors != 1 || rep.Status != "errors" {
		t.Errorf("report %+v\n%s", rep, r)
	}
}

func TestLintUsage(t *testing.T) {
	f := writeFile(t, "full.json", fullRegistry)
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"lint", "--registry", f}, "--environment is required"},
		{[]string{"lint", "--environment", "production"}, "--registry is required"},
		{[]string{"lint", "--registry", f, "--environment", "staging"}, `unknown environment "staging"`},
		{[]string{"lint", "--registry", f, "--environment", "production", "--match", "fuzzy"}, `unknown match mode "fuzzy"`},
		{[]string{"lint", "--registry", f, "--environment", "production", "--format", "xml"}, `--format "xml"`},
		{[]string{"lint", "--registry", f, "--environment", "production", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"lint", "--registry", f, "--environment", "production", "extra"}, `unexpected argument "extra"`},
		{[]string{"frobnicate"}, `unknown subcommand "frobnicate"`},
		{nil, "a subcommand is required"},
	} {
		r := runCLI(t, tc.args...)
		expect(t, r, 2)
		expectStderr(t, r, tc.stderr)
		if r.stdout != "" {
			t.Errorf("%v: usage errors print nothing on stdout\n%s", tc.args, r)
		}
	}
}

func TestLintFileMissing(t *testing.T) {
	f := writeFile(t, "full.json", fullRegistry) + ".missing"
	r := runCLI(t, "lint", "--registry", f, "--environment", "production")
	expect(t, r, 2, f+": error: open "+f+": no such file or directory", "1 error, 0 warnings")
}
