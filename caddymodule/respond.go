package caddymodule

import (
	"encoding/json"
	"html/template"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/request"
)

// rejection is the body of a rejection response.
type rejection struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	Reason           string `json:"reason"`
}

// htmlCSP forbids scripts, plugins, frames, forms and every load but the
// page's own inline style.
const htmlCSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

var rejectionPage = template.Must(template.New("rejection").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Invalid sign-in link</title>
<style>
body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222;line-height:1.5}
h1{font-size:1.5rem;color:#a11}
code{background:#f3f3f3;padding:.1rem .3rem;word-break:break-all}
dt{font-weight:600;margin-top:.6rem}
</style>
</head>
<body>
<h1>This sign-in link is not valid</h1>
<p>The sign-in request that brought you here breaks the rules on where a sign-in result may be sent, for the reason below. To protect your account, sign-in was stopped and nothing was sent anywhere.</p>
<p>If you followed a link from an application you trust, please tell its support team. If you do not know where the link came from, close this page.</p>
<dl>
<dt>Why</dt><dd>{{.Description}}</dd>
<dt>Reason code</dt><dd><code>{{.Reason}}</code></dd>
{{if .ClientID}}<dt>Client</dt><dd><code>{{.ClientID}}</code>{{if .ClientName}} ({{.ClientName}}){{end}}</dd>{{end}}
{{if .RedirectURI}}<dt>Requested address</dt><dd><code>{{.RedirectURI}}</code></dd>{{end}}
</dl>
</body>
</html>
`))

// writeRejection answers a rejected request itself: 400 (413 when the body
// is too large), never cached, never a redirect; HTML for browsers, JSON
// for everyone else. Everything echoed from the request is truncated and
// escaped.
func writeRejection(w http.ResponseWriter, r *http.Request, d *registry.Decision, ps *request.Params) error {
	status := http.StatusBadRequest
	if d.Reason == policy.RequestTooLarge {
		status = http.StatusRequestEntityTooLarge
	}
	hdr := w.Header()
	hdr.Del("Location")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	if status == http.StatusRequestEntityTooLarge {
		hdr.Set("Connection", "close") // the rest of the body was not read
	}

	description := d.Reason.Description()
	if d.Detail != "" && d.Detail != description {
		description += " (" + d.Detail + ")"
	}
	if prefersHTML(r.Header.Get("Accept")) {
		hdr.Set("Content-Type", "text/html; charset=utf-8")
		hdr.Set("Content-Security-Policy", htmlCSP)
		hdr.Set("Referrer-Policy", "no-referrer")
		w.WriteHeader(status)
		page := struct{ Description, Reason, ClientID, ClientName, RedirectURI string }{
			Description: description,
			Reason:      string(d.Reason),
			ClientID:    truncate(ps.ClientID, 128),
			RedirectURI: truncate(ps.RedirectURI, 256),
		}
		if d.Reason == policy.DuplicateParameter {
			// Which copy is "the" request's is what the attacker plays on:
			// show none.
			page.ClientID, page.RedirectURI = "", ""
		}
		if d.Client != nil {
			page.ClientName = truncate(d.Client.Name, 128)
		}
		return rejectionPage.Execute(w, page)
	}
	hdr.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	errCode := "invalid_request"
	if d.Reason == policy.UnknownClient || d.Reason == policy.ClientDisabled {
		errCode = "unauthorized_client"
	}
	return json.NewEncoder(w).Encode(rejection{Error: errCode, ErrorDescription: description, Reason: string(d.Reason)})
}

// prefersHTML reports whether an Accept header asks for HTML (text/html or
// XHTML) with a higher quality than JSON, as browsers' navigation requests do.
func prefersHTML(accept string) bool {
	htmlQ, jsonQ := -1.0, -1.0
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil {
				continue
			}
		}
		switch mediaType {
		case "text/html", "application/xhtml+xml":
			htmlQ = max(htmlQ, q)
		case "application/json":
			jsonQ = max(jsonQ, q)
		}
	}
	return htmlQ > 0 && htmlQ > jsonQ
}
