package policy

import "fmt"

// Environment selects the rules a policy enforces on top of the common syntax
// rules: production accepts only https and no loopback hosts; sandbox accepts
// http, loopback hosts on any port and clients without registered URIs.
type Environment string

// The environments.
const (
	Sandbox    Environment = "sandbox"
	Production Environment = "production"
)

// ParseEnvironment returns the environment named s.
func ParseEnvironment(s string) (Environment, error) {
	switch e := Environment(s); e {
	case Sandbox, Production:
		return e, nil
	}
	return "", fmt.Errorf("unknown environment %q: want %q or %q", s, Sandbox, Production)
}

// MatchMode selects how a registered full URI matches a requested one.
type MatchMode string

// The match modes.
const (
	// MatchExact compares path and query byte for byte.
	MatchExact MatchMode = "exact"
	// MatchPrefix also accepts longer paths at a segment boundary and
	// ignores the query, as some authorization servers do.
	MatchPrefix MatchMode = "prefix"
)

// ParseMatchMode returns the match mode named s.
func ParseMatchMode(s string) (MatchMode, error) {
	switch m := MatchMode(s); m {
	case MatchExact, MatchPrefix:
		return m, nil
	}
	return "", fmt.Errorf("unknown match mode %q: want %q or %q", s, MatchExact, MatchPrefix)
}
