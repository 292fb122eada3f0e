package sdk

import (
	"errors"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/weirhq/weir/proto/connectorv1"
)

var capToPB = map[Capability]pb.Capability{
	CapSource:      pb.Capability_CAPABILITY_SOURCE,
	CapDestination: pb.Capability_CAPABILITY_DESTINATION,
	CapLookup:      pb.Capability_CAPABILITY_LOOKUP,
	CapWebhook:     pb.Capability_CAPABILITY_WEBHOOK,
}

func descriptionToPB(d Description) *pb.DescribeResponse {
	out := &pb.DescribeResponse{
		Name:         d.Name,
		Version:      d.Version,
		Description:  d.Description,
		Config:       attributesToPB(d.Config),
		SourceConfig: attributesToPB(d.SourceConfig),
		Local:        d.Local,
	}
	for _, c := range d.Capabilities {
		out.Capabilities = append(out.Capabilities, capToPB[c])
	}
	for _, o := range d.Objects {
		po := &pb.Object{Name: o.Name, Description: o.Description, Readable: o.Readable, Writable: o.Writable, Lookup: o.Lookup, Operations: o.Operations}
		for _, f := range o.Fields {
			po.Fields = append(po.Fields, &pb.Field{Name: f.Name, Type: f.Type, Required: f.Required, Description: f.Description})
		}
		out.Objects = append(out.Objects, po)
	}
	if d.OAuth != nil {
		out.Oauth = &pb.OAuth{AuthorizationUrl: d.OAuth.AuthorizationURL, TokenUrl: d.OAuth.TokenURL, Flows: d.OAuth.Flows, Scopes: d.OAuth.Scopes, Pkce: d.OAuth.PKCE}
	}
	return out
}

func descriptionFromPB(p *pb.DescribeResponse) Description {
	d := Description{
		Name:         p.GetName(),
		Version:      p.GetVersion(),
		Description:  p.GetDescription(),
		Config:       attributesFromPB(p.GetConfig()),
		SourceConfig: attributesFromPB(p.GetSourceConfig()),
		Local:        p.GetLocal(),
	}
	for _, c := range p.GetCapabilities() {
		for k, v := range capToPB {
			if v == c {
				d.Capabilities = append(d.Capabilities, k)
			}
		}
	}
	for _, o := range p.GetObjects() {
		do := Object{Name: o.GetName(), Description: o.GetDescription(), Readable: o.GetReadable(), Writable: o.GetWritable(), Lookup: o.GetLookup(), Operations: o.GetOperations()}
		for _, f := range o.GetFields() {
			do.Fields = append(do.Fields, Field{Name: f.GetName(), Type: f.GetType(), Required: f.GetRequired(), Description: f.GetDescription()})
		}
		d.Objects = append(d.Objects, do)
	}
	if o := p.GetOauth(); o != nil {
		d.OAuth = &OAuth{AuthorizationURL: o.GetAuthorizationUrl(), TokenURL: o.GetTokenUrl(), Flows: o.GetFlows(), Scopes: o.GetScopes(), PKCE: o.GetPkce()}
	}
	return d
}

func attributesToPB(as []Attribute) []*pb.Attribute {
	out := make([]*pb.Attribute, 0, len(as))
	for _, a := range as {
		out = append(out, &pb.Attribute{Name: a.Name, Type: a.Type, Required: a.Required, Sensitive: a.Sensitive, Default: a.Default, Description: a.Description})
	}
	return out
}

func attributesFromPB(as []*pb.Attribute) []Attribute {
	out := make([]Attribute, 0, len(as))
	for _, a := range as {
		out = append(out, Attribute{Name: a.GetName(), Type: a.GetType(), Required: a.GetRequired(), Sensitive: a.GetSensitive(), Default: a.GetDefault(), Description: a.GetDescription()})
	}
	return out
}

func recordsToPB(rs []Record) []*pb.Record {
	out := make([]*pb.Record, len(rs))
	for i, r := range rs {
		out[i] = &pb.Record{Key: r.Key, Version: r.Version, Op: pb.Operation(r.Op), Payload: r.Payload, Metadata: r.Metadata, Object: r.Object}
	}
	return out
}

func recordsFromPB(rs []*pb.Record) []Record {
	out := make([]Record, len(rs))
	for i, r := range rs {
		out[i] = Record{Key: r.GetKey(), Version: r.GetVersion(), Op: Operation(r.GetOp()), Payload: r.GetPayload(), Metadata: r.GetMetadata(), Object: r.GetObject()}
	}
	return out
}

func resultsToPB(rs []WriteResult) []*pb.WriteResult {
	out := make([]*pb.WriteResult, len(rs))
	for i, r := range rs {
		out[i] = &pb.WriteResult{Key: r.Key, Status: pb.ResultStatus(r.Status), Id: r.ID, Created: r.Created, RetryAfterMs: r.RetryAfter.Milliseconds(), Code: r.Code, Message: r.Message, Field: r.Field}
	}
	return out
}

func resultsFromPB(rs []*pb.WriteResult) []WriteResult {
	out := make([]WriteResult, len(rs))
	for i, r := range rs {
		out[i] = WriteResult{Key: r.GetKey(), Status: Status(r.GetStatus()), ID: r.GetId(), Created: r.GetCreated(), RetryAfter: time.Duration(r.GetRetryAfterMs()) * time.Millisecond, Code: r.GetCode(), Message: r.GetMessage(), Field: r.GetField()}
	}
	return out
}

func headersToPB(h map[string][]string) map[string]*pb.HeaderValues {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]*pb.HeaderValues, len(h))
	for k, v := range h {
		out[k] = &pb.HeaderValues{Values: v}
	}
	return out
}

func headersFromPB(h map[string]*pb.HeaderValues) map[string][]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string][]string, len(h))
	for k, v := range h {
		out[k] = v.GetValues()
	}
	return out
}

// statusCode maps a result class to the gRPC code that carries it.
var statusCode = map[Status]codes.Code{
	StatusRetryable:   codes.Unavailable,
	StatusRateLimited: codes.ResourceExhausted,
	StatusAuthExpired: codes.Unauthenticated,
	StatusPermanent:   codes.FailedPrecondition,
}

const errorDomain = "weir.connector"

// toStatus turns a connector error into a gRPC status error that keeps its
// class, retry-after, code and field path.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok && !isSDKError(err) {
		return err
	}
	e := Classify(err)
	st := status.New(statusCode[e.Status], e.Error())
	info := &errdetails.ErrorInfo{Domain: errorDomain, Reason: e.Status.String(), Metadata: map[string]string{
		"status": strconv.Itoa(int(e.Status)), "code": e.Code, "field": e.Field, "message": messageOf(e),
		"limit": strconv.Itoa(int(e.Limit)),
	}}
	details := []protoadapt.MessageV1{info}
	if e.RetryAfter > 0 {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(e.RetryAfter)})
	}
	if withDetails, derr := st.WithDetails(details...); derr == nil {
		st = withDetails
	}
	return st.Err()
}

func isSDKError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

func messageOf(e *Error) string {
	if e.Message != "" {
		return e.Message
	}
	if e.Err != nil {
		return e.Err.Error()
	}
	return ""
}

// fromStatus turns a gRPC error from a connector back into a classified
// *Error. Transport failures (the connector crashed, the call timed out) are
// retryable: the record is kept and tried again.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return Retryable(err, 0)
	}
	e := &Error{Status: StatusRetryable, Message: st.Message()}
	switch st.Code() {
	case codes.Unimplemented, codes.InvalidArgument:
		e.Status = StatusPermanent
		e.Code = st.Code().String()
	}
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			if d.GetDomain() != errorDomain {
				continue
			}
			md := d.GetMetadata()
			if n, err := strconv.Atoi(md["status"]); err == nil {
				e.Status = Status(n)
			}
			e.Code, e.Field, e.Message = md["code"], md["field"], md["message"]
			if n, err := strconv.Atoi(md["limit"]); err == nil {
				e.Limit = LimitKind(n)
			}
		case *errdetails.RetryInfo:
			e.RetryAfter = d.GetRetryDelay().AsDuration()
		}
	}
	return e
}

func webhookRequestToPB(source []byte, r WebhookRequest) *pb.DecodeWebhookRequest {
	return &pb.DecodeWebhookRequest{
		Source: source, Method: r.Method, Path: r.Path, Query: r.Query, Headers: headersToPB(r.Headers), Body: r.Body,
	}
}

func webhookRequestFromPB(source []byte, r *pb.DecodeWebhookRequest) WebhookRequest {
	return WebhookRequest{
		Source: source, Method: r.GetMethod(), Path: r.GetPath(), Query: r.GetQuery(),
		Headers: headersFromPB(r.GetHeaders()), Body: r.GetBody(),
	}
}

func webhookResponseToPB(r WebhookResponse) *pb.DecodeWebhookResponse {
	return &pb.DecodeWebhookResponse{
		Records: recordsToPB(r.Records), Status: int32(r.Status), Headers: headersToPB(r.Headers), Body: r.Body, Reject: r.Reject,
	}
}

func webhookResponseFromPB(r *pb.DecodeWebhookResponse) WebhookResponse {
	return WebhookResponse{
		Records: recordsFromPB(r.GetRecords()), Status: int(r.GetStatus()), Headers: headersFromPB(r.GetHeaders()), Body: r.GetBody(), Reject: r.GetReject(),
	}
}
