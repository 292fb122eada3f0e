// Package config parses Weir's HCL configuration: the store, the HTTP API,
// connections, unit tables and pipelines.
//
// Loading is done in two phases:
//
//  1. Parse reads the files and decodes everything the host knows about.
//     Connector-specific attributes (a connection's own settings and a
//     pipeline source's extra attributes) are kept as hcl.Body values, and
//     the per-record expressions (key, when, map, lookup queries) are kept as
//     hcl.Expression values, checked statically but not evaluated.
//  2. Resolve asks a Describer for each connector's sdk.Description and
//     decodes the kept bodies strictly against the connector's schemas,
//     producing JSON settings, and checks capabilities and objects.
//
// Load does both. All phases report every error they find as HCL
// diagnostics with a tight Subject range (the offending value or name) and a
// wider Context range (the attribute or block); FormatDiagnostics prints them
// as "file:line:col: summary: detail" lines in source order.
//
// Secrets (sensitive attributes such as client_secret or a connector
// attribute marked Sensitive) must come from env("NAME") or file("path"):
// a literal value in the file is an error. The resolved secret values are
// available from Config.Secrets for log redaction.
//
// Only HCL native syntax is supported; every file is parsed as such
// whatever its extension.
package config

import (
	"encoding/json"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/weirhq/weir/sdk"
	"github.com/zclconf/go-cty/cty/function"
)

// Defaults applied when an attribute is omitted.
const (
	DefaultStoreDir         = ".weir"
	DefaultListen           = "127.0.0.1:7420"
	DefaultMaxBody          = 1 << 20 // 1 MiB
	DefaultWebhookHeader    = "X-Weir-Signature"
	DefaultPoll             = 30 * time.Second
	DefaultBatchSize        = 500 // a source's records a read
	DefaultWriteBatchSize   = 100 // a destination's records a write
	DefaultWorkers          = 4
	DefaultInteractiveShare = 0.02 // bulk keeps ≥ 97% of the rate
	DefaultRetryAttempts    = 12
	DefaultBackoff          = BackoffExponential
	DefaultBaseDelay        = time.Second
	DefaultMaxDelay         = 15 * time.Minute
	DefaultOperation        = "upsert"
)

// MaxWriteBatchSize bounds a destination's batch_size: a batch is one lease
// and one connector call.
const MaxWriteBatchSize = 10000

// OAuth 2.0 flows accepted in an oauth2 block.
const (
	FlowAuthorizationCode    = "authorization_code"
	FlowClientCredentials    = "client_credentials"
	FlowClientCredentialsJWT = "client_credentials_jwt"
	FlowJWTBearer            = "jwt_bearer"
	FlowBasic                = "basic"
)

// Webhook authentication modes.
const (
	WebhookHMAC  = "hmac"
	WebhookToken = "token"
	WebhookNone  = "none"
)

// Retry backoff kinds.
const (
	BackoffExponential = "exponential"
	BackoffConstant    = "constant"
)

// Config is a parsed configuration. Parse always returns a non-nil Config,
// filled as far as the files allowed, so that Files can render diagnostics.
type Config struct {
	// Files holds every parsed file by file name, for rendering diagnostics
	// with source snippets (hcl.NewDiagnosticTextWriter).
	Files map[string]*hcl.File

	Store       Store
	API         API
	Connections []*Connection
	Units       []*UnitTable
	Pipelines   []*Pipeline
	// LookupRoutes are the top-level lookup blocks: POST /v1/lookups/<name>.
	LookupRoutes []*LookupRoute

	mu      sync.Mutex
	funcs   map[string]map[string]function.Function // by base directory
	secrets map[string]struct{}
}

// Store configures where queues, checkpoints, tokens and limiters live.
type Store struct {
	// Dir is the embedded store's data directory, joined with the directory
	// of the file that declares it. Without a store block (or without dir)
	// it is ".weir" beside the first configuration file.
	Dir string
	// Redis is set when the store block has a redis block.
	Redis *Redis
	// DeclRange is the store block's header; zero when there is none.
	DeclRange hcl.Range
}

// Redis configures the shared Redis store.
type Redis struct {
	// URL is a redis://, rediss://, unix://, redis+cluster:// or
	// redis-sentinel:// URL (sensitive).
	URL string
	// Prefix starts every key, so several Weir installations can share one
	// Redis; "weir" by default. Hosts sharing work use the same prefix.
	Prefix    string
	DeclRange hcl.Range
}

// API configures the HTTP API.
type API struct {
	// Listen is the listen address, DefaultListen by default.
	Listen string
	// Token is the bearer token of the API (sensitive); empty when unset.
	Token string
	// MaxBody is the default webhook body limit in bytes.
	MaxBody int64
	// DeclRange is the api block's header; zero when there is none.
	DeclRange hcl.Range
}

// Connection is a connection block: one account of one connector.
type Connection struct {
	// Connector is the connector name (first label), e.g. "netsuite".
	Connector string
	// Name is the connection name (second label), referred to by pipelines.
	Name string
	// OAuth2 is the oauth2 block, nil when absent.
	OAuth2 *OAuth2
	// Limits is the limits block; zero values mean "no limit".
	Limits Limits
	// Body is the rest of the connection block: the connector's own
	// attributes, decoded by Resolve.
	Body hcl.Body
	// Settings is set by Resolve: the connector's attributes as a JSON
	// object, with defaults applied and numbers written exactly.
	Settings json.RawMessage
	// Description is set by Resolve: what the connector described.
	Description *sdk.Description
	// Dir is the directory of the file declaring the connection.
	Dir string

	DeclRange      hcl.Range // block header
	ConnectorRange hcl.Range // first label
	NameRange      hcl.Range // second label
}

// OAuth2 is a connection's oauth2 block. Empty strings are unset values.
type OAuth2 struct {
	// Flow is one of the Flow constants.
	Flow          string
	ClientID      string
	ClientSecret  string // sensitive
	PrivateKey    string // sensitive
	CertificateID string
	Username      string
	Password      string // sensitive
	Scopes        []string
	// TokenURL and AuthorizationURL default, in Resolve, to the connector's
	// OAuth endpoints.
	TokenURL         string
	AuthorizationURL string
	RedirectURL      string
	// SessionLifetime is 0 when unset.
	SessionLifetime time.Duration

	DeclRange hcl.Range
	FlowRange hcl.Range
}

// Limits is a connection's limits block: the vendor's limits, shared by all
// pipelines and hosts using the connection.
type Limits struct {
	// Rate requests per Per; 0 for no rate limit.
	Rate int
	Per  time.Duration
	// Concurrency is the most requests in flight; 0 for no limit.
	Concurrency int
	// PerDay is the daily quota; 0 for none.
	PerDay int64
	// InteractiveShare is the share reserved for interactive lookups,
	// in [0, 1); DefaultInteractiveShare by default.
	InteractiveShare float64
	// DeclRange is the limits block's header; zero when there is none.
	DeclRange hcl.Range
}

// UnitTable is a units block: a table of unit conversions.
type UnitTable struct {
	Name string
	// Entries maps a source unit name to its conversion.
	Entries   map[string]Unit
	DeclRange hcl.Range
	NameRange hcl.Range
}

// Unit is one entry of a UnitTable.
type Unit struct {
	// Unit is the destination unit.
	Unit string
	// Factor multiplies quantities (1 when omitted); exact as written.
	Factor *big.Float
	// Range is the range of the entry's value.
	Range hcl.Range
}

// Pipeline is a pipeline block.
type Pipeline struct {
	Name    string
	Source  Source
	Webhook *Webhook // nil when absent
	// Key is the record key expression (required). It may refer only to
	// record, as it is evaluated before lookups run.
	Key hcl.Expression
	// When is the filter expression; nil when absent. It may refer only to
	// record.
	When    hcl.Expression
	Lookups []*Lookup
	// Map holds the output fields in source order; empty when there is no
	// map block.
	Map         []MapField
	Destination Destination
	Retry       Retry
	Workers     int
	// ForgetDeliveredAfter is how long the store remembers the newest
	// delivered version of an idle key (so that an older one is refused);
	// 0, the default, is forever.
	ForgetDeliveredAfter time.Duration
	// Dir is the directory of the file declaring the pipeline, for
	// Config.EvalContext.
	Dir       string
	DeclRange hcl.Range
	NameRange hcl.Range
}

// Source is a pipeline's source block.
type Source struct {
	// Connection is the connection name (the label).
	Connection string
	// Poll is the polling interval: DefaultPoll by default, 0 (no polling)
	// when the pipeline has a webhook block and poll is not set.
	Poll      time.Duration
	BatchSize int
	// Body is the rest of the source block, decoded by Resolve against the
	// connector's SourceConfig.
	Body hcl.Body
	// Settings is set by Resolve: the source attributes as a JSON object.
	Settings  json.RawMessage
	DeclRange hcl.Range
	NameRange hcl.Range
}

// Webhook is a pipeline's webhook block, enabling POST /v1/hooks/<pipeline>.
type Webhook struct {
	// Auth is one of the Webhook constants.
	Auth string
	// Secret is the HMAC key or the token (sensitive).
	Secret string
	// Header carries the signature or the token; DefaultWebhookHeader by
	// default.
	Header string
	// MaxBody is the body limit in bytes; API.MaxBody by default.
	MaxBody   int64
	DeclRange hcl.Range
}

// Lookup is a pipeline's lookup block.
type Lookup struct {
	Name       string
	Connection string
	// Object is the lookup object; the lookup's name when omitted.
	Object string
	// Query is the query expression; nil when absent. It may refer to
	// record and to lookups declared before this one.
	Query           hcl.Expression
	DeclRange       hcl.Range
	NameRange       hcl.Range
	ConnectionRange hcl.Range
	ObjectRange     hcl.Range
}

// LookupRoute is a top-level lookup block: a real-time query through a
// connector, served at POST /v1/lookups/<name> with the connection's
// interactive share of its limits and a short cache.
type LookupRoute struct {
	Name       string
	Connection string
	// Object is the lookup object; the route's name when omitted.
	Object string
	// Cache is how long an answer is reused for the same query;
	// DefaultLookupCache by default, 0 to disable.
	Cache           time.Duration
	DeclRange       hcl.Range
	NameRange       hcl.Range
	ConnectionRange hcl.Range
	ObjectRange     hcl.Range
}

// DefaultLookupCache is how long a lookup route reuses an answer.
const DefaultLookupCache = 30 * time.Second

// MapField is one attribute of a map block: one output field.
type MapField struct {
	Name string
	// Expr may refer to record and lookup.<name>.
	Expr  hcl.Expression
	Range hcl.Range
}

// Destination is a pipeline's destination block.
type Destination struct {
	Connection string
	Object     string
	Operation  string // DefaultOperation by default
	// BatchSize is how many records a worker leases and writes in one
	// connector call (DefaultWriteBatchSize by default).
	BatchSize      int
	DeclRange      hcl.Range
	NameRange      hcl.Range
	ObjectRange    hcl.Range
	OperationRange hcl.Range
}

// Retry is a pipeline's retry policy.
type Retry struct {
	Attempts  int
	Backoff   string // one of the Backoff constants
	BaseDelay time.Duration
	MaxDelay  time.Duration
	DeclRange hcl.Range // zero when there is no retry block
}

// Connection returns the connection with the given name, or nil.
func (c *Config) Connection(name string) *Connection {
	for _, conn := range c.Connections {
		if conn.Name == name {
			return conn
		}
	}
	return nil
}

// Pipeline returns the pipeline with the given name, or nil.
func (c *Config) Pipeline(name string) *Pipeline {
	for _, p := range c.Pipelines {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// UnitTable returns the units table with the given name, or nil.
func (c *Config) UnitTable(name string) *UnitTable {
	for _, u := range c.Units {
		if u.Name == name {
			return u
		}
	}
	return nil
}

// Lookup returns the pipeline's lookup with the given name, or nil.
func (p *Pipeline) Lookup(name string) *Lookup {
	for _, l := range p.Lookups {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// Secrets returns every secret value resolved so far (sensitive attributes
// of Parse and Resolve), sorted, for log redaction.
func (c *Config) Secrets() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.secrets))
	for s := range c.secrets {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func (c *Config) addSecret(s string) {
	if s == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.secrets == nil {
		c.secrets = make(map[string]struct{})
	}
	c.secrets[s] = struct{}{}
}
