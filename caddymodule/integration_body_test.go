package caddymodule_test

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestIntegrationBodies checks parameters read from form bodies (any
// method), bodies forwarded byte for byte, the bodies that cannot be
// checked, the body limit, duplicates across query and body and the lenient
// parameter names of POLICY §3.
func TestIntegrationBodies(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	reg := writeRegistry(t, dir, "clients.json", "production",
		regClient{ClientID: "APP-BODY", RedirectURIs: []string{"https://app.example/cb"}})
	s := newSite(t, up, "registry "+caddyfileQuote(reg), "environment production", "name itb-prod", "max_body 1KiB")
	startCaddy(t, s)

	const (
		good     = "https://app.example/cb"
		evil     = "https://evil.example/cb"
		goodForm = "client_id=APP-BODY&response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fcb"
		evilForm = "client_id=APP-BODY&response_type=code&redirect_uri=https%3A%2F%2Fevil.example%2Fcb"
	)
	form := [][2]string{{"Content-Type", formType}}
	before := scrape(t)

	// Forwarded: the upstream receives the body byte for byte.
	forwarded := []struct {
		name string
		req  rawReq
	}{
		{"post-form", rawReq{Method: "POST", Target: "/oauth/authorize", Header: form, Body: []byte(goodForm + "&state=a%20b+c&scope=%2Fauthenticate")}},
		{"post-form-utf8", rawReq{Method: "POST", Target: "/oauth/authorize", Header: [][2]string{{"Content-Type", "application/x-www-form-urlencoded; charset=UTF-8"}}, Body: []byte(goodForm + "&nonce=caf\xc3\xa9&x=%E2%9C%93")}},
		{"post-form-chunked", rawReq{Method: "POST", Target: "/oauth/authorize", Header: form, Body: []byte(goodForm + "&state=" + strings.Repeat("s", 700)), Chunked: true}},
		{"put-form", rawReq{Method: "PUT", Target: "/oauth/authorize", Header: form, Body: []byte(goodForm)}},
		{"patch-form", rawReq{Method: "PATCH", Target: "/oauth/authorize", Header: form, Body: []byte(goodForm)}},
		{"delete-form", rawReq{Method: "DELETE", Target: "/oauth/authorize", Header: form, Body: []byte(goodForm)}},
		{"get-form-body", rawReq{Method: "GET", Target: "/oauth/authorize", Header: form, Body: []byte(goodForm)}},
		{"exactly-max-body", rawReq{Method: "POST", Target: "/oauth/authorize", Header: form, Body: padForm(goodForm+"&state=", 1024)}},
		{"exactly-max-body-chunked", rawReq{Method: "POST", Target: "/oauth/authorize", Header: form, Body: padForm(goodForm+"&state=", 1024), Chunked: true}},
		{"split-client-in-query", rawReq{Method: "POST", Target: "/oauth/authorize?client_id=APP-BODY&response_type=code", Header: form, Body: []byte("redirect_uri=" + url.QueryEscape(good) + "&state=1")}},
		{"split-redirect-in-query", rawReq{Method: "POST", Target: "/oauth/authorize?redirect_uri=" + url.QueryEscape(good), Header: form, Body: []byte("client_id=APP-BODY&response_type=code")}},
		{"empty-body-other-type", rawReq{Method: "POST", Target: authorize("APP-BODY", good), Header: [][2]string{{"Content-Type", "application/json"}}, Body: []byte{}}},
		{"empty-chunked-body", rawReq{Method: "POST", Target: authorize("APP-BODY", good), Header: [][2]string{{"Content-Type", "text/plain"}}, Body: nil, Chunked: true}},
	}
	for _, c := range forwarded {
		t.Run(c.name, func(t *testing.T) {
			n := up.count()
			res := send(t, s.addr(), c.req)
			got := checkForwarded(t, c.name, res, up, n)
			if got.Method != c.req.Method {
				t.Errorf("upstream method %q, want %q", got.Method, c.req.Method)
			}
			checkSameTarget(t, c.name, got, c.req.Target)
			want := c.req.Body
			if want == nil {
				want = []byte{}
			}
			checkSameBody(t, c.name, got, want)
			if ct := got.Header.Get("Content-Type"); len(c.req.Header) > 0 && ct != c.req.Header[0][1] {
				t.Errorf("upstream Content-Type %q, want %q", ct, c.req.Header[0][1])
			}
			if got.ContentLength >= 0 && got.ContentLength != int64(len(want)) {
				t.Errorf("upstream Content-Length %d, body %d bytes", got.ContentLength, len(want))
			}
		})
	}

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(evilForm))
	zw.Close()
	multipart := "--XyZ\r\nContent-Disposition: form-data; name=\"redirect_uri\"\r\n\r\n" + evil + "\r\n--XyZ--\r\n"
	utf16 := []byte{}
	for _, c := range "redirect_uri=" + evil {
		utf16 = append(utf16, byte(c), 0)
	}
	bigForm := goodForm + "&state=" + strings.Repeat("x", 2000)

	rejected := []bodyCase{
		// The checks apply to every method but OPTIONS.
		{"post-evil", rawReq{Method: "POST", Target: "/oauth/authorize", Header: form, Body: []byte(evilForm)}, "redirect_uri_not_registered"},
		{"put-evil", rawReq{Method: "PUT", Target: "/oauth/authorize", Header: form, Body: []byte(evilForm)}, "redirect_uri_not_registered"},
		{"patch-evil-chunked", rawReq{Method: "PATCH", Target: "/oauth/authorize", Header: form, Body: []byte(evilForm), Chunked: true}, "redirect_uri_not_registered"},
		{"delete-evil", rawReq{Method: "DELETE", Target: "/oauth/authorize", Header: form, Body: []byte(evilForm)}, "redirect_uri_not_registered"},
		{"head-evil", rawReq{Method: "HEAD", Target: authorize("APP-BODY", evil)}, "redirect_uri_not_registered"},

		// Bodies the upstream might read parameters from but the policy
		// cannot: the query alone is good, the body is what is rejected.
		{"json", rawReq{Method: "POST", Target: authorize("APP-BODY", good), Header: [][2]string{{"Content-Type", "application/json"}}, Body: []byte(`{"redirect_uri":"` + evil + `"}`)}, "unsupported_body"},
		{"multipart", rawReq{Method: "POST", Target: authorize("APP-BODY", good), Header: [][2]string{{"Content-Type", "multipart/form-data; boundary=XyZ"}}, Body: []byte(multipart)}, "unsupported_body"},
		{"text-plain", rawReq{Method: "POST", Target: authorize("APP-BODY", good), Header: [][2]string{{"Content-Type", "text/plain"}}, Body: []byte("redirect_uri=" + evil)}, "unsupported_body"},
		{"no-content-type", rawReq{Method: "POST", Target: authorize("APP-BODY", good), Body: []byte("redirect_uri=" + url.QueryEscape(evil))}, "unsupported_body"},
		{"no-content-type-chunked", rawReq{Method: "PUT", Target: authorize("APP-BODY", good), Body: []byte("redirect_uri=" + url.QueryEscape(evil)), Chunked: true}, "unsupported_body"},
		{"gzip", rawReq{Method: "POST", Target: "/oauth/authorize", Header: [][2]string{{"Content-Type", formType}, {"Content-Encoding", "gzip"}}, Body: gz.Bytes()}, "unsupported_body"},
		{"charset-utf16", rawReq{Method: "POST", Target: authorize("APP-BODY", good), Header: [][2]string{{"Content-Type", formType + "; charset=utf-16"}}, Body: utf16}, "unsupported_body"},
		{"two-content-types", rawReq{Method: "POST", Target: authorize("APP-BODY", good), Header: [][2]string{{"Content-Type", formType}, {"Content-Type", "application/json"}}, Body: []byte(`{"redirect_uri":"` + evil + `"}`)}, "unsupported_body"},

		// The body limit (1 KiB here).
		{"too-large", rawReq{Method: "POST", Target: "/oauth/authorize", Header: form, Body: []byte(bigForm)}, "request_too_large"},
		{"too-large-chunked", rawReq{Method: "POST", Target: "/oauth/authorize", Header: form, Body: []byte(bigForm), Chunked: true}, "request_too_large"},
		{"one-byte-over", rawReq{Method: "POST", Target: "/oauth/authorize", Header: form, Body: padForm(goodForm+"&state=", 1025)}, "request_too_large"},

		// Duplicates across query and body.
		{"redirect-in-both-same", rawReq{Method: "POST", Target: authorize("APP-BODY", good), Header: form, Body: []byte("redirect_uri=" + url.QueryEscape(good))}, "duplicate_parameter"},
		{"redirect-in-both-evil", rawReq{Method: "POST", Target: authorize("APP-BODY", good), Header: form, Body: []byte("redirect_uri=" + url.QueryEscape(evil))}, "duplicate_parameter"},
		{"client-in-both", rawReq{Method: "POST", Target: authorize("APP-BODY", good), Header: form, Body: []byte("client_id=APP-OTHER")}, "duplicate_parameter"},

		// Request objects, in the query or the body.
		{"request-in-body", rawReq{Method: "POST", Target: "/oauth/authorize", Header: form, Body: []byte(goodForm + "&request=eyJhbGciOiJub25lIn0.eyJyZWRpcmVjdF91cmkiOiJodHRwczovL2V2aWwuZXhhbXBsZS9jYiJ9.")}, "redirect_uri_mismatch"},
		{"request-uri-in-body", rawReq{Method: "POST", Target: "/oauth/authorize", Header: form, Body: []byte(goodForm + "&Request_Uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Ax")}, "request_object_not_supported"},
		{"request-query", rawReq{Target: authorize("APP-BODY", good) + "&request=x"}, "request_object_unreadable"},
		{"request-uri-query", rawReq{Target: authorize("APP-BODY", good) + "&request_uri=https%3A%2F%2Fevil.example%2Fr.jwt"}, "request_uri_not_registered"},
		{"REQUEST_URI-query", rawReq{Target: authorize("APP-BODY", good) + "&REQUEST_URI=https%3A%2F%2Fevil.example%2Fr.jwt"}, "request_uri_not_registered"},
		{"Request-query", rawReq{Target: authorize("APP-BODY", good) + "&Request=x"}, "request_object_unreadable"},
	}
	// Lenient spellings of the names are second copies, in the query and in
	// the body.
	for _, name := range []string{"Redirect_URI", "redirect.uri", "redirect uri", "redirect[uri", "REDIRECT_URI", "redirect_uri[]", "redirect_uri[0]", " redirect_uri",
		"[redirect_uri]", "]redirect_uri", "redirect_uri]", "\ufeffredirect_uri", ".redirect_uri", "!redirect_uri"} {
		second := url.QueryEscape(name) + "=" + url.QueryEscape(evil)
		rejected = append(rejected,
			bodyCase{"query-" + name, rawReq{Target: authorize("APP-BODY", good) + "&" + second}, "duplicate_parameter"},
			bodyCase{"body-" + name, rawReq{Method: "POST", Target: authorize("APP-BODY", good), Header: form, Body: []byte(second)}, "duplicate_parameter"},
		)
	}
	// A form body that starts with a byte order mark, which body-parser
	// drops.
	rejected = append(rejected, bodyCase{"body-bom", rawReq{Method: "POST", Target: authorize("APP-BODY", good), Header: form,
		Body: []byte("\xef\xbb\xbfredirect_uri=" + url.QueryEscape(evil))}, "duplicate_parameter"})
	for _, name := range []string{"Client_Id", "client.id", "CLIENT_ID", "client_id[]"} {
		rejected = append(rejected, bodyCase{"query-" + name, rawReq{Target: authorize("APP-BODY", good) + "&" + url.QueryEscape(name) + "=APP-ATTACKER"}, "duplicate_parameter"})
	}
	for _, c := range rejected {
		t.Run(c.name, func(t *testing.T) {
			n := up.count()
			res := send(t, s.addr(), c.req)
			if c.req.Method == "HEAD" {
				// No body in a response to HEAD: check what can be.
				if res.Status != http.StatusBadRequest || res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("X-Upstream") != "" {
					t.Errorf("HEAD: status %d, headers %v", res.Status, res.Header)
				}
				if got := up.since(n); len(got) != 0 {
					t.Errorf("HEAD: the upstream received %s %s", got[0].Method, got[0].RequestURI)
				}
				return
			}
			checkRejected(t, c.name, res, c.reason, up, n)
		})
	}

	// OPTIONS is never checked, whatever it carries.
	t.Run("options", func(t *testing.T) {
		for _, target := range []string{
			authorize("APP-UNKNOWN", evil) + "&redirect_uri=x&request=y",
			"/oauth/authorize",
			"/OAUTH//authorize/?redirect_uri=javascript%3Aalert(1)",
		} {
			n := up.count()
			req := rawReq{Method: "OPTIONS", Target: target, Header: [][2]string{{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}}}
			got := checkForwarded(t, "OPTIONS "+target, send(t, s.addr(), req), up, n)
			checkSameTarget(t, "OPTIONS "+target, got, target)
		}
	})

	// Counted: every checked request once, OPTIONS not at all.
	after := scrape(t)
	var wantAllowed, wantRejected float64 = float64(len(forwarded)), float64(len(rejected))
	var gotAllowed, gotRejected float64
	for k, d := range before.deltas(after, mDecisions, labels{"policy": "itb-prod"}) {
		switch {
		case strings.Contains(k, `decision="allowed"`):
			gotAllowed += d
		case strings.Contains(k, `decision="rejected"`):
			gotRejected += d
		default:
			t.Errorf("unexpected change of %s%s by %v", mDecisions, k, d)
		}
	}
	if gotAllowed != wantAllowed || gotRejected != wantRejected {
		t.Errorf("decisions counted: %v allowed, %v rejected; want %v and %v", gotAllowed, gotRejected, wantAllowed, wantRejected)
	}
	tooLarge, _ := after.value(mDecisions, labels{"policy": "itb-prod", "environment": "production", "decision": "rejected", "reason": "request_too_large"})
	tooLarge0, _ := before.value(mDecisions, labels{"policy": "itb-prod", "environment": "production", "decision": "rejected", "reason": "request_too_large"})
	if tooLarge-tooLarge0 != 3 {
		t.Errorf("request_too_large counted %v times, want 3", tooLarge-tooLarge0)
	}
}

// bodyCase is a request that the policy rejects for reason.
type bodyCase struct {
	name   string
	req    rawReq
	reason string
}

// padForm pads prefix with 'p' to exactly n bytes.
func padForm(prefix string, n int) []byte {
	return []byte(prefix + strings.Repeat("p", n-len(prefix)))
}

// TestIntegrationReportOnly checks that report_only forwards what it would
// reject, byte for byte, and records it as reported.
func TestIntegrationReportOnly(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	reg := writeRegistry(t, dir, "clients.json", "production",
		regClient{ClientID: "APP-REPORT", Name: "Reported", RedirectURIs: []string{"https://app.example/cb"}})
	s := newSite(t, up, "registry "+caddyfileQuote(reg), "environment production", "name itro", "report_only", "max_body 1KiB")
	startCaddy(t, s)

	form := [][2]string{{"Content-Type", formType}}
	bigForm := "client_id=APP-REPORT&response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&state=" + strings.Repeat("z", 3000)
	cases := []struct {
		name, reason, client string
		req                  rawReq
	}{
		{"not-registered", "redirect_uri_not_registered", "APP-REPORT", rawReq{Target: authorize("APP-REPORT", "https://evil.example/cb")}},
		{"unknown-client", "unknown_client", "", rawReq{Target: authorize("APP-REPORT-UNKNOWN", "https://evil.example/cb")}},
		{"duplicate", "duplicate_parameter", "", rawReq{Target: authorize("APP-REPORT", "https://app.example/cb") + "&Redirect_Uri=https%3A%2F%2Fevil.example%2F"}},
		{"path-spelling", "redirect_uri_not_registered", "APP-REPORT", rawReq{Target: "/OAuth//Authorize/?client_id=APP-REPORT&redirect_uri=https%3A%2F%2Fevil.example%2Fcb"}},
		{"unsupported-body", "unsupported_body", "", rawReq{Method: "POST", Target: authorize("APP-REPORT", "https://app.example/cb"), Header: [][2]string{{"Content-Type", "application/json"}}, Body: []byte(`{"a":1}`)}},
		{"evil-form", "redirect_uri_not_registered", "APP-REPORT", rawReq{Method: "POST", Target: "/oauth/authorize", Header: form, Body: []byte("client_id=APP-REPORT&redirect_uri=https%3A%2F%2Fevil.example%2Fcb")}},
		{"too-large", "request_too_large", "", rawReq{Method: "POST", Target: "/oauth/authorize", Header: form, Body: []byte(bigForm)}},
		// A body over the limit without Content-Length is read up to the
		// limit before the policy knows it is too large: the upstream must
		// still get all of it.
		{"too-large-chunked", "request_too_large", "", rawReq{Method: "POST", Target: "/oauth/authorize", Header: form, Body: []byte(bigForm), Chunked: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := scrape(t)
			n := up.count()
			res := send(t, s.addr(), c.req)
			after := scrape(t)
			got := checkForwarded(t, c.name, res, up, n)
			checkSameTarget(t, c.name, got, c.req.Target)
			want := c.req.Body
			if want == nil {
				want = []byte{}
			}
			checkSameBody(t, c.name, got, want)
			checkDeltas(t, c.name, before, after, mDecisions, labels{"policy": "itro"},
				map[string]float64{labels{"policy": "itro", "environment": "production", "decision": "reported", "reason": c.reason}.key(): 1})
			var wantClient map[string]float64
			if c.client != "" {
				wantClient = map[string]float64{labels{"policy": "itro", "client_id": c.client, "class": clientClass[c.reason]}.key(): 1}
			}
			checkDeltas(t, c.name, before, after, mClientRejections, labels{"policy": "itro"}, wantClient)
		})
	}

	t.Run("allowed", func(t *testing.T) {
		before := scrape(t)
		n := up.count()
		target := authorize("APP-REPORT", "https://app.example/cb")
		got := checkForwarded(t, "allowed", get(t, s.addr(), target), up, n)
		checkSameTarget(t, "allowed", got, target)
		checkDeltas(t, "allowed", before, scrape(t), mDecisions, labels{"policy": "itro"},
			map[string]float64{labels{"policy": "itro", "environment": "production", "decision": "allowed", "reason": "exact_match"}.key(): 1})
	})
}

// TestIntegrationRequestBodyMaxSize: a body that Caddy's request_body
// max_size cuts before the policy's own limit is 413 request_too_large, as
// one over the policy's limit is, not malformed_request.
func TestIntegrationRequestBodyMaxSize(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	reg := writeRegistry(t, dir, "clients.json", "production",
		regClient{ClientID: "APP-RB", RedirectURIs: []string{"https://app.example/cb"}})
	s := newSite(t, up, "registry "+caddyfileQuote(reg), "environment production", "name itrb")
	s.extra = []string{"request_body {\n\t\tmax_size 200\n\t}"}
	startCaddy(t, s)

	form := [][2]string{{"Content-Type", formType}}
	body := []byte("client_id=APP-RB&response_type=code&redirect_uri=" + url.QueryEscape("https://app.example/cb") + "&state=" + strings.Repeat("s", 400))
	n := up.count()
	checkRejected(t, "chunked body over max_size", send(t, s.addr(), rawReq{Method: "POST", Target: "/oauth/authorize", Header: form, Body: body, Chunked: true}), "request_too_large", up, n)
	n = up.count()
	checkForwarded(t, "body under max_size", send(t, s.addr(), rawReq{Method: "POST", Target: "/oauth/authorize", Header: form, Body: body[:150], Chunked: true}), up, n)
}
