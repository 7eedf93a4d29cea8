package caddymodule

import (
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"

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

// reporter holds a subscription of a policy's metrics to a loader's reloads.
type reporter struct{ cancel func() }

func (r reporter) Destruct() error { r.cancel(); return nil }

// acquireLoader returns the shared loader for key, loading the file if no
// handler holds it yet, and makes sure its reloads reach the metrics of the
// named policy.
func acquireLoader(key loaderKey, p *policy.Policy, m *policyMetrics) (*registry.Loader, error) {
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
		return reporter{cancel: l.Subscribe(m.reloaded)}, nil
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
