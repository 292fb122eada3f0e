package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/weirhq/weir/host/store"
	"github.com/weirhq/weir/host/store/bolt"
)

// burstReps is how many bursts a burst row measures.
const burstReps = 3

const burstPipeline = `
api {
  token = env("WEIR_API_TOKEN")
}

connection "jsonl" "in" {
  path = "in"
}

connection "jsonl" "out" {
  path = "out"
}

pipeline "orders" {
  source "in" {
    key_field = "id"
  }
  webhook {
    auth   = "token"
    secret = env("HOOK_TOKEN")
  }
  key = record.id
  destination "out" {
    object = "orders"
  }
}
`

// burstEmbedded posts 5,000 1 KB orders from 16 clients and times until
// every one is answered 2xx (durably stored). Reference: the embedded
// store's own single-record enqueues from 16 goroutines.
func burstEmbedded(bin string) row {
	w := newWorkspace(bin, burstPipeline)
	d := w.start("burst")
	elapsed := burst(d, "orders", burstReps, nil)
	d.stop()
	ref := best(burstReps, true, func(int) time.Duration { return rawEnqueue(5000, 16) })
	return row{
		figure:    fmt.Sprintf("burst: 5,000 × 1 KB webhooks, 16 clients, embedded [best of %d]", burstReps),
		weir:      fmt.Sprintf("%.3f s", elapsed.Seconds()),
		reference: fmt.Sprintf("%.3f s raw store enqueues", ref.Seconds()),
		ratio:     fmt.Sprintf("%.2f×", elapsed.Seconds()/ref.Seconds()),
		target:    "≤ 0.5 s",
	}
}

// burst posts 5,000 1 KB orders, one a request, from 16 clients to the
// daemon's pipeline, reps times with new ids (letting each burst drain
// before the next), and returns the best wall time until the last answer.
// r, if not nil, is the Redis whose CPU time is shown too.
func burst(d *daemon, pipeline string, reps int, r *redisEnv) time.Duration {
	const n, clients = 5000, 16
	h := newHookClient(d.addr, pipeline, clients)
	for i := range clients { // open the connections
		if err := h.post(doc(fmt.Sprintf("warm%02d", i))); err != nil {
			fatal(err)
		}
	}
	delivered := int64(clients)
	var bestTime time.Duration
	var bestCPU string
	for rep := range reps {
		before, redisBefore := snapshotCPU(d.pid), r.load(context.Background())
		elapsed := parallel(n, clients, func(i int) error {
			return h.post(doc(fmt.Sprintf("b%d_%06d", rep, i)))
		})
		cpu := snapshotCPU(d.pid).since(before)
		if r != nil {
			cpu += ", " + r.load(context.Background()).since(redisBefore, n)
		}
		progress("%s burst %d: %v; CPU: %s", d.name, rep+1, elapsed.Round(time.Millisecond), cpu)
		if rep == 0 || elapsed < bestTime {
			bestTime, bestCPU = elapsed, cpu
		}
		delivered += n
		if rep < reps-1 && !d.waitDelivered(delivered, 30*time.Second) {
			progress("%s: burst %d not drained after 30 s; measuring the next one anyway", d.name, rep+1)
		}
	}
	note("%s: CPU during the best burst (jsonl: webhook decoding and the drain to the jsonl file; weirbench: the 16 clients): %s", d.name, bestCPU)
	return bestTime
}

// httpFloor times the burst's requests (5,000 × 1 KB, one a request, 16
// clients) to an HTTP handler that only reads them: the floor any webhook
// burst on this machine stands on.
func httpFloor() time.Duration {
	const n, clients = 5000, 16
	v := newVendor(0)
	defer v.close()
	h := newURLClient(v.url("floor"), clients)
	parallel(clients, clients, func(i int) error { return h.post(order(i)) })
	return best(burstReps, true, func(int) time.Duration {
		return parallel(n, clients, func(i int) error { return h.post(order(i)) })
	})
}

// rawEnqueue times n single-record enqueues from k goroutines on a fresh
// embedded store.
func rawEnqueue(n, k int) time.Duration {
	dir, _ := os.MkdirTemp("", "weirbench-raw-")
	defer os.RemoveAll(dir)
	st, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	return parallel(n, k, func(i int) error {
		_, err := st.Enqueue(ctx, "raw", []store.Record{{Key: fmt.Sprintf("o%06d", i), Version: 1, Payload: order(i)}}, nil)
		return err
	})
}

const copyPipeline = `
api {
  token = env("WEIR_API_TOKEN")
}

connection "jsonl" "in" {
  path = "in"
}

connection "jsonl" "out" {
  path = "out"
}

pipeline "copy" {
  source "in" {
    poll       = "20ms"
    batch_size = 2000
    key_field  = "id"
  }
  key = record.id
  destination "out" {
    object = "copied"
  }
  workers = 4
}
`

// e2eReps is how many end-to-end runs a throughput row measures.
const e2eReps = 2

// endToEndEmbedded times n records from a JSON-lines file to the
// destination file, passing through the queue. Reference: the embedded
// store's batched enqueue + lease + ack cycle alone.
func endToEndEmbedded(bin string, n int) row {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"id":"r%07d","total":%d.99,"status":"Activated"}`+"\n", i, i)
	}
	input := b.String()
	rate := best(e2eReps, false, func(rep int) float64 {
		w := newWorkspace(bin, copyPipeline)
		w.write("in/records.jsonl", input)
		start := time.Now()
		d := w.start(fmt.Sprintf("e2e%d", rep))
		if !d.waitDelivered(int64(n), 120*time.Second) {
			fatal(fmt.Errorf("end to end, embedded: %d records not delivered in 120 s", n))
		}
		elapsed := time.Since(start)
		d.stop()
		return float64(n) / elapsed.Seconds()
	})
	ref := best(e2eReps, false, func(int) float64 { return rawCycle(n) })
	return row{
		figure:    fmt.Sprintf("end to end: %s × 50 B jsonl → jsonl, embedded, incl. start-up [best of %d]", thousands(n), e2eReps),
		weir:      fmt.Sprintf("%.0f rec/s", rate),
		reference: fmt.Sprintf("%.0f rec/s raw store cycle", ref),
		ratio:     fmt.Sprintf("%.0f%%", 100*rate/ref),
		target:    "(Redis: ≥ 20,000 rec/s)",
	}
}

// rawCycle measures the embedded store's batched enqueue (500 a commit),
// lease (100) and ack cycle in records per second.
func rawCycle(n int) float64 {
	dir, _ := os.MkdirTemp("", "weirbench-raw-")
	defer os.RemoveAll(dir)
	st, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < n; i += 500 {
		recs := make([]store.Record, 0, 500)
		for j := i; j < min(i+500, n); j++ {
			recs = append(recs, store.Record{Key: fmt.Sprintf("r%07d", j), Version: 1, Payload: []byte(`{"id":"x","total":1.99,"status":"Activated"}`)})
		}
		if _, err := st.Enqueue(ctx, "raw", recs, &store.Checkpoint{Source: "in", Value: []byte("c")}); err != nil {
			fatal(err)
		}
	}
	err = parallelUntil(4, func(int) (bool, error) {
		leases, err := st.Lease(ctx, "raw", "w", 100, time.Minute)
		if err != nil || len(leases) == 0 {
			return true, err
		}
		out := make([]store.Outcome, len(leases))
		for i, l := range leases {
			out[i] = store.Outcome{Lease: l, Kind: store.Acked}
		}
		return false, st.Settle(ctx, out)
	})
	if err != nil {
		fatal(err)
	}
	return float64(n) / time.Since(start).Seconds()
}
