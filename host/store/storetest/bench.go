package storetest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirhq/weir/host/store"
)

// Payload1K is a 1 KB JSON record payload for benchmarks.
var Payload1K = []byte(`{"data":"` + strings.Repeat("x", 1024-11) + `"}`)

// BenchEnqueueParallel measures single-record enqueues of 1 KB records from
// 16 goroutines (a webhook burst) on q, and reports records/s.
func BenchEnqueueParallel(b *testing.B, q store.Queue) {
	ctx := context.Background()
	var n atomic.Int64
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((16 + procs - 1) / procs) // 16 goroutines
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			r := store.Record{Key: fmt.Sprintf("order-%d", i), Version: 1, Object: "Order", Payload: Payload1K}
			if _, err := q.Enqueue(ctx, "orders", []store.Record{r}, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}

// BenchLeaseSettle measures the delivery cycle on q: b.N records of 1 KB
// enqueued first, then 4 workers each leasing up to 100 and acknowledging
// them with one Settle. It reports records/s.
func BenchLeaseSettle(b *testing.B, q store.Queue) {
	ctx := context.Background()
	for i := 0; i < b.N; i += 1000 {
		recs := make([]store.Record, 0, 1000)
		for j := i; j < min(i+1000, b.N); j++ {
			recs = append(recs, store.Record{Key: fmt.Sprintf("order-%d", j), Version: 1, Payload: Payload1K})
		}
		if _, err := q.Enqueue(ctx, "orders", recs, nil); err != nil {
			b.Fatal(err)
		}
	}
	var done atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range 4 {
		wg.Go(func() {
			owner := fmt.Sprintf("w%d", w)
			for done.Load() < int64(b.N) {
				ls, err := q.Lease(ctx, "orders", owner, 100, time.Minute)
				if err != nil {
					b.Error(err)
					return
				}
				if len(ls) == 0 {
					return
				}
				outs := make([]store.Outcome, len(ls))
				for i, l := range ls {
					outs[i] = store.Outcome{Lease: l, Kind: store.Acked}
				}
				if err := q.Settle(ctx, outs); err != nil {
					b.Error(err)
					return
				}
				done.Add(int64(len(ls)))
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}
