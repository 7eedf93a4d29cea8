package policy

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

type decideCase struct {
	name       string
	env        Environment // both, Sandbox or Production
	registered []string
	req        string
	want       Reason
	entry      string // Raw of the entry that allowed the request; "" for none
}

func runDecideCases(t *testing.T, match MatchMode, cases []decideCase) {
	t.Helper()
	runRulesCases(t, match, Rules{}, cases)
}

// runRulesCases runs cases against sets compiled with rules.
func runRulesCases(t *testing.T, match MatchMode, rules Rules, cases []decideCase) {
	t.Helper()
	for _, c := range cases {
		for _, env := range envs(c.env) {
			t.Run(string(env)+"/"+c.name, func(t *testing.T) {
				p := policyFor(t, env, match, 0)
				d := decideEverywhere(t, p, rules, c.registered, c.req)
				if d.Reason != c.want || entryRaw(d) != c.entry {
					t.Errorf("registered %q, Decide(%q) = %s (entry %q, %s), want %s (entry %q)",
						c.registered, c.req, d.Reason, entryRaw(d), d.Detail, c.want, c.entry)
				}
				if d.Allowed() != c.want.Allows() {
					t.Errorf("Allowed() = %v for %s", d.Allowed(), d.Reason)
				}
				if !d.Allowed() && d.Detail == "" {
					t.Errorf("rejection %s has no detail", d.Reason)
				}
			})
		}
	}
}

var (
	orcid  = "https://library.example.edu/orcid/callback"
	portal = "https://portal.example.edu"
)

func TestDecideExact(t *testing.T) {
	runDecideCases(t, MatchExact, []decideCase{
		// Full entries.
		{"exact", both, []string{orcid}, orcid, ExactMatch, orcid},
		{"exact, host in capitals", both, []string{orcid}, "https://LIBRARY.Example.EDU/orcid/callback", ExactMatch, orcid},
		{"exact, scheme in capitals", both, []string{orcid}, "HTTPS://library.example.edu/orcid/callback", ExactMatch, orcid},
		{"exact, default port written", both, []string{orcid}, "https://library.example.edu:443/orcid/callback", ExactMatch, orcid},
		{"exact, registered with default port", both, []string{"https://library.example.edu:443/orcid/callback"}, orcid, ExactMatch, "https://library.example.edu:443/orcid/callback"},
		{"exact with query", both, []string{orcid + "?a=1&b=2"}, orcid + "?a=1&b=2", ExactMatch, orcid + "?a=1&b=2"},
		{"exact with port", both, []string{"https://app.example:8443/cb"}, "https://app.example:8443/cb", ExactMatch, "https://app.example:8443/cb"},
		{"exact, root with query", both, []string{"https://app.example?x=1"}, "https://app.example/?x=1", ExactMatch, "https://app.example?x=1"},
		{"exact IPv6", both, []string{"https://[2001:db8::1]/cb"}, "https://[2001:DB8:0:0:0:0:0:1]:443/cb", ExactMatch, "https://[2001:db8::1]/cb"},
		{"exact IPv4", both, []string{"https://192.0.2.10/cb"}, "https://192.0.2.10/cb", ExactMatch, "https://192.0.2.10/cb"},
		{"exact http in sandbox", Sandbox, []string{"http://app.example/cb"}, "http://app.example/cb", ExactMatch, "http://app.example/cb"},
		{"path case differs", both, []string{orcid}, "https://library.example.edu/ORCID/callback", RedirectURINotRegistered, ""},
		{"trailing slash added", both, []string{orcid}, orcid + "/", RedirectURINotRegistered, ""},
		{"trailing slash removed", both, []string{orcid + "/"}, orcid, RedirectURINotRegistered, ""},
		{"sub-path", both, []string{orcid}, orcid + "/x", RedirectURINotRegistered, ""},
		{"suffix appended", both, []string{orcid}, orcid + "evil", RedirectURINotRegistered, ""},
		{"parent path", both, []string{orcid}, "https://library.example.edu/orcid", RedirectURINotRegistered, ""},
		{"query added", both, []string{orcid}, orcid + "?x=1", RedirectURINotRegistered, ""},
		{"empty query added", both, []string{orcid}, orcid + "?", RedirectURINotRegistered, ""},
		{"query removed", both, []string{orcid + "?x=1"}, orcid, RedirectURINotRegistered, ""},
		{"query reordered", both, []string{orcid + "?a=1&b=2"}, orcid + "?b=2&a=1", RedirectURINotRegistered, ""},
		{"query value case", both, []string{orcid + "?a=x"}, orcid + "?a=X", RedirectURINotRegistered, ""},
		{"encoded slash", both, []string{orcid}, "https://library.example.edu/orcid%2Fcallback", RedirectURINotRegistered, ""},
		{"encoded letter", both, []string{orcid}, "https://library.example.edu/%6Frcid/callback", RedirectURINotRegistered, ""},
		{"escape case", both, []string{"https://app.example/a%2fb"}, "https://app.example/a%2Fb", RedirectURINotRegistered, ""},
		{"double slash", both, []string{orcid}, "https://library.example.edu//orcid/callback", RedirectURINotRegistered, ""},
		{"path parameter", both, []string{orcid}, orcid + ";x=1", RedirectURINotRegistered, ""},
		{"other port", both, []string{orcid}, "https://library.example.edu:8443/orcid/callback", RedirectURINotRegistered, ""},
		{"http for https", Sandbox, []string{orcid}, "http://library.example.edu/orcid/callback", RedirectURINotRegistered, ""},
		{"https for http", Sandbox, []string{"http://app.example/cb"}, "https://app.example/cb", RedirectURINotRegistered, ""},
		{"subdomain", both, []string{orcid}, "https://evil.library.example.edu/orcid/callback", RedirectURINotRegistered, ""},
		{"parent domain", both, []string{orcid}, "https://example.edu/orcid/callback", RedirectURINotRegistered, ""},
		{"host with suffix", both, []string{orcid}, "https://library.example.edu.evil.example/orcid/callback", RedirectURINotRegistered, ""},
		{"host with prefix", both, []string{orcid}, "https://xlibrary.example.edu/orcid/callback", RedirectURINotRegistered, ""},
		{"non-default port is not the default", both, []string{"https://app.example:8443/cb"}, "https://app.example/cb", RedirectURINotRegistered, ""},
		{"http port 443 is not https", Sandbox, []string{"https://app.example/cb"}, "http://app.example:443/cb", RedirectURINotRegistered, ""},
		{"IPv4 as mapped IPv6", both, []string{"https://192.0.2.10/cb"}, "https://[::ffff:192.0.2.10]/cb", RedirectURINotRegistered, ""},

		// Host-only entries.
		{"host-only, root", both, []string{portal}, "https://portal.example.edu/", HostMatch, portal},
		{"host-only, no path", both, []string{portal}, portal, HostMatch, portal},
		{"host-only, any path and query", both, []string{portal}, "https://portal.example.edu/any/path?x=1&y", HostMatch, portal},
		{"host-only with slash", both, []string{portal + "/"}, "https://portal.example.edu/cb", HostMatch, portal + "/"},
		{"host-only, default port", both, []string{portal + ":443"}, "https://PORTAL.example.edu/cb", HostMatch, portal + ":443"},
		{"host-only with port", both, []string{portal + ":8443"}, "https://portal.example.edu:8443/x", HostMatch, portal + ":8443"},
		{"host-only, other port", both, []string{portal}, "https://portal.example.edu:8443/x", RedirectURINotRegistered, ""},
		{"host-only with port, no port", both, []string{portal + ":8443"}, "https://portal.example.edu/x", RedirectURINotRegistered, ""},
		{"host-only, subdomain", both, []string{portal}, "https://a.portal.example.edu/", RedirectURINotRegistered, ""},
		{"host-only, longer host", both, []string{portal}, "https://portal.example.edux/", RedirectURINotRegistered, ""},
		{"host-only, http", Sandbox, []string{portal}, "http://portal.example.edu/", RedirectURINotRegistered, ""},
		{"host-only http, https", Sandbox, []string{"http://portal.example.edu"}, "https://portal.example.edu/", RedirectURINotRegistered, ""},
		{"root with empty query is full", both, []string{"https://app.example/?"}, "https://app.example/x", RedirectURINotRegistered, ""},
		{"root with query is full", both, []string{"https://app.example/?x=1"}, "https://app.example/", RedirectURINotRegistered, ""},

		// Several entries: exact wins over host-only, first registered among equals.
		{"exact before host-only", both, []string{portal, portal + "/cb"}, portal + "/cb", ExactMatch, portal + "/cb"},
		{"host-only when no exact", both, []string{portal + "/cb", portal}, portal + "/other", HostMatch, portal},
		{"second of several", both, []string{orcid, portal, "https://app.example/cb"}, "https://app.example/cb", ExactMatch, "https://app.example/cb"},
		{"none of several", both, []string{orcid, portal, "https://app.example/cb"}, "https://app.example/cb2", RedirectURINotRegistered, ""},

		// No registered URIs.
		{"no URIs in production", Production, nil, orcid, NoRegisteredRedirectURIs, ""},
		{"empty list in production", Production, []string{}, portal, NoRegisteredRedirectURIs, ""},
		{"unrestricted sandbox client", Sandbox, nil, "https://anything.example:8443/x?y=1", UnrestrictedClient, ""},
		{"unrestricted, http", Sandbox, []string{}, "http://anything.example/cb", UnrestrictedClient, ""},
		{"unrestricted, loopback", Sandbox, nil, "http://127.0.0.1:5000/cb", UnrestrictedClient, ""},
		{"unrestricted, still syntax", Sandbox, nil, "https://anything.example/cb#x", FragmentInRedirectURI, ""},
		{"unrestricted, still traversal", Sandbox, nil, "https://anything.example/../cb", PathTraversal, ""},
		{"unrestricted, still scheme", Sandbox, nil, "myapp://cb", DisallowedScheme, ""},
		{"unrestricted, still unspecified", Sandbox, nil, "http://0.0.0.0/cb", MalformedRedirectURI, ""},
		{"no URIs, syntax first", Production, nil, "https://u@app.example/", UserinfoInRedirectURI, ""},
		{"no URIs, environment first", Production, nil, "http://app.example/", InsecureScheme, ""},
		{"no URIs, loopback first", Production, nil, "https://localhost/", LoopbackNotAllowed, ""},

		// Rules of the environment before matching.
		{"insecure before not registered", Production, []string{orcid}, "http://library.example.edu/orcid/callback", InsecureScheme, ""},
		{"loopback request in production", Production, []string{orcid}, "https://127.0.0.1:8443/cb", LoopbackNotAllowed, ""},
		{"mapped loopback request in production", Production, []string{orcid}, "https://[::ffff:127.0.0.1]/cb", LoopbackNotAllowed, ""},
		{"x.localhost request in production", Production, []string{orcid}, "https://x.localhost/cb", LoopbackNotAllowed, ""},
		{"LOCALHOST request in production", Production, []string{orcid}, "https://LOCALHOST/cb", LoopbackNotAllowed, ""},
		{"unspecified request in production", Production, []string{orcid}, "https://0.0.0.0/orcid/callback", LoopbackNotAllowed, ""},
		{"unspecified request in sandbox", Sandbox, []string{orcid}, "https://[::]/orcid/callback", MalformedRedirectURI, ""},
	})
}

// TestDecideLoopback covers the sandbox loopback rule: a registered loopback
// entry matches the same host on any port, and loopback_match says so.
func TestDecideLoopback(t *testing.T) {
	runDecideCases(t, MatchExact, []decideCase{
		{"IPv4, ephemeral port", Sandbox, []string{"http://127.0.0.1/callback"}, "http://127.0.0.1:51004/callback", LoopbackMatch, "http://127.0.0.1/callback"},
		{"IPv4, same port", Sandbox, []string{"http://127.0.0.1/callback"}, "http://127.0.0.1/callback", ExactMatch, "http://127.0.0.1/callback"},
		{"IPv4, default port written", Sandbox, []string{"http://127.0.0.1/callback"}, "http://127.0.0.1:80/callback", ExactMatch, "http://127.0.0.1/callback"},
		{"IPv6, ephemeral port", Sandbox, []string{"http://[::1]/callback"}, "http://[::1]:61023/callback", LoopbackMatch, "http://[::1]/callback"},
		{"IPv6, long form", Sandbox, []string{"http://[::1]/callback"}, "http://[0:0:0:0:0:0:0:1]:5000/callback", LoopbackMatch, "http://[::1]/callback"},
		{"IPv6 long form registered", Sandbox, []string{"http://[0:0:0:0:0:0:0:1]:80/callback"}, "http://[::1]/callback", ExactMatch, "http://[0:0:0:0:0:0:0:1]:80/callback"},
		{"localhost, other port", Sandbox, []string{"http://localhost:3000/orcid/cb"}, "http://localhost:8888/orcid/cb", LoopbackMatch, "http://localhost:3000/orcid/cb"},
		{"localhost, same port", Sandbox, []string{"http://localhost:3000/orcid/cb"}, "http://localhost:3000/orcid/cb", ExactMatch, "http://localhost:3000/orcid/cb"},
		{"localhost, port omitted", Sandbox, []string{"http://localhost:3000/orcid/cb"}, "http://localhost/orcid/cb", LoopbackMatch, "http://localhost:3000/orcid/cb"},
		{"LOCALHOST", Sandbox, []string{"http://localhost:3000/cb"}, "http://LOCALHOST:9999/cb", LoopbackMatch, "http://localhost:3000/cb"},
		{"LOCALHOST same port", Sandbox, []string{"http://localhost:3000/cb"}, "http://LocalHost:3000/cb", ExactMatch, "http://localhost:3000/cb"},
		{"https localhost", Sandbox, []string{"https://localhost/cb"}, "https://localhost:8443/cb", LoopbackMatch, "https://localhost/cb"},
		{"x.localhost", Sandbox, []string{"http://dev.localhost:3000/cb"}, "http://dev.localhost:4000/cb", LoopbackMatch, "http://dev.localhost:3000/cb"},
		{"X.LOCALHOST", Sandbox, []string{"http://dev.localhost:3000/cb"}, "http://DEV.LOCALHOST/cb", LoopbackMatch, "http://dev.localhost:3000/cb"},
		{"mapped IPv4 loopback", Sandbox, []string{"http://[::ffff:127.0.0.1]/cb"}, "http://[::ffff:7f00:1]:8080/cb", LoopbackMatch, "http://[::ffff:127.0.0.1]/cb"},
		{"host-only, any port", Sandbox, []string{"http://localhost"}, "http://localhost:12324/callback", LoopbackMatch, "http://localhost"},
		{"host-only, same port", Sandbox, []string{"http://localhost"}, "http://localhost/callback", HostMatch, "http://localhost"},
		{"path still exact", Sandbox, []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:64000/other", RedirectURINotRegistered, ""},
		{"query still exact", Sandbox, []string{"http://127.0.0.1:8080/cb"}, "http://127.0.0.1:8080/cb?foo=bar", RedirectURINotRegistered, ""},
		{"scheme still exact", Sandbox, []string{"http://127.0.0.1/cb"}, "https://127.0.0.1:8443/cb", RedirectURINotRegistered, ""},
		{"localhost is not 127.0.0.1", Sandbox, []string{"http://localhost/cb"}, "http://127.0.0.1:8080/cb", RedirectURINotRegistered, ""},
		{"127.0.0.1 is not localhost", Sandbox, []string{"http://127.0.0.1/cb"}, "http://localhost/cb", RedirectURINotRegistered, ""},
		{"127.0.0.1 is not 127.0.0.2", Sandbox, []string{"http://127.0.0.1/cb"}, "http://127.0.0.2/cb", RedirectURINotRegistered, ""},
		{"127.0.0.1 is not [::1]", Sandbox, []string{"http://127.0.0.1/cb"}, "http://[::1]/cb", RedirectURINotRegistered, ""},
		{"127.0.0.1 is not mapped form", Sandbox, []string{"http://127.0.0.1/cb"}, "http://[::ffff:127.0.0.1]:8080/cb", RedirectURINotRegistered, ""},
		{"x.localhost is not localhost", Sandbox, []string{"http://localhost/cb"}, "http://x.localhost/cb", RedirectURINotRegistered, ""},
		{"unregistered loopback", Sandbox, []string{"https://app.example/cb"}, "http://localhost:8080/cb", RedirectURINotRegistered, ""},
		{"lookalike is not loopback", Sandbox, []string{"http://localhost:3000/cb"}, "http://localhost.evil.example:3000/cb", RedirectURINotRegistered, ""},
		{"non-loopback port kept", Sandbox, []string{"http://app.example:3000/cb"}, "http://app.example:4000/cb", RedirectURINotRegistered, ""},
		{"port 65535", Sandbox, []string{"http://localhost/cb"}, "http://localhost:65535/cb", LoopbackMatch, "http://localhost/cb"},
		{"port 65536", Sandbox, []string{"http://localhost/cb"}, "http://localhost:65536/cb", MalformedRedirectURI, ""},
		{"traversal on loopback", Sandbox, []string{"http://127.0.0.1:2355/op/callback"}, "http://127.0.0.1:8888/op/x/../callback", PathTraversal, ""},
		{"decimal loopback", Sandbox, []string{"http://127.0.0.1/cb"}, "http://2130706433:8080/cb", MalformedRedirectURI, ""},
		// Two entries the ignored port alone tells apart match the same
		// requests; the first registered is reported, in both code paths.
		{"two ports, first", Sandbox, []string{"http://localhost:3000", "http://localhost:4000"}, "http://localhost:3000/x", HostMatch, "http://localhost:3000"},
		{"two ports, second", Sandbox, []string{"http://localhost:3000", "http://localhost:4000"}, "http://localhost:4000/x", LoopbackMatch, "http://localhost:3000"},
		{"two full ports", Sandbox, []string{"http://localhost:3000/cb", "http://localhost:4000/cb"}, "http://localhost:5000/cb", LoopbackMatch, "http://localhost:3000/cb"},
		{"exact before loopback host-only", Sandbox, []string{"http://localhost:3000", "http://localhost:4000/cb"}, "http://localhost:5000/cb", LoopbackMatch, "http://localhost:4000/cb"},
	})
}

func TestDecidePrefix(t *testing.T) {
	const base = "https://app.example/orcid"
	runDecideCases(t, MatchPrefix, []decideCase{
		{"equal", both, []string{base}, base, ExactMatch, base},
		{"one segment more", both, []string{base}, base + "/callback", PrefixMatch, base},
		{"two segments more", both, []string{base}, base + "/a/b", PrefixMatch, base},
		{"trailing slash", both, []string{base}, base + "/", PrefixMatch, base},
		{"double slash", both, []string{base}, base + "//x", PrefixMatch, base},
		{"no segment boundary", both, []string{base}, base + "evil", RedirectURINotRegistered, ""},
		{"no boundary, deeper", both, []string{base}, base + "evil/callback", RedirectURINotRegistered, ""},
		{"dot is no boundary", both, []string{base}, base + ".evil", RedirectURINotRegistered, ""},
		{"semicolon is no boundary", both, []string{base}, base + ";x/cb", RedirectURINotRegistered, ""},
		{"encoded slash is no boundary", both, []string{base}, base + "%2Fcb", RedirectURINotRegistered, ""},
		{"shorter", both, []string{base}, "https://app.example/orci", RedirectURINotRegistered, ""},
		{"root", both, []string{base}, "https://app.example/", RedirectURINotRegistered, ""},
		{"path case", both, []string{base}, "https://app.example/ORCID/cb", RedirectURINotRegistered, ""},
		{"other host", both, []string{base}, "https://evil.example/orcid/cb", RedirectURINotRegistered, ""},
		{"other port", both, []string{base}, "https://app.example:8443/orcid/cb", RedirectURINotRegistered, ""},
		{"other scheme", Sandbox, []string{base}, "http://app.example/orcid/cb", RedirectURINotRegistered, ""},
		{"traversal", both, []string{base}, base + "/../admin", PathTraversal, ""},
		{"encoded traversal", both, []string{base}, base + "/%2e%2e/admin", PathTraversal, ""},

		// The query is ignored by the prefix rule.
		{"query added", both, []string{base}, base + "?x=1", PrefixMatch, base},
		{"query added to longer path", both, []string{base}, base + "/cb?x=1", PrefixMatch, base},
		{"registered query, equal", both, []string{base + "?a=1"}, base + "?a=1", ExactMatch, base + "?a=1"},
		{"registered query, other query", both, []string{base + "?a=1"}, base + "?b=2", PrefixMatch, base + "?a=1"},
		{"registered query, no query", both, []string{base + "?a=1"}, base, PrefixMatch, base + "?a=1"},
		{"registered query, longer path", both, []string{base + "?a=1"}, base + "/cb?a=1", PrefixMatch, base + "?a=1"},
		{"registered query, no boundary", both, []string{base + "?a=1"}, base + "x?a=1", RedirectURINotRegistered, ""},
		{"query does not extend the path", both, []string{base}, "https://app.example/orc?id/x", RedirectURINotRegistered, ""},

		// Entries ending in '/'.
		{"slash entry, equal", both, []string{base + "/"}, base + "/", ExactMatch, base + "/"},
		{"slash entry, longer", both, []string{base + "/"}, base + "/callback", PrefixMatch, base + "/"},
		{"slash entry, double slash", both, []string{base + "/"}, base + "//x", PrefixMatch, base + "/"},
		{"slash entry, without slash", both, []string{base + "/"}, base, RedirectURINotRegistered, ""},
		{"slash entry, no boundary", both, []string{base + "/"}, base + "x/", RedirectURINotRegistered, ""},
		{"root full entry, any path", both, []string{"https://app.example/?x=1"}, "https://app.example/a/b", PrefixMatch, "https://app.example/?x=1"},
		{"root full entry, root", both, []string{"https://app.example/?x=1"}, "https://app.example/", PrefixMatch, "https://app.example/?x=1"},
		{"root full entry, no path", both, []string{"https://app.example?x=1"}, "https://app.example?y", PrefixMatch, "https://app.example?x=1"},
		{"root full entry, other host", both, []string{"https://app.example/?x=1"}, "https://app.example.evil/a", RedirectURINotRegistered, ""},

		// Several entries: exact, then host-only, then the longest prefix,
		// then the first registered.
		{"longest prefix", both, []string{base, base + "/a"}, base + "/a/b", PrefixMatch, base + "/a"},
		{"longest prefix, reversed", both, []string{base + "/a", base}, base + "/a/b", PrefixMatch, base + "/a"},
		{"longest with slash", both, []string{base, base + "/"}, base + "/a", PrefixMatch, base + "/"},
		{"longest with slash, reversed", both, []string{base + "/", base}, base + "/a", PrefixMatch, base + "/"},
		{"shorter when longer does not fit", both, []string{base + "/a", base}, base + "/ab", PrefixMatch, base},
		{"root entry loses to longer", both, []string{"https://app.example/?x", base}, base + "/cb", PrefixMatch, base},
		{"exact before prefix", both, []string{base, base + "/a"}, base + "/a", ExactMatch, base + "/a"},
		{"exact with query before prefix", both, []string{base, base + "?q"}, base + "?q", ExactMatch, base + "?q"},
		{"host-only before prefix", both, []string{base, "https://app.example"}, base + "/cb", HostMatch, "https://app.example"},
		{"same path, first registered", both, []string{base + "?a=1", base + "?b=2"}, base + "/cb", PrefixMatch, base + "?a=1"},

		// The loopback rule in prefix mode.
		{"loopback, other port", Sandbox, []string{"http://localhost:3000/cb"}, "http://localhost:4000/cb/x", LoopbackMatch, "http://localhost:3000/cb"},
		{"loopback, same port", Sandbox, []string{"http://localhost:3000/cb"}, "http://localhost:3000/cb/x", PrefixMatch, "http://localhost:3000/cb"},
		{"loopback, no boundary", Sandbox, []string{"http://localhost:3000/cb"}, "http://localhost:4000/cbx", RedirectURINotRegistered, ""},
	})

	// The prefix rule is off in exact mode.
	runDecideCases(t, MatchExact, []decideCase{
		{"exact mode, longer path", both, []string{base}, base + "/callback", RedirectURINotRegistered, ""},
		{"exact mode, other query", both, []string{base + "?a=1"}, base + "?b=2", RedirectURINotRegistered, ""},
		{"exact mode, root full entry", both, []string{"https://app.example/?x=1"}, "https://app.example/a", RedirectURINotRegistered, ""},
	})
}

// TestThreshold proves that sets just below and just above linearMax use
// different code paths and decide alike.
func TestThreshold(t *testing.T) {
	for _, match := range []MatchMode{MatchExact, MatchPrefix} {
		p := policyFor(t, Sandbox, match, 0)
		for n := linearMax - 1; n <= linearMax+2; n++ {
			regs := []string{"https://app.example/orcid", "https://portal.example", "http://localhost:3000/cb"}
			regs = append(regs, paddingURIs(n-len(regs))...)
			s := mustCompile(t, p, regs)
			if got, want := s.exact != nil, n > linearMax; got != want {
				t.Fatalf("%d URIs: indexed = %v, want %v", n, got, want)
			}
			if (s.prefix != nil) != (n > linearMax && match == MatchPrefix) {
				t.Errorf("%d URIs, %s: prefix index = %v", n, match, s.prefix != nil)
			}
			if s.Len() != n || len(s.Entries()) != n || s.Policy() != p {
				t.Errorf("%d URIs: Len = %d", n, s.Len())
			}
			for i, e := range s.Entries() {
				if e.Raw != regs[i] {
					t.Errorf("Entries()[%d] = %q, want %q: registration order lost", i, e.Raw, regs[i])
				}
			}
			for _, req := range []string{
				"https://app.example/orcid", "https://app.example/orcid/cb", "https://app.example/orcidx",
				"https://portal.example/x", "http://localhost:9/cb", "http://localhost:3000/cb/x",
				"https://evil.example/", "https://padhost1.padding.example/any",
				"https://pad0.padding.example/cb", "https://pad0.padding.example/cb/x",
			} {
				d := s.Decide(req)
				sameDecision(t, fmt.Sprintf("%d URIs, %s, linear", n, match), req, d, linearCopy(s).Decide(req))
				sameDecision(t, fmt.Sprintf("%d URIs, %s, indexed", n, match), req, d, indexedCopy(s).Decide(req))
			}
		}
	}
}

func TestCompileErrors(t *testing.T) {
	type wantErr struct {
		index  int
		reason Reason // "" for a duplicate
		dupOf  int    // for a duplicate, the index of the first
	}
	cases := []struct {
		name       string
		env        Environment
		registered []string
		want       []wantErr
	}{
		{"production rules", Production, []string{
			"https://ok.example/cb",        // 0
			"http://insecure.example/cb",   // 1
			"https://ok.example:443/cb",    // 2 duplicate of 0
			"https://localhost/cb",         // 3
			"https://127.0.0.1/cb",         // 4
			"https://[::1]/cb",             // 5
			"https://dev.localhost/cb",     // 6
			"https://0.0.0.0/cb",           // 7
			"https://[::ffff:127.0.0.1]/x", // 8
			"HTTPS://OK.EXAMPLE/cb",        // 9 duplicate of 0
			"https://ok.example/cb/",       // 10 not a duplicate
		}, []wantErr{{1, InsecureScheme, 0}, {2, "", 0}, {3, LoopbackNotAllowed, 0}, {4, LoopbackNotAllowed, 0},
			{5, LoopbackNotAllowed, 0}, {6, LoopbackNotAllowed, 0}, {7, LoopbackNotAllowed, 0}, {8, LoopbackNotAllowed, 0}, {9, "", 0}}},
		{"sandbox rules", Sandbox, []string{
			"http://localhost:3000/cb",  // 0
			"http://LOCALHOST:3000/cb",  // 1 duplicate of 0
			"http://localhost:4000/cb",  // 2 not a duplicate
			"http://0.0.0.0/cb",         // 3
			"http://[::]/cb",            // 4
			"http://[::1]",              // 5
			"http://[0:0:0:0:0:0:0:1]/", // 6 duplicate of 5
			"http://127.0.0.1:80/",      // 7
			"http://127.0.0.1",          // 8 duplicate of 7
			"https://127.0.0.1",         // 9 not a duplicate
		}, []wantErr{{1, "", 0}, {3, MalformedRedirectURI, 0}, {4, MalformedRedirectURI, 0}, {6, "", 5}, {8, "", 7}}},
		{"every syntax rule", both, []string{
			"https://*.example.com/cb",    // 0
			"javascript:alert(1)",         // 1
			"https://user@app.example/",   // 2
			"https://app.example/cb#x",    // 3
			"https://app.example/a/../b",  // 4
			"https://app.example/ok",      // 5
			"https://app.example:0/",      // 6
			"https://app.example/%0a",     // 7
			"https://app.example./",       // 8
			"https://app.example/%2E%2e/", // 9
			"https://app.example/ok",      // 10 duplicate of 5
			"https://app.example",         // 11
			"https://app.example/",        // 12 duplicate of 11
			"",                            // 13
			"myapp:/cb",                   // 14
		}, []wantErr{{0, MalformedRedirectURI, 0}, {1, DisallowedScheme, 0}, {2, UserinfoInRedirectURI, 0},
			{3, FragmentInRedirectURI, 0}, {4, PathTraversal, 0}, {6, MalformedRedirectURI, 0}, {7, MalformedRedirectURI, 0},
			{8, MalformedRedirectURI, 0}, {9, PathTraversal, 0}, {10, "", 5}, {12, "", 11}, {13, MalformedRedirectURI, 0},
			{14, DisallowedScheme, 0}}},
		{"valid", both, []string{"https://a.example/cb", "https://a.example/cb?x", "https://a.example", "https://a.example:8443"}, nil},
		{"empty", both, []string{}, nil},
		{"nil", both, nil, nil},
	}
	for _, c := range cases {
		for _, env := range envs(c.env) {
			t.Run(string(env)+"/"+c.name, func(t *testing.T) {
				p := policyFor(t, env, MatchExact, 0)
				s, err := p.Compile(c.registered)
				if c.want == nil {
					if err != nil || s == nil || s.Len() != len(c.registered) {
						t.Fatalf("Compile(%q) = %v, %v", c.registered, s, err)
					}
					return
				}
				var es Errors
				if !errors.As(err, &es) || s != nil {
					t.Fatalf("Compile(%q) = %v, %v; want Errors", c.registered, s, err)
				}
				if len(es) != len(c.want) {
					t.Errorf("got %d errors, want %d: %v", len(es), len(c.want), err)
				}
				msg := err.Error()
				for i := 0; i < len(es) && i < len(c.want); i++ {
					e, w := es[i], c.want[i]
					if e.Index != w.index || e.Reason != w.reason || e.URI != c.registered[w.index] || e.Detail == "" {
						t.Errorf("error %d = {%d %q %q %q}, want index %d reason %q", i, e.Index, e.URI, e.Reason, e.Detail, w.index, w.reason)
					}
					if w.reason == "" && !strings.Contains(e.Detail, fmt.Sprintf("duplicate of redirect_uris[%d]", w.dupOf)) {
						t.Errorf("error %d detail = %q, want a duplicate of redirect_uris[%d]", i, e.Detail, w.dupOf)
					}
					if w.reason != "" {
						if r, _ := p.Check(c.registered[w.index]); r != w.reason {
							t.Errorf("Check(%q) = %q, but Compile reported %q", c.registered[w.index], r, w.reason)
						}
					}
					prefix := fmt.Sprintf("redirect_uris[%d] %q: ", w.index, c.registered[w.index])
					if !strings.HasPrefix(e.Error(), prefix) || !strings.Contains(msg, prefix) {
						t.Errorf("error %d = %q, want it to start with %q and to be in %q", i, e.Error(), prefix, msg)
					}
				}
				if strings.Count(msg, "; ") != len(es)-1 {
					t.Errorf("Errors.Error() = %q, want %d messages joined by \"; \"", msg, len(es))
				}
			})
		}
	}
}

// TestDecideNative covers a native client's rules (RFC 8252) in both
// environments and both match modes, through every code path: loopback IP
// literals over http on any port, private-use schemes matched exactly.
func TestDecideNative(t *testing.T) {
	const lo, lo6, app = "http://127.0.0.1/cb", "http://[::1]/cb", "com.example.app:/oauth2redirect"
	cases := []decideCase{
		{"IPv4 any port", both, []string{lo}, "http://127.0.0.1:51004/cb", LoopbackMatch, lo},
		{"IPv4 same port", both, []string{lo}, "http://127.0.0.1/cb", ExactMatch, lo},
		{"IPv6 any port", both, []string{lo6}, "http://[0:0:0:0:0:0:0:1]:6000/cb", LoopbackMatch, lo6},
		{"registered port ignored", both, []string{"http://127.0.0.1:8080/cb"}, "http://127.0.0.1:9090/cb", LoopbackMatch, "http://127.0.0.1:8080/cb"},
		{"root is not host-only", both, []string{"http://127.0.0.1"}, "http://127.0.0.1:5000/cb", RedirectURINotRegistered, ""},
		{"root any port", both, []string{"http://127.0.0.1"}, "http://127.0.0.1:5000", LoopbackMatch, "http://127.0.0.1"},
		{"longer path", both, []string{lo}, "http://127.0.0.1:5000/cb/x", RedirectURINotRegistered, ""},
		{"localhost", both, []string{lo}, "http://localhost:5000/cb", LoopbackNotAllowed, ""},
		{"127.0.0.2", both, []string{lo}, "http://127.0.0.2:5000/cb", LoopbackNotAllowed, ""},
		{"mapped", both, []string{lo}, "http://[::ffff:127.0.0.1]:5000/cb", LoopbackNotAllowed, ""},
		{"https loopback", both, []string{lo}, "https://127.0.0.1:5000/cb", LoopbackNotAllowed, ""},
		{"http remote", both, []string{lo}, "http://evil.example/cb", InsecureScheme, ""},
		{"unspecified", Production, []string{lo}, "http://0.0.0.0:5000/cb", LoopbackNotAllowed, ""},
		{"claimed https", both, []string{"https://app.example/cb"}, "https://app.example/cb", ExactMatch, "https://app.example/cb"},
		{"private-use", both, []string{app}, app, ExactMatch, app},
		{"private-use upper case", both, []string{app}, "COM.EXAMPLE.APP:/oauth2redirect", ExactMatch, app},
		{"private-use path case", both, []string{app}, "com.example.app:/OAUTH2REDIRECT", RedirectURINotRegistered, ""},
		{"private-use longer path", both, []string{app}, app + "/x", RedirectURINotRegistered, ""},
		{"private-use with host", both, []string{app}, "com.example.app://evil.example/oauth2redirect", MalformedRedirectURI, ""},
		{"private-use empty authority", both, []string{app}, "com.example.app:///oauth2redirect", RedirectURINotRegistered, ""},
		{"private-use rootless", both, []string{app}, "com.example.app:oauth2redirect", MalformedRedirectURI, ""},
		{"private-use %2F", both, []string{app}, "com.example.app:%2Foauth2redirect", MalformedRedirectURI, ""},
		{"private-use userinfo", both, []string{app}, "com.example.app://u@/oauth2redirect", UserinfoInRedirectURI, ""},
		{"private-use fragment", both, []string{app}, app + "#f", FragmentInRedirectURI, ""},
		{"private-use traversal", both, []string{app}, "com.example.app:/a/%2E%2E/oauth2redirect", PathTraversal, ""},
		{"private-use no dot", both, []string{app}, "comexampleapp:/oauth2redirect", DisallowedScheme, ""},
		{"private-use look-alike", both, []string{app}, "com.example.app.evil:/oauth2redirect", RedirectURINotRegistered, ""},
		{"unrestricted private-use", Sandbox, nil, app, UnrestrictedClient, ""},
		{"none registered", Production, nil, app, NoRegisteredRedirectURIs, ""},
	}
	for _, match := range []MatchMode{MatchExact, MatchPrefix} {
		t.Run(string(match), func(t *testing.T) { runRulesCases(t, match, Rules{Native: true}, cases) })
	}
	// A web client keeps the web rules.
	runDecideCases(t, MatchExact, []decideCase{
		{"web private-use", both, []string{"https://app.example/cb"}, app, DisallowedScheme, ""},
		{"web production loopback", Production, []string{"https://app.example/cb"}, "http://127.0.0.1:5000/cb", InsecureScheme, ""},
	})
}

// TestDecideLogout covers post-logout redirect URIs: exact only, even in
// prefix mode, with reasons of their own, never unrestricted.
func TestDecideLogout(t *testing.T) {
	const out = "https://app.example/logged-out"
	cases := []decideCase{
		{"exact", both, []string{out}, out, ExactMatch, out},
		{"normalized", both, []string{out}, "HTTPS://App.Example:443/logged-out", ExactMatch, out},
		{"longer path", both, []string{out}, out + "/x", PostLogoutRedirectURINotRegistered, ""},
		{"other query", both, []string{out + "?a=1"}, out + "?a=2", PostLogoutRedirectURINotRegistered, ""},
		{"other host", both, []string{out}, "https://evil.example/logged-out", PostLogoutRedirectURINotRegistered, ""},
		{"none registered", both, nil, out, NoRegisteredPostLogoutRedirectURIs, ""},
		{"malformed", both, []string{out}, "https://app.example/a/../logged-out", PathTraversal, ""},
	}
	for _, match := range []MatchMode{MatchExact, MatchPrefix} {
		t.Run(string(match), func(t *testing.T) { runRulesCases(t, match, Rules{Logout: true}, cases) })
	}
	p := policyFor(t, Production, MatchExact, 0)
	_, err := p.CompileRules([]string{out, "https://app.example", "https://app.example/"}, Rules{Logout: true})
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 2 || errs[0].Index != 1 || errs[1].Index != 2 || !strings.Contains(errs[0].Detail, "host-only") {
		t.Errorf("CompileRules(host-only logout URIs) = %v, want two host-only errors at 1 and 2", err)
	}
}

// TestDecideAllocs holds every kind of request to no allocation, whatever
// the size of the set: Decide runs on every authorize request.
func TestDecideAllocs(t *testing.T) {
	for _, c := range requestKinds {
		for _, n := range decideSizes {
			s := c.set(t, n)
			if a := testing.AllocsPerRun(100, func() { s.Decide(c.req) }); a != 0 {
				t.Errorf("%s, %d URIs: Decide(%q) allocates %v times", c.name, n, c.req, a)
			}
		}
	}
}
