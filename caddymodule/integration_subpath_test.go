//go:build unix

package caddymodule_test

import (
	"encoding/json"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"
)

// authServer is an authorization server's authorize handler routed and
// reading its parameters as the frameworks of POLICY §3 do: Go's ServeMux
// subtree pattern /oauth/authorize/ (as Express's app.use) routes every
// path below the endpoint to it, and it reads each parameter from the body
// (form, JSON or multipart) before the query, as node oauth2-server's
// body.redirect_uri || query.redirect_uri does. It sends the browser to
// redirect_uri with a code; a form posted back without one (a consent
// decision) goes to the redirect URI of the server's session; a request
// below the endpoint without any parameter is one of its own pages (a
// login resumed at /oauth/authorize/<uid>).
func authServer(t *testing.T, sessionRedirect string) *upstream {
	mux := http.NewServeMux()
	handler := func(w http.ResponseWriter, r *http.Request) {
		body := map[string]string{}
		switch ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct {
		case "application/x-www-form-urlencoded":
			r.ParseForm()
			for k := range r.PostForm {
				body[k] = r.PostForm.Get(k)
			}
		case "application/json":
			var m map[string]any
			json.NewDecoder(r.Body).Decode(&m)
			for k, v := range m {
				if s, ok := v.(string); ok {
					body[k] = s
				}
			}
		case "multipart/form-data":
			mr := multipart.NewReader(r.Body, params["boundary"])
			if f, err := mr.ReadForm(1 << 20); err == nil {
				for k, v := range f.Value {
					body[k] = v[0]
				}
			}
		}
		param := func(name string) string {
			if v := body[name]; v != "" {
				return v
			}
			return r.URL.Query().Get(name)
		}
		clientID, redirectURI := param("client_id"), param("redirect_uri")
		switch {
		case clientID == "" && redirectURI == "" && param("response_type") == "":
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("interaction page\n"))
		case redirectURI == "" && r.Method == http.MethodPost:
			w.Header().Set("Location", sessionRedirect+"?code=consented")
			w.WriteHeader(http.StatusFound)
		default:
			w.Header().Set("Location", redirectURI+"?code=SECRET-CODE")
			w.WriteHeader(http.StatusFound)
		}
	}
	mux.HandleFunc("/oauth/authorize", handler)
	mux.HandleFunc("/oauth/authorize/", handler)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(upstreamReply))
	})
	return newUpstreamWith(t, mux.ServeHTTP)
}

// TestIntegrationBelowEndpoint: a request below the endpoint that carries
// any authorize parameter, in its query, its body or its cookies, is
// checked as the endpoint; one that carries none reaches the server's own
// page. Consent forms are told by their parameter names, not their values.
// Requests the module does not check leave its placeholders empty.
func TestIntegrationBelowEndpoint(t *testing.T) {
	const (
		good = "https://app.example/cb"
		evil = "https://evil.example/cb"
	)
	up := authServer(t, good)
	dir := t.TempDir()
	reg := writeRegistry(t, dir, "clients.json", "production",
		regClient{ClientID: "APP-SUB", RedirectURIs: []string{good}})
	s := newSite(t, up, "registry "+caddyfileQuote(reg), "environment production", "name itsub")
	s.extra = []string{`header {
		defer
		X-Policy "[{http.redirect_uri_policy.decision}|{http.redirect_uri_policy.reason}|{http.redirect_uri_policy.client_id}]"
	}`}
	startCaddy(t, s)

	evilQ := url.QueryEscape(evil)
	form := [][2]string{{"Content-Type", formType}}
	mp := "--B\r\nContent-Disposition: form-data; name=\"redirect_uri\"\r\n\r\n" + evil + "\r\n--B--\r\n"

	rejected := []struct {
		name, reason string
		req          rawReq
	}{
		{"query-redirect-form-type", "redirect_uri_not_registered", rawReq{Method: "POST", Target: "/oauth/authorize/x?client_id=APP-SUB&state=s&redirect_uri=" + evilQ, Header: form, Body: []byte("response_type=code")}},
		{"form-redirect", "redirect_uri_not_registered", rawReq{Method: "POST", Target: "/oauth/authorize/x?client_id=APP-SUB&response_type=code", Header: form, Body: []byte("redirect_uri=" + evilQ)}},
		{"json-redirect", "redirect_uri_not_registered", rawReq{Method: "POST", Target: "/oauth/authorize/x?client_id=APP-SUB&response_type=code", Header: [][2]string{{"Content-Type", "application/json"}}, Body: []byte(`{"redirect_uri":"` + evil + `"}`)}},
		{"multipart-redirect", "redirect_uri_not_registered", rawReq{Method: "POST", Target: "/oauth/authorize/x?client_id=APP-SUB&response_type=code", Header: [][2]string{{"Content-Type", "multipart/form-data; boundary=B"}}, Body: []byte(mp)}},
		{"get-no-response-type", "redirect_uri_not_registered", rawReq{Target: "/oauth/authorize/x?client_id=APP-SUB&redirect_uri=" + evilQ}},
		{"deep", "redirect_uri_not_registered", rawReq{Target: "/oauth/authorize/a/b/c?client_id=APP-SUB&redirect_uri=" + evilQ}},
		{"spelling-case-slashes", "redirect_uri_not_registered", rawReq{Target: "//OAuth//Authorize/x/?client_id=APP-SUB&redirect_uri=" + evilQ}},
		{"spelling-encoded-slash", "redirect_uri_not_registered", rawReq{Target: "/oauth/authorize%2Fx?client_id=APP-SUB&redirect_uri=" + evilQ}},
		{"spelling-params", "redirect_uri_not_registered", rawReq{Target: "/oauth/authorize;a/x;b?client_id=APP-SUB&redirect_uri=" + evilQ}},
		{"folded-name", "redirect_uri_not_registered", rawReq{Target: "/oauth/authorize/x?Client.ID=APP-SUB&REDIRECT_URI=" + evilQ}},
		{"cookies", "redirect_uri_not_registered", rawReq{Target: "/oauth/authorize/x", Header: [][2]string{{"Cookie", "client_id=APP-SUB; redirect_uri=" + evilQ}}}},
		{"response-type-only", "missing_client_id", rawReq{Target: "/oauth/authorize/x?response_type=code"}},
		{"request-uri", "request_uri_not_registered", rawReq{Target: "/oauth/authorize/x?client_id=APP-SUB&request_uri=urn%3Ax"}},
		{"pushed request_uri without par_paths", "request_object_not_supported", rawReq{Target: "/oauth/authorize/x?client_id=APP-SUB&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Ax"}},
		{"split-duplicate", "duplicate_parameter", rawReq{Method: "POST", Target: "/oauth/authorize/x?client_id=APP-SUB&redirect_uri=" + url.QueryEscape(good), Header: form, Body: []byte("redirect_uri=" + evilQ)}},
	}
	for _, c := range rejected {
		t.Run("rejected/"+c.name, func(t *testing.T) {
			n := up.count()
			res := send(t, s.addr(), c.req)
			checkRejected(t, c.name, res, c.reason, up, n)
		})
	}

	forwarded := []struct {
		name     string
		req      rawReq
		location string // the upstream's redirect, if any
	}{
		{"interaction-page", rawReq{Target: "/oauth/authorize/Zx81kq3"}, ""},
		{"interaction-login", rawReq{Method: "POST", Target: "/oauth/authorize/Zx81kq3/login", Header: form, Body: []byte("login=alice&password=p%40ss")}, ""},
		{"interaction-json", rawReq{Method: "POST", Target: "/oauth/authorize/Zx81kq3/confirm", Header: [][2]string{{"Content-Type", "application/json"}}, Body: []byte(`{"prompt":"consent","nested":{"redirect_uri":"x"}}`)}, ""},
		{"interaction-cookies", rawReq{Target: "/oauth/authorize/Zx81kq3", Header: [][2]string{{"Cookie", "_interaction=Zx81kq3; _session=abc%3D"}}}, ""},
		{"allowed-below", rawReq{Target: "/oauth/authorize/x?client_id=APP-SUB&response_type=code&redirect_uri=" + url.QueryEscape(good)}, good + "?code=SECRET-CODE"},
		{"allowed-split", rawReq{Method: "POST", Target: "/oauth/authorize/x?client_id=APP-SUB&response_type=code", Header: form, Body: []byte("redirect_uri=" + url.QueryEscape(good))}, good + "?code=SECRET-CODE"},
		// Consent forms posted back: Spring Authorization Server's (its
		// state ends in an escaped "="), Laravel Passport's.
		{"consent-spring", rawReq{Method: "POST", Target: "/oauth/authorize", Header: form, Body: []byte("client_id=APP-SUB&state=8aN3rL3fY1h4XpAeQP1Fbzna_kXSc5yMLN8uG7Udb-I%3D&scope=openid&scope=profile")}, good + "?code=consented"},
		{"consent-laravel", rawReq{Method: "POST", Target: "/oauth/authorize", Header: form, Body: []byte("_token=q1W%2Be3R4%2Ft5&state=x%C3%A9%3D&client_id=APP-SUB&auth_token=a%2Fb%3D")}, good + "?code=consented"},
	}
	for _, c := range forwarded {
		t.Run("forwarded/"+c.name, func(t *testing.T) {
			n := up.count()
			res := send(t, s.addr(), c.req)
			if res.Header.Get("X-Upstream") != "yes" {
				t.Fatalf("status %d, body %q: want the upstream's answer", res.Status, truncateForLog(res.Body))
			}
			if loc := res.Header.Get("Location"); loc != c.location {
				t.Errorf("Location %q, want %q", loc, c.location)
			}
			got := up.since(n)
			if len(got) != 1 {
				t.Fatalf("the upstream received %d requests, want 1", len(got))
			}
			checkSameTarget(t, c.name, got[0], c.req.Target)
			if c.req.Body != nil {
				checkSameBody(t, c.name, got[0], c.req.Body)
			}
			if c.location != good+"?code=SECRET-CODE" {
				if h := res.Header.Get("X-Policy"); h != "" && h != "[||]" {
					t.Errorf("X-Policy %q on a request the module does not check, want empty placeholders", h)
				}
			}
		})
	}

	// Consent forms that name one of ours, in any spelling a framework
	// binds, are still refused.
	for _, body := range []string{
		"client_id=APP-SUB&state=x&req.redirect_uri=" + evilQ,
		"client_id=APP-SUB&state=x&x%5Bredirect_uri%5D=" + evilQ,
		"client_id=APP-SUB&state=x&r%2565direct_uri=" + evilQ,
		"client_id=APP-SUB&state=x&oauth.Response_Mode=form_post",
	} {
		n := up.count()
		res := send(t, s.addr(), rawReq{Method: "POST", Target: "/oauth/authorize", Header: form, Body: []byte(body)})
		checkRejected(t, "consent "+body, res, "missing_redirect_uri", up, n)
	}

	// A page elsewhere: no literal placeholders in the operator's header.
	res := get(t, s.addr(), "/static/app.js")
	if h := res.Header.Get("X-Policy"); strings.Contains(h, "{") {
		t.Errorf("X-Policy %q on a request the module does not check, want empty placeholders", h)
	}
}

// TestIntegrationBodyCost: through Caddy, a hostile 64 KiB body costs the
// process at most 4 times the CPU time of a plain one of the same kind and
// size (the plain one forwarded to the upstream, the hostile one
// forwarded or rejected): the best of three rounds of a
// fixed count of requests each, so that a busy machine does not decide.
func TestIntegrationBodyCost(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	reg := writeRegistry(t, dir, "clients.json", "production",
		regClient{ClientID: "APP-COST", RedirectURIs: []string{"https://app.example/cb"}})
	s := newSite(t, up, "registry "+caddyfileQuote(reg), "environment production", "name itcost")
	startCaddy(t, s)

	const size = 64 << 10
	target := "/anything?response_type=code&client_id=APP-COST&redirect_uri=https%3A%2F%2Fapp.example%2Fcb"
	fill := func(prefix, unit, suffix string) []byte {
		return []byte(prefix + strings.Repeat(unit, (size-len(prefix)-len(suffix))/len(unit)) + suffix)
	}
	part := func(name, value string) string {
		return "--B\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n"
	}
	processCPU := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	cost := func(contentType string, body []byte) time.Duration {
		req := rawReq{Method: "POST", Target: target, Header: [][2]string{{"Content-Type", contentType}}, Body: body}
		best := time.Duration(0)
		for range 3 {
			start := processCPU()
			for range 20 {
				if res := send(t, s.addr(), req); res.Header.Get("X-Upstream") != "yes" && res.Status != http.StatusBadRequest {
					t.Fatalf("%s: status %d %q, want forwarded or rejected", contentType, res.Status, truncateForLog(res.Body))
				}
			}
			if d := processCPU() - start; best == 0 || d < best {
				best = d
			}
		}
		return best / 20
	}
	for _, k := range []struct {
		contentType    string
		plain, hostile []byte
	}{
		{"application/json", fill(`{"state":"`, "a", `"}`), fill(`{`, `"a":1,`, `"a":1}`)},
		{"multipart/form-data; boundary=B", fill(part("state", ""), "a", "\r\n--B--\r\n"), fill("", part("a", "1"), "--B--\r\n")},
		{"multipart/form-data; boundary=B", fill(part("state", ""), "a", "\r\n--B--\r\n"), []byte(strings.Repeat(part("a", strings.Repeat("1", 560)), 99) + "--B--\r\n")},
		{formType, fill("state=", "a", ""), fill("", "r%41=1&", "")},
		{formType, fill("state=", "a", ""), []byte(strings.Repeat("r%41=1&", 996) + string(fill("state=", "a", "")[7*996:]))},
	} {
		plain, hostile := cost(k.contentType, k.plain), cost(k.contentType, k.hostile)
		t.Logf("%s: hostile %v, plain %v per request", k.contentType, hostile, plain)
		if hostile > 4*plain {
			t.Errorf("%s: a hostile body costs %v, %.1f times a plain one (%v); want at most 4", k.contentType, hostile, float64(hostile)/float64(plain), plain)
		}
	}
}
