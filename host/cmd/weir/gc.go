package main

import (
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Records live in the store, not the heap: the host's live heap is small
// and what it allocates is mostly short-lived request garbage. Letting the
// heap grow to gcHeapBudget before collecting (up to 5× a small live heap,
// GOGC 400, where Go's default collects at 2×) saves about a tenth of the
// host's CPU in a webhook burst (measured by make bench) for a few
// megabytes; a larger live heap gets Go's default back, so memory stays
// bounded as before (the RSS rows of make bench). While GOGC is raised, a
// soft memory limit catches a heap that grows faster than the tuner looks.
const (
	// gcHeapBudget is the heap size the collector may grow to before it
	// collects, while the live heap is small.
	gcHeapBudget = 64 << 20
	// minGCPercent and maxGCPercent bound GOGC: Go's default (collect at
	// 2× the live heap), and 5×.
	minGCPercent, maxGCPercent = 100, 400
	// gcRaisedLimit is the soft memory limit while GOGC is above Go's
	// default (none otherwise, unless GOMEMLIMIT sets one).
	gcRaisedLimit = 2 * gcHeapBudget
	// gcTuneInterval is how often the live heap is read.
	gcTuneInterval = time.Second
)

// gcPercent returns the GOGC for a live heap of live bytes: as high as
// keeps the heap within gcHeapBudget, between minGCPercent and
// maxGCPercent.
func gcPercent(live uint64) int {
	if live == 0 {
		return maxGCPercent
	}
	p := int(gcHeapBudget*100/live) - 100
	return max(minGCPercent, min(maxGCPercent, p))
}

// tuneGC sets GOGC from the live heap every interval, and the soft memory
// limit with it unless setLimit is false. It runs only when the user did
// not set GOGC.
func tuneGC(interval time.Duration, setLimit bool) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	current := -1
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return
		}
		if p := gcPercent(sample[0].Value.Uint64()); p != current {
			if setLimit {
				limit := int64(math.MaxInt64)
				if p > minGCPercent {
					limit = gcRaisedLimit
				}
				debug.SetMemoryLimit(limit)
			}
			debug.SetGCPercent(p)
			current = p
		}
		time.Sleep(interval)
	}
}
