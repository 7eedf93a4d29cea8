package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/request"
)

func checkCommand() *cobra.Command {
	var c common
	var clientID, redirectURI, object, postLogoutURI, omitted string
	cmd := newSubcommand("check --registry <file> --environment <sandbox|production> --client <id> (--redirect-uri <uri> [--request-object <jws>] | --post-logout-redirect-uri <uri> | --omitted-redirect-uri reject|single) [--match exact|prefix] [--format text|json]",
		"Decides one redirect URI for one client and explains why",
		`
Decides a redirect URI for a client exactly as the redirect_uri_policy
handler would (the URI as the authorization server receives it, that is
decoded from the request's parameters) and explains the decision: the
reason, the registered redirect URI that matched, or the closest registered
one and every way it differs (other scheme, other port, subdomain or other
host, path differs at byte N, query differs, ...).

With --request-object, the request also carries that request object (the
request parameter, a JWS; its signature is not checked): its redirect_uri
is the one checked when --redirect-uri is not given, and must equal it when
it is; its client_id must be --client. An encrypted or unreadable object is
rejected, as the handler rejects it.

With --post-logout-redirect-uri instead, decides a logout request's
post_logout_redirect_uri (at a logout_paths endpoint) against the
client's post_logout_redirect_uris. Without a redirect URI or a request
object, decides an authorize request that omits redirect_uri as the
handler does under --omitted-redirect-uri (its omitted_redirect_uri
setting).

Exit status: 0 allowed, 1 rejected, 2 usage or load errors.

With --format json the output is one object:
  {"client_id", "endpoint": "authorize" | "logout", "redirect_uri",
  "environment", "match", "decision", "reason", "description", "detail",
  "client": {"id", "name", "disabled", "application_type",
  "redirect_uris", "post_logout_redirect_uris"} | null, "matched": {"uri", "normalized", "kind",
  "loopback"} | null, "closest": {"uri", "normalized", "kind", "loopback",
  "differences": [{"part", "message", "requested", "registered", "byte"}]}
  | null, "otherwise": reason | absent, "exit_code"}
`)
	c.addFlags(cmd)
	cmd.Flags().StringVar(&clientID, "client", "", "The client_id of the request (required)")
	cmd.Flags().StringVar(&redirectURI, "redirect-uri", "", "The redirect_uri of the request, decoded (required without --request-object)")
	cmd.Flags().StringVar(&object, "request-object", "", "A request object (JWS) the request carries")
	cmd.Flags().StringVar(&postLogoutURI, "post-logout-redirect-uri", "", "The post_logout_redirect_uri of a logout request, decoded")
	cmd.Flags().StringVar(&omitted, "omitted-redirect-uri", "", "Without a redirect URI: the handler's omitted_redirect_uri, reject or single")
	cmd.RunE = run(func(cmd *cobra.Command, out, _ io.Writer) (int, error) {
		given := cmd.Flags().Changed
		q := checkQuery{clientID: clientID, uri: redirectURI, uriGiven: given("redirect-uri"), object: object, omitted: omitted}
		switch {
		case given("post-logout-redirect-uri") && (q.uriGiven || object != ""):
			return exitUsage, usagef("--post-logout-redirect-uri is for a logout request: without --redirect-uri or --request-object")
		case given("post-logout-redirect-uri") && postLogoutURI == "":
			return exitUsage, usagef("--post-logout-redirect-uri is empty: a logout request without one passes unchecked")
		case given("post-logout-redirect-uri"):
			q.uri, q.logout = postLogoutURI, true
		case !q.uriGiven && object == "" && omitted == "":
			return exitUsage, usagef("--redirect-uri is required (or --request-object, --post-logout-redirect-uri, --omitted-redirect-uri)")
		}
		if omitted != "" && (q.uriGiven || q.logout || omitted != "reject" && omitted != "single") {
			return exitUsage, usagef("--omitted-redirect-uri is reject or single, for an authorize request without a redirect URI")
		}
		return check(&c, q, out)
	})
	return cmd
}

// checkQuery is the request check decides.
type checkQuery struct {
	clientID, uri string
	uriGiven      bool   // --redirect-uri was given, if empty
	object        string // a request object the request carries
	logout        bool   // uri is a post_logout_redirect_uri
	omitted       string // "" or the omitted_redirect_uri setting, for a request without one
}

type checkClient struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Disabled        bool   `json:"disabled"`
	ApplicationType string `json:"application_type"`
	RedirectURIs    int    `json:"redirect_uris"`
	PostLogoutURIs  int    `json:"post_logout_redirect_uris"`
}

type checkEntry struct {
	URI        string `json:"uri"`
	Normalized string `json:"normalized"`
	Kind       string `json:"kind"`
	Loopback   bool   `json:"loopback"`
}

// checkReport is the JSON output of check. Its fields are a stable interface.
type checkReport struct {
	ClientID    string        `json:"client_id"`
	Endpoint    string        `json:"endpoint"`
	RedirectURI string        `json:"redirect_uri"`
	Environment string        `json:"environment"`
	Match       string        `json:"match"`
	Decision    string        `json:"decision"`
	Reason      string        `json:"reason"`
	Description string        `json:"description"`
	Detail      string        `json:"detail,omitempty"`
	Client      *checkClient  `json:"client"`
	Matched     *checkEntry   `json:"matched"`
	Closest     *closestEntry `json:"closest"`
	// Otherwise is the decision a disabled client's URI would get if the
	// client were enabled.
	Otherwise string `json:"otherwise,omitempty"`
	ExitCode  int    `json:"exit_code"`
}

func check(c *common, q checkQuery, out io.Writer) (int, error) {
	if q.clientID == "" {
		return exitUsage, usagef("--client is required")
	}
	p, s, err := c.load()
	if err != nil {
		return exitUsage, err
	}
	redirectURI := q.uri
	var objectReason policy.Reason
	var objectDetail string
	if q.object != "" {
		o, reason, detail := request.ReadRequestObject(q.object)
		switch {
		case reason != "":
			objectReason, objectDetail = reason, detail
		case o.HasClientID && o.ClientID != q.clientID:
			objectReason, objectDetail = policy.ClientIDMismatch, fmt.Sprintf("the request object's client_id is %q", o.ClientID)
		case o.HasRedirectURI && q.uriGiven && o.RedirectURI != redirectURI:
			objectReason, objectDetail = policy.RedirectURIMismatch, fmt.Sprintf("the request object's redirect_uri is %q", o.RedirectURI)
		case o.HasRedirectURI:
			redirectURI = o.RedirectURI
		}
	}
	// The URIs compared: the client's redirect URIs or, at a logout
	// endpoint, its post-logout redirect URIs.
	uris := func(cl *registry.Client) *policy.Set { return cl.URIs }
	var d registry.Decision
	endpoint := "authorize"
	switch {
	case q.logout:
		endpoint = "logout"
		uris = func(cl *registry.Client) *policy.Set { return cl.LogoutURIs }
		d = s.DecideLogout(q.clientID, redirectURI)
	case objectReason != "":
		d = registry.Decision{Decision: policy.Decision{Reason: objectReason, Detail: objectDetail}, Client: s.Client(q.clientID)}
	case redirectURI == "" && q.omitted == "single":
		d = s.DecideOmitted(q.clientID)
	case redirectURI == "":
		// The handler answers a missing or empty parameter before it
		// looks the client up.
		d = registry.Decision{Decision: policy.Decision{Reason: policy.MissingRedirectURI, Detail: "the redirect_uri is empty"}, Client: s.Client(q.clientID)}
	default:
		d = s.Decide(q.clientID, redirectURI)
	}
	r := checkReport{
		ClientID: q.clientID, Endpoint: endpoint, RedirectURI: redirectURI,
		Environment: string(p.Environment()), Match: string(p.Match()),
		Decision: "rejected", Reason: string(d.Reason), Description: d.Reason.Description(), Detail: d.Detail,
		ExitCode: exitFindings,
	}
	if d.Allowed() {
		r.Decision, r.ExitCode = "allowed", exitOK
	}
	if cl := d.Client; cl != nil {
		r.Client = &checkClient{ID: cl.ID, Name: cl.Name, Disabled: cl.Disabled, ApplicationType: registry.ApplicationWeb,
			RedirectURIs: cl.URIs.Len(), PostLogoutURIs: cl.LogoutURIs.Len()}
		if cl.Native {
			r.Client.ApplicationType = registry.ApplicationNative
		}
		if e := d.Entry; e != nil {
			r.Matched = &checkEntry{URI: e.Raw, Normalized: e.Normalized, Kind: e.Kind.String(), Loopback: e.Loopback}
		}
		switch {
		case objectReason != "":
			// The request object decided; the URI was not looked at.
		case cl.Disabled && redirectURI != "":
			r.Otherwise = string(uris(cl).Decide(redirectURI).Reason)
		case !d.Allowed() && redirectURI != "":
			r.Closest = closest(p, uris(cl).Entries(), redirectURI)
		}
	}

	if c.json() {
		return r.ExitCode, writeJSON(out, &r)
	}
	writeCheck(out, &r, d)
	return r.ExitCode, nil
}

func writeCheck(out io.Writer, r *checkReport, d registry.Decision) {
	fmt.Fprintf(out, "decision:     %s\n", r.Decision)
	fmt.Fprintf(out, "reason:       %s: %s", r.Reason, r.Description)
	if r.Detail != "" && !strings.EqualFold(strings.TrimSuffix(r.Description, "."), r.Detail) {
		fmt.Fprintf(out, " (%s)", r.Detail)
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "client:       %s", r.ClientID)
	switch {
	case r.Client == nil:
		fmt.Fprint(out, " (not registered)")
	default:
		if r.Client.Name != "" {
			fmt.Fprintf(out, " (%s)", r.Client.Name)
		}
		if r.Client.ApplicationType == registry.ApplicationNative {
			fmt.Fprint(out, ", native app")
		}
		fmt.Fprintf(out, ", %s", plural(r.Client.RedirectURIs, "registered redirect URI", "registered redirect URIs"))
		if r.Endpoint == "logout" {
			fmt.Fprintf(out, ", %s", plural(r.Client.PostLogoutURIs, "post-logout redirect URI", "post-logout redirect URIs"))
		}
		if r.Client.Disabled {
			fmt.Fprint(out, ", disabled")
		}
	}
	fmt.Fprintln(out)
	if r.Endpoint == "logout" {
		fmt.Fprintf(out, "post_logout_redirect_uri: %s\n", r.RedirectURI)
	} else {
		fmt.Fprintf(out, "redirect_uri: %s\n", r.RedirectURI)
	}
	fmt.Fprintf(out, "environment:  %s, match %s\n", r.Environment, r.Match)
	if m := r.Matched; m != nil {
		fmt.Fprintf(out, "matched:      %s (%s", m.URI, m.Kind)
		if m.URI != m.Normalized {
			fmt.Fprintf(out, ", normalized %s", m.Normalized)
		}
		fmt.Fprintln(out, ")")
		if why := allowedWhy(d); why != "" {
			fmt.Fprintf(out, "note:         %s\n", why)
		}
	}
	if r.Otherwise != "" {
		fmt.Fprintf(out, "otherwise:    %s (if the client were enabled)\n", r.Otherwise)
	}
	if cl := r.Closest; cl != nil {
		fmt.Fprintf(out, "closest:      %s (%s)\n", cl.URI, cl.Kind)
		if len(cl.Differences) == 0 {
			fmt.Fprintln(out, "              the URI itself breaks a rule; see the reason")
		}
		for _, df := range cl.Differences {
			fmt.Fprintf(out, "  - %s: %s\n", df.Part, df.Message)
			if df.Byte > 0 {
				at := df.Byte - 1
				if df.Part == "query" {
					at++ // the '?'
				}
				pad := strings.Repeat(" ", at)
				fmt.Fprintf(out, "      requested:  %s\n      registered: %s\n                  %s^\n", df.Requested, df.Registered, pad)
			}
		}
	}
}
