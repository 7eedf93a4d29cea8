package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// wrkScript checks every response against the expected status (and body,
// when one is given) per thread, and prints one line of JSON at the end:
// wrk's own summary counts any non-2xx/3xx as an error, which is wrong for
// the configs where 400 is the right answer, and says nothing of bodies.
const wrkScript = `-- written by bench/loadharness
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  expect_status = tonumber(args[1]) or 200
  expect_body = args[2]
  good = 0
  bad = 0
end

function response(status, headers, body)
  if status == expect_status and (expect_body == nil or body == expect_body) then
    good = good + 1
  else
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local good, bad = 0, 0
  for _, t in ipairs(threads) do
    good = good + t:get("good")
    bad = bad + t:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d,"good":%d,"bad":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status, good, bad,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
`

// wrkResult is the line the script prints.
type wrkResult struct {
	Requests   int64 `json:"requests"`
	DurationUs int64 `json:"duration_us"`
	Connect    int64 `json:"connect"`
	Read       int64 `json:"read"`
	Write      int64 `json:"write"`
	Timeout    int64 `json:"timeout"`
	Status     int64 `json:"status"`
	Good       int64 `json:"good"`
	Bad        int64 `json:"bad"`
	P50us      int64 `json:"p50_us"`
	P90us      int64 `json:"p90_us"`
	P99us      int64 `json:"p99_us"`
	P999us     int64 `json:"p999_us"`
	MaxUs      int64 `json:"max_us"`
}

// parseWrk finds the script's line in wrk's output.
func parseWrk(out string) (wrkResult, error) {
	var res wrkResult
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "WRKJSON "); ok {
			if err := json.Unmarshal([]byte(rest), &res); err != nil {
				return res, fmt.Errorf("wrk summary %q: %w", rest, err)
			}
			return res, nil
		}
	}
	return res, errors.New("wrk printed no summary line (is the script's done() running?)")
}

// toRun turns wrk's summary into a Run. Every request that completed with
// a wrong status or body, every socket error and every time-out is an
// error. Requests that were answered but not counted by the script
// (neither good nor bad) are errors too.
func (w wrkResult) toRun(round int) Run {
	socket := w.Connect + w.Read + w.Write + w.Timeout
	r := Run{
		Round:       round,
		Requests:    w.Requests,
		Seconds:     float64(w.DurationUs) / 1e6,
		P50us:       float64(w.P50us),
		P90us:       float64(w.P90us),
		P99us:       float64(w.P99us),
		P999us:      float64(w.P999us),
		MaxUs:       float64(w.MaxUs),
		WrongStatus: w.Bad,
		SocketErrs:  socket,
	}
	if r.Seconds > 0 {
		r.RPS = float64(w.Requests) / r.Seconds
	}
	uncounted := w.Requests - w.Good - w.Bad
	if uncounted < 0 {
		uncounted = 0
	}
	r.Errors = w.Bad + socket + uncounted
	return r
}

// Wrk runs the load generator pinned to a core.
type Wrk struct {
	Bin         string // wrk
	Taskset     string // taskset, or "" not to pin
	CPU         string
	Connections int
	Threads     int
	Script      string // path of wrkScript written out
}

// findWrk locates wrk or explains how to get it.
func findWrk() (string, error) {
	p, err := exec.LookPath("wrk")
	if err != nil {
		return "", errors.New("wrk is not installed: install Debian's package with `apt-get install -y wrk` (the harness uses it as the load generator)")
	}
	return p, nil
}

// writeScript writes the Lua script into dir.
func (w *Wrk) writeScript(dir string) error {
	w.Script = dir + "/check.lua"
	return os.WriteFile(w.Script, []byte(wrkScript), 0o644)
}

// Run sends load to url for d and returns the summary and the CPU time
// wrk used.
func (w *Wrk) Run(ctx context.Context, url string, d time.Duration, c Config) (wrkResult, time.Duration, error) {
	secs := int(d.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	args := []string{
		"-t" + strconv.Itoa(w.Threads), "-c" + strconv.Itoa(w.Connections), "-d" + strconv.Itoa(secs) + "s",
		"--timeout", "5s", "-s", w.Script, url, "--", strconv.Itoa(c.ExpectStatus),
	}
	if c.ExpectBody != "" {
		args = append(args, c.ExpectBody)
	}
	name := w.Bin
	if w.Taskset != "" {
		args = append([]string{"-c", w.CPU, w.Bin}, args...)
		name = w.Taskset
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{}, 0, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	res, err := parseWrk(string(out))
	return res, cpu, err
}
