package policy

// Reason is why a request was allowed or rejected. Its string is a fixed
// snake_case name, used as is in responses, log fields and metric labels, so
// the set of values is closed and small.
type Reason string

// Reasons for allowing a request.
const (
	ExactMatch         Reason = "exact_match"
	PrefixMatch        Reason = "prefix_match"
	HostMatch          Reason = "host_match"
	LoopbackMatch      Reason = "loopback_match"
	UnrestrictedClient Reason = "unrestricted_client"
	// PushedRequest allows a request_uri issued by the PAR endpoint
	// (urn:ietf:params:oauth:request_uri:...): its push was checked on its
	// way in.
	PushedRequest Reason = "pushed_request"
	// RegisteredRequestURI allows a request object by reference whose URL
	// is registered for the client.
	RegisteredRequestURI Reason = "registered_request_uri"
	// OmittedRedirectURI allows an authorize request without redirect_uri
	// from a client with exactly one registered full URI, which the
	// server then uses (RFC 6749 §3.1.2.3), when the configuration says so.
	OmittedRedirectURI Reason = "omitted_redirect_uri"
)

// Reasons for rejecting a request, grouped in the order in which they are
// checked: request-level reasons, client lookup, the syntax of the redirect
// URI, the rules of the environment, and matching.
const (
	MissingClientID           Reason = "missing_client_id"
	MissingRedirectURI        Reason = "missing_redirect_uri"
	DuplicateParameter        Reason = "duplicate_parameter"
	MalformedRequest          Reason = "malformed_request"
	UnsupportedBody           Reason = "unsupported_body"
	RequestTooLarge           Reason = "request_too_large"
	RequestObjectNotSupported Reason = "request_object_not_supported"
	RequestObjectUnreadable   Reason = "request_object_unreadable"
	RequestObjectEncrypted    Reason = "request_object_encrypted"
	// The client of a logout request (OpenID Connect RP-Initiated Logout):
	// named by neither client_id nor id_token_hint, named differently by
	// the two, or named by an id_token_hint that cannot be read.
	LogoutClientMissing      Reason = "logout_client_missing"
	LogoutClientMismatch     Reason = "logout_client_mismatch"
	IDTokenHintUnreadable    Reason = "id_token_hint_unreadable"
	UnknownClient            Reason = "unknown_client"
	ClientDisabled           Reason = "client_disabled"
	ClientIDMismatch         Reason = "client_id_mismatch"
	RequestURINotRegistered  Reason = "request_uri_not_registered"
	MalformedRedirectURI     Reason = "malformed_redirect_uri"
	DisallowedScheme         Reason = "disallowed_scheme"
	UserinfoInRedirectURI    Reason = "userinfo_in_redirect_uri"
	FragmentInRedirectURI    Reason = "fragment_in_redirect_uri"
	PathTraversal            Reason = "path_traversal"
	InsecureScheme           Reason = "insecure_scheme"
	LoopbackNotAllowed       Reason = "loopback_not_allowed"
	NoRegisteredRedirectURIs Reason = "no_registered_redirect_uris"
	RedirectURINotRegistered Reason = "redirect_uri_not_registered"
	RedirectURIMismatch      Reason = "redirect_uri_mismatch"
	// Matching a post_logout_redirect_uri.
	NoRegisteredPostLogoutRedirectURIs Reason = "no_registered_post_logout_redirect_uris"
	PostLogoutRedirectURINotRegistered Reason = "post_logout_redirect_uri_not_registered"
)

// AllowReasons lists every reason for allowing a request.
var AllowReasons = []Reason{ExactMatch, PrefixMatch, HostMatch, LoopbackMatch, UnrestrictedClient, PushedRequest, RegisteredRequestURI, OmittedRedirectURI}

// RejectReasons lists every reason for rejecting a request, in the order of
// precedence.
var RejectReasons = []Reason{
	MissingClientID, MissingRedirectURI, DuplicateParameter, MalformedRequest,
	UnsupportedBody, RequestTooLarge, RequestObjectNotSupported,
	RequestObjectUnreadable, RequestObjectEncrypted,
	LogoutClientMissing, LogoutClientMismatch, IDTokenHintUnreadable,
	UnknownClient, ClientDisabled, ClientIDMismatch, RequestURINotRegistered,
	MalformedRedirectURI, DisallowedScheme, UserinfoInRedirectURI,
	FragmentInRedirectURI, PathTraversal,
	InsecureScheme, LoopbackNotAllowed,
	NoRegisteredRedirectURIs, RedirectURINotRegistered, RedirectURIMismatch,
	NoRegisteredPostLogoutRedirectURIs, PostLogoutRedirectURINotRegistered,
}

// Allows reports whether r is a reason for allowing a request.
func (r Reason) Allows() bool {
	switch r {
	case ExactMatch, PrefixMatch, HostMatch, LoopbackMatch, UnrestrictedClient, PushedRequest, RegisteredRequestURI, OmittedRedirectURI:
		return true
	}
	return false
}

// Description is a short human sentence for r, safe to show to the user
// whose sign-in link was rejected.
func (r Reason) Description() string {
	switch r {
	case ExactMatch:
		return "The redirect URI equals a registered redirect URI."
	case PrefixMatch:
		return "The redirect URI extends a registered redirect URI at a path segment boundary."
	case HostMatch:
		return "The redirect URI is on a host registered without a path."
	case LoopbackMatch:
		return "The redirect URI is a registered loopback address on another port."
	case UnrestrictedClient:
		return "The sandbox client has no registered redirect URIs and may use any valid one."
	case PushedRequest:
		return "The request refers to a pushed authorization request, checked when it was pushed."
	case RegisteredRequestURI:
		return "The request object's URL is registered for this client."
	case OmittedRedirectURI:
		return "The request has no redirect_uri and the client registered exactly one, which the server uses."
	case MissingClientID:
		return "The request has no client_id."
	case MissingRedirectURI:
		return "The request has no redirect_uri."
	case DuplicateParameter:
		return "The request repeats client_id or redirect_uri."
	case MalformedRequest:
		return "The request could not be read."
	case UnsupportedBody:
		return "The request body is not a form the server accepts."
	case RequestTooLarge:
		return "The request body is too large."
	case RequestObjectNotSupported:
		return "Request objects (request, request_uri) are not supported."
	case RequestObjectUnreadable:
		return "The request object could not be read."
	case RequestObjectEncrypted:
		return "Encrypted request objects cannot be checked and are not accepted."
	case ClientIDMismatch:
		return "The request names more than one client."
	case RequestURINotRegistered:
		return "The request object's URL is not registered for this client."
	case LogoutClientMissing:
		return "The logout request names no client: no client_id and no id_token_hint."
	case LogoutClientMismatch:
		return "The logout request's client_id and id_token_hint name different clients."
	case IDTokenHintUnreadable:
		return "The logout request's id_token_hint cannot be read."
	case UnknownClient:
		return "The client_id is not registered."
	case ClientDisabled:
		return "The client has been disabled."
	case MalformedRedirectURI:
		return "The redirect URI is not a valid absolute URI."
	case DisallowedScheme:
		return "The redirect URI must use http or https."
	case UserinfoInRedirectURI:
		return "The redirect URI must not contain user information."
	case FragmentInRedirectURI:
		return "The redirect URI must not contain a fragment."
	case PathTraversal:
		return "The redirect URI path must not contain dot segments."
	case InsecureScheme:
		return "The redirect URI must use https."
	case LoopbackNotAllowed:
		return "Loopback and unspecified hosts are not allowed here."
	case NoRegisteredRedirectURIs:
		return "The client has no registered redirect URIs."
	case RedirectURINotRegistered:
		return "The redirect URI is not registered for this client."
	case NoRegisteredPostLogoutRedirectURIs:
		return "The client has no registered post-logout redirect URIs."
	case PostLogoutRedirectURINotRegistered:
		return "The post-logout redirect URI is not registered for this client."
	case RedirectURIMismatch:
		return "The request carries different redirect URIs."
	}
	return "Unknown reason."
}
