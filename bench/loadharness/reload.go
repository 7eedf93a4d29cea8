package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/bench"
)

// replaceFile writes data next to file and renames it over file, the way
// editors and configuration tools replace a file atomically.
func replaceFile(file string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(file), "."+filepath.Base(file)+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// rewriter replaces file about every period, alternating the contents,
// until ctx ends, counting the renames in n. Each interval is drawn
// uniformly from [period/2, 3*period/2]: at an exact period, the writer
// phase-locks with the loader's poll of the same period, and a poll that
// comes two renames after the last one sees the content it already serves
// (A, B, A), which is rightly no change: the run would then reload rarely
// or never. The jitter keeps the mean rate and breaks the lock.
func rewriter(ctx context.Context, file string, contents [][]byte, period time.Duration, seed uint64, n *atomic.Int64) error {
	r := rand.New(rand.NewPCG(seed, 11))
	next := time.Now()
	for i := 1; ; i++ {
		next = next.Add(period/2 + time.Duration(r.Int64N(int64(period)+1)))
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
			if err := replaceFile(file, contents[i%len(contents)]); err != nil {
				return err
			}
			n.Add(1)
		}
	}
}

// Visibility is the delay from a registry edit to the first request that
// sees it, measured several times.
type Visibility struct {
	Clients        int           `json:"clients"`
	ReloadInterval time.Duration `json:"reload_interval"`
	Target         time.Duration `json:"target"`
	DelaysMs       []float64     `json:"delays_ms"`
	MedianMs       float64       `json:"median_ms"`
	MaxMs          float64       `json:"max_ms"`
	Failures       int           `json:"failures"`
	Pass           bool          `json:"pass"`
	StartupSeconds float64       `json:"startup_seconds"`
	FileMB         float64       `json:"file_mb"`
}

// over counts the edits that took longer than the target, or were never
// seen.
func (v Visibility) over() int {
	n := v.Failures
	for _, d := range v.DelaysMs {
		if d > float64(v.Target/time.Millisecond) {
			n++
		}
	}
	return n
}

// newClient is the client a visibility trial adds.
func newClient(trial int) bench.Client {
	return bench.Client{
		ID:   "APP-NEWCLIENT" + fmt.Sprintf("%07d", trial),
		Name: "Client added during the run",
		URIs: []string{"https://new" + strconv.Itoa(trial) + ".example.org/orcid/callback"},
	}
}

// measureVisibility adds a new client to the registry file of a running
// Caddy (atomic rename) trials times and measures, each time, the delay
// from the rename to the first request of the new client that is allowed.
// Requests are sent one at a time, every poll.
func measureVisibility(c *Caddy, file string, base []bench.Client, trials int, limit time.Duration, poll time.Duration) ([]float64, int, error) {
	cl := &http.Client{Timeout: 5 * time.Second}
	get := func(url string) (int, error) {
		resp, err := cl.Get(url)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	var delays []float64
	failures := 0
	for trial := 1; trial <= trials; trial++ {
		nc := newClient(trial)
		url := c.URL(bench.AuthorizeTarget(nc.ID, nc.URIs[0]))
		if st, err := get(url); err != nil || st != 400 {
			return delays, failures, fmt.Errorf("before trial %d the new client answered %d, %v; want 400", trial, st, err)
		}
		data := bench.RegistryJSON(append(append([]bench.Client(nil), base...), nc))
		if err := replaceFile(file, data); err != nil {
			return delays, failures, err
		}
		t0 := time.Now()
		seen := false
		for time.Since(t0) < limit {
			st, err := get(url)
			if err == nil && st == 200 {
				delays = append(delays, float64(time.Since(t0))/float64(time.Millisecond))
				seen = true
				break
			}
			time.Sleep(poll)
		}
		if !seen {
			failures++
		}
		// Let the poller settle before the next edit.
		time.Sleep(300 * time.Millisecond)
	}
	return delays, failures, nil
}
