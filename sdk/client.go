package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	spb "google.golang.org/genproto/googleapis/rpc/status"

	pb "github.com/weirhq/weir/proto/connectorv1"
)

// Client is the host's handle on a running connector process. Its methods
// return classified errors (*Error): a crashed connector or a failed call is
// retryable, never a lost record.
type Client struct {
	rpc    pb.ConnectorClient
	broker *plugin.GRPCBroker
	// noBatchWebhooks is set once the connector answered DecodeWebhooks
	// with Unimplemented (built before the call existed).
	noBatchWebhooks atomic.Bool
}

// HostServices is what the host serves to a connector: tokens and the
// connection's limiter.
type HostServices interface {
	Token(ctx context.Context, force bool) (Token, error)
	// Acquire blocks until a request of cost is allowed and returns a lease
	// for Release ("" when no concurrency slot was taken).
	Acquire(ctx context.Context, cost int, p Priority) (lease string, err error)
	Release(ctx context.Context, lease string) error
	Report(ctx context.Context, r LimitReport) error
}

// Describe asks the connector what it is.
func (c *Client) Describe(ctx context.Context) (Description, error) {
	r, err := c.rpc.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return Description{}, fromStatus(err)
	}
	return descriptionFromPB(r), nil
}

// Configure hands the connector its configuration and, when host is not nil,
// serves host to it over the plugin broker.
func (c *Client) Configure(ctx context.Context, cfg Config, host HostServices) error {
	var id uint32
	if host != nil {
		id = c.broker.NextId()
		go c.broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
			s := grpcServer(opts)
			pb.RegisterHostServer(s, &hostServer{impl: host})
			return s
		})
	}
	_, err := c.rpc.Configure(ctx, &pb.ConfigureRequest{Connection: cfg.Connection, Config: cfg.Raw, HostBrokerId: id})
	if err != nil {
		if st, ok := status.FromError(err); ok && st.Code() == codes.InvalidArgument {
			return errors.New(st.Message())
		}
		return fromStatus(err)
	}
	return nil
}

// Check tests the connector's connectivity; the error is the reason.
func (c *Client) Check(ctx context.Context) error {
	r, err := c.rpc.Check(ctx, &pb.CheckRequest{})
	if err != nil {
		return fromStatus(err)
	}
	if !r.GetOk() {
		return errors.New(r.GetReason())
	}
	return nil
}

// Read pulls one batch after req.Cursor.
func (c *Client) Read(ctx context.Context, req ReadRequest) (ReadResult, error) {
	r, err := c.rpc.Read(ctx, &pb.ReadRequest{Source: req.Source, Cursor: req.Cursor, MaxRecords: int32(req.MaxRecords)})
	if err != nil {
		return ReadResult{}, fromStatus(err)
	}
	return ReadResult{Records: recordsFromPB(r.GetRecords()), Cursor: r.GetCursor(), More: r.GetMore()}, nil
}

// Write writes a batch and returns one result per record, in order.
func (c *Client) Write(ctx context.Context, req WriteRequest) ([]WriteResult, error) {
	r, err := c.rpc.Write(ctx, &pb.WriteRequest{Object: req.Object, Operation: req.Operation, Records: recordsToPB(req.Records)})
	if err != nil {
		return nil, fromStatus(err)
	}
	return resultsFromPB(r.GetResults()), nil
}

// Lookup runs a query.
func (c *Client) Lookup(ctx context.Context, req LookupRequest) (json.RawMessage, error) {
	r, err := c.rpc.Lookup(ctx, &pb.LookupRequest{Object: req.Object, Query: req.Query, Priority: pb.Priority(req.Priority)})
	if err != nil {
		return nil, fromStatus(err)
	}
	return r.GetResult(), nil
}

// DecodeWebhook decodes a raw HTTP request into records.
func (c *Client) DecodeWebhook(ctx context.Context, req WebhookRequest) (WebhookResponse, error) {
	r, err := c.rpc.DecodeWebhook(ctx, webhookRequestToPB(req.Source, req))
	if err != nil {
		return WebhookResponse{}, fromStatus(err)
	}
	return webhookResponseFromPB(r), nil
}

// DecodeWebhooks decodes several raw HTTP requests to one source in one
// call; each request's own Source is ignored. errs[i] is request i's
// failure, as DecodeWebhook would have returned it; err fails them all. A
// connector built before the call exists is asked one request at a time.
func (c *Client) DecodeWebhooks(ctx context.Context, source []byte, reqs []WebhookRequest) (res []WebhookResponse, errs []error, err error) {
	res, errs = make([]WebhookResponse, len(reqs)), make([]error, len(reqs))
	if !c.noBatchWebhooks.Load() {
		in := &pb.DecodeWebhooksRequest{Source: source, Requests: make([]*pb.DecodeWebhookRequest, len(reqs)), PayloadSpans: true}
		for i, r := range reqs {
			in.Requests[i] = webhookRequestToPB(nil, r)
		}
		out, err := c.rpc.DecodeWebhooks(ctx, in)
		switch {
		case status.Code(err) == codes.Unimplemented:
			c.noBatchWebhooks.Store(true)
		case err != nil:
			return nil, nil, fromStatus(err)
		case len(out.GetResults()) != len(reqs):
			return nil, nil, Retryable(fmt.Errorf("decode webhooks: %d results for %d requests", len(out.GetResults()), len(reqs)), 0)
		default:
			for i, r := range out.GetResults() {
				if len(r.GetError()) > 0 {
					var st spb.Status
					if uerr := proto.Unmarshal(r.GetError(), &st); uerr != nil {
						errs[i] = Retryable(fmt.Errorf("decode webhook: unreadable error: %w", uerr), 0)
					} else {
						errs[i] = fromStatus(status.FromProto(&st).Err())
					}
					continue
				}
				res[i] = webhookResponseFromPB(r.GetResponse())
				if err := fillPayloads(r.GetResponse(), res[i].Records, reqs[i].Body); err != nil {
					res[i], errs[i] = WebhookResponse{}, fmt.Errorf("decode webhook: %w", err)
				}
			}
			return res, errs, nil
		}
	}
	for i, r := range reqs {
		r.Source = source
		res[i], errs[i] = c.DecodeWebhook(ctx, r)
	}
	return res, errs, nil
}

// hostServer adapts HostServices to the gRPC Host service (host side).
type hostServer struct {
	pb.UnimplementedHostServer
	impl HostServices
}

func (h *hostServer) Token(ctx context.Context, req *pb.TokenRequest) (*pb.TokenResponse, error) {
	t, err := h.impl.Token(ctx, req.GetForceRefresh())
	if err != nil {
		return nil, toStatus(err)
	}
	r := &pb.TokenResponse{AccessToken: t.AccessToken, TokenType: t.TokenType, Extra: t.Extra}
	if !t.Expiry.IsZero() {
		r.ExpiryUnixMs = t.Expiry.UnixMilli()
	}
	return r, nil
}

func (h *hostServer) Acquire(ctx context.Context, req *pb.AcquireRequest) (*pb.AcquireResponse, error) {
	cost := int(req.GetCost())
	if cost < 1 {
		cost = 1
	}
	lease, err := h.impl.Acquire(ctx, cost, Priority(req.GetPriority()))
	if err != nil {
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return nil, toStatus(err)
	}
	return &pb.AcquireResponse{Lease: lease}, nil
}

func (h *hostServer) Release(ctx context.Context, req *pb.ReleaseRequest) (*pb.ReleaseResponse, error) {
	if err := h.impl.Release(ctx, req.GetLease()); err != nil {
		return nil, toStatus(err)
	}
	return &pb.ReleaseResponse{}, nil
}

func (h *hostServer) Report(ctx context.Context, req *pb.ReportRequest) (*pb.ReportResponse, error) {
	err := h.impl.Report(ctx, LimitReport{
		Kind: LimitKind(req.GetKind()), RetryAfter: time.Duration(req.GetRetryAfterMs()) * time.Millisecond,
		Used: req.GetQuotaUsed(), Max: req.GetQuotaMax(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ReportResponse{}, nil
}
