// Package sdk is the Go SDK for Weir connectors.
//
// A connector implements Connector (one method, Describe) and any of the
// capability interfaces it has: Configurer, Checker, Source, Destination,
// Looker and WebhookDecoder. Its main function calls Serve. The host checks
// which interfaces a connector implements; a call to a capability it lacks
// fails with a clear error rather than a panic.
package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"time"
)

// Connector is the one interface every connector implements.
type Connector interface {
	// Describe reports the connector's name, version, schemas and objects.
	// It is called before Configure and must not do I/O.
	Describe() Description
}

// Configurer receives the connection's configuration and the host services.
// It is called once per process start, before any other capability.
type Configurer interface {
	Configure(ctx context.Context, cfg Config, host Host) error
}

// Checker tests connectivity and credentials. A nil error means healthy;
// otherwise the error's text is the reason shown to the user.
type Checker interface {
	Check(ctx context.Context) error
}

// Source reads records in batches after a cursor.
type Source interface {
	Read(ctx context.Context, req ReadRequest) (ReadResult, error)
}

// Destination writes batches of records, idempotently by record key.
type Destination interface {
	// Write returns one result per record, in the order of req.Records.
	// A returned error fails the whole batch as retryable.
	Write(ctx context.Context, req WriteRequest) ([]WriteResult, error)
}

// Looker answers request/response queries, such as a stock check.
type Looker interface {
	Lookup(ctx context.Context, req LookupRequest) (json.RawMessage, error)
}

// WebhookDecoder turns a raw HTTP request into records.
type WebhookDecoder interface {
	DecodeWebhook(ctx context.Context, req WebhookRequest) (WebhookResponse, error)
}

// Capability is something a connector can do.
type Capability string

// Capabilities a connector can have.
const (
	CapSource      Capability = "source"
	CapDestination Capability = "destination"
	CapLookup      Capability = "lookup"
	CapWebhook     Capability = "webhook"
)

// Description is what Describe returns.
type Description struct {
	Name        string
	Version     string
	Description string
	// Capabilities is filled by Serve from the interfaces the connector
	// implements when left empty.
	Capabilities []Capability
	// Config is the schema of the connection block.
	Config []Attribute
	// SourceConfig is the schema of a pipeline's source block for this
	// connector (passed to Read and DecodeWebhook as ReadRequest.Source).
	SourceConfig []Attribute
	Objects      []Object
	OAuth        *OAuth
	// Local is set by connectors that reach no vendor (files on the host):
	// they make no vendor requests, so a connection's limits and oauth2
	// blocks have no effect on them and the host warns where they are set.
	Local bool
}

// Attribute is one configuration attribute.
type Attribute struct {
	Name string
	// Type is a go-cty type in its JSON form: `"string"`, `"number"`,
	// `"bool"`, `["list","string"]`, `["map","string"]`, ...
	Type      json.RawMessage
	Required  bool
	Sensitive bool
	// Default is a JSON value used when the attribute is absent.
	Default     json.RawMessage
	Description string
}

// Common attribute types.
var (
	TypeString     = json.RawMessage(`"string"`)
	TypeNumber     = json.RawMessage(`"number"`)
	TypeBool       = json.RawMessage(`"bool"`)
	TypeStringList = json.RawMessage(`["list","string"]`)
	TypeStringMap  = json.RawMessage(`["map","string"]`)
	TypeDynamic    = json.RawMessage(`"dynamic"`)
)

// AnyObject as an Object's Name stands for every object name: the connector
// accepts whatever name a pipeline gives (e.g. one file per object).
const AnyObject = "*"

// Object is a vendor object the connector knows.
type Object struct {
	Name        string
	Description string
	Readable    bool
	Writable    bool
	Lookup      bool
	// Fields of a writable object, for validation before any vendor call.
	Fields []Field
	// Operations a destination supports for this object, e.g. "upsert".
	Operations []string
}

// Field is a field of a destination object.
type Field struct {
	Name        string
	Type        json.RawMessage
	Required    bool
	Description string
}

// OAuth lists the OAuth 2.0 endpoints and flows a connector supports.
type OAuth struct {
	AuthorizationURL string
	TokenURL         string
	Flows            []string
	Scopes           []string
	PKCE             bool
}

// Config is a connection's configuration, a JSON object.
type Config struct {
	// Connection is the connection's name in the pipeline file.
	Connection string
	// Raw is the connection block's attributes as a JSON object.
	Raw json.RawMessage
}

// Decode decodes the configuration into v, rejecting unknown attributes.
func (c Config) Decode(v any) error {
	return DecodeStrict(c.Raw, v)
}

// Operation is what a record asks of its destination.
type Operation int

// Operations.
const (
	OpUpsert Operation = iota
	OpDelete
)

// String returns "upsert" or "delete".
func (o Operation) String() string {
	if o == OpDelete {
		return "delete"
	}
	return "upsert"
}

// Record is one version of a keyed record.
type Record struct {
	// Key identifies the record across versions.
	Key string
	// Version orders versions of a key; higher is newer.
	Version int64
	Op      Operation
	// Object is the vendor object, e.g. "Order".
	Object string
	// Payload is a JSON document with numbers kept exactly as written.
	Payload  json.RawMessage
	Metadata map[string]string
}

// VersionFromTime returns a record version for a modification time.
func VersionFromTime(t time.Time) int64 { return t.UnixMicro() }

// ReadRequest asks a Source for one batch.
type ReadRequest struct {
	// Source is the pipeline source block's attributes as a JSON object.
	Source json.RawMessage
	// Cursor is the previous ReadResult's cursor; nil to start.
	Cursor     []byte
	MaxRecords int
}

// ReadResult is one batch from a Source.
type ReadResult struct {
	Records []Record
	// Cursor is where the next Read starts. The host saves it only once
	// Records are durably stored.
	Cursor []byte
	// More is true when more records are available right away.
	More bool
}

// WriteRequest is a batch for a Destination.
type WriteRequest struct {
	Object    string
	Operation string
	Records   []Record
}

// Status classifies a write result.
type Status int

// Write result statuses.
const (
	StatusOK Status = iota
	StatusRetryable
	StatusRateLimited
	StatusAuthExpired
	StatusPermanent
)

// String returns the status name.
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusRetryable:
		return "retryable"
	case StatusRateLimited:
		return "rate_limited"
	case StatusAuthExpired:
		return "auth_expired"
	case StatusPermanent:
		return "permanent"
	}
	return "unknown"
}

// WriteResult is the outcome of writing one record.
type WriteResult struct {
	Key    string
	Status Status
	// ID is the destination's id of the record (StatusOK).
	ID string
	// Created is true when the write created the record.
	Created bool
	// RetryAfter is how long to wait before retrying; 0 for no advice.
	RetryAfter time.Duration
	Code       string
	Message    string
	// Field is the path of the offending field, e.g. "item.items[2].units".
	Field string
}

// LookupRequest is a query for a Looker.
type LookupRequest struct {
	Object string
	Query  json.RawMessage
	// Priority is PriorityInteractive for real-time lookups, which should
	// acquire the limiter at that priority (HTTPClient.DoPriority).
	Priority Priority
}

// WebhookRequest is a raw HTTP request received by the host.
type WebhookRequest struct {
	Source  json.RawMessage
	Method  string
	Path    string
	Query   string
	Headers map[string][]string
	Body    []byte
}

// WebhookResponse is what a WebhookDecoder decided.
type WebhookResponse struct {
	Records []Record
	// Status, Headers and Body are sent once Records are durably stored.
	// Status 0 means 200.
	Status  int
	Headers map[string][]string
	Body    []byte
	// Reject, when set, refuses a malformed request: nothing is stored and
	// the host answers Status (400 when 0) with this reason.
	Reject string
}

// Host is what the host offers a connector: tokens and the limiter.
type Host interface {
	// Token returns a current OAuth access token; force asks for a refresh.
	Token(ctx context.Context, force bool) (Token, error)
	// Acquire blocks until the connection's limiter grants a request of the
	// given cost. Call the returned release when the request is done.
	Acquire(ctx context.Context, cost int, p Priority) (release func(), err error)
	// Report tells the limiter what the vendor said about limits.
	Report(ctx context.Context, r LimitReport) error
}

// Token is an OAuth access token.
type Token struct {
	AccessToken string
	TokenType   string
	Expiry      time.Time
	// Extra holds token response fields such as instance_url.
	Extra map[string]string
}

// Priority is a limiter priority.
type Priority int

// Priorities: interactive requests (lookups) have a reserved share.
const (
	PriorityBulk Priority = iota
	PriorityInteractive
)

// LimitKind says what a LimitReport is about.
type LimitKind int

// Limit report kinds.
const (
	// LimitRate: the vendor refused for rate; pause the connection.
	LimitRate LimitKind = iota + 1
	// LimitConcurrency: the vendor refused for concurrency.
	LimitConcurrency
	// LimitQuota: the daily quota is exhausted.
	LimitQuota
	// LimitQuotaUsage: a quota reading, Used of Max.
	LimitQuotaUsage
)

// LimitReport is what a connector tells the limiter after a vendor response.
type LimitReport struct {
	Kind       LimitKind
	RetryAfter time.Duration
	Used, Max  int64
}

// DecodeStrict decodes a JSON object into v, rejecting unknown fields and
// keeping numbers exact (json.Number) in untyped values.
func DecodeStrict(data []byte, v any) error {
	if len(data) == 0 {
		data = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	return dec.Decode(v)
}
