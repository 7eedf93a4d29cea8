package policy

import (
	"net/netip"
	"strings"
)

// DefaultMaxURILength is the longest redirect URI accepted, in bytes, when
// Options.MaxURILength is zero.
const DefaultMaxURILength = 2048

// uri is a redirect URI that passed the syntax rules, split into the parts
// the policy compares. Its strings are substrings of the input: nothing is
// decoded, so what is compared is what the upstream and the browser see.
type uri struct {
	https    bool
	scheme   string     // a private-use scheme as written; "" for http(s)
	host     string     // as written, without brackets
	ip       netip.Addr // valid for IP literals
	port     string     // "" when absent or the scheme's default
	rest     string     // path and query, as written
	pathLen  int        // length of the path within rest
	loopback bool
	// normal tells that the scheme and authority are written as
	// appendOrigin writes them when it keeps the port, so the input's own
	// bytes serve as the keys of a request.
	normal bool
}

func (u *uri) path() string { return u.rest[:u.pathLen] }

// parse applies the syntax rules to s in their documented order, filling in
// u, and returns the first that fails, with a short detail for error
// messages. It does not allocate for a well-formed URI, so the request
// path stays cheap.
//
// A native client (RFC 8252) may also use a private-use scheme: see
// parsePrivateUse.
func (p *Policy) parse(s string, native bool, u *uri) (r Reason, detail string) {
	if len(s) > p.maxLen {
		return MalformedRedirectURI, "longer than the maximum length"
	}
	ctlEscape, hasHash, hasPercent := false, false, false
	for i := 0; i < len(s); i++ {
		// Eight plain bytes at a time, as most are.
		if b := s[i:min(i+8, len(s))]; len(b) == 8 &&
			uriChar[b[0]]|uriChar[b[1]]|uriChar[b[2]]|uriChar[b[3]]|
				uriChar[b[4]]|uriChar[b[5]]|uriChar[b[6]]|uriChar[b[7]] == charOK {
			i += 7
			continue
		}
		switch uriChar[s[i]] {
		case charOK:
		case charInvalid:
			return MalformedRedirectURI, "contains a control character, space or non-ASCII byte"
		case charEncode:
			return MalformedRedirectURI, "contains a character that must be percent-encoded"
		case charPercent:
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return MalformedRedirectURI, "contains an invalid percent-encoding"
			}
			if v := unhex(s[i+1])<<4 | unhex(s[i+2]); v < 0x20 || v == 0x7f {
				ctlEscape = true
			}
			hasPercent = true
		case charHash:
			hasHash = true
		}
	}

	colon := strings.IndexByte(s, ':')
	if colon <= 0 || !isScheme(s[:colon]) {
		return MalformedRedirectURI, "not an absolute URI"
	}
	scheme := s[:colon]
	switch {
	case asciiEqualFold(scheme, "https"):
		u.https = true
	case asciiEqualFold(scheme, "http"):
	case !native:
		return DisallowedScheme, "scheme is not http or https"
	case strings.IndexByte(scheme, '.') < 0:
		return DisallowedScheme, "a private-use scheme must contain a dot: a reverse domain name such as com.example.app (RFC 8252 §7.1)"
	default:
		return parsePrivateUse(s, colon, hasHash, ctlEscape, u)
	}
	rest, ok := strings.CutPrefix(s[colon+1:], "//")
	if !ok {
		return MalformedRedirectURI, "scheme is not followed by //"
	}
	// One pass over the authority finds its end, user information and the
	// colon before a port.
	end, at, portColon := 0, -1, -1
authority:
	for ; end < len(rest); end++ {
		if !authorityStop[rest[end]] {
			continue
		}
		switch rest[end] {
		case '@':
			at = end
		case ':':
			if portColon < 0 {
				portColon = end
			}
		default:
			break authority
		}
	}
	authority := rest[:end]
	if at >= 0 {
		return UserinfoInRedirectURI, "contains user information"
	}
	if hasHash {
		return FragmentInRedirectURI, "contains a fragment"
	}
	u.rest = rest[end:]
	u.pathLen = len(u.rest)
	if q := strings.IndexByte(u.rest, '?'); q >= 0 {
		u.pathLen = q
	}

	port, hasPort, upper := "", false, false
	if strings.HasPrefix(authority, "[") {
		closing := strings.IndexByte(authority, ']')
		if closing < 0 {
			return MalformedRedirectURI, "unterminated IPv6 literal"
		}
		u.host = authority[1:closing]
		ip, err := netip.ParseAddr(u.host)
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return MalformedRedirectURI, "invalid IPv6 literal"
		}
		u.ip = ip
		if after := authority[closing+1:]; after != "" {
			if after[0] != ':' {
				return MalformedRedirectURI, "invalid characters after IPv6 literal"
			}
			port, hasPort = after[1:], true
		}
	} else {
		u.host = authority
		if portColon >= 0 {
			u.host, port, hasPort = authority[:portColon], authority[portColon+1:], true
		}
		detail, last, hostUpper := checkHostName(u.host)
		if detail != "" {
			return MalformedRedirectURI, detail
		}
		upper = hostUpper
		if lastLabelNumeric(u.host[last:]) {
			ip, err := netip.ParseAddr(u.host)
			if err != nil || !ip.Is4() {
				return MalformedRedirectURI, "numeric host is not a canonical dotted-quad IPv4 address"
			}
			u.ip = ip
		}
	}
	unspecified := false
	if u.ip.IsValid() {
		ip := u.ip.Unmap()
		u.loopback, unspecified = ip.IsLoopback(), ip.IsUnspecified()
	} else {
		u.loopback = asciiEqualFold(u.host, "localhost") ||
			len(u.host) > len(".localhost") && asciiEqualFold(u.host[len(u.host)-len(".localhost"):], ".localhost")
	}
	// The unspecified addresses fail with the host rule of the syntax, so
	// before the port and path rules and the rules of the environment; only
	// the reason depends on the environment.
	if unspecified {
		if p.env == Production {
			return LoopbackNotAllowed, "production does not allow unspecified addresses"
		}
		return MalformedRedirectURI, "unspecified address is not a valid host"
	}

	if hasPort {
		if !isPort(port) {
			return MalformedRedirectURI, "port is not a decimal number from 1 to 65535 without leading zeros"
		}
		if !(u.https && port == "443" || !u.https && port == "80") {
			u.port = port
		}
	}
	if ctlEscape {
		return MalformedRedirectURI, "contains a percent-encoded control character"
	}
	// A dot segment has a dot, plainly or percent-encoded.
	if (hasPercent || strings.IndexByte(u.path(), '.') >= 0) && hasDotSegment(u.path()) {
		return PathTraversal, "path contains a dot segment"
	}
	u.normal = (scheme == "https" || scheme == "http") && !upper && u.ip.Is4() == u.ip.IsValid() &&
		(!hasPort || u.port != "")
	return "", ""
}

// parsePrivateUse applies the rest of the syntax rules to a native app's
// private-use scheme URI (RFC 8252 §7.1), s[:colon] being its scheme: the
// form scheme:/path, or scheme:///path with an empty authority, so that no
// part of it can be read as a host. Userinfo, fragments, encoded control
// characters and dot segments are refused as for http(s).
func parsePrivateUse(s string, colon int, hasHash, ctlEscape bool, u *uri) (r Reason, detail string) {
	u.scheme, u.rest = s[:colon], s[colon+1:]
	path, authority := u.rest, ""
	if after, ok := strings.CutPrefix(path, "//"); ok {
		end := strings.IndexAny(after, "/?#")
		if end < 0 {
			end = len(after)
		}
		authority, path = after[:end], after[end:]
	}
	if strings.IndexByte(authority, '@') >= 0 {
		return UserinfoInRedirectURI, "contains user information"
	}
	if hasHash {
		return FragmentInRedirectURI, "contains a fragment"
	}
	if authority != "" {
		return MalformedRedirectURI, "a private-use scheme URI has no host: write scheme:/path"
	}
	pathLen := len(path)
	if q := strings.IndexByte(path, '?'); q >= 0 {
		pathLen = q
	}
	if !strings.HasPrefix(path, "/") {
		return MalformedRedirectURI, "a private-use scheme URI's path starts with /: write scheme:/path"
	}
	u.pathLen = len(u.rest) - len(path) + pathLen
	if ctlEscape {
		return MalformedRedirectURI, "contains a percent-encoded control character"
	}
	if hasDotSegment(path[:pathLen]) {
		return PathTraversal, "path contains a dot segment"
	}
	u.normal = true
	for i := 0; i < colon; i++ {
		u.normal = u.normal && !isUpper(s[i])
	}
	return "", ""
}

// Classes of bytes for the character rules of parse.
const (
	charOK      = iota
	charInvalid // control characters, space, DEL and non-ASCII bytes
	charEncode  // printable ASCII that must be percent-encoded
	charPercent
	charHash
)

var uriChar = func() (t [256]uint8) {
	for c := range t {
		if c <= ' ' || c >= 0x7f {
			t[c] = charInvalid
		}
	}
	for _, c := range []byte("\\<>\"{}|^`") {
		t[c] = charEncode
	}
	t['%'], t['#'] = charPercent, charHash
	return t
}()

// checkEnvironment applies the rules of the environment to a URI that passed
// the syntax rules. A native client's (RFC 8252) are the same in both
// environments: http only to the loopback IP literals (§7.3, §8.3), other
// loopback hosts never, private-use schemes (checked by parse).
func (p *Policy) checkEnvironment(u *uri, native bool) (Reason, string) {
	if native {
		switch {
		case u.scheme != "" || u.https && !u.loopback:
		case u.nativeLoopback():
			if u.https {
				return LoopbackNotAllowed, "a native client's loopback redirect URI uses http (RFC 8252 §7.3)"
			}
		case u.loopback:
			return LoopbackNotAllowed, "a native client's loopback redirect URI uses the IP literal 127.0.0.1 or [::1] (RFC 8252 §8.3)"
		default:
			return InsecureScheme, "a native client uses http only to 127.0.0.1 or [::1]"
		}
		return "", ""
	}
	if p.env != Production {
		return "", ""
	}
	switch {
	case !u.https:
		return InsecureScheme, "production requires https"
	case u.loopback:
		return LoopbackNotAllowed, "production does not allow loopback hosts"
	}
	return "", ""
}

// nativeLoopback reports whether u's host is one of the loopback IP
// literals RFC 8252 §7.3 names, 127.0.0.1 and ::1, written as such.
func (u *uri) nativeLoopback() bool {
	return u.ip == netip.AddrFrom4([4]byte{127, 0, 0, 1}) || u.ip == netip.IPv6Loopback()
}

// appendOrigin appends the normalized scheme, host and, unless a loopback
// rule ignores it, port of u to dst; for a private-use scheme, the scheme
// and its colon.
func (p *Policy) appendOrigin(dst []byte, u *uri, native bool) []byte {
	if u.scheme != "" {
		for i := 0; i < len(u.scheme); i++ {
			dst = append(dst, toLower(u.scheme[i]))
		}
		return append(dst, ':')
	}
	if u.https {
		dst = append(dst, "https://"...)
	} else {
		dst = append(dst, "http://"...)
	}
	if u.ip.Is6() {
		dst = append(dst, '[')
		dst = u.ip.AppendTo(dst)
		dst = append(dst, ']')
	} else {
		n := len(dst)
		dst = append(dst, u.host...)
		for i := n; i < len(dst); i++ {
			dst[i] = toLower(dst[i])
		}
	}
	if u.port != "" && !p.ignoresPort(u, native) {
		dst = append(dst, ':')
		dst = append(dst, u.port...)
	}
	return dst
}

// ignoresPort reports whether a loopback rule (RFC 8252 §7.3) applies to u:
// native apps listen on an ephemeral port. It applies to loopback hosts in
// sandbox and to a native client's loopback IP literals everywhere (the
// only loopback hosts checkEnvironment lets such a client use).
func (p *Policy) ignoresPort(u *uri, native bool) bool {
	return (p.env == Sandbox || native) && u.loopback
}

// checkHostName checks the syntax of a DNS name or dotted-quad address:
// letter-digit-hyphen labels of 1 to 63 bytes, 253 in all, no empty label.
// For a valid name it also returns where the last label starts and whether
// any letter is upper case.
func checkHostName(h string) (detail string, last int, upper bool) {
	if h == "" {
		return "empty host", 0, false
	}
	if len(h) > 253 {
		return "host is longer than 253 bytes", 0, false
	}
	var class uint8
	for i := 0; i < len(h); i++ {
		if c := h[i]; c != '.' {
			k := hostChar[c]
			if k == 0 {
				if c == '*' {
					return "host contains a wildcard", 0, false
				}
				return "host contains a character other than letters, digits, hyphens and dots", 0, false
			}
			class |= k
			continue
		}
		if detail := checkLabel(h[last:i]); detail != "" {
			return detail, 0, false
		}
		last = i + 1
	}
	return checkLabel(h[last:]), last, class&hostUpper != 0
}

// checkLabel checks the length and hyphens of a label of letters, digits
// and hyphens.
func checkLabel(label string) string {
	switch {
	case label == "":
		return "host has an empty label"
	case len(label) > 63:
		return "host label is longer than 63 bytes"
	case label[0] == '-' || label[len(label)-1] == '-':
		return "host label starts or ends with a hyphen"
	}
	return ""
}

// Classes of the bytes of a DNS label, for hostChar; 0 for any other byte.
const (
	hostOther = 1 << iota // lower-case letters, digits and hyphens
	hostUpper             // upper-case letters
)

// hostChar tells the bytes of a DNS label: letters, digits and hyphens.
var hostChar = func() (t [256]uint8) {
	for c := range t {
		switch {
		case isUpper(byte(c)):
			t[c] = hostUpper
		case isAlnum(byte(c)) || c == '-':
			t[c] = hostOther
		}
	}
	return t
}()

// authorityStop tells the bytes that end an authority or that the authority
// scan of parse records.
var authorityStop = func() (t [256]bool) {
	for _, c := range []byte("/?#@:") {
		t[c] = true
	}
	return t
}()

// lastLabelNumeric reports whether browsers would read a host as an IPv4
// address, given its last label: all digits or starting with 0x.
func lastLabelNumeric(last string) bool {
	if len(last) >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') {
		return true
	}
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return false
		}
	}
	return true
}

// hasDotSegment reports whether a path segment is "." or "..", written
// plainly or with %2e, also when ";" parameters follow it.
func hasDotSegment(path string) bool {
	if path != "" && path[0] != '/' && isDotSegment(path) {
		return true
	}
	for i := 0; i+1 < len(path); i++ {
		if path[i] == '/' && (path[i+1] == '.' || path[i+1] == '%') && isDotSegment(path[i+1:]) {
			return true
		}
	}
	return false
}

// isDotSegment reports whether the segment at the start of s, which ends at
// the next '/' or ';' or with s, is one or two dots, plain or as %2e.
func isDotSegment(s string) bool {
	for dots := 0; dots <= 2; dots++ {
		switch {
		case s != "" && s[0] == '.':
			s = s[1:]
		case len(s) >= 3 && s[0] == '%' && s[1] == '2' && (s[2] == 'e' || s[2] == 'E'):
			s = s[3:]
		default:
			return dots > 0 && (s == "" || s[0] == '/' || s[0] == ';')
		}
	}
	return false
}

func isPort(s string) bool {
	if s == "" || len(s) > 5 || s[0] == '0' {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n <= 65535
}

// isScheme reports whether s matches RFC 3986's
// ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func isScheme(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// asciiEqualFold is strings.EqualFold restricted to ASCII: it never folds
// non-ASCII letters (such as the Kelvin sign) onto ASCII ones.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if toLower(a[i]) != toLower(b[i]) {
			return false
		}
	}
	return true
}

func toLower(c byte) byte {
	if isUpper(c) {
		return c + 'a' - 'A'
	}
	return c
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isAlnum(c byte) bool { return isAlpha(c) || '0' <= c && c <= '9' }
func isHex(c byte) bool   { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
