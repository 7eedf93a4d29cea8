// Package policy decides whether a requested OAuth redirect URI is allowed
// for a client, given the client's registered redirect URIs and the rules of
// a sandbox or production environment.
//
// The rules are strict on purpose: redirect URIs are checked byte by byte,
// never decoded, and anything a browser or an upstream server could read in
// two ways is rejected. The package does no I/O and keeps no global state.
package policy

import (
	"fmt"
	"strings"
)

// Options configure a Policy.
type Options struct {
	// Environment is required.
	Environment Environment
	// Match defaults to MatchExact.
	Match MatchMode
	// MaxURILength is the longest redirect URI accepted, in bytes;
	// zero means DefaultMaxURILength.
	MaxURILength int
}

// Policy holds the rules of one environment. It is immutable and safe for
// concurrent use.
type Policy struct {
	env    Environment
	match  MatchMode
	maxLen int
}

// New returns the policy configured by o.
func New(o Options) (*Policy, error) {
	if _, err := ParseEnvironment(string(o.Environment)); err != nil {
		return nil, err
	}
	if o.Match == "" {
		o.Match = MatchExact
	}
	if _, err := ParseMatchMode(string(o.Match)); err != nil {
		return nil, err
	}
	if o.MaxURILength == 0 {
		o.MaxURILength = DefaultMaxURILength
	}
	if o.MaxURILength < 0 {
		return nil, fmt.Errorf("negative maximum URI length %d", o.MaxURILength)
	}
	return &Policy{env: o.Environment, match: o.Match, maxLen: o.MaxURILength}, nil
}

// Environment returns the environment of p.
func (p *Policy) Environment() Environment { return p.env }

// Match returns the match mode of p.
func (p *Policy) Match() MatchMode { return p.match }

// MaxURILength returns the longest redirect URI p accepts, in bytes.
func (p *Policy) MaxURILength() int { return p.maxLen }

// Check applies the syntax rules and the rules of the environment to a
// redirect URI, registered or requested alike. It returns the empty reason
// when the URI passes, otherwise the first rule that fails and a detail.
func (p *Policy) Check(raw string) (Reason, string) {
	var u uri
	return p.check(raw, false, &u)
}

// check applies the syntax rules and the rules of the environment, those of
// a native client's when native is set, filling in u, which must be zero.
func (p *Policy) check(raw string, native bool, u *uri) (Reason, string) {
	r, detail := p.parse(raw, native, u)
	if r == "" {
		r, detail = p.checkEnvironment(u, native)
	}
	return r, detail
}

// Normalize returns the form of raw used for comparisons: scheme and host
// lowercased, IP literals canonical, the default port dropped, an empty path
// written as "/". Path and query are kept byte for byte.
func (p *Policy) Normalize(raw string) (string, error) {
	var u uri
	if r, detail := p.check(raw, false, &u); r != "" {
		return "", &URIError{Index: -1, URI: raw, Reason: r, Detail: detail, Duplicate: -1}
	}
	return p.normalized(&u), nil
}

// normalized returns the normalized form of u, keeping the port even where
// a loopback rule ignores it.
func (p *Policy) normalized(u *uri) string {
	var b strings.Builder
	b.Grow(len(u.host) + len(u.scheme) + len(u.rest) + 16)
	if u.scheme != "" {
		for i := 0; i < len(u.scheme); i++ {
			b.WriteByte(toLower(u.scheme[i]))
		}
		b.WriteByte(':')
		b.WriteString(u.rest)
		return b.String()
	}
	b.WriteString("http")
	if u.https {
		b.WriteByte('s')
	}
	b.WriteString("://")
	if u.ip.Is6() {
		b.WriteString("[" + u.ip.String() + "]")
	} else {
		for i := 0; i < len(u.host); i++ {
			b.WriteByte(toLower(u.host[i]))
		}
	}
	if u.port != "" {
		b.WriteString(":" + u.port)
	}
	if u.pathLen == 0 {
		b.WriteByte('/')
	}
	b.WriteString(u.rest)
	return b.String()
}

// URIError describes a redirect URI that breaks a rule.
type URIError struct {
	Index     int    // position in the registered list, or -1
	URI       string // the URI as given
	Reason    Reason // the rule that failed; empty for a duplicate or a kind of entry the set does not allow
	Detail    string // what is wrong, in words
	Duplicate int    // for a duplicate, the position of the entry it repeats; otherwise -1
}

func (e *URIError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("%q: %s", e.URI, e.Detail)
	}
	return fmt.Sprintf("redirect_uris[%d] %q: %s", e.Index, e.URI, e.Detail)
}

// Errors lists every problem found in a client's registered URIs.
type Errors []*URIError

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}
