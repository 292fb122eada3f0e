package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weirhq/weir/sdk"
)

// job is one record of a batch on its way to NetSuite.
type job struct {
	key     string
	version int64
	del     bool
	extID   string
	body    map[string]any // the payload, numbers as json.Number
	replace []string       // sublists the body replaces
}

// stored is what a preflight found for an external id.
type stored struct {
	id      string
	version string // the version field's value, "" when none
}

// Write upserts (or deletes) each record by external ID: the payload's
// externalId, else the record key. A sublist in the payload ({"items":
// [...]}) replaces the stored one (?replace=), so a re-sent order never
// duplicates its lines. Results come in record order; the result's ID is
// the internal id from the Location header.
func (c *connector) Write(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
	results := make([]sdk.WriteResult, len(req.Records))
	obj := canonicalObject(req.Object)
	op := strings.ToLower(req.Operation)
	var refuse error
	switch {
	case obj == "":
		refuse = sdk.Permanent("INVALID_OBJECT", fmt.Sprintf("object %q is not writable: use salesOrder or customer", req.Object), "")
	case op != "" && op != "upsert" && op != "delete":
		refuse = sdk.Permanent("INVALID_OPERATION", fmt.Sprintf("operation %q is not supported: use upsert or delete", req.Operation), "")
	}
	jobs := make([]*job, len(req.Records))
	for i, r := range req.Records {
		if refuse != nil {
			results[i] = sdk.ResultFor(r.Key, refuse)
			continue
		}
		j, err := c.prepare(obj, r, op == "delete" || r.Op == sdk.OpDelete)
		if err != nil {
			results[i] = sdk.ResultFor(r.Key, err)
			continue
		}
		jobs[i] = j
	}
	var ext []string
	for _, j := range jobs {
		if j != nil && !slices.Contains(ext, j.extID) {
			ext = append(ext, j.extID)
		}
	}
	if len(ext) == 0 {
		return results, nil
	}
	var existing map[string]stored
	if c.preflight() {
		var err error
		if existing, err = c.lookupExisting(ctx, obj, ext); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			for i, j := range jobs {
				if j != nil {
					results[i] = sdk.ResultFor(j.key, err)
					jobs[i] = nil
				}
			}
			return results, nil
		}
	}
	if obj == objSalesOrder {
		for i, err := range c.resolveUnits(ctx, jobs) {
			if err != nil && jobs[i] != nil {
				results[i] = sdk.ResultFor(jobs[i].key, err)
				jobs[i] = nil
			}
		}
	}
	sem := make(chan struct{}, c.writeParallelism())
	var wg sync.WaitGroup
	for i, j := range jobs {
		if j == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			prior, known := existing[j.extID]
			results[i] = c.writeOne(ctx, obj, j, prior, known)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return results, nil
}

// prepare decodes and checks one record.
func (c *connector) prepare(obj string, r sdk.Record, del bool) (*job, error) {
	j := &job{key: r.Key, version: r.Version, del: del}
	body, err := decodeObject(r.Payload)
	if err != nil && !del {
		return nil, sdk.Permanent("INVALID_JSON", "the record is not a JSON object: "+err.Error(), "record")
	}
	j.body = body
	switch v := body["externalId"].(type) {
	case nil:
		j.extID = r.Key
	case string:
		j.extID = v
	default:
		if !del {
			return nil, sdk.Permanent("INVALID_CONTENT", "externalId must be a string", "externalId")
		}
		j.extID = r.Key
	}
	if strings.TrimSpace(j.extID) == "" {
		return nil, sdk.Permanent("INVALID_KEY", "the record has neither an externalId nor a key to upsert by", "externalId")
	}
	if del {
		return j, nil
	}
	for _, k := range sortedKeys(body) {
		if m, ok := body[k].(map[string]any); ok {
			if _, ok := m["items"]; ok {
				j.replace = append(j.replace, k)
			}
		}
	}
	if vf := c.cfg.VersionFields[obj]; vf != "" {
		body[vf] = strconv.FormatInt(r.Version, 10)
	}
	return j, nil
}

// decodeObject decodes a JSON object keeping numbers exact.
func decodeObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("null")
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the object")
	}
	return m, nil
}

// encodeJSON encodes v without HTML escaping; json.Number keeps its text.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// lookupExisting finds the records of a batch's external ids with SuiteQL:
// their internal ids and stored versions.
func (c *connector) lookupExisting(ctx context.Context, obj string, ext []string) (map[string]stored, error) {
	out := map[string]stored{}
	vf := c.cfg.VersionFields[obj]
	for start := 0; start < len(ext); start += 200 {
		chunk := ext[start:min(start+200, len(ext))]
		cols := "t.id, t.externalid"
		if vf != "" {
			cols += ", t." + vf + " AS weir_version"
		}
		var q string
		if obj == objSalesOrder {
			q = fmt.Sprintf("SELECT %s FROM transaction t WHERE t.type = 'SalesOrd' AND t.externalid IN (%s)", cols, sqlList(chunk))
		} else {
			q = fmt.Sprintf("SELECT %s FROM customer t WHERE t.externalid IN (%s)", cols, sqlList(chunk))
		}
		rows, _, err := c.suiteqlAll(ctx, q, 1000, 0, sdk.PriorityBulk)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r["externalid"]] = stored{id: r["id"], version: r["weir_version"]}
		}
	}
	return out, nil
}

// writeOne sends one record.
func (c *connector) writeOne(ctx context.Context, obj string, j *job, prior stored, known bool) sdk.WriteResult {
	target := recordPath + obj + "/eid:" + url.PathEscape(j.extID)
	if j.del {
		if c.preflight() && !known {
			return sdk.WriteResult{Key: j.key, Status: sdk.StatusOK}
		}
		_, err := c.send(ctx, http.MethodDelete, target, nil, nil, sdk.PriorityBulk, nil)
		if e := sdk.Classify(err); e != nil && e.Status == sdk.StatusPermanent && (e.Code == "NONEXISTENT_ID" || e.Code == "404") {
			err = nil
		}
		res := sdk.ResultFor(j.key, err)
		res.ID = prior.id
		return res
	}
	if known && prior.version != "" {
		if v, err := strconv.ParseInt(prior.version, 10, 64); err == nil && v >= j.version {
			// Stale or repeated: the stored version is as new.
			return sdk.WriteResult{Key: j.key, Status: sdk.StatusOK, ID: prior.id}
		}
	}
	body, err := encodeJSON(j.body)
	if err != nil {
		return sdk.ResultFor(j.key, sdk.Permanent("INVALID_JSON", err.Error(), "record"))
	}
	var q url.Values
	if len(j.replace) > 0 {
		q = url.Values{"replace": {strings.Join(j.replace, ",")}}
	}
	resp, err := c.send(ctx, http.MethodPut, target, q, body, sdk.PriorityBulk, nil)
	if err != nil {
		return sdk.ResultFor(j.key, err)
	}
	res := sdk.WriteResult{Key: j.key, Status: sdk.StatusOK, ID: idFromLocation(resp.Header.Get("Location"))}
	if res.ID == "" {
		res.ID = prior.id
	}
	if c.preflight() {
		res.Created = !known
	} else {
		res.Created = resp.StatusCode == http.StatusCreated
	}
	return res
}

// idFromLocation returns the last path segment of a Location header.
func idFromLocation(loc string) string {
	if loc == "" {
		return ""
	}
	if u, err := url.Parse(loc); err == nil {
		loc = u.Path
	}
	return loc[strings.LastIndexByte(loc, '/')+1:]
}

// unitsEntry is an item's units of measure, cached.
type unitsEntry struct {
	found   bool
	name    string            // the item's name, for messages
	byName  map[string]string // unit name, plural or abbreviation (lower case) → uom id
	names   []string          // unit names, for messages
	expires time.Time
}

// unitLine is an order line whose units name must become an id.
type unitLine struct {
	job  int
	line map[string]any
	path string
	item string // cache key: "id:13" or "ext:WID-100"
	name string
}

// itemKey returns the cache key of an item reference, "" when it has no
// id or external id.
func itemKey(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	if id, ok := m["id"].(string); ok && id != "" {
		if ext, ok := strings.CutPrefix(id, "eid:"); ok {
			return "ext:" + ext
		}
		return "id:" + id
	}
	if id, ok := m["id"].(json.Number); ok {
		return "id:" + id.String()
	}
	if ext, ok := m["externalId"].(string); ok && ext != "" {
		return "ext:" + ext
	}
	return ""
}

// isDigits reports whether s is a non-empty string of digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// resolveUnits replaces unit names on order lines ("Case", "cs", "Cases")
// by the internal id of that unit in the line item's units type, with one
// SuiteQL query for the items not cached. It returns an error per job.
func (c *connector) resolveUnits(ctx context.Context, jobs []*job) []error {
	errs := make([]error, len(jobs))
	var lines []unitLine
	for i, j := range jobs {
		if j == nil || j.del {
			continue
		}
		sub, _ := j.body["item"].(map[string]any)
		items, _ := sub["items"].([]any)
		for n, raw := range items {
			l, ok := raw.(map[string]any)
			if !ok {
				continue
			}
			name, ok := l["units"].(string)
			if !ok || isDigits(strings.TrimSpace(name)) {
				continue
			}
			key := itemKey(l["item"])
			if key == "" {
				continue
			}
			lines = append(lines, unitLine{job: i, line: l, path: fmt.Sprintf("item.items[%d]", n), item: key, name: name})
		}
	}
	if len(lines) == 0 {
		return errs
	}
	now := time.Now()
	c.cacheMu.Lock()
	var missing []string
	for _, l := range lines {
		if e, ok := c.units[l.item]; (!ok || now.After(e.expires)) && !slices.Contains(missing, l.item) {
			missing = append(missing, l.item)
		}
	}
	c.cacheMu.Unlock()
	if len(missing) > 0 {
		if err := c.loadUnits(ctx, missing); err != nil {
			for _, l := range lines {
				errs[l.job] = err
			}
			return errs
		}
	}
	c.cacheMu.Lock()
	defer c.cacheMu.Unlock()
	for _, l := range lines {
		if errs[l.job] != nil {
			continue
		}
		e := c.units[l.item]
		switch id, ok := e.byName[strings.ToLower(strings.TrimSpace(l.name))]; {
		case !e.found:
			ref := strings.SplitN(l.item, ":", 2)[1]
			errs[l.job] = sdk.Permanent("INVALID_KEY_OR_REF", fmt.Sprintf("item %s does not exist in NetSuite", ref), l.path+".item")
		case !ok:
			units := "it has no units type"
			if len(e.names) > 0 {
				units = "its units type has " + strings.Join(e.names, ", ")
			}
			errs[l.job] = sdk.Permanent("UNKNOWN_UNIT", fmt.Sprintf("unit %q is not a unit of item %s: %s", l.name, e.name, units), l.path+".units")
		default:
			l.line["units"] = id
		}
	}
	return errs
}

// loadUnits reads the units of items into the cache.
func (c *connector) loadUnits(ctx context.Context, keys []string) error {
	for start := 0; start < len(keys); start += 200 {
		chunk := keys[start:min(start+200, len(keys))]
		var ids, exts []string
		for _, k := range chunk {
			kind, v, _ := strings.Cut(k, ":")
			if kind == "id" && isDigits(v) {
				ids = append(ids, v)
			} else if kind == "ext" {
				exts = append(exts, v)
			}
		}
		var conds []string
		if len(ids) > 0 {
			conds = append(conds, "i.id IN ("+strings.Join(ids, ", ")+")")
		}
		if len(exts) > 0 {
			conds = append(conds, "i.externalid IN ("+sqlList(exts)+")")
		}
		fresh := map[string]unitsEntry{}
		for _, k := range chunk {
			fresh[k] = unitsEntry{byName: map[string]string{}}
		}
		if len(conds) > 0 {
			q := "SELECT i.id, i.externalid, i.itemid, u.internalid, u.unitname, u.pluralname, u.abbreviation, u.pluralabbreviation " +
				"FROM item i LEFT JOIN unitstypeuom u ON u.unitstype = i.unitstype WHERE " + strings.Join(conds, " OR ") +
				" ORDER BY i.id, u.internalid"
			rows, _, err := c.suiteqlAll(ctx, q, 1000, 0, sdk.PriorityBulk)
			if err != nil {
				return err
			}
			for _, r := range rows {
				for _, k := range []string{"id:" + r["id"], "ext:" + r["externalid"]} {
					e, ok := fresh[k]
					if !ok {
						continue
					}
					e.found, e.name = true, r["itemid"]
					if id := r["internalid"]; id != "" {
						for _, n := range []string{r["unitname"], r["pluralname"], r["abbreviation"], r["pluralabbreviation"]} {
							if n != "" {
								if _, dup := e.byName[strings.ToLower(n)]; !dup {
									e.byName[strings.ToLower(n)] = id
								}
							}
						}
						if !slices.Contains(e.names, r["unitname"]) {
							e.names = append(e.names, r["unitname"])
						}
					}
					fresh[k] = e
				}
			}
		}
		now := time.Now()
		c.cacheMu.Lock()
		for k, e := range fresh {
			// An unknown item may be created soon: remember that briefly.
			e.expires = now.Add(unitsCacheTTL)
			if !e.found {
				e.expires = now.Add(unknownItemTTL)
			}
			c.units[k] = e
		}
		c.cacheMu.Unlock()
	}
	return nil
}
