//go:build unix

// Package cputime measures the CPU time of the calling thread, which
// benchmarks report beside wall time: other processes competing for the
// machine's cores inflate the one but not the other.
package cputime

import (
	"runtime"
	"syscall"
	"time"
)

// Thread returns the CPU time used so far by the calling thread on Linux
// (by the whole process on other Unix systems). Callers lock themselves to
// their thread with runtime.LockOSThread.
func Thread() time.Duration {
	who := syscall.RUSAGE_SELF
	if runtime.GOOS == "linux" {
		who = 1 // RUSAGE_THREAD
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Process returns the CPU time used so far by the whole process, all
// threads (the garbage collector's included).
func Process() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
