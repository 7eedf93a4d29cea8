package bench

import (
	"strconv"
	"testing"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
)

// BenchmarkRegistryParse measures what one reload of the load harness's
// registries costs the loader (decode, validate, index; reading the file
// and its SHA-256 come on top): the CPU that a reload takes away from
// requests on a core that Caddy has alone.
func BenchmarkRegistryParse(b *testing.B) {
	p, err := policy.New(policy.Options{Environment: policy.Production})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1000, 10000, 100000} {
		data := RegistryJSON(Clients(n, 1))
		b.Run("clients="+strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				s, err := registry.Parse("clients.json", data, p)
				if err != nil {
					b.Fatal(err)
				}
				if s.Len() != n {
					b.Fatalf("%d clients", s.Len())
				}
			}
		})
	}
}

func TestGeneratedRegistriesLoad(t *testing.T) {
	p, err := policy.New(policy.Options{Environment: policy.Production})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 500} {
		s, err := registry.Parse("gen.json", RegistryJSON(Clients(n, 3)), p)
		if err != nil {
			t.Fatalf("%d clients: %v", n, err)
		}
		if s.Len() != n {
			t.Errorf("%d clients loaded, want %d", s.Len(), n)
		}
		if d := s.Decide(BenchClientID, BenchCallback); d.Reason != policy.ExactMatch {
			t.Errorf("%d clients: benchmark client decides %s", n, d.Reason)
		}
	}
	for _, n := range []int{1, 1000} {
		s, err := registry.Parse("list.json", RegistryJSON([]Client{ListClient(n)}), p)
		if err != nil {
			t.Fatalf("list of %d: %v", n, err)
		}
		if s.URIs() != n {
			t.Errorf("list of %d: %d URIs", n, s.URIs())
		}
	}
}
