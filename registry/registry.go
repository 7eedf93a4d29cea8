// Package registry loads the file of OAuth clients and their registered
// redirect URIs, validates every client with the policy package, and serves
// immutable snapshots of it, reloading the file when it changes.
package registry

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

// Client is one registered OAuth client. Only Disabled, Native, the sets
// of URIs and RequestURIs take part in decisions; the other fields are
// shown in logs and tools.
type Client struct {
	ID           string
	Name         string
	Description  string
	Website      string
	ContactEmail string
	Notes        string
	Disabled     bool
	// Native is set for "application_type": "native" (RFC 8252): its
	// sets are compiled with policy.Rules.Native.
	Native bool
	// URIs are the registered redirect URIs.
	URIs *policy.Set
	// LogoutURIs are the registered post-logout redirect URIs.
	LogoutURIs *policy.Set
	// RequestURIs are the URLs of the client's request objects by
	// reference, compared exactly (OpenID Connect Dynamic Client
	// Registration's request_uris). They are never fetched.
	RequestURIs []string
}

// HasRequestURI reports whether uri is one of the client's registered
// request_uris, byte for byte.
func (c *Client) HasRequestURI(uri string) bool {
	for _, u := range c.RequestURIs {
		if u == uri {
			return true
		}
	}
	return false
}

// The values of application_type (OpenID Connect Dynamic Client
// Registration §2).
const (
	ApplicationWeb    = "web"
	ApplicationNative = "native"
)

// Snapshot is one successfully loaded registry: a file, or a store's
// clients at one revision. It is immutable and safe for concurrent use.
type Snapshot struct {
	// File names where the registry was read: a file's path, or the
	// source (such as "etcd:<prefix>") for an incremental source.
	File     string
	Policy   *policy.Policy
	Hash     [sha256.Size]byte // of the file; zero for an incremental source
	LoadedAt time.Time
	// Revision is the store revision an incremental source's snapshot
	// reflects; 0 for a file.
	Revision int64

	clients map[string]*Client // a file's clients
	tree    clientTree         // an incremental source's clients (see clientTree)
	order   []*Client          // a file's clients in file order
	n, uris int

	sorted     sync.Once // the order of an incremental snapshot, made when asked
	sortedList []*Client
}

// Decision is the outcome of checking one authorize request's client and
// redirect URI.
type Decision struct {
	policy.Decision
	// Client is the client named by the request, when registered.
	Client *Client
}

// Client returns the client registered under id, or nil.
func (s *Snapshot) Client(id string) *Client {
	if s.clients != nil {
		return s.clients[id]
	}
	return s.tree.get(id)
}

// Clients returns every client: in file order for a file, in client_id
// order for an incremental source. The caller must not modify it.
func (s *Snapshot) Clients() []*Client {
	if s.clients != nil {
		return s.order
	}
	s.sorted.Do(func() {
		s.sortedList = make([]*Client, 0, s.n)
		s.tree.each(func(c *Client) { s.sortedList = append(s.sortedList, c) })
		slices.SortFunc(s.sortedList, func(a, b *Client) int { return strings.Compare(a.ID, b.ID) })
	})
	return s.sortedList
}

// Len returns the number of clients.
func (s *Snapshot) Len() int { return s.n }

// URIs returns the number of registered redirect URIs of all clients.
func (s *Snapshot) URIs() int { return s.uris }

// Decide checks a requested redirect URI for a client: unknown and disabled
// clients are rejected before the URI is looked at.
func (s *Snapshot) Decide(clientID, redirectURI string) Decision {
	c, d, ok := s.usable(clientID)
	if !ok {
		return d
	}
	return Decision{Decision: c.URIs.Decide(redirectURI), Client: c}
}

// DecideLogout checks a requested post_logout_redirect_uri for a client
// against its post-logout redirect URIs, as Decide does.
func (s *Snapshot) DecideLogout(clientID, postLogoutURI string) Decision {
	c, d, ok := s.usable(clientID)
	if !ok {
		return d
	}
	return Decision{Decision: c.LogoutURIs.Decide(postLogoutURI), Client: c}
}

// DecideOmitted decides an authorize request without redirect_uri: allowed
// (policy.OmittedRedirectURI) when the client registered exactly one
// redirect URI and it is a full one, which the server then uses
// (RFC 6749 §3.1.2.3); otherwise missing_redirect_uri.
func (s *Snapshot) DecideOmitted(clientID string) Decision {
	c, d, ok := s.usable(clientID)
	if !ok {
		return d
	}
	entries := c.URIs.Entries()
	if len(entries) != 1 || entries[0].Kind != policy.Full {
		return Decision{Decision: policy.Decision{Reason: policy.MissingRedirectURI,
			Detail: "the request has no redirect_uri and the client has not registered exactly one full redirect URI"}, Client: c}
	}
	return Decision{Decision: policy.Decision{Reason: policy.OmittedRedirectURI, Entry: &entries[0]}, Client: c}
}

// usable returns the registered client of id, or the decision that rejects
// a request of an unknown or disabled one.
func (s *Snapshot) usable(id string) (*Client, Decision, bool) {
	c := s.Client(id)
	switch {
	case c == nil:
		return nil, Decision{Decision: policy.Decision{Reason: policy.UnknownClient}}, false // the reason says it all
	case c.Disabled:
		return c, Decision{Decision: policy.Decision{Reason: policy.ClientDisabled, Detail: "the client is disabled in the registry"}, Client: c}, false
	}
	return c, Decision{}, true
}

// Load reads and validates the registry file at path for p. Any problem
// makes it fail with a *LoadError that lists them all.
func Load(path string, p *policy.Policy) (*Snapshot, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, p)
}

// Parse validates the contents of a registry file; name is used in messages.
func Parse(name string, data []byte, p *policy.Policy) (*Snapshot, error) {
	s, problems := parse(name, data, p)
	if err := problems.err(); err != nil {
		return nil, err
	}
	return s, nil
}

// Lint returns every error and warning of a registry file without serving
// it. Warnings point at registrations that are valid but risky.
func Lint(path string, p *policy.Policy) ([]Problem, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	_, problems := parse(path, data, p)
	return problems.all(), nil
}

func parse(name string, data []byte, p *policy.Policy) (*Snapshot, *problemList) {
	problems := &problemList{file: name, data: data}
	doc, ok := decodeFile(data, problems)
	if !ok {
		return nil, problems
	}
	if doc.hasEnvironment && doc.environment != string(p.Environment()) {
		problems.add(doc.envOffset, fmt.Sprintf("environment %q does not match the policy's environment %q", doc.environment, p.Environment()))
	}
	s := &Snapshot{
		File:     name,
		Policy:   p,
		Hash:     sha256.Sum256(data),
		LoadedAt: time.Now(),
		clients:  make(map[string]*Client, len(doc.clients)),
		order:    make([]*Client, 0, len(doc.clients)),
	}
	sets := compileAll(doc, p)
	firstIndex := make(map[string]int, len(doc.clients))
	for i := range doc.clients {
		cd := &doc.clients[i]
		if !cd.hasClientID {
			continue // reported by the decoder
		}
		if first, dup := firstIndex[cd.clientID]; dup {
			problems.addFor(cd.offset, cd.clientID, Error, fmt.Sprintf("clients[%d]: duplicate client_id %q (first at clients[%d])", i, cd.clientID, first))
			continue
		}
		firstIndex[cd.clientID] = i
		if c := checkClient(i, cd, doc, &sets[i], p, problems); c != nil {
			s.clients[c.ID] = c
			s.order = append(s.order, c)
			s.n++
			s.uris += c.URIs.Len()
		}
	}
	return s, problems
}

// compiled is one client's sets of URIs, or the errors of compiling them.
type compiled struct {
	redirect, logout       *policy.Set
	redirectErr, logoutErr error
}

// compileAll compiles the URIs of every client with its rules. Compiling
// is most of the work of a load and clients are independent, so large
// registries are compiled on every CPU.
func compileAll(doc *fileDoc, p *policy.Policy) []compiled {
	sets := make([]compiled, len(doc.clients))
	const block = 512 // clients taken at a time by a worker
	var next atomic.Int64
	work := func() {
		for {
			end := int(next.Add(block))
			start := end - block
			if start >= len(doc.clients) {
				return
			}
			for i := start; i < min(end, len(doc.clients)); i++ {
				if cd := &doc.clients[i]; cd.hasClientID {
					sets[i] = compileClient(cd, doc, p)
				}
			}
		}
	}
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(doc.clients)/block) - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
	return sets
}

// compileClient compiles one client's redirect and post-logout URIs with
// the rules of its application type.
func compileClient(cd *clientDoc, doc *fileDoc, p *policy.Policy) (c compiled) {
	native := cd.applicationType == ApplicationNative
	uris, _, _ := doc.redirect.of(cd.redirect)
	c.redirect, c.redirectErr = p.CompileRules(uris, policy.Rules{Native: native})
	uris, _, _ = doc.logout.of(cd.logout)
	c.logout, c.logoutErr = p.CompileRules(uris, policy.Rules{Native: native, Logout: true})
	return c
}

// checkClient validates one client, given its compiled URIs, and reports
// each problem at the offending value.
func checkClient(i int, cd *clientDoc, doc *fileDoc, c *compiled, p *policy.Policy, problems *problemList) *Client {
	if msg := checkClientID(cd.clientID); msg != "" {
		problems.addFor(cd.offset, cd.clientID, Error, fmt.Sprintf("%s: client_id %q %s", where{client: i, index: -1}, cd.clientID, msg))
		return nil
	}
	ok := true
	switch cd.applicationType {
	case "", ApplicationWeb, ApplicationNative:
	default:
		problems.addFor(cd.appTypeOffset, cd.clientID, Error, fmt.Sprintf("client %q application_type %q is not %q or %q", cd.clientID, cd.applicationType, ApplicationWeb, ApplicationNative))
		ok = false
	}
	ok = uriErrors(cd, "redirect_uris", &doc.redirect, cd.redirect, c.redirectErr, problems) && ok
	ok = uriErrors(cd, "post_logout_redirect_uris", &doc.logout, cd.logout, c.logoutErr, problems) && ok
	if !ok {
		return nil
	}
	if !checkRequestURIs(i, cd, problems) {
		return nil
	}
	lintClient(cd, doc, c, p, problems)
	return &Client{
		ID:           cd.clientID,
		Name:         cd.name,
		Description:  cd.description,
		Website:      cd.website,
		ContactEmail: cd.contactEmail,
		Notes:        cd.notes,
		Disabled:     cd.disabled,
		Native:       cd.applicationType == ApplicationNative,
		URIs:         c.redirect,
		LogoutURIs:   c.logout,
		RequestURIs:  cd.requestURIs,
	}
}

// maxRequestURILength bounds a registered request_uri as the policy bounds
// redirect URIs by default; RFC 9101 §5.2 asks for at most 512 ASCII
// characters of the URL a server fetches.
const maxRequestURILength = 2048

// checkRequestURIs validates a client's request_uris: absolute https URLs
// of printable ASCII (a fragment is allowed: OpenID Connect puts a hash of
// the object there), no duplicates. Each problem is reported at its value.
func checkRequestURIs(i int, cd *clientDoc, problems *problemList) bool {
	ok := true
	seen := make(map[string]int, len(cd.requestURIs))
	for j, uri := range cd.requestURIs {
		msg := ""
		if first, dup := seen[uri]; dup {
			msg = fmt.Sprintf("duplicate of request_uris[%d]", first)
		} else {
			seen[uri] = j
			msg = checkRequestURI(uri)
		}
		if msg != "" {
			problems.addFor(cd.requestURIOffsets[j], cd.clientID, Error, fmt.Sprintf("client %q request_uris[%d] %q: %s", cd.clientID, j, uri, msg))
			ok = false
		}
	}
	return ok
}

// checkRequestURI returns what is wrong with a registered request_uri.
func checkRequestURI(uri string) string {
	if len(uri) > maxRequestURILength {
		return fmt.Sprintf("longer than %d bytes", maxRequestURILength)
	}
	for k := 0; k < len(uri); k++ {
		if uri[k] <= ' ' || uri[k] >= 0x7f {
			return "must be printable ASCII without spaces"
		}
	}
	u, err := url.Parse(uri)
	switch {
	case err != nil:
		return "is not a URL"
	case u.Scheme != "https":
		return "must be an absolute https URL"
	case u.Host == "" || u.User != nil:
		return "must name a host and no user information"
	}
	return ""
}

// uriErrors reports the errors of compiling the URIs of one field of a
// client, each at its value, and whether there were none.
func uriErrors(cd *clientDoc, field string, list *uriList, sp span, err error, problems *problemList) bool {
	if err == nil {
		return true
	}
	uris, offsets, index := list.of(sp)
	var uriErrs policy.Errors
	if !errors.As(err, &uriErrs) {
		problems.addFor(cd.offset, cd.clientID, Error, fmt.Sprintf("client %q: %v", cd.clientID, err))
		return false
	}
	for _, e := range uriErrs {
		msg := fmt.Sprintf("client %q %s[%d] %q: %s", cd.clientID, field, index[e.Index], e.URI, e.Detail)
		if e.Duplicate >= 0 {
			// Named by their indexes in the file: the policy counts
			// only the entries it was given, which leave out values
			// that were not strings.
			msg = fmt.Sprintf("client %q %s[%d] %q: duplicate of %s[%d] %q after normalization", cd.clientID, field, index[e.Index], e.URI, field, index[e.Duplicate], uris[e.Duplicate])
		}
		problems.addFor(offsets[e.Index], cd.clientID, Error, msg)
	}
	return false
}

// lintClient records the warnings of a valid client.
func lintClient(cd *clientDoc, doc *fileDoc, c *compiled, p *policy.Policy, problems *problemList) {
	if problems.full(Warning) {
		return // the messages would be dropped
	}
	prod := p.Environment() == policy.Production
	if cd.applicationType == ApplicationNative && prod {
		problems.addFor(cd.appTypeOffset, cd.clientID, Warning, fmt.Sprintf("client %q is a native app: in production it may receive codes on a loopback port any local program can listen on, or on a private-use scheme any app can claim (RFC 8252 §8); check that it uses PKCE", cd.clientID))
	}
	if c.redirect.Len() == 0 && !prod && !cd.disabled {
		problems.addFor(cd.offset, cd.clientID, Warning, fmt.Sprintf("client %q has no registered redirect URIs: in sandbox it may use any valid redirect URI", cd.clientID))
	}
	for _, f := range []struct {
		name string
		set  *policy.Set
		list *uriList
		sp   span
	}{{"redirect_uris", c.redirect, &doc.redirect, cd.redirect}, {"post_logout_redirect_uris", c.logout, &doc.logout, cd.logout}} {
		_, offsets, index := f.list.of(f.sp)
		for j, e := range f.set.Entries() {
			switch {
			case e.Kind == policy.HostOnly && prod:
				problems.addFor(offsets[j], cd.clientID, Warning, fmt.Sprintf("client %q %s[%d] %q is host-only: any path on that host can receive codes, so an open redirect there leaks them; register the full callback URI", cd.clientID, f.name, index[j], e.Raw))
			case !e.HTTPS && !e.Loopback && !e.PrivateUse:
				problems.addFor(offsets[j], cd.clientID, Warning, fmt.Sprintf("client %q %s[%d] %q uses http: codes travel unencrypted", cd.clientID, f.name, index[j], e.Raw))
			}
		}
	}
}

// checkClientID applies the rule for client ids: 1 to 256 printable ASCII
// characters, no spaces.
func checkClientID(id string) string {
	if id == "" || len(id) > 256 {
		return "must be 1 to 256 characters long"
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] >= 0x7f {
			return "must be printable ASCII without spaces"
		}
	}
	return ""
}
