package request

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

// ReadParams reads a request's parameters as upstreams merge them: its
// query, its body (a form at an endpoint; elsewhere, see
// ReadBodyElsewhere) and its cookies. Repeats are counted, not judged.
func ReadParams(r *http.Request, ps *Params, maxBody int64, endpoint bool) (policy.Reason, string) {
	if reason := ps.Scan(r.URL.RawQuery); reason != "" {
		return reason, "the query string cannot be read unambiguously"
	}
	var reason policy.Reason
	var detail string
	if endpoint {
		reason, detail = ReadForm(r, ps, maxBody)
	} else {
		reason, detail = ReadBodyElsewhere(r, ps, maxBody)
	}
	if reason != "" {
		return reason, detail
	}
	ps.ScanCookies(r.Header["Cookie"])
	return "", ""
}

// ReadForm reads into ps the parameters of a form body, if the request has
// a body of at most maxBody bytes, and puts the body back byte for byte for
// the upstream. It returns the reason to reject any body the upstream could
// read parameters from but that cannot be checked, with a detail.
func ReadForm(r *http.Request, ps *Params, maxBody int64) (policy.Reason, string) {
	body, reason, detail := readBody(r, maxBody)
	if reason != "" || len(body) == 0 {
		return reason, detail
	}
	if reason, detail := checkFormHeaders(r.Header); reason != "" {
		return reason, detail
	}
	ps.form = string(body)
	if reason := ps.Scan(ps.form); reason != "" {
		return reason, "the form body cannot be read unambiguously"
	}
	return "", ""
}

// ReadBodyElsewhere reads the body of a request checked for its query
// alone, sent to a path that is not an endpoint: a form as ReadForm does;
// a JSON object's top-level keys and a multipart form's fields, which
// Express's parsers put where node oauth2-server reads its parameters
// (body before query). Any other body is the business of the page it was
// sent to and passes unread; a JSON or multipart body that cannot be read
// unambiguously is rejected.
func ReadBodyElsewhere(r *http.Request, ps *Params, maxBody int64) (policy.Reason, string) {
	ct := r.Header.Get("Content-Type")
	kind := bodyKindOf(ct)
	switch kind {
	case otherBody:
		return "", ""
	case formBody:
		return ReadForm(r, ps, maxBody)
	}
	body, reason, detail := readBody(r, maxBody)
	if reason != "" || len(body) == 0 {
		return reason, detail
	}
	for _, enc := range r.Header.Values("Content-Encoding") {
		if !strings.EqualFold(strings.TrimSpace(enc), "identity") {
			return policy.UnsupportedBody, "the request body has a Content-Encoding"
		}
	}
	_, mparams, err := mime.ParseMediaType(ct)
	if err != nil {
		return policy.UnsupportedBody, "the request body's Content-Type cannot be read unambiguously"
	}
	if kind == jsonBody {
		if cs, ok := mparams["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			return policy.UnsupportedBody, "the JSON body's charset is not UTF-8"
		}
		if !ps.scanJSON(body) {
			return policy.UnsupportedBody, "the JSON body cannot be read"
		}
	} else if !ps.scanMultipart(body, mparams["boundary"]) {
		return policy.UnsupportedBody, "the multipart body cannot be read unambiguously"
	}
	return "", ""
}

// bodyKind is what upstreams may read parameters from in a body.
type bodyKind int

const (
	otherBody bodyKind = iota
	formBody
	jsonBody
	multipartBody
)

// bodyKindOf reads a Content-Type as leniently as upstreams do: its media
// type is what comes before the first ";", "," or white space, in any
// letter case (PHP reads "application/x-www-form-urlencoded, text/plain"
// as a form).
func bodyKindOf(ct string) bodyKind {
	t := strings.ToLower(strings.TrimSpace(ct))
	if i := strings.IndexAny(t, ";, \t"); i >= 0 {
		t = t[:i]
	}
	switch {
	case t == "application/x-www-form-urlencoded":
		return formBody
	case t == "multipart/form-data":
		return multipartBody
	case strings.HasSuffix(t, "/json"), strings.HasSuffix(t, "+json"), t == "application/x-json":
		return jsonBody
	}
	return otherBody
}

// readBody reads the request's body, up to maxBody bytes, and puts it back
// byte for byte for the upstream.
func readBody(r *http.Request, maxBody int64) ([]byte, policy.Reason, string) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, "", ""
	}
	if r.ContentLength > maxBody {
		return nil, policy.RequestTooLarge, fmt.Sprintf("the request body is larger than %d bytes", maxBody)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || int64(len(body)) > maxBody {
		// Only part of the body was read (a body without Content-Length
		// over the limit, or a read error): put back what was read ahead of
		// the rest, length unknown as before, so that a request forwarded
		// anyway (report_only) loses nothing.
		r.Body = readCloser{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		var cut *http.MaxBytesError
		if errors.As(err, &cut) {
			// request_body max_size cut it before our limit did.
			return nil, policy.RequestTooLarge, fmt.Sprintf("the request body is larger than %d bytes", cut.Limit)
		}
		if err != nil {
			return nil, policy.MalformedRequest, "the request body could not be read"
		}
		return nil, policy.RequestTooLarge, fmt.Sprintf("the request body is larger than %d bytes", maxBody)
	}
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return body, "", ""
}

// checkFormHeaders accepts only an unencoded urlencoded form in a charset
// whose bytes mean the same as in the query.
func checkFormHeaders(h http.Header) (policy.Reason, string) {
	for _, enc := range h.Values("Content-Encoding") {
		if !strings.EqualFold(strings.TrimSpace(enc), "identity") {
			return policy.UnsupportedBody, "the request body has a Content-Encoding"
		}
	}
	ct := h.Values("Content-Type")
	if len(ct) != 1 {
		return policy.UnsupportedBody, "the request body needs exactly one Content-Type: application/x-www-form-urlencoded"
	}
	mediaType, params, err := mime.ParseMediaType(ct[0])
	if err != nil || mediaType != "application/x-www-form-urlencoded" {
		return policy.UnsupportedBody, "the request body is not application/x-www-form-urlencoded"
	}
	if cs, ok := params["charset"]; ok {
		switch strings.ToLower(cs) {
		case "utf-8", "us-ascii", "iso-8859-1":
		default:
			return policy.UnsupportedBody, "the form body's charset is not UTF-8, US-ASCII or ISO-8859-1"
		}
	}
	return "", ""
}

// readCloser reads from one reader and closes another.
type readCloser struct {
	io.Reader
	io.Closer
}

// scanJSON reads the top-level keys of a JSON object body as parameters,
// after a leading byte order mark (which body-parser skips), every copy
// counted up to the first duplicate of ours, which decides the request. It
// reports whether the body reads unambiguously: one that is not JSON, or
// that has more than MaxFields keys, does not. A JSON value other than an
// object has no keys to read. One pass validates the body, one walks its
// top level: the cost is linear in the size of the body, whatever its
// shape (many keys, deep nesting).
func (p *Params) scanJSON(body []byte) bool {
	body = bytes.TrimPrefix(body, []byte("\uFEFF"))
	if !validJSON(body) {
		return false
	}
	if body[skipJSONSpace(body, 0)] != '{' {
		return true
	}
	keys, ok := 0, true
	jsonMembers(body, func(name, value []byte) bool {
		if keys == MaxFields {
			ok = false
			return false
		}
		keys++
		p.jsonField(name, value)
		return p.nClientID <= 1 && p.nRedirectURI <= 1
	})
	return ok
}

// jsonField reads one top-level member of a JSON object: its decoded key
// and its value as written.
func (p *Params) jsonField(key, value []byte) {
	if !p.ourNames && mayHoldName(string(key), "re") && holdsOurs(string(key)) {
		p.ourNames = true
	}
	if len(key) == 0 || !mayName[key[0]] {
		return
	}
	if dst := p.slot(string(key)); dst != nil {
		if value[0] == '"' {
			*dst = string(appendJSONUnquote(nil, value[1:len(value)-1]))
		} else {
			*dst = string(value)
		}
	}
}

// Bounds of a multipart body: a form field's part has one or two header
// lines, and an authorize request a few fields.
const (
	maxParts             = 32
	maxPartHeaders       = 8
	maxPartHeaderLine    = 1024
	maxDispositionParams = 4
)

// scanMultipart reads the fields of a multipart form body as parameters.
// It reports whether the body reads unambiguously: parsers differ on a
// part Go's reader stops at, a field named twice (name and name*), and
// parts after the closing delimiter, so any of those is a failure. So is
// a body of more than maxParts parts, a disposition of more than
// maxDispositionParams parameters, or a part with a header line longer
// than maxPartHeaderLine or with more than
// maxPartHeaders header lines, counted before any part is parsed: the
// cost of parsing is then bounded by the size of the body.
func (p *Params) scanMultipart(body []byte, boundary string) bool {
	closing := []byte("--" + boundary + "--")
	i := bytes.LastIndex(body, closing)
	if boundary == "" || i < 0 || len(bytes.TrimSpace(body[i+len(closing):])) != 0 ||
		!boundedParts(body, closing[:len(closing)-2]) {
		return false
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
		if cd := part.Header.Get("Content-Disposition"); cd != "" {
			// A field's disposition has a name and perhaps a filename:
			// more parameters only cost parsing.
			if strings.Count(cd, ";") > maxDispositionParams {
				return false
			}
			if _, _, err := mime.ParseMediaType(cd); err != nil || containsFold(cd, "name*") {
				return false
			}
		}
		name := part.FormName()
		if !p.ourNames && holdsOurs(name) {
			p.ourNames = true
		}
		if dst := p.slot(name); dst != nil {
			value, err := io.ReadAll(part)
			if err != nil {
				return false
			}
			*dst = string(value)
			if p.nClientID > 1 || p.nRedirectURI > 1 {
				return true
			}
		}
	}
}

// boundedParts reports whether body has at most maxParts delimiters at the
// start of a line, each followed by at most maxPartHeaders header lines of
// at most maxPartHeaderLine bytes.
// Each line is read at most once.
func boundedParts(body, delimiter []byte) bool {
	nl := append([]byte("\n"), delimiter...)
	at := -1 // a delimiter at the start of a line
	if bytes.HasPrefix(body, delimiter) {
		at = 0
	} else if j := bytes.Index(body, nl); j >= 0 {
		at = j + 1
	}
	for parts := 0; at >= 0; parts++ {
		if parts == maxParts {
			return false
		}
		// The rest of the delimiter line, then header lines up to a blank
		// one.
		k := at + len(delimiter)
		for n := 0; ; n++ {
			e := bytes.IndexByte(body[k:], '\n')
			if e < 0 {
				return true
			}
			line := body[k : k+e]
			k += e + 1
			if n > 0 && len(bytes.TrimSuffix(line, []byte("\r"))) == 0 {
				break
			}
			if n > maxPartHeaders || len(line) > maxPartHeaderLine {
				return false
			}
		}
		at = -1
		if j := bytes.Index(body[k-1:], nl); j >= 0 {
			at = k + j
		}
	}
	return true
}
