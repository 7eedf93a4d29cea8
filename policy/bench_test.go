package policy

import (
	"fmt"
	"testing"
)

// benchRegistered returns n registered URIs: n-1 unrelated ones, a mix of
// full and host-only entries as a large client registers them, then target.
func benchRegistered(n int, target string) []string {
	uris := make([]string, 0, n)
	for i := 0; len(uris) < n-1; i++ {
		switch i % 4 {
		case 0, 1:
			uris = append(uris, fmt.Sprintf("https://app%05d.example.edu/orcid/callback", i))
		case 2:
			uris = append(uris, fmt.Sprintf("https://portal%05d.example.edu", i))
		default:
			uris = append(uris, fmt.Sprintf("https://lib%05d.example.edu/oauth/cb?tenant=%d", i, i))
		}
	}
	return append(uris, target)
}

// requestKind is one kind of request that Decide tells apart, against a
// set whose last registered URI is target.
type requestKind struct {
	name   string
	env    Environment
	match  MatchMode
	rules  Rules
	target string
	req    string
	want   Reason
}

// requestKinds are the kinds of requests the benchmarks time and
// TestDecideAllocs holds to no allocation.
var requestKinds = []requestKind{
	{"exact", Production, MatchExact, Rules{}, "https://library.example.edu/orcid/callback",
		"https://library.example.edu/orcid/callback", ExactMatch},
	// The same registration written another way (letter case, default
	// port): decided by parsing, without the shortcut for requests
	// identical to a normalized registration.
	{"exact-parsed", Production, MatchExact, Rules{}, "https://library.example.edu/orcid/callback",
		"https://Library.Example.edu:443/orcid/callback", ExactMatch},
	{"host-only", Production, MatchExact, Rules{}, "https://portal.example.edu",
		"https://portal.example.edu/orcid/callback?state=af0ifjsldkj", HostMatch},
	{"prefix", Production, MatchPrefix, Rules{}, "https://library.example.edu/orcid",
		"https://library.example.edu/orcid/callback/step2?state=af0ifjsldkj", PrefixMatch},
	{"prefix-parsed", Production, MatchPrefix, Rules{}, "https://library.example.edu/orcid",
		"https://LIBRARY.example.edu/orcid/callback/step2?state=af0ifjsldkj", PrefixMatch},
	{"miss", Production, MatchExact, Rules{}, "https://library.example.edu/orcid/callback",
		"https://evil.example/orcid/callback", RedirectURINotRegistered},
	{"sandbox-loopback", Sandbox, MatchExact, Rules{}, "http://localhost:3000/callback",
		"http://localhost:51004/callback", LoopbackMatch},
	// A native app's requests (RFC 8252): a loopback port other than the
	// registered one and a private-use scheme in another letter case,
	// both decided by parsing, and a post-logout URI.
	{"native-loopback", Production, MatchExact, Rules{Native: true}, "http://127.0.0.1/oauth2redirect",
		"http://127.0.0.1:51004/oauth2redirect", LoopbackMatch},
	{"native-private-use", Production, MatchExact, Rules{Native: true}, "com.example.app:/oauth2redirect",
		"COM.Example.App:/oauth2redirect", ExactMatch},
	{"native-miss", Production, MatchExact, Rules{Native: true}, "com.example.app:/oauth2redirect",
		"com.example.app:/other", RedirectURINotRegistered},
	{"logout", Production, MatchExact, Rules{Logout: true}, "https://library.example.edu/signed-out",
		"https://LIBRARY.example.edu/signed-out", ExactMatch},
}

// decideSizes are the numbers of registered URIs Decide is measured with:
// one set scanned, two indexed.
var decideSizes = []int{1, 100, 5000}

// set compiles the set of c with n registered URIs.
func (c requestKind) set(t testing.TB, n int) *Set {
	t.Helper()
	p := policyFor(t, c.env, c.match, 0)
	regs := benchRegistered(n, c.target)
	if c.rules.Logout {
		regs = regs[:0]
		for i := 0; len(regs) < n-1; i++ { // no host-only entries
			regs = append(regs, fmt.Sprintf("https://app%05d.example.edu/signed-out", i))
		}
		regs = append(regs, c.target)
	}
	s, err := p.CompileRules(regs, c.rules)
	if err != nil {
		t.Fatal(err)
	}
	if d := s.Decide(c.req); d.Reason != c.want {
		t.Fatalf("Decide(%q) = %s, want %s", c.req, d.Reason, c.want)
	}
	return s
}

func BenchmarkDecide(b *testing.B) {
	for _, c := range requestKinds {
		for _, n := range decideSizes {
			b.Run(fmt.Sprintf("%s/uris=%d", c.name, n), func(b *testing.B) {
				s := c.set(b, n)
				b.ReportAllocs()
				for b.Loop() {
					s.Decide(c.req)
				}
			})
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	p := policyFor(b, Production, MatchExact, 0)
	uris := benchRegistered(5000, "https://library.example.edu/orcid/callback")
	b.Run("uris=5000", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Compile(uris); err != nil {
				b.Fatal(err)
			}
		}
	})
}
