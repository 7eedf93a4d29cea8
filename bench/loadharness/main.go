// Command loadharness measures what the redirect_uri_policy module costs
// Caddy under load, against reverse_proxy alone and against Caddy's
// expression matcher over an inline allow-list, with registries of many
// sizes and during continuous registry reloads.
//
// It starts a tiny upstream (itself, re-executed with -upstream) and, for
// every configuration in turn, a Caddy on 127.0.0.1, both pinned to one
// core with taskset, and loads Caddy with wrk pinned to another core (the
// harness itself runs there too). Configurations alternate within every
// round, so that drift of the machine cancels out of the per-round ratios.
// It writes results.json and results.md to -out and SVG charts to -charts.
//
//	go run ./bench/loadharness                 # full run, about 11 minutes
//	go run ./bench/loadharness -quick          # smoke run, about 1 minute
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/bench"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/loopback"
)

const pinnedEnv = "LOADHARNESS_PINNED"

const defaultProfiles = "proxy,module,module-rejected,expression-1k,module-clients-100k,module-reloading"

type options struct {
	caddy       string
	duration    time.Duration
	warmup      time.Duration
	rounds      int
	slowRounds  int
	connections int
	quick       bool
	out         string
	charts      string
	serverCPU   string
	loadCPU     string
	pin         bool
	only        string
	gobench     bool
	profile     string
	visTrials   int
	maxTime     time.Duration
	mainClients int
	keep        bool
	maxOther    float64
	profileDur  time.Duration
	from        string
}

func main() {
	var o options
	upstream := flag.String("upstream", "", "internal: serve as the upstream on this address")
	upstreamLife := flag.Duration("upstream-life", time.Hour, "internal: the upstream's longest life")
	flag.StringVar(&o.caddy, "caddy", "", "Caddy binary with the module (default: go build ./cmd/caddy into a temporary directory)")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured load per configuration and round (whole seconds)")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load before each measurement")
	flag.IntVar(&o.rounds, "rounds", 7, "rounds; every configuration runs once per round")
	flag.IntVar(&o.slowRounds, "slow-rounds", 3, "rounds of the slow configurations (100k clients, reloading)")
	flag.IntVar(&o.connections, "connections", 16, "wrk connections")
	flag.BoolVar(&o.quick, "quick", false, "smoke run: 1 round of 2 s, smaller registries, fewer trials (about 1 minute)")
	flag.StringVar(&o.out, "out", "bench/results", "directory for results.json, results.md and profiles")
	flag.StringVar(&o.charts, "charts", "docs", "directory for the SVG charts")
	flag.StringVar(&o.serverCPU, "server-cpu", "0", "core for Caddy and the upstream")
	flag.StringVar(&o.loadCPU, "load-cpu", "1", "core for wrk and the harness")
	flag.BoolVar(&o.pin, "pin", true, "pin with taskset (needs 2 cores)")
	flag.StringVar(&o.only, "only", "", "run only the configurations whose names match this regexp")
	flag.BoolVar(&o.gobench, "gobench", true, "also run the Go benchmarks of the handler and the expression matcher")
	flag.StringVar(&o.profile, "profile", defaultProfiles, "configurations to profile under load in an extra, unmeasured run (empty: none)")
	flag.DurationVar(&o.profileDur, "profile-duration", 12*time.Second, "length of each CPU profile")
	flag.StringVar(&o.from, "from", "", "measure nothing: read this results.json, judge it again and rewrite the report and charts")
	flag.IntVar(&o.visTrials, "visibility-trials", 5, "registry edits timed per reload interval")
	flag.DurationVar(&o.maxTime, "max-time", 25*time.Minute, "the whole run stops after this")
	flag.IntVar(&o.mainClients, "clients", 1000, "clients of the main registry (configs 2, 3, 6)")
	flag.Float64Var(&o.maxOther, "max-other", 10, "measure a run again (twice at most) when other processes used more than this percentage of a core during it")
	flag.BoolVar(&o.keep, "keep", false, "keep the working directory (Caddyfiles, logs, registries)")
	flag.Parse()

	if *upstream != "" {
		if err := serveUpstream(*upstream, *upstreamLife); err != nil {
			fmt.Fprintln(os.Stderr, "upstream:", err)
			os.Exit(1)
		}
		return
	}
	if o.from != "" {
		if err := rerender(o); err != nil {
			fmt.Fprintln(os.Stderr, "loadharness:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "loadharness:", err)
		os.Exit(1)
	}
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

// command rebuilds the command line that was run.
func command() string {
	args := os.Args[1:]
	return strings.TrimSpace("go run ./bench/loadharness " + strings.Join(args, " "))
}

func run(o options) error {
	registrySizes := []int{100, 10000, 100000}
	listSizes := []int{10, 100, 1000}
	visClients := 100000
	if o.quick {
		o.duration, o.warmup, o.rounds, o.slowRounds = 2*time.Second, 500*time.Millisecond, 1, 1
		registrySizes = []int{100, 10000, 30000}
		o.visTrials = 2
		visClients = 30000
		if o.profile == defaultProfiles {
			o.profile = ""
		}
	}
	taskset := ""
	if o.pin {
		ts, err := exec.LookPath("taskset")
		if err != nil {
			return fmt.Errorf("taskset not found (util-linux); run with -pin=false to measure unpinned")
		}
		taskset = ts
		if n := onlineCPUs(); n < 2 {
			return fmt.Errorf("pinning needs 2 cores, this machine has %d; run with -pin=false", n)
		}
		if os.Getenv(pinnedEnv) == "" {
			// Run the harness itself on the load generator's core.
			self, err := os.Executable()
			if err != nil {
				return err
			}
			env := append(os.Environ(), pinnedEnv+"=1")
			return syscall.Exec(taskset, append([]string{"taskset", "-c", o.loadCPU, self}, os.Args[1:]...), env)
		}
	}
	wrkBin, err := findWrk()
	if err != nil {
		return err
	}
	if _, err := os.Stat("go.mod"); err != nil && o.caddy == "" {
		return fmt.Errorf("run from the repository root (or give -caddy): %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.maxTime)
	defer cancel()

	res := &Results{Started: time.Now(), Command: command()}
	res.Settings = Settings{Duration: o.duration.String(), Warmup: o.warmup.String(), Rounds: o.rounds, SlowRounds: o.slowRounds,
		Connections: o.connections, Threads: 1, ServerCPU: o.serverCPU, LoadCPU: o.loadCPU, Pinned: o.pin, Quick: o.quick,
		MainClients: o.mainClients}
	if o.profile != "" {
		res.Settings.ProfileDuration = o.profileDur.String()
	}

	work, err := os.MkdirTemp("", "loadharness-")
	if err != nil {
		return err
	}
	if o.keep {
		logf("working directory %s (kept)", work)
	} else {
		defer os.RemoveAll(work)
	}
	for _, d := range []string{o.out, o.charts} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}

	caddyBin := o.caddy
	if caddyBin == "" {
		caddyBin = filepath.Join(work, "caddy")
		logf("building ./cmd/caddy")
		bctx, bcancel := context.WithTimeout(ctx, 15*time.Minute)
		out, err := exec.CommandContext(bctx, "go", "build", "-o", caddyBin, "./cmd/caddy").CombinedOutput()
		bcancel()
		if err != nil {
			return fmt.Errorf("go build ./cmd/caddy: %v\n%s", err, out)
		}
	} else if caddyBin, err = filepath.Abs(caddyBin); err != nil {
		return err
	}
	if out, err := exec.Command(caddyBin, "list-modules").Output(); err != nil || !strings.Contains(string(out), "http.handlers.redirect_uri_policy") {
		return fmt.Errorf("%s has no redirect_uri_policy module (%v)", caddyBin, err)
	}
	res.Machine = machine(caddyBin, wrkBin)
	logf("machine: %d cores, %s, %s, Caddy %s, %s", res.Machine.NProc, res.Machine.CPUModel, res.Machine.GoVersion,
		shortVersion(res.Machine.CaddyVersion), res.Machine.WrkVersion)

	if o.gobench {
		bt, cnt := "1s", 3
		if o.quick {
			bt, cnt = "200ms", 1
		}
		gb, raw, err := runGoBenchmarks(ctx, work, taskset, o.serverCPU, bt, cnt, logf)
		os.WriteFile(filepath.Join(o.out, "gobench.txt"), []byte(raw), 0o644)
		if err != nil {
			return err
		}
		res.GoBenchmarks = gb
	}

	wrk := &Wrk{Bin: wrkBin, Taskset: taskset, CPU: o.loadCPU, Connections: o.connections, Threads: 1}
	if err := wrk.writeScript(work); err != nil {
		return err
	}
	up, err := startUpstream(taskset, o.serverCPU, o.maxTime+5*time.Minute)
	if err != nil {
		return err
	}
	defer up.Stop()

	plan := Plan(o.mainClients, registrySizes, listSizes, 100000)
	if o.only != "" {
		re, err := regexp.Compile(o.only)
		if err != nil {
			return fmt.Errorf("-only: %v", err)
		}
		var kept []Config
		for _, c := range plan {
			if re.MatchString(c.Name) || c.Name == "proxy" || c.Name == "module" {
				kept = append(kept, c)
			}
		}
		plan = kept
	}
	h := &harness{o: o, work: work, caddy: caddyBin, taskset: taskset, wrk: wrk, upstream: up.Addr, upstreamPID: up.Pid(), registries: map[string]string{}}
	schedule := Schedule(plan, o.rounds, o.slowRounds)
	total := 0
	for _, r := range schedule {
		total += len(r)
	}
	runs := map[string][]Run{}
	done := 0
	begin := time.Now()
	for round, cs := range schedule {
		for _, c := range cs {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("stopped: %v", err)
			}
			r, err := h.measure(ctx, c, round)
			for retry := 1; err == nil && r.OtherCorePct > o.maxOther && retry <= 2; retry++ {
				logf("round %d %s: other processes used %.0f%% of a core during the measurement; measuring again", round+1, c.Name, r.OtherCorePct)
				r, err = h.measure(ctx, c, round)
				r.Retries = retry
			}
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", round+1, c.Name, err)
			}
			runs[c.Name] = append(runs[c.Name], r)
			done++
			eta := time.Duration(float64(time.Since(begin)) / float64(done) * float64(total-done))
			logf("round %d/%d %-22s %9s req/s  p50 %6s ms  p99 %6s ms  errors %d  wrk %3.0f%%  other %4.1f%%%s  [%d/%d, about %s left]",
				round+1, o.rounds, c.Name, thousands(r.RPS), ms(r.P50us), ms(r.P99us), r.Errors, r.LoadGenCorePct, r.OtherCorePct, reloadNote(r),
				done, total, eta.Round(time.Second))
		}
	}
	res.Configs = Summarize(plan, runs)
	// Write what the rounds measured at once: the phases below add to it.
	save := func() error {
		res.Finished = time.Now()
		res.Targets = Judge(res)
		return writeResults(res, o.out, o.charts)
	}
	if err := save(); err != nil {
		return err
	}

	if o.profile != "" {
		for _, name := range strings.Split(o.profile, ",") {
			var c *Config
			for i := range plan {
				if plan[i].Name == name {
					c = &plan[i]
				}
			}
			if c == nil || ctx.Err() != nil {
				continue
			}
			p, err := h.profile(ctx, *c, o.out)
			if err != nil {
				res.Problems = append(res.Problems, fmt.Sprintf("profiling %s: %v", name, err))
				logf("profiling %s failed: %v", name, err)
				continue
			}
			logf("profile %s: %s takes %.1f%% of Caddy's CPU, GC %.1f%%, registry loader %.1f%%", name, p.Focus, p.SharePct, p.GCPct, p.LoaderPct)
			res.Profiles = append(res.Profiles, p)
		}
		if err := save(); err != nil {
			return err
		}
	}

	if o.only == "" || regexp.MustCompile(o.only).MatchString("visibility") {
		for _, interval := range []time.Duration{100 * time.Millisecond, time.Second} {
			if ctx.Err() != nil {
				break
			}
			v, err := h.visibility(ctx, visClients, interval, o.visTrials)
			if err != nil {
				res.Problems = append(res.Problems, fmt.Sprintf("visibility, reload_interval %s: %v", interval, err))
				logf("visibility with reload_interval %s failed: %v", interval, err)
				continue
			}
			logf("edit visible with %s clients, reload_interval %s: median %.0f ms, max %.0f ms (target %s)",
				count(v.Clients), interval, v.MedianMs, v.MaxMs, v.Target)
			res.Visibility = append(res.Visibility, v)
		}
	}

	if err := save(); err != nil {
		return err
	}
	fmt.Println(Markdown(res))
	logf("done in %s; results in %s, charts in %s", res.Finished.Sub(res.Started).Round(time.Second), o.out, o.charts)
	if len(res.Problems) > 0 {
		return fmt.Errorf("%d problem(s): %s", len(res.Problems), strings.Join(res.Problems, "; "))
	}
	return nil
}

// rerender reads a results.json, judges it again and rewrites the report
// and the charts: for changes of the report, without measuring again.
func rerender(o options) error {
	data, err := os.ReadFile(o.from)
	if err != nil {
		return err
	}
	var res Results
	if err := json.Unmarshal(data, &res); err != nil {
		return fmt.Errorf("%s: %v", o.from, err)
	}
	res.Targets = Judge(&res)
	for _, d := range []string{o.out, o.charts} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := writeResults(&res, o.out, o.charts); err != nil {
		return err
	}
	fmt.Println(Markdown(&res))
	return nil
}

func reloadNote(r Run) string {
	if !r.ReloadsCounted {
		return ""
	}
	return fmt.Sprintf("  renames %d reloads %d failed %d", r.Renames, r.ReloadsOK, r.ReloadsFailed)
}

// writeResults writes results.json, results.md and the charts.
func writeResults(res *Results, out, charts string) error {
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "results.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "results.md"), []byte(Markdown(res)), 0o644); err != nil {
		return err
	}
	for name, svg := range Charts(res) {
		if err := os.WriteFile(filepath.Join(charts, name), []byte(svg), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// harness runs Caddy configurations.
type harness struct {
	o           options
	work        string
	caddy       string
	taskset     string
	wrk         *Wrk
	upstream    string
	upstreamPID int
	registries  map[string]string // registry content key -> file
	seq         int
}

// prepareRegistry returns the registry file a configuration runs with, if
// any. A reloading configuration gets a file of its own, named
// reloadingName, holding the first of the two contents that the rewriter
// alternates, which it also returns.
func (h *harness) prepareRegistry(c Config, reloadingName string) (string, [][]byte, error) {
	if c.Kind != KindModule {
		return "", nil, nil
	}
	if !c.Reloading {
		f, err := h.registryFile(c)
		return f, nil, err
	}
	contents := [][]byte{Registry(c, 0), Registry(c, 1)}
	f := filepath.Join(h.work, reloadingName)
	if err := os.WriteFile(f, contents[0], 0o644); err != nil {
		return "", nil, err
	}
	return f, contents, nil
}

// registryFile returns the (shared, read-only) registry file of c.
func (h *harness) registryFile(c Config) (string, error) {
	key := fmt.Sprintf("clients-%d-list-%d", c.Clients, c.ListURIs)
	if f, ok := h.registries[key]; ok {
		return f, nil
	}
	dir := filepath.Join(h.work, "registries")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	f := filepath.Join(dir, key+".json")
	if err := os.WriteFile(f, Registry(c, 0), 0o644); err != nil {
		return "", err
	}
	h.registries[key] = f
	return f, nil
}

// start starts a Caddy for c and waits until it answers as c expects.
func (h *harness) start(c Config, registry string) (*Caddy, time.Duration, error) {
	h.seq++
	dir := filepath.Join(h.work, fmt.Sprintf("run-%03d-%s", h.seq, c.Name))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, 0, err
	}
	ports, err := loopback.FreePorts(2)
	if err != nil {
		return nil, 0, err
	}
	port, admin := ports[0], ports[1]
	cf := Caddyfile(c, CaddyfileParams{Port: port, AdminPort: admin, Upstream: h.upstream, Registry: registry})
	t0 := time.Now()
	cd, err := startCaddy(h.caddy, h.taskset, h.o.serverCPU, dir, cf, port, admin)
	if err != nil {
		return nil, 0, err
	}
	if err := cd.WaitReady(c.Target, c.ExpectStatus, 3*time.Minute); err != nil {
		cd.Stop()
		return nil, 0, err
	}
	return cd, time.Since(t0), nil
}

// finish stops Caddy and removes its directory (logs of rejections grow
// large), unless the run failed or -keep is set.
func (h *harness) finish(cd *Caddy, failed bool) {
	cd.Stop()
	if !failed && !h.o.keep {
		os.RemoveAll(cd.Dir)
	}
}

// measure runs one configuration once: Caddy started fresh, warmed up,
// then loaded for the measured duration.
func (h *harness) measure(ctx context.Context, c Config, round int) (Run, error) {
	registry, contents, err := h.prepareRegistry(c, fmt.Sprintf("reloading-%d.json", round))
	if err != nil {
		return Run{}, err
	}
	cd, _, err := h.start(c, registry)
	if err != nil {
		return Run{}, err
	}
	failed := true
	defer func() { h.finish(cd, failed) }()

	var renames atomic.Int64
	var rewriteErr error
	stopRewriter := func() {}
	if c.Reloading {
		rctx, rcancel := context.WithCancel(ctx)
		rewriterDone := make(chan struct{})
		go func() {
			rewriteErr = rewriter(rctx, registry, contents, 100*time.Millisecond, uint64(round+1), &renames)
			close(rewriterDone)
		}()
		stopRewriter = func() { rcancel(); <-rewriterDone }
	}
	defer func() { stopRewriter() }()

	url := cd.URL(c.Target)
	if h.o.warmup > 0 {
		if _, _, err := h.wrk.Run(ctx, url, h.o.warmup, c); err != nil {
			return Run{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	var okBefore, failedBefore int
	var renamesBefore int64
	if c.Reloading {
		m, err := cd.Admin("/metrics", 10*time.Second)
		if err != nil {
			return Run{}, err
		}
		okBefore, failedBefore = reloadCounts(m)
		renamesBefore = renames.Load()
	}
	meter := startCPUMeter(cd.Pid(), h.upstreamPID, os.Getpid())
	wr, wrkCPU, err := h.wrk.Run(ctx, url, h.o.duration, c)
	if err != nil {
		return Run{}, err
	}
	r := wr.toRun(round)
	r.OtherCorePct, _ = meter.OtherCorePct(wrkCPU)
	if r.Seconds > 0 {
		r.LoadGenCorePct = 100 * wrkCPU.Seconds() / r.Seconds
	}
	if c.Reloading {
		// Count the renames and reloads of the measured period only.
		renamesDuring := renames.Load() - renamesBefore
		m, err := cd.Admin("/metrics", 10*time.Second)
		stopRewriter()
		stopRewriter = func() {}
		if err != nil {
			return Run{}, err
		}
		if rewriteErr != nil {
			return Run{}, fmt.Errorf("rewriting the registry: %w", rewriteErr)
		}
		okAfter, failedAfter := reloadCounts(m)
		r.Renames, r.ReloadsOK, r.ReloadsFailed, r.ReloadsCounted = int(renamesDuring), okAfter-okBefore, failedAfter-failedBefore, true
	}
	failed = r.Errors > 0
	return r, nil
}

// profile runs c once more, unmeasured, and takes a CPU profile of Caddy
// from its admin endpoint while wrk loads it (and, for a reloading config,
// while the registry is rewritten).
func (h *harness) profile(ctx context.Context, c Config, out string) (Profile, error) {
	registry, contents, err := h.prepareRegistry(c, "reloading-profile.json")
	if err != nil {
		return Profile{}, err
	}
	cd, _, err := h.start(c, registry)
	if err != nil {
		return Profile{}, err
	}
	defer h.finish(cd, false)
	if c.Reloading {
		rctx, rcancel := context.WithCancel(ctx)
		done := make(chan struct{})
		var n atomic.Int64
		go func() { rewriter(rctx, registry, contents, 100*time.Millisecond, 99, &n); close(done) }()
		defer func() { rcancel(); <-done }()
	}
	url := cd.URL(c.Target)
	if _, _, err := h.wrk.Run(ctx, url, h.o.warmup, c); err != nil {
		return Profile{}, err
	}
	secs := int(h.o.profileDur / time.Second)
	if secs < 1 {
		secs = 1
	}
	type result struct {
		data []byte
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		d, err := cd.Admin("/debug/pprof/profile?seconds="+strconv.Itoa(secs), time.Duration(secs+30)*time.Second)
		ch <- result{d, err}
	}()
	// Load for a second longer than the profile on both sides.
	if _, _, err := h.wrk.Run(ctx, url, time.Duration(secs+2)*time.Second, c); err != nil {
		return Profile{}, err
	}
	pr := <-ch
	if pr.err != nil {
		return Profile{}, pr.err
	}
	file := filepath.Join(out, "caddy-"+c.Name+".pprof")
	if err := os.WriteFile(file, pr.data, 0o644); err != nil {
		return Profile{}, err
	}
	p := Profile{Config: c.Name, File: file}
	pprof := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, "go", append(append([]string{"tool", "pprof"}, args...), h.caddy, file)...).Output()
		if err != nil {
			return "", fmt.Errorf("go tool pprof %v: %v", args, err)
		}
		return string(out), nil
	}
	if p.Top, err = pprof("-top", "-nodecount=25"); err != nil {
		return p, err
	}
	if m := totalSamples.FindStringSubmatch(p.Top); m != nil {
		p.Samples = m[1]
	}
	switch c.Kind {
	case KindModule:
		p.Focus = `caddymodule\.\(\*Handler\)\.ServeHTTP`
	case KindExpression:
		p.Focus = `MatchExpression`
	}
	text := p.Top
	if p.Focus != "" {
		if p.FocusTop, err = pprof("-top", "-nodefraction=0", "-edgefraction=0", "-nodecount=30", "-focus="+p.Focus, "-ignore=reverseproxy"); err != nil {
			return p, err
		}
		p.SharePct = focusShare(p.FocusTop)
		text += "\n-- focus " + p.Focus + " (upstream call ignored)\n" + p.FocusTop
	}
	gc, err := pprof("-top", "-nodecount=10", "-focus="+gcFrames)
	if err != nil {
		return p, err
	}
	p.GCPct = focusShare(gc)
	text += "\n-- focus " + gcFrames + "\n" + gc
	if c.Kind == KindModule {
		lt, err := pprof("-top", "-nodecount=20", "-focus="+loaderFrames)
		if err != nil {
			return p, err
		}
		p.LoaderPct = focusShare(lt)
		text += "\n-- focus " + loaderFrames + "\n" + lt
	}
	os.WriteFile(filepath.Join(out, "caddy-"+c.Name+".top.txt"), []byte(text), 0o644)
	return p, nil
}

// The frames of the garbage collector's work (background marking and the
// marking that allocating goroutines are made to assist with), and of the
// registry loader's polling and reloading.
const (
	gcFrames     = `runtime\.gcBgMarkWorker|runtime\.gcAssistAlloc`
	loaderFrames = `registry\.\(\*Loader\)\.(poll|check)`
)

var totalSamples = regexp.MustCompile(`Duration: [^,]+, Total samples = ([^\n]+)`)

var focusTotal = regexp.MustCompile(`Showing nodes accounting for [^,]+, ([0-9.]+)% of`)

// focusShare reads the share of the focused samples from pprof's header.
func focusShare(top string) float64 {
	m := focusTotal.FindStringSubmatch(top)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// visibility starts Caddy with a registry of n clients and measures how
// soon an added client is allowed.
func (h *harness) visibility(ctx context.Context, n int, interval time.Duration, trials int) (Visibility, error) {
	c := Config{Name: "visibility", Kind: KindModule, Clients: n, ReloadInterval: interval,
		Target: bench.AuthorizeTarget(bench.BenchClientID, bench.BenchCallback), ExpectStatus: 200}
	base := bench.Clients(n, 1)
	data := bench.RegistryJSON(base)
	file := filepath.Join(h.work, fmt.Sprintf("visibility-%s.json", interval))
	if err := os.WriteFile(file, data, 0o644); err != nil {
		return Visibility{}, err
	}
	v := Visibility{Clients: n, ReloadInterval: interval, Target: interval + time.Second, FileMB: float64(len(data)) / 1e6}
	cd, startup, err := h.start(c, file)
	if err != nil {
		return v, err
	}
	defer h.finish(cd, false)
	v.StartupSeconds = startup.Seconds()
	if err := ctx.Err(); err != nil {
		return v, err
	}
	delays, failures, err := measureVisibility(cd, file, base, trials, interval+10*time.Second, 2*time.Millisecond)
	if err != nil {
		return v, err
	}
	v.DelaysMs, v.Failures = delays, failures
	_, hi := MinMax(delays)
	v.MedianMs, v.MaxMs = finite(Median(delays)), finite(hi)
	v.Pass = failures == 0 && len(delays) > 0 && v.MaxMs <= float64(v.Target/time.Millisecond)
	return v, nil
}

// machine describes this machine.
func machine(caddyBin, wrkBin string) Machine {
	m := Machine{NProc: onlineCPUs(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.Fields(rest)[0], 64)
				m.MemTotal = fmt.Sprintf("%.1f GiB", kb/(1<<20))
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		m.GoVersion = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command(caddyBin, "version").Output(); err == nil {
		m.CaddyVersion = strings.TrimSpace(string(out))
	}
	out, _ := exec.Command(wrkBin, "-v").CombinedOutput()
	if line, _, _ := strings.Cut(string(out), "\n"); line != "" {
		m.WrkVersion = strings.TrimSpace(strings.SplitN(line, "Copyright", 2)[0])
	}
	return m
}

// onlineCPUs counts the machine's processors (not only those this process
// may run on, which pinning restricts).
func onlineCPUs() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.NumCPU()
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "processor") {
			n++
		}
	}
	if n == 0 {
		return runtime.NumCPU()
	}
	return n
}
