package redis

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/weirhq/weir/host/store"
	"github.com/weirhq/weir/host/store/storetest"
)

// The benchmarks run against the Redis of the tests (WEIR_TEST_REDIS_URL,
// else 127.0.0.1:6379), each under a fresh prefix. Each reports records/s;
// the Raw benchmarks are the reference for the ratio: plain Streams
// commands on the same server, without per-key order, leases, fencing or
// counters.

var payload1K = storetest.Payload1K

// BenchmarkEnqueueParallel measures single-record enqueues of 1 KB records
// from 16 goroutines (a webhook burst).
func BenchmarkEnqueueParallel(b *testing.B) {
	s := openTest(b, testURL(b))
	defer s.Close()
	storetest.BenchEnqueueParallel(b, s)
}

// BenchmarkEnqueueBatch measures enqueues of 100 records of 1 KB per call
// (a polling source's page), from one goroutine.
func BenchmarkEnqueueBatch(b *testing.B) {
	ctx := context.Background()
	s := openTest(b, testURL(b))
	defer s.Close()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += 100 {
		recs := make([]store.Record, 0, 100)
		for j := i; j < min(i+100, b.N); j++ {
			recs = append(recs, store.Record{Key: fmt.Sprintf("order-%d", j), Version: 1, Payload: payload1K})
		}
		if _, err := s.Enqueue(ctx, "orders", recs, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkLeaseSettle measures the delivery cycle: 4 workers each leasing
// up to 100 records and acknowledging them with one Settle.
func BenchmarkLeaseSettle(b *testing.B) {
	s := openTest(b, testURL(b))
	defer s.Close()
	storetest.BenchLeaseSettle(b, s)
}

// BenchmarkCycle measures the whole batched queue cycle from one
// goroutine: enqueue 100 records of 1 KB in one call, lease them, settle
// them; the counterpart of BenchmarkRawStreamCycle.
func BenchmarkCycle(b *testing.B) {
	ctx := context.Background()
	s := openTest(b, testURL(b))
	defer s.Close()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += 100 {
		n := min(100, b.N-i)
		recs := make([]store.Record, n)
		for j := range recs {
			recs[j] = store.Record{Key: fmt.Sprintf("order-%d", i+j), Version: 1, Payload: payload1K}
		}
		if _, err := s.Enqueue(ctx, "orders", recs, nil); err != nil {
			b.Fatal(err)
		}
		ls, err := s.Lease(ctx, "orders", "w", 100, time.Minute)
		if err != nil || len(ls) != n {
			b.Fatalf("Lease = %d, %v; want %d", len(ls), err, n)
		}
		outs := make([]store.Outcome, n)
		for j, l := range ls {
			outs[j] = store.Outcome{Lease: l, Kind: store.Acked}
		}
		if err := s.Settle(ctx, outs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}

// rawClient returns a plain client on the test Redis and a fresh stream
// key, deleted at the end.
func rawClient(b *testing.B) (goredis.UniversalClient, string) {
	c, _, err := newClient(testURL(b), &Options{})
	if err != nil {
		b.Fatal(err)
	}
	key := "{" + uniquePrefix() + "}:stream"
	b.Cleanup(func() {
		c.Del(context.Background(), key)
		c.Close()
	})
	return c, key
}

// BenchmarkRawXAddPipelined is the producer reference: XADD of 1 KB
// messages, 100 per pipeline.
func BenchmarkRawXAddPipelined(b *testing.B) {
	ctx := context.Background()
	c, key := rawClient(b)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += 100 {
		p := c.Pipeline()
		for range min(100, b.N-i) {
			p.XAdd(ctx, &goredis.XAddArgs{Stream: key, Values: []any{"k", "order", "p", payload1K}})
		}
		if _, err := p.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkRawStreamCycle is the queue-cycle reference: per batch of 100,
// pipelined XADD×100, one XREADGROUP COUNT 100 and one XACK of 100 IDs.
func BenchmarkRawStreamCycle(b *testing.B) {
	ctx := context.Background()
	c, key := rawClient(b)
	if err := c.XGroupCreateMkStream(ctx, key, "g", "0").Err(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += 100 {
		n := min(100, b.N-i)
		p := c.Pipeline()
		for range n {
			p.XAdd(ctx, &goredis.XAddArgs{Stream: key, Values: []any{"k", "order", "p", payload1K}})
		}
		if _, err := p.Exec(ctx); err != nil {
			b.Fatal(err)
		}
		res, err := c.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: "g", Consumer: "w", Streams: []string{key, ">"}, Count: int64(n), Block: -1}).Result()
		if err != nil || len(res) != 1 || len(res[0].Messages) != n {
			b.Fatalf("XREADGROUP: %v", err)
		}
		ids := make([]string, n)
		for j, m := range res[0].Messages {
			ids[j] = m.ID
		}
		if err := c.XAck(ctx, key, "g", ids...).Err(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}

// TestBurst enqueues the brief's Black Friday burst, 5,000 1 KB orders from
// 16 concurrent clients one order per call, and logs how long it took
// (target: 0.25 s with Redis, including HTTP).
func TestBurst(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, testURL(t))
	defer s.Close()
	const clients, orders = 16, 5000
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for i := next.Add(1); i <= orders; i = next.Add(1) {
				r := store.Record{Key: fmt.Sprintf("SO-%d", i), Version: 1, Payload: payload1K}
				if _, err := s.Enqueue(ctx, "orders", []store.Record{r}, nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	st, err := s.Stats(ctx, "orders")
	if err != nil || st.Ready != orders {
		t.Fatalf("Stats = %+v, %v", st, err)
	}
	t.Logf("%d single-record enqueues from %d goroutines in %s", orders, clients, elapsed.Round(time.Millisecond))
}

// redisCPU returns the Redis server's CPU time (user + system) and the
// time spent inside EVALSHA calls (INFO commandstats), in µs.
func redisCPU(b *testing.B, c goredis.UniversalClient) (cpu, evalsha float64) {
	b.Helper()
	info, err := c.Info(context.Background(), "cpu", "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "used_cpu_user:"); ok {
			cpu += atof(v) * 1e6
		} else if v, ok := strings.CutPrefix(line, "used_cpu_sys:"); ok {
			cpu += atof(v) * 1e6
		} else if v, ok := strings.CutPrefix(line, "cmdstat_evalsha:"); ok {
			for f := range strings.SplitSeq(v, ",") {
				if u, ok := strings.CutPrefix(f, "usec="); ok {
					evalsha = atof(u)
				}
			}
		}
	}
	return cpu, evalsha
}

func atof(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// BenchmarkRedisCPU measures the Redis CPU each script costs per record:
// per round, one Enqueue of 2,000 records of 1 KB, then 20 Leases of 100,
// then 20 Settles of 100 acks ("bulk"), or all three 12 at a time, as in a
// webhook burst ("burst"), each phase timed on its own. cpu is the
// server process's CPU (parsing, replies and commands sent besides the
// scripts included): the figure to compare. script is the time inside
// EVALSHA only, as wall time (it includes preemption). Unless
// WEIR_TEST_REDIS_URL is set, it runs on a redis-server of its own when one
// can be started, so that nothing else shares the counters.
func BenchmarkRedisCPU(b *testing.B) {
	for _, bc := range []struct {
		name         string
		round, batch int
	}{
		{"bulk", 2000, 100}, // a file source's batches, workers' leases
		{"burst", 12, 12},   // a webhook batch, leased as it comes
	} {
		b.Run(bc.name, func(b *testing.B) { benchRedisCPU(b, bc.round, bc.batch) })
	}
}

// benchRedisCPU enqueues round records a call, leases and settles them
// batch at a time, and reports Redis CPU and script time per record.
func benchRedisCPU(b *testing.B, round, batch int) {
	ctx := context.Background()
	url := testURL(b)
	if os.Getenv("WEIR_TEST_REDIS_URL") == "" && haveRedisServer() {
		url = startServer(b).url()
	}
	s := openTest(b, url)
	defer s.Close()
	var cpu, script [3]float64
	measure := func(i int, f func()) {
		c0, e0 := redisCPU(b, s.rdb)
		f()
		c1, e1 := redisCPU(b, s.rdb)
		cpu[i] += c1 - c0
		script[i] += e1 - e0
	}
	n := 0
	b.ResetTimer()
	for ; n < b.N; n += round {
		recs := make([]store.Record, round)
		for j := range recs {
			recs[j] = store.Record{Key: fmt.Sprintf("order-%d", n+j), Version: 1, Payload: payload1K}
		}
		measure(0, func() {
			if _, err := s.Enqueue(ctx, "orders", recs, nil); err != nil {
				b.Fatal(err)
			}
		})
		var leases [][]store.Lease
		measure(1, func() {
			for range round / batch {
				ls, err := s.Lease(ctx, "orders", "w", batch, time.Minute)
				if err != nil || len(ls) != batch {
					b.Fatalf("Lease = %d, %v", len(ls), err)
				}
				leases = append(leases, ls)
			}
		})
		measure(2, func() {
			for _, ls := range leases {
				outs := make([]store.Outcome, len(ls))
				for j, l := range ls {
					outs[j] = store.Outcome{Lease: l, Kind: store.Acked}
				}
				if err := s.Settle(ctx, outs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for i, name := range []string{"enqueue", "lease", "settle"} {
		b.ReportMetric(cpu[i]/float64(n), name+"-cpu-µs/rec")
		b.ReportMetric(script[i]/float64(n), name+"-script-µs/rec")
	}
	b.ReportMetric((cpu[0]+cpu[1]+cpu[2])/float64(n), "cycle-cpu-µs/rec")
}
