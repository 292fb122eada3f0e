package limiter

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// Default pauses when the vendor refuses without saying for how long.
const (
	DefaultRatePause        = time.Second
	DefaultConcurrencyPause = 500 * time.Millisecond
)

// Local is an in-process limiter for one connection. It is exact: requests
// are counted in a sliding log, so no window of length Per ever holds more
// than Rate grants.
type Local struct {
	limits Limits
	now    func() time.Time

	mu          sync.Mutex
	log         []time.Time // grant times within the window, oldest first
	leases      map[string]time.Time
	nextLease   uint64
	usedToday   int64
	day         time.Time
	vendorMax   int64
	pausedUntil time.Time
	// tat is when the next bulk request may be granted (pacing).
	tat     time.Time
	waits   int64
	changed chan struct{}
	// onGrant, when set (tests), sees every grant's time under the lock.
	onGrant func(time.Time)
}

// NewLocal returns a limiter for limits, which must be valid.
func NewLocal(limits Limits) *Local {
	return &Local{limits: limits, now: time.Now, leases: map[string]time.Time{}, changed: make(chan struct{})}
}

// Acquire blocks until a request of cost at priority p is allowed, and
// returns the lease of its concurrency slot ("" when concurrency is not
// limited). It never spins: it sleeps until the earliest moment the request
// can be granted, or until something changes.
func (l *Local) Acquire(ctx context.Context, cost int, p Priority) (string, error) {
	if cost < 1 {
		cost = 1
	}
	waited := false
	for {
		l.mu.Lock()
		lease, wait, ok := l.tryLocked(cost, p)
		changed := l.changed
		if !ok && !waited {
			waited = true
			l.waits++
		}
		l.mu.Unlock()
		if ok {
			return lease, nil
		}
		if err := sleep(ctx, wait, changed); err != nil {
			return "", err
		}
	}
}

// sleep waits for d (0: no deadline), a change, or the end of ctx.
func sleep(ctx context.Context, d time.Duration, changed <-chan struct{}) error {
	var timer <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-changed:
	case <-timer:
	}
	return nil
}

// tryLocked grants the request or returns how long to wait (0: until a
// change).
func (l *Local) tryLocked(cost int, p Priority) (lease string, wait time.Duration, ok bool) {
	now := l.now()
	if now.Before(l.pausedUntil) {
		return "", l.pausedUntil.Sub(now), false
	}
	start, next := dayStart(now)
	if !l.day.Equal(start) {
		l.day, l.usedToday = start, 0
	}
	if quota := l.quota(); quota > 0 && l.usedToday+int64(cost) > quota {
		return "", next.Sub(now), false
	}
	if l.limits.Rate > 0 {
		cutoff := now.Add(-l.limits.Per)
		i := 0
		for i < len(l.log) && !l.log[i].After(cutoff) {
			i++
		}
		l.log = l.log[i:]
		allowed := l.limits.RateFor(p)
		if excess := len(l.log) + cost - allowed; excess > 0 {
			if excess > len(l.log) {
				// cost exceeds what a window can ever hold: take it alone.
				excess = len(l.log)
			}
			if excess > 0 {
				return "", l.log[excess-1].Sub(cutoff) + time.Nanosecond, false
			}
		}
	}
	pace := l.limits.PaceFor(p)
	if pace > 0 && l.tat.After(now) {
		return "", l.tat.Sub(now), false
	}
	if l.limits.Concurrency > 0 {
		for id, exp := range l.leases {
			if now.After(exp) {
				delete(l.leases, id)
			}
		}
		if len(l.leases) >= l.limits.Concurrency {
			return "", l.earliestLeaseExpiry().Sub(now), false
		}
		l.nextLease++
		lease = strconv.FormatUint(l.nextLease, 10)
		// One process holds every slot: a slot only outlives a holder
		// that never released it.
		l.leases[lease] = now.Add(l.limits.Hold())
	}
	for range cost {
		l.log = append(l.log, now)
	}
	l.usedToday += int64(cost)
	if pace > 0 {
		// A grant that came late keeps the schedule, up to two
		// intervals, so that callers' wake-up delays do not add up.
		// After an idle spell the schedule starts again from now.
		if l.tat.Before(now.Add(-2 * pace)) {
			l.tat = now
		}
		l.tat = l.tat.Add(time.Duration(cost) * pace)
	}
	if l.onGrant != nil {
		l.onGrant(now)
	}
	return lease, 0, true
}

func (l *Local) earliestLeaseExpiry() time.Time {
	var min time.Time
	for _, exp := range l.leases {
		if min.IsZero() || exp.Before(min) {
			min = exp
		}
	}
	return min
}

func (l *Local) quota() int64 {
	q := l.limits.PerDay
	if l.vendorMax > 0 && (q == 0 || l.vendorMax < q) {
		q = l.vendorMax
	}
	return q
}

// broadcastLocked wakes every waiter.
func (l *Local) broadcastLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// Release frees a concurrency slot. Unknown leases are ignored.
func (l *Local) Release(_ context.Context, lease string) error {
	if lease == "" {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.leases[lease]; ok {
		delete(l.leases, lease)
		l.broadcastLocked()
	}
	return nil
}

// Report applies what the vendor said: a rate or concurrency refusal pauses
// the connection (for retryAfter, or a default); an exhausted quota pauses it
// until the next UTC day unless retryAfter says otherwise; a quota reading
// replaces the local count with the vendor's.
func (l *Local) Report(_ context.Context, kind ReportKind, retryAfter time.Duration, used, max int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	pause := func(d time.Duration) {
		if until := now.Add(d); until.After(l.pausedUntil) {
			l.pausedUntil = until
		}
	}
	switch kind {
	case ReportRate:
		if retryAfter <= 0 {
			retryAfter = DefaultRatePause
		}
		pause(retryAfter)
	case ReportConcurrency:
		if retryAfter <= 0 {
			retryAfter = DefaultConcurrencyPause
		}
		pause(retryAfter)
	case ReportQuota:
		if retryAfter <= 0 {
			_, next := dayStart(now)
			retryAfter = next.Sub(now)
		}
		pause(retryAfter)
	case ReportQuotaUsage:
		start, _ := dayStart(now)
		l.day = start
		l.usedToday = used
		l.vendorMax = max
	}
	l.broadcastLocked()
	return nil
}

// Usage returns a snapshot of the limiter.
func (l *Local) Usage(context.Context) (Usage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	cutoff := now.Add(-l.limits.Per)
	n := 0
	for _, t := range l.log {
		if t.After(cutoff) {
			n++
		}
	}
	u := Usage{InWindow: n, Rate: l.limits.Rate, Per: l.limits.Per, InFlight: len(l.leases), Concurrency: l.limits.Concurrency,
		UsedToday: l.usedToday, PerDay: l.quota(), Waits: l.waits}
	if now.Before(l.pausedUntil) {
		u.PausedUntil = l.pausedUntil
	}
	return u, nil
}

// ReportKind says what a vendor response told the limiter.
type ReportKind int

// Report kinds, matching the protocol's LimitKind.
const (
	ReportRate ReportKind = iota + 1
	ReportConcurrency
	ReportQuota
	ReportQuotaUsage
)
