package main

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Results is everything a run measured; it is written as results.json.
type Results struct {
	Started      time.Time    `json:"started"`
	Finished     time.Time    `json:"finished"`
	Command      string       `json:"command"`
	Machine      Machine      `json:"machine"`
	Settings     Settings     `json:"settings"`
	Configs      []Summary    `json:"configs"`
	Visibility   []Visibility `json:"visibility,omitempty"`
	GoBenchmarks []GoBench    `json:"go_benchmarks,omitempty"`
	Profiles     []Profile    `json:"profiles,omitempty"`
	Targets      []Target     `json:"targets"`
	// Problems are the phases after the rounds that failed.
	Problems []string `json:"problems,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	NProc        int    `json:"nproc"`
	CPUModel     string `json:"cpu_model"`
	MemTotal     string `json:"mem_total"`
	Kernel       string `json:"kernel"`
	GoVersion    string `json:"go_version"`
	CaddyVersion string `json:"caddy_version"`
	WrkVersion   string `json:"wrk_version"`
}

// Settings are the run's parameters.
type Settings struct {
	Duration    string `json:"duration"`
	Warmup      string `json:"warmup"`
	Rounds      int    `json:"rounds"`
	SlowRounds  int    `json:"slow_rounds"`
	Connections int    `json:"connections"`
	Threads     int    `json:"wrk_threads"`
	ServerCPU   string `json:"server_cpu"`
	LoadCPU     string `json:"load_cpu"`
	Pinned      bool   `json:"pinned"`
	Quick       bool   `json:"quick"`
	MainClients int    `json:"main_clients"`
	// ProfileDuration is the length of each CPU profile.
	ProfileDuration string `json:"profile_duration,omitempty"`
}

// Profile is a CPU profile of Caddy taken under load in an extra,
// unmeasured run.
type Profile struct {
	Config string `json:"config"`
	File   string `json:"file"`
	// Focus names the frames whose samples are the cost under study (the
	// module's handler, less the upstream it calls; the expression
	// matcher), and SharePct their share of all of Caddy's CPU samples.
	Focus    string  `json:"focus,omitempty"`
	SharePct float64 `json:"share_pct"`
	// GCPct is the garbage collector's share, LoaderPct the registry
	// loader's (polling and reloading), of all of Caddy's samples.
	GCPct     float64 `json:"gc_pct"`
	LoaderPct float64 `json:"loader_pct"`
	Top       string  `json:"top"`
	// Samples is pprof's "Total samples" line: how much CPU the profile saw.
	Samples  string `json:"samples,omitempty"`
	FocusTop string `json:"focus_top,omitempty"`
}

// Target is one of the issue's targets, judged on the figures.
type Target struct {
	Name string `json:"name"`
	Want string `json:"want"`
	Got  string `json:"got"`
	Pass bool   `json:"pass"`
}

// Thresholds of the targets.
const (
	moduleVsProxyMin = 0.98 // (2) throughput at least 98% of the proxy's
	p99Tolerance     = 0.10 // a p99 more than 10% over the baseline's is a step
	flatTolerance    = 0.03 // registry sizes within 3% of the main registry
	costShareMax     = 0.25 // handler cost at most a quarter of the matcher's
)

func pct(r *Ratio) string {
	if r == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%% [%.1f–%.1f]", 100*r.Median, 100*r.Min, 100*r.Max)
}

func ms(us float64) string {
	if math.IsNaN(us) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", us/1000)
}

// Judge evaluates the targets on the results.
func Judge(res *Results) []Target {
	var ts []Target
	ss := res.Configs
	errs := int64(0)
	reqs := int64(0)
	for _, s := range ss {
		errs += s.Errors
		reqs += s.Requests
	}
	ts = append(ts, Target{Name: "no errors in any config", Want: "0 errors",
		Got: fmt.Sprintf("%d errors in %s requests", errs, thousands(float64(reqs))), Pass: errs == 0})
	if m := Find(ss, "module"); m != nil && m.VsBaseline != nil {
		ts = append(ts, Target{Name: "(2) module vs reverse_proxy alone, throughput",
			Want: fmt.Sprintf("≥ %.0f%%", 100*moduleVsProxyMin), Got: pct(m.VsBaseline),
			Pass: m.VsBaseline.Median >= moduleVsProxyMin})
		ts = append(ts, Target{Name: "(2) module vs reverse_proxy alone, p99",
			Want: fmt.Sprintf("no step (≤ +%.0f%%)", 100*p99Tolerance), Got: pct(m.P99VsBaseline),
			Pass: !P99Step(m.P99VsBaseline, p99Tolerance)})
	}
	for _, s := range ss {
		if s.Kind == KindModule && s.ListURIs > 0 && s.VsBaseline != nil {
			ts = append(ts, Target{Name: fmt.Sprintf("(4) module vs expression matcher, %s URIs", count(s.ListURIs)),
				Want: "≥ 100%", Got: pct(s.VsBaseline), Pass: s.VsBaseline.Median >= 1})
		}
	}
	if h := findGoBench(res.GoBenchmarks, "BenchmarkServeHTTP/allowed"); h != nil {
		for _, n := range []int{10, 100, 1000} {
			e := findGoBench(res.GoBenchmarks, fmt.Sprintf("BenchmarkAllowList/expression/uris=%d", n))
			if e == nil {
				continue
			}
			share := h.NsOp / e.NsOp
			ts = append(ts, Target{Name: fmt.Sprintf("(4) handler's own cost vs expression matcher's, %s URIs", count(n)),
				Want: fmt.Sprintf("≤ %.0f%%", 100*costShareMax),
				Got:  fmt.Sprintf("%.0f ns / %.0f ns = %.0f%%", h.NsOp, e.NsOp, 100*share), Pass: share <= costShareMax})
		}
	}
	for _, s := range ss {
		if s.Baseline != "module" || s.Clients == 0 || s.Reloading || s.VsBaseline == nil {
			continue
		}
		ts = append(ts, Target{Name: fmt.Sprintf("(5) flat across registry sizes: %s clients vs %s, throughput", count(s.Clients), count(res.Settings.MainClients)),
			Want: fmt.Sprintf("within ±%.0f%%", 100*flatTolerance), Got: pct(s.VsBaseline),
			Pass: math.Abs(s.VsBaseline.Median-1) <= flatTolerance})
		ts = append(ts, Target{Name: fmt.Sprintf("(5) flat across registry sizes: %s clients vs %s, p99", count(s.Clients), count(res.Settings.MainClients)),
			Want: fmt.Sprintf("no step (≤ +%.0f%%)", 100*p99Tolerance), Got: pct(s.P99VsBaseline),
			Pass: !P99Step(s.P99VsBaseline, p99Tolerance)})
	}
	if r := Find(ss, "module-reloading"); r != nil {
		failed, ok, renames := 0, 0, 0
		for _, run := range r.Runs {
			failed += run.ReloadsFailed
			ok += run.ReloadsOK
			renames += run.Renames
		}
		ts = append(ts, Target{Name: "(6) continuous reloads: errors and failed reloads", Want: "0",
			Got:  fmt.Sprintf("%d errors, %d failed reloads (%d renames, %d reloads)", r.Errors, failed, renames, ok),
			Pass: r.Errors == 0 && failed == 0 && ok > 0})
		ts = append(ts, Target{Name: "(6) continuous reloads: p99 vs no reloads",
			Want: fmt.Sprintf("no step (≤ +%.0f%%)", 100*p99Tolerance), Got: pct(r.P99VsBaseline),
			Pass: !P99Step(r.P99VsBaseline, p99Tolerance)})
	}
	for _, v := range res.Visibility {
		ts = append(ts, Target{Name: fmt.Sprintf("(6) edit visible, %s clients, reload_interval %s", count(v.Clients), v.ReloadInterval),
			Want: "≤ " + v.Target.String(),
			Got:  fmt.Sprintf("median %.0f ms, max %.0f ms; %d of %d edits over the target", v.MedianMs, v.MaxMs, v.over(), v.Failures+len(v.DelaysMs)),
			Pass: v.Pass})
	}
	return ts
}

func findGoBench(bs []GoBench, name string) *GoBench {
	for i := range bs {
		if bs[i].Name == name {
			return &bs[i]
		}
	}
	return nil
}

func perRound(r *Ratio) string {
	if r == nil {
		return "n/a"
	}
	parts := make([]string, len(r.PerRound))
	for i, v := range r.PerRound {
		parts[i] = fmt.Sprintf("%.3f", v)
	}
	return strings.Join(parts, ", ")
}

// Markdown writes the results as the tables of docs/benchmarks.md.
func Markdown(res *Results) string {
	var b strings.Builder
	ss := res.Configs
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }

	w("### Throughput and latency, every configuration\n\n")
	w("Medians over the rounds each configuration ran in; the ratios are taken round by round (this configuration's throughput over the other's in the same round), then their median [min–max]. Errors are socket errors, time-outs and responses with another status or body than expected.\n\n")
	w("| # | configuration | rounds | req/s median [min–max] | vs reverse_proxy alone | vs its baseline | p50 ms | p99 ms | errors / requests |\n")
	w("|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range ss {
		base := "—"
		if s.VsBaseline != nil && s.Baseline != "proxy" {
			base = pct(s.VsBaseline) + " of " + s.Baseline
		}
		vs := "—"
		if s.VsProxy != nil {
			vs = pct(s.VsProxy)
		}
		w("| %s | %s | %d | %s [%s–%s] | %s | %s | %s | %s | %d / %s |\n", issueNumber(s), s.Title, len(s.Runs),
			thousands(s.RPS), thousands(s.RPSMin), thousands(s.RPSMax), vs, base, ms(s.P50us), ms(s.P99us),
			s.Errors, thousands(float64(s.Requests)))
	}

	maxOther, maxWrk, retried, kept := 0.0, 0.0, 0, 0
	for _, s := range ss {
		for _, r := range s.Runs {
			maxOther, maxWrk = math.Max(maxOther, r.OtherCorePct), math.Max(maxWrk, r.LoadGenCorePct)
			retried += r.Retries
			kept++
		}
	}
	w("\n%d measurements. wrk used at most %.0f%% of its core. Other processes used at most %.1f%% of a core during any kept measurement; %d measurement(s) were repeated because they used more than the limit.\n",
		kept, maxWrk, maxOther, retried)

	w("\n### Per-round ratios\n\n")
	w("| comparison | per round (throughput) | median | per round (p99) |\n|---|---|---|---|\n")
	for _, s := range ss {
		if s.VsBaseline == nil {
			continue
		}
		w("| %s / %s | %s | %.3f | %s |\n", s.Name, s.Baseline, perRound(s.VsBaseline), s.VsBaseline.Median, perRound(s.P99VsBaseline))
	}

	w("\n### Allow-list: the module against the expression matcher\n\n")
	w("| URIs | expression req/s | module req/s | module / expression (per round) | expression p99 ms | module p99 ms | expression matcher, Go benchmark | module handler, Go benchmark |\n|---|---|---|---|---|---|---|---|\n")
	for _, p := range allowListPairs(ss) {
		s, e := p.module, p.expression
		eb := findGoBench(res.GoBenchmarks, fmt.Sprintf("BenchmarkAllowList/expression/uris=%d", s.ListURIs))
		mb := findGoBench(res.GoBenchmarks, fmt.Sprintf("BenchmarkAllowList/module/uris=%d", s.ListURIs))
		w("| %s | %s | %s | %s | %s | %s | %s | %s |\n", count(s.ListURIs), thousands(e.RPS), thousands(s.RPS), pct(s.VsBaseline),
			ms(e.P99us), ms(s.P99us), benchCell(eb), benchCell(mb))
	}

	w("\n### Registry size\n\n")
	w("| clients | req/s median [min–max] | vs %s clients (per round) | p50 ms | p99 ms | errors |\n|---|---|---|---|---|---|\n", count(res.Settings.MainClients))
	for _, s := range ss {
		if s.Kind != KindModule || s.Clients == 0 || s.Reloading || s.ExpectStatus != 200 {
			continue
		}
		vs := "(baseline)"
		if s.Name != "module" {
			vs = pct(s.VsBaseline)
		}
		w("| %s | %s [%s–%s] | %s | %s | %s | %d |\n", count(s.Clients), thousands(s.RPS), thousands(s.RPSMin), thousands(s.RPSMax),
			vs, ms(s.P50us), ms(s.P99us), s.Errors)
	}

	if r := Find(ss, "module-reloading"); r != nil {
		w("\n### Continuous reloads\n\n")
		w("| round | renames | reloads (success / failure) | req/s | p99 ms | errors |\n|---|---|---|---|---|---|\n")
		for _, run := range r.Runs {
			w("| %d | %d | %d / %d | %s | %s | %d |\n", run.Round+1, run.Renames, run.ReloadsOK, run.ReloadsFailed,
				thousands(run.RPS), ms(run.P99us), run.Errors)
		}
	}

	if len(res.Visibility) > 0 {
		w("\n### Registry edit visible to requests\n\n")
		w("| clients | file | reload_interval | Caddy start | delays (ms) | median | max | target | met |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, v := range res.Visibility {
			d := make([]string, len(v.DelaysMs))
			for i, x := range v.DelaysMs {
				d[i] = fmt.Sprintf("%.0f", x)
			}
			w("| %s | %.1f MB | %s | %.1f s | %s | %.0f ms | %.0f ms | %s | %s |\n", count(v.Clients), v.FileMB, v.ReloadInterval,
				v.StartupSeconds, strings.Join(d, ", "), v.MedianMs, v.MaxMs, v.Target, yes(v.Pass))
		}
	}

	if len(res.GoBenchmarks) > 0 {
		w("\n### Go benchmarks (own cost per request, pinned to one core)\n\n")
		w("| benchmark | ns/op | cpu-ns/op | B/op | allocs/op | runs |\n|---|---|---|---|---|---|\n")
		for _, g := range res.GoBenchmarks {
			w("| %s %s | %.0f | %.0f | %.0f | %.0f | %d |\n", g.Package, g.Name, g.NsOp, g.CPUNsOp, g.BytesOp, g.AllocsOp, g.Runs)
		}
	}

	if len(res.Profiles) > 0 {
		w("\n### Caddy under load: CPU profile shares\n\n")
		w("Shares of all of Caddy's CPU samples during a %s profile under the same load: the module's handler (without the upstream call it makes) or the expression matcher, the garbage collector (background marking and assists) and the registry loader (polling, reading, parsing).\n\n", res.Settings.ProfileDuration)
		w("| configuration | module or matcher | GC | registry loader | samples |\n|---|---|---|---|---|\n")
		for _, p := range res.Profiles {
			share := "—"
			if p.Focus != "" {
				share = fmt.Sprintf("%.1f%%", p.SharePct)
			}
			w("| %s | %s | %.1f%% | %.1f%% | %s |\n", p.Config, share, p.GCPct, p.LoaderPct, p.Samples)
		}
	}

	w("\n### Targets\n\n| target | wanted | measured | met |\n|---|---|---|---|\n")
	for _, t := range res.Targets {
		w("| %s | %s | %s | %s |\n", t.Name, t.Want, t.Got, yes(t.Pass))
	}
	return b.String()
}

func benchCell(g *GoBench) string {
	if g == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.0f ns, %.0f allocs", g.NsOp, g.AllocsOp)
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

// issueNumber is the configuration's number in issue 7.
func issueNumber(s Summary) string {
	switch {
	case s.Kind == KindProxy:
		return "1"
	case s.Reloading:
		return "6"
	case s.Kind == KindExpression || s.ListURIs > 0:
		return "4"
	case s.ExpectStatus != 200:
		return "3"
	case s.Name == "module":
		return "2"
	default:
		return "5"
	}
}

// Charts returns the SVG charts by file name.
func Charts(res *Results) map[string]string {
	ss := res.Configs
	sub := fmt.Sprintf("Caddy %s on 1 pinned core, wrk on another; median of rounds, whiskers min–max; %s", shortVersion(res.Machine.CaddyVersion), res.Machine.CPUModel)
	var bars []Bar
	for _, s := range ss {
		comment := ""
		if s.VsProxy != nil {
			comment = fmt.Sprintf("%.1f%% of proxy", 100*s.VsProxy.Median)
		}
		if s.Errors > 0 {
			comment += fmt.Sprintf(", %d errors", s.Errors)
		}
		bars = append(bars, Bar{Label: s.Title, Value: s.RPS, Lo: s.RPSMin, Hi: s.RPSMax, Color: groupColor[s.Group], Comment: comment})
	}
	out := map[string]string{
		"throughput.svg": HBarChart("Throughput per configuration (requests/s, higher is better)", sub, "requests per second", bars),
	}

	var lbars []Bar
	for _, s := range ss {
		var p99s []float64
		for _, r := range s.Runs {
			p99s = append(p99s, r.P99us/1000)
		}
		lo, hi := MinMax(p99s)
		comment := fmt.Sprintf("ms (p50 %.2f)", s.P50us/1000)
		if s.P99VsBaseline != nil && s.Baseline != "" {
			comment += fmt.Sprintf(", %+.0f%% vs %s", 100*(s.P99VsBaseline.Median-1), s.Baseline)
		}
		lbars = append(lbars, Bar{Label: s.Title, Value: s.P99us / 1000, Lo: lo, Hi: hi, Color: groupColor[s.Group], Comment: comment})
	}
	out["latency-p99.svg"] = HBarChart("p99 latency per configuration (ms, lower is better)",
		sub+"; 16 connections", "milliseconds", lbars)

	var groups []string
	var sizes Series
	sizes.Name, sizes.Color = "module, allowed requests", groupColor[GroupModule]
	for _, s := range ss {
		if s.Kind == KindModule && s.Clients > 0 && !s.Reloading && s.ExpectStatus == 200 {
			groups = append(groups, count(s.Clients)+" clients")
			sizes.Values = append(sizes.Values, s.RPS)
			sizes.Lo = append(sizes.Lo, s.RPSMin)
			sizes.Hi = append(sizes.Hi, s.RPSMax)
		}
	}
	// Order by registry size.
	order := make([]int, len(groups))
	for i := range order {
		order[i] = i
	}
	clientsOf := func(i int) int {
		n := 0
		fmt.Sscanf(strings.Replace(groups[i], "k clients", "000", 1), "%d", &n)
		return n
	}
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && clientsOf(order[j]) < clientsOf(order[j-1]); j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	sorted := Series{Name: sizes.Name, Color: sizes.Color}
	var sortedGroups []string
	for _, i := range order {
		sortedGroups = append(sortedGroups, groups[i])
		sorted.Values = append(sorted.Values, sizes.Values[i])
		sorted.Lo = append(sorted.Lo, sizes.Lo[i])
		sorted.Hi = append(sorted.Hi, sizes.Hi[i])
	}
	ref, refLabel := 0.0, ""
	if p := Find(ss, "proxy"); p != nil {
		ref, refLabel = p.RPS, fmt.Sprintf("reverse_proxy alone: %s req/s", thousands(p.RPS))
	}
	out["registry-size.svg"] = GroupedBarChart("Throughput against registry size (requests/s)", sub,
		"registry size", "requests per second", sortedGroups, []Series{sorted}, ref, refLabel)

	var lgroups []string
	expr := Series{Name: "expression matcher (inline list)", Color: groupColor[GroupExpression]}
	mod := Series{Name: "module (1 client holding the list)", Color: groupColor[GroupModule]}
	for _, p := range allowListPairs(ss) {
		s, e := p.module, p.expression
		lgroups = append(lgroups, count(s.ListURIs)+" URIs")
		expr.Values, expr.Lo, expr.Hi = append(expr.Values, e.RPS), append(expr.Lo, e.RPSMin), append(expr.Hi, e.RPSMax)
		mod.Values, mod.Lo, mod.Hi = append(mod.Values, s.RPS), append(mod.Lo, s.RPSMin), append(mod.Hi, s.RPSMax)
	}
	out["allow-list.svg"] = GroupedBarChart("Allow-list: module against the expression matcher (requests/s)", sub,
		"allow-list size", "requests per second", lgroups, []Series{expr, mod}, ref, refLabel)
	return out
}

// allowListPair is the module holding an allow-list and the expression
// matcher over the same list, its baseline.
type allowListPair struct{ module, expression *Summary }

// allowListPairs returns the allow-list measurements, in run order.
func allowListPairs(ss []Summary) []allowListPair {
	var ps []allowListPair
	for i := range ss {
		s := &ss[i]
		if s.Kind != KindModule || s.ListURIs == 0 {
			continue
		}
		if e := Find(ss, s.Baseline); e != nil {
			ps = append(ps, allowListPair{s, e})
		}
	}
	return ps
}

// shortVersion keeps the first word of `caddy version`.
func shortVersion(v string) string {
	if f := strings.Fields(v); len(f) > 0 {
		return f[0]
	}
	return v
}
