// Package request reads OAuth authorize requests the way the upstream
// servers behind the proxy read them: which paths name an authorize
// endpoint in any spelling, and which parameters a query string, a body or
// the cookies carry, with names folded as the most lenient framework folds
// them. It knows nothing of Caddy.
package request

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

// Params are what the policy reads of an authorize request, gathered from
// the query string and a form body.
type Params struct {
	ClientID, RedirectURI   string
	nClientID, nRedirectURI int
	// Request and RequestURI are the request object parameters (RFC 9101)
	// and ClientAssertion a PAR push's client assertion (RFC 7523).
	Request, RequestURI, ClientAssertion string
	nRequest, nRequestURI, nAssertion    int
	requestObject                        bool
	responseType                         bool
	form                                 string // the form body, as read
	ourNames                             bool   // a cookie, JSON or multipart name holds one of ours (holdsOurs)
	pairs                                int    // pairs read by Scan
	logout                               *Logout
}

// MaxFields is the most pairs of a query and a form together, or top-level
// keys of a JSON body, or parts of a multipart body, that a request may
// carry. PHP reads only the first 1000 (max_input_vars), so a request with
// more is read differently by different upstreams; the bound also keeps
// the cost of reading a hostile body near that of a plain one.
const MaxFields = 1000

// Carries reports whether the request carries any authorize parameter
// (client_id, redirect_uri, response_type, request, request_uri, in any
// spelling read as ours), in whatever was read into p.
func (p *Params) Carries() bool {
	return p.nClientID > 0 || p.nRedirectURI > 0 || p.responseType || p.requestObject
}

// Scan reads the pairs of a query string or form body. It returns
// MalformedRequest for what the upstream might split or decode differently:
// a ";" separator, a bad escape, or more than MaxFields pairs in all.
func (p *Params) Scan(raw string) policy.Reason {
	if strings.IndexByte(raw, ';') >= 0 {
		return policy.MalformedRequest
	}
	for raw != "" {
		if p.pairs++; p.pairs > MaxFields {
			return policy.MalformedRequest
		}
		pair := raw
		if i := strings.IndexByte(raw, '&'); i >= 0 {
			pair, raw = raw[:i], raw[i+1:]
		} else {
			raw = ""
		}
		if pair == "" {
			continue
		}
		if !mayName[pair[0]] {
			// Only checked, as url.QueryUnescape would: decoding a pair
			// nobody reads would cost an allocation. An escape never
			// spans the "=", so the pair is valid when both halves are.
			if !validEscapes(pair) {
				return policy.MalformedRequest
			}
			continue
		}
		rawName, rawValue := pair, ""
		if i := strings.IndexByte(pair, '='); i >= 0 {
			rawName, rawValue = pair[:i], pair[i+1:]
		}
		name := rawName
		if indexEscape(rawName) >= 0 {
			// Decoded on the stack: a hostile query of thousands of
			// escaped names must not cost an allocation each.
			var buf [32]byte
			b, ok := appendQueryUnescape(buf[:0], rawName)
			if !ok {
				return policy.MalformedRequest
			}
			name = string(b)
		}
		dst := p.slot(name)
		if dst == nil {
			if !validEscapes(rawValue) {
				return policy.MalformedRequest
			}
			continue
		}
		value, ok := queryUnescape(rawValue)
		if !ok {
			return policy.MalformedRequest
		}
		*dst = value
	}
	return ""
}

// slot counts a parameter named name and returns where its value goes, or
// nil for a name that is not one of ours (or a request object's, which is
// only noted).
func (p *Params) slot(name string) *string {
	switch leadLower(name) {
	case 'c':
		switch {
		case nameIs(name, "client_id"):
			p.nClientID++
			return &p.ClientID
		case nameIs(name, "client_assertion"):
			p.nAssertion++
			return &p.ClientAssertion
		}
	case 'r':
		switch {
		case nameIs(name, "redirect_uri"):
			p.nRedirectURI++
			return &p.RedirectURI
		case nameIs(name, "request"):
			p.requestObject = true
			p.nRequest++
			return &p.Request
		case nameIs(name, "request_uri"):
			p.requestObject = true
			p.nRequestURI++
			return &p.RequestURI
		case nameIs(name, "response_type"):
			p.responseType = true
		}
	case 'p', 'i':
		if p.logout != nil {
			return p.logout.slot(name)
		}
	}
	return nil
}

// Submission reports whether a request with query rawQuery carries none of
// response_type, redirect_uri and a request object: not an authorize
// request but a form the authorization server posts back to its endpoint
// (a consent decision, as Spring Authorization Server, Spring Security
// OAuth and Laravel Passport send), which takes the redirect URI checked at
// the authorize request from the server's session. Nor may any parameter
// name, decoded, hold one of ours (holdsOurs): a framework binding
// prefixed or nested names (ASP.NET's req.redirect_uri, x[redirect_uri])
// would read an authorize request there that nameIs does not. Values do
// not matter: a state ending in an escaped "=" is a consent form's.
func (p *Params) Submission(rawQuery string) bool {
	if p.responseType || p.nRedirectURI > 0 || p.requestObject || p.ourNames {
		return false
	}
	for _, raw := range []string{rawQuery, p.form} {
		for raw != "" {
			var pair string
			pair, raw, _ = strings.Cut(raw, "&")
			rawName, _, _ := strings.Cut(pair, "=")
			if holdsOurs(lenientUnescape(rawName)) {
				return false
			}
		}
	}
	return true
}

// holdsOurs reports whether a decoded parameter name, its letters folded as
// nameIs folds them, contains "redirect", "response" or "request", or still
// holds an escape (a name encoded twice): a name that some framework may
// read as one of ours, or bind into one.
func holdsOurs(name string) bool {
	var buf [64]byte
	f := foldInPlace(append(buf[:0], name...))
	for _, sub := range []string{"redirect", "response", "request"} {
		if bytes.Contains(f, []byte(sub)) {
			return true
		}
	}
	for i := 0; i+2 < len(f); i++ {
		if f[i] == '%' && isHex(f[i+1]) && isHex(f[i+2]) {
			return true
		}
	}
	return false
}

// ScanCookies reads the request's cookies as more parameters, as upstreams
// that merge cookies into them do: PHP's $_REQUEST where request_order
// includes cookies (the default without a php.ini, where they override
// the query), classic ASP.NET's Request[name]. A cookie named
// redirect_uri, which an attacker may set from a sibling domain, is then a
// second copy. Names and values are decoded as PHP's urldecode does, and
// names trimmed of white space as ASP.NET's String.Trim does (Unicode's,
// and the no-break space and next line of Latin-1). A cookie whose name
// holds one of ours (holdsOurs) also rules out a consent form.
func (p *Params) ScanCookies(lines []string) {
	for _, line := range lines {
		for line != "" {
			var c string
			c, line, _ = strings.Cut(line, ";")
			c = strings.TrimLeft(c, " \t")
			if c == "" {
				continue
			}
			if c[0] >= utf8.RuneSelf {
				c = strings.TrimLeftFunc(c, isCookieSpace)
			}
			if c == "" || !mayName[c[0]] && !mayHoldName(c, "redirect") && !mayHoldName(c, "response") && !mayHoldName(c, "request") {
				continue
			}
			rawName, rawValue, _ := strings.Cut(c, "=")
			name := strings.TrimFunc(lenientUnescape(rawName), isCookieSpace)
			if holdsOurs(name) {
				p.ourNames = true
			}
			if dst := p.slot(name); dst != nil {
				*dst = lenientUnescape(rawValue)
			}
		}
	}
}

// isCookieSpace reports whether r is white space to String.Trim, read as
// UTF-8 or, for an invalid byte, as Latin-1.
func isCookieSpace(r rune) bool {
	return unicode.IsSpace(r) || r == utf8.RuneError
}

// mayName tells, by the first raw byte of a pair, whether its name may be
// one that nameIs reads as ours. Every such name starts with c or r (or,
// at a logout endpoint, p or i) once trimNameStart has dropped its lead
// and its first letter is folded (leadLower), so the only other candidates
// are the bytes that decode or fold into one or that trimNameStart drops:
// an escape, a "+", a space, a bracket, a dot, a "!", a "?" and the start
// of a UTF-8 sequence.
var mayName = func() (t [256]bool) {
	for b := range t {
		switch lead := leadLower(string(rune(b))); {
		case b >= utf8.RuneSelf, b == '%', b == '+', b == ' ', b == '[', b == ']', b == '.', b == '!', b == '?',
			lead == 'c', lead == 'r', lead == 'p', lead == 'i':
			t[b] = true
		}
	}
	return t
}()

// RequestsCode reports whether a query string carries both response_type
// and redirect_uri (or a request object, request or request_uri, which
// can carry the redirect URI instead), in any spelling nameIs reads and
// whatever else it holds: an authorize request, whichever path or route
// brings it to the endpoint. It splits at ";" as well as "&", and decodes names as PHP does
// (a "%" that does not start an escape is kept), so that no part of the
// query hides one.
func RequestsCode(raw string) bool {
	if !mayHoldName(raw, "type") {
		return false
	}
	var responseType, RedirectURI bool
	for raw != "" {
		pair := raw
		if i := strings.IndexAny(raw, "&;"); i >= 0 {
			pair, raw = raw[:i], raw[i+1:]
		} else {
			raw = ""
		}
		if pair == "" || !mayName[pair[0]] {
			continue
		}
		rawName, _, _ := strings.Cut(pair, "=")
		name := lenientUnescape(rawName)
		switch leadLower(name) {
		case 'r':
			responseType = responseType || nameIs(name, "response_type")
			RedirectURI = RedirectURI || nameIs(name, "redirect_uri") || nameIs(name, "request") || nameIs(name, "request_uri")
		}
	}
	return responseType && RedirectURI
}

// lenientUnescape decodes s as PHP's urldecode does: as queryUnescape, but
// a "%" that does not start a %XX escape is kept as it is.
func lenientUnescape(s string) string {
	if v, ok := queryUnescape(s); ok {
		return v
	}
	b, _ := unescapeInPlace([]byte(strings.ReplaceAll(s, "+", " ")), true)
	return string(b)
}

// mayHoldName reports, cheaply, whether raw may hold a name that nameIs
// reads as one ending in tail (lowercase ASCII): raw contains tail in some
// letter case, an escape or a non-ASCII byte.
func mayHoldName(raw, tail string) bool {
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c == '%' || c >= utf8.RuneSelf {
			return true
		}
	}
	return containsFold(raw, tail)
}

// leadLower returns the first rune of name after what trimNameStart drops,
// folded onto ASCII and lowercased, or 0 for an empty name.
func leadLower(name string) rune {
	name = trimNameStart(name)
	if name == "" {
		return 0
	}
	r := rune(name[0])
	if r >= utf8.RuneSelf {
		r, _ = utf8.DecodeRuneInString(name)
		r = asciiFold(r)
	}
	return unicode.ToLower(r)
}

// queryUnescape decodes s as url.QueryUnescape does ("+" is a space, %XX
// a byte) and fails where it fails (a "%" that does not start a %XX escape),
// but copies the runs between escapes at once rather than byte by byte, and
// returns s itself when there is nothing to decode.
func queryUnescape(s string) (string, bool) {
	i := indexEscape(s)
	if i < 0 {
		return s, true
	}
	var b strings.Builder
	b.Grow(len(s)) // an upper bound: one allocation
	for {
		b.WriteString(s[:i])
		if s[i] == '+' {
			b.WriteByte(' ')
			s = s[i+1:]
		} else {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", false
			}
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			s = s[i+3:]
		}
		if i = indexEscape(s); i < 0 {
			b.WriteString(s)
			return b.String(), true
		}
	}
}

// appendQueryUnescape appends s to dst decoded as queryUnescape decodes it.
func appendQueryUnescape(dst []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			dst = append(dst, ' ')
		case c != '%':
			dst = append(dst, c)
		case i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]):
			return nil, false
		default:
			dst = append(dst, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		}
	}
	return dst, true
}

// indexEscape returns the index of the first "%" or "+" in s, or -1.
func indexEscape(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' || s[i] == '+' {
			return i
		}
	}
	return -1
}

// unhex returns the value of the hex digit c.
func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// validEscapes reports whether every '%' in s starts a %XX escape: whether
// url.QueryUnescape(s) succeeds.
func validEscapes(s string) bool {
	for i := strings.IndexByte(s, '%'); i >= 0; i = strings.IndexByte(s, '%') {
		// A run of escapes is checked in one loop: a value of thousands
		// of them must not cost a call each.
		for ; i < len(s) && s[i] == '%'; i += 3 {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
		}
		s = s[min(i, len(s)):]
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// Reason returns the request-level reason to reject p, if any. A request
// with a request object may leave its redirect_uri to the object.
func (p *Params) Reason() policy.Reason {
	switch {
	case p.nClientID > 1 || p.nRedirectURI > 1 || p.nRequest > 1 || p.nRequestURI > 1 || p.nAssertion > 1:
		return policy.DuplicateParameter
	case p.nRequest > 0 && p.nRequestURI > 0:
		// RFC 9101 §5: one or the other; servers differ on which wins.
		return policy.MalformedRequest
	case p.ClientID == "":
		return policy.MissingClientID
	case p.RedirectURI == "" && !p.requestObject:
		return policy.MissingRedirectURI
	}
	return ""
}

// HasRequestObject reports whether the request carries a request object,
// by value (Request) or by reference (RequestURI).
func (p *Params) HasRequestObject() bool { return p.requestObject }

// HasRequest reports whether the request carries a request object by
// value (the request parameter), empty or not.
func (p *Params) HasRequest() bool { return p.nRequest > 0 }

// HasRedirectURI reports whether the request carries a redirect_uri
// parameter, empty or not.
func (p *Params) HasRedirectURI() bool { return p.nRedirectURI > 0 }

// nameIs reports whether the most lenient upstream framework would read the
// decoded parameter name as target (a lowercase ASCII name): letters in any
// case, including the non-ASCII letters that case-fold onto ASCII ones (the
// dotless ı, the long ſ, the Kelvin sign); ".", " " and "[" read as "_", as
// PHP does; what trimNameStart drops; the array forms target[...] (PHP)
// and target] (Rack); and a name cut at a NUL, as C-based servers read it.
func nameIs(name, target string) bool {
	if name == target {
		return true // how browsers and libraries spell it
	}
	name = trimNameStart(name)
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
	return rest == "" || rest[0] == '[' || rest[0] == ']' || rest[0] == 0
}

// trimNameStart drops what some upstream skips before a parameter name:
// spaces (PHP), brackets (Rack reads [redirect_uri], ]redirect_uri and
// []redirect_uri as redirect_uri, Express's qs reads [redirect_uri]), a
// dot (qs with allowDots reads .redirect_uri), a "!" (Spring's data binder
// applies !redirect_uri when redirect_uri is absent), a "?" (URLSearchParams
// drops one at the start of a query) and a byte order mark (body-parser
// drops one at the start of a body).
func trimNameStart(name string) string {
	for {
		switch {
		case name == "":
			return name
		case name[0] == ' ' || name[0] == '[' || name[0] == ']' || name[0] == '.' || name[0] == '!' || name[0] == '?':
			name = name[1:]
		case strings.HasPrefix(name, "\uFEFF"):
			name = name[len("\uFEFF"):]
		default:
			return name
		}
	}
}

// asciiFold returns the ASCII letter that r folds onto in some upstream's
// case-insensitive comparison, or r.
func asciiFold(r rune) rune {
	if 0xFF01 <= r && r <= 0xFF5E {
		return r - 0xFEE0 // fullwidth forms, which best-fit mappings read as ASCII
	}
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
