package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxBody is NetSuite's request size limit (104 MB).
const maxBody = 104 << 20

// serveRecord serves /services/rest/record/v1/...
func (s *Server) serveRecord(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, RecordPath)
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	for i, seg := range segs {
		if u, err := url.PathUnescape(seg); err == nil {
			segs[i] = u
		}
	}
	if len(segs) == 0 || segs[0] == "" {
		writeError(w, s.opts, http.StatusNotFound, "", detail{Detail: "Record type '' does not exist.", Code: "INVALID_RCRD_TYPE"})
		return
	}
	s.mu.Lock()
	rt := s.db.typeNamed(segs[0], s.opts.CaseSensitiveTypes)
	s.mu.Unlock()
	if rt == nil {
		writeError(w, s.opts, http.StatusNotFound, "", detail{Detail: fmt.Sprintf("Record type '%s' does not exist.", segs[0]), Code: "INVALID_RCRD_TYPE"})
		return
	}
	base := s.baseURL(r)
	var err *apiError
	switch {
	case len(segs) == 1 && r.Method == http.MethodGet:
		err = s.listRecords(w, r, rt, base)
	case len(segs) == 1 && r.Method == http.MethodPost:
		err = s.writeRecord(w, r, rt, segs[0], "", base)
	case len(segs) == 2 && r.Method == http.MethodGet:
		err = s.getRecord(w, r, rt, segs[1], base)
	case len(segs) == 2 && (r.Method == http.MethodPatch || r.Method == http.MethodPut):
		err = s.writeRecord(w, r, rt, segs[0], segs[1], base)
	case len(segs) == 2 && r.Method == http.MethodDelete:
		err = s.deleteRecord(w, rt, segs[1])
	case len(segs) == 4 && segs[2] == "!transform" && r.Method == http.MethodPost:
		err = s.transformRecord(w, r, rt, segs[1], segs[3], base)
	case len(segs) >= 3 && r.Method == http.MethodGet:
		err = s.getSubresource(w, r, rt, segs[1], segs[2:], base)
	default:
		err = &apiError{status: http.StatusMethodNotAllowed, details: []detail{{
			Detail: fmt.Sprintf("The %s method is not supported for %s.", r.Method, r.URL.Path), Code: "INVALID_METHOD"}}}
	}
	if err != nil {
		writeAPIError(w, s.opts, err)
	}
}

// paging reads limit and offset: limit 1 to 1000 (1000 by default) and an
// offset that is a multiple of the limit.
func paging(q url.Values) (limit, offset int, err *apiError) {
	limit, offset = MaxSuiteQLLimit, 0
	if v := q.Get("limit"); v != "" {
		n, e := strconv.Atoi(v)
		if e != nil || n < 1 || n > MaxSuiteQLLimit {
			return 0, 0, &apiError{status: http.StatusBadRequest, details: []detail{{
				Detail: fmt.Sprintf("Invalid value for the limit parameter: %s. The limit must be a number between 1 and %d.", v, MaxSuiteQLLimit),
				Code:   "INVALID_PARAMETER", QueryParam: "limit"}}}
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, e := strconv.Atoi(v)
		if e != nil || n < 0 {
			return 0, 0, &apiError{status: http.StatusBadRequest, details: []detail{{
				Detail: fmt.Sprintf("Invalid value for the offset parameter: %s.", v), Code: "INVALID_PARAMETER", QueryParam: "offset"}}}
		}
		offset = n
	}
	if offset%limit != 0 {
		return 0, 0, &apiError{status: http.StatusBadRequest, details: []detail{{
			Detail: fmt.Sprintf("Invalid value for the offset parameter: %d. The offset must be a multiple of the limit (%d).", offset, limit),
			Code:   "INVALID_PARAMETER", QueryParam: "offset"}}}
	}
	return limit, offset, nil
}

// collection builds a paged collection answer.
func collection(self *url.URL, base string, items []any, limit, offset, total int) map[string]any {
	pageURL := func(off int) string {
		u := *self
		q := u.Query()
		q.Set("limit", strconv.Itoa(limit))
		q.Set("offset", strconv.Itoa(off))
		u.RawQuery = q.Encode()
		return base + u.RequestURI()
	}
	hasMore := offset+len(items) < total
	var links []any
	if offset > 0 {
		links = append(links, link("previous", pageURL(max(0, offset-limit))), link("first", pageURL(0)))
	}
	if hasMore {
		links = append(links, link("next", pageURL(offset+limit)))
	}
	last := 0
	if total > 0 {
		last = (total - 1) / limit * limit
	}
	links = append(links, link("last", pageURL(last)), link("self", pageURL(offset)))
	if items == nil {
		items = []any{}
	}
	return map[string]any{"links": links, "count": len(items), "hasMore": hasMore, "offset": offset, "totalResults": total, "items": items}
}

// listRecords answers GET /record/v1/{type}: the ids, paged.
func (s *Server) listRecords(w http.ResponseWriter, r *http.Request, rt *recordType, base string) *apiError {
	limit, offset, err := paging(r.URL.Query())
	if err != nil {
		return err
	}
	s.mu.Lock()
	all := s.db.tables[rt.name].sorted()
	var items []any
	for i := offset; i < len(all) && i < offset+limit; i++ {
		items = append(items, map[string]any{"id": strconv.FormatInt(all[i].id, 10), "links": selfLinks(recordURL(base, all[i]))})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, contentType(s.opts, ctCollection), collection(r.URL, base, items, limit, offset, len(all)))
	return nil
}

// getRecord answers GET /record/v1/{type}/{id}.
func (s *Server) getRecord(w http.ResponseWriter, r *http.Request, rt *recordType, key, base string) *apiError {
	q := r.URL.Query()
	expand := strings.EqualFold(q.Get("expandSubResources"), "true") || s.opts.ExpandByDefault
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.db.get(rt.name, key)
	if rec == nil {
		return notFound()
	}
	rn := &renderer{d: s.db, opts: s.opts, base: base, now: s.now(), limit: fieldSet(q.Get("fields"))}
	writeJSON(w, http.StatusOK, contentType(s.opts, ctSingular), rn.record(rec, expand, base+r.URL.RequestURI()))
	return nil
}

// getSubresource answers GET of a sublist, a line or a subrecord.
func (s *Server) getSubresource(w http.ResponseWriter, r *http.Request, rt *recordType, key string, segs []string, base string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.db.get(rt.name, key)
	if rec == nil {
		return notFound()
	}
	rn := &renderer{d: s.db, opts: s.opts, base: base, now: s.now()}
	self := base + r.URL.RequestURI()
	name := segs[0]
	if spec := rt.fields[name]; spec.kind == kAddress && len(segs) == 1 {
		if a, ok := rec.fields[name]; ok {
			writeJSON(w, http.StatusOK, contentType(s.opts, ctSingular), rn.address(a, self))
			return nil
		}
		return notFound()
	}
	spec := rt.sublists[name]
	if spec == nil {
		return notFound()
	}
	ls := rec.lines[name]
	if len(segs) == 1 {
		items := []any{}
		for _, l := range ls {
			items = append(items, rn.line(rec, name, l))
		}
		writeJSON(w, http.StatusOK, contentType(s.opts, ctCollection), map[string]any{"items": items, "totalResults": len(items), "links": selfLinks(self)})
		return nil
	}
	if len(segs) == 2 {
		key := spec.key
		if key == "" {
			key = "line"
		}
		if i := s.db.findLine(ls, &sublistSpec{key: key}, segs[1]); i >= 0 {
			writeJSON(w, http.StatusOK, contentType(s.opts, ctSingular), rn.line(rec, name, ls[i]))
			return nil
		}
	}
	return notFound()
}

// readBody reads and decodes a JSON request body.
func readBody(r *http.Request) (map[string]any, *apiError) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, badRequest("INVALID_CONTENT", "", "Invalid content in the request body.")
	}
	if len(data) > maxBody {
		return nil, &apiError{status: http.StatusRequestEntityTooLarge, details: []detail{{Detail: "The request is too large.", Code: "REQUEST_TOO_LARGE"}}}
	}
	body, err := decodeBody(data)
	if err != nil {
		return nil, badRequest("INVALID_CONTENT", "", "Invalid content in the request body: "+err.Error())
	}
	return body, nil
}

// writeRecord serves POST (create), PATCH (update) and PUT eid: (upsert).
func (s *Server) writeRecord(w http.ResponseWriter, r *http.Request, rt *recordType, typeSeg, key, base string) *apiError {
	if !rt.writable {
		return &apiError{status: http.StatusMethodNotAllowed, details: []detail{{
			Detail: fmt.Sprintf("The sandbox does not support %s on %s records.", r.Method, rt.name), Code: "INVALID_METHOD"}}}
	}
	extID, isEID := strings.CutPrefix(key, "eid:")
	if r.Method == http.MethodPut && !isEID {
		return &apiError{status: http.StatusMethodNotAllowed, details: []detail{{
			Detail: "The PUT method (upsert) is only supported with an external ID in the request URL (eid:<externalId>).", Code: "INVALID_METHOD"}}}
	}
	if isEID && extID == "" {
		return badRequest("INVALID_ID", "", "The external ID in the request URL is empty.")
	}
	body, aerr := readBody(r)
	if aerr != nil {
		return aerr
	}
	q := r.URL.Query()
	o := writeOpts{replace: map[string]bool{}, names: s.opts.PropertyNameValidation,
		subsidiaryFromEntity: s.opts.SubsidiaryFromEntity}
	for _, name := range strings.Split(q.Get("replace"), ",") {
		if name = strings.TrimSpace(name); name != "" {
			o.replace[name] = true
		}
	}
	switch strings.ToLower(r.Header.Get("X-NetSuite-PropertyNameValidation")) {
	case "error":
		o.names = "Error"
	case "warning":
		o.names = "Warning"
	case "ignore":
		o.names = "Ignore"
	}
	status := http.StatusNoContent
	s.mu.Lock()
	var cur *record
	switch r.Method {
	case http.MethodPost:
		o.create = true
		if ext, ok := body["externalId"].(string); ok && ext != "" && s.db.tables[rt.name].byExt[ext] != 0 {
			s.mu.Unlock()
			return badRequest("USER_ERROR", "externalId", "Error while accessing a resource. A record with the external ID "+ext+" already exists.")
		}
		if len(o.replace) > 0 {
			status = http.StatusCreated
		}
	case http.MethodPatch:
		if cur = s.db.get(rt.name, key); cur == nil {
			s.mu.Unlock()
			return notFound()
		}
	case http.MethodPut:
		o.urlExtID = extID
		cur = s.db.get(rt.name, key)
		o.create = cur == nil
		status = s.opts.UpsertStatus
	}
	rec, aerr := s.db.apply(rt, cur, body, o)
	if aerr != nil {
		s.mu.Unlock()
		return aerr
	}
	if rec.extID != "" {
		if other, ok := s.db.tables[rt.name].byExt[rec.extID]; ok && other != rec.id {
			s.mu.Unlock()
			return badRequest("USER_ERROR", "externalId", "Error while accessing a resource. A record with the external ID "+rec.extID+" already exists.")
		}
	}
	s.db.commit(rec, s.now())
	id := rec.id
	s.mu.Unlock()
	w.Header().Set("Location", base+RecordPath+typeSeg+"/"+strconv.FormatInt(id, 10))
	w.WriteHeader(status)
	return nil
}

// deleteRecord serves DELETE.
func (s *Server) deleteRecord(w http.ResponseWriter, rt *recordType, key string) *apiError {
	if !rt.writable {
		return &apiError{status: http.StatusMethodNotAllowed, details: []detail{{
			Detail: fmt.Sprintf("The sandbox does not support DELETE on %s records.", rt.name), Code: "INVALID_METHOD"}}}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.db.get(rt.name, key)
	if rec == nil {
		return notFound()
	}
	if s.db.hasDependents(rec) {
		return badRequest("USER_ERROR", "", "Error while accessing a resource. This record cannot be deleted because it has dependent records.")
	}
	s.db.remove(rec)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// hasDependents reports whether other records refer to rec.
func (d *db) hasDependents(rec *record) bool {
	id := strconv.FormatInt(rec.id, 10)
	refers := func(v any) bool { r, ok := v.(ref); return ok && r.typ == rec.rt.name && r.id == id }
	for _, t := range d.tables {
		for _, other := range t.byID {
			if other == rec {
				continue
			}
			for _, v := range other.fields {
				if refers(v) {
					return true
				}
			}
			for _, ls := range other.lines {
				for _, l := range ls {
					if refers(l["item"]) {
						return true
					}
				}
			}
		}
	}
	return false
}

// transformRecord serves POST /salesOrder/{id}/!transform/{itemFulfillment|invoice}.
func (s *Server) transformRecord(w http.ResponseWriter, r *http.Request, rt *recordType, key, target, base string) *apiError {
	body, aerr := readBody(r)
	if aerr != nil {
		return aerr
	}
	s.mu.Lock()
	to := s.db.typeNamed(target, s.opts.CaseSensitiveTypes)
	if rt.name != tSalesOrder || to == nil || (to.name != tItemFulfillment && to.name != tInvoice) {
		s.mu.Unlock()
		return badRequest("INVALID_PARAMETER", "", fmt.Sprintf("The transformation of %s into %s is not supported.", rt.name, target))
	}
	so := s.db.get(rt.name, key)
	if so == nil {
		s.mu.Unlock()
		return notFound()
	}
	now := s.now()
	rec, aerr := s.db.transform(so, to.name, body, now, now.In(s.opts.Location).Format("2006-01-02"))
	if aerr != nil {
		s.mu.Unlock()
		return aerr
	}
	id := rec.id
	s.mu.Unlock()
	w.Header().Set("Location", base+RecordPath+target+"/"+strconv.FormatInt(id, 10))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Transform turns a sales order (internal id or "eid:...") into an item
// fulfillment of every quantity left to ship, or an invoice of every
// quantity shipped and not billed, as
// POST /salesOrder/{id}/!transform/{to} does. location ("" for the line's
// or order's own) is where stock ships from. It returns the new record's
// internal id.
func (s *Server) Transform(orderKey, to, location string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := s.db.typeNamed(to, false)
	if rt == nil || (rt.name != tItemFulfillment && rt.name != tInvoice) {
		return "", fmt.Errorf("cannot transform a sales order into %q", to)
	}
	so := s.db.get(tSalesOrder, orderKey)
	if so == nil {
		return "", errors.New("no sales order " + orderKey)
	}
	body := map[string]any{}
	if location != "" {
		body["inventoryLocation"] = map[string]any{"id": location}
	}
	now := s.now()
	rec, aerr := s.db.transform(so, rt.name, body, now, now.In(s.opts.Location).Format("2006-01-02"))
	if aerr != nil {
		return "", aerr
	}
	return strconv.FormatInt(rec.id, 10), nil
}

// transform creates an item fulfillment or an invoice from a sales order
// and updates the order. tranDate is the new record's date.
func (d *db) transform(so *record, to string, body map[string]any, now time.Time, tranDate string) (*record, *apiError) {
	order := so.clone()
	want := map[int64]*big.Rat{}
	if raw, ok := body["item"].(map[string]any); ok {
		items, _ := raw["items"].([]any)
		for i, it := range items {
			m, _ := it.(map[string]any)
			ol, ok1 := ratOf(m["orderLine"])
			q, ok2 := ratOf(m["quantity"])
			if !ok1 || !ok2 || !ol.IsInt() || q.Sign() < 0 {
				return nil, invalidValue(fmt.Sprintf("item.items[%d]", i), "item", it)
			}
			want[ol.Num().Int64()] = q
		}
	}
	var fallbackLoc any
	if v, ok := body["inventoryLocation"]; ok {
		r, err := d.resolveRef(tLocation, v, "inventoryLocation", "inventoryLocation")
		if err != nil {
			return nil, err
		}
		fallbackLoc = r
	}
	rec := &record{rt: d.types[to], fields: map[string]any{}, lines: map[string][]line{}}
	for _, k := range []string{"entity", "subsidiary", "currency", "shippingAddress"} {
		if v, ok := order.fields[k]; ok && (to == tItemFulfillment || k != "shippingAddress") {
			rec.fields[k] = cloneValue(v)
		}
	}
	rec.fields["createdFrom"] = ref{typ: tSalesOrder, id: strconv.FormatInt(order.id, 10)}
	rec.fields["tranDate"] = tranDate
	n := int64(1)
	var moves []stockMove
	for _, l := range order.lines["item"] {
		if closed, _ := l["isClosed"].(bool); closed {
			continue
		}
		ln, _ := l["line"].(int64)
		qty := lineQty(l, "quantity")
		var take *big.Rat
		if to == tItemFulfillment {
			take = sub(qty, lineQty(l, "_fulfilled"))
		} else {
			take = sub(lineQty(l, "_fulfilled"), lineQty(l, "_billed"))
		}
		if w, ok := want[ln]; ok {
			if w.Cmp(take) > 0 {
				return nil, badRequest("USER_ERROR", "item", fmt.Sprintf("Error while accessing a resource. You cannot %s more than %s of line %d.",
					map[string]string{tItemFulfillment: "fulfill", tInvoice: "bill"}[to], decString(take), ln))
			}
			take = w
		} else if len(want) > 0 {
			continue
		}
		if take.Sign() <= 0 {
			continue
		}
		nl := line{"line": n, "orderLine": json.Number(strconv.FormatInt(ln, 10)), "item": l["item"], "quantity": numJSON(take)}
		if u, ok := l["units"]; ok {
			nl["units"] = u
		}
		item := d.refRecord(l["item"])
		if to == tItemFulfillment {
			loc := lineLocation(order, l)
			if loc == 0 {
				r, ok := fallbackLoc.(ref)
				if !ok {
					return nil, missingValue("inventoryLocation", "Location")
				}
				loc, _ = strconv.ParseInt(r.id, 10, 64)
			}
			nl["location"] = ref{typ: tLocation, id: strconv.FormatInt(loc, 10)}
			nl["itemReceive"] = true
			if item != nil {
				moves = append(moves, stockMove{item, loc, mul(take, d.conversionRate(item, l["units"]))})
			}
			l["_fulfilled"] = numJSON(add(lineQty(l, "_fulfilled"), take))
		} else {
			rate := lineQty(l, "rate")
			nl["rate"] = numJSON(rate)
			nl["amount"] = numJSON(mul(rate, take))
			l["_billed"] = numJSON(add(lineQty(l, "_billed"), take))
		}
		rec.lines["item"] = append(rec.lines["item"], nl)
		n++
	}
	if len(rec.lines["item"]) == 0 {
		return nil, badRequest("USER_ERROR", "", fmt.Sprintf("Error while accessing a resource. You can not initialize %s: invalid reference %d.",
			strings.ToLower(to), order.id))
	}
	for _, m := range moves {
		d.takeStock(m.item, m.loc, m.qty)
	}
	d.commit(rec, now)
	d.commit(order, now)
	return rec, nil
}

// stockMove is stock leaving a location.
type stockMove struct {
	item *record
	loc  int64
	qty  *big.Rat
}

// takeStock removes shipped quantity from an item's stock at a location.
func (d *db) takeStock(item *record, loc int64, qty *big.Rat) {
	id := strconv.FormatInt(loc, 10)
	for _, l := range item.lines["locations"] {
		if r, ok := l["location"].(ref); ok && r.id == id {
			l["quantityOnHand"] = numJSON(sub(lineQty(l, "quantityOnHand"), qty))
			return
		}
	}
	item.lines["locations"] = append(item.lines["locations"], line{
		"location": ref{typ: tLocation, id: id}, "quantityOnHand": numJSON(new(big.Rat).Neg(qty))})
}
