package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/weirhq/weir/sdk"
)

// maxAttempts bounds how often one record's write re-reads the order after
// a 412 or 428 before it gives up as retryable.
const maxAttempts = 5

// Write writes sales orders, each idempotently by its reference
// (PurchaseOrderByCustomer, the record key unless the payload sets it):
//
//   - the order is looked up by the reference first; absent, it is
//     created by deep insert (A_SalesOrder with to_Item), so a record
//     delivered again after a crash finds the order it created;
//   - present, what differs is changed: new items are added, changed ones
//     patched, missing ones deleted, then the header is patched, each
//     with If-Match; a 412 (changed meanwhile) or 428 re-reads the order
//     and tries again;
//   - with version_field, an order already holding the record's version
//     or a newer one is left alone;
//   - a delete record deletes the order.
//
// Payload values are converted to the wire format from the service's
// $metadata: decimals as strings, dates as /Date(ms)/, and checked against
// the properties' lengths and precisions before any request, so that a
// bad value is a permanent error naming its field (to_Item[2].Material).
// Records of a batch are written write_concurrency at a time.
func (c *connector) Write(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
	cfg, od, err := c.state()
	if err != nil {
		return nil, err
	}
	if req.Object != objSalesOrder {
		return nil, sdk.Permanent("INVALID_OBJECT", fmt.Sprintf("object %q is not writable: write %s", req.Object, objSalesOrder), "")
	}
	if req.Operation != "" && req.Operation != "upsert" {
		return nil, sdk.Permanent("INVALID_OPERATION", fmt.Sprintf("operation %q: %s supports upsert", req.Operation, objSalesOrder), "")
	}
	out := make([]sdk.WriteResult, len(req.Records))
	if len(req.Records) == 0 {
		return out, nil
	}
	sch, err := od.schemaOf(ctx, svcSalesOrder)
	if err != nil {
		return nil, err
	}
	w := &writer{cfg: cfg, od: od, sch: sch, order: sch.sets["A_SalesOrder"], item: sch.sets["A_SalesOrderItem"]}
	if w.order == nil || w.item == nil {
		return nil, sdk.Retryable(errors.New("the sales order service has no A_SalesOrder and A_SalesOrderItem"), 0)
	}
	sem := make(chan struct{}, cfg.WriteConcurrency)
	var wg sync.WaitGroup
	for i, rec := range req.Records {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i] = w.write(ctx, rec)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// writer writes the records of one batch.
type writer struct {
	cfg         config
	od          *odata
	sch         *schema
	order, item *etype
}

// plan is a record turned into what the order should be.
type plan struct {
	key     string
	ref     string         // PurchaseOrderByCustomer
	header  map[string]any // wire values of header properties
	items   []planItem
	navs    map[string][]map[string]any // other deep-insert navigations
	version any                         // wire value of version_field, nil without
}

// planItem is one item of a plan.
type planItem struct {
	no    string // item number, without leading zeros
	index int    // position in the payload's to_Item
	vals  map[string]any
	// renames maps a wire property to the payload's name for it
	// (RequestedQuantitySAPUnit → RequestedQuantityUnit).
	renames map[string]string
}

func (w *writer) write(ctx context.Context, rec sdk.Record) sdk.WriteResult {
	p, err := w.plan(rec)
	if err != nil {
		return sdk.ResultFor(rec.Key, err)
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		existing, err := w.find(ctx, p.ref)
		if err != nil {
			return sdk.ResultFor(rec.Key, err)
		}
		if existing == nil {
			if rec.Op == sdk.OpDelete {
				return sdk.WriteResult{Key: rec.Key, Status: sdk.StatusOK}
			}
			so, err := w.create(ctx, p)
			if err != nil {
				return sdk.ResultFor(rec.Key, w.mapField(err, p, -1))
			}
			return sdk.WriteResult{Key: rec.Key, Status: sdk.StatusOK, ID: so, Created: true}
		}
		so := fmt.Sprint(existing["SalesOrder"])
		if rec.Op == sdk.OpDelete {
			_, err = w.od.modify(ctx, http.MethodDelete, svcSalesOrder, "A_SalesOrder("+quote(so)+")", nil, etagOf(existing))
		} else {
			err = w.update(ctx, p, existing, rec.Version)
		}
		switch st := statusOf(err); {
		case err == nil:
			return sdk.WriteResult{Key: rec.Key, Status: sdk.StatusOK, ID: so}
		case st == http.StatusPreconditionFailed || st == http.StatusPreconditionRequired:
			continue // changed meanwhile, or the ETag was missing: read again
		case rec.Op == sdk.OpDelete && st == http.StatusNotFound:
			return sdk.WriteResult{Key: rec.Key, Status: sdk.StatusOK, ID: so}
		default:
			return sdk.ResultFor(rec.Key, err)
		}
	}
	return sdk.ResultFor(rec.Key, sdk.Retryable(fmt.Errorf("order %q kept changing (%d attempts with If-Match)", p.ref, maxAttempts), 0))
}

// find reads the order with the reference, with its items; nil when none.
func (w *writer) find(ctx context.Context, ref string) (map[string]any, error) {
	q := url.Values{"$filter": {"PurchaseOrderByCustomer eq " + quote(ref)}, "$expand": {"to_Item"}, "$top": {"2"}}
	resp, err := w.od.get(ctx, svcSalesOrder, "A_SalesOrder", q, sdk.PriorityBulk)
	if err != nil {
		return nil, err
	}
	rows, _, err := collectionOf(resp.Body)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	if len(rows) > 1 {
		sdk.Logger().Warn("several sales orders carry one reference; updating the first", "reference", ref,
			"orders", fmt.Sprintf("%v, %v", rows[0]["SalesOrder"], rows[1]["SalesOrder"]))
	}
	return rows[0], nil
}

// create deep-inserts the order and returns its number.
func (w *writer) create(ctx context.Context, p *plan) (string, error) {
	body := map[string]any{}
	for k, v := range p.header {
		body[k] = v
	}
	if p.version != nil {
		body[w.cfg.VersionField] = p.version
	}
	items := make([]map[string]any, len(p.items))
	for i, it := range p.items {
		items[i] = it.vals
	}
	if len(items) > 0 {
		body["to_Item"] = items
	}
	for k, v := range p.navs {
		body[k] = v
	}
	resp, err := w.od.modify(ctx, http.MethodPost, svcSalesOrder, "A_SalesOrder", body, "")
	if err != nil {
		return "", err
	}
	d, err := entityOf(resp.Body)
	if err != nil {
		return "", err
	}
	if msg := resp.Header.Get("sap-message"); msg != "" {
		sdk.Logger().Info("sales order created with a message", "reference", p.ref, "sap-message", msg)
	}
	return fmt.Sprint(d["SalesOrder"]), nil
}

// update changes an existing order to the plan: items first, the header
// (with the version) last, so that a failure half-way leaves the version
// behind and a retry finishes the job.
func (w *writer) update(ctx context.Context, p *plan, existing map[string]any, version int64) error {
	if p.version != nil {
		if v, ok := intOf(existing[w.cfg.VersionField]); ok && v >= version {
			return nil // this version or a newer one is there already
		}
	}
	so := fmt.Sprint(existing["SalesOrder"])
	etag := etagOf(existing)
	if etag == "" {
		// Some systems send ETags only with single reads; without one
		// every change would meet 428.
		var err error
		if etag, err = w.etag(ctx, so); err != nil {
			return err
		}
	}
	next := func(resp *sdk.Response) {
		if resp != nil && resp.Header.Get("ETag") != "" {
			etag = resp.Header.Get("ETag")
		}
	}
	have := map[string]map[string]any{}
	for _, it := range results(existing["to_Item"]) {
		have[trimZeros(fmt.Sprint(it["SalesOrderItem"]))] = it
	}
	want := map[string]bool{}
	for i, it := range p.items {
		want[it.no] = true
		ex := have[it.no]
		if ex == nil {
			resp, err := w.od.modify(ctx, http.MethodPost, svcSalesOrder, "A_SalesOrder("+quote(so)+")/to_Item", it.vals, "")
			if err != nil {
				return w.mapField(err, p, i)
			}
			next(resp)
			continue
		}
		changes := diff(w.item, it.vals, ex)
		if len(changes) == 0 {
			continue
		}
		if e := etagOf(ex); e != "" && etag == "" {
			etag = e
		}
		resp, err := w.od.modify(ctx, http.MethodPatch, svcSalesOrder, itemPath(so, it.no), changes, etag)
		if err != nil {
			return w.mapField(err, p, i)
		}
		next(resp)
	}
	for no := range have {
		if want[no] {
			continue
		}
		resp, err := w.od.modify(ctx, http.MethodDelete, svcSalesOrder, itemPath(so, no), nil, etag)
		if err != nil {
			return err
		}
		next(resp)
	}
	changes := diff(w.order, p.header, existing)
	if p.version != nil {
		changes[w.cfg.VersionField] = p.version
	}
	if len(changes) == 0 {
		return nil
	}
	_, err := w.od.modify(ctx, http.MethodPatch, svcSalesOrder, "A_SalesOrder("+quote(so)+")", changes, etag)
	return w.mapField(err, p, -1)
}

// etag reads an order by its key for its ETag.
func (w *writer) etag(ctx context.Context, so string) (string, error) {
	resp, err := w.od.get(ctx, svcSalesOrder, "A_SalesOrder("+quote(so)+")", url.Values{"$select": {"SalesOrder"}}, sdk.PriorityBulk)
	if err != nil {
		return "", err
	}
	if e := resp.Header.Get("ETag"); e != "" {
		return e, nil
	}
	d, err := entityOf(resp.Body)
	if err != nil {
		return "", err
	}
	return etagOf(d), nil
}

func itemPath(so, item string) string {
	return "A_SalesOrderItem(SalesOrder=" + quote(so) + ",SalesOrderItem=" + quote(item) + ")"
}

// diff returns the updatable properties of want whose values differ from
// have's.
func diff(t *etype, want, have map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range want {
		p := t.props[k]
		if p == nil || !p.Updatable {
			continue
		}
		if !sameValue(p, v, have[k]) {
			out[k] = v
		}
	}
	return out
}

// sameValue compares a wire value with what the system returned.
func sameValue(p *eprop, want, have any) bool {
	ws, _ := want.(string)
	hs, _ := have.(string)
	if want == nil {
		return have == nil || hs == ""
	}
	switch p.Type {
	case "Edm.Decimal":
		a, ok1 := new(big.Rat).SetString(ws)
		b, ok2 := new(big.Rat).SetString(hs)
		return ok1 && ok2 && a.Cmp(b) == 0
	case "Edm.DateTime", "Edm.DateTimeOffset":
		a, ok1 := parseJSONDate(ws)
		b, ok2 := parseJSONDate(hs)
		return ok1 && ok2 && a.Equal(b)
	case "Edm.String":
		return ws == hs || trimZeros(ws) == trimZeros(hs) && isDigits(ws) && isDigits(hs)
	}
	return fmt.Sprint(want) == fmt.Sprint(have)
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// trimZeros drops the leading zeros of a number (SAP's ALPHA output).
func trimZeros(s string) string {
	if !isDigits(s) {
		return s
	}
	if t := strings.TrimLeft(s, "0"); t != "" {
		return t
	}
	return "0"
}

func intOf(v any) (int64, bool) {
	switch x := v.(type) {
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	}
	return 0, false
}

// plan checks and converts a record's payload.
func (w *writer) plan(rec sdk.Record) (*plan, error) {
	p := &plan{key: rec.Key, header: map[string]any{}, navs: map[string][]map[string]any{}}
	var payload map[string]any
	if rec.Op != sdk.OpDelete || len(bytes.TrimSpace(rec.Payload)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(rec.Payload))
		dec.UseNumber()
		if err := dec.Decode(&payload); err != nil || payload == nil {
			return nil, sdk.Permanent("INVALID_JSON", "the record is not a JSON object", "record")
		}
	}
	for k, v := range payload {
		if k == "__metadata" {
			continue
		}
		if target, isNav := w.order.navs[k]; isNav {
			list, ok := navItems(v)
			if !ok {
				return nil, sdk.Permanent("INVALID_VALUE", k+" must be an array of objects", k)
			}
			tt := w.sch.types[target]
			if tt == nil {
				return nil, sdk.Permanent("UNKNOWN_FIELD", "navigation "+k+" has no known target", k)
			}
			if k == "to_Item" {
				if err := w.planItems(p, tt, list); err != nil {
					return nil, err
				}
				continue
			}
			for i, m := range list {
				vals, _, err := w.wire(tt, m, fmt.Sprintf("%s[%d].", k, i))
				if err != nil {
					return nil, err
				}
				p.navs[k] = append(p.navs[k], vals)
			}
			continue
		}
		prop := w.order.props[k]
		if prop == nil {
			return nil, sdk.Permanent("UNKNOWN_FIELD", fmt.Sprintf("%s has no property %s", w.order.name, k), k)
		}
		val, err := wireValue(prop, v, k)
		if err != nil {
			return nil, err
		}
		p.header[k] = val
	}
	for k, v := range w.cfg.Defaults {
		if _, set := p.header[k]; set {
			continue
		}
		prop := w.order.props[k]
		if prop == nil {
			return nil, sdk.Permanent("INVALID_CONFIG", fmt.Sprintf("defaults: %s has no property %s", w.order.name, k), k)
		}
		val, err := wireValue(prop, v, k)
		if err != nil {
			return nil, err
		}
		p.header[k] = val
	}
	ref, _ := p.header["PurchaseOrderByCustomer"].(string)
	if ref == "" {
		ref = rec.Key
		prop := w.order.props["PurchaseOrderByCustomer"]
		if prop != nil && prop.MaxLength > 0 && utf8.RuneCountInString(ref) > prop.MaxLength {
			return nil, sdk.Permanent("VALUE_TOO_LONG", fmt.Sprintf("the record key %q, the order's reference, is longer than %d characters", ref, prop.MaxLength), "PurchaseOrderByCustomer")
		}
		p.header["PurchaseOrderByCustomer"] = ref
	}
	if ref == "" {
		return nil, sdk.Permanent("MISSING_FIELD", "a sales order needs a reference: PurchaseOrderByCustomer or the record key", "PurchaseOrderByCustomer")
	}
	p.ref = ref
	if vf := w.cfg.VersionField; vf != "" {
		prop := w.order.props[vf]
		if prop == nil {
			return nil, sdk.Permanent("INVALID_CONFIG", fmt.Sprintf("version_field: %s has no property %s (add the custom field, or leave version_field empty)", w.order.name, vf), "")
		}
		val, err := wireValue(prop, json.Number(strconv.FormatInt(rec.Version, 10)), vf)
		if err != nil {
			return nil, err
		}
		p.version = val
		delete(p.header, vf)
	}
	if rec.Op != sdk.OpDelete {
		if s, _ := p.header["SoldToParty"].(string); s == "" {
			return nil, sdk.Permanent("MISSING_FIELD", "a sales order needs a sold-to party", "SoldToParty")
		}
	}
	return p, nil
}

// planItems converts to_Item, numbering items without SalesOrderItem 10,
// 20, … by position and sending units in the configured code system.
func (w *writer) planItems(p *plan, tt *etype, list []map[string]any) error {
	seen := map[string]bool{}
	for i, m := range list {
		at := fmt.Sprintf("to_Item[%d].", i)
		vals, renames, err := w.wire(tt, m, at)
		if err != nil {
			return err
		}
		if u, ok := vals["RequestedQuantityUnit"]; ok {
			field := "RequestedQuantitySAPUnit"
			if w.cfg.UnitCodes == "iso" {
				field = "RequestedQuantityISOUnit"
			}
			if _, set := vals[field]; !set && tt.props[field] != nil {
				delete(vals, "RequestedQuantityUnit")
				vals[field] = u
				renames[field] = "RequestedQuantityUnit"
			}
		}
		no, _ := vals["SalesOrderItem"].(string)
		if no == "" {
			no = strconv.Itoa((i + 1) * 10)
			vals["SalesOrderItem"] = no
		}
		no = trimZeros(no)
		if seen[no] {
			return sdk.Permanent("DUPLICATE_ITEM", fmt.Sprintf("item number %s is used twice", no), at+"SalesOrderItem")
		}
		seen[no] = true
		p.items = append(p.items, planItem{no: no, index: i, vals: vals, renames: renames})
	}
	return nil
}

// wire converts one payload object of type t; at prefixes field paths.
func (w *writer) wire(t *etype, m map[string]any, at string) (map[string]any, map[string]string, error) {
	vals := map[string]any{}
	for k, v := range m {
		if k == "__metadata" {
			continue
		}
		prop := t.props[k]
		if prop == nil {
			return nil, nil, sdk.Permanent("UNKNOWN_FIELD", fmt.Sprintf("%s has no property %s", t.name, k), at+k)
		}
		val, err := wireValue(prop, v, at+k)
		if err != nil {
			return nil, nil, err
		}
		vals[k] = val
	}
	return vals, map[string]string{}, nil
}

// navItems reads an array of objects, or {"results": [...]}.
func navItems(v any) ([]map[string]any, bool) {
	if m, ok := v.(map[string]any); ok {
		v = m["results"]
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]map[string]any, 0, len(arr))
	for _, e := range arr {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, false
		}
		out = append(out, m)
	}
	return out, true
}

var (
	decimalRE = regexp.MustCompile(`^[+-]?(\d+\.?\d*|\.\d+)$`)
	jsonDate  = regexp.MustCompile(`^/Date\((-?\d+)([+-]\d{4})?\)/$`)
)

func parseJSONDate(s string) (time.Time, bool) {
	m := jsonDate.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	ms, err := strconv.ParseInt(m[1], 10, 64)
	return time.UnixMilli(ms).UTC(), err == nil
}

// parseTime reads /Date(ms)/, RFC 3339, or a date.
func parseTime(s string) (time.Time, bool) {
	if t, ok := parseJSONDate(s); ok {
		return t, true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// wireValue converts a payload value to the OData V2 JSON form of p:
// decimals as strings (exactly as written), dates as /Date(ms)/, numbers
// given for strings as their text. field names the value in errors.
func wireValue(p *eprop, v any, field string) (any, error) {
	bad := func(code, format string, args ...any) error {
		return sdk.Permanent(code, fmt.Sprintf(format, args...), field)
	}
	if v == nil {
		return nil, nil
	}
	text := ""
	switch x := v.(type) {
	case string:
		text = x
	case json.Number:
		text = x.String()
	case bool:
		if p.Type == "Edm.Boolean" {
			return x, nil
		}
		return nil, bad("INVALID_VALUE", "%s is a %s, not a boolean", p.Name, p.Type)
	default:
		return nil, bad("INVALID_VALUE", "%s is a %s, not an object or array", p.Name, p.Type)
	}
	switch p.Type {
	case "Edm.String":
		if p.MaxLength > 0 && utf8.RuneCountInString(text) > p.MaxLength {
			return nil, bad("VALUE_TOO_LONG", "%s is longer than %d characters", p.Name, p.MaxLength)
		}
		return text, nil
	case "Edm.Decimal":
		text = strings.TrimSpace(text)
		if !decimalRE.MatchString(text) {
			return nil, bad("INVALID_DECIMAL", "%s: %q is not a decimal number", p.Name, text)
		}
		digits := strings.TrimLeft(text, "+-")
		whole, frac, _ := strings.Cut(digits, ".")
		whole, frac = strings.TrimLeft(whole, "0"), strings.TrimRight(frac, "0")
		if p.Precision > 0 && (len(frac) > p.Scale || len(whole) > p.Precision-p.Scale) {
			return nil, bad("INVALID_DECIMAL", "%s: %s does not fit %d digits with %d decimals", p.Name, text, p.Precision, p.Scale)
		}
		return strings.TrimPrefix(text, "+"), nil
	case "Edm.DateTime", "Edm.DateTimeOffset":
		t, ok := parseTime(text)
		if !ok {
			if n, err := strconv.ParseInt(text, 10, 64); err == nil {
				t, ok = time.UnixMilli(n).UTC(), true
			}
		}
		if !ok {
			return nil, bad("INVALID_DATE", "%s: %q is not a date (RFC 3339, YYYY-MM-DD or /Date(ms)/)", p.Name, text)
		}
		if p.Type == "Edm.DateTimeOffset" {
			return fmt.Sprintf("/Date(%d+0000)/", t.UnixMilli()), nil
		}
		return fmt.Sprintf("/Date(%d)/", t.UnixMilli()), nil
	case "Edm.Boolean":
		b, err := strconv.ParseBool(text)
		if err != nil {
			return nil, bad("INVALID_VALUE", "%s: %q is not a boolean", p.Name, text)
		}
		return b, nil
	case "Edm.Int16", "Edm.Int32", "Edm.Byte", "Edm.SByte":
		if _, err := strconv.ParseInt(text, 10, 32); err != nil {
			return nil, bad("INVALID_VALUE", "%s: %q is not an integer", p.Name, text)
		}
		return json.Number(text), nil
	case "Edm.Int64":
		if _, err := strconv.ParseInt(text, 10, 64); err != nil {
			return nil, bad("INVALID_VALUE", "%s: %q is not an integer", p.Name, text)
		}
		return text, nil
	}
	return text, nil
}

// mapField turns an error's target (as the system sent it) into the
// payload's field path. item is the index of the plan item the request
// was about, -1 for the order.
func (w *writer) mapField(err error, p *plan, item int) error {
	var se *sdk.Error
	if err == nil || !errors.As(err, &se) || se.Status != sdk.StatusPermanent {
		return err
	}
	out := *se
	out.Field = fieldPath(se.Field, p, item)
	return &out
}

// fieldPath maps a target such as
// "to_Item(SalesOrder=”,SalesOrderItem='20')/Material" or
// "/A_SalesOrderItem(SalesOrder='1',SalesOrderItem='20')/Material" to
// "to_Item[1].Material".
func fieldPath(target string, p *plan, item int) string {
	segs := strings.Split(strings.TrimPrefix(target, "/"), "/")
	prefix := ""
	var it *planItem
	if item >= 0 && item < len(p.items) {
		it = &p.items[item]
		prefix = fmt.Sprintf("to_Item[%d].", it.index)
	}
	prop := segs[len(segs)-1]
	for _, seg := range segs {
		name, pred, ok := strings.Cut(seg, "(")
		if !ok {
			continue
		}
		switch name {
		case "to_Item", "A_SalesOrderItem":
			no := trimZeros(itemNumber(pred))
			for i := range p.items {
				if p.items[i].no == no {
					it = &p.items[i]
					prefix = fmt.Sprintf("to_Item[%d].", it.index)
				}
			}
		case "A_SalesOrder":
		default:
			if n, err := strconv.Atoi(strings.TrimSuffix(pred, ")")); err == nil {
				prefix = fmt.Sprintf("%s[%d].", name, n)
			}
		}
		if seg == prop {
			prop = ""
		}
	}
	if it != nil && it.renames[prop] != "" {
		prop = it.renames[prop]
	}
	return strings.TrimSuffix(prefix+prop, ".")
}

// itemNumber reads the item number from a key predicate's content.
func itemNumber(pred string) string {
	pred = strings.TrimSuffix(pred, ")")
	for _, part := range strings.Split(pred, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			v = k
		} else if strings.TrimSpace(k) != "SalesOrderItem" {
			continue
		}
		return strings.Trim(strings.TrimSpace(v), "'")
	}
	return ""
}
