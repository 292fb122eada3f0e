package storetest

import (
	"context"
	"time"

	"github.com/weirhq/weir/host/store"
)

// Ack settles one lease as delivered.
func Ack(ctx context.Context, q store.Queue, l store.Lease) error {
	return q.Settle(ctx, []store.Outcome{{Lease: l, Kind: store.Acked}})
}

// Retry settles one lease for a retry no earlier than at.
func Retry(ctx context.Context, q store.Queue, l store.Lease, at time.Time, reason string) error {
	return q.Settle(ctx, []store.Outcome{{Lease: l, Kind: store.Retried, At: at, Reason: reason}})
}

// DeadLetter settles one lease as a dead letter.
func DeadLetter(ctx context.Context, q store.Queue, l store.Lease, reason, field string) error {
	return q.Settle(ctx, []store.Outcome{{Lease: l, Kind: store.DeadLettered, Reason: reason, Field: field}})
}
