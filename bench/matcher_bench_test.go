//go:build unix

package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/caddymodule"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/cputime"
)

// ListSizes are the allow-list sizes compared.
var ListSizes = []int{10, 100, 1000}

// expressionFor returns the expression matcher's CEL expression for an
// inline allow-list: what a user writes in a Caddyfile as
// `expression {query.redirect_uri} in [...]`, with the placeholder in the
// long form that the Caddyfile adapter expands the short one to.
func expressionFor(uris []string) string {
	var b strings.Builder
	b.WriteString("{http.request.uri.query.redirect_uri} in [")
	for i, u := range uris {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(u))
	}
	b.WriteString("]")
	return b.String()
}

// provisionExpression provisions Caddy's expression matcher for an inline
// list of n URIs, as Caddy does when it loads a config.
func provisionExpression(tb testing.TB, n int) *caddyhttp.MatchExpression {
	tb.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	tb.Cleanup(cancel)
	m := &caddyhttp.MatchExpression{Expr: expressionFor(ListURIs(n))}
	if err := m.Provision(ctx); err != nil {
		tb.Fatalf("provisioning the expression matcher: %v", err)
	}
	return m
}

// provisionModule provisions the module's handler in production mode with
// a registry of one client holding the same n URIs.
func provisionModule(tb testing.TB, n int) *caddymodule.Handler {
	tb.Helper()
	file := filepath.Join(tb.TempDir(), "registry.json")
	if err := os.WriteFile(file, RegistryJSON([]Client{ListClient(n)}), 0o644); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	h := &caddymodule.Handler{Registry: file, Environment: "production"}
	if err := h.Provision(ctx); err != nil {
		cancel()
		tb.Fatalf("provisioning the module: %v", err)
	}
	tb.Cleanup(func() {
		if err := h.Cleanup(); err != nil {
			tb.Errorf("Cleanup: %v", err)
		}
		cancel()
	})
	return h
}

// preparedRequest returns an authorize request prepared as Caddy's server
// prepares every request (replacer, variables, original request), for the
// last URI of a list of n: the one a linear scan would find last.
func preparedRequest(redirectURI string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, AuthorizeTarget(ListClientID, redirectURI), nil)
	r.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	r.Header.Set("User-Agent", "Mozilla/5.0")
	return caddyhttp.PrepareRequest(r, caddy.NewReplacer(), nil, nil)
}

// discard is a ResponseWriter that keeps nothing.
type discard struct {
	h      http.Header
	status int
}

func (w *discard) Header() http.Header         { return w.h }
func (w *discard) Write(p []byte) (int, error) { return len(p), nil }
func (w *discard) WriteHeader(status int)      { w.status = status }

// forwarded records whether the handler passed the request on.
type forwarded struct{ n int }

func (f *forwarded) ServeHTTP(http.ResponseWriter, *http.Request) error { f.n++; return nil }

// TestAllowListCompared checks that both sides of the comparison decide
// the same way: the listed URI passes, another one does not.
func TestAllowListCompared(t *testing.T) {
	for _, n := range []int{1, 10, 100} {
		uris := ListURIs(n)
		m := provisionExpression(t, n)
		h := provisionModule(t, n)
		for _, tc := range []struct {
			uri  string
			want bool
		}{
			{uris[n-1], true},
			{uris[0], true},
			{EvilCallback, false},
			{uris[0] + "/", false},
		} {
			r := preparedRequest(tc.uri)
			got, err := m.MatchWithError(r)
			if err != nil || got != tc.want {
				t.Errorf("n=%d expression(%s) = %v, %v; want %v", n, tc.uri, got, err, tc.want)
			}
			next := &forwarded{}
			w := &discard{h: http.Header{}}
			if err := h.ServeHTTP(w, r, next); err != nil {
				t.Fatal(err)
			}
			if (next.n == 1) != tc.want {
				t.Errorf("n=%d module(%s) forwarded=%v status=%d; want forwarded=%v", n, tc.uri, next.n == 1, w.status, tc.want)
			}
		}
	}
}

// BenchmarkAllowList measures, in the same way, what deciding an allowed
// authorize request costs Caddy's expression matcher over an inline list
// and the module's handler over a registry of one client with the same
// list: the request is prepared once, as Caddy's server does, and reused.
// Besides ns/op it reports the CPU time of the benchmarking thread
// (cpu-ns/op), which other processes do not inflate.
func BenchmarkAllowList(b *testing.B) {
	for _, n := range ListSizes {
		uri := ListURIs(n)[n-1]
		b.Run("expression/uris="+strconv.Itoa(n), func(b *testing.B) {
			m := provisionExpression(b, n)
			r := preparedRequest(uri)
			if ok, err := m.MatchWithError(r); !ok || err != nil {
				b.Fatalf("expression does not match its own URI: %v %v", ok, err)
			}
			measure(b, func() {
				if ok, _ := m.MatchWithError(r); !ok {
					b.Fatal("no match")
				}
			})
		})
		b.Run("module/uris="+strconv.Itoa(n), func(b *testing.B) {
			h := provisionModule(b, n)
			r := preparedRequest(uri)
			w := &discard{h: http.Header{}}
			next := &forwarded{}
			measure(b, func() {
				if err := h.ServeHTTP(w, r, next); err != nil {
					b.Fatal(err)
				}
			})
			if next.n == 0 || w.status != 0 {
				b.Fatalf("module did not forward its own URI (status %d)", w.status)
			}
		})
	}
}

func measure(b *testing.B, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	cpu := cputime.Thread()
	for b.Loop() {
		f()
	}
	b.ReportMetric(float64(cputime.Thread()-cpu)/float64(b.N), "cpu-ns/op")
}
