package registry

import (
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

// The registry of the scale benchmarks: 100,000 clients with 1 to 10
// redirect URIs each and one client with 5,000.
var (
	bigOnce   sync.Once
	bigData   []byte
	bigSample []string
)

func bigRegistry() ([]byte, []string) {
	bigOnce.Do(func() {
		bigData, bigSample = genRegistry(genOptions{Clients: 100_000, BigClient: 5_000, Seed: 7, HostOnly: true, Indent: true})
	})
	return bigData, bigSample
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkLoad reads, validates and indexes the large registry file, and
// reports the heap the snapshot keeps.
func BenchmarkLoad(b *testing.B) {
	data, _ := bigRegistry()
	path := writeFile(b, b.TempDir(), "clients.json", data)
	p := mustPolicy(b, policy.Production)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var heap float64
	for i := 0; b.Loop(); i++ {
		var before uint64
		if i == 0 {
			b.StopTimer()
			before = heapAlloc()
			b.StartTimer()
		}
		s, err := Load(path, p)
		if err != nil {
			b.Fatal(err)
		}
		if s.Len() != 100_001 {
			b.Fatalf("loaded %d clients", s.Len())
		}
		if i == 0 {
			b.StopTimer()
			heap = float64(heapAlloc()-before) / (1 << 20)
			runtime.KeepAlive(s)
			b.StartTimer()
		}
	}
	b.ReportMetric(heap, "heap-MB")
	b.ReportMetric(float64(len(data))/(1<<20), "file-MB")
}

func loadBig(b *testing.B) *Snapshot {
	b.Helper()
	data, _ := bigRegistry()
	s, err := Parse(filepath.Join("bench", "clients.json"), data, mustPolicy(b, policy.Production))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkLookup finds a client by id in the large snapshot.
func BenchmarkLookup(b *testing.B) {
	s := loadBig(b)
	id := genClientID("", 54_321)
	b.ReportAllocs()
	for b.Loop() {
		if s.Client(id) == nil {
			b.Fatal("client not found")
		}
	}
}

// BenchmarkDecide decides requests against the large snapshot.
func BenchmarkDecide(b *testing.B) {
	s := loadBig(b)
	_, sample := bigRegistry()
	i := 54_321
	for s.Client(genClientID("", i)).Disabled {
		i++
	}
	cases := []struct {
		name, id, uri string
		want          policy.Reason
	}{
		{"exact", genClientID("", i), sample[i], policy.ExactMatch},
		{"exact-5000", "BIG-CLIENT", "https://big.example.com/t/4321/callback", policy.ExactMatch},
		{"not-registered", genClientID("", i), "https://evil.example.net/cb", policy.RedirectURINotRegistered},
		{"not-registered-5000", "BIG-CLIENT", "https://big.example.com/t/4321/callback/x", policy.RedirectURINotRegistered},
		{"unknown-client", "APP-NOT-THERE", sample[i], policy.UnknownClient},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if d := s.Decide(c.id, c.uri); d.Reason != c.want {
				b.Fatalf("Decide(%q, %q) = %s, want %s", c.id, c.uri, d.Reason, c.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				s.Decide(c.id, c.uri)
			}
		})
	}
}
