package sdk

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/weirhq/weir/proto/connectorv1"
)

// server adapts a Connector to the gRPC Connector service (connector side).
type server struct {
	pb.UnimplementedConnectorServer
	impl   Connector
	broker *plugin.GRPCBroker

	mu         sync.Mutex
	configured bool
	hostConn   *grpc.ClientConn
}

func (s *server) name() string { return s.impl.Describe().Name }

func (s *server) unsupported(what string) error {
	return status.Errorf(codes.Unimplemented, "connector %s has no %s capability", s.name(), what)
}

func (s *server) Describe(context.Context, *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	return descriptionToPB(describe(s.impl)), nil
}

func (s *server) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var host Host = noHost{}
	if id := req.GetHostBrokerId(); id != 0 {
		conn, err := s.broker.DialWithOptions(id, grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes)),
			grpc.WithInitialWindowSize(streamWindow), grpc.WithInitialConnWindowSize(connWindow))
		if err != nil {
			return nil, status.Errorf(codes.Unavailable, "dial host services: %v", err)
		}
		if s.hostConn != nil {
			_ = s.hostConn.Close()
		}
		s.hostConn = conn
		host = &hostClient{rpc: pb.NewHostClient(conn)}
	}
	if c, ok := s.impl.(Configurer); ok {
		if err := c.Configure(ctx, Config{Connection: req.GetConnection(), Raw: req.GetConfig()}, host); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "configure %s: %v", req.GetConnection(), err)
		}
	}
	s.configured = true
	return &pb.ConfigureResponse{}, nil
}

func (s *server) Check(ctx context.Context, _ *pb.CheckRequest) (*pb.CheckResponse, error) {
	c, ok := s.impl.(Checker)
	if !ok {
		return &pb.CheckResponse{Ok: true}, nil
	}
	if err := c.Check(ctx); err != nil {
		return &pb.CheckResponse{Ok: false, Reason: err.Error()}, nil
	}
	return &pb.CheckResponse{Ok: true}, nil
}

func (s *server) Read(ctx context.Context, req *pb.ReadRequest) (*pb.ReadResponse, error) {
	src, ok := s.impl.(Source)
	if !ok {
		return nil, s.unsupported("source")
	}
	res, err := src.Read(ctx, ReadRequest{Source: req.GetSource(), Cursor: req.GetCursor(), MaxRecords: int(req.GetMaxRecords())})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ReadResponse{Records: recordsToPB(res.Records), Cursor: res.Cursor, More: res.More}, nil
}

func (s *server) Write(ctx context.Context, req *pb.WriteRequest) (*pb.WriteResponse, error) {
	dst, ok := s.impl.(Destination)
	if !ok {
		return nil, s.unsupported("destination")
	}
	recs := recordsFromPB(req.GetRecords())
	results, err := dst.Write(ctx, WriteRequest{Object: req.GetObject(), Operation: req.GetOperation(), Records: recs})
	if err != nil {
		return nil, toStatus(err)
	}
	if len(results) != len(recs) {
		return nil, status.Errorf(codes.Internal, "connector %s returned %d results for %d records", s.name(), len(results), len(recs))
	}
	for i := range results {
		if results[i].Key == "" {
			results[i].Key = recs[i].Key
		}
	}
	return &pb.WriteResponse{Results: resultsToPB(results)}, nil
}

func (s *server) Lookup(ctx context.Context, req *pb.LookupRequest) (*pb.LookupResponse, error) {
	l, ok := s.impl.(Looker)
	if !ok {
		return nil, s.unsupported("lookup")
	}
	out, err := l.Lookup(ctx, LookupRequest{Object: req.GetObject(), Query: req.GetQuery(), Priority: Priority(req.GetPriority())})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.LookupResponse{Result: out}, nil
}

func (s *server) DecodeWebhook(ctx context.Context, req *pb.DecodeWebhookRequest) (*pb.DecodeWebhookResponse, error) {
	d, ok := s.impl.(WebhookDecoder)
	if !ok {
		return nil, s.unsupported("webhook")
	}
	res, err := d.DecodeWebhook(ctx, webhookRequestFromPB(req.GetSource(), req))
	if err != nil {
		return nil, toStatus(err)
	}
	return webhookResponseToPB(res), nil
}

// DecodeWebhooks decodes each request of the batch with the connector's
// DecodeWebhook: connectors need nothing more. The requests are decoded one
// after another, which is cheapest for the usual decoder (a few
// microseconds of parsing); a batch still unfinished after
// decodeHelpAfter gets helpers, up to maxParallelDecodes decodes at a time
// (as the host's concurrent requests would run), so a slow decoder does not
// hold the whole batch up.
func (s *server) DecodeWebhooks(ctx context.Context, req *pb.DecodeWebhooksRequest) (*pb.DecodeWebhooksResponse, error) {
	d, ok := s.impl.(WebhookDecoder)
	if !ok {
		return nil, s.unsupported("webhook")
	}
	reqs := req.GetRequests()
	out := &pb.DecodeWebhooksResponse{Results: make([]*pb.DecodeWebhookResult, len(reqs))}
	errs := make([]error, len(reqs))
	decode := func(i int) {
		wr := webhookRequestFromPB(req.GetSource(), reqs[i])
		if req.GetPayloadSpans() {
			// The connector gets a copy to keep, so that payloads taken
			// from it can be checked against the body as sent.
			wr.Body = bytes.Clone(wr.Body)
		}
		res, err := d.DecodeWebhook(ctx, wr)
		if err != nil {
			st, _ := status.FromError(toStatus(err))
			b, merr := proto.Marshal(st.Proto())
			if merr != nil {
				errs[i] = fmt.Errorf("encode the error of webhook %d: %w", i, merr)
				return
			}
			out.Results[i] = &pb.DecodeWebhookResult{Error: b}
			return
		}
		pr := webhookResponseToPB(res)
		if req.GetPayloadSpans() {
			spanPayloads(pr, wr.Body, reqs[i].GetBody())
		}
		out.Results[i] = &pb.DecodeWebhookResult{Response: pr}
	}
	forEachHelped(len(reqs), decode)
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

const (
	// decodeHelpAfter is how long a batch is decoded one request at a time
	// before helpers join.
	decodeHelpAfter = time.Millisecond
	// maxParallelDecodes bounds the DecodeWebhook calls of one batch that
	// run at once.
	maxParallelDecodes = 8
)

// forEachHelped calls f(0..n-1), each once, on the calling goroutine; if
// they are not all done after decodeHelpAfter, up to maxParallelDecodes-1
// helpers take the rest. Handing each call to another goroutine costs more
// than a fast f; a slow f is worth it.
func forEachHelped(n int, f func(i int)) {
	var next atomic.Int64
	work := func() {
		for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
			f(i)
		}
	}
	if n <= 1 {
		work()
		return
	}
	var (
		mu   sync.Mutex
		done bool
		wg   sync.WaitGroup
	)
	t := time.AfterFunc(decodeHelpAfter, func() {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return
		}
		for range min(n, maxParallelDecodes) - 1 {
			wg.Go(work)
		}
	})
	work()
	t.Stop()
	mu.Lock()
	done = true // helpers are added under mu before this, or never
	mu.Unlock()
	wg.Wait()
}

// describe returns the connector's description with capabilities filled in
// from the interfaces it implements when it did not list them.
func describe(c Connector) Description {
	d := c.Describe()
	if len(d.Capabilities) == 0 {
		if _, ok := c.(Source); ok {
			d.Capabilities = append(d.Capabilities, CapSource)
		}
		if _, ok := c.(Destination); ok {
			d.Capabilities = append(d.Capabilities, CapDestination)
		}
		if _, ok := c.(Looker); ok {
			d.Capabilities = append(d.Capabilities, CapLookup)
		}
		if _, ok := c.(WebhookDecoder); ok {
			d.Capabilities = append(d.Capabilities, CapWebhook)
		}
	}
	return d
}

// hostClient is the connector's view of the host services.
type hostClient struct {
	rpc pb.HostClient
}

func (h *hostClient) Token(ctx context.Context, force bool) (Token, error) {
	r, err := h.rpc.Token(ctx, &pb.TokenRequest{ForceRefresh: force})
	if err != nil {
		return Token{}, fromStatus(err)
	}
	t := Token{AccessToken: r.GetAccessToken(), TokenType: r.GetTokenType(), Extra: r.GetExtra()}
	if ms := r.GetExpiryUnixMs(); ms > 0 {
		t.Expiry = time.UnixMilli(ms)
	}
	return t, nil
}

func (h *hostClient) Acquire(ctx context.Context, cost int, p Priority) (func(), error) {
	r, err := h.rpc.Acquire(ctx, &pb.AcquireRequest{Cost: int32(cost), Priority: pb.Priority(p)})
	if err != nil {
		return nil, fromStatus(err)
	}
	lease := r.GetLease()
	if lease == "" {
		return func() {}, nil
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			// Release must happen even when the request's context is done.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, _ = h.rpc.Release(ctx, &pb.ReleaseRequest{Lease: lease})
		})
	}, nil
}

func (h *hostClient) Report(ctx context.Context, r LimitReport) error {
	_, err := h.rpc.Report(ctx, &pb.ReportRequest{Kind: pb.LimitKind(r.Kind), RetryAfterMs: r.RetryAfter.Milliseconds(), QuotaUsed: r.Used, QuotaMax: r.Max})
	return fromStatus(err)
}

// noHost is the Host of a connector configured without host services
// (Describe-only runs, unit tests): no tokens, no limits.
type noHost struct{}

func (noHost) Token(context.Context, bool) (Token, error) {
	return Token{}, fmt.Errorf("no token service: the host did not provide one")
}
func (noHost) Acquire(context.Context, int, Priority) (func(), error) { return func() {}, nil }
func (noHost) Report(context.Context, LimitReport) error              { return nil }
