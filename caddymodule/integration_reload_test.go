package caddymodule_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/caddybin"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/loopback"
)

// reloadWait bounds how long a registry edit may take to be served with a
// reload interval of 100ms: generous, so that a loaded machine does not
// fail the test; it is a deadline, not a measurement.
const reloadWait = 15 * time.Second

// TestIntegrationRegistryReload edits registries under a running Caddy: a
// good edit is served without a restart, a broken one is not (the previous
// registry goes on deciding) and is counted, and fixing it recovers. Both an
// atomic rename and the symbolic-link swap of Kubernetes ConfigMaps are
// picked up.
func TestIntegrationRegistryReload(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	regPath := writeRegistry(t, dir, "clients.json", "production",
		regClient{ClientID: "APP-RL-A", RedirectURIs: []string{"https://a.example/cb"}})

	// A ConfigMap volume: clients.json -> ..data/clients.json, with ..data a
	// symbolic link to a timestamped directory that is swapped atomically.
	cmDir := filepath.Join(dir, "configmap")
	if err := os.MkdirAll(filepath.Join(cmDir, "..2026_01"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeRegistry(t, filepath.Join(cmDir, "..2026_01"), "clients.json", "production",
		regClient{ClientID: "APP-CM-A", RedirectURIs: []string{"https://cm-a.example/cb"}})
	if err := os.Symlink("..2026_01", filepath.Join(cmDir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..data/clients.json", filepath.Join(cmDir, "clients.json")); err != nil {
		t.Fatal(err)
	}

	s := newSite(t, up, "registry "+caddyfileQuote(regPath), "environment production", "name itrl", "reload_interval 100ms")
	cm := newSite(t, up, "registry "+caddyfileQuote(filepath.Join(cmDir, "clients.json")), "environment production", "name itrl-cm", "reload_interval 100ms")
	startCaddy(t, s, cm)

	policy := labels{"policy": "itrl"}
	reloads := func(m metricsSnapshot, result string) float64 {
		v, _ := m.value(mReloads, labels{"policy": "itrl", "result": result})
		return v
	}
	gauge := func(m metricsSnapshot, name string) float64 {
		v, ok := m.value(name, policy)
		if !ok {
			t.Fatalf("%s%s is missing", name, policy.key())
		}
		return v
	}
	// decides fails t unless a request of client with uri gets the reason.
	decides := func(what, client, uri, reason string) {
		t.Helper()
		n := up.count()
		target := authorize(client, uri)
		res := get(t, s.addr(), target)
		if strings.HasSuffix(reason, "_match") {
			checkSameTarget(t, what, checkForwarded(t, what, res, up, n), target)
		} else {
			checkRejected(t, what, res, reason, up, n)
		}
	}
	// allowedSoon polls until client may use uri.
	allowedSoon := func(what, client, uri string) {
		t.Helper()
		waitFor(t, what, reloadWait, func() bool {
			n := up.count()
			res := get(t, s.addr(), authorize(client, uri))
			return res.Status == 200 && len(up.since(n)) == 1
		})
	}

	start := scrape(t)
	if v := gauge(start, mRegistryClients); v != 1 {
		t.Errorf("registry_clients = %v, want 1", v)
	}
	if v := gauge(start, mLastReloadOK); v != 1 {
		t.Errorf("registry_last_reload_successful = %v, want 1", v)
	}
	loadedAt := gauge(start, mLastSuccess)
	if loadedAt < float64(time.Now().Add(-time.Hour).Unix()) {
		t.Errorf("registry_last_success_timestamp_seconds = %v, not a recent time", loadedAt)
	}
	decides("before the edit", "APP-RL-B", "https://b.example/cb", "unknown_client")
	decides("before the edit", "APP-RL-A", "https://a.example/cb", "exact_match")

	// 1. A good edit, by atomic rename: served without a restart.
	writeAtomic(t, regPath, registryJSON(t, "production",
		regClient{ClientID: "APP-RL-A", RedirectURIs: []string{"https://a.example/cb"}},
		regClient{ClientID: "APP-RL-B", RedirectURIs: []string{"https://b.example/cb"}}))
	allowedSoon("client B added", "APP-RL-B", "https://b.example/cb")
	afterAdd := scrape(t)
	if d := reloads(afterAdd, "success") - reloads(start, "success"); d != 1 {
		t.Errorf("successful reloads counted %v, want 1", d)
	}
	if d := reloads(afterAdd, "failure") - reloads(start, "failure"); d != 0 {
		t.Errorf("failed reloads counted %v, want 0", d)
	}
	if v := gauge(afterAdd, mRegistryClients); v != 2 {
		t.Errorf("registry_clients = %v, want 2", v)
	}
	if v := gauge(afterAdd, mLastSuccess); v < loadedAt {
		t.Errorf("registry_last_success_timestamp_seconds went back from %v to %v", loadedAt, v)
	}

	// 2. A broken edit: a file cut off half way, as a failed copy leaves
	// it. The previous registry goes on deciding.
	good := registryJSON(t, "production",
		regClient{ClientID: "APP-RL-B", RedirectURIs: []string{"https://b.example/cb"}},
		regClient{ClientID: "APP-RL-C", RedirectURIs: []string{"https://c.example/cb"}})
	writeAtomic(t, regPath, good[:len(good)/2])
	var broken metricsSnapshot
	waitFor(t, "the broken edit is counted", reloadWait, func() bool {
		broken = scrape(t)
		return reloads(broken, "failure")-reloads(afterAdd, "failure") >= 1
	})
	if v := gauge(broken, mLastReloadOK); v != 0 {
		t.Errorf("registry_last_reload_successful = %v after a broken edit, want 0", v)
	}
	decides("after the broken edit", "APP-RL-A", "https://a.example/cb", "exact_match")
	decides("after the broken edit", "APP-RL-B", "https://b.example/cb", "exact_match")
	decides("after the broken edit", "APP-RL-C", "https://c.example/cb", "unknown_client")
	decides("after the broken edit", "APP-RL-A", "https://evil.example/cb", "redirect_uri_not_registered")
	// The same broken file is counted once, however often it is polled.
	time.Sleep(500 * time.Millisecond)
	stillBroken := scrape(t)
	if d := reloads(stillBroken, "failure") - reloads(afterAdd, "failure"); d != 1 {
		t.Errorf("failed reloads counted %v for one broken edit, want 1", d)
	}
	if d := reloads(stillBroken, "success") - reloads(afterAdd, "success"); d != 0 {
		t.Errorf("successful reloads counted %v for a broken edit, want 0", d)
	}
	if v := gauge(stillBroken, mRegistryClients); v != 2 {
		t.Errorf("registry_clients = %v while the old registry serves, want 2", v)
	}

	// An empty file is an error too, never an empty registry.
	writeAtomic(t, regPath, nil)
	waitFor(t, "the empty file is counted", reloadWait, func() bool {
		return reloads(scrape(t), "failure")-reloads(afterAdd, "failure") >= 2
	})
	decides("after the empty file", "APP-RL-A", "https://a.example/cb", "exact_match")

	// 3. Fixed: served, and the gauge comes back to 1.
	writeAtomic(t, regPath, good)
	allowedSoon("client C added by the fix", "APP-RL-C", "https://c.example/cb")
	fixed := scrape(t)
	if v := gauge(fixed, mLastReloadOK); v != 1 {
		t.Errorf("registry_last_reload_successful = %v after the fix, want 1", v)
	}
	if d := reloads(fixed, "success") - reloads(start, "success"); d != 2 {
		t.Errorf("successful reloads counted %v in all, want 2", d)
	}
	decides("after the fix", "APP-RL-A", "https://a.example/cb", "unknown_client")
	decides("after the fix", "APP-RL-B", "https://b.example/cb", "exact_match")

	// A Caddy config reload in between (one more site, so that Caddy does
	// not skip it as unchanged): the registry is not re-read, and the next
	// edit is counted once, not once per config that ever loaded it.
	startCaddy(t, s, cm, newSite(t, up, "registry "+caddyfileQuote(regPath), "environment production", "name itrl-other", "reload_interval 100ms"))
	beforeEdit := scrape(t)
	decides("after a config reload", "APP-RL-C", "https://c.example/cb", "exact_match")
	writeAtomic(t, regPath, registryJSON(t, "production",
		regClient{ClientID: "APP-RL-B", RedirectURIs: []string{"https://b.example/cb"}},
		regClient{ClientID: "APP-RL-C", RedirectURIs: []string{"https://c.example/cb"}},
		regClient{ClientID: "APP-RL-D", RedirectURIs: []string{"https://d.example/cb"}}))
	allowedSoon("client D added after a config reload", "APP-RL-D", "https://d.example/cb")
	time.Sleep(300 * time.Millisecond)
	afterEdit := scrape(t)
	if d := reloads(afterEdit, "success") - reloads(beforeEdit, "success"); d != 1 {
		t.Errorf("one edit after a config reload counted as %v successful reloads, want 1", d)
	}
	if v := gauge(afterEdit, mRegistryClients); v != 3 {
		t.Errorf("registry_clients = %v, want 3", v)
	}

	// The file removed, then put back as it was (a non-atomic copy caught
	// half way): the removal is a failure; once the same file is back the
	// registry serving is the file's again, and the gauge says so.
	current, err := os.ReadFile(regPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(regPath); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the removal is counted", reloadWait, func() bool {
		return reloads(scrape(t), "failure")-reloads(afterEdit, "failure") >= 1
	})
	decides("while the file is missing", "APP-RL-D", "https://d.example/cb", "exact_match")
	writeAtomic(t, regPath, current)
	waitFor(t, "registry_last_reload_successful is 1 again once the same file is back", reloadWait, func() bool {
		return gauge(scrape(t), mLastReloadOK) == 1
	})
	decides("after the file is back", "APP-RL-D", "https://d.example/cb", "exact_match")

	// 4. The ConfigMap swap: a new timestamped directory, then ..data
	// replaced by a rename of a new link.
	if err := os.MkdirAll(filepath.Join(cmDir, "..2026_02"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeRegistry(t, filepath.Join(cmDir, "..2026_02"), "clients.json", "production",
		regClient{ClientID: "APP-CM-B", RedirectURIs: []string{"https://cm-b.example/cb"}})
	n := up.count()
	checkRejected(t, "configmap before the swap", get(t, cm.addr(), authorize("APP-CM-B", "https://cm-b.example/cb")), "unknown_client", up, n)
	if err := os.Symlink("..2026_02", filepath.Join(cmDir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(cmDir, "..data_tmp"), filepath.Join(cmDir, "..data")); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(cmDir, "..2026_01"))
	waitFor(t, "the ConfigMap swap is served", reloadWait, func() bool {
		n := up.count()
		res := get(t, cm.addr(), authorize("APP-CM-B", "https://cm-b.example/cb"))
		return res.Status == 200 && len(up.since(n)) == 1
	})
	n = up.count()
	checkRejected(t, "configmap after the swap", get(t, cm.addr(), authorize("APP-CM-A", "https://cm-a.example/cb")), "unknown_client", up, n)
	if v, _ := scrape(t).value(mLastReloadOK, labels{"policy": "itrl-cm"}); v != 1 {
		t.Errorf("registry_last_reload_successful{policy=itrl-cm} = %v, want 1", v)
	}
}

// brokenRegistry has an unknown field ("redirect_uri" for "redirect_uris")
// at line 6, column 7.
const brokenRegistry = `{
  "environment": "production",
  "clients": [
    {
      "client_id": "APP-V-1",
      "redirect_uri": ["https://app.example/cb"]
    }
  ]
}
`

// badURIRegistry registers an http URI in production: the string at line
// 7, column 9.
const badURIRegistry = `{
  "environment": "production",
  "clients": [
    {
      "client_id": "APP-V-2",
      "redirect_uris": [
        "http://app.example/cb"
      ]
    }
  ]
}
`

func policyCaddyfile(port int, registry, env string) string {
	return globalOptions + "\nhttp://127.0.0.1:" + itoa(port) + " {\n\tbind 127.0.0.1\n\tredirect_uri_policy {\n\t\tregistry " +
		caddyfileQuote(registry) + "\n\t\tenvironment " + env + "\n\t}\n\trespond \"ok\"\n}\n"
}

// TestIntegrationValidate runs `caddy validate` of a real binary on configs
// whose registry does and does not load.
func TestIntegrationValidate(t *testing.T) {
	bin := caddybin.Path(t)
	dir := t.TempDir()
	validate := func(name, registryText, env string) (string, error) {
		t.Helper()
		sub := filepath.Join(dir, name)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		reg := filepath.Join(sub, "clients.json")
		if err := os.WriteFile(reg, []byte(registryText), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := filepath.Join(sub, "Caddyfile")
		if err := os.WriteFile(cfg, []byte(policyCaddyfile(loopback.Port(t), reg, env)), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "validate", "--config", cfg, "--adapter", "caddyfile")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}

	for _, c := range []struct {
		name, registry, env, want string
	}{
		{"unknown-field", brokenRegistry, "production", "clients.json:6:7"},
		{"http-in-production", badURIRegistry, "production", "clients.json:7:9"},
		{"wrong-environment", string(registryJSON(t, "sandbox", regClient{ClientID: "APP-V-3"})), "production", "clients.json:2:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := validate(c.name, c.registry, c.env)
			if err == nil {
				t.Fatalf("caddy validate succeeded on a broken registry:\n%s", out)
			}
			if _, ok := err.(*exec.ExitError); !ok {
				t.Fatalf("caddy validate did not run: %v", err)
			}
			if !strings.Contains(out, c.want) {
				t.Errorf("caddy validate output does not contain %q:\n%s", c.want, out)
			}
			if !strings.Contains(out, filepath.Join(dir, c.name, "clients.json")) {
				t.Errorf("caddy validate output does not name the registry file:\n%s", out)
			}
		})
	}
	t.Run("good", func(t *testing.T) {
		out, err := validate("good", string(registryJSON(t, "production",
			regClient{ClientID: "APP-V-4", RedirectURIs: []string{"https://app.example/cb"}})), "production")
		if err != nil {
			t.Fatalf("caddy validate: %v\n%s", err, out)
		}
		if !strings.Contains(out, "Valid configuration") {
			t.Errorf("caddy validate output: %s", out)
		}
	})
	t.Run("example", func(t *testing.T) {
		// The demo Caddyfile of the repository, with its registries.
		cmd := exec.Command(bin, "validate", "--config", "Caddyfile.example", "--adapter", "caddyfile")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("caddy validate Caddyfile.example: %v\n%s", err, out)
		}
	})
}

// TestIntegrationLoadError loads configs with broken registries through
// the harness: the load fails naming the file, line and column, and the
// running config is left alone.
func TestIntegrationLoadError(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	reg := writeRegistry(t, dir, "good.json", "production",
		regClient{ClientID: "APP-LE", RedirectURIs: []string{"https://app.example/cb"}})
	s := newSite(t, up, "registry "+caddyfileQuote(reg), "environment production", "name itle")
	startCaddy(t, s)

	broken := filepath.Join(dir, "clients.json")
	if err := os.WriteFile(broken, []byte(brokenRegistry), 0o644); err != nil {
		t.Fatal(err)
	}
	assertLoadError(t, policyCaddyfile(loopback.Port(t), broken, "production"), broken+":6:7", "unknown field")

	// A corpus case of a registry error: loopback in production.
	loop := writeRegistry(t, dir, "loopback.json", "production",
		regClient{ClientID: "APP-LOOP", RedirectURIs: []string{"https://localhost/cb"}})
	assertLoadError(t, policyCaddyfile(loopback.Port(t), loop, "production"), loop+":")

	// A missing registry file.
	assertLoadError(t, policyCaddyfile(loopback.Port(t), filepath.Join(dir, "missing.json"), "production"), "missing.json")

	// The config that was running still runs.
	n := up.count()
	target := authorize("APP-LE", "https://app.example/cb")
	checkSameTarget(t, "after failed loads", checkForwarded(t, "after failed loads", get(t, s.addr(), target), up, n), target)
	n = up.count()
	checkRejected(t, "after failed loads", get(t, s.addr(), authorize("APP-LE", "https://evil.example/cb")), "redirect_uri_not_registered", up, n)
}
