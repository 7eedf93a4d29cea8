package caddymodule

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddytest"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		want  Handler
	}{
		{"minimal", `redirect_uri_policy {
			registry /etc/caddy/registry.json
			environment production
		}`, Handler{Registry: "/etc/caddy/registry.json", Environment: "production"}},
		{"sandbox", `redirect_uri_policy {
			environment sandbox
			registry "/path with spaces/sandbox.json"
		}`, Handler{Registry: "/path with spaces/sandbox.json", Environment: "sandbox"}},
		{"every subdirective", `redirect_uri_policy {
			registry /r.json
			environment production
			paths /oauth/authorize /oauth2/auth
			paths /connect/authorize
			par_paths /oauth/par
			par_paths /connect/par
			request_objects reject
			match prefix
			report_only
			reload_interval 5s
			max_body 1MiB
			max_uri_length 4096
			client_metrics off
			name orcid-prod
		}`, Handler{
			Registry: "/r.json", Environment: "production",
			Paths:          []string{"/oauth/authorize", "/oauth2/auth", "/connect/authorize"},
			ParPaths:       []string{"/oauth/par", "/connect/par"},
			RequestObjects: "reject",
			Match:          "prefix",
			ReportOnly:     true,
			ReloadInterval: caddy.Duration(5 * time.Second),
			MaxBody:        1 << 20,
			MaxURILength:   4096,
			ClientMetrics:  ClientMetricsOff,
			Name:           "orcid-prod",
		}},
		{"logout and omitted", "redirect_uri_policy {\nregistry r\nenvironment sandbox\nlogout_paths /session/end /logout\nlogout_paths /oidc/logout\nomitted_redirect_uri single\n}",
			Handler{Registry: "r", Environment: "sandbox", LogoutPaths: []string{"/session/end", "/logout", "/oidc/logout"}, OmittedRedirectURI: "single"}},
		{"omitted reject", "redirect_uri_policy {\nregistry r\nenvironment sandbox\nomitted_redirect_uri reject\n}",
			Handler{Registry: "r", Environment: "sandbox", OmittedRedirectURI: "reject"}},
		{"match exact", "redirect_uri_policy {\nregistry r\nenvironment sandbox\nmatch exact\n}",
			Handler{Registry: "r", Environment: "sandbox", Match: "exact"}},
		{"one path", "redirect_uri_policy {\nregistry r\nenvironment sandbox\npaths /authorize\n}",
			Handler{Registry: "r", Environment: "sandbox", Paths: []string{"/authorize"}}},
		{"reload_interval off", "redirect_uri_policy {\nregistry r\nenvironment sandbox\nreload_interval off\n}",
			Handler{Registry: "r", Environment: "sandbox", ReloadInterval: -1}},
		{"reload_interval 250ms", "redirect_uri_policy {\nregistry r\nenvironment sandbox\nreload_interval 250ms\n}",
			Handler{Registry: "r", Environment: "sandbox", ReloadInterval: caddy.Duration(250 * time.Millisecond)}},
		{"reload_interval 1d", "redirect_uri_policy {\nregistry r\nenvironment sandbox\nreload_interval 1d\n}",
			Handler{Registry: "r", Environment: "sandbox", ReloadInterval: caddy.Duration(24 * time.Hour)}},
		{"max_body 64KiB", "redirect_uri_policy {\nregistry r\nenvironment sandbox\nmax_body 64KiB\n}",
			Handler{Registry: "r", Environment: "sandbox", MaxBody: 65536}},
		{"max_body 1MB", "redirect_uri_policy {\nregistry r\nenvironment sandbox\nmax_body 1MB\n}",
			Handler{Registry: "r", Environment: "sandbox", MaxBody: 1000000}},
		{"max_body 1mb", "redirect_uri_policy {\nregistry r\nenvironment sandbox\nmax_body 1mb\n}",
			Handler{Registry: "r", Environment: "sandbox", MaxBody: 1000000}},
		{"max_body 100", "redirect_uri_policy {\nregistry r\nenvironment sandbox\nmax_body 100\n}",
			Handler{Registry: "r", Environment: "sandbox", MaxBody: 100}},
		{"max_body 4MiB", "redirect_uri_policy {\nregistry r\nenvironment sandbox\nmax_body 4MiB\n}",
			Handler{Registry: "r", Environment: "sandbox", MaxBody: 4 << 20}},
		{"rejection error", "redirect_uri_policy {\nregistry r\nenvironment sandbox\nrejection error\n}",
			Handler{Registry: "r", Environment: "sandbox", Rejection: "error"}},
		{"max_uri_length 1", "redirect_uri_policy {\nregistry r\nenvironment sandbox\nmax_uri_length 1\n}",
			Handler{Registry: "r", Environment: "sandbox", MaxURILength: 1}},
		{"client_metrics on", "redirect_uri_policy {\nregistry r\nenvironment sandbox\nclient_metrics on\n}",
			Handler{Registry: "r", Environment: "sandbox"}},
		{"client_metrics 5000", "redirect_uri_policy {\nregistry r\nenvironment sandbox\nclient_metrics 5000\n}",
			Handler{Registry: "r", Environment: "sandbox", ClientMetrics: 5000}},
		{"client_metrics 1", "redirect_uri_policy {\nregistry r\nenvironment sandbox\nclient_metrics 1\n}",
			Handler{Registry: "r", Environment: "sandbox", ClientMetrics: 1}},
		{"name", "redirect_uri_policy {\nregistry r\nenvironment sandbox\nname \"ORCID sandbox\"\n}",
			Handler{Registry: "r", Environment: "sandbox", Name: "ORCID sandbox"}},
	} {
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input)); err != nil {
			t.Errorf("%s: UnmarshalCaddyfile: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(h, tc.want) {
			got, _ := json.Marshal(h)
			want, _ := json.Marshal(tc.want)
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, want)
		}
	}
}

func TestUnmarshalCaddyfileErrors(t *testing.T) {
	// ok is the body of a valid block; each case adds to it or replaces it.
	const ok = "\tregistry /r.json\n\tenvironment production\n"
	for _, tc := range []struct {
		name, input, want string
	}{
		{"unknown subdirective", "redirect_uri_policy {\n" + ok + "\tbogus x\n}",
			`unknown subdirective "bogus", at Testfile:4`},
		{"misspelled subdirective", "redirect_uri_policy {\n" + ok + "\treport-only\n}",
			`unknown subdirective "report-only", at Testfile:4`},
		{"bad environment", "redirect_uri_policy {\n\tregistry /r.json\n\tenvironment staging\n}",
			`environment: "staging" is not sandbox or production, at Testfile:3`},
		{"environment in upper case", "redirect_uri_policy {\n\tregistry /r.json\n\tenvironment Production\n}",
			`environment: "Production" is not sandbox or production, at Testfile:3`},
		{"bad match", "redirect_uri_policy {\n" + ok + "\tmatch glob\n}",
			`match: "glob" is not exact or prefix, at Testfile:4`},
		{"missing registry", "redirect_uri_policy {\n\tenvironment production\n}",
			`registry is required, at Testfile:3`},
		{"no block", "redirect_uri_policy",
			`registry is required, at Testfile:1`},
		{"missing environment", "redirect_uri_policy {\n\tregistry /r.json\n\tname x\n}",
			`environment is required, at Testfile:4`},
		{"registry without argument", "redirect_uri_policy {\n\tregistry\n\tenvironment production\n}",
			`wrong argument count or unexpected line ending after 'registry', at Testfile:2`},
		{"registry with two arguments", "redirect_uri_policy {\n\tregistry /a.json /b.json\n\tenvironment production\n}",
			`wrong argument count or unexpected line ending after '/a.json', at Testfile:2`},
		{"environment with two arguments", "redirect_uri_policy {\n\tregistry /r.json\n\tenvironment production sandbox\n}",
			`wrong argument count or unexpected line ending after 'production', at Testfile:3`},
		{"name with two arguments", "redirect_uri_policy {\n" + ok + "\tname a b\n}",
			`wrong argument count or unexpected line ending after 'a', at Testfile:4`},
		{"paths without argument", "redirect_uri_policy {\n" + ok + "\tpaths\n}",
			`wrong argument count or unexpected line ending after 'paths', at Testfile:4`},
		{"relative logout path", "redirect_uri_policy {\n" + ok + "\tlogout_paths session/end\n}",
			`logout_paths: "session/end" does not start with /, at Testfile:4`},
		{"logout_paths without argument", "redirect_uri_policy {\n" + ok + "\tlogout_paths\n}",
			`wrong argument count or unexpected line ending after 'logout_paths', at Testfile:4`},
		{"bad omitted_redirect_uri", "redirect_uri_policy {\n" + ok + "\tomitted_redirect_uri allow\n}",
			`omitted_redirect_uri: "allow" is not reject or single, at Testfile:4`},
		{"omitted_redirect_uri twice", "redirect_uri_policy {\n" + ok + "\tomitted_redirect_uri single\n\tomitted_redirect_uri reject\n}",
			`omitted_redirect_uri given more than once, at Testfile:5`},
		{"relative path", "redirect_uri_policy {\n" + ok + "\tpaths /oauth/authorize oauth/token\n}",
			`paths: "oauth/token" does not start with /, at Testfile:4`},
		{"relative PAR path", "redirect_uri_policy {\n" + ok + "\tpar_paths par\n}",
			`par_paths: "par" does not start with /, at Testfile:4`},
		{"par_paths without argument", "redirect_uri_policy {\n" + ok + "\tpar_paths\n}",
			`wrong argument count or unexpected line ending after 'par_paths', at Testfile:4`},
		{"request_objects other", "redirect_uri_policy {\n" + ok + "\trequest_objects verify\n}",
			`request_objects: "verify" is not inspect or reject, at Testfile:4`},
		{"request_objects twice", "redirect_uri_policy {\n" + ok + "\trequest_objects reject\n\trequest_objects inspect\n}",
			`request_objects given more than once, at Testfile:5`},
		{"report_only with an argument", "redirect_uri_policy {\n" + ok + "\treport_only true\n}",
			`wrong argument count or unexpected line ending after 'true', at Testfile:4`},
		{"reload_interval without argument", "redirect_uri_policy {\n" + ok + "\treload_interval\n}",
			`wrong argument count or unexpected line ending after 'reload_interval', at Testfile:4`},
		{"reload_interval zero", "redirect_uri_policy {\n" + ok + "\treload_interval 0s\n}",
			`reload_interval: "0s" is not a positive duration or off, at Testfile:4`},
		{"reload_interval 0", "redirect_uri_policy {\n" + ok + "\treload_interval 0\n}",
			`reload_interval: "0" is not a positive duration or off, at Testfile:4`},
		{"reload_interval negative", "redirect_uri_policy {\n" + ok + "\treload_interval -1s\n}",
			`reload_interval: "-1s" is not a positive duration or off, at Testfile:4`},
		{"reload_interval garbage", "redirect_uri_policy {\n" + ok + "\treload_interval soon\n}",
			`reload_interval: "soon" is not a positive duration or off, at Testfile:4`},
		{"reload_interval on", "redirect_uri_policy {\n" + ok + "\treload_interval on\n}",
			`reload_interval: "on" is not a positive duration or off, at Testfile:4`},
		{"max_body zero", "redirect_uri_policy {\n" + ok + "\tmax_body 0\n}",
			`max_body: "0" is not between 1 byte and 4MiB, at Testfile:4`},
		{"max_body 0KiB", "redirect_uri_policy {\n" + ok + "\tmax_body 0KiB\n}",
			`max_body: "0KiB" is not between 1 byte and 4MiB, at Testfile:4`},
		{"max_body negative", "redirect_uri_policy {\n" + ok + "\tmax_body -1\n}",
			`max_body: "-1" is not a size such as 64KiB, at Testfile:4`},
		{"max_body garbage", "redirect_uri_policy {\n" + ok + "\tmax_body lots\n}",
			`max_body: "lots" is not a size such as 64KiB, at Testfile:4`},
		{"max_body bad unit", "redirect_uri_policy {\n" + ok + "\tmax_body 64KiBs\n}",
			`max_body: "64KiBs" is not a size such as 64KiB, at Testfile:4`},
		{"max_body too large", "redirect_uri_policy {\n" + ok + "\tmax_body 2TiB\n}",
			`max_body: "2TiB" is not between 1 byte and 4MiB, at Testfile:4`},
		{"max_body over 4MiB", "redirect_uri_policy {\n" + ok + "\tmax_body 4097KiB\n}",
			`max_body: "4097KiB" is not between 1 byte and 4MiB, at Testfile:4`},
		{"max_body 1EiB", "redirect_uri_policy {\n" + ok + "\tmax_body 16EiB\n}",
			`max_body: "16EiB" is not a size such as 64KiB, at Testfile:4`},
		{"bad rejection", "redirect_uri_policy {\n" + ok + "\trejection redirect\n}",
			`rejection: "redirect" is not page or error, at Testfile:4`},
		{"max_body split", "redirect_uri_policy {\n" + ok + "\tmax_body 64 KiB\n}",
			`wrong argument count or unexpected line ending after '64', at Testfile:4`},
		{"max_uri_length zero", "redirect_uri_policy {\n" + ok + "\tmax_uri_length 0\n}",
			`max_uri_length: "0" is not a positive number of bytes, at Testfile:4`},
		{"max_uri_length negative", "redirect_uri_policy {\n" + ok + "\tmax_uri_length -5\n}",
			`max_uri_length: "-5" is not a positive number of bytes, at Testfile:4`},
		{"max_uri_length garbage", "redirect_uri_policy {\n" + ok + "\tmax_uri_length 2KiB\n}",
			`max_uri_length: "2KiB" is not a positive number of bytes, at Testfile:4`},
		{"client_metrics garbage", "redirect_uri_policy {\n" + ok + "\tclient_metrics yes\n}",
			`client_metrics: "yes" is not a positive number of series, on or off, at Testfile:4`},
		{"client_metrics zero", "redirect_uri_policy {\n" + ok + "\tclient_metrics 0\n}",
			`client_metrics: "0" is not a positive number of series, on or off, at Testfile:4`},
		{"client_metrics negative", "redirect_uri_policy {\n" + ok + "\tclient_metrics -1\n}",
			`client_metrics: "-1" is not a positive number of series, on or off, at Testfile:4`},
		{"client_metrics exponent", "redirect_uri_policy {\n" + ok + "\tclient_metrics 1e3\n}",
			`client_metrics: "1e3" is not a positive number of series, on or off, at Testfile:4`},
		{"client_metrics two arguments", "redirect_uri_policy {\n" + ok + "\tclient_metrics 100 off\n}",
			`wrong argument count or unexpected line ending after '100', at Testfile:4`},
		{"client_metrics without argument", "redirect_uri_policy {\n" + ok + "\tclient_metrics\n}",
			`wrong argument count or unexpected line ending after 'client_metrics', at Testfile:4`},
		{"registry twice", "redirect_uri_policy {\n" + ok + "\tregistry /other.json\n}",
			`registry given more than once, at Testfile:4`},
		{"environment twice", "redirect_uri_policy {\n" + ok + "\tenvironment production\n}",
			`environment given more than once, at Testfile:4`},
		{"report_only twice", "redirect_uri_policy {\n" + ok + "\treport_only\n\treport_only\n}",
			`report_only given more than once, at Testfile:5`},
		{"max_body twice", "redirect_uri_policy {\n" + ok + "\tmax_body 1KiB\n\tmax_body 2KiB\n}",
			`max_body given more than once, at Testfile:5`},
		{"argument on the directive line", "redirect_uri_policy production {\n" + ok + "}",
			`wrong argument count or unexpected line ending after 'production', at Testfile:1`},
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: error = %v; want %q", tc.name, err, tc.want)
		}
	}
}

// TestAdaptCaddyfileErrors: through the caddyfile adapter, errors name the
// Caddyfile's line.
func TestAdaptCaddyfileErrors(t *testing.T) {
	for _, tc := range []struct{ input, want string }{
		{":8080 {\n\tredirect_uri_policy {\n\t\tregistry /r.json\n\t\tenvironment prod\n\t}\n}\n",
			`environment: "prod" is not sandbox or production, at Caddyfile:4`},
		{":8080 {\n\treverse_proxy 127.0.0.1:9000\n\tredirect_uri_policy {\n\t\tregistry /r.json\n\t\tenvironment production\n\t\treload_interval 0s\n\t}\n}\n",
			`reload_interval: "0s" is not a positive duration or off, at Caddyfile:6`},
	} {
		_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(tc.input), map[string]any{"filename": "Caddyfile"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Adapt(%q) error = %v; want one containing %q", tc.input, err, tc.want)
		}
	}
}

// adaptInput puts redirect_uri_policy last in the file: the directive order
// alone, with no order option, must put it first.
const adaptInput = `{
	admin off
}

:8080 {
	handle /api/* {
		respond "api" 200
	}
	respond /health "ok" 200
	reverse_proxy 127.0.0.1:9000
	redirect_uri_policy {
		registry /etc/caddy/registry.json
		environment production
		paths /oauth/authorize /oauth2/auth
		par_paths /oauth/par
		request_objects inspect
		match prefix
		report_only
		reload_interval 5s
		max_body 1MiB
		max_uri_length 4096
		client_metrics off
		name orcid-prod
	}
}
`

const adaptGolden = `{
	"admin": {
		"disabled": true
	},
	"apps": {
		"http": {
			"servers": {
				"srv0": {
					"listen": [
						":8080"
					],
					"routes": [
						{
							"handle": [
								{
									"client_metrics": false,
									"environment": "production",
									"handler": "redirect_uri_policy",
									"match": "prefix",
									"max_body": 1048576,
									"max_uri_length": 4096,
									"name": "orcid-prod",
									"par_paths": [
										"/oauth/par"
									],
									"paths": [
										"/oauth/authorize",
										"/oauth2/auth"
									],
									"registry": "/etc/caddy/registry.json",
									"reload_interval": 5000000000,
									"report_only": true,
									"request_objects": "inspect"
								}
							]
						},
						{
							"match": [
								{
									"path": [
										"/api/*"
									]
								}
							],
							"handle": [
								{
									"handler": "subroute",
									"routes": [
										{
											"handle": [
												{
													"body": "api",
													"handler": "static_response",
													"status_code": 200
												}
											]
										}
									]
								}
							]
						},
						{
							"match": [
								{
									"path": [
										"/health"
									]
								}
							],
							"handle": [
								{
									"body": "ok",
									"handler": "static_response",
									"status_code": 200
								}
							]
						},
						{
							"handle": [
								{
									"handler": "reverse_proxy",
									"upstreams": [
										{
											"dial": "127.0.0.1:9000"
										}
									]
								}
							]
						}
					]
				}
			}
		}
	}
}`

func TestAdaptGolden(t *testing.T) {
	caddytest.AssertAdapt(t, adaptInput, "caddyfile", adaptGolden)
}

// TestAdaptOrder proves from the adapted JSON that redirect_uri_policy is
// the first handler of the server, ahead of handle (a subroute), respond
// (static_response) and reverse_proxy, and that its route neither matches
// nor ends the chain.
func TestAdaptOrder(t *testing.T) {
	out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(adaptInput), nil)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("Adapt: %v, warnings %v", err, warnings)
	}
	var cfg struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Routes []struct {
						Match    []json.RawMessage `json:"match"`
						Terminal bool              `json:"terminal"`
						Handle   []struct {
							Handler string `json:"handler"`
						} `json:"handle"`
					} `json:"routes"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	routes := cfg.Apps.HTTP.Servers["srv0"].Routes
	var order []string
	for _, r := range routes {
		for _, h := range r.Handle {
			order = append(order, h.Handler)
		}
	}
	want := []string{"redirect_uri_policy", "subroute", "static_response", "reverse_proxy"}
	if !reflect.DeepEqual(order, want) {
		t.Fatalf("handler order %q; want %q", order, want)
	}
	if len(routes[0].Match) != 0 || routes[0].Terminal {
		t.Errorf("redirect_uri_policy route has match %s, terminal %v; want no match and not terminal", routes[0].Match, routes[0].Terminal)
	}
}

// TestValidateSameMessages: a setting that the Caddyfile refuses is refused
// by Validate, for JSON, with the same message.
func TestValidateSameMessages(t *testing.T) {
	const ok = "\tregistry /r.json\n\tenvironment production\n"
	for _, tc := range []struct {
		caddyfile string
		json      Handler
	}{
		{"redirect_uri_policy {\n\tregistry /r.json\n\tenvironment staging\n}", Handler{Registry: "/r.json", Environment: "staging"}},
		{"redirect_uri_policy {\n" + ok + "\tmatch glob\n}", Handler{Registry: "/r.json", Environment: "production", Match: "glob"}},
		{"redirect_uri_policy {\n" + ok + "\tpaths oauth/token\n}", Handler{Registry: "/r.json", Environment: "production", Paths: []string{"oauth/token"}}},
		{"redirect_uri_policy {\n" + ok + "\tmax_body 5242880\n}", Handler{Registry: "/r.json", Environment: "production", MaxBody: 5 << 20}},
		{"redirect_uri_policy {\n" + ok + "\trejection redirect\n}", Handler{Registry: "/r.json", Environment: "production", Rejection: "redirect"}},
		{"redirect_uri_policy {\n" + ok + "\tpar_paths par\n}", Handler{Registry: "/r.json", Environment: "production", ParPaths: []string{"par"}}},
		{"redirect_uri_policy {\n" + ok + "\trequest_objects verify\n}", Handler{Registry: "/r.json", Environment: "production", RequestObjects: "verify"}},
	} {
		var h Handler
		cfErr := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.caddyfile))
		jsonErr := tc.json.Validate()
		if cfErr == nil || jsonErr == nil {
			t.Errorf("%q: Caddyfile error %v, Validate error %v; want both", tc.caddyfile, cfErr, jsonErr)
			continue
		}
		if msg, _, _ := strings.Cut(cfErr.Error(), ", at Testfile:"); msg != jsonErr.Error() {
			t.Errorf("Caddyfile says %q, Validate says %q", msg, jsonErr.Error())
		}
	}
	if err := (&Handler{Registry: "/r.json", Environment: "sandbox", MaxBody: 1 << 40}).Validate(); err == nil {
		t.Errorf("Validate accepts max_body 1TiB")
	}
	if err := (&Handler{Registry: "/r.json", Environment: "sandbox", MaxBody: 4 << 20, Rejection: "error"}).Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// TestAdaptOrderAnswersBefore checks what the README says about the order:
// redir, request_body and the deprecated basicauth run before the policy,
// basic_auth, forward_auth and the routing directives after it.
func TestAdaptOrderAnswersBefore(t *testing.T) {
	input := `:8080 {
	reverse_proxy 127.0.0.1:9000
	forward_auth 127.0.0.1:9001 {
		uri /check
	}
	basic_auth /admin/* {
		admin $2a$14$Zkx19XLiW6VYouLHR5NmfOFU0z2GTNmpkT/5qqR7hx4IjWJPDhjvG
	}
	basicauth /old/* {
		admin $2a$14$Zkx19XLiW6VYouLHR5NmfOFU0z2GTNmpkT/5qqR7hx4IjWJPDhjvG
	}
	redirect_uri_policy {
		registry /r.json
		environment production
	}
	request_body {
		max_size 1MB
	}
	redir /old /new
}
`
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(input), nil)
	if err != nil {
		t.Fatalf("Adapt: %v", err)
	}
	var cfg struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Routes []struct {
						Handle []json.RawMessage `json:"handle"`
					} `json:"routes"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	// Each route's first handler, named by what tells them apart.
	var order []string
	for _, r := range cfg.Apps.HTTP.Servers["srv0"].Routes {
		h := string(r.Handle[0])
		for _, name := range []string{"request_body", "static_response", "redirect_uri_policy", "/check", "authentication", "reverse_proxy"} {
			if strings.Contains(h, `"`+name+`"`) || strings.Contains(h, name) {
				order = append(order, name)
				break
			}
		}
	}
	want := []string{"request_body", "static_response", "authentication", "redirect_uri_policy", "authentication", "/check"}
	if !reflect.DeepEqual(order, want) {
		t.Errorf("route order %q; want %q (request_body, redir, basicauth, the policy, basic_auth, forward_auth and reverse_proxy)", order, want)
	}
}
