package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/weirhq/weir/internal/cputime"
	"github.com/weirhq/weir/sdk"
)

// benchLine returns a compact JSON object of about 1 KB with key "id" n
// and an RFC 3339 "updated_at".
func benchLine(n int) []byte {
	line := fmt.Appendf(nil, `{"id":"order-%07d","updated_at":"2026-11-27T10:%02d:%02d.123456Z","customer":{"name":"Ada Lovelace","email":"ada@example.com","tier":"gold","address":{"street":"12 Analytical Engine Road","city":"London","zip":"NW1 6XE","country":"GB"}},"amount":12345.67,"currency":"EUR","paid":true,"refunded":null,"tags":["priority","gift wrap","fragile"],"items":[`,
		n, n/60%60, n%60)
	for i := 0; len(line) < 960; i++ {
		if i > 0 {
			line = append(line, ',')
		}
		line = fmt.Appendf(line, `{"sku":"SKU-%04d","qty":%d,"price":19.99,"note":"Grüße \"escaped\" \u00e9"}`, i, i+1)
	}
	return append(line, "]}"...)
}

// benchFolder writes n benchLine lines to data.jsonl in a new folder.
func benchFolder(b *testing.B, n int) *connector {
	dir := b.TempDir()
	var buf bytes.Buffer
	for i := range n {
		buf.Write(benchLine(i))
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(dir, "data.jsonl"), buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	c := &connector{}
	raw, _ := json.Marshal(map[string]string{"path": dir})
	if err := c.Configure(context.Background(), sdk.Config{Connection: "bench", Raw: raw}, nil); err != nil {
		b.Fatal(err)
	}
	return c
}

// benchRead reads the lines of benchFolder in batches of 2000, one op per
// record, starting over at the end of the file.
func benchRead(b *testing.B, source string) {
	const lines = 20000
	c := benchFolder(b, lines)
	b.SetBytes(int64(len(benchLine(0)) + 1))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, cpuOK := cputime.Process()
	defer func() { cputime.ReportSince(b, cpu0, cpuOK, b.N, "cpu-ns/op") }()
	var cur []byte
	for done := 0; done < b.N; {
		res, err := c.Read(context.Background(), sdk.ReadRequest{Source: json.RawMessage(source), Cursor: cur, MaxRecords: min(2000, b.N-done)})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Records) == 0 {
			cur = nil
			continue
		}
		if res.Records[0].Metadata != nil {
			b.Fatalf("error record %v", res.Records[0].Metadata)
		}
		done += len(res.Records)
		cur = res.Cursor
	}
}

func BenchmarkRead1KB(b *testing.B) { benchRead(b, `{}`) }

func BenchmarkRead1KBVersionField(b *testing.B) {
	benchRead(b, `{"key_field":"id","version_field":"updated_at"}`)
}

func benchWebhook(b *testing.B, body []byte, want int) {
	c := &connector{}
	req := sdk.WebhookRequest{Source: json.RawMessage(`{"key_field":"id"}`), Method: "POST", Body: body}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	cpu0, cpuOK := cputime.Process()
	defer func() { cputime.ReportSince(b, cpu0, cpuOK, b.N, "cpu-ns/op") }()
	for b.Loop() {
		res, err := c.DecodeWebhook(context.Background(), req)
		if err != nil || res.Reject != "" || len(res.Records) != want {
			b.Fatalf("%v %q %d records", err, res.Reject, len(res.Records))
		}
	}
}

func BenchmarkDecodeWebhook1KB(b *testing.B) { benchWebhook(b, benchLine(1), 1) }

func BenchmarkDecodeWebhookLines(b *testing.B) {
	var lines [][]byte
	for i := range 20 {
		lines = append(lines, benchLine(i))
	}
	benchWebhook(b, append(bytes.Join(lines, []byte("\n")), '\n'), 20)
}

func BenchmarkDecodeWebhookArray(b *testing.B) {
	var elems [][]byte
	for i := range 20 {
		elems = append(elems, benchLine(i))
	}
	benchWebhook(b, append(append([]byte("["), bytes.Join(elems, []byte(", "))...), ']'), 20)
}

// BenchmarkWriteAppend1KB appends new keys in batches of 1000 (one fsync
// per batch), one op per record.
func BenchmarkWriteAppend1KB(b *testing.B) {
	c, err := benchDest(b)
	if err != nil {
		b.Fatal(err)
	}
	payload := benchLine(0)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	recs := make([]sdk.Record, 0, 1000)
	n := 0
	b.ResetTimer()
	cpu0, cpuOK := cputime.Process()
	defer func() { cputime.ReportSince(b, cpu0, cpuOK, b.N, "cpu-ns/op") }()
	for done := 0; done < b.N; {
		recs = recs[:0]
		for range min(1000, b.N-done) {
			recs = append(recs, sdk.Record{Key: "key-" + strconv.Itoa(n), Version: 1, Payload: payload})
			n++
		}
		res, err := c.Write(context.Background(), sdk.WriteRequest{Object: "bench", Operation: "upsert", Records: recs})
		if err != nil || len(res) != len(recs) || res[0].Status != sdk.StatusOK {
			b.Fatalf("%v %+v", err, res[:1])
		}
		done += len(recs)
	}
}

func benchDest(b *testing.B) (*connector, error) {
	dir := b.TempDir()
	c := &connector{}
	raw, _ := json.Marshal(map[string]string{"path": strings.TrimSuffix(dir, "/")})
	return c, c.Configure(context.Background(), sdk.Config{Connection: "bench", Raw: raw}, nil)
}
