package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirhq/weir/sdk"
)

// referenceBody is the body as json.Marshal makes it from envelopes, the
// reference for appendBody; ok is false when a payload is not JSON.
func referenceBody(recs []sdk.Record, single bool) (body []byte, ok bool) {
	envs := make([]envelope, len(recs))
	for i, r := range recs {
		if !json.Valid(r.Payload) {
			return nil, false
		}
		envs[i] = envelope{Key: r.Key, Version: r.Version, Op: r.Op.String(), Object: r.Object, Record: r.Payload}
	}
	var err error
	if single {
		body, err = json.Marshal(envs[0])
	} else {
		body, err = json.Marshal(envs)
	}
	return body, err == nil
}

// referencePayload is what json.Marshal makes of a payload, and whether it
// is JSON.
func referencePayload(p []byte) ([]byte, bool) {
	if !json.Valid(p) {
		return nil, false
	}
	out, err := json.Marshal(json.RawMessage(p))
	return out, err == nil
}

// payloadCases are documents for appendCompactJSON, valid and not.
var payloadCases = []string{
	// valid
	`{}`, `[]`, `""`, `0`, `-0`, `1`, `-1.5e+10`, `2E-3`, `0.0`, `12345678901234567890123`,
	`true`, `false`, `null`, ` { } `, "\t[\n1 ,\r 2 ]\n",
	`{"a":1,"b":[true,false,null],"c":{"d":"e"}}`,
	"{ \"a\" : [ 1 , { \"b\" : \"x y\" } ] , \"c\" : \"\" }",
	`{"html":"<script>a && b</script>"}`,
	`"\u003c already escaped \/ \" \\ \b\f\n\r\t \uABCD \uabcd"`,
	"\"line\u2028sep\u2029para\"", "\"\xe2\x80\xa7 \xe2\x80\xaa \xe2\x82\xac\"",
	"\"bad utf-8 \xff\xfe \xe2\x80\"", "\"del \x7f\"",
	`[[[[[[[[[[]]]]]]]]]]`, `[{},[],{"":""}]`, `{"":{"":{"":[]}}}`,
	strings.Repeat("[", maxFastDepth) + strings.Repeat("]", maxFastDepth),
	strings.Repeat("[", maxFastDepth+1) + strings.Repeat("]", maxFastDepth+1),
	strings.Repeat(`{"a":`, 300) + "1" + strings.Repeat("}", 300),
	string(benchOrder(7)), string(benchNested(7)),
	// not JSON
	``, ` `, `{`, `}`, `[`, `]`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[,1]`, `{,}`,
	`{1:2}`, `{"a" 1}`, `{"a":1 "b":2}`, `[1 2]`, `1 2`, `{}{}`, `{}x`, `"`, `"abc`,
	`"a\"`, `"\x"`, `"\u12"`, `"\u12G4"`, `"\'"`, "\"tab\there\"", "\"nl\nhere\"", "\"\x00\"",
	`01`, `-`, `-a`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x10`, `1.5.5`, `--1`, `NaN`, `Infinity`,
	`tru`, `truex`, `nul`, `nulll`, `False`, `True`, `[true false]`, `{"a":1}}`, `[[]`, `[]]`,
	`{"a":[}`, `["a":1]`, `'a'`, "\xef\xbb\xbf{}",
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", maxFastDepth+5) + strings.Repeat("]", maxFastDepth+4),
}

func TestAppendPayload(t *testing.T) {
	for _, p := range payloadCases {
		name := p
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			checkPayload(t, []byte(p))
		})
	}
}

// checkPayload checks appendPayload and appendCompactJSON on p against
// encoding/json.
func checkPayload(t *testing.T, p []byte) {
	t.Helper()
	want, wantOK := referencePayload(p)
	prefix := []byte("prefix")
	got, ok := appendPayload(prefix[:len(prefix):len(prefix)], p)
	if ok != wantOK {
		t.Fatalf("appendPayload(%q) ok = %v, want %v", p, ok, wantOK)
	}
	if !strings.HasPrefix(string(got), "prefix") {
		t.Fatalf("appendPayload(%q) lost the prefix: %q", p, got)
	}
	if ok && string(got[len(prefix):]) != string(want) {
		t.Fatalf("appendPayload(%q) = %q, want %q", p, got[len(prefix):], want)
	}
	if !ok && len(got) != len(prefix) {
		t.Fatalf("appendPayload(%q) appended %q to an invalid payload", p, got[len(prefix):])
	}
	// The fast path may refuse valid JSON (to encoding/json), never accept
	// what is not JSON.
	if fast, ok := appendCompactJSON(nil, p); ok && (!wantOK || string(fast) != string(want)) {
		t.Fatalf("appendCompactJSON(%q) = %q, true; encoding/json gives %q, %v", p, fast, want, wantOK)
	}
}

func FuzzAppendPayload(f *testing.F) {
	for _, p := range payloadCases {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		checkPayload(t, p)
	})
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{
		"", "o-1", "plain ascii 123 ~!@#$%^*()_+", `quote " back \ slash`, "<a href='x'>&amp;</a>",
		"tab\tnl\ncr\rbs\bff\f", "\x00\x01\x1f", "\x7f", "ünïcødé €", "\u2028\u2029", "bad \xff\xfe utf-8", "\xe2\x80",
	} {
		want, _ := json.Marshal(s)
		if got := appendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("appendJSONString(%q) = %q, want %q", s, got[1:], want)
		}
	}
}

func TestAppendBody(t *testing.T) {
	rec := func(key string, version int64, op sdk.Operation, object, payload string) sdk.Record {
		return sdk.Record{Key: key, Version: version, Op: op, Object: object, Payload: json.RawMessage(payload)}
	}
	tests := []struct {
		name    string
		recs    []sdk.Record
		single  bool
		want    string // empty: compare with referenceBody only
		invalid bool
	}{
		{name: "single", single: true, recs: []sdk.Record{rec("o-1", 3, sdk.OpUpsert, "orders", `{"a": 1}`)},
			want: `{"key":"o-1","version":3,"op":"upsert","object":"orders","record":{"a":1}}`},
		{name: "single without object", single: true, recs: []sdk.Record{rec("o-1", -3, sdk.OpDelete, "", `null`)},
			want: `{"key":"o-1","version":-3,"op":"delete","record":null}`},
		{name: "array of one", recs: []sdk.Record{rec("o-1", 1, sdk.OpUpsert, "", `[1, 2]`)},
			want: `[{"key":"o-1","version":1,"op":"upsert","record":[1,2]}]`},
		{name: "array", recs: []sdk.Record{
			rec("a", 1, sdk.OpUpsert, "orders", `{"x":"<&>"}`),
			rec("b", 9223372036854775807, sdk.OpDelete, "", ` "s" `),
			rec("c", -9223372036854775808, sdk.OpUpsert, "o", `{}`),
		}, want: `[{"key":"a","version":1,"op":"upsert","object":"orders","record":{"x":"\u003c\u0026\u003e"}},` +
			`{"key":"b","version":9223372036854775807,"op":"delete","record":"s"},` +
			`{"key":"c","version":-9223372036854775808,"op":"upsert","object":"o","record":{}}]`},
		{name: "escaped key and object", recs: []sdk.Record{rec("k\"<1>\xff", 1, sdk.OpUpsert, "ob\u2028j", `1`)}},
		{name: "deep payload", recs: []sdk.Record{rec("d", 1, sdk.OpUpsert, "", strings.Repeat("[", 500)+strings.Repeat("]", 500))}},
		{name: "bench documents", recs: append(benchRecords(3, benchOrder), benchRecords(3, benchNested)...)},
		{name: "invalid single", single: true, recs: []sdk.Record{rec("a", 1, sdk.OpUpsert, "", `{"a":`)}, invalid: true},
		{name: "invalid in array", recs: []sdk.Record{rec("a", 1, sdk.OpUpsert, "", `{}`), rec("b", 1, sdk.OpUpsert, "", ``)}, invalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := appendBody(nil, tt.recs, tt.single)
			ref, refOK := referenceBody(tt.recs, tt.single)
			if refOK == tt.invalid {
				t.Fatalf("reference ok = %v, test says invalid = %v", refOK, tt.invalid)
			}
			if tt.invalid {
				if !reflect.DeepEqual(err, errInvalidJSON()) {
					t.Fatalf("err = %v, want %v", err, errInvalidJSON())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(ref) {
				t.Fatalf("body\n %s\nwant (json.Marshal)\n %s", got, ref)
			}
			if tt.want != "" && string(got) != tt.want {
				t.Fatalf("body\n %s\nwant\n %s", got, tt.want)
			}
			if n := bodySize(tt.recs); n < len(got) && !strings.ContainsAny(string(got), `\`) {
				t.Errorf("bodySize = %d, body is %d bytes", n, len(got))
			}
		})
	}
}

func TestIdempotencyKey(t *testing.T) {
	recs := []sdk.Record{{Key: "a", Version: 1}, {Key: "b:c", Version: -2}, {Key: "", Version: 1 << 62}}
	want := fmt.Sprintf("a:1,b:c:-2,:%d", int64(1<<62))
	if got := idempotencyKey(recs); got != want {
		t.Fatalf("idempotencyKey = %q, want %q", got, want)
	}
}

// recordingServer answers each request with the next of answers (the last
// repeats) and keeps the bodies and Idempotency-Key headers it got.
type recordingServer struct {
	mu      sync.Mutex
	answers []func(http.ResponseWriter)
	bodies  []string
	keys    []string
}

func (s *recordingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, string(body))
	s.keys = append(s.keys, r.Header.Get("Idempotency-Key"))
	answer := s.answers[min(len(s.bodies), len(s.answers))-1]
	s.mu.Unlock()
	answer(w)
}

// status answers with code and body.
func status(code int, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if code == http.StatusServiceUnavailable || code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "7")
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

func TestWriteResults(t *testing.T) {
	recs := func(payloads ...string) []sdk.Record {
		out := make([]sdk.Record, len(payloads))
		for i, p := range payloads {
			out[i] = sdk.Record{Key: fmt.Sprintf("k%d", i), Version: int64(10 + i), Object: "orders", Payload: json.RawMessage(p)}
		}
		return out
	}
	ok := func(key string, created bool) sdk.WriteResult {
		return sdk.WriteResult{Key: key, Status: sdk.StatusOK, ID: key, Created: created}
	}
	failed := func(key string, st sdk.Status, code, msg, field string, after time.Duration) sdk.WriteResult {
		return sdk.WriteResult{Key: key, Status: st, Code: code, Message: msg, Field: field, RetryAfter: after}
	}
	tests := []struct {
		name     string
		batch    int
		records  []sdk.Record
		answers  []func(http.ResponseWriter)
		want     []sdk.WriteResult
		requests int
	}{
		{name: "created, single objects", batch: 1, records: recs(`{"a":1}`, `{"a":2}`),
			answers: []func(http.ResponseWriter){status(201, "")},
			want:    []sdk.WriteResult{ok("k0", true), ok("k1", true)}, requests: 2},
		{name: "updated, one array", batch: 5, records: recs(`{"a":1}`, `{"a":2}`, `3`),
			answers: []func(http.ResponseWriter){status(200, `{"ignored":true}`)},
			want:    []sdk.WriteResult{ok("k0", false), ok("k1", false), ok("k2", false)}, requests: 1},
		{name: "refused chunk", batch: 2, records: recs(`{"qty":-1}`, `{}`, `{}`),
			answers: []func(http.ResponseWriter){status(422, `{"error":"no"}`), status(204, "")},
			want: []sdk.WriteResult{
				failed("k0", sdk.StatusPermanent, "422", `HTTP 422: {"error":"no"}`, "", 0),
				failed("k1", sdk.StatusPermanent, "422", `HTTP 422: {"error":"no"}`, "", 0),
				ok("k2", false),
			}, requests: 2},
		{name: "unavailable", batch: 2, records: recs(`{}`, `{}`),
			answers: []func(http.ResponseWriter){status(503, "busy")},
			want: []sdk.WriteResult{
				failed("k0", sdk.StatusRetryable, "", "HTTP 503: busy", "", 7*time.Second),
				failed("k1", sdk.StatusRetryable, "", "HTTP 503: busy", "", 7*time.Second),
			}, requests: 1},
		{name: "rate limited", batch: 1, records: recs(`{}`),
			answers: []func(http.ResponseWriter){status(429, "slow down")},
			want:    []sdk.WriteResult{failed("k0", sdk.StatusRateLimited, "", "HTTP 429: slow down", "", 7*time.Second)}, requests: 1},
		{name: "invalid JSON fails its chunk only", batch: 2, records: recs(`{}`, `{"a":`, `{"b":2}`),
			answers: []func(http.ResponseWriter){status(201, "")},
			want: []sdk.WriteResult{
				failed("k0", sdk.StatusPermanent, "INVALID_JSON", "the record is not valid JSON", "record", 0),
				failed("k1", sdk.StatusPermanent, "INVALID_JSON", "the record is not valid JSON", "record", 0),
				ok("k2", true),
			}, requests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := &recordingServer{answers: tt.answers}
			srv := httptest.NewServer(rs)
			defer srv.Close()
			c := benchConnector(t, srv.URL, tt.batch)
			got, err := c.Write(context.Background(), sdk.WriteRequest{Object: "orders", Operation: "upsert", Records: tt.records})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("results\n %+v\nwant\n %+v", got, tt.want)
			}
			rs.mu.Lock()
			defer rs.mu.Unlock()
			if len(rs.bodies) != tt.requests {
				t.Fatalf("%d requests, want %d", len(rs.bodies), tt.requests)
			}
			// Each request carries what json.Marshal made of its valid chunk.
			var sent []sdk.Record
			for start := 0; start < len(tt.records); start += tt.batch {
				chunk := tt.records[start:min(start+tt.batch, len(tt.records))]
				body, valid := referenceBody(chunk, tt.batch == 1)
				if !valid {
					continue
				}
				if n := len(sent); n >= len(rs.bodies) || rs.bodies[n] != string(body) {
					t.Fatalf("request %d body %q, want %q", n, rs.bodies[min(n, len(rs.bodies)-1)], body)
				}
				var keys []string
				for _, r := range chunk {
					keys = append(keys, fmt.Sprintf("%s:%d", r.Key, r.Version))
				}
				if want := strings.Join(keys, ","); rs.keys[len(sent)] != want {
					t.Fatalf("Idempotency-Key %q, want %q", rs.keys[len(sent)], want)
				}
				sent = append(sent, chunk[0])
			}
		})
	}
}

// BenchmarkAppendBody builds the body of 100 ~1 KB records.
func BenchmarkAppendBody(b *testing.B) {
	recs := benchRecords(100, benchOrder)
	b.SetBytes(int64(len(recs) * len(recs[0].Payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := appendBody(make([]byte, 0, bodySize(recs)), recs, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReferenceBody builds the same body with json.Valid and
// json.Marshal, as the connector used to.
func BenchmarkReferenceBody(b *testing.B) {
	recs := benchRecords(100, benchOrder)
	b.SetBytes(int64(len(recs) * len(recs[0].Payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := referenceBody(recs, false); !ok {
			b.Fatal("invalid")
		}
	}
}
