package sandbox

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ref is a stored reference: the target type ("" for types the sandbox
// does not model) and the internal id.
type ref struct {
	typ string
	id  string
}

// line is one sublist line. Keys starting with "_" are the server's own
// (quantities fulfilled and billed, the request index) and never rendered.
type line = map[string]any

// record is one stored record.
type record struct {
	rt       *recordType
	id       int64
	extID    string
	fields   map[string]any
	lines    map[string][]line
	created  time.Time
	modified time.Time
	// tranNo numbers transactions of a type (tranId = prefix + tranNo).
	tranNo int64
	// status is a sales order's status letter.
	status string
}

func (r *record) clone() *record {
	c := *r
	c.fields = cloneValue(r.fields).(map[string]any)
	c.lines = map[string][]line{}
	for k, ls := range r.lines {
		out := make([]line, len(ls))
		for i, l := range ls {
			out[i] = cloneValue(l).(map[string]any)
		}
		c.lines[k] = out
	}
	return &c
}

// table holds the records of one type.
type table struct {
	rt    *recordType
	byID  map[int64]*record
	byExt map[string]int64
	next  int64
}

// sorted returns the records in id order.
func (t *table) sorted() []*record {
	out := make([]*record, 0, len(t.byID))
	for _, r := range t.byID {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// db is the sandbox's data.
type db struct {
	types    map[string]*recordType
	tables   map[string]*table
	nextTran int64
	tranNos  map[string]int64
	nextUOM  int64

	// alloc caches the stock allocation of open sales orders; nil when
	// it must be computed again.
	alloc *allocation
}

func newDB() *db {
	d := &db{types: newSchema(), tables: map[string]*table{}, nextTran: 5001, tranNos: map[string]int64{}, nextUOM: 1}
	for name, rt := range d.types {
		d.tables[name] = &table{rt: rt, byID: map[int64]*record{}, byExt: map[string]int64{}, next: rt.idStart}
	}
	return d
}

// typeNamed finds a record type by its path name.
func (d *db) typeNamed(name string, caseSensitive bool) *recordType {
	if rt, ok := d.types[name]; ok {
		return rt
	}
	if caseSensitive {
		return nil
	}
	for n, rt := range d.types {
		if strings.EqualFold(n, name) {
			return rt
		}
	}
	return nil
}

// get returns a record by internal id or "eid:externalId".
func (d *db) get(typ, key string) *record {
	t := d.tables[typ]
	if t == nil {
		return nil
	}
	if ext, ok := strings.CutPrefix(key, "eid:"); ok {
		id, ok := t.byExt[ext]
		if !ok {
			return nil
		}
		return t.byID[id]
	}
	id, err := strconv.ParseInt(key, 10, 64)
	if err != nil {
		return nil
	}
	return t.byID[id]
}

// byID returns a record by type and numeric id string.
func (d *db) byID(typ, id string) *record {
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		return nil
	}
	return d.get(typ, id)
}

// writeOpts say how a body is applied.
type writeOpts struct {
	// create is true for a new record.
	create bool
	// replace names the sublists whose lines the body replaces.
	replace map[string]bool
	// lenient accepts unknown fields as they are and does not require
	// lines (seed data).
	lenient bool
	// names is the property name validation: "Error", "Warning", "Ignore".
	names string
	// urlExtID is the external id of a PUT eid: upsert.
	urlExtID string
	// subsidiaryFromEntity sources a missing order subsidiary from the
	// customer.
	subsidiaryFromEntity bool
	// defaultStatus is a new order's status letter.
	defaultStatus string
}

// apply returns cur (nil to create) with body applied and validated, as
// a new record; cur is not changed. Nothing is stored.
func (d *db) apply(rt *recordType, cur *record, body map[string]any, o writeOpts) (*record, *apiError) {
	var rec *record
	if cur == nil {
		rec = &record{rt: rt, fields: map[string]any{}, lines: map[string][]line{}}
	} else {
		rec = cur.clone()
	}
	if o.urlExtID != "" {
		if v, ok := body["externalId"]; ok && v != nil && stringOf(v) != o.urlExtID {
			return nil, badRequest("INVALID_CONTENT", "externalId", fmt.Sprintf(
				"Error while accessing a resource. The external ID %s in the request body does not match the external ID %s in the request URL.", stringOf(v), o.urlExtID))
		}
		rec.extID = o.urlExtID
	}
	for _, k := range slices.Sorted(maps.Keys(body)) {
		v := body[k]
		switch {
		case rt.sublists[k] != nil:
			if err := d.applySublist(rec, k, v, o); err != nil {
				return nil, err
			}
			continue
		case k == "externalId":
			if v == nil {
				rec.extID = ""
				continue
			}
			s, ok := v.(string)
			if !ok {
				return nil, invalidValue(k, k, v)
			}
			rec.extID = s
			continue
		case strings.HasPrefix(k, "cust"):
			setField(rec.fields, k, cloneValue(v))
			continue
		}
		spec, ok := rt.fields[k]
		if !ok {
			if o.lenient {
				setField(rec.fields, k, cloneValue(v))
				continue
			}
			if o.names == "Error" {
				return nil, badRequest("INVALID_CONTENT", k, fmt.Sprintf(
					"Error while accessing a resource. Invalid field name %s: the field does not exist on record %s.", k, rt.name))
			}
			continue
		}
		if spec.kind == kReadOnly {
			continue
		}
		val, err := d.readValue(spec, v, k, k, rec.fields[k])
		if err != nil {
			return nil, err
		}
		setField(rec.fields, k, val)
	}
	if err := d.validate(rec, o); err != nil {
		return nil, err
	}
	for _, ls := range rec.lines {
		for _, l := range ls {
			delete(l, "_req")
		}
	}
	return rec, nil
}

// setField sets or, for nil, removes a field.
func setField(m map[string]any, k string, v any) {
	if v == nil {
		delete(m, k)
		return
	}
	m[k] = v
}

// readValue checks and converts one body value of a field. prev is the
// field's current value (addresses merge into it).
func (d *db) readValue(spec fieldSpec, v any, path, field string, prev any) (any, *apiError) {
	if v == nil {
		return nil, nil
	}
	switch spec.kind {
	case kString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case kNumber:
		if n, ok := v.(json.Number); ok {
			if _, ok := parseRat(string(n)); ok {
				return n, nil
			}
		}
	case kBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case kDate:
		if s, ok := v.(string); ok {
			if _, err := time.Parse("2006-01-02", s); err == nil {
				return s, nil
			}
		}
	case kRef:
		return d.resolveRef(spec.target, v, path, field)
	case kAddress:
		return d.readAddress(v, path, prev)
	case kStatus:
		code := ""
		switch s := v.(type) {
		case string:
			code = s
		case map[string]any:
			code, _ = idString(s["id"])
		}
		if code == "A" || code == "B" || code == "C" || code == "H" {
			return code, nil
		}
	case kUnits:
		if m, ok := v.(map[string]any); ok {
			v = m["id"]
		}
		if id, ok := idString(v); ok {
			return id, nil
		}
	case kReadOnly:
		return nil, nil
	}
	return nil, invalidValue(path, field, v)
}

// resolveRef resolves a reference given as {"id": ...} or
// {"externalId": ...} to a stored record of target.
func (d *db) resolveRef(target string, v any, path, field string) (any, *apiError) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, invalidValue(path, field, v)
	}
	if idv, ok := m["id"]; ok && idv != nil {
		id, ok := idString(idv)
		if !ok {
			return nil, invalidValue(path, field, idv)
		}
		if target == "" {
			return ref{id: id}, nil
		}
		if ext, ok := strings.CutPrefix(id, "eid:"); ok {
			return d.refByExternalID(target, ext, path, field)
		}
		if d.byID(target, id) == nil {
			return nil, invalidValue(path, field, id)
		}
		return ref{typ: target, id: id}, nil
	}
	if ev, ok := m["externalId"]; ok && ev != nil {
		ext, ok := ev.(string)
		if !ok || ext == "" {
			return nil, invalidValue(path, field, ev)
		}
		if target == "" {
			return nil, badRequest("INVALID_KEY_OR_REF", path, fmt.Sprintf("Error while accessing a resource. Invalid %s reference key %s.", field, ext))
		}
		return d.refByExternalID(target, ext, path, field)
	}
	return nil, invalidValue(path, field, v)
}

func (d *db) refByExternalID(target, ext, path, field string) (any, *apiError) {
	id, ok := d.tables[target].byExt[ext]
	if !ok {
		return nil, badRequest("INVALID_KEY_OR_REF", path, fmt.Sprintf("Error while accessing a resource. Invalid %s reference key %s.", field, ext))
	}
	return ref{typ: target, id: strconv.FormatInt(id, 10)}, nil
}

// addressFields are the fields of an address subrecord.
var addressFields = map[string]fieldKind{
	"addressee": kString, "attention": kString, "addr1": kString, "addr2": kString, "addr3": kString,
	"city": kString, "state": kString, "zip": kString, "addrPhone": kString, "override": kBool, "country": kRef,
}

// readAddress merges an address body into prev.
func (d *db) readAddress(v any, path string, prev any) (any, *apiError) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, invalidValue(path, path, v)
	}
	out := map[string]any{}
	if p, ok := prev.(map[string]any); ok {
		out = cloneValue(p).(map[string]any)
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fv := m[k]
		kind, ok := addressFields[k]
		switch {
		case k == "links" || k == "addrText":
			continue
		case !ok:
			return nil, badRequest("INVALID_CONTENT", path+"."+k, fmt.Sprintf("Error while accessing a resource. Invalid field name %s: the field does not exist on the address.", k))
		case fv == nil:
			delete(out, k)
		case kind == kRef:
			code := ""
			switch c := fv.(type) {
			case string:
				code = c
			case map[string]any:
				code, _ = idString(c["id"])
			}
			if _, known := countries[code]; !known {
				return nil, invalidValue(path+".country", "country", fv)
			}
			out[k] = code
		case kind == kBool:
			b, ok := fv.(bool)
			if !ok {
				return nil, invalidValue(path+"."+k, k, fv)
			}
			out[k] = b
		default:
			s, ok := fv.(string)
			if !ok {
				return nil, invalidValue(path+"."+k, k, fv)
			}
			out[k] = s
		}
	}
	return out, nil
}

// applySublist applies a sublist body {"items": [...]}: keyed lines with a
// matching key are updated, other lines appended; with replace, lines not
// matched are removed (all lines of a non-keyed sublist).
func (d *db) applySublist(rec *record, name string, v any, o writeOpts) *apiError {
	spec := rec.rt.sublists[name]
	replace := o.create || o.replace[name]
	if v == nil {
		if replace {
			if err := d.checkRemovable(rec, name, rec.lines[name]); err != nil {
				return err
			}
			delete(rec.lines, name)
		}
		return nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return invalidValue(name, name, v)
	}
	var items []any
	if raw, ok := obj["items"]; ok && raw != nil {
		if items, ok = raw.([]any); !ok {
			return invalidValue(name+".items", name, raw)
		}
	}
	existing := rec.lines[name]
	matched := map[int]bool{}
	var added []line
	for i, raw := range items {
		path := fmt.Sprintf("%s.items[%d]", name, i)
		lm, ok := raw.(map[string]any)
		if !ok {
			return invalidValue(path, name, raw)
		}
		idx := -1
		if spec.key != "" && !o.create {
			if kv, ok := lm[spec.key]; ok && kv != nil {
				idx = d.findLine(existing, spec, kv)
				if idx < 0 && spec.key == "line" {
					return badRequest("INVALID_CONTENT", path+".line", fmt.Sprintf(
						"Error while accessing a resource. The line %s does not exist on the %s sublist.", stringOf(kv), name))
				}
				if idx >= 0 && matched[idx] {
					return badRequest("INVALID_CONTENT", path+"."+spec.key, fmt.Sprintf(
						"Error while accessing a resource. The line %s is given twice.", stringOf(kv)))
				}
			}
		}
		l := line{}
		if idx >= 0 {
			l = existing[idx]
		}
		for _, k := range slices.Sorted(maps.Keys(lm)) {
			fv := lm[k]
			if k == "line" || (k == spec.key && idx >= 0) {
				continue
			}
			if strings.HasPrefix(k, "cust") {
				setField(l, k, cloneValue(fv))
				continue
			}
			fs, ok := spec.fields[k]
			if !ok {
				if o.lenient {
					setField(l, k, cloneValue(fv))
					continue
				}
				if o.names == "Error" {
					return badRequest("INVALID_CONTENT", path+"."+k, fmt.Sprintf(
						"Error while accessing a resource. Invalid field name %s: the field does not exist on the %s sublist.", k, name))
				}
				continue
			}
			if fs.kind == kReadOnly {
				if o.lenient && fv != nil {
					if _, isNum := ratOf(fv); isNum {
						l[k] = fv
					}
				}
				continue
			}
			val, err := d.readValue(fs, fv, path+"."+k, k, l[k])
			if err != nil {
				return err
			}
			setField(l, k, val)
			if k == "amount" {
				delete(l, "_amountComputed")
			}
		}
		l["_req"] = i
		if idx >= 0 {
			matched[idx] = true
		} else {
			added = append(added, l)
		}
	}
	var kept []line
	var removed []line
	for i, l := range existing {
		if !replace || matched[i] {
			kept = append(kept, l)
		} else {
			removed = append(removed, l)
		}
	}
	if err := d.checkRemovable(rec, name, removed); err != nil {
		return err
	}
	next := int64(1)
	for _, l := range existing {
		if n, ok := l["line"].(int64); ok && n >= next {
			next = n + 1
		}
	}
	for _, l := range added {
		switch {
		case spec.key == "line":
			l["line"] = next
			next++
		case spec.key == "internalId":
			if _, ok := l["internalId"]; !ok {
				l["internalId"] = json.Number(strconv.FormatInt(d.nextUOM, 10))
			}
			if n, ok := ratOf(l["internalId"]); ok && n.IsInt() && n.Num().Int64() >= d.nextUOM {
				d.nextUOM = n.Num().Int64() + 1
			}
		}
	}
	rec.lines[name] = append(kept, added...)
	if len(rec.lines[name]) == 0 {
		delete(rec.lines, name)
	}
	return nil
}

// findLine returns the index of the line whose key matches kv, or -1.
func (d *db) findLine(ls []line, spec *sublistSpec, kv any) int {
	want := stringOf(kv)
	for i, l := range ls {
		switch k := l[spec.key].(type) {
		case int64:
			if strconv.FormatInt(k, 10) == want {
				return i
			}
		case ref:
			if k.id == want {
				return i
			}
		default:
			if stringOf(k) == want {
				return i
			}
		}
	}
	return -1
}

// checkRemovable refuses to remove sales order lines already fulfilled
// or billed.
func (d *db) checkRemovable(rec *record, name string, removed []line) *apiError {
	for _, l := range removed {
		if lineQty(l, "_fulfilled").Sign() > 0 || lineQty(l, "_billed").Sign() > 0 {
			return badRequest("USER_ERROR", name, fmt.Sprintf(
				"Error while accessing a resource. You cannot remove line %s: it has been fulfilled or billed.", stringOf(l["line"])))
		}
	}
	return nil
}

// lineQty returns a numeric line value, zero when absent.
func lineQty(l line, k string) *big.Rat {
	if r, ok := ratOf(l[k]); ok {
		return r
	}
	return new(big.Rat)
}

// validate checks mandatory fields and fills defaults once the body is
// applied.
func (d *db) validate(rec *record, o writeOpts) *apiError {
	switch rec.rt.name {
	case tSalesOrder:
		return d.validateOrder(rec, o)
	case tCustomer:
		if o.lenient {
			return nil
		}
		if isPerson, _ := rec.fields["isPerson"].(bool); isPerson {
			if rec.fields["firstName"] == nil {
				return missingValue("firstName", "First Name")
			}
			if rec.fields["lastName"] == nil {
				return missingValue("lastName", "Last Name")
			}
		} else if s, _ := rec.fields["companyName"].(string); s == "" {
			return missingValue("companyName", "Company Name")
		}
		if rec.fields["subsidiary"] == nil {
			return missingValue("subsidiary", "Primary Subsidiary")
		}
		if rec.fields["currency"] == nil {
			if sub := d.refRecord(rec.fields["subsidiary"]); sub != nil && sub.fields["currency"] != nil {
				rec.fields["currency"] = sub.fields["currency"]
			}
		}
	case tInventoryItem:
		if s, _ := rec.fields["itemId"].(string); s == "" {
			return missingValue("itemId", "Item Name/Number")
		}
		for _, f := range []string{"stockUnit", "saleUnit", "purchaseUnit"} {
			if u, ok := rec.fields[f].(string); ok && d.uomOf(rec, u) == nil {
				return invalidValue(f, f, u)
			}
		}
	}
	return nil
}

// validateOrder checks a sales order: customer, subsidiary, currency,
// lines with known items in units of their units type; fills rates and
// amounts.
func (d *db) validateOrder(rec *record, o writeOpts) *apiError {
	cust := d.refRecord(rec.fields["entity"])
	if cust == nil {
		return missingValue("entity", "Customer")
	}
	if rec.fields["subsidiary"] == nil {
		if !o.subsidiaryFromEntity && !o.lenient {
			return missingValue("subsidiary", "Subsidiary")
		}
		if cust.fields["subsidiary"] != nil {
			rec.fields["subsidiary"] = cust.fields["subsidiary"]
		}
	}
	if rec.fields["currency"] == nil {
		if c := cust.fields["currency"]; c != nil {
			rec.fields["currency"] = c
		} else if sub := d.refRecord(rec.fields["subsidiary"]); sub != nil && sub.fields["currency"] != nil {
			rec.fields["currency"] = sub.fields["currency"]
		}
	}
	if rec.status == "" {
		rec.status = o.defaultStatus
		if rec.status == "" {
			rec.status = "B"
		}
	}
	if s, ok := rec.fields["orderStatus"].(string); ok {
		if rec.status == "A" || rec.status == "B" || s == "C" || s == "H" {
			rec.status = s
		}
		delete(rec.fields, "orderStatus")
	}
	lines := rec.lines["item"]
	if len(lines) == 0 && !o.lenient {
		return badRequest("USER_ERROR", "item", "Error while accessing a resource. You must enter at least one line item for this transaction.")
	}
	for _, l := range lines {
		req, touched := l["_req"].(int)
		if !touched {
			continue
		}
		path := fmt.Sprintf("item.items[%d]", req)
		item := d.refRecord(l["item"])
		if item == nil {
			return missingValue(path+".item", "Item")
		}
		if u, ok := l["units"].(string); ok {
			if d.uomOf(item, u) == nil {
				return invalidValue(path+".units", "units", u)
			}
		} else if def := defaultUnit(item); def != "" {
			l["units"] = def
		}
		if l["quantity"] == nil {
			l["quantity"] = json.Number("1")
		}
		qty, _ := ratOf(l["quantity"])
		if l["rate"] == nil && l["amount"] == nil {
			if base, ok := ratOf(item.fields["basePrice"]); ok {
				// basePrice is per sale unit.
				per := new(big.Rat).Quo(d.conversionRate(item, l["units"]), d.conversionRate(item, item.fields["saleUnit"]))
				l["rate"] = numJSON(mul(base, per))
			}
		}
		if rate, ok := ratOf(l["rate"]); ok && (l["amount"] == nil || l["_amountComputed"] == true) {
			l["amount"] = numJSON(mul(rate, qty))
			l["_amountComputed"] = true
		}
	}
	return nil
}

// refRecord returns the record a stored reference points at.
func (d *db) refRecord(v any) *record {
	r, ok := v.(ref)
	if !ok || r.typ == "" {
		return nil
	}
	return d.byID(r.typ, r.id)
}

// uomOf returns the uom line of id in the item's units type, or nil.
func (d *db) uomOf(item *record, id string) line {
	ut := d.refRecord(item.fields["unitsType"])
	if ut == nil {
		return nil
	}
	for _, u := range ut.lines["uom"] {
		if stringOf(u["internalId"]) == id {
			return u
		}
	}
	return nil
}

// defaultUnit returns the item's sale unit, or its units type's base unit.
func defaultUnit(item *record) string {
	if u, ok := item.fields["saleUnit"].(string); ok {
		return u
	}
	return ""
}

// conversionRate returns the conversion rate of units (a uom id) of item
// to its base unit; 1 when unknown.
func (d *db) conversionRate(item *record, units any) *big.Rat {
	if id, ok := units.(string); ok && item != nil {
		if u := d.uomOf(item, id); u != nil {
			if r, ok := ratOf(u["conversionRate"]); ok {
				return r
			}
		}
	}
	return ratInt(1)
}

// commit stores rec (new when its id is 0) at time now.
func (d *db) commit(rec *record, now time.Time) {
	t := d.tables[rec.rt.name]
	now = now.Truncate(time.Second)
	if rec.id == 0 {
		if rec.rt.tranType != "" {
			rec.id = d.nextTran
		} else {
			rec.id = t.next
		}
	}
	if rec.rt.tranType != "" && rec.tranNo == 0 {
		d.tranNos[rec.rt.name]++
		rec.tranNo = 1000 + d.tranNos[rec.rt.name]
	}
	if rec.created.IsZero() {
		rec.created = now
	}
	if rec.rt.name == tCustomer && rec.fields["entityId"] == nil {
		rec.fields["entityId"] = "CUST" + strconv.FormatInt(rec.id, 10)
	}
	if rec.id >= t.next {
		t.next = rec.id + 1
	}
	if rec.rt.tranType != "" && rec.id >= d.nextTran {
		d.nextTran = rec.id + 1
	}
	if old := t.byID[rec.id]; old != nil && old.extID != "" && old.extID != rec.extID {
		delete(t.byExt, old.extID)
	}
	if rec.extID != "" {
		t.byExt[rec.extID] = rec.id
	}
	rec.modified = now
	if rec.rt.name == tSalesOrder {
		rec.status = orderStatus(rec)
	}
	t.byID[rec.id] = rec
	d.alloc = nil
}

// remove deletes a record.
func (d *db) remove(rec *record) {
	t := d.tables[rec.rt.name]
	delete(t.byID, rec.id)
	if rec.extID != "" && t.byExt[rec.extID] == rec.id {
		delete(t.byExt, rec.extID)
	}
	d.alloc = nil
}

// orderStatus derives a sales order's status from its lines.
func orderStatus(rec *record) string {
	switch rec.status {
	case "A", "C", "H":
		return rec.status
	}
	total, ful, bil := new(big.Rat), new(big.Rat), new(big.Rat)
	for _, l := range rec.lines["item"] {
		if closed, _ := l["isClosed"].(bool); closed {
			continue
		}
		total = add(total, lineQty(l, "quantity"))
		ful = add(ful, lineQty(l, "_fulfilled"))
		bil = add(bil, lineQty(l, "_billed"))
	}
	switch {
	case total.Sign() > 0 && bil.Cmp(total) >= 0:
		return "G"
	case total.Sign() > 0 && ful.Cmp(total) >= 0:
		return "F"
	case ful.Sign() > 0 && bil.Cmp(ful) < 0:
		return "E"
	case ful.Sign() > 0:
		return "D"
	}
	return "B"
}

// stockKey is an item at a location.
type stockKey struct{ item, loc int64 }

// allocation is how open sales orders commit stock.
type allocation struct {
	committed   map[stockKey]*big.Rat
	backOrdered map[stockKey]*big.Rat
	// byLine is the committed and back-ordered base quantity of each
	// order line.
	byLine map[[2]int64][2]*big.Rat
}

// onHand returns the quantity on hand of an item at a location.
func (d *db) onHand(item *record, loc int64) *big.Rat {
	for _, l := range item.lines["locations"] {
		if r, ok := l["location"].(ref); ok && r.id == strconv.FormatInt(loc, 10) {
			return lineQty(l, "quantityOnHand")
		}
	}
	return new(big.Rat)
}

// allocate commits stock to open sales order lines, oldest order first.
func (d *db) allocate() *allocation {
	if d.alloc != nil {
		return d.alloc
	}
	a := &allocation{committed: map[stockKey]*big.Rat{}, backOrdered: map[stockKey]*big.Rat{}, byLine: map[[2]int64][2]*big.Rat{}}
	for _, so := range d.tables[tSalesOrder].sorted() {
		if so.status != "B" && so.status != "D" && so.status != "E" {
			continue
		}
		for _, l := range so.lines["item"] {
			if closed, _ := l["isClosed"].(bool); closed {
				continue
			}
			item := d.refRecord(l["item"])
			loc := lineLocation(so, l)
			if item == nil || loc == 0 {
				continue
			}
			rate := d.conversionRate(item, l["units"])
			remaining := mul(sub(lineQty(l, "quantity"), lineQty(l, "_fulfilled")), rate)
			if remaining.Sign() <= 0 {
				continue
			}
			k := stockKey{item.id, loc}
			c := a.committed[k]
			if c == nil {
				c = new(big.Rat)
			}
			free := sub(d.onHand(item, loc), c)
			if free.Sign() < 0 {
				free = new(big.Rat)
			}
			take := minRat(remaining, free)
			a.committed[k] = add(c, take)
			back := sub(remaining, take)
			if b := a.backOrdered[k]; b != nil {
				a.backOrdered[k] = add(b, back)
			} else {
				a.backOrdered[k] = back
			}
			n, _ := l["line"].(int64)
			a.byLine[[2]int64{so.id, n}] = [2]*big.Rat{take, back}
		}
	}
	d.alloc = a
	return a
}

// lineLocation returns a transaction line's location, or its header's.
func lineLocation(rec *record, l line) int64 {
	for _, v := range []any{l["location"], rec.fields["location"]} {
		if r, ok := v.(ref); ok {
			if id, err := strconv.ParseInt(r.id, 10, 64); err == nil {
				return id
			}
		}
	}
	return 0
}

// stockAt returns on hand, available, committed, on order and back
// ordered quantities of an item at a location (base units).
func (d *db) stockAt(item *record, loc int64) (onHand, available, committed, onOrder, backOrdered *big.Rat) {
	a := d.allocate()
	k := stockKey{item.id, loc}
	onHand = d.onHand(item, loc)
	committed = new(big.Rat)
	if c := a.committed[k]; c != nil {
		committed = c
	}
	backOrdered = new(big.Rat)
	if b := a.backOrdered[k]; b != nil {
		backOrdered = b
	}
	onOrder = new(big.Rat)
	for _, l := range item.lines["locations"] {
		if r, ok := l["location"].(ref); ok && r.id == strconv.FormatInt(loc, 10) {
			onOrder = lineQty(l, "quantityOnOrder")
		}
	}
	available = sub(onHand, committed)
	if available.Sign() < 0 {
		available = new(big.Rat)
	}
	return
}

// refName returns the display name of a record.
func (d *db) refName(rec *record) string {
	switch rec.rt.name {
	case tCustomer:
		name, _ := rec.fields["companyName"].(string)
		if p, _ := rec.fields["isPerson"].(bool); p || name == "" {
			f, _ := rec.fields["firstName"].(string)
			l, _ := rec.fields["lastName"].(string)
			name = strings.TrimSpace(f + " " + l)
		}
		id, _ := rec.fields["entityId"].(string)
		return strings.TrimSpace(id + " " + name)
	case tInventoryItem:
		s, _ := rec.fields["itemId"].(string)
		return s
	case tSalesOrder:
		return "Sales Order #" + tranID(rec)
	case tItemFulfillment:
		return "Item Fulfillment #" + tranID(rec)
	case tInvoice:
		return "Invoice #" + tranID(rec)
	}
	s, _ := rec.fields["name"].(string)
	return s
}

// tranID returns a transaction's number, e.g. "SO1001".
func tranID(rec *record) string {
	return rec.rt.tranPrefix + strconv.FormatInt(rec.tranNo, 10)
}
