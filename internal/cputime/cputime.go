// Package cputime reads the CPU time a process has used, for benchmarks that
// report CPU per operation beside wall time: unlike wall time, it does not
// grow when other processes share the CPUs.
package cputime

import "time"

// Process returns the user and system CPU time this process has used (all
// threads, the garbage collector's included), or false where the platform
// does not tell.
func Process() (time.Duration, bool) { return process() }

// Reporter is what ReportSince reports to (*testing.B has it).
type Reporter interface {
	ReportMetric(n float64, unit string)
}

// ReportSince reports the CPU time used since start, divided by n, as
// unit (for example "cpu-ns/op"). It reports nothing when start is not
// known or n is not positive.
func ReportSince(r Reporter, start time.Duration, ok bool, n int, unit string) {
	end, endOK := Process()
	if !ok || !endOK || n <= 0 {
		return
	}
	r.ReportMetric(float64(end-start)/float64(n), unit)
}
