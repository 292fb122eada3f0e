package redis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/weirhq/weir/host/store"
)

// kvKey is the Redis key of a KV key: all keys of a namespace share its
// hash tag.
func (s *Store) kvKey(ns, key string) string {
	return "{" + s.prefix + ":kv:" + escapeName(ns) + "}:" + key
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
	leave, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	v, err := s.rdb.Get(ctx, s.kvKey(ns, key)).Bytes()
	if err == goredis.Nil {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, s.wrap("get", err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// Put implements store.KV. The value never expires.
func (s *Store) Put(ctx context.Context, ns, key string, val []byte) error {
	if err := checkKV(ns, key); err != nil {
		return err
	}
	leave, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	return s.wrap("put", s.rdb.Set(ctx, s.kvKey(ns, key), nonNil(val), 0).Err())
}

// Delete implements store.KV.
func (s *Store) Delete(ctx context.Context, ns, key string) error {
	if err := checkKV(ns, key); err != nil {
		return err
	}
	leave, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	return s.wrap("delete", s.rdb.Del(ctx, s.kvKey(ns, key)).Err())
}

// CompareAndSwap implements store.KV with one script call; a swapped-in
// value keeps the remaining expiry.
func (s *Store) CompareAndSwap(ctx context.Context, ns, key string, old, new []byte) (bool, error) {
	if err := checkKV(ns, key); err != nil {
		return false, err
	}
	leave, err := s.enter(ctx)
	if err != nil {
		return false, err
	}
	defer leave()
	flag := func(b []byte) string {
		if b == nil {
			return "0"
		}
		return "1"
	}
	n, err := casScript.Run(ctx, s.rdb, []string{s.kvKey(ns, key)}, flag(old), nonNil(old), flag(new), nonNil(new)).Int()
	if err != nil {
		return false, s.wrap("compare-and-swap", err)
	}
	return n == 1, nil
}

// SetNX implements store.KV with SET NX PX: the expiry runs on the Redis
// server's clock, rounded up to the millisecond.
func (s *Store) SetNX(ctx context.Context, ns, key string, val []byte, ttl time.Duration) (bool, error) {
	if err := checkKV(ns, key); err != nil {
		return false, err
	}
	if ttl < 0 {
		return false, store.Invalid("ttl %s is negative", ttl)
	}
	leave, err := s.enter(ctx)
	if err != nil {
		return false, err
	}
	defer leave()
	if ttl > 0 {
		ttl = (ttl + time.Millisecond - 1).Truncate(time.Millisecond)
	}
	ok, err := s.rdb.SetNX(ctx, s.kvKey(ns, key), nonNil(val), ttl).Result()
	if err != nil {
		return false, s.wrap("set-if-absent", err)
	}
	return ok, nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
