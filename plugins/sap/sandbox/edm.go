package sandbox

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"strings"
)

// EDM primitive types the sandbox uses.
const (
	EdmString         = "Edm.String"
	EdmDecimal        = "Edm.Decimal"
	EdmDateTime       = "Edm.DateTime"
	EdmDateTimeOffset = "Edm.DateTimeOffset"
	EdmBoolean        = "Edm.Boolean"
	EdmInt32          = "Edm.Int32"
	EdmInt64          = "Edm.Int64"
)

// Property is one property of an entity type, as $metadata declares it.
type Property struct {
	Name string `json:"name"`
	// Type is one of the Edm constants.
	Type string `json:"type"`
	// MaxLength bounds an Edm.String (0: unbounded).
	MaxLength int `json:"max_length,omitempty"`
	// Precision and Scale bound an Edm.Decimal (digits in all, after the
	// point); Precision is the sub-second digits of a DateTimeOffset.
	Precision int `json:"precision,omitempty"`
	Scale     int `json:"scale,omitempty"`
	// Label is the sap:label.
	Label string `json:"label,omitempty"`
	// ReadOnly properties are computed by the system (sap:creatable and
	// sap:updatable "false"); values sent for them are ignored.
	ReadOnly bool `json:"read_only,omitempty"`
	// Alpha marks a CHAR field with SAP's ALPHA conversion: numeric values
	// are stored zero-padded to MaxLength, so they sort and compare as
	// numbers ("9" < "10").
	Alpha bool `json:"alpha,omitempty"`
}

// navProp is a navigation property: the entities of Target whose To
// properties equal this entity's From properties.
type navProp struct {
	Name   string
	Target string // entity set
	Many   bool
	From   []string
	To     []string
}

// entityType is an entity type and its one entity set.
type entityType struct {
	Service   *service
	Name      string // e.g. A_SalesOrderType
	Set       string // e.g. A_SalesOrder
	Label     string
	Keys      []string
	Props     []Property
	Navs      []navProp
	ETag      string // property whose value is the ETag; "" for none
	Creatable bool
	Updatable bool
	Deletable bool

	byName map[string]*Property
	navs   map[string]*navProp
}

func (t *entityType) prop(name string) *Property { return t.byName[name] }
func (t *entityType) nav(name string) *navProp   { return t.navs[name] }

func (t *entityType) index() {
	t.byName = map[string]*Property{}
	for i := range t.Props {
		t.byName[t.Props[i].Name] = &t.Props[i]
	}
	t.navs = map[string]*navProp{}
	for i := range t.Navs {
		t.navs[t.Navs[i].Name] = &t.Navs[i]
	}
}

func (t *entityType) isKey(name string) bool {
	for _, k := range t.Keys {
		if k == name {
			return true
		}
	}
	return false
}

// service is one OData service: its name is also its schema namespace.
type service struct {
	Name string
	Sets []*entityType
}

func (s *service) set(name string) *entityType {
	for _, t := range s.Sets {
		if t.Set == name {
			return t
		}
	}
	return nil
}

// Service names.
const (
	SalesOrderService      = "API_SALES_ORDER_SRV"
	MaterialStockService   = "API_MATERIAL_STOCK_SRV"
	ProductService         = "API_PRODUCT_SRV"
	BusinessPartnerService = "API_BUSINESS_PARTNER"
)

func str(name string, max int, label string) Property {
	return Property{Name: name, Type: EdmString, MaxLength: max, Label: label}
}
func alpha(name string, max int, label string) Property {
	return Property{Name: name, Type: EdmString, MaxLength: max, Label: label, Alpha: true}
}
func dec(name string, p, s int, label string) Property {
	return Property{Name: name, Type: EdmDecimal, Precision: p, Scale: s, Label: label}
}
func date(name, label string) Property { return Property{Name: name, Type: EdmDateTime, Label: label} }
func boolean(name, label string) Property {
	return Property{Name: name, Type: EdmBoolean, Label: label}
}
func ro(p Property) Property { p.ReadOnly = true; return p }

// newServices builds the four services, with ext's extension fields
// appended to the entity types of the named sets.
func newServices(ext map[string][]Property, productISO bool) map[string]*service {
	so := &service{Name: SalesOrderService}
	order := &entityType{Service: so, Name: "A_SalesOrderType", Set: "A_SalesOrder", Label: "Sales Order", Keys: []string{"SalesOrder"},
		ETag: "LastChangeDateTime", Creatable: true, Updatable: true, Deletable: true,
		Props: []Property{
			alpha("SalesOrder", 10, "Sales Order"),
			str("SalesOrderType", 4, "Sales Document Type"),
			str("SalesOrganization", 4, "Sales Organization"),
			str("DistributionChannel", 2, "Distribution Channel"),
			str("OrganizationDivision", 2, "Division"),
			str("SalesGroup", 3, "Sales Group"),
			str("SalesOffice", 4, "Sales Office"),
			str("SalesDistrict", 6, "Sales District"),
			alpha("SoldToParty", 10, "Sold-to Party"),
			ro(date("CreationDate", "Created On")),
			ro(str("CreatedByUser", 12, "Created By")),
			ro(date("LastChangeDate", "Changed On")),
			ro(Property{Name: "LastChangeDateTime", Type: EdmDateTimeOffset, Precision: 7, Label: "Time Stamp"}),
			str("PurchaseOrderByCustomer", 35, "Customer Reference"),
			str("PurchaseOrderByShipToParty", 35, "Ship-to Party Reference"),
			str("CustomerPurchaseOrderType", 4, "Purchase Order Type"),
			date("CustomerPurchaseOrderDate", "Customer Reference Date"),
			date("SalesOrderDate", "Document Date"),
			ro(dec("TotalNetAmount", 16, 3, "Net Value")),
			str("TransactionCurrency", 5, "Document Currency"),
			str("SDDocumentReason", 3, "Order Reason"),
			date("PricingDate", "Pricing Date"),
			date("RequestedDeliveryDate", "Requested Delivery Date"),
			str("ShippingCondition", 2, "Shipping Conditions"),
			boolean("CompleteDeliveryIsDefined", "Complete Delivery"),
			str("ShippingType", 2, "Shipping Type"),
			str("HeaderBillingBlockReason", 2, "Billing Block"),
			str("DeliveryBlockReason", 2, "Delivery Block"),
			str("IncotermsClassification", 3, "Incoterms"),
			str("IncotermsTransferLocation", 28, "Incoterms Transfer Location"),
			str("IncotermsLocation1", 70, "Incoterms Location 1"),
			str("IncotermsLocation2", 70, "Incoterms Location 2"),
			str("IncotermsVersion", 4, "Incoterms Version"),
			str("CustomerPaymentTerms", 4, "Terms of Payment"),
			str("PaymentMethod", 1, "Payment Method"),
			str("AssignmentReference", 18, "Assignment"),
			ro(str("OverallSDProcessStatus", 1, "Overall Status")),
			ro(str("OverallTotalDeliveryStatus", 1, "Overall Delivery Status")),
			ro(str("OverallDeliveryStatus", 1, "Delivery Status")),
			ro(str("OverallSDDocumentRejectionSts", 1, "Rejection Status")),
			ro(str("TotalBlockStatus", 1, "Block Status")),
			ro(str("TotalCreditCheckStatus", 1, "Credit Check Status")),
		},
		Navs: []navProp{
			{Name: "to_Item", Target: "A_SalesOrderItem", Many: true, From: []string{"SalesOrder"}, To: []string{"SalesOrder"}},
			{Name: "to_Partner", Target: "A_SalesOrderHeaderPartner", Many: true, From: []string{"SalesOrder"}, To: []string{"SalesOrder"}},
			{Name: "to_Text", Target: "A_SalesOrderText", Many: true, From: []string{"SalesOrder"}, To: []string{"SalesOrder"}},
		}}
	item := &entityType{Service: so, Name: "A_SalesOrderItemType", Set: "A_SalesOrderItem", Label: "Sales Order Item",
		Keys: []string{"SalesOrder", "SalesOrderItem"}, Creatable: true, Updatable: true, Deletable: true, ETag: "LastChangeDateTime",
		Props: []Property{
			alpha("SalesOrder", 10, "Sales Order"),
			alpha("SalesOrderItem", 6, "Item"),
			alpha("HigherLevelItem", 6, "Higher-Level Item"),
			str("SalesOrderItemCategory", 4, "Item Category"),
			str("SalesOrderItemText", 40, "Item Description"),
			str("PurchaseOrderByCustomer", 35, "Customer Reference"),
			str("Material", 40, "Material"),
			str("MaterialByCustomer", 35, "Customer Material"),
			date("PricingDate", "Pricing Date"),
			dec("RequestedQuantity", 15, 3, "Requested Quantity"),
			str("RequestedQuantityUnit", 3, "Unit of Measure"),
			str("RequestedQuantitySAPUnit", 3, "SAP Unit Code"),
			str("RequestedQuantityISOUnit", 3, "ISO Unit Code"),
			ro(str("OrderQuantityUnit", 3, "Sales Unit")),
			ro(str("OrderQuantitySAPUnit", 3, "SAP Unit Code")),
			ro(str("OrderQuantityISOUnit", 3, "ISO Unit Code")),
			ro(dec("NetAmount", 16, 3, "Net Value")),
			ro(str("TransactionCurrency", 5, "Document Currency")),
			str("ProductionPlant", 4, "Plant"),
			str("StorageLocation", 4, "Storage Location"),
			str("ShippingPoint", 4, "Shipping Point"),
			str("DeliveryGroup", 3, "Delivery Group"),
			str("IncotermsClassification", 3, "Incoterms"),
			str("CustomerPaymentTerms", 4, "Terms of Payment"),
			str("SalesDocumentRjcnReason", 2, "Reason for Rejection"),
			str("ItemBillingBlockReason", 2, "Billing Block"),
			ro(str("SDProcessStatus", 1, "Overall Status")),
			ro(str("DeliveryStatus", 1, "Delivery Status")),
			// The header's change time, which the item's ETag follows.
			ro(Property{Name: "LastChangeDateTime", Type: EdmDateTimeOffset, Precision: 7, Label: "Time Stamp"}),
		},
		Navs: []navProp{
			{Name: "to_SalesOrder", Target: "A_SalesOrder", From: []string{"SalesOrder"}, To: []string{"SalesOrder"}},
		}}
	partner := &entityType{Service: so, Name: "A_SalesOrderHeaderPartnerType", Set: "A_SalesOrderHeaderPartner", Label: "Header Partner",
		Keys: []string{"SalesOrder", "PartnerFunction"}, Creatable: true, Updatable: true, Deletable: true,
		Props: []Property{
			alpha("SalesOrder", 10, "Sales Order"), str("PartnerFunction", 2, "Partner Function"),
			alpha("Customer", 10, "Customer"), alpha("Supplier", 10, "Supplier"),
			alpha("Personnel", 8, "Personnel Number"), alpha("ContactPerson", 10, "Contact Person"),
		}}
	text := &entityType{Service: so, Name: "A_SalesOrderTextType", Set: "A_SalesOrderText", Label: "Header Text",
		Keys: []string{"SalesOrder", "Language", "LongTextID"}, Creatable: true, Updatable: true, Deletable: true,
		Props: []Property{
			alpha("SalesOrder", 10, "Sales Order"), str("Language", 2, "Language Key"),
			str("LongTextID", 4, "Text ID"), str("LongText", 0, "String"),
		}}
	so.Sets = []*entityType{order, item, partner, text}

	ms := &service{Name: MaterialStockService}
	stock := &entityType{Service: ms, Name: "A_MaterialStockType", Set: "A_MaterialStock", Label: "Material Stock",
		Keys:  []string{"Material"},
		Props: []Property{str("Material", 40, "Material"), str("MaterialBaseUnit", 3, "Base Unit of Measure")},
		Navs: []navProp{{Name: "to_MatlStkInAcctMod", Target: "A_MatlStkInAcctMod", Many: true,
			From: []string{"Material"}, To: []string{"Material"}}}}
	acct := &entityType{Service: ms, Name: "A_MatlStkInAcctModType", Set: "A_MatlStkInAcctMod", Label: "Material Stock in Account Model",
		Keys: []string{"Material", "Plant", "StorageLocation", "Batch", "Supplier", "Customer", "WBSElementInternalID",
			"SDDocument", "SDDocumentItem", "InventorySpecialStockType", "InventoryStockType"},
		Props: []Property{
			str("Material", 40, "Material"), str("Plant", 4, "Plant"), str("StorageLocation", 4, "Storage Location"),
			str("Batch", 10, "Batch"), alpha("Supplier", 10, "Supplier"), alpha("Customer", 10, "Customer"),
			str("WBSElementInternalID", 8, "WBS Element"), alpha("SDDocument", 10, "Sales Document"),
			alpha("SDDocumentItem", 6, "Sales Document Item"), str("InventorySpecialStockType", 1, "Special Stock Type"),
			str("InventoryStockType", 2, "Stock Type"), str("WBSElementExternalID", 24, "WBS Element"),
			str("MaterialBaseUnit", 3, "Base Unit of Measure"),
			dec("MatlWrhsStkQtyInMatlBaseUnit", 31, 14, "Quantity in Base Unit"),
		},
		Navs: []navProp{{Name: "to_MaterialStock", Target: "A_MaterialStock", From: []string{"Material"}, To: []string{"Material"}}}}
	ms.Sets = []*entityType{stock, acct}

	ps := &service{Name: ProductService}
	product := &entityType{Service: ps, Name: "A_ProductType", Set: "A_Product", Label: "Product", Keys: []string{"Product"},
		ETag: "LastChangeDateTime",
		Props: []Property{
			str("Product", 40, "Product"), str("ProductType", 4, "Product Type"), str("CrossPlantStatus", 2, "Cross-Plant Status"),
			ro(date("CreationDate", "Created On")), ro(str("CreatedByUser", 12, "Created By")),
			ro(date("LastChangeDate", "Last Change")),
			ro(Property{Name: "LastChangeDateTime", Type: EdmDateTimeOffset, Precision: 7, Label: "Time Stamp"}),
			boolean("IsMarkedForDeletion", "Deletion Flag"), str("ProductOldID", 40, "Old Product Number"),
			dec("GrossWeight", 13, 3, "Gross Weight"), str("WeightUnit", 3, "Weight Unit"), dec("NetWeight", 13, 3, "Net Weight"),
			str("ProductGroup", 9, "Product Group"), str("BaseUnit", 3, "Base Unit of Measure"),
			str("ItemCategoryGroup", 4, "General Item Category Group"), str("Division", 2, "Division"),
		},
		Navs: []navProp{
			{Name: "to_Description", Target: "A_ProductDescription", Many: true, From: []string{"Product"}, To: []string{"Product"}},
			{Name: "to_ProductUnitsOfMeasure", Target: "A_ProductUnitsOfMeasure", Many: true, From: []string{"Product"}, To: []string{"Product"}},
		}}
	desc := &entityType{Service: ps, Name: "A_ProductDescriptionType", Set: "A_ProductDescription", Label: "Product Description",
		Keys:  []string{"Product", "Language"},
		Props: []Property{str("Product", 40, "Product"), str("Language", 2, "Language Key"), str("ProductDescription", 40, "Product Description")}}
	uom := &entityType{Service: ps, Name: "A_ProductUnitsOfMeasureType", Set: "A_ProductUnitsOfMeasure", Label: "Units of Measure",
		Keys: []string{"Product", "AlternativeUnit"},
		Props: []Property{
			str("Product", 40, "Product"), str("AlternativeUnit", 3, "Alternative Unit of Measure"),
			dec("QuantityNumerator", 5, 0, "Numerator"), dec("QuantityDenominator", 5, 0, "Denominator"),
			dec("MaterialVolume", 13, 3, "Volume"), str("VolumeUnit", 3, "Volume Unit"),
			dec("GrossWeight", 13, 3, "Gross Weight"), str("WeightUnit", 3, "Weight Unit"),
			str("GlobalTradeItemNumber", 18, "EAN/UPC"), str("GlobalTradeItemNumberCategory", 2, "EAN Category"),
			str("BaseUnit", 3, "Base Unit of Measure"),
		}}
	if productISO {
		product.Props = append(product.Props, str("BaseISOUnit", 3, "ISO Code"))
		uom.Props = append(uom.Props, str("AlternativeISOUnit", 3, "ISO Code"))
	}
	ps.Sets = []*entityType{product, desc, uom}

	bs := &service{Name: BusinessPartnerService}
	bp := &entityType{Service: bs, Name: "A_BusinessPartnerType", Set: "A_BusinessPartner", Label: "Business Partner",
		Keys: []string{"BusinessPartner"},
		Props: []Property{
			alpha("BusinessPartner", 10, "Business Partner"), alpha("Customer", 10, "Customer"),
			str("BusinessPartnerCategory", 1, "Business Partner Category"), str("BusinessPartnerFullName", 81, "Business Partner Name"),
			str("BusinessPartnerName", 81, "Name"), str("BusinessPartnerGrouping", 4, "Grouping"),
			str("BusinessPartnerIDByExtSystem", 20, "Business Partner ID in External System"),
			str("SearchTerm1", 20, "Search Term 1"), ro(date("CreationDate", "Created On")),
			ro(date("LastChangeDate", "Last Changed On")),
		},
		Navs: []navProp{
			{Name: "to_BusinessPartnerAddress", Target: "A_BusinessPartnerAddress", Many: true, From: []string{"BusinessPartner"}, To: []string{"BusinessPartner"}},
			{Name: "to_Customer", Target: "A_Customer", From: []string{"Customer"}, To: []string{"Customer"}},
		}}
	addr := &entityType{Service: bs, Name: "A_BusinessPartnerAddressType", Set: "A_BusinessPartnerAddress", Label: "Address",
		Keys: []string{"BusinessPartner", "AddressID"},
		Props: []Property{
			alpha("BusinessPartner", 10, "Business Partner"), str("AddressID", 10, "Address Number"),
			str("Country", 3, "Country/Region Key"), str("Region", 3, "Region"), str("CityName", 40, "City"),
			str("PostalCode", 10, "Postal Code"), str("StreetName", 60, "Street"), str("HouseNumber", 10, "House Number"),
			str("Language", 2, "Language Key"), str("FullName", 80, "Full Name"),
		}}
	cust := &entityType{Service: bs, Name: "A_CustomerType", Set: "A_Customer", Label: "Customer", Keys: []string{"Customer"},
		Props: []Property{
			alpha("Customer", 10, "Customer"), str("CustomerName", 80, "Name of Customer"),
			str("CustomerAccountGroup", 4, "Account Group"), str("OrderIsBlockedForCustomer", 2, "Order Block"),
			str("DeliveryIsBlocked", 2, "Delivery Block"), str("VATRegistration", 20, "VAT Registration No."),
		}}
	bs.Sets = []*entityType{bp, addr, cust}

	out := map[string]*service{so.Name: so, ms.Name: ms, ps.Name: ps, bs.Name: bs}
	for _, svc := range out {
		for _, t := range svc.Sets {
			t.Props = append(t.Props, ext[t.Set]...)
			t.index()
		}
	}
	return out
}

// DefaultExtensions are the custom fields the sandbox declares when
// Options.Extensions is nil: the header field a key user adds for Weir
// (Custom Fields and Logic) so that a connector can keep the source
// record's version on the order.
var DefaultExtensions = map[string][]Property{
	"A_SalesOrder": {{Name: "YY1_WeirVersion_SDH", Type: EdmString, MaxLength: 20, Label: "Weir Record Version"}},
}

// assocName returns a stable association name, hashed as SAP does.
func assocName(t *entityType, n *navProp) string {
	h := sha1.Sum([]byte(t.Name + "/" + n.Name))
	return "assoc_" + strings.ToUpper(hex.EncodeToString(h[:16]))
}

// metadata renders the service's EDMX document.
func (s *service) metadata() []byte {
	var b bytes.Buffer
	esc := func(v string) string {
		var e bytes.Buffer
		_ = xml.EscapeText(&e, []byte(v))
		return strings.ReplaceAll(e.String(), `"`, "&quot;")
	}
	ns := s.Name
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	b.WriteString(`<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" xmlns:sap="http://www.sap.com/Protocols/SAPData">` + "\n")
	b.WriteString(` <edmx:DataServices m:DataServiceVersion="2.0">` + "\n")
	fmt.Fprintf(&b, `  <Schema Namespace="%s" xml:lang="en" sap:schema-version="1" xmlns="http://schemas.microsoft.com/ado/2008/09/edm">`+"\n", ns)
	type assoc struct {
		name       string
		from, to   *entityType
		nav        *navProp
		toMultiple string
	}
	var assocs []assoc
	for _, t := range s.Sets {
		fmt.Fprintf(&b, `   <EntityType Name="%s" sap:label="%s" sap:content-version="1">`+"\n", t.Name, esc(t.Label))
		b.WriteString(`    <Key>`)
		for _, k := range t.Keys {
			fmt.Fprintf(&b, `<PropertyRef Name="%s"/>`, k)
		}
		b.WriteString("</Key>\n")
		for _, p := range t.Props {
			fmt.Fprintf(&b, `    <Property Name="%s" Type="%s"`, p.Name, p.Type)
			if t.isKey(p.Name) {
				b.WriteString(` Nullable="false"`)
			}
			switch p.Type {
			case EdmString:
				if p.MaxLength > 0 {
					fmt.Fprintf(&b, ` MaxLength="%d"`, p.MaxLength)
				}
			case EdmDecimal:
				fmt.Fprintf(&b, ` Precision="%d" Scale="%d"`, p.Precision, p.Scale)
			case EdmDateTime:
				b.WriteString(` Precision="0" sap:display-format="Date"`)
			case EdmDateTimeOffset:
				fmt.Fprintf(&b, ` Precision="%d"`, p.Precision)
			}
			if p.Name == t.ETag {
				b.WriteString(` ConcurrencyMode="Fixed"`)
			}
			if p.Alpha {
				b.WriteString(` sap:display-format="NonNegative"`)
			}
			if p.Label != "" {
				fmt.Fprintf(&b, ` sap:label="%s"`, esc(p.Label))
			}
			if p.ReadOnly || !t.Creatable {
				b.WriteString(` sap:creatable="false"`)
			}
			if p.ReadOnly || !t.Updatable || t.isKey(p.Name) {
				b.WriteString(` sap:updatable="false"`)
			}
			b.WriteString("/>\n")
		}
		for i := range t.Navs {
			n := &t.Navs[i]
			a := assoc{name: assocName(t, n), from: t, to: s.set(n.Target), nav: n, toMultiple: "1"}
			if n.Many {
				a.toMultiple = "*"
			}
			if a.to == nil {
				continue
			}
			assocs = append(assocs, a)
			fmt.Fprintf(&b, `    <NavigationProperty Name="%s" Relationship="%s.%s" FromRole="FromRole_%s" ToRole="ToRole_%s"/>`+"\n",
				n.Name, ns, a.name, a.name, a.name)
		}
		b.WriteString("   </EntityType>\n")
	}
	for _, a := range assocs {
		fmt.Fprintf(&b, `   <Association Name="%s" sap:content-version="1">`+"\n", a.name)
		fmt.Fprintf(&b, `    <End Type="%s.%s" Multiplicity="1" Role="FromRole_%s"/>`+"\n", ns, a.from.Name, a.name)
		fmt.Fprintf(&b, `    <End Type="%s.%s" Multiplicity="%s" Role="ToRole_%s"/>`+"\n", ns, a.to.Name, a.toMultiple, a.name)
		b.WriteString("    <ReferentialConstraint>")
		fmt.Fprintf(&b, `<Principal Role="FromRole_%s">`, a.name)
		for _, f := range a.nav.From {
			fmt.Fprintf(&b, `<PropertyRef Name="%s"/>`, f)
		}
		fmt.Fprintf(&b, `</Principal><Dependent Role="ToRole_%s">`, a.name)
		for _, f := range a.nav.To {
			fmt.Fprintf(&b, `<PropertyRef Name="%s"/>`, f)
		}
		b.WriteString("</Dependent></ReferentialConstraint>\n   </Association>\n")
	}
	fmt.Fprintf(&b, `   <EntityContainer Name="%s_Entities" m:IsDefaultEntityContainer="true" sap:supported-formats="atom json xlsx">`+"\n", ns)
	for _, t := range s.Sets {
		fmt.Fprintf(&b, `    <EntitySet Name="%s" EntityType="%s.%s"`, t.Set, ns, t.Name)
		if !t.Creatable {
			b.WriteString(` sap:creatable="false"`)
		}
		if !t.Updatable {
			b.WriteString(` sap:updatable="false"`)
		}
		if !t.Deletable {
			b.WriteString(` sap:deletable="false"`)
		}
		b.WriteString(` sap:content-version="1"/>` + "\n")
	}
	for _, a := range assocs {
		fmt.Fprintf(&b, `    <AssociationSet Name="%s" Association="%s.%s" sap:creatable="false" sap:updatable="false" sap:deletable="false" sap:content-version="1">`, a.name, ns, a.name)
		fmt.Fprintf(&b, `<End EntitySet="%s" Role="FromRole_%s"/><End EntitySet="%s" Role="ToRole_%s"/></AssociationSet>`+"\n", a.from.Set, a.name, a.to.Set, a.name)
	}
	b.WriteString("   </EntityContainer>\n")
	fmt.Fprintf(&b, `   <atom:link rel="self" href="./$metadata" xmlns:atom="http://www.w3.org/2005/Atom"/>`+"\n")
	b.WriteString("  </Schema>\n </edmx:DataServices>\n</edmx:Edmx>\n")
	return b.Bytes()
}
