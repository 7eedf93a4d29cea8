package registry

import (
	"fmt"
	"time"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

// ParseClient validates one client object, as an incremental source (etcd)
// stores each client, with the decoder and rules of a client in the file.
// name (the key) is used in messages; wantID, when not empty, is the
// client_id the key says the value holds. Any error fails it with a
// *LoadError.
func ParseClient(name, wantID string, data []byte, p *policy.Policy) (*Client, error) {
	c, problems := parseClient(name, wantID, data, p)
	if err := problems.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// LintClient returns every error and warning of one client object.
func LintClient(name, wantID string, data []byte, p *policy.Policy) []Problem {
	_, problems := parseClient(name, wantID, data, p)
	return problems.all()
}

func parseClient(name, wantID string, data []byte, p *policy.Policy) (*Client, *problemList) {
	problems := &problemList{file: name, data: data}
	doc, ok := decodeClient(data, problems)
	if !ok || !doc.clients[0].hasClientID {
		return nil, problems
	}
	cd := &doc.clients[0]
	if wantID != "" && cd.clientID != wantID {
		problems.addFor(cd.offset, cd.clientID, Error, fmt.Sprintf("client_id %q does not match the key's %q", cd.clientID, wantID))
		return nil, problems
	}
	compiled := compileClient(cd, doc, p)
	c := checkClient(oneClient, cd, doc, &compiled, p, problems)
	return c, problems
}

// NewSnapshot returns the snapshot of an incremental source that holds
// clients at a store revision; name says where they were read. The ids
// must differ.
func NewSnapshot(name string, p *policy.Policy, revision int64, clients []*Client) *Snapshot {
	return (&Snapshot{File: name, Policy: p}).Update(revision, clients, nil)
}

// Update returns the snapshot at revision that has the clients of put
// added (or replacing those of the same id) and the clients of remove
// deleted. The other clients are shared with s, so that its cost is in
// proportion to the clients changed, not to the registry. A file's
// snapshot is first indexed as an incremental one, once.
func (s *Snapshot) Update(revision int64, put []*Client, remove []string) *Snapshot {
	if s.clients != nil {
		s = NewSnapshot(s.File, s.Policy, s.Revision, s.order)
	}
	b := treeBuilder{tree: s.tree}
	next := &Snapshot{File: s.File, Policy: s.Policy, LoadedAt: time.Now(), Revision: revision, n: s.n, uris: s.uris}
	for _, id := range remove {
		if old := b.remove(id); old != nil {
			next.n--
			next.uris -= old.URIs.Len()
		}
	}
	for _, c := range put {
		if old := b.put(c); old != nil {
			next.n--
			next.uris -= old.URIs.Len()
		}
		next.n++
		next.uris += c.URIs.Len()
	}
	next.tree = b.tree
	return next
}
