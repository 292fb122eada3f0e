package plugins

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names.
const (
	metricRestarts = "weir_connector_restarts_total"
	metricUp       = "weir_connector_up"
	labelConn      = "connection"
)

// Metrics are the supervisors' Prometheus metrics. A nil *Metrics records
// nothing.
type Metrics struct {
	restarts *prometheus.CounterVec
	up       *prometheus.GaugeVec
}

// NewMetrics creates the metrics and registers them with reg (when not nil):
// weir_connector_restarts_total{connection} and weir_connector_up{connection}.
// Metrics already registered with reg by an earlier call are shared.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricRestarts,
			Help: "Restart attempts of the connection's connector process after it exited or stopped answering health checks.",
		}, []string{labelConn}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: metricUp,
			Help: "1 while the connection's connector process is running and healthy, else 0.",
		}, []string{labelConn}),
	}
	if reg != nil {
		m.restarts = register(reg, m.restarts)
		m.up = register(reg, m.up)
	}
	return m
}

// register registers c with reg, or returns the collector already
// registered in its place. Any other failure is a programming error.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	if err != nil {
		panic(err)
	}
	return c
}

// init makes connection's series exist (at 0) before the first event.
func (m *Metrics) init(connection string) {
	if m == nil {
		return
	}
	m.restarts.WithLabelValues(connection)
	m.up.WithLabelValues(connection).Set(0)
}

// restarted counts a restart of connection's connector.
func (m *Metrics) restarted(connection string) {
	if m != nil {
		m.restarts.WithLabelValues(connection).Inc()
	}
}

// setUp records whether connection's connector is up.
func (m *Metrics) setUp(connection string, up bool) {
	if m == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	m.up.WithLabelValues(connection).Set(v)
}
