// Command caddy is Caddy with its standard modules and the redirect URI
// policy module.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/redirect-uri-policy/caddy-redirect-uri-policy"
)

func main() {
	caddycmd.Main()
}
