package caddymodule

import (
	"bytes"
	"errors"
	"strings"
	"unicode/utf8"
)

var errBadPath = errors.New("path cannot be normalized")

// pathSet recognizes the authorize paths in every spelling that an upstream
// server could route to the same endpoint.
type pathSet struct {
	paths []string // canonical forms
	// The last segments of paths: a path without escapes or non-ASCII
	// bytes can only name one of paths if it contains one of them, in some
	// letter case (canonicalizing only cuts and trims segments and folds
	// ASCII case). An empty one (the root) turns the shortcut off.
	lastSegments []string
}

func newPathSet(paths []string) (pathSet, error) {
	var s pathSet
	for _, p := range paths {
		if !strings.HasPrefix(p, "/") {
			return s, errors.New("path " + p + " does not start with /")
		}
		c, err := canonicalPath(p, nil)
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
func (s pathSet) cannotName(escaped string) bool {
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

// match reports whether the escaped request path names an authorize path,
// or an error when it cannot be normalized (which the caller rejects rather
// than passes).
func (s pathSet) match(escaped string) (bool, error) {
	// A canonical path is its own canonical form: the usual spelling needs
	// no work.
	for _, p := range s.paths {
		if escaped == p {
			return true, nil
		}
	}
	if s.cannotName(escaped) {
		return false, nil
	}
	var buf [256]byte
	c, err := canonicalPath(escaped, buf[:0])
	if err != nil {
		return false, err
	}
	// An encoded "?" or "#" that a proxy behind us decodes would end the
	// path there and start a query of the attacker's: an authorize path
	// followed by one cannot be read unambiguously.
	if i := bytes.IndexAny(c, "?#"); i >= 0 {
		if s.names(bytes.TrimRight(c[:i], "/")) {
			return false, errBadPath
		}
		return false, nil
	}
	return s.names(c), nil
}

// names reports whether the canonical path c is one of s, or one of s with
// a suffix such as ".json" (older Spring MVC routes /oauth/authorize.json to
// /oauth/authorize).
func (s pathSet) names(c []byte) bool {
	for _, p := range s.paths {
		if string(c) == p {
			return true
		}
		if len(c) > len(p)+1 && string(c[:len(p)]) == p && c[len(p)] == '.' &&
			strings.IndexByte(string(c[len(p):]), '/') < 0 {
			return true
		}
	}
	return false
}

// canonicalPath appends to dst the form of an escaped path that the most
// lenient upstream would route by: percent-decoded (repeatedly, for double
// encoding), backslashes read as slashes, cut at a NUL, ";" parameters
// dropped from each segment, white space and control characters around a
// segment dropped (as path matchers that trim tokens do), empty and "."
// segments dropped, ".." resolved, trailing dots and spaces of a segment
// dropped (as Windows servers do; a segment left empty is dropped too),
// letters lowercased (ASCII ones, the non-ASCII letters that case-fold onto
// ASCII ones, such as the dotless ı and the dotted İ, and fullwidth forms)
// and no trailing slash.
func canonicalPath(escaped string, dst []byte) ([]byte, error) {
	// A leading "/" makes every segment, the first included, follow a
	// separator, which the rewrite in place below relies on: the "/" it
	// writes before a segment must land on a byte already read. It also
	// reads a path without a leading slash (as a rewrite may leave it) from
	// the root, as upstreams do.
	full := append(dst, '/')
	full = append(full, escaped...)
	decoded := full[len(dst):]
	for range 3 {
		if !hasPercent(decoded) {
			break
		}
		var err error
		if decoded, err = unescapeInPlace(decoded); err != nil {
			return nil, err
		}
	}
	if hasPercent(decoded) {
		return nil, errBadPath // encoded more than three times
	}
	if i := indexByte(decoded, 0); i >= 0 {
		decoded = decoded[:i]
	}
	// Rewrite segment by segment in place: the output never outgrows the
	// input.
	out := decoded[:0]
	for i := 0; i < len(decoded); {
		j := i
		for j < len(decoded) && decoded[j] != '/' && decoded[j] != '\\' {
			j++
		}
		seg := decoded[i:j]
		i = j + 1
		if k := indexByte(seg, ';'); k >= 0 {
			seg = seg[:k]
		}
		seg = bytes.TrimFunc(seg, isSpaceOrControl)
		switch string(seg) {
		case "", ".":
			continue
		case "..":
			if k := lastIndexByte(out, '/'); k >= 0 {
				out = out[:k]
			}
			continue
		}
		for len(seg) > 0 && (seg[len(seg)-1] == '.' || seg[len(seg)-1] == ' ') {
			seg = seg[:len(seg)-1]
		}
		if len(seg) == 0 {
			continue // "...", ". ", " ": empty once trimmed
		}
		out = append(out, '/')
		for k := 0; k < len(seg); {
			c, size := seg[k], 1
			if c >= utf8.RuneSelf {
				// The rune is read before its bytes can be overwritten,
				// and what replaces it is never longer.
				var r rune
				r, size = utf8.DecodeRune(seg[k:])
				f := asciiFold(r)
				if f >= utf8.RuneSelf {
					out = append(out, seg[k:k+size]...)
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
	}
	if len(out) == 0 {
		out = append(out, '/')
	}
	// out is full[len(dst):len(dst)+len(out)]: this copies nothing.
	return full[:len(dst)+len(out)], nil
}

// unescapeInPlace decodes %XX escapes; the result is never longer.
func unescapeInPlace(b []byte) ([]byte, error) {
	out := b[:0]
	for i := 0; i < len(b); i++ {
		if b[i] != '%' {
			out = append(out, b[i])
			continue
		}
		if i+2 >= len(b) || !isHex(b[i+1]) || !isHex(b[i+2]) {
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
