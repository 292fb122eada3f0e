package sandbox

import (
	"fmt"
	"time"
)

// SeedDemo seeds the demo data: accounts in several countries written the
// ways users write them ("USA", "United States", "U.S.", "Deutschland",
// "UK", "Japan"), products sold by "Each" and "Pack of 12" with their
// Standard Price Book entries, activated orders above and below $5,000, a
// draft order and an opportunity with line items.
func (s *Server) SeedDemo() error {
	day := s.now().UTC().Format("2006-01-02")
	recs := []SeedRecord{
		// Products and their standard prices.
		{Type: "Product2", Ref: "widget", Fields: map[string]any{"Name": "Widget", "ProductCode": "WID-100", "QuantityUnitOfMeasure": "Each", "Family": "Hardware", "IsActive": true, "ExternalId__c": "WID-100"}},
		{Type: "Product2", Ref: "widgetCase", Fields: map[string]any{"Name": "Widget, case of 12", "ProductCode": "WID-100-12", "QuantityUnitOfMeasure": "Pack of 12", "Family": "Hardware", "IsActive": true, "ExternalId__c": "WID-100-12"}},
		{Type: "Product2", Ref: "gadget", Fields: map[string]any{"Name": "Gadget Pro", "ProductCode": "GAD-200", "QuantityUnitOfMeasure": "Each", "Family": "Hardware", "IsActive": true, "ExternalId__c": "GAD-200"}},
		{Type: "Product2", Ref: "bolts", Fields: map[string]any{"Name": "Bolts M8, pack of 12", "ProductCode": "BLT-M8-12", "QuantityUnitOfMeasure": "Pack of 12", "Family": "Consumables", "IsActive": true, "ExternalId__c": "BLT-M8-12"}},
		{Type: "PricebookEntry", Ref: "pbeWidget", Fields: map[string]any{"Pricebook2Id": "@StandardPricebook", "Product2Id": "@widget", "UnitPrice": num("120.00"), "IsActive": true}},
		{Type: "PricebookEntry", Ref: "pbeWidgetCase", Fields: map[string]any{"Pricebook2Id": "@StandardPricebook", "Product2Id": "@widgetCase", "UnitPrice": num("1320.00"), "IsActive": true}},
		{Type: "PricebookEntry", Ref: "pbeGadget", Fields: map[string]any{"Pricebook2Id": "@StandardPricebook", "Product2Id": "@gadget", "UnitPrice": num("2450.50"), "IsActive": true}},
		{Type: "PricebookEntry", Ref: "pbeBolts", Fields: map[string]any{"Pricebook2Id": "@StandardPricebook", "Product2Id": "@bolts", "UnitPrice": num("18.75"), "IsActive": true}},

		// Accounts, countries as people type them.
		{Type: "Account", Ref: "acme", Fields: map[string]any{"Name": "Acme Corporation", "AccountNumber": "ACME-001", "ExternalId__c": "ACME-001", "Type": "Customer - Direct",
			"BillingStreet": "1 Infinite Loop", "BillingCity": "Cupertino", "BillingState": "CA", "BillingPostalCode": "95014", "BillingCountry": "USA",
			"ShippingStreet": "1 Infinite Loop", "ShippingCity": "Cupertino", "ShippingState": "CA", "ShippingPostalCode": "95014", "ShippingCountry": "USA"}},
		{Type: "Account", Ref: "globex", Fields: map[string]any{"Name": "Globex Inc.", "AccountNumber": "GLOBEX-002", "ExternalId__c": "GLOBEX-002", "Type": "Customer - Direct",
			"BillingStreet": "500 Main St", "BillingCity": "Springfield", "BillingState": "Illinois", "BillingPostalCode": "62701", "BillingCountry": "United States",
			"ShippingCity": "Springfield", "ShippingState": "Illinois", "ShippingCountry": "United States"}},
		{Type: "Account", Ref: "initech", Fields: map[string]any{"Name": "Initech", "AccountNumber": "INITECH-003", "ExternalId__c": "INITECH-003", "Type": "Customer - Channel",
			"BillingStreet": "4120 Freidrich Ln", "BillingCity": "Austin", "BillingState": "TX", "BillingPostalCode": "78744", "BillingCountry": "U.S.",
			"ShippingCity": "Austin", "ShippingState": "TX", "ShippingCountry": "U.S."}},
		{Type: "Account", Ref: "mueller", Fields: map[string]any{"Name": "Müller Maschinenbau GmbH", "AccountNumber": "MUELLER-004", "ExternalId__c": "MUELLER-004", "Type": "Customer - Direct",
			"BillingStreet": "Hauptstraße 5", "BillingCity": "München", "BillingState": "Bayern", "BillingPostalCode": "80331", "BillingCountry": "Deutschland",
			"ShippingCity": "München", "ShippingCountry": "Deutschland"}},
		{Type: "Account", Ref: "brit", Fields: map[string]any{"Name": "Britannia Supplies Ltd", "AccountNumber": "BRIT-005", "ExternalId__c": "BRIT-005", "Type": "Partner",
			"BillingStreet": "10 Downing St", "BillingCity": "London", "BillingPostalCode": "SW1A 2AA", "BillingCountry": "UK",
			"ShippingCity": "London", "ShippingCountry": "UK"}},
		{Type: "Account", Ref: "tokyo", Fields: map[string]any{"Name": "東京トレーディング株式会社", "AccountNumber": "TOKYO-006", "ExternalId__c": "TOKYO-006", "Type": "Prospect",
			"BillingCity": "Tokyo", "BillingCountry": "Japan", "ShippingCity": "Tokyo", "ShippingCountry": "Japan"}},
	}
	type line struct {
		entry string
		qty   string
		price string
	}
	orders := []struct {
		ref, account, status, po string
		lines                    []line
	}{
		{"o1", "acme", "Activated", "PO-ACME-7781", []line{{"pbeWidget", "50", "120.00"}}},                               // 6,000.00
		{"o2", "globex", "Activated", "PO-GX-1002", []line{{"pbeGadget", "2", "2450.50"}}},                               // 4,901.00
		{"o3", "initech", "Activated", "PO-IT-3", []line{{"pbeWidgetCase", "5", "1320.00"}, {"pbeBolts", "4", "18.75"}}}, // 6,675.00
		{"o4", "mueller", "Activated", "PO-MM-2024-17", []line{{"pbeBolts", "10", "18.75"}}},                             // 187.50
		{"o5", "brit", "Activated", "PO-BS-55", []line{{"pbeGadget", "3", "2450.50"}, {"pbeWidget", "10", "115.00"}}},    // 8,501.50
		{"o6", "tokyo", "Draft", "", []line{{"pbeWidget", "1", "120.00"}}},                                               // 120.00
	}
	for _, o := range orders {
		recs = append(recs, SeedRecord{Type: "Order", Ref: o.ref, Fields: map[string]any{
			"AccountId": "@" + o.account, "Pricebook2Id": "@StandardPricebook", "EffectiveDate": day, "Status": "Draft", "PoNumber": o.po,
		}})
		for _, l := range o.lines {
			recs = append(recs, SeedRecord{Type: "OrderItem", Fields: map[string]any{
				"OrderId": "@" + o.ref, "PricebookEntryId": "@" + l.entry, "Quantity": num(l.qty), "UnitPrice": num(l.price),
			}})
		}
		if o.status != "Draft" {
			recs = append(recs, SeedRecord{Type: "Order", ID: "@" + o.ref, Fields: map[string]any{"Status": o.status}})
		}
	}
	recs = append(recs,
		SeedRecord{Type: "Opportunity", Ref: "opp1", Fields: map[string]any{"Name": "Acme – spring restock", "AccountId": "@acme", "StageName": "Negotiation/Review",
			"CloseDate": time.Now().AddDate(0, 1, 0).UTC().Format("2006-01-02"), "Pricebook2Id": "@StandardPricebook", "ExternalId__c": "OPP-ACME-1"}},
		SeedRecord{Type: "OpportunityLineItem", Fields: map[string]any{"OpportunityId": "@opp1", "PricebookEntryId": "@pbeWidgetCase", "Quantity": num("20"), "UnitPrice": num("1250.00")}},
	)
	if _, err := s.Seed(recs...); err != nil {
		return fmt.Errorf("sandbox: demo data: %w", err)
	}
	return nil
}
