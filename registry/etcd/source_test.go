package etcd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/etcdtest"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
)

const prefix = "/redirect-uri-policy/production/"

func mustPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	p, err := policy.New(policy.Options{Environment: policy.Production})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func clientValue(id string, uris ...string) string {
	quoted := make([]string, len(uris))
	for i, u := range uris {
		quoted[i] = fmt.Sprintf("%q", u)
	}
	return fmt.Sprintf(`{"client_id": %q, "redirect_uris": [%s]}`, id, strings.Join(quoted, ", "))
}

// put writes a value, retrying while the cluster elects a leader after a
// member was killed: the client does not retry a put by itself.
func put(t testing.TB, c *clientv3.Client, key, value string) int64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := c.Put(ctx, key, value)
		cancel()
		if err == nil {
			return resp.Header.Revision
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		t.Logf("put %s: %v; retrying", key, err)
		time.Sleep(200 * time.Millisecond)
	}
}

// events records a source's events.
type events struct {
	mu  sync.Mutex
	all []registry.ReloadEvent
}

func (e *events) add(ev registry.ReloadEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) rejected() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, ev := range e.all {
		if ev.State != nil {
			errs = append(errs, ev.State.Rejected...)
		}
	}
	return errs
}

// waitFor polls cond until it holds, failing after a few seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func openSource(t testing.TB, endpoints []string, cache string) (*Source, *events) {
	t.Helper()
	s, err := Open(Options{
		Config: Config{Endpoints: endpoints, Prefix: prefix, DialTimeout: time.Second},
		Policy: mustPolicy(t), Cache: cache,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, ProbeInterval: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	s.Subscribe(ev.add)
	t.Cleanup(func() { s.Close() })
	return s, ev
}

func allows(s *Source, id, uri string) bool { return s.Snapshot().Decide(id, uri).Allowed() }

func TestSourceFollowsTheCluster(t *testing.T) {
	cl := etcdtest.Start(t, 3)
	c := cl.Client()
	put(t, c, Key(prefix, "APP-1"), clientValue("APP-1", "https://one.example.com/cb"))
	put(t, c, Key(prefix, "APP-2"), clientValue("APP-2", "https://two.example.com/cb"))
	put(t, c, prefix+"other", "not a client: outside clients/")
	cache := filepath.Join(t.TempDir(), "cache.json")

	s, ev := openSource(t, cl.Endpoints(), cache)
	if got := s.Snapshot().Len(); got != 2 {
		t.Fatalf("initial snapshot has %d clients, want 2", got)
	}
	if !allows(s, "APP-1", "https://one.example.com/cb") || allows(s, "APP-1", "https://evil.example/cb") {
		t.Fatal("initial snapshot decides APP-1 wrongly")
	}
	first := s.Snapshot()

	// An edit of one client: a new snapshot at its revision, the other
	// client shared.
	rev := put(t, c, Key(prefix, "APP-1"), clientValue("APP-1", "https://one.example.com/new"))
	waitFor(t, "the edit", func() bool { return allows(s, "APP-1", "https://one.example.com/new") })
	if got := s.Snapshot().Revision; got != rev {
		t.Errorf("snapshot revision %d, want %d", got, rev)
	}
	if s.Snapshot().Client("APP-2") != first.Client("APP-2") {
		t.Error("the unchanged client was rebuilt, not shared")
	}
	if allows(s, "APP-1", "https://one.example.com/cb") {
		t.Error("the old redirect URI still allowed after the edit")
	}

	// A bad value: refused, counted, the last good version kept.
	badRev := put(t, c, Key(prefix, "APP-1"), `{"client_id": "APP-1", "redirect_uris": ["https://*.example.com/cb"], "Name": "x"}`)
	waitFor(t, "the bad value's revision and its rejection", func() bool { return s.Snapshot().Revision >= badRev && len(ev.rejected()) > 0 })
	if !allows(s, "APP-1", "https://one.example.com/new") {
		t.Error("the client's last good version was not kept")
	}
	rej := ev.rejected()
	if len(rej) != 1 {
		t.Fatalf("rejected %d values (%v), want 1", len(rej), rej)
	}
	var le *registry.LoadError
	if !errors.As(rej[0], &le) || le.File != Key(prefix, "APP-1") || len(le.Problems) != 2 {
		t.Fatalf("rejection %v: want a LoadError for the key with 2 problems", rej[0])
	}
	for _, want := range []string{`unknown field "Name"`, "redirect_uris[0]"} {
		if !strings.Contains(rej[0].Error(), want) {
			t.Errorf("rejection %q does not say %q", rej[0], want)
		}
	}
	// A new client with a bad value stays out; a value whose client_id
	// is not its key's is refused.
	put(t, c, Key(prefix, "NEW"), `{"client_id": "NEW", "redirect_uris": ["http://new.example.com/cb"]}`)
	put(t, c, Key(prefix, "APP-3"), clientValue("OTHER", "https://three.example.com/cb"))
	waitFor(t, "two more rejections", func() bool { return len(ev.rejected()) == 3 })
	if s.Snapshot().Client("NEW") != nil || s.Snapshot().Client("OTHER") != nil || s.Snapshot().Client("APP-3") != nil {
		t.Error("a refused new client is served")
	}
	if !strings.Contains(ev.rejected()[2].Error(), `does not match the key's "APP-3"`) {
		t.Errorf("rejection %q does not name the key mismatch", ev.rejected()[2])
	}

	// A deletion (revocation by removal) and a disabled client.
	if _, err := c.Delete(context.Background(), Key(prefix, "APP-2")); err != nil {
		t.Fatal(err)
	}
	put(t, c, Key(prefix, "APP-1"), `{"client_id": "APP-1", "disabled": true, "redirect_uris": ["https://one.example.com/new"]}`)
	waitFor(t, "the deletion and the revocation", func() bool {
		return s.Snapshot().Client("APP-2") == nil && s.Snapshot().Decide("APP-1", "https://one.example.com/new").Reason == policy.ClientDisabled
	})

	// The cache holds the snapshot as a registry file.
	waitFor(t, "the cache", func() bool {
		cached, err := registry.Load(cache, mustPolicy(t))
		return err == nil && cached.Len() == 1 && cached.Client("APP-1") != nil && cached.Client("APP-1").Disabled
	})

	// A compaction of the revisions a source missed: it talks to one
	// member only, which is down while the others take writes and compact.
	s0, _ := openSource(t, cl.Endpoints()[:1], "")
	cl.Kill(0)
	waitFor(t, "the source to notice", func() bool { return !s0.Connected() })
	stopped := s0.Snapshot().Revision
	before := s0.Snapshot().Client("APP-1")
	c12, err := clientv3.New(clientv3.Config{Endpoints: cl.Endpoints()[1:], DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c12.Close()
	put(t, c12, Key(prefix, "APP-4"), clientValue("APP-4", "https://four.example.com/cb"))
	compactRev := put(t, c12, Key(prefix, "APP-5"), clientValue("APP-5", "https://five.example.com/cb"))
	if _, err := c12.Compact(context.Background(), compactRev, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	if stopped >= compactRev {
		t.Fatalf("test setup: revision %d not below the compaction %d", stopped, compactRev)
	}
	cl.Restart(0)
	waitFor(t, "the re-read after the compaction", func() bool {
		snap := s0.Snapshot()
		return snap.Revision >= compactRev && snap.Client("APP-4") != nil && snap.Client("APP-5") != nil && s0.Connected()
	})
	if s0.Snapshot().Client("APP-1") == before {
		t.Error("the source did not read the prefix again after the compaction (APP-1 is the instance of the watch)")
	}
}

func TestSourceServesTheCacheWhileTheClusterIsDown(t *testing.T) {
	cl := etcdtest.Start(t, 1)
	c := cl.Client()
	put(t, c, Key(prefix, "APP-1"), clientValue("APP-1", "https://one.example.com/cb"))
	cache := filepath.Join(t.TempDir(), "cache.json")
	s, _ := openSource(t, cl.Endpoints(), cache)
	waitFor(t, "the cache", func() bool { _, err := os.Stat(cache); return err == nil })
	s.Close()

	cl.Kill(0)
	start := time.Now()
	s2, ev := openSource(t, cl.Endpoints(), cache)
	t.Logf("started from the cache in %v", time.Since(start))
	if !allows(s2, "APP-1", "https://one.example.com/cb") || s2.Connected() {
		t.Fatalf("not serving the cache: %d clients, connected %v", s2.Snapshot().Len(), s2.Connected())
	}
	// Without a cache, a cluster that does not answer fails the start.
	if _, err := Open(Options{Config: Config{Endpoints: cl.Endpoints(), Prefix: prefix, DialTimeout: 300 * time.Millisecond}, Policy: mustPolicy(t)}); err == nil || !strings.Contains(err.Error(), "no cache") {
		t.Errorf("Open without cluster and cache: %v, want an error that says so", err)
	}
	missing := filepath.Join(t.TempDir(), "missing.json")
	if _, err := Open(Options{Config: Config{Endpoints: cl.Endpoints(), Prefix: prefix, DialTimeout: 300 * time.Millisecond}, Policy: mustPolicy(t), Cache: missing}); err == nil || !strings.Contains(err.Error(), "cache") {
		t.Errorf("Open without cluster and with a missing cache: %v, want an error that names the cache", err)
	}

	cl.Restart(0)
	cl.WaitReady(30 * time.Second)
	put(t, c, Key(prefix, "APP-2"), clientValue("APP-2", "https://two.example.com/cb"))
	waitFor(t, "catching up", func() bool { return allows(s2, "APP-2", "https://two.example.com/cb") && s2.Connected() })
	ev.mu.Lock()
	defer ev.mu.Unlock()
	sawConnect := false
	for _, e := range ev.all {
		sawConnect = sawConnect || e.State != nil && e.State.Connected
	}
	if !sawConnect {
		t.Error("no event reported the connection")
	}
}
