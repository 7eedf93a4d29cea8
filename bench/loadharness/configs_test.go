package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/bench"
	_ "github.com/redirect-uri-policy/caddy-redirect-uri-policy/caddymodule"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
)

func testPlan() []Config {
	return Plan(1000, []int{100, 10000, 100000}, []int{10, 100, 1000}, 100000)
}

func TestPlanNamesAndBaselines(t *testing.T) {
	cs := testPlan()
	want := []string{"proxy", "module", "module-rejected",
		"expression-10", "module-list-10", "expression-100", "module-list-100", "expression-1k", "module-list-1k",
		"module-clients-100", "module-clients-10k", "module-clients-100k", "module-reloading"}
	var got []string
	names := map[string]bool{}
	for _, c := range cs {
		got = append(got, c.Name)
		names[c.Name] = true
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("plan\n got %v\nwant %v", got, want)
	}
	for _, c := range cs {
		if c.Baseline != "" && !names[c.Baseline] {
			t.Errorf("%s: baseline %q is not in the plan", c.Name, c.Baseline)
		}
		if c.ExpectStatus != 200 && c.ExpectStatus != 400 {
			t.Errorf("%s: expects %d", c.Name, c.ExpectStatus)
		}
		slow := c.Name == "module-clients-100k" || c.Name == "module-reloading"
		if c.Slow != slow {
			t.Errorf("%s: Slow = %v", c.Name, c.Slow)
		}
	}
	if c := cs[2]; c.ExpectStatus != 400 || c.ExpectBody != "" || !strings.Contains(c.Target, "evil.example") {
		t.Errorf("rejected config: %+v", c)
	}
}

// adapt turns a generated Caddyfile into Caddy's JSON, as `caddy run
// --adapter caddyfile` does.
func adapt(t *testing.T, cf string) string {
	t.Helper()
	js, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil)
	if err != nil {
		t.Fatalf("adapting:\n%s\n%v", cf, err)
	}
	for _, w := range warnings {
		t.Errorf("adapter warning: %s", w.Message)
	}
	return string(js)
}

func TestCaddyfilesAdapt(t *testing.T) {
	p := CaddyfileParams{Port: 18080, AdminPort: 12019, Upstream: "127.0.0.1:19090", Registry: "/etc/caddy/reg.json"}
	for _, c := range testPlan() {
		js := adapt(t, Caddyfile(c, p))
		var cfg struct {
			Admin struct{ Listen string } `json:"admin"`
		}
		if err := json.Unmarshal([]byte(js), &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.Admin.Listen != "127.0.0.1:12019" {
			t.Errorf("%s: admin listens on %q", c.Name, cfg.Admin.Listen)
		}
		for _, want := range []string{`"listen":["127.0.0.1:18080"]`, `"dial":"127.0.0.1:19090"`, `"automatic_https":{"disable":true}`} {
			if !strings.Contains(js, want) {
				t.Errorf("%s: JSON lacks %s:\n%s", c.Name, want, js)
			}
		}
		hasModule := strings.Contains(js, `"handler":"redirect_uri_policy"`)
		if hasModule != (c.Kind == KindModule) {
			t.Errorf("%s: redirect_uri_policy handler present = %v", c.Name, hasModule)
		}
		switch c.Kind {
		case KindModule:
			if !strings.Contains(js, `"registry":"/etc/caddy/reg.json"`) || !strings.Contains(js, `"environment":"production"`) {
				t.Errorf("%s: module config: %s", c.Name, js)
			}
			if c.Reloading != strings.Contains(js, `"reload_interval":100000000`) {
				t.Errorf("%s: reload_interval: %s", c.Name, js)
			}
		case KindExpression:
			last := bench.ListURIs(c.ListURIs)[c.ListURIs-1]
			for _, want := range []string{"{http.request.uri.query.redirect_uri} in [", strconvQuoteJSON(last), `"status_code":400`} {
				if !strings.Contains(js, want) {
					t.Errorf("%s: JSON lacks %s", c.Name, want)
				}
			}
		}
		if c.Kind != KindExpression && strings.Contains(js, "expression") {
			t.Errorf("%s: unexpected expression matcher", c.Name)
		}
	}
}

// strconvQuoteJSON is how a URI quoted in the CEL list appears inside the
// JSON string of the expression.
func strconvQuoteJSON(s string) string { return `\"` + s + `\"` }

func TestRegistriesLoadAndDecide(t *testing.T) {
	p, err := policy.New(policy.Options{Environment: policy.Production})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Plan(300, []int{50}, []int{1, 10}, 100000) {
		if c.Kind != KindModule {
			if Registry(c, 0) != nil {
				t.Errorf("%s: a registry for a config without the module", c.Name)
			}
			continue
		}
		for v := 0; v < 2; v++ {
			s, err := registry.Parse(c.Name+".json", Registry(c, v), p)
			if err != nil {
				t.Fatalf("%s variant %d does not load: %v", c.Name, v, err)
			}
			want := c.Clients
			if c.ListURIs > 0 {
				want = 1
			}
			if s.Len() != want {
				t.Errorf("%s: %d clients, want %d", c.Name, s.Len(), want)
			}
			client, uri := bench.BenchClientID, bench.BenchCallback
			if c.ListURIs > 0 {
				client, uri = bench.ListClientID, bench.ListURIs(c.ListURIs)[c.ListURIs-1]
			}
			if d := s.Decide(client, uri); d.Reason != policy.ExactMatch {
				t.Errorf("%s: the benchmark request decides %s (%s)", c.Name, d.Reason, d.Detail)
			}
			if d := s.Decide(client, bench.EvilCallback); d.Reason != policy.RedirectURINotRegistered {
				t.Errorf("%s: the rejected request decides %s", c.Name, d.Reason)
			}
		}
		if c.Reloading && bytes.Equal(Registry(c, 0), Registry(c, 1)) {
			t.Errorf("%s: both variants are the same file: reloads would change nothing", c.Name)
		}
	}
}

func TestTargetsCarryTheirURIs(t *testing.T) {
	for _, c := range testPlan() {
		if !strings.HasPrefix(c.Target, bench.AuthorizePath+"?client_id=") {
			t.Errorf("%s: target %s", c.Name, c.Target)
		}
	}
	got := bench.AuthorizeTarget("APP-1", "https://a.example/cb?x=1&y=2")
	if !strings.Contains(got, "redirect_uri=https%3A%2F%2Fa.example%2Fcb%3Fx%3D1%26y%3D2&") {
		t.Errorf("AuthorizeTarget = %s", got)
	}
}

func TestSchedule(t *testing.T) {
	cs := testPlan()
	rounds := Schedule(cs, 5, 3)
	if len(rounds) != 5 {
		t.Fatalf("%d rounds", len(rounds))
	}
	runs := map[string][]int{}
	for r, round := range rounds {
		seen := map[string]bool{}
		for _, c := range round {
			if seen[c.Name] {
				t.Errorf("round %d runs %s twice", r, c.Name)
			}
			seen[c.Name] = true
			runs[c.Name] = append(runs[c.Name], r)
		}
	}
	for _, c := range cs {
		want := []int{0, 1, 2, 3, 4}
		if c.Slow {
			want = []int{0, 2, 4}
		}
		if got := runs[c.Name]; !equalInts(got, want) {
			t.Errorf("%s runs in rounds %v, want %v", c.Name, got, want)
		}
	}
	// The order rotates: no config leads two rounds in a row.
	for r := 1; r < len(rounds); r++ {
		if rounds[r][0].Name == rounds[r-1][0].Name {
			t.Errorf("rounds %d and %d both start with %s", r-1, r, rounds[r][0].Name)
		}
	}
	if got := roundsOf(Config{Slow: true}, 5, 2); !equalInts(got, []int{0, 4}) {
		t.Errorf("2 of 5 rounds: %v", got)
	}
	if got := roundsOf(Config{Slow: true}, 1, 3); !equalInts(got, []int{0}) {
		t.Errorf("3 of 1 round: %v", got)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
