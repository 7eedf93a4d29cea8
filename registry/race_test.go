package registry

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

// TestLoaderConcurrentSwaps swaps the file hundreds of times, good and
// broken versions mixed, while readers decide requests without pause: every
// snapshot a reader sees must be one whole good version, and the last good
// file must be the one served at the end. Run it with -race.
func TestLoaderConcurrentSwaps(t *testing.T) {
	path := writeFile(t, t.TempDir(), "clients.json", versionFile("v0000"))
	l, err := NewLoader(path, mustPolicy(t, policy.Production), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	l.settle = time.Millisecond // reload as often as the swaps allow
	var loaded, failed atomic.Int64
	var eventErr atomic.Value
	l.Subscribe(func(ev ReloadEvent) {
		if ev.Err != nil {
			failed.Add(1)
		} else {
			loaded.Add(1)
		}
		if err := checkConsistent(ev.Snapshot, int(loaded.Load())); err != nil {
			eventErr.Store(err)
		}
	})
	l.Start()
	defer l.Close()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	errs := make(chan error, 8)
	for r := range 2 {
		wg.Go(func() {
			for i := r; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s := l.Snapshot()
				if err := checkConsistent(s, i); err != nil {
					errs <- err
					return
				}
				// The previous version's URI is not allowed: the client's
				// set is its own version's only.
				var n int
				v := marker(s)
				fmt.Sscanf(v, "v%d", &n)
				if d := s.Decide(fmt.Sprintf("C-%03d", i%versionClients), clientURI(fmt.Sprintf("v%04d", n-1), i%versionClients)); d.Reason != policy.RedirectURINotRegistered {
					errs <- fmt.Errorf("snapshot %s allowed another version's URI: %s", v, d.Reason)
					return
				}
				reads.Add(1)
				runtime.Gosched() // leave the writer and the poller their turn
			}
		})
	}
	wg.Go(func() { // checks by hand, alongside the poller
		for {
			select {
			case <-stop:
				return
			case <-time.After(3 * time.Millisecond):
				l.Check()
			}
		}
	})

	r := rand.New(rand.NewPCG(1, 2))
	last := "v0000"
	const swaps = 300
	for k := 1; k <= swaps; k++ {
		v := fmt.Sprintf("v%04d", k)
		broken := k%4 == 0 && k < swaps
		failures := failed.Load()
		if broken {
			atomicWrite(t, path, brokenFile(v, k/4))
		} else {
			atomicWrite(t, path, versionFile(v))
			last = v
		}
		// Some swaps wait until they have been dealt with, so that reloads
		// and failures happen whatever the speed of the machine: a broken
		// version right after a good one that was served is always reported
		// (a failure is reported once per distinct error). The others come
		// in bursts.
		switch {
		case broken && k%10 == 0:
			waitFor(t, "the failure of "+v, func() bool { return failed.Load() > failures })
		case !broken && (k%10 == 0 || k%10 == 9):
			waitFor(t, v+" to be served", func() bool { return marker(l.Snapshot()) == v })
		default:
			time.Sleep(time.Duration(r.IntN(1500)) * time.Microsecond)
		}
	}
	waitFor(t, "the last good version "+last, func() bool { return marker(l.Snapshot()) == last })
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err, _ := eventErr.Load().(error); err != nil {
		t.Error(err)
	}
	if s := l.Snapshot(); s.Hash != sha256.Sum256(versionFile(last)) {
		t.Errorf("the snapshot served at the end is not the last good file")
	}
	t.Logf("%d swaps: %d reloads, %d failures reported, %d reads", swaps, loaded.Load(), failed.Load(), reads.Load())
	if loaded.Load() < swaps/10 || failed.Load() < 1 || reads.Load() == 0 {
		t.Errorf("%d reloads, %d failures, %d reads: the test did not exercise the loader", loaded.Load(), failed.Load(), reads.Load())
	}
}
