// Package bolt is Weir's embedded store: one bbolt file, <dir>/weir.db,
// owned by one weir process at a time.
//
// Every change is committed with fsync before the call returns. Concurrent
// calls share commits: a single committer goroutine runs every call that
// arrived while the previous commit was being written in one transaction
// (group commit), so many concurrent enqueues cost few fsyncs and a lone
// caller waits for no timer.
//
// Layout: a "meta" bucket with the data format; a bucket per pipeline
// under "pipelines" holding a meta value
// (sequences and counters) and the buckets entries (ID → entry), keys
// (record key → key state), ready (position → ID), delayed (due time,
// position → ID), inflight (lease expiry, ID → nothing), dead (ID → dead
// letter), checkpoints (source → cursor) and leaders (source → leadership
// token, expiry and owner; created on first use); and a bucket per
// namespace under "kv". Lease reads only the heads of the delayed, inflight
// and ready indexes.
package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/weirhq/weir/host/store"
)

// FileName is the name of the data file inside the data directory.
const FileName = "weir.db"

// DefaultLockTimeout is how long Open waits for another process to release
// the data file.
const DefaultLockTimeout = 200 * time.Millisecond

// maxBatch caps the calls that share one commit.
const maxBatch = 512

// ErrInUse matches the error Open returns when another process holds the
// data directory.
var ErrInUse = errors.New("store: data directory in use")

// inUseError is Open's error for a locked data directory.
type inUseError struct {
	dir string
	err error
}

// Error names the directory and says who holds it.
func (e *inUseError) Error() string {
	return fmt.Sprintf("store: data directory %s is in use by another weir process", e.dir)
}

// Unwrap lets the error match ErrInUse and bbolt's timeout.
func (e *inUseError) Unwrap() []error { return []error{ErrInUse, e.err} }

// Options tune Open. The zero value is ready to use.
type Options struct {
	// Now is the clock for leases, retries and timestamps; time.Now if nil.
	Now func() time.Time
	// LockTimeout is how long to wait for the data file's lock;
	// DefaultLockTimeout if zero.
	LockTimeout time.Duration
}

// Store is the embedded store. It implements store.Store and is safe for
// concurrent use.
type Store struct {
	db  *bbolt.DB
	dir string
	now func() time.Time

	mu     sync.RWMutex // guards closed and sends on calls
	closed bool
	calls  chan call
	done   chan struct{} // closed when the committer has stopped
}

var _ store.Store = (*Store)(nil)

// Bucket names.
var (
	bktMeta        = []byte("meta")
	bktPipelines   = []byte("pipelines")
	bktKV          = []byte("kv")
	keyMeta        = []byte("meta")
	bktEntries     = []byte("entries")
	bktKeys        = []byte("keys")
	bktReady       = []byte("ready")
	bktDelayed     = []byte("delayed")
	bktInflight    = []byte("inflight")
	bktDead        = []byte("dead")
	bktCheckpoints = []byte("checkpoints")
	keyFormat      = []byte("format")
)

// Open opens or creates the store in dir, creating dir if needed. It fails
// fast, with an error matching ErrInUse, when another process has the
// directory open.
func Open(dir string, opts Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	db, err := bbolt.Open(filepath.Join(dir, FileName), 0o600, &bbolt.Options{
		Timeout:        timeout,
		FreelistType:   bbolt.FreelistMapType,
		NoFreelistSync: true,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, &inUseError{dir: dir, err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", filepath.Join(dir, FileName), err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bktMeta, bktPipelines, bktKV} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		b := tx.Bucket(bktMeta)
		switch f := b.Get(keyFormat); {
		case f == nil:
			return b.Put(keyFormat, []byte{formatV1})
		case len(f) != 1 || f[0] != formatV1:
			return fmt.Errorf("store: %s has data format %v, this weir reads format %d", filepath.Join(dir, FileName), f, formatV1)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Store{db: db, dir: dir, now: now, calls: make(chan call, maxBatch), done: make(chan struct{})}
	go s.commitLoop()
	return s, nil
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// Close waits for calls in progress, then closes the data file. Later calls
// return store.ErrClosed; closing again returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.calls)
	s.mu.Unlock()
	<-s.done
	return s.db.Close()
}

// call is one read-write function waiting for a commit.
type call struct {
	fn   func(*bbolt.Tx) error
	done chan error
}

// update runs fn in a durable read-write transaction, possibly shared with
// other calls. fn may run more than once (when another call sharing its
// transaction fails), so it must reset any result it captures. An error from
// fn rolls back fn's changes only and is returned as is.
func (s *Store) update(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := call{fn: fn, done: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return store.ErrClosed
	}
	s.calls <- c
	s.mu.RUnlock()
	return <-c.done
}

// view runs fn in a read-only transaction.
func (s *Store) view(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	return s.db.View(fn)
}

// commitLoop is the group committer: it takes every call queued while the
// previous commit ran and commits them together.
func (s *Store) commitLoop() {
	defer close(s.done)
	batch := make([]call, 0, maxBatch)
	for c := range s.calls {
		batch = append(batch[:0], c)
		for pass := 0; pass < 2; pass++ {
			if pass == 1 {
				runtime.Gosched()
			}
		drain:
			for len(batch) < maxBatch {
				select {
				case c, ok := <-s.calls:
					if !ok {
						break drain
					}
					batch = append(batch, c)
				default:
					break drain
				}
			}
		}
		s.commit(batch)
	}
}

// commit runs the calls in one transaction. A call whose function fails is
// answered with its error and the transaction is run again without it.
func (s *Store) commit(batch []call) {
	for len(batch) > 0 {
		failed, ferr := -1, error(nil)
		err := s.db.Update(func(tx *bbolt.Tx) error {
			for i, c := range batch {
				if err := safeCall(c.fn, tx); err != nil {
					failed, ferr = i, err
					return err
				}
			}
			return nil
		})
		if failed >= 0 {
			batch[failed].done <- ferr
			batch = append(batch[:failed], batch[failed+1:]...)
			continue
		}
		for _, c := range batch {
			c.done <- err
		}
		return
	}
}

func safeCall(fn func(*bbolt.Tx) error, tx *bbolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: panic in transaction: %v", p)
		}
	}()
	return fn(tx)
}
