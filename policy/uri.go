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
	host     string     // as written, without brackets
	ip       netip.Addr // valid for IP literals
	port     string     // "" when absent or the scheme's default
	rest     string     // path and query, as written
	pathLen  int        // length of the path within rest
	loopback bool
}

func (u *uri) path() string { return u.rest[:u.pathLen] }

// parse applies the syntax rules to s in their documented order and returns
// the first that fails, with a short detail for error messages. It does not
// allocate for well-formed DNS hosts, so the request path stays cheap.
func (p *Policy) parse(s string) (u uri, r Reason, detail string) {
	if len(s) > p.maxLen {
		return u, MalformedRedirectURI, "longer than the maximum length"
	}
	ctlEscape, hasHash := false, false
	for i := 0; i < len(s); i++ {
		switch uriChar[s[i]] {
		case charOK:
		case charInvalid:
			return u, MalformedRedirectURI, "contains a control character, space or non-ASCII byte"
		case charEncode:
			return u, MalformedRedirectURI, "contains a character that must be percent-encoded"
		case charPercent:
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return u, MalformedRedirectURI, "contains an invalid percent-encoding"
			}
			if v := unhex(s[i+1])<<4 | unhex(s[i+2]); v < 0x20 || v == 0x7f {
				ctlEscape = true
			}
		case charHash:
			hasHash = true
		}
	}

	colon := strings.IndexByte(s, ':')
	if colon <= 0 || !isScheme(s[:colon]) {
		return u, MalformedRedirectURI, "not an absolute URI"
	}
	switch scheme := s[:colon]; {
	case asciiEqualFold(scheme, "https"):
		u.https = true
	case asciiEqualFold(scheme, "http"):
	default:
		return u, DisallowedScheme, "scheme is not http or https"
	}
	rest, ok := strings.CutPrefix(s[colon+1:], "//")
	if !ok {
		return u, MalformedRedirectURI, "scheme is not followed by //"
	}
	end := 0
	for end < len(rest) && rest[end] != '/' && rest[end] != '?' && rest[end] != '#' {
		end++
	}
	authority := rest[:end]
	if strings.IndexByte(authority, '@') >= 0 {
		return u, UserinfoInRedirectURI, "contains user information"
	}
	if hasHash {
		return u, FragmentInRedirectURI, "contains a fragment"
	}
	u.rest = rest[end:]
	u.pathLen = len(u.rest)
	if q := strings.IndexByte(u.rest, '?'); q >= 0 {
		u.pathLen = q
	}

	port, hasPort := "", false
	if strings.HasPrefix(authority, "[") {
		closing := strings.IndexByte(authority, ']')
		if closing < 0 {
			return u, MalformedRedirectURI, "unterminated IPv6 literal"
		}
		u.host = authority[1:closing]
		ip, err := netip.ParseAddr(u.host)
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return u, MalformedRedirectURI, "invalid IPv6 literal"
		}
		u.ip = ip
		if after := authority[closing+1:]; after != "" {
			if after[0] != ':' {
				return u, MalformedRedirectURI, "invalid characters after IPv6 literal"
			}
			port, hasPort = after[1:], true
		}
	} else {
		u.host = authority
		if i := strings.IndexByte(authority, ':'); i >= 0 {
			u.host, port, hasPort = authority[:i], authority[i+1:], true
		}
		if detail := checkHostName(u.host); detail != "" {
			return u, MalformedRedirectURI, detail
		}
		if lastLabelNumeric(u.host) {
			ip, err := netip.ParseAddr(u.host)
			if err != nil || !ip.Is4() {
				return u, MalformedRedirectURI, "numeric host is not a canonical dotted-quad IPv4 address"
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
			return u, LoopbackNotAllowed, "production does not allow unspecified addresses"
		}
		return u, MalformedRedirectURI, "unspecified address is not a valid host"
	}

	if hasPort {
		if !isPort(port) {
			return u, MalformedRedirectURI, "port is not a decimal number from 1 to 65535 without leading zeros"
		}
		if !(u.https && port == "443" || !u.https && port == "80") {
			u.port = port
		}
	}
	if ctlEscape {
		return u, MalformedRedirectURI, "contains a percent-encoded control character"
	}
	if hasDotSegment(u.path()) {
		return u, PathTraversal, "path contains a dot segment"
	}
	return u, "", ""
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
// the syntax rules.
func (p *Policy) checkEnvironment(u *uri) (Reason, string) {
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

// appendOrigin appends the normalized scheme, host and, unless the sandbox
// loopback rule ignores it, port of u to dst.
func (p *Policy) appendOrigin(dst []byte, u *uri) []byte {
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
		for i := 0; i < len(u.host); i++ {
			dst = append(dst, toLower(u.host[i]))
		}
	}
	if u.port != "" && !p.ignoresPort(u) {
		dst = append(dst, ':')
		dst = append(dst, u.port...)
	}
	return dst
}

// ignoresPort reports whether the sandbox loopback rule (RFC 8252 §7.3)
// applies to u: native apps listen on an ephemeral port.
func (p *Policy) ignoresPort(u *uri) bool { return p.env == Sandbox && u.loopback }

// checkHostName checks the syntax of a DNS name or dotted-quad address:
// letter-digit-hyphen labels of 1 to 63 bytes, 253 in all, no empty label.
func checkHostName(h string) string {
	if h == "" {
		return "empty host"
	}
	if len(h) > 253 {
		return "host is longer than 253 bytes"
	}
	start := 0
	for i := 0; i <= len(h); i++ {
		if i < len(h) && h[i] != '.' {
			if c := h[i]; !hostChar[c] {
				if c == '*' {
					return "host contains a wildcard"
				}
				return "host contains a character other than letters, digits, hyphens and dots"
			}
			continue
		}
		label := h[start:i]
		switch {
		case label == "":
			return "host has an empty label"
		case len(label) > 63:
			return "host label is longer than 63 bytes"
		case label[0] == '-' || label[len(label)-1] == '-':
			return "host label starts or ends with a hyphen"
		}
		start = i + 1
	}
	return ""
}

// hostChar tells the bytes of a DNS label: letters, digits and hyphens.
var hostChar = func() (t [256]bool) {
	for c := range t {
		t[c] = isAlnum(byte(c)) || c == '-'
	}
	return t
}()

// lastLabelNumeric reports whether browsers would read h as an IPv4 address:
// its last label is all digits or starts with 0x.
func lastLabelNumeric(h string) bool {
	last := h[strings.LastIndexByte(h, '.')+1:]
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
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

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
