package request

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

// MaxRequestObject is the longest request object read, in bytes: far more
// than a real one needs (RFC 9101 §5.2 keeps request_uri fetches under
// 512 characters of URL; a signed object is a few hundred bytes), small
// enough that decoding one costs microseconds.
const MaxRequestObject = 16 << 10

// RequestObject is what a request object (RFC 9101, the value of the
// request parameter) says about the client and the redirect URI. Its
// signature is not verified: the authorization server does that, and an
// object it rejects does no harm; one it accepts says what is read here.
type RequestObject struct {
	ClientID, RedirectURI       string
	HasClientID, HasRedirectURI bool
}

// ReadRequestObject decodes the payload of a request object in JWS compact
// serialization. It fails closed on what it cannot read: an encrypted
// object (JWE, five parts) is RequestObjectEncrypted; anything else that
// is not three base64url parts with a JSON object payload, or names
// client_id or redirect_uri twice (in any letter case) or as other than a
// string, or nests a request or request_uri, is RequestObjectUnreadable.
func ReadRequestObject(jwt string) (RequestObject, policy.Reason, string) {
	var o RequestObject
	if len(jwt) > MaxRequestObject {
		return o, policy.RequestObjectUnreadable, "the request object is longer than " + strconv.Itoa(MaxRequestObject) + " bytes"
	}
	switch strings.Count(jwt, ".") {
	case 2:
	case 4:
		return o, policy.RequestObjectEncrypted, "the request object is encrypted (JWE)"
	default:
		return o, policy.RequestObjectUnreadable, "the request object is not a JWS in compact serialization"
	}
	detail := readClaims(jwt, func(name, value []byte) string {
		var dst *string
		var has *bool
		var claim string
		switch {
		case claimIs(name, "redirect_uri"):
			dst, has, claim = &o.RedirectURI, &o.HasRedirectURI, "redirect_uri"
		case claimIs(name, "client_id"):
			dst, has, claim = &o.ClientID, &o.HasClientID, "client_id"
		case claimIs(name, "request"), claimIs(name, "request_uri"):
			return "the request object holds another request object"
		default:
			return ""
		}
		if *has {
			return "the request object names " + claim + " twice"
		}
		*has = true
		if !jsonString(value, dst) {
			return "the request object's " + claim + " is not a string"
		}
		return ""
	})
	if detail != "" {
		return RequestObject{}, policy.RequestObjectUnreadable, detail
	}
	return o, "", ""
}

// claimIs reports whether a claim name is target (lowercase ASCII) in any
// letter case, Unicode's folding included (the long s of "ſcope"): JSON
// names are case-sensitive, but a lenient server may fold them, and
// refusing a second copy in another case costs nothing.
func claimIs(name []byte, target string) bool {
	if len(name) < len(target) || len(name) > 2*len(target) {
		return false
	}
	for _, c := range name {
		if c >= utf8.RuneSelf {
			return strings.EqualFold(string(name), target)
		}
	}
	if len(name) != len(target) {
		return false
	}
	for i, c := range name {
		if c|0x20 != target[i] && c != target[i] {
			return false
		}
	}
	return true
}

// jsonString decodes a JSON string value into dst, without the decoder
// when it has no escapes.
func jsonString(value []byte, dst *string) bool {
	if len(value) >= 2 && value[0] == '"' && bytes.IndexByte(value, '\\') < 0 {
		*dst = string(value[1 : len(value)-1])
		return true
	}
	return json.Unmarshal(value, dst) == nil
}

// readClaims decodes the payload of a JWS in compact serialization (the
// part between the first and the second dot, base64url without padding, as
// RFC 7515 writes it) as a JSON object and calls claim with each top-level
// name and its raw value. It returns what is wrong, or what claim returns
// first.
func readClaims(jwt string, claim func(name, value []byte) string) string {
	_, rest, _ := strings.Cut(jwt, ".")
	payload, _, ok := strings.Cut(rest, ".")
	if !ok || payload == "" {
		return "the JWT has no payload"
	}
	// Decode by hand the alphabet the standard decoder would also accept
	// with line breaks inside, which a server's decoder might not.
	if strings.ContainsAny(payload, "\r\n=") {
		return "the JWT payload is not base64url"
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "the JWT payload is not base64url"
	}
	// Validated first, so that the walk may take the grammar for granted.
	// A server's parser takes the last of duplicate names, so the callers
	// refuse those of theirs.
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if !validJSON(raw) || raw[0] != '{' {
		return "the JWT payload is not a JSON object"
	}
	var detail string
	jsonMembers(raw, func(name, value []byte) bool {
		detail = claim(name, value)
		return detail == ""
	})
	return detail
}
