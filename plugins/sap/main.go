// Command weir-connector-sap is Weir's connector for SAP S/4HANA, over its
// OData V2 APIs:
//
//   - destination: sales orders (A_SalesOrder with to_Item) through
//     API_SALES_ORDER_SRV, idempotent by PurchaseOrderByCustomer: the order
//     is looked up before it is created, and changed by PATCH with If-Match
//     when it exists;
//   - lookups: stock (API_MATERIAL_STOCK_SRV, unrestricted stock summed per
//     plant), units of measure and conversions (API_PRODUCT_SRV), customers
//     by the CRM's account number (API_BUSINESS_PARTNER), and sales orders;
//   - source: sales order changes (status and the rest) polled on
//     LastChangeDateTime, for the ERP → CRM direction.
//
// It speaks the CSRF token protocol (a token fetched with the session
// cookies, one refetch and retry on 403 "x-csrf-token: Required"),
// authenticates with Basic (a communication user) or the host's OAuth
// token, classifies errors from the OData error body (errordetails targets
// become field paths), and treats an API-management spike arrest (a 500
// with a fault body) like a 429. The plugins/sap/sandbox package is the
// system it is tested against.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/weirhq/weir/sdk"
)

func main() {
	sdk.Serve(&connector{})
}

// Object names.
const (
	objSalesOrder      = "A_SalesOrder"
	objStock           = "stock"
	objProductUnits    = "product_units"
	objBusinessPartner = "business_partner"
)

// Services.
const (
	svcSalesOrder = "API_SALES_ORDER_SRV"
	svcStock      = "API_MATERIAL_STOCK_SRV"
	svcProduct    = "API_PRODUCT_SRV"
	svcPartner    = "API_BUSINESS_PARTNER"
)

// config is the connection block.
type config struct {
	BaseURL          string            `json:"base_url"`
	ServicePath      string            `json:"service_path"`
	SAPClient        string            `json:"sap_client"`
	Language         string            `json:"sap_language"`
	Auth             string            `json:"auth"`
	Username         string            `json:"username"`
	Password         string            `json:"password"`
	UnitCodes        string            `json:"unit_codes"`
	Defaults         map[string]string `json:"defaults"`
	VersionField     string            `json:"version_field"`
	WriteConcurrency int               `json:"write_concurrency"`
	StockTypes       []string          `json:"stock_types"`
	Timeout          string            `json:"timeout"`
}

// connector is one connection to an S/4HANA system.
type connector struct {
	mu  sync.RWMutex
	cfg config
	od  *odata
}

var (
	_ sdk.Configurer  = (*connector)(nil)
	_ sdk.Checker     = (*connector)(nil)
	_ sdk.Destination = (*connector)(nil)
	_ sdk.Looker      = (*connector)(nil)
	_ sdk.Source      = (*connector)(nil)
)

func str(s string) json.RawMessage { b, _ := json.Marshal(s); return b }

// Describe tells the host what the connector is.
func (c *connector) Describe() sdk.Description {
	return sdk.Description{
		Name:        "sap",
		Version:     "0.1.0",
		Description: "SAP S/4HANA over OData V2: sales orders (idempotent by PurchaseOrderByCustomer), stock, units and customer lookups, sales order changes.",
		Config: []sdk.Attribute{
			{Name: "base_url", Type: sdk.TypeString, Required: true, Description: "The system's API host, e.g. https://my300000-api.s4hana.ondemand.com."},
			{Name: "service_path", Type: sdk.TypeString, Default: str("/sap/opu/odata/sap"), Description: "Where the OData services live under base_url."},
			{Name: "sap_client", Type: sdk.TypeString, Description: "The client (sap-client parameter), e.g. \"100\"; the system's default when empty."},
			{Name: "sap_language", Type: sdk.TypeString, Description: "The logon language (sap-language parameter), e.g. \"EN\"."},
			{Name: "auth", Type: sdk.TypeString, Default: str("basic"), Description: "\"basic\": the communication user below; \"oauth\": the token of the connection's oauth2 block."},
			{Name: "username", Type: sdk.TypeString, Sensitive: true, Description: "Communication user (auth = \"basic\")."},
			{Name: "password", Type: sdk.TypeString, Sensitive: true, Description: "Communication user's password (auth = \"basic\")."},
			{Name: "unit_codes", Type: sdk.TypeString, Default: str("sap"), Description: "What units in records are: \"sap\" (SAP codes, sent as RequestedQuantitySAPUnit) or \"iso\" (ISO codes, sent as RequestedQuantityISOUnit). Lookups answer in the same codes."},
			{Name: "defaults", Type: sdk.TypeStringMap, Description: "Sales order header fields used when a record leaves them out, e.g. { SalesOrderType = \"OR\", SalesOrganization = \"1710\", DistributionChannel = \"10\", OrganizationDivision = \"00\" }."},
			{Name: "version_field", Type: sdk.TypeString, Default: str(""), Description: "A custom header field (e.g. YY1_WeirVersion_SDH) holding the record version written last, so an older version never overwrites a newer one; none when empty."},
			{Name: "write_concurrency", Type: sdk.TypeNumber, Default: json.RawMessage(`4`), Description: "Records of a batch written at the same time (the connection's limits still apply)."},
			{Name: "stock_types", Type: sdk.TypeStringList, Default: json.RawMessage(`["01"]`), Description: "InventoryStockType codes counted as available stock (01: unrestricted-use)."},
			{Name: "timeout", Type: sdk.TypeString, Default: str("60s"), Description: "Timeout of one request."},
		},
		SourceConfig: []sdk.Attribute{
			{Name: "key_field", Type: sdk.TypeString, Default: str("SalesOrder"), Description: "The record key: SalesOrder, or PurchaseOrderByCustomer (the CRM's reference; orders without one are skipped)."},
			{Name: "fields", Type: sdk.TypeStringList, Description: "Header fields in each record, besides the key, status fields, amounts and change time."},
			{Name: "filter", Type: sdk.TypeString, Description: "An OData $filter restricting the orders, e.g. \"SalesOrganization eq '1710'\"."},
			{Name: "since", Type: sdk.TypeString, Description: "RFC 3339 time of the first change to read; the beginning when empty."},
			{Name: "items", Type: sdk.TypeBool, Default: json.RawMessage(`false`), Description: "Include the order's items (to_Item)."},
		},
		Objects: []sdk.Object{
			{Name: objSalesOrder, Description: "Sales orders (API_SALES_ORDER_SRV). Records are A_SalesOrder bodies with to_Item; PurchaseOrderByCustomer defaults to the record key. Lookup by PurchaseOrderByCustomer or SalesOrder.",
				Readable: true, Writable: true, Lookup: true, Operations: []string{"upsert"},
				Fields: []sdk.Field{
					{Name: "SoldToParty", Type: sdk.TypeString, Required: true, Description: "Customer number of the sold-to party."},
					{Name: "PurchaseOrderByCustomer", Type: sdk.TypeString, Description: "The external reference the order is found by; the record key when absent."},
					{Name: "SalesOrderType", Type: sdk.TypeString},
					{Name: "SalesOrganization", Type: sdk.TypeString},
					{Name: "DistributionChannel", Type: sdk.TypeString},
					{Name: "OrganizationDivision", Type: sdk.TypeString},
					{Name: "to_Item", Type: sdk.TypeDynamic, Description: "Items: Material, RequestedQuantity, RequestedQuantityUnit (in unit_codes), …"},
				}},
			{Name: objStock, Lookup: true, Description: `Unrestricted stock: {"materials":["WID-100"],"plant":"1710"} → per material the total and per plant and storage location.`},
			{Name: objProductUnits, Lookup: true, Description: `Units of measure and conversions: {"material":"WID-PK12","quantity":3,"from":"CS","to":"EA"}.`},
			{Name: objBusinessPartner, Lookup: true, Description: `Customers by the CRM's account number (BusinessPartnerIDByExtSystem): {"external_ids":["ACC-0001"]}, with their country.`},
		},
		OAuth: &sdk.OAuth{Flows: []string{"client_credentials", "basic"}},
	}
}

// Configure checks the configuration and builds the OData client.
func (c *connector) Configure(_ context.Context, cfg sdk.Config, host sdk.Host) error {
	var conf config
	if err := cfg.Decode(&conf); err != nil {
		return fmt.Errorf("sap: configuration: %w", err)
	}
	base, err := url.Parse(conf.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" || base.User != nil {
		return errors.New("sap: base_url must be an absolute http or https URL without credentials")
	}
	if conf.ServicePath == "" {
		conf.ServicePath = "/sap/opu/odata/sap"
	}
	switch conf.Auth {
	case "":
		conf.Auth = "basic"
	case "basic", "oauth":
	default:
		return fmt.Errorf("sap: auth %q: want \"basic\" or \"oauth\"", conf.Auth)
	}
	if conf.Auth == "basic" && (conf.Username == "" || conf.Password == "") {
		return errors.New("sap: auth \"basic\" needs username and password")
	}
	switch conf.UnitCodes {
	case "":
		conf.UnitCodes = "sap"
	case "sap", "iso":
	default:
		return fmt.Errorf("sap: unit_codes %q: want \"sap\" or \"iso\"", conf.UnitCodes)
	}
	if conf.WriteConcurrency <= 0 {
		conf.WriteConcurrency = 4
	}
	if conf.StockTypes == nil {
		conf.StockTypes = []string{"01"}
	}
	timeout := 60 * time.Second
	if conf.Timeout != "" {
		if timeout, err = time.ParseDuration(conf.Timeout); err != nil || timeout <= 0 {
			return fmt.Errorf("sap: timeout %q is not a positive duration", conf.Timeout)
		}
	}
	jar, _ := cookiejar.New(nil)
	od := &odata{
		root: strings.TrimRight(base.String(), "/") + "/" + strings.Trim(conf.ServicePath, "/"),
		meta: map[string]*schema{},
	}
	od.params = url.Values{}
	if conf.SAPClient != "" {
		od.params.Set("sap-client", conf.SAPClient)
	}
	if conf.Language != "" {
		od.params.Set("sap-language", conf.Language)
	}
	od.http = &sdk.HTTPClient{
		Host:     host,
		HTTP:     &http.Client{Timeout: timeout, Jar: jar, Transport: &http.Transport{MaxIdleConnsPerHost: 32, Proxy: http.ProxyFromEnvironment}},
		Auth:     authFunc(conf, host),
		Classify: od.classify,
	}
	c.mu.Lock()
	c.cfg, c.od = conf, od
	c.mu.Unlock()
	return nil
}

// authFunc applies Basic credentials or the host's token.
func authFunc(conf config, host sdk.Host) func(context.Context, *http.Request, bool) error {
	if conf.Auth == "basic" {
		user, pass := conf.Username, conf.Password
		return func(_ context.Context, req *http.Request, _ bool) error {
			req.SetBasicAuth(user, pass)
			return nil
		}
	}
	return func(ctx context.Context, req *http.Request, force bool) error {
		tok, err := host.Token(ctx, force)
		if err != nil {
			return err
		}
		typ := tok.TokenType
		if typ == "" || strings.EqualFold(typ, "bearer") {
			typ = "Bearer"
		}
		req.Header.Set("Authorization", typ+" "+tok.AccessToken)
		return nil
	}
}

func (c *connector) state() (config, *odata, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.od == nil {
		return config{}, nil, sdk.Permanent("NOT_CONFIGURED", "the connector was not configured", "")
	}
	return c.cfg, c.od, nil
}

// Check reads the sales order service's document: the system answers and
// the credentials are good.
func (c *connector) Check(ctx context.Context) error {
	_, od, err := c.state()
	if err != nil {
		return err
	}
	if _, err := od.get(ctx, svcSalesOrder, "", nil, sdk.PriorityInteractive); err != nil {
		return fmt.Errorf("sap: %s: %v", svcSalesOrder, err)
	}
	return nil
}
