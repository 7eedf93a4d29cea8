package request

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

// PushedRequestURIPrefix starts every request_uri a PAR endpoint issues
// (RFC 9126 §2.2). URNs compare their "urn" and namespace in any letter
// case; IsPushedRequestURI does.
const PushedRequestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// IsPushedRequestURI reports whether a request_uri names a pushed
// authorization request.
func IsPushedRequestURI(uri string) bool {
	return len(uri) > len(PushedRequestURIPrefix) && strings.EqualFold(uri[:len(PushedRequestURIPrefix)], PushedRequestURIPrefix)
}

// PushCredentials are the ways a PAR push names its client: the form's
// client_id, the user of HTTP Basic authentication (client_secret_basic)
// and the subject and issuer of a client assertion (private_key_jwt,
// client_secret_jwt), read but not verified: the server authenticates the
// client, and a push it refuses does no harm.
type PushCredentials struct {
	FormClientID    string // "" when the form has none
	ClientAssertion string // the client_assertion parameter, "" when none
}

// PushClient returns the client a push is made for. Every way the push
// names a client must name the same one (ClientIDMismatch otherwise): a
// server may take either, and the redirect URI is checked against the
// one read here. A push that names none is MissingClientID; credentials
// that cannot be read are MalformedRequest.
func PushClient(h http.Header, c PushCredentials) (string, policy.Reason, string) {
	id := c.FormClientID
	agree := func(other, how string) (policy.Reason, string) {
		if id == "" {
			id = other
		} else if other != id {
			return policy.ClientIDMismatch, "the push's " + how + " names another client than its client_id"
		}
		return "", ""
	}
	switch auth := h.Values("Authorization"); len(auth) {
	case 0:
	case 1:
		user, basic, ok := basicUser(auth[0])
		if !ok {
			return "", policy.MalformedRequest, "the push's HTTP Basic credentials cannot be read"
		}
		if basic {
			if reason, detail := agree(user, "HTTP Basic user"); reason != "" {
				return "", reason, detail
			}
		}
	default:
		return "", policy.MalformedRequest, "the push has more than one Authorization header"
	}
	if c.ClientAssertion != "" {
		var sub, iss string
		var nSub, nIss int
		detail := readClaims(c.ClientAssertion, func(name, value []byte) string {
			var dst *string
			switch string(name) {
			case "sub":
				dst = &sub
				nSub++
			case "iss":
				dst = &iss
				nIss++
			default:
				return ""
			}
			if !jsonString(value, dst) {
				return "the client assertion's " + string(name) + " is not a string"
			}
			return ""
		})
		switch {
		case detail != "":
			return "", policy.MalformedRequest, detail
		case nSub != 1 || nIss != 1 || sub == "":
			return "", policy.MalformedRequest, "the client assertion must name its client once as sub and once as iss"
		case sub != iss:
			return "", policy.ClientIDMismatch, "the client assertion's sub and iss name different clients"
		}
		if reason, detail := agree(sub, "client assertion"); reason != "" {
			return "", reason, detail
		}
	}
	if id == "" {
		return "", policy.MissingClientID, "the push names no client"
	}
	return id, "", ""
}

// basicUser reads the user of an Authorization header's Basic credentials,
// form-decoded as RFC 6749 §2.3.1 asks. basic is false for another scheme;
// ok is false for Basic credentials that cannot be read.
func basicUser(auth string) (user string, basic, ok bool) {
	scheme, creds, _ := strings.Cut(strings.TrimSpace(auth), " ")
	if !strings.EqualFold(scheme, "basic") {
		return "", false, true
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(creds))
	if err != nil {
		return "", true, false
	}
	rawUser, _, found := strings.Cut(string(raw), ":")
	if !found {
		return "", true, false
	}
	user, err = url.QueryUnescape(rawUser)
	if err != nil || user == "" {
		return "", true, false
	}
	return user, true, true
}

// ReadPush reads a PAR push (RFC 9126 §2.1), a form POST, into ps: its
// parameters from the form body (and the query and cookies, which lenient
// servers merge in) and the client it is made for (PushClient). A push
// must not repeat a parameter nor carry a request_uri, which RFC 9126
// forbids there and which could only smuggle in an unchecked object.
func ReadPush(r *http.Request, ps *Params, maxBody int64) (string, policy.Reason, string) {
	if r.Method != http.MethodPost {
		return "", policy.MalformedRequest, "a push must be a POST"
	}
	if reason, detail := ReadParams(r, ps, maxBody, true); reason != "" {
		return "", reason, detail
	}
	switch {
	case ps.nClientID > 1 || ps.nRedirectURI > 1 || ps.nRequest > 1 || ps.nRequestURI > 1 || ps.nAssertion > 1:
		return "", policy.DuplicateParameter, policy.DuplicateParameter.Description()
	case ps.nRequestURI > 0:
		return "", policy.MalformedRequest, "a push must not carry a request_uri"
	}
	return PushClient(r.Header, PushCredentials{FormClientID: ps.ClientID, ClientAssertion: ps.ClientAssertion})
}
