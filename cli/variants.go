package cli

import (
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"net/url"
	"strings"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

// Variant classes: what an attacker holding a client's credentials tries.
const (
	ClassRegistered       = "registered"        // the registered URI itself: must stay allowed
	ClassAttackerHost     = "attacker-host"     // the attacker's own host
	ClassOpenPath         = "open-path"         // another path on the registered host (open redirects, user content)
	ClassSuffixHost       = "suffix-host"       // app.example.evil.example
	ClassLookAlikeHost    = "look-alike-host"   // app-example.evil.example, appexample.evil, typo-squats
	ClassSubdomain        = "subdomain"         // evil.app.example
	ClassParentDomain     = "parent-domain"     // example for app.example
	ClassUserinfo         = "userinfo"          // https://app.example@evil.example
	ClassBackslash        = "backslash"         // https://evil.example\@app.example
	ClassScheme           = "scheme"            // http instead of https, other schemes
	ClassPort             = "port"              // other, explicit default and malformed ports
	ClassPathTraversal    = "path-traversal"    // /cb/../evil
	ClassEncodedTraversal = "encoded-traversal" // /cb/%2e%2e/evil, double encoding, encoded slashes
	ClassPrefixExtension  = "prefix-extension"  // /cbx, /cb/extra, /cb/
	ClassFragment         = "fragment"          // #evil
	ClassQueryInjection   = "query-injection"   // ?next=https://evil.example/
	ClassLoopback         = "loopback"          // localhost, 127.0.0.1, [::1] and their odd spellings
	ClassIDN              = "idn"               // homoglyph hosts, in Unicode and punycode
	ClassTrailingDot      = "trailing-dot"      // app.example.
	ClassCase             = "case"              // letter case of scheme, host and path
	ClassRequest          = "request"           // request-level: repeated and case-variant parameters, request objects
	ClassPathSpelling     = "path-spelling"     // the authorize path spelled otherwise, or a path below it (online only)
	ClassPAR              = "par"               // pushes to the PAR endpoint (with a PAR path)
	ClassPrivateScheme    = "private-scheme"    // a native app's private-use scheme: look-alikes, a host, rootless forms
	ClassLogout           = "logout"            // a post_logout_redirect_uri at the logout endpoint (with a logout path)
)

// Classes lists every class in the order variants are generated.
var Classes = []string{
	ClassRegistered, ClassAttackerHost, ClassOpenPath, ClassSuffixHost, ClassLookAlikeHost,
	ClassSubdomain, ClassParentDomain, ClassUserinfo, ClassBackslash, ClassScheme, ClassPort,
	ClassPathTraversal, ClassEncodedTraversal, ClassPrefixExtension, ClassFragment,
	ClassQueryInjection, ClassLoopback, ClassIDN, ClassTrailingDot, ClassCase,
	ClassRequest, ClassPathSpelling, ClassPAR, ClassPrivateScheme, ClassLogout,
}

// AttackerHost is the host the variants send codes to: a reserved name
// (RFC 2606) that no one can register.
const AttackerHost = "evil.example"

// fallbackURI stands in for the registered URI of a client without any.
const fallbackURI = "https://app.example/callback"

// Variant is one authorize request an attacker would try.
type Variant struct {
	Class string // one of Classes
	Name  string // what it tries, in words
	// Base is the registered redirect URI the variant was derived from,
	// "" for a client without registered URIs.
	Base string
	// URI is the redirect_uri the upstream receives (decoded), or for a
	// request-level variant the one an attacker hopes it uses.
	URI string
	// Method is GET or, with Body, POST.
	Method string
	// Path is the request's path, escaped, exactly as sent.
	Path string
	// RawQuery is the request's query string, exactly as sent: built by
	// hand so that repeated and case-variant names survive.
	RawQuery string
	// Body is a form body (application/x-www-form-urlencoded), or "".
	Body string
	// Expect is, for a request-level variant, the reason the policy
	// rejects the request before looking at the redirect URI; "" for the
	// others, which the registry decides.
	Expect policy.Reason
	// Logout variants are logout requests: URI is their
	// post_logout_redirect_uri, decided against the client's post-logout
	// redirect URIs.
	Logout bool
}

// RequestLevel reports whether v is decided by the shape of the request
// rather than by its redirect URI.
func (v Variant) RequestLevel() bool { return v.Expect != "" }

// VariantOptions select what Variants generates.
type VariantOptions struct {
	// AuthorizePath is the path of the authorize endpoint; default
	// /oauth/authorize.
	AuthorizePath string
	// ParPath, when set, is the PAR endpoint's path: ClassPAR variants
	// push the attacker's redirect URI there.
	ParPath string
	// PathSpellings adds ClassPathSpelling variants: the attacker-host URI
	// sent to other spellings of AuthorizePath, which the policy must
	// check too. They only make sense against a running proxy.
	PathSpellings bool
	// LogoutPath, when set, adds ClassLogout variants: logout requests to
	// that path, derived from PostLogoutURIs, the client's post-logout
	// redirect URIs.
	LogoutPath     string
	PostLogoutURIs []string
}

// Variants returns the authorize requests an attacker holding the
// credentials of clientID would try, derived from the client's registered
// redirect URIs: for each registered URI the URI variants, in the order of
// Classes, then the client's request-level variants. It is a pure function:
// the same input gives the same output, with no duplicates.
func Variants(clientID string, registered []string, opt VariantOptions) []Variant {
	if opt.AuthorizePath == "" {
		opt.AuthorizePath = "/oauth/authorize"
	}
	g := generator{clientID: clientID, path: opt.AuthorizePath, seen: map[string]bool{}}
	var first base
	bases, privateUse := 0, 0
	for _, raw := range registered {
		b, ok := parseBase(raw)
		if !ok {
			if isPrivateUse(raw) {
				privateUse++
				g.privateUseVariants(raw)
			}
			continue
		}
		if bases == 0 {
			first = b
		}
		bases++
		g.uriVariants(b)
	}
	if bases == 0 && privateUse == 0 {
		first, _ = parseBase(fallbackURI)
		first.raw = ""
		g.unregisteredVariants()
	}
	good := first.raw
	if good == "" {
		good = fallbackURI
	}
	evil := first.scheme + "://" + AttackerHost + first.tail()
	g.requestVariants(first.raw, good, evil)
	if opt.PathSpellings {
		g.pathSpellings(first.raw, evil)
	}
	if opt.ParPath != "" {
		g.parVariants(opt.ParPath, first.raw, good, evil)
	}
	if opt.LogoutPath != "" {
		g.logoutVariants(opt.LogoutPath, opt.PostLogoutURIs)
	}
	return g.out
}

// isPrivateUse reports whether raw is shaped like a native app's
// private-use scheme URI: a scheme with a dot, not followed by "//" and a
// host.
func isPrivateUse(raw string) bool {
	scheme, rest, ok := strings.Cut(raw, ":")
	return ok && strings.Contains(scheme, ".") && !strings.ContainsAny(scheme, "/?#") &&
		(!strings.HasPrefix(rest, "//") || strings.HasPrefix(rest, "///"))
}

// privateUseVariants are what an attacker tries against a native app's
// private-use scheme (RFC 8252 §7.1, §8.6): another app's look-alike
// scheme, a host where the app expects none, the forms an app or a
// browser may read otherwise.
func (g *generator) privateUseVariants(raw string) {
	scheme, rest, _ := strings.Cut(raw, ":")
	b := base{raw: raw}
	g.uri(b, ClassRegistered, "the registered redirect URI", raw)
	g.uri(b, ClassCase, "scheme in upper case", strings.ToUpper(scheme)+":"+rest)
	path := strings.TrimPrefix(rest, "//")
	for _, v := range []struct{ name, uri string }{
		{"attacker's scheme extending the registered one", scheme + ".evil:" + rest},
		{"look-alike scheme with hyphens for dots", strings.ReplaceAll(scheme, ".", "-") + ":" + rest},
		{"look-alike scheme without dots", strings.ReplaceAll(scheme, ".", "") + ":" + rest},
		{"typo-squatted scheme (digits for letters)", typoSquat(scheme) + ":" + rest},
		{"attacker's host after the scheme", scheme + "://" + AttackerHost + path},
		{"the path read as a host", scheme + ":/" + path},
		{"empty authority added or removed", scheme + ":" + map[bool]string{true: path, false: "//" + path}[strings.HasPrefix(rest, "//")]},
		{"rootless path", scheme + ":" + strings.TrimLeft(path, "/")},
		{"percent-encoded slash", scheme + ":%2F" + strings.TrimLeft(path, "/")},
		{"dot-dot segment", scheme + ":/evil/.." + path},
		{"path extended by a segment", raw + "/extra"},
		{"fragment appended", raw + "#evil"},
		{"query appended", raw + map[bool]string{true: "&", false: "?"}[strings.Contains(raw, "?")] + "next=https%3A%2F%2F" + AttackerHost},
	} {
		if v.uri != raw && !strings.HasPrefix(v.uri, ":") {
			g.uri(b, ClassPrivateScheme, v.name, v.uri)
		}
	}
}

// logoutVariants are the logout requests an attacker tries at path: a
// post_logout_redirect_uri of theirs, alone or hidden by a second copy or
// another client's id_token_hint. The client's registered ones must pass.
func (g *generator) logoutVariants(path string, registered []string) {
	id := "client_id=" + url.QueryEscape(g.clientID)
	add := func(name, query, uri string, expect policy.Reason) {
		g.add(Variant{Class: ClassLogout, Name: name, URI: uri, Path: path, RawQuery: query, Expect: expect, Logout: true})
	}
	logoutQuery := func(uri string) string { return id + "&post_logout_redirect_uri=" + url.QueryEscape(uri) }
	good := ""
	for _, raw := range registered {
		add("registered post-logout redirect URI", logoutQuery(raw), raw, "")
		if good == "" {
			good = raw
		}
		if b, ok := parseBase(raw); ok {
			add("attacker host, same path", logoutQuery(b.at(AttackerHost)), b.at(AttackerHost), "")
			add("other path on the registered host", logoutQuery(b.with("/evil")), b.with("/evil"), "")
			add("registered path extended by a segment", logoutQuery(b.with(b.dir()+"/extra"+b.query)), b.with(b.dir()+"/extra"+b.query), "")
			add("registered host as user information", logoutQuery(b.scheme+"://"+b.hostPort(b.host)+"@"+AttackerHost+b.tail()), b.scheme+"://"+b.hostPort(b.host)+"@"+AttackerHost+b.tail(), "")
		}
	}
	evil := "https://" + AttackerHost + "/logged-out"
	evilQ := url.QueryEscape(evil)
	add("attacker's post-logout redirect URI", logoutQuery(evil), evil, "")
	add("attacker's URI named by an id_token_hint alone", "id_token_hint="+idTokenFor(g.clientID)+"&post_logout_redirect_uri="+evilQ, evil, "")
	add("no client named", "post_logout_redirect_uri="+evilQ, evil, policy.LogoutClientMissing)
	add("id_token_hint of another client", id+"&id_token_hint="+idTokenFor("attacker-client")+"&post_logout_redirect_uri="+evilQ, evil, policy.LogoutClientMismatch)
	add("unreadable id_token_hint", id+"&id_token_hint=x.y&post_logout_redirect_uri="+evilQ, evil, policy.IDTokenHintUnreadable)
	if good != "" {
		goodQ := url.QueryEscape(good)
		add("duplicate post_logout_redirect_uri, registered one first", id+"&post_logout_redirect_uri="+goodQ+"&post_logout_redirect_uri="+evilQ, evil, policy.DuplicateParameter)
		add("case-variant parameter name (Post_Logout_Redirect_URI)", id+"&post_logout_redirect_uri="+goodQ+"&Post_Logout_Redirect_URI="+evilQ, evil, policy.DuplicateParameter)
	}
}

// idTokenFor is an unsigned JWT whose aud names clientID: an id_token_hint
// as the handler reads it (the server, not the handler, checks signatures).
func idTokenFor(clientID string) string {
	// The compact JWS of a request object, with a signature nobody checks.
	return strings.TrimSuffix(unsignedRequestObject(`{"iss":"https://op.example","sub":"victim","aud":`+jsonString(clientID)+`}`), ".") + ".c2ln"
}

// base is a registered redirect URI split into what the variants change.
type base struct {
	raw      string
	scheme   string // lowercase
	host     string // lowercase; IPv6 literals in brackets
	port     string // as written; "" when absent
	path     string // "/" when empty
	query    string // with its '?'; "" when absent
	ip       bool
	ipv6     bool
	loopback bool
}

func parseBase(raw string) (base, bool) {
	u, ok := splitURI(raw)
	if !ok || u.host == "" || u.hasUserinfo || u.hasFragment {
		return base{}, false
	}
	b := base{raw: raw, scheme: u.scheme, host: u.host, port: u.port, path: u.path}
	if u.hasQuery {
		b.query = "?" + u.query
	}
	h := strings.Trim(b.host, "[]")
	if ip, err := netip.ParseAddr(h); err == nil {
		b.ip, b.ipv6 = true, ip.Is6() && !ip.Is4In6()
		b.loopback = ip.Unmap().IsLoopback()
	} else {
		b.loopback = h == "localhost" || strings.HasSuffix(h, ".localhost")
	}
	return b, true
}

func (b base) tail() string { return b.path + b.query }

func (b base) hostPort(host string) string {
	if b.port == "" {
		return host
	}
	return host + ":" + b.port
}

// at returns the URI on another host, keeping scheme, port, path and query.
func (b base) at(host string) string { return b.scheme + "://" + b.hostPort(host) + b.tail() }

// with returns the URI with another path and query.
func (b base) with(pathAndQuery string) string {
	return b.scheme + "://" + b.hostPort(b.host) + pathAndQuery
}

// dir is the path without a trailing slash ("" for the root).
func (b base) dir() string { return strings.TrimSuffix(b.path, "/") }

func (b base) defaultPort() string {
	if b.scheme == "https" {
		return "443"
	}
	return "80"
}

type generator struct {
	clientID string
	path     string
	seen     map[string]bool
	out      []Variant
}

// add records a variant unless the same request was generated before.
func (g *generator) add(v Variant) {
	if v.Method == "" {
		v.Method = "GET"
	}
	if v.Path == "" {
		v.Path = g.path
	}
	if v.RawQuery == "" && v.Expect == "" && v.Body == "" {
		v.RawQuery = authorizeQuery(g.clientID, v.URI)
	}
	key := v.Method + " " + v.Path + "?" + v.RawQuery + "\n" + v.Body
	if g.seen[key] {
		return
	}
	g.seen[key] = true
	g.out = append(g.out, v)
}

// authorizeQuery is the query of an ordinary authorize request.
func authorizeQuery(clientID, redirectURI string) string {
	return "response_type=code&client_id=" + url.QueryEscape(clientID) + "&redirect_uri=" + url.QueryEscape(redirectURI)
}

func (g *generator) uri(b base, class, name, uri string) {
	g.add(Variant{Class: class, Name: name, Base: b.raw, URI: uri})
}

func (g *generator) uriVariants(b base) {
	const evil = AttackerHost
	tail, dir := b.tail(), b.dir()

	g.uri(b, ClassRegistered, "the registered redirect URI", b.raw)

	g.uri(b, ClassAttackerHost, "attacker host, same path", b.scheme+"://"+evil+tail)
	g.uri(b, ClassAttackerHost, "attacker host, root", b.scheme+"://"+evil+"/")

	g.uri(b, ClassOpenPath, "other path on the registered host", b.with("/evil"))
	g.uri(b, ClassOpenPath, "open redirect on the registered host", b.with("/logout?next=https%3A%2F%2F"+evil+"%2F"))
	g.uri(b, ClassOpenPath, "root of the registered host", b.with("/"))

	if !b.ipv6 {
		g.uri(b, ClassSuffixHost, "registered host followed by the attacker's domain", b.at(b.host+"."+evil))
		g.uri(b, ClassLookAlikeHost, "registered host with hyphens for dots under the attacker's domain",
			b.at(strings.ReplaceAll(b.host, ".", "-")+"."+evil))
		g.uri(b, ClassLookAlikeHost, "registered host run together under another TLD",
			b.at(strings.ReplaceAll(b.host, ".", "")+".evil"))
		if typo := typoSquat(b.host); typo != "" && !b.ip {
			g.uri(b, ClassLookAlikeHost, "typo-squatted host (digits for letters)", b.at(typo))
		}
		g.uri(b, ClassSubdomain, "subdomain of the registered host", b.at("evil."+b.host))
		if parent := parentDomain(b.host); parent != "" && !b.ip {
			g.uri(b, ClassParentDomain, "parent domain of the registered host", b.at(parent))
		}
	}

	g.uri(b, ClassUserinfo, "registered host as user information before the attacker's host",
		b.scheme+"://"+b.hostPort(b.host)+"@"+evil+tail)
	g.uri(b, ClassUserinfo, "attacker's host as user information before the registered host",
		b.scheme+"://"+evil+"@"+b.hostPort(b.host)+tail)
	g.uri(b, ClassUserinfo, "percent-encoded @ in the host",
		b.scheme+"://"+b.host+"%40"+evil+tail)

	g.uri(b, ClassBackslash, "backslash before @ (browsers read \\ as /)",
		b.scheme+"://"+evil+"\\@"+b.hostPort(b.host)+tail)
	g.uri(b, ClassBackslash, "backslash as path separator after the attacker's host",
		b.scheme+"://"+evil+"\\"+b.hostPort(b.host)+tail)
	g.uri(b, ClassBackslash, "backslash in the registered path", b.with(dir+"\\..\\evil"))

	if b.scheme == "https" {
		g.uri(b, ClassScheme, "scheme downgrade to http", "http://"+b.hostPort(b.host)+tail)
	} else {
		g.uri(b, ClassScheme, "scheme changed to https (another registration)", "https://"+b.hostPort(b.host)+tail)
	}
	g.uri(b, ClassScheme, "javascript: scheme", "javascript://"+b.hostPort(b.host)+tail)
	g.uri(b, ClassScheme, "custom app scheme", "com.evil.app://"+b.hostPort(b.host)+tail)

	other, another := "8443", "444"
	if b.scheme == "http" {
		other, another = "8080", "81"
	}
	if b.port == other {
		other = "9443"
	}
	host := b.scheme + "://" + b.host
	g.uri(b, ClassPort, "other port", host+":"+other+tail)
	g.uri(b, ClassPort, "another port", host+":"+another+tail)
	if b.port == "" {
		g.uri(b, ClassPort, "explicit default port", host+":"+b.defaultPort()+tail)
	} else {
		g.uri(b, ClassPort, "port dropped", host+tail)
	}
	g.uri(b, ClassPort, "port with a leading zero", host+":0"+orDefault(b.port, b.defaultPort())+tail)

	g.uri(b, ClassPathTraversal, "dot-dot segment after the registered path", b.with(dir+"/../evil"+b.query))
	g.uri(b, ClassPathTraversal, "two dot-dot segments after the registered path", b.with(dir+"/../../evil"+b.query))
	g.uri(b, ClassPathTraversal, "dot-dot segment resolving to the registered path", b.with("/evil/.."+b.path+b.query))

	g.uri(b, ClassEncodedTraversal, "percent-encoded dot-dot (%2e%2e)", b.with(dir+"/%2e%2e/evil"+b.query))
	g.uri(b, ClassEncodedTraversal, "percent-encoded dot-dot (%2E%2E)", b.with(dir+"/%2E%2E/evil"+b.query))
	g.uri(b, ClassEncodedTraversal, "half-encoded dot-dot (.%2e)", b.with(dir+"/.%2e/evil"+b.query))
	g.uri(b, ClassEncodedTraversal, "dot-dot with a path parameter (..;)", b.with(dir+"/..;/evil"+b.query))
	g.uri(b, ClassEncodedTraversal, "double-encoded dot-dot (%252e%252e)", b.with(dir+"/%252e%252e/evil"+b.query))
	g.uri(b, ClassEncodedTraversal, "encoded slashes around dot-dot (%2f..%2f)", b.with(dir+"%2f..%2fevil"+b.query))
	g.uri(b, ClassEncodedTraversal, "dot-dot and an encoded slash in one segment (..%2f)", b.with(dir+"/..%2fevil"+b.query))

	g.uri(b, ClassPrefixExtension, "registered path extended without a segment boundary", b.with(orDefault(dir, "/")+"x"+b.query))
	g.uri(b, ClassPrefixExtension, "registered path extended by a segment", b.with(dir+"/extra"+b.query))
	if strings.HasSuffix(b.path, "/") {
		if dir != "" {
			g.uri(b, ClassPrefixExtension, "trailing slash removed", b.with(dir+b.query))
		}
	} else {
		g.uri(b, ClassPrefixExtension, "trailing slash added", b.with(b.path+"/"+b.query))
	}
	g.uri(b, ClassPrefixExtension, "path parameter appended (;)", b.with(b.path+";evil"+b.query))

	g.uri(b, ClassFragment, "fragment appended", b.raw+"#evil")
	g.uri(b, ClassFragment, "fragment hiding a host", b.with(tail+"#@"+evil))

	sep := "?"
	if b.query != "" {
		sep = "&"
	}
	g.uri(b, ClassQueryInjection, "next parameter pointing at the attacker", b.with(tail+sep+"next=https%3A%2F%2F"+evil+"%2F"))
	g.uri(b, ClassQueryInjection, "nested redirect_uri parameter", b.with(tail+sep+"redirect_uri=https%3A%2F%2F"+evil+"%2F"))
	if b.query == "" {
		g.uri(b, ClassQueryInjection, "empty query", b.with(b.path+"?"))
	} else {
		g.uri(b, ClassQueryInjection, "parameter prepended to the registered query", b.with(b.path+"?evil=1&"+b.query[1:]))
		g.uri(b, ClassQueryInjection, "registered query dropped", b.with(b.path))
	}

	g.loopbackVariants(b)

	if !b.ip {
		if uni, puny := homoglyph(b.host); uni != "" {
			g.uri(b, ClassIDN, "homoglyph host in Unicode", b.at(uni))
			g.uri(b, ClassIDN, "homoglyph host in punycode", b.at(puny))
		}
	}
	if !b.ipv6 {
		g.uri(b, ClassTrailingDot, "trailing dot after the host", b.at(b.host+"."))
	}

	if upper := strings.ToUpper(b.host); upper != b.host {
		g.uri(b, ClassCase, "host in upper case", b.at(upper))
	}
	g.uri(b, ClassCase, "scheme in upper case", strings.ToUpper(b.scheme)+"://"+b.hostPort(b.host)+tail)
	if upper := strings.ToUpper(b.path); upper != b.path {
		g.uri(b, ClassCase, "path in upper case", b.with(upper+b.query))
	}
}

// loopbackVariants are the loopback hosts an attacker running code on the
// victim's machine (or a look-alike of one) would try.
func (g *generator) loopbackVariants(b base) {
	tail := b.tail()
	hosts := []struct{ name, host string }{
		{"localhost", "localhost"},
		{"127.0.0.1", "127.0.0.1"},
		{"IPv6 loopback", "[::1]"},
		{"other loopback address", "127.0.0.2"},
		{"subdomain of localhost", "evil.localhost"},
		{"IPv4-mapped IPv6 loopback", "[::ffff:127.0.0.1]"},
		{"short IPv4 loopback (127.1)", "127.1"},
		{"decimal IPv4 loopback", "2130706433"},
		{"hexadecimal IPv4 loopback", "0x7f.0.0.1"},
		{"unspecified address", "0.0.0.0"},
	}
	for _, h := range hosts {
		if h.host == b.host {
			continue
		}
		g.uri(b, ClassLoopback, h.name+" instead of the registered host", "http://"+h.host+tail)
	}
	if b.loopback {
		g.uri(b, ClassLoopback, "registered loopback host on an ephemeral port", b.scheme+"://"+b.host+":49152"+tail)
	} else {
		g.uri(b, ClassLoopback, "localhost over https", "https://localhost"+tail)
	}
}

// unregisteredVariants are the URI variants of a client without registered
// redirect URIs: any redirect URI an attacker likes.
func (g *generator) unregisteredVariants() {
	add := func(class, name, uri string) { g.add(Variant{Class: class, Name: name, URI: uri}) }
	add(ClassAttackerHost, "attacker host over https", "https://"+AttackerHost+"/callback")
	add(ClassAttackerHost, "attacker host over http", "http://"+AttackerHost+"/callback")
	add(ClassLoopback, "loopback on an ephemeral port", "http://127.0.0.1:49152/callback")
	add(ClassLoopback, "localhost", "http://localhost/callback")
	add(ClassUserinfo, "user information before the attacker's host", "https://app.example@"+AttackerHost+"/callback")
	add(ClassFragment, "fragment", "https://"+AttackerHost+"/callback#evil")
	add(ClassScheme, "javascript: scheme", "javascript://"+AttackerHost+"/callback")
}

// requestVariants are the requests that try to get a second redirect URI
// past the check, decided by their shape. base is "" for a client without
// registered URIs.
func (g *generator) requestVariants(baseRaw, good, evil string) {
	id := "client_id=" + url.QueryEscape(g.clientID)
	goodQ, evilQ := url.QueryEscape(good), url.QueryEscape(evil)
	add := func(name, query, body string, expect policy.Reason) {
		v := Variant{Class: ClassRequest, Name: name, Base: baseRaw, URI: evil, RawQuery: "response_type=code&" + query, Body: body, Expect: expect}
		if body != "" {
			v.Method = "POST"
		}
		g.add(v)
	}
	add("duplicate redirect_uri, registered one first", id+"&redirect_uri="+goodQ+"&redirect_uri="+evilQ, "", policy.DuplicateParameter)
	add("duplicate redirect_uri, attacker's first", id+"&redirect_uri="+evilQ+"&redirect_uri="+goodQ, "", policy.DuplicateParameter)
	add("case-variant parameter name (Redirect_URI)", id+"&redirect_uri="+goodQ+"&Redirect_URI="+evilQ, "", policy.DuplicateParameter)
	add("upper-case parameter name (REDIRECT_URI)", id+"&REDIRECT_URI="+evilQ+"&redirect_uri="+goodQ, "", policy.DuplicateParameter)
	add("PHP-style parameter name (redirect.uri)", id+"&redirect_uri="+goodQ+"&redirect.uri="+evilQ, "", policy.DuplicateParameter)
	add("array parameter name (redirect_uri[])", id+"&redirect_uri="+goodQ+"&redirect_uri%5B%5D="+evilQ, "", policy.DuplicateParameter)
	add("percent-encoded parameter name (redirect%5Furi)", id+"&redirect_uri="+goodQ+"&redirect%5Furi="+evilQ, "", policy.DuplicateParameter)
	add("duplicate client_id", id+"&client_id=attacker-client&redirect_uri="+goodQ, "", policy.DuplicateParameter)
	add("redirect_uri repeated in a form body", id+"&redirect_uri="+goodQ, "redirect_uri="+evilQ, policy.DuplicateParameter)
	add("semicolon as parameter separator", id+"&redirect_uri="+goodQ+";redirect_uri="+evilQ, "", policy.MalformedRequest)
	add("request_uri parameter (an unregistered request object by reference)",
		id+"&redirect_uri="+goodQ+"&request_uri="+url.QueryEscape("https://"+AttackerHost+"/request.jwt"), "", policy.RequestURINotRegistered)
	add("case-variant request_uri parameter (Request_Uri)",
		id+"&redirect_uri="+goodQ+"&Request_Uri="+url.QueryEscape("https://"+AttackerHost+"/request.jwt"), "", policy.RequestURINotRegistered)
	add("request parameter (request object carrying another redirect_uri)",
		id+"&redirect_uri="+goodQ+"&request="+unsignedRequestObject(`{"redirect_uri":`+jsonString(evil)+`}`), "", policy.RedirectURIMismatch)
	add("request object naming another client",
		id+"&request="+unsignedRequestObject(`{"client_id":"attacker-client","redirect_uri":`+jsonString(good)+`}`), "", policy.ClientIDMismatch)
	add("request object with redirect_uri twice, in another letter case",
		id+"&request="+unsignedRequestObject(`{"redirect_uri":`+jsonString(good)+`,"Redirect_Uri":`+jsonString(evil)+`}`), "", policy.RequestObjectUnreadable)
	add("encrypted request object (JWE)", id+"&request="+encryptedRequestObject, "", policy.RequestObjectEncrypted)
	add("request and request_uri together",
		id+"&request="+unsignedRequestObject(`{"redirect_uri":`+jsonString(good)+`}`)+"&request_uri="+url.QueryEscape("https://"+AttackerHost+"/request.jwt"), "", policy.MalformedRequest)
}

// unsignedRequestObject is a request object (a JWS with alg none) with
// the given claims, a JSON object: what an attacker puts in a request
// parameter. Its signature does not matter to the policy, which never
// verifies one.
func unsignedRequestObject(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(claims)) + "."
}

// jsonString is s as a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// encryptedRequestObject is a request object in JWE compact serialization
// (five parts), which nobody but the server can read.
const encryptedRequestObject = "eyJhbGciOiJSU0EtT0FFUC0yNTYiLCJlbmMiOiJBMjU2R0NNIn0.a2V5.aXY.Y2lwaGVydGV4dA.dGFn"

// parVariants push the attacker's redirect URI to the PAR endpoint
// (RFC 9126) with the client's id in the form, as a holder of its
// credentials would: the push must be checked as an authorize request is.
func (g *generator) parVariants(path, baseRaw, good, evil string) {
	id := "client_id=" + url.QueryEscape(g.clientID)
	goodQ, evilQ := url.QueryEscape(good), url.QueryEscape(evil)
	add := func(name, query, body string, expect policy.Reason) {
		g.add(Variant{Class: ClassPAR, Name: name, Base: baseRaw, URI: evil, Method: "POST", Path: path, RawQuery: query, Body: "response_type=code&" + body, Expect: expect})
	}
	add("push with the attacker's redirect_uri", "", id+"&redirect_uri="+evilQ, "")
	add("push with a request object carrying the attacker's redirect_uri", "", id+"&request="+unsignedRequestObject(`{"redirect_uri":`+jsonString(evil)+`}`), "")
	add("push with redirect_uri in the query and the form", "redirect_uri="+evilQ, id+"&redirect_uri="+goodQ, policy.DuplicateParameter)
	add("push with a request object whose redirect_uri differs", "", id+"&redirect_uri="+goodQ+"&request="+unsignedRequestObject(`{"redirect_uri":`+jsonString(evil)+`}`), policy.RedirectURIMismatch)
	add("push with a request object naming another client", "", id+"&redirect_uri="+goodQ+"&request="+unsignedRequestObject(`{"client_id":"attacker-client"}`), policy.ClientIDMismatch)
	add("push with an encrypted request object", "", id+"&request="+encryptedRequestObject, policy.RequestObjectEncrypted)
	add("push with a request_uri", "", id+"&request_uri="+url.QueryEscape("https://"+AttackerHost+"/request.jwt"), policy.MalformedRequest)
}

// pathSpellings sends the attacker's URI to other spellings of the
// authorize path that an upstream could route to the same endpoint: the
// policy must check them all.
func (g *generator) pathSpellings(baseRaw, evil string) {
	p := g.path
	dir, last := "", strings.TrimPrefix(p, "/")
	if i := strings.LastIndexByte(p, '/'); i > 0 {
		dir, last = p[:i], p[i+1:]
	}
	spellings := []struct {
		name, path string
		expect     policy.Reason
	}{
		{"trailing slash", p + "/", ""},
		{"repeated slash", dir + "//" + last, ""},
		{"upper case", strings.ToUpper(p), ""},
		{"dot segment", dir + "/./" + last, ""},
		{"dot-dot segment", dir + "/x/../" + last, ""},
		{"percent-encoded letter", dir + "/" + percentEncodeFirst(last), ""},
		{"path parameter (;)", p + ";x=1", ""},
		{"PHP front controller", "/index.php" + p, ""},
		// Upstreams disagree on what this names (Go's path.Clean reads
		// the authorize path): the policy rejects it as ambiguous.
		{"junk segment before a dot-dot", p + "/;x/..", policy.MalformedRequest},
	}
	for _, s := range spellings {
		if s.path == p || s.path == "" {
			continue
		}
		g.add(Variant{Class: ClassPathSpelling, Name: "authorize path with a " + s.name, Base: baseRaw, URI: evil, Path: s.path, Expect: s.expect})
	}
	g.belowPath(baseRaw, evil)
}

// belowPath sends the attacker's URI to a path below the authorize path,
// which Express's app.use and Go's subtree patterns route to the authorize
// handler, with the parameters split between the query and a form body
// that such a handler reads first (body.redirect_uri || query.redirect_uri),
// or without response_type, which some servers default.
func (g *generator) belowPath(baseRaw, evil string) {
	below := strings.TrimSuffix(g.path, "/") + "/x"
	id := "client_id=" + url.QueryEscape(g.clientID)
	evilQ := "redirect_uri=" + url.QueryEscape(evil)
	for _, b := range []struct{ name, path, query, body string }{
		{"authorize request below the authorize path", below, authorizeQuery(g.clientID, evil), ""},
		{"request below the authorize path without response_type", below, id + "&" + evilQ, ""},
		{"request below the authorize path, response_type in a form body", below, id + "&state=s&" + evilQ, "response_type=code"},
		{"request below the authorize path, redirect_uri in a form body", below, "response_type=code&" + id, evilQ},
		{"request below the authorize path in another spelling", strings.ToUpper(g.path) + "//x/", id + "&" + evilQ, ""},
	} {
		v := Variant{Class: ClassPathSpelling, Name: b.name, Base: baseRaw, URI: evil, Path: b.path, RawQuery: b.query, Body: b.body}
		if b.body != "" {
			v.Method = "POST"
		}
		g.add(v)
	}
}

// percentEncodeFirst percent-encodes the first letter of s.
func percentEncodeFirst(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
			return s[:i] + "%" + strings.ToUpper(hex2(c)) + s[i+1:]
		}
	}
	return s
}

func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&0xf]})
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// typoSquat returns host with the first 'l' or 'o' of its first label
// written as a digit, or "".
func typoSquat(host string) string {
	label, _, _ := strings.Cut(host, ".")
	for i := 0; i < len(label); i++ {
		switch label[i] {
		case 'l':
			return host[:i] + "1" + host[i+1:]
		case 'o':
			return host[:i] + "0" + host[i+1:]
		}
	}
	return ""
}

// homoglyphs are Cyrillic letters that look like Latin ones.
var homoglyphs = map[byte]rune{
	'a': 'а', 'c': 'с', 'e': 'е', 'i': 'і', 'j': 'ј', 'o': 'о', 'p': 'р', 's': 'ѕ', 'x': 'х', 'y': 'у',
}

// homoglyph returns host with one letter of its first label replaced by a
// look-alike Cyrillic letter, in Unicode and in punycode (IDNA ACE) form,
// or "" when the label has no such letter.
func homoglyph(host string) (unicode, ascii string) {
	label, rest, _ := strings.Cut(host, ".")
	if rest != "" {
		rest = "." + rest
	}
	for i := 0; i < len(label); i++ {
		if r, ok := homoglyphs[label[i]]; ok {
			u := label[:i] + string(r) + label[i+1:]
			return u + rest, "xn--" + punycode(u) + rest
		}
	}
	return "", ""
}

// punycode encodes s with the Bootstring parameters of RFC 3492.
func punycode(s string) string {
	const (
		baseN       = 36
		tMin        = 1
		tMax        = 26
		skew        = 38
		damp        = 700
		initialBias = 72
		initialN    = 128
	)
	digit := func(d int) byte {
		if d < 26 {
			return byte('a' + d)
		}
		return byte('0' + d - 26)
	}
	adapt := func(delta, points int, first bool) int {
		if first {
			delta /= damp
		} else {
			delta /= 2
		}
		delta += delta / points
		k := 0
		for delta > (baseN-tMin)*tMax/2 {
			delta /= baseN - tMin
			k += baseN
		}
		return k + (baseN-tMin+1)*delta/(delta+skew)
	}
	runes := []rune(s)
	var out []byte
	for _, r := range runes {
		if r < 0x80 {
			out = append(out, byte(r))
		}
	}
	basic := len(out)
	h := basic
	if basic > 0 {
		out = append(out, '-')
	}
	n, delta, bias := initialN, 0, initialBias
	for h < len(runes) {
		m := rune(0x7fffffff)
		for _, r := range runes {
			if int(r) >= n && r < m {
				m = r
			}
		}
		delta += (int(m) - n) * (h + 1)
		n = int(m)
		for _, r := range runes {
			if int(r) < n {
				delta++
			}
			if int(r) != n {
				continue
			}
			q := delta
			for k := baseN; ; k += baseN {
				t := k - bias
				if t < tMin {
					t = tMin
				} else if t > tMax {
					t = tMax
				}
				if q < t {
					break
				}
				out = append(out, digit(t+(q-t)%(baseN-t)))
				q = (q - t) / (baseN - t)
			}
			out = append(out, digit(q))
			bias = adapt(delta, h+1, h == basic)
			delta = 0
			h++
		}
		delta++
		n++
	}
	return string(out)
}
