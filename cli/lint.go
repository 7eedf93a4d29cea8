package cli

import (
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
)

func lintCommand() *cobra.Command {
	var c common
	var strict bool
	cmd := newSubcommand("lint --registry <file> --environment <sandbox|production> [--match exact|prefix] [--strict] [--format text|json]",
		"Reports every error and warning of a registry file",
		`
Reads a registry file exactly as the redirect_uri_policy handler would and
reports every error (the file would not load) and warning (valid but risky:
host-only entries in production, http redirect URIs, unrestricted sandbox
clients), each with file:line:column, then a summary line.

Exit status: 0 when the file loads (warnings allowed unless --strict),
1 when it has warnings and --strict is set, 2 when it has errors or cannot
be read.

With --format json the output is one object:
  {"file", "environment", "match", "strict", "problems": [{"severity",
  "file", "line", "column", "client_id", "message"}], "errors", "warnings",
  "truncated", "clients", "redirect_uris", "status", "exit_code"}
where status is "ok", "warnings" or "errors".
`)
	c.addFlags(cmd)
	cmd.Flags().BoolVar(&strict, "strict", false, "Exit with status 1 when there are warnings")
	cmd.RunE = run(func(cmd *cobra.Command, out, _ io.Writer) (int, error) {
		return lint(&c, strict, out)
	})
	return cmd
}

// lintReport is the JSON output of lint. Its fields are a stable interface.
type lintReport struct {
	File         string             `json:"file"`
	Environment  string             `json:"environment"`
	Match        string             `json:"match"`
	Strict       bool               `json:"strict"`
	Problems     []registry.Problem `json:"problems"`
	Errors       int                `json:"errors"`
	Warnings     int                `json:"warnings"`
	Truncated    bool               `json:"truncated"`
	Clients      int                `json:"clients"`
	RedirectURIs int                `json:"redirect_uris"`
	Status       string             `json:"status"`
	ExitCode     int                `json:"exit_code"`
}

func lint(c *common, strict bool, out io.Writer) (int, error) {
	p, err := c.policy()
	if err != nil {
		return exitUsage, err
	}
	if err := c.oneSource(); err != nil {
		return exitUsage, err
	}
	r := lintReport{File: c.source(), Environment: string(p.Environment()), Match: string(p.Match()), Strict: strict}
	var problems []registry.Problem
	if c.etcd.set() {
		problems, err = c.lintEtcd(p)
	} else {
		problems, err = registry.Lint(c.registry, p)
	}
	if err != nil {
		// An unreadable file is an error of the file, reported like the
		// others so that CI sees the same object.
		problems = []registry.Problem{{Severity: registry.Error, File: r.File, Message: err.Error()}}
	}
	slices.SortStableFunc(problems, func(a, b registry.Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	r.Problems = append([]registry.Problem{}, problems...)
	for _, pr := range problems {
		if pr.Severity == registry.Warning {
			r.Warnings++
		} else {
			r.Errors++
		}
	}
	r.Truncated = r.Errors >= registry.MaxProblems || r.Warnings >= registry.MaxProblems
	if r.Errors == 0 {
		// The file loads: say what it holds.
		if _, s, err := c.load(); err == nil {
			r.Clients, r.RedirectURIs = s.Len(), s.URIs()
		} else {
			// Changed between the two reads, or the rules disagree:
			// never call a file clean that does not load.
			r.Problems = append(r.Problems, registry.Problem{Severity: registry.Error, File: r.File, Message: err.Error()})
			r.Errors++
		}
	}
	switch {
	case r.Errors > 0:
		r.Status, r.ExitCode = "errors", exitUsage
	case r.Warnings > 0:
		r.Status = "warnings"
		if strict {
			r.ExitCode = exitFindings
		}
	default:
		r.Status = "ok"
	}

	if c.json() {
		return r.ExitCode, writeJSON(out, &r)
	}
	for _, pr := range r.Problems {
		if pr.Line == 0 {
			fmt.Fprintf(out, "%s: %s: %s\n", pr.File, pr.Severity, pr.Message)
			continue
		}
		fmt.Fprintf(out, "%s:%d:%d: %s: %s\n", pr.File, pr.Line, pr.Column, pr.Severity, pr.Message)
	}
	if r.Truncated {
		fmt.Fprintf(out, "(stopped after %d problems of one severity; fix these and run lint again)\n", registry.MaxProblems)
	}
	summary := plural(r.Errors, "error", "errors") + ", " + plural(r.Warnings, "warning", "warnings")
	switch {
	case r.Errors > 0:
		summary += ": the registry does not load"
	case r.Warnings > 0 && strict:
		summary += fmt.Sprintf(" (%s, %s; --strict: warnings fail)", plural(r.Clients, "client", "clients"), plural(r.RedirectURIs, "redirect URI", "redirect URIs"))
	default:
		summary += fmt.Sprintf(" (%s, %s)", plural(r.Clients, "client", "clients"), plural(r.RedirectURIs, "redirect URI", "redirect URIs"))
	}
	fmt.Fprintln(out, summary)
	return r.ExitCode, nil
}
