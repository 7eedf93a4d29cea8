package policy

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// paddingURIs are valid in both environments, never loopback, and on hosts
// (padding.example) that no test case requests: added to a set they push it
// past linearMax without changing any decision.
func paddingURIs(n int) []string {
	pads := make([]string, 0, n)
	for i := 0; len(pads) < n; i++ {
		switch i % 3 {
		case 0:
			pads = append(pads, fmt.Sprintf("https://pad%d.padding.example/cb", i))
		case 1:
			pads = append(pads, fmt.Sprintf("https://padhost%d.padding.example", i))
		default:
			pads = append(pads, fmt.Sprintf("https://padpfx%d.padding.example/p/q?x=%d", i, i))
		}
	}
	return pads
}

// linearCopy returns s matched by scanning its entries.
func linearCopy(s *Set) *Set {
	c := *s
	c.exact, c.hostOnly, c.prefix = nil, nil, nil
	return &c
}

// indexedCopy returns s matched through its indexes, whatever its size.
func indexedCopy(s *Set) *Set {
	c := *s
	c.index()
	return &c
}

func entryRaw(d Decision) string {
	if d.Entry == nil {
		return ""
	}
	return d.Entry.Raw
}

// sameDecision fails t unless a and b carry the same reason and entry.
func sameDecision(t testing.TB, what, req string, a, b Decision) {
	t.Helper()
	if a.Reason != b.Reason || entryRaw(a) != entryRaw(b) {
		t.Errorf("%s: Decide(%q) = %s (entry %q) but %s (entry %q)",
			what, req, a.Reason, entryRaw(a), b.Reason, entryRaw(b))
	}
}

// decideEverywhere decides req against registered through every code path:
// the set as compiled (linear when small), the same entries indexed by maps,
// the set padded beyond linearMax with unrelated entries (maps), and that
// padded set scanned linearly. It fails t unless all agree and returns the
// decision.
func decideEverywhere(t *testing.T, p *Policy, rules Rules, registered []string, req string) Decision {
	t.Helper()
	s, err := p.CompileRules(registered, rules)
	if err != nil {
		t.Fatalf("Compile(%q): %v", registered, err)
	}
	if (s.exact != nil) != (len(registered) > linearMax) {
		t.Fatalf("Compile(%d URIs): indexed = %v, want %v", len(registered), s.exact != nil, len(registered) > linearMax)
	}
	d := s.Decide(req)
	if len(registered) == 0 {
		// Padding would turn an unrestricted (or unusable) client into a
		// restricted one: nothing to compare.
		return d
	}
	sameDecision(t, "indexed copy", req, d, indexedCopy(s).Decide(req))
	sameDecision(t, "linear copy", req, d, linearCopy(s).Decide(req))

	pads := paddingURIs(linearMax + 4)
	if rules.Logout {
		pads = slices.DeleteFunc(pads, func(u string) bool { return strings.Contains(u, "padhost") })
		pads = append(pads, paddingURIs(3 * linearMax)[linearMax+4:]...)
		pads = slices.DeleteFunc(pads, func(u string) bool { return strings.Contains(u, "padhost") })
	}
	padded, err := p.CompileRules(append(append([]string(nil), registered...), pads...), rules)
	if err != nil {
		t.Fatalf("Compile(padded %q): %v", registered, err)
	}
	if padded.exact == nil {
		t.Fatalf("padded set of %d URIs is not indexed", padded.Len())
	}
	dp := padded.Decide(req)
	sameDecision(t, "padded set (maps)", req, d, dp)
	sameDecision(t, "padded set scanned", req, d, linearCopy(padded).Decide(req))
	return d
}
