package registry

// Source serves the latest good snapshot of a registry and tells its
// subscribers how each change went. A Loader is the source of a file; the
// etcd package has the source of an etcd cluster.
type Source interface {
	// Snapshot returns the snapshot serving now. It never blocks.
	Snapshot() *Snapshot
	// Subscribe calls f after every change, until cancel is called. f
	// must not block.
	Subscribe(f func(ReloadEvent)) (cancel func())
	// Last returns the last result: the change applied, or the reload
	// that failed.
	Last() ReloadEvent
	// Close stops following changes.
	Close() error
}

// SourceState is the state of a source that follows a store, as a
// ReloadEvent reports it.
type SourceState struct {
	// Revision is the store revision of the snapshot serving.
	Revision int64
	// Connected tells whether the store answers now. While it does not,
	// the last snapshot goes on serving.
	Connected bool
	// Rejected are the values this event refused, each a *LoadError that
	// names its key: every such client kept its last good version, or
	// stays out if it had none.
	Rejected []error
	// StateOnly marks an event that only reports the state (a connection
	// lost or back, values refused): the snapshot did not change.
	StateOnly bool
}

var _ Source = (*Loader)(nil)
