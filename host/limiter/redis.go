package limiter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultKeyPrefix starts every Redis key and channel of the limiter.
const DefaultKeyPrefix = "weir:lim:"

// DefaultMaxSleep caps one sleep of a waiting Acquire, so that a change made
// elsewhere (a Release whose notification was lost, a quota reading) is
// noticed within that time even when Redis said to wait longer.
const DefaultMaxSleep = time.Second

// DefaultCallTimeout bounds each Redis call of the limiter, so that a
// connection waiting on an unreachable or stalled Redis fails closed quickly
// whatever the client's own retries and timeouts. A decision normally takes
// well under a millisecond.
const DefaultCallTimeout = 500 * time.Millisecond

// Redis is a distributed limiter for one connection, shared by every host
// process that points at the same Redis. It has the semantics of Local: an
// exact sliding-window log, an interactive reserve, concurrency leases with a
// time to live, a daily quota (UTC days) and vendor pauses.
//
// All of a connection's state lives under one hash tag, so the keys share a
// Redis Cluster slot and each decision is one atomic Lua script timed by the
// Redis server clock (TIME), never by the hosts' clocks:
//
//	<prefix>{<connection>}:log    ZSET  one member per granted request, scored by grant time (µs)
//	<prefix>{<connection>}:sem    ZSET  concurrency leases, scored by expiry (µs)
//	<prefix>{<connection>}:pause  STRING  end of the vendor pause (µs), with PX
//	<prefix>{<connection>}:quota  HASH  day (UTC days since the epoch), used, max (vendor's quota)
//	<prefix>{<connection>}:wake   pub/sub channel: a lease was released or the vendor reported
//
// Every key expires on its own once it no longer matters. Redis errors fail
// closed: nothing is granted without Redis, and Acquire returns the error so
// the caller retries later.
type Redis struct {
	client     redis.UniversalClient
	connection string
	limits     Limits
	prefix     string
	keys       []string // log, sem, pause, quota
	channel    string
	maxSleep   time.Duration
	// callTimeout bounds each Redis call (0: the client's timeouts only).
	callTimeout time.Duration
	// offset shifts the server clock in every script (tests: next UTC day).
	offset time.Duration

	tokenPrefix string
	seq         atomic.Uint64
	waits       atomic.Int64

	mu         sync.Mutex
	changed    chan struct{}
	sub        *redis.PubSub
	subTried   time.Time
	subClosing bool
	// held maps the concurrency slots this process holds to when each was
	// granted; renewing is set while renew runs.
	held     map[string]time.Time
	renewing bool
	closed   chan struct{}
}

// RedisOption configures NewRedis.
type RedisOption func(*Redis)

// WithKeyPrefix replaces DefaultKeyPrefix.
func WithKeyPrefix(prefix string) RedisOption {
	return func(r *Redis) { r.prefix = prefix }
}

// WithMaxSleep replaces DefaultMaxSleep. Non-positive values are ignored.
func WithMaxSleep(d time.Duration) RedisOption {
	return func(r *Redis) {
		if d > 0 {
			r.maxSleep = d
		}
	}
}

// WithCallTimeout replaces DefaultCallTimeout; 0 leaves each call to the
// client's own timeouts. When a call that would have granted a request times
// out, the grant still counts (and its lease is held until it expires): the
// limiter errs on the side of the vendor.
func WithCallTimeout(d time.Duration) RedisOption {
	return func(r *Redis) {
		if d >= 0 {
			r.callTimeout = d
		}
	}
}

// NewRedis returns the limiter of connection on client, for limits, which
// must be valid. Every host of the connection must use the same limits. Call
// Close when done with it.
func NewRedis(client redis.UniversalClient, connection string, limits Limits, opts ...RedisOption) *Redis {
	r := &Redis{client: client, connection: connection, limits: limits, prefix: DefaultKeyPrefix,
		maxSleep: DefaultMaxSleep, callTimeout: DefaultCallTimeout, changed: make(chan struct{}), tokenPrefix: newTokenPrefix(),
		held: map[string]time.Time{}, closed: make(chan struct{})}
	for _, o := range opts {
		o(r)
	}
	base := r.prefix + "{" + connection + "}:"
	r.keys = []string{base + "log", base + "sem", base + "pause", base + "quota", base + "pace"}
	r.channel = base + "wake"
	return r
}

// newTokenPrefix returns a random prefix that makes this process's lease
// tokens unique among all hosts.
func newTokenPrefix() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(err)
	}
	return hex.EncodeToString(b[:]) + "-"
}

func (r *Redis) newToken() string {
	return r.tokenPrefix + strconv.FormatUint(r.seq.Add(1), 36)
}

// Why a request must wait, as returned by acquireScript.
const (
	waitPause = iota + 1
	waitQuota
	waitRate
	waitConcurrency
)

// acquireScript decides one request atomically. Times are integer
// microseconds of the Redis server clock (plus a test offset).
//
//	KEYS: log, sem, pause, quota, pace
//	ARGV: cost, allowed (rate for the priority, 0: none), per, concurrency,
//	      lease ttl, per-day quota, token, clock offset, pacing interval
//	      (0: none)
//
// It returns {1, 0, now, 0} for a grant (the lease is the token) or
// {0, wait, now, reason}. Numbers are passed to redis.call as numbers, never
// concatenated into strings, which would round them to 14 digits.
var acquireScript = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[8])
local cost = tonumber(ARGV[1])
local allowed = tonumber(ARGV[2])
local per = tonumber(ARGV[3])
local conc = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local perday = tonumber(ARGV[6])
local token = ARGV[7]
local DAY = 86400000000

local paused = tonumber(redis.call('GET', KEYS[3]) or '0') or 0
if paused > now then
  return {0, paused - now, now, 1}
end

local today = math.floor(now / DAY)
local q = redis.call('HMGET', KEYS[4], 'day', 'used', 'max')
local sameday = tonumber(q[1]) == today
local used = 0
if sameday then used = tonumber(q[2]) or 0 end
local quota = perday
local vmax = tonumber(q[3]) or 0
if vmax > 0 and (quota == 0 or vmax < quota) then quota = vmax end
if quota > 0 and used + cost > quota then
  return {0, (today + 1) * DAY - now, now, 2}
end

if allowed > 0 then
  local cutoff = now - per
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
  local n = redis.call('ZCARD', KEYS[1])
  local excess = n + cost - allowed
  -- A cost larger than a window can ever hold is taken alone.
  if excess > n then excess = n end
  if excess > 0 then
    local e = redis.call('ZRANGE', KEYS[1], excess - 1, excess - 1, 'WITHSCORES')
    return {0, tonumber(e[2]) - cutoff, now, 3}
  end
end

local interval = tonumber(ARGV[9])
if interval > 0 then
  local tat = tonumber(redis.call('GET', KEYS[5]) or '0') or 0
  if tat > now then
    return {0, tat - now, now, 3}
  end
end

if conc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 1)
  if redis.call('ZCARD', KEYS[2]) >= conc then
    local e = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return {0, tonumber(e[2]) - now + 1, now, 4}
  end
  redis.call('ZADD', KEYS[2], now + ttl, token)
  local ttlms = math.ceil(ttl / 1000) + 1
  if redis.call('PTTL', KEYS[2]) < ttlms then
    redis.call('PEXPIRE', KEYS[2], ttlms)
  end
end

if allowed > 0 then
  local i = 1
  while i <= cost do
    local args = {}
    local last = math.min(cost, i + 499)
    for j = i, last do
      args[#args + 1] = now
      args[#args + 1] = token .. ':' .. j
    end
    redis.call('ZADD', KEYS[1], unpack(args))
    i = last + 1
  end
  redis.call('PEXPIRE', KEYS[1], math.ceil(per / 1000) + 1)
end

if interval > 0 then
  -- A grant that came late (callers wake a little after their turn)
  -- keeps the schedule, up to two intervals, so lateness does not add up.
  -- After an idle spell the schedule starts again from now.
  local tat = tonumber(redis.call('GET', KEYS[5]) or '0') or 0
  if tat < now - 2 * interval then tat = now end
  redis.call('SET', KEYS[5], tat + cost * interval, 'PX', math.ceil(per / 1000) + 1)
end

if sameday then
  redis.call('HINCRBY', KEYS[4], 'used', cost)
else
  redis.call('HSET', KEYS[4], 'day', today, 'used', cost)
  redis.call('PEXPIRE', KEYS[4], math.ceil(((today + 2) * DAY - now) / 1000))
end
return {1, 0, now, 0}
`)

// renewScript extends the expiry of leases that have not expired; an
// expired lease may already count as free, so it stays expired.
//
//	KEYS: sem
//	ARGV: lease ttl (µs), clock offset, then the leases
//
// It returns how many it renewed.
var renewScript = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[2])
local ttl = tonumber(ARGV[1])
local n = 0
for i = 3, #ARGV do
  local exp = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[i]))
  if exp and exp >= now then
    redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[i])
    n = n + 1
  end
end
local ttlms = math.ceil(ttl / 1000) + 1
if n > 0 and redis.call('PTTL', KEYS[1]) < ttlms then
  redis.call('PEXPIRE', KEYS[1], ttlms)
end
return n
`)

// releaseScript removes a lease and wakes the waiters of every host.
//
//	KEYS: sem
//	ARGV: lease, channel
var releaseScript = redis.NewScript(`
local n = redis.call('ZREM', KEYS[1], ARGV[1])
if n > 0 then redis.call('PUBLISH', ARGV[2], 'release') end
return n
`)

// reportScript applies a vendor report.
//
//	KEYS: pause, quota
//	ARGV: "pause" or "usage", pause (µs; 0: until the next UTC day), used,
//	      max, clock offset, channel
var reportScript = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[5])
local DAY = 86400000000
local today = math.floor(now / DAY)
if ARGV[1] == 'usage' then
  redis.call('HSET', KEYS[2], 'day', today, 'used', tonumber(ARGV[3]), 'max', tonumber(ARGV[4]))
  redis.call('PEXPIRE', KEYS[2], math.ceil(((today + 2) * DAY - now) / 1000))
else
  local d = tonumber(ARGV[2])
  if d <= 0 then d = (today + 1) * DAY - now end
  local untilT = now + d
  local cur = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
  if untilT > cur then
    redis.call('SET', KEYS[1], untilT, 'PX', math.ceil(d / 1000) + 1)
  end
end
redis.call('PUBLISH', ARGV[6], ARGV[1])
return now
`)

// usageScript reads a snapshot without changing anything.
//
//	KEYS: log, sem, pause, quota
//	ARGV: per, per-day quota, clock offset
//
// It returns {in window, in flight, used today, quota, paused until, now}.
var usageScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[3])
local per = tonumber(ARGV[1])
local DAY = 86400000000
local inwin = 0
if per > 0 then inwin = redis.call('ZCOUNT', KEYS[1], now - per + 1, '+inf') end
local inflight = redis.call('ZCOUNT', KEYS[2], now, '+inf')
local q = redis.call('HMGET', KEYS[4], 'day', 'used', 'max')
local used = 0
if tonumber(q[1]) == math.floor(now / DAY) then used = tonumber(q[2]) or 0 end
local quota = tonumber(ARGV[2])
local vmax = tonumber(q[3]) or 0
if vmax > 0 and (quota == 0 or vmax < quota) then quota = vmax end
local paused = tonumber(redis.call('GET', KEYS[3]) or '0') or 0
if paused <= now then paused = 0 end
return {inwin, inflight, used, quota, paused, now}
`)

// callContext bounds one Redis call by the call timeout.
func (r *Redis) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.callTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, r.callTimeout)
}

// callErr describes a failed Redis call whose caller's context is still live.
func (r *Redis) callErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("limiter: connection %s: no answer from Redis within %v: %w",
			r.connection, r.callTimeout, err)
	}
	return fmt.Errorf("limiter: connection %s: Redis: %w", r.connection, err)
}

// decision is the outcome of one acquireScript run.
type decision struct {
	granted bool
	wait    time.Duration
	at      time.Time // the server time of the decision
	reason  int
}

// try runs acquireScript once for a request of cost at priority p, holding
// lease token if granted.
func (r *Redis) try(ctx context.Context, cost int, p Priority, token string) (decision, error) {
	l := r.limits
	allowed, per := 0, int64(0)
	if l.Rate > 0 {
		allowed, per = l.RateFor(p), l.Per.Microseconds()
	}
	ctx, cancel := r.callContext(ctx)
	defer cancel()
	res, err := acquireScript.Run(ctx, r.client, r.keys, cost, allowed, per, l.Concurrency,
		l.TTL().Microseconds(), l.PerDay, token, r.offset.Microseconds(), l.PaceFor(p).Microseconds()).Int64Slice()
	if err != nil {
		return decision{}, err
	}
	if len(res) != 4 {
		return decision{}, fmt.Errorf("acquire script returned %d values", len(res))
	}
	return decision{granted: res[0] == 1, wait: time.Duration(res[1]) * time.Microsecond,
		at: time.UnixMicro(res[2]), reason: int(res[3])}, nil
}

// Acquire blocks until a request of cost at priority p is allowed, and
// returns the lease of its concurrency slot ("" when concurrency is not
// limited). Between attempts it sleeps for the wait Redis computed (at most
// the max sleep), or until a lease is released on any host; it never spins.
// It fails at once, granting nothing, when Redis cannot be reached.
func (r *Redis) Acquire(ctx context.Context, cost int, p Priority) (string, error) {
	lease, _, err := r.acquire(ctx, cost, p)
	return lease, err
}

// acquire is Acquire that also returns the server time of the grant.
func (r *Redis) acquire(ctx context.Context, cost int, p Priority) (string, time.Time, error) {
	if cost < 1 {
		cost = 1
	}
	token := r.newToken()
	waited := false
	for {
		changed := r.changedChan()
		d, err := r.try(ctx, cost, p, token)
		if err != nil {
			if ctx.Err() != nil {
				return "", time.Time{}, ctx.Err()
			}
			// Fail closed: nothing is granted without Redis.
			return "", time.Time{}, fmt.Errorf("%w (nothing granted; retry later)", r.callErr(err))
		}
		if d.granted {
			if r.limits.Concurrency <= 0 {
				return "", d.at, nil
			}
			r.hold(token)
			return token, d.at, nil
		}
		if !waited {
			waited = true
			r.waits.Add(1)
		}
		// Only a release or a vendor report can shorten a wait for a
		// concurrency slot or for quota; rate waits and pauses are exact.
		var wake <-chan struct{}
		if d.reason == waitConcurrency || d.reason == waitQuota {
			if r.subscribe(ctx) {
				continue // subscribed just now: look again, missing nothing
			}
			wake = changed
		}
		if err := sleep(ctx, min(d.wait, r.maxSleep), wake); err != nil {
			return "", time.Time{}, err
		}
	}
}

func (r *Redis) changedChan() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// broadcast wakes this process's waiters.
func (r *Redis) broadcast() {
	r.mu.Lock()
	defer r.mu.Unlock()
	close(r.changed)
	r.changed = make(chan struct{})
}

// subscribeRetry is how often a failed subscription is tried again.
const subscribeRetry = 5 * time.Second

// subscribe starts listening for releases and reports of other hosts, once.
// It reports whether it subscribed now. Without a subscription waiters still
// notice changes within the max sleep.
func (r *Redis) subscribe(ctx context.Context) bool {
	r.mu.Lock()
	if r.sub != nil || r.subClosing || time.Since(r.subTried) < subscribeRetry {
		r.mu.Unlock()
		return false
	}
	r.subTried = time.Now()
	r.mu.Unlock()

	ctx, cancel := r.callContext(ctx)
	defer cancel()
	ps := r.client.Subscribe(ctx, r.channel)
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return false
	}
	r.mu.Lock()
	if r.sub != nil || r.subClosing {
		r.mu.Unlock()
		ps.Close()
		return false
	}
	r.sub = ps
	r.mu.Unlock()
	ch := ps.Channel()
	go func() {
		for range ch {
			r.broadcast()
		}
	}()
	return true
}

func (r *Redis) subscribed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sub != nil
}

// hold records a slot this process was granted, and starts renewing.
func (r *Redis) hold(token string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.held[token] = time.Now()
	if !r.renewing {
		r.renewing = true
		go r.renew()
	}
}

// renew keeps this process's slots from expiring while it holds them: each
// third of the lease TTL it extends every slot held for less than the max
// hold. A host that dies stops renewing, so its slots come back to the
// other hosts within the TTL. It returns once no slot is held, or on Close.
// A renewal that fails (Redis unreachable) is not retried: the slot may
// then expire while its request still runs, and be granted again.
func (r *Redis) renew() {
	tick := time.NewTicker(r.limits.TTL() / 3)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-r.closed:
			r.mu.Lock()
			r.renewing = false
			r.mu.Unlock()
			return
		}
		r.mu.Lock()
		args := []any{r.limits.TTL().Microseconds(), r.offset.Microseconds()}
		for token, since := range r.held {
			if time.Since(since) >= r.limits.Hold() {
				delete(r.held, token) // never released: left to expire
				continue
			}
			args = append(args, token)
		}
		if len(r.held) == 0 {
			r.renewing = false
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		ctx, cancel := r.callContext(context.Background())
		renewScript.Run(ctx, r.client, r.keys[1:2], args...)
		cancel()
	}
}

// Close stops listening for other hosts' releases and renewing this
// process's slots (which then expire within the lease TTL unless
// released). It does not close the client. The limiter still works
// afterwards, noticing releases elsewhere only within the max sleep.
func (r *Redis) Close() error {
	r.mu.Lock()
	ps := r.sub
	r.sub, r.subClosing = nil, true
	select {
	case <-r.closed:
	default:
		close(r.closed)
	}
	r.mu.Unlock()
	if ps != nil {
		return ps.Close()
	}
	return nil
}

// Release frees a concurrency slot on every host. Unknown or expired leases
// are ignored.
func (r *Redis) Release(ctx context.Context, lease string) error {
	if lease == "" {
		return nil
	}
	r.mu.Lock()
	delete(r.held, lease)
	r.mu.Unlock()
	ctx, cancel := r.callContext(ctx)
	defer cancel()
	n, err := releaseScript.Run(ctx, r.client, r.keys[1:2], lease, r.channel).Int64()
	if err != nil {
		return r.callErr(err)
	}
	if n > 0 && !r.subscribed() {
		r.broadcast()
	}
	return nil
}

// Report applies what the vendor said, for every host: a rate or
// concurrency refusal pauses the connection (for retryAfter, or a default);
// an exhausted quota pauses it until the next UTC day unless retryAfter says
// otherwise; a quota reading replaces the day's count and sets the vendor's
// maximum (0: none).
func (r *Redis) Report(ctx context.Context, kind ReportKind, retryAfter time.Duration, used, max int64) error {
	op := "pause"
	switch kind {
	case ReportRate:
		if retryAfter <= 0 {
			retryAfter = DefaultRatePause
		}
	case ReportConcurrency:
		if retryAfter <= 0 {
			retryAfter = DefaultConcurrencyPause
		}
	case ReportQuota:
		if retryAfter < 0 {
			retryAfter = 0 // until the next day
		}
	case ReportQuotaUsage:
		op = "usage"
	default:
		return fmt.Errorf("limiter: unknown report kind %d", kind)
	}
	us := retryAfter.Microseconds()
	if retryAfter > 0 && us == 0 {
		us = 1
	}
	ctx, cancel := r.callContext(ctx)
	defer cancel()
	err := reportScript.Run(ctx, r.client, []string{r.keys[2], r.keys[3]}, op, us, used, max,
		r.offset.Microseconds(), r.channel).Err()
	if err != nil {
		return r.callErr(err)
	}
	if !r.subscribed() {
		r.broadcast()
	}
	return nil
}

// Usage returns a snapshot of the connection across all hosts; Waits counts
// this process's Acquire calls that had to wait.
func (r *Redis) Usage(ctx context.Context) (Usage, error) {
	per := int64(0)
	if r.limits.Rate > 0 {
		per = r.limits.Per.Microseconds()
	}
	ctx, cancel := r.callContext(ctx)
	defer cancel()
	res, err := usageScript.Run(ctx, r.client, r.keys, per, r.limits.PerDay, r.offset.Microseconds()).Int64Slice()
	if err != nil {
		return Usage{}, r.callErr(err)
	}
	if len(res) != 6 {
		return Usage{}, errors.New("limiter: usage script returned a malformed reply")
	}
	u := Usage{InWindow: int(res[0]), Rate: r.limits.Rate, Per: r.limits.Per, InFlight: int(res[1]),
		Concurrency: r.limits.Concurrency, UsedToday: res[2], PerDay: res[3], Waits: r.waits.Load()}
	if res[4] > 0 {
		u.PausedUntil = time.UnixMicro(res[4])
	}
	return u, nil
}
