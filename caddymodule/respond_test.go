package caddymodule

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/request"
)

// unitClientID is a client_id as ORCID spells them.
const unitClientID = "APP-5X9K2L7M3N8P4Q1R"

// Accept headers of real clients.
const (
	acceptChrome  = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
	acceptFirefox = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/png,image/svg+xml,*/*;q=0.8"
	acceptSafari  = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	acceptCurl    = "*/*"
)

func TestPrefersHTML(t *testing.T) {
	for _, tc := range []struct {
		accept string
		want   bool
	}{
		{acceptChrome, true},
		{acceptFirefox, true},
		{acceptSafari, true},
		{"text/html", true},
		{"TEXT/HTML", true},
		{"application/xhtml+xml", true},
		{"text/html;q=0.1", true},
		{"application/json;q=0.5, text/html", true},
		{"text/html, application/json;q=0.9", true},
		{"text/html;q=0.9, application/json;q=0.8", true},
		{" text/html ; q=1 , application/json ; q=0.5 ", true},
		{"garbage, text/html", true},
		{"text/html;q=abc, application/xhtml+xml", true},

		{"", false},
		{acceptCurl, false},
		{"*/*;q=0.8", false},
		{"text/*", false},
		{"application/json", false},
		{"application/json, text/plain, */*", false}, // axios, fetch
		{"application/json, text/html", false},       // a tie goes to JSON
		{"text/html, application/json", false},
		{"text/html;q=0.9, application/json", false},
		{"text/html;q=0.5, application/json;q=0.9", false},
		{"text/html;q=0", false},
		{"text/html;q=0.0, application/xhtml+xml;q=0", false},
		{"text/html;q=abc", false},
		{"text/html;q=", false},
		{"text/html;;", false},
		{"garbage", false},
		{";;;,,,", false},
		{"text/htmlx", false},
		{"text/plain", false},
		{"image/webp,*/*", false},
	} {
		if got := prefersHTML(tc.accept); got != tc.want {
			t.Errorf("prefersHTML(%q) = %v; want %v", tc.accept, got, tc.want)
		}
	}
}

func rejectionRecorder(t *testing.T, accept string, d registry.Decision, ps request.Params) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/oauth/authorize", nil)
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	w := httptest.NewRecorder()
	// Headers an earlier handler may have set: a redirect must never
	// survive a rejection.
	w.Header().Set("Location", "https://evil.example/steal")
	w.Header().Add("Location", "https://evil.example/again")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	if err := writeRejection(w, r, &d, d.Client, ps.RedirectURI, false); err != nil {
		t.Fatalf("writeRejection: %v", err)
	}
	return w
}

func unitReject(reason policy.Reason, detail string) registry.Decision {
	return registry.Decision{Decision: policy.Decision{Reason: reason, Detail: detail}}
}

func TestWriteRejectionJSON(t *testing.T) {
	for _, tc := range []struct {
		reason      policy.Reason
		detail      string
		status      int
		errCode     string
		description string
	}{
		{policy.MissingClientID, "", 400, "invalid_request", "The request has no client_id."},
		{policy.MissingClientID, "The request has no client_id.", 400, "invalid_request", "The request has no client_id."},
		{policy.MissingRedirectURI, "", 400, "invalid_request", "The request has no redirect_uri."},
		{policy.DuplicateParameter, "", 400, "invalid_request", "The request repeats client_id or redirect_uri."},
		{policy.MalformedRequest, "the request path cannot be normalized", 400, "invalid_request",
			"The request could not be read. (the request path cannot be normalized)"},
		{policy.UnsupportedBody, "the request body has a Content-Encoding", 400, "invalid_request",
			"The request body is not a form the server accepts. (the request body has a Content-Encoding)"},
		{policy.RequestTooLarge, "the request body is larger than 65536 bytes", 413, "invalid_request",
			"The request body is too large. (the request body is larger than 65536 bytes)"},
		{policy.RequestObjectNotSupported, "", 400, "invalid_request", "Request objects (request, request_uri) are not supported."},
		{policy.UnknownClient, "the client_id is not registered", 400, "unauthorized_client",
			"The client_id is not registered. (the client_id is not registered)"},
		{policy.ClientDisabled, "the client is disabled in the registry", 400, "unauthorized_client",
			"The client has been disabled. (the client is disabled in the registry)"},
		{policy.MalformedRedirectURI, "contains an invalid percent-encoding", 400, "invalid_request",
			"The redirect URI is not a valid absolute URI. (contains an invalid percent-encoding)"},
		{policy.DisallowedScheme, "", 400, "invalid_request", "The redirect URI must use http or https."},
		{policy.UserinfoInRedirectURI, "", 400, "invalid_request", "The redirect URI must not contain user information."},
		{policy.FragmentInRedirectURI, "", 400, "invalid_request", "The redirect URI must not contain a fragment."},
		{policy.PathTraversal, "", 400, "invalid_request", "The redirect URI path must not contain dot segments."},
		{policy.InsecureScheme, "", 400, "invalid_request", "The redirect URI must use https."},
		{policy.LoopbackNotAllowed, "", 400, "invalid_request", "Loopback and unspecified hosts are not allowed here."},
		{policy.NoRegisteredRedirectURIs, "", 400, "invalid_request", "The client has no registered redirect URIs."},
		{policy.RedirectURINotRegistered, "no registered redirect URI matches", 400, "invalid_request",
			"The redirect URI is not registered for this client. (no registered redirect URI matches)"},
	} {
		for _, accept := range []string{"", acceptCurl, "application/json", "text/html;q=0.5, application/json"} {
			w := rejectionRecorder(t, accept, unitReject(tc.reason, tc.detail), request.Params{ClientID: unitClientID, RedirectURI: "https://evil.example/cb"})
			res := w.Result()
			if res.StatusCode != tc.status {
				t.Errorf("%s (Accept %q): status %d; want %d", tc.reason, accept, res.StatusCode, tc.status)
			}
			for name, want := range map[string]string{
				"Content-Type":            "application/json",
				"Cache-Control":           "no-store",
				"X-Content-Type-Options":  "nosniff",
				"Location":                "",
				"Content-Security-Policy": "",
			} {
				if got := strings.Join(res.Header.Values(name), ", "); got != want {
					t.Errorf("%s (Accept %q): %s = %q; want %q", tc.reason, accept, name, got, want)
				}
			}
			wantConn := ""
			if tc.status == 413 {
				wantConn = "close"
			}
			if got := res.Header.Get("Connection"); got != wantConn {
				t.Errorf("%s: Connection = %q; want %q", tc.reason, got, wantConn)
			}
			var body map[string]string
			dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&body); err != nil {
				t.Fatalf("%s: body %q is not a JSON object of strings: %v", tc.reason, w.Body.String(), err)
			}
			want := map[string]string{"error": tc.errCode, "error_description": tc.description, "reason": string(tc.reason)}
			if len(body) != len(want) || body["error"] != want["error"] || body["error_description"] != want["error_description"] || body["reason"] != want["reason"] {
				t.Errorf("%s: body %v; want %v", tc.reason, body, want)
			}
			// The request's values are not echoed in JSON.
			if strings.Contains(w.Body.String(), "evil.example") || strings.Contains(w.Body.String(), unitClientID) {
				t.Errorf("%s: JSON body echoes the request: %s", tc.reason, w.Body.String())
			}
		}
	}
}

// TestWriteRejectionJSONEscapes: markup in a description is escaped in
// JSON, so that a browser sniffing the body finds no tag.
func TestWriteRejectionJSONEscapes(t *testing.T) {
	hostile := `</script><script>alert("x")</script>&`
	w := rejectionRecorder(t, "application/json", unitReject(policy.MalformedRequest, hostile),
		request.Params{ClientID: hostile, RedirectURI: hostile})
	body := w.Body.String()
	want := `{"error":"invalid_request","error_description":"The request could not be read. (\u003c/script\u003e\u003cscript\u003ealert(\"x\")\u003c/script\u003e\u0026)","reason":"malformed_request"}` + "\n"
	if body != want {
		t.Errorf("body\n%s\nwant\n%s", body, want)
	}
}

func TestWriteRejectionHTML(t *testing.T) {
	for _, accept := range []string{acceptChrome, acceptFirefox, acceptSafari, "text/html"} {
		client := &registry.Client{ID: unitClientID, Name: "Example University Library"}
		d := registry.Decision{Decision: policy.Decision{Reason: policy.RedirectURINotRegistered, Detail: "no registered redirect URI matches"}, Client: client}
		w := rejectionRecorder(t, accept, d, request.Params{ClientID: unitClientID, RedirectURI: "https://evil.example/cb?x=1&y=2"})
		res := w.Result()
		if res.StatusCode != 400 {
			t.Errorf("Accept %q: status %d; want 400", accept, res.StatusCode)
		}
		for name, want := range map[string]string{
			"Content-Type":           "text/html; charset=utf-8",
			"Cache-Control":          "no-store",
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "no-referrer",
			"Location":               "",
			"Connection":             "",
		} {
			if got := strings.Join(res.Header.Values(name), ", "); got != want {
				t.Errorf("Accept %q: %s = %q; want %q", accept, name, got, want)
			}
		}
		csp := res.Header.Get("Content-Security-Policy")
		directives := map[string]string{}
		for d := range strings.SplitSeq(csp, ";") {
			name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
			directives[name] = value
		}
		if directives["default-src"] != "'none'" {
			t.Errorf("CSP %q: default-src = %q; want 'none'", csp, directives["default-src"])
		}
		for _, forbidden := range []string{"script-src", "script-src-elem", "script-src-attr", "connect-src"} {
			if _, ok := directives[forbidden]; ok {
				t.Errorf("CSP %q allows scripts through %s", csp, forbidden)
			}
		}
		if strings.Contains(csp, "unsafe-eval") || strings.Contains(directives["default-src"], "unsafe-inline") {
			t.Errorf("CSP %q allows script code", csp)
		}
		body := w.Body.String()
		for _, want := range []string{
			"<!DOCTYPE html>",
			"<title>Invalid sign-in link</title>",
			"<dd>The redirect URI is not registered for this client. (no registered redirect URI matches)</dd>",
			"<code>redirect_uri_not_registered</code>",
			"<code>" + unitClientID + "</code> (Example University Library)",
			"<dt>Requested destination</dt><dd><code>evil.example</code></dd>",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("Accept %q: HTML lacks %q:\n%s", accept, want, body)
			}
		}
		if strings.Contains(body, "<script") || strings.Contains(body, "href=") || strings.Contains(body, "src=") {
			t.Errorf("HTML has active content:\n%s", body)
		}
	}
}

// TestWriteRejectionHTMLOmits: the client and address lines are left out
// when the request did not name them; 413 closes the connection.
func TestWriteRejectionHTMLOmits(t *testing.T) {
	w := rejectionRecorder(t, acceptChrome, unitReject(policy.RequestTooLarge, "the request body is larger than 65536 bytes"), request.Params{})
	if w.Code != 413 {
		t.Errorf("status %d; want 413", w.Code)
	}
	if got := w.Header().Get("Connection"); got != "close" {
		t.Errorf("Connection = %q; want close", got)
	}
	body := w.Body.String()
	if strings.Contains(body, "<dt>Client</dt>") || strings.Contains(body, "<dt>Requested destination</dt>") {
		t.Errorf("HTML has client or address lines for a request without them:\n%s", body)
	}
	if !strings.Contains(body, "<dd>The request body is too large. (the request body is larger than 65536 bytes)</dd>") {
		t.Errorf("HTML lacks the description:\n%s", body)
	}
}

func TestWriteRejectionHTMLEscapes(t *testing.T) {
	hostileID := `"><script>alert(1)</script>`
	hostileURI := `javascript:alert(1)//</code><img src=x onerror=alert(1)>`
	hostileName := `<b onmouseover="alert(1)">Evil & Co</b>`
	d := registry.Decision{Decision: policy.Decision{Reason: policy.ClientDisabled}, Client: &registry.Client{ID: hostileID, Name: hostileName}}
	w := rejectionRecorder(t, "text/html", d, request.Params{ClientID: hostileID, RedirectURI: hostileURI})
	body := w.Body.String()
	for _, want := range []string{
		"<code>&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</code>",
		"(&lt;b onmouseover=&#34;alert(1)&#34;&gt;Evil &amp; Co&lt;/b&gt;)",
		"<code>javascript:alert(1)</code>",
		"<code>client_disabled</code>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("HTML lacks %q:\n%s", want, body)
		}
	}
	for _, raw := range []string{"<script", "<img", "<b ", "</code><img"} {
		if strings.Contains(body, raw) {
			t.Errorf("HTML contains unescaped %q:\n%s", raw, body)
		}
	}
}

func TestWriteRejectionTruncates(t *testing.T) {
	long := "https://evil.example/" + strings.Repeat("a", 100000)
	longID := strings.Repeat("C", 5000)
	w := rejectionRecorder(t, "text/html", unitReject(policy.MalformedRedirectURI, "longer than the maximum length"),
		request.Params{ClientID: longID, RedirectURI: long})
	body := w.Body.String()
	if want := "<code>evil.example</code>"; !strings.Contains(body, want) {
		t.Errorf("HTML lacks the redirect URI's host")
	}
	if strings.Contains(body, "aaaa") || strings.Contains(body, "CCCC") {
		t.Errorf("HTML echoes the redirect URI's path or an unregistered client_id")
	}
	longHost := "https://" + strings.Repeat("h", 300) + ".example/cb"
	w = rejectionRecorder(t, "text/html", unitReject(policy.MalformedRedirectURI, ""), request.Params{RedirectURI: longHost})
	if want := "<code>" + strings.Repeat("h", 64) + "…</code>"; !strings.Contains(w.Body.String(), want) {
		t.Errorf("HTML lacks the host cut at 64 bytes:\n%s", w.Body)
	}
	if len(body) > 4000 {
		t.Errorf("HTML body is %d bytes; want at most 4000", len(body))
	}

	// A registered client's long id is cut without splitting a UTF-8
	// sequence.
	multi := "a" + strings.Repeat("é", 200) // byte 128 is inside an é
	d := unitReject(policy.RedirectURINotRegistered, "")
	d.Client = &registry.Client{ID: multi}
	w = rejectionRecorder(t, "text/html", d, request.Params{ClientID: multi})
	if !utf8.Valid(w.Body.Bytes()) {
		t.Errorf("HTML body is not valid UTF-8 after truncating %q", multi)
	}
	if want := "<code>a" + strings.Repeat("é", 63) + "…</code>"; !strings.Contains(w.Body.String(), want) {
		t.Errorf("HTML lacks the client_id cut at 128 bytes on a rune boundary")
	}
}

func TestWriteTruncate(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "abc…"},
		{"ééé", 6, "ééé"},
		{"éééé", 6, "ééé…"},
		{"éééé", 5, "éé…"}, // not half an é
		{"a€b", 2, "a…"},   // € is 3 bytes
		{"a€b", 3, "a…"},
		{"a€b", 4, "a€…"},
		{"\xff\xff\xff", 2, "\xff\xff…"}, // invalid bytes are single bytes
		{"\x80\x80\x80\x80\x80\x80", 4, "\x80\x80\x80\x80…"},
	} {
		if got := truncate(tc.s, tc.n); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q; want %q", tc.s, tc.n, got, tc.want)
		}
	}
}

// discardWriter is a ResponseWriter that keeps nothing but its header map
// and status.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }

// writeRegistry writes a production registry of n clients to dir: client i
// is APP-%016d with the redirect URIs https://app<i>.example.edu/orcid/callback
// and https://portal<i>.example.edu.
func writeRegistry(tb testing.TB, dir string, n int) string {
	tb.Helper()
	var sb strings.Builder
	sb.WriteString(`{"environment":"production","clients":[`)
	for i := range n {
		if i > 0 {
			sb.WriteString(",\n")
		}
		fmt.Fprintf(&sb, `{"client_id":"APP-%016d","name":"Client %d","redirect_uris":["https://app%d.example.edu/orcid/callback","https://portal%d.example.edu"],"post_logout_redirect_uris":["https://app%d.example.edu/logged-out"]}`, i, i, i, i, i)
	}
	sb.WriteString("]}\n")
	file := filepath.Join(dir, fmt.Sprintf("registry-%d.json", n))
	if err := os.WriteFile(file, []byte(sb.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return file
}

// provisionHandler provisions a production Handler by hand, as Caddy
// would, for a registry of n clients (after configure, if not nil, has
// adjusted it), and lets go of it when the test ends. Rejections are
// logged as in production, but to nowhere.
func provisionHandler(tb testing.TB, n int, configure func(*Handler)) *Handler {
	tb.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	h := &Handler{
		Registry:    writeRegistry(tb, tb.TempDir(), n),
		Environment: "production",
	}
	if configure != nil {
		configure(h)
	}
	if err := h.Provision(ctx); err != nil {
		cancel()
		tb.Fatalf("Provision: %v", err)
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	h.logger = zap.New(zapcore.NewCore(enc, zapcore.AddSync(io.Discard), zap.InfoLevel))
	tb.Cleanup(func() {
		if err := h.Cleanup(); err != nil {
			tb.Errorf("Cleanup: %v", err)
		}
		cancel()
		loaders.Range(func(key, _ any) bool {
			if key.(loaderKey).file == h.Registry {
				n, _ := loaders.References(key)
				tb.Errorf("after Cleanup the registry loader still has %d references", n)
			}
			return true
		})
	})
	return h
}

var nopNext = caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })

// handlerRequest builds a request as Caddy hands it to a handler: with a
// replacer in its context.
func handlerRequest(method, target, accept string, body io.Reader) *http.Request {
	r := httptest.NewRequest(method, target, body)
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	r.Header.Set("User-Agent", "Mozilla/5.0")
	repl := caddy.NewReplacer()
	return r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
}

func authorizeTarget(clientID, redirectURI string) string {
	return "/oauth/authorize?client_id=" + clientID +
		"&response_type=code&scope=%2Fauthenticate&redirect_uri=" + redirectURI +
		"&state=af0ifjsldkj"
}

const (
	client0   = "APP-0000000000000000"
	callback0 = "https%3A%2F%2Fapp0.example.edu%2Forcid%2Fcallback"
)

// TestWriteServeHTTP runs requests through a provisioned handler: what
// reaches the next handler, what is answered, and the placeholders.
func TestWriteServeHTTP(t *testing.T) {
	h := provisionHandler(t, 3, nil)
	reportOnly := provisionHandler(t, 3, func(h *Handler) { h.ReportOnly = true; h.Name = "report" })
	par := provisionHandler(t, 3, func(h *Handler) { h.ParPaths = []string{"/oauth/par"}; h.Name = "par" })
	rejectObjects := provisionHandler(t, 3, func(h *Handler) {
		h.ParPaths = []string{"/oauth/par"}
		h.RequestObjects = RequestObjectsReject
		h.Name = "reject-objects"
	})
	const form = "application/x-www-form-urlencoded"
	basic := func(user string) http.Header {
		return http.Header{"Content-Type": {form}, "Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":secret"))}}
	}
	object := func(claims string) string {
		return "eyJhbGciOiJFUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".c2ln"
	}
	goodObject := object(`{"client_id":"` + client0 + `","redirect_uri":"https://app0.example.edu/orcid/callback"}`)
	evilObject := object(`{"client_id":"` + client0 + `","redirect_uri":"https://evil.example/cb"}`)
	const pushedURI = "urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Aabc"
	for _, tc := range []struct {
		name           string
		h              *Handler
		method, target string
		header         http.Header
		body           string
		forwarded      bool
		status         int       // when not forwarded
		placeholders   [3]string // decision, reason, client_id; all "" when unset
	}{
		{"allowed exact", h, "GET", authorizeTarget(client0, callback0), nil, "", true, 0,
			[3]string{"allowed", "exact_match", client0}},
		{"allowed host", h, "GET", authorizeTarget("APP-0000000000000002", "https://portal2.example.edu/x?y=1"), nil, "", true, 0,
			[3]string{"allowed", "host_match", "APP-0000000000000002"}},
		{"not registered", h, "GET", authorizeTarget(client0, "https%3A%2F%2Fevil.example%2Fcb"), nil, "", false, 400,
			[3]string{"rejected", "redirect_uri_not_registered", client0}},
		{"another client's URI", h, "GET", authorizeTarget(client0, "https://app1.example.edu/orcid/callback"), nil, "", false, 400,
			[3]string{"rejected", "redirect_uri_not_registered", client0}},
		{"unknown client", h, "GET", authorizeTarget("APP-X", callback0), nil, "", false, 400,
			[3]string{"rejected", "unknown_client", ""}}, // never the request's text
		{"duplicate", h, "GET", authorizeTarget(client0, callback0) + "&Redirect.URI=https://evil.example/", nil, "", false, 400,
			[3]string{"rejected", "duplicate_parameter", client0}},
		{"dotless i in the path", h, "GET", "/OAUTH/author%C4%B1ze/?client_id=" + client0 + "&redirect_uri=https://evil.example/", nil, "", false, 400,
			[3]string{"rejected", "redirect_uri_not_registered", client0}},
		{"trailing space segment", h, "GET", "/oauth/authorize/%20", nil, "", false, 400,
			[3]string{"rejected", "missing_client_id", ""}},
		{"double-encoded path", h, "GET", "/oauth%252fauthorize.json;x?client_id=" + client0, nil, "", false, 400,
			[3]string{"rejected", "missing_redirect_uri", client0}},
		{"path that cannot be normalized", h, "GET", "/oauth/authorize%25zz", nil, "", false, 400,
			[3]string{"rejected", "malformed_request", ""}},
		{"other path that cannot be decoded twice", h, "GET", "/static/100%25zz", nil, "", true, 0,
			[3]string{}},
		{"passthrough", h, "GET", "/static/app.js?redirect_uri=https://evil.example/", nil, "", true, 0,
			[3]string{}},
		{"passthrough token", h, "POST", "/oauth/token", http.Header{"Content-Type": {"application/json"}}, `{"redirect_uri":"x"}`, true, 0,
			[3]string{}},
		{"OPTIONS", h, "OPTIONS", "/oauth/authorize", nil, "", true, 0,
			[3]string{}},
		{"form body", h, "POST", "/oauth/authorize?client_id=" + client0, http.Header{"Content-Type": {form}}, "redirect_uri=" + callback0 + "&scope=openid", true, 0,
			[3]string{"allowed", "exact_match", client0}},
		{"form body duplicate", h, "POST", authorizeTarget(client0, callback0), http.Header{"Content-Type": {form}}, "redirect_uri=https://evil.example/", false, 400,
			[3]string{"rejected", "duplicate_parameter", client0}},
		{"gzip body", h, "POST", authorizeTarget(client0, callback0), http.Header{"Content-Type": {form}, "Content-Encoding": {"gzip"}}, "\x1f\x8b", false, 400,
			[3]string{"rejected", "unsupported_body", client0}},
		{"JSON body", h, "POST", authorizeTarget(client0, callback0), http.Header{"Content-Type": {"application/json"}}, "{}", false, 400,
			[3]string{"rejected", "unsupported_body", client0}},
		{"body too large", h, "POST", authorizeTarget(client0, callback0), http.Header{"Content-Type": {form}}, "a=" + strings.Repeat("b", DefaultMaxBody), false, 413,
			[3]string{"rejected", "request_too_large", client0}},
		{"report only", reportOnly, "GET", authorizeTarget(client0, "https://evil.example/"), nil, "", true, 0,
			[3]string{"reported", "redirect_uri_not_registered", client0}},
		{"report only allowed", reportOnly, "GET", authorizeTarget(client0, callback0), nil, "", true, 0,
			[3]string{"allowed", "exact_match", client0}},

		// PAR pushes: the client from the form or HTTP Basic; the body
		// reaches the server as sent.
		{"push", par, "POST", "/oauth/par", basic(client0), "response_type=code&redirect_uri=" + callback0, true, 0,
			[3]string{"allowed", "exact_match", client0}},
		{"push, client_id in the form", par, "POST", "/oauth/par", http.Header{"Content-Type": {form}}, "client_id=" + client0 + "&redirect_uri=" + callback0 + "&client_secret=x", true, 0,
			[3]string{"allowed", "exact_match", client0}},
		{"push, request object", par, "POST", "/oauth/par", basic(client0), "request=" + goodObject, true, 0,
			[3]string{"allowed", "exact_match", client0}},
		{"push, not registered", par, "POST", "/OAUTH/par/", basic(client0), "redirect_uri=https%3A%2F%2Fevil.example%2Fcb", false, 400,
			[3]string{"rejected", "redirect_uri_not_registered", client0}},
		{"push, evil request object", par, "POST", "/oauth/par", basic(client0), "request=" + evilObject, false, 400,
			[3]string{"rejected", "redirect_uri_not_registered", client0}},
		{"push, mismatched copies", par, "POST", "/oauth/par", basic(client0), "redirect_uri=" + callback0 + "&request=" + evilObject, false, 400,
			[3]string{"rejected", "redirect_uri_mismatch", client0}},
		{"push, clients disagree", par, "POST", "/oauth/par", basic("APP-0000000000000001"), "client_id=" + client0 + "&redirect_uri=" + callback0, false, 400,
			[3]string{"rejected", "client_id_mismatch", client0}},
		{"push, no redirect_uri", par, "POST", "/oauth/par", basic(client0), "scope=openid", false, 400,
			[3]string{"rejected", "missing_redirect_uri", client0}},
		{"push routed by X-Original-URL", par, "POST", "/", http.Header{"Content-Type": {form}, "X-Original-Url": {"/oauth/par"}}, "client_id=" + client0 + "&redirect_uri=https%3A%2F%2Fevil.example%2Fcb", false, 400,
			[3]string{"rejected", "redirect_uri_not_registered", client0}},
		{"push, GET", par, "GET", "/oauth/par?client_id=" + client0 + "&redirect_uri=" + callback0, nil, "", false, 400,
			[3]string{"rejected", "malformed_request", ""}},
		{"push without par_paths", h, "POST", "/oauth/par", basic(client0), "redirect_uri=https%3A%2F%2Fevil.example%2Fcb", true, 0,
			[3]string{}},

		// Request objects and request_uri at the authorize endpoint.
		{"request object", h, "GET", "/oauth/authorize?client_id=" + client0 + "&request=" + goodObject, nil, "", true, 0,
			[3]string{"allowed", "exact_match", client0}},
		{"request object, evil", h, "GET", "/oauth/authorize?client_id=" + client0 + "&request=" + evilObject, nil, "", false, 400,
			[3]string{"rejected", "redirect_uri_not_registered", client0}},
		{"request object, mismatched copies", h, "GET", authorizeTarget(client0, callback0) + "&request=" + evilObject, nil, "", false, 400,
			[3]string{"rejected", "redirect_uri_mismatch", client0}},
		{"request object, rejected by configuration", rejectObjects, "GET", "/oauth/authorize?client_id=" + client0 + "&request=" + goodObject, nil, "", false, 400,
			[3]string{"rejected", "request_object_not_supported", client0}},
		{"pushed request_uri", par, "GET", "/oauth/authorize?client_id=" + client0 + "&request_uri=" + pushedURI, nil, "", true, 0,
			[3]string{"allowed", "pushed_request", client0}},
		{"pushed request_uri without par_paths", h, "GET", "/oauth/authorize?client_id=" + client0 + "&request_uri=" + pushedURI, nil, "", false, 400,
			[3]string{"rejected", "request_object_not_supported", client0}},
		{"pushed request_uri, rejected by configuration", rejectObjects, "GET", "/oauth/authorize?client_id=" + client0 + "&request_uri=" + pushedURI, nil, "", false, 400,
			[3]string{"rejected", "request_object_not_supported", client0}},
		{"pushed request_uri, unknown client", par, "GET", "/oauth/authorize?client_id=APP-X&request_uri=" + pushedURI, nil, "", false, 400,
			[3]string{"rejected", "unknown_client", ""}},
	} {
		var body io.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body)
		}
		r := handlerRequest(tc.method, tc.target, "application/json", body)
		for k, v := range tc.header {
			r.Header[k] = v
		}
		w := httptest.NewRecorder()
		var forwardedBody []byte
		forwarded := false
		next := caddyhttp.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) error {
			forwarded = true
			var err error
			if r.Body != nil {
				forwardedBody, err = io.ReadAll(r.Body)
			}
			return err
		})
		if err := tc.h.ServeHTTP(w, r, next); err != nil {
			t.Errorf("%s: ServeHTTP: %v", tc.name, err)
			continue
		}
		if forwarded != tc.forwarded {
			t.Errorf("%s: forwarded = %v; want %v (status %d, body %s)", tc.name, forwarded, tc.forwarded, w.Code, w.Body)
		}
		if forwarded && string(forwardedBody) != tc.body {
			t.Errorf("%s: upstream got body %q; want %q", tc.name, forwardedBody, tc.body)
		}
		if !forwarded && w.Code != tc.status {
			t.Errorf("%s: status %d; want %d", tc.name, w.Code, tc.status)
		}
		if !forwarded {
			var rej rejection
			if err := json.Unmarshal(w.Body.Bytes(), &rej); err != nil || rej.Reason != tc.placeholders[1] {
				t.Errorf("%s: body %s (%v); want reason %s", tc.name, w.Body, err, tc.placeholders[1])
			}
		}
		repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
		var got [3]string
		for i, name := range []string{"decision", "reason", "client_id"} {
			got[i], _ = repl.GetString("http.redirect_uri_policy." + name)
		}
		if got != tc.placeholders {
			t.Errorf("%s: placeholders %q; want %q", tc.name, got, tc.placeholders)
		}
	}
}

// TestMetricsOutcomes: every decision and reason records into its own
// labelled counter and gives its placeholder values unchanged, without an
// allocation.
func TestMetricsOutcomes(t *testing.T) {
	const name = "outcomes-test"
	m := newPolicyMetrics(name, policy.Production, DefaultClientSeries)
	for _, tc := range []struct {
		decision string
		reasons  []policy.Reason
		logout   bool
	}{
		{decisionAllowed, policy.AllowReasons, false},
		{decisionRejected, policy.RejectReasons, false},
		{decisionReported, policy.RejectReasons, false},
		{decisionAllowed, logoutAllowReasons, true},
		{decisionRejected, logoutRejectReasons, true},
		{decisionReported, logoutRejectReasons, true},
	} {
		record, counter := m.record, decisionsTotal
		if tc.logout {
			record, counter = m.recordLogout, logoutDecisionsTotal
		}
		for _, r := range tc.reasons {
			o := record(tc.decision, r, nil)
			if o.decision != any(tc.decision) || o.reason != any(string(r)) {
				t.Errorf("record(%s, %s) placeholders = %#v, %#v", tc.decision, r, o.decision, o.reason)
			}
			if want := counter.WithLabelValues(name, string(policy.Production), tc.decision, string(r)); o.decisions != want {
				t.Errorf("record(%s, %s) counts into another counter", tc.decision, r)
			}
			if n := testing.AllocsPerRun(100, func() { record(tc.decision, r, nil) }); n != 0 {
				t.Errorf("record(%s, %s) allocates %v times; want 0", tc.decision, r, n)
			}
		}
	}
	// The logout door counts its own reasons and none of those that only
	// an authorize request can have.
	for _, r := range []policy.Reason{policy.LogoutClientMissing, policy.LogoutClientMismatch, policy.IDTokenHintUnreadable,
		policy.NoRegisteredPostLogoutRedirectURIs, policy.PostLogoutRedirectURINotRegistered} {
		if !slices.Contains(logoutRejectReasons, r) {
			t.Errorf("logout reason %s not counted at the logout door", r)
		}
	}
	for _, r := range []policy.Reason{policy.MissingRedirectURI, policy.RedirectURINotRegistered, policy.RequestObjectNotSupported} {
		if slices.Contains(logoutRejectReasons, r) {
			t.Errorf("authorize reason %s counted at the logout door", r)
		}
	}
}

// TestServeHTTPAllocs: an allowed authorize request costs the handler two
// allocations (the decoded redirect_uri and the client_id placeholder),
// cookies or not; another request costs none.
func TestServeHTTPAllocs(t *testing.T) {
	h := provisionHandler(t, 10, nil)
	for _, tc := range []struct {
		name, target, cookie string
		want                 float64
	}{
		{"allowed", authorizeTarget(client0, callback0), "", 2},
		{"allowed with cookies", authorizeTarget(client0, callback0), "session=abc%3D; theme=dark; \u00a0x=1", 2},
		{"passthrough", "/static/js/app.js?v=3", "session=abc", 0},
	} {
		r := handlerRequest(http.MethodGet, tc.target, acceptChrome, nil)
		if tc.cookie != "" {
			r.Header.Set("Cookie", tc.cookie)
		}
		w := &discardWriter{h: http.Header{}}
		if n := testing.AllocsPerRun(200, func() {
			if err := h.ServeHTTP(w, r, nopNext); err != nil {
				t.Fatal(err)
			}
		}); n != tc.want {
			t.Errorf("%s: ServeHTTP allocates %v times; want %v", tc.name, n, tc.want)
		}
	}
}

// TestWriteRejectionNoAttackerText: an unregistered client_id and the
// requested URI's path, query and bidi overrides never reach the page.
func TestWriteRejectionNoAttackerText(t *testing.T) {
	lure := "Your account is locked. Call support at +1 555 0100"
	d := unitReject(policy.UnknownClient, "")
	w := rejectionRecorder(t, "text/html", d, request.Params{ClientID: lure,
		RedirectURI: "https://support\u202e.evil.example/Your-account-is-locked?call=5550100"})
	body := w.Body.String()
	for _, bad := range []string{"locked", "5550100", "\u202e", "<dt>Client</dt>"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q:\n%s", bad, body)
		}
	}
	if !strings.Contains(body, "<code>support.evil.example</code>") {
		t.Errorf("page lacks the bidi-stripped host:\n%s", body)
	}
	if strings.Contains(body, "(the client_id is not registered)") {
		t.Errorf("page repeats the reason:\n%s", body)
	}
	for uri, want := range map[string]string{
		"https://user:Call-us@host.example:8443/x": "host.example:8443",
		"https://a.example\\@b.example/":           "a.example",
		"javascript:alert(1)":                      "javascript:alert(1)",
		"":                                         "",
	} {
		if got := displayHost(uri); got != want {
			t.Errorf("displayHost(%q) = %q; want %q", uri, got, want)
		}
	}
}

// TestProvisionOneLoaderPerFile: a registry written as a relative and as an
// absolute path is one file, read by one loader.
func TestProvisionOneLoaderPerFile(t *testing.T) {
	abs := provisionHandler(t, 2, nil)
	t.Chdir(filepath.Dir(abs.Registry))
	rel := provisionHandler(t, 2, func(h *Handler) { h.Registry = filepath.Base(abs.Registry) })
	if rel.loader != abs.loader {
		t.Errorf("%s and %s have loaders of their own", rel.Registry, abs.Registry)
	}
}
