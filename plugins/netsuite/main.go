// Command weir-connector-netsuite is Weir's NetSuite connector (SuiteTalk
// REST web services):
//
//   - destination: salesOrder and customer, upserted by external ID with
//     PUT /record/v1/{type}/eid:{externalId}?replace=<sublists>, so a
//     re-sent order replaces its lines instead of appending them; the
//     internal id from the Location header is the result's id. Unit names
//     on order lines are resolved to the item's units type.
//   - lookup "stock": quantities available per location for a list of
//     items, by SuiteQL, cached briefly.
//   - source: sales order, item fulfillment, invoice and customer changes,
//     by SuiteQL polling on lastmodifieddate with a cursor (date, id).
//
// Every request goes through the host's limiter. NetSuite's real limit is
// the account's concurrency: a 429 CONCURRENCY_LIMIT_EXCEEDED (which has no
// Retry-After) is reported to the host as a concurrency refusal, so every
// host pauses the connection briefly, and retried with backoff. Requests
// carry the host's OAuth 2.0 token, or an OAuth 1.0a (TBA) signature when
// token-based authentication is configured.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/weirhq/weir/sdk"
)

func main() {
	sdk.Serve(&connector{})
}

// Version is the connector's version.
const Version = "0.1.0"

// Defaults of the connection attributes.
const (
	defaultTimeout            = 60 * time.Second
	defaultStockCacheTTL      = 30 * time.Second
	defaultWriteParallelism   = 5
	defaultConcurrencyRetries = 4
	defaultBackoff            = 250 * time.Millisecond
	maxBackoff                = 8 * time.Second
	unitsCacheTTL             = 10 * time.Minute
	unknownItemTTL            = 30 * time.Second
)

// connector is one connection to a NetSuite account.
type connector struct {
	mu   sync.Mutex
	cfg  config
	base string // scheme://host of the REST API
	http *sdk.HTTPClient
	host sdk.Host
	tba  *tbaSigner

	timeout, stockTTL, backoff time.Duration

	// log is the connector's logger; sdk.Logger() when nil.
	log *slog.Logger

	cacheMu sync.Mutex
	stock   map[string]stockEntry
	units   map[string]unitsEntry
}

var (
	_ sdk.Configurer  = (*connector)(nil)
	_ sdk.Checker     = (*connector)(nil)
	_ sdk.Destination = (*connector)(nil)
	_ sdk.Looker      = (*connector)(nil)
	_ sdk.Source      = (*connector)(nil)
)

// config is the connection block.
type config struct {
	AccountID          string            `json:"account_id"`
	BaseURL            string            `json:"base_url"`
	ConsumerKey        string            `json:"consumer_key"`
	ConsumerSecret     string            `json:"consumer_secret"`
	TokenID            string            `json:"token_id"`
	TokenSecret        string            `json:"token_secret"`
	Realm              string            `json:"realm"`
	Timeout            string            `json:"timeout"`
	StockCacheTTL      string            `json:"stock_cache_ttl"`
	WriteParallelism   *int              `json:"write_parallelism"`
	ConcurrencyRetries *int              `json:"concurrency_retries"`
	ConcurrencyBackoff string            `json:"concurrency_backoff"`
	VersionFields      map[string]string `json:"version_fields"`
	Preflight          *bool             `json:"preflight"`
}

// Object names.
const (
	objSalesOrder      = "salesOrder"
	objCustomer        = "customer"
	objItemFulfillment = "itemFulfillment"
	objInvoice         = "invoice"
	objStock           = "stock"
)

// OAuth 2.0 endpoints of an account, {account} being the account id as
// hostnames spell it (AccountHost). They depend on the account, which
// Describe cannot know, so the description leaves them out: the
// connection's oauth2 block gives token_url (and authorization_url for
// the authorization code flow), and the host says so when they are
// missing.
const (
	authorizationURLTemplate = "https://{account}.app.netsuite.com/app/login/oauth2/authorize.nl"
	tokenURLTemplate         = "https://{account}.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token"
)

// OAuthEndpoints returns the OAuth 2.0 authorization and token URLs of an
// account.
func OAuthEndpoints(accountID string) (authorizationURL, tokenURL string) {
	host := AccountHost(accountID)
	return strings.ReplaceAll(authorizationURLTemplate, "{account}", host), strings.ReplaceAll(tokenURLTemplate, "{account}", host)
}

// Describe tells the host what the connector is.
func (c *connector) Describe() sdk.Description {
	dyn := sdk.TypeDynamic
	return sdk.Description{
		Name:    "netsuite",
		Version: Version,
		Description: "NetSuite (SuiteTalk REST): sales order and customer upserts by external ID, stock lookups and " +
			"sales order, fulfillment and invoice changes by SuiteQL, within the account's concurrency limit.",
		Config: []sdk.Attribute{
			{Name: "account_id", Type: sdk.TypeString, Required: true,
				Description: `NetSuite account ID, e.g. "1234567" or "123456_SB1" for a sandbox account. Hosts use it in lower case with "-" (123456-sb1): ` +
					`REST https://<host>.suitetalk.api.netsuite.com; OAuth 2.0 token_url ` + tokenURLTemplate +
					` and authorization_url ` + authorizationURLTemplate + ` (set them in the oauth2 block).`},
			{Name: "base_url", Type: sdk.TypeString,
				Description: "Overrides the REST host (scheme://host), e.g. a Weir sandbox."},
			{Name: "consumer_key", Type: sdk.TypeString, Sensitive: true, Description: "Token-based authentication (OAuth 1.0a): the integration's consumer key. With the three below, requests are signed with HMAC-SHA256 instead of carrying an OAuth 2.0 token."},
			{Name: "consumer_secret", Type: sdk.TypeString, Sensitive: true, Description: "Token-based authentication: the consumer secret."},
			{Name: "token_id", Type: sdk.TypeString, Sensitive: true, Description: "Token-based authentication: the access token ID."},
			{Name: "token_secret", Type: sdk.TypeString, Sensitive: true, Description: "Token-based authentication: the token secret."},
			{Name: "realm", Type: sdk.TypeString, Description: `Token-based authentication realm; the account ID in upper case with "_" (123456_SB1) by default.`},
			{Name: "timeout", Type: sdk.TypeString, Default: json.RawMessage(`"60s"`), Description: "Timeout of one request."},
			{Name: "stock_cache_ttl", Type: sdk.TypeString, Default: json.RawMessage(`"30s"`), Description: "How long stock lookups are cached; \"0s\" for no cache."},
			{Name: "write_parallelism", Type: sdk.TypeNumber, Default: json.RawMessage(`5`), Description: "Records of a batch written at once (each request still waits for the limiter)."},
			{Name: "concurrency_retries", Type: sdk.TypeNumber, Default: json.RawMessage(`4`), Description: "Retries of a request refused with 429 CONCURRENCY_LIMIT_EXCEEDED before the record is handed back as rate limited."},
			{Name: "concurrency_backoff", Type: sdk.TypeString, Default: json.RawMessage(`"250ms"`), Description: "First backoff after a 429; doubled on each retry, with jitter, up to 8s."},
			{Name: "version_fields", Type: sdk.TypeStringMap,
				Description: `Custom fields holding each record's version, by object, e.g. { salesOrder = "custbody_weir_version", customer = "custentity_weir_version" }: a version older than the stored one is then never written.`},
			{Name: "preflight", Type: sdk.TypeBool, Default: json.RawMessage(`true`),
				Description: "Look up a batch's external IDs with one SuiteQL query before writing, to report creates and skip stale versions."},
		},
		SourceConfig: []sdk.Attribute{
			{Name: "object", Type: sdk.TypeString, Default: json.RawMessage(`"salesOrder"`), Description: "salesOrder, itemFulfillment, invoice or customer."},
			{Name: "key_field", Type: sdk.TypeString, Default: json.RawMessage(`"id"`), Description: "The record key: id (internal id), externalId, or tranId / entityId."},
			{Name: "statuses", Type: sdk.TypeStringList, Description: `Only transactions with these status codes, e.g. ["B","D","E","F","G"].`},
			{Name: "where", Type: sdk.TypeString, Description: "An extra SuiteQL condition on the table (alias t), e.g. \"t.externalid LIKE 'SF-%'\"."},
			{Name: "since", Type: sdk.TypeString, Description: `Without a cursor, start at this lastmodifieddate ("YYYY-MM-DD HH24:MI:SS"); from the beginning by default.`},
			{Name: "settle", Type: sdk.TypeString, Default: json.RawMessage(`"2s"`), Description: "Records are read once they have not changed for this long, so a cursor never passes a record still being saved."},
			{Name: "fetch", Type: sdk.TypeString, Default: json.RawMessage(`"record"`), Description: `"record": each changed record in full (GET with expandSubResources); "query": header and lines from SuiteQL only (two requests per batch).`},
			{Name: "page_size", Type: sdk.TypeNumber, Default: json.RawMessage(`1000`), Description: "SuiteQL page size (1 to 1000)."},
		},
		Objects: []sdk.Object{
			{Name: objSalesOrder, Description: "Sales orders: upsert by external ID (the record key or payload externalId); lines are replaced on every write.",
				Readable: true, Writable: true, Operations: []string{"upsert", "delete"},
				Fields: []sdk.Field{
					{Name: "externalId", Type: sdk.TypeString, Description: "External ID; the record key when absent."},
					{Name: "entity", Type: dyn, Required: true, Description: `The customer: {id = "107"} or {externalId = "ACC-0001"}.`},
					{Name: "subsidiary", Type: dyn, Description: `{id = "1"}; required in OneWorld accounts.`},
					{Name: "currency", Type: dyn}, {Name: "location", Type: dyn}, {Name: "tranDate", Type: sdk.TypeString},
					{Name: "otherRefNum", Type: sdk.TypeString}, {Name: "memo", Type: sdk.TypeString},
					{Name: "shippingAddress", Type: dyn}, {Name: "billingAddress", Type: dyn},
					{Name: "item", Type: dyn, Required: true, Description: `Lines: {items = [{item = {externalId = "WID-100"}, quantity = 2, units = "Case" or a unit id, rate = 9.5}]}.`},
				}},
			{Name: objCustomer, Description: "Customers: upsert by external ID.", Readable: true, Writable: true, Operations: []string{"upsert", "delete"},
				Fields: []sdk.Field{
					{Name: "externalId", Type: sdk.TypeString}, {Name: "companyName", Type: sdk.TypeString},
					{Name: "subsidiary", Type: dyn}, {Name: "email", Type: sdk.TypeString}, {Name: "addressBook", Type: dyn},
				}},
			{Name: objItemFulfillment, Description: "Item fulfillments (shipments of sales orders).", Readable: true},
			{Name: objInvoice, Description: "Invoices.", Readable: true},
			{Name: objStock, Description: `Stock: {items = ["WID-100", ...]} (item names, external or internal ids) → quantity available per location.`, Lookup: true},
		},
		OAuth: &sdk.OAuth{
			Flows:  []string{"client_credentials_jwt", "client_credentials", "authorization_code"},
			Scopes: []string{"rest_webservices"},
			PKCE:   true,
		},
	}
}

// AccountHost returns the account id as NetSuite hostnames spell it: lower
// case, "_" as "-" ("123456_SB1" → "123456-sb1").
func AccountHost(accountID string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(accountID), "_", "-"))
}

// Realm returns the account id as TBA realms spell it: upper case, "_".
func Realm(accountID string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(accountID), "-", "_"))
}

// parseDuration parses a duration attribute, def when empty.
func parseDuration(name, v string, def time.Duration) (time.Duration, error) {
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s %q is not a duration such as 30s", name, v)
	}
	return d, nil
}

// Configure checks the configuration and builds the limiter-aware client.
func (c *connector) Configure(_ context.Context, cfg sdk.Config, host sdk.Host) error {
	var conf config
	if err := cfg.Decode(&conf); err != nil {
		return fmt.Errorf("netsuite connection %s: %v", cfg.Connection, err)
	}
	if strings.TrimSpace(conf.AccountID) == "" {
		return fmt.Errorf("netsuite connection %s: account_id is required", cfg.Connection)
	}
	base := "https://" + AccountHost(conf.AccountID) + ".suitetalk.api.netsuite.com"
	if conf.BaseURL != "" {
		u, err := url.Parse(conf.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("netsuite connection %s: base_url %q must be an absolute http or https URL", cfg.Connection, conf.BaseURL)
		}
		base = u.Scheme + "://" + u.Host + strings.TrimSuffix(u.Path, "/")
	}
	timeout, err := parseDuration("timeout", conf.Timeout, defaultTimeout)
	if err != nil {
		return err
	}
	stockTTL, err := parseDuration("stock_cache_ttl", conf.StockCacheTTL, defaultStockCacheTTL)
	if err != nil {
		return err
	}
	backoff, err := parseDuration("concurrency_backoff", conf.ConcurrencyBackoff, defaultBackoff)
	if err != nil {
		return err
	}
	if backoff <= 0 {
		backoff = defaultBackoff
	}
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	var tba *tbaSigner
	tbaSet := []string{conf.ConsumerKey, conf.ConsumerSecret, conf.TokenID, conf.TokenSecret}
	switch n := countSet(tbaSet); {
	case n == 4:
		realm := conf.Realm
		if realm == "" {
			realm = Realm(conf.AccountID)
		}
		tba = &tbaSigner{realm: realm, consumerKey: conf.ConsumerKey, consumerSecret: conf.ConsumerSecret,
			tokenID: conf.TokenID, tokenSecret: conf.TokenSecret, now: time.Now}
	case n > 0:
		return fmt.Errorf("netsuite connection %s: token-based authentication needs all of consumer_key, consumer_secret, token_id and token_secret", cfg.Connection)
	}
	for obj, field := range conf.VersionFields {
		if canonicalObject(obj) == "" || !validColumn(field) {
			return fmt.Errorf("netsuite connection %s: version_fields: %q = %q: want a writable object and a custom field id such as custbody_weir_version", cfg.Connection, obj, field)
		}
	}
	client := &sdk.HTTPClient{Host: host, HTTP: &http.Client{Timeout: timeout, Transport: &http.Transport{
		MaxIdleConnsPerHost: 32, IdleConnTimeout: 90 * time.Second, Proxy: http.ProxyFromEnvironment}}}
	if tba != nil {
		client.Auth = func(_ context.Context, req *http.Request, _ bool) error { return tba.sign(req) }
	}
	client.Classify = classify
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfg, c.base, c.http, c.host, c.tba = conf, base, client, host, tba
	c.timeout, c.stockTTL, c.backoff = timeout, stockTTL, backoff
	c.stock, c.units = map[string]stockEntry{}, map[string]unitsEntry{}
	if c.log == nil {
		c.log = sdk.Logger()
	}
	c.log.Info("configured", "connection", cfg.Connection, "account", AccountHost(conf.AccountID), "tba", tba != nil)
	return nil
}

func countSet(vs []string) int {
	n := 0
	for _, v := range vs {
		if v != "" {
			n++
		}
	}
	return n
}

// writeParallelism returns the configured parallelism.
func (c *connector) writeParallelism() int {
	if c.cfg.WriteParallelism != nil && *c.cfg.WriteParallelism > 0 {
		return *c.cfg.WriteParallelism
	}
	return defaultWriteParallelism
}

// retries returns how often a 429 is retried.
func (c *connector) retries() int {
	if c.cfg.ConcurrencyRetries != nil && *c.cfg.ConcurrencyRetries >= 0 {
		return *c.cfg.ConcurrencyRetries
	}
	return defaultConcurrencyRetries
}

// preflight reports whether batches are looked up before writing.
func (c *connector) preflight() bool { return c.cfg.Preflight == nil || *c.cfg.Preflight }

// Check runs a one-row SuiteQL query: it proves the host, the credentials
// and the role's REST web services permission.
func (c *connector) Check(ctx context.Context) error {
	if c.http == nil {
		return fmt.Errorf("not configured")
	}
	_, err := c.suiteql(ctx, "SELECT id FROM currency", 1, 0, sdk.PriorityInteractive)
	if err != nil {
		e := sdk.Classify(err)
		if e.Status == sdk.StatusAuthExpired {
			return fmt.Errorf("NetSuite refused the credentials (%s): check the OAuth 2.0 setup or the TBA token, and the role's REST web services permission", e.Message)
		}
		return fmt.Errorf("NetSuite at %s: %v", c.base, err)
	}
	return nil
}

// canonicalObject returns the writable object named (any case), or "".
func canonicalObject(name string) string {
	switch strings.ToLower(name) {
	case "salesorder":
		return objSalesOrder
	case "customer":
		return objCustomer
	}
	return ""
}
