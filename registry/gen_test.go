package registry

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

// genOptions shape a generated registry file.
type genOptions struct {
	Clients    int    // ordinary clients, each with 1 to 10 redirect URIs
	BigClient  int    // URIs of one extra client; 0 for none
	Seed       uint64 // the same seed gives the same file
	Env        policy.Environment
	HostOnly   bool // let some clients register host-only URIs
	Marker     string
	Indent     bool // one field per line, as people write them
	IDPrefix   string
	MaxPerApp  int // at most this many URIs per ordinary client; default 10
	NoDisabled bool
}

// genClientID returns the id of ordinary client i of a generated registry.
func genClientID(prefix string, i int) string {
	if prefix == "" {
		prefix = "APP-"
	}
	return prefix + fmt.Sprintf("%016X", uint64(i)*0x9E3779B97F4A7C15)
}

// genURI returns the j-th redirect URI of client i: mostly exact https
// callbacks, some with a query or a port, and (when allowed) a few
// host-only registrations.
func genURI(r *rand.Rand, o genOptions, i, j int) string {
	host := "app" + strconv.Itoa(i) + ".tenant" + strconv.Itoa(i%997) + ".example.edu"
	switch k := r.IntN(100); {
	case o.HostOnly && k < 5 && j == 0:
		return "https://portal" + strconv.Itoa(i) + ".example.org"
	case k < 20:
		return "https://" + host + "/orcid/callback?tenant=" + strconv.Itoa(i) + "&step=" + strconv.Itoa(j)
	case k < 25:
		return "https://" + host + ":8443/oauth2/callback/" + strconv.Itoa(j)
	default:
		return "https://" + host + "/auth/orcid/callback/" + strconv.Itoa(j)
	}
}

// genRegistry writes a registry file of realistic shape. It returns the
// file and, for each ordinary client, one of its exact registered URIs.
func genRegistry(o genOptions) ([]byte, []string) {
	if o.Env == "" {
		o.Env = policy.Production
	}
	if o.MaxPerApp == 0 {
		o.MaxPerApp = 10
	}
	r := rand.New(rand.NewPCG(o.Seed, 42))
	var b bytes.Buffer
	b.Grow(o.Clients*400 + o.BigClient*60 + 1024)
	nl, in1, in2, in3 := "", "", "", ""
	if o.Indent {
		nl, in1, in2, in3 = "\n", "  ", "    ", "      "
	}
	fmt.Fprintf(&b, "{%s%s\"environment\": %q,%s%s\"clients\": [", nl, in1, o.Env, nl, in1)
	sample := make([]string, o.Clients)
	first := true
	client := func(id, name string, disabled bool, uris []string) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&b, "%s%s{%s%s\"client_id\": %q,%s%s\"name\": %q", nl, in2, nl, in3, id, nl, in3, name)
		if disabled {
			fmt.Fprintf(&b, ",%s%s\"disabled\": true", nl, in3)
		}
		fmt.Fprintf(&b, ",%s%s\"redirect_uris\": [", nl, in3)
		for j, u := range uris {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(u))
		}
		fmt.Fprintf(&b, "]%s%s}", nl, in2)
	}
	if o.Marker != "" {
		client("MARKER", o.Marker, false, []string{"https://marker.example.com/" + o.Marker})
	}
	uris := make([]string, 0, o.MaxPerApp)
	for i := 0; i < o.Clients; i++ {
		uris = uris[:0]
		n := 1 + r.IntN(o.MaxPerApp)
		for j := 0; j < n; j++ {
			uris = append(uris, genURI(r, o, i, j))
		}
		sample[i] = uris[len(uris)-1]
		disabled := !o.NoDisabled && r.IntN(200) == 0
		client(genClientID(o.IDPrefix, i), "Generated client "+strconv.Itoa(i), disabled, uris)
	}
	if o.BigClient > 0 {
		uris = uris[:0]
		for j := 0; j < o.BigClient; j++ {
			uris = append(uris, "https://big.example.com/t/"+strconv.Itoa(j)+"/callback")
		}
		client("BIG-CLIENT", "A client with many redirect URIs", false, uris)
	}
	fmt.Fprintf(&b, "%s%s]%s}%s", nl, in1, nl, nl)
	return b.Bytes(), sample
}

// writeFile writes data to name in dir and returns its path.
func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGenRegistryLoads(t *testing.T) {
	for _, env := range []policy.Environment{policy.Production, policy.Sandbox} {
		data, sample := genRegistry(genOptions{Clients: 500, BigClient: 200, Seed: 1, Env: env, HostOnly: true, Indent: env == policy.Sandbox})
		p := mustPolicy(t, env)
		s, err := Parse("gen.json", data, p)
		if err != nil {
			t.Fatalf("%s: generated registry does not load: %v", env, err)
		}
		if s.Len() != 501 {
			t.Errorf("%s: Len() = %d, want 501", env, s.Len())
		}
		if got := s.Client("BIG-CLIENT").URIs.Len(); got != 200 {
			t.Errorf("%s: big client has %d URIs, want 200", env, got)
		}
		for i, u := range sample {
			id := genClientID("", i)
			d := s.Decide(id, u)
			want := policy.ExactMatch
			switch c := s.Client(id); {
			case c.Disabled:
				want = policy.ClientDisabled
			case strings.HasPrefix(u, "https://portal"):
				want = policy.HostMatch
			}
			if d.Reason != want {
				t.Fatalf("%s: Decide(%s, %s) = %s (%s), want %s", env, id, u, d.Reason, d.Detail, want)
			}
		}
		if d := s.Decide("BIG-CLIENT", "https://big.example.com/t/199/callback"); d.Reason != policy.ExactMatch {
			t.Errorf("%s: big client decides %s, want exact_match", env, d.Reason)
		}
	}
}
