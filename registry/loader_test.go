package registry

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

// versionClients is the number of ordinary clients of a version file.
const versionClients = 50

// versionFile returns a registry whose every client is tied to version v:
// client C-i may use only https://<v>.example.com/c<i>, and the client
// MARKER is named v. Versions of the same length give files of the same
// size.
func versionFile(v string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "{\n  \"environment\": \"production\",\n  \"clients\": [\n")
	fmt.Fprintf(&b, "    {\"client_id\": \"MARKER\", \"name\": %q, \"redirect_uris\": [\"https://marker.example.com/%s\"]}", v, v)
	for i := range versionClients {
		fmt.Fprintf(&b, ",\n    {\"client_id\": \"C-%03d\", \"redirect_uris\": [\"https://%s.example.com/c%d\"]}", i, v, i)
	}
	b.WriteString("\n  ]\n}\n")
	return []byte(b.String())
}

// brokenFile returns a version file that fails to load in one of several
// ways, all late in the file, so that loading it half would be noticed.
func brokenFile(v string, kind int) []byte {
	good := string(versionFile(v))
	switch kind % 3 {
	case 0: // truncated, as a writer caught in the middle
		return []byte(good[:len(good)*3/4])
	case 1: // one insecure URI near the end
		return []byte(strings.Replace(good, fmt.Sprintf("https://%s.example.com/c%d\"", v, versionClients-2), fmt.Sprintf("http://%s.example.com/c%d\"", v, versionClients-2), 1))
	default: // a duplicate client id at the end
		return []byte(strings.Replace(good, fmt.Sprintf("\"C-%03d\"", versionClients-1), "\"C-000\"", 1))
	}
}

func clientURI(v string, i int) string { return fmt.Sprintf("https://%s.example.com/c%d", v, i) }

// marker returns the version a snapshot was loaded from.
func marker(s *Snapshot) string {
	if c := s.Client("MARKER"); c != nil {
		return c.Name
	}
	return ""
}

// checkConsistent checks that every client of s belongs to one version.
func checkConsistent(s *Snapshot, i int) error {
	v := marker(s)
	if s.Len() != versionClients+1 {
		return fmt.Errorf("snapshot %s has %d clients, want %d", v, s.Len(), versionClients+1)
	}
	id := fmt.Sprintf("C-%03d", i%versionClients)
	if d := s.Decide(id, clientURI(v, i%versionClients)); d.Reason != policy.ExactMatch {
		return fmt.Errorf("snapshot %s: client %s decides %s for its own version's URI", v, id, d.Reason)
	}
	return nil
}

// atomicWrite replaces path the way editors and deployment tools do: a new
// file in the same directory renamed over the old one.
func atomicWrite(t testing.TB, path string, data []byte) {
	t.Helper()
	f, err := os.CreateTemp(filepath.Dir(path), ".clients-*.tmp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		t.Fatal(err)
	}
}

// rewrite truncates path and writes data into the same file.
func rewrite(t testing.TB, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// configMap lays out a registry the way the kubelet mounts a ConfigMap:
// dir/clients.json -> ..data/clients.json, ..data -> a timestamped
// directory that each update replaces.
type configMap struct {
	t   testing.TB
	dir string
	n   int
	cur string
}

func newConfigMap(t testing.TB, data []byte) *configMap {
	c := &configMap{t: t, dir: t.TempDir()}
	c.write(data)
	if err := os.Symlink(filepath.Join("..data", "clients.json"), filepath.Join(c.dir, "clients.json")); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *configMap) path() string { return filepath.Join(c.dir, "clients.json") }

// write makes a new timestamped directory, points ..data at it with the
// atomic rename of a ..data_tmp link, and removes the old directory.
func (c *configMap) write(data []byte) {
	t := c.t
	t.Helper()
	c.n++
	ts := fmt.Sprintf("..2026_01_01_00_00_%02d.%d", c.n%60, c.n)
	if err := os.Mkdir(filepath.Join(c.dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.dir, ts, "clients.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(c.dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if c.cur != "" {
		if err := os.RemoveAll(filepath.Join(c.dir, c.cur)); err != nil {
			t.Fatal(err)
		}
	}
	c.cur = ts
}

// recorder keeps the ReloadEvents of a loader.
type recorder struct {
	mu  sync.Mutex
	evs []ReloadEvent
}

func (r *recorder) add(ev ReloadEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, ev)
}

func (r *recorder) events() []ReloadEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ReloadEvent(nil), r.evs...)
}

func (r *recorder) len() int { return len(r.events()) }

// waitFor polls cond until it holds, failing the test after 5 seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// startLoader loads path, starts polling every interval and records the
// loader's events; the loader is closed when the test ends.
func startLoader(t testing.TB, path string, interval time.Duration) (*Loader, *recorder) {
	t.Helper()
	l, err := NewLoader(path, mustPolicy(t, policy.Production), interval)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	l.Subscribe(rec.add)
	l.Start()
	t.Cleanup(func() { l.Close() })
	return l, rec
}

func waitVersion(t testing.TB, l *Loader, v string) {
	t.Helper()
	waitFor(t, "version "+v+" to be served", func() bool { return marker(l.Snapshot()) == v })
	if err := checkConsistent(l.Snapshot(), 7); err != nil {
		t.Fatal(err)
	}
}

func TestNewLoader(t *testing.T) {
	dir := t.TempDir()
	p := mustPolicy(t, policy.Production)
	good := writeFile(t, dir, "good.json", versionFile("v1"))
	l, err := NewLoader(good, p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if marker(l.Snapshot()) != "v1" || l.Snapshot().Hash != sha256.Sum256(versionFile("v1")) {
		t.Errorf("NewLoader serves %q", marker(l.Snapshot()))
	}
	l.Start() // no interval: no polling
	if err := l.Close(); err != nil {
		t.Error(err)
	}

	bad := writeFile(t, dir, "bad.json", brokenFile("v1", 1))
	if _, err := NewLoader(bad, p, time.Second); !errors.As(err, new(*LoadError)) {
		t.Errorf("NewLoader of a broken file: %v, want a *LoadError", err)
	}
	if _, err := NewLoader(filepath.Join(dir, "missing.json"), p, time.Second); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("NewLoader of a missing file: %v, want ErrNotExist", err)
	}
}

// TestLoaderReload checks that every way of replacing the file is seen.
func TestLoaderReload(t *testing.T) {
	type setup struct {
		path   string
		change func(data []byte)
	}
	tests := []struct {
		name  string
		setup func(t *testing.T) setup
	}{
		{"atomic rename", func(t *testing.T) setup {
			path := writeFile(t, t.TempDir(), "clients.json", versionFile("v1"))
			return setup{path, func(data []byte) { atomicWrite(t, path, data) }}
		}},
		{"truncate and rewrite", func(t *testing.T) setup {
			path := writeFile(t, t.TempDir(), "clients.json", versionFile("v1"))
			return setup{path, func(data []byte) { rewrite(t, path, data) }}
		}},
		{"configmap symlink swap", func(t *testing.T) setup {
			cm := newConfigMap(t, versionFile("v1"))
			return setup{cm.path(), cm.write}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.setup(t)
			l, rec := startLoader(t, s.path, 10*time.Millisecond)
			if marker(l.Snapshot()) != "v1" {
				t.Fatalf("serving %q, want v1", marker(l.Snapshot()))
			}
			// Versions of the same size, written quickly: only the content
			// tells them apart.
			for i, v := range []string{"v2", "v3", "v4"} {
				s.change(versionFile(v))
				waitVersion(t, l, v)
				waitFor(t, "the reload event", func() bool { return rec.len() == i+1 })
				ev := rec.events()[i]
				if ev.Err != nil || ev.Snapshot != l.Snapshot() || ev.File != s.path || ev.Time.IsZero() {
					t.Errorf("event %d = %+v, want a success with the new snapshot", i, ev)
				}
			}
		})
	}
}

// TestLoaderUnchangedContent checks that touching a file or writing the
// same bytes again does not reload it.
func TestLoaderUnchangedContent(t *testing.T) {
	data := versionFile("v1")
	t.Run("checked by hand", func(t *testing.T) {
		path := writeFile(t, t.TempDir(), "clients.json", data)
		l, rec := startLoader(t, path, 0) // no polling: Check is called here
		s1 := l.Snapshot()
		changes := []struct {
			name   string
			change func()
		}{
			{"touch", func() {
				future := time.Now().Add(time.Hour)
				if err := os.Chtimes(path, future, future); err != nil {
					t.Fatal(err)
				}
			}},
			{"same bytes in place", func() { rewrite(t, path, data) }},
			{"same bytes renamed over", func() { atomicWrite(t, path, data) }},
		}
		for _, c := range changes {
			c.change()
			reloaded, err := l.Check()
			if reloaded || err != nil {
				t.Errorf("%s: Check() = %v, %v; want false, nil", c.name, reloaded, err)
			}
			if l.Snapshot() != s1 || rec.len() != 0 {
				t.Errorf("%s: the snapshot was replaced or an event sent (%d)", c.name, rec.len())
			}
		}
		atomicWrite(t, path, versionFile("v2"))
		if reloaded, err := l.Check(); !reloaded || err != nil || marker(l.Snapshot()) != "v2" {
			t.Errorf("Check() after a change = %v, %v; serving %s", reloaded, err, marker(l.Snapshot()))
		}
	})
	t.Run("polling", func(t *testing.T) {
		path := writeFile(t, t.TempDir(), "clients.json", data)
		l, rec := startLoader(t, path, 5*time.Millisecond)
		s1 := l.Snapshot()
		for i := range 3 {
			when := time.Now().Add(time.Duration(i+1) * time.Minute)
			if err := os.Chtimes(path, when, when); err != nil {
				t.Fatal(err)
			}
			rewrite(t, path, data)
			// A Check of ours returns once the poller is done with it.
			l.Check()
			if l.Snapshot() != s1 {
				t.Fatalf("touching the file replaced the snapshot")
			}
		}
		atomicWrite(t, path, versionFile("v2"))
		waitVersion(t, l, "v2")
		evs := rec.events()
		if len(evs) != 1 || evs[0].Err != nil || marker(evs[0].Snapshot) != "v2" {
			t.Errorf("events: %+v, want only the reload of v2", evs)
		}
	})
}

// TestLoaderBrokenFile checks that a broken file never replaces a good one,
// that each failure is reported once, and that fixing the file reloads it.
func TestLoaderBrokenFile(t *testing.T) {
	path := writeFile(t, t.TempDir(), "clients.json", versionFile("v1"))
	l, rec := startLoader(t, path, 10*time.Millisecond)
	s1 := l.Snapshot()

	atomicWrite(t, path, brokenFile("v2", 1))
	waitFor(t, "the failure event", func() bool { return rec.len() == 1 })
	ev := rec.events()[0]
	var le *LoadError
	if !errors.As(ev.Err, &le) || !strings.Contains(le.Error(), "production requires https") {
		t.Fatalf("event error: %v, want the LoadError of the insecure URI", ev.Err)
	}
	if ev.Snapshot != s1 || l.Snapshot() != s1 {
		t.Fatalf("a broken file replaced the snapshot")
	}
	if err := checkConsistent(l.Snapshot(), 3); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if reloaded, _ := l.Check(); reloaded {
			t.Fatalf("Check reloaded a broken file")
		}
	}
	// The same broken bytes again: not a new failure.
	atomicWrite(t, path, brokenFile("v2", 1))
	l.Check()
	if n := rec.len(); n != 1 {
		t.Fatalf("%d events for one broken file, want 1: %+v", n, rec.events())
	}

	// Another broken version is another failure.
	rewrite(t, path, brokenFile("v3", 0))
	waitFor(t, "the second failure event", func() bool { return rec.len() == 2 })
	if ev := rec.events()[1]; ev.Err == nil || !strings.Contains(ev.Err.Error(), "unexpected end of file") || ev.Snapshot != s1 {
		t.Fatalf("second event %+v, want the truncated file's error", ev)
	}

	// Fixed: served at once, even with the content that was served before.
	atomicWrite(t, path, versionFile("v1"))
	waitFor(t, "the reload of the fixed file", func() bool { return rec.len() == 3 })
	if ev := rec.events()[2]; ev.Err != nil || ev.Snapshot == s1 || marker(ev.Snapshot) != "v1" || l.Snapshot() != ev.Snapshot {
		t.Fatalf("third event %+v, want a new snapshot of v1", ev)
	}
	atomicWrite(t, path, versionFile("v4"))
	waitVersion(t, l, "v4")
}

// TestLoaderDeletedFile checks that a deleted file keeps the last snapshot
// serving until the file comes back.
func TestLoaderDeletedFile(t *testing.T) {
	path := writeFile(t, t.TempDir(), "clients.json", versionFile("v1"))
	l, rec := startLoader(t, path, 10*time.Millisecond)
	s1 := l.Snapshot()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failure event", func() bool { return rec.len() == 1 })
	if ev := rec.events()[0]; !errors.Is(ev.Err, os.ErrNotExist) || ev.Snapshot != s1 {
		t.Fatalf("event %+v, want ErrNotExist with the serving snapshot", ev)
	}
	if _, err := l.Check(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Check() of a deleted file: %v", err)
	}
	if l.Snapshot() != s1 || rec.len() != 1 {
		t.Fatalf("the deleted file changed the snapshot or was reported %d times", rec.len())
	}
	if d := l.Snapshot().Decide("C-001", clientURI("v1", 1)); d.Reason != policy.ExactMatch {
		t.Errorf("after deletion, Decide = %s", d.Reason)
	}
	atomicWrite(t, path, versionFile("v2"))
	waitVersion(t, l, "v2")
}

func TestLoaderSubscribeCancel(t *testing.T) {
	path := writeFile(t, t.TempDir(), "clients.json", versionFile("v1"))
	l, rec := startLoader(t, path, 10*time.Millisecond)
	var other, canceled recorder
	cancelOther := l.Subscribe(other.add)
	cancel := l.Subscribe(canceled.add)
	cancel()
	cancel() // twice is harmless

	atomicWrite(t, path, versionFile("v2"))
	waitFor(t, "the events", func() bool { return rec.len() == 1 && other.len() == 1 })
	if canceled.len() != 0 {
		t.Errorf("a canceled subscriber got %d events", canceled.len())
	}
	cancelOther()
	atomicWrite(t, path, versionFile("v3"))
	waitFor(t, "the event", func() bool { return rec.len() == 2 })
	if other.len() != 1 || canceled.len() != 0 {
		t.Errorf("canceled subscribers got %d and %d events", other.len(), canceled.len())
	}
}

// TestLoaderClose checks that a closed loader no longer polls: a second
// loader of the same file is the clock that shows the change was there to
// see.
func TestLoaderClose(t *testing.T) {
	path := writeFile(t, t.TempDir(), "clients.json", versionFile("v1"))
	closed, closedRec := startLoader(t, path, 5*time.Millisecond)
	open, _ := startLoader(t, path, 5*time.Millisecond)
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	closed.Close() // twice is harmless
	for _, v := range []string{"v2", "v3"} {
		atomicWrite(t, path, versionFile(v))
		waitVersion(t, open, v)
	}
	if marker(closed.Snapshot()) != "v1" || closedRec.len() != 0 {
		t.Fatalf("a closed loader reloaded: serving %s, %d events", marker(closed.Snapshot()), closedRec.len())
	}
	// Started again, it polls again.
	closed.Start()
	waitVersion(t, closed, "v3")
}

// TestLoaderGoroutines checks that Close stops the polling goroutine, also
// when it is in the middle of a reload.
func TestLoaderGoroutines(t *testing.T) {
	path := writeFile(t, t.TempDir(), "clients.json", versionFile("v1"))
	p := mustPolicy(t, policy.Production)
	runtime.GC()
	base := runtime.NumGoroutine()
	for i := range 200 {
		l, err := NewLoader(path, p, time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		cancel := l.Subscribe(func(ReloadEvent) {})
		l.Start()
		l.Start() // a second Start does not start a second poller
		if i%10 == 0 {
			rewrite(t, path, versionFile(fmt.Sprintf("v%d", i%7))) // caught mid-reload
		}
		if i%3 == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if i%25 == 24 {
			// A poller may take a moment to exit once Close has returned,
			// but they must not pile up.
			waitFor(t, fmt.Sprintf("goroutines to end after %d cycles", i+1), func() bool { return runtime.NumGoroutine() <= base })
		}
	}
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= base })
}

// TestLoaderDebounce checks that a burst of writes loads far fewer times
// than it writes.
func TestLoaderDebounce(t *testing.T) {
	path := writeFile(t, t.TempDir(), "clients.json", versionFile("v00"))
	l, rec := startLoader(t, path, 2*time.Millisecond)
	const writes = 40
	for i := 1; i <= writes; i++ {
		rewrite(t, path, versionFile(fmt.Sprintf("v%02d", i)))
	}
	waitVersion(t, l, fmt.Sprintf("v%02d", writes))
	reloads := 0
	for _, ev := range rec.events() {
		if ev.Err == nil {
			reloads++
		}
	}
	if reloads == 0 || reloads > writes/4 {
		t.Errorf("%d writes loaded %d times, want a few", writes, reloads)
	}
}

// TestLoaderCancelWaitsForCall: cancel returns only once a call in progress
// has ended, and no call starts after it: a subscriber may tear down what
// its callback writes (a config's gauges, its logger) as soon as cancel
// returns.
func TestLoaderCancelWaitsForCall(t *testing.T) {
	path := writeFile(t, t.TempDir(), "clients.json", versionFile("v1"))
	l, err := NewLoader(path, mustPolicy(t, policy.Production), 0)
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	torn, callsAfter := false, 0
	cancel := l.Subscribe(func(ReloadEvent) {
		close(entered)
		<-release
		mu.Lock()
		defer mu.Unlock()
		if torn {
			callsAfter++
		}
	})
	rewrite(t, path, versionFile("v2"))
	go l.Check()
	<-entered
	canceled := make(chan struct{})
	go func() {
		cancel()
		mu.Lock()
		torn = true // what the callback uses is gone
		mu.Unlock()
		close(canceled)
	}()
	select {
	case <-canceled:
		t.Fatal("cancel returned while the callback was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-canceled
	rewrite(t, path, versionFile("v3"))
	if _, err := l.Check(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if callsAfter != 0 {
		t.Errorf("the callback ran %d times after cancel returned", callsAfter)
	}
}

// TestLoaderLastAndReadErrors: a file that cannot be read is read again at
// the next check even if it does not change meanwhile (only a file read is
// known), and Last tells the result of the last attempt.
func TestLoaderLastAndReadErrors(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "clients.json", versionFile("v1"))
	l, err := NewLoader(path, mustPolicy(t, policy.Production), 0)
	if err != nil {
		t.Fatal(err)
	}
	if last := l.Last(); last.Err != nil || last.Snapshot != l.Snapshot() {
		t.Fatalf("Last after NewLoader = %+v", last)
	}
	// A directory in the file's place: stat works, the read fails.
	if err := os.Rename(path, path+".bak"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Check(); err == nil {
		t.Fatal("Check of a directory succeeded")
	}
	if l.Last().Err == nil {
		t.Errorf("Last().Err is nil after a failed read")
	}
	if _, err := l.Check(); err == nil {
		t.Errorf("a second Check of the unchanged directory reports no error: it was not read again")
	}
	os.Remove(path)
	if err := os.Rename(path+".bak", path); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Check(); err != nil {
		t.Fatal(err)
	}
	if l.Last().Err != nil {
		t.Errorf("Last().Err = %v once the file is back", l.Last().Err)
	}
}
