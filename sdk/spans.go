package sdk

import (
	"bytes"
	"fmt"
	"math"
	"unsafe"

	pb "github.com/weirhq/weir/proto/connectorv1"
)

// A webhook record's payload is often a run of its request's body, byte
// for byte (one order a request, or one element of an array). The host
// already holds the body, so a batch answer sends such a payload as a span
// of the body instead of a copy: the answer is half the bytes, and the
// payload is not encrypted, sent and parsed back a second time.

// spanPayloads moves the payloads of res's records that are runs of body
// into spans. orig is body as the host sent it: a payload that aliases
// body but differs from orig (the connector wrote over its body) stays in
// its record.
func spanPayloads(res *pb.DecodeWebhookResponse, body, orig []byte) {
	recs := res.GetRecords()
	if len(recs) == 0 || len(body) == 0 {
		return
	}
	var spans []*pb.Span
	for i, r := range recs {
		off, ok := within(body, r.Payload)
		if !ok || !bytes.Equal(r.Payload, orig[off:off+len(r.Payload)]) {
			continue
		}
		if spans == nil {
			spans = make([]*pb.Span, len(recs))
			for j := range spans {
				spans[j] = &pb.Span{}
			}
		}
		spans[i].Offset, spans[i].Length = uint32(off), uint32(len(r.Payload))
		r.Payload = nil
	}
	res.PayloadSpans = spans
}

// within reports whether p lies in b's memory, and where.
func within(b, p []byte) (int, bool) {
	if len(p) == 0 || len(p) > len(b) || uint64(len(b)) > math.MaxUint32 {
		return 0, false
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	at := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
	if at < start || at-start > uintptr(len(b)-len(p)) {
		return 0, false
	}
	return int(at - start), true
}

// fillPayloads gives the records of res whose payloads came as spans
// their payload from body, the request's body. Each payload is a
// capacity-bounded slice of body: appending to it never writes over body.
func fillPayloads(res *pb.DecodeWebhookResponse, recs []Record, body []byte) error {
	spans := res.GetPayloadSpans()
	if len(spans) == 0 {
		return nil
	}
	if len(spans) != len(recs) {
		return fmt.Errorf("%d payload spans for %d records", len(spans), len(recs))
	}
	for i, s := range spans {
		if s.GetLength() == 0 {
			continue
		}
		from, n := uint64(s.GetOffset()), uint64(s.GetLength())
		if len(recs[i].Payload) > 0 || from+n > uint64(len(body)) {
			return fmt.Errorf("record %d: payload span %d+%d outside a body of %d bytes, or beside a payload", i, from, n, len(body))
		}
		recs[i].Payload = body[from : from+n : from+n]
	}
	return nil
}
