package oauth

import (
	"context"
	"encoding/json"
	"time"

	"github.com/weirhq/weir/host/store"
)

// lockValue is the refresh lock's value: who holds it and until when (for
// diagnostics; the store expires the key itself), and a nonce so that only
// the holder's release deletes it.
type lockValue struct {
	Owner string    `json:"owner"`
	Until time.Time `json:"until"`
	Nonce string    `json:"nonce"`
}

// storeLock is a held refresh lock.
type storeLock struct {
	key string
	val []byte
}

// tryLock takes the refresh lock of a connection for ttl (store.KV.SetNX:
// the store expires it, so a crashed holder's lock lapses). It does not
// wait.
func tryLock(ctx context.Context, kv store.KV, conn, owner string, now time.Time, ttl time.Duration) (*storeLock, bool, error) {
	key := lockKey(conn)
	val, err := json.Marshal(lockValue{Owner: owner, Until: now.Add(ttl), Nonce: newID()})
	if err != nil {
		return nil, false, err
	}
	got, err := kv.SetNX(ctx, Namespace, key, val, ttl)
	if err != nil || !got {
		return nil, false, err
	}
	return &storeLock{key: key, val: val}, true, nil
}

// unlock releases the lock if it is still ours.
func (l *storeLock) unlock(ctx context.Context, kv store.KV) error {
	_, err := kv.CompareAndSwap(ctx, Namespace, l.key, l.val, nil)
	return err
}
