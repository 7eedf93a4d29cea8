package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/caddybin"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/etcdtest"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/loopback"
)

const (
	fleetPrefix = "/redirect-uri-policy/production/"
	fleetClient = "APP-FLEET"
	// convergeBound fails a step whose change has not reached every
	// instance by then: a bound against hanging, not the latency target
	// (which is measured and printed).
	convergeBound = 15 * time.Second
)

// fleet is three Caddy processes built from this repository, each with the
// etcd registry source, in front of `respond`.
type fleet struct {
	t        *testing.T
	caddy    string
	dir      string
	cluster  *etcdtest.Cluster
	etcd     *clientv3.Client
	nodes    []*fleetNode
	client   *http.Client
	registry string // the registry file published
}

type fleetNode struct {
	name      string
	site      string // http://127.0.0.1:port
	admin     string
	caddyfile string
	proc      *process
}

// TestFleet runs a real three-member etcd cluster and three Caddy
// processes that share its registry, and checks that edits and
// revocations reach every instance, that losing members or the whole
// cluster never costs a request, that a bad value is refused everywhere
// and that a compacted watch recovers.
func TestFleet(t *testing.T) {
	f := &fleet{t: t, caddy: caddybin.Path(t), dir: t.TempDir(), client: &http.Client{Timeout: 5 * time.Second}}
	f.cluster = etcdtest.Start(t, 3)
	f.etcd = f.cluster.Client()
	f.registry = filepath.Join(f.dir, "registry.json")

	// The first registry, published before any Caddy starts.
	f.publish(`{"client_id": "`+fleetClient+`", "redirect_uris": ["https://app.example.com/cb-0"]}`,
		`{"client_id": "APP-OTHER", "redirect_uris": ["https://other.example.com/cb"]}`)

	eps := f.cluster.Endpoints()
	// The third instance talks to the third member only: the compaction
	// step cuts it off by killing that member.
	for i, endpoints := range [][]string{eps, eps, eps[2:]} {
		f.startNode(i, endpoints)
	}
	f.waitAll("the first registry", fleetClient, "https://app.example.com/cb-0", "allowed")

	// 50 edits: each publish is measured until every instance serves it.
	var lat []time.Duration
	for i := 1; i <= 50; i++ {
		uri := fmt.Sprintf("https://app.example.com/cb-%d", i)
		f.publish(`{"client_id": "`+fleetClient+`", "redirect_uris": ["`+uri+`"]}`,
			`{"client_id": "APP-OTHER", "redirect_uris": ["https://other.example.com/cb"]}`)
		lat = append(lat, f.waitAll(fmt.Sprintf("edit %d", i), fleetClient, uri, "allowed"))
	}
	t.Logf("edit propagation to all 3 instances over %d edits (publish committed -> served): %s", len(lat), percentiles(lat))
	if d := f.decide(f.nodes[0], fleetClient, "https://app.example.com/cb-49"); d != "rejected:redirect_uri_not_registered" {
		t.Errorf("the URI replaced by the last edit is %s, want rejected", d)
	}

	// A revocation.
	f.publish(`{"client_id": "`+fleetClient+`", "disabled": true, "redirect_uris": ["https://app.example.com/cb-50"]}`,
		`{"client_id": "APP-OTHER", "redirect_uris": ["https://other.example.com/cb"]}`)
	t.Logf("revocation propagation to all 3 instances: %v", f.waitAll("the revocation", fleetClient, "https://app.example.com/cb-50", "rejected:client_disabled").Round(time.Microsecond))
	f.publish(`{"client_id": "`+fleetClient+`", "redirect_uris": ["https://app.example.com/cb-50"]}`,
		`{"client_id": "APP-OTHER", "redirect_uris": ["https://other.example.com/cb"]}`)
	f.waitAll("the client enabled again", fleetClient, "https://app.example.com/cb-50", "allowed")

	// One member killed: updates still converge.
	f.cluster.Kill(0)
	f.publish(`{"client_id": "`+fleetClient+`", "redirect_uris": ["https://app.example.com/one-down"]}`,
		`{"client_id": "APP-OTHER", "redirect_uris": ["https://other.example.com/cb"]}`)
	t.Logf("edit with one member down: %v", f.waitAll("an edit with one member down", fleetClient, "https://app.example.com/one-down", "allowed").Round(time.Microsecond))

	// Two killed: no quorum. Every instance keeps serving the last
	// registry, with no error, under load; the source says disconnected.
	f.cluster.Kill(1)
	f.waitMetric("every source disconnected", `caddy_redirect_uri_policy_registry_source_connected{policy="production"} 0`)
	f.load("no quorum", 600)
	f.cluster.Restart(0)
	f.cluster.Restart(1)
	f.cluster.WaitReady(30 * time.Second)
	f.publish(`{"client_id": "`+fleetClient+`", "redirect_uris": ["https://app.example.com/quorum-back"]}`,
		`{"client_id": "APP-OTHER", "redirect_uris": ["https://other.example.com/cb"]}`)
	t.Logf("edit once the quorum is back: %v", f.waitAll("catching up after the quorum came back", fleetClient, "https://app.example.com/quorum-back", "allowed").Round(time.Microsecond))
	f.waitMetric("every source connected again", `caddy_redirect_uri_policy_registry_source_connected{policy="production"} 1`)

	// A value written by hand with an error: refused by every instance,
	// which keeps the client's previous version.
	if _, err := f.etcd.Put(context.Background(), fleetPrefix+"clients/APP-OTHER", `{"client_id": "APP-OTHER", "redirect_uris": ["http://other.example.com/cb"]}`); err != nil {
		t.Fatal(err)
	}
	f.waitMetric("the bad value refused everywhere", `caddy_redirect_uri_policy_registry_rejected_values_total{policy="production"} 1`)
	for _, n := range f.nodes {
		if d := f.decide(n, "APP-OTHER", "https://other.example.com/cb"); d != "allowed" {
			t.Errorf("%s: the previous version of APP-OTHER is not kept: %s", n.name, d)
		}
		if d := f.decide(n, "APP-OTHER", "http://other.example.com/cb"); d == "allowed" {
			t.Errorf("%s: the refused value is served", n.name)
		}
	}

	// A compaction below the watch of the third instance: its member is
	// down while the others take an edit and compact; when the member
	// comes back, the watch meets the compaction and the source reads the
	// prefix again.
	f.cluster.Kill(2)
	f.waitNodeMetric(f.nodes[2], "the third source disconnected", `caddy_redirect_uri_policy_registry_source_connected{policy="production"} 0`)
	f.publish(`{"client_id": "`+fleetClient+`", "redirect_uris": ["https://app.example.com/compacted"]}`,
		`{"client_id": "APP-OTHER", "redirect_uris": ["https://other.example.com/cb"]}`)
	resp, err := f.etcd.Get(context.Background(), "any")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.etcd.Compact(context.Background(), resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	f.cluster.Restart(2)
	f.waitAll("the edit behind the compaction", fleetClient, "https://app.example.com/compacted", "allowed")

	// The whole cluster down: an instance restarted meanwhile starts
	// from its cache and serves, and the others keep serving.
	for i := range 3 {
		f.cluster.Kill(i)
	}
	f.nodes[0].proc.stop(t)
	f.startNode(0, eps)
	f.waitAll("serving from the cache with etcd down", fleetClient, "https://app.example.com/compacted", "allowed")
	f.load("etcd down, one instance restarted from its cache", 300)
	for i := range 3 {
		f.cluster.Restart(i)
	}
	f.cluster.WaitReady(30 * time.Second)
	f.publish(`{"client_id": "`+fleetClient+`", "redirect_uris": ["https://app.example.com/back"]}`,
		`{"client_id": "APP-OTHER", "redirect_uris": ["https://other.example.com/cb"]}`)
	f.waitAll("catching up after the cluster came back", fleetClient, "https://app.example.com/back", "allowed")
	for _, n := range f.nodes {
		if n.proc.exited() {
			t.Errorf("%s exited", n.name)
		}
	}
}

// startNode starts (or restarts) instance i.
func (f *fleet) startNode(i int, endpoints []string) {
	f.t.Helper()
	if i < len(f.nodes) && f.nodes[i] != nil {
		n := f.nodes[i]
		n.proc = startProcess(f.t, n.name, caddybin.Env(filepath.Join(f.dir, n.name)), f.caddy, "run", "--config", n.caddyfile, "--adapter", "caddyfile")
		f.waitUp(n)
		return
	}
	ports := loopback.Ports(f.t, 2)
	n := &fleetNode{name: fmt.Sprintf("caddy%d", i), site: fmt.Sprintf("http://127.0.0.1:%d", ports[0]), admin: fmt.Sprintf("127.0.0.1:%d", ports[1])}
	home := filepath.Join(f.dir, n.name)
	if err := os.MkdirAll(home, 0o755); err != nil {
		f.t.Fatal(err)
	}
	n.caddyfile = filepath.Join(home, "Caddyfile")
	writeFile(f.t, n.caddyfile, fmt.Sprintf(`{
	admin %s
	persist_config off
}

http://127.0.0.1:%d {
	bind 127.0.0.1
	redirect_uri_policy {
		environment production
		registry etcd {
			endpoints %s
			prefix %s
			cache %s
			dial_timeout 1s
		}
	}
	respond "ok" 200
}
`, n.admin, ports[0], strings.Join(endpoints, " "), fleetPrefix, filepath.Join(home, "registry-cache.json")))
	n.proc = startProcess(f.t, n.name, caddybin.Env(home), f.caddy, "run", "--config", n.caddyfile, "--adapter", "caddyfile")
	f.nodes = append(f.nodes, n)
	f.waitUp(n)
}

func (f *fleet) waitUp(n *fleetNode) {
	f.t.Helper()
	waitFor(f.t, time.Now().Add(convergeBound), n.name+" serving", n.proc, func() error {
		_, err := f.metrics(n)
		return err
	})
}

// publish writes a registry of these clients with the publish command. A
// publish writes only differences, so it is retried while the cluster
// elects a leader after a member was killed.
func (f *fleet) publish(clients ...string) {
	f.t.Helper()
	writeFile(f.t, f.registry, `{"environment": "production", "clients": [`+strings.Join(clients, ",\n")+`]}`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		cmd := exec.Command(f.caddy, "redirect-uri-policy", "publish", "--etcd", strings.Join(f.cluster.Endpoints(), ","),
			"--prefix", fleetPrefix, "--environment", "production", f.registry)
		cmd.Env = caddybin.Env(f.dir)
		out, err := cmd.CombinedOutput()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("publish: %v\n%s", err, out)
		}
		f.t.Logf("publish: %v; retrying\n%s", err, out)
		time.Sleep(500 * time.Millisecond)
	}
}

// decide asks an instance to decide an authorize request: "allowed" or
// "rejected:<reason>".
func (f *fleet) decide(n *fleetNode, clientID, redirectURI string) string {
	q := url.Values{"client_id": {clientID}, "redirect_uri": {redirectURI}, "response_type": {"code"}}
	req, _ := http.NewRequest(http.MethodGet, n.site+"/oauth/authorize?"+q.Encode(), nil)
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return "error:" + err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK && string(body) == "ok" {
		return "allowed"
	}
	var rej struct {
		Reason string `json:"reason"`
	}
	if json.Unmarshal(body, &rej) == nil && rej.Reason != "" {
		return "rejected:" + rej.Reason
	}
	return fmt.Sprintf("error:status %d: %s", resp.StatusCode, body)
}

// waitAll waits until every instance decides the request as want, and
// returns how long that took.
func (f *fleet) waitAll(what, clientID, redirectURI, want string) time.Duration {
	f.t.Helper()
	start := time.Now()
	pending := slices.Clone(f.nodes)
	var last string
	for len(pending) > 0 {
		pending = slices.DeleteFunc(pending, func(n *fleetNode) bool {
			last = f.decide(n, clientID, redirectURI)
			return last == want
		})
		if len(pending) == 0 {
			break
		}
		if time.Since(start) > convergeBound {
			f.t.Fatalf("%s: %s still decides %s %s as %s after %v, want %s", what, pending[0].name, clientID, redirectURI, last, convergeBound, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

// load sends n authorize requests to every instance, 4 at a time, one
// registered and one not in turn, and fails on any answer that is not
// the last registry's decision.
func (f *fleet) load(what string, n int) {
	f.t.Helper()
	var errs atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	for _, node := range f.nodes {
		var wg sync.WaitGroup
		var next atomic.Int64
		for range 4 {
			wg.Go(func() {
				for i := int(next.Add(1)); i <= n; i = int(next.Add(1)) {
					uri, want := "https://other.example.com/cb", "allowed"
					if i%2 == 0 {
						uri, want = "https://evil.example/cb", "rejected:redirect_uri_not_registered"
					}
					if got := f.decide(node, "APP-OTHER", uri); got != want {
						errs.Add(1)
						firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: %s: got %s, want %s", node.name, uri, got, want))
					}
				}
			})
		}
		wg.Wait()
	}
	f.t.Logf("%s: %d requests to %d instances in %v, %d errors", what, n*len(f.nodes), len(f.nodes), time.Since(start).Round(time.Millisecond), errs.Load())
	if errs.Load() != 0 {
		f.t.Fatalf("%s: %d wrong answers; the first: %v", what, errs.Load(), firstErr.Load())
	}
}

// metrics returns an instance's metrics text.
func (f *fleet) metrics(n *fleetNode) (string, error) {
	resp, err := f.client.Get("http://" + n.admin + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	return string(body), err
}

// waitMetric waits until every instance's metrics have the line.
func (f *fleet) waitMetric(what, line string) {
	f.t.Helper()
	for _, n := range f.nodes {
		f.waitNodeMetric(n, what, line)
	}
}

func (f *fleet) waitNodeMetric(n *fleetNode, what, line string) {
	f.t.Helper()
	waitFor(f.t, time.Now().Add(convergeBound), what+" ("+n.name+")", n.proc, func() error {
		text, err := f.metrics(n)
		if err != nil {
			return err
		}
		if !strings.Contains(text, "\n"+line+"\n") {
			return fmt.Errorf("no line %q", line)
		}
		return nil
	})
}

func percentiles(d []time.Duration) string {
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return fmt.Sprintf("p50 %v, p99 %v, max %v", at(0.50).Round(time.Microsecond), at(0.99).Round(time.Microsecond), s[len(s)-1].Round(time.Microsecond))
}
