package request

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

// MaxIDTokenHint is the longest id_token_hint read, in bytes: ID tokens
// are a few hundred bytes to a few KiB; reading a longer one is work spent
// on an attacker's input.
const MaxIDTokenHint = 16 << 10

// Logout is what the policy reads of an end-session request (OpenID Connect
// RP-Initiated Logout 1.0 §2): the post-logout redirect URI and the client
// it belongs to, named by client_id or by the audience of id_token_hint.
// Names are read as at the authorize endpoint (Params), every copy
// counted.
type Logout struct {
	Params                // ClientID
	PostLogoutRedirectURI string
	IDTokenHint           string

	nPostLogout, nIDTokenHint int
}

// slot counts a logout parameter named name and returns where its value
// goes, or nil for another name.
func (l *Logout) slot(name string) *string {
	switch {
	case nameIs(name, "post_logout_redirect_uri"):
		l.nPostLogout++
		return &l.PostLogoutRedirectURI
	case nameIs(name, "id_token_hint"):
		l.nIDTokenHint++
		return &l.IDTokenHint
	}
	return nil
}

// ReadLogout reads into l the parameters of an end-session request, GET
// or POST (§2): its query, a form body of at most maxBody bytes (put back
// byte for byte for the upstream) and its cookies, as ReadForm and
// ScanCookies read them. It returns the reason to reject a request that
// cannot be read unambiguously (a repeated client_id,
// post_logout_redirect_uri or id_token_hint among them), with a detail.
func ReadLogout(r *http.Request, l *Logout, maxBody int64) (policy.Reason, string) {
	l.logout = l
	if reason, detail := ReadParams(r, &l.Params, maxBody, true); reason != "" {
		return reason, detail
	}
	if l.nClientID > 1 || l.nPostLogout > 1 || l.nIDTokenHint > 1 {
		return policy.DuplicateParameter, "the request repeats client_id, post_logout_redirect_uri or id_token_hint"
	}
	return "", ""
}

// Client returns the client a logout request names: its client_id, or the
// client an id_token_hint was issued to (its azp, or its single aud), read
// without verifying the token (the authorization server verifies it). When
// both name one they must agree: the server may pick either, and the
// post-logout redirect URI must be registered for the one it picks. A
// request that names none, or whose id_token_hint cannot be read (not a
// JWS, encrypted, several audiences and no azp), is rejected with the
// reason returned.
func (l *Logout) Client() (clientID string, reason policy.Reason, detail string) {
	hinted := ""
	if l.IDTokenHint != "" {
		var ok bool
		if hinted, ok = hintClient(l.IDTokenHint); !ok {
			return "", policy.IDTokenHintUnreadable, "the id_token_hint is not a signed JWT whose azp or single aud names a client"
		}
	}
	switch {
	case l.ClientID != "" && hinted != "" && l.ClientID != hinted:
		return "", policy.LogoutClientMismatch, "the client_id differs from the client the id_token_hint was issued to"
	case l.ClientID != "":
		return l.ClientID, "", ""
	case hinted != "":
		return hinted, "", ""
	}
	return "", policy.LogoutClientMissing, "the request has neither client_id nor id_token_hint"
}

// hintClient returns the client an ID token in JWS compact serialization
// was issued to: its azp, which its aud must then hold, or else its aud
// when that is one string or an array of one. Claims are matched by their
// exact names, and a claim named twice is unreadable: parsers disagree on
// which copy counts.
func hintClient(token string) (string, bool) {
	if len(token) > MaxIDTokenHint || strings.Count(token, ".") != 2 {
		return "", false
	}
	var aud []string
	var azp string
	var seenAud, seenAzp bool
	const unreadable = "unreadable"
	if readClaims(token, func(name, value []byte) string {
		switch string(name) {
		case "aud":
			if seenAud {
				return unreadable
			}
			seenAud = true
			var one string
			if json.Unmarshal(value, &one) == nil {
				aud = []string{one}
			} else if json.Unmarshal(value, &aud) != nil {
				return unreadable
			}
		case "azp":
			if seenAzp || json.Unmarshal(value, &azp) != nil || azp == "" {
				return unreadable
			}
			seenAzp = true
		}
		return ""
	}) != "" {
		return "", false
	}
	switch {
	case seenAzp:
		for _, a := range aud {
			if a == azp {
				return azp, true
			}
		}
		return "", false
	case len(aud) == 1 && aud[0] != "":
		return aud[0], true
	}
	return "", false
}
