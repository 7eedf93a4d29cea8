package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
)

func attackCommand() *cobra.Command {
	var c common
	var a attackOptions
	cmd := newSubcommand("attack --registry <file> --environment <sandbox|production> [--client <id>] [--logout-path <path>] [--fail-on-allowed] [--target <url> [--path <path>] [--max-requests <n>] [--rate <per-second>] [--timeout <duration>]] [--format text|json]",
		"Tries stolen-credential redirect URI variants against the policy",
		`
For each client of the registry (or the one given by --client), generates
the redirect URIs and authorize requests an attacker holding the client's
credentials would try, derived from its registered redirect URIs:

  attacker host; suffix and look-alike hosts (app.example.evil.example,
  app-example.evil.example, appexample.evil, typo-squats); subdomains and
  the parent domain; userinfo and backslash tricks; scheme downgrade and
  other schemes; other ports; path traversal, plain and encoded; prefix
  extension (/cb/../evil, /cbx, /cb/extra, /cb/); fragment and query
  injection; loopback hosts in every spelling; IDN homoglyph hosts in
  Unicode and punycode; a trailing dot; letter case variants; and
  request-level variants: a repeated redirect_uri or client_id, case-variant
  and PHP-style parameter names, a second copy in a form body, a ';'
  separator, request and request_uri parameters. For a native app's
  private-use scheme (com.example.app:/cb): look-alike schemes, a host
  after the scheme, the empty-authority, rootless and %2F forms. With
  --logout-path (a logout_paths endpoint): logout requests with the
  attacker's post_logout_redirect_uri, alone, named by an id_token_hint,
  behind a registered copy or another client's id_token_hint.

Offline (without --target), decides each variant with the registry and
prints a table (variant, decision, reason, URI or request). Request-level
variants are shown with the reason the handler rejects them for. Every
variant that would be ALLOWED without being one of the client's registered
redirect URIs is flagged, with why: a host-only entry, an unrestricted
sandbox client, prefix mode, the sandbox loopback port rule. Exit status 1
when a variant is flagged and --fail-on-allowed is set, else 0.

With --target URL (the proxy's base URL, such as http://127.0.0.1:8080),
sends the same variants, plus the attacker's URI on other spellings of the
authorize path, as real requests to the target's authorize endpoint
(--path, default /oauth/authorize): at most --max-requests requests, at
most --rate per second, each with --timeout, never following redirects.
A 4xx answer carrying the handler's JSON reason counts as rejected; any
other answer (such as the upstream's 2xx or 3xx) as forwarded. Every
answer that differs from what the registry says is reported. Exit status
1 on any difference, 2 when the target cannot be reached at all. Only
point it at proxies you operate: the requests look like an attack.
`)
	c.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&a.client, "client", "", "Attack only this client_id")
	f.BoolVar(&a.failOnAllowed, "fail-on-allowed", false, "Exit with status 1 when a variant would be allowed (offline)")
	f.StringVar(&a.target, "target", "", "Base URL of a running proxy to send the variants to")
	f.StringVar(&a.path, "path", "/oauth/authorize", "Path of the authorize endpoint on the target")
	f.StringVar(&a.parPath, "par-path", "", "Path of the PAR endpoint (par_paths): adds pushes of the attacker's redirect URI")
	f.StringVar(&a.logoutPath, "logout-path", "", "Path of a logout endpoint (logout_paths): also try post-logout redirect variants")
	f.IntVar(&a.maxRequests, "max-requests", 500, "Most requests sent to the target")
	f.Float64Var(&a.rate, "rate", 50, "Most requests per second sent to the target")
	f.DurationVar(&a.timeout, "timeout", 5*time.Second, "Timeout of each request to the target")
	f.BoolVar(&a.insecure, "insecure", false, "Do not verify the target's TLS certificate")
	cmd.RunE = run(func(cmd *cobra.Command, out, errOut io.Writer) (int, error) {
		a.pathGiven = cmd.Flags().Changed("path")
		return attack(cmd, &c, &a, out, errOut)
	})
	return cmd
}

type attackOptions struct {
	client        string
	parPath       string
	failOnAllowed bool
	target        string
	path          string
	pathGiven     bool
	logoutPath    string
	maxRequests   int
	rate          float64
	timeout       time.Duration
	insecure      bool
}

// attackReport is the JSON output of attack. Its fields are a stable
// interface.
type attackReport struct {
	Registry    string          `json:"registry"`
	Environment string          `json:"environment"`
	Match       string          `json:"match"`
	Target      *targetInfo     `json:"target"`
	Clients     []attackClient  `json:"clients"`
	Variants    []variantResult `json:"variants"`
	Summary     attackSummary   `json:"summary"`
	ExitCode    int             `json:"exit_code"`
}

type attackClient struct {
	ClientID     string   `json:"client_id"`
	Name         string   `json:"name"`
	Disabled     bool     `json:"disabled"`
	RedirectURIs []string `json:"redirect_uris"`
	Variants     int      `json:"variants"`
	Flagged      int      `json:"flagged"`
}

type attackSummary struct {
	Clients  int `json:"clients"`
	Variants int `json:"variants"`
	// Registered counts variants allowed because they are registered
	// redirect URIs (in another spelling at most).
	Registered int `json:"registered"`
	Rejected   int `json:"rejected"`
	Flagged    int `json:"flagged"`
	// Online only.
	Sent        int `json:"sent,omitempty"`
	Skipped     int `json:"skipped,omitempty"`
	Differences int `json:"differences,omitempty"`
}

// variantResult is a variant with what the registry decides for it and,
// online, what the target answered.
type variantResult struct {
	ClientID string `json:"client_id"`
	Class    string `json:"class"`
	Name     string `json:"name"`
	Base     string `json:"base,omitempty"`
	URI      string `json:"uri"`
	Method   string `json:"method"`
	Path     string `json:"path"`
	Query    string `json:"query"`
	Body     string `json:"body,omitempty"`
	// RequestLevel variants are decided by the shape of the request.
	RequestLevel bool `json:"request_level"`
	// Decision and Reason are what the registry (or, for request-level
	// variants, the handler's request rules) decide.
	Decision string `json:"decision"`
	Reason   string `json:"reason"`
	Entry    string `json:"entry,omitempty"` // the registered URI that allows it
	Flagged  bool   `json:"flagged"`
	Why      string `json:"why,omitempty"`
	// Online only.
	Got        *answer `json:"got,omitempty"`
	Difference string  `json:"difference,omitempty"`
}

func (r *variantResult) request() string {
	s := r.Method + " " + r.Path + "?" + r.Query
	if r.Body != "" {
		s += " body " + r.Body
	}
	return s
}

// shown is what the table shows of a variant: its URI, or its request.
func (r *variantResult) shown() string {
	if r.RequestLevel {
		return r.request()
	}
	if r.Class == ClassPathSpelling {
		if r.Body != "" || !strings.Contains(r.Query, "response_type") {
			return r.request()
		}
		return r.Path + " " + r.URI
	}
	return r.URI
}

func attack(cmd *cobra.Command, c *common, a *attackOptions, out, errOut io.Writer) (int, error) {
	p, s, err := c.load()
	if err != nil {
		return exitUsage, err
	}
	clients := s.Clients()
	if a.client != "" {
		cl := s.Client(a.client)
		if cl == nil {
			return exitUsage, usagef("--client %q is not in the registry", a.client)
		}
		clients = []*registry.Client{cl}
	}
	var t *targetConfig
	if a.target != "" {
		if t, err = a.targetConfig(); err != nil {
			return exitUsage, err
		}
	} else if a.pathGiven {
		return exitUsage, usagef("--path needs --target")
	}

	r := attackReport{
		Registry: c.source(), Environment: string(p.Environment()), Match: string(p.Match()),
		Clients: []attackClient{}, Variants: []variantResult{},
	}
	if a.logoutPath != "" && !strings.HasPrefix(a.logoutPath, "/") {
		return exitUsage, usagef("--logout-path %q: want an absolute path such as /session/end", a.logoutPath)
	}
	for _, cl := range clients {
		raws := rawURIs(cl.URIs)
		ac := attackClient{ClientID: cl.ID, Name: cl.Name, Disabled: cl.Disabled, RedirectURIs: raws}
		opt := VariantOptions{AuthorizePath: a.path, ParPath: a.parPath, PathSpellings: t != nil, LogoutPath: a.logoutPath, PostLogoutURIs: rawURIs(cl.LogoutURIs)}
		for _, v := range Variants(cl.ID, raws, opt) {
			res := decideVariant(p, s, cl.ID, v)
			ac.Variants++
			if res.Flagged {
				ac.Flagged++
			}
			r.Variants = append(r.Variants, res)
		}
		r.Clients = append(r.Clients, ac)
	}
	r.Summary.Clients = len(r.Clients)
	r.Summary.Variants = len(r.Variants)
	for _, v := range r.Variants {
		switch {
		case v.Flagged:
			r.Summary.Flagged++
		case v.Decision == "allowed":
			r.Summary.Registered++
		default:
			r.Summary.Rejected++
		}
	}

	if t != nil {
		return attackTarget(cmdContext(cmd), c, t, &r, out, errOut)
	}
	if r.Summary.Flagged > 0 && a.failOnAllowed {
		r.ExitCode = exitFindings
	}
	if c.json() {
		return r.ExitCode, writeJSON(out, &r)
	}
	writeOffline(out, &r, a.failOnAllowed)
	return r.ExitCode, nil
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// rawURIs returns the URIs of set as registered.
func rawURIs(set *policy.Set) []string {
	raws := make([]string, 0, set.Len())
	for _, e := range set.Entries() {
		raws = append(raws, e.Raw)
	}
	return raws
}

// decideVariant decides v as the handler would with the registry, and
// flags it when it is allowed without being a registered redirect URI.
func decideVariant(p *policy.Policy, s *registry.Snapshot, clientID string, v Variant) variantResult {
	res := variantResult{
		ClientID: clientID, Class: v.Class, Name: v.Name, Base: v.Base, URI: v.URI,
		Method: v.Method, Path: v.Path, Query: v.RawQuery, Body: v.Body,
		RequestLevel: v.RequestLevel(), Decision: "rejected",
	}
	if v.RequestLevel() {
		res.Reason = string(v.Expect)
		if v.Expect == policy.RequestURINotRegistered {
			// Looked up in the client's registration, after the client.
			if d := s.Decide(clientID, ""); d.Reason == policy.UnknownClient || d.Reason == policy.ClientDisabled {
				res.Reason = string(d.Reason)
			}
		}
		return res
	}
	d := s.Decide(clientID, v.URI)
	if v.Logout {
		d = s.DecideLogout(clientID, v.URI)
	}
	res.Reason = string(d.Reason)
	if !d.Allowed() {
		return res
	}
	res.Decision = "allowed"
	if d.Entry != nil {
		res.Entry = d.Entry.Raw
	}
	res.Flagged, res.Why = flagAllowed(p, d.Decision, v.URI)
	return res
}

// flagAllowed reports whether an allowed redirect URI is one an attacker
// chose rather than a registered one (in another spelling at most), and why
// the policy lets it through.
func flagAllowed(p *policy.Policy, d policy.Decision, uri string) (bool, string) {
	if !d.Allowed() || d.Reason == policy.ExactMatch {
		return false, ""
	}
	if d.Entry != nil {
		if n, err := p.Normalize(uri); err == nil && n == d.Entry.Normalized {
			return false, ""
		}
	}
	return true, allowedWhy(registry.Decision{Decision: d})
}

// allowedWhy explains an allowance that does not require the requested URI
// to be a registered one; "" for an exact match.
func allowedWhy(d registry.Decision) string {
	e := d.Entry
	switch d.Reason {
	case policy.HostMatch:
		return fmt.Sprintf("host-only entry %q accepts every path and query on %s: an open redirect or user content anywhere there receives the code (register the full callback URI)", e.Raw, entryOrigin(e))
	case policy.PrefixMatch:
		return fmt.Sprintf("prefix mode: entry %q also accepts every longer path at a segment boundary, whatever the query (use match exact)", e.Raw)
	case policy.LoopbackMatch:
		u, _ := splitURI(e.Normalized)
		return fmt.Sprintf("loopback port rule (RFC 8252 §7.3): entry %q accepts %s://%s on any port, so any local process listening on another port receives the code", e.Raw, u.scheme, u.host)
	case policy.UnrestrictedClient:
		return "unrestricted sandbox client: it has no registered redirect URIs, so any valid redirect URI receives the code (register its callback URIs)"
	}
	return ""
}

func entryOrigin(e *policy.Entry) string {
	u, ok := splitURI(e.Normalized)
	if !ok {
		return e.Normalized
	}
	return u.origin()
}

func writeOffline(out io.Writer, r *attackReport, failOnAllowed bool) {
	fmt.Fprintf(out, "registry %s (%s, match %s)\n", r.Registry, r.Environment, r.Match)
	i := 0
	for _, cl := range r.Clients {
		fmt.Fprintf(out, "\nclient %s", cl.ClientID)
		if cl.Name != "" {
			fmt.Fprintf(out, " (%s)", cl.Name)
		}
		fmt.Fprintf(out, ": %s", plural(len(cl.RedirectURIs), "registered redirect URI", "registered redirect URIs"))
		if cl.Disabled {
			fmt.Fprint(out, ", disabled")
		}
		fmt.Fprintf(out, "; %s, %d flagged\n", plural(cl.Variants, "variant", "variants"), cl.Flagged)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  \tVARIANT\tDECISION\tREASON\tURI OR REQUEST")
		for _, v := range r.Variants[i : i+cl.Variants] {
			mark, decision := "", v.Decision
			if v.Flagged {
				mark, decision = "!!", "ALLOWED"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", mark, v.Class, decision, v.Reason, v.shown())
		}
		tw.Flush()
		i += cl.Variants
	}
	if r.Summary.Flagged > 0 {
		fmt.Fprintf(out, "\nFLAGGED: %s would be allowed without being a registered redirect URI:\n", plural(r.Summary.Flagged, "variant", "variants"))
		for _, v := range r.Variants {
			if v.Flagged {
				fmt.Fprintf(out, "  %s %s %s\n      %s: %s\n", v.ClientID, v.Class, v.URI, v.Reason, v.Why)
			}
		}
	}
	fmt.Fprintf(out, "\n%s, %s: %d rejected, %d allowed as registered, %d flagged",
		plural(r.Summary.Clients, "client", "clients"), plural(r.Summary.Variants, "variant", "variants"),
		r.Summary.Rejected, r.Summary.Registered, r.Summary.Flagged)
	if r.Summary.Flagged > 0 && !failOnAllowed {
		fmt.Fprint(out, " (--fail-on-allowed makes this fail)")
	}
	fmt.Fprintln(out)
}
