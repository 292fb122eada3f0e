package storetest

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirhq/weir/host/store"
)

// testConcurrency runs producers and consumers at once over many keys and
// checks per-key order and coalescing: each key's newest version is
// delivered exactly once, no version is delivered twice, no older version
// is delivered after a newer one, and no two versions of a key are ever
// leased at the same time.
func testConcurrency(h *harness) {
	const (
		keys      = 200
		versions  = 10 // keys × versions = 2,000 records, plus re-reads
		producers = 8
		consumers = 8
		timeout   = 20 * time.Second
	)
	type kv struct {
		key     string
		version int64
	}
	// Producer p owns the keys k with k%producers == p and sends them in
	// rounds of ascending versions, as a polling source would, with some
	// re-reads of older versions mixed in.
	rng := rand.New(rand.NewPCG(1, 2))
	work := make([][]kv, producers)
	total := 0
	for v := int64(1); v <= versions; v++ {
		for p := range producers {
			var round []kv
			for k := p; k < keys; k += producers {
				key := fmt.Sprintf("key-%03d", k)
				round = append(round, kv{key, v})
				if v > 1 && rng.IntN(10) == 0 {
					round = append(round, kv{key, 1 + rng.Int64N(v-1)})
				}
			}
			rng.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
			work[p] = append(work[p], round...)
			total += len(round)
		}
	}

	var (
		mu        sync.Mutex
		inFlight  = map[string]string{} // key → lease ID
		delivered = map[string]int64{}  // key → newest acked version
		acks      = map[kv]int{}
		failures  []string
		retries   atomic.Int64
		produced  sync.WaitGroup
		done      atomic.Bool
		start     = time.Now()
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		mu.Unlock()
	}

	for p := range producers {
		produced.Go(func() {
			r := rand.New(rand.NewPCG(uint64(p), 7))
			mine := work[p]
			for len(mine) > 0 {
				n := min(1+r.IntN(4), len(mine)) // batches of 1 to 4
				var recs []store.Record
				for _, x := range mine[:n] {
					recs = append(recs, rec(x.key, x.version))
				}
				mine = mine[n:]
				if _, err := h.s.Enqueue(h.ctx, h.pipe, recs, nil); err != nil {
					fail("Enqueue: %v", err)
					return
				}
			}
		})
	}
	go func() { produced.Wait(); done.Store(true) }()

	var consumed sync.WaitGroup
	for c := range consumers {
		consumed.Go(func() {
			r := rand.New(rand.NewPCG(uint64(c), 11))
			owner := fmt.Sprintf("consumer-%d", c)
			for time.Since(start) < timeout {
				wasDone := done.Load()
				ls, err := h.s.Lease(h.ctx, h.pipe, owner, 1+r.IntN(8), longTTL)
				if err != nil {
					fail("Lease: %v", err)
					return
				}
				if len(ls) == 0 {
					if wasDone {
						st, err := h.s.Stats(h.ctx, h.pipe)
						if err != nil {
							fail("Stats: %v", err)
							return
						}
						if st.Ready+st.Pending+st.Delayed+st.InFlight == 0 {
							return
						}
					}
					time.Sleep(time.Millisecond)
					continue
				}
				mu.Lock()
				for _, l := range ls {
					k := l.Record.Key
					if other, busy := inFlight[k]; busy {
						failures = append(failures, fmt.Sprintf("%s leased as %s while %s is in flight", k, l.ID, other))
					}
					if l.Record.Version <= delivered[k] {
						failures = append(failures, fmt.Sprintf("%s@%d leased after @%d was delivered", k, l.Record.Version, delivered[k]))
					}
					inFlight[k] = l.ID
				}
				mu.Unlock()
				for _, l := range ls {
					k := l.Record.Key
					retry := r.IntN(10) == 0
					// Leave the in-flight map before settling: once the
					// store commits, the key's next version may be leased.
					mu.Lock()
					delete(inFlight, k)
					if !retry {
						acks[kv{k, l.Record.Version}]++
						delivered[k] = max(delivered[k], l.Record.Version)
					}
					mu.Unlock()
					if retry {
						retries.Add(1)
						err = Retry(h.ctx, h.s, l, time.Now(), "random failure")
					} else {
						err = Ack(h.ctx, h.s, l)
					}
					if err != nil {
						fail("settle %s: %v", l.ID, err)
						return
					}
				}
			}
			fail("%s: queue not drained within %s", owner, timeout)
		})
	}
	consumed.Wait()
	for _, f := range failures[:min(len(failures), 10)] {
		h.t.Error(f)
	}
	if len(failures) > 0 {
		h.t.FailNow()
	}

	var deliveredTotal int64
	for k := range keys {
		key := fmt.Sprintf("key-%03d", k)
		if delivered[key] != versions {
			h.t.Errorf("%s: newest delivered version %d, want %d", key, delivered[key], versions)
		}
		if n := acks[kv{key, versions}]; n != 1 {
			h.t.Errorf("%s@%d delivered %d times, want once", key, versions, n)
		}
	}
	for x, n := range acks {
		if n != 1 {
			h.t.Errorf("%s@%d delivered %d times", x.key, x.version, n)
		}
		deliveredTotal += int64(n)
	}
	st := h.stats()
	want := store.Stats{
		Accepted:  st.Accepted,
		Delivered: deliveredTotal,
		Coalesced: st.Accepted - deliveredTotal,
		Stale:     int64(total) - st.Accepted,
	}
	if st != want {
		h.t.Errorf("Stats = %+v, want %+v", st, want)
	}
	h.t.Logf("%d records, %d accepted, %d delivered, %d coalesced, %d stale, %d retries in %s",
		total, st.Accepted, st.Delivered, st.Coalesced, st.Stale, retries.Load(), time.Since(start).Round(time.Millisecond))
}
