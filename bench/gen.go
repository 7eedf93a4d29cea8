// Package bench holds what the benchmarks of the redirect URI policy share:
// generators of registry files of realistic shape (the registry package's
// generator is test-only) and the benchmark of Caddy's expression matcher
// that users compare the module with. The load harness is in
// bench/loadharness.
package bench

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
)

// The client every load-test request names, and its registered callback.
// It sits in the middle of every generated production registry.
const (
	BenchClientID    = "APP-BENCH00000000001"
	BenchCallback    = "https://library.bench.example.edu/orcid/callback"
	EvilCallback     = "https://evil.example/cb"
	ListClientID     = "APP-LIST000000000001"
	AuthorizePath    = "/oauth/authorize"
	benchClientName  = "Benchmark client"
	listClientPrefix = "https://tenant"
)

// Client is one entry of a generated registry.
type Client struct {
	ID   string
	Name string
	URIs []string
}

// ClientID returns the id of ordinary client i of a generated registry.
func ClientID(i int) string {
	return fmt.Sprintf("APP-%016X", uint64(i)*0x9E3779B97F4A7C15)
}

// Clients returns n production clients, the benchmark client among them
// (at position n/2), each of the others with 1 to 10 redirect URIs: mostly
// exact https callbacks, some with a query or a port. The same n and seed
// give the same clients.
func Clients(n int, seed uint64) []Client {
	r := rand.New(rand.NewPCG(seed, 7))
	cs := make([]Client, n)
	for i := range cs {
		if i == n/2 {
			cs[i] = Client{ID: BenchClientID, Name: benchClientName, URIs: []string{
				"https://library.bench.example.edu",
				BenchCallback,
				"https://library.bench.example.edu/orcid/callback?step=2",
			}}
			continue
		}
		host := "app" + strconv.Itoa(i) + ".tenant" + strconv.Itoa(i%997) + ".example.edu"
		k := 1 + r.IntN(10)
		uris := make([]string, k)
		for j := range uris {
			switch v := r.IntN(100); {
			case v < 20:
				uris[j] = "https://" + host + "/orcid/callback?tenant=" + strconv.Itoa(i) + "&step=" + strconv.Itoa(j)
			case v < 25:
				uris[j] = "https://" + host + ":8443/oauth2/callback/" + strconv.Itoa(j)
			default:
				uris[j] = "https://" + host + "/auth/orcid/callback/" + strconv.Itoa(j)
			}
		}
		cs[i] = Client{ID: ClientID(i), Name: "Generated client " + strconv.Itoa(i), URIs: uris}
	}
	return cs
}

// ListURIs returns the n redirect URIs of the list client: the allow-list
// that the expression matcher comparison writes inline.
func ListURIs(n int) []string {
	uris := make([]string, n)
	for i := range uris {
		uris[i] = listClientPrefix + strconv.Itoa(i) + ".example.edu/orcid/callback"
	}
	return uris
}

// ListClient is the only client of the list registries: one client holding
// all of ListURIs(n).
func ListClient(n int) Client {
	return Client{ID: ListClientID, Name: "List client", URIs: ListURIs(n)}
}

// RegistryJSON encodes clients as a production registry file.
func RegistryJSON(clients []Client) []byte {
	var b bytes.Buffer
	b.Grow(len(clients)*300 + 64)
	b.WriteString("{\"environment\": \"production\", \"clients\": [")
	for i, c := range clients {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n{\"client_id\": ")
		b.WriteString(strconv.Quote(c.ID))
		b.WriteString(", \"name\": ")
		b.WriteString(strconv.Quote(c.Name))
		b.WriteString(", \"redirect_uris\": [")
		for j, u := range c.URIs {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(u))
		}
		b.WriteString("]}")
	}
	b.WriteString("\n]}\n")
	return b.Bytes()
}

// AuthorizeTarget returns the request target of an authorize request, the
// way a browser sends it: the redirect URI percent-encoded.
func AuthorizeTarget(clientID, redirectURI string) string {
	return AuthorizePath + "?client_id=" + clientID +
		"&response_type=code&scope=%2Fauthenticate&redirect_uri=" + queryEscape(redirectURI) +
		"&state=af0ifjsldkj"
}

// queryEscape escapes s the way browsers and url.QueryEscape do for the
// characters of generated URIs.
func queryEscape(s string) string {
	var b []byte
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b = append(b, c)
		default:
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}
