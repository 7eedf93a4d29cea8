package etcd

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
)

// value is one key's client, or why it was refused.
type value struct {
	key    string
	id     string
	client *registry.Client
	err    error
}

// decode checks one key's value with the registry file's rules for a
// client, and that it holds the client its key names.
func decode(prefix, key string, data []byte, p *policy.Policy) value {
	v := value{key: key}
	id, ok := strings.CutPrefix(key, ClientsPrefix(prefix))
	if !ok || id == "" {
		v.err = fmt.Errorf("%s: not a client key: want %s<client_id>", key, ClientsPrefix(prefix))
		return v
	}
	v.id = id
	v.client, v.err = registry.ParseClient(key, id, data, p)
	return v
}

// decodeAll decodes every value, on every CPU: compiling the redirect
// URIs is most of the work of a full read.
func decodeAll(prefix string, kvs []*mvccpb.KeyValue, p *policy.Policy) []value {
	out := make([]value, len(kvs))
	const block = 256
	var next atomic.Int64
	work := func() {
		for {
			end := int(next.Add(block))
			start := end - block
			if start >= len(kvs) {
				return
			}
			for i := start; i < min(end, len(kvs)); i++ {
				out[i] = decode(prefix, string(kvs[i].Key), kvs[i].Value, p)
			}
		}
	}
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(kvs)/block) - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
	return out
}
