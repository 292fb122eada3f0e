package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weirhq/weir/sdk"
)

// sourceSettings are a pipeline source block's attributes.
type sourceSettings struct {
	Object   string   `json:"object"`
	KeyField string   `json:"key_field"`
	Statuses []string `json:"statuses"`
	Where    string   `json:"where"`
	Since    string   `json:"since"`
	Settle   string   `json:"settle"`
	Fetch    string   `json:"fetch"`
	PageSize *int     `json:"page_size"`
}

// sourceObject describes a readable object.
type sourceObject struct {
	table    string // SuiteQL table
	tranType string // transaction type code; "" for customers
	record   string // record type for GET
	number   string // the tranId / entityId column
}

var sourceObjects = map[string]sourceObject{
	objSalesOrder:      {"transaction", "SalesOrd", objSalesOrder, "tranid"},
	objItemFulfillment: {"transaction", "ItemShip", objItemFulfillment, "tranid"},
	objInvoice:         {"transaction", "CustInvc", objInvoice, "tranid"},
	objCustomer:        {"customer", "", objCustomer, "entityid"},
}

// cursor is where a source stands: the lastmodifieddate (as TO_CHAR
// writes it) and internal id of the last record read. Rows come ordered by
// (lastmodifieddate, id), which is unique, so the next read starts strictly
// after them.
type cursor struct {
	Time string `json:"t"`
	ID   int64  `json:"id"`
}

// The TO_CHAR / TO_DATE format of cursor times, and its Go layout.
const (
	sqlTimeFormat = "YYYY-MM-DD HH24:MI:SS"
	goTimeFormat  = "2006-01-02 15:04:05"
)

// readSettings decodes, checks and defaults source settings.
func readSettings(raw json.RawMessage) (sourceSettings, sourceObject, time.Duration, error) {
	var st sourceSettings
	if err := sdk.DecodeStrict(raw, &st); err != nil {
		return st, sourceObject{}, 0, sdk.Permanent("INVALID_SOURCE", "source settings: "+err.Error(), "")
	}
	if st.Object == "" {
		st.Object = objSalesOrder
	}
	var obj sourceObject
	found := false
	for name, o := range sourceObjects {
		if strings.EqualFold(name, st.Object) {
			st.Object, obj, found = name, o, true
		}
	}
	if !found {
		return st, obj, 0, sdk.Permanent("INVALID_SOURCE", fmt.Sprintf("source object %q: use salesOrder, itemFulfillment, invoice or customer", st.Object), "object")
	}
	switch strings.ToLower(st.KeyField) {
	case "", "id":
		st.KeyField = "id"
	case "externalid":
		st.KeyField = "externalId"
	case "tranid", "entityid":
		st.KeyField = "number"
	default:
		return st, obj, 0, sdk.Permanent("INVALID_SOURCE", fmt.Sprintf("key_field %q: use id, externalId, tranId or entityId", st.KeyField), "key_field")
	}
	switch st.Fetch {
	case "":
		st.Fetch = "record"
	case "record", "query":
	default:
		return st, obj, 0, sdk.Permanent("INVALID_SOURCE", fmt.Sprintf("fetch %q: use record or query", st.Fetch), "fetch")
	}
	if st.Since != "" {
		if _, err := time.Parse(goTimeFormat, st.Since); err != nil {
			return st, obj, 0, sdk.Permanent("INVALID_SOURCE", fmt.Sprintf("since %q: want YYYY-MM-DD HH24:MI:SS", st.Since), "since")
		}
	}
	for _, s := range st.Statuses {
		if !validColumn(s) {
			return st, obj, 0, sdk.Permanent("INVALID_SOURCE", fmt.Sprintf("status %q is not a status code", s), "statuses")
		}
	}
	settle, err := parseDuration("settle", st.Settle, 2*time.Second)
	if err != nil {
		return st, obj, 0, sdk.Permanent("INVALID_SOURCE", err.Error(), "settle")
	}
	return st, obj, settle, nil
}

// Read returns the records changed after the cursor, oldest first, as a
// SuiteQL query on lastmodifieddate pages through them (limit ≤ 1000,
// offsets multiple of the limit). Records are only read once unchanged for
// the settle time (compared in SuiteQL against SYSDATE, NetSuite's own
// clock), so a record still being saved, or saved in the same second as
// the last one read, is never skipped. The cursor holds everything needed
// to resume in a new process.
func (c *connector) Read(ctx context.Context, req sdk.ReadRequest) (sdk.ReadResult, error) {
	st, obj, settle, err := readSettings(req.Source)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	var cur *cursor
	if len(req.Cursor) > 0 {
		cur = &cursor{}
		if err := json.Unmarshal(req.Cursor, cur); err != nil {
			return sdk.ReadResult{}, sdk.Permanent("INVALID_CURSOR", "the saved cursor is not this connector's: "+err.Error(), "")
		}
	}
	max := req.MaxRecords
	if max <= 0 {
		max = 100
	}
	pageSize := 1000
	if st.PageSize != nil && *st.PageSize > 0 {
		pageSize = min(*st.PageSize, 1000)
	}
	pageSize = min(pageSize, max)
	q := c.changesQuery(st, obj, cur, settle)
	rows, more, err := c.suiteqlAll(ctx, q, pageSize, max, sdk.PriorityBulk)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	res := sdk.ReadResult{Cursor: req.Cursor, More: more}
	if len(rows) == 0 {
		return res, nil
	}
	var payloads []json.RawMessage
	if st.Fetch == "record" {
		payloads, err = c.fetchRecords(ctx, obj.record, rows)
	} else {
		payloads, err = c.queryPayloads(ctx, obj, rows)
	}
	if err != nil {
		return sdk.ReadResult{}, err
	}
	for i, r := range rows {
		if payloads[i] == nil {
			continue // deleted since the query
		}
		res.Records = append(res.Records, c.toRecord(st, r, payloads[i]))
	}
	last := rows[len(rows)-1]
	id, _ := strconv.ParseInt(last["id"], 10, 64)
	res.Cursor, _ = json.Marshal(cursor{Time: last["weir_modified"], ID: id})
	return res, nil
}

// changesQuery builds the query of rows changed after the cursor.
func (c *connector) changesQuery(st sourceSettings, obj sourceObject, cur *cursor, settle time.Duration) string {
	cols := []string{"t.id", "t.externalid", "t." + obj.number,
		"TO_CHAR(t.lastmodifieddate, '" + sqlTimeFormat + "') AS weir_modified"}
	if st.Fetch == "query" {
		if obj.tranType != "" {
			cols = append(cols, "t.type", "t.status", "BUILTIN.DF(t.status) AS statustext", "t.entity",
				"BUILTIN.DF(t.entity) AS entityname", "t.foreigntotal", "t.currency", "TO_CHAR(t.trandate, 'YYYY-MM-DD') AS trandate", "t.otherrefnum")
		} else {
			cols = append(cols, "t.companyname", "t.email", "t.subsidiary", "t.currency")
		}
	}
	var conds []string
	if obj.tranType != "" {
		conds = append(conds, "t.type = "+sqlString(obj.tranType))
	}
	if settle > 0 {
		// SYSDATE arithmetic is in days.
		conds = append(conds, fmt.Sprintf("t.lastmodifieddate < SYSDATE - %d/86400", int64((settle+time.Second-1)/time.Second)))
	}
	switch {
	case cur != nil:
		at := "TO_DATE(" + sqlString(cur.Time) + ", '" + sqlTimeFormat + "')"
		conds = append(conds, fmt.Sprintf("(t.lastmodifieddate > %s OR (t.lastmodifieddate = %s AND t.id > %d))", at, at, cur.ID))
	case st.Since != "":
		conds = append(conds, "t.lastmodifieddate >= TO_DATE("+sqlString(st.Since)+", '"+sqlTimeFormat+"')")
	}
	if len(st.Statuses) > 0 && obj.tranType != "" {
		conds = append(conds, "t.status IN ("+sqlList(st.Statuses)+")")
	}
	if st.Where != "" {
		conds = append(conds, "("+st.Where+")")
	}
	return "SELECT " + strings.Join(cols, ", ") + " FROM " + obj.table + " t WHERE " + strings.Join(conds, " AND ") +
		" ORDER BY t.lastmodifieddate, t.id"
}

// toRecord makes a source record of a row and its payload.
func (c *connector) toRecord(st sourceSettings, r map[string]string, payload json.RawMessage) sdk.Record {
	rec := sdk.Record{Object: st.Object, Payload: payload, Metadata: map[string]string{
		"netsuite.id": r["id"], "netsuite.lastmodifieddate": r["weir_modified"]}}
	if t, err := time.Parse(goTimeFormat, r["weir_modified"]); err == nil {
		rec.Version = sdk.VersionFromTime(t)
	}
	field, col := "id", "id"
	switch st.KeyField {
	case "externalId":
		field, col = "externalId", "externalid"
	case "number":
		col = sourceObjects[st.Object].number
		field = map[string]string{"tranid": "tranId", "entityid": "entityId"}[col]
	}
	rec.Key = r[col]
	if rec.Key == "" {
		rec.Key = "id:" + r["id"]
		rec.Metadata["weir.error"] = fmt.Sprintf("%s %s has no %s to key it by", st.Object, r["id"], field)
		rec.Metadata["weir.error_field"] = field
	}
	return rec
}

// fetchRecords reads each record in full, a few at a time; a record
// deleted since the query has a nil payload.
func (c *connector) fetchRecords(ctx context.Context, typ string, rows []map[string]string) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(rows))
	errs := make([]error, len(rows))
	sem := make(chan struct{}, c.writeParallelism())
	var wg sync.WaitGroup
	for i, r := range rows {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			path := recordPath + typ + "/" + r["id"]
			resp, err := c.send(ctx, http.MethodGet, path, map[string][]string{"expandSubResources": {"true"}}, nil, sdk.PriorityBulk, nil)
			if e := sdk.Classify(err); e != nil {
				if e.Status == sdk.StatusPermanent && (e.Code == "NONEXISTENT_ID" || e.Code == "404") {
					return
				}
				errs[i] = err
				return
			}
			var buf bytes.Buffer
			if err := json.Compact(&buf, resp.Body); err != nil {
				errs[i] = sdk.Retryable(fmt.Errorf("%s %s: the answer is not JSON", typ, r["id"]), 0)
				return
			}
			out[i] = buf.Bytes()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// queryPayloads builds payloads from the query's columns and, for
// transactions, one more query for their lines.
func (c *connector) queryPayloads(ctx context.Context, obj sourceObject, rows []map[string]string) ([]json.RawMessage, error) {
	ref := func(id, name string) any {
		if id == "" {
			return nil
		}
		m := map[string]any{"id": id}
		if name != "" {
			m["refName"] = name
		}
		return m
	}
	num := func(s string) any {
		if n, ok := jsonNumber(s); ok {
			return n
		}
		return nil
	}
	lines := map[string][]any{}
	if obj.tranType != "" {
		var ids []string
		for _, r := range rows {
			ids = append(ids, r["id"])
		}
		q := "SELECT tl.transaction, tl.linesequencenumber, tl.item, BUILTIN.DF(tl.item) AS itemname, tl.quantity, tl.rate, " +
			"tl.netamount, tl.units, BUILTIN.DF(tl.units) AS unitname, tl.location, tl.quantityshiprecv, tl.quantitybilled, " +
			"tl.createdfrom, tl.isclosed FROM transactionline tl WHERE tl.mainline = 'F' AND tl.transaction IN (" +
			strings.Join(ids, ", ") + ") ORDER BY tl.transaction, tl.linesequencenumber"
		lrows, _, err := c.suiteqlAll(ctx, q, 1000, 0, sdk.PriorityBulk)
		if err != nil {
			return nil, err
		}
		for _, l := range lrows {
			line := map[string]any{"line": num(l["linesequencenumber"]), "item": ref(l["item"], l["itemname"]),
				"quantity": abs(num(l["quantity"])), "rate": num(l["rate"]), "amount": abs(num(l["netamount"])),
				"units": ref(l["units"], l["unitname"]), "location": ref(l["location"], ""),
				"quantityFulfilled": num(l["quantityshiprecv"]), "quantityBilled": num(l["quantitybilled"]),
				"createdFrom": ref(l["createdfrom"], ""), "isClosed": l["isclosed"] == "T"}
			for k, v := range line {
				if v == nil {
					delete(line, k)
				}
			}
			lines[l["transaction"]] = append(lines[l["transaction"]], line)
		}
	}
	out := make([]json.RawMessage, len(rows))
	for i, r := range rows {
		p := map[string]any{"id": r["id"], "lastModifiedDate": r["weir_modified"]}
		if r["externalid"] != "" {
			p["externalId"] = r["externalid"]
		}
		if obj.tranType != "" {
			p["tranId"] = r["tranid"]
			p["type"] = r["type"]
			p["status"] = map[string]any{"id": r["status"], "refName": r["statustext"]}
			p["entity"] = ref(r["entity"], r["entityname"])
			p["currency"] = ref(r["currency"], "")
			p["total"] = num(r["foreigntotal"])
			p["tranDate"] = r["trandate"]
			if r["otherrefnum"] != "" {
				p["otherRefNum"] = r["otherrefnum"]
			}
			p["item"] = map[string]any{"items": append([]any{}, lines[r["id"]]...)}
		} else {
			p["entityId"] = r["entityid"]
			p["companyName"] = r["companyname"]
			p["email"] = r["email"]
			p["subsidiary"] = ref(r["subsidiary"], "")
			p["currency"] = ref(r["currency"], "")
		}
		for k, v := range p {
			if v == nil || v == "" {
				delete(p, k)
			}
		}
		b, err := encodeJSON(p)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// abs drops the sign of a JSON number (SuiteQL writes sales quantities and
// amounts negative).
func abs(v any) any {
	if n, ok := v.(json.Number); ok {
		return json.Number(strings.TrimPrefix(n.String(), "-"))
	}
	return v
}
