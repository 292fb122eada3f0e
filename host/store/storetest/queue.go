package storetest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/weirhq/weir/host/store"
)

func testRoundTrip(h *harness) {
	r := store.Record{
		Key:      "SO-1",
		Version:  7,
		Op:       store.OpDelete,
		Object:   "Order",
		Payload:  []byte(`{"TotalAmount":"5000.10","Lines":[{"Qty":12}]}`),
		Metadata: map[string]string{"source": "crm", "trace": "abc"},
	}
	before := time.Now()
	h.wantEnqueue(store.EnqueueResult{Accepted: 1}, r)
	after := time.Now()
	h.wantStats(store.Stats{Ready: 1, Accepted: 1})

	const ttl = 5 * time.Second
	t0 := time.Now()
	ls := h.lease("worker-1", 10, ttl)
	t1 := time.Now()
	if len(ls) != 1 {
		h.t.Fatalf("Lease = %s, want SO-1@7", leased(ls))
	}
	l := ls[0]
	switch {
	case l.Pipeline != h.pipe:
		h.t.Errorf("Pipeline = %q, want %q", l.Pipeline, h.pipe)
	case !sameRecord(l.Record, r):
		h.t.Errorf("Record = %+v, want %+v", l.Record, r)
	case l.ID == "":
		h.t.Errorf("empty lease ID")
	case l.Attempt != 1:
		h.t.Errorf("Attempt = %d, want 1", l.Attempt)
	case l.Owner != "worker-1":
		h.t.Errorf("Owner = %q, want worker-1", l.Owner)
	case l.Token == 0:
		h.t.Errorf("Token = 0, want a fencing token")
	case l.LastError != "":
		h.t.Errorf("LastError = %q, want none", l.LastError)
	case l.Expires.Before(t0.Add(ttl-clockSlack)) || l.Expires.After(t1.Add(ttl+clockSlack)):
		h.t.Errorf("Expires = %v, want in [%v, %v]", l.Expires, t0.Add(ttl), t1.Add(ttl))
	case l.EnqueuedAt.Before(before.Add(-clockSlack)) || l.EnqueuedAt.After(after.Add(clockSlack)):
		h.t.Errorf("EnqueuedAt = %v, want in [%v, %v]", l.EnqueuedAt, before, after)
	}
	h.wantStats(store.Stats{InFlight: 1, Accepted: 1})
	if more := h.lease("worker-2", 10, longTTL); len(more) != 0 {
		h.t.Fatalf("second Lease = %s, want none", leased(more))
	}
	h.ack(l)
	h.wantStats(store.Stats{Accepted: 1, Delivered: 1})
	h.wantLeased(10, "(none)")

	// Nil metadata and an empty payload survive too.
	bare := store.Record{Key: "SO-2", Version: 1}
	h.enqueue(bare)
	if l := h.leaseOne("w", "SO-2", 1); !sameRecord(l.Record, bare) || len(l.Record.Metadata) != 0 {
		h.t.Fatalf("Record = %+v, want %+v", l.Record, bare)
	}
}

func testInvalid(h *harness) {
	good := rec("ok", 1)
	cp := &store.Checkpoint{Source: "crm", Value: []byte("cursor-1")}
	cases := []struct {
		name     string
		pipeline string
		bad      store.Record
		cp       *store.Checkpoint
	}{
		{"empty key", h.pipe, store.Record{Version: 1}, cp},
		{"negative version", h.pipe, rec("k", -1), cp},
		{"unknown op", h.pipe, store.Record{Key: "k", Op: 9}, cp},
		{"key too long", h.pipe, rec(string(make([]byte, store.MaxKeyLen+1)), 1), cp},
		{"empty pipeline", "", rec("k", 1), cp},
		{"empty checkpoint source", h.pipe, rec("k", 1), &store.Checkpoint{Value: []byte("x")}},
	}
	for _, tc := range cases {
		_, err := h.s.Enqueue(h.ctx, tc.pipeline, []store.Record{good, tc.bad}, tc.cp)
		if !errors.Is(err, store.ErrInvalid) {
			h.t.Errorf("%s: Enqueue err = %v, want ErrInvalid", tc.name, err)
		}
	}
	h.wantStats(store.Stats{})
	if _, err := h.s.Checkpoint(h.ctx, h.pipe, "crm"); !errors.Is(err, store.ErrNotFound) {
		h.t.Errorf("Checkpoint after rejected enqueues: err = %v, want ErrNotFound", err)
	}
	h.enqueue(good)
	if _, err := h.s.Lease(h.ctx, h.pipe, "", 1, time.Second); !errors.Is(err, store.ErrInvalid) {
		h.t.Errorf("Lease with empty owner: err = %v, want ErrInvalid", err)
	}
	if _, err := h.s.Lease(h.ctx, h.pipe, "w", 1, 0); !errors.Is(err, store.ErrInvalid) {
		h.t.Errorf("Lease with zero ttl: err = %v, want ErrInvalid", err)
	}
	if ls := h.lease("w", 0, time.Second); len(ls) != 0 {
		h.t.Errorf("Lease(max 0) = %s, want none", leased(ls))
	}
	h.wantStats(store.Stats{Ready: 1, Accepted: 1})
}

func testUnknownPipeline(h *harness) {
	h.pipe = "never-used"
	h.wantLeased(10, "(none)")
	h.wantStats(store.Stats{})
	if _, err := h.s.Checkpoint(h.ctx, h.pipe, "crm"); !errors.Is(err, store.ErrNotFound) {
		h.t.Errorf("Checkpoint: err = %v, want ErrNotFound", err)
	}
	if dls, err := h.s.DeadLetters(h.ctx, h.pipe, "", 10); err != nil || len(dls) != 0 {
		h.t.Errorf("DeadLetters = %v, %v; want none", dls, err)
	}
	if _, err := h.s.DeadLetterByID(h.ctx, h.pipe, "1"); !errors.Is(err, store.ErrNotFound) {
		h.t.Errorf("DeadLetterByID: err = %v, want ErrNotFound", err)
	}
	if n, err := h.s.Drop(h.ctx, h.pipe, nil); err != nil || n != 0 {
		h.t.Errorf("Drop(all) = %d, %v; want 0", n, err)
	}
}

func testFIFO(h *harness) {
	var want []store.Record
	for i := range 10 {
		r := rec(fmt.Sprintf("k%02d", i), 1)
		h.enqueue(r)
		want = append(want, r)
	}
	var batch []store.Record
	for i := 10; i < 20; i++ {
		batch = append(batch, rec(fmt.Sprintf("k%02d", i), 1))
	}
	h.wantEnqueue(store.EnqueueResult{Accepted: 10}, batch...)
	want = append(want, batch...)

	var got []store.Lease
	for {
		ls := h.lease("w", 3, longTTL)
		if len(ls) > 3 {
			h.t.Fatalf("Lease(max 3) returned %d entries", len(ls))
		}
		if len(ls) == 0 {
			break
		}
		got = append(got, ls...)
	}
	if leased(got) != describe(want) {
		h.t.Fatalf("lease order = %s, want %s", leased(got), describe(want))
	}
	h.ack(got...)
	h.wantStats(store.Stats{Accepted: 20, Delivered: 20})
}

func testReadyCoalescing(h *harness) {
	h.enqueue(rec("a", 1), rec("k", 1), rec("b", 1))
	h.wantEnqueue(store.EnqueueResult{Accepted: 1, Coalesced: 1}, rec("k", 2))
	h.wantStats(store.Stats{Ready: 3, Accepted: 4, Coalesced: 1})
	// The newer version keeps the older one's place in the queue.
	ls := h.wantLeased(10, "a@1 k@2 b@1")
	for _, l := range ls {
		if l.Attempt != 1 {
			h.t.Errorf("%s: Attempt = %d, want 1", l.Record.Key, l.Attempt)
		}
	}
}

func testPerKeySerialisation(h *harness) {
	h.enqueue(rec("k", 1))
	l1 := h.leaseOne("w", "k", 1)

	h.wantEnqueue(store.EnqueueResult{Accepted: 1}, rec("k", 2))
	h.wantStats(store.Stats{Pending: 1, InFlight: 1, Accepted: 2})
	h.enqueue(rec("x", 1))
	lx := h.wantLeased(10, "x@1") // k@2 waits behind k@1
	h.wantEnqueue(store.EnqueueResult{Accepted: 1, Coalesced: 1}, rec("k", 3))
	h.wantStats(store.Stats{Pending: 1, InFlight: 2, Accepted: 4, Coalesced: 1})
	h.wantLeased(10, "(none)")

	h.ack(l1)
	h.wantStats(store.Stats{Ready: 1, InFlight: 1, Accepted: 4, Delivered: 1, Coalesced: 1})
	l3 := h.leaseOne("w", "k", 3)
	if l3.Attempt != 1 {
		h.t.Errorf("Attempt = %d, want 1", l3.Attempt)
	}
	h.ack(l3, lx[0])

	// Versions already delivered are dropped, so a source re-read is harmless.
	h.wantEnqueue(store.EnqueueResult{Stale: 3}, rec("k", 3), rec("k", 1), rec("x", 1))
	h.wantEnqueue(store.EnqueueResult{Accepted: 1}, rec("k", 4))
	h.wantStats(store.Stats{Ready: 1, Accepted: 5, Delivered: 3, Coalesced: 1, Stale: 3})
}

// testStaleVersions checks, for each state a key can be in, which incoming
// versions are stale.
func testStaleVersions(h *harness) {
	type setup func(h *harness, key string)
	deliver := func(v int64) setup {
		return func(h *harness, key string) {
			h.enqueue(rec(key, v))
			h.ack(h.leaseOne("w", key, v))
		}
	}
	ready := func(v int64) setup {
		return func(h *harness, key string) { h.enqueue(rec(key, v)) }
	}
	leasedAt := func(v int64) setup {
		return func(h *harness, key string) {
			h.enqueue(rec(key, v))
			h.leaseOne("w", key, v)
		}
	}
	pending := func(v, p int64) setup {
		return func(h *harness, key string) {
			leasedAt(v)(h, key)
			h.enqueue(rec(key, p))
		}
	}
	delayed := func(v int64) setup {
		return func(h *harness, key string) {
			h.enqueue(rec(key, v))
			l := h.leaseOne("w", key, v)
			if err := Retry(h.ctx, h.s, l, time.Now().Add(time.Hour), "later"); err != nil {
				h.t.Fatalf("Retry: %v", err)
			}
		}
	}
	cases := []struct {
		name     string
		setup    setup
		incoming int64
		want     store.EnqueueResult
	}{
		{"below delivered", deliver(5), 4, store.EnqueueResult{Stale: 1}},
		{"equal to delivered", deliver(5), 5, store.EnqueueResult{Stale: 1}},
		{"above delivered", deliver(5), 6, store.EnqueueResult{Accepted: 1}},
		{"below ready", ready(5), 3, store.EnqueueResult{Stale: 1}},
		{"equal to ready", ready(5), 5, store.EnqueueResult{Stale: 1}},
		{"above ready", ready(5), 6, store.EnqueueResult{Accepted: 1, Coalesced: 1}},
		{"below leased", leasedAt(5), 4, store.EnqueueResult{Stale: 1}},
		{"equal to leased", leasedAt(5), 5, store.EnqueueResult{Stale: 1}},
		{"above leased", leasedAt(5), 6, store.EnqueueResult{Accepted: 1}},
		{"between leased and pending", pending(5, 7), 6, store.EnqueueResult{Stale: 1}},
		{"equal to pending", pending(5, 7), 7, store.EnqueueResult{Stale: 1}},
		{"above pending", pending(5, 7), 8, store.EnqueueResult{Accepted: 1, Coalesced: 1}},
		{"below delayed", delayed(5), 4, store.EnqueueResult{Stale: 1}},
		{"equal to delayed", delayed(5), 5, store.EnqueueResult{Stale: 1}},
		{"above delayed", delayed(5), 6, store.EnqueueResult{Accepted: 1, Coalesced: 1}},
	}
	for i, tc := range cases {
		hh := *h // a pipeline per case, so that cases do not see each other
		hh.pipe = fmt.Sprintf("stale-%02d", i)
		key := "k"
		tc.setup(&hh, key)
		if got := hh.enqueue(rec(key, tc.incoming)); got != tc.want {
			h.t.Errorf("%s: Enqueue(%s@%d) = %+v, want %+v", tc.name, key, tc.incoming, got, tc.want)
		}
	}
}

func testBatchSameKey(h *harness) {
	h.wantEnqueue(store.EnqueueResult{Accepted: 2, Coalesced: 1, Stale: 2},
		rec("k", 1), rec("k", 3), rec("k", 2), rec("k", 3))
	h.wantLeased(10, "k@3")
	h.wantStats(store.Stats{InFlight: 1, Accepted: 2, Coalesced: 1, Stale: 2})
}

func testUnversioned(h *harness) {
	body := func(s string) store.Record {
		return store.Record{Key: "k", Payload: []byte(`"` + s + `"`)}
	}
	h.wantEnqueue(store.EnqueueResult{Accepted: 2, Coalesced: 1}, body("a"), body("b"))
	l := h.leaseOne("w", "k", 0)
	if string(l.Record.Payload) != `"b"` {
		h.t.Fatalf("Payload = %s, want the newest arrival \"b\"", l.Record.Payload)
	}
	h.wantEnqueue(store.EnqueueResult{Accepted: 1}, body("c"))
	h.wantEnqueue(store.EnqueueResult{Accepted: 1, Coalesced: 1}, body("d"))
	h.wantLeased(10, "(none)")
	h.ack(l)
	l = h.leaseOne("w", "k", 0)
	if string(l.Record.Payload) != `"d"` {
		h.t.Fatalf("Payload = %s, want \"d\"", l.Record.Payload)
	}
	h.ack(l)
	h.wantEnqueue(store.EnqueueResult{Accepted: 1}, body("e"))
	h.wantStats(store.Stats{Ready: 1, Accepted: 5, Delivered: 2, Coalesced: 2})
}

func testLargeBatch(h *harness) {
	const n = 1000
	recs := make([]store.Record, n)
	for i := range recs {
		p := make([]byte, 1024)
		for j := range p {
			p[j] = 'a' + byte((i+j)%26)
		}
		recs[i] = store.Record{Key: fmt.Sprintf("order-%04d", i), Version: int64(i + 1), Object: "Order", Payload: p}
	}
	h.wantEnqueue(store.EnqueueResult{Accepted: n}, recs...)
	var all []store.Lease
	for len(all) < n {
		ls := h.lease("w", 250, longTTL)
		if len(ls) == 0 {
			h.t.Fatalf("leased %d of %d", len(all), n)
		}
		all = append(all, ls...)
	}
	var outcomes []store.Outcome
	for i, l := range all {
		if !sameRecord(l.Record, recs[i]) {
			h.t.Fatalf("lease %d: record %s@%d differs from %s@%d", i, l.Record.Key, l.Record.Version, recs[i].Key, recs[i].Version)
		}
		outcomes = append(outcomes, store.Outcome{Lease: l, Kind: store.Acked})
	}
	if err := h.s.Settle(h.ctx, outcomes); err != nil {
		h.t.Fatalf("Settle: %v", err)
	}
	h.wantStats(store.Stats{Accepted: n, Delivered: n})
}

func testLeaseExpiry(h *harness) {
	const ttl = 80 * time.Millisecond
	h.enqueue(rec("a", 1))
	l1 := h.lease("A", 1, ttl)[0]
	var l2 store.Lease
	var when time.Time
	if ls := h.lease("B", 1, longTTL); len(ls) != 0 {
		l2, when = ls[0], time.Now()
	} else {
		l2, when = h.poll("B", 5*time.Second)
	}
	if when.Before(l1.Expires.Add(-clockSlack)) {
		h.t.Fatalf("leased again at %v, before the lease expired at %v", when, l1.Expires)
	}
	switch {
	case l2.ID != l1.ID:
		h.t.Fatalf("re-leased ID = %s, want %s", l2.ID, l1.ID)
	case l2.Attempt != 2:
		h.t.Errorf("Attempt = %d, want 2", l2.Attempt)
	case l2.Owner != "B":
		h.t.Errorf("Owner = %q, want B", l2.Owner)
	case l2.Token == l1.Token:
		h.t.Errorf("Token unchanged (%d) after re-lease", l2.Token)
	case !sameRecord(l2.Record, l1.Record):
		h.t.Errorf("Record = %+v, want %+v", l2.Record, l1.Record)
	}

	// The first owner has lost the entry: nothing it does changes anything.
	h.enqueue(rec("b", 1))
	want := store.Stats{Ready: 1, InFlight: 1, Accepted: 2}
	h.wantStats(want)
	h.wantLost("Ack by the old owner", Ack(h.ctx, h.s, l1), l1.ID)
	h.wantLost("Retry by the old owner", Retry(h.ctx, h.s, l1, time.Now(), "x"), l1.ID)
	h.wantLost("DeadLetter by the old owner", DeadLetter(h.ctx, h.s, l1, "x", ""), l1.ID)
	h.wantLost("Renew by the old owner", h.s.Renew(h.ctx, []store.Lease{l1}, time.Minute), l1.ID)
	h.wantStats(want)
	h.ack(l2)

	// Expired leases come first, then ready entries in order.
	lb := h.lease("C", 1, 50*time.Millisecond)
	if leased(lb) != "b@1" {
		h.t.Fatalf("Lease = %s, want b@1", leased(lb))
	}
	h.enqueue(rec("c", 1))
	time.Sleep(time.Until(lb[0].Expires) + 10*time.Millisecond)
	ls := h.wantLeased(2, "b@1 c@1")
	if ls[0].Attempt != 2 || ls[1].Attempt != 1 {
		h.t.Errorf("Attempts = %d, %d; want 2, 1", ls[0].Attempt, ls[1].Attempt)
	}
	h.ack(ls...)
	h.wantStats(store.Stats{Accepted: 3, Delivered: 3})
}

func testExpiredStillHeld(h *harness) {
	h.enqueue(rec("a", 1), rec("b", 1))
	ls := h.lease("A", 2, 30*time.Millisecond)
	time.Sleep(time.Until(ls[1].Expires) + 20*time.Millisecond)
	// Nobody leased them again: the owner may still renew or settle.
	if err := h.s.Renew(h.ctx, ls[:1], longTTL); err != nil {
		h.t.Fatalf("Renew of an expired lease nobody took: %v", err)
	}
	if err := Ack(h.ctx, h.s, ls[1]); err != nil {
		h.t.Fatalf("Ack of an expired lease nobody took: %v", err)
	}
	h.wantLeased(10, "(none)")
	h.ack(ls[0])
	h.wantStats(store.Stats{Accepted: 2, Delivered: 2})
}

func testFencing(h *harness) {
	h.enqueue(rec("k", 1))
	l := h.leaseOne("owner", "k", 1)
	want := store.Stats{InFlight: 1, Accepted: 1}
	forged := []struct {
		name   string
		mutate func(*store.Lease)
	}{
		{"other owner", func(l *store.Lease) { l.Owner = "intruder" }},
		{"old token", func(l *store.Lease) { l.Token-- }},
		{"other token", func(l *store.Lease) { l.Token += 1000 }},
		{"unknown ID", func(l *store.Lease) { l.ID = "987654321" }},
		{"malformed ID", func(l *store.Lease) { l.ID = "not an id" }},
		{"empty ID", func(l *store.Lease) { l.ID = "" }},
		{"other pipeline", func(l *store.Lease) { l.Pipeline = "elsewhere" }},
	}
	ops := []struct {
		name string
		do   func(store.Lease) error
	}{
		{"Ack", func(l store.Lease) error { return Ack(h.ctx, h.s, l) }},
		{"Retry", func(l store.Lease) error { return Retry(h.ctx, h.s, l, time.Now(), "r") }},
		{"DeadLetter", func(l store.Lease) error { return DeadLetter(h.ctx, h.s, l, "r", "f") }},
		{"Renew", func(l store.Lease) error { return h.s.Renew(h.ctx, []store.Lease{l}, time.Minute) }},
	}
	for _, f := range forged {
		for _, op := range ops {
			bad := l
			f.mutate(&bad)
			h.wantLost(op.name+" with "+f.name, op.do(bad), bad.ID)
		}
	}
	h.wantStats(want)
	h.wantLeased(10, "(none)")
	h.ack(l)
	for _, op := range ops {
		h.wantLost(op.name+" after Ack", op.do(l), l.ID)
	}
	h.wantStats(store.Stats{Accepted: 1, Delivered: 1})
}

func testRenew(h *harness) {
	const ttl = 200 * time.Millisecond
	h.enqueue(rec("k", 1))
	ls := h.lease("A", 1, ttl)
	for range 5 { // 5 × 50 ms: longer than the ttl
		time.Sleep(ttl / 4)
		prev := ls[0].Expires
		if err := h.s.Renew(h.ctx, ls, ttl); err != nil {
			h.t.Fatalf("Renew: %v", err)
		}
		if !ls[0].Expires.After(prev) {
			h.t.Fatalf("Renew left Expires at %v (was %v)", ls[0].Expires, prev)
		}
		if other := h.lease("B", 1, longTTL); len(other) != 0 && time.Now().Before(ls[0].Expires) {
			h.t.Fatalf("a renewed lease was leased again before it expired")
		}
	}
	h.ack(ls[0])

	// Renewing a batch renews what is held and reports the rest.
	h.enqueue(rec("a", 1), rec("b", 1))
	ls = h.lease("A", 2, longTTL)
	h.ack(ls[0])
	prev := ls[1].Expires
	time.Sleep(2 * time.Millisecond)
	h.wantLost("Renew with one settled lease", h.s.Renew(h.ctx, ls, 2*longTTL), ls[0].ID)
	if !ls[1].Expires.After(prev) {
		h.t.Errorf("the held lease was not renewed")
	}
	h.ack(ls[1])
	h.wantStats(store.Stats{Accepted: 3, Delivered: 3})
}

func testDelayedRetry(h *harness) {
	h.enqueue(rec("k", 1))
	l := h.leaseOne("w", "k", 1)
	at := time.Now().Add(120 * time.Millisecond)
	if err := Retry(h.ctx, h.s, l, at, "ERP answered 503"); err != nil {
		h.t.Fatalf("Retry: %v", err)
	}
	h.wantStats(store.Stats{Delayed: 1, Accepted: 1})
	l2, when := h.poll("w", 5*time.Second)
	if when.Before(at.Add(-clockSlack)) {
		h.t.Fatalf("retried entry leased at %v, before %v", when, at)
	}
	switch {
	case l2.ID != l.ID || !sameRecord(l2.Record, l.Record):
		h.t.Fatalf("leased %s (%s), want %s", l2.ID, leased([]store.Lease{l2}), l.ID)
	case l2.Attempt != 2:
		h.t.Errorf("Attempt = %d, want 2", l2.Attempt)
	case l2.LastError != "ERP answered 503":
		h.t.Errorf("LastError = %q, want the retry reason", l2.LastError)
	case l2.Token == l.Token:
		h.t.Errorf("Token unchanged after retry")
	}
	h.ack(l2)
	h.wantStats(store.Stats{Accepted: 1, Delivered: 1})
}

func testRetryPast(h *harness) {
	h.enqueue(rec("k", 1))
	l := h.leaseOne("w", "k", 1)
	if err := Retry(h.ctx, h.s, l, time.Now().Add(-time.Hour), "r"); err != nil {
		h.t.Fatalf("Retry: %v", err)
	}
	l = h.leaseOne("w", "k", 1)
	if err := Retry(h.ctx, h.s, l, time.Time{}, "r"); err != nil {
		h.t.Fatalf("Retry(zero time): %v", err)
	}
	l = h.leaseOne("w", "k", 1)
	if l.Attempt != 3 {
		h.t.Errorf("Attempt = %d, want 3", l.Attempt)
	}
	h.ack(l)
}

func testRetrySuperseded(h *harness) {
	h.enqueue(rec("k", 1))
	l1 := h.leaseOne("w", "k", 1)
	h.enqueue(rec("k", 2))
	at := time.Now().Add(100 * time.Millisecond)
	if err := Retry(h.ctx, h.s, l1, at, "timeout"); err != nil {
		h.t.Fatalf("Retry: %v", err)
	}
	// k@1 is dropped; k@2 takes its place and its retry time.
	h.wantStats(store.Stats{Delayed: 1, Accepted: 2, Coalesced: 1})
	l2, when := h.poll("w", 5*time.Second)
	if l2.Record.Key != "k" || l2.Record.Version != 2 || l2.Attempt != 1 {
		h.t.Fatalf("leased %s attempt %d, want k@2 attempt 1", leased([]store.Lease{l2}), l2.Attempt)
	}
	if when.Before(at.Add(-clockSlack)) {
		h.t.Fatalf("k@2 leased at %v, before the retry time %v", when, at)
	}
	h.ack(l2)
	h.wantLeased(10, "(none)")
	h.wantStats(store.Stats{Accepted: 2, Delivered: 1, Coalesced: 1})
}

func testDelayedReplaced(h *harness) {
	h.enqueue(rec("k", 1))
	l1 := h.leaseOne("w", "k", 1)
	at := time.Now().Add(100 * time.Millisecond)
	if err := Retry(h.ctx, h.s, l1, at, "timeout"); err != nil {
		h.t.Fatalf("Retry: %v", err)
	}
	h.wantEnqueue(store.EnqueueResult{Accepted: 1, Coalesced: 1}, rec("k", 2))
	h.wantStats(store.Stats{Delayed: 1, Accepted: 2, Coalesced: 1})
	l2, when := h.poll("w", 5*time.Second)
	if l2.Record.Version != 2 || l2.Attempt != 1 || l2.LastError != "" {
		h.t.Fatalf("leased %s attempt %d (%q), want k@2 attempt 1", leased([]store.Lease{l2}), l2.Attempt, l2.LastError)
	}
	if when.Before(at.Add(-clockSlack)) {
		h.t.Fatalf("k@2 leased at %v, before the retry time %v", when, at)
	}
	h.ack(l2)
}

func testSettle(h *harness) {
	h.enqueue(rec("a", 1), rec("b", 1), rec("c", 1), rec("d", 1))
	ls := h.wantLeased(4, "a@1 b@1 c@1 d@1")
	stale := ls[3]
	stale.Token++
	err := h.s.Settle(h.ctx, []store.Outcome{
		{Lease: ls[0], Kind: store.Acked},
		{Lease: ls[1], Kind: store.Retried, At: time.Now().Add(-time.Second), Reason: "429"},
		{Lease: ls[2], Kind: store.DeadLettered, Reason: "missing mapping", Field: "entity"},
		{Lease: stale, Kind: store.Acked},
	})
	h.wantLost("Settle with a forged lease", err, stale.ID)
	h.wantStats(store.Stats{Delayed: 1, InFlight: 1, DeadLetters: 1, Accepted: 4, Delivered: 1})
	lb := h.wantLeased(10, "b@1")
	if lb[0].Attempt != 2 || lb[0].LastError != "429" {
		h.t.Errorf("b: attempt %d, last error %q; want 2, \"429\"", lb[0].Attempt, lb[0].LastError)
	}
	if err := h.s.Settle(h.ctx, []store.Outcome{{Lease: lb[0]}}); !errors.Is(err, store.ErrInvalid) {
		h.t.Errorf("Settle without a kind: err = %v, want ErrInvalid", err)
	}
	if err := h.s.Settle(h.ctx, []store.Outcome{{Lease: lb[0], Kind: store.Acked}, {Lease: ls[3], Kind: store.Acked}}); err != nil {
		h.t.Fatalf("Settle: %v", err)
	}
	if err := h.s.Settle(h.ctx, nil); err != nil {
		h.t.Fatalf("Settle(nil): %v", err)
	}
	h.wantStats(store.Stats{DeadLetters: 1, Accepted: 4, Delivered: 3})
}

func testCheckpoint(h *harness) {
	get := func(pipeline, source string) (string, error) {
		h.t.Helper()
		v, err := h.s.Checkpoint(h.ctx, pipeline, source)
		return string(v), err
	}
	if _, err := get(h.pipe, "crm"); !errors.Is(err, store.ErrNotFound) {
		h.t.Fatalf("Checkpoint before any: err = %v, want ErrNotFound", err)
	}
	steps := []struct {
		recs []store.Record
		cp   string
	}{
		{[]store.Record{rec("a", 1), rec("b", 1)}, "c1"},
		{nil, "c2"},                         // an empty poll still advances
		{[]store.Record{rec("a", 1)}, "c3"}, // so does a stale re-read
	}
	for _, st := range steps {
		if _, err := h.s.Enqueue(h.ctx, h.pipe, st.recs, &store.Checkpoint{Source: "crm", Value: []byte(st.cp)}); err != nil {
			h.t.Fatalf("Enqueue: %v", err)
		}
		if got, err := get(h.pipe, "crm"); err != nil || got != st.cp {
			h.t.Fatalf("Checkpoint = %q, %v; want %q", got, err, st.cp)
		}
	}
	// A rejected batch saves neither its records nor its checkpoint.
	_, err := h.s.Enqueue(h.ctx, h.pipe, []store.Record{rec("c", 1), {Key: ""}}, &store.Checkpoint{Source: "crm", Value: []byte("c4")})
	if !errors.Is(err, store.ErrInvalid) {
		h.t.Fatalf("Enqueue of an invalid batch: err = %v, want ErrInvalid", err)
	}
	if got, _ := get(h.pipe, "crm"); got != "c3" {
		h.t.Fatalf("Checkpoint = %q after a rejected batch, want c3", got)
	}
	h.wantStats(store.Stats{Ready: 2, Accepted: 2, Stale: 1})

	// Sources and pipelines are separate; an empty checkpoint is a value.
	if _, err := h.s.Enqueue(h.ctx, h.pipe, nil, &store.Checkpoint{Source: "erp", Value: []byte{}}); err != nil {
		h.t.Fatalf("Enqueue: %v", err)
	}
	if got, err := get(h.pipe, "erp"); err != nil || got != "" {
		h.t.Fatalf("Checkpoint(erp) = %q, %v; want empty", got, err)
	}
	if _, err := get("invoices", "crm"); !errors.Is(err, store.ErrNotFound) {
		h.t.Fatalf("Checkpoint of another pipeline: err = %v, want ErrNotFound", err)
	}
}

func testPipelinesIsolated(h *harness) {
	other := *h
	other.pipe = "invoices"
	h.enqueue(rec("k", 5))
	other.enqueue(rec("k", 5))
	l := h.leaseOne("w", "k", 5)
	lo := other.leaseOne("w", "k", 5)
	h.ack(l)
	other.wantEnqueue(store.EnqueueResult{Stale: 1}, rec("k", 5))
	other.wantEnqueue(store.EnqueueResult{Accepted: 1}, rec("k", 6))
	h.wantStats(store.Stats{Accepted: 1, Delivered: 1})
	other.wantStats(store.Stats{Pending: 1, InFlight: 1, Accepted: 2, Stale: 1})
	if err := DeadLetter(h.ctx, other.s, lo, "bad", ""); err != nil {
		h.t.Fatal(err)
	}
	if dls, err := h.s.DeadLetters(h.ctx, h.pipe, "", 0); err != nil || len(dls) != 0 {
		h.t.Fatalf("DeadLetters(orders) = %d, %v; want none", len(dls), err)
	}

	// Any name is a pipeline name, including ones a backend might use
	// itself or that look like Redis hash tags.
	for _, name := range []string{"meta", "format", "ready", "{orders}", "a:b}{c", "naïve pipe/1"} {
		p := *h
		p.pipe = name
		p.enqueue(rec("k", 1))
		p.ack(p.leaseOne("w", "k", 1))
		p.wantStats(store.Stats{Accepted: 1, Delivered: 1})
	}
	h.wantStats(store.Stats{Accepted: 1, Delivered: 1})
}

func testContextCanceled(h *harness) {
	ctx, cancel := context.WithCancel(h.ctx)
	cancel()
	if _, err := h.s.Enqueue(ctx, h.pipe, []store.Record{rec("k", 1)}, nil); !errors.Is(err, context.Canceled) {
		h.t.Fatalf("Enqueue with a canceled context: err = %v, want context.Canceled", err)
	}
	if _, err := h.s.Lease(ctx, h.pipe, "w", 1, time.Second); !errors.Is(err, context.Canceled) {
		h.t.Fatalf("Lease with a canceled context: err = %v, want context.Canceled", err)
	}
	h.wantStats(store.Stats{})
}

func testClosed(h *harness) {
	h.enqueue(rec("k", 1))
	if err := h.s.Ping(h.ctx); err != nil {
		h.t.Fatalf("Ping: %v", err)
	}
	if err := h.s.Close(); err != nil {
		h.t.Fatalf("Close: %v", err)
	}
	if err := h.s.Close(); err != nil {
		h.t.Fatalf("second Close: %v", err)
	}
	checks := map[string]error{}
	_, checks["Enqueue"] = h.s.Enqueue(h.ctx, h.pipe, []store.Record{rec("k", 2)}, nil)
	_, checks["Lease"] = h.s.Lease(h.ctx, h.pipe, "w", 1, time.Second)
	_, checks["Stats"] = h.s.Stats(h.ctx, h.pipe)
	_, checks["Get"] = h.s.Get(h.ctx, "ns", "k")
	checks["Put"] = h.s.Put(h.ctx, "ns", "k", nil)
	_, checks["SetNX"] = h.s.SetNX(h.ctx, "ns", "k", nil, 0)
	_, checks["Lead"] = h.s.Lead(h.ctx, h.pipe, "crm", "w", time.Second)
	checks["Ping"] = h.s.Ping(h.ctx)
	for name, err := range checks {
		if !errors.Is(err, store.ErrClosed) {
			h.t.Errorf("%s after Close: err = %v, want ErrClosed", name, err)
		}
	}
}

// testSettleByIdentity checks that a lease is identified by its pipeline,
// ID, owner and token only: the store settles the entry it holds, whatever
// the caller did to its copy of the record.
func testSettleByIdentity(h *harness) {
	h.enqueue(rec("a", 3), rec("b", 1), rec("c", 1))
	ls := h.wantLeased(3, "a@3 b@1 c@1")
	for i := range ls {
		ls[i].Record = store.Record{Key: "someone-else", Version: 99}
	}
	if err := h.s.Renew(h.ctx, ls, longTTL); err != nil {
		h.t.Fatalf("Renew: %v", err)
	}
	err := h.s.Settle(h.ctx, []store.Outcome{
		{Lease: ls[0], Kind: store.Acked},
		{Lease: ls[1], Kind: store.Retried, At: time.Now().Add(time.Hour), Reason: "later"},
		{Lease: ls[2], Kind: store.DeadLettered, Reason: "bad"},
	})
	if err != nil {
		h.t.Fatalf("Settle: %v", err)
	}
	h.wantStats(store.Stats{Delayed: 1, DeadLetters: 1, Accepted: 3, Delivered: 1})
	// The delivered version is the stored record's, a@3.
	h.wantEnqueue(store.EnqueueResult{Stale: 1}, rec("a", 3))
	h.wantEnqueue(store.EnqueueResult{Accepted: 1}, rec("someone-else", 1))
	dl, err := h.s.DeadLetterByID(h.ctx, h.pipe, ls[2].ID)
	if err != nil || dl.Record.Key != "c" {
		h.t.Fatalf("DeadLetterByID = %+v, %v; want the stored record c@1", dl.Record, err)
	}
}
