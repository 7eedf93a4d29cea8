package caddymodule

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestRegisterMetrics: registering twice with one registry is fine; a
// registry that already holds another collector of one of the names fails.
func TestRegisterMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if err := registerMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if err := registerMetrics(reg); err != nil {
		t.Errorf("second registration: %v", err)
	}
	other := prometheus.NewPedanticRegistry()
	if err := other.Register(prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "registry_clients",
		Help: "Clients in the registry serving now.",
	}, []string{"policy"})); err != nil {
		t.Fatal(err)
	}
	if err := registerMetrics(other); err == nil {
		t.Errorf("registration over another collector of the same name succeeded")
	}
}
