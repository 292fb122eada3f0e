package bolt

import (
	"context"

	"go.etcd.io/bbolt"

	"github.com/weirhq/weir/host/store"
)

// defaultPage is the page size of DeadLetters when none is given.
const defaultPage = 100

// chunk bounds the dead letters handled in one transaction by Replay and
// Drop, so that "all" does not hold the writer for long.
const chunk = 256

func (d *deadLetter) public(pipeline string, id uint64) store.DeadLetter {
	return store.DeadLetter{
		ID:         idString(id),
		Pipeline:   pipeline,
		Record:     d.rec,
		Reason:     d.reason,
		Field:      d.field,
		Attempts:   int(d.attempts),
		At:         timeOf(d.at),
		EnqueuedAt: timeOf(d.enq),
	}
}

// DeadLetters implements store.DeadLetterQueue.
func (s *Store) DeadLetters(ctx context.Context, pipeline, after string, limit int) ([]store.DeadLetter, error) {
	if limit <= 0 {
		limit = defaultPage
	}
	var from uint64
	if after != "" {
		id, ok := parseID(after)
		if !ok {
			return nil, store.Invalid("dead letter cursor %q is not an ID", after)
		}
		from = id
	}
	var out []store.DeadLetter
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		p, err := openPipe(tx, pipeline, false)
		if p == nil || err != nil {
			return err
		}
		c := p.dead.Cursor()
		for k, v := c.Seek(u64(from + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			var d deadLetter
			if err := decodeDeadLetter(v, &d); err != nil {
				return err
			}
			out = append(out, d.public(pipeline, be64(k)))
		}
		return nil
	})
	return out, err
}

// DeadLetterByID implements store.DeadLetterQueue.
func (s *Store) DeadLetterByID(ctx context.Context, pipeline, id string) (store.DeadLetter, error) {
	var out store.DeadLetter
	n, ok := parseID(id)
	if !ok {
		return out, store.ErrNotFound
	}
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		p, err := openPipe(tx, pipeline, false)
		if err != nil {
			return err
		}
		if p == nil {
			return store.ErrNotFound
		}
		v := p.dead.Get(u64(n))
		if v == nil {
			return store.ErrNotFound
		}
		var d deadLetter
		if err := decodeDeadLetter(v, &d); err != nil {
			return err
		}
		out = d.public(pipeline, n)
		return nil
	})
	return out, err
}

// Replay implements store.DeadLetterQueue.
func (s *Store) Replay(ctx context.Context, pipeline string, ids []string) (store.ReplayResult, error) {
	var res store.ReplayResult
	err := s.eachDead(ctx, pipeline, ids, func(p *pipe, id uint64, v []byte, r *chunkResult) error {
		var d deadLetter
		if err := decodeDeadLetter(v, &d); err != nil {
			return err
		}
		ks, err := p.keyState(d.rec.Key)
		if err != nil {
			return err
		}
		if d.rec.Version != 0 && d.rec.Version <= ks.newest() {
			r.stale = append(r.stale, idString(id))
			return nil
		}
		if _, _, err := p.enqueue(&d.rec, nanos(s.now())); err != nil {
			return err
		}
		if err := p.dead.Delete(u64(id)); err != nil {
			return err
		}
		p.m.dead--
		r.n++
		return nil
	}, func(r *chunkResult) {
		res.Replayed += r.n
		res.Stale = append(res.Stale, r.stale...)
		res.Missing = append(res.Missing, r.missing...)
	})
	return res, err
}

// Drop implements store.DeadLetterQueue.
func (s *Store) Drop(ctx context.Context, pipeline string, ids []string) (int, error) {
	n := 0
	err := s.eachDead(ctx, pipeline, ids, func(p *pipe, id uint64, _ []byte, r *chunkResult) error {
		if err := p.dead.Delete(u64(id)); err != nil {
			return err
		}
		p.m.dead--
		r.n++
		return nil
	}, func(r *chunkResult) { n += r.n })
	return n, err
}

// chunkResult collects what one transaction of eachDead did.
type chunkResult struct {
	n       int
	stale   []string
	missing []string
}

// eachDead applies fn to the given dead letters (all if ids is nil), in
// transactions of at most chunk letters, calling merge after each commit.
func (s *Store) eachDead(ctx context.Context, pipeline string, ids []string,
	fn func(p *pipe, id uint64, v []byte, r *chunkResult) error, merge func(*chunkResult)) error {
	if err := checkName("pipeline", pipeline); err != nil {
		return err
	}
	var after uint64 // cursor for "all"
	for start := 0; ids == nil || start < len(ids); start += chunk {
		var r chunkResult
		var more bool
		var next uint64
		err := s.update(ctx, func(tx *bbolt.Tx) error {
			r = chunkResult{}
			more, next = false, 0
			p, err := openPipe(tx, pipeline, false)
			if err != nil {
				return err
			}
			if ids != nil {
				for _, sid := range ids[start:min(start+chunk, len(ids))] {
					var v []byte
					id, ok := parseID(sid)
					if ok && p != nil {
						v = p.dead.Get(u64(id))
					}
					if v == nil {
						r.missing = append(r.missing, sid)
						continue
					}
					if err := fn(p, id, v, &r); err != nil {
						return err
					}
				}
			} else if p != nil {
				var keys []uint64
				c := p.dead.Cursor()
				for k, _ := c.Seek(u64(after + 1)); k != nil && len(keys) < chunk; k, _ = c.Next() {
					keys = append(keys, be64(k))
				}
				for _, id := range keys {
					if err := fn(p, id, p.dead.Get(u64(id)), &r); err != nil {
						return err
					}
				}
				if len(keys) == chunk {
					more, next = true, keys[len(keys)-1]
				}
			}
			if p == nil {
				return nil
			}
			return p.save()
		})
		if err != nil {
			return err
		}
		merge(&r)
		if ids == nil {
			if !more {
				return nil
			}
			after = next
		}
	}
	return nil
}
