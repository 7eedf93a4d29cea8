package request

import (
	"bytes"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonMembers calls member with the name, decoded as encoding/json decodes
// it, and the raw value of each top-level member of the JSON object b, in
// order, until member returns false. b must be valid JSON (json.Valid)
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
