// Package etcd keeps a registry of clients in an etcd cluster, one key per
// client, so that a fleet of proxies serves the same registry: a Source
// follows the keys (one consistent read, then a watch) and serves a
// snapshot that changes with them; Publish and Export move a registry file
// into and out of etcd.
//
// Layout: the key <prefix>clients/<client_id> holds that client's JSON
// object exactly as in the registry file. Each client is one key, so that
// an update of a client is atomic and small (a whole registry would not
// fit an etcd request), and a fleet converges on every key.
package etcd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// DefaultDialTimeout bounds the first contact with the cluster.
const DefaultDialTimeout = 5 * time.Second

// pageSize is the number of keys read per request of a full read: a read
// at one revision, in pages, so that no response of a large registry is
// unbounded.
const pageSize = 5000

// readTimeout bounds each page of a read once the cluster has answered.
const readTimeout = 30 * time.Second

// Config says which cluster holds a registry and how to reach it.
type Config struct {
	Endpoints []string
	// Prefix is the registry's key prefix, such as
	// "/redirect-uri-policy/production/". Clients are under
	// <Prefix>clients/.
	Prefix      string
	TLS         *tls.Config
	Username    string
	Password    string
	DialTimeout time.Duration // default DefaultDialTimeout
	// Logger receives the etcd client's own log entries; nil discards them.
	Logger *zap.Logger
}

// Check reports what is missing or wrong in c.
func (c *Config) Check() error {
	if len(c.Endpoints) == 0 {
		return errors.New("at least one etcd endpoint is required")
	}
	for _, e := range c.Endpoints {
		if e == "" || strings.ContainsAny(e, " \t,") {
			return fmt.Errorf("endpoint %q: want host:port or a URL", e)
		}
	}
	if c.Prefix == "" {
		return errors.New("a key prefix is required, such as /redirect-uri-policy/production/")
	}
	if !strings.HasSuffix(c.Prefix, "/") {
		return fmt.Errorf("prefix %q must end with /", c.Prefix)
	}
	if (c.Username == "") != (c.Password == "") {
		return errors.New("username and password go together")
	}
	return nil
}

// Connect returns a client of the cluster. With a user name it
// authenticates at once, so that it fails when the cluster is unreachable.
func (c *Config) Connect() (*clientv3.Client, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	logger := c.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	return clientv3.New(clientv3.Config{
		Endpoints:            c.Endpoints,
		TLS:                  c.TLS,
		Username:             c.Username,
		Password:             c.Password,
		DialTimeout:          c.dialTimeout(),
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		Logger:               logger,
	})
}

func (c *Config) dialTimeout() time.Duration {
	if c.DialTimeout > 0 {
		return c.DialTimeout
	}
	return DefaultDialTimeout
}

// String names the registry in messages and snapshots.
func (c *Config) String() string { return "etcd:" + c.Prefix }

// ClientsPrefix returns the prefix of the client keys.
func ClientsPrefix(prefix string) string { return prefix + "clients/" }

// Key returns the key of a client.
func Key(prefix, clientID string) string { return ClientsPrefix(prefix) + clientID }

// readAll reads every key under prefix at one revision, in pages. The first
// page waits at most firstTimeout: it is the one that finds out whether the
// cluster answers.
func readAll(ctx context.Context, c *clientv3.Client, prefix string, firstTimeout time.Duration) ([]*mvccpb.KeyValue, int64, error) {
	end := clientv3.GetPrefixRangeEnd(prefix)
	var kvs []*mvccpb.KeyValue
	var rev int64
	from := prefix
	for {
		timeout := readTimeout
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(pageSize)}
		if rev == 0 {
			timeout = firstTimeout
		} else {
			opts = append(opts, clientv3.WithRev(rev))
		}
		pctx, cancel := context.WithTimeout(ctx, timeout)
		resp, err := c.Get(pctx, from, opts...)
		cancel()
		if err != nil {
			return nil, 0, err
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		kvs = append(kvs, resp.Kvs...)
		if !resp.More || len(resp.Kvs) == 0 {
			return kvs, rev, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// TLSConfig returns the TLS configuration of a client of the cluster: the
// CA that signs the members' certificates (the system's when empty) and a
// client certificate, when the cluster asks for one.
func TLSConfig(ca, cert, key string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("tls ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca %s: no PEM certificate in it", ca)
		}
		cfg.RootCAs = pool
	}
	if (cert == "") != (key == "") {
		return nil, errors.New("tls: cert and key go together")
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("tls cert: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
