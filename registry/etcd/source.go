package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
)

// Defaults of a Source's timing.
const (
	DefaultMinBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff    = 5 * time.Second
	DefaultProbeInterval = 2 * time.Second
)

// Options configure a Source.
type Options struct {
	Config
	Policy *policy.Policy
	// Cache is the file the snapshot is written to after every applied
	// revision, and served from when the cluster does not answer at
	// start. "" keeps no cache: then the cluster must answer at start.
	Cache string
	// Log receives the source's own messages (cache writes); nil
	// discards them. Changes, refused values and the connection state go
	// to subscribers.
	Log *zap.Logger
	// The wait between attempts to reach the cluster doubles from
	// MinBackoff up to MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// ProbeInterval is how often the source checks that the cluster
	// answers (a linearizable read of one key, which needs a quorum).
	ProbeInterval time.Duration
}

// Source serves the registry held under a prefix of an etcd cluster. It
// reads every client at one revision, then watches the prefix from the
// next revision and applies each change alone: a changed client is
// compiled and the rest of the snapshot is shared. Requests see whole
// snapshots, each at one revision. A value that breaks a rule is refused:
// its client keeps its last good version (a new client stays out). While
// the cluster does not answer, the last snapshot keeps serving and the
// source keeps trying, with backoff.
type Source struct {
	opts    Options
	name    string
	clients string // ClientsPrefix(opts.Prefix)

	current   atomic.Pointer[registry.Snapshot]
	connected atomic.Bool

	subs registry.Subscribers

	mu     sync.Mutex // guards client
	client *clientv3.Client

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	cache  *cacheWriter
	// applyMu serializes changes of the snapshot (the watch and resyncs).
	applyMu sync.Mutex
}

// Open reads the registry from the cluster, or, when the cluster does not
// answer within the dial timeout, from the cache file, and starts following
// the cluster. With neither it fails: a proxy never starts with an empty
// registry by mistake.
func Open(o Options) (*Source, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	if o.Policy == nil {
		return nil, errors.New("a policy is required")
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(DefaultMaxBackoff, o.MinBackoff)
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = DefaultProbeInterval
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	s := &Source{opts: o, name: o.Config.String(), clients: ClientsPrefix(o.Prefix)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if o.Cache != "" {
		s.cache = newCacheWriter(o.Cache, o.Policy.Environment(), o.Log)
	}

	err := s.connectAndRead(o.dialTimeout())
	if err != nil {
		if o.Cache == "" {
			s.cancel()
			return nil, fmt.Errorf("etcd %s at %s: %w (and no cache file is configured)", o.Prefix, strings.Join(o.Endpoints, ","), err)
		}
		cached, cerr := registry.Load(o.Cache, o.Policy)
		if cerr != nil {
			s.cancel()
			s.closeClient()
			return nil, fmt.Errorf("etcd %s at %s: %w; cache: %w", o.Prefix, strings.Join(o.Endpoints, ","), err, cerr)
		}
		snap := registry.NewSnapshot(s.name, o.Policy, 0, cached.Clients())
		s.current.Store(snap)
		s.subs.Notify(registry.ReloadEvent{File: s.name, Time: snap.LoadedAt, Snapshot: snap, State: &registry.SourceState{}})
		o.Log.Warn("etcd does not answer: serving the cache until it does",
			zap.String("prefix", o.Prefix), zap.String("cache", o.Cache), zap.Error(err))
	}
	if s.cache != nil {
		s.wg.Go(func() { s.cache.run(s.ctx) })
		if err == nil {
			s.cache.schedule(s.current.Load())
		}
	}
	s.wg.Go(func() { s.follow(err != nil) })
	s.wg.Go(s.probe)
	return s, nil
}

// Snapshot returns the snapshot serving now. It never blocks.
func (s *Source) Snapshot() *registry.Snapshot { return s.current.Load() }

// Connected tells whether the cluster answered the last probe and the
// watch is up.
func (s *Source) Connected() bool { return s.connected.Load() }

// Subscribe calls f after every change of the snapshot, of the connection
// state, and for every refused value, until cancel is called (see
// registry.Subscribers).
func (s *Source) Subscribe(f func(registry.ReloadEvent)) (cancel func()) {
	return s.subs.Subscribe(f)
}

// Last returns the last change applied.
func (s *Source) Last() registry.ReloadEvent { return s.subs.Last() }

// Close stops following the cluster and waits for the source's
// goroutines (a cache write under way is finished).
func (s *Source) Close() error {
	s.cancel()
	s.wg.Wait()
	s.closeClient()
	return nil
}

func (s *Source) closeClient() {
	s.mu.Lock()
	c := s.client
	s.client = nil
	s.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// etcdClient returns the client, creating it if needed: with a user name,
// creating it needs the cluster.
func (s *Source) etcdClient() (*clientv3.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		return s.client, nil
	}
	c, err := s.opts.Connect()
	if err != nil {
		return nil, err
	}
	s.client = c
	return c, nil
}

// connectAndRead makes the client and reads the whole registry.
func (s *Source) connectAndRead(firstTimeout time.Duration) error {
	c, err := s.etcdClient()
	if err != nil {
		return err
	}
	return s.resync(c, firstTimeout)
}

// resync reads every client at one revision and serves them. A refused
// value keeps the version of the client serving now, if any.
func (s *Source) resync(c *clientv3.Client, firstTimeout time.Duration) error {
	kvs, rev, err := readAll(s.ctx, c, s.clients, firstTimeout)
	if err != nil {
		return err
	}
	values := decodeAll(s.opts.Prefix, kvs, s.opts.Policy)
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	prev := s.current.Load()
	clients := make([]*registry.Client, 0, len(values))
	var rejected []error
	for _, v := range values {
		switch {
		case v.err == nil:
			clients = append(clients, v.client)
		default:
			rejected = append(rejected, v.err)
			if prev != nil && v.id != "" {
				if old := prev.Client(v.id); old != nil {
					clients = append(clients, old)
				}
			}
		}
	}
	next := registry.NewSnapshot(s.name, s.opts.Policy, rev, clients)
	s.publish(next, rejected)
	return nil
}

// publish serves a new snapshot and tells the subscribers.
func (s *Source) publish(next *registry.Snapshot, rejected []error) {
	s.current.Store(next)
	s.connected.Store(true)
	if s.cache != nil {
		s.cache.schedule(next)
	}
	s.subs.Notify(registry.ReloadEvent{File: s.name, Time: next.LoadedAt, Snapshot: next,
		State: &registry.SourceState{Revision: next.Revision, Connected: true, Rejected: rejected}})
}

// setConnected records the connection state, telling the subscribers when
// it changes.
func (s *Source) setConnected(up bool, err error) {
	if s.connected.Swap(up) == up {
		return
	}
	cur := s.current.Load()
	ev := registry.ReloadEvent{File: s.name, Time: time.Now(), Snapshot: cur,
		State: &registry.SourceState{Revision: cur.Revision, Connected: up, StateOnly: true}}
	if !up {
		ev.Err = err
	}
	s.subs.Notify(ev)
}

// follow watches the prefix until the source is closed, reading it whole
// first when needed (at start without the cluster, after a compaction).
func (s *Source) follow(needRead bool) {
	backoff := s.opts.MinBackoff
	for s.ctx.Err() == nil {
		c, err := s.etcdClient()
		if err == nil && needRead {
			if err = s.resync(c, s.opts.dialTimeout()); err == nil {
				needRead = false
			}
		}
		if err == nil {
			err = s.watch(c)
			if errors.Is(err, rpctypes.ErrCompacted) {
				needRead = true // the revisions missed are gone: read again
				backoff = s.opts.MinBackoff
				continue
			}
		}
		if s.ctx.Err() != nil {
			return
		}
		s.setConnected(false, err)
		timer := time.NewTimer(backoff)
		select {
		case <-s.ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		backoff = min(2*backoff, s.opts.MaxBackoff)
	}
}

// watch applies the changes after the revision serving until the watch
// ends: it returns rpctypes.ErrCompacted when that revision is compacted
// away, and ErrNoLeader when the member it talks to loses its quorum.
func (s *Source) watch(c *clientv3.Client) error {
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(s.ctx))
	defer cancel()
	from := s.current.Load().Revision + 1
	wch := c.Watch(ctx, s.clients, clientv3.WithPrefix(), clientv3.WithRev(from), clientv3.WithCreatedNotify())
	for resp := range wch {
		if resp.CompactRevision != 0 {
			return rpctypes.ErrCompacted
		}
		if err := resp.Err(); err != nil {
			return err
		}
		if resp.Created {
			s.setConnected(true, nil)
			continue
		}
		if len(resp.Events) > 0 {
			s.apply(resp.Events)
		}
	}
	if err := s.ctx.Err(); err != nil {
		return err
	}
	return errors.New("the watch ended")
}

// apply serves the snapshot after one watch response: etcd sends all the
// events of a revision in one response, so each snapshot is at one
// revision. Only the clients changed are decoded and compiled.
func (s *Source) apply(events []*clientv3.Event) {
	type change struct {
		client *registry.Client // nil: deleted
	}
	changes := make(map[string]change, len(events))
	var rejected []error
	var rev int64
	for _, ev := range events {
		rev = max(rev, ev.Kv.ModRevision)
		key := string(ev.Kv.Key)
		if ev.Type == clientv3.EventTypeDelete {
			if id, ok := strings.CutPrefix(key, s.clients); ok && id != "" {
				changes[id] = change{}
			}
			continue
		}
		v := decode(s.opts.Prefix, key, ev.Kv.Value, s.opts.Policy)
		if v.err != nil {
			rejected = append(rejected, v.err)
			continue
		}
		changes[v.id] = change{client: v.client}
	}
	var put []*registry.Client
	var remove []string
	for id, ch := range changes {
		if ch.client == nil {
			remove = append(remove, id)
		} else {
			put = append(put, ch.client)
		}
	}
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	cur := s.current.Load()
	if rev <= cur.Revision {
		return // already in the snapshot (a resync read past it)
	}
	s.publish(cur.Update(rev, put, remove), rejected)
}

// probe checks that the cluster answers with a quorum, as long as the
// source lives: a watch on a cluster that is entirely down does not end,
// it waits for the cluster to come back.
func (s *Source) probe() {
	t := time.NewTicker(s.opts.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		c := s.client
		s.mu.Unlock()
		if c == nil {
			continue // follow is still trying to make one
		}
		ctx, cancel := context.WithTimeout(s.ctx, s.opts.ProbeInterval)
		_, err := c.Get(ctx, s.opts.Prefix) // linearizable: needs the quorum
		cancel()
		if s.ctx.Err() != nil {
			return
		}
		if err == nil && s.current.Load().Revision == 0 {
			continue // still serving the cache: connected once read
		}
		s.setConnected(err == nil, err)
	}
}

var _ registry.Source = (*Source)(nil)
