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

func BenchmarkDecide(b *testing.B) {
	cases := []struct {
		name   string
		match  MatchMode
		target string // the last registered URI
		req    string
		want   Reason
	}{
		{"exact", MatchExact, "https://library.example.edu/orcid/callback",
			"https://library.example.edu/orcid/callback", ExactMatch},
		// The same registration written another way (letter case, default
		// port): decided by parsing, without the shortcut for requests
		// identical to a normalized registration.
		{"exact-parsed", MatchExact, "https://library.example.edu/orcid/callback",
			"https://Library.Example.edu:443/orcid/callback", ExactMatch},
		{"host-only", MatchExact, "https://portal.example.edu",
			"https://portal.example.edu/orcid/callback?state=af0ifjsldkj", HostMatch},
		{"prefix", MatchPrefix, "https://library.example.edu/orcid",
			"https://library.example.edu/orcid/callback/step2?state=af0ifjsldkj", PrefixMatch},
		{"miss", MatchExact, "https://library.example.edu/orcid/callback",
			"https://evil.example/orcid/callback", RedirectURINotRegistered},
	}
	for _, c := range cases {
		for _, n := range []int{1, 100, 5000} {
			b.Run(fmt.Sprintf("%s/uris=%d", c.name, n), func(b *testing.B) {
				p := policyFor(b, Production, c.match, 0)
				s := mustCompile(b, p, benchRegistered(n, c.target))
				if d := s.Decide(c.req); d.Reason != c.want {
					b.Fatalf("Decide(%q) = %s, want %s", c.req, d.Reason, c.want)
				}
				b.ReportAllocs()
				for b.Loop() {
					s.Decide(c.req)
				}
			})
		}
	}
}

// BenchmarkDecideNative decides a native app's requests (RFC 8252): a
// loopback port other than the registered one and a private-use scheme in
// another letter case, both decided by parsing.
func BenchmarkDecideNative(b *testing.B) {
	for _, c := range []struct {
		name, target, req string
		want              Reason
	}{
		{"loopback", "http://127.0.0.1/oauth2redirect", "http://127.0.0.1:51004/oauth2redirect", LoopbackMatch},
		{"private-use", "com.example.app:/oauth2redirect", "COM.Example.App:/oauth2redirect", ExactMatch},
	} {
		for _, n := range []int{1, 100} {
			b.Run(fmt.Sprintf("%s/uris=%d", c.name, n), func(b *testing.B) {
				p := policyFor(b, Production, MatchExact, 0)
				s, err := p.CompileRules(benchRegistered(n, c.target), Rules{Native: true})
				if err != nil {
					b.Fatal(err)
				}
				if d := s.Decide(c.req); d.Reason != c.want {
					b.Fatalf("Decide(%q) = %s, want %s", c.req, d.Reason, c.want)
				}
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
