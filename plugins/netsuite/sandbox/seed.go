package sandbox

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"
)

// SeedData is test data: records by type, created in dependency order
// (currency, subsidiary, location, unitsType, inventoryItem, customer,
// salesOrder) and, within a type, in the order given. Each record is a
// request body; "id" forces its internal id. Seeded records skip the
// property name validation and the line requirement, so tests can store
// fields of their own; references are still checked. An inventoryItem's
// "locations" lines may carry quantityOnHand and quantityOnOrder.
type SeedData struct {
	Records map[string][]json.RawMessage `json:"records"`
}

// seedOrder is the order types are seeded in.
var seedOrder = []string{tCurrency, tSubsidiary, tLocation, tUnitsType, tInventoryItem, tCustomer, tSalesOrder}

// Seed stores the records of d and returns their internal ids by type,
// in the order given. It stops at the first invalid record.
func (s *Server) Seed(d SeedData) (map[string][]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := map[string][]string{}
	for name := range d.Records {
		if rt := s.db.typeNamed(name, false); rt == nil || rt.name == tItemFulfillment || rt.name == tInvoice {
			return nil, fmt.Errorf("seed: record type %q cannot be seeded", name)
		}
	}
	for _, typ := range seedOrder {
		var bodies []json.RawMessage
		for name, bs := range d.Records {
			if strings.EqualFold(name, typ) {
				bodies = append(bodies, bs...)
			}
		}
		for i, raw := range bodies {
			id, err := s.seedLocked(typ, raw)
			if err != nil {
				return nil, fmt.Errorf("seed: %s[%d]: %v", typ, i, err)
			}
			ids[typ] = append(ids[typ], id)
		}
	}
	return ids, nil
}

// seedLocked stores one seed record.
func (s *Server) seedLocked(typ string, raw json.RawMessage) (string, error) {
	body, err := decodeBody(raw)
	if err != nil {
		return "", err
	}
	rt := s.db.types[typ]
	var cur *record
	var forced int64
	if v, ok := body["id"]; ok {
		idStr, _ := idString(v)
		forced, err = strconv.ParseInt(idStr, 10, 64)
		if err != nil || forced <= 0 {
			return "", fmt.Errorf("id %v is not a positive integer", v)
		}
		cur = s.db.tables[typ].byID[forced]
	} else if ext, ok := body["externalId"].(string); ok && ext != "" {
		cur = s.db.get(typ, "eid:"+ext)
	}
	replace := map[string]bool{}
	for name := range rt.sublists {
		replace[name] = true
	}
	rec, aerr := s.db.apply(rt, cur, body, writeOpts{create: cur == nil, replace: replace, lenient: true, names: "Ignore",
		defaultStatus: "B", subsidiaryFromEntity: true})
	if aerr != nil {
		return "", aerr
	}
	if forced > 0 {
		rec.id = forced
	}
	if rec.extID != "" {
		if other, ok := s.db.tables[typ].byExt[rec.extID]; ok && other != rec.id && rec.id != 0 {
			return "", fmt.Errorf("external ID %s is already used by %d", rec.extID, other)
		}
	}
	s.db.commit(rec, s.now())
	return strconv.FormatInt(rec.id, 10), nil
}

// Credentials are the sandbox's demo credentials, registered by SeedDemo:
// an integration usable with every flow. They are test values, not
// secrets.
type Credentials struct {
	AccountID string `json:"account_id"`
	// ClientID and ClientSecret are a confidential integration's, for the
	// authorization code flow (https:// or custom-scheme redirects).
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	// CertificateID and PrivateKeyPEM (an EC P-256 key in PKCS #8 PEM, for
	// ES256) are the client credentials (M2M) mapping of ClientID.
	CertificateID string `json:"certificate_id"`
	PrivateKeyPEM string `json:"private_key_pem"`
	// The token-based authentication token.
	ConsumerKey    string `json:"consumer_key"`
	ConsumerSecret string `json:"consumer_secret"`
	TokenID        string `json:"token_id"`
	TokenSecret    string `json:"token_secret"`
}

// DemoCredentials returns the demo credentials, registering them first if
// SeedDemo has not.
func (s *Server) DemoCredentials() Credentials {
	s.mu.Lock()
	c := s.auth.demo
	s.mu.Unlock()
	if c != nil {
		return *c
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(err)
	}
	cred := Credentials{
		AccountID: s.opts.AccountID, ClientID: "weir-demo-client", ClientSecret: "weir-demo-client-secret",
		CertificateID: "weir-demo-certificate", PrivateKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		ConsumerKey: "weir-demo-consumer-key", ConsumerSecret: "weir-demo-consumer-secret",
		TokenID: "weir-demo-token-id", TokenSecret: "weir-demo-token-secret",
	}
	s.mu.Lock()
	if s.auth.demo != nil {
		c := *s.auth.demo
		s.mu.Unlock()
		return c
	}
	s.auth.demo = &cred
	s.mu.Unlock()
	s.AddClient(Client{ID: cred.ClientID, Secret: cred.ClientSecret})
	_ = s.AddCertificate(Certificate{ID: cred.CertificateID, ClientID: cred.ClientID, PublicKey: &key.PublicKey})
	s.AddTBAToken(TBAToken{ConsumerKey: cred.ConsumerKey, ConsumerSecret: cred.ConsumerSecret, TokenID: cred.TokenID, TokenSecret: cred.TokenSecret})
	return cred
}

// Demo data sizes and codes.
const (
	// DemoCustomers is the number of demo customers, ACC-0001 to ACC-0040
	// (external ids matching the CRM's account numbers).
	DemoCustomers = 40
)

// DemoItems are the demo items' codes (itemId and externalId, matching
// the CRM's product codes).
var DemoItems = []string{"WID-100", "WID-PK12", "GAD-200", "CAB-10M", "SRV-RACK"}

// Demo units of measure (internal ids).
const (
	// UnitEach and UnitCase are the "Count" units type's Each (base) and
	// Case of 12.
	UnitEach = "1"
	UnitCase = "2"
	// UnitEachOnly is the "Each Only" units type's single unit.
	UnitEachOnly = "3"
)

// SeedDemo stores the demo data: currencies, subsidiaries, locations,
// units types (Count: Each and Case of 12; Each Only), the items of
// DemoItems with stock per location, and DemoCustomers customers; and
// registers the demo credentials. Records already there are updated.
func (s *Server) SeedDemo() {
	s.DemoCredentials()
	raw := func(format string, args ...any) json.RawMessage { return json.RawMessage(fmt.Sprintf(format, args...)) }
	d := SeedData{Records: map[string][]json.RawMessage{
		tCurrency: {
			raw(`{"id":1,"name":"US Dollar","symbol":"USD","displaySymbol":"$","isBaseCurrency":true,"exchangeRate":1}`),
			raw(`{"id":2,"name":"British pound","symbol":"GBP","displaySymbol":"£","isBaseCurrency":false,"exchangeRate":1.27}`),
			raw(`{"id":3,"name":"Canadian Dollar","symbol":"CAD","displaySymbol":"$","isBaseCurrency":false,"exchangeRate":0.73}`),
			raw(`{"id":4,"name":"Euro","symbol":"EUR","displaySymbol":"€","isBaseCurrency":false,"exchangeRate":1.08}`),
		},
		tSubsidiary: {
			raw(`{"id":1,"name":"Weir Demo Inc.","country":"US","currency":{"id":"1"}}`),
			raw(`{"id":2,"name":"Weir Demo Europe B.V.","country":"NL","currency":{"id":"4"}}`),
			raw(`{"id":3,"name":"Weir Demo Canada Ltd.","country":"CA","currency":{"id":"3"}}`),
		},
		tLocation: {
			raw(`{"id":1,"name":"Austin Warehouse","subsidiary":{"id":"1"},"makeInventoryAvailable":true,"mainAddress":{"addr1":"100 Congress Ave","city":"Austin","state":"TX","zip":"78701","country":"US"}}`),
			raw(`{"id":2,"name":"Rotterdam DC","subsidiary":{"id":"2"},"makeInventoryAvailable":true,"mainAddress":{"addr1":"Waalhaven Z.z. 1","city":"Rotterdam","zip":"3089","country":"NL"}}`),
			raw(`{"id":3,"name":"Toronto Depot","subsidiary":{"id":"3"},"makeInventoryAvailable":true,"mainAddress":{"addr1":"1 Front St W","city":"Toronto","state":"ON","zip":"M5J 2X5","country":"CA"}}`),
		},
		tUnitsType: {
			raw(`{"id":1,"name":"Count","uom":{"items":[
				{"internalId":1,"unitName":"Each","pluralName":"Each","abbreviation":"ea","pluralAbbreviation":"ea","baseUnit":true,"conversionRate":1,"inUse":true},
				{"internalId":2,"unitName":"Case","pluralName":"Cases","abbreviation":"cs","pluralAbbreviation":"cs","baseUnit":false,"conversionRate":12,"inUse":true}]}}`),
			raw(`{"id":2,"name":"Each Only","uom":{"items":[
				{"internalId":3,"unitName":"Each","pluralName":"Each","abbreviation":"ea","pluralAbbreviation":"ea","baseUnit":true,"conversionRate":1,"inUse":true}]}}`),
		},
	}}
	type item struct {
		code, name   string
		unitsType    string
		sale, stock  string
		price        string
		onHand       [3]int
		onOrder      int
		reorderPoint int
	}
	items := []item{
		{"WID-100", "Widget", "1", UnitEach, UnitEach, "49.90", [3]int{1200, 400, 150}, 500, 100},
		{"WID-PK12", "Widget 12-pack", "1", UnitCase, UnitEach, "499.00", [3]int{2400, 600, 240}, 0, 240},
		{"GAD-200", "Gadget", "1", UnitEach, UnitEach, "1299.00", [3]int{80, 25, 10}, 40, 20},
		{"CAB-10M", "Cable, 10 m", "2", UnitEachOnly, UnitEachOnly, "19.99", [3]int{3000, 800, 300}, 0, 500},
		{"SRV-RACK", "Rack", "2", UnitEachOnly, UnitEachOnly, "8999.00", [3]int{40, 12, 6}, 10, 5},
	}
	for i, it := range items {
		var locs []string
		for l, q := range it.onHand {
			locs = append(locs, fmt.Sprintf(`{"location":{"id":"%d"},"quantityOnHand":%d,"quantityOnOrder":%d,"reorderPoint":%d}`, l+1, q, it.onOrder, it.reorderPoint))
		}
		d.Records[tInventoryItem] = append(d.Records[tInventoryItem], raw(
			`{"id":%d,"externalId":%q,"itemId":%q,"displayName":%q,"unitsType":{"id":%q},"saleUnit":%q,"stockUnit":%q,"purchaseUnit":%q,"basePrice":%s,"subsidiary":{"id":"1"},"locations":{"items":[%s]}}`,
			11+i, it.code, it.code, it.name, it.unitsType, it.sale, it.stock, it.stock, it.price, strings.Join(locs, ",")))
	}
	states := []string{"TX", "CA", "NY", "WA", "IL", "MA", "CO", "GA"}
	cities := []string{"Austin", "San Jose", "New York", "Seattle", "Chicago", "Boston", "Denver", "Atlanta"}
	for i := 1; i <= DemoCustomers; i++ {
		k := i % len(states)
		d.Records[tCustomer] = append(d.Records[tCustomer], raw(
			`{"id":%d,"externalId":"ACC-%04d","entityId":"CUST%04d","companyName":"Customer %d","email":"orders@customer%d.example","subsidiary":{"id":"1"},"currency":{"id":"1"},"addressBook":{"items":[{"label":"Main","defaultBilling":true,"defaultShipping":true,"addressBookAddress":{"addressee":"Customer %d","addr1":"%d Market St","city":%q,"state":%q,"zip":"%05d","country":"US"}}]}}`,
			1000+i, i, i, i, i, i, 100+i, cities[k], states[k], 10000+i*37))
	}
	if _, err := s.Seed(d); err != nil {
		panic("sandbox: demo data: " + err.Error())
	}
}
