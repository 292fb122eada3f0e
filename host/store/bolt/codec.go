package bolt

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/weirhq/weir/host/store"
)

// Compact binary encodings for the hot paths. Every encoded value starts
// with a format byte so that layouts can evolve.

const formatV1 = 1

// Entry states.
const (
	stReady   byte = 1 // in the ready index
	stDelayed byte = 2 // in the delayed index, due at entry.at
	stLeased  byte = 3 // in the in-flight index, lease expires at entry.at
	stPending byte = 4 // waits behind the leased entry of its key
)

// entry is one accepted record version in the queue.
type entry struct {
	state   byte
	seq     uint64 // queue position: the ready index key
	attempt uint32 // number of leases so far
	token   uint64 // fencing token of the current lease
	at      int64  // lease expiry (stLeased) or due time (stDelayed), unix ns
	enq     int64  // enqueue time, unix ns
	owner   string
	lastErr string
	rec     store.Record
}

// keyState is what the store remembers about one record key.
type keyState struct {
	cur       uint64 // current entry (ready, delayed or leased), 0 if none
	curVer    int64
	pend      uint64 // pending entry behind a leased current, 0 if none
	pendVer   int64
	delivered int64 // newest acknowledged version, 0 if none
	// deliveredAt is when a delivery of the key was last acknowledged,
	// unix ns (0 if never, or in states written before it was kept).
	deliveredAt int64
}

// newest is the newest version known for the key.
func (k *keyState) newest() int64 {
	return max(k.delivered, k.curVer, k.pendVer)
}

func (k *keyState) empty() bool {
	return k.cur == 0 && k.pend == 0 && k.delivered == 0
}

// deadLetter is a dead letter as stored; its ID is the bucket key.
type deadLetter struct {
	rec      store.Record
	reason   string
	field    string
	attempts uint32
	at       int64
	enq      int64
}

// meta holds a pipeline's sequences and counters, rewritten in every
// transaction that changes them.
type meta struct {
	seq       uint64 // last entry ID
	token     uint64 // last lease token
	ready     int64
	pending   int64
	delayed   int64
	inflight  int64
	dead      int64
	accepted  int64
	delivered int64
	coalesced int64
	stale     int64
}

const metaLen = 1 + 11*8

var errCorrupt = errors.New("store: corrupt value in the data file")

func (m *meta) encode(b []byte) []byte {
	b = append(b, formatV1)
	for _, v := range []uint64{m.seq, m.token, uint64(m.ready), uint64(m.pending), uint64(m.delayed),
		uint64(m.inflight), uint64(m.dead), uint64(m.accepted), uint64(m.delivered), uint64(m.coalesced), uint64(m.stale)} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return b
}

func (m *meta) decode(b []byte) error {
	if len(b) == 0 {
		*m = meta{}
		return nil
	}
	if len(b) != metaLen || b[0] != formatV1 {
		return errCorrupt
	}
	u := func(i int) uint64 { return binary.BigEndian.Uint64(b[1+8*i:]) }
	*m = meta{seq: u(0), token: u(1), ready: int64(u(2)), pending: int64(u(3)), delayed: int64(u(4)),
		inflight: int64(u(5)), dead: int64(u(6)), accepted: int64(u(7)), delivered: int64(u(8)),
		coalesced: int64(u(9)), stale: int64(u(10))}
	return nil
}

func statsOf(m *meta) store.Stats {
	return store.Stats{
		Ready: m.ready, Pending: m.pending, Delayed: m.delayed, InFlight: m.inflight,
		DeadLetters: m.dead, Accepted: m.accepted, Delivered: m.delivered,
		Coalesced: m.coalesced, Stale: m.stale,
	}
}

// appendString appends a length-prefixed string.
func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b []byte, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

func appendRecord(b []byte, r *store.Record) []byte {
	b = appendString(b, r.Key)
	b = binary.AppendVarint(b, r.Version)
	b = append(b, byte(r.Op))
	b = appendString(b, r.Object)
	b = appendBytes(b, r.Payload)
	b = binary.AppendUvarint(b, uint64(len(r.Metadata)))
	for k, v := range r.Metadata {
		b = appendString(b, k)
		b = appendString(b, v)
	}
	return b
}

func (e *entry) encode(b []byte) []byte {
	b = append(b, formatV1, e.state)
	b = binary.AppendUvarint(b, e.seq)
	b = binary.AppendUvarint(b, uint64(e.attempt))
	b = binary.AppendUvarint(b, e.token)
	b = binary.AppendVarint(b, e.at)
	b = binary.AppendVarint(b, e.enq)
	b = appendString(b, e.owner)
	b = appendString(b, e.lastErr)
	return appendRecord(b, &e.rec)
}

func (k *keyState) encode(b []byte) []byte {
	b = append(b, formatV1)
	b = binary.AppendUvarint(b, k.cur)
	b = binary.AppendVarint(b, k.curVer)
	b = binary.AppendUvarint(b, k.pend)
	b = binary.AppendVarint(b, k.pendVer)
	b = binary.AppendVarint(b, k.delivered)
	return binary.AppendVarint(b, k.deliveredAt)
}

func (d *deadLetter) encode(b []byte) []byte {
	b = append(b, formatV1)
	b = appendString(b, d.reason)
	b = appendString(b, d.field)
	b = binary.AppendUvarint(b, uint64(d.attempts))
	b = binary.AppendVarint(b, d.at)
	b = binary.AppendVarint(b, d.enq)
	return appendRecord(b, &d.rec)
}

// reader decodes what the encoders wrote; the first error sticks. Decoded
// strings and byte slices are copies, safe after the transaction ends.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errCorrupt
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) raw() []byte {
	n := r.uvarint()
	if r.err != nil || uint64(len(r.b)) < n {
		r.fail()
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) string() string { return string(r.raw()) }

func (r *reader) bytes() []byte {
	p := r.raw()
	if p == nil {
		return nil
	}
	return append([]byte{}, p...)
}

func (r *reader) header() {
	if r.byte() != formatV1 {
		r.fail()
	}
}

func (r *reader) record(rec *store.Record) {
	rec.Key = r.string()
	rec.Version = r.varint()
	rec.Op = store.Op(r.byte())
	rec.Object = r.string()
	rec.Payload = r.bytes()
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return
	}
	rec.Metadata = nil
	if n > 0 {
		rec.Metadata = make(map[string]string, n)
		for range n {
			k := r.string()
			rec.Metadata[k] = r.string()
		}
	}
}

func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = errCorrupt
	}
	return r.err
}

func decodeEntry(b []byte, e *entry) error {
	r := reader{b: b}
	r.header()
	e.state = r.byte()
	e.seq = r.uvarint()
	e.attempt = uint32(r.uvarint())
	e.token = r.uvarint()
	e.at = r.varint()
	e.enq = r.varint()
	e.owner = r.string()
	e.lastErr = r.string()
	r.record(&e.rec)
	return r.done()
}

func decodeKeyState(b []byte, k *keyState) error {
	r := reader{b: b}
	r.header()
	k.cur = r.uvarint()
	k.curVer = r.varint()
	k.pend = r.uvarint()
	k.pendVer = r.varint()
	k.delivered = r.varint()
	if len(r.b) > 0 { // absent in states written before it was kept
		k.deliveredAt = r.varint()
	}
	return r.done()
}

func decodeDeadLetter(b []byte, d *deadLetter) error {
	r := reader{b: b}
	r.header()
	d.reason = r.string()
	d.field = r.string()
	d.attempts = uint32(r.uvarint())
	d.at = r.varint()
	d.enq = r.varint()
	r.record(&d.rec)
	return r.done()
}

// Index keys.

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v) }

func pair(a, b uint64) []byte {
	k := make([]byte, 0, 16)
	k = binary.BigEndian.AppendUint64(k, a)
	return binary.BigEndian.AppendUint64(k, b)
}

// nanos is t as non-negative unix nanoseconds, for ordered index keys.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(t.UnixNano(), 0)
}

func timeOf(ns int64) time.Time { return time.Unix(0, ns) }

// be64 reads a big-endian uint64 prefix; 0 if b is too short.
func be64(b []byte) uint64 {
	if len(b) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}
