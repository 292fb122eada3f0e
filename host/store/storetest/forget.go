package storetest

import (
	"fmt"
	"time"

	"github.com/weirhq/weir/host/store"
)

// forgetAll runs ForgetDelivered over every key, limit keys a call, and
// returns how many keys it forgot.
func (h *harness) forgetAll(olderThan time.Duration, limit int) int {
	h.t.Helper()
	total, cursor := 0, ""
	for calls := 0; ; calls++ {
		if calls > 10000 {
			h.t.Fatal("ForgetDelivered: the cursor never ends")
		}
		n, next, err := h.s.ForgetDelivered(h.ctx, h.pipe, olderThan, cursor, limit)
		if err != nil {
			h.t.Fatalf("ForgetDelivered: %v", err)
		}
		total += n
		if next == "" {
			return total
		}
		cursor = next
	}
}

// testForgetDelivered checks that only keys with nothing waiting or in
// flight, delivered long enough ago, are forgotten, and that a forgotten
// key takes any version again while the others still refuse old ones.
func testForgetDelivered(h *harness) {
	if n, next, err := h.s.ForgetDelivered(h.ctx, "nothing-here", 0, "", 10); err != nil || n != 0 || next != "" {
		h.t.Fatalf("ForgetDelivered on an unknown pipeline = %d, %q, %v", n, next, err)
	}
	// Delivered and idle: d00..d24.
	for i := range 25 {
		key := fmt.Sprintf("d%02d", i)
		h.enqueue(rec(key, 5))
		h.ack(h.leaseOne("w", key, 5))
	}
	// Delivered, then a newer version is in flight: flying. Delivered,
	// then a newer version waits: busy. Never delivered, waiting.
	for _, key := range []string{"flying", "busy"} {
		h.enqueue(rec(key, 5))
		h.ack(h.leaseOne("w", key, 5))
	}
	h.enqueue(rec("flying", 6))
	flying := h.leaseOne("w", "flying", 6)
	h.enqueue(rec("busy", 6), rec("waiting", 3))

	if n := h.forgetAll(time.Hour, 7); n != 0 {
		h.t.Fatalf("ForgetDelivered(older than an hour) forgot %d keys delivered just now", n)
	}
	h.wantEnqueue(store.EnqueueResult{Stale: 1}, rec("d00", 4))
	time.Sleep(5 * time.Millisecond)
	if n := h.forgetAll(time.Millisecond, 7); n != 25 {
		h.t.Fatalf("ForgetDelivered forgot %d keys; want the 25 delivered and idle", n)
	}
	if n := h.forgetAll(0, 100); n != 0 {
		h.t.Fatalf("a second ForgetDelivered forgot %d more", n)
	}
	// A forgotten key takes an older version again: the price of
	// forgetting. The others still refuse theirs.
	h.wantEnqueue(store.EnqueueResult{Accepted: 1}, rec("d00", 4))
	h.wantEnqueue(store.EnqueueResult{Stale: 1}, rec("busy", 4))
	h.wantEnqueue(store.EnqueueResult{Stale: 1}, rec("flying", 4))
	// The busy keys still work as before.
	h.ack(flying)
	if n := h.forgetAll(0, 100); n != 1 {
		h.t.Fatalf("after flying@6 was delivered ForgetDelivered forgot %d keys; want 1", n)
	}
	ls := h.lease("w", 10, longTTL)
	if got := leased(ls); got != "busy@6 waiting@3 d00@4" {
		h.t.Fatalf("Lease = %s; want busy@6 waiting@3 d00@4", got)
	}
	h.ack(ls...)
	st := h.stats()
	if st.Ready+st.Pending+st.InFlight+st.Delayed != 0 || st.Delivered != 31 {
		h.t.Fatalf("Stats = %+v; want nothing left and 31 delivered", st)
	}
}
