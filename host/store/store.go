// Package store defines Weir's durable store: the per-pipeline record queue
// (with leases, per-key serialisation, delayed retries and dead letters),
// source checkpoints, and a small key/value space for tokens, cross
// references and locks.
//
// Backends live in subpackages (bolt for the embedded store); every backend
// must pass the conformance suite in storetest.
//
// # Queue model
//
// Each pipeline has its own queue. A record version accepted by Enqueue
// becomes an entry with a stable ID. For each record key the queue holds at
// most one current entry (ready, delayed or leased) and, while the current
// entry is leased, at most one pending entry: the newest version that
// arrived meanwhile. Consequently two versions of one key are never leased
// at the same time, and pending versions are coalesced into the newest.
//
// A record version is stale, and dropped, when it is not newer than the
// newest version the store knows for its key: the current entry's, the
// pending entry's or the last delivered (acknowledged) version. Version 0
// means "unversioned": such a record is never stale and is ordered by
// arrival.
//
// A newer version that arrives while the current entry is waiting (ready or
// delayed, not leased) replaces it in place: it keeps the older entry's
// queue position or retry time, the older version is dropped and counted as
// coalesced. When a leased entry is acknowledged or dead-lettered, its key's
// pending entry becomes ready at its own enqueue position; when it is
// retried, the pending entry replaces it and waits for the retry time.
//
// Every operation is atomic. Ack, Retry, DeadLetter, Settle and Renew are
// also fenced: they act only on an entry still leased by the same owner with
// the same token (an expired lease that nobody has leased again is still
// held), and otherwise return an error that matches ErrLeaseLost and change
// nothing for that lease.
//
// # Source leadership
//
// When several hosts share a store, one host at a time polls a given
// pipeline source. Lead acquires or renews that leadership as a lease with
// a time to live, measured by the store's clock, and returns a fencing
// token. Tokens of one (pipeline, source) only grow: a new term, whether
// taken by another owner after the lease expired or by the same owner after
// letting it lapse, gets a larger token than any before; renewing an
// unexpired lease keeps the token. An Enqueue whose Checkpoint carries a
// non-zero Token saves nothing, and fails with ErrNotLeader, unless that
// token is the current one: a leader that stalled past its lease and came
// back cannot move the checkpoint of the host that took over.
//
// # Key/value expiry
//
// KV values may carry an expiry (SetNX with a ttl), used for locks. An
// expired value is absent for Get, CompareAndSwap, Delete and SetNX. Put
// stores a value that never expires; CompareAndSwap keeps the remaining
// expiry of the value it replaces, so a lock cannot become permanent by
// being swapped.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Errors returned by every backend. Test them with errors.Is.
var (
	// ErrLeaseLost means a lease is no longer held by its owner: it expired
	// and was leased again, or the entry was already settled.
	ErrLeaseLost = errors.New("store: lease lost")
	// ErrNotFound means the checkpoint, dead letter or key does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrClosed means the store was closed.
	ErrClosed = errors.New("store: closed")
	// ErrInvalid means an argument was rejected; nothing was changed.
	ErrInvalid = errors.New("store: invalid argument")
	// ErrNotLeader means another owner holds an unexpired leadership of
	// the pipeline's source (Lead), or a checkpoint's Token is not the
	// current leadership token (Enqueue, which then stores nothing).
	ErrNotLeader = errors.New("store: not the leader")
	// ErrUnavailable means the backend could not be reached or is not
	// serving (network error, timeout, server loading its data, out of
	// memory). A write that failed this way may or may not have taken
	// effect. Readiness and webhooks answer 503 for it.
	ErrUnavailable = errors.New("store: unavailable")
)

// LeaseLostError lists the leases of one call that were lost. It matches
// ErrLeaseLost with errors.Is.
type LeaseLostError struct {
	// IDs are the entry IDs of the lost leases.
	IDs []string
}

// Error implements error.
func (e *LeaseLostError) Error() string {
	return fmt.Sprintf("store: lease lost for %d entr%s: %s", len(e.IDs), plural(len(e.IDs), "y", "ies"), strings.Join(e.IDs, ", "))
}

// Unwrap returns ErrLeaseLost.
func (e *LeaseLostError) Unwrap() error { return ErrLeaseLost }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Invalid returns an error matching ErrInvalid with a formatted reason.
// Backends use it to reject arguments consistently.
func Invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Op is what a record asks of its destination.
type Op uint8

// Record operations. Their values match sdk.Operation.
const (
	OpUpsert Op = iota
	OpDelete
)

// MaxKeyLen is the longest record key, in bytes, that a store accepts.
const MaxKeyLen = 1024

// Record is one version of a keyed record, as the store keeps it.
type Record struct {
	// Key identifies the record across versions; it must not be empty and
	// may be at most MaxKeyLen bytes long.
	Key string
	// Version orders the versions of a key; higher is newer. 0 means
	// unversioned (never stale, ordered by arrival); negative is invalid.
	Version int64
	// Op is the operation asked of the destination.
	Op Op
	// Object is the source object, e.g. "Order".
	Object string
	// Payload is the record's JSON document.
	Payload []byte
	// Metadata holds small string attributes carried with the record.
	Metadata map[string]string
}

// Validate reports whether r can be stored.
func (r *Record) Validate() error {
	switch {
	case r.Key == "":
		return Invalid("record has an empty key")
	case len(r.Key) > MaxKeyLen:
		return Invalid("record key %.40q... is longer than %d bytes", r.Key, MaxKeyLen)
	case r.Version < 0:
		return Invalid("record %q has negative version %d", r.Key, r.Version)
	case r.Op > OpDelete:
		return Invalid("record %q has unknown operation %d", r.Key, r.Op)
	}
	return nil
}

// Checkpoint is a source's position, saved atomically with the records read
// before it.
type Checkpoint struct {
	// Source names the pipeline's source, e.g. "crm".
	Source string
	// Value is the opaque cursor.
	Value []byte
	// Token, when not zero, is the leadership token returned by Lead for
	// this pipeline and Source: the Enqueue fails with ErrNotLeader and
	// stores nothing (neither records nor checkpoint) unless it is still
	// the current token. Zero skips the check (single host).
	Token uint64
}

// EnqueueResult counts what an Enqueue did with its records. Accepted plus
// Stale equals the number of records given.
type EnqueueResult struct {
	// Accepted records were stored as entries.
	Accepted int
	// Coalesced counts older waiting versions that accepted records
	// replaced (including ones accepted earlier in the same call).
	Coalesced int
	// Stale records were dropped: not newer than a version already known.
	Stale int
}

// Lease is a leased entry: the right, until Expires, to deliver its record.
type Lease struct {
	// Pipeline is the entry's pipeline.
	Pipeline string
	// Record is the record version to deliver.
	Record Record
	// ID is the entry's ID, stable across deliveries; a dead letter keeps it.
	ID string
	// Attempt is 1 on the first delivery and grows by one on each lease.
	Attempt int
	// Owner is the owner given to Lease.
	Owner string
	// Token fences this lease: it changes each time the entry is leased.
	Token uint64
	// Expires is when the lease lapses unless renewed (store clock).
	Expires time.Time
	// LastError is the reason given to the last Retry, if any.
	LastError string
	// EnqueuedAt is when the record version was accepted.
	EnqueuedAt time.Time
}

// OutcomeKind says how a delivery ended.
type OutcomeKind uint8

// Outcome kinds.
const (
	// Acked: delivered; the key's delivered version becomes the record's.
	Acked OutcomeKind = iota + 1
	// Retried: back to the queue, not leasable before Outcome.At. If a
	// newer version of the key is pending, that version takes the entry's
	// place and retry time, and the retried version is dropped (coalesced).
	Retried
	// DeadLettered: moved to the dead letters with Reason and Field.
	DeadLettered
)

// Outcome settles one lease.
type Outcome struct {
	// Lease is the lease being settled.
	Lease Lease
	// Kind is what happened.
	Kind OutcomeKind
	// At is the earliest time a retried entry may be leased again.
	At time.Time
	// Reason is the retry or dead-letter reason.
	Reason string
	// Field is the path of the offending field of a dead letter, if known.
	Field string
}

// CheckOutcomes rejects outcomes of unknown kinds, for backends to call
// before they settle anything.
func CheckOutcomes(outcomes []Outcome) error {
	for i := range outcomes {
		if k := outcomes[i].Kind; k < Acked || k > DeadLettered {
			return Invalid("outcome %d for entry %s has unknown kind %d", i, outcomes[i].Lease.ID, k)
		}
	}
	return nil
}

// Stats are exact per-pipeline counters. Gauges describe the queue now;
// totals count since the pipeline's first use.
type Stats struct {
	// Ready entries can be leased now.
	Ready int64
	// Pending entries wait behind a leased version of their key.
	Pending int64
	// Delayed entries wait for a retry time (including those whose time has
	// come but that no Lease has looked at yet).
	Delayed int64
	// InFlight entries are leased (including leases expired but not yet
	// leased again).
	InFlight int64
	// DeadLetters is the number of dead letters kept.
	DeadLetters int64
	// Accepted is the total of record versions accepted (Enqueue and Replay).
	Accepted int64
	// Delivered is the total of acknowledged entries.
	Delivered int64
	// Coalesced is the total of versions replaced by newer ones.
	Coalesced int64
	// Stale is the total of versions dropped as not newer than known ones.
	Stale int64
}

// Waiting returns the entries not yet leased: Ready + Pending + Delayed.
func (s Stats) Waiting() int64 { return s.Ready + s.Pending + s.Delayed }

// DeadLetter is a record version that failed permanently.
type DeadLetter struct {
	// ID is the entry ID the record had in the queue.
	ID string
	// Pipeline is the pipeline it belongs to.
	Pipeline string
	// Record is the failed record version.
	Record Record
	// Reason says why it failed.
	Reason string
	// Field is the path of the offending field, if known.
	Field string
	// Attempts is the number of deliveries made.
	Attempts int
	// At is when it was dead-lettered.
	At time.Time
	// EnqueuedAt is when the version was accepted.
	EnqueuedAt time.Time
}

// ReplayResult reports a Replay.
type ReplayResult struct {
	// Replayed dead letters were enqueued again (Attempt starts over) and
	// removed from the dead letters.
	Replayed int
	// Stale lists dead letters not replayed because their key already has
	// a version at least as new (delivered, queued or leased); they are kept.
	Stale []string
	// Missing lists requested IDs that are not dead letters.
	Missing []string
}

// Queue is the per-pipeline durable record queue.
type Queue interface {
	// Enqueue durably stores recs for pipeline and, if cp is not nil, saves
	// the source checkpoint in the same atomic commit. It returns only after
	// the commit is durable. An invalid record fails the whole call with
	// ErrInvalid and changes nothing.
	Enqueue(ctx context.Context, pipeline string, recs []Record, cp *Checkpoint) (EnqueueResult, error)
	// Lease leases up to max entries to owner for ttl, oldest first: leases
	// that expired (Attempt grows, new token), then ready entries in enqueue
	// order. It returns at most one entry per key and never one whose key
	// is already leased.
	Lease(ctx context.Context, pipeline, owner string, max int, ttl time.Duration) ([]Lease, error)
	// Renew extends the leases to now+ttl, updating their Expires in place.
	// Leases no longer held are left alone and reported by a
	// *LeaseLostError; the others are renewed.
	Renew(ctx context.Context, leases []Lease, ttl time.Duration) error
	// Settle applies many outcomes in as few durable commits as the backend
	// can. Each outcome is atomic and fenced on its own; lost leases are
	// reported by a *LeaseLostError and the other outcomes still apply.
	Settle(ctx context.Context, outcomes []Outcome) error
	// Checkpoint returns the checkpoint saved for a pipeline's source, or
	// ErrNotFound.
	Checkpoint(ctx context.Context, pipeline, source string) ([]byte, error)
	// Stats returns the pipeline's counters, without scanning.
	Stats(ctx context.Context, pipeline string) (Stats, error)
	// ForgetDelivered removes what the store keeps of keys that have
	// nothing waiting or in flight and whose last delivery was acknowledged
	// at least olderThan ago: their newest delivered version, kept so that
	// an older version is refused, and which otherwise stays forever. It
	// examines about limit keys from cursor ("" to start) and returns how
	// many keys it forgot and the cursor to go on from ("" once every key
	// was examined).
	ForgetDelivered(ctx context.Context, pipeline string, olderThan time.Duration, cursor string, limit int) (forgot int, next string, err error)
}

// DeadLetterQueue keeps, lists, replays and drops dead letters.
type DeadLetterQueue interface {
	// DeadLetters lists up to limit dead letters (100 if limit <= 0) with
	// IDs after the given one ("" to start), oldest entry first.
	DeadLetters(ctx context.Context, pipeline, after string, limit int) ([]DeadLetter, error)
	// DeadLetterByID returns one dead letter, or ErrNotFound.
	DeadLetterByID(ctx context.Context, pipeline, id string) (DeadLetter, error)
	// Replay enqueues the given dead letters again (all of them if ids is
	// nil) with their attempts reset.
	Replay(ctx context.Context, pipeline string, ids []string) (ReplayResult, error)
	// Drop deletes the given dead letters (all of them if ids is nil) and
	// returns how many it deleted; unknown IDs are ignored.
	Drop(ctx context.Context, pipeline string, ids []string) (int, error)
}

// KV is a small durable key/value space in namespaces, for OAuth tokens,
// ID cross references and locks. A nil value is never stored: values are
// non-nil (possibly empty) byte slices.
type KV interface {
	// Get returns the value, or ErrNotFound.
	Get(ctx context.Context, ns, key string) ([]byte, error)
	// Put stores the value (nil is stored as empty).
	Put(ctx context.Context, ns, key string, val []byte) error
	// Delete removes the key; deleting a missing key is not an error.
	Delete(ctx context.Context, ns, key string) error
	// CompareAndSwap sets the key to new if its value equals old, where a
	// nil old means "absent" and a nil new means "delete". It reports
	// whether it swapped. A swapped-in value keeps the remaining expiry of
	// the value it replaces.
	CompareAndSwap(ctx context.Context, ns, key string, old, new []byte) (bool, error)
	// SetNX stores the value only if the key is absent (or its value has
	// expired) and reports whether it did. The value expires after ttl
	// (store clock); 0 means never, a negative ttl is invalid.
	SetNX(ctx context.Context, ns, key string, val []byte, ttl time.Duration) (bool, error)
}

// Leadership elects one owner at a time per pipeline source.
type Leadership interface {
	// Lead acquires or renews, for ttl, the leadership of a pipeline's
	// source for owner and returns its fencing token. It fails with an
	// error matching ErrNotLeader while another owner holds an unexpired
	// lease. See "Source leadership" in the package documentation.
	Lead(ctx context.Context, pipeline, source, owner string, ttl time.Duration) (token uint64, err error)
}

// Store is a complete backend.
type Store interface {
	Queue
	DeadLetterQueue
	KV
	Leadership
	// Ping reports whether the store can serve calls, for readiness
	// checks: nil, ErrClosed, or an error matching ErrUnavailable.
	Ping(ctx context.Context) error
	io.Closer
}
