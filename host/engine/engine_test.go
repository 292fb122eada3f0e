package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weirhq/weir/host/store"
	"github.com/weirhq/weir/host/store/bolt"
	"github.com/weirhq/weir/sdk"
)

// dest is an in-process destination that records every write and can fail.
type dest struct {
	mu       sync.Mutex
	writes   []sdk.Record           // every record written OK, in order
	state    map[string]sdk.Record  // newest per key
	failedAt map[string][]time.Time // when a key was refused with retry-after
	advice   map[string]time.Duration
	inFlight map[string]bool
	fail     func(rec sdk.Record) *sdk.WriteResult
	overlap  int // times a key was written while another write of it ran
}

func newDest() *dest {
	return &dest{state: map[string]sdk.Record{}, failedAt: map[string][]time.Time{}, advice: map[string]time.Duration{}, inFlight: map[string]bool{}}
}

func (d *dest) Read(context.Context, sdk.ReadRequest) (sdk.ReadResult, error) {
	return sdk.ReadResult{}, nil
}
func (d *dest) Lookup(_ context.Context, req sdk.LookupRequest) (json.RawMessage, error) {
	return json.RawMessage(`{"available":7}`), nil
}
func (d *dest) DecodeWebhook(context.Context, sdk.WebhookRequest) (sdk.WebhookResponse, error) {
	return sdk.WebhookResponse{}, nil
}

func (d *dest) Write(_ context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
	d.mu.Lock()
	for _, r := range req.Records {
		if d.inFlight[r.Key] {
			d.overlap++
		}
		d.inFlight[r.Key] = true
	}
	d.mu.Unlock()
	time.Sleep(time.Millisecond)
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]sdk.WriteResult, len(req.Records))
	for i, r := range req.Records {
		delete(d.inFlight, r.Key)
		if d.fail != nil {
			if res := d.fail(r); res != nil {
				out[i] = *res
				if res.RetryAfter > 0 {
					d.failedAt[r.Key] = append(d.failedAt[r.Key], time.Now())
					d.advice[r.Key] = res.RetryAfter
				}
				continue
			}
		}
		// A retry after advice must not come early.
		if at := d.failedAt[r.Key]; len(at) > 0 {
			if since := time.Since(at[len(at)-1]); since < d.advice[r.Key] {
				out[i] = sdk.WriteResult{Key: r.Key, Status: sdk.StatusPermanent, Message: fmt.Sprintf("retried %v after a retry-after of %v", since, d.advice[r.Key])}
				continue
			}
		}
		d.writes = append(d.writes, r)
		_, existed := d.state[r.Key]
		d.state[r.Key] = r
		out[i] = sdk.WriteResult{Key: r.Key, Status: sdk.StatusOK, ID: "id-" + r.Key, Created: !existed}
	}
	return out, nil
}

type oneConn struct{ c Connector }

func (o oneConn) Connector(context.Context, string) (Connector, error) { return o.c, nil }

func parseExpr(t *testing.T, src string) hcl.Expression {
	t.Helper()
	e, diags := hclsyntax.ParseExpression([]byte(src), "pipeline.hcl", hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return e
}

func openStore(t *testing.T) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// runEngine runs the pipeline until cond holds or the deadline passes.
func runEngine(t *testing.T, e *Engine, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatal("condition not reached in 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func records(n int, version int64, payload func(i int) string) []store.Record {
	out := make([]store.Record, n)
	for i := range out {
		out[i] = store.Record{Key: fmt.Sprintf("k%05d", i), Version: version, Payload: []byte(payload(i))}
	}
	return out
}

func TestMapFailureIsDeadLetteredAndOthersFlow(t *testing.T) {
	s := openStore(t)
	d := newDest()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	p := Pipeline{
		Name: "orders",
		When: parseExpr(t, `record.total >= 5000`),
		Map: map[string]hcl.Expression{
			"externalId": parseExpr(t, `"SF-${record.number}"`),
			"country":    parseExpr(t, `record.address.country`),
		},
		Lookups:     []Lookup{{Name: "stock", Connection: "erp", Object: "stock", Query: parseExpr(t, `{ item = record.number }`)}},
		Destination: Destination{Connection: "erp", Object: "salesOrder", Operation: "upsert"},
	}
	p.Map["available"] = parseExpr(t, `lookup.stock.available`)
	e, err := New(Options{Pipelines: []Pipeline{p}, Queue: s, Connectors: oneConn{d}, Metrics: m, Owner: "t"})
	if err != nil {
		t.Fatal(err)
	}
	recs := []store.Record{
		{Key: "a", Version: 1, Payload: []byte(`{"number":"1","total":6000,"address":{"country":"US"}}`)},
		{Key: "b", Version: 1, Payload: []byte(`{"number":"2","total":7000,"address":{}}`)},
		{Key: "c", Version: 1, Payload: []byte(`{"number":"3","total":100,"address":{"country":"DE"}}`)},
		{Key: "d", Version: 1, Payload: []byte(`{"number":"4","total":12345678901234567.89,"address":{"country":"DE"}}`)},
	}
	if _, err := s.Enqueue(context.Background(), "orders", recs, nil); err != nil {
		t.Fatal(err)
	}
	runEngine(t, e, func() bool {
		st, _ := s.Stats(context.Background(), "orders")
		return st.Waiting()+st.InFlight == 0
	})
	if got := d.state["a"].Payload; string(got) != `{"available":7,"country":"US","externalId":"SF-1"}` {
		t.Errorf("a = %s", got)
	}
	if _, ok := d.state["c"]; ok {
		t.Error("c was written although when excluded it")
	}
	if _, ok := d.state["d"]; !ok {
		t.Error("d was not written")
	}
	dls, err := s.DeadLetters(context.Background(), "orders", "", 10)
	if err != nil || len(dls) != 1 {
		t.Fatalf("dead letters = %+v, %v", dls, err)
	}
	dl := dls[0]
	if dl.Record.Key != "b" || dl.Field != "country" || !strings.Contains(dl.Reason, "pipeline.hcl:1:") || !strings.Contains(dl.Reason, "country") {
		t.Errorf("dead letter = field %q reason %q", dl.Field, dl.Reason)
	}
	for name, want := range map[string]float64{"delivered": 2, "dead": 1, "skipped": 1} {
		var c prometheus.Collector
		switch name {
		case "delivered":
			c = m.Delivered
		case "dead":
			c = m.DeadLettered
		case "skipped":
			c = m.Skipped
		}
		if got := testutil.ToFloat64(c); got != want {
			t.Errorf("%s = %v; want %v", name, got, want)
		}
	}
}

func TestRetryableFailuresAreDeliveredNeverBeforeRetryAfter(t *testing.T) {
	s := openStore(t)
	d := newDest()
	rng := rand.New(rand.NewPCG(1, 2))
	var rngMu sync.Mutex
	d.fail = func(r sdk.Record) *sdk.WriteResult {
		rngMu.Lock()
		defer rngMu.Unlock()
		if rng.Float64() >= 0.3 {
			return nil
		}
		res := &sdk.WriteResult{Key: r.Key, Status: sdk.StatusRetryable, Message: "HTTP 503"}
		if rng.IntN(2) == 0 {
			res.Status, res.RetryAfter = sdk.StatusRateLimited, time.Duration(20+rng.IntN(60))*time.Millisecond
		}
		return res
	}
	p := Pipeline{Name: "p", Destination: Destination{Connection: "x", Object: "o"}, Workers: 4, BatchSize: 50,
		Retry: Retry{Attempts: 50, BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond}}
	e, err := New(Options{Pipelines: []Pipeline{p}, Queue: s, Connectors: oneConn{d}, Owner: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(context.Background(), "p", records(1000, 1, func(i int) string { return fmt.Sprintf(`{"i":%d}`, i) }), nil); err != nil {
		t.Fatal(err)
	}
	runEngine(t, e, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return len(d.state) == 1000
	})
	dls, _ := s.DeadLetters(context.Background(), "p", "", 10)
	if len(dls) > 0 {
		t.Fatalf("dead letters: %+v", dls[0])
	}
	if len(d.writes) != 1000 {
		t.Errorf("%d successful writes for 1000 records", len(d.writes))
	}
	if len(d.failedAt) == 0 {
		t.Fatal("the test destination never refused with retry-after")
	}
}

func TestPerKeyOrderWhileOtherKeysProgress(t *testing.T) {
	s := openStore(t)
	d := newDest()
	p := Pipeline{Name: "p", Destination: Destination{Connection: "x", Object: "o"}, Workers: 4, BatchSize: 20}
	e, err := New(Options{Pipelines: []Pipeline{p}, Queue: s, Connectors: oneConn{d}, Owner: "t"})
	if err != nil {
		t.Fatal(err)
	}
	var all []store.Record
	for v := int64(1); v <= 50; v++ {
		all = append(all, store.Record{Key: "hot", Version: v, Payload: []byte(fmt.Sprintf(`{"v":%d}`, v))})
	}
	all = append(all, records(1000, 1, func(i int) string { return `{}` })...)
	rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	for i := 0; i < len(all); i += 7 {
		if _, err := e.pipelines["p"].e.opts.Queue.Enqueue(ctx, "p", all[i:min(i+7, len(all))], nil); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, _ := s.Stats(ctx, "p")
		if st.Waiting()+st.InFlight == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not drained")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done

	var last int64
	hotWrites, others := 0, map[string]bool{}
	for _, w := range d.writes {
		if w.Key != "hot" {
			others[w.Key] = true
			continue
		}
		hotWrites++
		if w.Version <= last {
			t.Fatalf("hot version %d written after %d", w.Version, last)
		}
		last = w.Version
	}
	if last != 50 {
		t.Errorf("newest hot version delivered = %d; want 50", last)
	}
	if len(others) != 1000 {
		t.Errorf("%d other keys delivered; want 1000", len(others))
	}
	if d.overlap != 0 {
		t.Errorf("a key was written while another write of it ran (%d times)", d.overlap)
	}
	t.Logf("hot key: %d writes for 50 versions (the rest coalesced or stale)", hotWrites)
}

// counter is a source that returns one new record per Read and counts
// reads by engine.
type counter struct {
	*dest
	mu    sync.Mutex
	next  int
	reads map[string]int
}

func (c *counter) readAs(who string) (sdk.ReadResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	c.reads[who]++
	return sdk.ReadResult{Records: []sdk.Record{{Key: fmt.Sprintf("r%d", c.next), Version: 1, Payload: json.RawMessage(`{}`)}},
		Cursor: []byte(fmt.Sprint(c.next))}, nil
}

// tagged is one engine's view of the shared counter: its reads are
// counted under its name.
type tagged struct {
	*counter
	who string
}

func (t tagged) Read(context.Context, sdk.ReadRequest) (sdk.ReadResult, error) {
	return t.readAs(t.who)
}

// whoConn hands out the shared counter, tagged with the engine that reads.
type whoConn struct {
	c   *counter
	who string
}

func (w whoConn) Connector(context.Context, string) (Connector, error) {
	return tagged{w.c, w.who}, nil
}

func TestOneLeaderPollsAndAnotherTakesOver(t *testing.T) {
	s := openStore(t)
	src := &counter{dest: newDest(), reads: map[string]int{}}
	p := Pipeline{Name: "p", Source: Source{Connection: "crm", Poll: 20 * time.Millisecond}, Destination: Destination{Connection: "crm", Object: "o"}}
	engines := map[string]*Engine{}
	cancels := map[string]context.CancelFunc{}
	done := map[string]chan error{}
	for _, who := range []string{"a", "b"} {
		e, err := New(Options{Pipelines: []Pipeline{p}, Queue: s, Leadership: s, Connectors: whoConn{src, who}, Owner: who, LeaseTTL: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		ch := make(chan error, 1)
		engines[who], cancels[who], done[who] = e, cancel, ch
		go func() { ch <- e.Run(ctx) }()
		time.Sleep(50 * time.Millisecond) // a starts first and leads
	}
	time.Sleep(500 * time.Millisecond)
	src.mu.Lock()
	ra, rb := src.reads["a"], src.reads["b"]
	src.mu.Unlock()
	if ra == 0 || rb != 0 {
		t.Fatalf("while a leads: a read %d times, b %d; want only a", ra, rb)
	}
	cancels["a"]()
	<-done["a"]
	stopped := time.Now()
	for {
		src.mu.Lock()
		rb = src.reads["b"]
		src.mu.Unlock()
		if rb > 0 {
			break
		}
		if time.Since(stopped) > 4*time.Second {
			t.Fatal("b did not take over within 4 s of a 1 s lease")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("b took over %v after a stopped", time.Since(stopped).Round(time.Millisecond))
	cancels["b"]()
	<-done["b"]
}

func TestMappedRecordsAreValidatedAgainstTheDestination(t *testing.T) {
	fields := []sdk.Field{
		{Name: "externalId", Type: sdk.TypeString, Required: true},
		{Name: "total", Type: sdk.TypeNumber},
		{Name: "lines", Type: json.RawMessage(`["list",["object",{"item":"string","quantity":"number"}]]`)},
	}
	sch, err := newSchema(fields)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		payload, code, field string
	}{
		{`{"externalId":"SF-1","total":12.5,"lines":[{"item":"A","quantity":2}]}`, "", ""},
		{`{"total":12.5}`, "REQUIRED_FIELD_MISSING", "externalId"},
		{`{"externalId":null}`, "REQUIRED_FIELD_MISSING", "externalId"},
		{`{"externalId":"SF-1","total":"12.5"}`, "INVALID_FIELD_TYPE", "total"},
		{`{"externalId":"SF-1","lines":[{"item":"A","quantity":"two"}]}`, "INVALID_FIELD_TYPE", "lines[0].quantity"},
		{`{"externalId":"SF-1","colour":"red"}`, "UNKNOWN_FIELD", "colour"},
		{`[1]`, "INVALID_RECORD", ""},
	}
	for _, tt := range tests {
		err := sch.check([]byte(tt.payload))
		e := sdk.Classify(err)
		switch {
		case tt.code == "" && err != nil:
			t.Errorf("%s: %v", tt.payload, err)
		case tt.code != "" && (e == nil || e.Status != sdk.StatusPermanent || e.Code != tt.code || e.Field != tt.field):
			t.Errorf("%s: got %+v; want %s at %q", tt.payload, e, tt.code, tt.field)
		}
	}
}

// readBack is a destination that can read its records back by key.
type readBack struct {
	*dest
	current map[string]string
}

func (r *readBack) Lookup(_ context.Context, req sdk.LookupRequest) (json.RawMessage, error) {
	var q struct{ Keys []string }
	json.Unmarshal(req.Query, &q)
	recs := map[string]json.RawMessage{}
	for _, k := range q.Keys {
		if v, ok := r.current[k]; ok {
			recs[k] = json.RawMessage(v)
		} else {
			recs[k] = nil
		}
	}
	return json.Marshal(map[string]any{"records": recs})
}

func TestPlanWritesNothingAndSaysWhatEachRecordBecomes(t *testing.T) {
	d := &readBack{dest: newDest(), current: map[string]string{"2": `{"externalId":"SF-2","total":100}`}}
	p := Pipeline{
		Name: "orders",
		Key:  parseExpr(t, `record.number`),
		When: parseExpr(t, `record.total >= 50`),
		Map: map[string]hcl.Expression{
			"externalId": parseExpr(t, `"SF-${record.number}"`),
			"total":      parseExpr(t, `record.total`),
		},
		Destination: Destination{Connection: "erp", Object: "salesOrder", Fields: []sdk.Field{{Name: "externalId", Type: sdk.TypeString, Required: true}, {Name: "total", Type: sdk.TypeNumber}}},
	}
	e, err := New(Options{Pipelines: []Pipeline{p}, Connectors: oneConn{d}, Owner: "plan"})
	if err != nil {
		t.Fatal(err)
	}
	recs := []sdk.Record{
		{Payload: json.RawMessage(`{"number":"1","total":60}`)},
		{Payload: json.RawMessage(`{"number":"2","total":120}`)},
		{Payload: json.RawMessage(`{"number":"3","total":10}`)},
		{Payload: json.RawMessage(`{"number":"4","total":"lots"}`)},
		{Payload: json.RawMessage(`{"total":70}`)},
	}
	res, err := e.Plan(context.Background(), "orders", recs)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ key, action, field string }{
		{"1", PlanCreate, ""},
		{"2", PlanUpdate, ""},
		{"3", PlanSkip, ""},
		{"4", PlanReject, "when"},
		{"", PlanReject, "key"},
	}
	for i, w := range want {
		if res[i].Key != w.key || res[i].Action != w.action || res[i].Field != w.field {
			t.Errorf("record %d = %+v; want %s %s at %q", i, res[i], w.key, w.action, w.field)
		}
	}
	if ch := res[1].Changes; len(ch) != 1 || ch[0].Field != "total" || string(ch[0].From) != "100" || string(ch[0].To) != "120" {
		t.Errorf("update changes = %+v", ch)
	}
	if len(d.writes) != 0 {
		t.Errorf("plan wrote %d records", len(d.writes))
	}
}

func TestExpiredAuthWaitsAndIsNeverDeadLettered(t *testing.T) {
	s := openStore(t)
	d := newDest()
	var mu sync.Mutex
	fixed := false
	d.fail = func(r sdk.Record) *sdk.WriteResult {
		mu.Lock()
		defer mu.Unlock()
		if fixed {
			return nil
		}
		return &sdk.WriteResult{Key: r.Key, Status: sdk.StatusAuthExpired, Message: `refresh token revoked: run "weir auth login erp"`}
	}
	p := Pipeline{Name: "p", Destination: Destination{Connection: "erp", Object: "o"},
		Retry: Retry{Attempts: 2, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}}
	e, err := New(Options{Pipelines: []Pipeline{p}, Queue: s, Connectors: oneConn{d}, Owner: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(context.Background(), "p", records(5, 1, func(int) string { return `{}` }), nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	// Far more attempts than retry.attempts allows: still waiting, none
	// dead-lettered.
	time.Sleep(300 * time.Millisecond)
	st, _ := s.Stats(ctx, "p")
	if st.DeadLetters != 0 || st.Delivered != 0 {
		t.Fatalf("while auth is expired: %+v", st)
	}
	mu.Lock()
	fixed = true // the user ran weir auth login
	mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ = s.Stats(ctx, "p")
		if st.Delivered == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered after the fix: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}
