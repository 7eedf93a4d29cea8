package caddymodule

import (
	"encoding/json"
	"errors"
	"html/template"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
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
<title>Invalid {{if .Logout}}sign-out{{else}}sign-in{{end}} link</title>
<style>
body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222;line-height:1.5}
h1{font-size:1.5rem;color:#a11}
code{background:#f3f3f3;padding:.1rem .3rem;word-break:break-all}
dt{font-weight:600;margin-top:.6rem}
</style>
</head>
<body>
{{if .Logout}}<h1>This sign-out link is not valid</h1>
<p>The sign-out request that brought you here names a page to return to that is not registered, for the reason below. To protect you, you were not sent there.</p>
{{else}}<h1>This sign-in link is not valid</h1>
<p>The sign-in request that brought you here breaks the rules on where a sign-in result may be sent, for the reason below. To protect your account, sign-in was stopped and nothing was sent anywhere.</p>
{{end}}
<p>If you followed a link from an application you trust, please tell its support team. If you do not know where the link came from, close this page.</p>
<dl>
<dt>Why</dt><dd>{{.Description}}</dd>
<dt>Reason code</dt><dd><code>{{.Reason}}</code></dd>
{{if .ClientID}}<dt>Client</dt><dd><code>{{.ClientID}}</code>{{if .ClientName}} ({{.ClientName}}){{end}}</dd>{{end}}
{{if .RedirectHost}}<dt>Requested destination</dt><dd><code>{{.RedirectHost}}</code></dd>{{end}}
</dl>
</body>
</html>
`))

// writeRejection answers a rejected request itself: 400 (413 when the body
// is too large), never cached, never a redirect; HTML for browsers, JSON
// for everyone else. The page names client, a registered client of the
// request, if any, and the requested redirect URI's host.
func writeRejection(w http.ResponseWriter, r *http.Request, d *registry.Decision, client *registry.Client, redirectURI string, logout bool) error {
	status := rejectionHeaders(w, d)
	description := describe(d)
	hdr := w.Header()
	if prefersHTML(r.Header.Get("Accept")) {
		hdr.Set("Content-Type", "text/html; charset=utf-8")
		hdr.Set("Content-Security-Policy", htmlCSP)
		hdr.Set("Referrer-Policy", "no-referrer")
		w.WriteHeader(status)
		// The page is on the authorization server's own domain: it shows
		// nothing an attacker could word. The client only when it is
		// registered (its id, not the request's text), the requested URI
		// by its host alone.
		page := struct {
			Description, Reason, ClientID, ClientName, RedirectHost string
			Logout                                                  bool
		}{
			Description: description,
			Reason:      string(d.Reason),
			Logout:      logout,
		}
		if d.Reason != policy.DuplicateParameter && d.Reason != policy.RedirectURIMismatch {
			// Which copy is "the" request's is what the attacker plays on:
			// show none.
			page.RedirectHost = displayHost(redirectURI)
		}
		if client != nil {
			page.ClientID = truncate(client.ID, 128)
			page.ClientName = truncate(client.Name, 128)
		}
		return rejectionPage.Execute(w, page)
	}
	errCode := "invalid_request"
	if d.Reason == policy.UnknownClient || d.Reason == policy.ClientDisabled {
		errCode = "unauthorized_client"
	}
	return writeJSON(w, status, errCode, description, d.Reason)
}

// writeJSONRejection answers a rejected PAR push in RFC 9126's error shape
// (§2.3): JSON, invalid_request (413 for a body over the limit), with our
// reason beside it; never cached.
func writeJSONRejection(w http.ResponseWriter, d *registry.Decision) error {
	return writeJSON(w, rejectionHeaders(w, d), "invalid_request", describe(d), d.Reason)
}

func writeJSON(w http.ResponseWriter, status int, errCode, description string, reason policy.Reason) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(rejection{Error: errCode, ErrorDescription: description, Reason: string(reason)})
}

// rejectionHeaders sets the headers of every rejection and returns its
// status: 400, or 413 when the body is too large.
func rejectionHeaders(w http.ResponseWriter, d *registry.Decision) int {
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
	return status
}

// describe is the reason's description, with the decision's detail when it
// says more.
func describe(d *registry.Decision) string {
	description := d.Reason.Description()
	if d.Detail != "" && d.Detail != description {
		description += " (" + d.Detail + ")"
	}
	return description
}

// rejectionError hands a rejection to the server's handle_errors routes,
// with the headers every rejection carries. The placeholders are set;
// {err.message} is the description, which holds nothing from the request.
func rejectionError(w http.ResponseWriter, d *registry.Decision) error {
	status := rejectionHeaders(w, d)
	return caddyhttp.Error(status, errors.New(describe(d)))
}

// displayHost is what the rejection page shows of a requested redirect URI:
// its host and port, printable ASCII only (no bidi overrides or other
// controls) and short, or nothing when it has none.
func displayHost(uri string) string {
	rest := uri
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	if i := strings.IndexAny(rest, "/?#\\"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:] // user information is the attacker's text
	}
	host := strings.Map(func(r rune) rune {
		if r <= ' ' || r >= 0x7f {
			return -1
		}
		return r
	}, rest)
	return truncate(host, 64)
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
