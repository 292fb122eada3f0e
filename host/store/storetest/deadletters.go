package storetest

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/weirhq/weir/host/store"
)

func testDeadLetter(h *harness) {
	h.enqueue(rec("k", 1))
	l1 := h.leaseOne("w", "k", 1)
	h.enqueue(rec("k", 2))
	before := time.Now()
	if err := DeadLetter(h.ctx, h.s, l1, `unknown unit "Pack of 12"`, "item.items[0].units"); err != nil {
		h.t.Fatalf("DeadLetter: %v", err)
	}
	after := time.Now()
	h.wantStats(store.Stats{Ready: 1, DeadLetters: 1, Accepted: 2})
	// The dead letter does not block the key's newer version.
	l2 := h.leaseOne("w", "k", 2)

	dl, err := h.s.DeadLetterByID(h.ctx, h.pipe, l1.ID)
	if err != nil {
		h.t.Fatalf("DeadLetterByID: %v", err)
	}
	switch {
	case dl.ID != l1.ID:
		h.t.Errorf("ID = %q, want the entry's %q", dl.ID, l1.ID)
	case dl.Pipeline != h.pipe:
		h.t.Errorf("Pipeline = %q, want %q", dl.Pipeline, h.pipe)
	case !sameRecord(dl.Record, l1.Record):
		h.t.Errorf("Record = %+v, want %+v", dl.Record, l1.Record)
	case dl.Reason != `unknown unit "Pack of 12"` || dl.Field != "item.items[0].units":
		h.t.Errorf("Reason, Field = %q, %q", dl.Reason, dl.Field)
	case dl.Attempts != 1:
		h.t.Errorf("Attempts = %d, want 1", dl.Attempts)
	case dl.At.Before(before.Add(-clockSlack)) || dl.At.After(after.Add(clockSlack)):
		h.t.Errorf("At = %v, want in [%v, %v]", dl.At, before, after)
	case !near(dl.EnqueuedAt, l1.EnqueuedAt, time.Millisecond):
		h.t.Errorf("EnqueuedAt = %v, want %v", dl.EnqueuedAt, l1.EnqueuedAt)
	}
	if dls, err := h.s.DeadLetters(h.ctx, h.pipe, "", 0); err != nil || len(dls) != 1 || dls[0].ID != l1.ID {
		h.t.Errorf("DeadLetters = %v, %v; want [%s]", dls, err, l1.ID)
	}
	for _, id := range []string{"987654321", "x", ""} {
		if _, err := h.s.DeadLetterByID(h.ctx, h.pipe, id); !errors.Is(err, store.ErrNotFound) {
			h.t.Errorf("DeadLetterByID(%q): err = %v, want ErrNotFound", id, err)
		}
	}

	// A dead-lettered key with nothing pending takes new versions at once.
	if err := DeadLetter(h.ctx, h.s, l2, "bad", ""); err != nil {
		h.t.Fatalf("DeadLetter: %v", err)
	}
	h.wantEnqueue(store.EnqueueResult{Accepted: 1}, rec("k", 3))
	h.ack(h.leaseOne("w", "k", 3))
	h.wantStats(store.Stats{DeadLetters: 2, Accepted: 3, Delivered: 1})
}

// deadLetterAll leases every ready entry and dead-letters it, returning the
// leases in order.
func (h *harness) deadLetterAll() []store.Lease {
	h.t.Helper()
	ls := h.lease("w", 100, longTTL)
	for _, l := range ls {
		if err := DeadLetter(h.ctx, h.s, l, "rejected "+l.Record.Key, ""); err != nil {
			h.t.Fatalf("DeadLetter: %v", err)
		}
	}
	return ls
}

func (h *harness) dlIDs(after string, limit int) []string {
	h.t.Helper()
	dls, err := h.s.DeadLetters(h.ctx, h.pipe, after, limit)
	if err != nil {
		h.t.Fatalf("DeadLetters: %v", err)
	}
	ids := []string{}
	for _, d := range dls {
		ids = append(ids, d.ID)
	}
	return ids
}

func testDeadLetterReplayDrop(h *harness) {
	for i := range 5 {
		h.enqueue(rec(fmt.Sprintf("d%d", i), 1))
	}
	ls := h.deadLetterAll()
	var ids []string
	for _, l := range ls {
		ids = append(ids, l.ID)
	}

	// Paging, oldest first.
	pages := []struct {
		after string
		limit int
		want  []string
	}{
		{"", 2, ids[0:2]},
		{ids[1], 2, ids[2:4]},
		{ids[3], 2, ids[4:5]},
		{ids[4], 2, []string{}},
		{"", 0, ids},
		{"", 100, ids},
	}
	for _, p := range pages {
		if got := h.dlIDs(p.after, p.limit); !slices.Equal(got, p.want) {
			h.t.Errorf("DeadLetters(after %q, limit %d) = %v, want %v", p.after, p.limit, got, p.want)
		}
	}

	// Replay one (and an unknown ID).
	res, err := h.s.Replay(h.ctx, h.pipe, []string{ids[1], "987654321"})
	if err != nil {
		h.t.Fatalf("Replay: %v", err)
	}
	if res.Replayed != 1 || len(res.Stale) != 0 || !slices.Equal(res.Missing, []string{"987654321"}) {
		h.t.Fatalf("Replay = %+v, want 1 replayed and the unknown ID missing", res)
	}
	h.wantStats(store.Stats{Ready: 1, DeadLetters: 4, Accepted: 6})
	l := h.leaseOne("w", "d1", 1)
	if l.Attempt != 1 {
		h.t.Errorf("replayed Attempt = %d, want 1", l.Attempt)
	}
	h.ack(l)

	// A dead letter whose key has since delivered a newer version is stale:
	// it is reported and kept.
	h.enqueue(rec("d2", 2))
	h.ack(h.leaseOne("w", "d2", 2))
	res, err = h.s.Replay(h.ctx, h.pipe, []string{ids[2]})
	if err != nil || res.Replayed != 0 || !slices.Equal(res.Stale, []string{ids[2]}) {
		h.t.Fatalf("Replay of a stale dead letter = %+v, %v; want it reported stale", res, err)
	}
	if _, err := h.s.DeadLetterByID(h.ctx, h.pipe, ids[2]); err != nil {
		h.t.Fatalf("stale dead letter was not kept: %v", err)
	}

	// Drop one.
	if n, err := h.s.Drop(h.ctx, h.pipe, []string{ids[3], "987654321"}); err != nil || n != 1 {
		h.t.Fatalf("Drop = %d, %v; want 1", n, err)
	}
	if _, err := h.s.DeadLetterByID(h.ctx, h.pipe, ids[3]); !errors.Is(err, store.ErrNotFound) {
		h.t.Fatalf("dropped dead letter: err = %v, want ErrNotFound", err)
	}

	// Replay all: d0 and d4 go back, d2 stays (stale).
	res, err = h.s.Replay(h.ctx, h.pipe, nil)
	if err != nil || res.Replayed != 2 || !slices.Equal(res.Stale, []string{ids[2]}) || len(res.Missing) != 0 {
		h.t.Fatalf("Replay(all) = %+v, %v; want 2 replayed, %s stale", res, err, ids[2])
	}
	h.ack(h.wantLeased(10, "d0@1 d4@1")...)
	h.wantStats(store.Stats{DeadLetters: 1, Accepted: 9, Delivered: 4})

	// A version older than one in flight is stale too.
	h.enqueue(rec("e", 1))
	le := h.deadLetterAll()
	h.enqueue(rec("e", 2))
	inflight := h.leaseOne("w", "e", 2)
	res, err = h.s.Replay(h.ctx, h.pipe, []string{le[0].ID})
	if err != nil || !slices.Equal(res.Stale, []string{le[0].ID}) {
		h.t.Fatalf("Replay behind a newer in-flight version = %+v, %v; want stale", res, err)
	}
	h.ack(inflight)

	// Drop all.
	if n, err := h.s.Drop(h.ctx, h.pipe, nil); err != nil || n != 2 {
		h.t.Fatalf("Drop(all) = %d, %v; want 2", n, err)
	}
	if got := h.dlIDs("", 0); len(got) != 0 {
		h.t.Fatalf("DeadLetters after Drop(all) = %v", got)
	}
	h.wantStats(store.Stats{Accepted: 11, Delivered: 5})
}
