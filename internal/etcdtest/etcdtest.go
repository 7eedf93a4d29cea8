// Package etcdtest runs a real etcd cluster on loopback ports for the
// tests: Debian's etcd-server (the etcd binary on PATH), one process per
// member, started, killed and restarted by the test.
package etcdtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/loopback"
)

// Member is one etcd process of a Cluster.
type Member struct {
	Name     string
	Client   string // client URL
	peer     string
	dataDir  string
	logFile  string
	cmd      *exec.Cmd
	exited   chan struct{}
	initial  string
	clusterT string
}

// Cluster is a running etcd cluster.
type Cluster struct {
	Members []*Member
	tb      testing.TB
}

// Binary returns the etcd binary, failing the test when it is missing:
// scripts/test installs it (Debian's etcd-server).
func Binary(tb testing.TB) string {
	tb.Helper()
	p, err := exec.LookPath("etcd")
	if err != nil {
		tb.Fatalf("etcd is not installed (Debian package etcd-server; scripts/test installs it): %v", err)
	}
	return p
}

// Start starts a cluster of n members and waits until it has a leader.
// The members are killed when the test ends.
func Start(tb testing.TB, n int) *Cluster {
	tb.Helper()
	bin := Binary(tb)
	dir := tb.TempDir()
	ports := loopback.Ports(tb, 2*n)
	c := &Cluster{tb: tb}
	var initial []string
	for i := range n {
		m := &Member{
			Name:    fmt.Sprintf("m%d", i),
			Client:  fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
			peer:    fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
			dataDir: filepath.Join(dir, fmt.Sprintf("m%d", i)),
			logFile: filepath.Join(dir, fmt.Sprintf("m%d.log", i)),
		}
		initial = append(initial, m.Name+"="+m.peer)
		c.Members = append(c.Members, m)
	}
	for _, m := range c.Members {
		m.initial = strings.Join(initial, ",")
		m.clusterT = filepath.Base(dir)
		if err := m.start(bin); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Cleanup(c.stopAll)
	c.WaitReady(30 * time.Second)
	return c
}

func (m *Member) start(bin string) error {
	log, err := os.OpenFile(m.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	m.cmd = exec.Command(bin,
		"--name", m.Name,
		"--data-dir", m.dataDir,
		"--listen-client-urls", m.Client,
		"--advertise-client-urls", m.Client,
		"--listen-peer-urls", m.peer,
		"--initial-advertise-peer-urls", m.peer,
		"--initial-cluster", m.initial,
		"--initial-cluster-token", m.clusterT,
		"--initial-cluster-state", "new",
		// Faster elections than the defaults (100 ms, 1 s): the tests
		// kill members and wait for the quorum.
		"--heartbeat-interval", "50",
		"--election-timeout", "500",
	)
	m.cmd.Stdout, m.cmd.Stderr = log, log
	if err := m.cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("starting etcd %s: %w", m.Name, err)
	}
	m.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		cmd.Wait()
		log.Close()
		close(done)
	}(m.cmd, m.exited)
	return nil
}

// Endpoints returns the client URLs of every member.
func (c *Cluster) Endpoints() []string {
	var eps []string
	for _, m := range c.Members {
		eps = append(eps, m.Client)
	}
	return eps
}

// Kill kills member i at once (SIGKILL), as a crash would.
func (c *Cluster) Kill(i int) {
	c.tb.Helper()
	m := c.Members[i]
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGKILL)
	<-m.exited
	m.cmd = nil
}

// Restart starts killed member i again with its data.
func (c *Cluster) Restart(i int) {
	c.tb.Helper()
	if err := c.Members[i].start(Binary(c.tb)); err != nil {
		c.tb.Fatal(err)
	}
}

func (c *Cluster) stopAll() {
	for i := range c.Members {
		c.Kill(i)
	}
}

// Client returns a client of every member, closed when the test ends.
func (c *Cluster) Client() *clientv3.Client {
	c.tb.Helper()
	cl, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		c.tb.Fatal(err)
	}
	c.tb.Cleanup(func() { cl.Close() })
	return cl
}

// WaitReady waits until the cluster serves linearizable reads (it has a
// leader and a quorum), failing the test after timeout.
func (c *Cluster) WaitReady(timeout time.Duration) {
	c.tb.Helper()
	cl := c.Client()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err = cl.Get(ctx, "health")
		cancel()
		if err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, m := range c.Members {
		if data, rerr := os.ReadFile(m.logFile); rerr == nil {
			c.tb.Logf("%s log (end):\n%s", m.Name, tail(string(data), 2000))
		}
	}
	c.tb.Fatalf("etcd cluster not ready after %v: %v", timeout, err)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
