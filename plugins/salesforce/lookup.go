package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/weirhq/weir/sdk"
)

// lookupQuery is what a lookup asks, one of:
//
//	{"ids": ["801...", ...]}                        records by Id
//	{"field": "ExternalId__c", "values": ["A-1"]}  records by a field's value
//	{"soql": "SELECT Id, Name FROM Account ..."}   any query
//
// with optional "fields" (default: every field, with the related records
// of an Order or Opportunity).
type lookupQuery struct {
	IDs    []string `json:"ids"`
	Field  string   `json:"field"`
	Values []any    `json:"values"`
	Fields []string `json:"fields"`
	SOQL   string   `json:"soql"`
}

// maxLookupValues bounds the ids or values of one lookup.
const maxLookupValues = 200

// Lookup answers {"records": {"<id or value>": record or null}} for ids
// and values (a value matching several records gives the first and is
// listed in "ambiguous"), and {"records": [...]} for soql. Records look
// like the source's.
func (c *connector) Lookup(ctx context.Context, req sdk.LookupRequest) (json.RawMessage, error) {
	_, a, err := c.state()
	if err != nil {
		return nil, err
	}
	object := req.Object
	if !nameRE.MatchString(object) {
		return nil, sdk.Permanent("INVALID_OBJECT", fmt.Sprintf("object %q is not an sObject name", object), "")
	}
	var q lookupQuery
	if err := sdk.DecodeStrict(req.Query, &q); err != nil {
		return nil, sdk.Permanent("INVALID_QUERY", err.Error(), "query")
	}
	s := settings{Object: object, KeyField: "Id", Related: true}
	if q.SOQL != "" {
		raws, err := c.query(ctx, a, q.SOQL, false, 0, 2000, req.Priority)
		if err != nil {
			return nil, err
		}
		out := []json.RawMessage{}
		for _, raw := range raws {
			m, err := decodeObject(raw)
			if err != nil {
				return nil, sdk.Retryable(err, 0)
			}
			stripAttributes(m)
			for k, v := range m {
				if sub, ok := v.(map[string]any); ok && sub["records"] != nil && sub["done"] != nil {
					list, err := c.childRecords(ctx, a, sub)
					if err != nil {
						return nil, err
					}
					stripAttributes(list)
					m[k] = list
				}
			}
			b, err := encode(m)
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		}
		return encode(map[string]any{"records": out})
	}
	field := q.Field
	var values []string
	switch {
	case len(q.IDs) > 0:
		field, values = "Id", q.IDs
	case field != "" && len(q.Values) > 0:
		if !nameRE.MatchString(field) {
			return nil, sdk.Permanent("INVALID_QUERY", fmt.Sprintf("field %q is not a field name", field), "query.field")
		}
		for _, v := range q.Values {
			t := fieldText(v)
			if f, ok := v.(float64); ok {
				t = fmt.Sprint(f)
			}
			values = append(values, t)
		}
	default:
		return nil, sdk.Permanent("INVALID_QUERY", `a lookup needs "ids", "field" and "values", or "soql"`, "query")
	}
	if len(values) > maxLookupValues {
		return nil, sdk.Permanent("INVALID_QUERY", fmt.Sprintf("%d values: at most %d per lookup", len(values), maxLookupValues), "query")
	}
	sel, err := c.selectFor(ctx, a, object, q.Fields, true, []string{"Id", field}, req.Priority)
	if err != nil {
		return nil, err
	}
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = quote(v)
	}
	soql := fmt.Sprintf("SELECT %s FROM %s WHERE %s IN (%s) ORDER BY Id", sel, object, field, strings.Join(quoted, ", "))
	raws, err := c.query(ctx, a, soql, false, 0, 0, req.Priority)
	if err != nil {
		return nil, err
	}
	s.KeyField = field
	records := map[string]json.RawMessage{}
	var ambiguous []string
	for _, raw := range raws {
		rec, _, _, err := c.toRecord(ctx, a, s, sel, raw)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if d, err := decodeObject(rec.Payload); err == nil {
			m = d
		}
		k := fieldText(lookupFold(m, field))
		for _, v := range values {
			if strings.EqualFold(v, k) {
				k = v
			}
		}
		if _, dup := records[k]; dup {
			ambiguous = append(ambiguous, k)
			continue
		}
		records[k] = rec.Payload
	}
	out := map[string]any{}
	recs := map[string]any{}
	for _, v := range values {
		if r, ok := records[v]; ok {
			recs[v] = r
		} else {
			recs[v] = nil
		}
	}
	out["records"] = recs
	if len(ambiguous) > 0 {
		out["ambiguous"] = ambiguous
	}
	return encode(out)
}
