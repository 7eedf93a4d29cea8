package registry

import (
	"crypto/sha256"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

// DefaultSettle is how long a changed file must stay unchanged before it is
// read, so that a burst of writes loads once.
const DefaultSettle = 50 * time.Millisecond

// ReloadEvent tells a Loader's subscribers how a reload went.
type ReloadEvent struct {
	File string
	Time time.Time
	// Err is nil when the new file was loaded; otherwise the previous
	// snapshot goes on serving.
	Err error
	// Snapshot is the snapshot serving after the reload.
	Snapshot *Snapshot
	// State is set by a source that follows a store (etcd); nil for a file.
	State *SourceState
}

// Loader serves the latest good snapshot of a registry file and, once
// started, polls the file for changes.
//
// Polling was chosen over file-system notifications: a stat per interval
// costs nothing, needs no dependency, and sees every way a file can be
// replaced (in-place rewrites, atomic renames, the symbolic-link swap of
// Kubernetes ConfigMaps, network file systems) without re-arming watches
// on directories that are renamed away.
type Loader struct {
	path     string
	policy   *policy.Policy
	interval time.Duration
	settle   time.Duration

	current atomic.Pointer[Snapshot]

	subs Subscribers // and the result of the last load attempt

	mu   sync.Mutex // guards the fields below
	stop chan struct{}
	done chan struct{}

	// Only the polling goroutine (or a caller of Check) touches these.
	checkMu  sync.Mutex
	lastInfo os.FileInfo // of the file last read; nil when it could not be
	lastHash [sha256.Size]byte
	lastErr  string
}

// NewLoader loads the registry file at path for p. It fails if the file
// does not load. interval is the polling period once Start is called; zero
// disables polling.
func NewLoader(path string, p *policy.Policy, interval time.Duration) (*Loader, error) {
	l := &Loader{path: path, policy: p, interval: interval, settle: DefaultSettle}
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	s, err := Load(path, p)
	if err != nil {
		return nil, err
	}
	l.current.Store(s)
	l.lastInfo, l.lastHash = info, s.Hash
	l.subs.Notify(ReloadEvent{File: path, Time: s.LoadedAt, Snapshot: s})
	return l, nil
}

// Last returns the result of the last load attempt that found new content
// or failed: its Err is nil when the file serving is the file on disk as
// last seen.
func (l *Loader) Last() ReloadEvent { return l.subs.Last() }

// Snapshot returns the snapshot serving now. It never blocks.
func (l *Loader) Snapshot() *Snapshot { return l.current.Load() }

// Subscribe calls f after every reload attempt that found new content,
// until cancel is called. f runs on the polling goroutine and must not block.
// Once cancel has returned, f is not running and never runs again; f must
// not call cancel itself.
func (l *Loader) Subscribe(f func(ReloadEvent)) (cancel func()) { return l.subs.Subscribe(f) }

// Start begins polling, if an interval is set. It is a no-op when already
// started.
func (l *Loader) Start() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.interval <= 0 || l.stop != nil {
		return
	}
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go l.poll(l.stop, l.done)
}

// Close stops polling and waits for the polling goroutine to end.
func (l *Loader) Close() error {
	l.mu.Lock()
	stop, done := l.stop, l.done
	l.stop, l.done = nil, nil
	l.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	return nil
}

func (l *Loader) poll(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			l.check(stop)
		}
	}
}

// Check looks at the file once and reloads it if its content changed. It
// reports whether a new snapshot is serving, and the error of a failed
// reload. A failed reload keeps the previous snapshot.
func (l *Loader) Check() (bool, error) { return l.check(nil) }

// errClosed ends a check that Close interrupted while it waited for the
// file to settle.
var errClosed = errors.New("loader closed")

// check is Check, giving up when stop is closed.
func (l *Loader) check(stop <-chan struct{}) (bool, error) {
	l.checkMu.Lock()
	defer l.checkMu.Unlock()

	info, err := l.settled(stop)
	if err == errClosed {
		return false, nil
	}
	if err == nil && sameFile(info, l.lastInfo) {
		return false, nil
	}
	var data []byte
	if err == nil {
		data, err = os.ReadFile(l.path)
	}
	if err != nil {
		// A file that could not be stat'ed or read (not found, permission
		// denied, too many open files, an I/O error) is read again at the
		// next check, even if it does not change meanwhile: only a file
		// read is known.
		l.lastInfo = nil
		return false, l.fail(err)
	}
	l.lastInfo = info
	hash := sha256.Sum256(data)
	if hash == l.lastHash {
		if hash == l.Snapshot().Hash && l.lastErr != "" {
			// The file serving is back, unchanged, after it could not be
			// read (removed and put back): report it, or the failure
			// would stand until the next edit.
			l.lastErr = ""
			l.notify(ReloadEvent{File: l.path, Time: time.Now(), Snapshot: l.Snapshot()})
		}
		return false, nil // touched, or rewritten with the same bytes
	}
	l.lastHash = hash
	s, err := Parse(l.path, data, l.policy)
	if err != nil {
		return false, l.fail(err)
	}
	l.lastErr = ""
	l.current.Store(s)
	l.notify(ReloadEvent{File: l.path, Time: s.LoadedAt, Snapshot: s})
	return true, nil
}

// settled stats the file until it stays unchanged for the settle time, so
// that a writer caught in the middle of a burst is waited for (a bounded
// number of times). Closing stop ends the wait with errClosed, so that
// Close does not wait for a writer that keeps writing.
func (l *Loader) settled(stop <-chan struct{}) (os.FileInfo, error) {
	info, err := os.Stat(l.path)
	for i := 0; err == nil && !sameFile(info, l.lastInfo) && i < 10; i++ {
		timer := time.NewTimer(l.settle)
		select {
		case <-stop:
			timer.Stop()
			return nil, errClosed
		case <-timer.C:
		}
		var again os.FileInfo
		again, err = os.Stat(l.path)
		if err == nil && sameFile(again, info) {
			break
		}
		info = again
	}
	return info, err
}

// fail reports a failed reload once per distinct error, so that a broken
// file is counted once, not at every poll.
func (l *Loader) fail(err error) error {
	if msg := err.Error(); msg != l.lastErr {
		l.lastErr = msg
		l.notify(ReloadEvent{File: l.path, Time: time.Now(), Err: err, Snapshot: l.Snapshot()})
	}
	return err
}

// notify records ev as the last result and passes it to the subscribers.
func (l *Loader) notify(ev ReloadEvent) { l.subs.Notify(ev) }

// sameFile reports whether two stats describe the same unchanged file.
func sameFile(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}
