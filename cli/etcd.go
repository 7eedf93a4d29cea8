package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry/etcd"
)

// PasswordEnv names the environment variable that holds the etcd
// password: a flag would show it in the process list.
const PasswordEnv = "REDIRECT_URI_POLICY_ETCD_PASSWORD"

// etcdFlags say which etcd cluster and prefix hold a registry.
type etcdFlags struct {
	endpoints   string
	prefix      string
	ca          string
	cert        string
	key         string
	user        string
	dialTimeout time.Duration
}

func (e *etcdFlags) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&e.endpoints, "etcd", "", "etcd endpoints, comma-separated (host:port or URLs): read the registry from etcd")
	f.StringVar(&e.prefix, "prefix", "", "Key prefix of the registry in etcd, such as /redirect-uri-policy/production/")
	f.StringVar(&e.ca, "etcd-ca", "", "CA certificate (PEM) of the etcd members")
	f.StringVar(&e.cert, "etcd-cert", "", "Client certificate (PEM) for etcd")
	f.StringVar(&e.key, "etcd-key", "", "Client key (PEM) for etcd")
	f.StringVar(&e.user, "etcd-user", "", "etcd user name; the password is read from $"+PasswordEnv)
	f.DurationVar(&e.dialTimeout, "etcd-dial-timeout", etcd.DefaultDialTimeout, "How long to wait for etcd to answer")
}

func (e *etcdFlags) set() bool { return e.endpoints != "" }

// connect returns a client of the cluster the flags name.
func (e *etcdFlags) connect() (*clientv3.Client, error) {
	if e.prefix == "" {
		return nil, usagef("--prefix is required with --etcd")
	}
	cfg := etcd.Config{Prefix: e.prefix, Username: e.user, DialTimeout: e.dialTimeout}
	for _, ep := range strings.Split(e.endpoints, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			cfg.Endpoints = append(cfg.Endpoints, ep)
		}
	}
	if e.user != "" {
		cfg.Password = os.Getenv(PasswordEnv)
		if cfg.Password == "" {
			return nil, usagef("--etcd-user needs the password in $%s", PasswordEnv)
		}
	}
	if e.ca != "" || e.cert != "" {
		tc, err := etcd.TLSConfig(e.ca, e.cert, e.key)
		if err != nil {
			return nil, usagef("%v", err)
		}
		cfg.TLS = tc
	}
	if err := cfg.Check(); err != nil {
		return nil, usagef("%v", err)
	}
	c, err := cfg.Connect()
	if err != nil {
		return nil, fmt.Errorf("etcd %s: %w", e.endpoints, err)
	}
	return c, nil
}

// readEtcd reads the registry the flags name with policy p. Invalid values
// are left out, as a proxy that never had a good version of them does.
func (e *etcdFlags) read(ctx context.Context, p *policy.Policy) (*registry.Snapshot, []error, error) {
	c, err := e.connect()
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	return etcd.Read(ctx, c, e.prefix, p)
}

// loadEtcd is load for a registry in etcd: it fails on an invalid value,
// as loading a file fails on any problem (lint lists them).
func (c *common) loadEtcd(p *policy.Policy) (*policy.Policy, *registry.Snapshot, error) {
	s, invalid, err := c.etcd.read(context.Background(), p)
	if err != nil {
		return nil, nil, err
	}
	if len(invalid) > 0 {
		return nil, nil, fmt.Errorf("%s under %s (run 'caddy %s lint' for details); the first: %w",
			plural(len(invalid), "invalid value", "invalid values"), c.etcd.prefix, CommandName, invalid[0])
	}
	return p, s, nil
}

func publishCommand() *cobra.Command {
	var c common
	var dryRun bool
	cmd := newSubcommand("publish --etcd <endpoints> --prefix <prefix> --environment <sandbox|production> [--dry-run] [--format text|json] <file>",
		"Publishes a registry file to etcd: validates it, then writes only the differences",
		`
Reads the registry file exactly as the redirect_uri_policy handler would;
if anything is wrong with it, nothing is written (run lint for every
problem). Then it reads the clients under <prefix>clients/ and writes only
the differences: a put for each client added or changed, a delete for each
client gone (and for a key under the prefix that is not a client's), in
transactions of at most 128 operations and 1 MiB (etcd's default limits).
Each transaction writes only if none of its keys changed since the read: a
concurrent edit makes publish stop with status 2; run it again.

Each change is printed; --dry-run prints them and writes nothing.

Exit status: 0 published (or nothing to change), 2 for an invalid file, an
unreachable cluster or a conflict.

The password of --etcd-user is read from $`+PasswordEnv+`.
`)
	c.addFlags(cmd)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "Print the changes, write nothing")
	body := run(func(cmd *cobra.Command, out, _ io.Writer) (int, error) {
		return publish(cmdContext(cmd), &c, dryRun, out)
	})
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 1 && c.registry == "" {
			c.registry, args = args[0], nil
		}
		return body(cmd, args)
	}
	return cmd
}

// publishReport is the JSON output of publish.
type publishReport struct {
	*etcd.Plan
	File         string `json:"file"`
	DryRun       bool   `json:"dry_run"`
	Written      bool   `json:"written"`
	Transactions int    `json:"transactions"`
	ExitCode     int    `json:"exit_code"`
}

func publish(ctx context.Context, c *common, dryRun bool, out io.Writer) (int, error) {
	e := &c.etcd
	if !e.set() || c.registry == "" {
		return exitUsage, usagef("a registry file and --etcd are required")
	}
	p, err := c.policy()
	if err != nil {
		return exitUsage, err
	}
	s, err := registry.Load(c.registry, p)
	if err != nil {
		return exitUsage, fmt.Errorf("the registry does not load, nothing written (run 'caddy %s lint' for details): %w", CommandName, err)
	}
	if err != nil {
		return exitUsage, err
	}
	cl, err := e.connect()
	if err != nil {
		return exitUsage, err
	}
	defer cl.Close()
	plan, err := etcd.PlanPublish(ctx, cl, e.prefix, s)
	if err != nil {
		return exitUsage, fmt.Errorf("reading %s from etcd: %w", e.prefix, err)
	}
	r := publishReport{Plan: plan, File: c.registry, DryRun: dryRun}
	if !c.json() {
		for _, ch := range plan.Changes {
			fmt.Fprintf(out, "%-6s %s", ch.Op, ch.Key)
			if ch.Invalid != "" {
				fmt.Fprintf(out, " (replaces an invalid value: %s)", ch.Invalid)
			}
			fmt.Fprintln(out)
		}
	}
	if !dryRun && len(plan.Changes) > 0 {
		r.Transactions, err = plan.Apply(ctx, cl)
		r.Written = err == nil
	}
	if err != nil {
		r.ExitCode = exitUsage
	}
	if c.json() {
		if werr := writeJSON(out, &r); werr != nil {
			return exitUsage, werr
		}
		return r.ExitCode, err
	}
	add, update, del := plan.Count()
	summary := fmt.Sprintf("%d added, %d updated, %d deleted, %d unchanged (read at revision %d)", add, update, del, plan.Unchanged, plan.Revision)
	switch {
	case err != nil:
		summary += "; failed"
	case dryRun:
		summary += "; dry run: nothing written"
	case len(plan.Changes) == 0:
		summary += "; nothing to write"
	default:
		summary += fmt.Sprintf("; written in %s", plural(r.Transactions, "transaction", "transactions"))
	}
	fmt.Fprintln(out, summary)
	return r.ExitCode, err
}

func exportCommand() *cobra.Command {
	var c common
	var output string
	cmd := newSubcommand("export --etcd <endpoints> --prefix <prefix> --environment <sandbox|production> [--output <file>]",
		"Writes the registry held in etcd to a registry file",
		`
Reads every client under <prefix>clients/ at one revision, checks each as
the handler would, and writes a registry file (clients in client_id order)
to --output, atomically, or to standard output. An invalid value stops it
with every problem listed, and nothing is written.

Exit status: 0 written, 2 for invalid values or an unreachable cluster.
`)
	c.addFlags(cmd)
	cmd.Flags().StringVar(&output, "output", "", "File to write (default: standard output)")
	cmd.RunE = run(func(cmd *cobra.Command, out, errOut io.Writer) (int, error) {
		e := &c.etcd
		if !e.set() || c.registry != "" {
			return exitUsage, usagef("--etcd and --prefix are required (and --registry is not used)")
		}
		p, err := c.policy()
		if err != nil {
			return exitUsage, err
		}
		s, invalid, err := e.read(cmdContext(cmd), p)
		if err != nil {
			return exitUsage, err
		}
		if len(invalid) > 0 {
			for _, err := range invalid {
				fmt.Fprintln(errOut, err)
			}
			return exitUsage, fmt.Errorf("%s under %s: nothing written", plural(len(invalid), "invalid value", "invalid values"), e.prefix)
		}
		if output == "" {
			return exitOK, registry.WriteFile(out, p.Environment(), s.Clients())
		}
		if err := etcd.WriteRegistryFile(output, p.Environment(), s); err != nil {
			return exitUsage, err
		}
		fmt.Fprintf(errOut, "%s: %s, %s (revision %d)\n", output, plural(s.Len(), "client", "clients"), plural(s.URIs(), "redirect URI", "redirect URIs"), s.Revision)
		return exitOK, nil
	})
	return cmd
}

// lintEtcd returns the problems of every value in etcd, each named by its
// key.
func (c *common) lintEtcd(p *policy.Policy) ([]registry.Problem, error) {
	cl, err := c.etcd.connect()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	problems, _, err := etcd.Lint(context.Background(), cl, c.etcd.prefix, p)
	return problems, err
}
