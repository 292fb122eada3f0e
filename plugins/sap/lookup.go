package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/weirhq/weir/sdk"
)

// isoOf maps SAP unit codes to ISO codes where the product service does
// not say (T006-ISOCODE; CAR, PAK and CS are unverified).
var isoOf = map[string]string{
	"EA": "EA", "PC": "PCE", "ST": "PCE", "CS": "CS", "CAR": "CT", "PAK": "PK", "BOX": "BX", "PAL": "PF",
	"KG": "KGM", "G": "GRM", "M": "MTR", "L": "LTR", "H": "HUR", "DZ": "DZN",
}

// sapOf maps ISO codes to the primary SAP unit.
var sapOf = map[string]string{
	"EA": "EA", "PCE": "PC", "CS": "CS", "CT": "CAR", "PK": "PAK", "BX": "BOX", "PF": "PAL",
	"KGM": "KG", "GRM": "G", "MTR": "M", "LTR": "L", "HUR": "H", "DZN": "DZ",
}

// pageSize is the $top of paged reads.
const pageSize = 1000

// chunk is how many values one $filter lists.
const chunk = 20

// Lookup answers:
//
//   - stock {"materials":[…] (or "items" or "material"), "plant" or
//     "plants"}: unrestricted stock (stock_types, no special stock) from
//     A_MatlStkInAcctMod, per material in total, per plant and per storage
//     location, in the base unit;
//   - product_units {"material" or "materials"} and conversions
//     {"material","quantity","from","to"} (or "conversions":[…]): units
//     from A_ProductUnitsOfMeasure (1 unit = numerator/denominator base
//     units), quantities converted exactly;
//   - business_partner {"external_id(s)"} or {"business_partner(s)"}:
//     customers with their address country;
//   - A_SalesOrder {"PurchaseOrderByCustomer"} or {"SalesOrder"}: the
//     order with its items, null when there is none.
//
// Numbers in answers are JSON numbers written exactly.
func (c *connector) Lookup(ctx context.Context, req sdk.LookupRequest) (json.RawMessage, error) {
	cfg, od, err := c.state()
	if err != nil {
		return nil, err
	}
	l := &looker{cfg: cfg, od: od, p: req.Priority}
	var out any
	switch req.Object {
	case objStock, "A_MatlStkInAcctMod":
		out, err = l.stock(ctx, req.Query)
	case objProductUnits, "A_ProductUnitsOfMeasure":
		out, err = l.units(ctx, req.Query)
	case objBusinessPartner, "A_BusinessPartner":
		out, err = l.partners(ctx, req.Query)
	case objSalesOrder:
		out, err = l.order(ctx, req.Query)
	default:
		return nil, sdk.Permanent("INVALID_OBJECT", fmt.Sprintf("no lookup %q: use %s, %s, %s or %s", req.Object, objStock, objProductUnits, objBusinessPartner, objSalesOrder), "")
	}
	if err != nil {
		return nil, err
	}
	return marshal(out)
}

func marshal(v any) (json.RawMessage, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return json.RawMessage(strings.TrimSuffix(b.String(), "\n")), nil
}

type looker struct {
	cfg config
	od  *odata
	p   sdk.Priority
}

func decodeQuery(q json.RawMessage, v any) error {
	if err := sdk.DecodeStrict(q, v); err != nil {
		return sdk.Permanent("INVALID_QUERY", err.Error(), "query")
	}
	return nil
}

// all reads every row of a collection query, following __next links or
// paging with $skip.
func (l *looker) all(ctx context.Context, svc, set string, q url.Values) ([]map[string]any, error) {
	var out []map[string]any
	q.Set("$top", strconv.Itoa(pageSize))
	for skip := 0; ; skip += pageSize {
		q.Set("$skip", strconv.Itoa(skip))
		resp, err := l.od.get(ctx, svc, set, q, l.p)
		if err != nil {
			return nil, err
		}
		rows, next, err := collectionOf(resp.Body)
		if err != nil {
			return nil, err
		}
		n := len(rows)
		out = append(out, rows...)
		for next != "" {
			if resp, err = l.od.getURL(ctx, next, l.p); err != nil {
				return nil, err
			}
			if rows, next, err = collectionOf(resp.Body); err != nil {
				return nil, err
			}
			n += len(rows)
			out = append(out, rows...)
		}
		if n < pageSize {
			return out, nil
		}
	}
}

// anyOf renders "(F eq 'a' or F eq 'b')".
func anyOf(field string, vals []string) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = field + " eq " + quote(v)
	}
	return "(" + strings.Join(parts, " or ") + ")"
}

func dedupe(groups ...[]string) []string {
	var out []string
	for _, g := range groups {
		for _, v := range g {
			if v != "" && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}

// rat parses a decimal value of a response.
func rat(v any) *big.Rat {
	s := fmt.Sprint(v)
	if r, ok := new(big.Rat).SetString(strings.TrimSpace(s)); ok {
		return r
	}
	return new(big.Rat)
}

// number renders r exactly when it has a finite decimal expansion, else
// rounded to 3 decimals (a quantity's scale); exact tells which.
func number(r *big.Rat) (json.Number, bool) {
	if r.IsInt() {
		return json.Number(r.Num().String()), true
	}
	d := new(big.Int).Set(r.Denom())
	for _, f := range []int64{2, 5} {
		bf := big.NewInt(f)
		for new(big.Int).Mod(d, bf).Sign() == 0 {
			d.Quo(d, bf)
		}
	}
	if d.Cmp(big.NewInt(1)) != 0 {
		return json.Number(trimDecimal(r.FloatString(3))), false
	}
	for scale := 1; ; scale++ {
		s := r.FloatString(scale)
		if back, _ := new(big.Rat).SetString(s); back.Cmp(r) == 0 {
			return json.Number(trimDecimal(s)), true
		}
	}
}

func trimDecimal(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		return "0"
	}
	return s
}

func exact(r *big.Rat) json.Number { n, _ := number(r); return n }

// unitCode renders an SAP unit in the configured code system.
func (l *looker) unitCode(sap, iso string) string {
	if l.cfg.UnitCodes != "iso" {
		return sap
	}
	if iso != "" {
		return iso
	}
	if i, ok := isoOf[sap]; ok {
		return i
	}
	return sap
}

type stockQuery struct {
	Material  string   `json:"material"`
	Materials []string `json:"materials"`
	Items     []string `json:"items"`
	Plant     string   `json:"plant"`
	Plants    []string `json:"plants"`
}

type plantStock struct {
	Total            json.Number            `json:"total"`
	StorageLocations map[string]json.Number `json:"storage_locations"`
}

type materialStock struct {
	Unit    string                `json:"unit"`
	SAPUnit string                `json:"sap_unit"`
	Total   json.Number           `json:"total"`
	Plants  map[string]plantStock `json:"plants"`
}

func (l *looker) stock(ctx context.Context, raw json.RawMessage) (any, error) {
	var q stockQuery
	if err := decodeQuery(raw, &q); err != nil {
		return nil, err
	}
	materials := dedupe([]string{q.Material}, q.Materials, q.Items)
	if len(materials) == 0 {
		return nil, sdk.Permanent("INVALID_QUERY", "name the materials: {\"materials\":[…]}", "materials")
	}
	plants := dedupe([]string{q.Plant}, q.Plants)
	type acc struct {
		unit   string
		total  *big.Rat
		plants map[string]*big.Rat
		slocs  map[string]map[string]*big.Rat
	}
	sums := map[string]*acc{}
	for _, m := range materials {
		sums[m] = &acc{total: new(big.Rat), plants: map[string]*big.Rat{}, slocs: map[string]map[string]*big.Rat{}}
	}
	for start := 0; start < len(materials); start += chunk {
		part := materials[start:min(start+chunk, len(materials))]
		filter := anyOf("Material", part) + " and " + anyOf("InventoryStockType", l.cfg.StockTypes) + " and InventorySpecialStockType eq ''"
		if len(plants) > 0 {
			filter += " and " + anyOf("Plant", plants)
		}
		rows, err := l.all(ctx, svcStock, "A_MatlStkInAcctMod", url.Values{
			"$filter": {filter},
			"$select": {"Material,Plant,StorageLocation,MaterialBaseUnit,MatlWrhsStkQtyInMatlBaseUnit"},
		})
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			a := sums[fmt.Sprint(r["Material"])]
			if a == nil {
				continue
			}
			plant, sloc := fmt.Sprint(r["Plant"]), fmt.Sprint(r["StorageLocation"])
			qty := rat(r["MatlWrhsStkQtyInMatlBaseUnit"])
			a.unit = fmt.Sprint(r["MaterialBaseUnit"])
			a.total.Add(a.total, qty)
			if a.plants[plant] == nil {
				a.plants[plant], a.slocs[plant] = new(big.Rat), map[string]*big.Rat{}
			}
			a.plants[plant].Add(a.plants[plant], qty)
			if a.slocs[plant][sloc] == nil {
				a.slocs[plant][sloc] = new(big.Rat)
			}
			a.slocs[plant][sloc].Add(a.slocs[plant][sloc], qty)
		}
	}
	out := map[string]materialStock{}
	for m, a := range sums {
		ms := materialStock{Unit: l.unitCode(a.unit, ""), SAPUnit: a.unit, Total: exact(a.total), Plants: map[string]plantStock{}}
		for p, t := range a.plants {
			ps := plantStock{Total: exact(t), StorageLocations: map[string]json.Number{}}
			for s, v := range a.slocs[p] {
				ps.StorageLocations[s] = exact(v)
			}
			ms.Plants[p] = ps
		}
		out[m] = ms
	}
	return map[string]any{"materials": out}, nil
}

type conversion struct {
	Material string      `json:"material"`
	Quantity json.Number `json:"quantity"`
	From     string      `json:"from"`
	To       string      `json:"to"`
}

type unitsQuery struct {
	Material    string       `json:"material"`
	Materials   []string     `json:"materials"`
	Quantity    json.Number  `json:"quantity"`
	From        string       `json:"from"`
	To          string       `json:"to"`
	Conversions []conversion `json:"conversions"`
}

type unitInfo struct {
	SAP         string      `json:"sap"`
	ISO         string      `json:"iso"`
	Numerator   json.Number `json:"numerator"`
	Denominator json.Number `json:"denominator"`
	// BasePerUnit is how many base units one of this unit is.
	BasePerUnit json.Number `json:"base_per_unit"`
	factor      *big.Rat
}

type materialUnits struct {
	BaseUnit string              `json:"base_unit"`
	Units    map[string]unitInfo `json:"units"`
	bySAP    map[string]unitInfo
}

type converted struct {
	conversion
	Result json.Number `json:"result"`
	Exact  bool        `json:"exact"`
}

func (l *looker) units(ctx context.Context, raw json.RawMessage) (any, error) {
	var q unitsQuery
	if err := sdk.DecodeStrict(raw, &q); err != nil {
		return nil, sdk.Permanent("INVALID_QUERY", err.Error(), "query")
	}
	convs := q.Conversions
	if q.From != "" || q.Quantity != "" {
		convs = append([]conversion{{Material: q.Material, Quantity: q.Quantity, From: q.From, To: q.To}}, convs...)
	}
	var names []string
	for _, cv := range convs {
		names = append(names, cv.Material)
	}
	materials := dedupe([]string{q.Material}, q.Materials, names)
	if len(materials) == 0 {
		return nil, sdk.Permanent("INVALID_QUERY", "name a material: {\"material\":\"…\"}", "material")
	}
	table := map[string]*materialUnits{}
	for start := 0; start < len(materials); start += chunk {
		part := materials[start:min(start+chunk, len(materials))]
		rows, err := l.all(ctx, svcProduct, "A_ProductUnitsOfMeasure", url.Values{"$filter": {anyOf("Product", part)}})
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			m := fmt.Sprint(r["Product"])
			mu := table[m]
			if mu == nil {
				mu = &materialUnits{Units: map[string]unitInfo{}, bySAP: map[string]unitInfo{}}
				table[m] = mu
			}
			sap := fmt.Sprint(r["AlternativeUnit"])
			iso, _ := r["AlternativeISOUnit"].(string)
			if iso == "" {
				iso = isoOf[sap]
			}
			num, den := rat(r["QuantityNumerator"]), rat(r["QuantityDenominator"])
			if den.Sign() == 0 {
				continue
			}
			f := new(big.Rat).Quo(num, den)
			ui := unitInfo{SAP: sap, ISO: iso, Numerator: exact(num), Denominator: exact(den), BasePerUnit: exact(f), factor: f}
			if b, _ := r["BaseUnit"].(string); b != "" {
				mu.BaseUnit = l.unitCode(b, "")
			}
			mu.Units[l.unitCode(sap, iso)] = ui
			mu.bySAP[sap] = ui
		}
	}
	out := map[string]any{}
	mats := map[string]any{}
	for _, m := range materials {
		if mu := table[m]; mu != nil {
			mats[m] = mu
		} else {
			mats[m] = nil
		}
	}
	out["materials"] = mats
	var results []converted
	for i, cv := range convs {
		at := fmt.Sprintf("conversions[%d].", i)
		mu := table[cv.Material]
		if mu == nil {
			return nil, sdk.Permanent("UNKNOWN_MATERIAL", fmt.Sprintf("material %q has no units of measure", cv.Material), at+"material")
		}
		qty, ok := new(big.Rat).SetString(cv.Quantity.String())
		if !ok {
			return nil, sdk.Permanent("INVALID_QUERY", fmt.Sprintf("quantity %q is not a number", cv.Quantity), at+"quantity")
		}
		from, ok := l.find(mu, cv.From)
		if !ok {
			return nil, sdk.Permanent("UNKNOWN_UNIT", fmt.Sprintf("material %s has no unit %s", cv.Material, cv.From), at+"from")
		}
		toCode := cv.To
		if toCode == "" {
			toCode = mu.BaseUnit
			cv.To = toCode
		}
		to, ok := l.find(mu, toCode)
		if !ok {
			return nil, sdk.Permanent("UNKNOWN_UNIT", fmt.Sprintf("material %s has no unit %s", cv.Material, toCode), at+"to")
		}
		res := new(big.Rat).Mul(qty, from.factor)
		res.Quo(res, to.factor)
		n, exactly := number(res)
		results = append(results, converted{conversion: cv, Result: n, Exact: exactly})
	}
	if len(results) > 0 {
		out["conversions"] = results
	}
	return out, nil
}

// find looks a unit up in the configured code system, then in the other.
func (l *looker) find(mu *materialUnits, code string) (unitInfo, bool) {
	if u, ok := mu.Units[code]; ok {
		return u, true
	}
	if u, ok := mu.bySAP[code]; ok {
		return u, true
	}
	if u, ok := mu.bySAP[sapOf[code]]; ok {
		return u, true
	}
	return unitInfo{}, false
}

type partnerQuery struct {
	ExternalID       string   `json:"external_id"`
	ExternalIDs      []string `json:"external_ids"`
	BusinessPartner  string   `json:"business_partner"`
	BusinessPartners []string `json:"business_partners"`
}

type partner struct {
	BusinessPartner string `json:"business_partner"`
	Customer        string `json:"customer"`
	Name            string `json:"name"`
	ExternalID      string `json:"external_id"`
	Country         string `json:"country"`
	Region          string `json:"region"`
	City            string `json:"city"`
	PostalCode      string `json:"postal_code"`
}

func (l *looker) partners(ctx context.Context, raw json.RawMessage) (any, error) {
	var q partnerQuery
	if err := decodeQuery(raw, &q); err != nil {
		return nil, err
	}
	field, keys := "BusinessPartnerIDByExtSystem", dedupe([]string{q.ExternalID}, q.ExternalIDs)
	if len(keys) == 0 {
		field, keys = "BusinessPartner", dedupe([]string{q.BusinessPartner}, q.BusinessPartners)
	}
	if len(keys) == 0 {
		return nil, sdk.Permanent("INVALID_QUERY", "name the partners: {\"external_ids\":[…]} or {\"business_partners\":[…]}", "external_ids")
	}
	found := map[string]any{}
	for _, k := range keys {
		found[k] = nil
	}
	for start := 0; start < len(keys); start += chunk {
		part := keys[start:min(start+chunk, len(keys))]
		rows, err := l.all(ctx, svcPartner, "A_BusinessPartner", url.Values{
			"$filter": {anyOf(field, part)},
			"$expand": {"to_BusinessPartnerAddress"},
		})
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			p := partner{BusinessPartner: fmt.Sprint(r["BusinessPartner"]), Customer: fmt.Sprint(r["Customer"]),
				Name: fmt.Sprint(r["BusinessPartnerFullName"]), ExternalID: fmt.Sprint(r["BusinessPartnerIDByExtSystem"])}
			if addrs := results(r["to_BusinessPartnerAddress"]); len(addrs) > 0 {
				a := addrs[0]
				p.Country, p.Region, p.City, p.PostalCode = fmt.Sprint(a["Country"]), fmt.Sprint(a["Region"]), fmt.Sprint(a["CityName"]), fmt.Sprint(a["PostalCode"])
			}
			key := p.ExternalID
			if field == "BusinessPartner" {
				key = trimZeros(p.BusinessPartner)
			}
			found[key] = p
		}
	}
	return map[string]any{"partners": found}, nil
}

type orderQuery struct {
	PurchaseOrderByCustomer string `json:"PurchaseOrderByCustomer"`
	SalesOrder              string `json:"SalesOrder"`
}

func (l *looker) order(ctx context.Context, raw json.RawMessage) (any, error) {
	var q orderQuery
	if err := decodeQuery(raw, &q); err != nil {
		return nil, err
	}
	var filter string
	switch {
	case q.PurchaseOrderByCustomer != "":
		filter = "PurchaseOrderByCustomer eq " + quote(q.PurchaseOrderByCustomer)
	case q.SalesOrder != "":
		filter = "SalesOrder eq " + quote(q.SalesOrder)
	default:
		return nil, sdk.Permanent("INVALID_QUERY", "name the order: {\"PurchaseOrderByCustomer\":\"…\"} or {\"SalesOrder\":\"…\"}", "PurchaseOrderByCustomer")
	}
	sch, err := l.od.schemaOf(ctx, svcSalesOrder)
	if err != nil {
		return nil, err
	}
	resp, err := l.od.get(ctx, svcSalesOrder, "A_SalesOrder", url.Values{"$filter": {filter}, "$expand": {"to_Item"}, "$top": {"1"}}, l.p)
	if err != nil {
		return nil, err
	}
	rows, _, err := collectionOf(resp.Body)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return map[string]any{"order": nil}, nil
	}
	return map[string]any{"order": plain(sch, sch.sets["A_SalesOrder"], rows[0])}, nil
}
