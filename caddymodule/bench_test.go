//go:build unix

package caddymodule

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/cputime"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
)

// BenchmarkServeHTTP measures the handler's own cost per request: the
// request, its replacer and the response writer are reused, so what is
// counted is what ServeHTTP spends. Besides the wall time (ns/op), it
// reports the CPU time of the benchmarking thread (cpu-ns/op), which other
// processes competing for the CPU do not inflate.
func BenchmarkServeHTTP(b *testing.B) {
	small := provisionHandler(b, 10, nil)
	large := provisionHandler(b, 100000, nil)
	logout := provisionHandler(b, 10, func(h *Handler) { h.LogoutPaths = []string{"/session/end"} })
	const logoutTarget = "/session/end?client_id=" + client0 + "&post_logout_redirect_uri="

	for _, bc := range []struct {
		name    string
		h       *Handler
		target  string
		accept  string
		wantRes string // the reason placeholder after the request
	}{
		{"allowed", small, authorizeTarget(client0, callback0), acceptChrome, "exact_match"},
		{"rejected_not_registered", small, authorizeTarget(client0, "https%3A%2F%2Fevil.example%2Fcb"), acceptChrome, "redirect_uri_not_registered"},
		{"rejected_not_registered_json", small, authorizeTarget(client0, "https%3A%2F%2Fevil.example%2Fcb"), "application/json", "redirect_uri_not_registered"},
		{"passthrough", small, "/static/js/app.8f3a2c.js?v=3", acceptChrome, ""},
		{"logout_allowed", logout, logoutTarget + "https%3A%2F%2Fapp0.example.edu%2Flogged-out&state=af0ifjsldkj", acceptChrome, "exact_match"},
		{"logout_rejected", logout, logoutTarget + "https%3A%2F%2Fevil.example%2Flogged-out", acceptChrome, "post_logout_redirect_uri_not_registered"},
		{"passthrough_with_logout_paths", logout, "/static/js/app.8f3a2c.js?v=3", acceptChrome, ""},
		{"allowed_100k_clients", large, authorizeTarget("APP-0000000000099999", "https%3A%2F%2Fapp99999.example.edu%2Forcid%2Fcallback"), acceptChrome, "exact_match"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := handlerRequest(http.MethodGet, bc.target, bc.accept, nil)
			w := &discardWriter{h: http.Header{}}
			benchServe(b, r, bc.wantRes, func() {
				if err := bc.h.ServeHTTP(w, r, nopNext); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkRecordRejection measures counting a rejection of a registered
// client whose series exists (half of the clients are past the cap and
// counted as _other), on one goroutine (with its thread's CPU time, as
// above) and on every CPU at once.
func BenchmarkRecordRejection(b *testing.B) {
	m := newPolicyMetrics("client-bench", policy.Production, DefaultClientSeries)
	cs := make([]*registry.Client, 2*DefaultClientSeries)
	for i := range cs {
		cs[i] = &registry.Client{ID: fmt.Sprintf("APP-%016d", i)}
		m.record(decisionRejected, policy.RedirectURINotRegistered, cs[i])
	}
	b.Run("serial", func(b *testing.B) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		b.ReportAllocs()
		cpu := cputime.Thread()
		i := 0
		for b.Loop() {
			m.record(decisionRejected, policy.RedirectURINotRegistered, cs[i%len(cs)])
			i++
		}
		b.ReportMetric(float64(cputime.Thread()-cpu)/float64(b.N), "cpu-ns/op")
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				m.record(decisionRejected, policy.RedirectURINotRegistered, cs[i%len(cs)])
				i++
			}
		})
	})
}

// BenchmarkServeHTTPPAR measures a PAR push (HTTP Basic client, form body)
// and an authorize request with a signed request object by value, as
// openid-client sends them.
func BenchmarkServeHTTPPAR(b *testing.B) {
	h := provisionHandler(b, 10, func(h *Handler) { h.ParPaths = []string{"/oauth/par"} })
	claims := `{"iss":"` + client0 + `","aud":"https://auth.example.edu","client_id":"` + client0 +
		`","redirect_uri":"https://app0.example.edu/orcid/callback","response_type":"code","scope":"openid",` +
		`"state":"Xk3v9QbW2mN7pL4rT8yZ","code_challenge":"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",` +
		`"code_challenge_method":"S256","nonce":"n-0S6_WzA2Mj","exp":1767225600,"iat":1767225300,"nbf":1767225300,"jti":"a1b2c3"}`
	object := "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0." + base64.RawURLEncoding.EncodeToString([]byte(claims)) +
		".MEUCIQDKZokqnCjrRtw0tni+2gnjaLVQs0pqc2pEemmb9dtYAgIgX9uFHEBt2vRbVwV9s2KQGpF6cZEbVb3jx0o7sFMGE2U"
	push := "response_type=code&redirect_uri=" + callback0 + "&scope=openid&state=Xk3v9QbW2mN7pL4rT8yZ" +
		"&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&client_id=" + client0
	for _, bc := range []struct {
		name, method, target, body, wantRes string
	}{
		{"push", http.MethodPost, "/oauth/par", push, "exact_match"},
		{"request_object", http.MethodGet, "/oauth/authorize?client_id=" + client0 + "&request=" + object, "", "exact_match"},
		{"pushed_request_uri", http.MethodGet, "/oauth/authorize?client_id=" + client0 + "&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A6esc_11ACC5bwc014ltc14eY22c", "", "pushed_request"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			body := strings.NewReader(bc.body)
			r := handlerRequest(bc.method, bc.target, "application/json", nil)
			if bc.body != "" {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(client0+":secret")))
				r.ContentLength = int64(len(bc.body))
			}
			w := &discardWriter{h: http.Header{}}
			serve := func() {
				if bc.body != "" {
					body.Reset(bc.body)
					r.Body = io.NopCloser(body)
				}
				if err := h.ServeHTTP(w, r, nopNext); err != nil {
					b.Fatal(err)
				}
			}
			benchServe(b, r, bc.wantRes, serve)
		})
	}
}

// benchServe checks that one call of serve leaves the reason placeholder of
// r at wantReason, then measures serve, with its thread's CPU time beside
// the wall clock (the machines are shared).
func benchServe(b *testing.B, r *http.Request, wantReason string, serve func()) {
	serve()
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if got, _ := repl.GetString("http.redirect_uri_policy.reason"); got != wantReason {
		b.Fatalf("reason %q; want %q", got, wantReason)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	cpu := cputime.Thread()
	for b.Loop() {
		serve()
	}
	b.ReportMetric(float64(cputime.Thread()-cpu)/float64(b.N), "cpu-ns/op")
}
