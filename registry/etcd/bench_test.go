package etcd

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/cputime"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/etcdtest"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
)

// benchClients returns n clients with 1 to 4 redirect URIs each.
func benchClients(tb testing.TB, p *policy.Policy, n int, tag string) []*registry.Client {
	tb.Helper()
	clients := make([]*registry.Client, n)
	for i := range clients {
		uris := make([]string, 1+i%4)
		for j := range uris {
			uris[j] = fmt.Sprintf("https://app%d.example.com/oauth/callback/%d%s", i, j, tag)
		}
		c, err := registry.ParseClient("bench", "", clientJSON(fmt.Sprintf("APP-%07d", i), uris), p)
		if err != nil {
			tb.Fatal(err)
		}
		clients[i] = c
	}
	return clients
}

func clientJSON(id string, uris []string) []byte {
	b := []byte(`{"client_id": "` + id + `", "name": "Benchmark client ` + id + `", "redirect_uris": [`)
	for j, u := range uris {
		if j > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '"')
		b = append(b, u...)
		b = append(b, '"')
	}
	return append(b, "]}"...)
}

// BenchmarkInitialLoad100k opens a source on a real etcd member holding
// 100,000 clients: the consistent read in pages, decoding and compiling
// every value, and the snapshot.
func BenchmarkInitialLoad100k(b *testing.B) {
	p := mustPolicy(b)
	cl := etcdtest.Start(b, 1)
	c := cl.Client()
	start := time.Now()
	want := registry.NewSnapshot("bench", p, 0, benchClients(b, p, 100_000, ""))
	plan, err := PlanPublish(context.Background(), c, prefix, want)
	if err != nil {
		b.Fatal(err)
	}
	txns, err := plan.Apply(context.Background(), c)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("published 100,000 clients in %d transactions in %v", txns, time.Since(start).Round(time.Millisecond))
	b.ReportAllocs()
	var heap float64
	cpu := cputime.Process()
	for i := 0; b.Loop(); i++ {
		var before runtime.MemStats
		if i == 0 {
			runtime.GC()
			runtime.ReadMemStats(&before)
		}
		s, err := Open(Options{Config: Config{Endpoints: cl.Endpoints(), Prefix: prefix}, Policy: p})
		if err != nil {
			b.Fatal(err)
		}
		if n := s.Snapshot().Len(); n != 100_000 {
			b.Fatalf("loaded %d clients", n)
		}
		if i == 0 {
			var after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&after)
			heap = float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
		}
		s.Close()
	}
	// CPU time beside wall time: other processes sharing the cores
	// inflate the one, not the other (etcd's own CPU is not counted).
	b.ReportMetric((cputime.Process()-cpu).Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(heap, "heap-MB")
}

// BenchmarkApply applies one watch response that changes a few clients to
// registries of growing size: decoding and compiling the changed values
// and the new snapshot. The cost follows the clients changed.
func BenchmarkApply(b *testing.B) {
	p := mustPolicy(b)
	for _, size := range []int{1_000, 10_000, 100_000} {
		base := registry.NewSnapshot("bench", p, 1, benchClients(b, p, size, ""))
		for _, changed := range []int{1, 10, 100} {
			events := make([]*clientv3.Event, changed)
			for i := range events {
				id := fmt.Sprintf("APP-%07d", i*(size/changed))
				events[i] = &clientv3.Event{Type: clientv3.EventTypePut, Kv: &mvccpb.KeyValue{
					Key: []byte(Key(prefix, id)), ModRevision: 2,
					Value: clientJSON(id, []string{"https://changed.example.com/oauth/callback"}),
				}}
			}
			b.Run(fmt.Sprintf("clients=%d/changed=%d", size, changed), func(b *testing.B) {
				s := &Source{opts: Options{Config: Config{Prefix: prefix}, Policy: p}, clients: ClientsPrefix(prefix)}
				b.ReportAllocs()
				for b.Loop() {
					s.current.Store(base)
					s.apply(events)
				}
				if got := s.Snapshot().Client(fmt.Sprintf("APP-%07d", 0)); got == nil || !got.URIs.Decide("https://changed.example.com/oauth/callback").Allowed() {
					b.Fatal("the change was not applied")
				}
			})
		}
	}
}
