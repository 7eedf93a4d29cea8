package caddymodule_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/caddymodule"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/caddybin"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/loopback"
)

// The per-client metric's classes and the client_id of the clients past
// its cap, as the README documents them.
var (
	clientClasses = []string{"not_registered", "rule_violation", "disabled"}
	otherClient   = "_other"
	// clientClass is the class of each reason a registered client can be
	// rejected for.
	clientClass = map[string]string{
		"redirect_uri_not_registered": "not_registered",
		"no_registered_redirect_uris": "not_registered",
		"client_disabled":             "disabled",
		"malformed_redirect_uri":      "rule_violation",
		"disallowed_scheme":           "rule_violation",
		"userinfo_in_redirect_uri":    "rule_violation",
		"fragment_in_redirect_uri":    "rule_violation",
		"path_traversal":              "rule_violation",
		"insecure_scheme":             "rule_violation",
		"loopback_not_allowed":        "rule_violation",
	}
)

// sprayURIs are eight redirect URIs that a production policy rejects, each
// for another reason, whatever the client has registered.
var sprayURIs = []string{
	"https://attacker.example.net/cb",    // redirect_uri_not_registered
	"https://app.example.edu/%zz",        // malformed_redirect_uri
	"javascript:alert(1)",                // disallowed_scheme
	"https://user@attacker.example.net/", // userinfo_in_redirect_uri
	"https://app.example.edu/cb#x",       // fragment_in_redirect_uri
	"https://app.example.edu/a/../cb",    // path_traversal
	"http://app.example.edu/cb",          // insecure_scheme
	"https://localhost/cb",               // loopback_not_allowed
}

// TestIntegrationClientSeriesBound sprays every client of a 5,000-client
// registry with the eight URIs above (40,000 requests; every tenth client is
// disabled and every tenth has no redirect URIs, so that every reason with a
// client occurs) through the real Caddy binary, and checks what an attacker
// can make the metrics cost: the per-client series stay within the cap,
// /metrics stays small, Caddy's memory barely grows, no rejection goes
// uncounted, and the log names the clients counted as _other.
func TestIntegrationClientSeriesBound(t *testing.T) {
	const (
		nClients  = 5000
		workers   = 8
		maxScrape = 300 << 10
		maxGrowth = 10 << 20
	)
	bin := caddybin.Path(t)
	dir := t.TempDir()

	clients := make([]regClient, nClients)
	for i := range clients {
		c := regClient{ClientID: fmt.Sprintf("APP-SPRAY-%05d", i)}
		switch i % 10 {
		case 0:
			c.Disabled = true
			c.RedirectURIs = []string{fmt.Sprintf("https://app%05d.example.edu/cb", i)}
		case 1: // none: no_registered_redirect_uris
		default:
			c.RedirectURIs = []string{fmt.Sprintf("https://app%05d.example.edu/cb", i)}
		}
		clients[i] = c
	}
	reg := writeRegistry(t, dir, "clients.json", "production", clients...)
	ports := loopback.Ports(t, 2)
	admin, site := "127.0.0.1:"+itoa(ports[0]), "127.0.0.1:"+itoa(ports[1])
	cfg := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`{
	admin %s
	persist_config off
}

http://%s {
	bind 127.0.0.1
	redirect_uri_policy {
		registry %s
		environment production
		name spray
	}
	respond "ok"
}
`, admin, site, caddyfileQuote(reg))), 0o644); err != nil {
		t.Fatal(err)
	}
	pid, logPath := runCaddy(t, bin, dir, cfg)

	waitFor(t, "caddy serving the registry", 30*time.Second, func() bool {
		res, err := http.Get("http://" + admin + "/metrics")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return strings.Contains(string(body), `caddy_redirect_uri_policy_registry_clients{policy="spray"} 5000`)
	})

	// Bounded in time: the spray normally takes seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers},
	}
	defer client.CloseIdleConnections()
	spray := func(ids func(i int) string, n int) (statuses map[int]int) {
		t.Helper()
		var next atomic.Int64
		var mu sync.Mutex
		statuses = map[int]int{}
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				local := map[int]int{}
				defer func() {
					mu.Lock()
					for k, v := range local {
						statuses[k] += v
					}
					mu.Unlock()
				}()
				for {
					i := int(next.Add(1) - 1)
					if i >= n || ctx.Err() != nil {
						return
					}
					target := "http://" + site + "/oauth/authorize?response_type=code&client_id=" + url.QueryEscape(ids(i/len(sprayURIs))) +
						"&redirect_uri=" + url.QueryEscape(sprayURIs[i%len(sprayURIs)])
					req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
					if err != nil {
						t.Error(err)
						return
					}
					req.Header.Set("Accept", "application/json")
					res, err := client.Do(req)
					if err != nil {
						local[-1]++
						continue
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					local[res.StatusCode]++
				}
			}()
		}
		wg.Wait()
		if ctx.Err() != nil {
			t.Fatalf("the spray did not end within its time bound: %v", statuses)
		}
		return statuses
	}

	// Warm up with the same requests for unknown clients (which are never
	// counted per client), so that the memory measured next is Caddy's
	// working set for this traffic, not its first-request growth.
	warm := spray(func(i int) string { return fmt.Sprintf("APP-NOBODY-%05d", i) }, 8000)
	if warm[http.StatusBadRequest] != 8000 {
		t.Fatalf("warm-up: statuses %v, want 8000 × 400", warm)
	}
	before := scrapeAt(t, admin)
	rssBefore := vmRSS(t, pid)

	started := time.Now()
	const total = nClients * 8
	got := spray(func(i int) string { return clients[i].ClientID }, total)
	elapsed := time.Since(started)
	if got[http.StatusBadRequest] != total {
		t.Fatalf("spray: statuses %v, want %d × 400", got, total)
	}
	after := scrapeAt(t, admin)
	rssAfter := vmRSS(t, pid)
	t.Logf("%d requests in %v (%.0f/s, %d workers); /metrics %d bytes; VmRSS %d kB -> %d kB",
		total, elapsed.Round(time.Millisecond), total/elapsed.Seconds(), workers, len(after.raw), rssBefore>>10, rssAfter>>10)

	// The series: the fixed ones unchanged, the client series within the
	// cap plus one _other series per class.
	moduleSeries := func(s metricsSnapshot) map[string]bool {
		out := map[string]bool{}
		for name := range s.families {
			if strings.HasPrefix(name, "caddy_redirect_uri_policy_") {
				for k := range s.series(name) {
					out[name+k] = true
				}
			}
		}
		return out
	}
	fixed, now := moduleSeries(before), moduleSeries(after)
	for k := range fixed {
		if !now[k] {
			t.Errorf("series %s is gone", k)
		}
	}
	if limit := len(fixed) + caddymodule.DefaultClientSeries + len(clientClasses); len(now) > limit {
		t.Errorf("%d module series after the spray, want at most %d (%d fixed + cap %d + %d _other)",
			len(now), limit, len(fixed), caddymodule.DefaultClientSeries, len(clientClasses))
	}
	if len(before.series(mClientRejections)) != 0 {
		t.Errorf("client series before the spray: %v", before.series(mClientRejections))
	}
	named := map[string]bool{}
	var counted, other float64
	var namedSeries, otherSeries int
	values := after.series(mClientRejections)
	for _, l := range after.labelSets(mClientRejections) {
		v := values[l.key()]
		counted += v
		switch {
		case l["policy"] != "spray" || !validClass(l["class"]):
			t.Errorf("unexpected series %v", l)
		case l["client_id"] == otherClient:
			other += v
			otherSeries++
		default:
			named[l["client_id"]] = true
			namedSeries++
		}
	}
	if namedSeries != caddymodule.DefaultClientSeries || otherSeries > len(clientClasses) {
		t.Errorf("%d series of named clients and %d of _other: want the cap (%d) and at most %d",
			namedSeries, otherSeries, caddymodule.DefaultClientSeries, len(clientClasses))
	}
	if counted != total || other == 0 {
		t.Errorf("client series count %v rejections (%v as _other), want all %d", counted, other, total)
	}
	var rejected float64
	for k, v := range before.deltas(after, mDecisions, labels{"policy": "spray", "decision": "rejected"}) {
		rejected += v
		if strings.Contains(k, "unknown_client") {
			t.Errorf("%s changed by %v during the spray of registered clients", k, v)
		}
	}
	if rejected != total {
		t.Errorf("decisions_total counted %v rejections, want %d", rejected, total)
	}
	for _, r := range []string{"client_disabled", "no_registered_redirect_uris", "redirect_uri_not_registered", "malformed_redirect_uri",
		"disallowed_scheme", "userinfo_in_redirect_uri", "fragment_in_redirect_uri", "path_traversal", "insecure_scheme", "loopback_not_allowed"} {
		k := labels{"policy": "spray", "environment": "production", "decision": "rejected", "reason": r}
		if d, _ := after.value(mDecisions, k); d == 0 {
			t.Errorf("reason %s never occurred: the spray must give every reason a client can have", r)
		}
	}

	if len(after.raw) >= maxScrape {
		t.Errorf("/metrics is %d bytes, want under %d", len(after.raw), maxScrape)
	}
	if growth := rssAfter - rssBefore; growth >= maxGrowth {
		t.Errorf("Caddy's resident memory grew by %d kB, want under %d kB", growth>>10, maxGrowth>>10)
	}

	// The log names a client counted under _other, with the full reason.
	var hidden string
	for i := nClients - 1; i >= 0 && hidden == ""; i-- {
		if id := clients[i].ClientID; !named[id] && i%10 > 1 {
			hidden = id
		}
	}
	if hidden == "" {
		t.Fatal("every client has a series of its own")
	}
	if !logHas(t, logPath, `"client_id":"`+hidden+`"`, `"reason":"redirect_uri_not_registered"`) {
		t.Errorf("no rejection log line names %s, a client counted as _other", hidden)
	}
}

func validClass(s string) bool {
	for _, c := range clientClasses {
		if s == c {
			return true
		}
	}
	return false
}

// runCaddy starts the binary on a Caddyfile, its output in a log file, and
// stops it (by its process id) when the test ends.
func runCaddy(t *testing.T, bin, dir, cfg string) (pid int, logPath string) {
	t.Helper()
	logPath = filepath.Join(dir, "caddy.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", cfg, "--adapter", "caddyfile")
	cmd.Env = caddybin.Env(dir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return cmd.Process.Pid, logPath
}

// vmRSS returns a process's resident set size in bytes.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// logHas reports whether one line of the log contains every one of subs.
func logHas(t *testing.T, path string, subs ...string) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
scan:
	for sc.Scan() {
		for _, s := range subs {
			if !strings.Contains(sc.Text(), s) {
				continue scan
			}
		}
		return true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return false
}
