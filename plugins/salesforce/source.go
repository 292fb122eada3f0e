package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/weirhq/weir/sdk"
)

// settings are a pipeline's source (and webhook) settings.
type settings struct {
	Object         string   `json:"object"`
	Where          string   `json:"where"`
	Fields         []string `json:"fields"`
	Related        bool     `json:"related"`
	KeyField       string   `json:"key_field"`
	IncludeDeleted bool     `json:"include_deleted"`
	QueryBatchSize int      `json:"query_batch_size"`
	Lag            string   `json:"lag"`
	Since          string   `json:"since"`
	OutboundSecret string   `json:"outbound_secret"`
	SecretParam    string   `json:"secret_param"`
	Fetch          bool     `json:"fetch"`

	lag   time.Duration
	since time.Time
}

func parseSettings(raw json.RawMessage) (settings, error) {
	s := settings{Object: "Order", Related: true, KeyField: "Id", IncludeDeleted: true, QueryBatchSize: 2000, Lag: "0s", SecretParam: "secret", Fetch: true}
	if err := sdk.DecodeStrict(raw, &s); err != nil {
		return s, sdk.Permanent("INVALID_SETTINGS", err.Error(), "")
	}
	bad := func(field, format string, args ...any) (settings, error) {
		return s, sdk.Permanent("INVALID_SETTINGS", fmt.Sprintf(format, args...), field)
	}
	if !nameRE.MatchString(s.Object) {
		return bad("object", "object %q is not an sObject name", s.Object)
	}
	if !nameRE.MatchString(s.KeyField) {
		return bad("key_field", "key_field %q is not a field name", s.KeyField)
	}
	for _, f := range s.Fields {
		if !regexpField.MatchString(f) {
			return bad("fields", "field %q is not a field path", f)
		}
	}
	if s.QueryBatchSize < 200 || s.QueryBatchSize > 2000 {
		return bad("query_batch_size", "query_batch_size %d: want 200 to 2000", s.QueryBatchSize)
	}
	var err error
	if s.lag, err = time.ParseDuration(s.Lag); err != nil || s.lag < 0 {
		return bad("lag", "lag %q is not a duration such as 5s", s.Lag)
	}
	if s.Since != "" {
		if s.since, err = time.Parse(time.RFC3339Nano, s.Since); err != nil {
			return bad("since", "since %q is not an RFC 3339 time", s.Since)
		}
	}
	return s, nil
}

// cursor is where a source resumes: after the record with this
// SystemModstamp and Id. Records sharing a SystemModstamp are read in Id
// order, so a tie across batches is neither skipped nor read twice.
type cursor struct {
	Stamp string `json:"ts"` // SOQL datetime literal, UTC, milliseconds
	ID    string `json:"id"`
}

// soqlTime writes a datetime literal.
func soqlTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// sfTimeLayouts are the datetime forms Salesforce writes (REST, SOAP).
var sfTimeLayouts = []string{"2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05Z0700"}

func parseSFTime(s string) (time.Time, bool) {
	for _, l := range sfTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// queryPage is one batch of a query.
type queryPage struct {
	TotalSize      int               `json:"totalSize"`
	Done           bool              `json:"done"`
	NextRecordsURL string            `json:"nextRecordsUrl"`
	Records        []json.RawMessage `json:"records"`
}

// query runs a SOQL query (queryAll when all) and returns up to max
// records (0: all), following nextRecordsUrl.
func (c *connector) query(ctx context.Context, a *api, soql string, all bool, batch, max int, p sdk.Priority) ([]json.RawMessage, error) {
	resource := "query"
	if all {
		resource = "queryAll"
	}
	path := a.dataPath(resource) + "?q=" + url.QueryEscape(soql)
	var header http.Header
	if batch > 0 && batch < 2000 {
		header = http.Header{"Sforce-Query-Options": {"batchSize=" + strconv.Itoa(batch)}}
	}
	var out []json.RawMessage
	for {
		resp, err := a.get(ctx, path, p, header)
		if err != nil {
			return nil, err
		}
		var page queryPage
		if err := json.Unmarshal(resp.Body, &page); err != nil {
			return nil, sdk.Retryable(fmt.Errorf("query answer: %w", err), 0)
		}
		out = append(out, page.Records...)
		if page.Done || page.NextRecordsURL == "" || max > 0 && len(out) >= max {
			break
		}
		if !strings.HasPrefix(page.NextRecordsURL, "/services/data/") {
			return nil, sdk.Retryable(fmt.Errorf("unexpected nextRecordsUrl %q", page.NextRecordsURL), 0)
		}
		path = page.NextRecordsURL
	}
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out, nil
}

// Read reads the records of the source object changed after the cursor,
// in (SystemModstamp, Id) order: at most MaxRecords, with LIMIT, following
// nextRecordsUrl. Deleted records (queryAll, IsDeleted) are delete
// operations. Each record's key is key_field (Id by default) and its
// version the SystemModstamp in microseconds. More is true when the batch
// is full.
func (c *connector) Read(ctx context.Context, req sdk.ReadRequest) (sdk.ReadResult, error) {
	_, a, err := c.state()
	if err != nil {
		return sdk.ReadResult{}, err
	}
	s, err := parseSettings(req.Source)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	var cur cursor
	if len(req.Cursor) > 0 {
		if err := json.Unmarshal(req.Cursor, &cur); err != nil {
			return sdk.ReadResult{}, sdk.Permanent("INVALID_CURSOR", "the cursor is not this connector's: "+err.Error(), "")
		}
	}
	max := req.MaxRecords
	if max <= 0 {
		max = 200
	}
	sel, err := c.selectFor(ctx, a, s.Object, s.Fields, s.Related, []string{"Id", "SystemModstamp", "IsDeleted", s.KeyField}, sdk.PriorityBulk)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	var conds []string
	switch {
	case cur.Stamp != "":
		conds = append(conds, fmt.Sprintf("(SystemModstamp > %s OR (SystemModstamp = %s AND Id > %s))", cur.Stamp, cur.Stamp, quote(cur.ID)))
	case !s.since.IsZero():
		conds = append(conds, "SystemModstamp >= "+soqlTime(s.since))
	}
	if s.lag > 0 {
		conds = append(conds, "SystemModstamp <= "+soqlTime(time.Now().Add(-s.lag)))
	}
	if s.Where != "" {
		conds = append(conds, "("+s.Where+")")
	}
	soql := "SELECT " + sel.String() + " FROM " + s.Object
	if len(conds) > 0 {
		soql += " WHERE " + strings.Join(conds, " AND ")
	}
	soql += fmt.Sprintf(" ORDER BY SystemModstamp ASC, Id ASC LIMIT %d", max)
	raws, err := c.query(ctx, a, soql, s.IncludeDeleted, s.QueryBatchSize, max, sdk.PriorityBulk)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	res := sdk.ReadResult{Cursor: req.Cursor}
	for _, raw := range raws {
		rec, stamp, id, err := c.toRecord(ctx, a, s, sel, raw)
		if err != nil {
			return sdk.ReadResult{}, err
		}
		res.Records = append(res.Records, rec)
		if stamp != "" && id != "" {
			cur = cursor{Stamp: stamp, ID: id}
			res.Cursor, _ = json.Marshal(cur)
		}
	}
	res.More = len(raws) >= max
	return res, nil
}

// toRecord turns a query record into a Record: attributes dropped, child
// relationships as arrays of records (their further batches read), the
// key and version taken out. It also returns the record's cursor position.
// A record without a usable key or version becomes an error record, for
// the host to dead-letter.
func (c *connector) toRecord(ctx context.Context, a *api, s settings, sel selection, raw json.RawMessage) (sdk.Record, string, string, error) {
	m, err := decodeObject(raw)
	if err != nil {
		return sdk.Record{}, "", "", sdk.Retryable(fmt.Errorf("query record: %w", err), 0)
	}
	typ := s.Object
	if attrs, ok := m["attributes"].(map[string]any); ok {
		if t, ok := attrs["type"].(string); ok && t != "" {
			typ = t
		}
	}
	for _, child := range sel.children {
		sub, ok := m[child].(map[string]any)
		if !ok {
			if _, present := m[child]; present {
				m[child] = []any{}
			}
			continue
		}
		list, err := c.childRecords(ctx, a, sub)
		if err != nil {
			return sdk.Record{}, "", "", err
		}
		m[child] = list
	}
	stripAttributes(m)
	payload, err := encode(m)
	if err != nil {
		return sdk.Record{}, "", "", sdk.Retryable(err, 0)
	}
	id, _ := m["Id"].(string)
	rec := sdk.Record{Object: typ, Payload: payload}
	if del, _ := m["IsDeleted"].(bool); del {
		rec.Op = sdk.OpDelete
	}
	stampText, _ := m["SystemModstamp"].(string)
	stamp, okStamp := parseSFTime(stampText)
	key := fieldText(m[s.KeyField])
	if key == "" {
		key = fieldText(lookupFold(m, s.KeyField))
	}
	var pos string
	if okStamp {
		pos = soqlTime(stamp)
		rec.Version = sdk.VersionFromTime(stamp)
	}
	switch {
	case key == "":
		rec.Key = typ + ":" + id
		rec.Metadata = map[string]string{"weir.error": fmt.Sprintf("key field %q is empty", s.KeyField), "weir.error_field": s.KeyField}
	case !okStamp:
		rec.Key = key
		rec.Metadata = map[string]string{"weir.error": fmt.Sprintf("SystemModstamp %q is not a datetime", stampText), "weir.error_field": "SystemModstamp"}
	default:
		rec.Key = key
	}
	return rec, pos, id, nil
}

// childRecords returns a child relationship's records, reading its further
// batches when it has them.
func (c *connector) childRecords(ctx context.Context, a *api, sub map[string]any) ([]any, error) {
	list, _ := sub["records"].([]any)
	done, _ := sub["done"].(bool)
	next, _ := sub["nextRecordsUrl"].(string)
	for !done && next != "" {
		resp, err := a.get(ctx, next, sdk.PriorityBulk, nil)
		if err != nil {
			return nil, err
		}
		more, err := decodeObject(resp.Body)
		if err != nil {
			return nil, sdk.Retryable(err, 0)
		}
		recs, _ := more["records"].([]any)
		list = append(list, recs...)
		done, _ = more["done"].(bool)
		next, _ = more["nextRecordsUrl"].(string)
	}
	if list == nil {
		list = []any{}
	}
	return list, nil
}

// decodeObject decodes a JSON object keeping numbers exact.
func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	return m, nil
}

// encode writes v as JSON without HTML escaping.
func encode(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// stripAttributes removes the "attributes" members of a record and its
// related records.
func stripAttributes(v any) {
	switch x := v.(type) {
	case map[string]any:
		delete(x, "attributes")
		for _, e := range x {
			stripAttributes(e)
		}
	case []any:
		for _, e := range x {
			stripAttributes(e)
		}
	}
}

// fieldText is a key value's text: a string, or a number as written.
func fieldText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// lookupFold finds a member case-insensitively (SOQL field names are).
func lookupFold(m map[string]any, name string) any {
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}
