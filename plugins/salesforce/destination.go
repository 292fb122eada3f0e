package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/weirhq/weir/sdk"
)

// Operations of the destination.
const (
	OpUpsert = "upsert" // by external ID: created or updated
	OpUpdate = "update" // by Id: updated only
)

// pending is a record on its way to Salesforce.
type pending struct {
	i      int                        // index in the batch
	rec    sdk.Record                 // the record
	match  string                     // its external ID (upsert) or Id (update)
	body   map[string]json.RawMessage // the fields to write
	id     string                     // the Salesforce Id, once known
	stored bool                       // the record exists
	done   bool                       // its result is set
}

// Write writes the records to req.Object, in calls of write_batch records
// (sObject Collections, at most 200), and returns one result per record in
// order.
//
//   - upsert (the default) matches records on the object's external ID
//     field: the payload's value of that field, else the record key. A
//     match creates (Created) or updates the record; two matches are a
//     permanent DUPLICATE_EXTERNAL_ID naming both record URLs.
//   - update matches on Id (the payload's Id, else the key) and never
//     creates.
//   - Records with Op delete are deleted; a record already gone is fine.
//
// With version_field set, the stored versions are read first and a record
// older than (or as old as) the stored one is acknowledged without
// writing: an older version never overwrites a newer one, and a repeated
// batch changes nothing. Errors come from Salesforce's error bodies: the
// errorCode is the result's Code, the first field its Field;
// UNABLE_TO_LOCK_ROW is retryable.
func (c *connector) Write(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
	cfg, a, err := c.state()
	if err != nil {
		return nil, err
	}
	results := make([]sdk.WriteResult, len(req.Records))
	if len(req.Records) == 0 {
		return results, nil
	}
	if !nameRE.MatchString(req.Object) {
		return nil, sdk.Permanent("INVALID_OBJECT", fmt.Sprintf("object %q is not an sObject name", req.Object), "")
	}
	op := req.Operation
	if op == "" {
		op = OpUpsert
	}
	if op != OpUpsert && op != OpUpdate {
		return nil, sdk.Permanent("INVALID_OPERATION", fmt.Sprintf("operation %q: want upsert or update", op), "")
	}
	match := "Id"
	if op == OpUpsert {
		match = cfg.extField(req.Object)
	}
	w := &writer{c: c, a: a, cfg: cfg, object: req.Object, op: op, match: match, results: results}
	for start := 0; start < len(req.Records); start += cfg.WriteBatch {
		end := min(start+cfg.WriteBatch, len(req.Records))
		if stop := w.chunk(ctx, req.Records[start:end], start); stop != nil {
			// The vendor refused for a reason every later call would meet
			// too (limits, auth, outage): give the rest the same result.
			for i := end; i < len(req.Records); i++ {
				results[i] = sdk.ResultFor(req.Records[i].Key, stop)
			}
			break
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return results, nil
}

// writer writes one Write's records.
type writer struct {
	c       *connector
	a       *api
	cfg     config
	object  string
	op      string
	match   string
	results []sdk.WriteResult
}

func (w *writer) set(p *pending, err error) {
	r := sdk.ResultFor(p.rec.Key, err)
	if err == nil {
		r.ID = p.id
	}
	w.results[p.i] = r
	p.done = true
}

// chunk writes up to one collection of records. It returns a non-nil
// error when a whole call failed for a reason that is not the records';
// the records of the chunk not written then get that error as result.
func (w *writer) chunk(ctx context.Context, recs []sdk.Record, offset int) error {
	var order []*pending
	stop := w.chunkOf(ctx, recs, offset, &order)
	if stop != nil {
		for _, p := range order {
			if !p.done {
				w.set(p, stop)
			}
		}
	}
	return stop
}

func (w *writer) chunkOf(ctx context.Context, recs []sdk.Record, offset int, all *[]*pending) error {
	var upserts, deletes, order []*pending
	defer func() { *all = order }()
	latest := map[string]*pending{}
	for j, rec := range recs {
		p := &pending{i: offset + j, rec: rec}
		if err := w.prepare(p); err != nil {
			w.set(p, err)
			continue
		}
		// Two versions of one record in a batch: only the newest is
		// written; the older one is acknowledged, as it was superseded.
		key := strings.ToLower(p.match)
		if prev := latest[key]; prev != nil {
			older := p
			if p.rec.Version >= prev.rec.Version {
				older, latest[key] = prev, p
			}
			w.set(older, nil)
		} else {
			latest[key] = p
		}
		order = append(order, p)
	}
	for _, p := range order {
		switch {
		case latest[strings.ToLower(p.match)] != p:
		case p.rec.Op == sdk.OpDelete:
			deletes = append(deletes, p)
		default:
			upserts = append(upserts, p)
		}
	}
	if len(deletes) > 0 || w.cfg.VersionField != "" && len(upserts) > 0 {
		both := append(append([]*pending(nil), upserts...), deletes...)
		if err := w.existing(ctx, both); err != nil {
			for _, p := range both {
				w.set(p, err)
			}
			return stopping(err)
		}
		upserts = w.skipStale(upserts)
		deletes = w.skipStale(deletes)
	}
	if len(upserts) > 0 {
		var err error
		if w.cfg.WriteBatch > 1 && w.a.vnum >= 46 || w.op == OpUpdate && w.cfg.WriteBatch > 1 && w.a.vnum >= 42 {
			err = w.collection(ctx, upserts)
		} else {
			for _, p := range upserts {
				if err = w.single(ctx, p); stopping(err) != nil {
					break
				}
			}
		}
		if stop := stopping(err); stop != nil {
			return stop
		}
	}
	if len(deletes) > 0 {
		if stop := stopping(w.remove(ctx, deletes)); stop != nil {
			return stop
		}
	}
	return nil
}

// stopping returns err when it failed a whole call for a reason later
// calls would meet too; nil for record errors.
func stopping(err error) error {
	e := sdk.Classify(err)
	if e == nil || e.Status == sdk.StatusPermanent {
		return nil
	}
	return err
}

// prepare checks a record and builds its body.
func (w *writer) prepare(p *pending) error {
	if p.rec.Key == "" {
		return sdk.Permanent("INVALID_KEY", "the record has no key", "key")
	}
	if p.rec.Op == sdk.OpDelete {
		p.match = p.rec.Key
		return nil
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(p.rec.Payload, &body); err != nil || body == nil {
		return sdk.Permanent("INVALID_JSON", "the record is not a JSON object", "record")
	}
	delete(body, "attributes")
	p.match = p.rec.Key
	for k, v := range body {
		if strings.EqualFold(k, w.match) {
			var s any
			if json.Unmarshal(v, &s) == nil {
				if t := fieldText(jsonNumber(v, s)); t != "" {
					p.match = t
				}
			}
			delete(body, k)
		}
	}
	if w.op == OpUpsert && w.match == "Id" || w.op == OpUpdate {
		p.id = p.match
	}
	if w.cfg.VersionField != "" && p.rec.Version != 0 {
		body[w.cfg.VersionField] = json.RawMessage(fmt.Sprint(p.rec.Version))
	}
	p.body = body
	return nil
}

// jsonNumber keeps a number's text (json.Unmarshal into any gives float64).
func jsonNumber(raw json.RawMessage, v any) any {
	if _, ok := v.(float64); ok {
		return json.Number(strings.TrimSpace(string(raw)))
	}
	return v
}

// existing reads the Id (and stored version) of each record by its match
// value.
func (w *writer) existing(ctx context.Context, ps []*pending) error {
	fields := []string{"Id"}
	if w.match != "Id" {
		fields = append(fields, w.match)
	}
	if w.cfg.VersionField != "" {
		fields = append(fields, w.cfg.VersionField)
	}
	var values []string
	for _, p := range ps {
		values = append(values, quote(p.match))
	}
	soql := fmt.Sprintf("SELECT %s FROM %s WHERE %s IN (%s)", strings.Join(fields, ", "), w.object, w.match, strings.Join(values, ", "))
	raws, err := w.c.query(ctx, w.a, soql, false, 0, 0, sdk.PriorityBulk)
	if err != nil {
		return err
	}
	byMatch := map[string][]map[string]any{}
	for _, raw := range raws {
		m, err := decodeObject(raw)
		if err != nil {
			return sdk.Retryable(err, 0)
		}
		k := strings.ToLower(fieldText(lookupFold(m, w.match)))
		byMatch[k] = append(byMatch[k], m)
	}
	for _, p := range ps {
		found := byMatch[strings.ToLower(p.match)]
		if len(found) == 1 {
			p.stored = true
			p.id, _ = found[0]["Id"].(string)
			if w.cfg.VersionField != "" {
				p.body = withStoredVersion(p.body, found[0][w.cfg.VersionField])
			}
		}
	}
	return nil
}

// storedVersionKey carries the stored version from existing to skipStale.
const storedVersionKey = "\x00stored_version"

func withStoredVersion(body map[string]json.RawMessage, v any) map[string]json.RawMessage {
	if body == nil {
		body = map[string]json.RawMessage{}
	}
	if n, ok := v.(json.Number); ok {
		body[storedVersionKey] = json.RawMessage(n.String())
	}
	return body
}

// skipStale acknowledges the records whose stored version is as new as
// theirs, and returns the others.
func (w *writer) skipStale(ps []*pending) []*pending {
	var out []*pending
	for _, p := range ps {
		raw, ok := p.body[storedVersionKey]
		delete(p.body, storedVersionKey)
		if p.rec.Op == sdk.OpDelete && !p.stored {
			w.set(p, nil) // nothing to delete
			continue
		}
		if ok && w.cfg.VersionField != "" {
			var stored json.Number
			if json.Unmarshal(raw, &stored) == nil {
				if v, err := stored.Float64(); err == nil && v >= float64(p.rec.Version) {
					w.set(p, nil)
					continue
				}
			}
		}
		out = append(out, p)
	}
	return out
}

// saveResult is one result of an sObject Collections call.
type saveResult struct {
	ID      string    `json:"id"`
	Success bool      `json:"success"`
	Created *bool     `json:"created"`
	Errors  []sfError `json:"errors"`
}

// collection upserts (or updates) records in one sObject Collections call.
func (w *writer) collection(ctx context.Context, ps []*pending) error {
	type envelope map[string]json.RawMessage
	records := make([]envelope, len(ps))
	attrs, _ := json.Marshal(map[string]string{"type": w.object})
	for i, p := range ps {
		e := envelope{}
		for k, v := range p.body {
			e[k] = v
		}
		e["attributes"] = attrs
		m, _ := json.Marshal(p.match)
		if w.op == OpUpdate {
			e["Id"] = m
		} else {
			e[w.match] = m
		}
		records[i] = e
	}
	body, err := json.Marshal(map[string]any{"allOrNone": false, "records": records})
	if err != nil {
		return sdk.Permanent("INVALID_JSON", err.Error(), "record")
	}
	method, path := http.MethodPatch, w.a.dataPath("composite/sobjects/"+w.object+"/"+w.match)
	if w.op == OpUpdate {
		path = w.a.dataPath("composite/sobjects")
	}
	resp, err := w.a.send(ctx, method, path, body, sdk.PriorityBulk)
	if err != nil {
		for _, p := range ps {
			w.set(p, err)
		}
		return err
	}
	var res []saveResult
	if err := json.Unmarshal(resp.Body, &res); err != nil || len(res) != len(ps) {
		err := sdk.Retryable(fmt.Errorf("sObject Collections answered %d results for %d records", len(res), len(ps)), 0)
		for _, p := range ps {
			w.set(p, err)
		}
		return err
	}
	for i, p := range ps {
		r := res[i]
		if r.Success {
			p.id = r.ID
			w.set(p, nil)
			w.results[p.i].Created = r.Created != nil && *r.Created
			continue
		}
		if len(r.Errors) == 0 {
			w.set(p, sdk.Retryable(fmt.Errorf("record failed without an error"), 0))
			continue
		}
		w.set(p, w.recordError(r.Errors[0]))
	}
	return nil
}

var idListRE = regexp.MustCompile(`\[([^\]]*)\]`)

// recordError classifies a record's error; a DUPLICATE_EXTERNAL_ID names
// the URLs of the records the external ID matches.
func (w *writer) recordError(e sfError) error {
	if e.code() == "DUPLICATE_EXTERNAL_ID" {
		var urls []string
		if m := idListRE.FindStringSubmatch(e.Message); m != nil {
			for _, id := range strings.Split(m[1], ",") {
				if id = strings.TrimSpace(id); id != "" {
					urls = append(urls, w.a.dataPath("sobjects/"+w.object+"/"+id))
				}
			}
		}
		msg := oneLine(e.Message)
		if len(urls) > 0 {
			msg = fmt.Sprintf("%s matches %d records: %s", w.match, len(urls), strings.Join(urls, ", "))
		}
		return sdk.Permanent("DUPLICATE_EXTERNAL_ID", msg, w.match)
	}
	return recordError(e)
}

// single upserts (or updates) one record with its own call:
// PATCH /sobjects/{type}/{field}/{value}.
func (w *writer) single(ctx context.Context, p *pending) error {
	body, err := json.Marshal(p.body)
	if err != nil {
		w.set(p, sdk.Permanent("INVALID_JSON", err.Error(), "record"))
		return nil
	}
	path := w.a.dataPath("sobjects/" + w.object + "/" + url.PathEscape(w.match) + "/" + url.PathEscape(p.match))
	if w.op == OpUpdate {
		path = w.a.dataPath("sobjects/" + w.object + "/" + url.PathEscape(p.match))
	}
	resp, err := w.a.send(ctx, http.MethodPatch, path, body, sdk.PriorityBulk)
	if err != nil {
		if e := sdk.Classify(err); e.Code == "MULTIPLE_CHOICES" {
			err = sdk.Permanent("DUPLICATE_EXTERNAL_ID", fmt.Sprintf("%s %q %s", w.match, p.match, strings.TrimPrefix(e.Message, "the external ID ")), w.match)
		}
		w.set(p, err)
		return err
	}
	var r saveResult
	if len(resp.Body) > 0 {
		_ = json.Unmarshal(resp.Body, &r)
	}
	if r.ID != "" {
		p.id = r.ID
	}
	w.set(p, nil)
	w.results[p.i].Created = resp.StatusCode == http.StatusCreated
	return nil
}

// remove deletes records by Id (found by existing).
func (w *writer) remove(ctx context.Context, ps []*pending) error {
	var ids []string
	byID := map[string]*pending{}
	for _, p := range ps {
		ids = append(ids, p.id)
		byID[p.id] = p
	}
	if w.a.vnum < 42 {
		for _, p := range ps {
			_, err := w.a.send(ctx, http.MethodDelete, w.a.dataPath("sobjects/"+w.object+"/"+p.id), nil, sdk.PriorityBulk)
			if e := sdk.Classify(err); e != nil && (e.Code == "NOT_FOUND" || e.Code == "ENTITY_IS_DELETED") {
				err = nil
			}
			w.set(p, err)
			if stopping(err) != nil {
				return err
			}
		}
		return nil
	}
	path := w.a.dataPath("composite/sobjects") + "?allOrNone=false&ids=" + url.QueryEscape(strings.Join(ids, ","))
	resp, err := w.a.send(ctx, http.MethodDelete, path, nil, sdk.PriorityBulk)
	if err != nil {
		for _, p := range ps {
			w.set(p, err)
		}
		return err
	}
	var res []saveResult
	if err := json.Unmarshal(resp.Body, &res); err != nil || len(res) != len(ps) {
		err := sdk.Retryable(fmt.Errorf("delete answered %d results for %d records", len(res), len(ps)), 0)
		for _, p := range ps {
			w.set(p, err)
		}
		return err
	}
	for i, p := range ps {
		r := res[i]
		switch {
		case r.Success:
			w.set(p, nil)
		case len(r.Errors) > 0 && (r.Errors[0].code() == "ENTITY_IS_DELETED" || r.Errors[0].code() == "INVALID_CROSS_REFERENCE_KEY"):
			w.set(p, nil)
		case len(r.Errors) > 0:
			w.set(p, w.recordError(r.Errors[0]))
		default:
			w.set(p, sdk.Retryable(fmt.Errorf("delete failed without an error"), 0))
		}
	}
	return nil
}
