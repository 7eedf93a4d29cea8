package cli

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

// uriParts is a redirect URI split leniently into the parts the policy
// compares, for explanations only: decisions are the policy package's. The
// scheme and host are lowercased and a default port dropped; path and query
// are kept byte for byte.
type uriParts struct {
	scheme   string
	userinfo string
	host     string // IPv6 literals keep their brackets
	port     string // "" when absent or the scheme's default
	path     string // "/" when empty
	query    string // without '?'
	fragment string // without '#'

	hasUserinfo, hasQuery, hasFragment bool
}

// splitURI splits s, or reports that it does not even look like
// scheme://authority.
func splitURI(s string) (uriParts, bool) {
	var u uriParts
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || scheme == "" || strings.ContainsAny(scheme, "/?#") {
		return u, false
	}
	u.scheme = strings.ToLower(scheme)
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		u.fragment, u.hasFragment = rest[i+1:], true
		rest = rest[:i]
	}
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority := rest[:end]
	rest = rest[end:]
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		u.userinfo, u.hasUserinfo = authority[:i], true
		authority = authority[i+1:]
	}
	host, port := authority, ""
	if strings.HasPrefix(authority, "[") {
		if i := strings.IndexByte(authority, ']'); i >= 0 {
			host = authority[:i+1]
			port, _ = strings.CutPrefix(authority[i+1:], ":")
			if ip, err := netip.ParseAddr(authority[1:i]); err == nil {
				host = "[" + ip.String() + "]"
			}
		}
	} else if i := strings.LastIndexByte(authority, ':'); i >= 0 {
		host, port = authority[:i], authority[i+1:]
	}
	u.host = strings.ToLower(host)
	if u.scheme == "https" && port == "443" || u.scheme == "http" && port == "80" {
		port = ""
	}
	u.port = port
	u.path = rest
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		u.path, u.query, u.hasQuery = rest[:i], rest[i+1:], true
	}
	if u.path == "" {
		u.path = "/"
	}
	return u, true
}

func (u uriParts) hostPort() string {
	if u.port == "" {
		return u.host
	}
	return u.host + ":" + u.port
}

func (u uriParts) origin() string { return u.scheme + "://" + u.hostPort() }

// hostRelation describes how a requested host relates to a registered one,
// with a rank: the higher, the closer.
func hostRelation(req, reg string) (rank int, msg string) {
	switch {
	case req == reg:
		return 4, ""
	case strings.HasSuffix(req, "."+reg):
		return 3, fmt.Sprintf("subdomain of the registered host: %s is not %s (a subdomain is a different host)", req, reg)
	case strings.HasSuffix(reg, "."+req):
		return 3, fmt.Sprintf("parent domain of the registered host: %s is not %s", req, reg)
	case strings.HasPrefix(req, reg+"."):
		return 2, fmt.Sprintf("the registered host %s followed by another domain: %s belongs to whoever owns %s", reg, req, req[len(reg)+1:])
	case lookAlike(req, reg):
		return 2, fmt.Sprintf("look-alike of the registered host: %s is not %s", req, reg)
	case parentDomain(req) != "" && parentDomain(req) == parentDomain(reg):
		return 1, fmt.Sprintf("other host in the same domain: %s is not %s", req, reg)
	}
	return 0, fmt.Sprintf("other host: %s is not %s", req, reg)
}

// lookAlike reports whether req imitates reg: it contains reg's labels run
// together or joined by hyphens, differs from it only by digits that look
// like letters, or is an IDN (punycode) name.
func lookAlike(req, reg string) bool {
	if strings.Contains(req, "xn--") {
		return true
	}
	for _, form := range []string{strings.ReplaceAll(reg, ".", "-"), strings.ReplaceAll(reg, ".", "")} {
		if len(form) > 3 && strings.Contains(req, form) {
			return true
		}
	}
	r := strings.NewReplacer("0", "o", "1", "l").Replace(req)
	return r == reg
}

// parentDomain returns the name without its first label, when it has at
// least three labels.
func parentDomain(h string) string {
	if strings.Count(h, ".") < 2 || strings.HasPrefix(h, "[") {
		return ""
	}
	_, p, _ := strings.Cut(h, ".")
	return p
}

// difference is one reason why a registered redirect URI does not match
// the requested one.
type difference struct {
	Part       string `json:"part"` // userinfo, fragment, scheme, host, port, path, query
	Message    string `json:"message"`
	Requested  string `json:"requested,omitempty"`
	Registered string `json:"registered,omitempty"`
	// Byte is the 1-based position in the path or query where the two
	// first differ, 0 when not meaningful.
	Byte int `json:"byte,omitempty"`
}

// closestEntry is the registered redirect URI nearest to a rejected one.
type closestEntry struct {
	URI         string       `json:"uri"`
	Normalized  string       `json:"normalized"`
	Kind        string       `json:"kind"`
	Loopback    bool         `json:"loopback"`
	Differences []difference `json:"differences"`
}

// closest finds the registered entry nearest to the requested URI and lists
// every way they differ. It returns nil when there are no entries or the
// request is not even shaped like a URI.
func closest(p *policy.Policy, entries []policy.Entry, requested string) *closestEntry {
	if len(entries) == 0 {
		return nil
	}
	req, ok := uriParts{}, false
	if n, err := p.Normalize(requested); err == nil {
		req, ok = splitURI(n)
	} else {
		req, ok = splitURI(requested)
	}
	if !ok {
		return nil
	}
	best, bestScore := -1, -1
	for i, e := range entries {
		reg, ok := splitURI(e.Normalized)
		if !ok {
			continue
		}
		if s := closeness(p, e, req, reg); s > bestScore {
			best, bestScore = i, s
		}
	}
	if best < 0 {
		return nil
	}
	e := entries[best]
	reg, _ := splitURI(e.Normalized)
	return &closestEntry{
		URI: e.Raw, Normalized: e.Normalized, Kind: e.Kind.String(), Loopback: e.Loopback,
		Differences: differences(p, e, req, reg),
	}
}

// ignoresPort reports whether a loopback rule makes the port of e
// irrelevant: every loopback entry's, as only sandbox and native clients
// (in either environment) may register one.
func ignoresPort(p *policy.Policy, e policy.Entry) bool {
	return e.Loopback
}

func closeness(p *policy.Policy, e policy.Entry, req, reg uriParts) int {
	rank, _ := hostRelation(req.host, reg.host)
	score := rank * 10000
	if req.scheme == reg.scheme {
		score += 2000
	}
	if req.port == reg.port || ignoresPort(p, e) {
		score += 1000
	}
	if e.Kind == policy.HostOnly {
		return score + 999
	}
	return score + min(commonPrefix(req.path+"?"+req.query, reg.path+"?"+reg.query), 999)
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// differences lists why entry e (split as reg) does not match req.
func differences(p *policy.Policy, e policy.Entry, req, reg uriParts) []difference {
	ds := []difference{}
	if req.hasUserinfo {
		ds = append(ds, difference{Part: "userinfo", Requested: req.userinfo,
			Message: fmt.Sprintf("user information before the host (%s@): never allowed; browsers send the code to the host after the @", req.userinfo)})
	}
	if req.hasFragment {
		ds = append(ds, difference{Part: "fragment", Requested: "#" + req.fragment,
			Message: "a fragment (#...): never allowed in a redirect URI"})
	}
	if req.scheme != reg.scheme {
		ds = append(ds, difference{Part: "scheme", Requested: req.scheme, Registered: reg.scheme,
			Message: fmt.Sprintf("other scheme: %s instead of %s (http and https are different registrations)", req.scheme, reg.scheme)})
	}
	if _, msg := hostRelation(req.host, reg.host); msg != "" {
		ds = append(ds, difference{Part: "host", Requested: req.host, Registered: reg.host, Message: msg})
	}
	if req.port != reg.port && !ignoresPort(p, e) {
		ds = append(ds, difference{Part: "port", Requested: effectivePort(req), Registered: effectivePort(reg),
			Message: fmt.Sprintf("other port: %s instead of %s (a different port is a different registration)", portName(req), portName(reg))})
	}
	if e.Kind == policy.HostOnly {
		return ds // any path and query
	}
	prefixMode := p.Match() == policy.MatchPrefix
	if d, ok := pathDifference(req.path, reg.path, prefixMode); ok {
		ds = append(ds, d)
	}
	if !prefixMode {
		if d, ok := queryDifference(req, reg); ok {
			ds = append(ds, d)
		}
	}
	return ds
}

func effectivePort(u uriParts) string {
	if u.port != "" {
		return u.port
	}
	if u.scheme == "https" {
		return "443"
	}
	return "80"
}

func portName(u uriParts) string {
	if u.port != "" {
		return u.port
	}
	return "the default (" + effectivePort(u) + ")"
}

func pathDifference(req, reg string, prefixMode bool) (difference, bool) {
	d := difference{Part: "path", Requested: req, Registered: reg, Byte: commonPrefix(req, reg) + 1}
	atBoundary := len(req) > len(reg) && (strings.HasSuffix(reg, "/") || req[len(reg)] == '/')
	switch {
	case req == reg:
		return d, false
	case strings.HasPrefix(req, reg) && atBoundary:
		if prefixMode {
			return d, false
		}
		if req == reg+"/" {
			d.Message = fmt.Sprintf("path differs at byte %d: a trailing slash the registered path does not have (no trailing-slash leniency)", d.Byte)
		} else {
			d.Message = fmt.Sprintf("path differs at byte %d: it extends the registered path %q (only match prefix would accept that; exact is the default)", d.Byte, reg)
		}
	case strings.HasPrefix(req, reg):
		d.Message = fmt.Sprintf("path differs at byte %d: it extends the registered path %q without a segment boundary", d.Byte, reg)
	case strings.HasPrefix(reg, req):
		d.Message = fmt.Sprintf("path differs at byte %d: it is shorter than the registered path %q", d.Byte, reg)
	case strings.EqualFold(req, reg):
		d.Message = fmt.Sprintf("path differs at byte %d in letter case only (paths are compared byte for byte)", d.Byte)
	default:
		d.Message = fmt.Sprintf("path differs at byte %d", d.Byte)
	}
	return d, true
}

func queryDifference(req, reg uriParts) (difference, bool) {
	d := difference{Part: "query"}
	if req.hasQuery {
		d.Requested = "?" + req.query
	}
	if reg.hasQuery {
		d.Registered = "?" + reg.query
	}
	switch {
	case req.hasQuery == reg.hasQuery && req.query == reg.query:
		return d, false
	case !reg.hasQuery:
		d.Message = fmt.Sprintf("query differs: the request has %q, the registered URI has none", d.Requested)
	case !req.hasQuery:
		d.Message = fmt.Sprintf("query differs: the request has none, the registered URI has %q", d.Registered)
	case sameParams(req.query, reg.query):
		d.Message = "query differs: the same parameters in another order (queries are compared byte for byte)"
	default:
		d.Byte = commonPrefix(req.query, reg.query) + 1
		d.Message = fmt.Sprintf("query differs at byte %d", d.Byte)
	}
	return d, true
}

func sameParams(a, b string) bool {
	pa, pb := strings.Split(a, "&"), strings.Split(b, "&")
	slices.Sort(pa)
	slices.Sort(pb)
	return slices.Equal(pa, pb)
}
