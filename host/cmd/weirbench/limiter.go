package main

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/weirhq/weir/host/limiter"
	storeredis "github.com/weirhq/weir/host/store/redis"
)

// limiterReps and limiterSpan: each side is measured limiterReps times for
// limiterSpan, alternately.
const (
	limiterReps       = 2
	limiterSpan       = 2 * time.Second
	limiterGoroutines = 8
)

// trivialScript is the reference's bare script.
var trivialScript = goredis.NewScript(`return 1`)

// limiterChecks measures the Redis limiter's Acquire+Release pairs per
// second from 8 goroutines, with a rate and a concurrency so high that every
// check grants (but the whole script runs: sliding log, lease, quota).
// Reference: EVALSHA of a trivial script on the same client and goroutines.
func limiterChecks(r *redisEnv) row {
	ctx := context.Background()
	st, err := storeredis.Open(ctx, r.url, storeredis.Options{Prefix: keyPrefix})
	if err != nil {
		fatal(err)
	}
	defer st.Close()
	// Per/Rate under 1 µs: no pacing; a 1 min sliding window.
	limits := limiter.Limits{Rate: 1_000_000_000, Per: time.Minute, Concurrency: 1_000_000}
	lim := limiter.NewRedis(st.Client(), runID+"_limiter", limits, limiter.WithKeyPrefix(keyPrefix+":lim:"))
	defer lim.Close()
	var weir, ref float64
	weirCPU, refCPU := math.Inf(1), math.Inf(1)
	// measure runs f for limiterSpan and also returns the Redis CPU a call.
	measure := func(f func() error) (float64, float64) {
		before := r.cpu(ctx)
		rate, calls := perSecond(f)
		return rate, float64((r.cpu(ctx) - before).Microseconds()) / float64(calls)
	}
	for range limiterReps {
		w, wc := measure(func() error {
			lease, err := lim.Acquire(ctx, 1, limiter.Bulk)
			if err != nil {
				return err
			}
			if lease == "" {
				return fmt.Errorf("limiter: no lease with a concurrency limit")
			}
			return lim.Release(ctx, lease)
		})
		rf, rc := measure(func() error {
			return trivialScript.Run(ctx, st.Client(), nil).Err()
		})
		weir, ref = max(weir, w), max(ref, rf)
		weirCPU, refCPU = min(weirCPU, wc), min(refCPU, rc)
	}
	note("limiter: limits rate %d per %v and concurrency %d, so every Acquire grants after the whole script (sliding log, lease, quota); Redis CPU: %.1f µs a pair, %.1f µs a trivial EVALSHA",
		limits.Rate, limits.Per, limits.Concurrency, weirCPU, refCPU)
	u, err := lim.Usage(ctx)
	if err != nil {
		fatal(err)
	}
	if u.Waits > 0 {
		progress("limiter: %d checks had to wait; the rate was not high enough", u.Waits)
	}
	return row{
		figure:    fmt.Sprintf("limiter checks: Acquire+Release, Redis, %d goroutines [best of %d]", limiterGoroutines, limiterReps),
		weir:      fmt.Sprintf("%.0f pairs/s", weir),
		reference: fmt.Sprintf("%.0f/s EVALSHA of `return 1`", ref),
		ratio:     fmt.Sprintf("%.2f×", weir/ref),
		target:    "(none in §8; a pair is 2 scripts)",
	}
}

// perSecond runs f on limiterGoroutines goroutines for limiterSpan and
// returns the calls per second and the calls.
func perSecond(f func() error) (float64, int64) {
	var calls atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	stop := time.Now().Add(limiterSpan)
	start := time.Now()
	for range limiterGoroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if err := f(); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				calls.Add(1)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		fatal(firstErr)
	}
	return float64(calls.Load()) / time.Since(start).Seconds(), calls.Load()
}
