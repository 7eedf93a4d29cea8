package policy

import (
	"encoding/json"
	"os"
	"testing"
)

// corpusCase is one test vector of testdata/redirect_cases.json.
type corpusCase struct {
	ID            string      `json:"id"`
	Class         string      `json:"class"`
	Environment   Environment `json:"environment"`
	Registered    []string    `json:"registered"`
	RedirectURI   *string     `json:"redirect_uri"`
	RawQuery      *string     `json:"raw_query"`
	Expect        string      `json:"expect"`
	RegistryError bool        `json:"registry_error"`
	Note          string      `json:"note"`
}

func loadCorpus(t testing.TB) []corpusCase {
	t.Helper()
	data, err := os.ReadFile("testdata/redirect_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Cases []corpusCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) == 0 {
		t.Fatal("corpus has no cases")
	}
	return file.Cases
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
			p := mustPolicy(t, c.Environment, MatchExact)
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
