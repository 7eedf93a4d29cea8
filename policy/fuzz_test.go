package policy

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// trickySeeds are hand-written inputs near the edges of the rules.
var trickySeeds = []string{
	"https://app.example/cb",
	"HTTPS://APP.EXAMPLE:443",
	"https://app.example?x=1",
	"https://app.example/?",
	"http://localhost:3000/cb",
	"http://LOCALHOST/cb",
	"http://x.localhost:1/",
	"http://127.0.0.1:65535/cb",
	"http://[::1]:8080/cb",
	"http://[0:0:0:0:0:0:0:1]/cb",
	"http://[::ffff:7f00:1]/cb",
	"http://[::ffff:127.0.0.1]:80/",
	"https://[2001:db8::1]:443/cb",
	"http://[fe80::1%25eth0]/",
	"http://[::1",
	"https://0.0.0.0/cb",
	"http://[::]/",
	"http://127.1/",
	"http://0x7f.0.0.1/",
	"http://2130706433/",
	"http://0177.0.0.1/",
	"https://1.2.3.04/",
	"https://app.example:0/",
	"https://app.example:65536/",
	"https://app.example:0443/",
	"https://app.example:/",
	"https://app.example:+443/",
	"https://user@app.example/",
	"https://app.example@evil.example/",
	"https://app.example/cb#x",
	"https://app.example/a/../b",
	"https://app.example/%2e%2E/",
	"https://app.example/.%2e/",
	"https://app.example/..;x/",
	"https://app.example/a/..",
	"https://app.example/%00",
	"https://app.example/%7F",
	"https://app.example/%zz",
	"https://app.example/\\",
	"https://*.app.example/",
	"https://app..example/",
	"https://app.example./",
	"https://-app.example/",
	"https://ap%70.example/",
	"javascript:alert(1)",
	"myapp://cb",
	"https:app.example",
	"https:///app.example",
	"https://app.example/orcid/callback?a=1&b=2",
	"https://app.example/orcid//x;y?z",
	"https://" + strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + ".example/",
}

type fuzzSeed struct {
	registered, requested string
	env                   Environment
}

func corpusSeeds(t testing.TB) []fuzzSeed {
	var seeds []fuzzSeed
	for _, c := range loadCorpus(t) {
		if c.RawQuery != nil || c.RedirectURI == nil {
			continue
		}
		seeds = append(seeds, fuzzSeed{strings.Join(c.Registered, "\n"), *c.RedirectURI, Environment(c.Environment)})
	}
	return seeds
}

func envOf(sel uint8) Environment {
	if sel%2 == 0 {
		return Sandbox
	}
	return Production
}

func selOf(env Environment) uint8 {
	if env == Production {
		return 1
	}
	return 0
}

func modeOf(sel uint8) MatchMode {
	if sel%2 == 0 {
		return MatchExact
	}
	return MatchPrefix
}

// isLoopbackHost is an oracle independent of the package: the hosts §1
// calls loopback or unspecified, given a host as url.URL.Hostname returns it.
func isLoopbackHost(h string) bool {
	h = strings.ToLower(h)
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsUnspecified()
}

// splitURL parses a normalized URI with net/url, as an independent reading.
func splitURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatalf("normalized %q does not parse: %v", s, err)
	}
	return u
}

// pathAndQuery returns what follows the authority of a normalized URI.
func pathAndQuery(s string) string {
	rest := s[strings.Index(s, "://")+3:]
	return rest[strings.IndexAny(rest, "/"):]
}

// checkOwnKeys fails t when Decide would key raw by its own bytes (parse
// calls its scheme and authority normal and no loopback rule drops its port)
// but appendOrigin writes them otherwise, for a web and a native client.
func checkOwnKeys(t *testing.T, p *Policy, raw string) {
	t.Helper()
	for _, native := range []bool{false, true} {
		var u uri
		if r, _ := p.parse(raw, native, &u); r != "" || !u.normal || u.port != "" && p.ignoresPort(&u, native) {
			continue
		}
		if own, built := raw[:len(raw)-len(u.rest)], string(p.appendOrigin(nil, &u, native)); own != built {
			t.Fatalf("%q (native %v): keyed by its own origin %q, normalized %q", raw, native, own, built)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range trickySeeds {
		f.Add(s, uint8(0))
		f.Add(s, uint8(1))
	}
	for _, c := range corpusSeeds(f) {
		for _, r := range strings.Split(c.registered, "\n") {
			f.Add(r, selOf(c.env))
		}
		f.Add(c.requested, selOf(c.env))
	}
	f.Fuzz(func(t *testing.T, raw string, envSel uint8) {
		env := envOf(envSel)
		p := policyFor(t, env, MatchExact, 0)
		checkOwnKeys(t, p, raw)
		r, detail := p.Check(raw)
		n, err := p.Normalize(raw)
		if r != "" {
			ue, ok := err.(*URIError)
			if !ok || ue.Reason != r || ue.Detail != detail || n != "" {
				t.Fatalf("Check(%q) = %q but Normalize = %q, %v", raw, r, n, err)
			}
			if r.Allows() {
				t.Fatalf("Check(%q) returned the allowing reason %q", raw, r)
			}
			if _, err := p.Compile([]string{raw}); err == nil {
				t.Fatalf("Compile accepts %q, which fails Check with %q", raw, r)
			}
			return
		}
		if err != nil || detail != "" {
			t.Fatalf("Check(%q) passes but Normalize = %q, %v (detail %q)", raw, n, err, detail)
		}

		// The normalized form is a fixed point and passes Check. The limit
		// applies to the URI as sent, and normalizing may lengthen it (an
		// added "/", a dotted IPv4-mapped address), so the normalized form
		// is checked against a limit that fits it.
		q := p
		if len(n) > p.MaxURILength() {
			q = policyFor(t, env, MatchExact, len(n))
		}
		if r, detail := q.Check(n); r != "" {
			t.Fatalf("normalized %q (of %q) fails Check: %s (%s)", n, raw, r, detail)
		}
		if n2, err := q.Normalize(n); err != nil || n2 != n {
			t.Fatalf("Normalize not idempotent: %q -> %q -> %q, %v", raw, n, n2, err)
		}

		// What net/url reads in the normalized form.
		u := splitURL(t, n)
		if u.Scheme != "http" && u.Scheme != "https" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
			t.Fatalf("normalized %q: scheme %q, user %v, fragment %q, opaque %q", n, u.Scheme, u.User, u.Fragment, u.Opaque)
		}
		if u.Host != strings.ToLower(u.Host) || u.Hostname() == "" {
			t.Fatalf("normalized %q has host %q", n, u.Host)
		}
		if port := u.Port(); u.Scheme == "https" && port == "443" || u.Scheme == "http" && port == "80" {
			t.Fatalf("normalized %q keeps the default port", n)
		}
		if !strings.HasPrefix(pathAndQuery(n), "/") {
			t.Fatalf("normalized %q has no path", n)
		}
		if env == Production && (u.Scheme != "https" || isLoopbackHost(u.Hostname())) {
			t.Fatalf("production accepts %q (normalized %q)", raw, n)
		}
		// Path and query are kept byte for byte; only an empty path
		// becomes "/".
		if pq := pathAndQuery(n); !strings.HasSuffix(raw, pq) &&
			!(strings.HasSuffix(raw, pq[1:]) && (len(pq) == 1 || pq[1] == '?')) {
			t.Fatalf("normalizing %q changed its path or query to %q", raw, pq)
		}

		s, err := p.Compile([]string{raw})
		if err != nil {
			t.Fatalf("Compile(%q): %v", raw, err)
		}
		if e := s.Entries()[0]; e.Normalized != n || e.Raw != raw {
			t.Fatalf("Compile(%q) entry %q / %q, want normalized %q", raw, e.Raw, e.Normalized, n)
		}
		if d := s.Decide(raw); d.Reason != ExactMatch && d.Reason != HostMatch {
			t.Fatalf("%q registered, Decide(itself) = %s", raw, d.Reason)
		}
		if len(n) <= p.MaxURILength() {
			if d := s.Decide(n); d.Reason != ExactMatch && d.Reason != HostMatch {
				t.Fatalf("%q registered, Decide(%q) = %s", raw, n, d.Reason)
			}
		}
	})
}

// maxFuzzEntries bounds the registered URIs of one FuzzDecide input, given
// one per line.
const maxFuzzEntries = 4

func FuzzDecide(f *testing.F) {
	for _, c := range corpusSeeds(f) {
		f.Add(c.registered, c.requested, selOf(c.env), uint8(0))
		f.Add(c.registered, c.requested, selOf(c.env), uint8(1))
	}
	for _, s := range trickySeeds {
		f.Add("https://app.example/cb", s, uint8(1), uint8(0))
		f.Add("http://localhost:3000/cb\nhttps://app.example", s, uint8(0), uint8(1))
	}
	for _, s := range [][2]string{
		{"https://app.example/?x=1", "https://app.example/a/b"},
		{"https://app.example/a\nhttps://app.example/a/b", "https://app.example/a/b/c"},
		{"https://app.example/a/b\nhttps://app.example/a", "https://app.example/a/b/c"},
		{"https://app.example/a/\nhttps://app.example/a", "https://app.example/a//b"},
		{"https://app.example/a?x\nhttps://app.example/a?y", "https://app.example/a/b"},
		{"http://localhost:3000\nhttp://localhost:4000", "http://localhost:4000/x"},
		{"http://localhost:3000/cb\nhttp://localhost:4000/cb", "http://localhost/cb"},
		{"http://[::1]:3000\nhttp://[::1]/cb", "http://[0:0:0:0:0:0:0:1]:9/cb"},
		{"", "http://0.0.0.0/"},
		{"", "https://app.example/anything"},
	} {
		for sel := uint8(0); sel < 4; sel++ {
			f.Add(s[0], s[1], sel>>1, sel&1)
		}
	}
	pads := paddingURIs(linearMax + 4)
	f.Fuzz(func(t *testing.T, registered, requested string, envSel, modeSel uint8) {
		env, mode := envOf(envSel), modeOf(modeSel)
		p := policyFor(t, env, mode, 0)
		var regs []string
		if registered != "" {
			regs = strings.SplitN(registered, "\n", maxFuzzEntries+1)
			if len(regs) > maxFuzzEntries {
				regs = regs[:maxFuzzEntries]
			}
		}
		s, err := p.Compile(regs)
		if err != nil {
			es, ok := err.(Errors)
			if !ok || len(es) == 0 {
				t.Fatalf("Compile(%q) error %T %v", regs, err, err)
			}
			for _, e := range es {
				if e.Index < 0 || e.Index >= len(regs) || e.URI != regs[e.Index] {
					t.Fatalf("Compile(%q): error %v has a bad index", regs, e)
				}
				if r, _ := p.Check(e.URI); r != e.Reason { // "" for a duplicate
					t.Fatalf("Compile(%q): %v, but Check says %q", regs, e, r)
				}
			}
			return
		}
		// Every registered URI allows itself.
		for _, e := range s.Entries() {
			if d := s.Decide(e.Raw); !d.Allowed() || d.Entry == nil || d.Entry.Normalized != e.Normalized &&
				!(env == Sandbox && e.Loopback && d.Entry.Loopback) {
				t.Fatalf("registered %q, Decide(%q) = %s (entry %q)", regs, e.Raw, d.Reason, entryRaw(d))
			}
		}

		d := s.Decide(requested)
		sameDecision(t, "parsing path", requested, d, s.decideParsed(requested, false))
		for _, e := range s.Entries() {
			sameDecision(t, "parsing path", e.Normalized, s.Decide(e.Normalized), s.decideParsed(e.Normalized, false))
		}
		if !d.Reason.Allows() && d.Entry != nil {
			t.Fatalf("rejection %s names entry %q", d.Reason, d.Entry.Raw)
		}
		if r, _ := p.Check(requested); r != "" && d.Reason != r {
			t.Fatalf("Decide(%q) = %s, but Check says %s", requested, d.Reason, r)
		} else if r == "" && !d.Allowed() && d.Reason != RedirectURINotRegistered && d.Reason != NoRegisteredRedirectURIs {
			t.Fatalf("Decide(%q) = %s, but the URI passes Check", requested, d.Reason)
		}
		if known := d.Reason.Allows() || func() bool {
			for _, r := range RejectReasons {
				if r == d.Reason {
					return true
				}
			}
			return false
		}(); !known {
			t.Fatalf("Decide(%q) gave the unknown reason %q", requested, d.Reason)
		}

		if d.Allowed() {
			checkAllowed(t, p, s, requested, d)
		}

		// The same decision through the other code path on the same
		// entries, and on a set padded beyond linearMax.
		if len(regs) == 0 {
			return
		}
		sameDecision(t, "linear copy", requested, d, linearCopy(s).Decide(requested))
		sameDecision(t, "indexed copy", requested, d, indexedCopy(s).Decide(requested))
		padded, err := p.Compile(append(append([]string(nil), regs...), pads...))
		if err != nil {
			// Only a registered URI on a padding host can clash.
			if !strings.Contains(strings.ToLower(registered), "padding.example") {
				t.Fatalf("padding %q: %v", regs, err)
			}
			return
		}
		dp := padded.Decide(requested)
		sameDecision(t, "padded set scanned", requested, dp, linearCopy(padded).Decide(requested))
		if dp.Entry != nil && strings.HasSuffix(strings.ToLower(splitURL(t, dp.Entry.Normalized).Hostname()), ".padding.example") {
			return // the request is for a padding host
		}
		sameDecision(t, "padded set", requested, d, dp)
	})
}

// checkAllowed verifies an allowed decision against an independent reading
// of the request and of the entry that allowed it.
func checkAllowed(t *testing.T, p *Policy, s *Set, requested string, d Decision) {
	t.Helper()
	env := p.Environment()
	n, err := p.Normalize(requested)
	if err != nil {
		t.Fatalf("allowed %q does not normalize: %v", requested, err)
	}
	u := splitURL(t, n)
	if env == Production && (u.Scheme != "https" || isLoopbackHost(u.Hostname())) {
		t.Fatalf("production allows %q (%s)", requested, d.Reason)
	}
	if d.Reason == UnrestrictedClient {
		if env != Sandbox || s.Len() != 0 || d.Entry != nil {
			t.Fatalf("unrestricted_client in %s with %d URIs", env, s.Len())
		}
		return
	}
	e := d.Entry
	if e == nil || s.Len() == 0 {
		t.Fatalf("Decide(%q) = %s without an entry", requested, d.Reason)
	}
	found := false
	for i := range s.Entries() {
		found = found || &s.Entries()[i] == e
	}
	if !found {
		t.Fatalf("Decide(%q) names an entry not in the set", requested)
	}
	eu := splitURL(t, e.Normalized)
	if u.Scheme != eu.Scheme || u.Hostname() != eu.Hostname() {
		t.Fatalf("Decide(%q) = %s: %q is not on the scheme and host of entry %q", requested, d.Reason, n, e.Normalized)
	}
	portsDiffer := u.Port() != eu.Port()
	if portsDiffer && !(env == Sandbox && e.Loopback) {
		t.Fatalf("Decide(%q) = %s: port of %q differs from entry %q", requested, d.Reason, n, e.Normalized)
	}
	if (d.Reason == LoopbackMatch) != (portsDiffer && env == Sandbox && e.Loopback) {
		t.Fatalf("Decide(%q) = %s, ports %q and %q, entry loopback %v", requested, d.Reason, u.Port(), eu.Port(), e.Loopback)
	}
	if e.Loopback != isLoopbackHost(eu.Hostname()) {
		t.Fatalf("entry %q: Loopback = %v", e.Normalized, e.Loopback)
	}
	rp, ep := pathAndQuery(n), pathAndQuery(e.Normalized)
	switch d.Reason {
	case ExactMatch:
		if rp != ep || e.Kind != Full {
			t.Fatalf("exact_match of %q with entry %q", n, e.Normalized)
		}
	case HostMatch:
		if e.Kind != HostOnly {
			t.Fatalf("host_match of %q with full entry %q", n, e.Normalized)
		}
	case PrefixMatch:
		checkPrefix(t, p, n, rp, ep, e)
	case LoopbackMatch:
		switch {
		case e.Kind == HostOnly:
		case rp == ep:
		case p.Match() == MatchPrefix:
			checkPrefix(t, p, n, rp, ep, e)
		default:
			t.Fatalf("loopback_match of %q with entry %q", n, e.Normalized)
		}
	default:
		t.Fatalf("Decide(%q) allowed with reason %q", requested, d.Reason)
	}
}

func checkPrefix(t *testing.T, p *Policy, n, rp, ep string, e *Entry) {
	t.Helper()
	rPath, _, _ := strings.Cut(rp, "?")
	ePath, _, _ := strings.Cut(ep, "?")
	if p.Match() != MatchPrefix || e.Kind != Full ||
		!(rPath == ePath || strings.HasPrefix(rPath, strings.TrimSuffix(ePath, "/")+"/")) {
		t.Fatalf("prefix match of %q with entry %q (mode %s)", n, e.Normalized, p.Match())
	}
}
