package request

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

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
