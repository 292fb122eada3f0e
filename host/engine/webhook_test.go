package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weirhq/weir/host/store"
	"github.com/weirhq/weir/sdk"
)

// hookSource decodes a body "<key>" into one record, rejects "bad…" and
// fails "err…"; each call takes a millisecond, so concurrent requests
// queue up behind it.
type hookSource struct {
	dest
	calls, single atomic.Int64
	largest       atomic.Int64
}

func (h *hookSource) DecodeWebhook(_ context.Context, req sdk.WebhookRequest) (sdk.WebhookResponse, error) {
	h.single.Add(1)
	return h.decode(req)
}

func (h *hookSource) decode(req sdk.WebhookRequest) (sdk.WebhookResponse, error) {
	body := string(req.Body)
	switch {
	case strings.HasPrefix(body, "bad"):
		return sdk.WebhookResponse{Reject: "line 1: " + body}, nil
	case strings.HasPrefix(body, "err"):
		return sdk.WebhookResponse{}, sdk.Retryable(errors.New("decoder busy"), 0)
	}
	return sdk.WebhookResponse{
		Records: []sdk.Record{{Key: body, Version: 1, Payload: []byte(`{"id":"` + body + `","src":` + string(req.Source) + `}`)}},
		Body:    []byte("ok " + body),
	}, nil
}

// batchHookSource also decodes batches.
type batchHookSource struct{ *hookSource }

func (b batchHookSource) DecodeWebhooks(_ context.Context, source []byte, reqs []sdk.WebhookRequest) ([]sdk.WebhookResponse, []error, error) {
	b.calls.Add(1)
	if n := int64(len(reqs)); n > b.largest.Load() {
		b.largest.Store(n)
	}
	time.Sleep(time.Millisecond)
	res, errs := make([]sdk.WebhookResponse, len(reqs)), make([]error, len(reqs))
	for i, r := range reqs {
		if r.Source != nil {
			return nil, nil, errors.New("a request of the batch carries the source")
		}
		r.Source = source
		res[i], errs[i] = b.decode(r)
	}
	return res, errs, nil
}

// TestWebhookBatches sends 200 concurrent webhooks, some malformed and some
// failing, and checks that each is answered as if it were alone while the
// connector sees far fewer calls than requests.
func TestWebhookBatches(t *testing.T) {
	tests := []struct {
		name    string
		batched bool
	}{{"batch decoder", true}, {"one at a time", false}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t)
			h := &hookSource{dest: *newDest()}
			var conn Connector = h
			if tt.batched {
				conn = batchHookSource{h}
			}
			m := NewMetrics(prometheus.NewRegistry())
			p := Pipeline{Name: "hooks", Key: parseExpr(t, `record.id`), Source: Source{Connection: "src", Settings: []byte(`"S"`)},
				Destination: Destination{Connection: "dst", Object: "o"}}
			e, err := New(Options{Pipelines: []Pipeline{p}, Queue: s, Connectors: oneConn{conn}, Metrics: m, Owner: "t"})
			if err != nil {
				t.Fatal(err)
			}
			const n = 200
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					body := fmt.Sprintf("k%03d", i)
					switch i % 10 {
					case 3:
						body = "bad" + body
					case 7:
						body = "err" + body
					}
					resp, err := e.Ingest(context.Background(), "hooks", sdk.WebhookRequest{Body: []byte(body)})
					switch i % 10 {
					case 3:
						if err != nil || resp.Reject != "line 1: "+body {
							t.Errorf("%s: %+v, %v; want the rejection", body, resp, err)
						}
					case 7:
						if e := sdk.Classify(errors.Unwrap(err)); err == nil || e == nil || e.Status != sdk.StatusRetryable || !strings.Contains(err.Error(), "decoder busy") {
							t.Errorf("%s: %v; want the retryable decode error", body, err)
						}
					default:
						if err != nil || string(resp.Body) != "ok "+body || len(resp.Records) != 1 || resp.Records[0].Key != body {
							t.Errorf("%s: %+v, %v", body, resp, err)
						}
					}
				})
			}
			wg.Wait()
			st, err := s.Stats(context.Background(), "hooks")
			if err != nil {
				t.Fatal(err)
			}
			if st.Accepted != n*8/10 {
				t.Errorf("%d records stored; want %d", st.Accepted, n*8/10)
			}
			if got := testutil.ToFloat64(m.Rejected.WithLabelValues("hooks")); got != n/10 {
				t.Errorf("rejected metric = %v; want %d", got, n/10)
			}
			leases, err := s.Lease(context.Background(), "hooks", "t", n, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range leases {
				var want = `{"id":"` + l.Record.Key + `","src":"S"}`
				if string(l.Record.Payload) != want {
					t.Fatalf("stored %s; want %s", l.Record.Payload, want)
				}
			}
			if tt.batched {
				if calls := h.calls.Load(); calls >= n/2 || h.single.Load() != 0 {
					t.Errorf("%d batch calls and %d single calls for %d requests", calls, h.single.Load(), n)
				}
				if h.largest.Load() > maxHookBatch {
					t.Errorf("a batch of %d requests; the bound is %d", h.largest.Load(), maxHookBatch)
				}
				t.Logf("%d requests in %d connector calls, the largest batch %d", n, h.calls.Load(), h.largest.Load())
			} else if h.single.Load() != n {
				t.Errorf("%d single calls for %d requests", h.single.Load(), n)
			}
		})
	}
}

// failingQueue fails every enqueue.
type failingQueue struct{ store.Queue }

func (failingQueue) Enqueue(context.Context, string, []store.Record, *store.Checkpoint) (store.EnqueueResult, error) {
	return store.EnqueueResult{}, errors.New("disk full")
}

// TestWebhookBatchEnqueueFailure checks that a failed enqueue fails every
// accepted request of a batch, and leaves its rejections standing.
func TestWebhookBatchEnqueueFailure(t *testing.T) {
	h := &hookSource{dest: *newDest()}
	p := Pipeline{Name: "hooks", Source: Source{Connection: "src"}, Destination: Destination{Connection: "dst", Object: "o"}}
	e, err := New(Options{Pipelines: []Pipeline{p}, Queue: failingQueue{openStore(t)}, Connectors: oneConn{batchHookSource{h}}, Owner: "t"})
	if err != nil {
		t.Fatal(err)
	}
	batch := []*hookCall{
		{ctx: context.Background(), req: sdk.WebhookRequest{Body: []byte("a")}},
		{ctx: context.Background(), req: sdk.WebhookRequest{Body: []byte("bad")}},
		{ctx: context.Background(), req: sdk.WebhookRequest{Body: []byte("b")}},
	}
	e.pipelines["hooks"].ingestBatch(batch)
	for _, i := range []int{0, 2} {
		if c := batch[i]; c.err == nil || !strings.Contains(c.err.Error(), "disk full") || c.resp.Body != nil {
			t.Errorf("request %d: %+v, %v; want the enqueue error", i, c.resp, c.err)
		}
	}
	if c := batch[1]; c.err != nil || c.resp.Reject == "" {
		t.Errorf("the rejected request: %+v, %v", c.resp, c.err)
	}
}

// TestWebhookBatchPanic checks that a batch that panics fails its calls
// and leaves the batcher working.
func TestWebhookBatchPanic(t *testing.T) {
	var b hookBatcher
	c := &hookCall{ctx: context.Background()}
	b.do(c, func([]*hookCall) { panic("decoder bug") })
	if c.err == nil || !strings.Contains(c.err.Error(), "bug") {
		t.Fatalf("panic: err = %v", c.err)
	}
	ok := &hookCall{ctx: context.Background()}
	b.do(ok, func(batch []*hookCall) { batch[0].resp = sdk.WebhookResponse{Body: []byte("fine")} })
	if ok.err != nil || string(ok.resp.Body) != "fine" || b.leaders != 0 {
		t.Fatalf("after the panics: %+v, %v, %d leaders", ok.resp, ok.err, b.leaders)
	}
}

// TestWebhookLinger checks when a batch waits for more requests: only
// while batches are shared and the pipeline has not gone idle.
func TestWebhookLinger(t *testing.T) {
	for _, tc := range []struct {
		name    string
		last    int
		idle    time.Duration
		waiting int
		want    bool
	}{
		{"first batch", 0, 0, 0, false},
		{"alone before", 1, 0, 0, false},
		{"shared, fewer waiting", 12, 0, 3, true},
		{"shared, enough waiting", 12, 0, 11, false},
		{"idle since the last batch", 12, time.Second, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &hookBatcher{last: tc.last, lastDone: time.Now().Add(-tc.idle), waiting: make([]*hookCall, tc.waiting)}
			if got := b.linger(); got != tc.want {
				t.Errorf("linger() = %v; want %v", got, tc.want)
			}
		})
	}
}

// TestForgetDelivered checks that a pipeline with ForgetDeliveredAfter has
// the store forget the versions of keys delivered and idle: an older
// version of such a key is then accepted again.
func TestForgetDelivered(t *testing.T) {
	st := openStore(t)
	p := Pipeline{Name: "orders", Source: Source{Connection: "src"}, Destination: Destination{Connection: "dst", Object: "o"},
		ForgetDeliveredAfter: time.Millisecond}
	m := NewMetrics(prometheus.NewRegistry())
	e, err := New(Options{Pipelines: []Pipeline{p}, Queue: st, Connectors: oneConn{batchHookSource{&hookSource{dest: *newDest()}}},
		Owner: "t", ForgetEvery: 10 * time.Millisecond, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := st.Enqueue(ctx, "orders", []store.Record{{Key: "a", Version: 5, Payload: []byte(`{}`)}}, nil); err != nil {
		t.Fatal(err)
	}
	ls, err := st.Lease(ctx, "orders", "w", 1, time.Minute)
	if err != nil || len(ls) != 1 {
		t.Fatalf("Lease = %v, %v", ls, err)
	}
	if err := st.Settle(ctx, []store.Outcome{{Lease: ls[0], Kind: store.Acked}}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); e.pipelines["orders"].forgetDelivered(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := st.Enqueue(ctx, "orders", []store.Record{{Key: "a", Version: 1, Payload: []byte(`{}`)}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Accepted == 1 {
			break // forgotten: version 1, older than the delivered 5, is taken
		}
		if time.Now().After(deadline) {
			t.Fatal("the delivered version of a was never forgotten")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if got := testutil.ToFloat64(m.Forgotten.WithLabelValues("orders")); got != 1 {
		t.Errorf("weir_keys_forgotten_total = %v; want 1", got)
	}
}

// TestIntakeLoad drives the intake's load with a synthetic clock: it is the
// share of recent time spent decoding and storing, weighted towards the
// last few time constants.
func TestIntakeLoad(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		// busy, idle: one cycle; cycles of them, then tail idle.
		busy, idle time.Duration
		cycles     int
		tail       time.Duration
		lo, hi     float64
	}{
		{"never busy", 0, 100 * ms, 1, 0, 0, 0},
		{"busy for five time constants", 5 * intakeLoadTau, 0, 1, 0, 0.99, 1},
		{"then idle for one", 5 * intakeLoadTau, 0, 1, intakeLoadTau, 0.36, 0.38},
		{"busy half the time", 2 * ms, 2 * ms, 100, 0, 0.45, 0.55},
		{"busy a quarter of the time", ms, 3 * ms, 100, 0, 0.2, 0.3},
		{"a quiet pipeline: 1 ms in 50", ms, 49 * ms, 20, 0, 0, 0.1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l intakeLoad
			now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
			l.set(now, false)
			for range tc.cycles {
				if tc.busy > 0 {
					l.set(now, true)
					now = now.Add(tc.busy)
				}
				l.set(now, false)
				now = now.Add(tc.idle)
			}
			now = now.Add(tc.tail)
			if got := l.at(now); got < tc.lo || got > tc.hi {
				t.Errorf("load = %.3f; want within [%.2f, %.2f]", got, tc.lo, tc.hi)
			}
		})
	}
}

// TestYieldToIntake checks that a worker waits while the pipeline's webhook
// intake is saturated, goes on as soon as it is not, and never waits longer
// than maxIntakeYield, so that deliveries go on under a sustained storm.
func TestYieldToIntake(t *testing.T) {
	for _, tc := range []struct {
		name string
		// busyFor is how long the intake stays busy (0: never; -1: past
		// the yield's bound); cancel ends the worker's context at 50 ms.
		busyFor  time.Duration
		cancel   bool
		min, max time.Duration
	}{
		{"idle intake", 0, false, 0, maxIntakeYield / 2},
		{"a burst that ends", 150 * time.Millisecond, false, 150 * time.Millisecond, maxIntakeYield - 50*time.Millisecond},
		{"a storm that does not", -1, false, maxIntakeYield, 5 * maxIntakeYield},
		{"the run ends", -1, true, 50 * time.Millisecond, maxIntakeYield - 50*time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &runner{e: &Engine{}}
			if tc.busyFor != 0 {
				// Saturate the load first, as a burst does.
				r.hooks.setBusy(true)
				time.Sleep(5 * intakeLoadTau)
			}
			if tc.busyFor > 0 {
				time.AfterFunc(tc.busyFor, func() { r.hooks.setBusy(false) })
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				time.AfterFunc(50*time.Millisecond, cancel)
			}
			start := time.Now()
			r.yieldToIntake(ctx)
			if took := time.Since(start); took < tc.min || took > tc.max {
				t.Errorf("yieldToIntake took %v; want between %v and %v", took, tc.min, tc.max)
			}
		})
	}
}

// TestDeliveriesWaitForABurst checks the workers' side: records waiting in
// the queue are not delivered while the pipeline's intake is saturated,
// and are once it is not.
func TestDeliveriesWaitForABurst(t *testing.T) {
	s := openStore(t)
	p := Pipeline{Name: "hooks", Key: parseExpr(t, `record.id`), Source: Source{Connection: "src"},
		Destination: Destination{Connection: "dst", Object: "o"}}
	m := NewMetrics(prometheus.NewRegistry())
	e, err := New(Options{Pipelines: []Pipeline{p}, Queue: s, Connectors: oneConn{batchHookSource{&hookSource{dest: *newDest()}}}, Owner: "t", Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	intake := &e.pipelines["hooks"].hooks
	// A burst is being accepted: the intake has been busy for a while.
	intake.setBusy(true)
	time.Sleep(5 * intakeLoadTau)
	ctx := context.Background()
	if _, err := s.Enqueue(ctx, "hooks", records(10, 1, func(i int) string { return fmt.Sprintf(`{"id":"k%d"}`, i) }), nil); err != nil {
		t.Fatal(err)
	}
	written := func() int {
		st, err := s.Stats(ctx, "hooks")
		if err != nil {
			t.Fatal(err)
		}
		return int(st.Delivered)
	}
	busyUntil := time.Now().Add(maxIntakeYield / 2)
	time.AfterFunc(time.Until(busyUntil), func() { intake.setBusy(false) })
	early := 0
	runEngine(t, e, func() bool {
		n := written()
		if n > 0 && time.Now().Before(busyUntil) {
			early = n
			return true
		}
		return n == 10
	})
	if early > 0 {
		t.Errorf("%d records delivered while the intake was saturated", early)
	}
	if got := testutil.ToFloat64(m.Yielded.WithLabelValues("hooks")); got < 0.1 {
		t.Errorf("weir_delivery_yield_seconds_total = %v; the workers waited about 0.25 s each", got)
	}
}
