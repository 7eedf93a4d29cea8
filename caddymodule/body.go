package caddymodule

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

// readForm reads the parameters of a form body, if the request has a body,
// and puts the body back byte for byte for the upstream. Any body the
// upstream could read parameters from but this handler cannot check is
// rejected.
func (h *Handler) readForm(r *http.Request, ps *params) (policy.Reason, string) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return "", ""
	}
	if r.ContentLength > h.MaxBody {
		return policy.RequestTooLarge, fmt.Sprintf("the request body is larger than %d bytes", h.MaxBody)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, h.MaxBody+1))
	if err != nil || int64(len(body)) > h.MaxBody {
		// Only part of the body was read (a body without Content-Length
		// over the limit, or a read error): put back what was read ahead of
		// the rest, length unknown as before, so that a request forwarded
		// anyway (report_only) loses nothing.
		r.Body = readCloser{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		if err != nil {
			return policy.MalformedRequest, "the request body could not be read"
		}
		return policy.RequestTooLarge, fmt.Sprintf("the request body is larger than %d bytes", h.MaxBody)
	}
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	if len(body) == 0 {
		return "", ""
	}
	if reason, detail := checkFormHeaders(r.Header); reason != "" {
		return reason, detail
	}
	ps.form = string(body)
	if reason := ps.scan(ps.form); reason != "" {
		return reason, "the form body cannot be read unambiguously"
	}
	return "", ""
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
