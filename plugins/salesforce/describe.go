package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/weirhq/weir/sdk"
)

// sobjectDescribe is the part of an sObject describe the connector uses.
type sobjectDescribe struct {
	Name   string `json:"name"`
	Fields []struct {
		Name             string   `json:"name"`
		Type             string   `json:"type"`
		ReferenceTo      []string `json:"referenceTo"`
		RelationshipName string   `json:"relationshipName"`
		ExternalID       bool     `json:"externalId"`
	} `json:"fields"`
	ChildRelationships []struct {
		ChildSObject     string `json:"childSObject"`
		Field            string `json:"field"`
		RelationshipName string `json:"relationshipName"`
	} `json:"childRelationships"`
}

// has reports whether the object has a field.
func (d *sobjectDescribe) has(name string) bool { return d.fieldType(name) != "" }

// fieldType returns a field's describe type, "" when there is no such
// field.
func (d *sobjectDescribe) fieldType(name string) string {
	for _, f := range d.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Type
		}
	}
	return ""
}

// scalar returns the fields a query can select one by one: not compound
// (address, location) and not binary.
func (d *sobjectDescribe) scalar() []string {
	var out []string
	for _, f := range d.Fields {
		switch f.Type {
		case "address", "location", "base64", "complexvalue", "anyType":
			continue
		}
		out = append(out, f.Name)
	}
	return out
}

// describe returns an object's describe, cached for the process.
func (c *connector) describe(ctx context.Context, a *api, object string, p sdk.Priority) (*sobjectDescribe, error) {
	key := strings.ToLower(object)
	c.mu.Lock()
	d := c.describes[key]
	c.mu.Unlock()
	if d != nil {
		return d, nil
	}
	resp, err := a.get(ctx, a.dataPath("sobjects/"+object+"/describe"), p, nil)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", object, err)
	}
	d = &sobjectDescribe{}
	if err := json.Unmarshal(resp.Body, d); err != nil {
		return nil, sdk.Retryable(fmt.Errorf("describe %s: %w", object, err), 0)
	}
	c.mu.Lock()
	c.describes[key] = d
	c.mu.Unlock()
	return d, nil
}

// parentFields are the fields read of a parent record (an Order's
// Account), when the parent has them, besides its external ID fields:
// not all of them, which in orgs with many custom fields would make the
// query too long for a URL.
var parentFields = []string{"Id", "Name", "AccountNumber", "Type", "Industry", "Phone", "Website", "CurrencyIsoCode", "OwnerId",
	"BillingStreet", "BillingCity", "BillingState", "BillingPostalCode", "BillingCountry", "BillingStateCode", "BillingCountryCode",
	"ShippingStreet", "ShippingCity", "ShippingState", "ShippingPostalCode", "ShippingCountry", "ShippingStateCode", "ShippingCountryCode",
	"SystemModstamp"}

// related is what a source reads with each record of some objects: the
// parent (by relationship name) and the child relationship, with the
// fields of the child's parent records to include.
var related = map[string]struct {
	parents      []string
	child        string
	childObject  string
	childOrder   string
	childParents map[string][]string // relationship → fields
}{
	"order": {parents: []string{"Account"}, child: "OrderItems", childObject: "OrderItem", childOrder: "OrderItemNumber",
		childParents: map[string][]string{"Product2": {"ProductCode", "Name", "QuantityUnitOfMeasure", "Family", "StockKeepingUnit"}}},
	"opportunity": {parents: []string{"Account"}, child: "OpportunityLineItems", childObject: "OpportunityLineItem", childOrder: "Id",
		childParents: map[string][]string{"Product2": {"ProductCode", "Name", "QuantityUnitOfMeasure", "Family", "StockKeepingUnit"}}},
}

// selection is a SELECT list and the child relationships it reads.
type selection struct {
	fields   []string
	children []string
}

// String writes the SELECT list.
func (s selection) String() string { return strings.Join(s.fields, ", ") }

// selectFor builds the SELECT list of a source or lookup on object: the
// given fields or every scalar field, with Id, SystemModstamp, IsDeleted
// and the key field, and the related records when asked.
func (c *connector) selectFor(ctx context.Context, a *api, object string, fields []string, withRelated bool, must []string, p sdk.Priority) (selection, error) {
	var sel selection
	seen := map[string]bool{}
	add := func(f string) {
		if !seen[strings.ToLower(f)] {
			seen[strings.ToLower(f)] = true
			sel.fields = append(sel.fields, f)
		}
	}
	rel, hasRelated := related[strings.ToLower(object)]
	if len(fields) > 0 {
		for _, f := range fields {
			add(f)
		}
		for _, f := range must {
			add(f)
		}
	} else {
		d, err := c.describe(ctx, a, object, p)
		if err != nil {
			return sel, err
		}
		for _, f := range d.scalar() {
			add(f)
		}
		for _, f := range must {
			if d.has(f) {
				add(f)
			}
		}
	}
	if !withRelated || !hasRelated {
		return sel, nil
	}
	for _, parent := range rel.parents {
		pd, err := c.describe(ctx, a, parent, p)
		if err != nil {
			return sel, err
		}
		for _, f := range parentFields {
			if pd.has(f) {
				add(parent + "." + f)
			}
		}
		for _, f := range pd.Fields {
			if f.ExternalID {
				add(parent + "." + f.Name)
			}
		}
	}
	cd, err := c.describe(ctx, a, rel.childObject, p)
	if err != nil {
		return sel, err
	}
	sub := cd.scalar()
	for relName, want := range rel.childParents {
		pd, err := c.describe(ctx, a, relName, p)
		if err != nil {
			return sel, err
		}
		for _, f := range want {
			if pd.has(f) {
				sub = append(sub, relName+"."+f)
			}
		}
	}
	order := "Id"
	if slices.Contains(sub, rel.childOrder) {
		order = rel.childOrder
	}
	add(fmt.Sprintf("(SELECT %s FROM %s ORDER BY %s)", strings.Join(sub, ", "), rel.child, order))
	sel.children = append(sel.children, rel.child)
	return sel, nil
}

// quote writes a SOQL string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return "'" + r.Replace(s) + "'"
}
