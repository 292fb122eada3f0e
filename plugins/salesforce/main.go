// Command weir-connector-salesforce is the Salesforce connector: a polling
// source (SOQL by SystemModstamp, deletions included), Outbound Message
// webhooks, an upsert destination by external ID through sObject
// Collections, and lookups by id or external ID.
//
// Every call goes to the instance_url of the OAuth token (or the
// configured one) through sdk.HTTPClient, so the host's limiter grants
// each request, a 401 INVALID_SESSION_ID refreshes the token and retries
// once, each response's Sforce-Limit-Info feeds the daily quota, and 403
// REQUEST_LIMIT_EXCEEDED pauses the connection on every host.
//
// The sandbox (package sandbox in this folder) is a Salesforce org in a
// box the connector runs against in tests, `weir dev` and `weir sandbox
// salesforce`.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
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

// Defaults of the connection block.
const (
	DefaultAPIVersion      = "v61.0"
	DefaultLoginURL        = "https://login.salesforce.com"
	DefaultExternalIDField = "ExternalId__c"
	// MaxCollection is the most records of one sObject Collections call.
	MaxCollection = 200
)

// connector is one connection's Salesforce org. Calls may run
// concurrently; the describe cache is the only state besides the
// configuration.
type connector struct {
	mu        sync.Mutex
	cfg       config
	api       *api
	describes map[string]*sobjectDescribe // by lower-case object name
}

// Every capability, checked at compile time.
var (
	_ sdk.Configurer     = (*connector)(nil)
	_ sdk.Checker        = (*connector)(nil)
	_ sdk.Source         = (*connector)(nil)
	_ sdk.Destination    = (*connector)(nil)
	_ sdk.Looker         = (*connector)(nil)
	_ sdk.WebhookDecoder = (*connector)(nil)
)

// Describe tells the host what the connector is. It does no I/O.
func (c *connector) Describe() sdk.Description {
	obj := func(name, desc string) sdk.Object {
		return sdk.Object{Name: name, Description: desc, Readable: true, Writable: true, Lookup: true, Operations: []string{"upsert", "update"}}
	}
	return sdk.Description{
		Name:        "salesforce",
		Version:     Version,
		Description: "Salesforce: SOQL polling by SystemModstamp, Outbound Messages, upserts by external ID through sObject Collections, lookups.",
		Config: []sdk.Attribute{
			{Name: "instance_url", Type: sdk.TypeString, Description: "The org's URL (https://acme.my.salesforce.com). Empty: the instance_url of the OAuth token response."},
			{Name: "api_version", Type: sdk.TypeString, Default: json.RawMessage(`"` + DefaultAPIVersion + `"`), Description: "REST API version, e.g. v61.0. Before v46.0 upserts go one record per call."},
			{Name: "login_url", Type: sdk.TypeString, Default: json.RawMessage(`"` + DefaultLoginURL + `"`), Description: "The login host (https://test.salesforce.com for sandboxes): where the oauth2 block's endpoints are, never an API host."},
			{Name: "organization_id", Type: sdk.TypeString, Description: "The org id Outbound Messages must come from. Empty: the org of the token's identity URL."},
			{Name: "external_id_field", Type: sdk.TypeString, Default: json.RawMessage(`"` + DefaultExternalIDField + `"`), Description: "External ID field upserts match on."},
			{Name: "external_id_fields", Type: sdk.TypeStringMap, Description: "External ID field by object, overriding external_id_field, e.g. { Order = \"ERP_Key__c\" }."},
			{Name: "version_field", Type: sdk.TypeString, Description: "A number field holding the record version Weir wrote. When set, writes read it first and never let an older version overwrite a newer one."},
			{Name: "write_batch", Type: sdk.TypeNumber, Default: json.RawMessage(`200`), Description: "Records per sObject Collections call (1 to 200); 1 upserts one record per call."},
		},
		SourceConfig: []sdk.Attribute{
			{Name: "object", Type: sdk.TypeString, Default: json.RawMessage(`"Order"`), Description: "The sObject to read."},
			{Name: "where", Type: sdk.TypeString, Description: "A SOQL condition records must meet, e.g. Status = 'Activated'."},
			{Name: "fields", Type: sdk.TypeStringList, Description: "Fields to read. Empty: every field the object's describe lists."},
			{Name: "related", Type: sdk.TypeBool, Default: json.RawMessage(`true`), Description: "Include related records: an Order's Account and OrderItems (with Product2), an Opportunity's Account and line items."},
			{Name: "key_field", Type: sdk.TypeString, Default: json.RawMessage(`"Id"`), Description: "Field whose value is the record key."},
			{Name: "include_deleted", Type: sdk.TypeBool, Default: json.RawMessage(`true`), Description: "Read deleted records (queryAll) as delete operations."},
			{Name: "query_batch_size", Type: sdk.TypeNumber, Default: json.RawMessage(`2000`), Description: "Records per query batch (Sforce-Query-Options), 200 to 2000."},
			{Name: "lag", Type: sdk.TypeString, Default: json.RawMessage(`"0s"`), Description: "Read only records changed at least this long ago, for transactions that commit late."},
			{Name: "since", Type: sdk.TypeString, Description: "Start time (RFC 3339) of the first read; the beginning when empty."},
			{Name: "outbound_secret", Type: sdk.TypeString, Sensitive: true, Description: "Outbound Messages: the shared secret the endpoint URL carries (?secret=...)."},
			{Name: "secret_param", Type: sdk.TypeString, Default: json.RawMessage(`"secret"`), Description: "Outbound Messages: the query parameter holding the secret."},
			{Name: "fetch", Type: sdk.TypeBool, Default: json.RawMessage(`true`), Description: "Outbound Messages: read each notified record (with its related records) through the API, so webhook and polled records look alike."},
		},
		Objects: []sdk.Object{
			obj("Order", "Orders, with OrderItems (Product2 ProductCode, QuantityUnitOfMeasure) and the Account when read."),
			obj("Account", "Accounts."),
			obj("Opportunity", "Opportunities, with line items and the Account when read."),
			obj("Product2", "Products."),
			obj(sdk.AnyObject, "Any other sObject, custom ones (Name__c) included."),
		},
		OAuth: &sdk.OAuth{
			AuthorizationURL: DefaultLoginURL + "/services/oauth2/authorize",
			TokenURL:         DefaultLoginURL + "/services/oauth2/token",
			Flows:            []string{"authorization_code", "jwt_bearer", "client_credentials"},
			Scopes:           []string{"api", "refresh_token"},
			PKCE:             true,
		},
	}
}

// config is the connection block.
type config struct {
	InstanceURL      string            `json:"instance_url"`
	APIVersion       string            `json:"api_version"`
	LoginURL         string            `json:"login_url"`
	OrganizationID   string            `json:"organization_id"`
	ExternalIDField  string            `json:"external_id_field"`
	ExternalIDFields map[string]string `json:"external_id_fields"`
	VersionField     string            `json:"version_field"`
	WriteBatch       int               `json:"write_batch"`
}

var (
	versionRE   = regexp.MustCompile(`^v?([0-9]{2,3})\.0$`)
	nameRE      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	regexpField = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$`)
)

// Configure checks the connection block and builds the API client.
func (c *connector) Configure(_ context.Context, cfg sdk.Config, host sdk.Host) error {
	conf := config{APIVersion: DefaultAPIVersion, LoginURL: DefaultLoginURL, ExternalIDField: DefaultExternalIDField, WriteBatch: MaxCollection}
	if err := cfg.Decode(&conf); err != nil {
		return err
	}
	m := versionRE.FindStringSubmatch(conf.APIVersion)
	if m == nil {
		return fmt.Errorf("api_version %q: want a version such as %s", conf.APIVersion, DefaultAPIVersion)
	}
	vnum, _ := strconv.Atoi(m[1])
	conf.APIVersion = "v" + m[1] + ".0"
	if conf.InstanceURL != "" {
		u, err := url.Parse(conf.InstanceURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("instance_url %q must be an absolute https URL such as https://acme.my.salesforce.com", conf.InstanceURL)
		}
		if l, err := url.Parse(conf.LoginURL); err == nil && l.Host != "" && strings.EqualFold(l.Host, u.Host) && isLoginHost(u.Host) {
			return fmt.Errorf("instance_url %q is a login host: use the org's own URL (the token response's instance_url)", conf.InstanceURL)
		}
		conf.InstanceURL = strings.TrimSuffix(conf.InstanceURL, "/")
	}
	if !nameRE.MatchString(conf.ExternalIDField) {
		return fmt.Errorf("external_id_field %q is not a field name", conf.ExternalIDField)
	}
	for obj, f := range conf.ExternalIDFields {
		if !nameRE.MatchString(obj) || !nameRE.MatchString(f) {
			return fmt.Errorf("external_id_fields: %q = %q is not an object and a field name", obj, f)
		}
	}
	if conf.VersionField != "" && !nameRE.MatchString(conf.VersionField) {
		return fmt.Errorf("version_field %q is not a field name", conf.VersionField)
	}
	if conf.WriteBatch < 1 || conf.WriteBatch > MaxCollection {
		return fmt.Errorf("write_batch %d: want 1 to %d", conf.WriteBatch, MaxCollection)
	}
	if conf.OrganizationID != "" && len(conf.OrganizationID) != 15 && len(conf.OrganizationID) != 18 {
		return fmt.Errorf("organization_id %q: want the 15 or 18-character org id (00D...)", conf.OrganizationID)
	}
	a := newAPI(host, conf.InstanceURL, conf.APIVersion, vnum)
	c.mu.Lock()
	c.cfg, c.api, c.describes = conf, a, map[string]*sobjectDescribe{}
	c.mu.Unlock()
	sdk.Logger().Info("configured", "connection", cfg.Connection, "api_version", conf.APIVersion, "instance_url", conf.InstanceURL)
	return nil
}

// isLoginHost reports whether host is one of Salesforce's login hosts,
// which serve OAuth but not the REST API.
func isLoginHost(host string) bool {
	host = strings.ToLower(host)
	return host == "login.salesforce.com" || host == "test.salesforce.com"
}

// state returns the configuration and client once Configure ran.
func (c *connector) state() (config, *api, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.api == nil {
		return config{}, nil, errors.New("the connector is not configured")
	}
	return c.cfg, c.api, nil
}

// Check reads the org's limits: it proves the token, the instance URL and
// the API version, and reports the quota reading.
func (c *connector) Check(ctx context.Context) error {
	_, a, err := c.state()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = a.get(ctx, a.dataPath("limits"), sdk.PriorityInteractive, nil)
	return err
}

// extField returns the external ID field upserts of obj match on.
func (cfg config) extField(obj string) string {
	for o, f := range cfg.ExternalIDFields {
		if strings.EqualFold(o, obj) {
			return f
		}
	}
	return cfg.ExternalIDField
}
