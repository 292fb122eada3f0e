package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/plugins/salesforce/sandbox"
	"github.com/weirhq/weir/sdk"
)

// reader reads a source as the host does, keeping the cursor.
type reader struct {
	t      *testing.T
	c      *sdk.Client
	src    json.RawMessage
	cursor []byte
}

func (r *reader) read(max int) (sdk.ReadResult, error) {
	res, err := r.c.Read(ctx(r.t), sdk.ReadRequest{Source: r.src, Cursor: r.cursor, MaxRecords: max})
	if err == nil {
		r.cursor = res.Cursor
	}
	return res, err
}

// drain reads batches of max until the source has no more, returning the
// keys read in order.
func (r *reader) drain(max int) (keys []string, recs []sdk.Record) {
	r.t.Helper()
	for range 100 {
		res, err := r.read(max)
		if err != nil {
			r.t.Fatalf("Read: %v", err)
		}
		if len(res.Records) > max {
			r.t.Fatalf("%d records for MaxRecords %d", len(res.Records), max)
		}
		for _, rec := range res.Records {
			keys = append(keys, rec.Key)
			recs = append(recs, rec)
		}
		if !res.More {
			return keys, recs
		}
	}
	r.t.Fatal("the source never ran dry")
	return nil, nil
}

func accounts(n int, prefix string, extra map[string]any) []sandbox.SeedRecord {
	var out []sandbox.SeedRecord
	for i := range n {
		f := map[string]any{"Name": fmt.Sprintf("%s %02d", prefix, i), "ExternalId__c": fmt.Sprintf("%s-%02d", prefix, i)}
		for k, v := range extra {
			f[k] = v
		}
		out = append(out, sandbox.SeedRecord{Type: "Account", Fields: f})
	}
	return out
}

func externalIDs(recs []sdk.Record) []string {
	var out []string
	for _, r := range recs {
		var m map[string]any
		_ = json.Unmarshal(r.Payload, &m)
		out = append(out, fmt.Sprint(m["ExternalId__c"]))
	}
	return out
}

// TestPagingShortBatches: the sandbox answers 3 records a batch; a read of
// 7 follows nextRecordsUrl across three batches, and the reads together
// return every record once, in order.
func TestPagingShortBatches(t *testing.T) {
	o := newOrg(t, sandbox.Options{BatchSize: 3})
	if _, err := o.Seed(accounts(10, "P", nil)...); err != nil {
		t.Fatal(err)
	}
	h := newHost(t, o)
	c := start(t, h, nil)
	r := &reader{t: t, c: c, src: source(map[string]any{"object": "Account", "key_field": "ExternalId__c"})}
	before := len(o.Requests())
	res, err := r.read(7)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 7 || !res.More {
		t.Fatalf("first read: %d records, More %v", len(res.Records), res.More)
	}
	var queries, more int
	for _, l := range o.Requests()[before:] {
		switch {
		case strings.HasSuffix(l.Path, "/queryAll"):
			queries++
		case strings.Contains(l.Path, "/queryAll/01g"):
			more++
		}
	}
	if queries != 1 || more != 2 {
		t.Errorf("one query and two nextRecordsUrl reads expected, got %d and %d", queries, more)
	}
	keys, _ := r.drain(7)
	all := append(externalIDs(res.Records), keys...)
	want := make([]string, 10)
	for i := range want {
		want[i] = fmt.Sprintf("P-%02d", i)
	}
	if !slices.Equal(all, want) {
		t.Errorf("keys %v, want %v", all, want)
	}
}

// TestTieAcrossBatchBoundary: records sharing a SystemModstamp span
// several batches; nothing is skipped and nothing read twice, also after a
// record joins the tie.
func TestTieAcrossBatchBoundary(t *testing.T) {
	o := newOrg(t, sandbox.Options{})
	tie := "2024-03-01T12:00:00.000Z"
	seeds := accounts(2, "before", map[string]any{"SystemModstamp": "2024-03-01T11:59:59.999Z"})
	seeds = append(seeds, accounts(7, "tie", map[string]any{"SystemModstamp": tie})...)
	seeds = append(seeds, accounts(2, "after", map[string]any{"SystemModstamp": "2024-03-01T12:00:00.001Z"})...)
	if _, err := o.Seed(seeds...); err != nil {
		t.Fatal(err)
	}
	c := start(t, newHost(t, o), nil)
	var want []string
	for _, s := range seeds {
		want = append(want, s.Fields["ExternalId__c"].(string))
	}
	for _, batch := range []int{1, 2, 3, 4} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) {
			r := &reader{t: t, c: c, src: source(map[string]any{"object": "Account", "related": false})}
			_, recs := r.drain(batch)
			if got := externalIDs(recs); !slices.Equal(got, want) {
				t.Errorf("read %v\nwant %v", got, want)
			}
			for i := 1; i < len(recs); i++ {
				if recs[i].Version < recs[i-1].Version {
					t.Errorf("versions go back at %d", i)
				}
			}
			// A record created at the cursor's stamp: read next, once.
			late := fmt.Sprintf("late-%d", batch)
			if _, err := o.Seed(sandbox.SeedRecord{Type: "Account", Fields: map[string]any{"Name": "late", "ExternalId__c": late, "SystemModstamp": "2024-03-01T12:00:00.002Z"}}); err != nil {
				t.Fatal(err)
			}
			want = append(want, late)
			if _, recs := r.drain(batch); !slices.Equal(externalIDs(recs), []string{late}) {
				t.Errorf("after a new record: %v", externalIDs(recs))
			}
		})
	}
}

// TestOrderRecords: orders come with their Account and OrderItems (with
// Product2 ProductCode and QuantityUnitOfMeasure), keyed by Id, versioned
// by SystemModstamp; deleted records come as deletes.
func TestOrderRecords(t *testing.T) {
	o := newOrg(t, sandbox.Options{})
	if err := o.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	c := start(t, newHost(t, o), nil)
	r := &reader{t: t, c: c, src: source(map[string]any{"where": "Status = 'Activated'"})}
	_, recs := r.drain(100)
	if len(recs) != 5 {
		t.Fatalf("%d activated orders, want 5", len(recs))
	}
	var big int
	for _, rec := range recs {
		var p struct {
			ID             string      `json:"Id"`
			TotalAmount    json.Number `json:"TotalAmount"`
			SystemModstamp string
			Account        struct {
				BillingCountry     string
				BillingCountryCode string
			}
			OrderItems []struct {
				Quantity json.Number
				Product2 struct {
					ProductCode           string
					QuantityUnitOfMeasure string
				}
			}
		}
		if err := json.Unmarshal(rec.Payload, &p); err != nil {
			t.Fatal(err)
		}
		stamp, _ := time.Parse("2006-01-02T15:04:05.000-0700", p.SystemModstamp)
		if rec.Key != p.ID || rec.Object != "Order" || rec.Version != stamp.UnixMicro() || rec.Op != sdk.OpUpsert {
			t.Errorf("record %s/%s v%d (stamp %s)", rec.Object, rec.Key, rec.Version, p.SystemModstamp)
		}
		if len(p.OrderItems) == 0 || p.OrderItems[0].Product2.ProductCode == "" || p.OrderItems[0].Product2.QuantityUnitOfMeasure == "" {
			t.Errorf("order items %+v", p.OrderItems)
		}
		if p.Account.BillingCountry == "" || len(p.Account.BillingCountryCode) != 2 {
			t.Errorf("account %+v", p.Account)
		}
		if strings.Contains(string(rec.Payload), `"attributes"`) {
			t.Errorf("payload keeps attributes: %s", rec.Payload)
		}
		if tot, _ := p.TotalAmount.Float64(); tot >= 5000 {
			big++
		}
	}
	if big != 3 {
		t.Errorf("%d orders over $5,000, want 3", big)
	}

	// Delete an order: the next read has it as a delete.
	ids, err := o.Seed(sandbox.SeedRecord{Type: "Order", ID: recs[0].Key, Delete: true})
	if err != nil {
		t.Fatal(err)
	}
	_, more := r.drain(100)
	if len(more) != 1 || more[0].Key != ids[0] || more[0].Op != sdk.OpDelete {
		t.Errorf("after a delete: %+v", more)
	}
}

// TestTokenExpiryMidRun: the session expires between reads and between
// writes; the connector gets 401 INVALID_SESSION_ID, forces a refresh
// through the host (with refresh token rotation) and goes on.
func TestTokenExpiryMidRun(t *testing.T) {
	o := newOrg(t, sandbox.Options{RefreshRotation: true})
	if _, err := o.Seed(accounts(6, "E", nil)...); err != nil {
		t.Fatal(err)
	}
	h := newHost(t, o)
	c := start(t, h, nil)
	r := &reader{t: t, c: c, src: source(map[string]any{"object": "Account", "key_field": "ExternalId__c"})}
	first, err := r.read(3)
	if err != nil || len(first.Records) != 3 {
		t.Fatalf("first read: %v, %d records", err, len(first.Records))
	}
	for round := 1; round <= 2; round++ {
		o.ExpireTokens()
		var err error
		if round == 1 {
			var res sdk.ReadResult
			res, err = r.read(3)
			if err == nil && len(res.Records) != 3 {
				t.Errorf("read after expiry: %d records", len(res.Records))
			}
		} else {
			var res []sdk.WriteResult
			res, err = c.Write(ctx(t), sdk.WriteRequest{Object: "Account", Operation: "upsert",
				Records: []sdk.Record{{Key: "E-00", Version: 1, Payload: json.RawMessage(`{"Name":"renamed"}`)}}})
			if err == nil && (len(res) != 1 || res[0].Status != sdk.StatusOK) {
				t.Errorf("write after expiry: %+v", res)
			}
		}
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if refreshes, forced, _ := h.counts(); refreshes != round || forced != round {
			t.Errorf("round %d: %d refreshes, %d forced token calls", round, refreshes, forced)
		}
	}
	var unauthorized int
	for _, l := range o.Requests() {
		if l.Status == 401 {
			unauthorized++
		}
	}
	if unauthorized != 2 {
		t.Errorf("%d requests got 401, want 2", unauthorized)
	}
}

// TestQuotaPauseAndResume: past the daily quota Salesforce answers 403
// REQUEST_LIMIT_EXCEEDED; the connector reports it to the limiter (the
// quota, or a concurrency pause) and the call is rate limited; once the
// quota is back, it goes on. Every response's Sforce-Limit-Info is a quota
// reading.
func TestQuotaPauseAndResume(t *testing.T) {
	tests := []struct {
		name   string
		refuse func(t *testing.T, o *org, h *host) // makes the next request refused
		kind   sdk.LimitKind
	}{
		{"TotalRequests", func(t *testing.T, o *org, _ *host) {
			_, limit := o.Usage()
			o.SetUsage(limit, 0)
		}, sdk.LimitQuota},
		{"ConcurrentRequests", func(t *testing.T, o *org, h *host) {
			// One slot, held by a slow request of another client.
			o.SetMaxConcurrent(1, 0)
			o.SetFaults(sandbox.Faults{Latency: sandbox.Duration(time.Second)})
			tok, _ := h.Token(ctx(t), false)
			go func() {
				req, _ := http.NewRequest("GET", o.url+"/services/data/v61.0/limits", nil)
				req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}()
			time.Sleep(200 * time.Millisecond)
		}, sdk.LimitConcurrency},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrg(t, sandbox.Options{DailyLimit: 1000})
			if _, err := o.Seed(accounts(4, "Q", nil)...); err != nil {
				t.Fatal(err)
			}
			h := newHost(t, o)
			c := start(t, h, nil)
			r := &reader{t: t, c: c, src: source(map[string]any{"object": "Account"})}
			if _, err := r.read(2); err != nil {
				t.Fatal(err)
			}
			usage := h.reportsOf(sdk.LimitQuotaUsage)
			if len(usage) == 0 || usage[len(usage)-1].Max != 1000 || usage[len(usage)-1].Used < 1 {
				t.Fatalf("quota readings %+v", usage)
			}
			tt.refuse(t, o, h)
			_, err := r.read(2)
			e := sdk.Classify(err)
			if e == nil || e.Status != sdk.StatusRateLimited || !strings.Contains(e.Message, "REQUEST_LIMIT_EXCEEDED") {
				t.Fatalf("read past the limit: %v", err)
			}
			if got := h.reportsOf(tt.kind); len(got) != 1 {
				t.Errorf("%d reports of kind %d, want 1 (all: %+v)", len(got), tt.kind, h.reports)
			}
			if got := h.reportsOf(sdk.LimitRate); len(got) != 0 {
				t.Errorf("rate reports %+v: a quota refusal is not a rate pause", got)
			}
			if tt.kind == sdk.LimitQuota {
				res, err := c.Write(ctx(t), sdk.WriteRequest{Object: "Account", Records: []sdk.Record{{Key: "Q-00", Version: 9, Payload: json.RawMessage(`{"Name":"q"}`)}, {Key: "Q-01", Version: 9, Payload: json.RawMessage(`{"Name":"q"}`)}}})
				if err != nil || res[0].Status != sdk.StatusRateLimited || res[1].Status != sdk.StatusRateLimited {
					t.Errorf("write past the quota: %v %+v", err, res)
				}
			}
			// The budget is back (the next day, the slot free): reading
			// resumes where it stopped.
			o.SetUsage(0, 0)
			o.SetMaxConcurrent(0, 0)
			o.ClearFaults()
			keys, _ := r.drain(2)
			if len(keys) != 2 {
				t.Errorf("after the pause: %v", keys)
			}
		})
	}
}

// TestMultipleMatches: an external ID matching two records is a permanent
// error naming both record URLs, whether written through sObject
// Collections, one record per call, or an API version before 46.0 (300
// Multiple Choices).
func TestMultipleMatches(t *testing.T) {
	o := newOrg(t, sandbox.Options{})
	ids, err := o.Seed(
		sandbox.SeedRecord{Type: "Account", Fields: map[string]any{"Name": "Dup A", "Legacy_Id__c": "L-7"}},
		sandbox.SeedRecord{Type: "Account", Fields: map[string]any{"Name": "Dup B", "Legacy_Id__c": "L-7"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  map[string]any
	}{
		{"collections", map[string]any{}},
		{"one per call", map[string]any{"write_batch": 1}},
		{"v45.0", map[string]any{"api_version": "v45.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg["external_id_fields"] = map[string]string{"Account": "Legacy_Id__c"}
			c := start(t, newHost(t, o), tt.cfg)
			res, err := c.Write(ctx(t), sdk.WriteRequest{Object: "Account", Operation: "upsert", Records: []sdk.Record{
				{Key: "L-7", Version: 1, Payload: json.RawMessage(`{"Name":"which one?"}`)},
				{Key: "L-8", Version: 1, Payload: json.RawMessage(`{"Name":"new"}`)},
			}})
			if err != nil {
				t.Fatal(err)
			}
			r := res[0]
			if r.Status != sdk.StatusPermanent || r.Code != "DUPLICATE_EXTERNAL_ID" || r.Field != "Legacy_Id__c" {
				t.Fatalf("result %+v", r)
			}
			for _, id := range ids {
				if !strings.Contains(r.Message, "/sobjects/Account/"+id) {
					t.Errorf("message %q does not name %s", r.Message, id)
				}
			}
			if res[1].Status != sdk.StatusOK || res[1].ID == "" && tt.name != "v45.0" {
				t.Errorf("the other record: %+v", res[1])
			}
		})
	}
}

// TestWrites: creates and updates report Created, a row lock is
// retryable, an update by Id writes ERP fields back to an order, deletes
// remove records, and an older version never overwrites a newer one.
func TestWrites(t *testing.T) {
	o := newOrg(t, sandbox.Options{})
	if err := o.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	c := start(t, newHost(t, o), map[string]any{"version_field": "Weir_Version__c"})
	write := func(op string, obj string, recs ...sdk.Record) []sdk.WriteResult {
		t.Helper()
		res, err := c.Write(ctx(t), sdk.WriteRequest{Object: obj, Operation: op, Records: recs})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	rec := func(key string, version int64, payload string) sdk.Record {
		return sdk.Record{Key: key, Version: version, Payload: json.RawMessage(payload)}
	}
	res := write("upsert", "Product2", rec("NEW-1", 10, `{"Name":"New thing","ProductCode":"NEW-1","QuantityUnitOfMeasure":"Each"}`), rec("WID-100", 10, `{"Name":"Widget (renamed)"}`))
	if !res[0].Created || res[1].Created || res[0].Status != sdk.StatusOK || res[1].Status != sdk.StatusOK || res[0].ID == "" {
		t.Errorf("create and update: %+v", res)
	}
	if res := write("upsert", "Product2", rec("WID-100", 5, `{"Name":"Widget (old)"}`)); res[0].Status != sdk.StatusOK {
		t.Errorf("older version: %+v", res)
	}
	if got := state(t, o, "Product2", "ExternalId__c")["WID-100"]; !strings.Contains(string(got), `"Widget (renamed)"`) {
		t.Errorf("an older version overwrote a newer one: %s", got)
	}

	o.SetFaults(sandbox.Faults{LockRows: 1})
	res = write("upsert", "Product2", rec("LOCK-1", 1, `{"Name":"Locked"}`), rec("LOCK-2", 1, `{"Name":"Free"}`))
	if res[0].Status != sdk.StatusRetryable || !strings.Contains(res[0].Message, "UNABLE_TO_LOCK_ROW") || res[1].Status != sdk.StatusOK {
		t.Errorf("row lock: %+v", res)
	}

	orders := state(t, o, "Order", "PoNumber")
	var order struct{ Id string }
	_ = json.Unmarshal(orders["PO-ACME-7781"], &order)
	res = write("update", "Order", rec(order.Id, time.Now().UnixMicro(), `{"ERP_Order_Number__c":"SO-1001","ERP_Status__c":"Booked"}`))
	if res[0].Status != sdk.StatusOK || res[0].ID != order.Id {
		t.Errorf("update: %+v", res)
	}
	if got := state(t, o, "Order", "PoNumber")["PO-ACME-7781"]; !strings.Contains(string(got), `"ERP_Status__c":"Booked"`) {
		t.Errorf("order after update: %s", got)
	}
	res = write("update", "Order", rec("801000000000999AAA", 1, `{"ERP_Status__c":"Booked"}`))
	if res[0].Status != sdk.StatusPermanent {
		t.Errorf("update of a missing order: %+v", res)
	}

	del := rec("NEW-1", 20, "")
	del.Op = sdk.OpDelete
	gone := rec("NEVER-1", 20, "")
	gone.Op = sdk.OpDelete
	if res := write("upsert", "Product2", del, gone); res[0].Status != sdk.StatusOK || res[1].Status != sdk.StatusOK {
		t.Errorf("deletes: %+v", res)
	}
	if _, ok := state(t, o, "Product2", "ExternalId__c")["NEW-1"]; ok {
		t.Error("deleted product still there")
	}
}

// TestLookup: records by id, by a field's values, and by SOQL.
func TestLookup(t *testing.T) {
	o := newOrg(t, sandbox.Options{})
	if err := o.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	c := start(t, newHost(t, o), nil)
	lookup := func(object, query string) map[string]any {
		t.Helper()
		raw, err := c.Lookup(ctx(t), sdk.LookupRequest{Object: object, Query: json.RawMessage(query), Priority: sdk.PriorityInteractive})
		if err != nil {
			t.Fatalf("Lookup %s: %v", query, err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := lookup("Account", `{"field":"AccountNumber","values":["MUELLER-004","NOPE"]}`)
	recs := m["records"].(map[string]any)
	if recs["NOPE"] != nil || recs["MUELLER-004"].(map[string]any)["BillingCountry"] != "Deutschland" {
		t.Fatalf("by value: %v", m)
	}
	id := recs["MUELLER-004"].(map[string]any)["Id"].(string)
	if got := lookup("Account", `{"ids":["`+id+`"],"fields":["Name"]}`)["records"].(map[string]any)[id].(map[string]any); got["Name"] != "Müller Maschinenbau GmbH" {
		t.Errorf("by id: %v", got)
	}
	orders := lookup("Order", `{"soql":"SELECT Id, (SELECT Quantity FROM OrderItems) FROM Order WHERE Account.AccountNumber = 'INITECH-003'"}`)["records"].([]any)
	if len(orders) != 1 || len(orders[0].(map[string]any)["OrderItems"].([]any)) != 2 {
		t.Errorf("by soql: %v", orders)
	}
	if _, err := c.Lookup(ctx(t), sdk.LookupRequest{Object: "Account", Query: json.RawMessage(`{}`)}); sdk.Classify(err).Status != sdk.StatusPermanent {
		t.Errorf("empty query: %v", err)
	}
}

// TestQuotaMidBatch: the quota runs out in the middle of a batch written
// one record per call (API before 46.0): the records written are OK, every
// other one (upserts and deletes) is rate limited, none is lost as OK.
func TestQuotaMidBatch(t *testing.T) {
	o := newOrg(t, sandbox.Options{DailyLimit: 1000})
	if _, err := o.Seed(accounts(1, "M", nil)...); err != nil {
		t.Fatal(err)
	}
	c := start(t, newHost(t, o), map[string]any{"api_version": "v45.0"})
	del := sdk.Record{Key: "M-00", Version: 5, Op: sdk.OpDelete}
	recs := []sdk.Record{
		{Key: "N-1", Version: 1, Payload: json.RawMessage(`{"Name":"one"}`)},
		{Key: "N-2", Version: 1, Payload: json.RawMessage(`{"Name":"two"}`)},
		{Key: "N-3", Version: 1, Payload: json.RawMessage(`{"Name":"three"}`)},
		del,
	}
	// The delete's lookup and the first upsert fit; the second does not.
	o.SetUsage(998, 0)
	res, err := c.Write(ctx(t), sdk.WriteRequest{Object: "Account", Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	want := []sdk.Status{sdk.StatusOK, sdk.StatusRateLimited, sdk.StatusRateLimited, sdk.StatusRateLimited}
	for i, r := range res {
		if r.Status != want[i] || r.Key != recs[i].Key {
			t.Errorf("result %d: %+v, want %s", i, r, want[i])
		}
	}
}
