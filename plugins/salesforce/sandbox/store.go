package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
	"time"
)

// apiError is one error of a Salesforce error body.
type apiError struct {
	Message   string
	ErrorCode string
	Fields    []string
	dml       bool // DML errors always carry "fields"
}

// MarshalJSON writes {"message","errorCode"[,"fields"]}.
func (e apiError) MarshalJSON() ([]byte, error) {
	m := &omap{}
	m.set("message", e.Message)
	m.set("errorCode", e.ErrorCode)
	if e.dml || len(e.Fields) > 0 {
		f := e.Fields
		if f == nil {
			f = []string{}
		}
		m.set("fields", f)
	}
	return m.MarshalJSON()
}

// statusError is apiError as sObject Collections write it: statusCode
// instead of errorCode.
func (e apiError) collection() *omap {
	m := &omap{}
	m.set("statusCode", e.ErrorCode)
	m.set("message", e.Message)
	f := e.Fields
	if f == nil {
		f = []string{}
	}
	m.set("fields", f)
	return m
}

func dmlErr(code, msg string, fields ...string) apiError {
	return apiError{Message: msg, ErrorCode: code, Fields: fields, dml: true}
}

// omap is a JSON object that keeps its keys in insertion order.
type omap struct {
	keys []string
	vals map[string]any
}

func (m *omap) set(k string, v any) {
	if m.vals == nil {
		m.vals = map[string]any{}
	}
	if _, ok := m.vals[k]; !ok {
		m.keys = append(m.keys, k)
	}
	m.vals[k] = v
}

func (m *omap) get(k string) (any, bool) {
	v, ok := m.vals[k]
	return v, ok
}

// MarshalJSON writes the members in order, without HTML escaping.
func (m *omap) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range m.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, err := marshal(k)
		if err != nil {
			return nil, err
		}
		buf.Write(kb)
		buf.WriteByte(':')
		vb, err := marshal(m.vals[k])
		if err != nil {
			return nil, err
		}
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// marshal encodes v as JSON without HTML escaping.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// record is one stored record: field values by canonical name.
type record struct {
	obj *Object
	f   map[string]any
}

func (r *record) id() string {
	s, _ := r.f["Id"].(string)
	return s
}

func (r *record) deleted() bool {
	b, _ := r.f["IsDeleted"].(bool)
	return b
}

func (r *record) str(name string) string {
	s, _ := r.f[name].(string)
	return s
}

func (r *record) stamp() time.Time {
	t, _ := r.f["SystemModstamp"].(time.Time)
	return t
}

// dmlContext says who writes and how.
type dmlContext struct {
	user string // user id for the audit fields
	// seed writes bypass the rules API writes follow: free-text countries
	// are kept as written, audit fields may be set, orders may be seeded
	// activated with their items.
	seed bool
}

// db is an org's data.
type db struct {
	schema   *schema
	recs     map[string]*record   // by 18-character id
	lists    map[string][]*record // by object name, in id (creation) order
	counters map[string]int64     // id counters by prefix
	autonum  map[string]int64     // auto-number counters by object.field
	country  *countryPicklist     // nil without State and Country picklists
	now      func() time.Time
	journal  *journal
	changed  []*record // records changed by the current operation
	// details holds the detail records (order products, opportunity
	// products) by their master's id, in creation order; the master field
	// is create-only, so a detail never moves.
	details map[string][]*record
}

// journal remembers what an allOrNone operation changed, to roll it back.
type journal struct {
	old   map[string]map[string]any // id → fields before; nil for records inserted
	order []string
}

func (d *db) save(r *record) {
	if d.journal == nil {
		return
	}
	id := r.id()
	if _, ok := d.journal.old[id]; ok {
		return
	}
	d.journal.old[id] = maps.Clone(r.f)
	d.journal.order = append(d.journal.order, id)
}

// begin starts an operation that rollback can undo.
func (d *db) begin() { d.journal = &journal{old: map[string]map[string]any{}} }

// commit ends the operation and keeps its changes.
func (d *db) commit() { d.journal = nil }

// rollback undoes the changes of the operation.
func (d *db) rollback() {
	j := d.journal
	d.journal = nil
	if j == nil {
		return
	}
	for _, id := range slices.Backward(j.order) {
		r := d.recs[id]
		if r == nil {
			continue
		}
		if old := j.old[id]; old != nil {
			r.f = old
			continue
		}
		delete(d.recs, id)
		name := r.obj.Name
		d.lists[name] = slices.DeleteFunc(d.lists[name], func(x *record) bool { return x == r })
		if m := d.master(r); m != nil {
			d.details[m.id()] = slices.DeleteFunc(d.details[m.id()], func(x *record) bool { return x == r })
		}
	}
	d.changed = nil
}

func newDB(s *schema, country *countryPicklist, now func() time.Time) *db {
	return &db{schema: s, recs: map[string]*record{}, lists: map[string][]*record{}, details: map[string][]*record{},
		counters: map[string]int64{}, autonum: map[string]int64{}, country: country, now: now}
}

// master returns a detail record's master, nil for other records.
func (d *db) master(r *record) *record {
	if p := parentOf(r.obj.Name); p != "" {
		return d.get(r.str(p + "Id"))
	}
	return nil
}

// liveDetails returns the master's detail records that are not deleted.
func (d *db) liveDetails(master *record) []*record {
	var out []*record
	for _, c := range d.details[master.id()] {
		if !c.deleted() {
			out = append(out, c)
		}
	}
	return out
}

func (d *db) stampNow() time.Time { return d.now().UTC().Truncate(time.Millisecond) }

func (d *db) get(id string) *record {
	if !validID(id) {
		return nil
	}
	return d.recs[to18(id)]
}

// live returns the record with that id unless it is deleted.
func (d *db) live(id string) *record {
	if r := d.get(id); r != nil && !r.deleted() {
		return r
	}
	return nil
}

func (d *db) nextAuto(key string, start int64, width int) string {
	n, ok := d.autonum[key]
	if !ok {
		n = start
	}
	d.autonum[key] = n + 1
	return fmt.Sprintf("%0*d", width, n)
}

// input is a decoded request body for one record.
type input map[string]any

// decodeInput decodes a JSON object keeping numbers exact.
func decodeInput(data []byte) (input, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
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

// auditFields are the system fields a seed may set.
var auditFields = map[string]bool{"CreatedDate": true, "LastModifiedDate": true, "SystemModstamp": true}

// convert turns an input into field values, checking names, access and
// types. Relationship references by external ID ("Account":
// {"ExternalId__c": "A-1"}) are resolved to the reference field.
func (d *db) convert(obj *Object, in input, creating bool, ctx dmlContext) (map[string]any, []apiError) {
	out := map[string]any{}
	var errs []apiError
	var readOnly []string
	for _, k := range slices.Sorted(maps.Keys(in)) {
		v := in[k]
		if strings.EqualFold(k, "attributes") {
			continue
		}
		f := obj.field(k)
		if f == nil {
			if rf := obj.rels[strings.ToLower(k)]; rf != nil {
				if m, ok := v.(map[string]any); ok {
					id, err := d.resolveForeignKey(rf, m)
					if err != nil {
						errs = append(errs, *err)
						continue
					}
					out[rf.Name] = id
					continue
				}
			}
			errs = append(errs, dmlErr("INVALID_FIELD", fmt.Sprintf("No such column '%s' on sobject of type %s", k, obj.Name), k))
			continue
		}
		if f.Name == "Id" {
			if creating && v != nil && !ctx.seed {
				readOnly = append(readOnly, f.Name)
			}
			continue // the id is in the URL, or checked by the caller
		}
		allowed := f.Updateable || creating && f.Createable || ctx.seed && (auditFields[f.Name] || f.Type != TypeID)
		if !allowed {
			readOnly = append(readOnly, f.Name)
			continue
		}
		val, code, msg := convertValue(f, v)
		if code != "" {
			errs = append(errs, dmlErr(code, msg, f.Name))
			continue
		}
		if val != nil && f.Type == TypePicklist && f.Restricted && !slices.Contains(f.Picklist, val.(string)) {
			errs = append(errs, dmlErr("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", fmt.Sprintf("%s: bad value for restricted picklist field: %s", f.Label(), val), f.Name))
			continue
		}
		out[f.Name] = val
	}
	if len(readOnly) > 0 {
		errs = append(errs, dmlErr("INVALID_FIELD_FOR_INSERT_UPDATE",
			fmt.Sprintf("Unable to create/update fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", strings.Join(readOnly, ", ")),
			readOnly...))
	}
	return out, errs
}

// Label returns the field's label: its name with spaces between words.
func (f *Field) Label() string {
	name := strings.TrimSuffix(f.Name, "__c")
	name = strings.TrimSuffix(name, "Id")
	var b strings.Builder
	for i, r := range name {
		if i > 0 && r >= 'A' && r <= 'Z' && name[i-1] >= 'a' && name[i-1] <= 'z' {
			b.WriteByte(' ')
		}
		if r == '_' {
			r = ' '
		}
		b.WriteRune(r)
	}
	return b.String()
}

// resolveForeignKey finds the record a relationship reference by external
// ID names.
func (d *db) resolveForeignKey(rf *Field, m map[string]any) (string, *apiError) {
	target := d.schema.object(rf.ReferenceTo)
	for k, v := range m {
		if strings.EqualFold(k, "attributes") {
			continue
		}
		f := target.field(k)
		if f == nil || !(f.ExternalID || f.Name == "Id") {
			e := dmlErr("INVALID_FIELD", fmt.Sprintf("Field name provided, %s is not an External ID or indexed field for %s", k, target.Name), rf.Name)
			return "", &e
		}
		val, _, _ := convertValue(f, v)
		matches := d.find(target, f, val)
		switch len(matches) {
		case 0:
			e := dmlErr("INVALID_FIELD", fmt.Sprintf("Foreign key external ID: %v not found for field %s in entity %s", v, f.Name, target.Name), rf.Name)
			return "", &e
		case 1:
			return matches[0].id(), nil
		default:
			e := dmlErr("DUPLICATE_EXTERNAL_ID", fmt.Sprintf("Foreign key external ID: %v matches more than one record for field %s in entity %s", v, f.Name, target.Name), rf.Name)
			return "", &e
		}
	}
	e := dmlErr("INVALID_FIELD", fmt.Sprintf("A foreign key reference to %s needs an external ID field", target.Name), rf.Name)
	return "", &e
}

// find returns the live records of obj whose field equals val
// (case-insensitively for text).
func (d *db) find(obj *Object, f *Field, val any) []*record {
	if val == nil {
		return nil
	}
	if f.Name == "Id" {
		if r := d.live(fmt.Sprint(val)); r != nil && r.obj == obj {
			return []*record{r}
		}
		return nil
	}
	var out []*record
	for _, r := range d.lists[obj.Name] {
		if !r.deleted() && r.f[f.Name] != nil && compare(f.Type, r.f[f.Name], val) == 0 {
			out = append(out, r)
		}
	}
	return out
}

// insert creates a record.
func (d *db) insert(obj *Object, in input, ctx dmlContext) (*record, []apiError) {
	vals, errs := d.convert(obj, in, true, ctx)
	if len(errs) > 0 {
		return nil, errs
	}
	f := map[string]any{}
	for _, fd := range obj.order {
		if fd.Default != nil {
			f[fd.Name] = fd.Default
		}
	}
	maps.Copy(f, vals)
	r := &record{obj: obj, f: f}
	if errs := d.validate(r, nil, vals, ctx); len(errs) > 0 {
		return nil, errs
	}
	now := d.stampNow()
	d.counters[obj.Prefix]++
	id := makeID(obj.Prefix, d.counters[obj.Prefix])
	f["Id"] = id
	for _, name := range []string{"CreatedDate", "LastModifiedDate", "SystemModstamp"} {
		if _, set := vals[name]; !set || !ctx.seed {
			f[name] = now
		}
	}
	f["CreatedById"], f["LastModifiedById"] = ctx.user, ctx.user
	f["IsDeleted"] = false
	d.assignAuto(r)
	d.recs[id] = r
	d.lists[obj.Name] = append(d.lists[obj.Name], r)
	if m := d.master(r); m != nil {
		d.details[m.id()] = append(d.details[m.id()], r)
	}
	if d.journal != nil {
		d.journal.old[id] = nil
		d.journal.order = append(d.journal.order, id)
	}
	d.changed = append(d.changed, r)
	d.afterChange(r, ctx)
	return r, nil
}

// update changes a record.
func (d *db) update(r *record, in input, ctx dmlContext) []apiError {
	if r.deleted() {
		return []apiError{dmlErr("ENTITY_IS_DELETED", "entity is deleted")}
	}
	vals, errs := d.convert(r.obj, in, false, ctx)
	if len(errs) > 0 {
		return errs
	}
	next := &record{obj: r.obj, f: maps.Clone(r.f)}
	maps.Copy(next.f, vals)
	if errs := d.validate(next, r, vals, ctx); len(errs) > 0 {
		return errs
	}
	d.save(r)
	r.f = next.f
	now := d.stampNow()
	if _, set := vals["LastModifiedDate"]; !set || !ctx.seed {
		r.f["LastModifiedDate"] = now
	}
	if _, set := vals["SystemModstamp"]; !set || !ctx.seed {
		r.f["SystemModstamp"] = now
	}
	r.f["LastModifiedById"] = ctx.user
	d.changed = append(d.changed, r)
	d.afterChange(r, ctx)
	return nil
}

// remove deletes a record (to the recycle bin: IsDeleted, still visible
// to queryAll), with its dependent children.
func (d *db) remove(r *record, ctx dmlContext) []apiError {
	if r.deleted() {
		return []apiError{dmlErr("ENTITY_IS_DELETED", "entity is deleted")}
	}
	if r.obj.Name == "Order" && r.str("StatusCode") == "Activated" && !ctx.seed {
		return []apiError{dmlErr("FIELD_INTEGRITY_EXCEPTION", "You can't delete an activated order. Deactivate the order first.", "Status")}
	}
	if parentOf(r.obj.Name) != "" {
		if p := d.live(r.str(parentOf(r.obj.Name) + "Id")); p != nil && p.obj.Name == "Order" && p.str("StatusCode") == "Activated" && !ctx.seed {
			return []apiError{dmlErr("FIELD_INTEGRITY_EXCEPTION", "You can't change the products of an activated order.", "OrderId")}
		}
	}
	d.save(r)
	now := d.stampNow()
	r.f = maps.Clone(r.f)
	r.f["IsDeleted"] = true
	r.f["SystemModstamp"], r.f["LastModifiedDate"], r.f["LastModifiedById"] = now, now, ctx.user
	d.changed = append(d.changed, r)
	d.cascade(r, ctx)
	d.afterChange(r, ctx)
	return nil
}

// cascade deletes a deleted master's detail records with it (a record of
// another kind has none).
func (d *db) cascade(parent *record, ctx dmlContext) {
	for _, c := range d.liveDetails(parent) {
		d.save(c)
		c.f = maps.Clone(c.f)
		c.f["IsDeleted"] = true
		c.f["SystemModstamp"], c.f["LastModifiedDate"], c.f["LastModifiedById"] = parent.f["SystemModstamp"], parent.f["SystemModstamp"], ctx.user
	}
}

// parentOf names the master of a detail object.
func parentOf(obj string) string {
	switch obj {
	case "OrderItem":
		return "Order"
	case "OpportunityLineItem":
		return "Opportunity"
	}
	return ""
}

// validate checks a record about to be saved (old is nil on insert) and
// fills in what Salesforce derives. vals are the fields the write set.
func (d *db) validate(r, old *record, vals map[string]any, ctx dmlContext) []apiError {
	obj := r.obj
	var errs []apiError
	// References must point at live records of the right object.
	for name, v := range vals {
		f := obj.field(name)
		if f == nil || f.Type != TypeReference || v == nil {
			continue
		}
		t := d.live(v.(string))
		if t == nil || !strings.EqualFold(t.obj.Name, f.ReferenceTo) {
			errs = append(errs, dmlErr("INVALID_CROSS_REFERENCE_KEY", fmt.Sprintf("invalid cross reference id: %s", f.Name), f.Name))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if errs := d.rules(r, old, vals, ctx); len(errs) > 0 {
		return errs
	}
	var missing []string
	for _, f := range obj.order {
		if f.Required && r.f[f.Name] == nil {
			if _, set := vals[f.Name]; old == nil || set {
				missing = append(missing, f.Name)
			}
		}
	}
	if len(missing) > 0 {
		return []apiError{dmlErr("REQUIRED_FIELD_MISSING", fmt.Sprintf("Required fields are missing: [%s]", strings.Join(missing, ", ")), missing...)}
	}
	if d.country != nil {
		for _, prefix := range []string{"Billing", "Shipping"} {
			if obj.Has(prefix + "CountryCode") {
				if e := d.syncAddress(r, prefix, vals, ctx); e != nil {
					return []apiError{*e}
				}
			}
		}
	}
	for _, f := range obj.order {
		if !f.Unique || r.f[f.Name] == nil {
			continue
		}
		for _, o := range d.find(obj, f, r.f[f.Name]) {
			if o.id() != r.id() || old == nil {
				return []apiError{dmlErr("DUPLICATE_VALUE", fmt.Sprintf("duplicate value found: %s duplicates value on record with id: %s", f.Name, o.id()), f.Name)}
			}
		}
	}
	return nil
}

// syncAddress keeps an address's country and state codes and integration
// values in step, as the State and Country picklists do.
func (d *db) syncAddress(r *record, prefix string, vals map[string]any, ctx dmlContext) *apiError {
	cf, ccf, sf, scf := prefix+"Country", prefix+"CountryCode", prefix+"State", prefix+"StateCode"
	_, countrySet := vals[cf]
	_, codeSet := vals[ccf]
	_, stateSet := vals[sf]
	_, stateCodeSet := vals[scf]
	bad := func(field, what string) *apiError {
		e := dmlErr("FIELD_INTEGRITY_EXCEPTION", fmt.Sprintf("There's a problem with this %s, even though it may appear correct. Please select a %s from the list of valid %s.: %s", what, what, map[string]string{"country/territory": "countries", "state": "states"}[what], r.obj.field(field).Label()), field)
		return &e
	}
	switch {
	case codeSet:
		code, _ := r.f[ccf].(string)
		if code == "" {
			delete(r.f, cf)
			delete(r.f, sf)
			delete(r.f, scf)
			break
		}
		code = strings.ToUpper(code)
		name, ok := d.country.value[code]
		if !ok {
			return bad(ccf, "country/territory")
		}
		if countrySet && r.f[cf] != nil {
			if c, ok := d.country.codeOf(r.f[cf].(string), ctx.seed); !ok || c != code {
				return bad(cf, "country/territory")
			}
		}
		r.f[ccf] = code
		if !ctx.seed || !countrySet {
			r.f[cf] = name
		}
	case countrySet:
		text, _ := r.f[cf].(string)
		if text == "" {
			delete(r.f, ccf)
			delete(r.f, scf)
			break
		}
		code, ok := d.country.codeOf(text, ctx.seed)
		if !ok {
			return bad(cf, "country/territory")
		}
		r.f[ccf] = code
		if !ctx.seed {
			r.f[cf] = d.country.value[code]
		}
	}
	country, _ := r.f[ccf].(string)
	switch {
	case stateCodeSet && r.f[scf] != nil:
		code := strings.ToUpper(r.f[scf].(string))
		if country == "" {
			e := dmlErr("FIELD_INTEGRITY_EXCEPTION", fmt.Sprintf("A country/territory must be specified before specifying a state value for field: %s", r.obj.field(scf).Label()), scf)
			return &e
		}
		r.f[scf] = code
		if name, ok := stateName(country, code); ok {
			r.f[sf] = name
		} else if country == "US" {
			return bad(scf, "state")
		}
	case stateSet && r.f[sf] != nil:
		if code, ok := stateCode(country, r.f[sf].(string)); ok {
			r.f[scf] = code
			if !ctx.seed {
				r.f[sf], _ = stateName(country, code)
			}
		} else if country == "US" && !ctx.seed {
			return bad(sf, "state")
		} else {
			delete(r.f, scf)
		}
	case stateSet:
		delete(r.f, scf)
	}
	return nil
}

// money parses a stored number (nil as zero).
func money(v any) *big.Rat {
	if n, ok := v.(json.Number); ok {
		if r, ok := parseNumber(n.String()); ok {
			return r
		}
	}
	return new(big.Rat)
}

// rules applies the object-specific rules before a save.
func (d *db) rules(r, old *record, vals map[string]any, ctx dmlContext) []apiError {
	_, statusSet := vals["Status"]
	switch r.obj.Name {
	case "Order":
		if r.f["Status"] != nil {
			r.f["StatusCode"] = r.f["Status"]
		}
		activating := r.str("StatusCode") == "Activated" && (old == nil || old.str("StatusCode") != "Activated")
		if old != nil && old.str("StatusCode") == "Activated" {
			if _, set := vals["AccountId"]; set && vals["AccountId"] != old.f["AccountId"] {
				return []apiError{dmlErr("FIELD_INTEGRITY_EXCEPTION", "You can't change the account of an activated order.", "AccountId")}
			}
		}
		if old != nil && vals["Pricebook2Id"] != old.f["Pricebook2Id"] {
			if _, set := vals["Pricebook2Id"]; set && len(d.liveDetails(r)) > 0 {
				return []apiError{dmlErr("FIELD_INTEGRITY_EXCEPTION", "You can't change the price book of an order that has order products.", "Pricebook2Id")}
			}
		}
		if activating && statusSet && !ctx.seed {
			if old == nil || len(d.liveDetails(r)) == 0 {
				return []apiError{dmlErr("FIELD_INTEGRITY_EXCEPTION", "You can't activate an order that has no order products.", "Status")}
			}
		}
		if activating {
			if _, set := vals["ActivatedDate"]; !set {
				r.f["ActivatedDate"] = d.stampNow()
			}
		}
		if old == nil && r.f["TotalAmount"] == nil {
			r.f["TotalAmount"] = formatMoney(new(big.Rat))
		}
	case "OrderItem", "OpportunityLineItem":
		parentName := parentOf(r.obj.Name)
		parent := d.live(r.str(parentName + "Id"))
		if parent == nil {
			return []apiError{dmlErr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", parentName+"Id")}
		}
		if parentName == "Order" && parent.str("StatusCode") == "Activated" && !ctx.seed {
			return []apiError{dmlErr("FIELD_INTEGRITY_EXCEPTION", "You can't change the products of an activated order.", "OrderId")}
		}
		entry := d.live(r.str("PricebookEntryId"))
		if entry == nil {
			return []apiError{dmlErr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", "PricebookEntryId")}
		}
		book := parent.str("Pricebook2Id")
		if book == "" && parentName == "Opportunity" {
			book = entry.str("Pricebook2Id")
			d.save(parent)
			parent.f = maps.Clone(parent.f)
			parent.f["Pricebook2Id"] = book
		}
		if entry.str("Pricebook2Id") != book {
			return []apiError{dmlErr("FIELD_INTEGRITY_EXCEPTION", "field integrity exception: PricebookEntryId (pricebook entry is in a different pricebook than the one assigned to the "+strings.ToLower(parentName)+")", "PricebookEntryId")}
		}
		if p, set := vals["Product2Id"]; set && p != nil && p != entry.f["Product2Id"] {
			return []apiError{dmlErr("FIELD_INTEGRITY_EXCEPTION", "field integrity exception: Product2Id (product does not match the pricebook entry)", "Product2Id")}
		}
		r.f["Product2Id"] = entry.f["Product2Id"]
		r.f["ListPrice"] = entry.f["UnitPrice"]
		if r.obj.Name == "OpportunityLineItem" {
			product := d.get(entry.str("Product2Id"))
			r.f["ProductCode"], r.f["Name"] = product.f["ProductCode"], product.f["Name"]
			_, unitSet := vals["UnitPrice"]
			_, totalSet := vals["TotalPrice"]
			switch {
			case unitSet && totalSet && vals["UnitPrice"] != nil && vals["TotalPrice"] != nil:
				return []apiError{dmlErr("FIELD_INTEGRITY_EXCEPTION", "field integrity exception: TotalPrice (only one of unit price or total price may be specified)", "TotalPrice")}
			case totalSet && r.f["TotalPrice"] != nil && r.f["Quantity"] != nil:
				q := money(r.f["Quantity"])
				if q.Sign() != 0 {
					r.f["UnitPrice"] = formatMoney(new(big.Rat).Quo(money(r.f["TotalPrice"]), q))
				}
			case r.f["UnitPrice"] == nil:
				return []apiError{dmlErr("REQUIRED_FIELD_MISSING", "Required fields are missing: [UnitPrice]", "UnitPrice")}
			}
		}
		if r.f["Quantity"] != nil && r.f["UnitPrice"] != nil {
			r.f["TotalPrice"] = formatMoney(new(big.Rat).Mul(money(r.f["Quantity"]), money(r.f["UnitPrice"])))
		}
		if old == nil && r.obj.Name == "OrderItem" {
			r.f["OrderItemNumber"] = d.nextAuto("OrderItem.OrderItemNumber", 1, 10)
		}
	case "PricebookEntry":
		product := d.live(r.str("Product2Id"))
		book := d.live(r.str("Pricebook2Id"))
		if product == nil || book == nil {
			return []apiError{dmlErr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", "Product2Id")}
		}
		r.f["Name"], r.f["ProductCode"] = product.f["Name"], product.f["ProductCode"]
		if old != nil {
			break
		}
		standard := false
		for _, e := range d.lists["PricebookEntry"] {
			if e.deleted() || e.str("Product2Id") != product.id() {
				continue
			}
			if e.str("Pricebook2Id") == book.id() {
				return []apiError{dmlErr("DUPLICATE_VALUE", "This price definition already exists in this price book", "Pricebook2Id")}
			}
			if sb := d.get(e.str("Pricebook2Id")); sb != nil && sb.f["IsStandard"] == true {
				standard = true
			}
		}
		if book.f["IsStandard"] != true && !standard {
			return []apiError{dmlErr("STANDARD_PRICE_NOT_DEFINED", "No standard price defined for this product", "Pricebook2Id")}
		}
	case "Opportunity":
		stage := r.str("StageName")
		r.f["IsWon"] = stage == "Closed Won"
		r.f["IsClosed"] = stage == "Closed Won" || stage == "Closed Lost"
	case "User":
		r.f["Name"] = strings.TrimSpace(r.str("FirstName") + " " + r.str("LastName"))
	}
	return nil
}

// assignAuto fills auto-number fields on insert.
func (d *db) assignAuto(r *record) {
	if r.obj.Name == "Order" && r.f["OrderNumber"] == nil {
		r.f["OrderNumber"] = d.nextAuto("Order.OrderNumber", 100, 8)
	}
}

// afterChange rolls child changes up into their parent: an order's
// TotalAmount, an opportunity's Amount, stamping the parent.
func (d *db) afterChange(r *record, ctx dmlContext) {
	parent := d.master(r)
	if parent == nil || parent.deleted() {
		return
	}
	total := new(big.Rat)
	kids := d.liveDetails(parent)
	for _, c := range kids {
		total.Add(total, money(c.f["TotalPrice"]))
	}
	d.save(parent)
	parent.f = maps.Clone(parent.f)
	if parent.obj.Name == "Order" {
		parent.f["TotalAmount"] = formatMoney(total)
	} else if len(kids) > 0 {
		parent.f["Amount"] = formatMoney(total)
	}
	now := r.stamp()
	if now.IsZero() {
		now = d.stampNow()
	}
	if now.After(parent.stamp()) {
		parent.f["SystemModstamp"], parent.f["LastModifiedDate"] = now, now
	}
	parent.f["LastModifiedById"] = ctx.user
	d.changed = append(d.changed, parent)
}

// takeChanged returns and forgets the records changed since the last call,
// each once.
func (d *db) takeChanged() []*record {
	seen := map[*record]bool{}
	var out []*record
	for _, r := range d.changed {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	d.changed = nil
	return out
}

// view writes a record as the REST API does: attributes, then every field
// in schema order (or only those named).
func (d *db) view(r *record, version string, only []string) *omap {
	m := &omap{}
	m.set("attributes", attributes(r, version))
	if only != nil {
		for _, name := range only {
			if f := r.obj.field(name); f != nil {
				m.set(f.Name, outValue(r.f[f.Name]))
			}
		}
		return m
	}
	for _, f := range r.obj.order {
		m.set(f.Name, outValue(r.f[f.Name]))
	}
	return m
}

func attributes(r *record, version string) *omap {
	a := &omap{}
	a.set("type", r.obj.Name)
	a.set("url", fmt.Sprintf("/services/data/%s/sobjects/%s/%s", version, r.obj.Name, r.id()))
	return a
}
