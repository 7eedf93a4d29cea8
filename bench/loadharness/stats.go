package main

import (
	"math"
	"sort"
)

// Median returns the median of xs (the mean of the middle two for an even
// count), or NaN for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// finite returns x, or 0 for NaN and infinities (JSON has no NaN).
func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}

// MinMax returns the smallest and largest of xs (NaN, NaN for none).
func MinMax(xs []float64) (float64, float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	lo, hi := xs[0], xs[0]
	for _, x := range xs[1:] {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

// Run is one measurement of one config in one round.
type Run struct {
	Round    int     `json:"round"`
	Requests int64   `json:"requests"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
	P50us    float64 `json:"p50_us"`
	P90us    float64 `json:"p90_us"`
	P99us    float64 `json:"p99_us"`
	P999us   float64 `json:"p999_us"`
	MaxUs    float64 `json:"max_us"`
	// Errors counts socket errors, time-outs, and responses with another
	// status or body than the config expects.
	Errors      int64 `json:"errors"`
	WrongStatus int64 `json:"wrong_status"`
	SocketErrs  int64 `json:"socket_errors"`
	// Reload configs: renames done, and reloads Caddy reported.
	Renames        int  `json:"renames,omitempty"`
	ReloadsOK      int  `json:"reloads_success,omitempty"`
	ReloadsFailed  int  `json:"reloads_failure,omitempty"`
	ReloadsCounted bool `json:"reloads_counted,omitempty"`
	// OtherCorePct is the CPU that other processes of the machine used
	// during the measurement, in percent of one core; Retries how many
	// earlier attempts were dropped because it was too high.
	OtherCorePct float64 `json:"other_core_pct"`
	// LoadGenCorePct is the CPU wrk used, in percent of its core: well
	// under 100 shows that the load generator was not the bottleneck.
	LoadGenCorePct float64 `json:"loadgen_core_pct"`
	Retries        int     `json:"retries,omitempty"`
}

// Summary aggregates the runs of one config.
type Summary struct {
	Config
	Runs     []Run   `json:"runs"`
	RPS      float64 `json:"median_rps"`
	RPSMin   float64 `json:"min_rps"`
	RPSMax   float64 `json:"max_rps"`
	P50us    float64 `json:"median_p50_us"`
	P99us    float64 `json:"median_p99_us"`
	Errors   int64   `json:"errors"`
	Requests int64   `json:"requests"`
	// VsProxy and VsBaseline compare throughput round by round with the
	// proxy config and with the config's own baseline; P99VsBaseline the
	// p99 latency.
	VsProxy       *Ratio `json:"vs_proxy,omitempty"`
	VsBaseline    *Ratio `json:"vs_baseline,omitempty"`
	P99VsBaseline *Ratio `json:"p99_vs_baseline,omitempty"`
}

// Ratio is a comparison of two configs over the rounds both ran in.
type Ratio struct {
	Of       string    `json:"of"`
	PerRound []float64 `json:"per_round"`
	Rounds   []int     `json:"rounds"`
	Median   float64   `json:"median"`
	Min      float64   `json:"min"`
	Max      float64   `json:"max"`
}

// RoundRatios compares a and b round by round: value(a)/value(b) for every
// round in which both have a run.
func RoundRatios(a, b []Run, of string, value func(Run) float64) *Ratio {
	byRound := map[int]Run{}
	for _, r := range b {
		byRound[r.Round] = r
	}
	rt := &Ratio{Of: of}
	for _, r := range a {
		if o, ok := byRound[r.Round]; ok && value(o) > 0 {
			rt.PerRound = append(rt.PerRound, value(r)/value(o))
			rt.Rounds = append(rt.Rounds, r.Round)
		}
	}
	if len(rt.PerRound) == 0 {
		return nil
	}
	rt.Median = Median(rt.PerRound)
	rt.Min, rt.Max = MinMax(rt.PerRound)
	return rt
}

func rps(r Run) float64 { return r.RPS }
func p99(r Run) float64 { return r.P99us }

// Summarize aggregates the runs of every config and compares each with
// the proxy config and with its baseline, round by round.
func Summarize(cs []Config, runs map[string][]Run) []Summary {
	out := make([]Summary, 0, len(cs))
	for _, c := range cs {
		rs := runs[c.Name]
		s := Summary{Config: c, Runs: rs}
		var t, p50s, p99s []float64
		for _, r := range rs {
			t = append(t, r.RPS)
			p50s = append(p50s, r.P50us)
			p99s = append(p99s, r.P99us)
			s.Errors += r.Errors
			s.Requests += r.Requests
		}
		lo, hi := MinMax(t)
		s.RPS, s.RPSMin, s.RPSMax = finite(Median(t)), finite(lo), finite(hi)
		s.P50us, s.P99us = finite(Median(p50s)), finite(Median(p99s))
		if c.Name != "proxy" {
			s.VsProxy = RoundRatios(rs, runs["proxy"], "proxy", rps)
		}
		if c.Baseline != "" {
			s.VsBaseline = RoundRatios(rs, runs[c.Baseline], c.Baseline, rps)
			s.P99VsBaseline = RoundRatios(rs, runs[c.Baseline], c.Baseline, p99)
		}
		out = append(out, s)
	}
	return out
}

// Find returns the summary of the named config.
func Find(ss []Summary, name string) *Summary {
	for i := range ss {
		if ss[i].Name == name {
			return &ss[i]
		}
	}
	return nil
}

// P99Step reports whether latency stepped up: the median per-round p99
// ratio over the baseline above 1+tolerance.
func P99Step(r *Ratio, tolerance float64) bool {
	return r != nil && r.Median > 1+tolerance
}
