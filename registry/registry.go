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

// Client is one registered OAuth client. Only Disabled, URIs and
// RequestURIs take part in decisions; the other fields are shown in logs
// and tools.
type Client struct {
	ID           string
	Name         string
	Description  string
	Website      string
	ContactEmail string
	Notes        string
	Disabled     bool
	URIs         *policy.Set
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
	c := s.Client(clientID)
	switch {
	case c == nil:
		return Decision{Decision: policy.Decision{Reason: policy.UnknownClient}} // the reason says it all
	case c.Disabled:
		return Decision{Decision: policy.Decision{Reason: policy.ClientDisabled, Detail: "the client is disabled in the registry"}, Client: c}
	}
	return Decision{Decision: c.URIs.Decide(redirectURI), Client: c}
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
	sets, errs := compileAll(doc, p)
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
		if c := checkClient(i, cd, doc, sets[i], errs[i], p, problems); c != nil {
			s.clients[c.ID] = c
			s.order = append(s.order, c)
			s.n++
			s.uris += c.URIs.Len()
		}
	}
	return s, problems
}

// compileAll compiles the redirect URIs of every client. Compiling is most
// of the work of a load and clients are independent, so large registries
// are compiled on every CPU.
func compileAll(doc *fileDoc, p *policy.Policy) ([]*policy.Set, []error) {
	sets := make([]*policy.Set, len(doc.clients))
	errs := make([]error, len(doc.clients))
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
					sets[i], errs[i] = p.Compile(doc.uris[cd.uriStart:cd.uriEnd:cd.uriEnd])
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
	return sets, errs
}

// checkClient validates one client, given its compiled redirect URIs, and
// reports each problem at the offending value.
func checkClient(i int, cd *clientDoc, doc *fileDoc, set *policy.Set, err error, p *policy.Policy, problems *problemList) *Client {
	if msg := checkClientID(cd.clientID); msg != "" {
		problems.addFor(cd.offset, cd.clientID, Error, fmt.Sprintf("%s: client_id %q %s", where{client: i, index: -1}, cd.clientID, msg))
		return nil
	}
	uris := doc.uris[cd.uriStart:cd.uriEnd]
	offsets := doc.uriOffsets[cd.uriStart:cd.uriEnd]
	index := doc.uriIndex[cd.uriStart:cd.uriEnd]
	var uriErrs policy.Errors
	if errors.As(err, &uriErrs) {
		for _, e := range uriErrs {
			msg := fmt.Sprintf("client %q redirect_uris[%d] %q: %s", cd.clientID, index[e.Index], e.URI, e.Detail)
			if e.Reason == "" {
				msg = duplicateMessage(cd.clientID, e, uris, index, p)
			}
			problems.addFor(offsets[e.Index], cd.clientID, Error, msg)
		}
		return nil
	}
	if err != nil {
		problems.addFor(cd.offset, cd.clientID, Error, fmt.Sprintf("client %q: %v", cd.clientID, err))
		return nil
	}
	if !checkRequestURIs(i, cd, problems) {
		return nil
	}
	lintClient(cd, set, offsets, index, p, problems)
	return &Client{
		ID:           cd.clientID,
		Name:         cd.name,
		Description:  cd.description,
		Website:      cd.website,
		ContactEmail: cd.contactEmail,
		Notes:        cd.notes,
		Disabled:     cd.disabled,
		URIs:         set,
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

// duplicateMessage describes a redirect URI that duplicates an earlier one
// after normalization, naming both by their index in the file: the policy
// counts only the entries it was given, which leave out values that were
// not strings.
func duplicateMessage(clientID string, e *policy.URIError, uris []string, index []int, p *policy.Policy) string {
	if n, err := p.Normalize(e.URI); err == nil {
		for j := range e.Index {
			if m, err := p.Normalize(uris[j]); err == nil && m == n {
				return fmt.Sprintf("client %q redirect_uris[%d] %q: duplicate of redirect_uris[%d] %q after normalization", clientID, index[e.Index], e.URI, index[j], uris[j])
			}
		}
	}
	return fmt.Sprintf("client %q redirect_uris[%d] %q: %s", clientID, index[e.Index], e.URI, e.Detail)
}

// lintClient records the warnings of a valid client.
func lintClient(cd *clientDoc, set *policy.Set, offsets, index []int, p *policy.Policy, problems *problemList) {
	if problems.full(Warning) {
		return // the messages would be dropped
	}
	if set.Len() == 0 && p.Environment() == policy.Sandbox && !cd.disabled {
		problems.addFor(cd.offset, cd.clientID, Warning, fmt.Sprintf("client %q has no registered redirect URIs: in sandbox it may use any valid redirect URI", cd.clientID))
	}
	for j, e := range set.Entries() {
		switch {
		case e.Kind == policy.HostOnly && p.Environment() == policy.Production:
			problems.addFor(offsets[j], cd.clientID, Warning, fmt.Sprintf("client %q redirect_uris[%d] %q is host-only: any path on that host can receive codes, so an open redirect there leaks them; register the full callback URI", cd.clientID, index[j], e.Raw))
		case !e.HTTPS && !e.Loopback:
			problems.addFor(offsets[j], cd.clientID, Warning, fmt.Sprintf("client %q redirect_uris[%d] %q uses http: codes travel unencrypted", cd.clientID, index[j], e.Raw))
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
