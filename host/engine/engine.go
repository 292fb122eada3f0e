package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/weirhq/weir/host/expr"
	"github.com/weirhq/weir/host/store"
	"github.com/weirhq/weir/sdk"
)

// Engine timings.
const (
	// DefaultLeaseTTL is how long a worker holds leased records before
	// another worker may take them over; leases are renewed every third of
	// it while a write runs.
	DefaultLeaseTTL = 10 * time.Second
	// idlePollMax is the longest a worker sleeps when the queue is empty
	// before it looks again (delayed retries, other hosts' records).
	idlePollMax = 250 * time.Millisecond
	// idlePollMin is the first idle sleep.
	idlePollMin = 5 * time.Millisecond
	// batchLinger is how long a worker whose last batch was not full waits
	// before it leases again, so that records trickling in are written in
	// fewer, larger batches (fewer vendor calls, fewer commits).
	batchLinger = 25 * time.Millisecond
	// sourceErrorBackoffMax caps the pause after failed source reads.
	sourceErrorBackoffMax = 30 * time.Second
	// DefaultDrainTimeout bounds how long Run waits for in-flight batches
	// after its context ends.
	DefaultDrainTimeout = 30 * time.Second
)

// Options configure an Engine.
type Options struct {
	Pipelines []Pipeline
	Queue     store.Queue
	// Leadership, when set, elects one host at a time to poll each
	// pipeline source (several hosts on one shared store).
	Leadership store.Leadership
	Connectors Connectors
	Metrics    *Metrics
	Logger     *slog.Logger
	// XRef, when set, records each written record's destination id against
	// its source key (the cross-reference table).
	XRef XRef
	// Owner names this host in leases; it must be unique per process.
	Owner        string
	LeaseTTL     time.Duration
	DrainTimeout time.Duration
	// Now is the clock for retry times; nil uses time.Now.
	Now func() time.Time
	// ForgetEvery is how often pipelines with ForgetDeliveredAfter forget
	// delivered versions; DefaultForgetEvery if zero.
	ForgetEvery time.Duration
}

// DefaultForgetEvery is how often delivered versions are forgotten.
const DefaultForgetEvery = time.Hour

// forgetBatch is how many keys one ForgetDelivered call examines.
const forgetBatch = 1000

// Engine runs pipelines.
type Engine struct {
	opts      Options
	pipelines map[string]*runner
	log       *slog.Logger
}

// runner runs one pipeline.
type runner struct {
	e    *Engine
	p    Pipeline
	ev   *evaluator
	wake chan struct{}
	log  *slog.Logger
	// keyPath is the key expression's attribute path when it is a plain
	// traversal of record (record.a.b), "" otherwise: keys are then read
	// straight from the JSON, without converting the whole record.
	keyPath expr.StringPath
	// schema checks mapped records against the destination's fields.
	schema *schema
	// hooks batches the pipeline's webhooks.
	hooks hookBatcher
}

// New returns an engine for the pipelines.
func New(opts Options) (*Engine, error) {
	if opts.Connectors == nil {
		return nil, errors.New("engine: Connectors are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = DefaultDrainTimeout
	}
	if opts.ForgetEvery <= 0 {
		opts.ForgetEvery = DefaultForgetEvery
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Owner == "" {
		return nil, errors.New("engine: Owner is required")
	}
	e := &Engine{opts: opts, pipelines: map[string]*runner{}, log: opts.Logger}
	for _, p := range opts.Pipelines {
		p.withDefaults()
		if _, dup := e.pipelines[p.Name]; dup {
			return nil, fmt.Errorf("engine: pipeline %q defined twice", p.Name)
		}
		if m := opts.Metrics; m != nil {
			m.init(p.Name)
		}
		sch, err := newSchema(p.Destination.Fields)
		if err != nil {
			return nil, fmt.Errorf("engine: pipeline %s: destination %s: %w", p.Name, p.Destination.Object, err)
		}
		r := &runner{e: e, p: p, ev: &evaluator{funcs: p.Functions}, wake: make(chan struct{}, 1),
			log: opts.Logger.With("pipeline", p.Name), schema: sch}
		r.keyPath, _ = expr.CompileStringPath(recordPath(p.Key))
		e.pipelines[p.Name] = r
	}
	return e, nil
}

// Pipelines returns the names of the engine's pipelines.
func (e *Engine) Pipelines() []string {
	names := make([]string, 0, len(e.pipelines))
	for n := range e.pipelines {
		names = append(names, n)
	}
	return names
}

// Run polls sources and runs workers until ctx ends, then stops intake and
// drains: batches in flight finish, or are returned to the queue when the
// drain timeout passes. It returns nil after a clean drain.
func (e *Engine) Run(ctx context.Context) error {
	if e.opts.Queue == nil {
		return errors.New("engine: Run needs a Queue")
	}
	// Workers keep running for the drain after ctx ends; work is the
	// context their writes use, cancelled when the drain times out.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	var sources, workers sync.WaitGroup
	for _, r := range e.pipelines {
		if r.p.Source.Poll > 0 {
			sources.Add(1)
			go func() { defer sources.Done(); r.poll(ctx) }()
		}
		for i := range r.p.Workers {
			workers.Add(1)
			go func() { defer workers.Done(); r.work(ctx, work, i) }()
		}
		if r.p.ForgetDeliveredAfter > 0 {
			sources.Add(1)
			go func() { defer sources.Done(); r.forgetDelivered(ctx) }()
		}
	}
	<-ctx.Done()
	sources.Wait()
	done := make(chan struct{})
	go func() { workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(e.opts.DrainTimeout):
		e.log.Warn("drain timeout: returning in-flight records to the queue", "timeout", e.opts.DrainTimeout)
		cancelWork()
		<-done
	}
	return nil
}

// Ingest decodes a webhook request through the pipeline's source connector
// and durably enqueues its records. The response is the connector's, to be
// sent only after Ingest returns without error. Concurrent requests to one
// pipeline share connector calls and enqueues (see hookBatcher).
func (e *Engine) Ingest(ctx context.Context, pipeline string, req sdk.WebhookRequest) (sdk.WebhookResponse, error) {
	r, ok := e.pipelines[pipeline]
	if !ok {
		return sdk.WebhookResponse{}, fmt.Errorf("%w: %q", ErrUnknownPipeline, pipeline)
	}
	if e.opts.Queue == nil {
		return sdk.WebhookResponse{}, errNoQueue
	}
	c := &hookCall{ctx: ctx, req: req}
	r.hooks.do(c, r.ingestBatch)
	return c.resp, c.err
}

// XRef records which ids one record has in which systems.
type XRef interface {
	Put(ctx context.Context, system, key string, ids map[string]string) error
}

// ErrUnknownPipeline is returned for a pipeline name the engine does not run.
var ErrUnknownPipeline = errors.New("unknown pipeline")

var errNoQueue = errors.New("engine: Ingest needs a Queue")

// enqueue computes keys and durably stores records, with the checkpoint in
// the same commit.
func (r *runner) enqueue(ctx context.Context, recs []sdk.Record, cp *store.Checkpoint) error {
	out := make([]store.Record, 0, len(recs))
	for _, rec := range recs {
		sr := store.Record{Key: rec.Key, Version: rec.Version, Op: store.Op(rec.Op), Object: rec.Object, Payload: rec.Payload, Metadata: rec.Metadata}
		if r.p.Key != nil {
			if err := r.keyOf(&sr); err != nil {
				// Keep the record: it is dead-lettered with the reason
				// when a worker leases it.
				if sr.Metadata == nil {
					sr.Metadata = map[string]string{}
				} else {
					sr.Metadata = cloneMeta(sr.Metadata)
				}
				e := permanentFromEval(err)
				sr.Metadata[metaError], sr.Metadata[metaField] = e.Message, e.Field
			}
		}
		if sr.Key == "" {
			sr.Key = fmt.Sprintf("unkeyed:%d:%d", time.Now().UnixNano(), len(out))
		}
		out = append(out, sr)
	}
	res, err := r.e.opts.Queue.Enqueue(ctx, r.p.Name, out, cp)
	if err != nil {
		return fmt.Errorf("pipeline %s: enqueue %d records: %w", r.p.Name, len(out), err)
	}
	if m := r.e.opts.Metrics; m != nil {
		m.In.WithLabelValues(r.p.Name).Add(float64(res.Accepted))
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return nil
}

// Metadata keys the engine sets on records that must be dead-lettered.
const (
	metaError = "weir.error"
	metaField = "weir.error_field"
)

func (r *runner) keyOf(sr *store.Record) error {
	if r.keyPath != "" {
		if k, ok := r.keyPath.In(sr.Payload); ok && k != "" {
			sr.Key = k
			return nil
		}
		// Anything else (a number, a missing field) takes the full path,
		// which also words the error.
	}
	vars, err := recordVars(sr.Payload)
	if err != nil {
		return err
	}
	k, err := r.ev.key(r.p.Key, vars)
	if err != nil {
		return err
	}
	sr.Key = k
	return nil
}

// recordPath returns the attribute names of an expression of the form
// record.a.b, or nil.
func recordPath(e hcl.Expression) []string {
	if e == nil {
		return nil
	}
	t, diags := hcl.AbsTraversalForExpr(e)
	if diags.HasErrors() || len(t) < 2 || t.RootName() != "record" {
		return nil
	}
	var path []string
	for _, step := range t[1:] {
		a, ok := step.(hcl.TraverseAttr)
		if !ok {
			return nil
		}
		path = append(path, a.Name)
	}
	return path
}

func cloneMeta(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+2)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// forgetDelivered has the store forget the delivered versions of keys idle
// for the pipeline's ForgetDeliveredAfter, every ForgetEvery (the first
// time within a minute of the start, so that restarts do not put it off),
// until ctx ends. Hosts sharing a store all do it: it is idempotent.
func (r *runner) forgetDelivered(ctx context.Context) {
	wait := time.Duration(rand.Int64N(int64(min(r.e.opts.ForgetEvery, time.Minute)) + 1))
	for {
		if sleepCtx(ctx, wait); ctx.Err() != nil {
			return
		}
		start, total, cursor := time.Now(), 0, ""
		for ctx.Err() == nil {
			n, next, err := r.e.opts.Queue.ForgetDelivered(ctx, r.p.Name, r.p.ForgetDeliveredAfter, cursor, forgetBatch)
			if err != nil {
				if ctx.Err() == nil {
					r.log.Warn("forgetting delivered versions failed; trying again later", "err", err)
				}
				break
			}
			total += n
			if m := r.e.opts.Metrics; m != nil && n > 0 {
				m.Forgotten.WithLabelValues(r.p.Name).Add(float64(n))
			}
			if cursor = next; cursor == "" {
				r.log.Info("forgot the delivered versions of idle keys", "keys", total,
					"idle_for", r.p.ForgetDeliveredAfter.String(), "took", time.Since(start).Round(time.Millisecond).String())
				break
			}
		}
		wait = r.e.opts.ForgetEvery
	}
}

// poll reads the source after its checkpoint until ctx ends. The cursor is
// saved in the same commit as the records read before it, so a crash either
// keeps both or re-reads both.
func (r *runner) poll(ctx context.Context) {
	src := r.p.Source
	backoff := time.Duration(0)
	// A host that is not the source's leader, or that waits for the next
	// poll, checks its leadership this often so that it takes over within
	// the lease time when the leader dies, and renews it while it leads.
	tick := min(src.Poll, r.e.opts.LeaseTTL/3)
	var nextRead time.Time
	leading := false
	for ctx.Err() == nil {
		token, err := r.lead(ctx)
		switch {
		case errors.Is(err, errNotLeader):
			if leading {
				r.log.Info("source led by another host", "connection", src.Connection)
			}
			leading = false
			sleepCtx(ctx, tick)
			continue
		case err != nil:
			if ctx.Err() == nil {
				backoff = min(max(2*backoff, time.Second), sourceErrorBackoffMax)
				r.log.Warn("source leadership failed", "connection", src.Connection, "err", err, "retry_in", backoff)
				sleepCtx(ctx, backoff)
			}
			continue
		}
		if !leading && r.e.opts.Leadership != nil {
			r.log.Info("leading the source", "connection", src.Connection, "token", token)
		}
		leading = true
		if wait := time.Until(nextRead); wait > 0 {
			sleepCtx(ctx, min(wait, tick))
			continue
		}
		more, err := r.pollOnce(ctx, token)
		switch {
		case errors.Is(err, errNotLeader):
			leading = false
		case err != nil && ctx.Err() == nil:
			if m := r.e.opts.Metrics; m != nil {
				m.ReadErrors.WithLabelValues(r.p.Name).Inc()
			}
			backoff = min(max(2*backoff, time.Second), sourceErrorBackoffMax)
			r.log.Warn("source read failed", "connection", src.Connection, "err", err, "retry_in", backoff)
			nextRead = time.Now().Add(backoff)
		case more:
			backoff = 0
			nextRead = time.Time{}
		default:
			backoff = 0
			nextRead = time.Now().Add(src.Poll)
		}
	}
}

// errNotLeader means another host leads the pipeline's source.
var errNotLeader = errors.New("not the source's leader")

// lead acquires or renews this host's leadership of the pipeline's source
// and returns its fencing token (0 without a Leadership: one host).
func (r *runner) lead(ctx context.Context) (uint64, error) {
	l := r.e.opts.Leadership
	if l == nil {
		return 0, nil
	}
	token, err := l.Lead(ctx, r.p.Name, r.p.Source.Connection, r.e.opts.Owner, r.e.opts.LeaseTTL)
	if errors.Is(err, store.ErrNotLeader) {
		return 0, errNotLeader
	}
	return token, err
}

func (r *runner) pollOnce(ctx context.Context, token uint64) (bool, error) {
	src := r.p.Source
	cursor, err := r.e.opts.Queue.Checkpoint(ctx, r.p.Name, src.Connection)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("load checkpoint: %w", err)
	}
	conn, err := r.e.opts.Connectors.Connector(ctx, src.Connection)
	if err != nil {
		return false, err
	}
	res, err := conn.Read(ctx, sdk.ReadRequest{Source: src.Settings, Cursor: cursor, MaxRecords: src.BatchSize})
	if err != nil {
		return false, err
	}
	if len(res.Records) == 0 && string(res.Cursor) == string(cursor) {
		return false, nil
	}
	err = r.enqueue(ctx, res.Records, &store.Checkpoint{Source: src.Connection, Value: res.Cursor, Token: token})
	if errors.Is(err, store.ErrNotLeader) {
		// Another host took over while this one read: what it read is
		// dropped, the new leader reads it again.
		return false, errNotLeader
	}
	if err != nil {
		return false, err
	}
	return res.More, nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// work leases and delivers batches until ctx ends; writes use work, which
// outlives ctx for the drain.
func (r *runner) work(ctx, work context.Context, n int) {
	owner := fmt.Sprintf("%s/%s/%d", r.e.opts.Owner, r.p.Name, n)
	idle := idlePollMin
	for ctx.Err() == nil {
		r.yieldToIntake(ctx)
		// Leased under work, not ctx: a lease taken as the run ends is still
		// delivered (or returned) in the drain, never left to expire.
		leases, err := r.e.opts.Queue.Lease(work, r.p.Name, owner, r.p.BatchSize, r.e.opts.LeaseTTL)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("lease failed", "err", err)
				sleepCtx(ctx, time.Second)
			}
			continue
		}
		if len(leases) == 0 {
			select {
			case <-ctx.Done():
			case <-r.wake:
				idle = idlePollMin
				// Records are arriving: let a batch gather.
				sleepCtx(ctx, batchLinger)
			case <-time.After(idle):
				idle = min(2*idle, idlePollMax)
			}
			continue
		}
		idle = idlePollMin
		r.deliver(work, leases)
		if len(leases) < r.p.BatchSize {
			sleepCtx(ctx, batchLinger)
		}
	}
}

// yieldToIntake waits while the pipeline's webhook intake is saturated, for
// at most maxIntakeYield (see intakeSaturated).
func (r *runner) yieldToIntake(ctx context.Context) {
	start := time.Now()
	deadline := start.Add(maxIntakeYield)
	for now := start; ctx.Err() == nil; now = time.Now() {
		if !now.Before(deadline) || !r.hooks.saturated(now) {
			break
		}
		sleepCtx(ctx, intakeYieldPoll)
	}
	if waited := time.Since(start); waited >= intakeYieldPoll && r.e.opts.Metrics != nil {
		r.e.opts.Metrics.Yielded.WithLabelValues(r.p.Name).Add(waited.Seconds())
	}
}

// deliver processes one leased batch and settles every record in it.
func (r *runner) deliver(ctx context.Context, leases []store.Lease) {
	stopRenew := r.renewWhile(ctx, leases)
	defer stopRenew()

	outcomes := make([]store.Outcome, 0, len(leases))
	var batch []sdk.Record
	var batchLeases []store.Lease
	for _, l := range leases {
		payload, skip, err := r.prepare(ctx, l)
		switch {
		case err != nil:
			outcomes = append(outcomes, r.failure(l, sdk.Classify(err)))
		case skip:
			if m := r.e.opts.Metrics; m != nil {
				m.Skipped.WithLabelValues(r.p.Name).Inc()
			}
			outcomes = append(outcomes, store.Outcome{Lease: l, Kind: store.Acked, Reason: skippedReason})
		default:
			rec := l.Record
			batch = append(batch, sdk.Record{Key: rec.Key, Version: rec.Version, Op: sdk.Operation(rec.Op), Object: rec.Object, Payload: payload, Metadata: rec.Metadata})
			batchLeases = append(batchLeases, l)
		}
	}
	if len(batch) > 0 {
		outcomes = append(outcomes, r.write(ctx, batch, batchLeases)...)
	}
	stopRenew()
	// Settle even when the drain was cut short, so nothing waits for its
	// lease to expire.
	settleCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.e.opts.Queue.Settle(settleCtx, outcomes); err != nil {
		if errors.Is(err, store.ErrLeaseLost) {
			r.log.Warn("leases taken over before settling; another worker delivers them", "err", err)
		} else {
			r.log.Error("settle failed; records will be delivered again after their lease", "err", err)
		}
		return
	}
	r.count(outcomes)
}

func (r *runner) count(outcomes []store.Outcome) {
	m := r.e.opts.Metrics
	if m == nil {
		return
	}
	for _, o := range outcomes {
		switch o.Kind {
		case store.Acked:
			if o.Reason != skippedReason {
				m.Delivered.WithLabelValues(r.p.Name).Inc()
			}
		case store.Retried:
			m.Retried.WithLabelValues(r.p.Name).Inc()
		case store.DeadLettered:
			m.DeadLettered.WithLabelValues(r.p.Name).Inc()
		}
	}
}

const skippedReason = "skipped"

// prepare evaluates when, lookups and map for one record. It returns the
// destination payload, or skip, or a classified error.
func (r *runner) prepare(ctx context.Context, l store.Lease) ([]byte, bool, error) {
	rec := l.Record
	if reason := rec.Metadata[metaError]; reason != "" {
		return nil, false, sdk.Permanent("INVALID_RECORD", reason, rec.Metadata[metaField])
	}
	if r.p.When == nil && r.p.Map == nil && len(r.p.Lookups) == 0 {
		return r.validated(rec, rec.Payload)
	}
	vars, err := recordVars(rec.Payload)
	if err != nil {
		return nil, false, permanentFromEval(err)
	}
	ok, err := r.ev.when(r.p.When, vars)
	if err != nil {
		return nil, false, permanentFromEval(err)
	}
	if !ok {
		return nil, true, nil
	}
	if len(r.p.Lookups) > 0 {
		results, err := r.lookups(ctx, vars)
		if err != nil {
			return nil, false, err
		}
		vars["lookup"] = results
	}
	if r.p.Map == nil {
		return r.validated(rec, rec.Payload)
	}
	out, err := r.ev.mapRecord(r.p.Map, vars)
	if err != nil {
		return nil, false, permanentFromEval(err)
	}
	return r.validated(rec, out)
}

// validated checks a record bound for the destination against its fields
// (deletes carry no fields to check).
func (r *runner) validated(rec store.Record, payload []byte) ([]byte, bool, error) {
	if rec.Op == store.OpDelete {
		return payload, false, nil
	}
	if err := r.schema.check(payload); err != nil {
		return nil, false, err
	}
	return payload, false, nil
}

// failure turns a classified error into the record's outcome: retry with
// backoff (honouring retry-after) or dead-letter when it is permanent or
// out of attempts. Expired auth waits for a fix and is never dead-lettered.
func (r *runner) failure(l store.Lease, e *sdk.Error) store.Outcome {
	reason := e.Error()
	if e.Status == sdk.StatusPermanent {
		return store.Outcome{Lease: l, Kind: store.DeadLettered, Reason: reason, Field: e.Field}
	}
	if e.Status != sdk.StatusAuthExpired && l.Attempt >= r.p.Retry.Attempts {
		return store.Outcome{Lease: l, Kind: store.DeadLettered, Field: e.Field,
			Reason: fmt.Sprintf("gave up after %d attempts: %s", l.Attempt, reason)}
	}
	delay := r.backoff(l.Attempt)
	if e.RetryAfter > delay {
		delay = e.RetryAfter
	}
	return store.Outcome{Lease: l, Kind: store.Retried, At: r.e.opts.Now().Add(delay), Reason: reason}
}

// backoff is exponential with full jitter: uniform in [base, min(max,
// base·2^(attempt-1))].
func (r *runner) backoff(attempt int) time.Duration {
	ceiling := r.p.Retry.BaseDelay
	for i := 1; i < attempt && ceiling < r.p.Retry.MaxDelay; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, r.p.Retry.MaxDelay)
	floor := min(r.p.Retry.BaseDelay, ceiling)
	if ceiling <= floor {
		return floor
	}
	return floor + rand.N(ceiling-floor)
}

// write sends one batch to the destination and maps its results.
func (r *runner) write(ctx context.Context, batch []sdk.Record, leases []store.Lease) []store.Outcome {
	d := r.p.Destination
	start := time.Now()
	results, err := r.writeBatch(ctx, batch)
	if m := r.e.opts.Metrics; m != nil {
		m.WriteLatency.WithLabelValues(r.p.Name).Observe(time.Since(start).Seconds())
	}
	outcomes := make([]store.Outcome, len(leases))
	if err == nil && len(results) != len(batch) {
		err = sdk.Retryable(fmt.Errorf("connection %s returned %d results for %d records", d.Connection, len(results), len(batch)), 0)
	}
	for i, l := range leases {
		if err != nil {
			outcomes[i] = r.failure(l, sdk.Classify(err))
			continue
		}
		res := results[i]
		if res.Status == sdk.StatusOK {
			outcomes[i] = store.Outcome{Lease: l, Kind: store.Acked}
			// A destination id equal to the key tells nothing new (jsonl,
			// http): only real cross-system ids are recorded.
			if x := r.e.opts.XRef; x != nil && res.ID != "" && res.ID != l.Record.Key {
				ids := map[string]string{d.Connection: res.ID}
				if err := x.Put(ctx, r.p.Source.Connection, l.Record.Key, ids); err != nil {
					// The write is idempotent: do it again rather than
					// leave the cross-reference out.
					outcomes[i] = r.failure(l, sdk.Classify(sdk.Retryable(fmt.Errorf("record the cross-reference: %w", err), 0)))
				}
			}
			continue
		}
		outcomes[i] = r.failure(l, &sdk.Error{Status: res.Status, RetryAfter: res.RetryAfter, Code: res.Code, Message: res.Message, Field: res.Field})
	}
	return outcomes
}

func (r *runner) writeBatch(ctx context.Context, batch []sdk.Record) ([]sdk.WriteResult, error) {
	d := r.p.Destination
	conn, err := r.e.opts.Connectors.Connector(ctx, d.Connection)
	if err != nil {
		return nil, sdk.Retryable(fmt.Errorf("connection %s: %w", d.Connection, err), 0)
	}
	return conn.Write(ctx, sdk.WriteRequest{Object: d.Object, Operation: d.Operation, Records: batch})
}

// renewWhile renews the batch's leases every third of the lease time until
// the returned stop is called.
func (r *runner) renewWhile(ctx context.Context, leases []store.Lease) (stop func()) {
	leases = slices.Clone(leases) // Renew updates Expires in place
	done := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(r.e.opts.LeaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := r.e.opts.Queue.Renew(ctx, leases, r.e.opts.LeaseTTL); err != nil && ctx.Err() == nil {
					r.log.Warn("lease renewal failed", "err", err)
				}
			}
		}
	}()
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

// lookups runs the pipeline's lookups for one record and returns them as
// the `lookup` variable. Connector failures keep their class: a rate-limited
// lookup retries the record later.
func (r *runner) lookups(ctx context.Context, vars map[string]cty.Value) (cty.Value, error) {
	out := make(map[string]cty.Value, len(r.p.Lookups))
	for _, lk := range r.p.Lookups {
		field := "lookup." + lk.Name
		q, err := r.ev.value(field, lk.Query, vars)
		if err != nil {
			return cty.NilVal, permanentFromEval(err)
		}
		query, err := expr.ToJSON(q)
		if err != nil {
			return cty.NilVal, permanentFromEval(&evalError{Field: field, Reason: err.Error()})
		}
		conn, err := r.e.opts.Connectors.Connector(ctx, lk.Connection)
		if err != nil {
			return cty.NilVal, sdk.Retryable(fmt.Errorf("connection %s: %w", lk.Connection, err), 0)
		}
		res, err := conn.Lookup(ctx, sdk.LookupRequest{Object: lk.Object, Query: query})
		if err != nil {
			e := sdk.Classify(err)
			if e.Field == "" {
				e.Field = field
			}
			return cty.NilVal, e
		}
		v, err := expr.FromJSON(res)
		if err != nil {
			return cty.NilVal, sdk.Retryable(fmt.Errorf("%s: connection %s returned invalid JSON: %w", field, lk.Connection, err), 0)
		}
		out[lk.Name] = v
		// Later lookups may refer to earlier ones.
		vars["lookup"] = cty.ObjectVal(out)
	}
	return cty.ObjectVal(out), nil
}
