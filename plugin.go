// Package caddyredirecturipolicy plugs the redirect URI policy into Caddy:
// importing it (as xcaddy's --with does) registers the HTTP handler, its
// Caddyfile directive and the redirect-uri-policy subcommands.
package caddyredirecturipolicy

import (
	_ "github.com/redirect-uri-policy/caddy-redirect-uri-policy/caddymodule"
	_ "github.com/redirect-uri-policy/caddy-redirect-uri-policy/cli"
)
