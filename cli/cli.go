// Package cli adds the redirect-uri-policy subcommands to every Caddy binary
// built with the module:
//
//	caddy redirect-uri-policy lint   --registry FILE --environment ENV
//	caddy redirect-uri-policy check  --registry FILE --environment ENV --client ID --redirect-uri URI
//	caddy redirect-uri-policy attack --registry FILE --environment ENV [--target URL]
//	caddy redirect-uri-policy publish --etcd ENDPOINTS --prefix PREFIX --environment ENV FILE
//	caddy redirect-uri-policy export --etcd ENDPOINTS --prefix PREFIX --environment ENV [--output FILE]
//
// lint, check and attack read the registry from etcd instead of a file
// with --etcd and --prefix.
// They are registered the Caddy way, with caddycmd.RegisterCommand in init,
// so `caddy help redirect-uri-policy` documents them.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
)

// CommandName is the name of the Caddy subcommand.
const CommandName = "redirect-uri-policy"

// Exit statuses, shared by the subcommands.
const (
	exitOK       = 0 // clean, allowed, no difference
	exitFindings = 1 // warnings (--strict), rejected, flagged or differing variants
	exitUsage    = 2 // usage, load or registry errors
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  CommandName,
		Usage: "lint|check|attack|publish|export --registry <file>|--etcd <endpoints> --prefix <prefix> --environment <sandbox|production> [flags]",
		Short: "Lints a redirect URI registry, checks a redirect URI, attacks a policy, publishes to etcd",
		Long: `
Offline and online tools for the redirect_uri_policy handler. Each one reads a
registry (a file, or the clients in etcd) with the same rules as the handler (--environment, --match and
--max-uri-length must be those of the handler's configuration).

lint
    Reports every error and warning of a registry file with file:line:column,
    then a summary. Exit status 0 when clean (warnings allowed unless
    --strict), 1 for warnings with --strict, 2 for errors.

check
    Decides one redirect URI for one client and explains the decision: the
    registered URI that matched, or the closest one and why it did not match.
    Exit status 0 allowed, 1 rejected, 2 usage or load errors.

attack
    Generates the redirect URIs and authorize requests an attacker holding
    a client's credentials would try (attacker and look-alike hosts,
    subdomains, userinfo and backslash tricks, scheme downgrade, other
    ports, path traversal, prefix extension, fragment and query injection,
    loopback, IDN look-alikes, duplicate and case-variant parameters,
    request objects) and decides each with the registry. Every variant that
    would be allowed without being a registered URI is flagged, with why.
    Exit status 1 with --fail-on-allowed when one is flagged.
    With --target, sends the same variants to a running proxy (bounded by
    --max-requests, paced by --rate, never following redirects) and reports
    every answer that differs from what the registry says. Exit status 1
    on any difference.

publish
    Validates a registry file as the handler would, then writes only the
    differences to the clients under an etcd prefix (one key per client),
    in transactions within etcd's limits, and prints each change.
    --dry-run prints them and writes nothing.

export
    Writes the clients under an etcd prefix to a registry file.

lint, check and attack read the registry from etcd with --etcd and
--prefix instead of --registry (the etcd password of --etcd-user is read
from $` + PasswordEnv + `).

Every subcommand takes --format text|json; JSON is a stable object for CI.
Run 'caddy help redirect-uri-policy <subcommand>' for its flags.
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.SilenceErrors = true
			cmd.SilenceUsage = true
			cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
				fmt.Fprintf(c.ErrOrStderr(), "Error: %v\nRun 'caddy help %s' for usage.\n", err, strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" "))
				return exitWith(c, exitUsage)
			})
			cmd.RunE = func(c *cobra.Command, args []string) error {
				if len(args) == 0 {
					fmt.Fprintln(c.ErrOrStderr(), "Error: a subcommand is required: lint, check, attack, publish or export")
				} else {
					fmt.Fprintf(c.ErrOrStderr(), "Error: unknown subcommand %q: want lint, check, attack, publish or export\n", args[0])
				}
				fmt.Fprint(c.ErrOrStderr(), c.UsageString())
				return exitWith(c, exitUsage)
			}
			cmd.AddCommand(lintCommand(), checkCommand(), attackCommand(), publishCommand(), exportCommand())
		},
	})
}

// errFindings is what a subcommand with findings (status 1) gives
// caddycmd.WrapCommandFuncForCobra: it exits 1 only for an error.
var errFindings = errors.New("the report above has findings")

// exitWith makes caddycmd.Main exit with status, through
// caddycmd.WrapCommandFuncForCobra. What went wrong is already written.
func exitWith(cmd *cobra.Command, status int) error {
	return caddycmd.WrapCommandFuncForCobra(func(caddycmd.Flags) (int, error) {
		if status == exitFindings {
			return status, errFindings
		}
		return status, nil
	})(cmd, nil)
}

// usageError is a mistake in the command line: status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// run adapts a subcommand body to cobra: it writes the error, if any, to
// stderr and exits with the status.
func run(f func(cmd *cobra.Command, out, errOut io.Writer) (int, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		status, err := exitUsage, error(nil)
		if len(args) > 0 {
			err = usagef("unexpected argument %q (every value is given by a flag)", args[0])
		} else {
			status, err = f(cmd, cmd.OutOrStdout(), cmd.ErrOrStderr())
		}
		if err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "Error: %v\n", err)
			var ue usageError
			if errors.As(err, &ue) {
				fmt.Fprintf(cmd.ErrOrStderr(), "Run 'caddy help %s %s' for usage.\n", CommandName, cmd.Name())
			}
			if status == exitOK {
				status = exitUsage
			}
		}
		return exitWith(cmd, status)
	}
}

// newSubcommand returns a subcommand whose errors and usage are printed by
// run, not by cobra.
func newSubcommand(use, short, long string) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Long: long, SilenceErrors: true, SilenceUsage: true}
}

// common are the flags that say how the handler reads the registry.
type common struct {
	registry     string
	etcd         etcdFlags
	environment  string
	match        string
	maxURILength int
	format       string
}

func (c *common) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&c.registry, "registry", "", "Registry file (or --etcd and --prefix)")
	f.StringVar(&c.environment, "environment", "", "Environment of the policy: sandbox or production (required)")
	f.StringVar(&c.match, "match", string(policy.MatchExact), "Match mode of the policy: exact or prefix")
	f.IntVar(&c.maxURILength, "max-uri-length", 0, "Longest redirect URI accepted, in bytes (0: the handler's default, 2048)")
	f.StringVar(&c.format, "format", "text", "Output format: text or json")
	c.etcd.addFlags(cmd)
}

// policy checks the common flags and returns the policy they describe.
func (c *common) policy() (*policy.Policy, error) {
	if c.registry == "" && !c.etcd.set() {
		return nil, usagef("--registry is required (or --etcd and --prefix)")
	}
	if c.environment == "" {
		return nil, usagef("--environment is required (sandbox or production)")
	}
	if c.format != "text" && c.format != "json" {
		return nil, usagef("--format %q: want text or json", c.format)
	}
	env, err := policy.ParseEnvironment(c.environment)
	if err != nil {
		return nil, usagef("--environment: %v", err)
	}
	match, err := policy.ParseMatchMode(c.match)
	if err != nil {
		return nil, usagef("--match: %v", err)
	}
	if c.maxURILength < 0 {
		return nil, usagef("--max-uri-length must not be negative")
	}
	return policy.New(policy.Options{Environment: env, Match: match, MaxURILength: c.maxURILength})
}

// load returns the policy and the registry loaded with it.
func (c *common) load() (*policy.Policy, *registry.Snapshot, error) {
	p, err := c.policy()
	if err != nil {
		return nil, nil, err
	}
	if err := c.oneSource(); err != nil {
		return nil, nil, err
	}
	if c.etcd.set() {
		return c.loadEtcd(p)
	}
	s, err := registry.Load(c.registry, p)
	if err != nil {
		return nil, nil, fmt.Errorf("the registry does not load (run 'caddy %s lint' for details): %w", CommandName, err)
	}
	return p, s, nil
}

func (c *common) json() bool { return c.format == "json" }

// oneSource checks that the registry comes from a file or from etcd.
func (c *common) oneSource() error {
	if c.registry != "" && c.etcd.set() {
		return usagef("--registry and --etcd exclude each other")
	}
	return nil
}

// source names the registry read, in reports.
func (c *common) source() string {
	if c.etcd.set() {
		return "etcd:" + c.etcd.prefix
	}
	return c.registry
}

// cmdContext returns the command's context, never nil.
func cmdContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
