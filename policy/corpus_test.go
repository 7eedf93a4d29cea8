package policy

import (
	"testing"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/corpus"
)

// loadCorpus reads the copy of the public corpus in testdata.
func loadCorpus(t testing.TB) []corpus.Case {
	return corpus.Load(t, "testdata/redirect_cases.json")
}

func mustPolicy(t testing.TB, env Environment, match MatchMode) *Policy {
	t.Helper()
	p, err := New(Options{Environment: env, Match: match})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCorpus runs every public test vector about redirect URIs through the
// public API. Vectors with a raw_query are about the HTTP request and are
// run by the Caddy module's tests.
func TestCorpus(t *testing.T) {
	ran := 0
	for _, c := range loadCorpus(t) {
		if c.RawQuery != nil {
			continue
		}
		ran++
		t.Run(c.ID, func(t *testing.T) {
			p := mustPolicy(t, Environment(c.Environment), MatchExact)
			set, err := p.Compile(c.Registered)
			if c.RegistryError {
				if err == nil {
					t.Fatalf("Compile(%q) succeeded, want a registry error (%s)", c.Registered, c.Note)
				}
				return
			}
			if err != nil {
				t.Fatalf("Compile(%q): %v", c.Registered, err)
			}
			d := set.Decide(*c.RedirectURI)
			if got := map[bool]string{true: "allow", false: "reject"}[d.Allowed()]; got != c.Expect {
				t.Errorf("Decide(%q) = %s (%s: %s), want %s (%s)", *c.RedirectURI, got, d.Reason, d.Detail, c.Expect, c.Note)
			}
		})
	}
	if ran < 150 {
		t.Fatalf("ran %d corpus cases, want the 150 or more without raw_query", ran)
	}
}
