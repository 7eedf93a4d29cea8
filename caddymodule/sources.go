package caddymodule

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry"
	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/registry/etcd"
)

func init() {
	caddy.RegisterModule(FileSource{})
	caddy.RegisterModule(EtcdSource{})
}

// sourcesNamespace is the namespace of registry source modules: a source
// is chosen with "registry_source": {"source": "<name>", ...} in JSON and
// `registry <name> { ... }` in the Caddyfile.
const sourcesNamespace = "redirect_uri_policy.sources"

// RegistrySource is a module of the redirect_uri_policy.sources namespace:
// where a policy's registry comes from.
type RegistrySource interface {
	// SourceKey identifies what the source reads with the policy's
	// rules: handlers with equal keys share one registry.Source, which
	// outlives config reloads.
	SourceKey(p *policy.Policy, reload time.Duration) any
	// OpenSource loads the registry for p; a registry that does not load
	// fails the configuration. reload is the handler's reload_interval
	// (0: off), for the sources that poll.
	OpenSource(p *policy.Policy, reload time.Duration, logger *zap.Logger) (registry.Source, error)
	// String names the source in logs.
	String() string
}

// FileSource reads the registry from a file, polled for changes at the
// handler's reload_interval. `registry <file>` is its shorthand.
type FileSource struct {
	// Path is the registry file.
	Path string `json:"path"`
}

// CaddyModule returns the Caddy module information.
func (FileSource) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  sourcesNamespace + ".file",
		New: func() caddy.Module { return new(FileSource) },
	}
}

// loaderKey is a file source's key: the absolute path and the rules.
type loaderKey struct {
	file     string // absolute
	env      policy.Environment
	match    policy.MatchMode
	maxLen   int
	interval time.Duration
}

// SourceKey implements RegistrySource. One file, however it is spelled,
// is one loader.
func (f *FileSource) SourceKey(p *policy.Policy, reload time.Duration) any {
	return loaderKey{file: f.abs(), env: p.Environment(), match: p.Match(), maxLen: p.MaxURILength(), interval: reload}
}

func (f *FileSource) abs() string {
	if abs, err := filepath.Abs(f.Path); err == nil {
		return abs
	}
	return f.Path
}

// OpenSource implements RegistrySource.
func (f *FileSource) OpenSource(p *policy.Policy, reload time.Duration, _ *zap.Logger) (registry.Source, error) {
	if f.Path == "" {
		return nil, fmt.Errorf("registry: a registry file is required")
	}
	l, err := registry.NewLoader(f.abs(), p, reload)
	if err != nil {
		return nil, err
	}
	l.Start()
	return l, nil
}

func (f *FileSource) String() string { return f.abs() }

// UnmarshalCaddyfile reads `registry file <path>`.
func (f *FileSource) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module's name
	if !d.AllArgs(&f.Path) {
		return d.ArgErr()
	}
	return nil
}

// EtcdSource reads the registry from an etcd cluster, one key per client
// under <prefix>clients/, and follows its changes (see package
// registry/etcd).
type EtcdSource struct {
	// Endpoints of the cluster's members (host:port or URLs).
	Endpoints []string `json:"endpoints"`
	// Prefix of the registry's keys, such as
	// /redirect-uri-policy/production/.
	Prefix string `json:"prefix"`
	// Cache is the file the registry is written to after every change and
	// served from when etcd does not answer at start. Recommended.
	Cache string `json:"cache,omitempty"`
	// TLS to the members: the CA of their certificates and a client
	// certificate.
	TLS *EtcdTLS `json:"tls,omitempty"`
	// Username and Password authenticate to etcd. Placeholders such as
	// {env.ETCD_PASSWORD} are replaced, so that the secret stays out of
	// the configuration.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// DialTimeout bounds the wait for etcd at start. Default: 5s.
	DialTimeout caddy.Duration `json:"dial_timeout,omitempty"`
}

// EtcdTLS names the PEM files of a TLS connection to etcd.
type EtcdTLS struct {
	CA   string `json:"ca,omitempty"`
	Cert string `json:"cert,omitempty"`
	Key  string `json:"key,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (EtcdSource) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  sourcesNamespace + ".etcd",
		New: func() caddy.Module { return new(EtcdSource) },
	}
}

// etcdKey identifies a shared etcd source. The password is part of it so
// that a changed secret opens a new connection.
type etcdKey struct {
	endpoints, prefix, cache string
	tls                      EtcdTLS
	username, password       string
	dialTimeout              time.Duration
	env                      policy.Environment
	match                    policy.MatchMode
	maxLen                   int
}

func (e *EtcdSource) config() etcd.Config {
	repl := caddy.NewReplacer()
	return etcd.Config{
		Endpoints:   e.Endpoints,
		Prefix:      e.Prefix,
		Username:    repl.ReplaceAll(e.Username, ""),
		Password:    repl.ReplaceAll(e.Password, ""),
		DialTimeout: time.Duration(e.DialTimeout),
	}
}

// SourceKey implements RegistrySource.
func (e *EtcdSource) SourceKey(p *policy.Policy, _ time.Duration) any {
	cfg := e.config()
	k := etcdKey{endpoints: strings.Join(e.Endpoints, ","), prefix: e.Prefix, cache: e.Cache,
		username: cfg.Username, password: cfg.Password, dialTimeout: cfg.DialTimeout,
		env: p.Environment(), match: p.Match(), maxLen: p.MaxURILength()}
	if e.TLS != nil {
		k.tls = *e.TLS
	}
	return k
}

// OpenSource implements RegistrySource.
func (e *EtcdSource) OpenSource(p *policy.Policy, _ time.Duration, logger *zap.Logger) (registry.Source, error) {
	o := etcd.Options{Config: e.config(), Policy: p, Cache: e.Cache, Log: logger}
	if e.TLS != nil {
		tc, err := etcd.TLSConfig(e.TLS.CA, e.TLS.Cert, e.TLS.Key)
		if err != nil {
			return nil, err
		}
		o.TLS = tc
	}
	return etcd.Open(o)
}

func (e *EtcdSource) String() string {
	return "etcd " + strings.Join(e.Endpoints, ",") + " " + e.Prefix
}

// UnmarshalCaddyfile reads the block of `registry etcd { ... }`:
//
//	registry etcd {
//		endpoints    <host:port...>
//		prefix       <prefix>
//		cache        <file>
//		tls {
//			ca   <file>
//			cert <file>
//			key  <file>
//		}
//		username     <name>
//		password     <secret>
//		dial_timeout <duration>
//	}
func (e *EtcdSource) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module's name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		sub := d.Val()
		if seen[sub] {
			return d.Errf("etcd: %s given more than once", sub)
		}
		seen[sub] = true
		switch sub {
		case "endpoints":
			e.Endpoints = d.RemainingArgs()
			if len(e.Endpoints) == 0 {
				return d.ArgErr()
			}
		case "prefix", "cache", "username", "password":
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			switch sub {
			case "prefix":
				if !strings.HasSuffix(v, "/") {
					return d.Errf("etcd: prefix %q must end with /", v)
				}
				e.Prefix = v
			case "cache":
				e.Cache = v
			case "username":
				e.Username = v
			case "password":
				e.Password = v
			}
		case "dial_timeout":
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur <= 0 {
				return d.Errf("etcd: dial_timeout %q is not a positive duration", v)
			}
			e.DialTimeout = caddy.Duration(dur)
		case "tls":
			if d.NextArg() {
				return d.ArgErr()
			}
			e.TLS = &EtcdTLS{}
			for tn := d.Nesting(); d.NextBlock(tn); {
				var v string
				opt := d.Val()
				if !d.AllArgs(&v) {
					return d.ArgErr()
				}
				switch opt {
				case "ca":
					e.TLS.CA = v
				case "cert":
					e.TLS.Cert = v
				case "key":
					e.TLS.Key = v
				default:
					return d.Errf("etcd: unknown tls option %q (ca, cert, key)", opt)
				}
			}
		default:
			return d.Errf("etcd: unknown subdirective %q", sub)
		}
	}
	if len(e.Endpoints) == 0 {
		return d.Err("etcd: endpoints are required")
	}
	if e.Prefix == "" {
		return d.Err("etcd: prefix is required")
	}
	return nil
}

// isSourceModule tells whether name is a registry source module.
func isSourceModule(name string) bool {
	_, err := caddy.GetModule(sourcesNamespace + "." + name)
	return err == nil
}

// unmarshalSource reads `registry <name> { ... }` into the JSON of the
// source module <name>.
func unmarshalSource(d *caddyfile.Dispenser, name string) (json.RawMessage, error) {
	mod, err := caddyfile.UnmarshalModule(d, sourcesNamespace+"."+name)
	if err != nil {
		return nil, err
	}
	return caddyconfig.JSONModuleObject(mod, "source", name, nil), nil
}

// Interface guards
var (
	_ RegistrySource        = (*FileSource)(nil)
	_ RegistrySource        = (*EtcdSource)(nil)
	_ caddyfile.Unmarshaler = (*FileSource)(nil)
	_ caddyfile.Unmarshaler = (*EtcdSource)(nil)
)
