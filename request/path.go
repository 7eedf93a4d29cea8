package request

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"
)

var errBadPath = errors.New("path cannot be normalized")

// PathSet recognizes the authorize paths in every spelling that an upstream
// server could route to the same endpoint.
type PathSet struct {
	paths []string // canonical forms
	// The last segments of paths: a path without escapes or non-ASCII
	// bytes can only name one of paths if it contains one of them, in some
	// letter case (canonicalizing only cuts and trims segments and folds
	// ASCII case). An empty one (the root) turns the shortcut off.
	lastSegments []string
}

// NewPathSet compiles the authorize paths, each of which must start with
// "/" and have a canonical form.
func NewPathSet(paths []string) (PathSet, error) {
	var s PathSet
	for _, p := range paths {
		if !strings.HasPrefix(p, "/") {
			return s, errors.New("path " + p + " does not start with /")
		}
		c, _, err := canonicalPath(p, nil)
		if err != nil {
			return s, errors.New("path " + p + ": " + err.Error())
		}
		s.paths = append(s.paths, string(c))
		s.lastSegments = append(s.lastSegments, string(c[bytes.LastIndexByte(c, '/')+1:]))
	}
	return s, nil
}

// cannotName reports, cheaply, that a path names none of s, so that the
// site's other requests (static files, APIs) skip canonicalization.
func (s PathSet) cannotName(escaped string) bool {
	for i := 0; i < len(escaped); i++ {
		if c := escaped[i]; c == '%' || c >= utf8.RuneSelf {
			return false
		}
	}
	for _, seg := range s.lastSegments {
		if seg == "" || containsFold(escaped, seg) {
			return false
		}
	}
	return true
}

// containsFold reports whether s contains the lowercase ASCII string sub in
// any letter case.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for j < len(sub) {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
			j++
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

// Place is where a request path is with respect to the authorize paths.
type Place int

// The places of a path, in increasing order of what they name.
const (
	// Elsewhere names no authorize path.
	Elsewhere Place = iota
	// Below names a path under an authorize path (/oauth/authorize/x),
	// which Express's app.use and Go's subtree patterns route to the
	// authorize handler: the endpoint for a request that carries an
	// authorize parameter.
	Below
	// Endpoint names an authorize path.
	Endpoint
)

// Locate returns where the escaped request path is, or an error when it
// cannot be normalized (which the caller rejects rather than passes).
func (s PathSet) Locate(escaped string) (Place, error) {
	// A canonical path is its own canonical form: the usual spelling needs
	// no work.
	for _, p := range s.paths {
		if escaped == p {
			return Endpoint, nil
		}
	}
	if s.cannotName(escaped) {
		return Elsewhere, nil
	}
	return s.locateReadings(escaped)
}

// locateReadings is Locate without its shortcuts.
func (s PathSet) locateReadings(escaped string) (Place, error) {
	at, err := s.locateCanonical(escaped)
	if at == Endpoint || err != nil {
		return at, err
	}
	// URL parsers that follow the WHATWG rules (Node's
	// new URL(req.url, base)) read a path that starts with two slashes as
	// //host/path.
	if rest, ok := cutAuthority(escaped); ok {
		other, err := s.locateCanonical(rest)
		return max(at, other), err
	}
	return at, nil
}

// cutAuthority returns what a WHATWG URL parser reads as the path of a
// request target that starts with two or more slashes or backslashes: what
// follows the host.
func cutAuthority(escaped string) (string, bool) {
	i := 0
	for i < len(escaped) && (escaped[i] == '/' || escaped[i] == '\\') {
		i++
	}
	if i < 2 {
		return "", false
	}
	if j := strings.IndexAny(escaped[i:], "/\\"); j >= 0 {
		return escaped[i+j:], true
	}
	return "/", true
}

// locateCanonical reads the path as canonicalPath does.
func (s PathSet) locateCanonical(escaped string) (Place, error) {
	var buf [256]byte
	c, lossy, err := canonicalPath(escaped, buf[:0])
	if err != nil {
		if !s.undecodableMayName(escaped) {
			return Elsewhere, nil
		}
		return Elsewhere, err
	}
	at := Elsewhere
	if bytes.ContainsAny(c, "?#") {
		// An encoded "?" or "#" that a proxy behind us decodes would end
		// the path there and start a query of the attacker's: an
		// authorize path (or one below it) followed by one, in any
		// spelling, cannot be read unambiguously.
		if s.namesBeforeQuery(escaped) {
			return Elsewhere, errBadPath
		}
	} else if at = s.names(c); at == Endpoint {
		return Endpoint, nil
	}
	if lossy && s.dotSegmentsHide(escaped) {
		return Elsewhere, errBadPath
	}
	return at, nil
}

// namesBeforeQuery reports whether the escaped path, decoded, names one of
// s, or a path below one, before its first "?" or "#".
func (s PathSet) namesBeforeQuery(escaped string) bool {
	var buf [256]byte
	p, err := foldedPath(escaped, buf[:0])
	if err != nil {
		return false // canonicalPath, reading the same path, succeeded
	}
	if i := bytes.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	var cbuf [256]byte
	c, _, err := canonicalPath(string(p), cbuf[:0])
	return err == nil && s.names(c) != Elsewhere
}

// names returns where the canonical path c is: Endpoint when it is one of
// s, one of s with a suffix such as ".json" (older Spring MVC routes
// /oauth/authorize.json to /oauth/authorize), or one of those before or
// after a ".php" segment (PHP runs /oauth/authorize.php/x as the script
// /oauth/authorize.php, and Symfony and Laravel route
// /index.php/oauth/authorize as /oauth/authorize); Below when one of those
// is below one of s.
func (s PathSet) names(c []byte) Place {
	at := s.namesRoute(c)
	for rest := c; at != Endpoint; {
		i := bytes.Index(rest, []byte(".php/"))
		if i < 0 {
			break
		}
		script := c[:len(c)-len(rest)+i+len(".php")]
		rest = rest[i+len(".php"):]
		at = max(at, s.namesRoute(script), s.namesRoute(rest))
	}
	return at
}

func (s PathSet) namesRoute(c []byte) Place {
	at := Elsewhere
	for _, p := range s.paths {
		if string(c) == p {
			return Endpoint
		}
		if len(c) > len(p)+1 && string(c[:len(p)]) == p && c[len(p)] == '.' &&
			strings.IndexByte(string(c[len(p):]), '/') < 0 {
			return Endpoint
		}
		if len(c) > len(p) && string(c[:len(p)]) == p && (p == "/" || c[len(p)] == '/') {
			at = Below
		}
	}
	return at
}

// pathHeaders are the headers by which some frameworks take the request
// path from a proxy in front of them (IIS's URL Rewrite, Zend, Symfony
// before 2018): a request carrying one may be routed by it.
var pathHeaders = []string{"X-Original-Url", "X-Rewrite-Url"}

// LocateRequest tells where a request stands relative to the set, read
// every way an upstream may route it: by its path, by the path headers of
// URL-rewriting front ends, and by a front page's query route. The nearest
// wins; an error means the request names an endpoint in a way that cannot
// be read unambiguously.
func (s PathSet) LocateRequest(escaped string, h http.Header, rawQuery string) (Place, error) {
	at, err := s.Locate(escaped)
	if err == nil && at != Endpoint {
		var other Place
		other, err = s.LocateHeaders(h)
		at = max(at, other)
	}
	if err == nil && at != Endpoint {
		var other Place
		other, err = s.LocateQueryRoute(escaped, rawQuery)
		at = max(at, other)
	}
	return at, err
}

// LocateHeaders returns where the path headers of h are, the nearest to an
// authorize path, or an error when one cannot be normalized.
func (s PathSet) LocateHeaders(h http.Header) (Place, error) {
	at := Elsewhere
	for _, name := range pathHeaders {
		for _, v := range h[name] {
			if i := strings.Index(v, "://"); i >= 0 {
				// An absolute URL: its path.
				v = v[i+len("://"):]
				if j := strings.IndexByte(v, '/'); j >= 0 {
					v = v[j:]
				} else {
					v = "/"
				}
			}
			if i := strings.IndexAny(v, "?#"); i >= 0 {
				v = v[:i]
			}
			here, err := s.Locate(v)
			if at = max(at, here); at == Endpoint || err != nil {
				return at, err
			}
		}
	}
	return at, nil
}

// LocateQueryRoute returns where a request to the front page or a PHP
// script is routed by its query string, as Drupal 7 (?q=oauth/authorize)
// and Yii (?r=oauth/authorize) route. A query that is
// itself a path (CodeIgniter's /?/oauth/authorize?client_id=...) is an
// error: CodeIgniter then reads the parameters after its second "?" only,
// which leaves them ambiguous.
func (s PathSet) LocateQueryRoute(escaped, rawQuery string) (Place, error) {
	at := Elsewhere
	if rawQuery == "" || !(escaped == "/" || escaped == "" || hasSuffixFold(escaped, ".php")) ||
		s.cannotName(rawQuery) {
		return at, nil
	}
	if rawQuery[0] == '/' {
		route, _, _ := strings.Cut(rawQuery, "?")
		if here, err := s.Locate(route); here != Elsewhere || err != nil {
			return at, errBadPath
		}
	}
	for raw := rawQuery; raw != ""; {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		rawName, rawValue, _ := strings.Cut(pair, "=")
		if name := lenientUnescape(rawName); !nameIs(name, "q") && !nameIs(name, "r") {
			continue
		}
		// A route has no query of its own: /login.php?r=/oauth/authorize?...
		// is a page to return to after signing in.
		if value := lenientUnescape(rawValue); !strings.ContainsAny(value, "?#") {
			here, err := s.Locate(value)
			if at = max(at, here); at == Endpoint || err != nil {
				return at, err
			}
		}
	}
	return at, nil
}

// hasSuffixFold reports whether s ends with the lowercase ASCII suffix in
// any letter case.
func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && containsFold(s[len(s)-len(suffix):], suffix)
}

// undecodableMayName reports whether a path that canonicalPath cannot
// decode might still name one of s: decoded up to three times with bad
// escapes kept as they are, then folded, it mentions the last segment of
// one of s or still holds an escape. Any other such path is not ours to
// reject: Caddy's file server serves /static/50%2525off as "50%25off".
func (s PathSet) undecodableMayName(escaped string) bool {
	p := append([]byte{'/'}, escaped...)
	for range 3 {
		p, _ = unescapeInPlace(p, true)
	}
	for rest := p; ; rest = rest[1:] {
		i := bytes.IndexByte(rest, '%')
		if i < 0 {
			break
		}
		rest = rest[i:]
		if len(rest) > 2 && isHex(rest[1]) && isHex(rest[2]) {
			return true
		}
	}
	return s.mentioned(foldInPlace(p))
}

// mentioned reports whether the folded path p contains the last segment of
// one of s.
func (s PathSet) mentioned(p []byte) bool {
	for _, last := range s.lastSegments {
		if bytes.Contains(p, []byte(last)) {
			return true
		}
	}
	return false
}

// dotSegmentsHide reports whether a path whose canonical form lost
// segments to a ".." (or its tail to a NUL) has a ".." and mentions one of
// s. Upstreams disagree on which segment a ".." removes: the canonical form
// drops ";x", blank and dots-only segments and cuts at a NUL before
// resolving it, Go's path.Clean and Tomcat do not, so
// /oauth/authorize/;x/.. is /oauth for one and /oauth/authorize for the
// other. Such a path cannot be read unambiguously.
func (s PathSet) dotSegmentsHide(escaped string) bool {
	var buf [256]byte
	p, err := foldedPath(escaped, buf[:0])
	if err != nil {
		return false // canonicalPath, reading the same path, succeeded
	}
	dots := false
	for i := 0; i < len(p) && !dots; {
		var seg []byte
		seg, i = nextSegment(p, i)
		// "..", and what some upstream may read as one: ". .", "...".
		t := trimSegment(seg)
		dots = bytes.Count(t, []byte(".")) >= 2 && len(bytes.Trim(t, ". ")) == 0
	}
	return dots && s.mentioned(p)
}

// canonicalPath appends to dst the form of an escaped path that the most
// lenient upstream would route by: percent-decoded (repeatedly, for double
// encoding), letters folded (foldedPath), backslashes read as slashes, cut
// at a NUL, ";" parameters dropped from each segment, white space and
// control characters around a segment dropped (as path matchers that trim
// tokens do), empty and "." segments dropped, ".." resolved, trailing dots
// and spaces of a segment dropped (as Windows servers do; a segment left
// empty is dropped too) and no trailing slash. It also reports whether the
// form lost a segment to a ".." or a tail to a NUL.
func canonicalPath(escaped string, dst []byte) (c []byte, lossy bool, err error) {
	full, err := foldedPath(escaped, dst)
	if err != nil {
		return nil, false, err
	}
	p := full[len(dst):]
	if i := indexByte(p, 0); i >= 0 {
		p, lossy = p[:i], true
	}
	// Rewrite segment by segment in place: the output never outgrows the
	// input, and the leading "/" foldedPath adds makes every segment
	// follow a separator, so the "/" written before a segment lands on a
	// byte already read.
	out := p[:0]
	for i := 0; i < len(p); {
		var seg []byte
		seg, i = nextSegment(p, i)
		seg = trimSegment(seg)
		switch string(seg) {
		case "", ".":
			continue
		case "..":
			if k := lastIndexByte(out, '/'); k >= 0 {
				out, lossy = out[:k], true
			}
			continue
		}
		for len(seg) > 0 && (seg[len(seg)-1] == '.' || seg[len(seg)-1] == ' ') {
			seg = seg[:len(seg)-1]
		}
		if len(seg) == 0 || cookieless(seg) {
			continue // "...", ". ", " ": empty once trimmed, or (S(x))
		}
		out = append(out, '/')
		out = append(out, seg...)
	}
	if len(out) == 0 {
		out = append(out, '/')
	}
	// out is full[len(dst):len(dst)+len(out)]: this copies nothing.
	return full[:len(dst)+len(out)], lossy, nil
}

// foldedPath appends to dst the escaped path read from the root (a path
// without a leading slash, as a rewrite may leave it, is read as upstreams
// do), percent-decoded up to three times, with every letter that folds
// onto an ASCII one lowercased onto it: ASCII letters, non-ASCII letters
// that case-fold onto ASCII ones as Java's and .NET's case-insensitive
// comparisons do (the dotless ı, the dotted İ, the Kelvin sign), and
// fullwidth forms, which best-fit mappings read as ASCII (a fullwidth
// solidus is a slash).
func foldedPath(escaped string, dst []byte) ([]byte, error) {
	full := append(dst, '/')
	full = append(full, escaped...)
	p := full[len(dst):]
	for range 3 {
		if !hasPercent(p) {
			break
		}
		var err error
		if p, err = unescapeInPlace(p, false); err != nil {
			return nil, err
		}
	}
	if hasPercent(p) {
		return nil, errBadPath // encoded more than three times
	}
	return full[:len(dst)+len(foldInPlace(p))], nil
}

// foldInPlace folds the letters of p as foldedPath describes. What
// replaces a rune is never longer, and it is read before its bytes can be
// overwritten.
func foldInPlace(p []byte) []byte {
	out := p[:0]
	for k := 0; k < len(p); {
		c, size := p[k], 1
		if c >= utf8.RuneSelf {
			var r rune
			r, size = utf8.DecodeRune(p[k:])
			f := asciiFold(r)
			if f >= utf8.RuneSelf {
				out = append(out, p[k:k+size]...)
				k += size
				continue
			}
			c = byte(f)
		}
		k += size
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out = append(out, c)
	}
	return out
}

// nextSegment returns the segment of p that starts at i, up to the next
// slash or backslash, and the index after that separator.
func nextSegment(p []byte, i int) (seg []byte, next int) {
	j := i
	for j < len(p) && p[j] != '/' && p[j] != '\\' {
		j++
	}
	return p[i:j], j + 1
}

// cookieless reports whether seg is an ASP.NET cookieless session segment,
// such as (S(x)), which ASP.NET removes before routing.
func cookieless(seg []byte) bool {
	return len(seg) >= 5 && seg[0] == '(' && 'a' <= seg[1] && seg[1] <= 'z' && seg[2] == '(' &&
		bytes.HasSuffix(seg, []byte("))"))
}

// trimSegment drops a segment's ";" parameters and the white space and
// control characters around it.
func trimSegment(seg []byte) []byte {
	if k := indexByte(seg, ';'); k >= 0 {
		seg = seg[:k]
	}
	return bytes.TrimFunc(seg, isSpaceOrControl)
}

// unescapeInPlace decodes %XX escapes; the result is never longer. A "%"
// that does not start one is an error, or when lenient is kept as it is.
func unescapeInPlace(b []byte, lenient bool) ([]byte, error) {
	out := b[:0]
	for i := 0; i < len(b); i++ {
		if b[i] != '%' {
			out = append(out, b[i])
			continue
		}
		if i+2 >= len(b) || !isHex(b[i+1]) || !isHex(b[i+2]) {
			if lenient {
				out = append(out, b[i])
				continue
			}
			return nil, errBadPath
		}
		out = append(out, unhex(b[i+1])<<4|unhex(b[i+2]))
		i += 2
	}
	return out, nil
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

func hasPercent(b []byte) bool { return bytes.IndexByte(b, '%') >= 0 }

func indexByte(b []byte, c byte) int { return bytes.IndexByte(b, c) }

func lastIndexByte(b []byte, c byte) int { return bytes.LastIndexByte(b, c) }
