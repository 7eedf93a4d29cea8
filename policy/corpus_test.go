package policy

import (
	"slices"
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
		t.Run(c.ID, func(t *testing.T) { runCorpusCase(t, c, MatchExact) })
	}
	if ran < 150 {
		t.Fatalf("ran %d corpus cases, want the 150 or more without raw_query", ran)
	}
}

// runCorpusCase compiles the case's registrations with its client's rules
// and decides its redirect URI.
func runCorpusCase(t *testing.T, c corpus.Case, match MatchMode) Decision {
	t.Helper()
	p := mustPolicy(t, Environment(c.Environment), match)
	set, err := p.CompileRules(c.Registered, Rules{Native: c.Native(), Logout: c.Endpoint == "logout"})
	if c.RegistryError {
		if err == nil {
			t.Fatalf("Compile(%q) succeeded, want a registry error (%s)", c.Registered, c.Note)
		}
		return Decision{}
	}
	if err != nil {
		t.Fatalf("Compile(%q): %v", c.Registered, err)
	}
	d := set.Decide(*c.RedirectURI)
	if got := map[bool]string{true: "allow", false: "reject"}[d.Allowed()]; got != c.Expect {
		t.Errorf("Decide(%q) = %s (%s: %s), want %s (%s)", *c.RedirectURI, got, d.Reason, d.Detail, c.Expect, c.Note)
	}
	return d
}

// TestNativeAndLogoutCorpus runs the corpora of native clients and of
// logout redirects, in both match modes: a native client's loopback and
// private-use URIs and every post-logout URI match exactly in either.
func TestNativeAndLogoutCorpus(t *testing.T) {
	for _, file := range []string{"testdata/native_cases.json", "testdata/logout_cases.json"} {
		cases := corpus.Load(t, file)
		for _, match := range []MatchMode{MatchExact, MatchPrefix} {
			for _, c := range cases {
				t.Run(string(match)+"/"+c.ID, func(t *testing.T) {
					d := runCorpusCase(t, c, match)
					if c.RegistryError || d.Allowed() {
						return
					}
					if d.Detail == "" || !slices.Contains(RejectReasons, d.Reason) {
						t.Errorf("rejection %q (detail %q) is not a reject reason with a detail", d.Reason, d.Detail)
					}
					if c.Endpoint == "logout" && (d.Reason == RedirectURINotRegistered || d.Reason == NoRegisteredRedirectURIs) {
						t.Errorf("logout rejection uses the authorize reason %s", d.Reason)
					}
				})
			}
		}
		if len(cases) < 40 {
			t.Errorf("%s has %d cases", file, len(cases))
		}
	}
}
