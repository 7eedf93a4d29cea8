// Package deploy_test checks the monitoring files in deploy/ against a real
// Caddy with the redirect_uri_policy module and a real Prometheus server.
//
// The alert rules are loaded exactly as shipped (a byte-for-byte copy of
// prometheus/alerts.yml): their windows and thresholds are production values,
// and the credentials alert is written so that a burst on a freshly started
// Caddy is counted at once (see the comments in alerts.yml). The test waits
// for that alert to become pending, which needs no `for:` to elapse, instead
// of shortening anything.
package deploy_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/caddybin"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/loopback"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

const (
	rulesFile     = "prometheus/alerts.yml"
	rulesTestFile = "prometheus/alerts_test.yml"
	dashboardFile = "grafana/redirect-uri-policy.json"

	credentialsAlert   = "RedirectURIPolicySuspectedCredentialMisuse"
	reloadFailingAlert = "RedirectURIPolicyRegistryReloadFailing"

	victimID    = "APP-VICTIM0000000001"
	victimURI   = "https://app.example.com/oauth/callback"
	bystanderID = "APP-BYSTANDER0000002"
	bystanderOK = "https://partner.example.org/cb"
	attackerURI = "https://attacker.example.net/steal"
	// overCapID is a client past the per-client series cap (client_metrics
	// 2: the bystander and the victim hold both series), counted as _other.
	overCapID  = "APP-OVERCAP000000003"
	overCapURI = "https://third.example.org/cb"
	otherID    = "_other"
	// The number of stolen-credential requests for overCapID.
	overCapBurst = 6

	// The number of stolen-credential requests; the alert threshold is 5.
	burst = 20

	// budget bounds the end-to-end run after the Caddy binary is ready,
	// failures included; a passing run takes about 15 seconds.
	budget = 60 * time.Second
)

// dashboardData lists every query of the dashboard by "panel title/refId" and
// whether the end-to-end traffic must give it data. A query missing from this
// list fails the test, so a new panel needs a decision here.
var dashboardData = map[string]bool{
	"Authorize requests checked/A":                true,
	"Rejected share (time range)/A":               true,
	"Registered clients/A":                        true,
	"Registered redirect URIs/A":                  true,
	"Last registry reload/A":                      true,
	"Enforced registry age/A":                     true,
	"Decisions by reason/A":                       true,
	"Allowed vs rejected/A":                       true,
	"Rejections by reason (time range)/A":         true,
	"Rejections per registered client (top 10)/A": true,
	"Top clients by rejections (time range)/A":    true,
	"Registry size/A":                             true,
	"Registry size/B":                             true,
	"Registry reloads/A":                          true, // the test reloads the registry twice
	"Reload health/A":                             true,
	"Reload health/B":                             true,
	"Report-only decisions/A":                     true,  // series exist from start, at 0
	"Report-only decisions/B":                     false, // enforcing: nothing reported
	"Reported in production (time range)/A":       true,  // 0, but present
	"Unrestricted clients used (sandbox)/A":       true,  // series exist from start, at 0
}

// dashboardVars are the values the dashboard's variables take in the test.
var dashboardVars = strings.NewReplacer(
	"${policy}", "production",
	"$policy", "production",
	"${environment}", "production",
	"$environment", "production",
	"$__rate_interval", "1m",
	"$__interval", "15s",
	"$__range", "1h",
)

func TestPromtoolRules(t *testing.T) {
	promtool := binary(t, "promtool")
	for _, args := range [][]string{
		{"check", "rules", rulesFile},
		{"test", "rules", rulesTestFile},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

type dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasourceRef  `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *datasourceRef `json:"datasource"`
	Targets    []struct {
		RefID      string         `json:"refId"`
		Expr       string         `json:"expr"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

func loadDashboard(t *testing.T) *dashboard {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return &d
}

// queryPanels returns the dashboard's panels that have queries, rows'
// nested panels included.
func (d *dashboard) queryPanels() []panel {
	var out []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			out = append(out, p)
		}
	}
	walk(d.Panels)
	return out
}

func TestDashboardStructure(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q: both are needed for import", d.UID, d.Title)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d: want 36 or later (datasource references by uid)", d.SchemaVersion)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != "${datasource}") {
			t.Errorf("variable %s: datasource %+v, want the ${datasource} variable", v.Name, v.Datasource)
		}
	}
	for name, typ := range map[string]string{"datasource": "datasource", "policy": "query", "environment": "query"} {
		if vars[name] != typ {
			t.Errorf("variable %s: type %q, want %q", name, vars[name], typ)
		}
	}
	ids := map[int]bool{}
	seen := map[string]bool{}
	for _, p := range d.queryPanels() {
		if ids[p.ID] {
			t.Errorf("panel %q: duplicate id %d", p.Title, p.ID)
		}
		ids[p.ID] = true
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, ds := range []*datasourceRef{p.Datasource} {
			if ds == nil || ds.Type != "prometheus" || ds.UID != "${datasource}" {
				t.Errorf("panel %q: datasource %+v, want prometheus ${datasource}", p.Title, ds)
			}
		}
		for _, tg := range p.Targets {
			key := p.Title + "/" + tg.RefID
			seen[key] = true
			if tg.Datasource == nil || tg.Datasource.UID != "${datasource}" {
				t.Errorf("%s: datasource %+v, want ${datasource}", key, tg.Datasource)
			}
			for _, v := range []string{"$policy", "$environment"} {
				if !strings.Contains(tg.Expr, v) {
					t.Errorf("%s: query does not use %s: %s", key, v, tg.Expr)
				}
			}
			if _, ok := dashboardData[key]; !ok {
				t.Errorf("%s: not listed in dashboardData (must the end-to-end traffic give it data?)", key)
			}
		}
	}
	for key := range dashboardData {
		if !seen[key] {
			t.Errorf("dashboardData lists %s, which the dashboard does not have", key)
		}
	}
}

// TestEndToEnd runs Caddy with the module and Prometheus with the shipped
// rules, attacks one client, and checks the alerts and the dashboard's
// queries on the real server.
func TestEndToEnd(t *testing.T) {
	started := time.Now()
	caddy := caddybin.Path(t)
	prometheus := binary(t, "prometheus")
	t.Logf("caddy binary ready after %v", time.Since(started).Round(time.Millisecond))
	started = time.Now()
	deadline := started.Add(budget)
	defer func() { t.Logf("end-to-end run took %v", time.Since(started).Round(time.Millisecond)) }()

	dir := t.TempDir()
	ports := loopback.Ports(t, 3)
	adminAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	siteAddr := fmt.Sprintf("127.0.0.1:%d", ports[1])
	promAddr := fmt.Sprintf("127.0.0.1:%d", ports[2])

	// Caddy: one production policy in front of respond, two clients.
	registryPath := filepath.Join(dir, "registry.json")
	writeAtomic(t, registryPath, registryJSON(victimID, victimURI, bystanderID, bystanderOK, overCapID, overCapURI))
	caddyfile := filepath.Join(dir, "Caddyfile")
	writeFile(t, caddyfile, fmt.Sprintf(`{
	admin %s
	persist_config off
}

http://%s {
	bind 127.0.0.1
	redirect_uri_policy {
		registry %s
		environment production
		client_metrics 2
	}
	respond "ok" 200
}
`, adminAddr, siteAddr, registryPath))
	caddyProc := startProcess(t, "caddy", caddybin.Env(dir), caddy, "run", "--config", caddyfile, "--adapter", "caddyfile")

	// Prometheus: 1s scrapes and evaluations, the shipped rules unchanged.
	rules := filepath.Join(dir, "alerts.yml")
	shipped, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, rules, string(shipped))
	promConfig := filepath.Join(dir, "prometheus.yml")
	writeFile(t, promConfig, fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %s
scrape_configs:
  - job_name: caddy
    metrics_path: /metrics
    static_configs:
      - targets: ['%s']
`, rules, adminAddr))
	promProc := startProcess(t, "prometheus", nil, prometheus,
		"--config.file="+promConfig,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+promAddr,
		"--web.console.templates="+filepath.Join(dir, "consoles"),
		"--web.console.libraries="+filepath.Join(dir, "console_libraries"),
	)

	client := &http.Client{Timeout: 5 * time.Second}
	prom := &promAPI{t: t, base: "http://" + promAddr, client: client}

	// Both up, the rules loaded, and Caddy's series scraped before any traffic.
	waitFor(t, deadline, "caddy serving metrics", caddyProc, func() error {
		body, err := get(client, "http://"+adminAddr+"/metrics")
		if err != nil {
			return err
		}
		if !strings.Contains(body, `caddy_redirect_uri_policy_registry_clients{policy="production"} 3`) {
			return errors.New("no registry_clients gauge yet")
		}
		return nil
	})
	waitFor(t, deadline, "prometheus ready", promProc, func() error {
		_, err := get(client, "http://"+promAddr+"/-/ready")
		return err
	})
	waitFor(t, deadline, "rules loaded", promProc, func() error {
		if n := len(prom.rules()); n != 8 {
			return fmt.Errorf("%d rules loaded, want 8", n)
		}
		return nil
	})
	waitFor(t, deadline, "first scrape", promProc, func() error {
		// Every decision/reason series of the policy exists from start.
		res := prom.query(`count(caddy_redirect_uri_policy_decisions_total{policy="production"}) and on () up{job="caddy"} == 1`)
		if len(res) != 1 {
			return errors.New("caddy not scraped yet")
		}
		if got, want := res[0].value(t), float64(len(policy.AllowReasons)+2*len(policy.RejectReasons)); got != want {
			return fmt.Errorf("%v decisions_total series, want %v (every reason from start)", got, want)
		}
		return nil
	})

	t.Logf("caddy and prometheus up, first scrape in: %v", time.Since(started).Round(time.Millisecond))

	// Traffic: the bystander signs in normally (and mistypes twice, below the
	// threshold); the attacker uses the victim's client_id with a host of
	// their own.
	authorize := func(clientID, redirectURI string) (int, string) {
		u := "http://" + siteAddr + "/oauth/authorize?" + url.Values{
			"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirectURI},
		}.Encode()
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("authorize request: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return resp.StatusCode, string(body)
	}
	for i := 0; i < 10; i++ {
		if code, body := authorize(bystanderID, bystanderOK); code != http.StatusOK || body != "ok" {
			t.Fatalf("bystander's registered redirect URI: %d %q, want 200 ok", code, body)
		}
	}
	for i := 0; i < 2; i++ {
		if code, body := authorize(bystanderID, attackerURI); code != http.StatusBadRequest || !strings.Contains(body, `"redirect_uri_not_registered"`) {
			t.Fatalf("bystander with an unregistered redirect URI: %d %q", code, body)
		}
	}
	for i := 0; i < burst; i++ {
		if code, body := authorize(victimID, attackerURI); code != http.StatusBadRequest || !strings.Contains(body, `"redirect_uri_not_registered"`) {
			t.Fatalf("stolen-credential request %d: %d %q, want 400 redirect_uri_not_registered", i, code, body)
		}
		time.Sleep(50 * time.Millisecond) // a burst over about a second: several scrapes
	}
	for i := 0; i < overCapBurst; i++ {
		if code, body := authorize(overCapID, attackerURI); code != http.StatusBadRequest || !strings.Contains(body, `"redirect_uri_not_registered"`) {
			t.Fatalf("stolen-credential request %d past the cap: %d %q, want 400 redirect_uri_not_registered", i, code, body)
		}
	}
	attacked := time.Now()

	// The credentials alert: pending or firing for the victim, with the
	// whole burst counted, and never for the bystander.
	var victimAlert promAlert
	waitFor(t, deadline, "credentials alert for the victim with the whole burst", promProc, func() error {
		alerts := prom.alerts()
		if a, ok := findAlert(alerts, credentialsAlert, "client_id", bystanderID); ok {
			t.Fatalf("credentials alert active for the bystander: %+v", a)
		}
		a, ok := findAlert(alerts, credentialsAlert, "client_id", victimID)
		if !ok {
			return errors.New("not active yet")
		}
		if v := a.value(t); v != burst {
			return fmt.Errorf("active with value %v, want %d", v, burst)
		}
		victimAlert = a
		// The client past the cap: the alert names _other, with its
		// whole burst.
		if a, ok = findAlert(alerts, credentialsAlert, "client_id", otherID); !ok {
			return errors.New("not active yet for _other")
		}
		if v := a.value(t); v != overCapBurst {
			return fmt.Errorf("active for _other with value %v, want %d", v, overCapBurst)
		}
		return nil
	})
	t.Logf("credentials alert %s for %s %v after the burst", victimAlert.State, victimID, time.Since(attacked).Round(time.Millisecond))
	if victimAlert.State != "pending" && victimAlert.State != "firing" {
		t.Errorf("state %q", victimAlert.State)
	}
	for k, want := range map[string]string{"policy": "production", "severity": "critical", "client_id": victimID} {
		if got := victimAlert.Labels[k]; got != want {
			t.Errorf("alert label %s = %q, want %q", k, got, want)
		}
	}
	if want := fmt.Sprintf("Client %s (production): %d authorize requests", victimID, burst); !strings.HasPrefix(victimAlert.Annotations["summary"], want) {
		t.Errorf("summary %q, want it to start with %q", victimAlert.Annotations["summary"], want)
	}
	if !strings.Contains(victimAlert.Annotations["description"], "What to do") {
		t.Errorf("description has no runbook: %q", victimAlert.Annotations["description"])
	}
	// Two more evaluations: still nothing for the bystander, and nothing
	// else fires on this traffic (production, enforcing, registry healthy,
	// 28 rejections are below the surge floor).
	time.Sleep(2500 * time.Millisecond)
	for _, a := range prom.alerts() {
		if a.Labels["alertname"] != credentialsAlert || (a.Labels["client_id"] != victimID && a.Labels["client_id"] != otherID) {
			t.Errorf("unexpected active alert: %+v", a)
		}
	}

	// A registry reload that succeeds, then one that fails: the previous
	// registry keeps serving and the reload alert goes pending.
	writeAtomic(t, registryPath, registryJSON(victimID, victimURI, bystanderID, bystanderOK, overCapID, overCapURI, "APP-NEWCLIENT0000004", "https://new.example.com/cb"))
	waitFor(t, deadline, "successful reload seen by Prometheus", promProc, func() error {
		if res := prom.query(`caddy_redirect_uri_policy_registry_clients{policy="production"} == 4 and on (policy) caddy_redirect_uri_policy_registry_reloads_total{policy="production", result="success"} == 1`); len(res) != 1 {
			return errors.New("not yet")
		}
		return nil
	})
	writeAtomic(t, registryPath, `{"environment": "production", "clients": [`)
	waitFor(t, deadline, "reload failure alert pending", promProc, func() error {
		if _, ok := findAlert(prom.alerts(), reloadFailingAlert, "policy", "production"); !ok {
			return errors.New("not active yet")
		}
		return nil
	})
	t.Logf("registry reloads checked: %v", time.Since(started).Round(time.Millisecond))
	if code, body := authorize(victimID, victimURI); code != http.StatusOK {
		t.Errorf("after a failed reload the previous registry must serve: victim's own redirect URI got %d %q", code, body)
	}

	// Every query of the dashboard, on the real server.
	d := loadDashboard(t)
	for _, p := range d.queryPanels() {
		for _, tg := range p.Targets {
			key := p.Title + "/" + tg.RefID
			expr := dashboardVars.Replace(tg.Expr)
			if strings.Contains(expr, "$") {
				t.Errorf("%s: unsubstituted variable in %s", key, expr)
				continue
			}
			res, err := prom.tryQuery(expr)
			switch {
			case err != nil:
				t.Errorf("%s: %v\nquery: %s", key, err, expr)
			case len(res) == 0 && dashboardData[key]:
				t.Errorf("%s: no data, but the test's traffic must give some\nquery: %s", key, expr)
			}
			if key == "Top clients by rejections (time range)/A" {
				top := map[string]float64{}
				for _, s := range res {
					top[s.Metric["client_id"]] = s.value(t)
				}
				if top[victimID] != burst || top[bystanderID] != 2 || top[otherID] != overCapBurst || len(top) != 3 {
					t.Errorf("%s: %v, want %s: %d, %s: 2 and %s: %d", key, top, victimID, burst, bystanderID, otherID, overCapBurst)
				}
			}
		}
	}
	// The variables' label_values() queries, as series lookups.
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q string
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Errorf("variable %s: query is not a string: %s", v.Name, v.Query)
			continue
		}
		m := labelValues.FindStringSubmatch(dashboardVars.Replace(q))
		if m == nil {
			t.Errorf("variable %s: %q is not label_values(<selector>, <label>)", v.Name, q)
			continue
		}
		values := prom.labelValues(m[1], m[2])
		if !contains(values, "production") {
			t.Errorf("variable %s: %s gives %v, want production among them", v.Name, q, values)
		}
	}

	// No rule ever failed to evaluate on the real server; every alert
	// carries what the receivers rely on.
	for _, r := range prom.rules() {
		if r.Health != "ok" {
			t.Errorf("rule %s: health %q: %s", r.Name, r.Health, r.LastError)
		}
		switch r.Labels["severity"] {
		case "critical", "warning", "info":
		default:
			t.Errorf("rule %s: severity %q", r.Name, r.Labels["severity"])
		}
		if r.Annotations["summary"] == "" || !strings.Contains(r.Annotations["description"], "What to do") {
			t.Errorf("rule %s: needs a summary and a description with what to do", r.Name)
		}
	}
}

func registryJSON(idsAndURIs ...string) string {
	type client struct {
		ID   string   `json:"client_id"`
		URIs []string `json:"redirect_uris"`
	}
	reg := struct {
		Environment string   `json:"environment"`
		Clients     []client `json:"clients"`
	}{Environment: "production"}
	for i := 0; i+1 < len(idsAndURIs); i += 2 {
		reg.Clients = append(reg.Clients, client{idsAndURIs[i], []string{idsAndURIs[i+1]}})
	}
	data, err := json.MarshalIndent(reg, "", "  ")
	if err != nil {
		panic(err)
	}
	return string(data) + "\n"
}

// binary finds a Prometheus tool: on $PATH, else where Debian's package puts
// it. A missing tool fails the test; it is never skipped.
func binary(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p := "/usr/bin/" + name
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s not found (install Debian's prometheus package; scripts/test does): %v", name, err)
	}
	return p
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeAtomic replaces a file by renaming a new one over it, as deployment
// tools do, so that the poller never reads half a file.
func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	writeFile(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func get(client *http.Client, u string) (string, error) {
	resp, err := client.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return string(body), nil
}

// process is a child process started by the test; it is stopped by its PID
// when the test ends.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func startProcess(t *testing.T, name string, env []string, path string, args ...string) *process {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("%s log (last lines):\n%s", name, tail(logPath, 40))
		}
	})
	return p
}

// stop ends the process: SIGTERM, then SIGKILL if it has not exited in time.
func (p *process) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Errorf("%s (pid %d) ignored SIGTERM; killing it", p.name, p.cmd.Process.Pid)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// waitFor polls check until it succeeds, failing the test at the deadline
// or as soon as the process it depends on has exited.
func waitFor(t *testing.T, deadline time.Time, what string, p *process, check func() error) {
	t.Helper()
	for {
		err := check()
		if err == nil {
			return
		}
		if p.exited() {
			t.Fatalf("waiting for %s: %s exited (%v)\n%s", what, p.name, p.err, tail(p.log, 40))
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: out of the test's %v budget: %v", what, budget, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// promAPI is a minimal client of Prometheus's HTTP API.
type promAPI struct {
	t      *testing.T
	base   string
	client *http.Client
}

type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s sample) value(t *testing.T) float64 {
	t.Helper()
	str, _ := s.Value[1].(string)
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		t.Fatalf("sample value %v: %v", s.Value, err)
	}
	return v
}

type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	Value       string            `json:"value"`
}

func (a promAlert) value(t *testing.T) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(a.Value, 64)
	if err != nil {
		t.Fatalf("alert value %q: %v", a.Value, err)
	}
	return v
}

type promRule struct {
	Name        string            `json:"name"`
	Type        string            `json:"type"`
	Health      string            `json:"health"`
	LastError   string            `json:"lastError"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// call GETs an API path and decodes its data, returning API errors.
func (p *promAPI) call(path string, params url.Values, data any) error {
	resp, err := p.client.Get(p.base + path + "?" + params.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Status    string          `json:"status"`
		Data      json.RawMessage `json:"data"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
		Warnings  []string        `json:"warnings"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return fmt.Errorf("%s: %s: %v", path, resp.Status, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: %s: %s", path, env.ErrorType, env.Error)
	}
	if len(env.Warnings) > 0 {
		return fmt.Errorf("%s: warnings: %v", path, env.Warnings)
	}
	return json.Unmarshal(env.Data, data)
}

func (p *promAPI) tryQuery(expr string) ([]sample, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := p.call("/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("result type %q, want vector", data.ResultType)
	}
	var res []sample
	return res, json.Unmarshal(data.Result, &res)
}

func (p *promAPI) query(expr string) []sample {
	p.t.Helper()
	res, err := p.tryQuery(expr)
	if err != nil {
		p.t.Fatalf("query %s: %v", expr, err)
	}
	return res
}

func (p *promAPI) alerts() []promAlert {
	p.t.Helper()
	var data struct {
		Alerts []promAlert `json:"alerts"`
	}
	if err := p.call("/api/v1/alerts", nil, &data); err != nil {
		p.t.Fatal(err)
	}
	return data.Alerts
}

func (p *promAPI) rules() []promRule {
	p.t.Helper()
	var data struct {
		Groups []struct {
			Rules []promRule `json:"rules"`
		} `json:"groups"`
	}
	if err := p.call("/api/v1/rules", nil, &data); err != nil {
		p.t.Fatal(err)
	}
	var out []promRule
	for _, g := range data.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

func (p *promAPI) labelValues(selector, label string) []string {
	p.t.Helper()
	var series []map[string]string
	if err := p.call("/api/v1/series", url.Values{"match[]": {selector}}, &series); err != nil {
		p.t.Fatalf("series %s: %v", selector, err)
	}
	var out []string
	for _, s := range series {
		if v, ok := s[label]; ok && !contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func findAlert(alerts []promAlert, name, label, value string) (promAlert, bool) {
	for _, a := range alerts {
		if a.Labels["alertname"] == name && a.Labels[label] == value && (a.State == "pending" || a.State == "firing") {
			return a, true
		}
	}
	return promAlert{}, false
}
