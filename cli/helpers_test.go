package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

// Registries used by the tests, written to t.TempDir().
const (
	// prodRegistry has one client of each kind.
	prodRegistry = `{
  "environment": "production",
  "clients": [
    {
      "client_id": "APP-FULL",
      "name": "Full URIs",
      "redirect_uris": [
        "https://app.example.com/oauth/callback",
        "https://app.example.com/oauth/callback?tenant=a"
      ]
    },
    {
      "client_id": "APP-HOST",
      "name": "Host only",
      "redirect_uris": ["https://portal.example.org"]
    },
    {
      "client_id": "APP-OFF",
      "name": "Disabled",
      "disabled": true,
      "redirect_uris": ["https://old.example.net/cb"]
    },
    {
      "client_id": "APP-NONE",
      "name": "No URIs"
    }
  ]
}
`
	// fullRegistry registers full callback URIs only: the recommended way.
	fullRegistry = `{
  "environment": "production",
  "clients": [
    {
      "client_id": "APP-FULL",
      "name": "Full URIs",
      "redirect_uris": [
        "https://app.example.com/oauth/callback",
        "https://app.example.com/oauth/callback?tenant=a"
      ]
    },
    {
      "client_id": "APP-OTHER",
      "redirect_uris": ["https://other.example.net:8443/cb/"]
    }
  ]
}
`
	// sandboxRegistry has a native app, an http dev client and an
	// unrestricted client.
	sandboxRegistry = `{
  "environment": "sandbox",
  "clients": [
    {
      "client_id": "APP-NATIVE",
      "redirect_uris": ["http://127.0.0.1/cb", "http://localhost:8080/cb"]
    },
    {
      "client_id": "APP-DEV",
      "redirect_uris": ["http://dev.example.com:8000/cb"]
    },
    {
      "client_id": "APP-OPEN",
      "name": "Unrestricted"
    }
  ]
}
`
	// brokenRegistry does not load in production.
	brokenRegistry = `{
  "environment": "production",
  "clients": [
    {"client_id": "A", "redirect_uris": ["http://app.example.com/cb"]},
    {"client_id": "A", "redirect_uris": ["https://app.example.com/cb"]},
    {"client_id": "B", "Redirect_URIs": []}
  ]
}
`
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// position returns the 1-based line and column of the first occurrence of
// sub in content.
func position(t *testing.T, content, sub string) (int, int) {
	t.Helper()
	i := strings.Index(content, sub)
	if i < 0 {
		t.Fatalf("%q not in the file", sub)
	}
	line := strings.Count(content[:i], "\n") + 1
	col := i - (strings.LastIndexByte(content[:i], '\n') + 1) + 1
	return line, col
}

// result is the outcome of one command run.
type result struct {
	stdout, stderr string
	status         int
}

func (r result) String() string {
	return fmt.Sprintf("status %d\n--- stdout:\n%s--- stderr:\n%s", r.status, r.stdout, r.stderr)
}

// runCLI runs `caddy redirect-uri-policy args...` in process, through the
// command registered with caddycmd, wired as caddycmd does it (under a root
// command, with Use, Short and Long from the registration, then CobraFunc).
// The status is the one caddycmd.Main exits with for the error returned:
// 0 for nil, its own exit error's status, 1 for any other error.
func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	def, ok := caddycmd.Commands()[CommandName]
	if !ok {
		t.Fatalf("command %s is not registered", CommandName)
	}
	sub := &cobra.Command{Use: def.Name + " " + def.Usage, Short: def.Short, Long: def.Long}
	def.CobraFunc(sub)
	root := &cobra.Command{Use: "caddy", SilenceUsage: true}
	root.AddCommand(sub)
	var stdout, stderr bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs(append([]string{CommandName}, args...))
	err := root.ExecuteContext(context.Background())
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	switch {
	case err == nil:
	case errors.Is(err, errFindings):
		r.status = 1
	default:
		if _, scanErr := fmt.Sscanf(err.Error(), "exiting with status %d", &r.status); scanErr != nil || r.status < 2 {
			t.Fatalf("error %v is not one caddycmd.Main exits with a status for\n%s", err, r)
		}
	}
	return r
}

// expect fails t unless r has the status and every substring in its
// stdout.
func expect(t *testing.T, r result, status int, stdout ...string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d\n%s", r.status, status, r)
	}
	for _, s := range stdout {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q\n%s", s, r)
		}
	}
}

// expectStderr fails t unless stderr has every substring.
func expectStderr(t *testing.T, r result, stderr ...string) {
	t.Helper()
	for _, s := range stderr {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q\n%s", s, r)
		}
	}
}

// expectRow fails t unless a line of stdout has the cells in order, each
// separated from the next by the padding of a table (two spaces or more),
// so that column widths do not matter.
func expectRow(t *testing.T, r result, cells ...string) {
	t.Helper()
	if !rowMatches(r, cells...) {
		t.Errorf("no row %q\n%s", cells, r)
	}
}

func rowMatches(r result, cells ...string) bool {
	quoted := make([]string, len(cells))
	for i, c := range cells {
		quoted[i] = regexp.QuoteMeta(c)
	}
	return regexp.MustCompile(`(?m)^.*` + strings.Join(quoted, ` {2,}`)).MatchString(r.stdout)
}
