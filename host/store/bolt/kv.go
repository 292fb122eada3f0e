package bolt

import (
	"bytes"
	"context"

	"go.etcd.io/bbolt"

	"github.com/weirhq/weir/host/store"
)

// Values are stored behind a marker byte (see prefixed) so that an empty
// value is told apart from a missing key.

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
		v := b.Get([]byte(key))
		if len(v) == 0 {
			return store.ErrNotFound
		}
		out = append([]byte{}, v[1:]...)
		return nil
	})
	return out, err
}

// Put implements store.KV.
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

// CompareAndSwap implements store.KV.
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
		cur := b.Get([]byte(key))
		switch {
		case old == nil && len(cur) != 0:
			return nil
		case old != nil && (len(cur) == 0 || !bytes.Equal(cur[1:], old)):
			return nil
		}
		swapped = true
		if new == nil {
			return b.Delete([]byte(key))
		}
		return b.Put([]byte(key), prefixed(new))
	})
	return swapped, err
}
