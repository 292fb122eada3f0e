package sandbox

import (
	"encoding/json"
	"fmt"
)

// demoMaterial is a demo product with its units, stock and price.
type demoMaterial struct {
	product, text, typ, group, base string
	price                           string
	// units are alternative units: code → base units per unit as
	// numerator/denominator.
	units [][3]string
	// stock rows: plant, storage location, stock type, special stock
	// type, quantity.
	stock [][5]string
}

// demoMaterials match the CRM demo's product codes.
var demoMaterials = []demoMaterial{
	{product: "WID-100", text: "Widget 100", typ: "FERT", group: "WIDGETS", base: "EA", price: "12.50",
		units: [][3]string{{"CS", "12", "1"}, {"CAR", "48", "1"}},
		stock: [][5]string{
			{"1710", "171A", "01", "", "120"}, {"1710", "171B", "01", "", "80"},
			{"1710", "171A", "02", "", "15"}, {"1710", "171A", "07", "", "5"},
			{"1710", "171A", "01", "E", "30"}, {"1010", "101A", "01", "", "200"},
		}},
	{product: "WID-PK12", text: "Widget pack of 12", typ: "FERT", group: "WIDGETS", base: "EA", price: "11.00",
		units: [][3]string{{"PAK", "12", "1"}, {"CS", "48", "1"}},
		stock: [][5]string{{"1710", "171A", "01", "", "600"}, {"1710", "171C", "01", "", "144"}}},
	{product: "GAD-200", text: "Gadget 200", typ: "FERT", group: "GADGETS", base: "PC", price: "89.90",
		units: [][3]string{{"CS", "6", "1"}},
		stock: [][5]string{{"1710", "171A", "01", "", "35"}, {"1010", "101A", "01", "", "12"}}},
	{product: "CAB-10M", text: "Cable 10 m", typ: "HAWA", group: "CABLES", base: "PC", price: "7.25",
		units: [][3]string{{"M", "1", "10"}},
		stock: [][5]string{{"1710", "171B", "01", "", "250"}, {"1010", "101A", "01", "", "400"}}},
	{product: "SRV-RACK", text: "Rack installation service", typ: "SERV", group: "SERVICES", base: "H", price: "120.00"},
}

// demoPartner is a demo business partner and customer.
type demoPartner struct {
	bp, ext, name, country, region, city, postal, street, house, lang, block string
}

// demoPartners match the CRM demo's account numbers (ACC-0001, …) through
// BusinessPartnerIDByExtSystem.
var demoPartners = []demoPartner{
	{"17100001", "ACC-0001", "Acme Corporation", "US", "CA", "Palo Alto", "94304", "Hillview Avenue", "3410", "EN", ""},
	{"17100002", "ACC-0002", "Müller Maschinenbau GmbH", "DE", "BW", "Walldorf", "69190", "Dietmar-Hopp-Allee", "16", "DE", ""},
	{"17100003", "ACC-0003", "Thames Trading Ltd", "GB", "", "London", "EC2A 4NE", "Clifton Street", "2", "EN", ""},
	{"17100004", "ACC-0004", "Société Lumière SA", "FR", "", "Lyon", "69002", "Rue de la République", "35", "FR", ""},
	{"17100005", "ACC-0005", "Sakura Kogyo K.K.", "JP", "13", "Tokyo", "100-0005", "Marunouchi", "1-9-1", "JA", ""},
	{"17100009", "ACC-0009", "Blocked Buyer Inc", "US", "TX", "Austin", "78701", "Congress Avenue", "100", "EN", "01"},
}

// SeedDemo loads the demo data: the materials WID-100, WID-PK12, GAD-200,
// CAB-10M and SRV-RACK with base and alternative units (CS = 12 EA, …),
// stock per plant and storage location (unrestricted, quality inspection,
// blocked and sales order stock), net prices, and business partners who
// are customers (sold-to parties) with country keys, mapped to the CRM's
// account numbers ACC-0001… by BusinessPartnerIDByExtSystem. ACC-0009's
// customer is blocked for orders.
func (s *Server) SeedDemo() {
	seed := Seed{Records: map[string][]json.RawMessage{}, Prices: map[string]string{}}
	add := func(set string, v any) {
		b, _ := json.Marshal(v)
		seed.Records[set] = append(seed.Records[set], b)
	}
	for _, m := range demoMaterials {
		uoms := []map[string]any{{"AlternativeUnit": m.base, "QuantityNumerator": "1", "QuantityDenominator": "1", "BaseUnit": m.base}}
		for _, u := range m.units {
			uoms = append(uoms, map[string]any{"AlternativeUnit": u[0], "QuantityNumerator": u[1], "QuantityDenominator": u[2], "BaseUnit": m.base})
		}
		iso := map[string]string{}
		for _, u := range s.opts.Units {
			iso[u.SAP] = u.ISO
		}
		prod := map[string]any{"Product": m.product, "ProductType": m.typ, "ProductGroup": m.group, "BaseUnit": m.base,
			"ItemCategoryGroup": "NORM", "Division": "00", "CreationDate": "/Date(1672531200000)/", "CreatedByUser": "CB9980000010",
			"LastChangeDate": "/Date(1704067200000)/",
			"to_Description": []map[string]any{{"Language": "EN", "ProductDescription": m.text}},
		}
		if s.opts.ProductISOUnits {
			prod["BaseISOUnit"] = iso[m.base]
			for _, u := range uoms {
				u["AlternativeISOUnit"] = iso[u["AlternativeUnit"].(string)]
			}
		}
		prod["to_ProductUnitsOfMeasure"] = uoms
		add("A_Product", prod)
		seed.Prices[m.product] = m.price
		if len(m.stock) == 0 {
			continue
		}
		var rows []map[string]any
		for _, st := range m.stock {
			row := map[string]any{"Plant": st[0], "StorageLocation": st[1], "InventoryStockType": st[2],
				"InventorySpecialStockType": st[3], "MaterialBaseUnit": m.base, "MatlWrhsStkQtyInMatlBaseUnit": st[4]}
			if st[3] == "E" {
				row["SDDocument"], row["SDDocumentItem"], row["Customer"] = "9000001", "10", "17100001"
			}
			rows = append(rows, row)
		}
		add("A_MaterialStock", map[string]any{"Material": m.product, "MaterialBaseUnit": m.base, "to_MatlStkInAcctMod": rows})
	}
	for i, p := range demoPartners {
		add("A_Customer", map[string]any{"Customer": p.bp, "CustomerName": p.name, "CustomerAccountGroup": "CUST",
			"OrderIsBlockedForCustomer": p.block})
		add("A_BusinessPartner", map[string]any{"BusinessPartner": p.bp, "Customer": p.bp, "BusinessPartnerCategory": "2",
			"BusinessPartnerFullName": p.name, "BusinessPartnerName": p.name, "BusinessPartnerGrouping": "BP02",
			"BusinessPartnerIDByExtSystem": p.ext, "SearchTerm1": p.ext, "CreationDate": "/Date(1672531200000)/",
			"to_BusinessPartnerAddress": []map[string]any{{"AddressID": fmt.Sprint(22000 + i), "Country": p.country, "Region": p.region,
				"CityName": p.city, "PostalCode": p.postal, "StreetName": p.street, "HouseNumber": p.house, "Language": p.lang, "FullName": p.name}}})
	}
	if err := s.Seed(seed); err != nil {
		panic("sandbox: demo seed: " + err.Error())
	}
}
