package limiter

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// maxInWindow returns the most grants in any half-open window (t-per, t].
func maxInWindow(times []time.Time, per time.Duration) int {
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	most, lo := 0, 0
	for hi := range times {
		for !times[lo].After(times[hi].Add(-per)) {
			lo++
		}
		if n := hi - lo + 1; n > most {
			most = n
		}
	}
	return most
}

func TestLocalNeverExceedsRate(t *testing.T) {
	tests := []struct {
		name   string
		limits Limits
		n      int
	}{
		{"10 per 100ms", Limits{Rate: 10, Per: 100 * time.Millisecond}, 60},
		{"3 per 50ms", Limits{Rate: 3, Per: 50 * time.Millisecond}, 20},
		{"50 per 200ms with concurrency", Limits{Rate: 50, Per: 200 * time.Millisecond, Concurrency: 4}, 150},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLocal(tt.limits)
			var grants []time.Time
			l.onGrant = func(at time.Time) { grants = append(grants, at) }
			var inFlight, peak atomic.Int32
			var wg sync.WaitGroup
			var next atomic.Int32
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int32(tt.n) {
						lease, err := l.Acquire(context.Background(), 1, Bulk)
						if err != nil {
							t.Error(err)
							return
						}
						if v := inFlight.Add(1); v > peak.Load() {
							peak.Store(v)
						}
						time.Sleep(time.Millisecond)
						inFlight.Add(-1)
						l.Release(context.Background(), lease)
					}
				}()
			}
			wg.Wait()
			if len(grants) != tt.n {
				t.Fatalf("granted %d of %d", len(grants), tt.n)
			}
			if most := maxInWindow(grants, tt.limits.Per); most > tt.limits.BulkRate() {
				t.Errorf("%d grants in one window; bulk limit %d (rate %d)", most, tt.limits.BulkRate(), tt.limits.Rate)
			}
			if c := tt.limits.Concurrency; c > 0 && int(peak.Load()) > c {
				t.Errorf("peak in flight %d > %d", peak.Load(), c)
			}
		})
	}
}

// fakeClock is a settable clock for decision tests.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time       { return c.t }
func (c *fakeClock) add(d time.Duration)  { c.t = c.t.Add(d) }
func newAt(l Limits, c *fakeClock) *Local { x := NewLocal(l); x.now = c.now; return x }
func try(l *Local, p Priority) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, wait, ok := l.tryLocked(1, p)
	return wait, ok
}

func TestLocalDecisions(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

	t.Run("interactive keeps its reserve while bulk is saturated", func(t *testing.T) {
		c := &fakeClock{start}
		l := newAt(Limits{Rate: 99, Per: time.Minute}, c)
		if got := l.limits.BulkRate(); got != 97 {
			t.Fatalf("BulkRate = %d; want 97 (2%% of 99 reserved)", got)
		}
		pace := l.limits.PaceFor(Bulk)
		if pace != time.Minute/99 {
			t.Fatalf("pace = %v", pace)
		}
		for i := range 97 {
			if _, ok := try(l, Bulk); !ok {
				t.Fatalf("bulk %d refused", i)
			}
			if wait, ok := try(l, Bulk); i < 96 && (ok || wait != pace) {
				t.Fatalf("bulk right after bulk %d: ok=%v wait=%v; want paced by %v", i, ok, wait, pace)
			}
			c.add(pace)
		}
		wait, ok := try(l, Bulk)
		if want := start.Add(time.Minute + time.Nanosecond).Sub(c.t); ok || wait != want {
			t.Fatalf("98th bulk: ok=%v wait=%v; want refused for %v, until the first leaves the window", ok, wait, want)
		}
		for i := range 2 {
			if _, ok := try(l, Interactive); !ok {
				t.Fatalf("interactive %d refused while the reserve is free", i)
			}
		}
		if _, ok := try(l, Interactive); ok {
			t.Fatal("interactive beyond the rate was granted")
		}
		c.add(time.Minute)
		if _, ok := try(l, Bulk); !ok {
			t.Fatal("bulk refused after the window slid")
		}
	})

	t.Run("a vendor 429 pauses for Retry-After", func(t *testing.T) {
		c := &fakeClock{start}
		l := newAt(Limits{Rate: 10, Per: time.Second}, c)
		l.Report(context.Background(), ReportRate, 3*time.Second, 0, 0)
		if wait, ok := try(l, Interactive); ok || wait != 3*time.Second {
			t.Fatalf("during pause: ok=%v wait=%v", ok, wait)
		}
		c.add(3 * time.Second)
		if _, ok := try(l, Bulk); !ok {
			t.Fatal("refused after the pause")
		}
	})

	t.Run("429 without Retry-After pauses by default", func(t *testing.T) {
		c := &fakeClock{start}
		l := newAt(Limits{}, c)
		l.Report(context.Background(), ReportConcurrency, 0, 0, 0)
		if wait, ok := try(l, Bulk); ok || wait != DefaultConcurrencyPause {
			t.Fatalf("ok=%v wait=%v", ok, wait)
		}
	})

	t.Run("daily quota, vendor readings and the next day", func(t *testing.T) {
		c := &fakeClock{start}
		l := newAt(Limits{PerDay: 1000}, c)
		l.Report(context.Background(), ReportQuotaUsage, 0, 498, 500)
		for range 2 {
			if _, ok := try(l, Bulk); !ok {
				t.Fatal("refused under the vendor's quota")
			}
		}
		wait, ok := try(l, Bulk)
		if ok || wait != 14*time.Hour {
			t.Fatalf("over quota: ok=%v wait=%v; want 14h to midnight UTC", ok, wait)
		}
		c.add(14 * time.Hour)
		if _, ok := try(l, Bulk); !ok {
			t.Fatal("refused on the next day")
		}
	})

	t.Run("leaked concurrency slots expire", func(t *testing.T) {
		c := &fakeClock{start}
		l := newAt(Limits{Concurrency: 1, MaxHold: 10 * time.Second}, c)
		if _, ok := try(l, Bulk); !ok {
			t.Fatal("first refused")
		}
		if wait, ok := try(l, Bulk); ok || wait != 10*time.Second {
			t.Fatalf("second: ok=%v wait=%v", ok, wait)
		}
		c.add(10*time.Second + 1)
		if _, ok := try(l, Bulk); !ok {
			t.Fatal("a slot never released never came back")
		}
	})
}

func TestLocalAcquireHonoursContext(t *testing.T) {
	l := NewLocal(Limits{PerDay: 1})
	if _, err := l.Acquire(context.Background(), 1, Bulk); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Acquire(ctx, 1, Bulk); err != context.DeadlineExceeded {
		t.Fatalf("err = %v; want deadline exceeded", err)
	}
}

func TestLimitsValidate(t *testing.T) {
	tests := []struct {
		l  Limits
		ok bool
	}{
		{Limits{}, true},
		{Limits{Rate: 99, Per: time.Minute, Concurrency: 5, PerDay: 100000}, true},
		{Limits{Rate: 99}, false},
		{Limits{Concurrency: -1}, false},
		{Limits{Rate: 1, Per: time.Second, InteractiveShare: 1}, false},
	}
	for _, tt := range tests {
		if err := tt.l.Validate(); (err == nil) != tt.ok {
			t.Errorf("Validate(%+v) = %v", tt.l, err)
		}
	}
}
