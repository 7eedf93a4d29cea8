package caddymodule_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/corpus"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/loopback"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
)

// corpusFile is the public corpus of redirect URI cases.
const corpusFile = "../policy/testdata/redirect_cases.json"

func loadCorpus(t *testing.T) []corpus.Case { return corpus.Load(t, corpusFile) }

// corpusClientID names the client of case i: fixed width, so that no id is
// a prefix of another.
func corpusClientID(i int) string { return fmt.Sprintf("APP-CASE-%03d", i) }

// rejectReasons are the reasons of POLICY §6 that reject.
var rejectReasons = func() map[string]bool {
	m := map[string]bool{}
	for _, r := range policy.RejectReasons {
		m[string(r)] = true
	}
	return m
}()

// TestIntegrationCorpus runs every case of the public corpus black-box
// through a real Caddy with a sandbox and a production site, each with one
// registry holding a client per case; the cases whose registration must
// not load are loaded on their own and through the harness.
func TestIntegrationCorpus(t *testing.T) {
	cases := loadCorpus(t)
	up := newUpstream(t)
	dir := t.TempDir()

	clients := map[string][]regClient{}
	errorClients := map[string][]regClient{}
	for i, c := range cases {
		rc := regClient{ClientID: corpusClientID(i), Name: c.ID, RedirectURIs: c.Registered}
		if c.RegistryError {
			errorClients[c.Environment] = append(errorClients[c.Environment], rc)
		} else {
			clients[c.Environment] = append(clients[c.Environment], rc)
		}
	}
	sites := map[string]*site{}
	for _, env := range []string{"sandbox", "production"} {
		reg := writeRegistry(t, dir, env+".json", env, clients[env]...)
		sites[env] = newSite(t, up, "registry "+caddyfileQuote(reg), "environment "+env, "name corpus-"+env)
	}
	startCaddy(t, sites["sandbox"], sites["production"])
	before := scrape(t)

	ran, passed := 0, 0
	wantDecisions := map[string]float64{}
	for i, c := range cases {
		ok := t.Run(c.ID, func(t *testing.T) {
			ran++
			id := corpusClientID(i)
			if c.RegistryError {
				checkRegistryError(t, dir, c, id)
				return
			}
			var target string
			if c.RedirectURI != nil {
				target = "/oauth/authorize?client_id=" + id + "&response_type=code&redirect_uri=" + url.QueryEscape(*c.RedirectURI)
			} else {
				target = "/oauth/authorize?" + strings.ReplaceAll(*c.RawQuery, "CLIENT_ID", id)
			}
			s := sites[c.Environment]
			n := up.count()
			res := get(t, s.addr(), target)
			if c.Expect == "allow" {
				got := checkForwarded(t, c.ID, res, up, n)
				checkSameTarget(t, c.ID, got, target)
				wantDecisions[c.Environment+"/allowed"]++
			} else {
				checkCorpusRejected(t, c, res, up, n)
				wantDecisions[c.Environment+"/rejected"]++
			}
			if t.Failed() {
				t.Logf("case %s (%s, %s): %s\nregistered %q\nsent GET %s", c.ID, c.Class, c.Environment, c.Note, c.Registered, target)
			}
		})
		if ok {
			passed++
		}
	}

	// Registrations that break a load-time rule, all of an environment in
	// one registry loaded through the harness: the load fails, naming the
	// file and every offending client.
	for env, ecs := range errorClients {
		reg := writeRegistry(t, dir, env+"-errors.json", env, ecs...)
		wants := []string{reg + ":"}
		for _, rc := range ecs {
			wants = append(wants, rc.ClientID)
		}
		assertLoadError(t, policyCaddyfile(loopback.Port(t), reg, env), wants...)
	}

	after := scrape(t)
	for _, env := range []string{"sandbox", "production"} {
		for _, decision := range []string{"allowed", "rejected", "reported"} {
			var got float64
			for _, d := range before.deltas(after, mDecisions, labels{"policy": "corpus-" + env, "decision": decision}) {
				got += d
			}
			if want := wantDecisions[env+"/"+decision]; got != want {
				t.Errorf("%s decisions of corpus-%s counted %v, want %v", decision, env, got, want)
			}
		}
	}

	t.Logf("corpus %s: %d cases, %d run, %d passed", corpusFile, len(cases), ran, passed)
	if ran != len(cases) {
		t.Errorf("ran %d corpus cases, the file has %d", ran, len(cases))
	}
	if len(cases) != 215 {
		t.Errorf("the corpus has %d cases, want the 215 this suite was written for", len(cases))
	}
}

// checkCorpusRejected fails t unless res is the middleware's rejection of
// case c (whatever the reason) and nothing reached the upstream.
func checkCorpusRejected(t *testing.T, c corpus.Case, res response, up *upstream, n int) {
	t.Helper()
	var rb rejectionBody
	if err := json.Unmarshal(res.Body, &rb); err != nil {
		t.Errorf("%s: status %d, body %q: not the middleware's JSON rejection", c.ID, res.Status, truncateForLog(res.Body))
		return
	}
	if !rejectReasons[rb.Reason] {
		t.Errorf("%s: status %d, reason %q is not a reject reason", c.ID, res.Status, rb.Reason)
		return
	}
	checkRejected(t, c.ID, res, rb.Reason, up, n)
	if res.Status < 400 || res.Status > 499 {
		t.Errorf("%s: status %d, want 4xx", c.ID, res.Status)
	}
}

// checkRegistryError writes a registry holding only the client of c and
// fails t unless it fails to load with an error that names the file.
func checkRegistryError(t *testing.T, dir string, c corpus.Case, id string) {
	t.Helper()
	path := writeRegistry(t, dir, c.ID+".json", c.Environment,
		regClient{ClientID: id, RedirectURIs: c.Registered})
	p, err := policy.New(policy.Options{Environment: policy.Environment(c.Environment)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = registry.Load(path, p)
	if err == nil {
		t.Fatalf("%s: registry with %q loaded in %s, want an error (%s)", c.ID, c.Registered, c.Environment, c.Note)
	}
	var le *registry.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("%s: load error %T %v, want a *registry.LoadError", c.ID, err, err)
	}
	if !strings.Contains(err.Error(), path+":") || le.File != path || len(le.Problems) == 0 {
		t.Errorf("%s: load error does not name the file %s with a position: %v", c.ID, path, err)
	}
	for _, pr := range le.Problems {
		if pr.Line < 1 || pr.Column < 1 || pr.ClientID != id {
			t.Errorf("%s: problem %+v lacks a position or the client id", c.ID, pr)
		}
	}
}
