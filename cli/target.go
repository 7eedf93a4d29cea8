package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

// targetConfig is a checked --target and its limits.
type targetConfig struct {
	base        *url.URL // scheme and host only
	path        string
	maxRequests int
	rate        float64
	timeout     time.Duration
	insecure    bool
}

// targetInfo describes the online run in the JSON output.
type targetInfo struct {
	URL         string  `json:"url"`
	Path        string  `json:"path"`
	MaxRequests int     `json:"max_requests"`
	Rate        float64 `json:"rate"`
	Timeout     string  `json:"timeout"`
}

// answer is what the target answered to one variant.
type answer struct {
	// Outcome is "rejected" (a 4xx with the handler's JSON reason),
	// "forwarded" (any other answer) or "error" (no answer).
	Outcome  string `json:"outcome"`
	Status   int    `json:"status,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Location string `json:"location,omitempty"`
	Error    string `json:"error,omitempty"`
}

func (a *answer) String() string {
	switch a.Outcome {
	case "rejected":
		return fmt.Sprintf("rejected: %s (%d)", a.Reason, a.Status)
	case "forwarded":
		s := fmt.Sprintf("forwarded (%d)", a.Status)
		if a.Location != "" {
			s += " to " + a.Location
		}
		return s
	}
	return "no answer: " + a.Error
}

func (a *attackOptions) targetConfig() (*targetConfig, error) {
	u, err := url.Parse(a.target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, usagef("--target %q: want the proxy's base URL, such as http://127.0.0.1:8080", a.target)
	}
	path := a.path
	if !a.pathGiven && u.Path != "" && u.Path != "/" {
		path = u.EscapedPath() // the authorize endpoint itself was given
	}
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "?# ") {
		return nil, usagef("--path %q: want an absolute path such as /oauth/authorize", path)
	}
	if a.maxRequests < 1 {
		return nil, usagef("--max-requests must be at least 1")
	}
	if !(a.rate > 0) {
		return nil, usagef("--rate must be a positive number of requests per second")
	}
	if a.timeout <= 0 {
		return nil, usagef("--timeout must be positive")
	}
	a.path = path
	return &targetConfig{
		base: &url.URL{Scheme: u.Scheme, Host: u.Host}, path: path,
		maxRequests: a.maxRequests, rate: a.rate, timeout: a.timeout, insecure: a.insecure,
	}, nil
}

// client returns an HTTP client that talks to the target directly (no
// proxy from the environment), never follows redirects and gives up on a
// request after the timeout.
func (t *targetConfig) client() *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: t.insecure}, //nolint:gosec // operator's choice
		MaxIdleConnsPerHost: 2,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   t.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// send sends one variant exactly as generated: the path and query go on the
// request line byte for byte.
func (t *targetConfig) send(ctx context.Context, c *http.Client, v *variantResult) *answer {
	var body io.Reader
	if v.Body != "" {
		body = strings.NewReader(v.Body)
	}
	req, err := http.NewRequestWithContext(ctx, v.Method, t.base.String()+"/", body)
	if err != nil {
		return &answer{Outcome: "error", Error: err.Error()}
	}
	// Opaque is written as the request target as is, so that repeated
	// slashes, dot segments and escapes reach the proxy unchanged.
	req.URL = &url.URL{Scheme: t.base.Scheme, Host: t.base.Host, Opaque: v.Path, RawQuery: v.Query}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "caddy-redirect-uri-policy-attack")
	if v.Body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its URL is the request's, shown elsewhere
		}
		return &answer{Outcome: "error", Error: err.Error()}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	a := &answer{Outcome: "forwarded", Status: resp.StatusCode, Location: resp.Header.Get("Location")}
	if resp.StatusCode >= 400 && resp.StatusCode < 500 {
		var rej struct {
			Reason string `json:"reason"`
		}
		if json.Unmarshal(data, &rej) == nil && slices.Contains(policy.RejectReasons, policy.Reason(rej.Reason)) {
			a.Outcome, a.Reason = "rejected", rej.Reason
		}
	}
	return a
}

// compare returns how the answer differs from the expected decision, or "".
func compare(v *variantResult, a *answer) string {
	switch {
	case a.Outcome == "error":
		return "no answer from the target: " + a.Error
	case v.Decision == "allowed" && a.Outcome == "rejected":
		return fmt.Sprintf("the proxy rejected it (%s) but the registry allows it (%s)", a.Reason, v.Reason)
	case v.Decision == "rejected" && a.Outcome == "forwarded":
		return fmt.Sprintf("the proxy let it through (status %d) but the registry rejects it (%s)", a.Status, v.Reason)
	case v.Decision == "rejected" && a.Reason != v.Reason:
		return fmt.Sprintf("the proxy rejected it for %s but the registry says %s", a.Reason, v.Reason)
	}
	return ""
}

func sendOrder(v variantResult) int {
	switch v.Class {
	case ClassPathSpelling:
		return 0
	case ClassRequest, ClassPAR:
		return 1
	case ClassRegistered:
		return 2
	}
	return 3
}

// attackTarget sends the variants of r to the target, paced and bounded,
// and records every difference.
func attackTarget(ctx context.Context, c *common, t *targetConfig, r *attackReport, out, errOut io.Writer) (int, error) {
	r.Target = &targetInfo{URL: t.base.String(), Path: t.path, MaxRequests: t.maxRequests, Rate: t.rate, Timeout: t.timeout.String()}
	// The requests that test how the proxy is wired in (other spellings of
	// the authorize path, request-level tricks) go first, so that
	// --max-requests never leaves them out; then each client's URIs.
	slices.SortStableFunc(r.Variants, func(a, b variantResult) int { return sendOrder(a) - sendOrder(b) })
	client := t.client()
	defer client.CloseIdleConnections()
	interval := time.Duration(float64(time.Second) / t.rate)
	next := time.Now()
	failed := 0
	for i := range r.Variants {
		v := &r.Variants[i]
		if r.Summary.Sent >= t.maxRequests {
			r.Summary.Skipped = len(r.Variants) - i
			break
		}
		if wait := time.Until(next); wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return exitUsage, ctx.Err()
			case <-timer.C:
			}
		}
		next = time.Now().Add(interval)
		v.Got = t.send(ctx, client, v)
		r.Summary.Sent++
		if v.Got.Outcome == "error" {
			failed++
		}
		if v.Difference = compare(v, v.Got); v.Difference != "" {
			r.Summary.Differences++
		}
	}
	switch {
	case r.Summary.Sent > 0 && failed == r.Summary.Sent:
		r.ExitCode = exitUsage
	case r.Summary.Differences > 0:
		r.ExitCode = exitFindings
	}
	if r.Summary.Skipped > 0 {
		fmt.Fprintf(errOut, "Warning: --max-requests %d reached: %d of %d variants were not sent (raise --max-requests or use --client)\n",
			t.maxRequests, r.Summary.Skipped, len(r.Variants))
	}
	if c.json() {
		return r.ExitCode, writeJSON(out, r)
	}
	fmt.Fprintf(out, "target %s%s (registry %s, %s, match %s)\n", r.Target.URL, r.Target.Path, r.Registry, r.Environment, r.Match)
	fmt.Fprintf(out, "%s of %s sent (%d not sent); the registry rejects %d, allows %d as registered and %d flagged\n",
		plural(r.Summary.Sent, "request", "requests"), plural(r.Summary.Clients, "client", "clients"), r.Summary.Skipped,
		r.Summary.Rejected, r.Summary.Registered, r.Summary.Flagged)
	if r.ExitCode == exitUsage {
		fmt.Fprintf(out, "the target did not answer any request: %s\n", r.Variants[0].Got.Error)
		return r.ExitCode, nil
	}
	if r.Summary.Differences == 0 {
		fmt.Fprintln(out, "0 differences: every answer is what the registry says")
		return r.ExitCode, nil
	}
	fmt.Fprintf(out, "\nDIFFERENCES: %s the registry says:\n", plural(r.Summary.Differences, "answer differs from what", "answers differ from what"))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT\tVARIANT\tEXPECTED\tGOT\tREQUEST")
	for i := range r.Variants {
		v := &r.Variants[i]
		if v.Difference == "" {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s: %s\t%s\t%s\n", v.ClientID, v.Class, v.Decision, v.Reason, v.Got, v.request())
	}
	tw.Flush()
	fmt.Fprintf(out, "%s\n", plural(r.Summary.Differences, "difference", "differences"))
	return r.ExitCode, nil
}
