package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/internal/loopback"
)

// serveUpstream is the upstream: it answers every request 200 "ok". It runs
// in its own process (the harness started with -upstream) so that it can be
// pinned beside Caddy. It ends when its parent closes its stdin, or after
// maxLife at the latest.
func serveUpstream(addr string, maxLife time.Duration) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", "2")
			io.WriteString(w, upstreamBody)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() {
		io.Copy(io.Discard, os.Stdin) // EOF when the parent goes away
		srv.Close()
	}()
	go func() {
		time.Sleep(maxLife)
		srv.Close()
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// pinned returns a command that runs name pinned to cpu with taskset (or
// unpinned when taskset is "").
func pinned(ctx context.Context, taskset, cpu, name string, args ...string) *exec.Cmd {
	if taskset == "" {
		return exec.CommandContext(ctx, name, args...)
	}
	return exec.CommandContext(ctx, taskset, append([]string{"-c", cpu, name}, args...)...)
}

// Upstream is the upstream process.
type Upstream struct {
	Addr  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startUpstream re-executes the harness as the upstream, pinned to cpu.
func startUpstream(taskset, cpu string, maxLife time.Duration) (*Upstream, error) {
	ports, err := loopback.FreePorts(1)
	if err != nil {
		return nil, err
	}
	port := ports[0]
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := pinned(context.Background(), taskset, cpu, self, "-upstream", addr, "-upstream-life", maxLife.String())
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	u := &Upstream{Addr: addr, cmd: cmd, stdin: stdin}
	if err := waitStatus(context.Background(), "http://"+addr+"/", 200, 10*time.Second, nil); err != nil {
		u.Stop()
		return nil, fmt.Errorf("upstream: %w", err)
	}
	return u, nil
}

// Pid is the upstream's process id.
func (u *Upstream) Pid() int { return u.cmd.Process.Pid }

// Stop ends the upstream (closing its stdin) and waits for it.
func (u *Upstream) Stop() {
	u.stdin.Close()
	done := make(chan struct{})
	go func() { u.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		u.cmd.Process.Kill()
		<-done
	}
}

// Caddy is one running Caddy process.
type Caddy struct {
	cmd       *exec.Cmd
	exited    chan struct{}
	Port      int
	AdminPort int
	Dir       string
	LogFile   string
	err       error
}

// startCaddy writes the Caddyfile into dir and starts Caddy pinned to cpu.
func startCaddy(bin, taskset, cpu, dir, caddyfile string, port, adminPort int) (*Caddy, error) {
	cf := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cf, []byte(caddyfile), 0o644); err != nil {
		return nil, err
	}
	logFile := filepath.Join(dir, "caddy.log")
	lf, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	cmd := pinned(context.Background(), taskset, cpu, bin, "run", "--config", cf, "--adapter", "caddyfile")
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env = append(os.Environ(),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"HOME="+dir,
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	c := &Caddy{cmd: cmd, exited: make(chan struct{}), Port: port, AdminPort: adminPort, Dir: dir, LogFile: logFile}
	go func() {
		c.err = cmd.Wait()
		lf.Close()
		close(c.exited)
	}()
	return c, nil
}

// Pid is Caddy's process id (taskset executes Caddy in its own process).
func (c *Caddy) Pid() int { return c.cmd.Process.Pid }

// URL returns the URL of target on this Caddy.
func (c *Caddy) URL(target string) string {
	return "http://127.0.0.1:" + strconv.Itoa(c.Port) + target
}

// WaitReady waits until target answers with the wanted status.
func (c *Caddy) WaitReady(target string, status int, timeout time.Duration) error {
	if err := waitStatus(context.Background(), c.URL(target), status, timeout, c.exited); err != nil {
		return fmt.Errorf("caddy did not become ready: %w\n%s", err, tail(c.LogFile, 3000))
	}
	return nil
}

// Stop stops Caddy gracefully, killing it if it does not end in time.
func (c *Caddy) Stop() {
	select {
	case <-c.exited:
		return
	default:
	}
	c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.exited:
	case <-time.After(15 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
}

// Admin fetches a path of Caddy's admin endpoint.
func (c *Caddy) Admin(path string, timeout time.Duration) ([]byte, error) {
	cl := &http.Client{Timeout: timeout}
	resp, err := cl.Get("http://127.0.0.1:" + strconv.Itoa(c.AdminPort) + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("admin %s: %s", path, resp.Status)
	}
	return body, err
}

// waitStatus polls url until it answers status, the process ends (exited
// closed) or timeout passes.
func waitStatus(ctx context.Context, url string, status int, timeout time.Duration, exited <-chan struct{}) error {
	cl := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	last := errors.New("no answer")
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("the process exited")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := cl.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == status {
				return nil
			}
			last = fmt.Errorf("status %d, want %d", resp.StatusCode, status)
		} else {
			last = err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("after %s: %v", timeout, last)
}

// reloadCounts reads the registry reload counters from Caddy's metrics.
func reloadCounts(metrics []byte) (ok, failed int) {
	sc := bufio.NewScanner(strings.NewReader(string(metrics)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "caddy_redirect_uri_policy_registry_reloads_total{") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		switch {
		case strings.Contains(line, `result="success"`):
			ok += int(v)
		case strings.Contains(line, `result="failure"`):
			failed += int(v)
		}
	}
	return ok, failed
}

// tail returns the last n bytes of a file.
func tail(file string, n int64) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}
