package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"time"

	"go.etcd.io/bbolt"

	"github.com/weirhq/weir/host/store"
)

// KV values are stored behind a marker byte so that an empty value is told
// apart from a missing key:
//
//	1, value               never expires (also every value written before
//	                       expiry existed)
//	2, expiry (8 bytes BE, unix ns), value
const (
	kvPlain   = 1
	kvExpires = 2
)

// kvValue decodes a stored KV value. present is false for a missing or
// expired value; exp is the expiry in unix ns, 0 if none.
func kvValue(raw []byte, now int64) (val []byte, exp int64, present bool) {
	switch {
	case len(raw) == 0:
		return nil, 0, false
	case raw[0] == kvExpires && len(raw) >= 9:
		exp = int64(binary.BigEndian.Uint64(raw[1:9]))
		if exp <= now {
			return nil, exp, false
		}
		return raw[9:], exp, true
	default:
		return raw[1:], 0, true
	}
}

// kvEncode encodes a value with an optional expiry (0: none).
func kvEncode(val []byte, exp int64) []byte {
	if exp == 0 {
		return prefixed(val)
	}
	b := make([]byte, 9, 9+len(val))
	b[0] = kvExpires
	binary.BigEndian.PutUint64(b[1:], uint64(exp))
	return append(b, val...)
}

func checkKV(ns, key string) error {
	if err := checkName("namespace", ns); err != nil {
		return err
	}
	return checkName("key", key)
}

// Get implements store.KV.
func (s *Store) Get(ctx context.Context, ns, key string) ([]byte, error) {
	if err := checkKV(ns, key); err != nil {
		return nil, err
	}
	var out []byte
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bktKV).Bucket([]byte(ns))
		if b == nil {
			return store.ErrNotFound
		}
		v, _, ok := kvValue(b.Get([]byte(key)), nanos(s.now()))
		if !ok {
			return store.ErrNotFound
		}
		out = append([]byte{}, v...)
		return nil
	})
	return out, err
}

// Put implements store.KV. The value never expires.
func (s *Store) Put(ctx context.Context, ns, key string, val []byte) error {
	if err := checkKV(ns, key); err != nil {
		return err
	}
	v := prefixed(val)
	return s.update(ctx, func(tx *bbolt.Tx) error {
		b, err := tx.Bucket(bktKV).CreateBucketIfNotExists([]byte(ns))
		if err != nil {
			return err
		}
		return b.Put([]byte(key), v)
	})
}

// Delete implements store.KV.
func (s *Store) Delete(ctx context.Context, ns, key string) error {
	if err := checkKV(ns, key); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bktKV).Bucket([]byte(ns))
		if b == nil {
			return nil
		}
		return b.Delete([]byte(key))
	})
}

// CompareAndSwap implements store.KV. An expired value counts as absent; a
// swapped-in value keeps the expiry of the value it replaces.
func (s *Store) CompareAndSwap(ctx context.Context, ns, key string, old, new []byte) (bool, error) {
	if err := checkKV(ns, key); err != nil {
		return false, err
	}
	var swapped bool
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		swapped = false
		b, err := tx.Bucket(bktKV).CreateBucketIfNotExists([]byte(ns))
		if err != nil {
			return err
		}
		cur, exp, present := kvValue(b.Get([]byte(key)), nanos(s.now()))
		switch {
		case old == nil && present:
			return nil
		case old != nil && (!present || !bytes.Equal(cur, old)):
			return nil
		}
		swapped = true
		if new == nil {
			return b.Delete([]byte(key))
		}
		if !present {
			exp = 0
		}
		return b.Put([]byte(key), kvEncode(new, exp))
	})
	return swapped, err
}

// SetNX implements store.KV, with expiry on the store's clock.
func (s *Store) SetNX(ctx context.Context, ns, key string, val []byte, ttl time.Duration) (bool, error) {
	if err := checkKV(ns, key); err != nil {
		return false, err
	}
	if ttl < 0 {
		return false, store.Invalid("ttl %s is negative", ttl)
	}
	var set bool
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		set = false
		b, err := tx.Bucket(bktKV).CreateBucketIfNotExists([]byte(ns))
		if err != nil {
			return err
		}
		now := nanos(s.now())
		if _, _, present := kvValue(b.Get([]byte(key)), now); present {
			return nil
		}
		var exp int64
		if ttl > 0 {
			exp = addNanos(now, ttl)
		}
		set = true
		return b.Put([]byte(key), kvEncode(val, exp))
	})
	return set, err
}
