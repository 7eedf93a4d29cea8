package caddymodule

import (
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
)

// Handlers that read the same registry file with the same rules share one
// loader, and it outlives config reloads: the new config's handlers take it
// over before the old ones let go, so a reload neither re-reads the file nor
// starts a second watcher.
var (
	loaders = caddy.NewUsagePool()
	// reporters turn one loader's reload events into one policy's metrics
	// exactly once, however many handlers of that policy exist.
	reporters = caddy.NewUsagePool()
)

type loaderKey struct {
	file     string
	env      policy.Environment
	match    policy.MatchMode
	maxLen   int
	interval time.Duration
}

// sharedLoader wraps a loader so that the usage pool can close it.
type sharedLoader struct{ *registry.Loader }

func (l sharedLoader) Destruct() error { return l.Close() }

type reporterKey struct {
	loader loaderKey
	policy string
}

// reporter turns a loader's reload events into a policy's metrics and log
// entries. When the last handler of the policy goes, it stops and removes
// the policy's registry gauges, so that a policy taken out of the config
// leaves no stale value (a stale 0 would keep an alert firing).
type reporter struct {
	metrics *policyMetrics
	logger  *zap.Logger
	cancel  func()
}

func (r *reporter) reloaded(ev registry.ReloadEvent) {
	r.metrics.reloaded(ev)
	if ev.Err != nil {
		r.logger.Error("registry reload failed; the previous registry goes on serving",
			zap.String("policy", r.metrics.name), zap.String("registry", ev.File), zap.Error(ev.Err))
		return
	}
	r.logger.Info("registry reloaded",
		zap.String("policy", r.metrics.name), zap.String("registry", ev.File),
		zap.Int("clients", ev.Snapshot.Len()), zap.Int("redirect_uris", ev.Snapshot.URIs()))
}

func (r *reporter) Destruct() error {
	r.cancel()
	r.metrics.forgetRegistry()
	return nil
}

// acquireLoader returns the shared loader for key, loading the file if no
// handler holds it yet, and makes sure its reloads reach the metrics of the
// named policy.
func acquireLoader(key loaderKey, p *policy.Policy, m *policyMetrics, logger *zap.Logger) (*registry.Loader, error) {
	v, _, err := loaders.LoadOrNew(key, func() (caddy.Destructor, error) {
		l, err := registry.NewLoader(key.file, p, key.interval)
		if err != nil {
			return nil, err
		}
		l.Start()
		return sharedLoader{l}, nil
	})
	if err != nil {
		return nil, err
	}
	l := v.(sharedLoader).Loader
	_, loaded, err := reporters.LoadOrNew(reporterKey{key, m.name}, func() (caddy.Destructor, error) {
		r := &reporter{metrics: m, logger: logger}
		r.cancel = l.Subscribe(r.reloaded)
		m.useRegistryGauges()
		return r, nil
	})
	if err != nil {
		releaseLoader(key, "")
		return nil, err
	}
	if !loaded {
		m.snapshotLoaded(l.Snapshot())
	}
	return l, nil
}

// releaseLoader drops a handler's hold on the shared loader and on its
// policy's reporter; the last to let go closes them.
func releaseLoader(key loaderKey, policyName string) error {
	if policyName != "" {
		if _, err := reporters.Delete(reporterKey{key, policyName}); err != nil {
			return fmt.Errorf("releasing reload reporter: %w", err)
		}
	}
	_, err := loaders.Delete(key)
	return err
}
