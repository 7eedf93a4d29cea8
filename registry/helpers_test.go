package registry

import (
	"testing"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

func mustPolicy(t testing.TB, env policy.Environment) *policy.Policy {
	t.Helper()
	p, err := policy.New(policy.Options{Environment: env})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
