package sdk

import (
	"bytes"
	"context"
	"strings"
	"testing"

	pb "github.com/weirhq/weir/proto/connectorv1"
)

func TestWithin(t *testing.T) {
	b := []byte("0123456789")
	other := []byte("0123456789")
	for _, tc := range []struct {
		name string
		p    []byte
		off  int
		ok   bool
	}{
		{"whole", b, 0, true},
		{"start", b[:3], 0, true},
		{"middle", b[4:7], 4, true},
		{"end", b[7:], 7, true},
		{"empty", b[3:3], 0, false},
		{"equal bytes elsewhere", other[2:5], 0, false},
		{"longer than b", append(append([]byte{}, b...), 'x'), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			off, ok := within(b, tc.p)
			if ok != tc.ok || (ok && off != tc.off) {
				t.Errorf("within = %d, %v; want %d, %v", off, ok, tc.off, tc.ok)
			}
		})
	}
	// A slice that starts in b but extends past it (through b's spare
	// capacity) is not a run of b.
	withRoom := make([]byte, 4, 8)
	if _, ok := within(withRoom, withRoom[2:6]); ok {
		t.Error("a slice running into b's spare capacity counted as within b")
	}
}

// TestSpanPayloads checks which payloads travel as spans and that the host
// side gets every payload back.
func TestSpanPayloads(t *testing.T) {
	orig := []byte(`[{"id":"a"},{"id":"b"},{"id":"c"},{"id":"d"}]`)
	body := bytes.Clone(orig)
	copied := bytes.Clone(body[12:22])
	body[37] = 'D' // the connector wrote over its copy of the body
	recs := []Record{
		{Key: "a", Payload: body[1:11]},
		{Key: "b", Payload: copied},
		{Key: "c", Payload: body[23:33]},
		{Key: "d", Payload: body[34:44]},
		{Key: "e"},
	}
	want := []string{`{"id":"a"}`, `{"id":"b"}`, `{"id":"c"}`, `{"iD":"d"}`, ``}
	res := webhookResponseToPB(WebhookResponse{Records: recs})
	spanPayloads(res, body, orig)
	spanned := []bool{true, false, true, false, false}
	if len(res.PayloadSpans) != len(recs) {
		t.Fatalf("%d spans for %d records", len(res.PayloadSpans), len(recs))
	}
	for i, s := range res.PayloadSpans {
		got := s.GetLength() > 0
		if got != spanned[i] || (got && len(res.Records[i].Payload) > 0) {
			t.Errorf("record %d: span %v, payload %q; want spanned %v", i, s, res.Records[i].Payload, spanned[i])
		}
	}
	back := webhookResponseFromPB(res)
	if err := fillPayloads(res, back.Records, orig); err != nil {
		t.Fatal(err)
	}
	for i, r := range back.Records {
		if string(r.Payload) != want[i] {
			t.Errorf("record %d: payload %q; want %q", i, r.Payload, want[i])
		}
	}
	// The payloads share the body's memory but cannot grow into it.
	p := back.Records[0].Payload
	p = append(p, '!')
	if orig[11] != ',' {
		t.Errorf("appending to a payload wrote over the body: %q", orig)
	}
	_ = p
}

func TestSpanPayloadsNone(t *testing.T) {
	body := []byte(`{"id":"a"}`)
	res := webhookResponseToPB(WebhookResponse{Records: []Record{{Key: "a", Payload: bytes.Clone(body)}}})
	spanPayloads(res, body, body)
	if res.PayloadSpans != nil || string(res.Records[0].Payload) != `{"id":"a"}` {
		t.Errorf("spans %v, payload %q; want none and the payload", res.PayloadSpans, res.Records[0].Payload)
	}
}

func TestFillPayloadsRefuses(t *testing.T) {
	body := []byte("0123456789")
	for _, tc := range []struct {
		name  string
		spans []*pb.Span
		recs  []Record
		want  string
	}{
		{"fewer spans than records", []*pb.Span{{Offset: 0, Length: 2}}, []Record{{}, {}}, "1 payload spans for 2 records"},
		{"past the body", []*pb.Span{{Offset: 8, Length: 3}}, []Record{{}}, "outside a body of 10 bytes"},
		{"offset overflows", []*pb.Span{{Offset: 1<<32 - 1, Length: 1<<32 - 1}}, []Record{{}}, "outside"},
		{"span and payload", []*pb.Span{{Offset: 0, Length: 2}}, []Record{{Payload: []byte("x")}}, "beside a payload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := fillPayloads(&pb.DecodeWebhookResponse{PayloadSpans: tc.spans}, tc.recs, body)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("fillPayloads = %v; want an error with %q", err, tc.want)
			}
		})
	}
}

// runs decodes a body of "|"-separated parts into a record per part whose
// payload is that run of the body; a body starting with "!" is written over
// first (its payloads then differ from the body sent).
type runs struct{ echo }

func (*runs) DecodeWebhook(_ context.Context, req WebhookRequest) (WebhookResponse, error) {
	if len(req.Body) > 0 && req.Body[0] == '!' {
		req.Body[1] = '?'
	}
	var recs []Record
	for i, start := 0, 0; i <= len(req.Body); i++ {
		if i == len(req.Body) || req.Body[i] == '|' {
			recs = append(recs, Record{Key: string(req.Body[start:i]), Version: 1, Payload: req.Body[start:i]})
			start = i + 1
		}
	}
	return WebhookResponse{Records: recs, Status: 200}, nil
}

// TestDecodeWebhooksSpans checks, through gRPC, that payloads which are
// runs of the body come back right and travel as spans, and that the rest
// (and every payload to a host that does not take spans) travel whole.
func TestDecodeWebhooksSpans(t *testing.T) {
	c := dispenseTest(t, &runs{})
	reqs := []WebhookRequest{{Body: []byte("alpha|beta|gamma")}, {Body: []byte("!ab|y")}}
	res, errs, err := c.DecodeWebhooks(context.Background(), nil, reqs)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"alpha", "beta", "gamma"}, {"!?b", "y"}}
	for i := range reqs {
		if errs[i] != nil || len(res[i].Records) != len(want[i]) {
			t.Fatalf("request %d: %+v, %v", i, res[i], errs[i])
		}
		for j, r := range res[i].Records {
			if string(r.Payload) != want[i][j] {
				t.Errorf("request %d record %d: payload %q; want %q", i, j, r.Payload, want[i][j])
			}
		}
	}
	if string(reqs[1].Body) != "!ab|y" {
		t.Errorf("the host's body changed: %q", reqs[1].Body)
	}

	// On the wire: asked for spans, the runs come as spans (the written
	// over one whole); not asked, every payload comes whole.
	rpc := c.rpc
	for _, spans := range []bool{true, false} {
		out, err := rpc.DecodeWebhooks(context.Background(), &pb.DecodeWebhooksRequest{
			PayloadSpans: spans,
			Requests:     []*pb.DecodeWebhookRequest{{Body: []byte("alpha|beta")}, {Body: []byte("!x")}},
		})
		if err != nil {
			t.Fatal(err)
		}
		first, second := out.Results[0].GetResponse(), out.Results[1].GetResponse()
		wholes := 0
		for _, r := range append(first.GetRecords(), second.GetRecords()...) {
			if len(r.GetPayload()) > 0 {
				wholes++
			}
		}
		wantWholes := 1
		if !spans {
			wantWholes = 3
		}
		if wholes != wantWholes || spans != (len(first.GetPayloadSpans()) == 2) || len(second.GetPayloadSpans()) != 0 {
			t.Errorf("payload_spans %v: %d whole payloads (want %d), spans %v and %v", spans, wholes, wantWholes, first.GetPayloadSpans(), second.GetPayloadSpans())
		}
	}
}
