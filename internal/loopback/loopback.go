// Package loopback hands out free TCP ports on 127.0.0.1 to the tests and
// the load harness, which only ever listen on loopback addresses.
package loopback

import (
	"net"
	"testing"
)

// FreePorts returns n distinct ports on 127.0.0.1 that were free a moment
// ago: each is held until all are chosen, so that they differ. Another
// process can still take one before the caller binds it.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Ports is FreePorts for tests: it fails tb on error.
func Ports(tb testing.TB, n int) []int {
	tb.Helper()
	ports, err := FreePorts(n)
	if err != nil {
		tb.Fatal(err)
	}
	return ports
}

// Port returns one free port, failing tb on error.
func Port(tb testing.TB) int {
	tb.Helper()
	return Ports(tb, 1)[0]
}
