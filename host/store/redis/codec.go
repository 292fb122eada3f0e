package redis

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/weirhq/weir/host/store"
)

// recordFormat is the first byte of an encoded record.
const recordFormat = 1

// errCorrupt reports a value this package did not write.
var errCorrupt = errors.New("store: corrupt value in Redis")

// encodeRecord appends r's binary encoding to b. The scripts store it as
// an opaque string and never look inside.
func encodeRecord(b []byte, r *store.Record) []byte {
	b = append(b, recordFormat)
	b = appendString(b, r.Key)
	b = binary.AppendVarint(b, r.Version)
	b = append(b, byte(r.Op))
	b = appendString(b, r.Object)
	b = binary.AppendUvarint(b, uint64(len(r.Payload)))
	b = append(b, r.Payload...)
	b = binary.AppendUvarint(b, uint64(len(r.Metadata)))
	for k, v := range r.Metadata {
		b = appendString(b, k)
		b = appendString(b, v)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// recordSize is an upper bound of encodeRecord's output length.
func recordSize(r *store.Record) int {
	n := 1 + 3*binary.MaxVarintLen64 + len(r.Key) + len(r.Object) + len(r.Payload) + 1
	for k, v := range r.Metadata {
		n += 2*binary.MaxVarintLen64 + len(k) + len(v)
	}
	return n
}

// decoder reads what encodeRecord wrote; the first error sticks.
type decoder struct {
	s   string
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.s = ""
}

func (d *decoder) uvarint() uint64 {
	var v uint64
	var shift uint
	for i := 0; i < len(d.s) && i < binary.MaxVarintLen64; i++ {
		c := d.s[i]
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			d.s = d.s[i+1:]
			return v
		}
		shift += 7
	}
	d.fail()
	return 0
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

func (d *decoder) byte() byte {
	if len(d.s) == 0 {
		d.fail()
		return 0
	}
	c := d.s[0]
	d.s = d.s[1:]
	return c
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil || uint64(len(d.s)) < n {
		d.fail()
		return ""
	}
	v := d.s[:n]
	d.s = d.s[n:]
	return v
}

// decodeRecord decodes a record encoded by encodeRecord. The payload is a
// fresh copy; strings share s's memory, which is immutable.
func decodeRecord(s string) (store.Record, error) {
	var r store.Record
	d := decoder{s: s}
	if d.byte() != recordFormat {
		return r, errCorrupt
	}
	r.Key = d.string()
	r.Version = d.varint()
	r.Op = store.Op(d.byte())
	r.Object = d.string()
	if p := d.string(); d.err == nil && len(p) > 0 {
		r.Payload = []byte(p)
	}
	n := d.uvarint()
	if n > uint64(len(d.s)) {
		d.fail()
	}
	if d.err == nil && n > 0 {
		r.Metadata = make(map[string]string, n)
		for range n {
			k := d.string()
			r.Metadata[k] = d.string()
		}
	}
	if d.err == nil && len(d.s) != 0 {
		d.fail()
	}
	return r, d.err
}

// versionString is a version as the scripts compare it: 19 zero-padded
// decimal digits, so that string order is numeric order (Lua numbers are
// doubles and cannot hold every int64).
func versionString(v int64) string {
	return fmt.Sprintf("%019d", v)
}

// micros converts a time to unix microseconds for the scripts, rounding up
// so that a retry is never due before the time asked; the zero time and
// times before 1970 are 0.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	ns := t.UnixNano()
	if ns <= 0 {
		return 0
	}
	return (ns + 999) / 1000
}

// ttlMicros converts a positive duration to whole microseconds, at least 1.
func ttlMicros(d time.Duration) int64 {
	return max((int64(d)+999)/1000, 1)
}

// canonicalID reports whether s is an entry ID as this store issues them
// (a decimal number without leading zeros, not 0), so that it can be used
// in key fields.
func canonicalID(s string) bool {
	n, err := strconv.ParseUint(s, 10, 64)
	return err == nil && n != 0 && strconv.FormatUint(n, 10) == s
}

// maxTagName is the longest escaped name put into a hash tag as is; longer
// names are shortened and made unique with a hash.
const maxTagName = 160

// escapeName makes a pipeline or namespace name safe inside a hash tag and
// a SCAN pattern: letters, digits, '.', '_' and '-' stay, every other byte
// becomes %XX (so '{', '}', ':' and glob characters never appear). Long
// names keep a readable head followed by '~' and a hash of the full name;
// '~' never appears otherwise, so the two forms cannot collide.
func escapeName(name string) string {
	const hexdigits = "0123456789ABCDEF"
	b := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
			b = append(b, c)
		default:
			b = append(b, '%', hexdigits[c>>4], hexdigits[c&15])
		}
	}
	if len(b) <= maxTagName {
		return string(b)
	}
	sum := sha256.Sum256([]byte(name))
	head := b[:64]
	if i := bytes.LastIndexByte(head[len(head)-2:], '%'); i >= 0 {
		head = head[:len(head)-2+i] // do not cut an escape in half
	}
	return string(head) + "~" + hex.EncodeToString(sum[:16])
}

// handlePrefix returns a random prefix for a Store's record handles: 64
// bits in base 36, then '.'.
func handlePrefix() string {
	var b [8]byte
	rand.Read(b[:])
	return strconv.FormatUint(binary.LittleEndian.Uint64(b[:]), 36) + "."
}

// handle returns a new record handle, unique among all Stores'.
func (s *Store) handle() string {
	return s.hprefix + strconv.FormatUint(s.hseq.Add(1), 36)
}

// Entry states (see scripts.go) hold numbers as fixed-width decimals.
const (
	tokenDigits = 14
	timeDigits  = 16
	// maxMicros caps stored times: doubles hold it exactly and 16 digits
	// hold it (year 2255).
	maxMicros = 9_000_000_000_000_000
)

// fenceString is a lease's token and owner length as entry states hold
// them; a token or owner too long for them matches none.
func fenceString(token uint64, owner string) string {
	return fmt.Sprintf("%0*d%06d", tokenDigits, token, len(owner))
}

// timeString is a time as entry states hold it: micros, capped.
func timeString(t time.Time) string {
	return fmt.Sprintf("%0*d", timeDigits, min(micros(t), maxMicros))
}

// stateTail is the end of a new entry's state: the length of handle and
// key, the handle's length, handle and key.
func stateTail(h, key string) string {
	return fmt.Sprintf("%04d%02d", len(h)+len(key), len(h)) + h + key
}

// leasedState is what Lease reads from a leased entry's state.
type leasedState struct {
	attempt   int
	token     uint64
	enqueued  int64
	handle    string
	lastError string
}

// parseLeased reads a leased entry's state as the lease script wrote it.
func parseLeased(s string) (leasedState, bool) {
	var st leasedState
	if len(s) < 102 || (s[0] != 'L' && s[0] != 'M') {
		return st, false
	}
	num := func(from, to int) (uint64, bool) {
		n, err := strconv.ParseUint(s[from-1:to], 10, 64)
		return n, err == nil
	}
	tok, ok1 := num(18, 31)
	ol, ok2 := num(32, 37)
	att, ok3 := num(38, 47)
	enq, ok4 := num(81, 96)
	hk, ok5 := num(97, 100)
	hl, ok6 := num(101, 102)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || hl > hk || uint64(len(s)) < 102+hk+ol {
		return st, false
	}
	st.token, st.attempt, st.enqueued = tok, int(att), int64(enq)
	st.handle = s[102 : 102+hl]
	st.lastError = s[102+hk : uint64(len(s))-ol]
	return st, true
}
