package sandbox

import (
	"encoding/json"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
)

// link returns a HATEOAS link.
func link(rel, href string) map[string]any { return map[string]any{"rel": rel, "href": href} }

// selfLinks returns [{"rel":"self","href":href}].
func selfLinks(href string) []any { return []any{link("self", href)} }

// recordURL is the URL of a record.
func recordURL(base string, rec *record) string {
	return base + RecordPath + rec.rt.link() + "/" + strconv.FormatInt(rec.id, 10)
}

// datetime renders a datetime as the REST API does: UTC, minute precision.
func datetime(t time.Time) string {
	return t.UTC().Truncate(time.Minute).Format("2006-01-02T15:04:05Z")
}

// renderer renders records for one request.
type renderer struct {
	d     *db
	opts  Options
	base  string
	now   time.Time
	limit map[string]bool // ?fields=, nil for all
}

// record renders rec; expand inlines sublists and subrecords.
func (rn *renderer) record(rec *record, expand bool, self string) map[string]any {
	url := recordURL(rn.base, rec)
	out := map[string]any{"id": strconv.FormatInt(rec.id, 10), "links": selfLinks(self)}
	if rec.extID != "" {
		out["externalId"] = rec.extID
	}
	for k, v := range rec.fields {
		if strings.HasPrefix(k, "_") {
			continue
		}
		spec := rec.rt.fields[k]
		switch {
		case spec.kind == kAddress:
			if expand {
				out[k] = rn.address(v, url+"/"+k)
			} else {
				out[k] = map[string]any{"links": selfLinks(url + "/" + k)}
			}
		case spec.kind == kUnits:
			out[k] = rn.unitsRef(rec, v)
		default:
			out[k] = rn.value(v)
		}
	}
	rn.computed(rec, out)
	for name := range rec.rt.sublists {
		href := url + "/" + name
		if !expand {
			out[name] = map[string]any{"links": selfLinks(href)}
			continue
		}
		items := []any{}
		for _, l := range rec.lines[name] {
			items = append(items, rn.line(rec, name, l))
		}
		out[name] = map[string]any{"items": items, "totalResults": len(items), "links": selfLinks(href)}
	}
	if rn.limit != nil {
		for k := range out {
			if k != "id" && k != "links" && !rn.limit[k] {
				delete(out, k)
			}
		}
	}
	return out
}

// value renders a stored value: references become {id, refName, links}.
func (rn *renderer) value(v any) any {
	switch v := v.(type) {
	case ref:
		return rn.ref(v)
	case *big.Rat:
		return numJSON(v)
	}
	return v
}

// ref renders a reference.
func (rn *renderer) ref(r ref) map[string]any {
	out := map[string]any{"id": r.id}
	if r.typ == "" {
		return out
	}
	if target := rn.d.byID(r.typ, r.id); target != nil {
		out["refName"] = rn.d.refName(target)
		out["links"] = selfLinks(recordURL(rn.base, target))
	}
	return out
}

// unitsRef renders an item's unit field as {id, refName}.
func (rn *renderer) unitsRef(item *record, v any) any {
	id, _ := v.(string)
	out := map[string]any{"id": id}
	if u := rn.d.uomOf(item, id); u != nil {
		out["refName"] = u["unitName"]
	}
	return out
}

// address renders an address subrecord.
func (rn *renderer) address(v any, href string) map[string]any {
	m, _ := v.(map[string]any)
	out := map[string]any{"links": selfLinks(href), "override": false}
	for k, fv := range m {
		if k == "country" {
			code, _ := fv.(string)
			out[k] = map[string]any{"id": code, "refName": countries[code]}
			continue
		}
		out[k] = fv
	}
	out["addrText"] = addressText(m)
	return out
}

// addressText is the flat text of an address, as NetSuite formats it.
func addressText(m map[string]any) string {
	get := func(k string) string { s, _ := m[k].(string); return s }
	var lines []string
	for _, k := range []string{"attention", "addressee", "addr1", "addr2", "addr3"} {
		if s := get(k); s != "" {
			lines = append(lines, s)
		}
	}
	cityLine := strings.TrimSpace(strings.Join(slices.DeleteFunc([]string{get("city"), get("state"), get("zip")}, func(s string) bool { return s == "" }), " "))
	if cityLine != "" {
		lines = append(lines, cityLine)
	}
	if c := get("country"); c != "" {
		lines = append(lines, countries[c])
	}
	return strings.Join(lines, "\r\n")
}

// line renders one sublist line.
func (rn *renderer) line(rec *record, sublist string, l line) map[string]any {
	out := map[string]any{}
	for k, v := range l {
		if strings.HasPrefix(k, "_") {
			continue
		}
		switch {
		case k == "units":
			id, _ := v.(string)
			if rn.opts.UnitsAsReference {
				item := rn.d.refRecord(l["item"])
				if item != nil {
					out[k] = rn.unitsRef(item, id)
					continue
				}
			}
			out[k] = id
		case k == "line":
			out[k] = v
		default:
			out[k] = rn.value(v)
		}
	}
	url := recordURL(rn.base, rec) + "/" + sublist
	switch {
	case rec.rt.tranType != "" && sublist == "item":
		out["itemType"] = map[string]any{"id": "InvtPart", "refName": "InvtPart"}
		n, _ := l["line"].(int64)
		url += "/" + strconv.FormatInt(n, 10)
		if rec.rt.name == tSalesOrder {
			rn.orderLineQuantities(rec, l, out)
		}
	case rec.rt.name == tInventoryItem && sublist == "locations":
		r, _ := l["location"].(ref)
		loc, _ := strconv.ParseInt(r.id, 10, 64)
		onHand, avail, committed, onOrder, back := rn.d.stockAt(rec, loc)
		out["locationId"] = map[string]any{"id": r.id, "refName": rn.refNameOf(r)}
		out["quantityOnHand"] = numJSON(onHand)
		out["quantityAvailable"] = numJSON(avail)
		out["quantityCommitted"] = numJSON(committed)
		out["quantityOnOrder"] = numJSON(onOrder)
		out["quantityBackOrdered"] = numJSON(back)
		url += "/" + r.id
	case sublist == "uom":
		url += "/" + stringOf(l["internalId"])
	case sublist == "addressBook":
		if a, ok := l["addressBookAddress"]; ok {
			out["addressBookAddress"] = rn.address(a, url+"/addressBookAddress")
		}
	}
	out["links"] = selfLinks(url)
	return out
}

func (rn *renderer) refNameOf(r ref) string {
	if t := rn.d.byID(r.typ, r.id); t != nil {
		return rn.d.refName(t)
	}
	return ""
}

// orderLineQuantities adds a sales order line's stock and progress
// quantities.
func (rn *renderer) orderLineQuantities(rec *record, l line, out map[string]any) {
	out["quantityFulfilled"] = numJSON(lineQty(l, "_fulfilled"))
	out["quantityBilled"] = numJSON(lineQty(l, "_billed"))
	item := rn.d.refRecord(l["item"])
	loc := lineLocation(rec, l)
	if item == nil || loc == 0 {
		return
	}
	onHand, avail, _, _, _ := rn.d.stockAt(item, loc)
	out["quantityOnHand"] = numJSON(onHand)
	out["quantityAvailable"] = numJSON(avail)
	n, _ := l["line"].(int64)
	if c, ok := rn.d.allocate().byLine[[2]int64{rec.id, n}]; ok {
		out["quantityCommitted"] = numJSON(c[0])
		out["quantityBackOrdered"] = numJSON(c[1])
	}
}

// computed adds the read-only fields of a record.
func (rn *renderer) computed(rec *record, out map[string]any) {
	switch rec.rt.name {
	case tSalesOrder, tItemFulfillment, tInvoice:
		out["tranId"] = tranID(rec)
		if _, ok := out["tranDate"]; !ok {
			out["tranDate"] = rec.created.In(rn.opts.Location).Format("2006-01-02")
		}
		out["createdDate"] = datetime(rec.created)
		out["lastModifiedDate"] = datetime(rec.modified)
		if a, ok := rec.fields["shippingAddress"].(map[string]any); ok {
			out["shipAddress"] = addressText(a)
		}
		if a, ok := rec.fields["billingAddress"].(map[string]any); ok {
			out["billAddress"] = addressText(a)
		}
	case tCustomer:
		out["dateCreated"] = datetime(rec.created)
		out["lastModifiedDate"] = datetime(rec.modified)
		for _, l := range rec.lines["addressBook"] {
			if b, _ := l["defaultBilling"].(bool); b {
				if a, ok := l["addressBookAddress"].(map[string]any); ok {
					out["defaultAddress"] = addressText(a)
				}
			}
		}
	case tInventoryItem:
		out["itemType"] = map[string]any{"id": "InvtPart", "refName": "Inventory Item"}
		out["createdDate"] = datetime(rec.created)
		out["lastModifiedDate"] = datetime(rec.modified)
		if ut := rn.d.refRecord(rec.fields["unitsType"]); ut != nil {
			for _, u := range ut.lines["uom"] {
				if b, _ := u["baseUnit"].(bool); b {
					out["baseUnit"] = map[string]any{"id": stringOf(u["internalId"]), "refName": u["unitName"]}
				}
			}
		}
	}
	switch rec.rt.name {
	case tSalesOrder:
		name := orderStatuses[rec.status]
		out["status"] = map[string]any{"id": name, "refName": name}
		out["orderStatus"] = map[string]any{"id": rec.status, "refName": rec.status}
		total := new(big.Rat)
		for _, l := range rec.lines["item"] {
			total = add(total, lineQty(l, "amount"))
		}
		out["subTotal"] = numJSON(total)
		out["taxTotal"] = json.Number("0")
		if cost, ok := ratOf(rec.fields["shippingCost"]); ok {
			total = add(total, cost)
		}
		out["total"] = numJSON(total)
	case tItemFulfillment:
		out["shipStatus"] = map[string]any{"id": "C", "refName": "Shipped"}
		out["status"] = map[string]any{"id": "Shipped", "refName": "Shipped"}
	case tInvoice:
		total := new(big.Rat)
		for _, l := range rec.lines["item"] {
			total = add(total, lineQty(l, "amount"))
		}
		out["subTotal"] = numJSON(total)
		out["total"] = numJSON(total)
		out["amountRemaining"] = numJSON(total)
		out["status"] = map[string]any{"id": "Open", "refName": "Open"}
	}
}

// fieldSet parses ?fields=a,b.
func fieldSet(v string) map[string]bool {
	if v == "" {
		return nil
	}
	out := map[string]bool{}
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out[f] = true
		}
	}
	return out
}
