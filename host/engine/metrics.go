package engine

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the engine's Prometheus metrics.
type Metrics struct {
	In           *prometheus.CounterVec
	Delivered    *prometheus.CounterVec
	Retried      *prometheus.CounterVec
	DeadLettered *prometheus.CounterVec
	Skipped      *prometheus.CounterVec
	Rejected     *prometheus.CounterVec
	WriteLatency *prometheus.HistogramVec
	ReadErrors   *prometheus.CounterVec
	Forgotten    *prometheus.CounterVec
	// Yielded is the time workers waited for a saturated webhook intake.
	Yielded *prometheus.CounterVec
}

// NewMetrics registers the engine's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	counter := func(name, help string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "weir", Name: name, Help: help}, []string{"pipeline"})
		reg.MustRegister(c)
		return c
	}
	m := &Metrics{
		In:           counter("records_in_total", "Records durably accepted from sources and webhooks."),
		Delivered:    counter("records_delivered_total", "Records written to the destination and acknowledged."),
		Retried:      counter("records_retried_total", "Deliveries that failed and were scheduled again."),
		DeadLettered: counter("records_dead_lettered_total", "Records moved to the dead letters."),
		Skipped:      counter("records_skipped_total", "Records a pipeline's when excluded."),
		Rejected:     counter("webhook_rejected_total", "Webhook requests refused as malformed."),
		ReadErrors:   counter("source_read_errors_total", "Failed source reads."),
		Forgotten:    counter("keys_forgotten_total", "Keys whose delivered version was forgotten (forget_delivered_after)."),
		Yielded:      counter("delivery_yield_seconds_total", "Seconds workers waited before leasing while the pipeline's webhook intake was saturated."),
		WriteLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "weir", Name: "write_duration_seconds", Help: "Destination batch write latency.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"pipeline"}),
	}
	reg.MustRegister(m.WriteLatency)
	return m
}

// init creates a pipeline's series at zero, so they are exported before the
// first event.
func (m *Metrics) init(pipeline string) {
	for _, c := range []*prometheus.CounterVec{m.In, m.Delivered, m.Retried, m.DeadLettered, m.Skipped, m.Rejected, m.ReadErrors, m.Forgotten, m.Yielded} {
		c.WithLabelValues(pipeline)
	}
	m.WriteLatency.WithLabelValues(pipeline)
}
