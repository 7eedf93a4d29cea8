// Package caddymodule is the Caddy HTTP handler that enforces the redirect
// URI policy in front of an OAuth authorization server.
package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/request"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Defaults of the configuration.
const (
	DefaultPath           = "/oauth/authorize"
	DefaultMaxBody        = 64 << 10
	DefaultReloadInterval = caddy.Duration(time.Second)
	// MaxBodyLimit caps max_body: authorize forms are small, and every
	// checked body is held in memory while it is read.
	MaxBodyLimit = 4 << 20
)

// RejectedEvent is the Caddy event emitted for every rejected (or, in
// report-only mode, reported) request.
const RejectedEvent = "redirect_uri_rejected"

// The ways to answer a rejected request.
const (
	// RejectionPage answers with the handler's own HTML page or JSON.
	RejectionPage = "page"
	// RejectionError returns a caddyhttp.Error, so that the server's
	// handle_errors routes answer.
	RejectionError = "error"
)

// The values of Handler.RequestObjects.
const (
	RequestObjectsInspect = "inspect"
	RequestObjectsReject  = "reject"
)

// The values of Handler.OmittedRedirectURI.
const (
	OmittedReject = "reject"
	OmittedSingle = "single"
)

// Handler checks the redirect_uri of OAuth authorize requests against a
// file-backed registry of clients and rejects every one that breaks the
// sandbox or production rules before it reaches the upstream.
type Handler struct {
	// Registry is the path of the registry file: the shorthand of
	// registry_source {"source": "file", "path": ...}. One of Registry and
	// RegistrySourceRaw is required.
	Registry string `json:"registry,omitempty"`
	// RegistrySourceRaw is where the registry comes from, a module of the
	// redirect_uri_policy.sources namespace: file or etcd.
	RegistrySourceRaw json.RawMessage `json:"registry_source,omitempty" caddy:"namespace=redirect_uri_policy.sources inline_key=source"`
	// Environment is "sandbox" or "production" (required).
	Environment string `json:"environment"`
	// Paths are the authorize endpoints checked. Default: /oauth/authorize.
	Paths []string `json:"paths,omitempty"`
	// ParPaths are the pushed authorization request endpoints (RFC 9126)
	// checked. Default: none; then request_uri values from PAR are
	// rejected at the authorize endpoints.
	ParPaths []string `json:"par_paths,omitempty"`
	// RequestObjects is "inspect" (default: request objects are decoded
	// and their redirect_uri checked) or "reject" (request and
	// request_uri are rejected as request_object_not_supported).
	RequestObjects string `json:"request_objects,omitempty"`
	// Match is "exact" (default) or "prefix".
	Match string `json:"match,omitempty"`
	// ReportOnly records decisions but forwards every request.
	ReportOnly bool `json:"report_only,omitempty"`
	// ReloadInterval is how often the registry file is checked for
	// changes. Default: 1s. Negative disables reloading.
	ReloadInterval caddy.Duration `json:"reload_interval,omitempty"`
	// MaxBody is the largest form body read, in bytes. Default: 64 KiB;
	// at most MaxBodyLimit.
	MaxBody int64 `json:"max_body,omitempty"`
	// MaxURILength is the longest redirect URI accepted, in bytes.
	// Default: 2048.
	MaxURILength int `json:"max_uri_length,omitempty"`
	// ClientMetrics counts rejections per registered client, in at most
	// this many series; past them clients are counted as "_other".
	// Default: 1000. false (or "off" in the Caddyfile) switches it off.
	ClientMetrics ClientMetrics `json:"client_metrics,omitempty"`
	// Name is the policy's metric label. Default: the environment. Two
	// handlers of one name in a config must read the same registry.
	Name string `json:"name,omitempty"`
	// Rejection is how a rejected request is answered: "page" (default),
	// the handler's own page or JSON, or "error", a caddyhttp.Error with
	// the placeholders set, for the server's handle_errors routes.
	Rejection string `json:"rejection,omitempty"`
	// LogoutPaths are the end-session endpoints (OpenID Connect
	// RP-Initiated Logout) whose post_logout_redirect_uri is checked
	// against the client's post_logout_redirect_uris. Default: none.
	LogoutPaths []string `json:"logout_paths,omitempty"`
	// OmittedRedirectURI is "reject" (default): an authorize request
	// without redirect_uri is rejected; or "single": it passes when the
	// client registered exactly one full redirect URI, which the server
	// then uses (RFC 6749 §3.1.2.3).
	OmittedRedirectURI string `json:"omitted_redirect_uri,omitempty"`

	policy   *policy.Policy
	paths    request.PathSet
	parPaths request.PathSet
	hasPAR   bool
	logout   *request.PathSet // nil without LogoutPaths
	source   RegistrySource
	loader   registry.Source
	release  func() error
	metrics  *policyMetrics
	logger   *zap.Logger
	events   *caddyevents.App
	ctx      caddy.Context
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.redirect_uri_policy",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision compiles the policy and loads the registry; a registry that
// fails to load stops the configuration from loading.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.ctx = ctx
	h.logger = ctx.Logger()
	// Provision needs valid settings to load the registry, before Caddy
	// calls Validate.
	if err := h.Validate(); err != nil {
		return err
	}
	if h.RegistrySourceRaw != nil {
		mod, err := ctx.LoadModule(h, "RegistrySourceRaw")
		if err != nil {
			return fmt.Errorf("loading registry source: %w", err)
		}
		h.source = mod.(RegistrySource)
	} else {
		h.source = &FileSource{Path: h.Registry}
	}
	env := policy.Environment(h.Environment)
	match := policy.MatchExact
	if h.Match != "" {
		match = policy.MatchMode(h.Match)
	}
	if h.MaxBody == 0 {
		h.MaxBody = DefaultMaxBody
	}
	if h.ReloadInterval == 0 {
		h.ReloadInterval = DefaultReloadInterval
	}
	if h.Name == "" {
		h.Name = string(env)
	}
	if len(h.Paths) == 0 {
		h.Paths = []string{DefaultPath}
	}
	var err error
	if h.paths, err = request.NewPathSet(h.Paths); err != nil {
		return fmt.Errorf("paths: %w", err)
	}
	if h.parPaths, err = request.NewPathSet(h.ParPaths); err != nil {
		return fmt.Errorf("par_paths: %w", err)
	}
	h.hasPAR = len(h.ParPaths) > 0
	if len(h.LogoutPaths) > 0 {
		ps, err := request.NewPathSet(h.LogoutPaths)
		if err != nil {
			return fmt.Errorf("logout_paths: %w", err)
		}
		h.logout = &ps
	}
	if h.RequestObjects == "" {
		h.RequestObjects = RequestObjectsInspect
	}
	if h.policy, err = policy.New(policy.Options{Environment: env, Match: match, MaxURILength: h.MaxURILength}); err != nil {
		return err
	}

	if err := registerMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	h.metrics = newPolicyMetrics(h.Name, env, h.ClientMetrics.limit())

	interval := time.Duration(h.ReloadInterval)
	if interval < 0 {
		interval = 0
	}
	key := h.source.SourceKey(h.policy, interval)
	if err := claimName(ctx, h.Name, key, h.source.String()); err != nil {
		return err
	}
	open := func() (registry.Source, error) { return h.source.OpenSource(h.policy, interval, h.logger) }
	if h.loader, h.release, err = acquireLoader(key, open, h.metrics, h.logger); err != nil {
		return fmt.Errorf("loading registry: %w", err)
	}
	// The http app loads the events app before its handlers; a handler
	// provisioned outside a config emits nothing.
	switch events, err := ctx.AppIfConfigured("events"); {
	case err == nil:
		h.events = events.(*caddyevents.App)
	case !errors.Is(err, caddy.ErrNotConfigured):
		return err
	}
	s := h.loader.Snapshot()
	h.logger.Info("redirect URI policy ready",
		zap.String("policy", h.Name), zap.String("environment", string(env)),
		zap.String("registry", h.source.String()), zap.Int("clients", s.Len()), zap.Int("redirect_uris", s.URIs()),
		zap.Bool("report_only", h.ReportOnly))
	return nil
}

// Validate checks the settings, with the same messages for JSON and the
// Caddyfile.
func (h *Handler) Validate() error {
	switch {
	case h.Registry != "" && h.RegistrySourceRaw != nil:
		return errors.New("registry and registry_source exclude each other")
	case h.Registry == "" && h.RegistrySourceRaw == nil && h.source == nil: // LoadModule clears the raw field
		return errors.New("registry: a registry file (or registry_source) is required")
	}
	if err := validEnvironment(h.Environment); err != nil {
		return err
	}
	if h.Match != "" {
		if err := validMatch(h.Match); err != nil {
			return err
		}
	}
	for _, p := range h.Paths {
		if err := validPath("paths", p); err != nil {
			return err
		}
	}
	for _, p := range h.ParPaths {
		if err := validPath("par_paths", p); err != nil {
			return err
		}
	}
	if h.RequestObjects != "" {
		if err := validRequestObjects(h.RequestObjects); err != nil {
			return err
		}
	}
	if h.MaxBody != 0 {
		if err := validMaxBody(h.MaxBody, strconv.FormatInt(h.MaxBody, 10)); err != nil {
			return err
		}
	}
	if h.MaxURILength < 0 {
		return fmt.Errorf("max_uri_length: %d is not a positive number of bytes", h.MaxURILength)
	}
	if h.Rejection != "" {
		if err := validRejection(h.Rejection); err != nil {
			return err
		}
	}
	for _, p := range h.LogoutPaths {
		if err := validPath("logout_paths", p); err != nil {
			return err
		}
	}
	if h.OmittedRedirectURI != "" {
		if err := validOmitted(h.OmittedRedirectURI); err != nil {
			return err
		}
	}
	return nil
}

func validEnvironment(v string) error {
	if _, err := policy.ParseEnvironment(v); err != nil {
		return fmt.Errorf("environment: %q is not sandbox or production", v)
	}
	return nil
}

func validMatch(v string) error {
	if _, err := policy.ParseMatchMode(v); err != nil {
		return fmt.Errorf("match: %q is not exact or prefix", v)
	}
	return nil
}

func validPath(sub, p string) error {
	if len(p) == 0 || p[0] != '/' {
		return fmt.Errorf("%s: %q does not start with /", sub, p)
	}
	return nil
}

func validRequestObjects(v string) error {
	if v != RequestObjectsInspect && v != RequestObjectsReject {
		return fmt.Errorf("request_objects: %q is not inspect or reject", v)
	}
	return nil
}

// validMaxBody checks a body limit of n bytes, written as shown.
func validMaxBody(n int64, shown string) error {
	if n <= 0 || n > MaxBodyLimit {
		return fmt.Errorf("max_body: %q is not between 1 byte and 4MiB", shown)
	}
	return nil
}

func validRejection(v string) error {
	if v != RejectionPage && v != RejectionError {
		return fmt.Errorf("rejection: %q is not %s or %s", v, RejectionPage, RejectionError)
	}
	return nil
}

func validOmitted(v string) error {
	if v != OmittedReject && v != OmittedSingle {
		return fmt.Errorf("omitted_redirect_uri: %q is not %s or %s", v, OmittedReject, OmittedSingle)
	}
	return nil
}

// Cleanup lets go of the shared registry loader.
func (h *Handler) Cleanup() error {
	if h.release == nil {
		return nil
	}
	release := h.release
	h.release = nil
	return release()
}

// ServeHTTP checks authorize requests and passes every other request on.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if r.Method == http.MethodOptions {
		return unchecked(w, r, next)
	}
	escaped := r.URL.EscapedPath()
	if h.hasPAR {
		if at, err := h.parPaths.LocateRequest(escaped, r.Header, r.URL.RawQuery); at == request.Endpoint || err != nil {
			return h.servePush(w, r, next, err)
		}
	}
	at, err := h.paths.LocateRequest(escaped, r.Header, r.URL.RawQuery)
	if err == nil && at == request.Elsewhere && h.logout != nil {
		if logout, err := h.logout.LocateRequest(escaped, r.Header, r.URL.RawQuery); logout != request.Elsewhere || err != nil {
			return h.serveLogout(w, r, next, err)
		}
	}
	// Elsewhere an authorize request is known by its query alone, and its
	// body is the business of the endpoint it was sent to.
	if err == nil && at == request.Elsewhere && !request.RequestsCode(r.URL.RawQuery) {
		return unchecked(w, r, next)
	}
	var ps request.Params
	var d registry.Decision
	if err != nil {
		d = unreadablePath
	} else if d = h.decide(r, &ps, at == request.Endpoint); at == request.Below && d.Reason == policy.MissingClientID && !ps.Carries() {
		// Below the endpoint, read in full, with no authorize parameter:
		// one of the authorization server's own pages.
		return unchecked(w, r, next)
	} else if (d.Reason == policy.MissingClientID || d.Reason == policy.MissingRedirectURI) &&
		r.Method != http.MethodGet && r.Method != http.MethodHead && ps.Submission(r.URL.RawQuery) {
		// Read in full, it is a form the authorization server posts back
		// to its endpoint, not an authorize request.
		return unchecked(w, r, next)
	} else if d.Reason == policy.MissingRedirectURI && h.OmittedRedirectURI == OmittedSingle && !ps.HasRequestObject() {
		d = h.loader.Snapshot().DecideOmitted(ps.ClientID)
	}
	return h.conclude(w, r, next, &d, echo{clientID: ps.ClientID, uri: ps.RedirectURI})
}

// servePush checks a PAR push (RFC 9126) with the authorize endpoint's
// rules, so that the request_uri the server issues for it names a checked
// request. A rejected push gets RFC 9126's error shape, always JSON: its
// sender is the client's back end, not a browser.
func (h *Handler) servePush(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, pathErr error) error {
	var ps request.Params
	var d registry.Decision
	if pathErr != nil {
		d = unreadablePath
	} else if clientID, reason, detail := request.ReadPush(r, &ps, h.MaxBody); reason != "" {
		d = reject(reason, detail)
	} else {
		ps.ClientID = clientID
		d = h.decideParams(&ps, true)
	}
	return h.conclude(w, r, next, &d, echo{clientID: ps.ClientID, uri: ps.RedirectURI, push: true})
}

// serveLogout checks a request to an end-session endpoint (or below one):
// one with a post_logout_redirect_uri is decided against the post-logout
// redirect URIs of the client it names; one without passes unrecorded, as
// the server then sends the browser nowhere.
func (h *Handler) serveLogout(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, pathErr error) error {
	var l request.Logout
	var d registry.Decision
	clientID := ""
	switch reason, detail := request.ReadLogout(r, &l, h.MaxBody); {
	case pathErr != nil:
		d = unreadablePath
	case request.RequestsCode(r.URL.RawQuery):
		// Checked as either, the other half would pass unchecked.
		d = reject(policy.MalformedRequest, "a logout request carries an authorize request")
	case reason != "":
		d = reject(reason, detail)
	case l.PostLogoutRedirectURI == "":
		return unchecked(w, r, next)
	default:
		if clientID, d.Reason, d.Detail = l.Client(); d.Reason == "" {
			d = h.loader.Snapshot().DecideLogout(clientID, l.PostLogoutRedirectURI)
		}
	}
	if clientID == "" {
		clientID = l.ClientID
	}
	return h.conclude(w, r, next, &d, echo{clientID: clientID, uri: l.PostLogoutRedirectURI, logout: true})
}

// unreadablePath rejects a request whose path names an endpoint in a way
// that cannot be read unambiguously, at any door.
var unreadablePath = reject(policy.MalformedRequest, "the request path cannot be normalized")

// reject is a decision to reject a request for reason.
func reject(reason policy.Reason, detail string) registry.Decision {
	return registry.Decision{Decision: policy.Decision{Reason: reason, Detail: detail}}
}

// echo is what a decision's log line and rejection repeat of the request,
// and the door it came through.
type echo struct {
	clientID, uri string // as the request names them
	push          bool   // a PAR push, answered in RFC 9126's error shape
	logout        bool   // uri is a post_logout_redirect_uri
}

// conclude records the decision on a checked request and forwards the
// request or answers it.
func (h *Handler) conclude(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, d *registry.Decision, e echo) error {
	decision := decisionAllowed
	if !d.Allowed() {
		decision = decisionRejected
		if h.ReportOnly {
			decision = decisionReported
		}
	}
	var o *outcome
	if e.logout {
		o = h.metrics.recordLogout(decision, d.Reason, d.Client)
	} else {
		o = h.metrics.record(decision, d.Reason, d.Client)
	}
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	repl.Set("http.redirect_uri_policy.decision", o.decision)
	repl.Set("http.redirect_uri_policy.reason", o.reason)
	if decision == decisionAllowed {
		repl.Set("http.redirect_uri_policy.client_id", d.Client.ID)
		return next.ServeHTTP(w, r)
	}
	// Of a rejected request, only a registered client is shown: the
	// request's own text may hold anything, line breaks included, and end
	// up in a header or on the rejection page.
	client := d.Client
	if client == nil && d.Reason != policy.UnknownClient && e.clientID != "" {
		client = h.loader.Snapshot().Client(e.clientID)
	}
	clientID := ""
	if client != nil {
		clientID = client.ID
	}
	repl.Set("http.redirect_uri_policy.client_id", clientID)
	h.log(r, repl, decision, d, client, e)
	h.emit(decision, d)
	if decision == decisionReported {
		return next.ServeHTTP(w, r)
	}
	if h.Rejection == RejectionError {
		return rejectionError(w, d)
	}
	if e.push {
		return writeJSONRejection(w, d)
	}
	return writeRejection(w, r, d, client, e.uri, e.logout)
}

// emit emits the rejection event, if anything listens.
func (h *Handler) emit(decision string, d *registry.Decision) {
	if h.events == nil || !h.events.ShouldEmit(RejectedEvent) {
		return
	}
	clientID := ""
	if d.Client != nil {
		clientID = d.Client.ID
	}
	h.events.Emit(h.ctx, RejectedEvent, map[string]any{
		"policy":    h.Name,
		"decision":  decision,
		"reason":    string(d.Reason),
		"client_id": clientID,
	})
}

// unchecked passes on a request that the module does not decide, with its
// placeholders set empty rather than left as literal text where an
// operator uses them.
func unchecked(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	repl.Set("http.redirect_uri_policy.decision", "")
	repl.Set("http.redirect_uri_policy.reason", "")
	repl.Set("http.redirect_uri_policy.client_id", "")
	return next.ServeHTTP(w, r)
}

// decide reads the request's parameters and decides it. The body of a
// request sent to an endpoint must be a form; elsewhere it is read only
// for what upstreams there take parameters from.
func (h *Handler) decide(r *http.Request, ps *request.Params, endpoint bool) registry.Decision {
	if reason, detail := request.ReadParams(r, ps, h.MaxBody, endpoint); reason != "" {
		return reject(reason, detail)
	}
	if reason := ps.Reason(); reason != "" {
		return reject(reason, reason.Description())
	}
	if ps.HasRequestObject() {
		return h.decideParams(ps, false)
	}
	return h.loader.Snapshot().Decide(ps.ClientID, ps.RedirectURI)
}

// decideParams decides a request whose parameters may include a request
// object: an authorize request, or a push (where a request_uri never
// gets here). Every redirect_uri present (parameter, request object) must
// be allowed and all must be equal; a request object must name the
// request's client or none.
func (h *Handler) decideParams(ps *request.Params, push bool) registry.Decision {
	redirect, has := ps.RedirectURI, ps.HasRedirectURI()
	if ps.HasRequestObject() && h.RequestObjects == RequestObjectsReject {
		return reject(policy.RequestObjectNotSupported, "request objects are rejected by configuration")
	}
	if ps.HasRequest() {
		o, reason, detail := request.ReadRequestObject(ps.Request)
		switch {
		case reason != "":
			return reject(reason, detail)
		case o.HasClientID && o.ClientID != ps.ClientID:
			return reject(policy.ClientIDMismatch, "the request object's client_id differs from the request's")
		case o.HasRedirectURI && has && o.RedirectURI != redirect:
			return reject(policy.RedirectURIMismatch, "the request object's redirect_uri differs from the request's")
		case o.HasRedirectURI:
			// The URI checked is the one logged and shown.
			redirect, has = o.RedirectURI, true
			ps.RedirectURI = redirect
		}
	}
	s := h.loader.Snapshot()
	if !push && ps.HasRequestObject() && !ps.HasRequest() {
		return h.decideRequestURI(s, ps, redirect, has)
	}
	if redirect == "" {
		return reject(policy.MissingRedirectURI, "neither the request nor its request object has a redirect_uri")
	}
	return s.Decide(ps.ClientID, redirect)
}

// decideRequestURI decides an authorize request that refers to its
// parameters by request_uri: one issued by the PAR endpoint (checked when
// it was pushed, which assumes that the server's PAR endpoint is reachable
// only through a guarded par_paths) or a request object URL registered for
// the client. A redirect_uri beside it, which some servers merge in, must
// be allowed too.
func (h *Handler) decideRequestURI(s *registry.Snapshot, ps *request.Params, redirect string, has bool) registry.Decision {
	c := s.Client(ps.ClientID)
	if c == nil || c.Disabled {
		return s.Decide(ps.ClientID, "") // unknown_client, client_disabled
	}
	allowed := registry.Decision{Client: c}
	if request.IsPushedRequestURI(ps.RequestURI) {
		if !h.hasPAR {
			return reject(policy.RequestObjectNotSupported, "no par_paths are configured, so pushed requests are not checked")
		}
		allowed.Reason = policy.PushedRequest
	} else if c.HasRequestURI(ps.RequestURI) {
		allowed.Reason = policy.RegisteredRequestURI
	} else {
		return registry.Decision{Decision: policy.Decision{Reason: policy.RequestURINotRegistered, Detail: "the request_uri is not registered for the client"}, Client: c}
	}
	if has {
		if d := s.Decide(ps.ClientID, redirect); !d.Allowed() {
			return d
		}
	}
	return allowed
}

// log writes the line of a rejected or reported request, naming client, the
// registered client of the request if any (also when the decision came
// before the client was looked up: a duplicate, a request object).
func (h *Handler) log(r *http.Request, repl *caddy.Replacer, decision string, d *registry.Decision, client *registry.Client, e echo) {
	name := ""
	if client != nil {
		name = client.Name
	}
	requestID, _ := repl.GetString("http.request.uuid")
	msg, field := "redirect URI rejected", "redirect_uri"
	if decision == decisionReported {
		msg = "redirect URI would be rejected (report only)"
	}
	if e.logout {
		msg, field = "post-logout "+msg, "post_logout_redirect_uri"
	}
	h.logger.Warn(msg,
		zap.String("policy", h.Name),
		zap.String("decision", decision),
		zap.String("reason", string(d.Reason)),
		zap.String("detail", d.Detail),
		zap.String("client_id", truncate(e.clientID, 256)),
		zap.String("client_name", name),
		zap.String(field, truncate(e.uri, 512)),
		zap.String("client_ip", clientIP(r)),
		zap.String("request_id", requestID),
	)
}

// clientIP is the client's address as Caddy determined it, honouring
// trusted_proxies.
func clientIP(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		return ip
	}
	return r.RemoteAddr
}

// truncate cuts s to at most n bytes, marking the cut. It does not split a
// UTF-8 sequence, so that the cut stays valid text in an HTML page or a log.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for i := n; i > 0 && i > n-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			cut = i
			break
		}
	}
	return s[:cut] + "…"
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
