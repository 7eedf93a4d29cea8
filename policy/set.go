package policy

import "strconv"

// Kind tells how a registered redirect URI matches.
type Kind uint8

const (
	// Full entries match the same origin with an equal path and query
	// (or, in prefix mode, a longer path at a segment boundary).
	Full Kind = iota
	// HostOnly entries have an empty or "/" path and no query; they match
	// every path and query on the same scheme, host and port.
	HostOnly
)

func (k Kind) String() string {
	if k == HostOnly {
		return "host-only"
	}
	return "full"
}

// Entry is one registered redirect URI, compiled.
type Entry struct {
	Raw        string // as registered
	Normalized string // see Policy.Normalize
	Kind       Kind
	HTTPS      bool
	Loopback   bool
	PrivateUse bool // a native app's private-use scheme (RFC 8252 §7.1)

	// Keys compared with the request: the origin (without the port where
	// the sandbox loopback rule ignores it), that origin followed by the
	// normalized path and query, and by the path alone.
	origin, full, prefix string
	// port as registered, "" when absent or the scheme's default: tells
	// whether a loopback rule decided a match.
	port string
	// exactOnly entries match their full key only, even in prefix mode:
	// a native client's loopback and private-use URIs (RFC 8252 asks for
	// the same path and query), every post-logout URI.
	exactOnly bool
}

// Rules are the rules of one client's set on top of its policy's.
type Rules struct {
	// Native is a native app's set (RFC 8252, "application_type":
	// "native"): in both environments, loopback IP literals over http on
	// any port and private-use schemes with a dot, matched exactly.
	Native bool
	// Logout is a set of post-logout redirect URIs (OpenID Connect
	// RP-Initiated Logout): full entries only, matched exactly whatever
	// the match mode.
	Logout bool
}

// linearMax is the largest set matched by scanning its entries; larger sets
// are indexed by maps. Both cost a bounded number of comparisons per request,
// and small sets, the vast majority, stay small in memory.
const linearMax = 8

// Set is a client's registered redirect URIs compiled for one policy. It is
// immutable and safe for concurrent use.
type Set struct {
	policy  *Policy
	rules   Rules
	entries []Entry

	// Indexes, built only for sets larger than linearMax.
	exact, hostOnly, prefix map[string]*Entry
	// prefixPaths has bit n set when the prefix index holds a key whose
	// path is n bytes long (bit 255: 255 or longer), so that a request
	// skips the lookups of the shorter paths no key has.
	prefixPaths [4]uint64
}

// Compile validates a client's registered redirect URIs against the syntax
// rules and the rules of p's environment and indexes them. Every problem is
// reported, as Errors. An empty list is valid: in sandbox the client is
// unrestricted; in production it can use no redirect URI.
func (p *Policy) Compile(raws []string) (*Set, error) {
	return p.CompileRules(raws, Rules{})
}

// CompileRules is Compile for a set with rules of its own: a native
// client's, or post-logout redirect URIs, where a host-only entry is an
// error.
func (p *Policy) CompileRules(raws []string, rules Rules) (*Set, error) {
	s := &Set{policy: p, rules: rules, entries: make([]Entry, 0, len(raws))}
	var errs Errors
	seen := make(map[string]int, len(raws))
	for i, raw := range raws {
		var u uri
		r, detail := p.check(raw, rules.Native, &u)
		if r != "" {
			errs = append(errs, &URIError{Index: i, URI: raw, Reason: r, Detail: detail, Duplicate: -1})
			continue
		}
		e := p.newEntry(raw, &u, rules)
		if e.Kind == HostOnly && rules.Logout {
			errs = append(errs, &URIError{Index: i, URI: raw, Duplicate: -1,
				Detail: "is host-only: a post-logout redirect URI is registered in full and matched exactly"})
			continue
		}
		if first, dup := seen[e.Normalized]; dup {
			errs = append(errs, &URIError{Index: i, URI: raw, Duplicate: first,
				Detail: "duplicate of redirect_uris[" + strconv.Itoa(first) + "] after normalization"})
			continue
		}
		seen[e.Normalized] = i
		s.entries = append(s.entries, e)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(s.entries) > linearMax {
		s.index()
	}
	return s, nil
}

func (p *Policy) newEntry(raw string, u *uri, rules Rules) Entry {
	native := rules.Native && (u.scheme != "" || u.loopback)
	e := Entry{Raw: raw, Normalized: p.normalized(u), HTTPS: u.https, Loopback: u.loopback, PrivateUse: u.scheme != "",
		port: u.port, exactOnly: native || rules.Logout}
	if e.Normalized == raw {
		e.Normalized = raw // share the bytes
	}
	if (u.rest == "" || u.rest == "/") && !native {
		e.Kind = HostOnly
	}
	normRest := u.rest
	if u.pathLen == 0 {
		normRest = "/" + u.rest
	}
	withPort := e.Normalized[:len(e.Normalized)-len(normRest)]
	if origin := string(p.appendOrigin(nil, u, rules.Native)); origin == withPort {
		e.origin, e.full = withPort, e.Normalized
	} else {
		e.origin, e.full = origin, origin+normRest
	}
	e.prefix = e.full[:len(e.origin)+max(u.pathLen, 1)]
	return e
}

func (s *Set) index() {
	s.exact = make(map[string]*Entry)
	s.hostOnly = make(map[string]*Entry)
	s.prefixPaths = [4]uint64{}
	if s.policy.match == MatchPrefix && !s.rules.Logout {
		s.prefix = make(map[string]*Entry)
	}
	for i := range s.entries {
		e := &s.entries[i]
		if e.Kind == HostOnly {
			putFirst(s.hostOnly, e.origin, e)
			continue
		}
		putFirst(s.exact, e.full, e)
		if s.prefix != nil && !e.exactOnly {
			putFirst(s.prefix, e.prefix, e)
			n := min(len(e.prefix)-len(e.origin), 255)
			s.prefixPaths[n/64] |= 1 << (n % 64)
		}
	}
}

// lookupPrefix looks key up in the prefix index of s, unless no key there
// has a path as long as key's, which follows an origin of nOrigin bytes.
func lookupPrefix[K string | []byte](s *Set, key K, nOrigin int) *Entry {
	if n := min(len(key)-nOrigin, 255); s.prefixPaths[n/64]&(1<<(n%64)) == 0 {
		return nil
	}
	return s.prefix[string(key)]
}

// putFirst keeps the first of entries that only the ignored loopback port
// told apart: they match the same requests.
func putFirst(m map[string]*Entry, k string, e *Entry) {
	if _, ok := m[k]; !ok {
		m[k] = e
	}
}

// Len returns the number of registered redirect URIs in s.
func (s *Set) Len() int { return len(s.entries) }

// Entries returns the registered redirect URIs of s, in registration order.
// The caller must not modify them.
func (s *Set) Entries() []Entry { return s.entries }

// Rules returns the rules s was compiled with.
func (s *Set) Rules() Rules { return s.rules }

// Policy returns the policy s was compiled for.
func (s *Set) Policy() *Policy { return s.policy }

// Decision is the outcome of checking one requested redirect URI.
type Decision struct {
	Reason Reason
	// Entry is the registered URI that allowed the request, if any.
	Entry *Entry
	// Detail says which rule a rejected URI broke, in words.
	Detail string
}

// Allowed reports whether the redirect URI may be used.
func (d Decision) Allowed() bool { return d.Reason.Allows() }

// Decide checks a requested redirect URI, as the upstream will receive it
// (decoded from the request's parameters), against s. It does not allocate
// unless the request is spelled unlike its normalized form and longer than
// fullKeyBuf.
func (s *Set) Decide(raw string) Decision {
	// A request that repeats a registration in its normalized form, as
	// nearly every legitimate one does, passes every rule that entry
	// passed (but for the length limit, which normalizing can cross) and
	// matches it best: no need to parse it.
	missed := false
	if len(raw) <= s.policy.maxLen {
		var e *Entry
		if e, missed = s.identical(raw); e != nil {
			if e.Kind == HostOnly {
				return Decision{Reason: HostMatch, Entry: e}
			}
			return Decision{Reason: ExactMatch, Entry: e}
		}
	}
	return s.decideParsed(raw, missed)
}

// identical returns the entry whose normalized form is raw, if any. Sandbox
// loopback entries are left to the parsing path, which picks among entries
// that only the ignored port tells apart. missed reports that the exact
// index holds no key raw, so the parsing path need not look it up again.
func (s *Set) identical(raw string) (e *Entry, missed bool) {
	if s.exact != nil {
		e = s.exact[raw] // host-only entries are found by the parsing path
		missed = e == nil
	} else {
		for i := range s.entries {
			if s.entries[i].Normalized == raw {
				e = &s.entries[i]
				break
			}
		}
	}
	if e == nil || e.Normalized != raw || e.Loopback && (s.policy.env == Sandbox || s.rules.Native) {
		return nil, missed
	}
	return e, missed
}

// fullKeyBuf is the size of the stack buffer that holds a request's
// normalized keys when it is not spelled in its normalized form: longer
// keys cost an allocation.
const fullKeyBuf = 512

// decideParsed is Decide without the shortcut for normalized registrations.
// rawMissed tells that the exact index is known to hold no key raw.
func (s *Set) decideParsed(raw string, rawMissed bool) Decision {
	p, native := s.policy, s.rules.Native
	var u uri
	r, detail := p.check(raw, native, &u)
	if r != "" {
		return Decision{Reason: r, Detail: detail}
	}
	if len(s.entries) == 0 {
		switch {
		case s.rules.Logout:
			// Never unrestricted: a logout redirect goes nowhere but to
			// a registered URI.
			return Decision{Reason: NoRegisteredPostLogoutRedirectURIs, Detail: "the client has no registered post-logout redirect URIs"}
		case p.env == Sandbox:
			return Decision{Reason: UnrestrictedClient}
		}
		return Decision{Reason: NoRegisteredRedirectURIs, Detail: "the client has no registered redirect URIs"}
	}

	// The request's keys: substrings of the input when it is already
	// normalized, as it nearly always is, otherwise built on the stack.
	nPath := max(u.pathLen, 1)
	var e *Entry
	if u.normal && u.pathLen > 0 && (u.port == "" || !p.ignoresPort(&u, native)) {
		nOrigin := len(raw) - len(u.rest)
		e, r = match(s, raw[:nOrigin], raw, raw[:nOrigin+nPath], rawMissed)
	} else {
		var buf [fullKeyBuf]byte
		full := p.appendOrigin(buf[:0], &u, native)
		nOrigin := len(full)
		if u.pathLen == 0 {
			full = append(full, '/')
		}
		full = append(full, u.rest...)
		e, r = match(s, full[:nOrigin], full, full[:nOrigin+nPath], false)
	}
	if e == nil {
		if s.rules.Logout {
			return Decision{Reason: PostLogoutRedirectURINotRegistered, Detail: "no registered post-logout redirect URI matches"}
		}
		return Decision{Reason: RedirectURINotRegistered, Detail: "no registered redirect URI matches"}
	}
	if e.Loopback && p.ignoresPort(&u, native) && e.port != u.port {
		r = LoopbackMatch
	}
	return Decision{Reason: r, Entry: e}
}

// match finds the entry of s that allows a request with the given keys,
// preferring an exact match to a host-only one and a host-only one to a
// prefix one, and among prefix entries the longest. Among entries with equal
// keys (loopback entries that differ only in the ignored port, or full
// entries that differ only in the query in prefix mode) the first registered
// wins. The scan of a small set and the indexes of a large one choose alike.
// The keys are the input's own bytes or a copy on the stack; the lookups
// convert neither. skipExact tells that the exact index lacks full.
func match[K string | []byte](s *Set, origin, full, path K, skipExact bool) (*Entry, Reason) {
	prefixMode := s.policy.match == MatchPrefix && !s.rules.Logout
	if s.exact != nil {
		if !skipExact {
			if e := s.exact[string(full)]; e != nil {
				return e, ExactMatch
			}
		}
		if e := s.hostOnly[string(origin)]; e != nil {
			return e, HostMatch
		}
		if prefixMode {
			if e := lookupPrefix(s, path, len(origin)); e != nil {
				return e, PrefixMatch
			}
			// Shorter prefixes, longest first; the path starts with the
			// '/' at len(origin), so the root "/" is tried last.
			for j := len(path) - 1; j >= len(origin); j-- {
				if path[j] != '/' {
					continue
				}
				if j+1 < len(path) {
					if e := lookupPrefix(s, path[:j+1], len(origin)); e != nil {
						return e, PrefixMatch
					}
				}
				if j > len(origin) {
					if e := lookupPrefix(s, path[:j], len(origin)); e != nil {
						return e, PrefixMatch
					}
				}
			}
		}
		return nil, ""
	}

	var host, pre *Entry
	for i := range s.entries {
		e := &s.entries[i]
		switch {
		case e.Kind == Full && e.full == string(full):
			return e, ExactMatch
		case e.Kind == HostOnly:
			if host == nil && e.origin == string(origin) {
				host = e
			}
		case prefixMode && !e.exactOnly && (pre == nil || len(e.prefix) > len(pre.prefix)) && segmentPrefix(path, e.prefix):
			pre = e
		}
	}
	if host != nil {
		return host, HostMatch
	}
	if pre != nil {
		return pre, PrefixMatch
	}
	return nil, ""
}

// segmentPrefix reports whether path equals prefix or extends it at a path
// segment boundary.
func segmentPrefix[K string | []byte](path K, prefix string) bool {
	return len(path) >= len(prefix) && string(path[:len(prefix)]) == prefix &&
		(len(path) == len(prefix) || prefix[len(prefix)-1] == '/' || path[len(prefix)] == '/')
}
