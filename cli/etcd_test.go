package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/etcdtest"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry/etcd"
)

// TestPublishExportLintCheckWithEtcd runs the tools against a real etcd
// member: publish writes only differences, in transactions within etcd's
// limits, and nothing for an invalid file; export, lint and check read
// the prefix.
func TestPublishExportLintCheckWithEtcd(t *testing.T) {
	cl := etcdtest.Start(t, 1)
	c := cl.Client()
	ep := cl.Endpoints()[0]
	const prefix = "/rup/production/"
	flags := []string{"--etcd", ep, "--prefix", prefix, "--environment", "production"}
	args := func(more ...string) []string { return append(append([]string{}, flags...), more...) }

	// Nothing is written for an invalid file.
	broken := writeFile(t, "broken.json", brokenRegistry)
	r := runCLI(t, append([]string{"publish"}, args(broken)...)...)
	expect(t, r, exitUsage)
	if !strings.Contains(r.stderr, "nothing written") {
		t.Errorf("publish of a broken file does not say nothing was written:\n%s", r)
	}
	if resp, err := c.Get(context.Background(), prefix, clientv3.WithPrefix()); err != nil || resp.Count != 0 {
		t.Fatalf("keys after a refused publish: %v, %v", resp, err)
	}

	// A registry larger than one transaction: 300 clients.
	var b strings.Builder
	b.WriteString(`{"environment": "production", "clients": [`)
	for i := range 300 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"client_id": "APP-%03d", "redirect_uris": ["https://app%d.example.com/cb"]}`, i, i)
	}
	b.WriteString("]}")
	big := writeFile(t, "big.json", b.String())
	r = runCLI(t, append([]string{"publish", "--dry-run"}, args(big)...)...)
	expect(t, r, exitOK, "add    "+prefix+"clients/APP-000", "300 added, 0 updated, 0 deleted, 0 unchanged", "dry run: nothing written")
	if resp, _ := c.Get(context.Background(), prefix, clientv3.WithPrefix()); resp.Count != 0 {
		t.Fatalf("--dry-run wrote %d keys", resp.Count)
	}
	r = runCLI(t, append([]string{"publish", "--format", "json"}, args(big)...)...)
	expect(t, r, exitOK)
	var rep struct {
		Changes      []etcd.Change `json:"changes"`
		Transactions int           `json:"transactions"`
		Written      bool          `json:"written"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Changes) != 300 || rep.Transactions != 3 || !rep.Written {
		t.Fatalf("publish of 300 clients: %d changes in %d transactions (written %v), want 300 in 3", len(rep.Changes), rep.Transactions, rep.Written)
	}

	// Publishing the same file again changes nothing; an edit changes
	// one key; a removal deletes one; a hand-written invalid value is
	// replaced.
	r = runCLI(t, append([]string{"publish"}, args(big)...)...)
	expect(t, r, exitOK, "0 added, 0 updated, 0 deleted, 300 unchanged", "nothing to write")
	if _, err := c.Put(context.Background(), etcd.Key(prefix, "APP-007"), `{"client_id": "APP-007", "redirect_uris": ["http://bad.example.com/cb"]}`); err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(b.String(), "https://app1.example.com/cb", "https://app1.example.com/new", 1)
	edited = strings.Replace(edited, `{"client_id": "APP-299", "redirect_uris": ["https://app299.example.com/cb"]}`, `{"client_id": "APP-300", "redirect_uris": []}`, 1)
	r = runCLI(t, append([]string{"publish"}, args(writeFile(t, "edited.json", edited))...)...)
	expect(t, r, exitOK, "update "+prefix+"clients/APP-001\n", "update "+prefix+"clients/APP-007 (replaces an invalid value: ", "delete "+prefix+"clients/APP-299", "add    "+prefix+"clients/APP-300", "1 added, 2 updated, 1 deleted, 297 unchanged", "1 transaction")

	// check and lint read etcd.
	r = runCLI(t, append([]string{"check", "--client", "APP-001", "--redirect-uri", "https://app1.example.com/new"}, flags...)...)
	expect(t, r, exitOK, "decision:     allowed")
	r = runCLI(t, append([]string{"lint"}, flags...)...)
	expect(t, r, exitOK, "0 errors, 0 warnings (300 clients, 299 redirect URIs)")
	if _, err := c.Put(context.Background(), etcd.Key(prefix, "APP-002"), `{"client_id": "APP-002", "redirect_uris": ["https://*.example.com/cb"]}`); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, append([]string{"lint"}, flags...)...)
	expect(t, r, exitUsage, prefix+"clients/APP-002:1:44: error: client \"APP-002\" redirect_uris[0]", "1 error, 0 warnings: the registry does not load")

	// export refuses while a value is invalid, then writes a file that
	// loads and holds what etcd holds.
	out := filepath.Join(t.TempDir(), "exported.json")
	r = runCLI(t, append([]string{"export", "--output", out}, flags...)...)
	expect(t, r, exitUsage)
	if _, err := os.Stat(out); err == nil {
		t.Fatal("export wrote a file despite an invalid value")
	}
	r = runCLI(t, append([]string{"publish"}, args(writeFile(t, "edited.json", edited))...)...)
	expect(t, r, exitOK, "0 added, 1 updated, 0 deleted, 299 unchanged")
	r = runCLI(t, append([]string{"export", "--output", out}, flags...)...)
	expect(t, r, exitOK)
	r = runCLI(t, "lint", "--registry", out, "--environment", "production")
	expect(t, r, exitOK, "0 errors, 0 warnings (300 clients, 299 redirect URIs)")
	r = runCLI(t, append([]string{"publish"}, args(out)...)...)
	expect(t, r, exitOK, "300 unchanged", "nothing to write")

	// Usage mistakes.
	expect(t, runCLI(t, "lint", "--registry", out, "--etcd", ep, "--prefix", prefix, "--environment", "production"), exitUsage)
	expect(t, runCLI(t, "publish", "--etcd", ep, "--environment", "production", big), exitUsage)
}
