package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Message codes of business errors. They follow S/4HANA's MSGCLASS/NNN
// form; the numbers and texts are the sandbox's own.
const (
	msgOrderType     = "V1/302"
	msgSalesArea     = "V1/312"
	msgNoSoldTo      = "V1/319"
	msgSoldTo        = "V1/320"
	msgSoldToBlocked = "V1/321"
	msgMaterial      = "V1/384"
	msgNoMaterial    = "V1/385"
	msgUnit          = "V1/392"
	msgUnitMaterial  = "V1/393"
	msgUnitConflict  = "V1/394"
	msgQuantity      = "V1/395"
	msgItemExists    = "V1/396"
	msgDuplicatePO   = "V4/115"
	msgInput         = "/IWBEP/CM_MGW_RT/004"
	msgProperty      = "/IWBEP/CM_MGW_RT/021"
)

// orderTypes are the sales document types the sandbox knows.
var orderTypes = []string{"OR", "ZOR", "CBFD", "RE"}

// inputTarget is how error targets name a property of a deep-inserted
// item: to_Item(SalesOrder=”,SalesOrderItem='10')/Material.
func itemTarget(item string, prop string) string {
	return fmt.Sprintf("to_Item(SalesOrder='',SalesOrderItem='%s')/%s", stripAlpha(item), prop)
}

// applyProps decodes body's properties of t into vals. Read-only
// properties are ignored; unknown ones, values that do not fit, and key
// changes (when keep is set) are errors targeted at prefix+name.
func (s *Server) applyProps(t *entityType, vals map[string]any, body map[string]any, prefix string, keep bool) []detail {
	var errs []detail
	names := make([]string, 0, len(body))
	for k := range body {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "__metadata" || t.nav(name) != nil {
			continue
		}
		p := t.prop(name)
		if p == nil {
			errs = append(errs, detail{Code: msgProperty, Message: fmt.Sprintf("Property '%s' is invalid", name), Target: prefix + name, Severity: "error"})
			continue
		}
		if p.ReadOnly {
			continue
		}
		v, err := decodeValue(p, body[name], s.opts.LenientDecimals)
		if err != nil {
			errs = append(errs, detail{Code: msgInput, Message: err.Error(), Target: prefix + name, Severity: "error"})
			continue
		}
		if keep && t.isKey(name) {
			if c, ok := compare(v, vals[name]); !ok || c != 0 {
				errs = append(errs, detail{Code: msgInput, Message: fmt.Sprintf("Key property '%s' cannot be changed", name), Target: prefix + name, Severity: "error"})
			}
			continue
		}
		vals[name] = v
	}
	return errs
}

// navList reads a deep-insert navigation: an array or {"results":[…]}.
func navList(v any) ([]map[string]any, bool) {
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

func midnight(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

func (h *odataRequest) businessError(details []detail) {
	first := details[0]
	h.fail(http.StatusBadRequest, first.Code, first.Message, details...)
}

// validateHeader checks the order type, sales area and sold-to party.
func (s *Server) validateHeader(vals map[string]any) []detail {
	var errs []detail
	str := func(k string) string { v, _ := vals[k].(string); return v }
	if typ := str("SalesOrderType"); !slices.Contains(orderTypes, typ) {
		errs = append(errs, detail{Code: msgOrderType, Message: fmt.Sprintf("Sales document type '%s' is not defined", typ), Target: "SalesOrderType", Severity: "error"})
	}
	org, ok := s.orgs[str("SalesOrganization")]
	if !ok || !slices.Contains(org.Channels, str("DistributionChannel")) || !slices.Contains(org.Divisions, str("OrganizationDivision")) {
		errs = append(errs, detail{Code: msgSalesArea, Message: fmt.Sprintf("Sales area %s/%s/%s is not defined",
			str("SalesOrganization"), str("DistributionChannel"), str("OrganizationDivision")), Target: "SalesOrganization", Severity: "error"})
	}
	sold := str("SoldToParty")
	switch cust := s.tables["A_Customer"].get(map[string]any{"Customer": sold}); {
	case sold == "":
		errs = append(errs, detail{Code: msgNoSoldTo, Message: "Enter a sold-to party", Target: "SoldToParty", Severity: "error"})
	case cust == nil:
		errs = append(errs, detail{Code: msgSoldTo, Message: fmt.Sprintf("Sold-to party %s does not exist", stripAlpha(sold)), Target: "SoldToParty", Severity: "error"})
	case cust.vals["OrderIsBlockedForCustomer"] != nil && cust.vals["OrderIsBlockedForCustomer"] != "":
		errs = append(errs, detail{Code: msgSoldToBlocked, Message: fmt.Sprintf("Sold-to party %s is blocked for sales orders", stripAlpha(sold)), Target: "SoldToParty", Severity: "error"})
	}
	return errs
}

// unitsOf returns a material's units: SAP code → base units per unit.
func (s *Server) unitsOf(material string) (base string, conv map[string]*big.Rat, ok bool) {
	prod := s.tables["A_Product"].get(map[string]any{"Product": material})
	if prod == nil {
		return "", nil, false
	}
	base, _ = prod.vals["BaseUnit"].(string)
	conv = map[string]*big.Rat{base: big.NewRat(1, 1)}
	for _, u := range s.tables["A_ProductUnitsOfMeasure"].byFirst[material] {
		alt, _ := u.vals["AlternativeUnit"].(string)
		num, _ := u.vals["QuantityNumerator"].(*big.Rat)
		den, _ := u.vals["QuantityDenominator"].(*big.Rat)
		if alt == "" || num == nil || den == nil || den.Sign() == 0 {
			continue
		}
		conv[alt] = new(big.Rat).Quo(num, den)
	}
	return base, conv, true
}

// completeItem validates an item of order (header values) and fills its
// derived fields. prefix is how error targets name the item's properties.
func (s *Server) completeItem(order, item map[string]any, target func(string) string) []detail {
	var errs []detail
	str := func(k string) string { v, _ := item[k].(string); return v }
	errAt := func(code, prop, format string, args ...any) {
		errs = append(errs, detail{Code: code, Message: fmt.Sprintf(format, args...), Target: target(prop), Severity: "error"})
	}
	material := str("Material")
	base, conv, known := s.unitsOf(material)
	switch {
	case material == "":
		errAt(msgNoMaterial, "Material", "Enter a material")
		return errs
	case !known:
		errAt(msgMaterial, "Material", "Material %s does not exist", material)
		return errs
	}
	// The unit: any of the three codes, which must agree; the base unit
	// when none is given.
	unit, field := "", ""
	for _, f := range []string{"RequestedQuantitySAPUnit", "RequestedQuantityUnit", "RequestedQuantityISOUnit"} {
		code := str(f)
		if code == "" {
			continue
		}
		var sap string
		if f == "RequestedQuantityISOUnit" {
			u, ok := s.isoUnits[code]
			if !ok {
				errAt(msgUnit, f, "ISO unit of measure %s is not assigned to any unit", code)
				return errs
			}
			sap = u.SAP
		} else {
			if _, ok := s.units[code]; !ok {
				errAt(msgUnit, f, "Unit of measure %s is not defined", code)
				return errs
			}
			sap = code
		}
		if unit != "" && unit != sap {
			errAt(msgUnitConflict, f, "Unit %s contradicts unit %s given in %s", code, unit, field)
			return errs
		}
		unit, field = sap, f
	}
	if unit == "" {
		unit, field = base, "RequestedQuantityUnit"
	}
	factor, ok := conv[unit]
	if !ok {
		errAt(msgUnitMaterial, field, "Unit %s is not defined for material %s", unit, material)
		return errs
	}
	qty, _ := item["RequestedQuantity"].(*big.Rat)
	if qty == nil || qty.Sign() <= 0 {
		errAt(msgQuantity, "RequestedQuantity", "Enter a quantity greater than zero")
		return errs
	}
	iso := s.units[unit].ISO
	for _, p := range []string{"RequestedQuantity", "OrderQuantity"} {
		item[p+"Unit"], item[p+"SAPUnit"], item[p+"ISOUnit"] = unit, unit, iso
	}
	delete(item, "OrderQuantity")
	price := s.prices[material]
	if price == nil {
		price = new(big.Rat)
	}
	net := new(big.Rat).Mul(qty, factor)
	item["NetAmount"] = net.Mul(net, price)
	item["TransactionCurrency"] = order["TransactionCurrency"]
	if str("SalesOrderItemCategory") == "" {
		item["SalesOrderItemCategory"] = "TAN"
		if prod := s.tables["A_Product"].get(map[string]any{"Product": material}); prod != nil && prod.vals["ProductType"] == "SERV" {
			item["SalesOrderItemCategory"] = "TAD"
		}
	}
	if str("SalesOrderItemText") == "" {
		if d := s.tables["A_ProductDescription"].get(map[string]any{"Product": material, "Language": "EN"}); d != nil {
			item["SalesOrderItemText"] = d.vals["ProductDescription"]
		}
	}
	if str("ProductionPlant") == "" {
		org, _ := order["SalesOrganization"].(string)
		item["ProductionPlant"] = s.orgs[org].Plant
	}
	if str("PurchaseOrderByCustomer") == "" {
		item["PurchaseOrderByCustomer"] = order["PurchaseOrderByCustomer"]
	}
	if str("SDProcessStatus") == "" {
		item["SDProcessStatus"], item["DeliveryStatus"] = "A", "A"
	}
	return errs
}

// touchLocked gives an order (and its items) a new change time and
// recomputes its net value.
func (s *Server) touchLocked(order *entity) time.Time {
	t := s.changeTimeLocked()
	order.vals["LastChangeDateTime"], order.vals["LastChangeDate"] = t, midnight(t)
	total := new(big.Rat)
	for _, it := range s.tables["A_SalesOrderItem"].byFirst[valueKey(order.vals["SalesOrder"])] {
		it.vals["LastChangeDateTime"] = t
		if n, ok := it.vals["NetAmount"].(*big.Rat); ok {
			total.Add(total, n)
		}
	}
	order.vals["TotalNetAmount"] = total
	return t
}

func (h *odataRequest) createOrder(body map[string]any) {
	s := h.s
	if d, ok := body["d"].(map[string]any); ok && len(body) == 1 {
		body = d
	}
	ot := h.svc.set("A_SalesOrder")
	it := h.svc.set("A_SalesOrderItem")
	order := map[string]any{}
	errs := s.applyProps(ot, order, body, "", false)
	type child struct {
		set  string
		vals map[string]any
	}
	var items, others []child
	for name, v := range body {
		n := ot.nav(name)
		if n == nil {
			continue
		}
		list, ok := navList(v)
		if !ok {
			errs = append(errs, detail{Code: msgInput, Message: fmt.Sprintf("Navigation property '%s' must be an array or {\"results\":[…]}", name), Target: name, Severity: "error"})
			continue
		}
		ct := h.svc.set(n.Target)
		for i, m := range list {
			vals := map[string]any{}
			if name == "to_Item" {
				no, _ := m["SalesOrderItem"].(string)
				if no == "" {
					no = strconv.Itoa((i + 1) * 10)
				}
				errs = append(errs, s.applyProps(ct, vals, m, itemTarget(no, ""), false)...)
				if v, _ := vals["SalesOrderItem"].(string); v == "" {
					vals["SalesOrderItem"] = ""
				}
				items = append(items, child{ct.Set, vals})
				continue
			}
			errs = append(errs, s.applyProps(ct, vals, m, fmt.Sprintf("%s(%d)/", name, i), false)...)
			others = append(others, child{ct.Set, vals})
		}
	}
	if len(errs) > 0 {
		h.businessError(errs)
		return
	}
	errs = append(errs, s.validateHeader(order)...)
	org, _ := order["SalesOrganization"].(string)
	order["TransactionCurrency"] = s.orgs[org].Currency
	// Item numbers: given ones kept, the others 10, 20, … after them.
	next := 0
	for _, c := range items {
		if n, err := strconv.Atoi(stripAlpha(c.vals["SalesOrderItem"].(string))); err == nil {
			next = max(next, n)
		}
	}
	seen := map[string]bool{}
	for _, c := range items {
		if c.vals["SalesOrderItem"] == "" {
			next = (next/10 + 1) * 10
			c.vals["SalesOrderItem"] = padAlpha(strconv.Itoa(next), 6)
		}
		no := c.vals["SalesOrderItem"].(string)
		if seen[no] {
			errs = append(errs, detail{Code: msgItemExists, Message: fmt.Sprintf("Item %s exists twice", stripAlpha(no)), Target: itemTarget(no, "SalesOrderItem"), Severity: "error"})
		}
		seen[no] = true
		errs = append(errs, s.completeItem(order, c.vals, func(p string) string { return itemTarget(no, p) })...)
	}
	po, _ := order["PurchaseOrderByCustomer"].(string)
	var warnings []detail
	if po != "" && s.opts.DuplicatePOCheck != "" {
		for _, e := range s.tables["A_SalesOrder"].rows {
			if e.vals["PurchaseOrderByCustomer"] == po && e.vals["SoldToParty"] == order["SoldToParty"] {
				d := detail{Code: msgDuplicatePO, Message: fmt.Sprintf("Purchase order number %s already exists in sales order %s", po, stripAlpha(e.vals["SalesOrder"].(string))),
					Target: "PurchaseOrderByCustomer", Severity: "warning"}
				if s.opts.DuplicatePOCheck == "error" {
					d.Severity = "error"
					errs = append(errs, d)
				} else {
					warnings = append(warnings, d)
				}
				break
			}
		}
	}
	if len(errs) > 0 {
		h.businessError(errs)
		return
	}

	no, _ := order["SalesOrder"].(string)
	if no == "" {
		for {
			no = padAlpha(strconv.FormatInt(s.nextOrder, 10), 10)
			s.nextOrder++
			if s.tables["A_SalesOrder"].get(map[string]any{"SalesOrder": no}) == nil {
				break
			}
		}
		order["SalesOrder"] = no
	} else if s.tables["A_SalesOrder"].get(map[string]any{"SalesOrder": no}) != nil {
		h.businessError([]detail{{Code: msgInput, Message: fmt.Sprintf("Sales order %s already exists", stripAlpha(no)), Target: "SalesOrder", Severity: "error"}})
		return
	}
	now := s.now()
	today := midnight(now)
	order["CreationDate"] = today
	order["CreatedByUser"] = strings.ToUpper(h.user)
	for _, d := range []string{"SalesOrderDate", "PricingDate", "RequestedDeliveryDate"} {
		if order[d] == nil {
			order[d] = today
		}
	}
	for _, st := range []string{"OverallSDProcessStatus", "OverallTotalDeliveryStatus", "OverallDeliveryStatus", "OverallSDDocumentRejectionSts", "TotalCreditCheckStatus"} {
		order[st] = "A"
	}
	order["TotalBlockStatus"] = ""
	header := &entity{vals: order}
	s.tables["A_SalesOrder"].put(header)
	for _, c := range items {
		c.vals["SalesOrder"] = no
		if c.vals["PricingDate"] == nil {
			c.vals["PricingDate"] = order["PricingDate"]
		}
		s.tables[it.Set].put(&entity{vals: c.vals})
	}
	partners := map[string]bool{}
	for _, c := range others {
		c.vals["SalesOrder"] = no
		if c.set == "A_SalesOrderHeaderPartner" {
			partners[fmt.Sprint(c.vals["PartnerFunction"])] = true
		}
		s.tables[c.set].put(&entity{vals: c.vals})
	}
	for _, fn := range []string{"SP", "SH", "BP", "PY"} {
		if !partners[fn] {
			s.tables["A_SalesOrderHeaderPartner"].put(&entity{vals: map[string]any{"SalesOrder": no, "PartnerFunction": fn, "Customer": order["SoldToParty"]}})
		}
	}
	t := s.touchLocked(header)

	if len(warnings) > 0 {
		w := warnings[0]
		msg, _ := json.Marshal(map[string]any{"code": w.Code, "message": w.Message, "target": w.Target, "severity": w.Severity, "transition": false, "details": []any{}})
		h.w.Header().Set("sap-message", string(msg))
	}
	uri := h.base() + "/A_SalesOrder" + keyPredicate(ot, order)
	h.w.Header().Set("Location", uri)
	h.w.Header().Set("ETag", etagOf(t))
	sh := newShape()
	sh.expand["to_Item"] = newShape()
	var b bytes.Buffer
	b.WriteString(`{"d":`)
	s.render(&b, h.base(), ot, header, sh, true)
	b.WriteString("}")
	h.writeJSON(http.StatusCreated, b.Bytes())
}

// createItem adds an item to an existing order.
func (h *odataRequest) createItem(order *entity, body map[string]any) {
	s := h.s
	it := h.svc.set("A_SalesOrderItem")
	vals := map[string]any{}
	errs := s.applyProps(it, vals, body, "", false)
	if len(errs) > 0 {
		h.businessError(errs)
		return
	}
	so := order.vals["SalesOrder"].(string)
	vals["SalesOrder"] = so
	existing := s.tables[it.Set].byFirst[valueKey(so)]
	if v, _ := vals["SalesOrderItem"].(string); v == "" {
		last := 0
		for _, e := range existing {
			n, _ := strconv.Atoi(stripAlpha(e.vals["SalesOrderItem"].(string)))
			last = max(last, n)
		}
		vals["SalesOrderItem"] = padAlpha(strconv.Itoa((last/10+1)*10), 6)
	} else if s.tables[it.Set].get(vals) != nil {
		h.businessError([]detail{{Code: msgItemExists, Message: fmt.Sprintf("Item %s already exists", stripAlpha(v)), Target: "SalesOrderItem", Severity: "error"}})
		return
	}
	if errs := s.completeItem(order.vals, vals, func(p string) string { return p }); len(errs) > 0 {
		h.businessError(errs)
		return
	}
	if vals["PricingDate"] == nil {
		vals["PricingDate"] = order.vals["PricingDate"]
	}
	item := &entity{vals: vals}
	s.tables[it.Set].put(item)
	t := s.touchLocked(order)
	h.w.Header().Set("Location", h.base()+"/A_SalesOrderItem"+keyPredicate(it, vals))
	h.w.Header().Set("ETag", etagOf(t))
	var b bytes.Buffer
	b.WriteString(`{"d":`)
	s.render(&b, h.base(), it, item, newShape(), true)
	b.WriteString("}")
	h.writeJSON(http.StatusCreated, b.Bytes())
}

func (h *odataRequest) orderOf(item *entity) *entity {
	return h.s.tables["A_SalesOrder"].get(map[string]any{"SalesOrder": item.vals["SalesOrder"]})
}

func changeTime(e *entity) time.Time { t, _ := e.vals["LastChangeDateTime"].(time.Time); return t }

func (h *odataRequest) noNavs(t *entityType, body map[string]any) bool {
	for name := range body {
		if t.nav(name) != nil {
			h.fail(http.StatusBadRequest, msgInput, fmt.Sprintf("Navigation property '%s' cannot be updated; address its entities", name),
				detail{Code: msgInput, Message: "Navigation properties cannot be updated", Target: name, Severity: "error"})
			return false
		}
	}
	return true
}

func (h *odataRequest) updateOrder(order *entity, body map[string]any) {
	s := h.s
	ot := h.svc.set("A_SalesOrder")
	if !h.checkIfMatch(changeTime(order), func() time.Time { return s.touchLocked(order) }) || !h.noNavs(ot, body) {
		return
	}
	vals := map[string]any{}
	for k, v := range order.vals {
		vals[k] = v
	}
	if errs := s.applyProps(ot, vals, body, "", true); len(errs) > 0 {
		h.businessError(errs)
		return
	}
	if errs := s.validateHeader(vals); len(errs) > 0 {
		h.businessError(errs)
		return
	}
	order.vals = vals
	t := s.touchLocked(order)
	h.w.Header().Set("ETag", etagOf(t))
	h.w.WriteHeader(http.StatusNoContent)
}

func (h *odataRequest) updateItem(item *entity, body map[string]any) {
	s := h.s
	it := h.svc.set("A_SalesOrderItem")
	order := h.orderOf(item)
	if !h.checkIfMatch(changeTime(order), func() time.Time { return s.touchLocked(order) }) || !h.noNavs(it, body) {
		return
	}
	vals := map[string]any{}
	for k, v := range item.vals {
		vals[k] = v
	}
	// A new unit in one field replaces the three.
	for _, f := range []string{"RequestedQuantitySAPUnit", "RequestedQuantityUnit", "RequestedQuantityISOUnit"} {
		if _, ok := body[f]; ok {
			delete(vals, "RequestedQuantitySAPUnit")
			delete(vals, "RequestedQuantityUnit")
			delete(vals, "RequestedQuantityISOUnit")
			break
		}
	}
	if errs := s.applyProps(it, vals, body, "", true); len(errs) > 0 {
		h.businessError(errs)
		return
	}
	if errs := s.completeItem(order.vals, vals, func(p string) string { return p }); len(errs) > 0 {
		h.businessError(errs)
		return
	}
	item.vals = vals
	t := s.touchLocked(order)
	h.w.Header().Set("ETag", etagOf(t))
	h.w.WriteHeader(http.StatusNoContent)
}

func (h *odataRequest) deleteOrder(order *entity) {
	s := h.s
	if !h.checkIfMatch(changeTime(order), func() time.Time { return s.touchLocked(order) }) {
		return
	}
	so := valueKey(order.vals["SalesOrder"])
	for _, set := range []string{"A_SalesOrderItem", "A_SalesOrderHeaderPartner", "A_SalesOrderText"} {
		for _, e := range slices.Clone(s.tables[set].byFirst[so]) {
			s.tables[set].remove(e)
		}
	}
	s.tables["A_SalesOrder"].remove(order)
	h.w.WriteHeader(http.StatusNoContent)
}

func (h *odataRequest) deleteItem(item *entity) {
	s := h.s
	order := h.orderOf(item)
	if !h.checkIfMatch(changeTime(order), func() time.Time { return s.touchLocked(order) }) {
		return
	}
	s.tables["A_SalesOrderItem"].remove(item)
	t := s.touchLocked(order)
	h.w.Header().Set("ETag", etagOf(t))
	h.w.WriteHeader(http.StatusNoContent)
}
