package etcd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
)

// Limits of one transaction: etcd refuses more than 128 operations
// (--max-txn-ops) or a request over 1.5 MiB (--max-request-bytes) by
// default. A transaction stays under both, with room for the key names.
const (
	maxTxnOps   = 128
	maxTxnBytes = 1 << 20
)

// Operations of a change.
const (
	OpAdd    = "add"
	OpUpdate = "update"
	OpDelete = "delete"
)

// Change is one key that Publish writes or deletes.
type Change struct {
	Op       string `json:"op"`
	ClientID string `json:"client_id"`
	Key      string `json:"key"`
	// Invalid is the problem of the value replaced, when it broke a rule.
	Invalid string `json:"invalid,omitempty"`

	value       []byte
	modRevision int64 // of the key when read; 0 when absent
}

// Plan is what Publish would write to make the prefix hold a registry:
// only the differences, each compared with the revision it was read at.
type Plan struct {
	Prefix    string   `json:"prefix"`
	Revision  int64    `json:"revision"` // of the read the plan is based on
	Changes   []Change `json:"changes"`
	Unchanged int      `json:"unchanged"`
}

// Count returns the number of changes of each operation.
func (p *Plan) Count() (add, update, del int) {
	for _, c := range p.Changes {
		switch c.Op {
		case OpAdd:
			add++
		case OpUpdate:
			update++
		default:
			del++
		}
	}
	return add, update, del
}

// PlanPublish compares the registry s (a file already loaded, so valid)
// with what the prefix holds and returns the changes that make them equal.
// Values are compared as decoded clients, so that a value written by hand
// with other spacing is not rewritten; an invalid value is replaced, and a
// key that is not a client's is deleted.
func PlanPublish(ctx context.Context, c *clientv3.Client, prefix string, s *registry.Snapshot) (*Plan, error) {
	kvs, rev, err := readAll(ctx, c, ClientsPrefix(prefix), readTimeout)
	if err != nil {
		return nil, err
	}
	plan := &Plan{Prefix: prefix, Revision: rev}
	seen := make(map[string]bool, len(kvs))
	for i, v := range decodeAll(prefix, kvs, s.Policy) {
		kv := kvs[i]
		seen[v.key] = true
		want := s.Client(v.id)
		if v.id == "" || want == nil {
			ch := Change{Op: OpDelete, ClientID: v.id, Key: v.key, modRevision: kv.ModRevision}
			if v.err != nil {
				ch.Invalid = problemText(v.err)
			}
			plan.Changes = append(plan.Changes, ch)
			continue
		}
		data, err := want.MarshalJSON()
		if err != nil {
			return nil, err
		}
		if v.err == nil {
			have, err := v.client.MarshalJSON()
			if err != nil {
				return nil, err
			}
			if bytes.Equal(have, data) {
				plan.Unchanged++
				continue
			}
		}
		ch := Change{Op: OpUpdate, ClientID: v.id, Key: v.key, value: data, modRevision: kv.ModRevision}
		if v.err != nil {
			ch.Invalid = problemText(v.err)
		}
		plan.Changes = append(plan.Changes, ch)
	}
	for _, cl := range s.Clients() {
		key := Key(prefix, cl.ID)
		if seen[key] {
			continue
		}
		data, err := cl.MarshalJSON()
		if err != nil {
			return nil, err
		}
		plan.Changes = append(plan.Changes, Change{Op: OpAdd, ClientID: cl.ID, Key: key, value: data})
	}
	slices.SortFunc(plan.Changes, func(a, b Change) int { return strings.Compare(a.Key, b.Key) })
	return plan, nil
}

// ErrConflict is returned when a key changed between the read of a plan
// and its write: run the publication again.
var ErrConflict = errors.New("the registry in etcd changed while publishing; nothing of the failed transaction was written: publish again")

// Apply writes the plan's changes in transactions of at most 128
// operations and 1 MiB. Each transaction writes only if none of its keys
// changed since the plan's read, so that two publishers never overwrite
// each other's edits unseen; each is atomic, the publication as a whole
// is not (etcd's limits forbid it for large registries). It returns the
// number of transactions written.
func (p *Plan) Apply(ctx context.Context, c *clientv3.Client) (int, error) {
	txns := 0
	for start := 0; start < len(p.Changes); {
		end, size := start, 0
		for end < len(p.Changes) && end-start < maxTxnOps {
			n := len(p.Changes[end].Key) + len(p.Changes[end].value)
			if end > start && size+n > maxTxnBytes {
				break
			}
			size += n
			end++
		}
		batch := p.Changes[start:end]
		cmps := make([]clientv3.Cmp, len(batch))
		ops := make([]clientv3.Op, len(batch))
		for i, ch := range batch {
			cmps[i] = clientv3.Compare(clientv3.ModRevision(ch.Key), "=", ch.modRevision)
			if ch.Op == OpDelete {
				ops[i] = clientv3.OpDelete(ch.Key)
			} else {
				ops[i] = clientv3.OpPut(ch.Key, string(ch.value))
			}
		}
		tctx, cancel := context.WithTimeout(ctx, readTimeout)
		resp, err := c.Txn(tctx).If(cmps...).Then(ops...).Commit()
		cancel()
		if err != nil {
			return txns, fmt.Errorf("after %d transaction(s): %w", txns, err)
		}
		if !resp.Succeeded {
			return txns, fmt.Errorf("after %d transaction(s): %w", txns, ErrConflict)
		}
		txns++
		start = end
	}
	return txns, nil
}

// Read returns the registry held under prefix at one revision, for the
// tools: every valid client, and the problems of every invalid value (each
// a *registry.LoadError naming its key).
func Read(ctx context.Context, c *clientv3.Client, prefix string, p *policy.Policy) (*registry.Snapshot, []error, error) {
	kvs, rev, err := readAll(ctx, c, ClientsPrefix(prefix), readTimeout)
	if err != nil {
		return nil, nil, err
	}
	var clients []*registry.Client
	var invalid []error
	for _, v := range decodeAll(prefix, kvs, p) {
		if v.err != nil {
			invalid = append(invalid, v.err)
			continue
		}
		clients = append(clients, v.client)
	}
	return registry.NewSnapshot("etcd:"+prefix, p, rev, clients), invalid, nil
}

// Lint returns every error and warning of every value under prefix, as
// lint reports those of a file, with the number of keys read.
func Lint(ctx context.Context, c *clientv3.Client, prefix string, p *policy.Policy) ([]registry.Problem, int, error) {
	kvs, _, err := readAll(ctx, c, ClientsPrefix(prefix), readTimeout)
	if err != nil {
		return nil, 0, err
	}
	var problems []registry.Problem
	for _, kv := range kvs {
		key := string(kv.Key)
		id, _ := strings.CutPrefix(key, ClientsPrefix(prefix))
		if id == "" {
			problems = append(problems, registry.Problem{Severity: registry.Error, File: key, Message: "not a client key: want " + ClientsPrefix(prefix) + "<client_id>"})
			continue
		}
		problems = append(problems, registry.LintClient(key, id, kv.Value, p)...)
	}
	return problems, len(kvs), nil
}

// problemText is the first problem of a refused value, for one line.
func problemText(err error) string {
	var le *registry.LoadError
	if errors.As(err, &le) && len(le.Problems) > 0 {
		return le.Problems[0].String()
	}
	return err.Error()
}
