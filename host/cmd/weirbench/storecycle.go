package main

import (
	"context"
	"fmt"
	"time"

	"github.com/weirhq/weir/host/store"
	storeredis "github.com/weirhq/weir/host/store/redis"
)

// storeCycle runs n 1 KB records through Weir's Redis store in-process, in
// three phases, one goroutine each, as the engine's calls shape them:
// Enqueue 2,000 a call with a checkpoint (a source read), Lease 100 a call,
// Settle (ack) 100 a call. It describes the Redis CPU each phase costs a
// record, the part of the end-to-end figure the store alone sets.
func storeCycle(r *redisEnv, n int) string {
	ctx := context.Background()
	st, err := storeredis.Open(ctx, r.url, storeredis.Options{Prefix: keyPrefix})
	if err != nil {
		fatal(err)
	}
	defer st.Close()
	pipeline := runID + "_store"
	phase := func(f func()) (wall time.Duration, cpu float64) {
		before := r.cpu(ctx)
		start := time.Now()
		f()
		return time.Since(start), float64((r.cpu(ctx) - before).Microseconds()) / float64(n)
	}
	enqWall, enqCPU := phase(func() {
		for i := 0; i < n; i += 2000 {
			recs := make([]store.Record, 0, 2000)
			for j := i; j < min(i+2000, n); j++ {
				id := fmt.Sprintf("s%07d", j)
				recs = append(recs, store.Record{Key: id, Version: 1, Payload: doc(id)})
			}
			if _, err := st.Enqueue(ctx, pipeline, recs, &store.Checkpoint{Source: "in", Value: fmt.Append(nil, i)}); err != nil {
				fatal(err)
			}
		}
	})
	var leases []store.Lease
	leaseWall, leaseCPU := phase(func() {
		for {
			l, err := st.Lease(ctx, pipeline, "bench", 100, time.Minute)
			if err != nil {
				fatal(err)
			}
			if len(l) == 0 {
				return
			}
			leases = append(leases, l...)
		}
	})
	if len(leases) != n {
		fatal(fmt.Errorf("store cycle: leased %d of %d", len(leases), n))
	}
	settleWall, settleCPU := phase(func() {
		for i := 0; i < n; i += 100 {
			out := make([]store.Outcome, 0, 100)
			for _, l := range leases[i:min(i+100, n)] {
				out = append(out, store.Outcome{Lease: l, Kind: store.Acked})
			}
			if err := st.Settle(ctx, out); err != nil {
				fatal(err)
			}
		}
	})
	total := enqWall + leaseWall + settleWall
	return fmt.Sprintf("store/redis alone, in-process, 1 goroutine: %d × 1 KB in %.2f s (%.0f rec/s); Redis CPU a record: enqueue (2,000 a call) %.1f µs, lease (100) %.1f µs, settle (100) %.1f µs",
		n, total.Seconds(), float64(n)/total.Seconds(), enqCPU, leaseCPU, settleCPU)
}
