// Package engine moves records through pipelines: it polls sources and
// accepts webhooks into the durable queue, and runs workers that lease
// records, evaluate when / lookups / map, write batches to the destination
// connector and settle each record: ack, retry later, or dead-letter.
package engine

import (
	"context"
	"encoding/json"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/weirhq/weir/sdk"
)

// Pipeline is a compiled pipeline: what the engine needs from the HCL.
type Pipeline struct {
	Name string
	// Source is the source connection; Poll 0 means webhook-only.
	Source Source
	// Key computes the record key from `record`; nil keeps the connector's.
	Key hcl.Expression
	// When filters records; nil passes all. WhenText is its source, for
	// plan's explanations.
	When     hcl.Expression
	WhenText string
	// Map builds the destination payload, one attribute per field; nil
	// passes the source payload through.
	Map     map[string]hcl.Expression
	Lookups []Lookup
	// Destination is where records are written.
	Destination Destination
	Retry       Retry
	// Workers is the number of concurrent batches in flight.
	Workers int
	// ForgetDeliveredAfter, when positive, has the store forget the
	// delivered version of keys idle that long (store.Queue.ForgetDelivered),
	// every forgetEvery.
	ForgetDeliveredAfter time.Duration
	// BatchSize is the most records per destination write.
	BatchSize int
	// Functions are the HCL functions available to the expressions.
	Functions Functions
}

// Source is a pipeline's source connection.
type Source struct {
	Connection string
	// Settings are the source block's connector attributes (JSON object).
	Settings json.RawMessage
	// Poll is the interval between reads when the source is caught up;
	// 0 disables polling.
	Poll time.Duration
	// BatchSize is the most records per Read.
	BatchSize int
}

// Destination is a pipeline's destination connection and object.
type Destination struct {
	Connection string
	Object     string
	Operation  string
	// Fields are the object's declared fields; mapped records are checked
	// against them (required, known, kinds) before any vendor call.
	Fields []sdk.Field
}

// Lookup is a named connector query evaluated per record before map.
type Lookup struct {
	Name       string
	Connection string
	Object     string
	Query      hcl.Expression
}

// Retry is a pipeline's retry policy: exponential backoff with full jitter.
type Retry struct {
	// Attempts is the most deliveries before a record is dead-lettered.
	Attempts  int
	BaseDelay time.Duration
	MaxDelay  time.Duration
}

// Retry policy defaults.
const (
	DefaultAttempts  = 12
	DefaultBaseDelay = time.Second
	DefaultMaxDelay  = 15 * time.Minute
	DefaultWorkers   = 4
	DefaultBatchSize = 100
	DefaultPoll      = 30 * time.Second
)

func (p *Pipeline) withDefaults() {
	if p.Retry.Attempts <= 0 {
		p.Retry.Attempts = DefaultAttempts
	}
	if p.Retry.BaseDelay <= 0 {
		p.Retry.BaseDelay = DefaultBaseDelay
	}
	if p.Retry.MaxDelay <= 0 {
		p.Retry.MaxDelay = DefaultMaxDelay
	}
	if p.Workers <= 0 {
		p.Workers = DefaultWorkers
	}
	if p.BatchSize <= 0 {
		p.BatchSize = DefaultBatchSize
	}
	if p.Source.BatchSize <= 0 {
		p.Source.BatchSize = 500
	}
}

// Connector is what the engine calls on a connector; *sdk.Client has it.
type Connector interface {
	Read(ctx context.Context, req sdk.ReadRequest) (sdk.ReadResult, error)
	Write(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error)
	Lookup(ctx context.Context, req sdk.LookupRequest) (json.RawMessage, error)
	DecodeWebhook(ctx context.Context, req sdk.WebhookRequest) (sdk.WebhookResponse, error)
}

// Connectors gives the live connector of a connection, waiting for a
// restarting one (bounded by ctx).
type Connectors interface {
	Connector(ctx context.Context, connection string) (Connector, error)
}

// Functions are the HCL functions available to pipeline expressions.
type Functions map[string]function.Function
