// Package limiter keeps a connection's vendor requests within the vendor's
// limits: a rate (requests per sliding window), a concurrency (requests in
// flight), a daily quota, pauses after a 429 or Retry-After, and a reserved
// share of the rate for interactive requests.
//
// Local is the in-process limiter for the embedded store. Redis is the
// distributed one, shared by every host process, with the same behaviour;
// both satisfy Limiter.
package limiter

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Limiter is one connection's limiter, as the engine and the connector host
// services use it.
type Limiter interface {
	// Acquire blocks until a request of cost at priority p is allowed, or ctx
	// ends, and returns the lease of its concurrency slot ("" when
	// concurrency is not limited).
	Acquire(ctx context.Context, cost int, p Priority) (lease string, err error)
	// Release frees the concurrency slot of lease.
	Release(ctx context.Context, lease string) error
	// Report applies what the vendor said: a refusal (kind ReportRate,
	// ReportConcurrency, ReportQuota) pauses the connection, for retryAfter
	// or a default; a reading (ReportQuotaUsage) replaces the day's count
	// with used and sets the vendor's daily maximum max.
	Report(ctx context.Context, kind ReportKind, retryAfter time.Duration, used, max int64) error
	// Usage returns a snapshot of the connection's limits and their use.
	Usage(ctx context.Context) (Usage, error)
}

// Both limiters satisfy Limiter.
var (
	_ Limiter = (*Local)(nil)
	_ Limiter = (*Redis)(nil)
)

// Limits are one connection's vendor limits. Zero values mean "no limit".
type Limits struct {
	// Rate requests are allowed in any sliding window of length Per.
	Rate int
	Per  time.Duration
	// Concurrency is the most requests in flight at once.
	Concurrency int
	// PerDay is the daily quota (UTC days).
	PerDay int64
	// InteractiveShare is the share of Rate that bulk requests leave free
	// for interactive ones (lookups). The reserve is at least one request
	// when Rate is set. Default DefaultInteractiveShare.
	InteractiveShare float64
	// LeaseTTL is how long a concurrency slot of the shared (Redis)
	// limiter outlives a holder that stops renewing it (a host that died):
	// holders renew their slots every third of it. Default DefaultLeaseTTL.
	LeaseTTL time.Duration
	// MaxHold bounds how long a live holder keeps a slot it never released
	// (a connector that died mid-request). Default DefaultMaxHold.
	MaxHold time.Duration
}

// DefaultInteractiveShare reserves 2% of the rate for interactive requests,
// leaving bulk traffic at least 97% of the limit.
const DefaultInteractiveShare = 0.02

// DefaultLeaseTTL is how long a concurrency slot outlives a dead holder: the
// other hosts get a dead host's slots back within it, as they get its
// leased records back within the engine's lease.
const DefaultLeaseTTL = 10 * time.Second

// DefaultMaxHold is the longest a slot is held without being released. It
// is longer than the SDK's vendor HTTP timeout (60 s).
const DefaultMaxHold = 90 * time.Second

// Priority is the class of a request.
type Priority int

// Priorities.
const (
	Bulk Priority = iota
	Interactive
)

// ErrQuotaExhausted is returned when the daily quota is used up and the
// caller's context ends before the next day.
var ErrQuotaExhausted = errors.New("limiter: daily quota exhausted")

// Validate checks that the limits make sense.
func (l Limits) Validate() error {
	switch {
	case l.Rate < 0, l.Concurrency < 0, l.PerDay < 0:
		return errors.New("limits must not be negative")
	case l.Rate > 0 && l.Per <= 0:
		return fmt.Errorf("rate %d needs a positive period", l.Rate)
	case l.InteractiveShare < 0 || l.InteractiveShare >= 1:
		return fmt.Errorf("interactive_share %v must be in [0, 1)", l.InteractiveShare)
	}
	return nil
}

// BulkRate is how many requests of a window bulk traffic may take: the rate
// less the interactive reserve.
func (l Limits) BulkRate() int {
	if l.Rate <= 0 {
		return 0
	}
	share := l.InteractiveShare
	if share == 0 {
		share = DefaultInteractiveShare
	}
	reserve := int(math.Ceil(float64(l.Rate) * share))
	if reserve < 1 {
		reserve = 1
	}
	if reserve >= l.Rate {
		reserve = l.Rate - 1
	}
	return l.Rate - reserve
}

// RateFor returns how many requests of a window priority p may take.
func (l Limits) RateFor(p Priority) int {
	if p == Interactive {
		return l.Rate
	}
	return l.BulkRate()
}

// PaceFor returns the spacing between bulk grants, Per/Rate: bulk traffic
// is spread evenly over the window instead of sent in a burst at its start,
// so that the time requests take to reach the vendor cannot crowd two
// windows' worth into one of the vendor's windows. Interactive requests
// are not paced (they use the reserve at once).
func (l Limits) PaceFor(p Priority) time.Duration {
	if l.Rate <= 0 || p == Interactive {
		return 0
	}
	return l.Per / time.Duration(l.Rate)
}

// TTL returns the concurrency lease time to live.
func (l Limits) TTL() time.Duration {
	if l.LeaseTTL > 0 {
		return l.LeaseTTL
	}
	return DefaultLeaseTTL
}

// Hold returns the longest a concurrency slot is held unreleased.
func (l Limits) Hold() time.Duration {
	if l.MaxHold > 0 {
		return l.MaxHold
	}
	return DefaultMaxHold
}

// Usage is a snapshot of a connection's limiter.
type Usage struct {
	// InWindow is the number of requests granted in the current sliding window.
	InWindow int
	Rate     int
	Per      time.Duration
	InFlight int
	// Concurrency is the configured maximum in flight.
	Concurrency int
	UsedToday   int64
	PerDay      int64
	// PausedUntil is set while the vendor asked to back off.
	PausedUntil time.Time
	// Waits counts Acquire calls that had to wait.
	Waits int64
}

// dayStart returns the start of t's UTC day and the next one.
func dayStart(t time.Time) (time.Time, time.Time) {
	d := t.UTC().Truncate(24 * time.Hour)
	return d, d.Add(24 * time.Hour)
}
