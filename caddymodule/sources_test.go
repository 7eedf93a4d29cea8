package caddymodule

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalCaddyfileSources(t *testing.T) {
	for _, tc := range []struct {
		name, input string
		want        string // the registry_source JSON; "" for none
		file        string // the registry shorthand
	}{
		{"file shorthand", `redirect_uri_policy {
			registry /r.json
			environment production
		}`, "", "/r.json"},
		{"file module", `redirect_uri_policy {
			registry file /r.json
			environment production
		}`, `{"path":"/r.json","source":"file"}`, ""},
		{"etcd", `redirect_uri_policy {
			environment production
			registry etcd {
				endpoints  127.0.0.1:2379 127.0.0.1:22379
				prefix     /redirect-uri-policy/production/
				cache      /var/lib/caddy/cache.json
				tls {
					ca   /etc/etcd/ca.pem
					cert /etc/etcd/client.pem
					key  /etc/etcd/client-key.pem
				}
				username caddy
				password {env.ETCD_PASSWORD}
				dial_timeout 3s
			}
		}`, `{"cache":"/var/lib/caddy/cache.json","dial_timeout":3000000000,"endpoints":["127.0.0.1:2379","127.0.0.1:22379"],"password":"{env.ETCD_PASSWORD}","prefix":"/redirect-uri-policy/production/","source":"etcd","tls":{"ca":"/etc/etcd/ca.pem","cert":"/etc/etcd/client.pem","key":"/etc/etcd/client-key.pem"},"username":"caddy"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Handler
			if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input)); err != nil {
				t.Fatal(err)
			}
			if h.Registry != tc.file {
				t.Errorf("Registry = %q, want %q", h.Registry, tc.file)
			}
			if tc.want == "" {
				if h.RegistrySourceRaw != nil {
					t.Errorf("registry_source = %s, want none", h.RegistrySourceRaw)
				}
				return
			}
			var got, want any
			if err := json.Unmarshal(h.RegistrySourceRaw, &got); err != nil {
				t.Fatal(err)
			}
			json.Unmarshal([]byte(tc.want), &want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("registry_source = %s\nwant            %s", h.RegistrySourceRaw, tc.want)
			}
		})
	}
	for _, tc := range []struct{ input, want string }{
		{`redirect_uri_policy {
			environment production
			registry etcd {
				prefix /p/
			}
		}`, "etcd: endpoints are required"},
		{`redirect_uri_policy {
			environment production
			registry etcd {
				endpoints 127.0.0.1:2379
			}
		}`, "etcd: prefix is required"},
		{`redirect_uri_policy {
			environment production
			registry etcd {
				endpoints 127.0.0.1:2379
				prefix /p
			}
		}`, `prefix "/p" must end with /`},
		{`redirect_uri_policy {
			environment production
			registry etcd {
				endpoints 127.0.0.1:2379
				prefix /p/
				tls {
					pem x
				}
			}
		}`, `unknown tls option "pem"`},
		{`redirect_uri_policy {
			environment production
			registry etcd {
				endpoints 127.0.0.1:2379
				prefix /p/
				dial_timeout never
			}
		}`, `dial_timeout "never"`},
		{`redirect_uri_policy {
			environment production
			registry /a.json /b.json
		}`, "wrong argument count"},
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

// TestProvisionSourceErrors checks that a handler names both spellings of
// its registry, and that an etcd source without cluster or cache fails the
// configuration.
func TestProvisionSourceErrors(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	h := &Handler{Registry: "/r.json", RegistrySourceRaw: json.RawMessage(`{"source":"file","path":"/r.json"}`), Environment: "production"}
	if err := h.Provision(ctx); err == nil || !strings.Contains(err.Error(), "exclude each other") {
		t.Errorf("both registry and registry_source: %v", err)
	}
	h = &Handler{Environment: "production"}
	if err := h.Provision(ctx); err == nil || !strings.Contains(err.Error(), "registry: a registry file") {
		t.Errorf("no registry: %v", err)
	}
	src := EtcdSource{Endpoints: []string{"127.0.0.1:1"}, Prefix: "/p/", DialTimeout: caddy.Duration(200 * time.Millisecond)}
	raw, _ := json.Marshal(struct {
		EtcdSource
		Source string `json:"source"`
	}{src, "etcd"})
	h = &Handler{RegistrySourceRaw: raw, Environment: "production", Name: "etcd-none"}
	err := h.Provision(ctx)
	if err == nil || !strings.Contains(err.Error(), "no cache file is configured") {
		t.Errorf("etcd without cluster or cache: %v", err)
	}
}

// TestProvisionFileSourceModule loads the file source by its module name,
// as the JSON "registry_source" does, and validates the handler after
// Provision, as Caddy does (LoadModule clears the raw field).
func TestProvisionFileSourceModule(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	path := filepath.Join(t.TempDir(), "clients.json")
	if err := os.WriteFile(path, []byte(`{"clients": [{"client_id": "APP-1", "redirect_uris": ["https://a.example.com/cb"]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &Handler{RegistrySourceRaw: json.RawMessage(`{"source":"file","path":` + strconv.Quote(path) + `}`), Environment: "production", Name: "file-module"}
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Cleanup()
	if err := h.Validate(); err != nil {
		t.Errorf("Validate after Provision: %v", err)
	}
	if !h.loader.Snapshot().Decide("APP-1", "https://a.example.com/cb").Allowed() {
		t.Error("the file source's registry is not served")
	}
}
