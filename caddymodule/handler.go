// Package caddymodule is the Caddy HTTP handler that enforces the redirect
// URI policy in front of an OAuth authorization server.
package caddymodule

import (
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
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
)

// Handler checks the redirect_uri of OAuth authorize requests against a
// file-backed registry of clients and rejects every one that breaks the
// sandbox or production rules before it reaches the upstream.
type Handler struct {
	// Registry is the path of the registry file (required).
	Registry string `json:"registry"`
	// Environment is "sandbox" or "production" (required).
	Environment string `json:"environment"`
	// Paths are the authorize endpoints checked. Default: /oauth/authorize.
	Paths []string `json:"paths,omitempty"`
	// Match is "exact" (default) or "prefix".
	Match string `json:"match,omitempty"`
	// ReportOnly records decisions but forwards every request.
	ReportOnly bool `json:"report_only,omitempty"`
	// ReloadInterval is how often the registry file is checked for
	// changes. Default: 1s. Negative disables reloading.
	ReloadInterval caddy.Duration `json:"reload_interval,omitempty"`
	// MaxBody is the largest form body read, in bytes. Default: 64 KiB.
	MaxBody int64 `json:"max_body,omitempty"`
	// MaxURILength is the longest redirect URI accepted, in bytes.
	// Default: 2048.
	MaxURILength int `json:"max_uri_length,omitempty"`
	// ClientMetrics counts rejections per registered client. Default: true.
	ClientMetrics *bool `json:"client_metrics,omitempty"`
	// Name is the policy's metric label. Default: the environment.
	Name string `json:"name,omitempty"`

	policy    *policy.Policy
	paths     request.PathSet
	loader    *registry.Loader
	loaderKey loaderKey
	metrics   *policyMetrics
	logger    *zap.Logger
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
	h.logger = ctx.Logger()
	if h.Registry == "" {
		return fmt.Errorf("registry: a registry file is required")
	}
	env, err := policy.ParseEnvironment(h.Environment)
	if err != nil {
		return fmt.Errorf("environment: %w", err)
	}
	match := policy.MatchExact
	if h.Match != "" {
		if match, err = policy.ParseMatchMode(h.Match); err != nil {
			return fmt.Errorf("match: %w", err)
		}
	}
	if h.MaxURILength < 0 || h.MaxBody < 0 {
		return fmt.Errorf("max_uri_length and max_body must not be negative")
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
	if h.paths, err = request.NewPathSet(h.Paths); err != nil {
		return fmt.Errorf("paths: %w", err)
	}
	if h.policy, err = policy.New(policy.Options{Environment: env, Match: match, MaxURILength: h.MaxURILength}); err != nil {
		return err
	}

	if err := registerMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	h.metrics = newPolicyMetrics(h.Name, env, h.ClientMetrics == nil || *h.ClientMetrics)

	interval := time.Duration(h.ReloadInterval)
	if interval < 0 {
		interval = 0
	}
	h.loaderKey = loaderKey{file: h.Registry, env: env, match: match, maxLen: h.policy.MaxURILength(), interval: interval}
	if h.loader, err = acquireLoader(h.loaderKey, h.policy, h.metrics, h.logger); err != nil {
		return fmt.Errorf("loading registry: %w", err)
	}
	s := h.loader.Snapshot()
	h.logger.Info("redirect URI policy ready",
		zap.String("policy", h.Name), zap.String("environment", string(env)),
		zap.String("registry", h.Registry), zap.Int("clients", s.Len()), zap.Int("redirect_uris", s.URIs()),
		zap.Bool("report_only", h.ReportOnly))
	return nil
}

// Cleanup lets go of the shared registry loader.
func (h *Handler) Cleanup() error {
	if h.loader == nil {
		return nil
	}
	return releaseLoader(h.loaderKey, h.Name)
}

// ServeHTTP checks authorize requests and passes every other request on.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if r.Method == http.MethodOptions {
		return next.ServeHTTP(w, r)
	}
	escaped := r.URL.EscapedPath()
	endpoint, err := h.paths.Match(escaped)
	if err == nil && !endpoint {
		endpoint, err = h.paths.MatchHeaders(r.Header)
	}
	if err == nil && !endpoint {
		endpoint, err = h.paths.MatchQueryRoute(escaped, r.URL.RawQuery)
	}
	// Elsewhere an authorize request is known by its query alone, and its
	// body is the business of the endpoint it was sent to.
	if err == nil && !endpoint && !request.RequestsCode(r.URL.RawQuery) {
		return next.ServeHTTP(w, r)
	}
	var ps request.Params
	var d registry.Decision
	if err != nil {
		d.Reason = policy.MalformedRequest
		d.Detail = "the request path cannot be normalized"
	} else if d = h.decide(r, &ps, endpoint); (d.Reason == policy.MissingClientID || d.Reason == policy.MissingRedirectURI) &&
		r.Method != http.MethodGet && r.Method != http.MethodHead && ps.Submission(r.URL.RawQuery) {
		// Read in full, it is a form the authorization server posts back
		// to its endpoint, not an authorize request.
		return next.ServeHTTP(w, r)
	}

	decision := decisionAllowed
	if !d.Allowed() {
		decision = decisionRejected
		if h.ReportOnly {
			decision = decisionReported
		}
	}
	o := h.metrics.record(decision, d.Reason, d.Client)
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	repl.Set("http.redirect_uri_policy.decision", o.decision)
	repl.Set("http.redirect_uri_policy.reason", o.reason)
	repl.Set("http.redirect_uri_policy.client_id", ps.ClientID)
	if decision == decisionAllowed {
		return next.ServeHTTP(w, r)
	}
	h.log(r, repl, decision, &d, &ps)
	if decision == decisionReported {
		return next.ServeHTTP(w, r)
	}
	return writeRejection(w, r, &d, &ps)
}

// decide reads the request's parameters and decides it. The body of a
// request sent to an endpoint must be a form; elsewhere it is read only
// for what upstreams there take parameters from.
func (h *Handler) decide(r *http.Request, ps *request.Params, endpoint bool) registry.Decision {
	reject := func(reason policy.Reason, detail string) registry.Decision {
		return registry.Decision{Decision: policy.Decision{Reason: reason, Detail: detail}}
	}
	if reason := ps.Scan(r.URL.RawQuery); reason != "" {
		return reject(reason, "the query string cannot be read unambiguously")
	}
	// Direct calls, not a method value: through one, ps would escape to
	// the heap.
	var reason policy.Reason
	var detail string
	if endpoint {
		reason, detail = request.ReadForm(r, ps, h.MaxBody)
	} else {
		reason, detail = request.ReadBodyElsewhere(r, ps, h.MaxBody)
	}
	if reason != "" {
		return reject(reason, detail)
	}
	ps.ScanCookies(r.Header["Cookie"])
	if reason := ps.Reason(); reason != "" {
		return reject(reason, reason.Description())
	}
	return h.loader.Snapshot().Decide(ps.ClientID, ps.RedirectURI)
}

func (h *Handler) log(r *http.Request, repl *caddy.Replacer, decision string, d *registry.Decision, ps *request.Params) {
	name := ""
	if d.Client != nil {
		name = d.Client.Name
	}
	requestID, _ := repl.GetString("http.request.uuid")
	msg := "redirect URI rejected"
	if decision == decisionReported {
		msg = "redirect URI would be rejected (report only)"
	}
	h.logger.Warn(msg,
		zap.String("policy", h.Name),
		zap.String("decision", decision),
		zap.String("reason", string(d.Reason)),
		zap.String("detail", d.Detail),
		zap.String("client_id", truncate(ps.ClientID, 256)),
		zap.String("client_name", name),
		zap.String("redirect_uri", truncate(ps.RedirectURI, 512)),
		zap.String("remote_addr", r.RemoteAddr),
		zap.String("request_id", requestID),
	)
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
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
