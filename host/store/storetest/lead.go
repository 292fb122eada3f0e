package storetest

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/weirhq/weir/host/store"
)

// lead calls Lead and fails the test on errors other than ErrNotLeader,
// which it reports as ok == false.
func (h *harness) lead(pipeline, source, owner string, ttl time.Duration) (token uint64, ok bool) {
	h.t.Helper()
	tok, err := h.s.Lead(h.ctx, pipeline, source, owner, ttl)
	switch {
	case errors.Is(err, store.ErrNotLeader):
		if tok != 0 {
			h.t.Fatalf("Lead(%s) refused with token %d, want 0", owner, tok)
		}
		return 0, false
	case err != nil:
		h.t.Fatalf("Lead(%s, %s, %s): %v", pipeline, source, owner, err)
	case tok == 0:
		h.t.Fatalf("Lead(%s) returned token 0", owner)
	}
	return tok, true
}

// pollLead calls Lead every few milliseconds until owner gets the
// leadership, and returns the token and the test's times just before and
// just after the successful call.
func (h *harness) pollLead(source, owner string, ttl, within time.Duration) (tok uint64, start, end time.Time) {
	h.t.Helper()
	deadline := time.Now().Add(within)
	for {
		start := time.Now()
		tok, ok := h.lead(h.pipe, source, owner, ttl)
		now := time.Now()
		if ok {
			return tok, start, now
		}
		if now.After(deadline) {
			h.t.Fatalf("%s did not get the leadership of %s within %s", owner, source, within)
		}
		time.Sleep(3 * time.Millisecond)
	}
}

func testLead(h *harness) {
	const ttl = 150 * time.Millisecond
	a1, ok := h.lead(h.pipe, "crm", "A", ttl)
	if !ok {
		h.t.Fatalf("first Lead refused")
	}
	renewedAt := time.Now()
	if a2, ok := h.lead(h.pipe, "crm", "A", ttl); !ok || a2 != a1 {
		h.t.Fatalf("renewal by the leader = %d, %v; want the same token %d", a2, ok, a1)
	}
	if _, ok := h.lead(h.pipe, "crm", "B", longTTL); ok {
		h.t.Fatalf("B got the leadership while A holds it")
	}
	// Sources and pipelines are led separately.
	if _, ok := h.lead(h.pipe, "erp", "B", longTTL); !ok {
		h.t.Fatalf("B could not lead another source")
	}
	if _, ok := h.lead("invoices", "crm", "B", longTTL); !ok {
		h.t.Fatalf("B could not lead another pipeline's source")
	}

	// The leader's checkpoint goes through.
	cp := func(v string, tok uint64) *store.Checkpoint {
		return &store.Checkpoint{Source: "crm", Value: []byte(v), Token: tok}
	}
	if _, err := h.s.Enqueue(h.ctx, h.pipe, []store.Record{rec("a", 1)}, cp("c1", a1)); err != nil {
		h.t.Fatalf("Enqueue by the leader: %v", err)
	}

	// A stops renewing; B takes over once A's lease has expired, with a
	// larger token.
	b1, acquiredFrom, when := h.pollLead("crm", "B", ttl, 5*time.Second)
	if when.Before(renewedAt.Add(ttl - clockSlack)) {
		h.t.Fatalf("B took over at %v, before A's lease (renewed after %v) expired", when, renewedAt)
	}
	if b1 <= a1 {
		h.t.Fatalf("new leader's token %d is not larger than %d", b1, a1)
	}
	if _, ok := h.lead(h.pipe, "crm", "A", ttl); ok {
		h.t.Fatalf("the old leader got the leadership back while B holds it")
	}

	// The old leader is fenced: its checkpoint and records are refused.
	want := store.Stats{Ready: 1, Accepted: 1}
	_, err := h.s.Enqueue(h.ctx, h.pipe, []store.Record{rec("b", 1)}, cp("stale", a1))
	if !errors.Is(err, store.ErrNotLeader) {
		h.t.Fatalf("Enqueue with a stale token: err = %v, want ErrNotLeader", err)
	}
	h.wantStats(want)
	if v, err := h.s.Checkpoint(h.ctx, h.pipe, "crm"); err != nil || string(v) != "c1" {
		h.t.Fatalf("Checkpoint = %q, %v after a refused enqueue; want c1", v, err)
	}
	for _, tc := range []struct {
		name string
		cp   *store.Checkpoint
	}{
		{"a token never issued", cp("x", b1+1000)},
		{"a source nobody leads", &store.Checkpoint{Source: "nobody", Value: []byte("x"), Token: 1}},
	} {
		if _, err := h.s.Enqueue(h.ctx, h.pipe, nil, tc.cp); !errors.Is(err, store.ErrNotLeader) {
			h.t.Errorf("Enqueue with %s: err = %v, want ErrNotLeader", tc.name, err)
		}
	}
	if _, err := h.s.Enqueue(h.ctx, h.pipe, []store.Record{rec("b", 1)}, cp("c2", b1)); err != nil {
		h.t.Fatalf("Enqueue by the new leader: %v", err)
	}
	// A zero token is not checked.
	if _, err := h.s.Enqueue(h.ctx, h.pipe, nil, cp("c3", 0)); err != nil {
		h.t.Fatalf("Enqueue without a token: %v", err)
	}
	if v, err := h.s.Checkpoint(h.ctx, h.pipe, "crm"); err != nil || string(v) != "c3" {
		h.t.Fatalf("Checkpoint = %q, %v; want c3", v, err)
	}
	h.wantStats(store.Stats{Ready: 2, Accepted: 2})

	// A leader that lets its lease lapse starts a new term: even the same
	// owner gets a larger token, and the old one no longer saves.
	// B's lease runs at least until acquiredFrom + ttl; a call that ended
	// before that renewed it.
	b2, _, renewedBy := h.pollLead("crm", "B", ttl, 5*time.Second)
	if renewedBy.Before(acquiredFrom.Add(ttl-clockSlack)) && b2 != b1 {
		h.t.Fatalf("B renewed within its term but got token %d, want %d", b2, b1)
	}
	time.Sleep(ttl + 20*time.Millisecond)
	b3, ok := h.lead(h.pipe, "crm", "B", ttl)
	if !ok || b3 <= b1 {
		h.t.Fatalf("B after its lease lapsed = %d, %v; want a token larger than %d", b3, ok, b1)
	}
	if _, err := h.s.Enqueue(h.ctx, h.pipe, nil, cp("c4", b1)); !errors.Is(err, store.ErrNotLeader) {
		h.t.Fatalf("Enqueue with the previous term's token: err = %v, want ErrNotLeader", err)
	}

	invalid := []struct {
		name                    string
		pipeline, source, owner string
		ttl                     time.Duration
	}{
		{"empty pipeline", "", "crm", "A", ttl},
		{"empty source", h.pipe, "", "A", ttl},
		{"empty owner", h.pipe, "crm", "", ttl},
		{"zero ttl", h.pipe, "crm", "A", 0},
		{"negative ttl", h.pipe, "crm", "A", -time.Second},
	}
	for _, tc := range invalid {
		if _, err := h.s.Lead(h.ctx, tc.pipeline, tc.source, tc.owner, tc.ttl); !errors.Is(err, store.ErrInvalid) {
			h.t.Errorf("Lead with %s: err = %v, want ErrInvalid", tc.name, err)
		}
	}
	ctx, cancel := context.WithCancel(h.ctx)
	cancel()
	if _, err := h.s.Lead(ctx, h.pipe, "crm", "B", ttl); !errors.Is(err, context.Canceled) {
		h.t.Errorf("Lead with a canceled context: err = %v, want context.Canceled", err)
	}
}

// testLeadContenders runs several owners that keep trying to lead one
// source and checks that at most one holds it at any time and that tokens
// grow with each new leader.
func testLeadContenders(h *harness) {
	const (
		owners = 4
		ttl    = 60 * time.Millisecond
		run    = 600 * time.Millisecond
	)
	type term struct {
		owner string
		token uint64
		start time.Time // test clock when the acquiring Lead returned
		end   time.Time // test clock when the term's last renewal was called
	}
	terms := make(chan term, 1000)
	errs := make(chan error, owners)
	stop := time.Now().Add(run)
	for i := range owners {
		owner := string(rune('A' + i))
		go func() {
			r := rand.New(rand.NewPCG(uint64(i), 3))
			var cur *term
			for time.Now().Before(stop) {
				before := time.Now()
				tok, err := h.s.Lead(h.ctx, h.pipe, "crm", owner, ttl)
				switch {
				case errors.Is(err, store.ErrNotLeader):
				case err != nil:
					errs <- err
					return
				case cur != nil && cur.token == tok:
					cur.end = before
				default:
					if cur != nil {
						terms <- *cur
					}
					cur = &term{owner: owner, token: tok, start: time.Now(), end: before}
				}
				// A leader sometimes stalls past its lease.
				if err == nil && r.IntN(4) == 0 {
					time.Sleep(ttl + 10*time.Millisecond)
				} else {
					time.Sleep(ttl / 4)
				}
			}
			if cur != nil {
				terms <- *cur
			}
			errs <- nil
		}()
	}
	for range owners {
		if err := <-errs; err != nil {
			h.t.Fatalf("Lead: %v", err)
		}
	}
	close(terms)
	byToken := map[uint64]term{}
	for tm := range terms {
		if other, dup := byToken[tm.token]; dup {
			h.t.Fatalf("token %d given to %s and %s", tm.token, other.owner, tm.owner)
		}
		byToken[tm.token] = tm
	}
	if len(byToken) < 2 {
		h.t.Fatalf("only %d terms; the contenders never took over", len(byToken))
	}
	// A later token's term begins only after every earlier term's lease,
	// counted from its last renewal, has expired.
	for tok, tm := range byToken {
		for tok2, tm2 := range byToken {
			if tok2 < tok && tm.start.Before(tm2.end.Add(ttl-clockSlack)) {
				h.t.Errorf("%s's term (token %d) began at %v, before %s's term (token %d, renewed at %v) expired",
					tm.owner, tok, tm.start, tm2.owner, tok2, tm2.end)
			}
		}
	}
}
