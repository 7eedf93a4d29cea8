package etcd

import (
	"context"
	"os"
	"path/filepath"
	"sync"

	"go.uber.org/zap"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
)

// cacheWriter writes the latest snapshot to the cache file, off the path
// that applies changes: writing is in proportion to the whole registry,
// applying a change is not. Snapshots scheduled while a write is under way
// are written once, as the latest.
type cacheWriter struct {
	path string
	env  policy.Environment
	log  *zap.Logger

	mu      sync.Mutex
	pending *registry.Snapshot
	wake    chan struct{}
}

func newCacheWriter(path string, env policy.Environment, log *zap.Logger) *cacheWriter {
	return &cacheWriter{path: path, env: env, log: log, wake: make(chan struct{}, 1)}
}

// schedule asks for s to be written.
func (w *cacheWriter) schedule(s *registry.Snapshot) {
	w.mu.Lock()
	w.pending = s
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run writes scheduled snapshots until ctx is done, then the last one
// scheduled, if not yet written.
func (w *cacheWriter) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			w.flush()
			return
		case <-w.wake:
			w.flush()
		}
	}
}

func (w *cacheWriter) flush() {
	w.mu.Lock()
	s := w.pending
	w.pending = nil
	w.mu.Unlock()
	if s == nil {
		return
	}
	if err := WriteRegistryFile(w.path, w.env, s); err != nil {
		w.log.Error("writing the registry cache failed; the previous cache stays", zap.String("cache", w.path), zap.Error(err))
		return
	}
	w.log.Debug("registry cache written", zap.String("cache", w.path), zap.Int64("revision", s.Revision), zap.Int("clients", s.Len()))
}

// WriteRegistryFile writes s to path as a registry file, atomically: a reader (a
// proxy starting while etcd is down) sees the old file or the new one,
// never a part.
func WriteRegistryFile(path string, env policy.Environment, s *registry.Snapshot) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a failure; a no-op after the rename
	if err := registry.WriteFile(f, env, s.Clients()); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // the rename itself survives a crash
		d.Close()
	}
	return nil
}
