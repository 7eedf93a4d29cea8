//go:build unix

package caddymodule

import (
	"fmt"
	"net/http"
	"runtime"
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
		{"allowed_100k_clients", large, authorizeTarget("APP-0000000000099999", "https%3A%2F%2Fapp99999.example.edu%2Forcid%2Fcallback"), acceptChrome, "exact_match"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := handlerRequest(http.MethodGet, bc.target, bc.accept, nil)
			w := &discardWriter{h: http.Header{}}
			if err := bc.h.ServeHTTP(w, r, nopNext); err != nil {
				b.Fatal(err)
			}
			repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
			if got, _ := repl.GetString("http.redirect_uri_policy.reason"); got != bc.wantRes {
				b.Fatalf("reason %q; want %q", got, bc.wantRes)
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			cpu := cputime.Thread()
			for b.Loop() {
				if err := bc.h.ServeHTTP(w, r, nopNext); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cputime.Thread()-cpu)/float64(b.N), "cpu-ns/op")
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
