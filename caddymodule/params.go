package caddymodule

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

// params are what the policy reads of an authorize request, gathered from
// the query string and a form body.
type params struct {
	clientID, redirectURI   string
	nClientID, nRedirectURI int
	requestObject           bool
}

// scan reads the pairs of a query string or form body. It returns
// MalformedRequest for what the upstream might split or decode differently:
// a ";" separator or a bad escape.
func (p *params) scan(raw string) policy.Reason {
	if strings.IndexByte(raw, ';') >= 0 {
		return policy.MalformedRequest
	}
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		rawName, rawValue, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			return policy.MalformedRequest
		}
		var dst *string
		switch {
		case nameIs(name, "client_id"):
			p.nClientID++
			dst = &p.clientID
		case nameIs(name, "redirect_uri"):
			p.nRedirectURI++
			dst = &p.redirectURI
		case nameIs(name, "request"), nameIs(name, "request_uri"):
			p.requestObject = true
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return policy.MalformedRequest
		}
		if dst != nil {
			*dst = value
		}
	}
	return ""
}

// reason returns the request-level reason to reject p, if any.
func (p *params) reason() policy.Reason {
	switch {
	case p.nClientID > 1 || p.nRedirectURI > 1:
		return policy.DuplicateParameter
	case p.requestObject:
		return policy.RequestObjectNotSupported
	case p.clientID == "":
		return policy.MissingClientID
	case p.redirectURI == "":
		return policy.MissingRedirectURI
	}
	return ""
}

// nameIs reports whether the most lenient upstream framework would read the
// decoded parameter name as target (a lowercase ASCII name): letters in any
// case, including the non-ASCII letters that case-fold onto ASCII ones (the
// dotless ı, the long ſ, the Kelvin sign); ".", " " and "[" read as "_" and
// leading spaces dropped, as PHP does; and the PHP array form target[...]
// or a name cut at a NUL, as C-based servers read it.
func nameIs(name, target string) bool {
	name = strings.TrimLeft(name, " ")
	i := 0
	for _, t := range []byte(target) {
		if i >= len(name) {
			return false
		}
		r, size := rune(name[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(name[i:])
			r = asciiFold(r)
		}
		i += size
		switch r {
		case ' ', '.', '[':
			r = '_'
		}
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		if r != rune(t) {
			return false
		}
	}
	rest := name[i:]
	return rest == "" || rest[0] == '[' || rest[0] == 0
}

// asciiFold returns the ASCII letter that r folds onto in some upstream's
// case-insensitive comparison, or r.
func asciiFold(r rune) rune {
	for _, f := range []rune{unicode.ToLower(r), unicode.ToUpper(r)} {
		if f < utf8.RuneSelf {
			return f
		}
	}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < utf8.RuneSelf {
			return f
		}
	}
	return r
}
