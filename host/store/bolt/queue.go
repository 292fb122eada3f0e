package bolt

import (
	"context"
	"math"
	"time"

	"go.etcd.io/bbolt"

	"github.com/weirhq/weir/host/store"
)

// Enqueue implements store.Queue.
func (s *Store) Enqueue(ctx context.Context, pipeline string, recs []store.Record, cp *store.Checkpoint) (store.EnqueueResult, error) {
	if err := checkName("pipeline", pipeline); err != nil {
		return store.EnqueueResult{}, err
	}
	for i := range recs {
		if err := recs[i].Validate(); err != nil {
			return store.EnqueueResult{}, err
		}
	}
	if cp != nil {
		if err := checkName("checkpoint source", cp.Source); err != nil {
			return store.EnqueueResult{}, err
		}
	}
	if len(recs) == 0 && cp == nil {
		return store.EnqueueResult{}, ctx.Err()
	}
	var res store.EnqueueResult
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		res = store.EnqueueResult{}
		p, err := openPipe(tx, pipeline, true)
		if err != nil {
			return err
		}
		if cp != nil && cp.Token != 0 {
			if err := p.checkToken(pipeline, cp.Source, cp.Token); err != nil {
				return err
			}
		}
		now := nanos(s.now())
		for i := range recs {
			ok, c, err := p.enqueue(&recs[i], now)
			if err != nil {
				return err
			}
			if ok {
				res.Accepted++
			} else {
				res.Stale++
			}
			res.Coalesced += c
		}
		if cp != nil {
			if err := p.cps.Put([]byte(cp.Source), prefixed(cp.Value)); err != nil {
				return err
			}
		}
		return p.save()
	})
	if err != nil {
		return store.EnqueueResult{}, err
	}
	return res, nil
}

// promoteLimit bounds how many due retries one Lease moves to the ready
// index, so that a burst of due retries is spread over several calls.
func promoteLimit(max int) int { return 4*max + 64 }

// Lease implements store.Queue.
func (s *Store) Lease(ctx context.Context, pipeline, owner string, max int, ttl time.Duration) ([]store.Lease, error) {
	if err := checkName("pipeline", pipeline); err != nil {
		return nil, err
	}
	if err := checkName("lease owner", owner); err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, store.Invalid("lease ttl %s is not positive", ttl)
	}
	if max <= 0 {
		return nil, ctx.Err()
	}
	// An idle worker's lease usually finds nothing: a read transaction
	// tells, without the commit (and fsync) of a write transaction.
	if ok, err := s.leasable(ctx, pipeline); !ok || err != nil {
		return nil, err
	}
	var out []store.Lease
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		out = out[:0]
		p, err := openPipe(tx, pipeline, false)
		if p == nil || err != nil {
			return err
		}
		now := nanos(s.now())
		exp := addNanos(now, ttl)

		// Due retries join the ready index at their queue position.
		var due [][]byte
		c := p.delayed.Cursor()
		for k, _ := c.First(); k != nil && len(due) < promoteLimit(max); k, _ = c.Next() {
			if int64(be64(k)) > now {
				break
			}
			due = append(due, k)
		}
		for _, k := range due {
			id := be64(p.delayed.Get(k))
			if err := p.delayed.Delete(k); err != nil {
				return err
			}
			e, ok, err := p.entry(id)
			if err != nil || !ok || e.state != stDelayed {
				return errCorrupt
			}
			e.state, e.at = stReady, 0
			if err := p.ready.Put(u64(e.seq), u64(id)); err != nil {
				return err
			}
			if err := p.putEntry(id, &e); err != nil {
				return err
			}
			p.m.delayed--
			p.m.ready++
		}

		lease := func(id uint64, e *entry) error {
			p.m.token++
			e.state, e.attempt, e.token, e.owner, e.at = stLeased, e.attempt+1, p.m.token, owner, exp
			if err := p.inflight.Put(pair(uint64(exp), id), nil); err != nil {
				return err
			}
			if err := p.putEntry(id, e); err != nil {
				return err
			}
			out = append(out, e.lease(pipeline, id))
			return nil
		}

		// Expired leases first: they are the oldest work.
		var expired [][]byte
		c = p.inflight.Cursor()
		for k, _ := c.First(); k != nil && len(expired) < max; k, _ = c.Next() {
			if int64(be64(k)) > now {
				break
			}
			expired = append(expired, k)
		}
		for _, k := range expired {
			id := be64(k[8:])
			if err := p.inflight.Delete(k); err != nil {
				return err
			}
			e, ok, err := p.entry(id)
			if err != nil || !ok || e.state != stLeased {
				return errCorrupt
			}
			if err := lease(id, &e); err != nil {
				return err
			}
		}

		// Then ready entries in queue order.
		var ready [][]byte
		c = p.ready.Cursor()
		for k, _ := c.First(); k != nil && len(out)+len(ready) < max; k, _ = c.Next() {
			ready = append(ready, k)
		}
		for _, k := range ready {
			id := be64(p.ready.Get(k))
			if err := p.ready.Delete(k); err != nil {
				return err
			}
			e, ok, err := p.entry(id)
			if err != nil || !ok || e.state != stReady {
				return errCorrupt
			}
			if err := lease(id, &e); err != nil {
				return err
			}
			p.m.ready--
			p.m.inflight++
		}
		if len(due) == 0 && len(out) == 0 {
			return nil
		}
		return p.save()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// leasable reports whether Lease would find anything: a ready entry, a due
// retry or an expired lease.
func (s *Store) leasable(ctx context.Context, pipeline string) (bool, error) {
	var ok bool
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		p, err := openPipe(tx, pipeline, false)
		if p == nil || err != nil {
			return err
		}
		now := nanos(s.now())
		if k, _ := p.ready.Cursor().First(); k != nil {
			ok = true
		} else if k, _ := p.delayed.Cursor().First(); k != nil && int64(be64(k)) <= now {
			ok = true
		} else if k, _ := p.inflight.Cursor().First(); k != nil && int64(be64(k)) <= now {
			ok = true
		}
		return nil
	})
	return ok, err
}

// lease builds the caller's view of a leased entry.
func (e *entry) lease(pipeline string, id uint64) store.Lease {
	return store.Lease{
		Pipeline:   pipeline,
		Record:     e.rec,
		ID:         idString(id),
		Attempt:    int(e.attempt),
		Owner:      e.owner,
		Token:      e.token,
		Expires:    timeOf(e.at),
		LastError:  e.lastErr,
		EnqueuedAt: timeOf(e.enq),
	}
}

// held returns the leased entry if l still holds it.
func (p *pipe) held(l *store.Lease) (uint64, entry, bool, error) {
	id, ok := parseID(l.ID)
	if !ok {
		return 0, entry{}, false, nil
	}
	e, ok, err := p.entry(id)
	if err != nil || !ok {
		return 0, e, false, err
	}
	if e.state != stLeased || e.owner != l.Owner || e.token != l.Token {
		return 0, e, false, nil
	}
	return id, e, true, nil
}

// Renew implements store.Queue.
func (s *Store) Renew(ctx context.Context, leases []store.Lease, ttl time.Duration) error {
	if ttl <= 0 {
		return store.Invalid("lease ttl %s is not positive", ttl)
	}
	if len(leases) == 0 {
		return ctx.Err()
	}
	var lost []string
	var expires int64
	renewed := make([]bool, len(leases))
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		lost = lost[:0]
		clear(renewed)
		expires = addNanos(nanos(s.now()), ttl)
		pipes := map[string]*pipe{}
		for i := range leases {
			l := &leases[i]
			p, err := pipeOf(tx, pipes, l.Pipeline)
			if err != nil {
				return err
			}
			var id uint64
			var e entry
			ok := false
			if p != nil {
				if id, e, ok, err = p.held(l); err != nil {
					return err
				}
			}
			if !ok {
				lost = append(lost, l.ID)
				continue
			}
			if err := p.inflight.Delete(pair(uint64(e.at), id)); err != nil {
				return err
			}
			e.at = expires
			if err := p.inflight.Put(pair(uint64(e.at), id), nil); err != nil {
				return err
			}
			if err := p.putEntry(id, &e); err != nil {
				return err
			}
			renewed[i] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := range leases {
		if renewed[i] {
			leases[i].Expires = timeOf(expires)
		}
	}
	if len(lost) > 0 {
		return &store.LeaseLostError{IDs: lost}
	}
	return nil
}

// pipeOf opens a pipeline once per transaction; pipelines without a bucket
// are nil.
func pipeOf(tx *bbolt.Tx, pipes map[string]*pipe, name string) (*pipe, error) {
	if p, ok := pipes[name]; ok {
		return p, nil
	}
	if name == "" {
		return nil, nil
	}
	p, err := openPipe(tx, name, false)
	if err != nil {
		return nil, err
	}
	pipes[name] = p
	return p, nil
}

// Settle implements store.Queue. All outcomes share one commit.
func (s *Store) Settle(ctx context.Context, outcomes []store.Outcome) error {
	if err := store.CheckOutcomes(outcomes); err != nil {
		return err
	}
	if len(outcomes) == 0 {
		return ctx.Err()
	}
	var lost []string
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		lost = lost[:0]
		pipes := map[string]*pipe{}
		now := nanos(s.now())
		for i := range outcomes {
			o := &outcomes[i]
			p, err := pipeOf(tx, pipes, o.Lease.Pipeline)
			if err != nil {
				return err
			}
			ok := false
			if p != nil {
				if ok, err = p.settle(o, now); err != nil {
					return err
				}
			}
			if !ok {
				lost = append(lost, o.Lease.ID)
			}
		}
		for _, p := range pipes {
			if p != nil {
				if err := p.save(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(lost) > 0 {
		return &store.LeaseLostError{IDs: lost}
	}
	return nil
}

// settle applies one outcome if its lease is still held.
func (p *pipe) settle(o *store.Outcome, now int64) (bool, error) {
	id, e, ok, err := p.held(&o.Lease)
	if err != nil || !ok {
		return false, err
	}
	if err := p.inflight.Delete(pair(uint64(e.at), id)); err != nil {
		return false, err
	}
	p.m.inflight--
	ks, err := p.keyState(e.rec.Key)
	if err != nil {
		return false, err
	}
	if ks.cur != id {
		return false, errCorrupt
	}
	switch o.Kind {
	case store.Acked:
		ks.delivered = max(ks.delivered, e.rec.Version)
		ks.deliveredAt = now
		p.m.delivered++
		if err := p.entries.Delete(u64(id)); err != nil {
			return false, err
		}
		ks.cur, ks.curVer = 0, 0
		if err := p.promotePending(&ks); err != nil {
			return false, err
		}
	case store.Retried:
		due := max(nanos(o.At), 0)
		target, te := id, e
		if ks.pend != 0 {
			// A newer version arrived meanwhile: it takes the retry slot.
			if err := p.entries.Delete(u64(id)); err != nil {
				return false, err
			}
			p.m.coalesced++
			p.m.pending--
			pe, ok, err := p.entry(ks.pend)
			if err != nil || !ok || pe.state != stPending {
				return false, errCorrupt
			}
			target, te = ks.pend, pe
			ks.cur, ks.curVer, ks.pend, ks.pendVer = ks.pend, ks.pendVer, 0, 0
		} else {
			te.lastErr = o.Reason
		}
		te.state, te.at = stDelayed, due
		if err := p.delayed.Put(pair(uint64(due), te.seq), u64(target)); err != nil {
			return false, err
		}
		if err := p.putEntry(target, &te); err != nil {
			return false, err
		}
		p.m.delayed++
	case store.DeadLettered:
		d := deadLetter{rec: e.rec, reason: o.Reason, field: o.Field, attempts: e.attempt, at: now, enq: e.enq}
		if err := p.dead.Put(u64(id), d.encode(nil)); err != nil {
			return false, err
		}
		p.m.dead++
		if err := p.entries.Delete(u64(id)); err != nil {
			return false, err
		}
		ks.cur, ks.curVer = 0, 0
		if err := p.promotePending(&ks); err != nil {
			return false, err
		}
	}
	return true, p.putKeyState(e.rec.Key, &ks)
}

// promotePending makes the key's pending entry current and ready, at its
// own enqueue position.
func (p *pipe) promotePending(ks *keyState) error {
	if ks.pend == 0 {
		return nil
	}
	e, ok, err := p.entry(ks.pend)
	if err != nil || !ok || e.state != stPending {
		return errCorrupt
	}
	e.state = stReady
	if err := p.ready.Put(u64(e.seq), u64(ks.pend)); err != nil {
		return err
	}
	if err := p.putEntry(ks.pend, &e); err != nil {
		return err
	}
	p.m.pending--
	p.m.ready++
	ks.cur, ks.curVer, ks.pend, ks.pendVer = ks.pend, ks.pendVer, 0, 0
	return nil
}

// Checkpoint implements store.Queue.
func (s *Store) Checkpoint(ctx context.Context, pipeline, source string) ([]byte, error) {
	var out []byte
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		p, err := openPipe(tx, pipeline, false)
		if err != nil {
			return err
		}
		if p == nil || source == "" {
			return store.ErrNotFound
		}
		v := p.cps.Get([]byte(source))
		if len(v) == 0 {
			return store.ErrNotFound
		}
		out = append([]byte{}, v[1:]...)
		return nil
	})
	return out, err
}

// Stats implements store.Queue.
func (s *Store) Stats(ctx context.Context, pipeline string) (store.Stats, error) {
	var st store.Stats
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		p, err := openPipe(tx, pipeline, false)
		if p != nil {
			st = statsOf(&p.m)
		}
		return err
	})
	return st, err
}

// checkName rejects names that cannot be bucket keys.
func checkName(what, name string) error {
	switch {
	case name == "":
		return store.Invalid("empty %s", what)
	case len(name) > bbolt.MaxKeySize:
		return store.Invalid("%s is longer than %d bytes", what, bbolt.MaxKeySize)
	}
	return nil
}

// prefixed returns v behind a marker byte, so that an empty value is told
// apart from a missing one.
func prefixed(v []byte) []byte {
	return append([]byte{1}, v...)
}

// addNanos adds d to t, saturating instead of overflowing.
func addNanos(t int64, d time.Duration) int64 {
	if int64(d) > math.MaxInt64-t {
		return math.MaxInt64
	}
	return t + int64(d)
}

// ForgetDelivered implements store.Queue. The cursor is the last key
// examined. Keys are examined in a read transaction; only those found idle
// are deleted, after a check in the write transaction.
func (s *Store) ForgetDelivered(ctx context.Context, pipeline string, olderThan time.Duration, cursor string, limit int) (int, string, error) {
	if err := checkName("pipeline", pipeline); err != nil {
		return 0, "", err
	}
	if limit <= 0 {
		limit = 1000
	}
	before := nanos(s.now().Add(-olderThan))
	forgettable := func(v []byte) (bool, error) {
		var ks keyState
		if err := decodeKeyState(v, &ks); err != nil {
			return false, err
		}
		return ks.cur == 0 && ks.pend == 0 && ks.deliveredAt <= before, nil
	}
	var idle [][]byte
	var next string
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		p, err := openPipe(tx, pipeline, false)
		if err != nil || p == nil {
			return err
		}
		c := p.keys.Cursor()
		k, v := c.First()
		if cursor != "" {
			if k, v = c.Seek([]byte(cursor)); k != nil && string(k) == cursor {
				k, v = c.Next()
			}
		}
		for n := 0; k != nil && n < limit; k, v = c.Next() {
			n++
			next = string(k)
			ok, err := forgettable(v)
			if err != nil {
				return err
			}
			if ok {
				idle = append(idle, append([]byte(nil), k...))
			}
		}
		if k == nil {
			next = ""
		}
		return nil
	})
	if err != nil || len(idle) == 0 {
		return 0, next, err
	}
	var forgot int
	err = s.update(ctx, func(tx *bbolt.Tx) error {
		forgot = 0
		p, err := openPipe(tx, pipeline, false)
		if err != nil || p == nil {
			return err
		}
		for _, key := range idle {
			v := p.keys.Get(key)
			if v == nil {
				continue
			}
			ok, err := forgettable(v)
			if err != nil {
				return err
			}
			if !ok { // busy again since the scan
				continue
			}
			if err := p.keys.Delete(key); err != nil {
				return err
			}
			forgot++
		}
		return nil
	})
	return forgot, next, err
}
