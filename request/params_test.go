package request

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

const (
	unitClientID = "APP-5X9K2L7M3N8P4Q1R"
	unitURI      = "https://library.example.edu/orcid/callback"
	// unitURIEnc is unitURI as browsers send it in a query string.
	unitURIEnc = "https%3A%2F%2Flibrary.example.edu%2Forcid%2Fcallback"
)

func TestNameIs(t *testing.T) {
	for _, tc := range []struct {
		name, target string
		want         bool
	}{
		{"redirect_uri", "redirect_uri", true},
		{"Redirect_URI", "redirect_uri", true},
		{"REDIRECT_URI", "redirect_uri", true},
		{"rEdIrEcT_uRi", "redirect_uri", true},
		{"redirect.uri", "redirect_uri", true},
		{"redirect uri", "redirect_uri", true},
		{"redirect[uri", "redirect_uri", true},
		{"redirect_uri[]", "redirect_uri", true},
		{"redirect_uri[0]", "redirect_uri", true},
		{"redirect_uri[x][y]", "redirect_uri", true},
		{"redirect_uri[", "redirect_uri", true},
		{"redirect_uri\x00", "redirect_uri", true},
		{"redirect_uri\x00junk", "redirect_uri", true},
		{" redirect_uri", "redirect_uri", true},
		{"   redirect_uri", "redirect_uri", true},
		{"red\u0131rect_uri", "redirect_uri", true}, // dotless ı
		{"RED\u0130RECT_URI", "redirect_uri", true}, // dotted İ
		{"reque\u017ft", "request", true},           // long s
		{"reque\u017ft_uri", "request_uri", true},
		{"\u212aey", "key", true}, // Kelvin sign
		{"\u212aEY", "key", true},
		{"client_id", "client_id", true},
		{"Client.Id", "client_id", true},
		{"CLIENT ID", "client_id", true},
		{"client_id[]", "client_id", true},
		{"client[id", "client_id", true},
		// Rack reads the first run of non-brackets as the name; qs reads
		// [name] as name; body-parser drops a byte order mark.
		{"redirect_uri]", "redirect_uri", true},
		{"[redirect_uri]", "redirect_uri", true},
		{"]redirect_uri", "redirect_uri", true},
		{"[]redirect_uri", "redirect_uri", true},
		{"[ ]redirect_uri[x]", "redirect_uri", true},
		{"\ufeffredirect_uri", "redirect_uri", true},
		{" \ufeff[client_id", "client_id", true},
		{".redirect_uri", "redirect_uri", true}, // qs with allowDots
		{"!redirect_uri", "redirect_uri", true}, // Spring's default marker
		{"..[!client_id", "client_id", true},
		{"?redirect_uri", "redirect_uri", true}, // URLSearchParams drops a leading ?

		{"redirect_uri2", "redirect_uri", false},
		{"xredirect_uri", "redirect_uri", false},
		{"redirect_uris", "redirect_uri", false},
		{"redirect_ur", "redirect_uri", false},
		{"redirect_uri ", "redirect_uri", false}, // PHP reads redirect_uri_
		{"redirect_uri_", "redirect_uri", false},
		{"redirect-uri", "redirect_uri", false},
		{"redirecturi", "redirect_uri", false},
		{"redirect__uri", "redirect_uri", false},
		{"_redirect_uri", "redirect_uri", false},
		{"\tredirect_uri", "redirect_uri", false},
		{"redirect_ur\u0131", "redirect_uri", true},  // ı at the end
		{"redirect_ur\u00ef", "redirect_uri", false}, // ï is another letter
		{"redirect_ur\uff49", "redirect_uri", true},  // fullwidth ｉ, as best-fit mappings read it
		{"redirect_uri\u200b", "redirect_uri", false},
		{"client_ids", "client_id", false},
		{"client_id2", "client_id", false},
		{"clientid", "client_id", false},
		{"", "client_id", false},
		{" ", "client_id", false},
		{"\xff", "client_id", false},
		{"c\xff", "client_id", false},
		{"request_uri", "request", false},
		{"requests", "request", false},
		{"request", "request_uri", false},
		{"request_uris", "request_uri", false},
	} {
		if got := nameIs(tc.name, tc.target); got != tc.want {
			t.Errorf("nameIs(%q, %q) = %v; want %v", tc.name, tc.target, got, tc.want)
		}
	}
}

type scanWant struct {
	ClientID, RedirectURI   string
	nClientID, nRedirectURI int
	requestObject           bool
	scanReason, reason      policy.Reason
}

func checkScan(t *testing.T, label string, p *Params, scanReason policy.Reason, want scanWant) {
	t.Helper()
	got := scanWant{
		ClientID: p.ClientID, RedirectURI: p.RedirectURI,
		nClientID: p.nClientID, nRedirectURI: p.nRedirectURI,
		requestObject: p.requestObject,
		scanReason:    scanReason,
	}
	if scanReason == "" {
		got.reason = p.Reason()
	}
	if got != want {
		t.Errorf("%s:\n got %+v\nwant %+v", label, got, want)
	}
}

func TestScanQuery(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want scanWant
	}{
		// well-formed requests
		{"client_id=" + unitClientID + "&redirect_uri=" + unitURIEnc + "&response_type=code&scope=%2Fauthenticate",
			scanWant{unitClientID, unitURI, 1, 1, false, "", ""}},
		{"response_type=code&redirect_uri=" + unitURI + "&client_id=" + unitClientID,
			scanWant{unitClientID, unitURI, 1, 1, false, "", ""}},
		{"client_id=a&redirect_uri=https://x.example/cb?a=1%26b=2",
			scanWant{"a", "https://x.example/cb?a=1&b=2", 1, 1, false, "", ""}},
		// lenient names count as client_id / redirect_uri
		{"client_id=a&Redirect_URI=x", scanWant{"a", "x", 1, 1, false, "", ""}},
		{"CLIENT_ID=a&REDIRECT_URI=x", scanWant{"a", "x", 1, 1, false, "", ""}},
		{"client.id=a&redirect.uri=x", scanWant{"a", "x", 1, 1, false, "", ""}},
		{"client+id=a&redirect+uri=x", scanWant{"a", "x", 1, 1, false, "", ""}},
		{"client%20id=a&redirect%20uri=x", scanWant{"a", "x", 1, 1, false, "", ""}},
		{"client[id=a&redirect[uri=x", scanWant{"a", "x", 1, 1, false, "", ""}},
		{"client_id[]=a&redirect_uri[]=x", scanWant{"a", "x", 1, 1, false, "", ""}},
		{"client_id[0]=a&redirect_uri[0]=x", scanWant{"a", "x", 1, 1, false, "", ""}},
		{"+client_id=a&%20%20redirect_uri=x", scanWant{"a", "x", 1, 1, false, "", ""}},
		{"client_id=a&%72edirect_uri=x", scanWant{"a", "x", 1, 1, false, "", ""}},
		{"client_id=a&%52%45%44%49%52%45%43%54%5F%55%52%49=x", scanWant{"a", "x", 1, 1, false, "", ""}},
		{"client_id=a&red%C4%B1rect_uri=x", scanWant{"a", "x", 1, 1, false, "", ""}},
		{"client_id=a&red\u0131rect_uri=x", scanWant{"a", "x", 1, 1, false, "", ""}},
		{"client_id=a&redirect_uri%00=x", scanWant{"a", "x", 1, 1, false, "", ""}},
		// brackets around the name (Rack, qs) and a byte order mark
		// (body-parser)
		{"%5Bclient_id%5D=a&[redirect_uri]=x", scanWant{"a", "x", 1, 1, false, "", ""}},
		{"]client_id=a&[]redirect_uri=x", scanWant{"a", "x", 1, 1, false, "", ""}},
		{"client_id]=a&redirect_uri]=x", scanWant{"a", "x", 1, 1, false, "", ""}},
		{"%EF%BB%BFclient_id=a&\xef\xbb\xbfredirect_uri=x", scanWant{"a", "x", 1, 1, false, "", ""}},
		{"client_id=a&Redirect_URI=x&%5Bredirect_uri%5D=y", scanWant{"a", "y", 1, 2, false, "", policy.DuplicateParameter}},
		{"client_id=a&redirect_uri=x&%EF%BB%BFredirect_uri=y", scanWant{"a", "y", 1, 2, false, "", policy.DuplicateParameter}},
		{"client_id=a&redirect_uri=x&[[ ]request=y", scanWant{"a", "x", 1, 1, true, "", ""}},
		// duplicates, in any spelling
		{"client_id=a&redirect_uri=x&redirect_uri=y", scanWant{"a", "y", 1, 2, false, "", policy.DuplicateParameter}},
		{"client_id=a&redirect_uri=x&redirect_uri=x", scanWant{"a", "x", 1, 2, false, "", policy.DuplicateParameter}},
		{"client_id=a&redirect_uri=x&Redirect_URI=y", scanWant{"a", "y", 1, 2, false, "", policy.DuplicateParameter}},
		{"client_id=a&redirect_uri=x&redirect.uri=y", scanWant{"a", "y", 1, 2, false, "", policy.DuplicateParameter}},
		{"client_id=a&redirect_uri=x&redirect_uri[]=y", scanWant{"a", "y", 1, 2, false, "", policy.DuplicateParameter}},
		{"client_id=a&redirect_uri=x&red%C4%B1rect_uri=y", scanWant{"a", "y", 1, 2, false, "", policy.DuplicateParameter}},
		{"client_id=a&client_id=b&redirect_uri=x", scanWant{"b", "x", 2, 1, false, "", policy.DuplicateParameter}},
		{"client_id=a&CLIENT_ID=a&redirect_uri=x", scanWant{"a", "x", 2, 1, false, "", policy.DuplicateParameter}},
		{"client_id=&client_id=a&redirect_uri=x", scanWant{"a", "x", 2, 1, false, "", policy.DuplicateParameter}},
		{"client_id=a&redirect_uri=&redirect_uri=x", scanWant{"a", "x", 1, 2, false, "", policy.DuplicateParameter}},
		{"client_id=a&redirect_uri&redirect_uri=x", scanWant{"a", "x", 1, 2, false, "", policy.DuplicateParameter}},
		// a duplicate wins over a request object and missing values
		{"client_id=a&client_id=b&request=jwt", scanWant{"b", "", 2, 0, true, "", policy.DuplicateParameter}},
		// request objects, in any case
		{"client_id=a&redirect_uri=x&request=eyJ", scanWant{"a", "x", 1, 1, true, "", ""}},
		{"client_id=a&redirect_uri=x&request_uri=urn:x", scanWant{"a", "x", 1, 1, true, "", ""}},
		{"client_id=a&redirect_uri=x&REQUEST=eyJ", scanWant{"a", "x", 1, 1, true, "", ""}},
		{"client_id=a&redirect_uri=x&Request_Uri=urn:x", scanWant{"a", "x", 1, 1, true, "", ""}},
		{"client_id=a&redirect_uri=x&request.uri=urn:x", scanWant{"a", "x", 1, 1, true, "", ""}},
		{"client_id=a&redirect_uri=x&reque%C5%BFt=eyJ", scanWant{"a", "x", 1, 1, true, "", ""}},
		{"client_id=a&redirect_uri=x&request=", scanWant{"a", "x", 1, 1, true, "", ""}},
		{"client_id=a&redirect_uri=x&request", scanWant{"a", "x", 1, 1, true, "", ""}},
		{"request_uri=urn:x", scanWant{"", "", 0, 0, true, "", policy.MissingClientID}},
		{"client_id=a&request_uri=urn:x", scanWant{"a", "", 1, 0, true, "", ""}},
		{"client_id=a&request_uri=urn:x&request=eyJ", scanWant{"a", "", 1, 0, true, "", policy.MalformedRequest}},
		{"client_id=a&request=x&Request=y", scanWant{"a", "", 1, 0, true, "", policy.DuplicateParameter}},
		{"client_id=a&redirect_uri=x&client_assertion=y&client.assertion=z", scanWant{"a", "x", 1, 1, false, "", policy.DuplicateParameter}},
		// missing or empty
		{"", scanWant{"", "", 0, 0, false, "", policy.MissingClientID}},
		{"redirect_uri=x", scanWant{"", "x", 0, 1, false, "", policy.MissingClientID}},
		{"client_id=&redirect_uri=x", scanWant{"", "x", 1, 1, false, "", policy.MissingClientID}},
		{"client_id&redirect_uri=x", scanWant{"", "x", 1, 1, false, "", policy.MissingClientID}},
		{"client_id=a", scanWant{"a", "", 1, 0, false, "", policy.MissingRedirectURI}},
		{"client_id=a&redirect_uri=", scanWant{"a", "", 1, 1, false, "", policy.MissingRedirectURI}},
		{"client_id=a&redirect_uri", scanWant{"a", "", 1, 1, false, "", policy.MissingRedirectURI}},
		{"client_id=a&redirect_uri=&scope=x", scanWant{"a", "", 1, 1, false, "", policy.MissingRedirectURI}},
		// ';' separators and bad escapes
		{"client_id=a;redirect_uri=x", scanWant{"", "", 0, 0, false, policy.MalformedRequest, ""}},
		{"client_id=a&redirect_uri=https://x.example/a;b", scanWant{"", "", 0, 0, false, policy.MalformedRequest, ""}},
		{"client_id=a&redirect_uri=x&;", scanWant{"", "", 0, 0, false, policy.MalformedRequest, ""}},
		{"client_id=a&redirect_uri=%zz", scanWant{"a", "", 1, 1, false, policy.MalformedRequest, ""}},
		{"client_id=a&redirect_uri=x%4", scanWant{"a", "", 1, 1, false, policy.MalformedRequest, ""}},
		{"client_id=a&redirect_uri=x%", scanWant{"a", "", 1, 1, false, policy.MalformedRequest, ""}},
		{"client_id=%zz&redirect_uri=x", scanWant{"", "", 1, 0, false, policy.MalformedRequest, ""}},
		{"client_id=a&redirect_uri=x&state=%gg", scanWant{"a", "x", 1, 1, false, policy.MalformedRequest, ""}},
		{"client_id=a&%zz=1&redirect_uri=x", scanWant{"a", "", 1, 0, false, policy.MalformedRequest, ""}},
		// '+' is a space in values (and the escaped %2B a plus)
		{"client_id=a+b&redirect_uri=https://x.example/a+b", scanWant{"a b", "https://x.example/a b", 1, 1, false, "", ""}},
		{"client_id=a%2Bb&redirect_uri=https://x.example/a%2Bb", scanWant{"a+b", "https://x.example/a+b", 1, 1, false, "", ""}},
		// the value is everything after the first '='
		{"client_id=a=b&redirect_uri=x==", scanWant{"a=b", "x==", 1, 1, false, "", ""}},
		// empty pairs are ignored
		{"&&client_id=a&&&redirect_uri=x&&", scanWant{"a", "x", 1, 1, false, "", ""}},
		{"&", scanWant{"", "", 0, 0, false, "", policy.MissingClientID}},
		{"=&=x&client_id=a&redirect_uri=x", scanWant{"a", "x", 1, 1, false, "", ""}},
		// names that do not count
		{"client_id=a&redirect_uri=x&redirect_uri2=y&xredirect_uri=y&redirect_uris=y&client_ids=b&client_id2=b",
			scanWant{"a", "x", 1, 1, false, "", ""}},
		{"client_ids=b&redirect_uris=y", scanWant{"", "", 0, 0, false, "", policy.MissingClientID}},
		{"client_id=a&redirect-uri=y", scanWant{"a", "", 1, 0, false, "", policy.MissingRedirectURI}},
		{"client_id=a&redirect_uri=x&requests=y&request_uris=y&xrequest=y",
			scanWant{"a", "x", 1, 1, false, "", ""}},
	} {
		var p Params
		r := p.Scan(tc.raw)
		checkScan(t, "scan("+tc.raw+")", &p, r, tc.want)
	}
}

// TestScanQueryAndBody: the counts run across the query string and a form
// body, as an upstream that merges them reads them.
func TestScanQueryAndBody(t *testing.T) {
	for _, tc := range []struct {
		query, body string
		want        scanWant
	}{
		{"client_id=a", "redirect_uri=" + unitURIEnc, scanWant{"a", unitURI, 1, 1, false, "", ""}},
		{"", "client_id=a&redirect_uri=x", scanWant{"a", "x", 1, 1, false, "", ""}},
		{"client_id=a&redirect_uri=x", "state=1", scanWant{"a", "x", 1, 1, false, "", ""}},
		{"client_id=a&redirect_uri=x", "redirect_uri=y", scanWant{"a", "y", 1, 2, false, "", policy.DuplicateParameter}},
		{"client_id=a&redirect_uri=x", "Redirect.URI=x", scanWant{"a", "x", 1, 2, false, "", policy.DuplicateParameter}},
		{"client_id=a&redirect_uri=x", "client_id=a", scanWant{"a", "x", 2, 1, false, "", policy.DuplicateParameter}},
		{"client_id=a&redirect_uri=x", "request_uri=urn:x", scanWant{"a", "x", 1, 1, true, "", ""}},
		{"client_id=a", "redirect_uri=", scanWant{"a", "", 1, 1, false, "", policy.MissingRedirectURI}},
		{"client_id=a&redirect_uri=x", "a=1;b=2", scanWant{"a", "x", 1, 1, false, policy.MalformedRequest, ""}},
	} {
		var p Params
		r := p.Scan(tc.query)
		if r == "" {
			r = p.Scan(tc.body)
		}
		checkScan(t, "scan("+tc.query+") + scan("+tc.body+")", &p, r, tc.want)
	}
}

// TestParamsReason: the precedence of request-level reasons.
func TestParamsReason(t *testing.T) {
	for _, tc := range []struct {
		p    Params
		want policy.Reason
	}{
		{Params{ClientID: "a", RedirectURI: "x", nClientID: 1, nRedirectURI: 1}, ""},
		{Params{}, policy.MissingClientID},
		{Params{RedirectURI: "x", nRedirectURI: 1}, policy.MissingClientID},
		{Params{ClientID: "a", nClientID: 1}, policy.MissingRedirectURI},
		{Params{ClientID: "a", RedirectURI: "x", nClientID: 1, nRedirectURI: 1, requestObject: true}, ""},
		{Params{ClientID: "a", nClientID: 1, requestObject: true, nRequest: 1}, ""},
		{Params{requestObject: true}, policy.MissingClientID},
		{Params{ClientID: "a", nClientID: 1, requestObject: true, nRequest: 1, nRequestURI: 1}, policy.MalformedRequest},
		{Params{ClientID: "a", nClientID: 1, requestObject: true, nRequestURI: 2}, policy.DuplicateParameter},
		{Params{nClientID: 2, requestObject: true}, policy.DuplicateParameter},
		{Params{nRedirectURI: 2}, policy.DuplicateParameter},
		{Params{ClientID: "a", RedirectURI: "x", nClientID: 3, nRedirectURI: 1}, policy.DuplicateParameter},
	} {
		if got := tc.p.Reason(); got != tc.want {
			t.Errorf("%+v.Reason() = %q; want %q", tc.p, got, tc.want)
		}
	}
}

func TestCheckFormHeaders(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name   string
		header http.Header
		want   policy.Reason
		detail string
	}{
		{"form", http.Header{"Content-Type": {form}}, "", ""},
		{"form utf-8", http.Header{"Content-Type": {form + "; charset=utf-8"}}, "", ""},
		{"form UTF-8 quoted", http.Header{"Content-Type": {form + `; charset="UTF-8"`}}, "", ""},
		{"form us-ascii", http.Header{"Content-Type": {form + ";charset=US-ASCII"}}, "", ""},
		{"form iso-8859-1", http.Header{"Content-Type": {form + "; charset=ISO-8859-1"}}, "", ""},
		{"form upper case", http.Header{"Content-Type": {"Application/X-WWW-Form-URLEncoded"}}, "", ""},
		{"form other param", http.Header{"Content-Type": {form + "; foo=bar"}}, "", ""},
		{"identity encoding", http.Header{"Content-Type": {form}, "Content-Encoding": {"identity"}}, "", ""},
		{"Identity encoding", http.Header{"Content-Type": {form}, "Content-Encoding": {" Identity "}}, "", ""},

		{"utf-16", http.Header{"Content-Type": {form + "; charset=utf-16"}}, policy.UnsupportedBody,
			"the form body's charset is not UTF-8, US-ASCII or ISO-8859-1"},
		{"utf-7", http.Header{"Content-Type": {form + "; charset=utf-7"}}, policy.UnsupportedBody,
			"the form body's charset is not UTF-8, US-ASCII or ISO-8859-1"},
		{"ibm037", http.Header{"Content-Type": {form + "; charset=IBM037"}}, policy.UnsupportedBody,
			"the form body's charset is not UTF-8, US-ASCII or ISO-8859-1"},
		{"empty charset", http.Header{"Content-Type": {form + `; charset=""`}}, policy.UnsupportedBody,
			"the form body's charset is not UTF-8, US-ASCII or ISO-8859-1"},
		{"gzip", http.Header{"Content-Type": {form}, "Content-Encoding": {"gzip"}}, policy.UnsupportedBody,
			"the request body has a Content-Encoding"},
		{"deflate", http.Header{"Content-Type": {form}, "Content-Encoding": {"deflate"}}, policy.UnsupportedBody,
			"the request body has a Content-Encoding"},
		{"identity then gzip", http.Header{"Content-Type": {form}, "Content-Encoding": {"identity", "gzip"}}, policy.UnsupportedBody,
			"the request body has a Content-Encoding"},
		{"identity, gzip", http.Header{"Content-Type": {form}, "Content-Encoding": {"identity, gzip"}}, policy.UnsupportedBody,
			"the request body has a Content-Encoding"},
		{"empty encoding", http.Header{"Content-Type": {form}, "Content-Encoding": {""}}, policy.UnsupportedBody,
			"the request body has a Content-Encoding"},
		{"no content type", http.Header{}, policy.UnsupportedBody,
			"the request body needs exactly one Content-Type: application/x-www-form-urlencoded"},
		{"two content types", http.Header{"Content-Type": {form, form}}, policy.UnsupportedBody,
			"the request body needs exactly one Content-Type: application/x-www-form-urlencoded"},
		{"form and json", http.Header{"Content-Type": {form, "application/json"}}, policy.UnsupportedBody,
			"the request body needs exactly one Content-Type: application/x-www-form-urlencoded"},
		{"comma-joined", http.Header{"Content-Type": {form + ", application/json"}}, policy.UnsupportedBody,
			"the request body is not application/x-www-form-urlencoded"},
		{"empty content type", http.Header{"Content-Type": {""}}, policy.UnsupportedBody,
			"the request body is not application/x-www-form-urlencoded"},
		{"json", http.Header{"Content-Type": {"application/json"}}, policy.UnsupportedBody,
			"the request body is not application/x-www-form-urlencoded"},
		{"multipart", http.Header{"Content-Type": {"multipart/form-data; boundary=x"}}, policy.UnsupportedBody,
			"the request body is not application/x-www-form-urlencoded"},
		{"text/plain", http.Header{"Content-Type": {"text/plain"}}, policy.UnsupportedBody,
			"the request body is not application/x-www-form-urlencoded"},
		{"form suffix", http.Header{"Content-Type": {form + "x"}}, policy.UnsupportedBody,
			"the request body is not application/x-www-form-urlencoded"},
		{"bad parameter", http.Header{"Content-Type": {form + "; charset"}}, policy.UnsupportedBody,
			"the request body is not application/x-www-form-urlencoded"},
		{"duplicate charset", http.Header{"Content-Type": {form + "; charset=utf-8; charset=utf-16"}}, policy.UnsupportedBody,
			"the request body is not application/x-www-form-urlencoded"},
	} {
		reason, detail := checkFormHeaders(tc.header)
		if reason != tc.want || detail != tc.detail {
			t.Errorf("%s: checkFormHeaders(%v) = %q, %q; want %q, %q", tc.name, tc.header, reason, detail, tc.want, tc.detail)
		}
	}
}

// TestScanLongQuery: a query of MaxFields pairs is read in full; one more
// is refused, as PHP would read only the first MaxFields.
func TestScanLongQuery(t *testing.T) {
	raw := strings.Repeat("x=1&", MaxFields-2) + "client_id=a&redirect_uri=x"
	var p Params
	checkScan(t, "long query", &p, p.Scan(raw), scanWant{"a", "x", 1, 1, false, "", ""})
	var q Params
	if r := q.Scan("x=1&" + raw); r != policy.MalformedRequest {
		t.Errorf("query of %d pairs: Scan = %q; want %q", MaxFields+1, r, policy.MalformedRequest)
	}
	// Query and form together.
	var f Params
	if r := f.Scan(raw); r != "" {
		t.Fatalf("query: %q", r)
	}
	if r := f.Scan("state=x"); r != policy.MalformedRequest {
		t.Errorf("query and form of %d pairs: Scan = %q; want %q", MaxFields+1, r, policy.MalformedRequest)
	}
}

// escapeCorpus holds strings that url.QueryUnescape decodes or rejects.
var escapeCorpus = []string{
	"", "a", "+", "++", "%", "%%", "%2", "%20", "%2g", "%g2", "%zz", "%ZZ",
	"a%", "a%4", "a%41", "a%41b", "%41%42%43", "%4a%4A%4f", "%fF%Ff",
	"a+b", "a%2Bb", "a%2bb", "%+", "+%", "%%41", "%4%41", "%41%", "%41%4",
	"https%3A%2F%2Flibrary.example.edu%2Forcid%2Fcallback",
	"https://x.example/a+b?c=%26", "%00", "%0", "%C4%B1", "\xff%41",
	"%25", "%2525", "%252", "%25%", "%%25", "%%%", "%-1", "% 1", "%1 ",
	strings.Repeat("%41", 1000) + "+", strings.Repeat("a", 1000) + "%",
}

func TestParamsQueryUnescapeMatchesNetURL(t *testing.T) {
	for _, s := range escapeCorpus {
		checkQueryUnescape(t, s)
	}
	// Every string of up to three bytes from an alphabet of the bytes
	// that matter.
	alphabet := []string{"%", "+", "0", "9", "a", "f", "g", "A", "F", "G", "/", " ", "\xff"}
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		checkQueryUnescape(t, prefix)
		if n == 0 {
			return
		}
		for _, a := range alphabet {
			gen(prefix+a, n-1)
		}
	}
	gen("", 4)
}

func checkQueryUnescape(t *testing.T, s string) {
	t.Helper()
	want, err := url.QueryUnescape(s)
	got, ok := queryUnescape(s)
	if ok != (err == nil) || got != want {
		t.Fatalf("queryUnescape(%q) = %q, %v; url.QueryUnescape = %q, %v", s, got, ok, want, err)
	}
	if valid := validEscapes(s); valid != (err == nil) {
		t.Fatalf("validEscapes(%q) = %v; url.QueryUnescape error %v", s, valid, err)
	}
}

func FuzzQueryUnescape(f *testing.F) {
	for _, s := range escapeCorpus {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkQueryUnescape(t, s) })
}

// TestQueryUnescapeAllocs: names and values without escapes cost nothing,
// with escapes one allocation.
func TestParamsQueryUnescapeAllocs(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want float64
	}{
		{"redirect_uri", 0},
		{"https://x.example/cb", 0},
		{unitURIEnc, 1},
		{"a+b", 1},
	} {
		if n := testing.AllocsPerRun(100, func() { _, _ = queryUnescape(tc.s) }); n != tc.want {
			t.Errorf("queryUnescape(%q) allocates %v times; want %v", tc.s, n, tc.want)
		}
	}
}

// TestNameLeadLowerPrefilter: scan looks closer only at names whose first
// letter, folded, is c or r, which is sound only if that prefilter agrees
// with nameIs on every leading rune.
func TestNameLeadLowerPrefilter(t *testing.T) {
	for r := rune(utf8.RuneSelf); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		lead := leadLower(string(r) + "x")
		for _, target := range []string{"client_id", "redirect_uri", "request", "post_logout_redirect_uri", "id_token_hint"} {
			name := string(r) + target[1:]
			if nameIs(name, target) && lead != rune(target[0]) {
				t.Fatalf("nameIs(%q, %q) but leadLower = %q: scan's prefilter would miss it", name, target, lead)
			}
		}
	}
	for _, tc := range []struct {
		name string
		want rune
	}{
		{"", 0}, {"   ", 0}, {"client_id", 'c'}, {"  Client_ID", 'c'}, {"REDIRECT", 'r'},
		{"\u0131", 'i'}, {"\uff52edirect_uri", 'r'}, {"\uff23lient_id", 'c'}, {"_x", '_'}, {"[", 0}, {"[]Redirect", 'r'}, {"\ufeffClient", 'c'},
	} {
		if got := leadLower(tc.name); got != tc.want {
			t.Errorf("leadLower(%q) = %q; want %q", tc.name, got, tc.want)
		}
	}
}

// TestScanAllocs: a browser's authorize query costs one allocation, for
// its percent-encoded redirect_uri.
func TestScanAllocs(t *testing.T) {
	raw := "client_id=" + unitClientID + "&response_type=code&scope=%2Fauthenticate&redirect_uri=" + unitURIEnc + "&state=af0ifjsldkj"
	n := testing.AllocsPerRun(100, func() {
		var p Params
		if r := p.Scan(raw); r != "" {
			t.Fatal(r)
		}
	})
	if n != 1 {
		t.Errorf("scan allocates %v times; want 1", n)
	}
}

// BenchmarkParamsScan reads a browser's authorize query.
func BenchmarkParamsScan(b *testing.B) {
	raw := "client_id=" + unitClientID + "&response_type=code&scope=%2Fauthenticate&redirect_uri=" + unitURIEnc + "&state=af0ifjsldkj"
	b.ReportAllocs()
	for b.Loop() {
		var p Params
		if r := p.Scan(raw); r != "" {
			b.Fatal(r)
		}
	}
}

// scanReference is scan without its shortcuts: every pair is split with
// strings.Cut, every name decoded and compared with nameIs.
func scanReference(p *Params, raw string) policy.Reason {
	if strings.Contains(raw, ";") {
		return policy.MalformedRequest
	}
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		rawName, rawValue, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			return policy.MalformedRequest
		}
		var dst *string
		switch {
		case nameIs(name, "client_id"):
			p.nClientID++
			dst = &p.ClientID
		case nameIs(name, "client_assertion"):
			p.nAssertion++
			dst = &p.ClientAssertion
		case nameIs(name, "redirect_uri"):
			p.nRedirectURI++
			dst = &p.RedirectURI
		case nameIs(name, "request"):
			p.requestObject = true
			p.nRequest++
			dst = &p.Request
		case nameIs(name, "request_uri"):
			p.requestObject = true
			p.nRequestURI++
			dst = &p.RequestURI
		case nameIs(name, "response_type"):
			p.responseType = true
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return policy.MalformedRequest
		}
		if dst != nil {
			*dst = value
		}
	}
	return ""
}

// FuzzParamsScan: scan reads every query as scanReference does, down to
// the state left by a malformed one.
func FuzzParamsScan(f *testing.F) {
	for _, s := range []string{
		"client_id=a&redirect_uri=" + unitURIEnc + "&state=x",
		"+client_id=a&%20redirect_uri=x&Request=1", "%63lient_id=a&red%C4%B1rect_uri=x",
		"\uff52edirect_uri=x&client.id=b", "a=%zz&client_id=a", "client_id=a&x=%4&redirect_uri=y",
		"&&=&client_id[]=a&REDIRECT.URI=b;", "Response.Type=code&[]response_type%00=x", "\xffclient_id=a", "reque%C5%BFt=1&redirect_uri%00=z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var got, want Params
		gotReason, wantReason := got.Scan(raw), scanReference(&want, raw)
		got.pairs = 0 // the reference has no bound, and fuzzed queries are short
		if gotReason != wantReason || got != want {
			t.Fatalf("scan(%q) = %q, %+v; reference %q, %+v", raw, gotReason, got, wantReason, want)
		}
	})
}

// TestRequestsCode: a query with response_type and redirect_uri, in any
// spelling, is an authorize request wherever it is sent.
func TestRequestsCode(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want bool
	}{
		{"response_type=code&client_id=a&redirect_uri=x", true},
		{"redirect_uri=x&response_type=code", true},
		{"Response.Type=code&REDIRECT_URI=x", true},
		{"%72esponse_type=code&redirect%5Furi=x", true},
		{"response_type=code;redirect_uri=x", true},
		{"a=%zz&response_type=code&redirect_uri=x", true},
		{"response_type%zz=code&redirect_uri=x", false},
		// PHP keeps a bad escape and cuts a name at a NUL
		{"response_type%00%=code&redirect_uri=x", true},
		{"response_type=code&redirect_uri%00%=x", true},
		{"\uff52esponse_type=code&[redirect_uri]=x", true},
		{"q=oauth/authorize&response_type=code&redirect_uri=https%3A%2F%2Fevil.example", true},
		{"", false},
		{"v=3", false},
		{"redirect_uri=x", false},
		{"response_type=code", false},
		{"response_types=code&redirect_uri=x", false},
		{"post_logout_redirect_uri=x&response_type=code", false},
		{"type=a&redirect_uri=x", false},
		// A request object can carry the redirect URI instead.
		{"response_type=code&client_id=a&request=x.y.z", true},
		{"Request_Uri=urn:x&response_type=code", true},
		{"request=x.y.z&client_id=a", false},
		{"response_type=code&requests=x", false},
	} {
		if got := RequestsCode(tc.raw); got != tc.want {
			t.Errorf("RequestsCode(%q) = %v; want %v", tc.raw, got, tc.want)
		}
	}
}

// TestParamsScanCookies: cookies that an upstream merging cookies into its
// parameters reads as ours are more copies.
func TestParamsScanCookies(t *testing.T) {
	for _, tc := range []struct {
		query   string
		cookies []string
		want    scanWant
	}{
		{"client_id=a&redirect_uri=x", nil, scanWant{"a", "x", 1, 1, false, "", ""}},
		{"client_id=a&redirect_uri=x", []string{"session=abc; theme=dark;client=b; redirect=y"},
			scanWant{"a", "x", 1, 1, false, "", ""}},
		{"client_id=a&redirect_uri=x", []string{"session=abc; redirect_uri=https%3A%2F%2Fevil.example%2F"},
			scanWant{"a", "https://evil.example/", 1, 2, false, "", policy.DuplicateParameter}},
		{"client_id=a&redirect_uri%5B%5D=x", []string{"Redirect.URI=y"},
			scanWant{"a", "y", 1, 2, false, "", policy.DuplicateParameter}},
		{"client_id=a&redirect_uri=x", []string{"a=1;\tredirect_uri=y"},
			scanWant{"a", "y", 1, 2, false, "", policy.DuplicateParameter}},
		// white space that ASP.NET's String.Trim drops, in UTF-8 and Latin-1
		{"client_id=a&redirect_uri=x", []string{"a=1; \u00a0redirect_uri\u3000=y"},
			scanWant{"a", "y", 1, 2, false, "", policy.DuplicateParameter}},
		{"client_id=a&redirect_uri=x", []string{"a=1; \xa0\x85client_id=b"},
			scanWant{"b", "x", 2, 1, false, "", policy.DuplicateParameter}},
		{"client_id=a&redirect_uri=x", []string{"a=1", "  client_id=b"},
			scanWant{"b", "x", 2, 1, false, "", policy.DuplicateParameter}},
		{"client_id=a&redirect_uri=x", []string{"%72edirect_uri=%zz"},
			scanWant{"a", "%zz", 1, 2, false, "", policy.DuplicateParameter}},
		{"client_id=a", []string{"redirect_uri=https://evil.example/"},
			scanWant{"a", "https://evil.example/", 1, 1, false, "", ""}},
		{"client_id=a&redirect_uri=x", []string{"request_uri=urn:x"},
			scanWant{"a", "x", 1, 1, true, "", ""}},
	} {
		var p Params
		r := p.Scan(tc.query)
		p.ScanCookies(tc.cookies)
		checkScan(t, fmt.Sprintf("scan(%s) + cookies %q", tc.query, tc.cookies), &p, r, tc.want)
	}
}

// TestParamsSubmission: a form posted back to the endpoint is one with
// none of the authorize request's parameters, nor a name that hides one.
func TestParamsSubmission(t *testing.T) {
	for _, tc := range []struct {
		query, form string
		want        bool
	}{
		{"", "user_oauth_approval=true&scope.openid=true", true},
		{"", "client_id=a&state=xyz&scope=openid", true},
		{"", "", true},
		{"", "client_id=a&redirect_uri=x", false},
		{"", "client_id=a&Response.Type=code", false},
		{"request_uri=urn%3Ax", "client_id=a", false},
		{"", "req.redirect_uri=x", false},
		{"x.RESPONSE_type=code", "client_id=a", false},
		// Values do not matter: Spring Authorization Server's state ends
		// in an escaped "=", Laravel Passport's form is all escapes.
		{"", "state=a%3Db", true},
		{"", "client_id=C&state=8aN3rL3fY1h4XpAeQP1Fbzna_kXSc5yMLN8uG7Udb-I%3D&scope=openid&scope=profile", true},
		{"", "_token=a%2Bb%2F&state=%C3%A9%3D&client_id=3&auth_token=x%2Fy", true},
		{"", "state=%72edirect_uri", true},
		// Names do: any that a framework may read or bind as one of ours.
		{"", "client_id=a&x[redirect_uri]=x", false},
		{"", "client_id=a&x%5Bredirect_uri%5D=x", false},
		{"", "client_id=a&r%2565direct_uri=x", false}, // encoded twice
		{"", "client_id=a&%72esponse.mode=x", false},
		{"", "client_id=a&\uff52\uff45direct=x", false},
		{"", "client_id=a&ctx.Request=x", false},
		{"", "client_id=a&Redirect=x", false},
	} {
		var p Params
		p.Scan(tc.query)
		p.form = tc.form
		p.Scan(tc.form)
		p.ScanCookies([]string{"session=a%3D%3D; theme=dark"})
		if got := p.Submission(tc.query); got != tc.want {
			t.Errorf("submission(%q, form %q) = %v; want %v", tc.query, tc.form, got, tc.want)
		}
	}
}

// TestParamsSubmissionCookies: a cookie that names the authorize
// parameters, in a spelling some framework reads, rules out a consent form.
func TestParamsSubmissionCookies(t *testing.T) {
	for _, tc := range []struct {
		cookie string
		want   bool
	}{
		{"session=abc", true},
		{"session=a%3D%3D; lang=\u00e9", true},
		{"\u00a0response_type=code", false},
		{"\u3000redirect_uri=https://evil.example/", false},
		{"req.Redirect_URI=x", false},
		{"x=1; response=y", false},
	} {
		var p Params
		p.Scan("client_id=a")
		p.ScanCookies([]string{tc.cookie})
		if got := p.Submission(""); got != tc.want {
			t.Errorf("submission with cookie %q = %v; want %v", tc.cookie, got, tc.want)
		}
	}
}

// TestParamsScanJSONAndMultipart: the top-level keys of a JSON object and
// the fields of a multipart form are parameters, every copy counted; a
// body that parsers could read differently fails.
func TestParamsScanJSONAndMultipart(t *testing.T) {
	for _, tc := range []struct {
		body string
		ok   bool
		want scanWant
	}{
		{`{"client_id":"a","redirect_uri":"x","nested":{"redirect_uri":"y"}}`, true, scanWant{"a", "x", 1, 1, false, "", ""}},
		{`{"client_id":"a","redirect_uri":"x","Redirect.URI":"y"}`, true, scanWant{"a", "y", 1, 2, false, "", policy.DuplicateParameter}},
		{`{"client_id":"a","redirect\u005furi":"x"}`, true, scanWant{"a", "x", 1, 1, false, "", ""}},
		{"\ufeff{\"client_id\":\"a\",\"redirect_uri\":7}", true, scanWant{"a", "7", 1, 1, false, "", ""}},
		{`{"client_id":"a","redirect_uri":"x","request":{"a":1}}`, true, scanWant{"a", "x", 1, 1, true, "", ""}},
		{`["client_id","redirect_uri"]`, true, scanWant{"", "", 0, 0, false, "", policy.MissingClientID}},
		{`{"client_id":"a",`, false, scanWant{"", "", 0, 0, false, "", policy.MissingClientID}},
		{strings.Repeat("[", 10001) + strings.Repeat("]", 10001), false, scanWant{"", "", 0, 0, false, "", policy.MissingClientID}},
	} {
		var p Params
		if ok := p.scanJSON([]byte(tc.body)); ok != tc.ok {
			t.Errorf("scanJSON(%.40q) = %v; want %v", tc.body, ok, tc.ok)
		}
		checkScan(t, "scanJSON", &p, "", tc.want)
	}
	part := func(disposition, value string) string {
		return "--B\r\nContent-Disposition: " + disposition + "\r\n\r\n" + value + "\r\n"
	}
	good := part(`form-data; name="client_id"`, "a") + part(`form-data; name="redirect_uri"`, "x")
	for _, tc := range []struct {
		name, body, boundary string
		ok                   bool
		want                 scanWant
	}{
		{"fields", good + "--B--\r\n", "B", true, scanWant{"a", "x", 1, 1, false, "", ""}},
		{"second copy in a file part", good + part(`form-data; name="Redirect_URI"; filename="f"`, "y") + "--B--\r\n", "B", true,
			scanWant{"a", "y", 1, 2, false, "", policy.DuplicateParameter}},
		{"no boundary", good + "--B--\r\n", "", false, scanWant{}},
		{"no closing delimiter", good, "B", false, scanWant{}},
		{"a part after the close", good + "--B--\r\n" + part(`form-data; name="redirect_uri"`, "y"), "B", false, scanWant{}},
		{"name and name*", part(`form-data; name="redirect_uri"; name*=utf-8''x`, "y") + "--B--\r\n", "B", false, scanWant{}},
		{"name twice", part(`form-data; name="redirect_uri"; name="x"`, "y") + "--B--\r\n", "B", false, scanWant{}},
		{"header line without a colon", "--B\r\nbogus line\r\n\r\nv\r\n" + good + "--B--\r\n", "B", false, scanWant{}},
	} {
		var p Params
		if ok := p.scanMultipart([]byte(tc.body), tc.boundary); ok != tc.ok {
			t.Errorf("scanMultipart %s = %v; want %v", tc.name, ok, tc.ok)
		}
		if tc.ok {
			checkScan(t, "scanMultipart "+tc.name, &p, "", tc.want)
		}
	}
}

// TestBodyKindOf: a Content-Type is read as leniently as upstreams read it.
func TestBodyKindOf(t *testing.T) {
	for ct, want := range map[string]bodyKind{
		"application/x-www-form-urlencoded":             formBody,
		"Application/X-WWW-Form-Urlencoded; charset=x":  formBody,
		"application/x-www-form-urlencoded, text/plain": formBody,
		"application/x-www-form-urlencoded x":           formBody,
		"multipart/form-data; boundary=B":               multipartBody,
		"multipart/form-data boundary=B":                multipartBody,
		"application/json":                              jsonBody,
		"text/json":                                     jsonBody,
		"application/x-json":                            jsonBody,
		"application/vnd.api+json; charset=utf-8":       jsonBody,
		"text/plain":                                    otherBody,
		"":                                              otherBody,
		"application/xml":                               otherBody,
	} {
		if got := bodyKindOf(ct); got != want {
			t.Errorf("bodyKindOf(%q) = %v; want %v", ct, got, want)
		}
	}
}

// TestLenientUnescape: names decode as PHP's urldecode decodes them.
func TestLenientUnescape(t *testing.T) {
	for in, want := range map[string]string{
		"redirect_uri":       "redirect_uri",
		"a+b":                "a b",
		"%41%42":             "AB",
		"%2B+":               "+ ",
		"%zz":                "%zz",
		"%4":                 "%4",
		"%%41":               "%A",
		"response_type%00%":  "response_type\x00%",
		"%E2%9C%93+%zz%20x%": "\u2713 %zz x%",
	} {
		if got := lenientUnescape(in); got != want {
			t.Errorf("lenientUnescape(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestParamsCarries: any authorize parameter, any copy, in any spelling
// read as ours, is carried; other names are not.
func TestParamsCarries(t *testing.T) {
	for raw, want := range map[string]bool{
		"":                                  false,
		"state=x&login=alice&password=p%40": false,
		"client_id=":                        true,
		"Redirect.URI=x":                    true,
		"RESPONSE_TYPE=code":                true,
		"request=x":                         true,
		"%72equest_uri=x":                   true,
		"clientid=x&redirect=y":             false,
	} {
		var p Params
		p.Scan(raw)
		if got := p.Carries(); got != want {
			t.Errorf("Carries after %q = %v; want %v", raw, got, want)
		}
	}
	var p Params
	p.ScanCookies([]string{"session=a; client_id=APP"})
	if !p.Carries() {
		t.Error("a client_id cookie is not carried")
	}
}

// TestAppendJSONUnquote: keys and values decode as encoding/json decodes
// them.
func TestAppendJSONUnquote(t *testing.T) {
	for _, s := range []string{`""`, `"a"`, `"redirect\u005furi"`, `"\"\\\/\b\f\n\r\t"`, `"\ud83d\ude00"`,
		`"\ud83dx"`, `"\ude00"`, `"\ud83d\u0041"`, `"caf\u00e9"`, `"\u0000"`} {
		var want string
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatal(s, err)
		}
		if got := string(appendJSONUnquote(nil, []byte(s[1:len(s)-1]))); got != want {
			t.Errorf("appendJSONUnquote(%s) = %q; want %q", s, got, want)
		}
	}
	// An escaped key is read as its name; a duplicate stops the walk.
	var p Params
	if !p.scanJSON([]byte(`{"client_id":"a", "redirect\u005furi" : "x" ,"Redirect_URI":"y","z":[1,{"a":"}"}]}`)) {
		t.Fatal("scanJSON failed")
	}
	if p.nRedirectURI != 2 || p.RedirectURI != "y" || p.ClientID != "a" {
		t.Errorf("scanJSON read %+v", p)
	}
	var q Params
	if q.scanJSON([]byte("{" + strings.Repeat(`"a":1,`, MaxFields) + `"b":2}`)) {
		t.Errorf("a JSON body of %d keys read", MaxFields+1)
	}
}
