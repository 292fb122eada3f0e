package cputime

import (
	"runtime"
	"testing"
)

type metric struct {
	n    float64
	unit string
}

func (m *metric) ReportMetric(n float64, unit string) { m.n, m.unit = n, unit }

func TestReportSince(t *testing.T) {
	start, ok := Process()
	if !ok {
		t.Skip("no CPU time on " + runtime.GOOS)
	}
	x := 0
	for i := range 20_000_000 {
		x ^= i * i
	}
	_ = x
	var m metric
	ReportSince(&m, start, ok, 10, "cpu-ns/op")
	if m.unit != "cpu-ns/op" || m.n <= 0 {
		t.Fatalf("reported %v %q; want a positive cpu-ns/op", m.n, m.unit)
	}
	var none metric
	ReportSince(&none, start, false, 10, "cpu-ns/op")
	ReportSince(&none, start, true, 0, "cpu-ns/op")
	if none.unit != "" {
		t.Fatalf("reported %v %q without a start or a count", none.n, none.unit)
	}
}
