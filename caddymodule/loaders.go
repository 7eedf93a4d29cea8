package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
)

// Handlers that read the same registry source with the same rules (the
// same SourceKey) share one loader, and it outlives config reloads: the new config's handlers take it
// over before the old ones let go, so a reload does not start a second
// watcher. A config load still checks the file, as the first load did.
var (
	loaders = caddy.NewUsagePool()
	// reporters turn one loader's reload events into one policy's metrics
	// exactly once, however many handlers of that policy exist.
	reporters = caddy.NewUsagePool()
)

// sharedLoader wraps a registry source (a file's loader, an etcd source)
// so that the usage pool can close it.
type sharedLoader struct{ registry.Source }

func (l sharedLoader) Destruct() error { return l.Close() }

type reporterKey struct {
	loader any // a source key, see RegistrySource
	policy string
}

// reporter turns a loader's reload events into a policy's metrics and log
// entries. It logs with the logger of the newest config that holds it, and
// never with one of a config that let go. When the last handler of the
// policy goes, it stops and removes the policy's registry gauges, so that
// a policy taken out of the config leaves no stale value (a stale 0 would
// keep an alert firing).
type reporter struct {
	metrics *policyMetrics
	cancel  func()

	mu      sync.Mutex // guards holders
	holders []*holder  // oldest first
}

// holder is one config's hold on a reporter.
type holder struct{ logger *zap.Logger }

func (r *reporter) hold(logger *zap.Logger) *holder {
	h := &holder{logger: logger}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.holders = append(r.holders, h)
	return h
}

func (r *reporter) release(h *holder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, x := range r.holders {
		if x == h {
			r.holders = append(r.holders[:i], r.holders[i+1:]...)
			return
		}
	}
}

// reloaded records a reload in the policy's metrics and logs it with the
// newest holder's logger.
func (r *reporter) reloaded(ev registry.ReloadEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.metrics.reloaded(ev)
	if len(r.holders) == 0 {
		return
	}
	logger := r.holders[len(r.holders)-1].logger
	if st := ev.State; st != nil {
		for _, err := range st.Rejected {
			logger.Error("registry value refused; the client keeps its last good version, or stays out if new",
				zap.String("policy", r.metrics.name), zap.String("registry", ev.File), loadErrorField(err))
		}
		if st.StateOnly {
			if st.Connected {
				logger.Info("registry source connected", zap.String("policy", r.metrics.name), zap.String("registry", ev.File), zap.Int64("revision", st.Revision))
			} else {
				logger.Warn("registry source disconnected; the last registry goes on serving and the source keeps trying",
					zap.String("policy", r.metrics.name), zap.String("registry", ev.File), zap.Int64("revision", st.Revision), zap.Error(ev.Err))
			}
			return
		}
	}
	if ev.Err != nil {
		logger.Error("registry reload failed; the previous registry goes on serving",
			zap.String("policy", r.metrics.name), zap.String("registry", ev.File), loadErrorField(ev.Err))
		return
	}
	logger.Info("registry reloaded",
		zap.String("policy", r.metrics.name), zap.String("registry", ev.File),
		zap.Int("clients", ev.Snapshot.Len()), zap.Int("redirect_uris", ev.Snapshot.URIs()))
}

func (r *reporter) Destruct() error {
	r.cancel() // no reload reaches the metrics once it returns
	r.metrics.forgetRegistry()
	return nil
}

// acquireLoader returns the shared source for key, opening it if no
// handler holds it yet and checking it again if one does and can (a file),
// and makes sure its reloads reach the metrics of the named policy and the
// config's logger. A file that does not load fails the config, however
// long the loader has been serving. release lets go of both.
func acquireLoader(key any, open func() (registry.Source, error), m *policyMetrics, logger *zap.Logger) (l registry.Source, release func() error, err error) {
	v, loaded, err := loaders.LoadOrNew(key, func() (caddy.Destructor, error) {
		l, err := open()
		if err != nil {
			return nil, err
		}
		return sharedLoader{l}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	l = v.(sharedLoader).Source
	if c, ok := l.(interface{ Check() (bool, error) }); loaded && ok {
		c.Check()
		if err := l.Last().Err; err != nil {
			loaders.Delete(key)
			return nil, nil, err
		}
	}
	rkey := reporterKey{key, m.name}
	v, _, err = reporters.LoadOrNew(rkey, func() (caddy.Destructor, error) {
		r := &reporter{metrics: m}
		m.useRegistryGauges()
		// An event that comes meanwhile waits until the gauges start
		// from the loader's last result.
		r.mu.Lock()
		defer r.mu.Unlock()
		r.cancel = l.Subscribe(r.reloaded)
		m.started(l.Last())
		m.sourceState(l)
		return r, nil
	})
	if err != nil {
		loaders.Delete(key)
		return nil, nil, err
	}
	r := v.(*reporter)
	h := r.hold(logger)
	return l, func() error {
		r.release(h)
		if _, err := reporters.Delete(rkey); err != nil {
			return fmt.Errorf("releasing reload reporter: %w", err)
		}
		_, err := loaders.Delete(key)
		return err
	}, nil
}

// configPolicies maps each config being loaded or running to the registry
// each policy name reads there: two policies of one name would write the
// same registry series, and one file's failure would hide behind the
// other's success. A config is known by its metrics registry, which Caddy
// creates for every config load and hands to every module of it (each
// server gets a context of its own).
var configPolicies = struct {
	sync.Mutex
	m map[any]map[string]claim
}{m: map[any]map[string]claim{}}

// claim is the registry a policy name reads in a config: its source key
// and the source's name.
type claim struct {
	key    any
	source string
}

// claimName records that the config of ctx runs the named policy on the
// source key (named source), and fails if another policy of that name
// reads another registry there.
func claimName(ctx caddy.Context, name string, key any, source string) error {
	configPolicies.Lock()
	defer configPolicies.Unlock()
	cfg := any(ctx.GetMetricsRegistry())
	names, ok := configPolicies.m[cfg]
	if !ok {
		names = map[string]claim{}
		configPolicies.m[cfg] = names
		context.AfterFunc(ctx, func() {
			configPolicies.Lock()
			defer configPolicies.Unlock()
			delete(configPolicies.m, cfg)
		})
	}
	other, ok := names[name]
	switch {
	case !ok:
		names[name] = claim{key, source}
	case other.source != source:
		return fmt.Errorf("name %q: two redirect_uri_policy handlers of this name read different registries (%s and %s); set name to tell their metrics apart",
			name, other.source, source)
	case other.key != key:
		return fmt.Errorf("name %q: two redirect_uri_policy handlers of this name read %s with different settings (environment, match, max_uri_length or reload_interval); set name to tell their metrics apart",
			name, source)
	}
	return nil
}

// loadErrorField logs a registry load error: a *registry.LoadError as its
// summary and its problems as a list, so that a JSON log line holds no
// line breaks; any other error as zap.Error does.
func loadErrorField(err error) zap.Field {
	var le *registry.LoadError
	if !errors.As(err, &le) {
		return zap.Error(err)
	}
	return zap.Inline(zapcore.ObjectMarshalerFunc(func(enc zapcore.ObjectEncoder) error {
		enc.AddString("error", le.Summary())
		return enc.AddArray("problems", zapcore.ArrayMarshalerFunc(func(arr zapcore.ArrayEncoder) error {
			for _, p := range le.Problems {
				arr.AppendString(p.String())
			}
			return nil
		}))
	}))
}
