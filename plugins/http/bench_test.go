package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/weirhq/weir/internal/cputime"
	"github.com/weirhq/weir/sdk"
)

// nopHost is an sdk.Host whose limiter always grants at once.
type nopHost struct{}

func (nopHost) Token(context.Context, bool) (sdk.Token, error) { return sdk.Token{}, nil }
func (nopHost) Acquire(context.Context, int, sdk.Priority) (func(), error) {
	return func() {}, nil
}
func (nopHost) Report(context.Context, sdk.LimitReport) error { return nil }

// benchPad fills benchOrder up to about 1 KB, like weirbench's order.
var benchPad = strings.Repeat("x", 1024-80)

// benchOrder is a compact ~1 KB order document, the shape weirbench sends.
func benchOrder(i int) json.RawMessage {
	return fmt.Appendf(nil, `{"id":"o%06d","total":12345678901234567.89,"status":"Activated","pad":"%s"}`, i, benchPad)
}

// benchNested is a ~1 KB document with nesting, spaces inside strings and
// no insignificant whitespace.
func benchNested(i int) json.RawMessage {
	var b strings.Builder
	fmt.Fprintf(&b, `{"id":"o%06d","customer":{"name":"Jane Q. Example","email":"jane@example.com","tags":["vip","net 30"]},"lines":[`, i)
	for j := range 8 {
		if j > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"sku":"SKU-%04d","description":"Widget, blue, size %d","qty":%d,"price":19.99,"discount":null,"taxable":true}`, j, j, j+1)
	}
	b.WriteString(`],"note":"deliver to the back door"}`)
	return json.RawMessage(b.String())
}

// benchConnector returns a connector configured for srv with the given
// batch size.
func benchConnector(tb testing.TB, url string, batch int) *connector {
	tb.Helper()
	c := &connector{}
	raw := fmt.Sprintf(`{"url":%q,"batch":%d,"token":"bench-token","timeout":"10s"}`, url, batch)
	if err := c.Configure(context.Background(), sdk.Config{Raw: json.RawMessage(raw)}, nopHost{}); err != nil {
		tb.Fatal(err)
	}
	return c
}

// sinkServer is an endpoint that reads and drops the body and answers 200.
func sinkServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
}

func benchRecords(n int, doc func(int) json.RawMessage) []sdk.Record {
	recs := make([]sdk.Record, n)
	for i := range recs {
		recs[i] = sdk.Record{Key: fmt.Sprintf("p%03d", i), Version: 1, Object: "orders", Payload: doc(i)}
	}
	return recs
}

func benchWrite(b *testing.B, batch int, doc func(int) json.RawMessage) {
	srv := sinkServer()
	defer srv.Close()
	c := benchConnector(b, srv.URL, batch)
	req := sdk.WriteRequest{Object: "orders", Operation: "upsert", Records: benchRecords(100, doc)}
	ctx := context.Background()
	var size int
	for _, r := range req.Records {
		size += len(r.Payload)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	cpu0, cpuOK := cputime.Process()
	for b.Loop() {
		res, err := c.Write(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if res[0].Status != sdk.StatusOK {
			b.Fatalf("result %+v", res[0])
		}
	}
	records := float64(b.N * len(req.Records))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/records, "ns/record")
	// CPU of the whole process (connector and endpoint), steadier than
	// wall time on a busy machine.
	cputime.ReportSince(b, cpu0, cpuOK, b.N*len(req.Records), "cpu-ns/record")
}

// BenchmarkWrite100x1KB writes 100 ~1 KB records in one request to an
// in-process endpoint (whose CPU is included in every figure).
func BenchmarkWrite100x1KB(b *testing.B) { benchWrite(b, 100, benchOrder) }

// BenchmarkWrite100x1KBNested is BenchmarkWrite100x1KB with nested
// documents.
func BenchmarkWrite100x1KBNested(b *testing.B) { benchWrite(b, 100, benchNested) }

// BenchmarkWrite1x1KB writes 100 ~1 KB records one request each, which
// shows the per-request cost.
func BenchmarkWrite1x1KB(b *testing.B) { benchWrite(b, 1, benchOrder) }
