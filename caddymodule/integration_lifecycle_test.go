package caddymodule_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIntegrationPolicyLifecycle follows one policy's registry metrics and
// log lines through its life: reload counters exist at 0 from the start, a
// failed reload is logged with its file:line:column message, a config
// reload that moves the policy to another file keeps its gauges, and a
// config without the policy drops them, so that no stale value (a stale 0
// would keep an alert firing) outlives it.
func TestIntegrationPolicyLifecycle(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	regA := writeRegistry(t, dir, "a.json", "production",
		regClient{ClientID: "APP-LC-A", RedirectURIs: []string{"https://a.example/cb"}})
	regB := writeRegistry(t, dir, "b.json", "production",
		regClient{ClientID: "APP-LC-B1", RedirectURIs: []string{"https://b.example/cb"}},
		regClient{ClientID: "APP-LC-B2", RedirectURIs: []string{"https://b.example/cb2"}})
	logFile := filepath.Join(dir, "policy.log")
	logGlobals := "\tlog policy {\n\t\toutput file " + caddyfileQuote(logFile) + "\n\t\tformat json\n\t\tinclude http.handlers.redirect_uri_policy\n\t}"
	policy := labels{"policy": "itlc"}

	s := newSite(t, up, "registry "+caddyfileQuote(regA), "environment production", "name itlc", "reload_interval 100ms")
	startCaddyWith(t, logGlobals, s)
	start := scrape(t)
	for _, result := range []string{"success", "failure"} {
		if v, ok := start.value(mReloads, labels{"policy": "itlc", "result": result}); !ok || v != 0 {
			t.Errorf("%s{result=%q} = %v (present %v), want 0 from the start", mReloads, result, v, ok)
		}
	}

	// A broken edit is counted and logged at error level with the problem.
	if err := os.WriteFile(regA, []byte("{\n  \"clients\": [\n    {\"client_id\": \"APP-LC-A\", \"redirect_uris\": [\"http://a.example/cb\"]}\n  ]\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logged map[string]any
	waitFor(t, "the failed reload is logged", reloadWait, func() bool {
		data, _ := os.ReadFile(logFile)
		for _, l := range strings.Split(string(data), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "registry reload failed; the previous registry goes on serving" {
				logged = m
				return true
			}
		}
		return false
	})
	// The error is one line; its problems are a list, one entry each.
	problems, _ := logged["problems"].([]any)
	if logged["level"] != "error" || logged["policy"] != "itlc" || logged["registry"] != regA ||
		logged["error"] != "registry "+regA+": 1 problem(s)" || len(problems) != 1 ||
		!strings.Contains(problems[0].(string), "a.json:3:49: client \"APP-LC-A\" redirect_uris[0] \"http://a.example/cb\": production requires https") {
		t.Errorf("failed reload log entry %v", logged)
	}
	if v, _ := scrape(t).value(mLastReloadOK, policy); v != 0 {
		t.Errorf("registry_last_reload_successful = %v after a broken edit, want 0", v)
	}

	// The same policy, now on another file: its gauges follow the new file
	// and survive the end of the old handler.
	s.policy = strings.Replace(s.policy, caddyfileQuote(regA), caddyfileQuote(regB), 1)
	startCaddyWith(t, logGlobals, s)
	moved := scrape(t)
	if v, ok := moved.value(mRegistryClients, policy); !ok || v != 2 {
		t.Errorf("registry_clients = %v (present %v) after moving the policy to a 2-client file, want 2", v, ok)
	}
	if v, ok := moved.value(mLastReloadOK, policy); !ok || v != 1 {
		t.Errorf("registry_last_reload_successful = %v (present %v) after moving to a good file, want 1", v, ok)
	}

	// A config without the policy drops its gauges.
	other := newSite(t, up, "registry "+caddyfileQuote(regB), "environment production", "name itlc-other")
	startCaddyWith(t, logGlobals, other)
	gone := scrape(t)
	for _, name := range []string{mRegistryClients, mRegistryURIs, mLastReloadOK, mLastSuccess} {
		if v, ok := gone.value(name, policy); ok {
			t.Errorf("%s%s = %v is still exported after the policy left the config", name, policy.key(), v)
		}
	}
	if v, ok := gone.value(mRegistryClients, labels{"policy": "itlc-other"}); !ok || v != 2 {
		t.Errorf("registry_clients of the remaining policy = %v (present %v), want 2", v, ok)
	}
}
