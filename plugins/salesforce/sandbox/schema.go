package sandbox

import (
	"slices"
	"strings"
)

// Field types, named as describe names them.
const (
	TypeID        = "id"
	TypeReference = "reference"
	TypeString    = "string"
	TypeTextarea  = "textarea"
	TypePicklist  = "picklist"
	TypeBoolean   = "boolean"
	TypeDouble    = "double"
	TypeCurrency  = "currency"
	TypePercent   = "percent"
	TypeInt       = "int"
	TypeDate      = "date"
	TypeDatetime  = "datetime"
	TypeEmail     = "email"
	TypePhone     = "phone"
	TypeURL       = "url"
)

// Field describes one field of an sObject.
type Field struct {
	// Name is the API name, e.g. "BillingCountry" or "ExternalId__c".
	Name string `json:"name"`
	// Type is one of the Type constants.
	Type string `json:"type"`
	// Length bounds text fields; 0 means 255 for string types.
	Length int `json:"length,omitempty"`
	// ReferenceTo and RelationshipName describe a reference field, e.g.
	// "Account" and "Account" for Order.AccountId.
	ReferenceTo      string `json:"referenceTo,omitempty"`
	RelationshipName string `json:"relationshipName,omitempty"`
	// Createable and Updateable say whether the API may set the field.
	Createable bool `json:"createable"`
	Updateable bool `json:"updateable"`
	// Required fields must have a value on create (and cannot be cleared).
	Required bool `json:"required,omitempty"`
	// ExternalID fields can be used for upserts; Unique ones refuse
	// duplicates (case-insensitively).
	ExternalID bool `json:"externalId,omitempty"`
	Unique     bool `json:"unique,omitempty"`
	// Picklist values; Restricted picklists refuse other values.
	Picklist   []string `json:"picklist,omitempty"`
	Restricted bool     `json:"restricted,omitempty"`
	// Default is the value a create gets when the field is absent.
	Default any `json:"-"`
}

func (f *Field) isText() bool {
	switch f.Type {
	case TypeString, TypeTextarea, TypePicklist, TypeEmail, TypePhone, TypeURL:
		return true
	}
	return false
}

func (f *Field) isNumber() bool {
	switch f.Type {
	case TypeDouble, TypeCurrency, TypePercent, TypeInt:
		return true
	}
	return false
}

func (f *Field) maxLength() int {
	switch {
	case f.Length > 0:
		return f.Length
	case f.Type == TypeTextarea:
		return 32000
	}
	return 255
}

// Child is a child relationship: records of Object whose Field refers to
// the parent, selected in a sub-query FROM Name.
type Child struct {
	// Name is the relationship name, e.g. "OrderItems".
	Name string `json:"relationshipName"`
	// Object and Field are the child object and its reference field.
	Object string `json:"childSObject"`
	Field  string `json:"field"`
}

// Object describes an sObject type.
type Object struct {
	// Name is the API name, e.g. "Order".
	Name string
	// Prefix is the three-character key prefix of its ids, e.g. "801".
	Prefix string
	// Fields beyond the system fields every object has (Id, IsDeleted,
	// CreatedDate, CreatedById, LastModifiedDate, LastModifiedById,
	// SystemModstamp), which New adds.
	Fields []Field

	fields   map[string]*Field // by lower-case name
	rels     map[string]*Field // reference fields by lower-case relationship name
	children map[string]*Child // by lower-case relationship name
	order    []*Field
}

// field returns the field named name, case-insensitively.
func (o *Object) field(name string) *Field { return o.fields[strings.ToLower(name)] }

// Has reports whether the object has a field of that name.
func (o *Object) Has(name string) bool { return o.field(name) != nil }

// systemFields are on every object.
func systemFields() []Field {
	return []Field{
		{Name: "Id", Type: TypeID, Length: 18},
		{Name: "IsDeleted", Type: TypeBoolean, Default: false},
		{Name: "CreatedDate", Type: TypeDatetime},
		{Name: "CreatedById", Type: TypeReference, ReferenceTo: "User", RelationshipName: "CreatedBy"},
		{Name: "LastModifiedDate", Type: TypeDatetime},
		{Name: "LastModifiedById", Type: TypeReference, ReferenceTo: "User", RelationshipName: "LastModifiedBy"},
		{Name: "SystemModstamp", Type: TypeDatetime},
	}
}

// field constructors for the standard schema.
func rw(name, typ string) Field {
	return Field{Name: name, Type: typ, Createable: true, Updateable: true}
}
func ro(name, typ string) Field { return Field{Name: name, Type: typ} }
func req(f Field) Field         { f.Required = true; return f }
func size(f Field, n int) Field { f.Length = n; return f }
func ref(name, to, rel string) Field {
	return Field{Name: name, Type: TypeReference, ReferenceTo: to, RelationshipName: rel, Createable: true, Updateable: true}
}
func pick(name string, restricted bool, values ...string) Field {
	return Field{Name: name, Type: TypePicklist, Createable: true, Updateable: true, Picklist: values, Restricted: restricted}
}
func createOnly(f Field) Field { f.Updateable = false; return f }
func def(f Field, v any) Field { f.Default = v; return f }

// address returns the fields of a compound address (Billing, Shipping),
// with the State and Country picklist code fields when codes is true.
func address(prefix string, codes bool) []Field {
	fs := []Field{
		size(rw(prefix+"Street", TypeTextarea), 255),
		size(rw(prefix+"City", TypeString), 40),
		size(rw(prefix+"State", TypeString), 80),
		size(rw(prefix+"PostalCode", TypeString), 20),
		size(rw(prefix+"Country", TypeString), 80),
	}
	if codes {
		fs = append(fs, pick(prefix+"StateCode", false), pick(prefix+"CountryCode", false))
	}
	return fs
}

// weirFields are the custom fields the sandbox org has for Weir: an
// external ID (unique), a legacy external ID (not unique, as in orgs that
// imported data twice) and the record version Weir writes.
func weirFields() []Field {
	return []Field{
		{Name: "ExternalId__c", Type: TypeString, Createable: true, Updateable: true, ExternalID: true, Unique: true},
		{Name: "Legacy_Id__c", Type: TypeString, Createable: true, Updateable: true, ExternalID: true},
		rw("Weir_Version__c", TypeDouble),
	}
}

// standardSchema returns the sandbox org's objects. codes says whether
// State and Country picklists are enabled.
func standardSchema(codes bool) []*Object {
	var account []Field
	account = append(account,
		req(rw("Name", TypeString)),
		size(rw("AccountNumber", TypeString), 40),
		pick("Type", false, "Prospect", "Customer - Direct", "Customer - Channel", "Partner", "Other"),
		pick("Industry", false, "Agriculture", "Manufacturing", "Retail", "Technology", "Other"),
		size(rw("Phone", TypePhone), 40),
		rw("Website", TypeURL),
		rw("Description", TypeTextarea),
		rw("AnnualRevenue", TypeCurrency),
		rw("NumberOfEmployees", TypeInt),
		ref("ParentId", "Account", "Parent"),
		ref("OwnerId", "User", "Owner"),
		rw("Credit_Limit__c", TypeCurrency),
	)
	account = append(account, address("Billing", codes)...)
	account = append(account, address("Shipping", codes)...)
	account = append(account, weirFields()...)

	product := []Field{
		req(rw("Name", TypeString)),
		rw("ProductCode", TypeString),
		rw("Description", TypeTextarea),
		pick("Family", false, "Hardware", "Software", "Services", "Consumables"),
		def(rw("IsActive", TypeBoolean), false),
		pick("QuantityUnitOfMeasure", false, "Each", "Pack of 12", "Case", "Kilogram", "Hour"),
		size(rw("StockKeepingUnit", TypeString), 180),
		rw("ExternalId", TypeString),
	}
	product = append(product, weirFields()...)

	pricebook := []Field{
		req(rw("Name", TypeString)),
		def(rw("IsActive", TypeBoolean), false),
		def(ro("IsStandard", TypeBoolean), false),
		rw("Description", TypeTextarea),
	}

	entry := []Field{
		ro("Name", TypeString),
		req(createOnly(ref("Pricebook2Id", "Pricebook2", "Pricebook2"))),
		req(createOnly(ref("Product2Id", "Product2", "Product2"))),
		req(rw("UnitPrice", TypeCurrency)),
		def(rw("IsActive", TypeBoolean), false),
		def(rw("UseStandardPrice", TypeBoolean), false),
		ro("ProductCode", TypeString),
	}

	var order []Field
	order = append(order,
		req(ref("AccountId", "Account", "Account")),
		ref("Pricebook2Id", "Pricebook2", "Pricebook2"),
		ref("OpportunityId", "Opportunity", "Opportunity"),
		ref("OwnerId", "User", "Owner"),
		req(rw("EffectiveDate", TypeDate)),
		rw("EndDate", TypeDate),
		req(pick("Status", true, "Draft", "Activated")),
		Field{Name: "StatusCode", Type: TypePicklist, Picklist: []string{"Draft", "Activated", "Cancelled", "Expired"}},
		size(ro("OrderNumber", TypeString), 30),
		ro("TotalAmount", TypeCurrency),
		pick("Type", false, "New", "Renewal", "Upgrade"),
		size(rw("PoNumber", TypeString), 80),
		rw("PoDate", TypeDate),
		size(rw("OrderReferenceNumber", TypeString), 80),
		size(rw("Name", TypeString), 80),
		rw("Description", TypeTextarea),
		ro("ActivatedDate", TypeDatetime),
		rw("ERP_Order_Number__c", TypeString),
		pick("ERP_Status__c", false, "Pending", "Booked", "Shipped", "Invoiced", "Rejected"),
	)
	order = append(order, address("Billing", codes)...)
	order = append(order, address("Shipping", codes)...)
	order = append(order, weirFields()...)

	item := []Field{
		req(createOnly(ref("OrderId", "Order", "Order"))),
		req(createOnly(ref("PricebookEntryId", "PricebookEntry", "PricebookEntry"))),
		Field{Name: "Product2Id", Type: TypeReference, ReferenceTo: "Product2", RelationshipName: "Product2", Createable: true},
		req(rw("Quantity", TypeDouble)),
		req(rw("UnitPrice", TypeCurrency)),
		ro("ListPrice", TypeCurrency),
		ro("TotalPrice", TypeCurrency),
		rw("ServiceDate", TypeDate),
		rw("EndDate", TypeDate),
		rw("Description", TypeTextarea),
		ro("OrderItemNumber", TypeString),
		ro("AvailableQuantity", TypeDouble),
	}

	opportunity := []Field{
		req(size(rw("Name", TypeString), 120)),
		ref("AccountId", "Account", "Account"),
		ref("OwnerId", "User", "Owner"),
		req(pick("StageName", false, "Prospecting", "Qualification", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost")),
		req(rw("CloseDate", TypeDate)),
		rw("Amount", TypeCurrency),
		rw("Probability", TypePercent),
		pick("Type", false, "New Customer", "Existing Customer - Upgrade", "Existing Customer - Replacement"),
		pick("LeadSource", false, "Web", "Phone Inquiry", "Partner Referral", "Other"),
		ref("Pricebook2Id", "Pricebook2", "Pricebook2"),
		def(ro("IsWon", TypeBoolean), false),
		def(ro("IsClosed", TypeBoolean), false),
		rw("Description", TypeTextarea),
		rw("NextStep", TypeString),
	}
	opportunity = append(opportunity, weirFields()...)

	line := []Field{
		req(createOnly(ref("OpportunityId", "Opportunity", "Opportunity"))),
		req(createOnly(ref("PricebookEntryId", "PricebookEntry", "PricebookEntry"))),
		Field{Name: "Product2Id", Type: TypeReference, ReferenceTo: "Product2", RelationshipName: "Product2", Createable: true},
		req(rw("Quantity", TypeDouble)),
		rw("UnitPrice", TypeCurrency),
		rw("TotalPrice", TypeCurrency),
		ro("ListPrice", TypeCurrency),
		rw("Discount", TypePercent),
		rw("ServiceDate", TypeDate),
		rw("Description", TypeTextarea),
		ro("ProductCode", TypeString),
		ro("Name", TypeString),
	}

	user := []Field{
		req(rw("Username", TypeString)),
		ro("Name", TypeString),
		rw("FirstName", TypeString),
		req(rw("LastName", TypeString)),
		req(rw("Email", TypeEmail)),
		def(rw("IsActive", TypeBoolean), true),
	}

	return []*Object{
		{Name: "User", Prefix: "005", Fields: user},
		{Name: "Account", Prefix: "001", Fields: account},
		{Name: "Product2", Prefix: "01t", Fields: product},
		{Name: "Pricebook2", Prefix: "01s", Fields: pricebook},
		{Name: "PricebookEntry", Prefix: "01u", Fields: entry},
		{Name: "Opportunity", Prefix: "006", Fields: opportunity},
		{Name: "OpportunityLineItem", Prefix: "00k", Fields: line},
		{Name: "Order", Prefix: "801", Fields: order},
		{Name: "OrderItem", Prefix: "802", Fields: item},
	}
}

// schema is the set of objects of an org.
type schema struct {
	objects map[string]*Object // by lower-case name
	names   []string           // sorted API names
}

// newSchema indexes the objects and their relationships. Extra objects
// replace standard ones of the same name.
func newSchema(objs []*Object) *schema {
	s := &schema{objects: map[string]*Object{}}
	for _, o := range objs {
		c := &Object{Name: o.Name, Prefix: o.Prefix}
		c.Fields = append(systemFields(), o.Fields...)
		if c.Prefix == "" {
			c.Prefix = customPrefix(o.Name)
		}
		s.objects[strings.ToLower(c.Name)] = c
	}
	for _, o := range s.objects {
		o.fields, o.rels, o.children = map[string]*Field{}, map[string]*Field{}, map[string]*Child{}
		for i := range o.Fields {
			f := &o.Fields[i]
			o.fields[strings.ToLower(f.Name)] = f
			o.order = append(o.order, f)
			if f.Type == TypeReference && f.RelationshipName != "" {
				o.rels[strings.ToLower(f.RelationshipName)] = f
			}
		}
		s.names = append(s.names, o.Name)
	}
	slices.Sort(s.names)
	// Child relationships: Order.OrderItems, Account.Orders, ...
	for _, name := range s.names {
		o := s.objects[strings.ToLower(name)]
		for _, f := range o.order {
			if f.Type != TypeReference || f.ReferenceTo == "" || f.ReferenceTo == "User" {
				continue
			}
			parent := s.objects[strings.ToLower(f.ReferenceTo)]
			if parent == nil {
				continue
			}
			rel := childRelationshipName(o.Name, parent.Name, f.Name)
			if _, dup := parent.children[strings.ToLower(rel)]; !dup {
				parent.children[strings.ToLower(rel)] = &Child{Name: rel, Object: o.Name, Field: f.Name}
			}
		}
	}
	return s
}

// childRelationshipName names a child relationship the way Salesforce
// does for the standard objects: the plural of the child (OrderItems,
// OpportunityLineItems, Orders), or ChildAccounts for Account.ParentId.
func childRelationshipName(child, parent, field string) string {
	switch {
	case child == parent && field == "ParentId":
		return "Child" + child + "s"
	case strings.HasSuffix(child, "__c"):
		return strings.TrimSuffix(child, "__c") + "s__r"
	case strings.HasSuffix(child, "y"):
		return strings.TrimSuffix(child, "y") + "ies"
	}
	return child + "s"
}

// customPrefix makes a stable key prefix for a custom object.
func customPrefix(name string) string {
	h := 0
	for _, r := range name {
		h = (h*31 + int(r)) % (62 * 62)
	}
	return "a" + string(base62[h/62]) + string(base62[h%62])
}

func (s *schema) object(name string) *Object { return s.objects[strings.ToLower(name)] }

// byPrefix returns the object whose ids start with the id's prefix.
func (s *schema) byPrefix(id string) *Object {
	if len(id) < 3 {
		return nil
	}
	for _, o := range s.objects {
		if o.Prefix == id[:3] {
			return o
		}
	}
	return nil
}
