package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/plugins/sap/sandbox"
	"github.com/weirhq/weir/sdk"
	"github.com/weirhq/weir/sdk/conformance"
)

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// order is a record of an order for WID-100 in qty EA.
func order(key string, version int64, qty string) sdk.Record {
	return sdk.Record{Key: key, Version: version, Object: objSalesOrder, Payload: json.RawMessage(fmt.Sprintf(
		`{"SoldToParty":"17100002","to_Item":[{"Material":"WID-100","RequestedQuantity":%s,"RequestedQuantityUnit":"EA"}]}`, qty))}
}

// write writes records and fails t unless every one is OK.
func write(t *testing.T, inst *conformance.Instance, recs ...sdk.Record) []sdk.WriteResult {
	t.Helper()
	res, err := inst.Client.Write(ctxFor(t), sdk.WriteRequest{Object: objSalesOrder, Operation: "upsert", Records: recs})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	for _, r := range res {
		if r.Status != sdk.StatusOK {
			t.Fatalf("record %s: %s %s %s (%s)", r.Key, r.Status, r.Code, r.Message, r.Field)
		}
	}
	return res
}

// ordersWith returns the sandbox's orders per reference.
func (e *env) count(t *testing.T) map[string]int {
	t.Helper()
	recs, err := e.sb.Records("A_SalesOrder")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, raw := range recs {
		var m struct{ PurchaseOrderByCustomer string }
		json.Unmarshal(raw, &m)
		out[m.PurchaseOrderByCustomer]++
	}
	return out
}

// refusals counts logged requests refused for the reason.
func (e *env) refusals(reason string) int {
	n := 0
	for _, r := range e.sb.Requests() {
		if r.Refusal == reason {
			n++
		}
	}
	return n
}

func (e *env) fetches() int {
	n := 0
	for _, r := range e.sb.Requests() {
		if r.CSRF == "fetch" {
			n++
		}
	}
	return n
}

func TestCSRFExpiryMidRun(t *testing.T) {
	tests := []struct {
		name   string
		faults sandbox.Faults
	}{
		{"sessions end after two writes", sandbox.Faults{ExpireSessionsAfter: 2}},
		{"session timeout", sandbox.Faults{SessionTimeout: sandbox.Duration(150 * time.Millisecond)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Options{})
			inst := conformance.Start(t, e.target(t, map[string]any{"write_concurrency": 1}))
			e.sb.SetFaults(tc.faults)
			for i := range 5 {
				if i == 3 && tc.faults.SessionTimeout > 0 {
					time.Sleep(250 * time.Millisecond)
				}
				write(t, inst, order(fmt.Sprintf("csrf-%d", i), 1, "1"))
			}
			counts := e.count(t)
			for i := range 5 {
				if n := counts[fmt.Sprintf("csrf-%d", i)]; n != 1 {
					t.Errorf("csrf-%d: %d orders", i, n)
				}
			}
			if got := e.refusals("csrf"); got != 1 {
				t.Errorf("%d CSRF refusals, want 1 (then one refetch)", got)
			}
			if got := e.fetches(); got != 2 {
				t.Errorf("%d token fetches, want 2", got)
			}
		})
	}
}

func TestRedeliveryAfterKill(t *testing.T) {
	tests := []struct {
		name string
		// midCreate kills the connector while the create is done but not
		// yet answered; otherwise after the write returned, before the
		// host could ack.
		midCreate bool
	}{
		{"killed between create and ack", false},
		{"killed while the create was answered", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Options{})
			tg := e.target(t, nil)
			rec := order("SF-00012345", 10, "3")
			first := conformance.Start(t, tg)
			if tc.midCreate {
				e.sb.SetFaults(sandbox.Faults{AckDelay: sandbox.Duration(3 * time.Second)})
				done := make(chan error, 1)
				go func() {
					_, err := first.Client.Write(context.Background(), sdk.WriteRequest{Object: objSalesOrder, Records: []sdk.Record{rec}})
					done <- err
				}()
				deadline := time.Now().Add(10 * time.Second)
				for e.count(t)["SF-00012345"] == 0 {
					if time.Now().After(deadline) {
						t.Fatal("the order was never created")
					}
					time.Sleep(10 * time.Millisecond)
				}
				first.Kill()
				if err := <-done; err == nil {
					t.Fatal("the write in flight succeeded though the connector was killed")
				}
				e.sb.SetFaults(sandbox.Faults{})
			} else {
				if res := write(t, first, rec); !res[0].Created {
					t.Fatal("the first write did not create the order")
				}
				first.Kill()
			}
			second := conformance.Start(t, tg)
			res := write(t, second, rec)
			if res[0].Created || res[0].ID != "1" {
				t.Errorf("redelivery: created %v, id %q; want the existing order 1", res[0].Created, res[0].ID)
			}
			if n := e.count(t)["SF-00012345"]; n != 1 {
				t.Fatalf("%d orders for one record", n)
			}
		})
	}
}

func lookup(t *testing.T, inst *conformance.Instance, object, query string) map[string]any {
	t.Helper()
	raw, err := inst.Client.Lookup(ctxFor(t), sdk.LookupRequest{Object: object, Query: json.RawMessage(query), Priority: sdk.PriorityInteractive})
	if err != nil {
		t.Fatalf("Lookup %s %s: %v", object, query, err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// at walks a decoded JSON document by a dotted path.
func at(v any, path string) any {
	for _, p := range strings.Split(path, ".") {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	return v
}

func TestStockLookup(t *testing.T) {
	e := newEnv(t, sandbox.Options{PageSize: 2})
	inst := conformance.Start(t, e.target(t, nil))
	tests := []struct {
		name, query string
		want        map[string]any
	}{
		{"summed across storage locations and plants", `{"materials":["WID-100","CAB-10M"]}`, map[string]any{
			// 120 + 80 in 1710 (quality, blocked and sales order stock
			// left out) and 200 in 1010.
			"materials.WID-100.total":                              400.0,
			"materials.WID-100.plants.1710.total":                  200.0,
			"materials.WID-100.plants.1710.storage_locations.171A": 120.0,
			"materials.WID-100.plants.1710.storage_locations.171B": 80.0,
			"materials.WID-100.plants.1010.total":                  200.0,
			"materials.WID-100.unit":                               "EA",
			"materials.CAB-10M.total":                              650.0,
		}},
		{"one plant", `{"items":["WID-100"],"plant":"1710"}`, map[string]any{
			"materials.WID-100.total": 200.0,
		}},
		{"quality inspection counted too", `{"material":"WID-100","plants":["1710"]}`, nil},
		{"unknown material", `{"material":"NOPE"}`, map[string]any{"materials.NOPE.total": 0.0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := lookup(t, inst, objStock, tc.query)
			for path, want := range tc.want {
				if v := at(got, path); v != want {
					t.Errorf("%s = %v, want %v (%v)", path, v, want, got)
				}
			}
		})
	}
	// Paged by __next (PageSize 2), all six WID-100 rows are read when
	// every stock type counts.
	wide := conformance.Start(t, e.target(t, map[string]any{"stock_types": []string{"01", "02", "07"}}))
	if v := at(lookup(t, wide, objStock, `{"material":"WID-100","plant":"1710"}`), "materials.WID-100.total"); v != 220.0 {
		t.Errorf("with quality and blocked stock: %v, want 220", v)
	}
}

func TestUnitConversion(t *testing.T) {
	tests := []struct {
		name, codes, query string
		result             string
		exact              bool
	}{
		{"cases to each", "sap", `{"material":"WID-PK12","quantity":3,"from":"CS","to":"EA"}`, "144", true},
		{"packs to cases", "sap", `{"material":"WID-PK12","quantity":2,"from":"PAK","to":"CS"}`, "0.5", true},
		{"metres to the base unit", "sap", `{"material":"CAB-10M","quantity":25,"from":"M"}`, "2.5", true},
		{"ISO codes", "iso", `{"material":"GAD-200","quantity":1.5,"from":"CS","to":"PCE"}`, "9", true},
		{"inexact", "sap", `{"material":"WID-100","quantity":1,"from":"EA","to":"CS"}`, "0.083", false},
	}
	e := newEnv(t, sandbox.Options{})
	insts := map[string]*conformance.Instance{
		"sap": conformance.Start(t, e.target(t, map[string]any{"unit_codes": "sap"})),
		"iso": conformance.Start(t, e.target(t, map[string]any{"unit_codes": "iso"})),
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inst := insts[tc.codes]
			raw, err := inst.Client.Lookup(ctxFor(t), sdk.LookupRequest{Object: objProductUnits, Query: json.RawMessage(tc.query)})
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Conversions []struct {
					Result json.Number
					Exact  bool
				}
			}
			if err := json.Unmarshal(raw, &got); err != nil || len(got.Conversions) != 1 {
				t.Fatalf("%s: %v", raw, err)
			}
			if c := got.Conversions[0]; c.Result.String() != tc.result || c.Exact != tc.exact {
				t.Errorf("got %s exact %v, want %s exact %v", c.Result, c.Exact, tc.result, tc.exact)
			}
		})
	}
	t.Run("unknown unit", func(t *testing.T) {
		inst := insts["sap"]
		_, err := inst.Client.Lookup(ctxFor(t), sdk.LookupRequest{Object: objProductUnits, Query: json.RawMessage(`{"material":"GAD-200","quantity":1,"from":"PAK"}`)})
		if e := sdk.Classify(err); e == nil || e.Status != sdk.StatusPermanent || e.Field != "conversions[0].from" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("order in converted units", func(t *testing.T) {
		// The CRM sells 2 packs of 12; the order carries them as 24 EA,
		// converted through the material's alternative units.
		inst := insts["sap"]
		conv := lookup(t, inst, objProductUnits, `{"material":"WID-PK12","quantity":2,"from":"PAK","to":"EA"}`)
		qty := at(conv, "conversions").([]any)[0].(map[string]any)["result"]
		rec := sdk.Record{Key: "SF-UNITS", Version: 1, Payload: json.RawMessage(fmt.Sprintf(
			`{"SoldToParty":"17100001","to_Item":[{"Material":"WID-PK12","RequestedQuantity":%v,"RequestedQuantityUnit":"EA"}]}`, qty))}
		write(t, inst, rec)
		var state map[string]any
		json.Unmarshal(e.orders(t)["SF-UNITS"], &state)
		item := state["to_Item"].([]any)[0].(map[string]any)
		if fmt.Sprint(item["RequestedQuantity"]) != "24" || item["RequestedQuantityISOUnit"] != "EA" || fmt.Sprint(state["TotalNetAmount"]) != "264" {
			t.Fatalf("order: %v", state)
		}
	})
}

func TestSpikeArrestStorm(t *testing.T) {
	tests := []struct {
		name   string
		faults sandbox.Faults
		status int
	}{
		{"500 faults", sandbox.Faults{SpikeArrestNext: 25}, 500},
		{"429 with Retry-After", sandbox.Faults{SpikeArrest: &sandbox.SpikeArrest{Rate: "1000ps", Status: 429, RetryAfter: 1}, SpikeArrestNext: 25}, 429},
	}
	const n = 12
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Options{})
			inst := conformance.Start(t, e.target(t, nil))
			e.sb.SetFaults(tc.faults)
			pending := map[string]sdk.Record{}
			for i := range n {
				r := order(fmt.Sprintf("storm-%02d", i), 1, "1")
				pending[r.Key] = r
			}
			deadline := time.Now().Add(30 * time.Second)
			limited := 0
			for rounds := 0; len(pending) > 0; rounds++ {
				if time.Now().After(deadline) {
					t.Fatalf("%d records still pending after %d rounds", len(pending), rounds)
				}
				var batch []sdk.Record
				for _, r := range pending {
					batch = append(batch, r)
				}
				res, err := inst.Client.Write(ctxFor(t), sdk.WriteRequest{Object: objSalesOrder, Records: batch})
				if e := sdk.Classify(err); e != nil {
					// The whole batch was refused (its $metadata read).
					if e.Status != sdk.StatusRateLimited {
						t.Fatal(err)
					}
					limited++
					continue
				}
				for _, r := range res {
					switch r.Status {
					case sdk.StatusOK:
						delete(pending, r.Key)
					case sdk.StatusRateLimited:
						limited++
						if r.RetryAfter < time.Second {
							t.Errorf("rate limited without a pause: %+v", r)
						}
					default:
						t.Fatalf("record %s: %s %s %s", r.Key, r.Status, r.Code, r.Message)
					}
				}
				// The host would wait RetryAfter; a short pause keeps the
				// test fast.
				time.Sleep(20 * time.Millisecond)
			}
			counts := e.count(t)
			for i := range n {
				if c := counts[fmt.Sprintf("storm-%02d", i)]; c != 1 {
					t.Errorf("storm-%02d: %d orders", i, c)
				}
			}
			refused := 0
			for _, r := range e.sb.Requests() {
				if r.Refusal == "spike_arrest" && r.Status == tc.status {
					refused++
				}
			}
			if limited == 0 || refused < 25 {
				t.Fatalf("%d refusals with %d, %d limited results; want at least 25 and some", refused, tc.status, limited)
			}
			reports := 0
			for _, r := range inst.Host.Reports() {
				if r.Kind == sdk.LimitRate && r.RetryAfter >= time.Second {
					reports++
				}
			}
			if reports == 0 {
				t.Error("the limiter was never told of the rate limiting")
			}
		})
	}
}

func TestStaleETag(t *testing.T) {
	tests := []struct {
		name    string
		changes int
		ok      bool
	}{
		{"one concurrent change", 1, true},
		{"changed on every attempt", maxAttempts, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Options{})
			inst := conformance.Start(t, e.target(t, nil))
			write(t, inst, order("SF-ETAG", 1, "1"))
			e.sb.SetFaults(sandbox.Faults{ConcurrentChange: tc.changes})
			res, err := inst.Client.Write(ctxFor(t), sdk.WriteRequest{Object: objSalesOrder, Records: []sdk.Record{order("SF-ETAG", 2, "7")}})
			if err != nil {
				t.Fatal(err)
			}
			stale := 0
			for _, r := range e.sb.Requests() {
				if r.Status == 412 {
					stale++
				}
			}
			if stale != tc.changes {
				t.Errorf("%d 412 answers, want %d", stale, tc.changes)
			}
			var state map[string]any
			json.Unmarshal(e.orders(t)["SF-ETAG"], &state)
			qty := fmt.Sprint(state["to_Item"].([]any)[0].(map[string]any)["RequestedQuantity"])
			if !tc.ok {
				if res[0].Status != sdk.StatusRetryable {
					t.Fatalf("got %+v, want retryable", res[0])
				}
				return
			}
			if res[0].Status != sdk.StatusOK || qty != "7" || state["YY1_WeirVersion_SDH"] != "2" {
				t.Fatalf("result %+v, quantity %s, version %v", res[0], qty, state["YY1_WeirVersion_SDH"])
			}
		})
	}
}

func TestNoETagInFeeds(t *testing.T) {
	e := newEnv(t, sandbox.Options{OmitFeedETags: true})
	inst := conformance.Start(t, e.target(t, nil))
	write(t, inst, order("SF-428", 1, "1"))
	write(t, inst, order("SF-428", 2, "4"))
	for _, r := range e.sb.Requests() {
		if r.Status == 428 {
			t.Errorf("%s %s: 428", r.Method, r.Path)
		}
	}
	var state map[string]any
	json.Unmarshal(e.orders(t)["SF-428"], &state)
	if qty := fmt.Sprint(state["to_Item"].([]any)[0].(map[string]any)["RequestedQuantity"]); qty != "4" {
		t.Fatalf("quantity %s", qty)
	}
}

func TestUpdateItems(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	inst := conformance.Start(t, e.target(t, nil))
	rec := func(version int64, items string) sdk.Record {
		return sdk.Record{Key: "SF-ITEMS", Version: version, Payload: json.RawMessage(`{"SoldToParty":"17100003","PurchaseOrderByShipToParty":"v` +
			fmt.Sprint(version) + `","to_Item":[` + items + `]}`)}
	}
	write(t, inst, rec(1, `{"Material":"WID-100","RequestedQuantity":"1"},{"Material":"GAD-200","RequestedQuantity":"2"}`))
	// Item 10 changes, 20 goes, 30 comes.
	write(t, inst, rec(2, `{"Material":"WID-100","RequestedQuantity":"5","SalesOrderItem":"10"},{"SalesOrderItem":"30","Material":"CAB-10M","RequestedQuantity":"10","RequestedQuantityUnit":"M"}`))
	var state struct {
		PurchaseOrderByShipToParty string
		Items                      []struct {
			SalesOrderItem, Material string
			RequestedQuantity        json.Number
			RequestedQuantityUnit    string
		} `json:"to_Item"`
	}
	json.Unmarshal(e.orders(t)["SF-ITEMS"], &state)
	got := fmt.Sprintf("%s %v", state.PurchaseOrderByShipToParty, state.Items)
	if want := "v2 [{10 WID-100 5.000 EA} {30 CAB-10M 10.000 M}]"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	// A delete record deletes the order.
	res, err := inst.Client.Write(ctxFor(t), sdk.WriteRequest{Object: objSalesOrder, Records: []sdk.Record{{Key: "SF-ITEMS", Version: 3, Op: sdk.OpDelete}}})
	if err != nil || res[0].Status != sdk.StatusOK || e.count(t)["SF-ITEMS"] != 0 {
		t.Fatalf("delete: %v %+v", err, res)
	}
}

func TestStatusChanges(t *testing.T) {
	for _, pageSize := range []int{0, 1} {
		t.Run(fmt.Sprintf("page size %d", pageSize), func(t *testing.T) { testStatusChanges(t, pageSize) })
	}
}

func testStatusChanges(t *testing.T, pageSize int) {
	e := newEnv(t, sandbox.Options{PageSize: pageSize})
	inst := conformance.Start(t, e.target(t, nil))
	for i := range 5 {
		write(t, inst, order(fmt.Sprintf("SF-ST-%d", i), 1, "1"))
	}
	src := json.RawMessage(`{"key_field":"PurchaseOrderByCustomer"}`)
	read := func(cursor []byte) ([]sdk.Record, []byte) {
		var all []sdk.Record
		for {
			res, err := inst.Client.Read(ctxFor(t), sdk.ReadRequest{Source: src, Cursor: cursor, MaxRecords: 2})
			if err != nil {
				t.Fatal(err)
			}
			all, cursor = append(all, res.Records...), res.Cursor
			if !res.More {
				return all, cursor
			}
		}
	}
	recs, cursor := read(nil)
	var keys []string
	for _, r := range recs {
		keys = append(keys, r.Key)
	}
	if got := strings.Join(keys, ","); got != "SF-ST-0,SF-ST-1,SF-ST-2,SF-ST-3,SF-ST-4" {
		t.Fatalf("first read: %s", got)
	}
	if err := e.sb.Update("A_SalesOrder", recs[2].Metadata["sap.sales_order"], json.RawMessage(`{"OverallSDProcessStatus":"C","OverallTotalDeliveryStatus":"C"}`)); err != nil {
		t.Fatal(err)
	}
	recs, _ = read(cursor)
	if len(recs) != 1 || recs[0].Key != "SF-ST-2" {
		t.Fatalf("after a status change: %v", recs)
	}
	var p map[string]any
	json.Unmarshal(recs[0].Payload, &p)
	if p["OverallSDProcessStatus"] != "C" || p["TotalNetAmount"] != 12.5 || p["SoldToParty"] != "17100002" {
		t.Fatalf("payload %s", recs[0].Payload)
	}
}

func TestClassify(t *testing.T) {
	od := &odata{http: &sdk.HTTPClient{}}
	odataBody := `{"error":{"code":"V1/320","message":{"lang":"en","value":"Sold-to party 9 does not exist"},"innererror":{"errordetails":[` +
		`{"code":"/IWBEP/CX_MGW_BUSI_EXCEPTION","message":"x","target":"","severity":"error"},` +
		`{"code":"V1/320","message":"Sold-to party 9 does not exist","target":"SoldToParty","severity":"error"}]}}}`
	tests := []struct {
		name   string
		status int
		header map[string]string
		body   string
		want   sdk.Status
		code   string
		field  string
		after  time.Duration
	}{
		{"ok", 201, nil, `{}`, sdk.StatusOK, "", "", 0},
		{"csrf", 403, map[string]string{"x-csrf-token": "Required"}, "CSRF token validation failed", sdk.StatusRetryable, "", "", 0},
		{"spike arrest 500", 500, nil, `{"fault":{"faultstring":"Spike arrest violation. Allowed rate : 10ps","detail":{"errorcode":"policies.ratelimit.SpikeArrestViolation"}}}`, sdk.StatusRateLimited, "", "", time.Second},
		{"429 retry-after", 429, map[string]string{"Retry-After": "7"}, `{"fault":{"faultstring":"quota","detail":{"errorcode":"policies.ratelimit.QuotaViolation"}}}`, sdk.StatusRateLimited, "", "", 7 * time.Second},
		{"business error", 400, nil, odataBody, sdk.StatusPermanent, "V1/320", "SoldToParty", 0},
		{"document locked", 400, nil, strings.ReplaceAll(odataBody, "V1/320", "V1/042"), sdk.StatusRetryable, "", "", 0},
		{"unavailable", 503, map[string]string{"Retry-After": "2"}, "<html>busy</html>", sdk.StatusRetryable, "", "", 2 * time.Second},
		{"forbidden", 403, nil, `{"error":{"code":"/IWFND/CM_CONSUMER/101","message":{"lang":"en","value":"No authorization"}}}`, sdk.StatusPermanent, "/IWFND/CM_CONSUMER/101", "", 0},
		{"logon", 401, nil, "<html>Logon failed</html>", sdk.StatusAuthExpired, "", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := &httpResponse{status: tc.status, header: tc.header}
			err := od.classify(resp.build(), []byte(tc.body))
			e := sdk.Classify(err)
			if tc.want == sdk.StatusOK {
				if err != nil {
					t.Fatalf("got %v", err)
				}
				return
			}
			if e == nil || e.Status != tc.want || (tc.code != "" && e.Code != tc.code) || e.Field != tc.field || e.RetryAfter != tc.after {
				t.Fatalf("got %+v", e)
			}
		})
	}
}

func TestFieldPath(t *testing.T) {
	p := &plan{items: []planItem{
		{no: "10", index: 0, renames: map[string]string{}},
		{no: "20", index: 1, renames: map[string]string{"RequestedQuantitySAPUnit": "RequestedQuantityUnit"}},
	}}
	tests := []struct {
		target string
		item   int
		want   string
	}{
		{"SoldToParty", -1, "SoldToParty"},
		{"/A_SalesOrder('')/SoldToParty", -1, "SoldToParty"},
		{"to_Item(SalesOrder='',SalesOrderItem='20')/Material", -1, "to_Item[1].Material"},
		{"/A_SalesOrderItem(SalesOrder='12',SalesOrderItem='000020')/RequestedQuantitySAPUnit", -1, "to_Item[1].RequestedQuantityUnit"},
		{"to_Item(10)/Material", -1, "to_Item[0].Material"},
		{"RequestedQuantitySAPUnit", 1, "to_Item[1].RequestedQuantityUnit"},
		{"to_Partner(0)/Customer", -1, "to_Partner[0].Customer"},
		{"", -1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			if got := fieldPath(tc.target, p, tc.item); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
