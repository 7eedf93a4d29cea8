package main

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{10, 10, 1, 10, 10}, 10},
	} {
		in := append([]float64(nil), tc.in...)
		if got := Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Fatalf("Median sorted its argument: %v", tc.in)
			}
		}
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("Median(nil) is not NaN")
	}
	if lo, hi := MinMax([]float64{3, 1, 2}); lo != 1 || hi != 3 {
		t.Errorf("MinMax = %v, %v", lo, hi)
	}
}

func TestRoundRatios(t *testing.T) {
	a := []Run{{Round: 0, RPS: 99}, {Round: 1, RPS: 200}, {Round: 2, RPS: 97}, {Round: 4, RPS: 50}}
	b := []Run{{Round: 0, RPS: 100}, {Round: 1, RPS: 200}, {Round: 2, RPS: 100}, {Round: 3, RPS: 100}}
	r := RoundRatios(a, b, "b", rps)
	if r == nil {
		t.Fatal("nil ratio")
	}
	// Round 4 has no partner, round 3 no run of a.
	if !equalInts(r.Rounds, []int{0, 1, 2}) {
		t.Errorf("rounds %v", r.Rounds)
	}
	if r.Median != 0.99 || r.Min != 0.97 || r.Max != 1 {
		t.Errorf("ratio %+v", r)
	}
	if RoundRatios(a, nil, "none", rps) != nil {
		t.Error("a ratio with no common round")
	}
	if RoundRatios(a, []Run{{Round: 0, RPS: 0}}, "zero", rps) != nil {
		t.Error("a ratio over zero")
	}
}

func TestSummarize(t *testing.T) {
	cs := []Config{{Name: "proxy"}, {Name: "module", Baseline: "proxy"}, {Name: "big", Baseline: "module"}}
	runs := map[string][]Run{
		"proxy":  {{Round: 0, RPS: 100, P50us: 1000, P99us: 4000}, {Round: 1, RPS: 110, P50us: 1100, P99us: 4400}, {Round: 2, RPS: 90, P50us: 900, P99us: 3600}},
		"module": {{Round: 0, RPS: 99, P99us: 4000}, {Round: 1, RPS: 107.8, P99us: 4840, Errors: 2, Requests: 10}, {Round: 2, RPS: 89.1, P99us: 3600, Requests: 5}},
		"big":    {{Round: 1, RPS: 107.8, P99us: 4840}},
	}
	ss := Summarize(cs, runs)
	p, m, big := Find(ss, "proxy"), Find(ss, "module"), Find(ss, "big")
	if p.RPS != 100 || p.RPSMin != 90 || p.RPSMax != 110 || p.P50us != 1000 || p.P99us != 4000 {
		t.Errorf("proxy summary %+v", p)
	}
	if p.VsProxy != nil || p.VsBaseline != nil {
		t.Error("proxy compared with itself")
	}
	if m.Errors != 2 || m.Requests != 15 {
		t.Errorf("module errors %d requests %d", m.Errors, m.Requests)
	}
	if math.Abs(m.VsBaseline.Median-0.99) > 1e-9 || m.VsBaseline.Min < 0.979 || m.VsBaseline.Max > 0.991 {
		t.Errorf("module vs proxy %+v", m.VsBaseline)
	}
	if math.Abs(m.P99VsBaseline.Max-1.1) > 1e-9 || m.P99VsBaseline.Median != 1 {
		t.Errorf("module p99 vs proxy %+v", m.P99VsBaseline)
	}
	if big.VsBaseline == nil || big.VsBaseline.Median != 1 || len(big.VsBaseline.PerRound) != 1 {
		t.Errorf("big vs module %+v", big.VsBaseline)
	}
	if big.VsProxy == nil || math.Abs(big.VsProxy.Median-0.98) > 1e-9 {
		t.Errorf("big vs proxy %+v", big.VsProxy)
	}
	if P99Step(m.P99VsBaseline, 0.10) || !P99Step(&Ratio{Median: 1.2}, 0.10) || P99Step(nil, 0.1) {
		t.Error("P99Step")
	}
}

func TestParseWrk(t *testing.T) {
	out := `Running 8s test @ http://127.0.0.1:1234/oauth/authorize?x
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
WRKJSON {"requests":80000,"duration_us":8000000,"connect":0,"read":1,"write":0,"timeout":2,"status":80000,"good":79990,"bad":7,"p50_us":1500,"p90_us":2500,"p99_us":5000,"p999_us":9000,"max_us":12000}
`
	w, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	r := w.toRun(3)
	if r.Round != 3 || r.RPS != 10000 || r.Seconds != 8 || r.P50us != 1500 || r.P99us != 5000 || r.MaxUs != 12000 {
		t.Errorf("run %+v", r)
	}
	// 7 wrong answers, 3 socket errors and time-outs, 3 requests the
	// script never saw.
	if r.WrongStatus != 7 || r.SocketErrs != 3 || r.Errors != 13 {
		t.Errorf("errors %+v", r)
	}
	if _, err := parseWrk("Requests/sec: 1000\n"); err == nil {
		t.Error("no error without the summary line")
	}
	if _, err := parseWrk("WRKJSON {broken\n"); err == nil {
		t.Error("no error for a broken summary line")
	}
	if !strings.Contains(wrkScript, "function response(status") || !strings.Contains(wrkScript, "WRKJSON {") {
		t.Error("script lacks its parts")
	}
}

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
BenchmarkServeHTTP/allowed         	 1000000	       630.0 ns/op	       628.0 cpu-ns/op	      80 B/op	       2 allocs/op
BenchmarkServeHTTP/allowed         	 1000000	       650.0 ns/op	       640.0 cpu-ns/op	      80 B/op	       2 allocs/op
BenchmarkServeHTTP/allowed         	 1000000	       610.0 ns/op	       600.0 cpu-ns/op	      80 B/op	       2 allocs/op
BenchmarkAllowList/expression/uris=10-2 	  900000	      1200 ns/op	      1190 cpu-ns/op	     576 B/op	      11 allocs/op
PASS
`
	bs := parseGoBench("caddymodule", out)
	if len(bs) != 2 {
		t.Fatalf("%d benchmarks: %+v", len(bs), bs)
	}
	if b := bs[0]; b.Name != "BenchmarkServeHTTP/allowed" || b.Runs != 3 || b.NsOp != 630 || b.CPUNsOp != 628 || b.AllocsOp != 2 || b.BytesOp != 80 {
		t.Errorf("%+v", b)
	}
	if b := bs[1]; b.Name != "BenchmarkAllowList/expression/uris=10" || b.NsOp != 1200 || b.AllocsOp != 11 {
		t.Errorf("%+v", b)
	}
}

func TestReloadCountsAndFocusShare(t *testing.T) {
	m := `# TYPE caddy_redirect_uri_policy_registry_reloads_total counter
caddy_redirect_uri_policy_registry_reloads_total{policy="production",result="failure"} 2
caddy_redirect_uri_policy_registry_reloads_total{policy="production",result="success"} 41
caddy_redirect_uri_policy_registry_reloads_total{policy="other",result="success"} 1
caddy_redirect_uri_policy_decisions_total{decision="allowed"} 9
`
	if ok, failed := reloadCounts([]byte(m)); ok != 42 || failed != 2 {
		t.Errorf("reloadCounts = %d, %d", ok, failed)
	}
	if m := totalSamples.FindStringSubmatch("Type: cpu\nDuration: 12s, Total samples = 9.01s (75.08%)\n"); m == nil || m[1] != "9.01s (75.08%)" {
		t.Errorf("totalSamples: %q", m)
	}
	top := "File: caddy\nActive filters:\n   focus=x\nShowing nodes accounting for 0.21s, 2.35% of 8.93s total\n"
	if got := focusShare(top); got != 2.35 {
		t.Errorf("focusShare = %v", got)
	}
	if got := focusShare("nothing"); got != 0 {
		t.Errorf("focusShare = %v", got)
	}
}

// syntheticResults are results of a run that meets every target but the
// handler's cost share.
func syntheticResults() *Results {
	cs := testPlan()
	runs := map[string][]Run{}
	for _, c := range cs {
		for r := 0; r < 3; r++ {
			rps := 10000.0
			if c.Name == "module-list-10" && r == 1 {
				rps = 9000 // one bad round; the median ignores it
			}
			run := Run{Round: r, RPS: rps, P50us: 1500, P99us: 5000, Requests: 80000}
			if c.Reloading {
				run.Renames, run.ReloadsOK, run.ReloadsCounted = 80, 40, true
			}
			runs[c.Name] = append(runs[c.Name], run)
		}
	}
	res := &Results{Settings: Settings{MainClients: 1000}, Configs: Summarize(cs, runs)}
	res.Visibility = []Visibility{{Clients: 100000, ReloadInterval: 100 * time.Millisecond, Target: 1100 * time.Millisecond,
		DelaysMs: []float64{700, 800, 900}, MedianMs: 800, MaxMs: 900, Pass: true}}
	res.GoBenchmarks = []GoBench{
		{Package: "caddymodule", Name: "BenchmarkServeHTTP/allowed", NsOp: 625, AllocsOp: 2},
		{Package: "bench", Name: "BenchmarkAllowList/expression/uris=10", NsOp: 1100, AllocsOp: 11},
	}
	return res
}

func TestJudge(t *testing.T) {
	res := syntheticResults()
	ts := Judge(res)
	failed := map[string]bool{}
	for _, tg := range ts {
		if !tg.Pass {
			failed[tg.Name] = true
		}
	}
	if len(failed) != 1 || !failed["(4) handler's own cost vs expression matcher's, 10 URIs"] {
		t.Errorf("failed targets: %v\n%+v", failed, ts)
	}
	if len(ts) != 16 {
		t.Errorf("%d targets: %+v", len(ts), ts)
	}
	// A p99 step at one registry size fails that size's p99 target only;
	// a slow edit fails the visibility target.
	big := Find(res.Configs, "module-clients-100k")
	big.P99VsBaseline = &Ratio{Median: 1.8, Min: 1.7, Max: 1.9}
	res.Visibility[0].DelaysMs = append(res.Visibility[0].DelaysMs, 1200)
	res.Visibility[0].MaxMs, res.Visibility[0].Pass = 1200, false
	failed = map[string]bool{}
	for _, tg := range Judge(res) {
		if !tg.Pass {
			failed[tg.Name] = true
		}
	}
	if !failed["(5) flat across registry sizes: 100k clients vs 1k, p99"] || failed["(5) flat across registry sizes: 100k clients vs 1k, throughput"] ||
		!failed["(6) edit visible, 100k clients, reload_interval 100ms"] || len(failed) != 3 {
		t.Errorf("failed targets: %v", failed)
	}
	if n := res.Visibility[0].over(); n != 1 {
		t.Errorf("over() = %d", n)
	}
	// An error anywhere fails the first target.
	res.Configs[1].Errors = 1
	if Judge(res)[0].Pass {
		t.Error("errors did not fail the run")
	}
}

func TestResultsMarshalWithoutNaN(t *testing.T) {
	res := syntheticResults()
	// Benchmarks without cpu-ns/op, a config that never ran, a
	// visibility measurement with no delay: no NaN may reach the JSON.
	res.GoBenchmarks = append(res.GoBenchmarks, parseGoBench("bench", "BenchmarkRegistryParse/clients=1000 \t 200 \t 5800000 ns/op \t 3330144 B/op \t 46732 allocs/op\n")...)
	res.Configs = append(res.Configs, Summarize([]Config{{Name: "never", Baseline: "proxy"}}, map[string][]Run{})...)
	res.Visibility = append(res.Visibility, Visibility{Clients: 1})
	res.Targets = Judge(res)
	if _, err := json.Marshal(res); err != nil {
		t.Fatalf("results do not marshal: %v", err)
	}
	if got := res.GoBenchmarks[len(res.GoBenchmarks)-1]; got.NsOp != 5800000 || got.CPUNsOp != 0 {
		t.Errorf("%+v", got)
	}
}

func TestMarkdownAndCharts(t *testing.T) {
	res := syntheticResults()
	res.Targets = Judge(res)
	md := Markdown(res)
	for _, want := range []string{
		"| 1 | reverse_proxy alone | 3 | 10,000 [10,000–10,000] |",
		"| module-list-10 / expression-10 | 1.000, 0.900, 1.000 | 1.000 |",
		"| 100k | 10,000 [10,000–10,000] |",
		"| 1 | 80 | 40 / 0 |",
		"| 100k | 0.0 MB | 100ms |",
		"| **no** |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	charts := Charts(res)
	for _, name := range []string{"throughput.svg", "registry-size.svg", "allow-list.svg", "latency-p99.svg"} {
		svg, ok := charts[name]
		if !ok {
			t.Fatalf("no %s", name)
		}
		d := xml.NewDecoder(strings.NewReader(svg))
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s is not well-formed: %v", name, err)
			}
		}
		if strings.Contains(svg, "NaN") {
			t.Errorf("%s has NaN", name)
		}
	}
	// Registry sizes in order, with the main registry among them.
	rs := charts["registry-size.svg"]
	i1, i2, i3 := strings.Index(rs, ">100 clients<"), strings.Index(rs, ">1k clients<"), strings.Index(rs, ">100k clients<")
	if i1 < 0 || i2 < i1 || i3 < i2 {
		t.Errorf("registry sizes out of order: %d %d %d", i1, i2, i3)
	}
	if got := thousands(1234567.4); got != "1,234,567" {
		t.Errorf("thousands = %s", got)
	}
	if got := niceMax(10300); got != 12000 {
		t.Errorf("niceMax = %v", got)
	}
}

func TestCPUParsing(t *testing.T) {
	busy, ok := parseBusy("cpu  1000 20 300 90000 50 7 3 10 0 0")
	// user+nice+system+irq+softirq+steal = 1000+20+300+7+3+10 ticks.
	if !ok || busy != 13400*time.Millisecond {
		t.Errorf("parseBusy = %v, %v", busy, ok)
	}
	if _, ok := parseBusy("cpu0 1 2 3"); ok {
		t.Error("parseBusy accepted a short line")
	}
	stat := "4242 (caddy run (x)) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 50 0 0 20 0 9 0 100 0 0"
	if d, ok := parseProcessCPU(stat); !ok || d != 3*time.Second {
		t.Errorf("parseProcessCPU = %v, %v", d, ok)
	}
	if _, ok := parseProcessCPU("garbage"); ok {
		t.Error("parseProcessCPU accepted garbage")
	}
	if _, ok := processCPU(1 << 30); ok {
		t.Error("processCPU of no process")
	}
}
