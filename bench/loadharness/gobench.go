package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// GoBench is the median of one Go benchmark over its -count runs.
type GoBench struct {
	Package  string  `json:"package"`
	Name     string  `json:"name"`
	Runs     int     `json:"runs"`
	NsOp     float64 `json:"ns_op"`
	CPUNsOp  float64 `json:"cpu_ns_op"`
	BytesOp  float64 `json:"bytes_op"`
	AllocsOp float64 `json:"allocs_op"`
}

var procSuffix = regexp.MustCompile(`-\d+$`)

// parseGoBench reads `go test -bench` output and returns the median of
// every metric per benchmark, in the order they first appear.
func parseGoBench(pkg, out string) []GoBench {
	type acc struct{ ns, cpu, b, allocs []float64 }
	var order []string
	seen := map[string]*acc{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := procSuffix.ReplaceAllString(f[0], "")
		a := seen[name]
		if a == nil {
			a = &acc{}
			seen[name] = a
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				a.ns = append(a.ns, v)
			case "cpu-ns/op":
				a.cpu = append(a.cpu, v)
			case "B/op":
				a.b = append(a.b, v)
			case "allocs/op":
				a.allocs = append(a.allocs, v)
			}
		}
	}
	res := make([]GoBench, 0, len(order))
	for _, name := range order {
		a := seen[name]
		res = append(res, GoBench{Package: pkg, Name: name, Runs: len(a.ns),
			NsOp: finite(Median(a.ns)), CPUNsOp: finite(Median(a.cpu)), BytesOp: finite(Median(a.b)), AllocsOp: finite(Median(a.allocs))})
	}
	return res
}

// runGoBenchmarks compiles the test binaries of the module's handler and
// of bench/, and runs their request-path benchmarks pinned to cpu, so that
// the handler's and the expression matcher's own costs are measured the
// same way on this machine.
func runGoBenchmarks(ctx context.Context, dir, taskset, cpu string, benchtime string, count int, log func(string, ...any)) ([]GoBench, string, error) {
	var all []GoBench
	var raw strings.Builder
	for _, b := range []struct{ pkg, bench string }{
		{"./caddymodule", "^BenchmarkServeHTTP$"},
		{"./bench", "^(BenchmarkAllowList|BenchmarkRegistryParse)$"},
	} {
		bin := filepath.Join(dir, filepath.Base(b.pkg)+".test")
		log("compiling %s benchmarks", b.pkg)
		cctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		out, err := exec.CommandContext(cctx, "go", "test", "-c", "-o", bin, b.pkg).CombinedOutput()
		cancel()
		if err != nil {
			return all, raw.String(), fmt.Errorf("go test -c %s: %v\n%s", b.pkg, err, out)
		}
		log("running %s %s (benchtime %s, count %d, pinned to cpu %s)", b.pkg, b.bench, benchtime, count, cpu)
		rctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		cmd := pinned(rctx, taskset, cpu, bin, "-test.run", "^$", "-test.bench", b.bench,
			"-test.benchtime", benchtime, "-test.count", strconv.Itoa(count))
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_DATA_HOME="+filepath.Join(dir, "data"))
		out, err = cmd.Output() // stderr (Caddy's logs) is left out
		cancel()
		raw.Write(out)
		if err != nil {
			return all, raw.String(), fmt.Errorf("%s: %v\n%s", b.pkg, err, out)
		}
		all = append(all, parseGoBench(strings.TrimPrefix(b.pkg, "./"), string(out))...)
	}
	return all, raw.String(), nil
}
