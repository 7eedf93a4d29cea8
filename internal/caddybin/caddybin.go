// Package caddybin gives tests a Caddy binary with the redirect URI policy
// module built in, so that they can run it as operators do.
package caddybin

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// EnvVar names a prebuilt binary to use instead of building one; CI builds
// the binary once and shares it between packages this way.
const EnvVar = "REDIRECT_URI_POLICY_CADDY"

var (
	once  sync.Once
	path  string
	built error
)

// Env returns the environment for a Caddy process that keeps its home,
// autosaved config and data under dir: Caddy writes them at start-up, and
// a test must neither leave them behind nor share them with another.
func Env(dir string) []string {
	return append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_DATA_HOME="+filepath.Join(dir, "data"))
}

// Path returns the path of the binary, building ./cmd/caddy once per test
// process when EnvVar is not set.
func Path(tb testing.TB) string {
	tb.Helper()
	once.Do(func() {
		if p := os.Getenv(EnvVar); p != "" {
			path, built = filepath.Abs(p)
			return
		}
		dir, err := os.MkdirTemp("", "caddybin")
		if err != nil {
			built = err
			return
		}
		path = filepath.Join(dir, "caddy")
		cmd := exec.Command("go", "build", "-o", path, "github.com/redirect-uri-policy/caddy-redirect-uri-policy/cmd/caddy")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		built = cmd.Run()
	})
	if built != nil {
		tb.Fatalf("building the caddy binary: %v", built)
	}
	if _, err := os.Stat(path); err != nil {
		tb.Fatalf("caddy binary: %v", err)
	}
	return path
}
