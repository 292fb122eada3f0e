package bolt

import (
	"strconv"

	"go.etcd.io/bbolt"

	"github.com/weirhq/weir/host/store"
)

// pipe is one pipeline's buckets and meta within a transaction.
type pipe struct {
	b                                                  *bbolt.Bucket
	entries, keys, ready, delayed, inflight, dead, cps *bbolt.Bucket
	m                                                  meta
	buf                                                []byte
}

// openPipe returns the pipeline's buckets, creating them if create is set
// (the transaction must then be writable). It returns nil, nil for a missing
// pipeline when create is not set.
func openPipe(tx *bbolt.Tx, name string, create bool) (*pipe, error) {
	root := tx.Bucket(bktPipelines)
	if root == nil {
		return nil, errCorrupt
	}
	b := root.Bucket([]byte(name))
	if b == nil {
		if !create {
			return nil, nil
		}
		var err error
		if b, err = root.CreateBucket([]byte(name)); err != nil {
			return nil, err
		}
		for _, n := range [][]byte{bktEntries, bktKeys, bktReady, bktDelayed, bktInflight, bktDead, bktCheckpoints} {
			if _, err := b.CreateBucket(n); err != nil {
				return nil, err
			}
		}
	}
	p := &pipe{
		b:        b,
		entries:  b.Bucket(bktEntries),
		keys:     b.Bucket(bktKeys),
		ready:    b.Bucket(bktReady),
		delayed:  b.Bucket(bktDelayed),
		inflight: b.Bucket(bktInflight),
		dead:     b.Bucket(bktDead),
		cps:      b.Bucket(bktCheckpoints),
	}
	if p.entries == nil || p.keys == nil || p.ready == nil || p.delayed == nil || p.inflight == nil || p.dead == nil || p.cps == nil {
		return nil, errCorrupt
	}
	if err := p.m.decode(b.Get(keyMeta)); err != nil {
		return nil, err
	}
	return p, nil
}

// save writes the meta back.
func (p *pipe) save() error {
	return p.b.Put(keyMeta, p.m.encode(make([]byte, 0, metaLen)))
}

func (p *pipe) nextID() uint64 {
	p.m.seq++
	return p.m.seq
}

func (p *pipe) entry(id uint64) (entry, bool, error) {
	var e entry
	v := p.entries.Get(u64(id))
	if v == nil {
		return e, false, nil
	}
	err := decodeEntry(v, &e)
	return e, err == nil, err
}

func (p *pipe) putEntry(id uint64, e *entry) error {
	p.buf = e.encode(p.buf[:0])
	return p.entries.Put(u64(id), append([]byte(nil), p.buf...))
}

func (p *pipe) keyState(key string) (keyState, error) {
	var k keyState
	v := p.keys.Get([]byte(key))
	if v == nil {
		return k, nil
	}
	return k, decodeKeyState(v, &k)
}

func (p *pipe) putKeyState(key string, k *keyState) error {
	if k.empty() {
		return p.keys.Delete([]byte(key))
	}
	return p.keys.Put([]byte(key), k.encode(make([]byte, 0, 32)))
}

// enqueue accepts one record version, or drops it as stale. It reports
// whether it accepted the record and how many older versions it replaced.
func (p *pipe) enqueue(rec *store.Record, now int64) (accepted bool, coalesced int, err error) {
	ks, err := p.keyState(rec.Key)
	if err != nil {
		return false, 0, err
	}
	if rec.Version != 0 && rec.Version <= ks.newest() {
		p.m.stale++
		return false, 0, nil
	}
	id := p.nextID()
	e := entry{seq: id, enq: now, rec: *rec}
	switch {
	case ks.cur == 0:
		e.state = stReady
		if err := p.ready.Put(u64(e.seq), u64(id)); err != nil {
			return false, 0, err
		}
		p.m.ready++
		ks.cur, ks.curVer = id, rec.Version
	case ks.pend != 0:
		// The current entry is leased: the newest pending version wins.
		if err := p.entries.Delete(u64(ks.pend)); err != nil {
			return false, 0, err
		}
		coalesced++
		e.state = stPending
		ks.pend, ks.pendVer = id, rec.Version
	default:
		oldID := ks.cur
		cur, ok, err := p.entry(oldID)
		if err != nil {
			return false, 0, err
		}
		if !ok {
			return false, 0, errCorrupt
		}
		switch cur.state {
		case stLeased:
			e.state = stPending
			p.m.pending++
			ks.pend, ks.pendVer = id, rec.Version
		case stReady:
			// Replace in place, keeping the queue position.
			e.state, e.seq = stReady, cur.seq
			if err := p.ready.Put(u64(e.seq), u64(id)); err != nil {
				return false, 0, err
			}
			coalesced++
			ks.cur, ks.curVer = id, rec.Version
		case stDelayed:
			// Replace in place, keeping the retry time.
			e.state, e.seq, e.at = stDelayed, cur.seq, cur.at
			if err := p.delayed.Put(pair(uint64(e.at), e.seq), u64(id)); err != nil {
				return false, 0, err
			}
			coalesced++
			ks.cur, ks.curVer = id, rec.Version
		default:
			return false, 0, errCorrupt
		}
		if cur.state != stLeased {
			if err := p.entries.Delete(u64(oldID)); err != nil {
				return false, 0, err
			}
		}
	}
	if err := p.putEntry(id, &e); err != nil {
		return false, 0, err
	}
	if err := p.putKeyState(rec.Key, &ks); err != nil {
		return false, 0, err
	}
	p.m.accepted++
	p.m.coalesced += int64(coalesced)
	return true, coalesced, nil
}

func idString(id uint64) string { return strconv.FormatUint(id, 10) }

// parseID parses an entry ID; ok is false for anything this store did not
// issue.
func parseID(s string) (uint64, bool) {
	id, err := strconv.ParseUint(s, 10, 64)
	return id, err == nil && id != 0
}
