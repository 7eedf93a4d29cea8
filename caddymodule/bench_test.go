//go:build unix

package caddymodule

import (
	"net/http"
	"runtime"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/cputime"
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
