package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirhq/weir/plugins/netsuite/sandbox"
	"github.com/weirhq/weir/sdk"
)

// write writes records and fails t on a batch error or a result count
// mismatch.
func write(t *testing.T, c *connector, object string, recs ...sdk.Record) []sdk.WriteResult {
	t.Helper()
	res, err := c.Write(t.Context(), sdk.WriteRequest{Object: object, Operation: "upsert", Records: recs})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if len(res) != len(recs) {
		t.Fatalf("%d results for %d records", len(res), len(recs))
	}
	return res
}

func TestUpsertTwiceReplacesLines(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{})
	c := newConnector(t, sb.config(nil), newTestHost(sb, 0))
	first := write(t, c, "salesOrder", sdk.Record{Key: "SF-100", Version: 1, Payload: orderPayload("SF-100",
		`{"item":{"externalId":"WID-100"},"quantity":2,"units":"Each","rate":49.90}`,
		`{"item":{"externalId":"WID-PK12"},"quantity":7,"units":"Case","rate":499.00}`)})
	if first[0].Status != sdk.StatusOK || !first[0].Created || first[0].ID == "" {
		t.Fatalf("first write: %+v", first[0])
	}
	second := write(t, c, "salesOrder", sdk.Record{Key: "SF-100", Version: 2, Payload: orderPayload("SF-100",
		`{"item":{"externalId":"GAD-200"},"quantity":1,"units":"ea","rate":1299.00}`)})
	if second[0].Status != sdk.StatusOK || second[0].Created || second[0].ID != first[0].ID {
		t.Fatalf("second write: %+v (first %+v)", second[0], first[0])
	}
	orders := sb.Records("salesOrder")
	if len(orders) != 1 {
		t.Fatalf("%d orders in NetSuite, want 1", len(orders))
	}
	so := decodeJSON(t, orders[0])
	items := at(so, "item.items").([]any)
	if len(items) != 1 || at(items[0], "item.refName") != "GAD-200" || at(items[0], "units") != "1" || at(so, "total") != json.Number("1299") {
		t.Errorf("the order after the second write: %d lines %v, total %v", len(items), items, at(so, "total"))
	}
	// The requests: PUT eid: with replace=item, and the unit names resolved to ids.
	var puts []string
	for _, r := range sb.Requests() {
		if r.Method == http.MethodPut {
			puts = append(puts, r.Path+"?"+r.Query)
		}
	}
	if len(puts) != 2 || puts[0] != sandbox.RecordPath+"salesOrder/eid:SF-100?replace=item" {
		t.Errorf("PUT requests %v", puts)
	}
}

func TestPermanentErrorsCarryFieldPaths(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{})
	c := newConnector(t, sb.config(nil), newTestHost(sb, 0))
	cases := []struct {
		name, code, field string
		payload           json.RawMessage
	}{
		{"unit id outside the units type", "INVALID_CONTENT", "item.items[1].units",
			orderPayload("E1", `{"item":{"externalId":"WID-100"},"quantity":1,"units":"2"}`, `{"item":{"externalId":"SRV-RACK"},"quantity":1,"units":"2"}`)},
		{"unit name outside the units type", "UNKNOWN_UNIT", "item.items[0].units",
			orderPayload("E2", `{"item":{"externalId":"CAB-10M"},"quantity":1,"units":"Pack of 12"}`)},
		{"unknown item", "INVALID_KEY_OR_REF", "item.items[0].item", orderPayload("E3", `{"item":{"externalId":"NOPE"},"quantity":1}`)},
		{"unknown customer", "INVALID_KEY_OR_REF", "entity",
			json.RawMessage(`{"entity":{"externalId":"ACC-9999"},"subsidiary":{"id":"1"},"item":{"items":[{"item":{"id":"11"}}]}}`)},
		{"bad country", "INVALID_CONTENT", "shippingAddress.country",
			json.RawMessage(`{"entity":{"id":"1001"},"subsidiary":{"id":"1"},"shippingAddress":{"country":{"id":"Deutschland"}},"item":{"items":[{"item":{"id":"11"}}]}}`)},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := write(t, c, "salesOrder", sdk.Record{Key: fmt.Sprintf("E%d", i+1), Version: 1, Payload: tc.payload})
			r := res[0]
			if r.Status != sdk.StatusPermanent || r.Code != tc.code || r.Field != tc.field || r.Message == "" {
				t.Errorf("result %+v, want permanent %s at %s", r, tc.code, tc.field)
			}
		})
	}
	if n := len(sb.Records("salesOrder")); n != 0 {
		t.Errorf("%d orders stored", n)
	}
	res, err := c.Write(t.Context(), sdk.WriteRequest{Object: "purchaseOrder", Records: []sdk.Record{{Key: "x", Payload: json.RawMessage(`{}`)}}})
	if err != nil || res[0].Status != sdk.StatusPermanent || res[0].Code != "INVALID_OBJECT" {
		t.Errorf("unknown object: %+v %v", res, err)
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   sdk.Status
		code   string
		field  string
		marker error
	}{
		{"429 concurrency", 429, `{"title":"Too Many Requests","status":429,"o:errorDetails":[{"detail":"Concurrent request limit exceeded. Request blocked.","o:errorCode":"CONCURRENCY_LIMIT_EXCEEDED"}]}`,
			sdk.StatusRetryable, "CONCURRENCY_LIMIT_EXCEEDED", "", errConcurrency},
		{"429 titled Bad Request", 429, `{"title":"Bad Request","status":429,"o:errorDetails":[{"detail":"Concurrent request limit exceeded.","o:errorCode":"CONCURRENCY_LIMIT_EXCEEDED"}]}`,
			sdk.StatusRetryable, "CONCURRENCY_LIMIT_EXCEEDED", "", errConcurrency},
		{"429 without a body", 429, ``, sdk.StatusRetryable, "CONCURRENCY_LIMIT_EXCEEDED", "", errConcurrency},
		{"RESTlet concurrency", 400, `{"o:errorDetails":[{"detail":"x","o:errorCode":"SSS_REQUEST_LIMIT_EXCEEDED"}]}`, sdk.StatusRetryable, "SSS_REQUEST_LIMIT_EXCEEDED", "", errConcurrency},
		{"frequency limit", 429, `{"o:errorDetails":[{"detail":"x","o:errorCode":"REQUEST_LIMIT_EXCEEDED"}]}`, sdk.StatusRetryable, "REQUEST_LIMIT_EXCEEDED", "", errRate},
		{"invalid login", 401, `{"type":"https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html","title":"Unauthorized","status":401,"o:errorDetails":[{"detail":"Invalid login attempt.","o:errorCode":"INVALID_LOGIN"}]}`,
			sdk.StatusAuthExpired, "INVALID_LOGIN", "", nil},
		{"invalid field value", 400, `{"type":"https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1","title":"Bad Request","status":400,"o:errorDetails":[{"detail":"Invalid Field Value 9999 for the following field: item","o:errorCode":"INVALID_CONTENT","o:errorPath":"item.items[0].item"}]}`,
			sdk.StatusPermanent, "INVALID_CONTENT", "item.items[0].item", nil},
		{"user error", 400, `{"status":400,"o:errorDetails":[{"detail":"Error while accessing a resource. Please enter value(s) for: Customer.","o:errorCode":"USER_ERROR","o:errorPath":"entity"}]}`,
			sdk.StatusPermanent, "USER_ERROR", "entity", nil},
		{"record locked", 400, `{"status":400,"o:errorDetails":[{"detail":"Error while accessing a resource. This record has been locked by a user defined workflow.","o:errorCode":"USER_ERROR"}]}`,
			sdk.StatusRetryable, "USER_ERROR", "", nil},
		{"not found", 404, `{"status":404,"o:errorDetails":[{"detail":"The record instance does not exist.","o:errorCode":"NONEXISTENT_ID"}]}`,
			sdk.StatusPermanent, "NONEXISTENT_ID", "", nil},
		{"permission", 403, `{"status":403,"o:errorDetails":[{"detail":"Your current role does not have permission.","o:errorCode":"INSUFFICIENT_PERMISSION"}]}`,
			sdk.StatusPermanent, "INSUFFICIENT_PERMISSION", "", nil},
		{"server error", 503, `<html>down</html>`, sdk.StatusRetryable, "503", "", nil},
		{"ok", 204, ``, sdk.StatusOK, "", "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := classify(&http.Response{StatusCode: tc.status, Header: http.Header{}}, []byte(tc.body))
			e := sdk.Classify(err)
			if tc.want == sdk.StatusOK {
				if err != nil {
					t.Errorf("error %v for %d", err, tc.status)
				}
				return
			}
			if e.Status != tc.want || e.Code != tc.code || e.Field != tc.field || e.RetryAfter != 0 {
				t.Errorf("got %s %s at %q (after %s), want %s %s at %q", e.Status, e.Code, e.Field, e.RetryAfter, tc.want, tc.code, tc.field)
			}
			if tc.marker != nil && !strings.Contains(fmt.Sprint(e.Err), tc.marker.Error()) {
				t.Errorf("not marked %v", tc.marker)
			}
		})
	}
}

func TestTokenExpiryForcesReassertion(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{})
	host := newTestHost(sb, 0)
	c := newConnector(t, sb.config(nil), host)
	for round := range 3 {
		if round > 0 {
			sb.ExpireTokens() // as if the 60 minutes had passed
		}
		var recs []sdk.Record
		for i := range 3 {
			key := fmt.Sprintf("SF-TOK-%d-%d", round, i)
			recs = append(recs, sdk.Record{Key: key, Version: 1, Payload: orderPayload(key, `{"item":{"externalId":"WID-100"},"quantity":1}`)})
		}
		for _, r := range write(t, c, "salesOrder", recs...) {
			if r.Status != sdk.StatusOK {
				t.Fatalf("round %d: %+v", round, r)
			}
		}
	}
	st := sb.Stats()
	if got := st.TokenRequests["client_credentials"]; got != 3 {
		t.Errorf("%d client assertions, want 3 (one, then one per expiry)", got)
	}
	if host.forced != 2 || st.Unauthorized != 2 {
		t.Errorf("forced refreshes %d, 401s %d: want 2 each", host.forced, st.Unauthorized)
	}
	if n := len(sb.Records("salesOrder")); n != 9 {
		t.Errorf("%d orders, want 9", n)
	}
}

func TestTBASignatures(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{AccountID: "123456_SB1"})
	cred := sb.DemoCredentials()
	tba := func(secret string) json.RawMessage {
		return sb.config(map[string]any{"consumer_key": cred.ConsumerKey, "consumer_secret": cred.ConsumerSecret,
			"token_id": cred.TokenID, "token_secret": secret})
	}
	host := newTestHost(sb, 0)
	c := newConnector(t, tba(cred.TokenSecret), host)
	if err := c.Check(t.Context()); err != nil {
		t.Fatalf("Check with TBA: %v", err)
	}
	key := "SF-TBA-1"
	res := write(t, c, "salesOrder", sdk.Record{Key: key, Version: 1, Payload: orderPayload(key, `{"item":{"externalId":"WID-100"},"quantity":1}`)})
	if res[0].Status != sdk.StatusOK {
		t.Fatalf("write with TBA: %+v", res[0])
	}
	out, err := c.Lookup(t.Context(), sdk.LookupRequest{Object: "stock", Query: json.RawMessage(`{"items":["WID-100"]}`)})
	if err != nil || !strings.Contains(string(out), `"itemId":"WID-100"`) {
		t.Fatalf("lookup with TBA: %s %v", out, err)
	}
	for _, r := range sb.Requests() {
		if r.Kind != "token" && (r.Auth != "tba" || r.Status >= 400) {
			t.Errorf("request %s %s?%s: auth %q status %d (%s)", r.Method, r.Path, r.Query, r.Auth, r.Status, r.Note)
		}
	}
	if host.tokenCalls != 0 {
		t.Errorf("the connector asked the host for %d OAuth tokens while using TBA", host.tokenCalls)
	}

	bad := newConnector(t, tba("not-the-secret"), host)
	err = bad.Check(t.Context())
	if err == nil || !strings.Contains(err.Error(), "refused the credentials") || strings.Contains(err.Error(), "not-the-secret") {
		t.Errorf("Check with a bad token secret: %v", err)
	}
	res = write(t, bad, "salesOrder", sdk.Record{Key: "SF-TBA-2", Version: 1, Payload: orderPayload("SF-TBA-2", `{"item":{"externalId":"WID-100"},"quantity":1}`)})
	if res[0].Status != sdk.StatusAuthExpired {
		t.Errorf("write with a bad signature: %+v", res[0])
	}
	var refused int
	for _, r := range sb.Requests() {
		if r.Status == 401 {
			if r.Note != "signature_invalid" {
				t.Errorf("401 for %q, want signature_invalid", r.Note)
			}
			refused++
		}
	}
	if refused == 0 {
		t.Error("the sandbox refused no signature")
	}
}

func TestStockLookup(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{})
	host := newTestHost(sb, 0)
	c := newConnector(t, sb.config(map[string]any{"stock_cache_ttl": "1h"}), host)
	lookup := func(q string) map[string]any {
		t.Helper()
		out, err := c.Lookup(t.Context(), sdk.LookupRequest{Object: "stock", Query: json.RawMessage(q), Priority: sdk.PriorityInteractive})
		if err != nil {
			t.Fatal(err)
		}
		return decodeJSON(t, out)
	}
	got := lookup(`{"items":["WID-100","CAB-10M","13","NOPE"]}`)
	for _, c := range []struct {
		path string
		want any
	}{
		{"items.WID-100.quantityAvailable", json.Number("1750")},
		{"items.WID-100.locations[0].name", "Austin Warehouse"},
		{"items.WID-100.locations[1].quantityAvailable", json.Number("400")},
		{"items.CAB-10M.quantityOnHand", json.Number("4100")},
		{"items.13.itemId", "GAD-200"},
		{"items.NOPE", nil},
	} {
		if v := at(got, c.path); fmt.Sprint(v) != fmt.Sprint(c.want) {
			t.Errorf("%s = %v, want %v", c.path, v, c.want)
		}
	}
	queries := func() int {
		n := 0
		for _, r := range sb.Requests() {
			if r.Kind == "suiteql" {
				n++
			}
		}
		return n
	}
	before := queries()
	got = lookup(`{"items":["WID-100"],"locations":["2"]}`)
	if queries() != before {
		t.Error("a cached lookup queried NetSuite")
	}
	if at(got, "items.WID-100.quantityAvailable") != json.Number("400") || len(at(got, "items.WID-100.locations").([]any)) != 1 {
		t.Errorf("location filter: %v", got)
	}
	if host.priorities[sdk.PriorityInteractive] == 0 || host.priorities[sdk.PriorityBulk] != 0 {
		t.Errorf("lookups acquired at %v, want interactive", host.priorities)
	}
	// Orders commit stock: a connector without a cache sees it at once.
	fresh := newConnector(t, sb.config(map[string]any{"stock_cache_ttl": "0s"}), host)
	write(t, fresh, "salesOrder", sdk.Record{Key: "SF-S1", Version: 1, Payload: orderPayload("SF-S1", `{"item":{"externalId":"WID-100"},"quantity":100,"location":{"id":"1"}}`)})
	out, err := fresh.Lookup(t.Context(), sdk.LookupRequest{Object: "stock", Query: json.RawMessage(`{"items":["WID-100"]}`)})
	if err != nil || at(decodeJSON(t, out), "items.WID-100.quantityAvailable") != json.Number("1650") {
		t.Errorf("after an order of 100: %s %v", out, err)
	}
	if _, err := c.Lookup(t.Context(), sdk.LookupRequest{Object: "price", Query: json.RawMessage(`{}`)}); sdk.Classify(err).Status != sdk.StatusPermanent {
		t.Errorf("unknown lookup object: %v", err)
	}
}

func TestSourceQueryMode(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{})
	c := newConnector(t, sb.config(nil), newTestHost(sb, 0))
	write(t, c, "salesOrder", sdk.Record{Key: "SF-Q1", Version: 1, Payload: orderPayload("SF-Q1",
		`{"item":{"externalId":"WID-PK12"},"quantity":2,"units":"Case","rate":499.00,"location":{"id":"1"}}`)})
	if _, err := sb.Transform("eid:SF-Q1", "itemFulfillment", ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		source string
		check  func(t *testing.T, recs []sdk.Record)
	}{
		{`{"object":"salesOrder","fetch":"query","settle":"0s","key_field":"externalId"}`, func(t *testing.T, recs []sdk.Record) {
			if len(recs) != 1 || recs[0].Key != "SF-Q1" {
				t.Fatalf("records %v", recs)
			}
			p := decodeJSON(t, recs[0].Payload)
			if at(p, "status.id") != "F" || at(p, "status.refName") != "Sales Order : Pending Billing" ||
				at(p, "item.items[0].quantity") != json.Number("24") || at(p, "item.items[0].quantityFulfilled") != json.Number("24") ||
				at(p, "item.items[0].units.refName") != "Case" || at(p, "total") != json.Number("998") {
				t.Errorf("payload %s", recs[0].Payload)
			}
		}},
		{`{"object":"itemFulfillment","settle":"0s"}`, func(t *testing.T, recs []sdk.Record) {
			if len(recs) != 1 {
				t.Fatalf("records %v", recs)
			}
			p := decodeJSON(t, recs[0].Payload)
			if at(p, "createdFrom.refName") != "Sales Order #SO1001" || at(p, "status.id") != "Shipped" || recs[0].Key != at(p, "id") {
				t.Errorf("payload %s", recs[0].Payload)
			}
		}},
		{`{"object":"salesOrder","statuses":["B"],"settle":"0s"}`, func(t *testing.T, recs []sdk.Record) {
			if len(recs) != 0 {
				t.Errorf("status filter let %d records through", len(recs))
			}
		}},
		{`{"object":"customer","settle":"0s","key_field":"externalId","where":"t.externalid = 'ACC-0007'"}`, func(t *testing.T, recs []sdk.Record) {
			if len(recs) != 1 || recs[0].Key != "ACC-0007" || !strings.Contains(string(recs[0].Payload), `"companyName":"Customer 7"`) {
				t.Errorf("records %v", recs)
			}
		}},
	} {
		t.Run(tc.source, func(t *testing.T) {
			res, err := c.Read(t.Context(), sdk.ReadRequest{Source: json.RawMessage(tc.source), MaxRecords: 50})
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, res.Records)
		})
	}
	if _, err := c.Read(t.Context(), sdk.ReadRequest{Source: json.RawMessage(`{"object":"vendorBill"}`), MaxRecords: 5}); sdk.Classify(err).Status != sdk.StatusPermanent {
		t.Errorf("bad source object: %v", err)
	}
}

func TestSettleHoldsBackRecentChanges(t *testing.T) {
	var mu sync.Mutex
	clock := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	sb := startSandbox(t, sandbox.Options{Now: now})
	host := newTestHost(sb, 0)
	host.token, _ = sb.IssueToken("settle-test") // the sandbox's clock is not the assertion's
	c := newConnector(t, sb.config(nil), host)
	source := json.RawMessage(`{"object":"salesOrder","settle":"5s"}`)
	write(t, c, "salesOrder", sdk.Record{Key: "SF-S", Version: 1, Payload: orderPayload("SF-S", `{"item":{"externalId":"WID-100"}}`)})
	res, err := c.Read(t.Context(), sdk.ReadRequest{Source: source, MaxRecords: 10})
	if err != nil || len(res.Records) != 0 {
		t.Fatalf("a record saved now was read before it settled: %v %v", res.Records, err)
	}
	mu.Lock()
	clock = clock.Add(6 * time.Second)
	mu.Unlock()
	res, err = c.Read(t.Context(), sdk.ReadRequest{Source: source, Cursor: res.Cursor, MaxRecords: 10})
	if err != nil || len(res.Records) != 1 {
		t.Fatalf("after settling: %v %v", res.Records, err)
	}
	if v := res.Records[0].Version; v != sdk.VersionFromTime(time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("version %d", v)
	}
}

// TestCursorSurvivesRestart pages through changes (page size 5, so the
// reads use offsets 0 and 5 of one query), kills the connector process
// and resumes from the last cursor in a new one.
func TestCursorSurvivesRestart(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{})
	var bodies []json.RawMessage
	for i := range 23 {
		bodies = append(bodies, json.RawMessage(fmt.Sprintf(`{"externalId":"SF-C%02d","entity":{"id":"1001"},"item":{"items":[{"item":{"id":"11"}}]}}`, i)))
	}
	if _, err := sb.Seed(sandbox.SeedData{Records: map[string][]json.RawMessage{"salesOrder": bodies}}); err != nil {
		t.Fatal(err)
	}
	host := newTestHost(sb, 0)
	cfg := sb.config(nil)
	source := json.RawMessage(`{"object":"salesOrder","key_field":"externalId","settle":"0s","page_size":5}`)
	read := func(p *process, cur []byte) sdk.ReadResult {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		res, err := p.client.Read(ctx, sdk.ReadRequest{Source: source, Cursor: cur, MaxRecords: 8})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	var keys []string
	first := startProcess(t, cfg, host.services())
	res := read(first, nil)
	for _, r := range res.Records {
		keys = append(keys, r.Key)
	}
	if len(keys) != 8 || !res.More {
		t.Fatalf("first read: %v more=%v", keys, res.More)
	}
	first.pc.Kill()

	second := startProcess(t, cfg, host.services())
	cur := res.Cursor
	for {
		res := read(second, cur)
		for _, r := range res.Records {
			keys = append(keys, r.Key)
		}
		cur = res.Cursor
		if !res.More {
			break
		}
	}
	var want []string
	for i := range 23 {
		want = append(want, fmt.Sprintf("SF-C%02d", i))
	}
	if fmt.Sprint(keys) != fmt.Sprint(want) {
		t.Errorf("keys read across the restart:\n got %v\nwant %v", keys, want)
	}
	var pages []string
	for _, r := range sb.Requests() {
		if r.Kind == "suiteql" {
			pages = append(pages, r.Query)
		}
	}
	if len(pages) < 2 || pages[0] != "limit=5&offset=0" || pages[1] != "limit=5&offset=5" {
		t.Errorf("SuiteQL pages %v", pages)
	}
	// Nothing new: the same cursor, nothing read.
	third := read(second, cur)
	if len(third.Records) != 0 || string(third.Cursor) != string(cur) || third.More {
		t.Errorf("read with nothing new: %+v", third)
	}
}

// TestConcurrencyStorm: 20 writers against an account limited to 5
// requests in flight. Without host gating the sandbox refuses with 429s,
// which the connector reports and retries (and hands back as rate limited
// once its retries are spent, for the writer to retry): no order is lost
// or duplicated. With a host limiter of 5, nothing is refused at all.
func TestConcurrencyStorm(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit int // the host's concurrency limit; 0 for none
	}{
		{"host does not gate", 0},
		{"host gates at 5", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := startSandbox(t, sandbox.Options{ConcurrencyLimit: 5})
			sb.SetFaults(sandbox.Faults{Latency: 15 * time.Millisecond})
			host := newTestHost(sb, tc.limit)
			p := startProcess(t, sb.config(map[string]any{"concurrency_retries": 2}), host.services())
			const writers, each = 20, 5
			var wg sync.WaitGroup
			var mu sync.Mutex
			var rateLimited int
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						key := fmt.Sprintf("SF-W%02d-%d", w, i)
						rec := sdk.Record{Key: key, Version: 1, Payload: orderPayload(key, `{"item":{"externalId":"WID-100"},"quantity":1}`)}
						for attempt := 0; ; attempt++ {
							res, err := p.client.Write(t.Context(), sdk.WriteRequest{Object: "salesOrder", Operation: "upsert", Records: []sdk.Record{rec}})
							if err == nil && res[0].Status == sdk.StatusOK {
								break
							}
							if err == nil && res[0].Status != sdk.StatusRateLimited && res[0].Status != sdk.StatusRetryable || attempt > 200 {
								t.Errorf("%s: %+v %v", key, res, err)
								return
							}
							mu.Lock()
							rateLimited++
							mu.Unlock()
							wait := 10 * time.Millisecond
							if err == nil && res[0].RetryAfter > 0 {
								wait = res[0].RetryAfter
							}
							time.Sleep(wait)
						}
					}
				}()
			}
			wg.Wait()
			orders := sb.Records("salesOrder")
			seen := map[string]int{}
			for _, o := range orders {
				seen[fmt.Sprint(decodeJSON(t, o)["externalId"])]++
			}
			if len(orders) != writers*each || len(seen) != writers*each {
				t.Errorf("%d orders (%d distinct) stored, want %d", len(orders), len(seen), writers*each)
			}
			st := sb.Stats()
			if st.PeakInFlight > 5 {
				t.Errorf("%d requests in flight at the sandbox", st.PeakInFlight)
			}
			host.mu.Lock()
			defer host.mu.Unlock()
			var concurrencyReports int
			for _, r := range host.reports {
				if r.Kind == sdk.LimitConcurrency && r.RetryAfter > 0 {
					concurrencyReports++
				}
			}
			if tc.limit == 0 {
				if st.ConcurrencyRefused == 0 || concurrencyReports != st.ConcurrencyRefused {
					t.Errorf("%d 429s, %d concurrency reports: want some, one per 429", st.ConcurrencyRefused, concurrencyReports)
				}
				t.Logf("%d requests, %d refused with 429, %d writes handed back as rate limited", st.Requests, st.ConcurrencyRefused, rateLimited)
			} else {
				if st.ConcurrencyRefused != 0 || host.peak > tc.limit {
					t.Errorf("with host gating: %d 429s, host peak %d", st.ConcurrencyRefused, host.peak)
				}
			}
		})
	}
}

func TestDescribeAndHostnames(t *testing.T) {
	d := (&connector{}).Describe()
	if d.Name != "netsuite" || d.OAuth == nil || !d.OAuth.PKCE {
		t.Errorf("description %+v", d)
	}
	for in, want := range map[string][2]string{
		"123456_SB1": {"123456-sb1", "123456_SB1"},
		"1234567":    {"1234567", "1234567"},
		"tstdrv-42":  {"tstdrv-42", "TSTDRV_42"},
	} {
		if AccountHost(in) != want[0] || Realm(in) != want[1] {
			t.Errorf("%s: host %s realm %s, want %v", in, AccountHost(in), Realm(in), want)
		}
	}
	c := &connector{log: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct {
		cfg, err string
	}{
		{`{"account_id":"123456_SB1"}`, ""},
		{`{}`, "account_id is required"},
		{`{"account_id":"1","consumer_key":"k"}`, "needs all of"},
		{`{"account_id":"1","base_url":"ftp://x"}`, "base_url"},
		{`{"account_id":"1","version_fields":{"salesOrder":"x; DROP"}}`, "version_fields"},
		{`{"account_id":"1","timeout":"soon"}`, "timeout"},
		{`{"account_id":"1","colour":"red"}`, "unknown field"},
	} {
		err := c.Configure(t.Context(), sdk.Config{Connection: "erp", Raw: json.RawMessage(tc.cfg)}, nil)
		if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("Configure(%s): %v, want %q", tc.cfg, err, tc.err)
		}
	}
	if err := c.Configure(t.Context(), sdk.Config{Raw: json.RawMessage(`{"account_id":"123456_SB1"}`)}, nil); err != nil || c.base != "https://123456-sb1.suitetalk.api.netsuite.com" {
		t.Errorf("base %q %v", c.base, err)
	}
	authURL, tokenURL := OAuthEndpoints("123456_SB1")
	if authURL != "https://123456-sb1.app.netsuite.com/app/login/oauth2/authorize.nl" ||
		tokenURL != "https://123456-sb1.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token" {
		t.Errorf("OAuth endpoints %s %s", authURL, tokenURL)
	}
}

func TestCustomerUpsertAndDelete(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{})
	c := newConnector(t, sb.config(map[string]any{"version_fields": map[string]string{"customer": "custentity_weir_version"}}), newTestHost(sb, 0))
	customer := func(version int64, city string) sdk.Record {
		return sdk.Record{Key: "ACC-0500", Version: version, Payload: json.RawMessage(fmt.Sprintf(
			`{"companyName":"Initech","subsidiary":{"id":"1"},"email":"ap@initech.example","addressBook":{"items":[{"defaultBilling":true,"addressBookAddress":{"addr1":"1 Main St","city":%q,"country":{"id":"US"}}}]}}`, city))}
	}
	r1 := write(t, c, "customer", customer(10, "Austin"))[0]
	r2 := write(t, c, "customer", customer(20, "Dallas"))[0]
	r3 := write(t, c, "customer", customer(15, "Houston"))[0] // older: not written
	if !r1.Created || r2.Created || r3.Created || r1.ID == "" || r2.ID != r1.ID || r3.ID != r1.ID {
		t.Fatalf("results %+v %+v %+v", r1, r2, r3)
	}
	raw, ok := sb.Record("customer", "eid:ACC-0500")
	if !ok {
		t.Fatal("customer missing")
	}
	cust := decodeJSON(t, raw)
	if n := len(at(cust, "addressBook.items").([]any)); n != 1 || at(cust, "addressBook.items[0].addressBookAddress.city") != "Dallas" {
		t.Errorf("address book after two upserts and a stale one: %v", at(cust, "addressBook"))
	}
	res, err := c.Write(t.Context(), sdk.WriteRequest{Object: "Customer", Operation: "upsert", Records: []sdk.Record{
		{Key: "ACC-0500", Version: 30, Op: sdk.OpDelete}, {Key: "ACC-0501", Version: 30, Op: sdk.OpDelete}}})
	if err != nil || res[0].Status != sdk.StatusOK || res[1].Status != sdk.StatusOK {
		t.Fatalf("deletes: %+v %v", res, err)
	}
	if _, ok := sb.Record("customer", "eid:ACC-0500"); ok {
		t.Error("the customer was not deleted")
	}
}

// TestUnverifiedVariants runs the connector against the sandbox set to
// each alternative the reference could not settle: the connector must not
// depend on any of them.
func TestUnverifiedVariants(t *testing.T) {
	for name, opts := range map[string]sandbox.Options{
		"documented defaults": {},
		"legacy error types, 429 titled Bad Request, upsert 200, plain JSON": {LegacyErrorType: true,
			TooManyRequestsTitle: "Bad Request", UpsertStatus: http.StatusOK, PlainJSON: true},
		"Oracle numbers, DD/MM/YYYY dates, case-sensitive types, units as references": {OracleNumbers: true,
			DateFormat: "02/01/2006", CaseSensitiveTypes: true, UnitsAsReference: true, ExpandByDefault: true},
		"expires_in as a number, concurrency 15": {ExpiresInNumber: true, ConcurrencyLimit: 15},
	} {
		t.Run(name, func(t *testing.T) {
			sb := startSandbox(t, opts)
			sb.SetFaults(sandbox.Faults{Force429: 1})
			host := newTestHost(sb, 0)
			c := newConnector(t, sb.config(nil), host)
			for v := int64(1); v <= 2; v++ {
				res := write(t, c, "salesOrder", sdk.Record{Key: "SF-V", Version: v, Payload: orderPayload("SF-V",
					fmt.Sprintf(`{"item":{"externalId":"WID-PK12"},"quantity":%d,"units":"Case","rate":0.5,"location":{"id":"1"}}`, v))})
				if res[0].Status != sdk.StatusOK || res[0].ID != "5001" || res[0].Created != (v == 1) {
					t.Fatalf("write %d: %+v", v, res[0])
				}
			}
			bad := write(t, c, "salesOrder", sdk.Record{Key: "SF-BAD", Version: 1, Payload: orderPayload("SF-BAD", `{"item":{"externalId":"CAB-10M"},"units":"2"}`)})
			if bad[0].Status != sdk.StatusPermanent || bad[0].Field != "item.items[0].units" {
				t.Errorf("invalid unit: %+v", bad[0])
			}
			out, err := c.Lookup(t.Context(), sdk.LookupRequest{Object: "stock", Query: json.RawMessage(`{"items":["WID-PK12"]}`)})
			if err != nil || at(decodeJSON(t, out), "items.WID-PK12.locations[0].quantityAvailable") != json.Number("2376") {
				t.Errorf("lookup: %s %v", out, err)
			}
			for _, fetch := range []string{"record", "query"} {
				res, err := c.Read(t.Context(), sdk.ReadRequest{Source: json.RawMessage(`{"settle":"0s","key_field":"externalId","fetch":"` + fetch + `"}`), MaxRecords: 10})
				if err != nil || len(res.Records) != 1 || res.Records[0].Key != "SF-V" {
					t.Fatalf("read (%s): %v %v", fetch, res.Records, err)
				}
				p := decodeJSON(t, res.Records[0].Payload)
				if at(p, "item.items[0].rate") == nil || fmt.Sprint(at(p, "total")) != "1" {
					t.Errorf("read (%s): payload %s", fetch, res.Records[0].Payload)
				}
			}
			if got := sb.Stats().ConcurrencyRefused; got != 1 {
				t.Errorf("%d 429s, want the forced one", got)
			}
		})
	}
}
