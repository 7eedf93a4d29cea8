package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/bench"
)

// Kind is what sits in front of the upstream in a configuration.
type Kind string

const (
	KindProxy      Kind = "proxy"      // plain reverse_proxy
	KindModule     Kind = "module"     // redirect_uri_policy, then reverse_proxy
	KindExpression Kind = "expression" // expression matcher over an inline list
)

// Group says which chart colour and which comparison a config belongs to.
type Group string

const (
	GroupBaseline   Group = "baseline"
	GroupModule     Group = "module"
	GroupExpression Group = "expression"
	GroupReload     Group = "reload"
)

// Config is one configuration measured in every round.
type Config struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	Kind  Kind   `json:"kind"`
	Group Group  `json:"group"`
	// Clients is the size of a generated registry (module configs with an
	// ordinary registry); ListURIs the size of the allow-list (one client
	// holding them, or the expression's inline list).
	Clients  int `json:"clients,omitempty"`
	ListURIs int `json:"list_uris,omitempty"`
	// Target is the request target; ExpectStatus and ExpectBody what every
	// response must be (a body of "" is not checked).
	Target       string `json:"target"`
	ExpectStatus int    `json:"expect_status"`
	ExpectBody   string `json:"expect_body,omitempty"`
	// ReloadInterval of the module; Reloading makes the harness rewrite
	// the registry file 10 times a second while it is measured.
	ReloadInterval time.Duration `json:"reload_interval,omitempty"`
	Reloading      bool          `json:"reloading,omitempty"`
	// Slow configs run in fewer rounds (-slow-rounds).
	Slow bool `json:"slow,omitempty"`
	// Baseline names the config this one is compared with, round by round.
	Baseline string `json:"baseline,omitempty"`
}

// Plan returns the configurations of a run: registries of the given
// client counts and allow-lists of the given sizes. The first registry
// size that is not in registrySizes is the one of the main module configs.
func Plan(mainClients int, registrySizes, listSizes []int, slowFrom int) []Config {
	allowed := bench.AuthorizeTarget(bench.BenchClientID, bench.BenchCallback)
	cs := []Config{
		{Name: "proxy", Title: "reverse_proxy alone", Kind: KindProxy, Group: GroupBaseline,
			Target: allowed, ExpectStatus: 200, ExpectBody: upstreamBody},
		{Name: "module", Title: fmt.Sprintf("module, allowed (%s clients)", count(mainClients)), Kind: KindModule, Group: GroupModule,
			Clients: mainClients, Target: allowed, ExpectStatus: 200, ExpectBody: upstreamBody, Baseline: "proxy"},
		{Name: "module-rejected", Title: "module, rejected (not registered)", Kind: KindModule, Group: GroupModule,
			Clients: mainClients, Target: bench.AuthorizeTarget(bench.BenchClientID, bench.EvilCallback), ExpectStatus: 400,
			Baseline: "proxy"},
	}
	for _, n := range listSizes {
		target := bench.AuthorizeTarget(bench.ListClientID, bench.ListURIs(n)[n-1])
		cs = append(cs,
			Config{Name: "expression-" + count(n), Title: "expression matcher, " + count(n) + " URIs", Kind: KindExpression,
				Group: GroupExpression, ListURIs: n, Target: target, ExpectStatus: 200, ExpectBody: upstreamBody, Baseline: "proxy"},
			Config{Name: "module-list-" + count(n), Title: "module, 1 client with " + count(n) + " URIs", Kind: KindModule,
				Group: GroupModule, ListURIs: n, Target: target, ExpectStatus: 200, ExpectBody: upstreamBody,
				Baseline: "expression-" + count(n)})
	}
	for _, n := range registrySizes {
		cs = append(cs, Config{Name: "module-clients-" + count(n), Title: "module, " + count(n) + " clients", Kind: KindModule,
			Group: GroupModule, Clients: n, Target: allowed, ExpectStatus: 200, ExpectBody: upstreamBody,
			Baseline: "module", Slow: n >= slowFrom})
	}
	cs = append(cs, Config{Name: "module-reloading", Title: "module, registry rewritten 10/s", Kind: KindModule, Group: GroupReload,
		Clients: mainClients, Target: allowed, ExpectStatus: 200, ExpectBody: upstreamBody,
		ReloadInterval: 100 * time.Millisecond, Reloading: true, Slow: true, Baseline: "module"})
	return cs
}

// count writes n the short way: 100, 10k, 100k.
func count(n int) string {
	if n >= 1000 && n%1000 == 0 {
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

// upstreamBody is what the upstream answers to every request.
const upstreamBody = "ok"

// CaddyfileParams are the addresses and files of one Caddy run.
type CaddyfileParams struct {
	Port      int
	AdminPort int
	Upstream  string // host:port
	Registry  string // registry file, module configs only
}

// Caddyfile returns the Caddyfile of c.
func Caddyfile(c Config, p CaddyfileParams) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{\n\tadmin 127.0.0.1:%d\n\tpersist_config off\n\tauto_https off\n\tdefault_bind 127.0.0.1\n\tgrace_period 2s\n}\n\n", p.AdminPort)
	fmt.Fprintf(&b, ":%d {\n", p.Port)
	switch c.Kind {
	case KindModule:
		b.WriteString("\tredirect_uri_policy {\n")
		fmt.Fprintf(&b, "\t\tregistry %s\n", p.Registry)
		b.WriteString("\t\tenvironment production\n")
		if c.ReloadInterval > 0 {
			fmt.Fprintf(&b, "\t\treload_interval %s\n", c.ReloadInterval)
		}
		b.WriteString("\t}\n")
		fmt.Fprintf(&b, "\treverse_proxy %s\n", p.Upstream)
	case KindExpression:
		b.WriteString("\t@allowed expression `{query.redirect_uri} in [")
		for i, u := range bench.ListURIs(c.ListURIs) {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(u))
		}
		b.WriteString("]`\n")
		fmt.Fprintf(&b, "\thandle @allowed {\n\t\treverse_proxy %s\n\t}\n", p.Upstream)
		b.WriteString("\trespond 400\n")
	default:
		fmt.Fprintf(&b, "\treverse_proxy %s\n", p.Upstream)
	}
	b.WriteString("}\n")
	return b.String()
}

// Registry returns the registry file content of a module config (nil for
// the others). Reloading configs alternate between variant 0 and 1: both
// valid, both with the benchmark client, different elsewhere.
func Registry(c Config, variant int) []byte {
	switch {
	case c.Kind != KindModule:
		return nil
	case c.ListURIs > 0:
		return bench.RegistryJSON([]bench.Client{bench.ListClient(c.ListURIs)})
	default:
		return bench.RegistryJSON(bench.Clients(c.Clients, uint64(1+variant)))
	}
}

// roundsOf returns the rounds (0-based) in which a config runs: all of
// them, or, for a slow config, slow rounds spread evenly over them.
func roundsOf(c Config, rounds, slow int) []int {
	if !c.Slow || slow >= rounds {
		slow = rounds
	}
	if slow < 1 {
		slow = 1
	}
	out := make([]int, 0, slow)
	for i := 0; i < slow; i++ {
		r := 0
		if slow > 1 {
			r = (i*(rounds-1) + (slow-1)/2) / (slow - 1)
		}
		out = append(out, r)
	}
	return out
}

// Schedule returns, for each round, the configs run in it, the order
// rotated by one each round so that no config always runs first or last.
func Schedule(cs []Config, rounds, slow int) [][]Config {
	in := make([]map[int]bool, len(cs))
	for i, c := range cs {
		in[i] = map[int]bool{}
		for _, r := range roundsOf(c, rounds, slow) {
			in[i][r] = true
		}
	}
	out := make([][]Config, rounds)
	for r := 0; r < rounds; r++ {
		for k := range cs {
			i := (k + r) % len(cs)
			if in[i][r] {
				out[r] = append(out[r], cs[i])
			}
		}
	}
	return out
}
