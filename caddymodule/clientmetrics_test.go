package caddymodule

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
)

func TestClientMetricsJSON(t *testing.T) {
	for _, tc := range []struct {
		json  string
		want  ClientMetrics
		limit int
		out   string // marshalled back; "" when omitted
	}{
		{`{}`, 0, DefaultClientSeries, ``},
		{`{"client_metrics": true}`, 0, DefaultClientSeries, ``},
		{`{"client_metrics": false}`, ClientMetricsOff, 0, `false`},
		{`{"client_metrics": 250}`, 250, 250, `250`},
		{`{"client_metrics": 1}`, 1, 1, `1`},
	} {
		var h Handler
		if err := json.Unmarshal([]byte(tc.json), &h); err != nil {
			t.Errorf("%s: %v", tc.json, err)
			continue
		}
		if h.ClientMetrics != tc.want || h.ClientMetrics.limit() != tc.limit {
			t.Errorf("%s: ClientMetrics %d (limit %d), want %d (limit %d)", tc.json, h.ClientMetrics, h.ClientMetrics.limit(), tc.want, tc.limit)
		}
		data, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]json.RawMessage
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		if got := string(back["client_metrics"]); got != tc.out {
			t.Errorf("%s: marshalled as %q, want %q", tc.json, got, tc.out)
		}
	}
	for _, bad := range []string{`0`, `-1`, `1.5`, `1e3`, `"off"`, `"100"`, `null`, `99999999999999999999`} {
		var h Handler
		err := json.Unmarshal([]byte(`{"client_metrics": `+bad+`}`), &h)
		if err == nil || !strings.Contains(err.Error(), "client_metrics: "+bad+" is not a positive number of series, true or false") {
			t.Errorf("client_metrics %s: error %v", bad, err)
		}
	}
}

func TestClassOf(t *testing.T) {
	want := map[policy.Reason]string{
		policy.RedirectURINotRegistered: "not_registered",
		policy.NoRegisteredRedirectURIs: "not_registered",
		policy.ClientDisabled:           "disabled",
		policy.MalformedRedirectURI:     "rule_violation",
		policy.DisallowedScheme:         "rule_violation",
		policy.UserinfoInRedirectURI:    "rule_violation",
		policy.FragmentInRedirectURI:    "rule_violation",
		policy.PathTraversal:            "rule_violation",
		policy.InsecureScheme:           "rule_violation",
		policy.LoopbackNotAllowed:       "rule_violation",
	}
	for r, w := range want {
		if got := classOf(r).String(); got != w {
			t.Errorf("classOf(%s) = %s, want %s", r, got, w)
		}
	}
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTestSeries returns a table on a collector of its own and a way to read
// the collector's series as "policy/client_id/class" -> value.
func newTestSeries(t *testing.T) (*clientSeries, *fakeClock, func() map[string]float64) {
	t.Helper()
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "test_client_rejections_total", Help: "test"}, []string{"policy", "client_id", "class"})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(vec)
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	read := func() map[string]float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				l := map[string]string{}
				for _, lp := range m.GetLabel() {
					l[lp.GetName()] = lp.GetValue()
				}
				out[l["policy"]+"/"+l["client_id"]+"/"+l["class"]] = m.GetCounter().GetValue()
			}
		}
		return out
	}
	return newClientSeries(vec, clock.now), clock, read
}

func TestClientSeriesCap(t *testing.T) {
	s, _, read := newTestSeries(t)
	// Cap 3 for policy p; another policy q has a cap of its own.
	for i := 0; i < 10; i++ {
		s.count("p", 3, fmt.Sprintf("C%d", i), classNotRegistered)
	}
	s.count("p", 3, "C1", classNotRegistered) // an existing series
	s.count("p", 3, "C1", classRuleViolation) // a new series past the cap
	s.count("p", 3, "C9", classDisabled)      // a new series past the cap
	s.count("p", 3, "C9", classDisabled)      // the same
	s.count("q", 2, "C9", classRuleViolation) // q has room
	s.count("q", 2, "_other", classDisabled)  // a client registered as _other shares the series
	s.count("q", 2, "C8", classRuleViolation) // q has room
	s.count("q", 2, "C7", classRuleViolation) // q is full
	want := map[string]float64{
		"p/C0/not_registered":     1,
		"p/C1/not_registered":     2,
		"p/C2/not_registered":     1,
		"p/_other/not_registered": 7,
		"p/_other/rule_violation": 1,
		"p/_other/disabled":       2,
		"q/C9/rule_violation":     1,
		"q/C8/rule_violation":     1,
		"q/_other/disabled":       1,
		"q/_other/rule_violation": 1,
	}
	if got := read(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("series:\n got %v\nwant %v", got, want)
	}
}

func TestClientSeriesIdle(t *testing.T) {
	s, clock, read := newTestSeries(t)
	s.count("p", 2, "OLD", classNotRegistered)
	s.count("p", 2, "RECENT", classNotRegistered)
	s.count("p", 2, "OVER", classNotRegistered) // _other
	clock.add(12 * time.Hour)
	s.count("p", 2, "RECENT", classNotRegistered)
	// Just before OLD has been idle for a day: nothing is dropped, and a
	// new client still goes to _other.
	clock.add(12*time.Hour - time.Second)
	s.count("p", 2, "NEW", classNotRegistered)
	if got := read(); len(got) != 3 || got["p/_other/not_registered"] != 2 {
		t.Fatalf("before a day of idleness: %v", got)
	}
	// A day after its last rejection, the next rejection of anyone drops
	// OLD (and its slot goes to the next new client); _other, counted a
	// second ago, stays.
	clock.add(time.Minute)
	s.count("p", 2, "RECENT", classNotRegistered)
	s.count("p", 2, "NEW", classNotRegistered)
	want := map[string]float64{
		"p/RECENT/not_registered": 3,
		"p/NEW/not_registered":    1,
		"p/_other/not_registered": 2,
	}
	if got := read(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after a day:\n got %v\nwant %v", got, want)
	}
	// A dropped client starts again from 1, as a new series.
	s.count("p", 2, "OLD", classNotRegistered)
	if got := read()["p/_other/not_registered"]; got != 3 {
		t.Errorf("OLD, back with the cap full: _other = %v, want 3", got)
	}
	clock.add(25 * time.Hour)
	s.count("p", 2, "OLD", classNotRegistered)
	if got := read(); fmt.Sprint(got) != fmt.Sprint(map[string]float64{"p/OLD/not_registered": 1}) {
		t.Errorf("after another day: %v", got)
	}
	s.forget("p")
	if got := read(); len(got) != 0 {
		t.Errorf("after forget: %v", got)
	}
	s.count("p", 1, "A", classDisabled)
	if got := read(); fmt.Sprint(got) != fmt.Sprint(map[string]float64{"p/A/disabled": 1}) {
		t.Errorf("after forget, the slots are free again: %v", got)
	}
}

// TestClientSeriesConcurrent: many goroutines spraying many clients never
// make more than the cap, and lose no count.
func TestClientSeriesConcurrent(t *testing.T) {
	s, clock, read := newTestSeries(t)
	const workers, clients, limit = 8, 500, 50
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < clients; i++ {
				s.count("p", limit, fmt.Sprintf("C%d", (i*7+w)%clients), rejectionClass(i%int(numClasses)))
				if w == 0 && i%100 == 0 {
					clock.add(time.Hour) // sweeps run meanwhile
				}
			}
		}()
	}
	wg.Wait()
	got := read()
	var total float64
	for _, v := range got {
		total += v
	}
	if len(got) > limit+int(numClasses) {
		t.Errorf("%d series, want at most %d", len(got), limit+int(numClasses))
	}
	if total != workers*clients {
		t.Errorf("%v rejections counted, want %d", total, workers*clients)
	}
}

// TestRecordClientAllocs: counting a rejection on an existing series, a
// client's own or _other, allocates nothing.
func TestRecordClientAllocs(t *testing.T) {
	m := newPolicyMetrics("client-allocs-test", policy.Production, 1)
	tracked := &registry.Client{ID: "APP-TRACKED"}
	over := &registry.Client{ID: "APP-OVER"}
	m.record(decisionRejected, policy.RedirectURINotRegistered, tracked)
	m.record(decisionRejected, policy.RedirectURINotRegistered, over)
	for _, c := range []*registry.Client{tracked, over} {
		for _, decision := range []string{decisionRejected, decisionReported} {
			if n := testing.AllocsPerRun(200, func() { m.record(decision, policy.RedirectURINotRegistered, c) }); n != 0 {
				t.Errorf("record(%s) for %s allocates %v times; want 0", decision, c.ID, n)
			}
		}
	}
	if got := counterValue(t, clientRejectionsTotal.WithLabelValues("client-allocs-test", otherClient, "not_registered")); got < 401 {
		t.Errorf("_other counted %v, want at least 401", got)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
