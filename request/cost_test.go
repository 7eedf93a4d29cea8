//go:build unix

package request

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/cputime"
)

// bodySize is the default body limit, which hostile bodies fill.
const bodySize = 64 << 10

// costBody is a body of one kind, plain (one long field) or hostile (the
// worst shape we could construct for the reader).
type costBody struct {
	name, contentType string
	body              []byte
}

// fill repeats unit after prefix up to bodySize bytes, then adds suffix.
func fill(prefix, unit, suffix string) []byte {
	n := (bodySize - len(prefix) - len(suffix)) / len(unit)
	return []byte(prefix + strings.Repeat(unit, n) + suffix)
}

const costBoundary = "XyZ"

// part is one field of a multipart body.
func part(name, value string) string {
	return "--" + costBoundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n"
}

const costClosing = "--" + costBoundary + "--\r\n"

// costKinds are the kinds of body, each with its plain body first.
var costKinds = []struct {
	contentType string
	bodies      []costBody
}{
	{"application/x-www-form-urlencoded", []costBody{
		{name: "plain", body: fill("state=", "a", "")},
		{name: "escaped-names", body: fill("", "r%41=1&", "")},
		{name: "candidate-names", body: fill("", "c=1&", "")},
		{name: "duplicates", body: fill("", "redirect_uri=x&", "")},
		{name: "empty-pairs", body: fill("", "&", "")},
		{name: "escaped-values", body: fill("state=", "%41", "")},
	}},
	{"application/json", []costBody{
		{name: "plain", body: fill(`{"state":"`, "a", `"}`)},
		{name: "duplicate-keys", body: fill(`{`, `"a":1,`, `"a":1}`)},
		{name: "duplicate-ours", body: fill(`{`, `"redirect_uri":"x",`, `"a":1}`)},
		{name: "escaped-keys", body: fill(`{`, `"r\u0041":1,`, `"a":1}`)},
		{name: "nested", body: []byte(`{"a":` + strings.Repeat("[", 9000) + strings.Repeat("]", 9000) + `,"b":"` + strings.Repeat("x", bodySize-18020) + `"}`)},
		{name: "escaped-strings", body: fill(`{"state":"`, `\u0041`, `"}`)},
	}},
	{"multipart/form-data; boundary=" + costBoundary, []costBody{
		{name: "plain", body: fill(part("state", ""), "a", "\r\n"+costClosing)},
		{name: "many-parts", body: fill("", part("a", "1"), costClosing)},
		{name: "allowed-parts", body: []byte(strings.Repeat(part("a", strings.Repeat("1", bodySize/maxParts-80)), maxParts-1) + costClosing)},
		{name: "many-headers", body: fill("--"+costBoundary+"\r\n", "A: b\r\n", "\r\n\r\n"+costClosing)},
		{name: "long-disposition", body: fill("--"+costBoundary+"\r\nContent-Disposition: form-data; name=a", "; b=c", "\r\n\r\n1\r\n"+costClosing)},
	}},
}

// costRequest is a request checked for its query alone, whose body the
// handler reads with ReadBodyElsewhere.
func costRequest(contentType string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/anything?response_type=code&client_id=a&redirect_uri=x", nil)
	r.Header.Set("Content-Type", contentType)
	return r
}

// readOnce reads body as the handler reads it.
func readOnce(r *http.Request, body []byte) {
	r.Body, r.ContentLength = readerOf(body), int64(len(body))
	var ps Params
	ReadBodyElsewhere(r, &ps, bodySize)
}

func readCost(b *testing.B, contentType string, body []byte) {
	r := costRequest(contentType)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	cpu := cputime.Thread()
	for b.Loop() {
		readOnce(r, body)
	}
	b.ReportMetric(float64(cputime.Thread()-cpu)/float64(b.N), "cpu-ns/op")
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func readerOf(b []byte) nopCloser { return nopCloser{bytes.NewReader(b)} }

// BenchmarkReadBody measures reading plain and hostile bodies of 64 KiB.
func BenchmarkReadBody(b *testing.B) {
	for _, k := range costKinds {
		kind, _, _ := strings.Cut(k.contentType, ";")
		for _, c := range k.bodies {
			b.Run(kind+"/"+c.name, func(b *testing.B) { readCost(b, k.contentType, c.body) })
		}
	}
}

// TestReadBodyCost holds the cost of reading a hostile body to at most 4
// times that of a plain body of the same kind and size, compared by the
// CPU time of the test's thread over as many reads as the plain body
// needs for 10 ms (well above the clock's tick), in rounds that alternate
// the two bodies, the best of seven rounds each, so that a busy machine
// does not decide.
func TestReadBodyCost(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	reads := 0
	round := func(r *http.Request, body []byte) time.Duration {
		runtime.GC() // each round starts from the same heap
		start := cputime.Thread()
		for range reads {
			readOnce(r, body)
		}
		return cputime.Thread() - start
	}
	for _, k := range costKinds {
		r := costRequest(k.contentType)
		for reads = 16; round(r, k.bodies[0].body) < 10*time.Millisecond; reads *= 2 {
		}
		for _, c := range k.bodies[1:] {
			if len(c.body) > bodySize {
				t.Fatalf("%s %s: %d bytes, over %d", k.contentType, c.name, len(c.body), bodySize)
			}
			var plain, hostile time.Duration
			for range 7 {
				if d := round(r, k.bodies[0].body); plain == 0 || d < plain {
					plain = d
				}
				if d := round(r, c.body); hostile == 0 || d < hostile {
					hostile = d
				}
			}
			ratio := float64(hostile) / float64(plain)
			per := time.Duration(reads)
			t.Logf("%s %s: %v, plain %v: %.2fx", k.contentType, c.name, hostile/per, plain/per, ratio)
			if ratio > 4 {
				t.Errorf("%s %s costs %.1f times a plain body (%v, plain %v); want at most 4", k.contentType, c.name, ratio, hostile/per, plain/per)
			}
		}
	}
}
