// Package caddybin gives tests a Caddy binary with the redirect URI policy
// module built in, so that they can run it as operators do.
package caddybin

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
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

// ErrExited is what WaitReady returns when the process exits first.
var ErrExited = errors.New("caddy exited")

// WaitReady polls path on each of sites until it answers 200 OK. It gives
// up when exited closes (the process ended: ErrExited) or after timeout.
func WaitReady(sites []string, path string, exited <-chan struct{}, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for _, site := range sites {
		for {
			resp, err := client.Get(site + path)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-exited:
				return ErrExited
			default:
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("caddy did not answer at %s: %v", site, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}
