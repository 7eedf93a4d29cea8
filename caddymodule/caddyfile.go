package caddymodule

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("redirect_uri_policy", parseCaddyfile)
	// A guard must run before the handlers that answer or route requests
	// (handle, route, respond, reverse_proxy), and after the ones that
	// rewrite them, so that it sees the request the upstream will get.
	httpcaddyfile.RegisterDirectiveOrder("redirect_uri_policy", httpcaddyfile.Before, "basic_auth")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var handler Handler
	err := handler.UnmarshalCaddyfile(h.Dispenser)
	return &handler, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	redirect_uri_policy [<matcher>] {
//		registry        <file>
//		registry        <source> { ... }   (file <path>, etcd { ... }: see EtcdSource)
//		environment     sandbox|production
//		paths           <path...>
//		par_paths       <path...>
//		request_objects inspect|reject
//		match           exact|prefix
//		report_only
//		reload_interval <duration>|off
//		max_body        <size>
//		max_uri_length  <bytes>
//		client_metrics  <series>|on|off
//		name            <label>
//		rejection       page|error
//		logout_paths    <path...>
//		omitted_redirect_uri reject|single
//	}
//
// Values are checked with the messages of Validate, at their line.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive's name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		sub := d.Val()
		if seen[sub] && sub != "paths" && sub != "par_paths" && sub != "logout_paths" {
			return d.Errf("%s given more than once", sub)
		}
		seen[sub] = true
		switch sub {
		case "registry":
			if !d.NextArg() {
				return d.ArgErr()
			}
			// `registry <source> { ... }` names a source module;
			// anything else is the file shorthand.
			if name := d.Val(); isSourceModule(name) {
				raw, err := unmarshalSource(d, name)
				if err != nil {
					return err
				}
				h.RegistrySourceRaw = raw
			} else {
				if d.NextArg() {
					d.Prev() // name the argument that is enough
					return d.ArgErr()
				}
				h.Registry = name
			}
		case "environment", "match", "name", "rejection", "request_objects":
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			switch sub {
			case "environment":
				if err := validEnvironment(v); err != nil {
					return d.Err(err.Error())
				}
				h.Environment = v
			case "match":
				if err := validMatch(v); err != nil {
					return d.Err(err.Error())
				}
				h.Match = v
			case "name":
				h.Name = v
			case "rejection":
				if err := validRejection(v); err != nil {
					return d.Err(err.Error())
				}
				h.Rejection = v
			case "request_objects":
				if err := validRequestObjects(v); err != nil {
					return d.Err(err.Error())
				}
				h.RequestObjects = v
			}
		case "paths", "par_paths", "logout_paths":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			for _, p := range args {
				if err := validPath(sub, p); err != nil {
					return d.Err(err.Error())
				}
			}
			switch sub {
			case "paths":
				h.Paths = append(h.Paths, args...)
			case "par_paths":
				h.ParPaths = append(h.ParPaths, args...)
			default:
				h.LogoutPaths = append(h.LogoutPaths, args...)
			}
		case "omitted_redirect_uri":
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			if err := validOmitted(v); err != nil {
				return d.Err(err.Error())
			}
			h.OmittedRedirectURI = v
		case "report_only":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.ReportOnly = true
		case "reload_interval":
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			if v == "off" {
				h.ReloadInterval = -1
				continue
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur <= 0 {
				return d.Errf("reload_interval: %q is not a positive duration or off", v)
			}
			h.ReloadInterval = caddy.Duration(dur)
		case "max_body":
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			size, err := humanize.ParseBytes(v)
			if err != nil {
				return d.Errf("max_body: %q is not a size such as 64KiB", v)
			}
			if size > MaxBodyLimit {
				size = MaxBodyLimit + 1 // no overflow on the way to int64
			}
			if err := validMaxBody(int64(size), v); err != nil {
				return d.Err(err.Error())
			}
			h.MaxBody = int64(size)
		case "max_uri_length":
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return d.Errf("max_uri_length: %q is not a positive number of bytes", v)
			}
			h.MaxURILength = n
		case "client_metrics":
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			switch v {
			case "on":
				h.ClientMetrics = 0
			case "off":
				h.ClientMetrics = ClientMetricsOff
			default:
				n, ok := parseClientSeries(v)
				if !ok {
					return d.Errf("client_metrics: %q is not a positive number of series, on or off", v)
				}
				h.ClientMetrics = n
			}
		default:
			return d.Errf("unknown subdirective %q", sub)
		}
	}
	if h.Registry == "" && h.RegistrySourceRaw == nil {
		return d.Err("registry is required")
	}
	if h.Environment == "" {
		return d.Err("environment is required")
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)
