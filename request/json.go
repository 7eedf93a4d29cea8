package request

import (
	"bytes"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// maxJSONDepth is encoding/json's limit on nested objects and arrays.
const maxJSONDepth = 10000

// validJSON reports whether b is one valid JSON text, exactly as json.Valid
// does (the fuzz test holds the two together), in a few times less time:
// it runs on every request object and JSON body before they are walked.
func validJSON(b []byte) bool {
	i, ok := validValue(b, skipJSONSpace(b, 0), 0)
	return ok && skipJSONSpace(b, i) == len(b)
}

// validValue returns the index after the valid JSON value at b[i:], or
// false; depth is the number of objects and arrays around it.
func validValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		return validString(b, i)
	case c == '-' || '0' <= c && c <= '9':
		return validNumber(b, i)
	case c == 't':
		return validLiteral(b, i, "true")
	case c == 'f':
		return validLiteral(b, i, "false")
	case c == 'n':
		return validLiteral(b, i, "null")
	case c != '{' && c != '[':
		return i, false
	}
	if depth == maxJSONDepth {
		return i, false
	}
	object := b[i] == '{'
	closing := byte(']')
	if object {
		closing = '}'
	}
	i = skipJSONSpace(b, i+1)
	if i < len(b) && b[i] == closing {
		return i + 1, true
	}
	for {
		var ok bool
		if object {
			if i >= len(b) || b[i] != '"' {
				return i, false
			}
			if i, ok = validString(b, i); !ok {
				return i, false
			}
			if i = skipJSONSpace(b, i); i >= len(b) || b[i] != ':' {
				return i, false
			}
			i = skipJSONSpace(b, i+1)
		}
		if i, ok = validValue(b, i, depth+1); !ok {
			return i, false
		}
		switch i = skipJSONSpace(b, i); {
		case i >= len(b):
			return i, false
		case b[i] == closing:
			return i + 1, true
		case b[i] != ',':
			return i, false
		}
		i = skipJSONSpace(b, i+1)
	}
}

// validString returns the index after the valid JSON string at b[i:].
// Like encoding/json, it takes any byte from 0x20 up as is, invalid UTF-8
// included.
func validString(b []byte, i int) (int, bool) {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			if i++; i >= len(b) {
				return i, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-i <= 4 || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return i, false
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

// validNumber returns the index after the valid JSON number at b[i:].
func validNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return i, false
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		if i++; i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		i = skipDigits(b, i)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		if i++; i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		i = skipDigits(b, i)
	}
	return i, true
}

func validLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// jsonMembers calls member with the name, decoded as encoding/json decodes
// it, and the raw value of each top-level member of the JSON object b, in
// order, until member returns false. b must be valid JSON (validJSON)
// whose first byte after white space is '{'. One walk over the top level:
// nested values are skipped, not decoded, so the cost is linear in len(b)
// whatever its shape. Bodies, request objects and ID token hints are all
// read through it, so that they agree on what a name is.
func jsonMembers(b []byte, member func(name, value []byte) bool) {
	i := skipJSONSpace(b, 0)
	for {
		i = skipJSONSpace(b, i+1) // after "{" or ","
		if b[i] == '}' {
			return
		}
		end := jsonValueEnd(b, i)
		name := b[i+1 : end-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			name = appendJSONUnquote(nil, name)
		}
		i = skipJSONSpace(b, skipJSONSpace(b, end)+1) // after ":"
		end = jsonValueEnd(b, i)
		if !member(name, b[i:end]) {
			return
		}
		if i = skipJSONSpace(b, end); b[i] == '}' {
			return
		}
	}
}

// skipJSONSpace returns the index of the first byte of b from i on that is
// not JSON white space.
func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// jsonValueEnd returns the index after the JSON value that starts at i of
// the valid JSON text b.
func jsonValueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		for j := i + 1; ; j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
	case '{', '[':
		depth := 0
		for j := i; ; j++ {
			switch b[j] {
			case '"':
				j = jsonValueEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	return j
}

// appendJSONUnquote appends to dst the contents s of a valid JSON string
// decoded as encoding/json decodes it: a lone surrogate is U+FFFD.
func appendJSONUnquote(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			dst = append(dst, s[i])
			continue
		}
		i++
		switch s[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := rune(hex4(s[i+1:]))
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := unicode.ReplacementChar
				if i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					r2 = rune(hex4(s[i+3:]))
				}
				if r = utf16.DecodeRune(r, r2); r != unicode.ReplacementChar {
					i += 6
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, s[i])
		}
	}
	return dst
}

// hex4 returns the value of the four hex digits at the start of s.
func hex4(s []byte) int {
	return int(unhex(s[0]))<<12 | int(unhex(s[1]))<<8 | int(unhex(s[2]))<<4 | int(unhex(s[3]))
}
