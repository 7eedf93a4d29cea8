package main

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc CPU times on Linux.
const clockTicks = 100

// machineBusy returns the CPU time all cores spent busy, from /proc/stat.
func machineBusy() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return parseBusy(line)
}

// parseBusy reads the "cpu" line of /proc/stat: user, nice, system, idle,
// iowait, irq, softirq, steal; busy is all but idle and iowait.
func parseBusy(line string) (time.Duration, bool) {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, false
	}
	var busy int64
	for _, idx := range []int{1, 2, 3, 6, 7, 8} {
		v, err := strconv.ParseInt(f[idx], 10, 64)
		if err != nil {
			return 0, false
		}
		busy += v
	}
	return time.Duration(busy) * time.Second / clockTicks, true
}

// processCPU returns the CPU time a process has used, from
// /proc/PID/stat (utime and stime).
func processCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	return parseProcessCPU(string(b))
}

func parseProcessCPU(stat string) (time.Duration, bool) {
	// The command name, in parentheses, may hold spaces: fields count
	// from the last ')'.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(u+s) * time.Second / clockTicks, true
}

// cpuMeter measures, over a period, the CPU that processes other than the
// harness's own used: the machine's busy time less that of the processes
// watched (Caddy, the upstream, the harness) and of the load generator.
type cpuMeter struct {
	pids  []int
	start time.Time
	busy  time.Duration
	own   time.Duration
	ok    bool
}

func startCPUMeter(pids ...int) *cpuMeter {
	m := &cpuMeter{pids: pids, start: time.Now()}
	m.busy, m.ok = machineBusy()
	m.own = m.ownCPU()
	return m
}

func (m *cpuMeter) ownCPU() time.Duration {
	var sum time.Duration
	for _, pid := range m.pids {
		if d, ok := processCPU(pid); ok {
			sum += d
		} else {
			m.ok = false
		}
	}
	return sum
}

// OtherCorePct returns what other processes used during the period, in
// percent of one core, given the load generator's CPU time (it ran and
// ended within the period).
func (m *cpuMeter) OtherCorePct(loadGen time.Duration) (float64, bool) {
	busy, ok := machineBusy()
	own := m.ownCPU()
	wall := time.Since(m.start)
	if !ok || !m.ok || wall <= 0 {
		return 0, false
	}
	other := (busy - m.busy) - (own - m.own) - loadGen
	pct := 100 * float64(other) / float64(wall)
	if pct < 0 {
		pct = 0
	}
	return pct, true
}
