package caddymodule

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
)

// Decisions as recorded in metrics, logs and placeholders.
const (
	decisionAllowed  = "allowed"
	decisionRejected = "rejected"
	decisionReported = "reported"
)

const metricsNamespace, metricsSubsystem = "caddy", "redirect_uri_policy"

// The collectors live for the whole process so that counts survive config
// reloads; each config load registers them with its new registry.
var (
	decisionsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "decisions_total",
		Help: "Authorize requests checked, by policy, environment, decision (allowed, rejected, reported) and reason.",
	}, []string{"policy", "environment", "decision", "reason"})

	logoutDecisionsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "logout_decisions_total",
		Help: "Logout requests with a post_logout_redirect_uri checked, by policy, environment, decision (allowed, rejected, reported) and reason.",
	}, []string{"policy", "environment", "decision", "reason"})

	clientRejectionsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "client_rejections_total",
		Help: "Rejected (or, in report-only mode, reported) authorize requests of registered clients, by policy, client_id and class (not_registered, rule_violation, disabled); at most client_metrics series per policy, the other clients under client_id=\"_other\".",
	}, []string{"policy", "client_id", "class"})

	registryClients = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "registry_clients",
		Help: "Clients in the registry serving now.",
	}, []string{"policy"})

	registryRedirectURIs = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "registry_redirect_uris",
		Help: "Registered redirect URIs in the registry serving now.",
	}, []string{"policy"})

	registryReloadsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "registry_reloads_total",
		Help: "Reloads of a changed registry file, by policy and result (success, failure).",
	}, []string{"policy", "result"})

	registryLastReloadSuccessful = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "registry_last_reload_successful",
		Help: "Whether the last load of the registry file succeeded (1) or failed (0).",
	}, []string{"policy"})

	registryLastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "registry_last_success_timestamp_seconds",
		Help: "Time of the last successful load of the registry file, in seconds since the Unix epoch.",
	}, []string{"policy"})

	registryRevision = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "registry_revision",
		Help: "Store revision of the registry serving now, for a source that follows a store (etcd); 0 while serving its cache.",
	}, []string{"policy"})

	registrySourceConnected = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "registry_source_connected",
		Help: "Whether the registry's store (etcd) answers with a quorum (1) or not (0, the last registry goes on serving).",
	}, []string{"policy"})

	registryRejectedValuesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "registry_rejected_values_total",
		Help: "Client values of the registry's store (etcd) refused because they break a rule; each client kept its last good version.",
	}, []string{"policy"})

	// clients bounds the series of clientRejectionsTotal.
	clients = newClientSeries(clientRejectionsTotal, time.Now)

	collectors = []prometheus.Collector{
		decisionsTotal, logoutDecisionsTotal, clientRejectionsTotal, registryClients, registryRedirectURIs,
		registryReloadsTotal, registryLastReloadSuccessful, registryLastSuccess,
		registryRevision, registrySourceConnected, registryRejectedValuesTotal,
	}
)

// registerMetrics registers the collectors with a config's registry. An
// earlier registration of the same collector (another handler of the
// config) is not an error; another collector of the same name is.
func registerMetrics(reg prometheus.Registerer) error {
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) || already.ExistingCollector != c {
				return err
			}
		}
	}
	return nil
}

// policyMetrics are one policy's counters, resolved once so that recording a
// decision costs no label lookup.
type policyMetrics struct {
	name              string
	authorize, logout outcomes
	// clientLimit is the most per-client series the policy keeps; 0 when
	// client metrics are off.
	clientLimit int
}

// outcomes are one door's outcomes, by decision and reason.
type outcomes struct {
	allowed, rejected, reported map[policy.Reason]*outcome
}

// outcome is what a decision for one reason records: its counter and its
// placeholder values, already in interfaces (converting a string to one
// allocates).
type outcome struct {
	decisions        prometheus.Counter
	decision, reason any
	class            rejectionClass
}

// The reasons of the logout door: its own for its client and its
// matching, and none of the authorize door's for a missing client_id or
// redirect_uri, a request object or the authorize matching. The authorize
// door's counter starts every reason (dashboards count on that).
var (
	logoutAllowReasons  = []policy.Reason{policy.ExactMatch, policy.LoopbackMatch}
	logoutRejectReasons = without(policy.RejectReasons, policy.MissingClientID, policy.MissingRedirectURI,
		policy.RequestObjectNotSupported, policy.RequestObjectUnreadable, policy.RequestObjectEncrypted,
		policy.ClientIDMismatch, policy.RequestURINotRegistered,
		policy.NoRegisteredRedirectURIs, policy.RedirectURINotRegistered, policy.RedirectURIMismatch)
)

func without(rs []policy.Reason, drop ...policy.Reason) []policy.Reason {
	return slices.DeleteFunc(slices.Clone(rs), func(r policy.Reason) bool { return slices.Contains(drop, r) })
}

func newOutcomes(counter *prometheus.CounterVec, name string, env policy.Environment, allow, reject []policy.Reason) outcomes {
	build := func(decision string, reasons []policy.Reason) map[policy.Reason]*outcome {
		m := map[policy.Reason]*outcome{}
		for _, r := range reasons {
			m[r] = &outcome{
				decisions: counter.WithLabelValues(name, string(env), decision, string(r)),
				decision:  decision,
				reason:    string(r),
				class:     classOf(r),
			}
		}
		return m
	}
	return outcomes{
		allowed:  build(decisionAllowed, allow),
		rejected: build(decisionRejected, reject),
		reported: build(decisionReported, reject),
	}
}

func newPolicyMetrics(name string, env policy.Environment, clientLimit int) *policyMetrics {
	m := &policyMetrics{
		name:        name,
		clientLimit: clientLimit,
		authorize:   newOutcomes(decisionsTotal, name, env, policy.AllowReasons, policy.RejectReasons),
		logout:      newOutcomes(logoutDecisionsTotal, name, env, logoutAllowReasons, logoutRejectReasons),
	}
	// A config load is also a time to let go of idle client series, and of
	// all of them when the policy no longer counts clients.
	if clientLimit == 0 {
		clients.forget(name)
	}
	clients.sweepIfDue(clients.now().Unix())
	// Start the reload counters at 0, so that the first failure shows as
	// an increase.
	registryReloadsTotal.WithLabelValues(name, "success")
	registryReloadsTotal.WithLabelValues(name, "failure")
	return m
}

// record counts an authorize decision and returns its outcome.
func (m *policyMetrics) record(decision string, r policy.Reason, client *registry.Client) *outcome {
	return m.count(&m.authorize, decision, r, client)
}

// recordLogout counts a logout decision and returns its outcome.
func (m *policyMetrics) recordLogout(decision string, r policy.Reason, client *registry.Client) *outcome {
	return m.count(&m.logout, decision, r, client)
}

func (m *policyMetrics) count(door *outcomes, decision string, r policy.Reason, client *registry.Client) *outcome {
	var o *outcome
	switch decision {
	case decisionAllowed:
		o = door.allowed[r]
	case decisionRejected:
		o = door.rejected[r]
	default:
		o = door.reported[r]
	}
	o.decisions.Inc()
	if decision != decisionAllowed && client != nil && m.clientLimit > 0 {
		clients.count(m.name, m.clientLimit, client.ID, o.class)
	}
	return o
}

// snapshotLoaded sets the registry gauges for a snapshot now serving.
func (m *policyMetrics) snapshotLoaded(s *registry.Snapshot) {
	registryClients.WithLabelValues(m.name).Set(float64(s.Len()))
	registryRedirectURIs.WithLabelValues(m.name).Set(float64(s.URIs()))
	registryLastReloadSuccessful.WithLabelValues(m.name).Set(1)
	registryLastSuccess.WithLabelValues(m.name).Set(float64(s.LoadedAt.UnixNano()) / 1e9)
}

// started sets the registry gauges from a loader's last result, as a new
// reporter of the policy takes over.
func (m *policyMetrics) started(last registry.ReloadEvent) {
	m.snapshotLoaded(last.Snapshot)
	if last.Err != nil {
		registryLastReloadSuccessful.WithLabelValues(m.name).Set(0)
	}
}

// sourceState sets the gauges of a source that follows a store, from its
// state now.
func (m *policyMetrics) sourceState(src registry.Source) {
	c, ok := src.(interface{ Connected() bool })
	if !ok {
		return
	}
	registryRevision.WithLabelValues(m.name).Set(float64(src.Snapshot().Revision))
	registrySourceConnected.WithLabelValues(m.name).Set(boolGauge(c.Connected()))
	registryRejectedValuesTotal.WithLabelValues(m.name) // from 0
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// reloaded records a reload attempt, or a change of a store's state.
func (m *policyMetrics) reloaded(ev registry.ReloadEvent) {
	if st := ev.State; st != nil {
		registryRevision.WithLabelValues(m.name).Set(float64(st.Revision))
		registrySourceConnected.WithLabelValues(m.name).Set(boolGauge(st.Connected))
		registryRejectedValuesTotal.WithLabelValues(m.name).Add(float64(len(st.Rejected)))
		if st.StateOnly {
			return
		}
	}
	// The gauges first: a scrape that sees the count sees the result.
	if ev.Err != nil {
		registryLastReloadSuccessful.WithLabelValues(m.name).Set(0)
		registryReloadsTotal.WithLabelValues(m.name, "failure").Inc()
		return
	}
	m.snapshotLoaded(ev.Snapshot)
	registryReloadsTotal.WithLabelValues(m.name, "success").Inc()
}

// gaugeUsers counts, per policy name, the reporters setting its registry
// gauges: a config reload that moves a policy to another file starts the
// new reporter before it ends the old one.
var gaugeUsers = struct {
	sync.Mutex
	n map[string]int
}{n: map[string]int{}}

// useRegistryGauges records that a reporter sets the policy's gauges.
func (m *policyMetrics) useRegistryGauges() {
	gaugeUsers.Lock()
	defer gaugeUsers.Unlock()
	gaugeUsers.n[m.name]++
}

// forgetRegistry removes the policy's registry gauges once no reporter of
// the policy is left.
func (m *policyMetrics) forgetRegistry() {
	gaugeUsers.Lock()
	defer gaugeUsers.Unlock()
	if gaugeUsers.n[m.name]--; gaugeUsers.n[m.name] > 0 {
		return
	}
	delete(gaugeUsers.n, m.name)
	for _, g := range []*prometheus.GaugeVec{registryClients, registryRedirectURIs, registryLastReloadSuccessful, registryLastSuccess, registryRevision, registrySourceConnected} {
		g.DeleteLabelValues(m.name)
	}
}
