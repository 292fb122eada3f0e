package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weirhq/weir/sdk"
)

// sourceSettings are a pipeline source block's attributes.
type sourceSettings struct {
	KeyField string   `json:"key_field"`
	Fields   []string `json:"fields"`
	Filter   string   `json:"filter"`
	Since    string   `json:"since"`
	Items    bool     `json:"items"`
}

// defaultFields are in every record the source reads.
var defaultFields = []string{
	"SalesOrder", "PurchaseOrderByCustomer", "SoldToParty", "SalesOrderType", "SalesOrganization",
	"OverallSDProcessStatus", "OverallTotalDeliveryStatus", "OverallDeliveryStatus", "OverallSDDocumentRejectionSts",
	"TotalBlockStatus", "TotalCreditCheckStatus", "TotalNetAmount", "TransactionCurrency",
	"RequestedDeliveryDate", "CreationDate", "LastChangeDateTime",
}

// readCursor is where Read resumes: every order whose LastChangeDateTime,
// in whole milliseconds, is before Millis, and those in Millis up to
// SalesOrder, were read. Whole milliseconds because the JSON format shows
// no more, while the system keeps 100 ns.
type readCursor struct {
	Millis     int64  `json:"ms"`
	SalesOrder string `json:"so,omitempty"`
}

// Read returns sales orders changed after the cursor, in the order of
// their change time (in milliseconds) and number: status changes (and
// every other change) for the ERP → CRM direction. Each record is keyed
// by key_field, versioned by LastChangeDateTime, and holds the default
// fields, fields and (with items) to_Item, decimals as exact JSON numbers
// and dates as RFC 3339 text.
func (c *connector) Read(ctx context.Context, req sdk.ReadRequest) (sdk.ReadResult, error) {
	_, od, err := c.state()
	if err != nil {
		return sdk.ReadResult{}, err
	}
	var st sourceSettings
	if err := sdk.DecodeStrict(req.Source, &st); err != nil {
		return sdk.ReadResult{}, sdk.Permanent("INVALID_SOURCE", err.Error(), "")
	}
	if st.KeyField == "" {
		st.KeyField = "SalesOrder"
	}
	if st.KeyField != "SalesOrder" && st.KeyField != "PurchaseOrderByCustomer" {
		return sdk.ReadResult{}, sdk.Permanent("INVALID_SOURCE", "key_field must be SalesOrder or PurchaseOrderByCustomer", "key_field")
	}
	var cur readCursor
	if len(req.Cursor) > 0 {
		if err := json.Unmarshal(req.Cursor, &cur); err != nil {
			return sdk.ReadResult{}, sdk.Permanent("INVALID_CURSOR", "the cursor is not this connector's", "")
		}
	} else if st.Since != "" {
		t, err := time.Parse(time.RFC3339Nano, st.Since)
		if err != nil {
			return sdk.ReadResult{}, sdk.Permanent("INVALID_SOURCE", "since is not an RFC 3339 time", "since")
		}
		cur.Millis = t.UnixMilli()
	}
	sch, err := od.schemaOf(ctx, svcSalesOrder)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	ot := sch.sets["A_SalesOrder"]
	var fields []string
	for _, f := range append(slices.Clone(defaultFields), st.Fields...) {
		if ot.props[f] == nil {
			if slices.Contains(st.Fields, f) {
				return sdk.ReadResult{}, sdk.Permanent("INVALID_SOURCE", "A_SalesOrder has no field "+f, "fields")
			}
			continue
		}
		if !slices.Contains(fields, f) {
			fields = append(fields, f)
		}
	}
	n := req.MaxRecords
	if n <= 0 || n > pageSize {
		n = min(max(n, 100), pageSize)
	}
	r := &reader{od: od, st: st, fields: fields}

	var out []map[string]any
	if cur.SalesOrder != "" {
		rows, next, err := r.query(ctx, r.bucket(cur.Millis)+" and SalesOrder gt "+quote(cur.SalesOrder), "SalesOrder", n)
		if err != nil {
			return sdk.ReadResult{}, err
		}
		out = rows
		if next != "" {
			n = len(out) // a server page: the rest of the millisecond next time
		}
	}
	more := len(out) == n
	if !more {
		from := cur.Millis
		if cur.SalesOrder != "" {
			from++
		}
		m := n - len(out)
		rows, next, err := r.query(ctx, "LastChangeDateTime ge "+literal(from), "LastChangeDateTime,SalesOrder", m)
		if err != nil {
			return sdk.ReadResult{}, err
		}
		// A full page, or one cut short by server paging (__next), may end
		// in the middle of a millisecond.
		if len(rows) > 0 && (len(rows) == m || next != "") {
			more = true
			last := millis(rows[len(rows)-1])
			if millis(rows[0]) == last {
				// One millisecond fills the page: read it by number.
				if rows, _, err = r.query(ctx, r.bucket(last), "SalesOrder", len(rows)); err != nil {
					return sdk.ReadResult{}, err
				}
			} else {
				// The last millisecond may be cut short: leave it for the
				// next read.
				rows = slices.DeleteFunc(rows, func(e map[string]any) bool { return millis(e) == last })
			}
		}
		slices.SortStableFunc(rows, func(a, b map[string]any) int {
			return cmp.Or(cmp.Compare(millis(a), millis(b)), compareNumbers(fmt.Sprint(a["SalesOrder"]), fmt.Sprint(b["SalesOrder"])))
		})
		out = append(out, rows...)
	}
	res := sdk.ReadResult{More: more, Cursor: req.Cursor}
	for _, e := range out {
		cur = readCursor{Millis: millis(e), SalesOrder: fmt.Sprint(e["SalesOrder"])}
		res.Records = append(res.Records, r.record(sch, ot, e))
	}
	if len(out) > 0 {
		res.Cursor, _ = json.Marshal(cur)
	} else if res.Cursor == nil {
		res.Cursor, _ = json.Marshal(cur)
	}
	return res, nil
}

type reader struct {
	od     *odata
	st     sourceSettings
	fields []string
}

// literal renders a time in milliseconds as a datetimeoffset literal.
func literal(ms int64) string {
	return "datetimeoffset'" + time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z") + "'"
}

// bucket selects the orders changed within one millisecond.
func (r *reader) bucket(ms int64) string {
	return "LastChangeDateTime ge " + literal(ms) + " and LastChangeDateTime lt " + literal(ms+1)
}

// query reads one page; next is the server's __next link, if any.
func (r *reader) query(ctx context.Context, filter, orderBy string, top int) (rows []map[string]any, next string, err error) {
	if r.st.KeyField == "PurchaseOrderByCustomer" {
		filter += " and PurchaseOrderByCustomer ne ''"
	}
	if r.st.Filter != "" {
		filter += " and (" + r.st.Filter + ")"
	}
	sel := strings.Join(r.fields, ",")
	q := url.Values{"$filter": {filter}, "$orderby": {orderBy}, "$top": {strconv.Itoa(top)}}
	if r.st.Items {
		q.Set("$expand", "to_Item")
		sel += ",to_Item"
	}
	q.Set("$select", sel)
	resp, err := r.od.get(ctx, svcSalesOrder, "A_SalesOrder", q, sdk.PriorityBulk)
	if err != nil {
		return nil, "", err
	}
	return collectionOf(resp.Body)
}

func millis(e map[string]any) int64 {
	s, _ := e["LastChangeDateTime"].(string)
	t, _ := parseJSONDate(s)
	return t.UnixMilli()
}

// compareNumbers orders document numbers numerically when both are.
func compareNumbers(a, b string) int {
	if isDigits(a) && isDigits(b) {
		a, b = trimZeros(a), trimZeros(b)
		return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
	}
	return strings.Compare(a, b)
}

func (r *reader) record(sch *schema, t *etype, e map[string]any) sdk.Record {
	payload := plain(sch, t, e)
	key := fmt.Sprint(e[r.st.KeyField])
	ts, _ := parseJSONDate(fmt.Sprint(e["LastChangeDateTime"]))
	b, _ := marshal(payload)
	return sdk.Record{Key: key, Version: sdk.VersionFromTime(ts), Object: objSalesOrder, Payload: b,
		Metadata: map[string]string{"sap.sales_order": fmt.Sprint(e["SalesOrder"])}}
}

// plain turns an entity into a record payload: decimals as JSON numbers
// written exactly, dates as RFC 3339 (Edm.DateTime as a date), 64-bit
// integers as numbers, navigations inline, no __metadata or __deferred.
func plain(sch *schema, t *etype, e map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range e {
		if k == "__metadata" {
			continue
		}
		if target, ok := t.navs[k]; ok {
			m, isMap := v.(map[string]any)
			if isMap && m["__deferred"] != nil {
				continue
			}
			tt := sch.types[target]
			if tt == nil {
				continue
			}
			if isMap && m["results"] == nil {
				out[k] = plain(sch, tt, m)
				continue
			}
			var list []map[string]any
			for _, c := range results(v) {
				list = append(list, plain(sch, tt, c))
			}
			out[k] = list
			continue
		}
		p := t.props[k]
		s, isStr := v.(string)
		switch {
		case p == nil || !isStr:
			out[k] = v
		case p.Type == "Edm.Decimal" || p.Type == "Edm.Int64":
			if s == "" {
				out[k] = nil
			} else {
				out[k] = json.Number(s)
			}
		case p.Type == "Edm.DateTime":
			if tm, ok := parseJSONDate(s); ok {
				if tm.Equal(tm.Truncate(24 * time.Hour)) {
					out[k] = tm.Format("2006-01-02")
				} else {
					out[k] = tm.Format(time.RFC3339Nano)
				}
			} else {
				out[k] = v
			}
		case p.Type == "Edm.DateTimeOffset":
			if tm, ok := parseJSONDate(s); ok {
				out[k] = tm.Format(time.RFC3339Nano)
			} else {
				out[k] = v
			}
		default:
			out[k] = v
		}
	}
	return out
}
