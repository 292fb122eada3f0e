package sandbox

import (
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// serveSuiteQL serves POST /services/rest/query/v1/suiteql.
func (s *Server) serveSuiteQL(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, s.opts, http.StatusMethodNotAllowed, "", detail{Detail: "SuiteQL queries are sent with POST.", Code: "INVALID_METHOD"})
		return
	}
	if !s.opts.AllowMissingPrefer && !strings.EqualFold(strings.TrimSpace(r.Header.Get("Prefer")), "transient") {
		writeError(w, s.opts, http.StatusBadRequest, "", detail{
			Detail: "The request header Prefer must be set to transient for SuiteQL queries.", Code: "INVALID_HEADER", Header: "Prefer"})
		return
	}
	limit, offset, aerr := paging(r.URL.Query())
	if aerr != nil {
		writeAPIError(w, s.opts, aerr)
		return
	}
	if offset >= MaxSuiteQLRows {
		writeError(w, s.opts, http.StatusBadRequest, "", detail{
			Detail: "Invalid value for the offset parameter: a query returns at most 100000 rows; use SuiteAnalytics Connect for more.",
			Code:   "INVALID_PARAMETER", QueryParam: "offset"})
		return
	}
	body, aerr := readBody(r)
	if aerr != nil {
		writeAPIError(w, s.opts, aerr)
		return
	}
	q, _ := body["q"].(string)
	if strings.TrimSpace(q) == "" {
		writeError(w, s.opts, http.StatusBadRequest, "", detail{Detail: "Invalid content in the request body: the query (q) is missing.", Code: "INVALID_CONTENT"})
		return
	}
	names, rows, err := s.runQuery(q)
	if err != nil {
		msg := err.Error()
		var qe *queryError
		if !errors.As(err, &qe) {
			msg = "Invalid or unsupported search: " + msg
		}
		annotate(w, "USER_ERROR", msg)
		writeErrorTitle(w, s.opts, http.StatusBadRequest, "Invalid search query.", detail{Detail: "Search error occurred: " + msg, Code: "USER_ERROR"})
		return
	}
	total := min(len(rows), MaxSuiteQLRows)
	var items []any
	for i := offset; i < total && i < offset+limit; i++ {
		item := map[string]any{"links": []any{}}
		for j, v := range rows[i] {
			if s, ok := formatValue(v, s.opts); ok {
				item[names[j]] = s
			}
		}
		items = append(items, item)
	}
	writeJSON(w, http.StatusOK, contentType(s.opts, ctCollection), collection(r.URL, s.baseURL(r), items, limit, offset, total))
}

// runQuery parses and runs a query over the data.
func (s *Server) runQuery(q string) ([]string, [][]value, error) {
	parsed, err := parseQuery(q)
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	x := &executor{d: s.db, opts: s.opts, now: s.now(), q: parsed}
	return x.run()
}

// Query runs a SuiteQL query (all rows, no paging) and returns its rows
// as the API would, values as strings.
func (s *Server) Query(q string) ([]map[string]string, error) {
	names, rows, err := s.runQuery(q)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]string, len(rows))
	for i, r := range rows {
		m := map[string]string{}
		for j, v := range r {
			if str, ok := formatValue(v, s.opts); ok {
				m[names[j]] = str
			}
		}
		out[i] = m
	}
	return out, nil
}

// suiteqlTables are the tables the sandbox answers.
var suiteqlTables = map[string]*tableDef{
	"transaction": {cols: []string{"id", "tranid", "type", "recordtype", "status", "entity", "externalid", "trandate",
		"createddate", "lastmodifieddate", "foreigntotal", "currency", "exchangerate", "memo", "otherrefnum", "shipdate"},
		custom: "custbody", rows: (*executor).transactionRows},
	"transactionline": {cols: []string{"transaction", "id", "linesequencenumber", "mainline", "taxline", "item", "quantity",
		"rate", "netamount", "units", "location", "isclosed", "quantityshiprecv", "quantitybilled", "createdfrom", "memo", "entity"},
		custom: "custcol", rows: (*executor).lineRows},
	"item": {cols: []string{"id", "itemid", "externalid", "displayname", "description", "itemtype", "unitstype",
		"saleunit", "stockunit", "purchaseunit", "isinactive", "createddate", "lastmodifieddate"},
		custom: "custitem", rows: (*executor).itemRows},
	"unitstype": {cols: []string{"id", "name", "isinactive"}, rows: (*executor).unitsTypeRows},
	"unitstypeuom": {cols: []string{"internalid", "unitstype", "unitname", "pluralname", "abbreviation",
		"pluralabbreviation", "conversionrate", "baseunit"}, rows: (*executor).uomRows},
	"aggregateitemlocation": {cols: []string{"item", "location", "quantityonhand", "quantityavailable",
		"quantitycommitted", "quantityonorder", "quantitybackordered", "reorderpoint", "preferredstocklevel"},
		rows: (*executor).stockRows},
	"inventorybalance": {cols: []string{"item", "location", "binnumber", "inventorynumber", "inventorystatus",
		"quantityonhand", "quantityavailable", "quantitypicked"}, rows: (*executor).balanceRows},
	"location": {cols: []string{"id", "name", "subsidiary", "isinactive", "makeinventoryavailable"},
		rows: (*executor).locationRows},
	"customer": {cols: []string{"id", "entityid", "externalid", "companyname", "isperson", "firstname", "lastname",
		"email", "phone", "subsidiary", "currency", "isinactive", "datecreated", "lastmodifieddate"},
		custom: "custentity", rows: (*executor).customerRows},
	"subsidiary": {cols: []string{"id", "name", "country", "currency", "isinactive"}, rows: (*executor).subsidiaryRows},
	"currency":   {cols: []string{"id", "name", "symbol", "isbasecurrency", "exchangerate"}, rows: (*executor).currencyRows},
}

// refValue returns a stored reference as its internal id, with its
// display value in r under col#df.
func (x *executor) refValue(r row, col string, v any) {
	rf, ok := v.(ref)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(rf.id, 10, 64)
	if err != nil {
		r[col] = strValue(rf.id)
		return
	}
	r[col] = intValue(id)
	if t := x.d.refRecord(rf); t != nil {
		r[col+"#df"] = strValue(x.d.refName(t))
	}
}

// textValue returns a stored string field.
func textValue(v any) value {
	if s, ok := v.(string); ok && s != "" {
		return strValue(s)
	}
	return value{}
}

// numberValue returns a stored number field.
func numberValue(v any) value {
	r, ok := ratOf(v)
	return optNum(r, ok)
}

// customValues adds the record's custom fields with the table's prefix.
func customValues(r row, fields map[string]any, prefix string) {
	for k, v := range fields {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		col := strings.ToLower(k)
		switch v := v.(type) {
		case string:
			r[col] = strValue(v)
		case json.Number:
			r[col] = numberValue(v)
		case bool:
			r[col] = boolValue(v)
		case map[string]any:
			if id, ok := idString(v["id"]); ok {
				r[col] = strValue(id)
			}
		case nil:
		default:
			b, _ := json.Marshal(v)
			r[col] = strValue(string(b))
		}
	}
}

// dateValue parses a stored YYYY-MM-DD date.
func (x *executor) dateValue(v any) value {
	s, ok := v.(string)
	if !ok {
		return value{}
	}
	t, err := time.ParseInLocation("2006-01-02", s, x.opts.Location)
	if err != nil {
		return value{}
	}
	return timeValue(t)
}

// tranDisplay are transaction type names for BUILTIN.DF.
var tranDisplay = map[string]string{"SalesOrd": "Sales Order", "ItemShip": "Item Fulfillment", "CustInvc": "Invoice"}

// tranStatus returns a transaction's SuiteQL status code and display.
func tranStatus(rec *record) (string, string) {
	switch rec.rt.name {
	case tSalesOrder:
		return rec.status, "Sales Order : " + orderStatuses[rec.status]
	case tItemFulfillment:
		return "C", "Item Fulfillment : Shipped"
	}
	return "A", "Invoice : Open"
}

// transactions returns every transaction, in id order.
func (x *executor) transactions() []*record {
	var out []*record
	for _, t := range []string{tSalesOrder, tItemFulfillment, tInvoice} {
		out = append(out, x.d.tables[t].sorted()...)
	}
	return out
}

func (x *executor) transactionRows() []row {
	var out []row
	for _, rec := range x.transactions() {
		code, display := tranStatus(rec)
		r := row{
			"id": intValue(rec.id), "tranid": strValue(tranID(rec)), "type": strValue(rec.rt.tranType),
			"type#df": strValue(tranDisplay[rec.rt.tranType]), "recordtype": strValue(strings.ToLower(rec.rt.name)),
			"status": strValue(code), "status#df": strValue(display), "externalid": textValue(rec.extID),
			"createddate": timeValue(rec.created), "lastmodifieddate": timeValue(rec.modified),
			"memo": textValue(rec.fields["memo"]), "otherrefnum": textValue(rec.fields["otherRefNum"]),
			"exchangerate": numberValue(rec.fields["exchangeRate"]), "shipdate": x.dateValue(rec.fields["shipDate"]),
		}
		if td := x.dateValue(rec.fields["tranDate"]); !td.null() {
			r["trandate"] = td
		} else {
			c := rec.created.In(x.opts.Location)
			r["trandate"] = timeValue(time.Date(c.Year(), c.Month(), c.Day(), 0, 0, 0, 0, x.opts.Location))
		}
		x.refValue(r, "entity", rec.fields["entity"])
		x.refValue(r, "currency", rec.fields["currency"])
		total := new(big.Rat)
		for _, l := range rec.lines["item"] {
			total = add(total, lineQty(l, "amount"))
		}
		if cost, ok := ratOf(rec.fields["shippingCost"]); ok {
			total = add(total, cost)
		}
		r["foreigntotal"] = numValue(total)
		customValues(r, rec.fields, "custbody")
		out = append(out, r)
	}
	return out
}

func (x *executor) lineRows() []row {
	var out []row
	for _, rec := range x.transactions() {
		main := row{"transaction": intValue(rec.id), "id": intValue(0), "linesequencenumber": intValue(0),
			"mainline": boolValue(true), "taxline": boolValue(false), "isclosed": boolValue(false)}
		x.refValue(main, "entity", rec.fields["entity"])
		x.refValue(main, "location", rec.fields["location"])
		if cf, ok := rec.fields["createdFrom"].(ref); ok {
			x.refValue(main, "createdfrom", cf)
		}
		out = append(out, main)
		for _, l := range rec.lines["item"] {
			n, _ := l["line"].(int64)
			item := x.d.refRecord(l["item"])
			rate := x.d.conversionRate(item, l["units"])
			qty := mul(lineQty(l, "quantity"), rate)
			r := row{"transaction": intValue(rec.id), "id": intValue(n), "linesequencenumber": intValue(n),
				"mainline": boolValue(false), "taxline": boolValue(false), "rate": numberValue(l["rate"]),
				"quantity": numValue(new(big.Rat).Neg(qty)), "memo": textValue(l["description"])}
			if amt, ok := ratOf(l["amount"]); ok {
				r["netamount"] = numValue(new(big.Rat).Neg(amt))
			}
			closed, _ := l["isClosed"].(bool)
			r["isclosed"] = boolValue(closed)
			x.refValue(r, "item", l["item"])
			x.refValue(r, "entity", rec.fields["entity"])
			if u, ok := l["units"].(string); ok {
				if id, err := strconv.ParseInt(u, 10, 64); err == nil {
					r["units"] = intValue(id)
					if item != nil {
						if uom := x.d.uomOf(item, u); uom != nil {
							r["units#df"] = textValue(uom["unitName"])
						}
					}
				}
			}
			if loc := lineLocation(rec, l); loc != 0 {
				x.refValue(r, "location", ref{typ: tLocation, id: strconv.FormatInt(loc, 10)})
			}
			if rec.rt.name == tSalesOrder {
				r["quantityshiprecv"] = numValue(mul(lineQty(l, "_fulfilled"), rate))
				r["quantitybilled"] = numValue(mul(lineQty(l, "_billed"), rate))
			}
			if cf, ok := rec.fields["createdFrom"].(ref); ok {
				x.refValue(r, "createdfrom", cf)
			}
			customValues(r, l, "custcol")
			out = append(out, r)
		}
	}
	return out
}

func (x *executor) itemRows() []row {
	var out []row
	for _, rec := range x.d.tables[tInventoryItem].sorted() {
		inactive, _ := rec.fields["isInactive"].(bool)
		r := row{"id": intValue(rec.id), "itemid": textValue(rec.fields["itemId"]), "externalid": textValue(rec.extID),
			"displayname": textValue(rec.fields["displayName"]), "description": textValue(rec.fields["description"]),
			"itemtype": strValue("InvtPart"), "itemtype#df": strValue("Inventory Item"), "isinactive": boolValue(inactive),
			"createddate": timeValue(rec.created), "lastmodifieddate": timeValue(rec.modified)}
		x.refValue(r, "unitstype", rec.fields["unitsType"])
		for _, f := range []string{"saleUnit", "stockUnit", "purchaseUnit"} {
			if u, ok := rec.fields[f].(string); ok {
				if id, err := strconv.ParseInt(u, 10, 64); err == nil {
					col := strings.ToLower(f)
					r[col] = intValue(id)
					if uom := x.d.uomOf(rec, u); uom != nil {
						r[col+"#df"] = textValue(uom["unitName"])
					}
				}
			}
		}
		customValues(r, rec.fields, "custitem")
		out = append(out, r)
	}
	return out
}

func (x *executor) unitsTypeRows() []row {
	var out []row
	for _, rec := range x.d.tables[tUnitsType].sorted() {
		inactive, _ := rec.fields["isInactive"].(bool)
		out = append(out, row{"id": intValue(rec.id), "name": textValue(rec.fields["name"]), "isinactive": boolValue(inactive)})
	}
	return out
}

func (x *executor) uomRows() []row {
	var out []row
	for _, rec := range x.d.tables[tUnitsType].sorted() {
		for _, u := range rec.lines["uom"] {
			base, _ := u["baseUnit"].(bool)
			out = append(out, row{"internalid": numberValue(u["internalId"]), "unitstype": intValue(rec.id),
				"unitstype#df": textValue(rec.fields["name"]), "unitname": textValue(u["unitName"]),
				"pluralname": textValue(u["pluralName"]), "abbreviation": textValue(u["abbreviation"]),
				"pluralabbreviation": textValue(u["pluralAbbreviation"]), "conversionrate": numberValue(u["conversionRate"]),
				"baseunit": boolValue(base)})
		}
	}
	return out
}

func (x *executor) stockRows() []row {
	var out []row
	for _, item := range x.d.tables[tInventoryItem].sorted() {
		for _, l := range item.lines["locations"] {
			rf, ok := l["location"].(ref)
			if !ok {
				continue
			}
			loc, _ := strconv.ParseInt(rf.id, 10, 64)
			onHand, avail, committed, onOrder, back := x.d.stockAt(item, loc)
			r := row{"quantityonhand": numValue(onHand), "quantityavailable": numValue(avail),
				"quantitycommitted": numValue(committed), "quantityonorder": numValue(onOrder),
				"quantitybackordered": numValue(back), "reorderpoint": numberValue(l["reorderPoint"]),
				"preferredstocklevel": numberValue(l["preferredStockLevel"])}
			x.refValue(r, "item", ref{typ: tInventoryItem, id: strconv.FormatInt(item.id, 10)})
			x.refValue(r, "location", rf)
			out = append(out, r)
		}
	}
	return out
}

func (x *executor) balanceRows() []row {
	var out []row
	for _, r := range x.stockRows() {
		out = append(out, row{"item": r["item"], "item#df": r["item#df"], "location": r["location"],
			"location#df": r["location#df"], "quantityonhand": r["quantityonhand"],
			"quantityavailable": r["quantityavailable"], "quantitypicked": intValue(0)})
	}
	return out
}

func (x *executor) locationRows() []row {
	var out []row
	for _, rec := range x.d.tables[tLocation].sorted() {
		inactive, _ := rec.fields["isInactive"].(bool)
		avail, _ := rec.fields["makeInventoryAvailable"].(bool)
		r := row{"id": intValue(rec.id), "name": textValue(rec.fields["name"]), "isinactive": boolValue(inactive),
			"makeinventoryavailable": boolValue(avail)}
		x.refValue(r, "subsidiary", rec.fields["subsidiary"])
		out = append(out, r)
	}
	return out
}

func (x *executor) customerRows() []row {
	var out []row
	for _, rec := range x.d.tables[tCustomer].sorted() {
		inactive, _ := rec.fields["isInactive"].(bool)
		person, _ := rec.fields["isPerson"].(bool)
		r := row{"id": intValue(rec.id), "entityid": textValue(rec.fields["entityId"]), "externalid": textValue(rec.extID),
			"companyname": textValue(rec.fields["companyName"]), "isperson": boolValue(person),
			"firstname": textValue(rec.fields["firstName"]), "lastname": textValue(rec.fields["lastName"]),
			"email": textValue(rec.fields["email"]), "phone": textValue(rec.fields["phone"]),
			"isinactive": boolValue(inactive), "datecreated": timeValue(rec.created), "lastmodifieddate": timeValue(rec.modified)}
		x.refValue(r, "subsidiary", rec.fields["subsidiary"])
		x.refValue(r, "currency", rec.fields["currency"])
		customValues(r, rec.fields, "custentity")
		out = append(out, r)
	}
	return out
}

func (x *executor) subsidiaryRows() []row {
	var out []row
	for _, rec := range x.d.tables[tSubsidiary].sorted() {
		inactive, _ := rec.fields["isInactive"].(bool)
		r := row{"id": intValue(rec.id), "name": textValue(rec.fields["name"]), "country": textValue(rec.fields["country"]),
			"isinactive": boolValue(inactive)}
		x.refValue(r, "currency", rec.fields["currency"])
		out = append(out, r)
	}
	return out
}

func (x *executor) currencyRows() []row {
	var out []row
	for _, rec := range x.d.tables[tCurrency].sorted() {
		base, _ := rec.fields["isBaseCurrency"].(bool)
		out = append(out, row{"id": intValue(rec.id), "name": textValue(rec.fields["name"]),
			"symbol": textValue(rec.fields["symbol"]), "isbasecurrency": boolValue(base),
			"exchangerate": numberValue(rec.fields["exchangeRate"])})
	}
	return out
}
