// Package storetest is the conformance suite every store backend must
// pass. A backend's test calls Run with a function that opens a fresh, empty
// store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := bolt.Open(t.TempDir(), bolt.Options{})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// The suite uses only the store.Store interface and real time (short
// durations, tens of milliseconds), so it runs unchanged against backends
// whose clock the test cannot control, such as Redis server time. Timing
// checks compare the test's clock with the times the store reports, so the
// store's clock must agree with the test machine's.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/weirhq/weir/host/store"
)

// clockSlack is how far the store's clock may run ahead of the test's
// before a timing check fails.
const clockSlack = 2 * time.Millisecond

// longTTL is a lease ttl that never expires within a test.
const longTTL = time.Minute

// Run runs the conformance suite. open must return a new, empty store each
// time it is called; Run closes it when the subtest ends. Subtests run in
// parallel with each other.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*harness)
	}{
		{"RoundTrip", testRoundTrip},
		{"Invalid", testInvalid},
		{"UnknownPipeline", testUnknownPipeline},
		{"FIFOAcrossKeys", testFIFO},
		{"ReadyCoalescing", testReadyCoalescing},
		{"PerKeySerialisation", testPerKeySerialisation},
		{"StaleVersions", testStaleVersions},
		{"BatchWithSameKey", testBatchSameKey},
		{"Unversioned", testUnversioned},
		{"LargeBatch", testLargeBatch},
		{"LeaseExpiry", testLeaseExpiry},
		{"ExpiredLeaseStillHeld", testExpiredStillHeld},
		{"Fencing", testFencing},
		{"Renew", testRenew},
		{"DelayedRetry", testDelayedRetry},
		{"RetryInThePast", testRetryPast},
		{"RetrySupersededByPending", testRetrySuperseded},
		{"DelayedReplacedByNewer", testDelayedReplaced},
		{"Settle", testSettle},
		{"SettleByIdentity", testSettleByIdentity},
		{"DeadLetter", testDeadLetter},
		{"DeadLetterPagingReplayDrop", testDeadLetterReplayDrop},
		{"Checkpoint", testCheckpoint},
		{"PipelinesIsolated", testPipelinesIsolated},
		{"ContextCanceled", testContextCanceled},
		{"Closed", testClosed},
		{"KV", testKV},
		{"KVConcurrentCAS", testKVConcurrentCAS},
		{"KVSetNX", testKVSetNX},
		{"Lead", testLead},
		{"LeadContenders", testLeadContenders},
		{"Concurrency", testConcurrency},
		{"ForgetDelivered", testForgetDelivered},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := &harness{t: t, ctx: context.Background(), pipe: "orders"}
			h.s = open(t)
			t.Cleanup(func() {
				if err := h.s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(h)
		})
	}
}

// harness wraps a store for one subtest and fails the test on unexpected
// errors.
type harness struct {
	t    *testing.T
	s    store.Store
	ctx  context.Context
	pipe string
}

// rec builds a record whose payload names its key and version.
func rec(key string, version int64) store.Record {
	return store.Record{
		Key:     key,
		Version: version,
		Object:  "Order",
		Payload: fmt.Appendf(nil, `{"key":%q,"version":%d}`, key, version),
	}
}

func (h *harness) enqueue(recs ...store.Record) store.EnqueueResult {
	h.t.Helper()
	res, err := h.s.Enqueue(h.ctx, h.pipe, recs, nil)
	if err != nil {
		h.t.Fatalf("Enqueue: %v", err)
	}
	return res
}

func (h *harness) wantEnqueue(want store.EnqueueResult, recs ...store.Record) {
	h.t.Helper()
	if got := h.enqueue(recs...); got != want {
		h.t.Fatalf("Enqueue(%s) = %+v, want %+v", describe(recs), got, want)
	}
}

func (h *harness) lease(owner string, max int, ttl time.Duration) []store.Lease {
	h.t.Helper()
	ls, err := h.s.Lease(h.ctx, h.pipe, owner, max, ttl)
	if err != nil {
		h.t.Fatalf("Lease: %v", err)
	}
	return ls
}

// leaseOne leases exactly one entry and checks its key and version.
func (h *harness) leaseOne(owner, key string, version int64) store.Lease {
	h.t.Helper()
	ls := h.lease(owner, 1, longTTL)
	if len(ls) != 1 {
		h.t.Fatalf("Lease = %s, want %s@%d", leased(ls), key, version)
	}
	if l := ls[0]; l.Record.Key != key || l.Record.Version != version {
		h.t.Fatalf("Lease = %s, want %s@%d", leased(ls), key, version)
	}
	return ls[0]
}

// wantLeased leases up to max and checks the key@version sequence.
func (h *harness) wantLeased(max int, want string) []store.Lease {
	h.t.Helper()
	ls := h.lease("w", max, longTTL)
	if got := leased(ls); got != want {
		h.t.Fatalf("Lease = %s, want %s", got, want)
	}
	return ls
}

func (h *harness) ack(ls ...store.Lease) {
	h.t.Helper()
	for _, l := range ls {
		if err := Ack(h.ctx, h.s, l); err != nil {
			h.t.Fatalf("Ack(%s): %v", l.ID, err)
		}
	}
}

func (h *harness) stats() store.Stats {
	h.t.Helper()
	st, err := h.s.Stats(h.ctx, h.pipe)
	if err != nil {
		h.t.Fatalf("Stats: %v", err)
	}
	return st
}

func (h *harness) wantStats(want store.Stats) {
	h.t.Helper()
	if got := h.stats(); got != want {
		h.t.Fatalf("Stats = %+v\n                    want %+v", got, want)
	}
}

// poll leases every few milliseconds until it gets an entry or the deadline
// passes. It returns the lease and the test's time when Lease returned.
func (h *harness) poll(owner string, within time.Duration) (store.Lease, time.Time) {
	h.t.Helper()
	deadline := time.Now().Add(within)
	for {
		ls := h.lease(owner, 1, longTTL)
		now := time.Now()
		if len(ls) == 1 {
			return ls[0], now
		}
		if len(ls) > 1 {
			h.t.Fatalf("Lease(max 1) returned %d entries", len(ls))
		}
		if now.After(deadline) {
			h.t.Fatalf("nothing leasable within %s", within)
		}
		time.Sleep(3 * time.Millisecond)
	}
}

func (h *harness) wantLost(what string, err error, ids ...string) {
	h.t.Helper()
	if !errors.Is(err, store.ErrLeaseLost) {
		h.t.Fatalf("%s: err = %v, want ErrLeaseLost", what, err)
	}
	var lle *store.LeaseLostError
	if len(ids) > 0 && (!errors.As(err, &lle) || fmt.Sprint(lle.IDs) != fmt.Sprint(ids)) {
		h.t.Fatalf("%s: err = %#v, want *LeaseLostError with IDs %v", what, err, ids)
	}
}

// leased renders leases as "k@1 k2@3".
func leased(ls []store.Lease) string {
	var b bytes.Buffer
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s@%d", l.Record.Key, l.Record.Version)
	}
	if b.Len() == 0 {
		return "(none)"
	}
	return b.String()
}

func describe(recs []store.Record) string {
	var b bytes.Buffer
	for i, r := range recs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s@%d", r.Key, r.Version)
	}
	return b.String()
}

func sameRecord(a, b store.Record) bool {
	return a.Key == b.Key && a.Version == b.Version && a.Op == b.Op && a.Object == b.Object &&
		bytes.Equal(a.Payload, b.Payload) && maps.Equal(a.Metadata, b.Metadata)
}

func near(got, want time.Time, tol time.Duration) bool {
	d := got.Sub(want)
	return d >= -tol && d <= tol
}
