package caddymodule

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

// Client ids are public, so anyone can make a policy reject every
// registered client in turn. The per-client counter therefore holds at most
// a fixed number of series per policy, whatever is sent: clients past the
// cap are counted under otherClient, the reason is reduced to a class, and
// series idle for clientIdle are dropped so that the cap serves the clients
// attacked now.
const (
	// DefaultClientSeries is how many per-client series a policy keeps
	// when client_metrics does not say.
	DefaultClientSeries = 1000
	// otherClient is the client_id label of the clients past the cap, as
	// Caddy counts the hosts it does not know under one label value.
	otherClient = "_other"
	// clientIdle is how long a series may go without a rejection before it
	// is dropped.
	clientIdle = 24 * time.Hour
	// sweepEvery is how often, at most, idle series are looked for; a
	// sweep runs on a rejection or a config load, never on a timer.
	sweepEvery = time.Minute
)

// ClientMetrics is the client_metrics setting: the most per-client series
// a policy keeps (a positive number), off (negative), or the default (0).
// In JSON it is that number, or true (the default) or false (off), as the
// boolean it used to be.
type ClientMetrics int

// ClientMetricsOff switches the per-client counter off.
const ClientMetricsOff ClientMetrics = -1

// limit is the cap on series, 0 when the counter is off.
func (c ClientMetrics) limit() int {
	switch {
	case c < 0:
		return 0
	case c == 0:
		return DefaultClientSeries
	}
	return int(c)
}

// MarshalJSON writes false for off and the number otherwise.
func (c ClientMetrics) MarshalJSON() ([]byte, error) {
	switch {
	case c < 0:
		return []byte("false"), nil
	case c == 0:
		return []byte("true"), nil
	}
	return strconv.AppendInt(nil, int64(c), 10), nil
}

// UnmarshalJSON reads a positive number of series, true or false.
func (c *ClientMetrics) UnmarshalJSON(b []byte) error {
	switch s := string(b); s {
	case "true":
		*c = 0
	case "false":
		*c = ClientMetricsOff
	default:
		n, ok := parseClientSeries(s)
		if !ok {
			return fmt.Errorf("client_metrics: %s is not a positive number of series, true or false", s)
		}
		*c = n
	}
	return nil
}

// parseClientSeries reads the cap of client_metrics: a positive decimal.
func parseClientSeries(s string) (ClientMetrics, bool) {
	n, err := strconv.Atoi(s)
	return ClientMetrics(n), err == nil && n > 0
}

// rejectionClass is what the per-client counter keeps of a reason: what a
// security team does about it. The full reason is on decisions_total and
// in the log line.
type rejectionClass uint8

const (
	// classNotRegistered: a redirect URI the client did not register, the
	// signature of stolen or misused credentials.
	classNotRegistered rejectionClass = iota
	// classRuleViolation: a redirect URI that breaks the syntax or the
	// environment's rules.
	classRuleViolation
	// classDisabled: a request of a client cut off in the registry.
	classDisabled
	numClasses
)

var classNames = [numClasses]string{"not_registered", "rule_violation", "disabled"}

func (c rejectionClass) String() string { return classNames[c] }

// classOf returns the class of a rejection reason.
func classOf(r policy.Reason) rejectionClass {
	switch r {
	case policy.RedirectURINotRegistered, policy.NoRegisteredRedirectURIs:
		return classNotRegistered
	case policy.ClientDisabled:
		return classDisabled
	}
	return classRuleViolation
}

// clientSeries holds the per-client series of every policy: the counters
// and the collector live for the whole process, so the cap must hold across
// config reloads too.
type clientSeries struct {
	vec *prometheus.CounterVec
	now func() time.Time

	mu     sync.RWMutex
	series map[seriesKey]*clientCounter
	// clients counts, per policy, the series of named clients (those of
	// otherClient are not counted: there are at most numClasses).
	clients map[string]int

	lastSweep atomic.Int64 // Unix seconds
}

type seriesKey struct {
	policy, client string
	class          rejectionClass
}

type clientCounter struct {
	counter prometheus.Counter
	last    atomic.Int64 // Unix seconds of the last rejection counted
}

func newClientSeries(vec *prometheus.CounterVec, now func() time.Time) *clientSeries {
	t := &clientSeries{vec: vec, now: now, series: map[seriesKey]*clientCounter{}, clients: map[string]int{}}
	t.lastSweep.Store(now().Unix())
	return t
}

// count counts one rejection of a registered client under a policy that
// keeps at most limit client series. Once the series exists, it takes a
// read lock and allocates nothing.
func (t *clientSeries) count(pol string, limit int, client string, class rejectionClass) {
	now := t.now().Unix()
	// Idle series go first, so that their slots serve this rejection.
	t.sweepIfDue(now)
	k := seriesKey{pol, client, class}
	// The increment happens under the read lock so that a sweep never
	// drops a series between its lookup and its increment.
	t.mu.RLock()
	c := t.series[k]
	if c == nil && t.clients[pol] >= limit {
		c = t.series[seriesKey{pol, otherClient, class}]
	}
	if c != nil {
		c.counter.Inc()
		c.last.Store(now)
	}
	t.mu.RUnlock()
	if c == nil {
		t.create(k, limit, now)
	}
}

// create makes the series of k, or of otherClient when the policy already
// holds limit series, and counts one rejection on it.
func (t *clientSeries) create(k seriesKey, limit int, now int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.series[k]
	if c == nil && t.clients[k.policy] >= limit {
		k.client = otherClient
		c = t.series[k]
	}
	if c == nil {
		c = &clientCounter{counter: t.vec.WithLabelValues(k.policy, k.client, k.class.String())}
		t.series[k] = c
		if k.client != otherClient {
			t.clients[k.policy]++
		}
	}
	c.counter.Inc()
	c.last.Store(now)
}

// sweep drops the series with no rejection for clientIdle.
func (t *clientSeries) sweep(now int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, c := range t.series {
		if now-c.last.Load() >= int64(clientIdle/time.Second) {
			t.drop(k)
		}
	}
}

// forget drops every series of a policy, for a policy whose client
// metrics were switched off.
func (t *clientSeries) forget(pol string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.series {
		if k.policy == pol {
			t.drop(k)
		}
	}
}

// drop removes one series; the caller holds the lock.
func (t *clientSeries) drop(k seriesKey) {
	t.vec.DeleteLabelValues(k.policy, k.client, k.class.String())
	delete(t.series, k)
	if k.client == otherClient {
		return
	}
	if t.clients[k.policy]--; t.clients[k.policy] == 0 {
		delete(t.clients, k.policy)
	}
}

// sweepIfDue runs a sweep when none ran for sweepEvery; now is in Unix
// seconds.
func (t *clientSeries) sweepIfDue(now int64) {
	if last := t.lastSweep.Load(); now-last >= int64(sweepEvery/time.Second) && t.lastSweep.CompareAndSwap(last, now) {
		t.sweep(now)
	}
}
