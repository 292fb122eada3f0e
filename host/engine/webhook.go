package engine

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/weirhq/weir/sdk"
)

// Webhooks that reach one pipeline together are decoded in one connector
// call and stored in one enqueue: a burst of small requests then costs a
// few calls, not one per request. A request that arrives alone is handled
// at once; batches form while earlier ones are in progress, and linger a
// moment for more only while they are shared (measured on the 5,000-request
// burst: a third less CPU in host and connector, and a quarter less time).
const (
	// hookLeaders is how many batches of one pipeline may be in progress
	// (decoding and storing) at once. One gives the largest batches, and
	// so the fewest connector calls and commits: measured on the burst,
	// overlapping one batch's decoding with another's commit halved the
	// batches and cost more than it saved, and more leaders only add calls.
	hookLeaders = 1
	// hookLinger bounds how long a batch waits for more requests while
	// batches are shared (the pipeline is busy): it goes as soon as as many
	// wait as the last batch held.
	hookLinger = 2 * time.Millisecond
	// maxHookBatch bounds the requests in one batch.
	maxHookBatch = 64
	// maxHookBatchBytes bounds the bodies of one batch (one request may be
	// larger: it then goes alone).
	maxHookBatchBytes = 4 << 20
	// hookTimeout bounds one batch's decoding and storing; a sender that
	// hangs up does not cancel the others' work.
	hookTimeout = 30 * time.Second
)

// A burst of webhooks comes before deliveries: while a pipeline's intake is
// saturated, its workers wait before they lease, so that the senders' acks
// do not share the CPU and the store with deliveries (measured on the
// 5,000-request burst: deliveries running beside it made it 35-40% slower
// on both stores). The ERP, the usual destination, is slower than either.
const (
	// intakeLoadTau is the time constant of the intake's load, the
	// exponentially weighted share of time a batch was decoding or storing
	// (lingering for more requests does not count).
	intakeLoadTau = 20 * time.Millisecond
	// intakeSaturated is the load above which workers yield to the intake.
	intakeSaturated = 0.5
	// maxIntakeYield bounds one wait of a worker: under a sustained storm
	// each worker still delivers a batch every half second.
	maxIntakeYield = 500 * time.Millisecond
	// intakeYieldPoll is how often a yielding worker looks at the load.
	intakeYieldPoll = 5 * time.Millisecond
)

// webhookBatchDecoder is a connector that decodes several webhooks in one
// call (*sdk.Client does).
type webhookBatchDecoder interface {
	DecodeWebhooks(ctx context.Context, source []byte, reqs []sdk.WebhookRequest) ([]sdk.WebhookResponse, []error, error)
}

// hookCall is one webhook request waiting for its batch.
type hookCall struct {
	ctx  context.Context
	req  sdk.WebhookRequest
	resp sdk.WebhookResponse
	err  error
	// wake is told false when the call is done, true when it is to lead
	// the next batch.
	wake chan bool
}

// hookBatcher forms the batches of one pipeline. Its zero value is ready.
type hookBatcher struct {
	mu      sync.Mutex
	waiting []*hookCall
	leaders int
	// last is the size of the last batch and lastDone when it was done.
	// While batches are shared, the next one lingers until as many
	// requests wait (or hookLinger passes): enough is signalled by closing
	// the enough channel. Once the pipeline has been idle for hookLinger,
	// batches are no longer shared.
	last     int
	lastDone time.Time
	enough   chan struct{}
	// load is the intake's recent load (see intakeLoadTau).
	load intakeLoad
}

// intakeLoad is an exponentially weighted mean, with time constant
// intakeLoadTau, of whether the intake was busy. Its zero value is idle.
type intakeLoad struct {
	mean float64
	last time.Time
	busy bool
}

// advance brings the mean up to now.
func (l *intakeLoad) advance(now time.Time) {
	if l.last.IsZero() {
		l.last = now
		return
	}
	dt := now.Sub(l.last)
	if dt <= 0 {
		return
	}
	x := 0.0
	if l.busy {
		x = 1
	}
	l.mean = x + (l.mean-x)*math.Exp(-float64(dt)/float64(intakeLoadTau))
	l.last = now
}

// set records that the intake became busy or idle at now.
func (l *intakeLoad) set(now time.Time, busy bool) {
	l.advance(now)
	l.busy = busy
}

// at returns the load at now.
func (l *intakeLoad) at(now time.Time) float64 {
	l.advance(now)
	return l.mean
}

// saturated reports whether the intake's load is above intakeSaturated.
func (b *hookBatcher) saturated(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.load.at(now) > intakeSaturated
}

// setBusy records the start or end of a batch's decoding and storing.
func (b *hookBatcher) setBusy(busy bool) {
	b.mu.Lock()
	b.load.set(time.Now(), busy)
	b.mu.Unlock()
}

// do runs c, in a batch with whatever else is waiting, and returns when c
// is done. handle must fill every call's result; the lead passes on when it
// returns.
func (b *hookBatcher) do(c *hookCall, handle func([]*hookCall)) {
	c.wake = make(chan bool, 1)
	b.mu.Lock()
	if b.leaders < hookLeaders {
		b.leaders++
		b.mu.Unlock()
	} else {
		b.waiting = append(b.waiting, c)
		if b.enough != nil && len(b.waiting)+1 >= b.last {
			close(b.enough)
			b.enough = nil
		}
		b.mu.Unlock()
		// No early return on c.ctx: a call may be handed the lead, and a
		// lead nobody takes would strand every call behind it. Batches are
		// bounded by hookTimeout.
		if lead := <-c.wake; !lead {
			return
		}
	}
	b.linger()
	batch := b.take(c)
	b.setBusy(true)
	guard(batch, handle)
	b.setBusy(false)
	b.handOff()
	for _, o := range batch[1:] {
		o.wake <- false
	}
}

// guard runs f; a panic fails every call of the batch rather than leaving
// them, and every webhook behind them, waiting forever.
func guard(batch []*hookCall, f func([]*hookCall)) {
	defer func() {
		if p := recover(); p != nil {
			err := fmt.Errorf("engine: webhook batch: panic: %v", p)
			for _, c := range batch {
				c.resp, c.err = sdk.WebhookResponse{}, err
			}
		}
	}()
	f(batch)
}

// linger waits, while batches are shared, until as many requests wait as
// the last batch held, or hookLinger passes. It reports whether it waited.
func (b *hookBatcher) linger() (waited bool) {
	b.mu.Lock()
	if b.last <= 1 || len(b.waiting)+1 >= b.last || time.Since(b.lastDone) > hookLinger {
		b.mu.Unlock()
		return false
	}
	enough := make(chan struct{})
	b.enough = enough
	b.mu.Unlock()
	t := time.NewTimer(hookLinger)
	select {
	case <-enough:
	case <-t.C:
	}
	t.Stop()
	b.mu.Lock()
	b.enough = nil
	b.mu.Unlock()
	return true
}

// handOff gives the lead to the longest waiting call, if any.
func (b *hookBatcher) handOff() {
	b.mu.Lock()
	b.lastDone = time.Now()
	if len(b.waiting) == 0 {
		b.leaders--
		b.mu.Unlock()
		return
	}
	next := b.waiting[0]
	b.waiting = b.waiting[1:]
	b.mu.Unlock()
	next.wake <- true
}

// take returns a batch led by c, with as many waiting calls as the bounds
// allow, in arrival order.
func (b *hookBatcher) take(c *hookCall) []*hookCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	batch, size, n := []*hookCall{c}, len(c.req.Body), 0
	for n < len(b.waiting) && len(batch) < maxHookBatch {
		next := len(b.waiting[n].req.Body)
		if size+next > maxHookBatchBytes {
			break
		}
		batch, size, n = append(batch, b.waiting[n]), size+next, n+1
	}
	b.waiting = append(b.waiting[:0], b.waiting[n:]...)
	b.last = len(batch)
	return batch
}

// ingestBatch decodes a batch of webhooks with the source connector and
// stores the records of every request it accepted, in one enqueue. A
// request the connector rejects or fails is answered on its own; a failed
// enqueue fails every accepted request (nothing of theirs was stored).
func (r *runner) ingestBatch(batch []*hookCall) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), hookTimeout)
	defer cancel()
	fail := func(calls []*hookCall, err error) {
		for _, c := range calls {
			c.resp, c.err = sdk.WebhookResponse{}, err
		}
	}
	src := r.p.Source.Connection
	conn, err := r.e.opts.Connectors.Connector(ctx, src)
	if err != nil {
		fail(batch, fmt.Errorf("connection %s: %w", src, err))
		return
	}
	reqs := make([]sdk.WebhookRequest, len(batch))
	for i, c := range batch {
		reqs[i] = c.req
	}
	resps, errs, err := decodeWebhooks(ctx, conn, r.p.Source.Settings, reqs)
	if err != nil {
		fail(batch, fmt.Errorf("connection %s: decode webhook: %w", src, err))
		return
	}
	var recs []sdk.Record
	accepted := make([]*hookCall, 0, len(batch))
	for i, c := range batch {
		switch {
		case errs[i] != nil:
			c.err = fmt.Errorf("connection %s: decode webhook: %w", src, errs[i])
		case resps[i].Reject != "":
			c.resp = resps[i]
			if m := r.e.opts.Metrics; m != nil {
				m.Rejected.WithLabelValues(r.p.Name).Inc()
			}
		default:
			c.resp = resps[i]
			recs = append(recs, resps[i].Records...)
			accepted = append(accepted, c)
		}
	}
	if len(recs) == 0 {
		return
	}
	if err := r.enqueue(ctx, recs, nil); err != nil {
		fail(accepted, err)
	}
}

// decodeWebhooks decodes reqs in one call when the connector can, else one
// at a time.
func decodeWebhooks(ctx context.Context, conn Connector, source []byte, reqs []sdk.WebhookRequest) ([]sdk.WebhookResponse, []error, error) {
	if bd, ok := conn.(webhookBatchDecoder); ok {
		return bd.DecodeWebhooks(ctx, source, reqs)
	}
	resps, errs := make([]sdk.WebhookResponse, len(reqs)), make([]error, len(reqs))
	for i, req := range reqs {
		req.Source = source
		resps[i], errs[i] = conn.DecodeWebhook(ctx, req)
	}
	return resps, errs, nil
}
