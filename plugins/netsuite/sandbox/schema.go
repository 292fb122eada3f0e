package sandbox

import "strings"

// fieldKind says how a body field is read and rendered.
type fieldKind int

const (
	kString   fieldKind = iota
	kNumber             // a JSON number, kept exact
	kBool               // true or false
	kDate               // "YYYY-MM-DD"
	kRef                // a reference {id} or {externalId}
	kAddress            // an address subrecord
	kUnits              // a line's units: a uom id of the item's units type
	kStatus             // orderStatus: {id:"A"} or "A"
	kReadOnly           // computed by the server; ignored in writes
)

// fieldSpec describes one field.
type fieldSpec struct {
	kind fieldKind
	// target is the record type of a reference; "" for references to
	// types the sandbox does not model (any id is accepted).
	target string
	// label is the field's UI label, for "Please enter value(s) for".
	label string
}

// sublistSpec describes a sublist.
type sublistSpec struct {
	// key is the field matching lines on update ("line"); "" for a
	// non-keyed sublist, whose lines are always appended or replaced.
	key    string
	fields map[string]fieldSpec
}

// recordType describes a record type.
type recordType struct {
	// name is the canonical name ("salesOrder"); links use it in lower
	// case, as captures show.
	name string
	// writable types accept POST, PUT, PATCH and DELETE.
	writable bool
	fields   map[string]fieldSpec
	sublists map[string]*sublistSpec
	// tranType is the SuiteQL transaction type ("SalesOrd") of
	// transactions; "" otherwise.
	tranType string
	// tranPrefix starts the tranId of transactions ("SO").
	tranPrefix string
	// idStart is the first internal id handed out.
	idStart int64
}

func (rt *recordType) link() string { return strings.ToLower(rt.name) }

func str() fieldSpec                            { return fieldSpec{kind: kString} }
func number() fieldSpec                         { return fieldSpec{kind: kNumber} }
func boolean() fieldSpec                        { return fieldSpec{kind: kBool} }
func date() fieldSpec                           { return fieldSpec{kind: kDate} }
func ro() fieldSpec                             { return fieldSpec{kind: kReadOnly} }
func address() fieldSpec                        { return fieldSpec{kind: kAddress} }
func refTo(t, label string) fieldSpec           { return fieldSpec{kind: kRef, target: t, label: label} }
func anyRef(label string) fieldSpec             { return fieldSpec{kind: kRef, label: label} }
func withLabel(f fieldSpec, l string) fieldSpec { f.label = l; return f }

// Record type names.
const (
	tSalesOrder      = "salesOrder"
	tCustomer        = "customer"
	tInventoryItem   = "inventoryItem"
	tItemFulfillment = "itemFulfillment"
	tInvoice         = "invoice"
	tSubsidiary      = "subsidiary"
	tCurrency        = "currency"
	tLocation        = "location"
	tUnitsType       = "unitsType"
)

// transactionHeader are the fields every transaction has.
func transactionHeader() map[string]fieldSpec {
	return map[string]fieldSpec{
		"externalId":       str(),
		"entity":           refTo(tCustomer, "Customer"),
		"subsidiary":       refTo(tSubsidiary, "Subsidiary"),
		"currency":         refTo(tCurrency, "Currency"),
		"exchangeRate":     number(),
		"tranDate":         date(),
		"otherRefNum":      str(),
		"location":         refTo(tLocation, "Location"),
		"department":       anyRef("Department"),
		"class":            anyRef("Class"),
		"memo":             str(),
		"email":            str(),
		"salesRep":         anyRef("Sales Rep"),
		"terms":            anyRef("Terms"),
		"customForm":       anyRef("Custom Form"),
		"id":               ro(),
		"tranId":           ro(),
		"total":            ro(),
		"subTotal":         ro(),
		"taxTotal":         ro(),
		"status":           ro(),
		"createdDate":      ro(),
		"lastModifiedDate": ro(),
		"createdFrom":      ro(),
		"links":            ro(),
		"refName":          ro(),
	}
}

// newSchema returns the record types the sandbox knows.
func newSchema() map[string]*recordType {
	so := transactionHeader()
	for k, v := range map[string]fieldSpec{
		"orderStatus": {kind: kStatus}, "shipMethod": anyRef("Ship Via"), "shippingCost": number(),
		"shipDate": date(), "startDate": date(), "endDate": date(), "discountItem": anyRef("Discount"),
		"discountRate": number(), "source": str(), "partner": anyRef("Partner"), "leadSource": anyRef("Lead Source"),
		"shippingAddress": address(), "billingAddress": address(), "shipAddress": ro(), "billAddress": ro(),
		"shipComplete": boolean(), "isMultiShipTo": boolean(),
	} {
		so[k] = v
	}
	soLines := &sublistSpec{key: "line", fields: map[string]fieldSpec{
		"line": number(), "item": refTo(tInventoryItem, "Item"), "quantity": number(), "units": {kind: kUnits},
		"rate": number(), "amount": number(), "price": anyRef("Price Level"), "description": str(),
		"location": refTo(tLocation, "Location"), "isClosed": boolean(), "expectedShipDate": date(),
		"itemType": ro(), "quantityOnHand": ro(), "quantityAvailable": ro(), "quantityCommitted": ro(),
		"quantityBackOrdered": ro(), "quantityFulfilled": ro(), "quantityBilled": ro(), "links": ro(),
	}}

	ful := transactionHeader()
	ful["shipStatus"] = ro()
	ful["shippingAddress"] = address()
	fulLines := &sublistSpec{key: "line", fields: map[string]fieldSpec{
		"line": number(), "orderLine": number(), "item": refTo(tInventoryItem, "Item"), "quantity": number(),
		"units": {kind: kUnits}, "location": refTo(tLocation, "Location"), "itemReceive": boolean(),
		"itemType": ro(), "links": ro(),
	}}

	inv := transactionHeader()
	inv["amountRemaining"] = ro()
	inv["dueDate"] = date()
	invLines := &sublistSpec{key: "line", fields: map[string]fieldSpec{
		"line": number(), "orderLine": number(), "item": refTo(tInventoryItem, "Item"), "quantity": number(),
		"units": {kind: kUnits}, "rate": number(), "amount": number(), "location": refTo(tLocation, "Location"),
		"itemType": ro(), "links": ro(),
	}}

	types := []*recordType{
		{name: tSalesOrder, writable: true, fields: so, sublists: map[string]*sublistSpec{"item": soLines},
			tranType: "SalesOrd", tranPrefix: "SO", idStart: 5001},
		{name: tItemFulfillment, fields: ful, sublists: map[string]*sublistSpec{"item": fulLines},
			tranType: "ItemShip", tranPrefix: "IF", idStart: 5001},
		{name: tInvoice, fields: inv, sublists: map[string]*sublistSpec{"item": invLines},
			tranType: "CustInvc", tranPrefix: "INV", idStart: 5001},
		{name: tCustomer, writable: true, idStart: 1001, fields: map[string]fieldSpec{
			"externalId": str(), "entityId": str(), "companyName": withLabel(str(), "Company Name"), "isPerson": boolean(),
			"firstName": str(), "lastName": str(), "email": str(), "phone": str(), "url": str(), "comments": str(),
			"subsidiary": refTo(tSubsidiary, "Primary Subsidiary"), "currency": refTo(tCurrency, "Currency"),
			"terms": anyRef("Terms"), "salesRep": anyRef("Sales Rep"), "category": anyRef("Category"),
			"creditLimit": number(), "isInactive": boolean(), "id": ro(), "dateCreated": ro(), "lastModifiedDate": ro(),
			"defaultAddress": ro(), "links": ro(), "refName": ro(),
		}, sublists: map[string]*sublistSpec{"addressBook": {fields: map[string]fieldSpec{
			"label": str(), "defaultShipping": boolean(), "defaultBilling": boolean(), "addressBookAddress": address(),
			"internalId": ro(), "links": ro(),
		}}}},
		{name: tInventoryItem, writable: true, idStart: 11, fields: map[string]fieldSpec{
			"externalId": str(), "itemId": withLabel(str(), "Item Name/Number"), "displayName": str(),
			"description": str(), "salesDescription": str(), "upcCode": str(), "basePrice": number(),
			"unitsType": refTo(tUnitsType, "Units Type"), "stockUnit": {kind: kUnits}, "saleUnit": {kind: kUnits},
			"purchaseUnit": {kind: kUnits}, "baseUnit": ro(),
			"subsidiary": refTo(tSubsidiary, "Subsidiary"), "isInactive": boolean(), "itemType": ro(),
			"id": ro(), "createdDate": ro(), "lastModifiedDate": ro(), "links": ro(), "refName": ro(),
		}, sublists: map[string]*sublistSpec{"locations": {key: "location", fields: map[string]fieldSpec{
			"location": refTo(tLocation, "Location"), "reorderPoint": number(), "preferredStockLevel": number(),
			"quantityOnHand": ro(), "quantityAvailable": ro(), "quantityCommitted": ro(), "quantityOnOrder": ro(),
			"quantityBackOrdered": ro(), "locationId": ro(), "links": ro(),
		}}}},
		{name: tSubsidiary, idStart: 1, fields: map[string]fieldSpec{
			"name": str(), "country": str(), "currency": refTo(tCurrency, "Currency"), "isInactive": boolean(),
		}},
		{name: tCurrency, idStart: 1, fields: map[string]fieldSpec{
			"name": str(), "symbol": str(), "displaySymbol": str(), "isBaseCurrency": boolean(), "exchangeRate": number(),
			"isInactive": boolean(),
		}},
		{name: tLocation, idStart: 1, fields: map[string]fieldSpec{
			"name": str(), "subsidiary": refTo(tSubsidiary, "Subsidiary"), "isInactive": boolean(),
			"makeInventoryAvailable": boolean(), "mainAddress": address(),
		}},
		{name: tUnitsType, idStart: 1, fields: map[string]fieldSpec{"name": str(), "isInactive": boolean()},
			sublists: map[string]*sublistSpec{"uom": {key: "internalId", fields: map[string]fieldSpec{
				"internalId": ro(), "unitName": str(), "pluralName": str(), "abbreviation": str(),
				"pluralAbbreviation": str(), "baseUnit": boolean(), "conversionRate": number(), "inUse": boolean(),
			}}}},
	}
	out := map[string]*recordType{}
	for _, t := range types {
		out[t.name] = t
	}
	return out
}

// orderStatuses are the sales order status codes and names.
var orderStatuses = map[string]string{
	"A": "Pending Approval",
	"B": "Pending Fulfillment",
	"C": "Cancelled",
	"D": "Partially Fulfilled",
	"E": "Pending Billing/Partially Fulfilled",
	"F": "Pending Billing",
	"G": "Billed",
	"H": "Closed",
}

// countries are the ISO 3166-1 alpha-2 codes an address accepts, with
// the names NetSuite shows.
var countries = map[string]string{
	"US": "United States", "GB": "United Kingdom", "DE": "Germany", "FR": "France", "CA": "Canada",
	"MX": "Mexico", "JP": "Japan", "CN": "China", "IN": "India", "AU": "Australia", "NL": "Netherlands",
	"BR": "Brazil", "IT": "Italy", "ES": "Spain", "CH": "Switzerland", "AT": "Austria", "BE": "Belgium",
	"SE": "Sweden", "NO": "Norway", "DK": "Denmark", "FI": "Finland", "IE": "Ireland", "PL": "Poland",
	"PT": "Portugal", "NZ": "New Zealand", "SG": "Singapore", "KR": "Korea, Republic of", "ZA": "South Africa",
}
