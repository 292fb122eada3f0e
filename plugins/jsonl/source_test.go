package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/sdk"
)

// newConnector returns a connector configured on a new folder.
func newConnector(t *testing.T) (*connector, string) {
	t.Helper()
	dir := t.TempDir()
	return configured(t, dir), dir
}

// configured returns a new connector on dir, as a restarted process would.
func configured(t *testing.T, dir string) *connector {
	t.Helper()
	c := &connector{}
	raw, _ := json.Marshal(map[string]string{"path": dir})
	if err := c.Configure(context.Background(), sdk.Config{Connection: "test", Raw: raw}, nil); err != nil {
		t.Fatal(err)
	}
	return c
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, dir, name, content string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, c *connector, source string, cursor []byte, max int) sdk.ReadResult {
	t.Helper()
	res, err := c.Read(context.Background(), sdk.ReadRequest{Source: json.RawMessage(source), Cursor: cursor, MaxRecords: max})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func keys(recs []sdk.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Key)
	}
	return out
}

func TestConfigure(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "file", "")
	tests := []struct {
		name, raw, wantErr string
	}{
		{"ok", fmt.Sprintf(`{"path":%q}`, dir), ""},
		{"no path", `{}`, `"path" is required`},
		{"unknown attribute", fmt.Sprintf(`{"path":%q,"paht":1}`, dir), `unknown field "paht"`},
		{"missing folder is created", fmt.Sprintf(`{"path":%q}`, filepath.Join(dir, "new", "sub")), ""},
		{"a file", fmt.Sprintf(`{"path":%q}`, filepath.Join(dir, "file")), "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &connector{}
			err := c.Configure(context.Background(), sdk.Config{Raw: json.RawMessage(tt.raw)}, nil)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Configure = %v, want %q", err, tt.wantErr)
			}
			if tt.wantErr == "" {
				if err := c.Check(context.Background()); err != nil {
					t.Fatalf("Check = %v", err)
				}
			}
		})
	}
}

// TestReadResume reads in small batches, each from a new connector (a
// restarted process) given the last cursor: every line once, in order.
func TestReadResume(t *testing.T) {
	_, dir := newConnector(t)
	writeFile(t, dir, "a.jsonl", `{"id":"a1"}`+"\n"+`{"id":"a2"}`+"\n\n"+`{"id":"a3"}`+"\n")
	writeFile(t, dir, "b.jsonl", `{"id":"b1"}`+"\n"+`{"id":"b2"}`+"\n")
	writeFile(t, dir, "c.txt", `{"id":"ignored"}`+"\n")

	var got []string
	var versions []int64
	var last []byte
	for i := 0; ; i++ {
		res := read(t, configured(t, dir), `{}`, last, 2)
		got = append(got, keys(res.Records)...)
		for _, r := range res.Records {
			versions = append(versions, r.Version)
		}
		last = res.Cursor
		if !res.More {
			break
		}
		if i > 10 {
			t.Fatal("More never became false")
		}
	}
	if want := "a1 a2 a3 b1 b2"; strings.Join(got, " ") != want {
		t.Fatalf("keys %v, want %s", got, want)
	}
	// Versions are line positions: the blank line counts.
	if want := "[1 2 4 5 6]"; fmt.Sprint(versions) != want {
		t.Errorf("versions %v, want %s", versions, want)
	}
	var cur cursor
	if err := json.Unmarshal(last, &cur); err != nil || cur.File != "b.jsonl" || cur.Line != 2 || cur.Seq != 6 {
		t.Errorf("cursor %s (%v)", last, err)
	}

	// Nothing new: nothing read, the cursor stays.
	res := read(t, configured(t, dir), `{}`, last, 2)
	if len(res.Records) != 0 || res.More || string(res.Cursor) != string(last) {
		t.Errorf("read at the end = %+v", res)
	}
	// New lines and a new file are read from where the cursor is.
	appendFile(t, dir, "b.jsonl", `{"id":"b3"}`+"\n")
	writeFile(t, dir, "c.jsonl", `{"id":"c1"}`+"\n")
	res = read(t, configured(t, dir), `{}`, last, 10)
	if got := strings.Join(keys(res.Records), " "); got != "b3 c1" || res.More {
		t.Errorf("after appending: %s (more %v)", got, res.More)
	}
}

func TestReadPartialLine(t *testing.T) {
	c, dir := newConnector(t)
	writeFile(t, dir, "a.jsonl", `{"id":"a1"}`+"\n"+`{"id":"a2","n":12`)

	res := read(t, c, `{}`, nil, 10)
	if got := keys(res.Records); len(got) != 1 || got[0] != "a1" || res.More {
		t.Fatalf("with a partial last line: %v more %v", got, res.More)
	}
	if again := read(t, c, `{}`, res.Cursor, 10); len(again.Records) != 0 {
		t.Fatalf("partial line consumed: %v", keys(again.Records))
	}
	appendFile(t, dir, "a.jsonl", "3}\n")
	res = read(t, c, `{}`, res.Cursor, 10)
	if len(res.Records) != 1 || string(res.Records[0].Payload) != `{"id":"a2","n":123}` {
		t.Fatalf("completed line: %+v", res.Records)
	}

	// Once a newer file exists, an older file's unterminated tail is its
	// last line.
	appendFile(t, dir, "a.jsonl", `{"id":"a3"}`)
	writeFile(t, dir, "b.jsonl", `{"id":"b1"}`+"\n")
	res = read(t, c, `{}`, res.Cursor, 10)
	if got := strings.Join(keys(res.Records), " "); got != "a3 b1" {
		t.Fatalf("older file's tail: %s", got)
	}
}

func TestReadMore(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		max      int
		wantKeys string
		wantMore bool
	}{
		{"exactly full", map[string]string{"a.jsonl": "{\"id\":1}\n{\"id\":2}\n"}, 2, "1 2", false},
		{"full with blank lines after", map[string]string{"a.jsonl": "{\"id\":1}\n{\"id\":2}\n\n \n"}, 2, "1 2", false},
		{"one left", map[string]string{"a.jsonl": "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n"}, 2, "1 2", true},
		{"one left in the next file", map[string]string{"a.jsonl": "{\"id\":1}\n{\"id\":2}\n", "b.jsonl": "{\"id\":3}\n"}, 2, "1 2", true},
		{"only a partial line left", map[string]string{"a.jsonl": "{\"id\":1}\n{\"id\":2}\n{\"id\":3"}, 2, "1 2", false},
		{"empty folder", nil, 2, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, dir := newConnector(t)
			for name, content := range tt.files {
				writeFile(t, dir, name, content)
			}
			res := read(t, c, `{}`, nil, tt.max)
			if got := strings.Join(keys(res.Records), " "); got != tt.wantKeys || res.More != tt.wantMore {
				t.Errorf("keys %q more %v, want %q more %v", got, res.More, tt.wantKeys, tt.wantMore)
			}
		})
	}
}

// TestReadExact: payloads are the lines compacted, numbers and strings byte
// for byte.
func TestReadExact(t *testing.T) {
	c, dir := newConnector(t)
	line := `{ "id": 7, "amount": 12345678901234567.89, "tiny": 1e-400, "name": "Grüße – 東京 🚀", "esc": "\u00e9 <&> \"q\"", "list": [1.50, 2] }`
	writeFile(t, dir, "a.jsonl", line+"\r\n")
	res := read(t, c, `{}`, nil, 10)
	want := `{"id":7,"amount":12345678901234567.89,"tiny":1e-400,"name":"Grüße – 東京 🚀","esc":"\u00e9 <&> \"q\"","list":[1.50,2]}`
	if len(res.Records) != 1 || res.Records[0].Key != "7" || string(res.Records[0].Payload) != want || res.Records[0].Object != "record" {
		t.Fatalf("record %+v\npayload %s\n   want %s", res.Records, res.Records[0].Payload, want)
	}
}

func TestReadSettings(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 0, 0, 123456000, time.UTC)
	tests := []struct {
		name, source, line string
		wantKey            string
		wantVersion        int64
		wantObject         string
	}{
		{"defaults", `{}`, `{"id":"x"}`, "x", 1, "record"},
		{"number key as written", `{}`, `{"id":1e3}`, "1e3", 1, "record"},
		{"key field", `{"key_field":"sku"}`, `{"id":"x","sku":"S-1"}`, "S-1", 1, "record"},
		{"integer version", `{"version_field":"rev"}`, `{"id":"x","rev":42}`, "x", 42, "record"},
		{"time version", `{"version_field":"at"}`, `{"id":"x","at":"2026-11-27T10:00:00.123456Z"}`, "x", sdk.VersionFromTime(at), "record"},
		{"object", `{"object":"Order"}`, `{"id":"x"}`, "x", 1, "Order"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, dir := newConnector(t)
			writeFile(t, dir, "a.jsonl", tt.line+"\n")
			res := read(t, c, tt.source, nil, 10)
			if len(res.Records) != 1 {
				t.Fatalf("records %+v", res.Records)
			}
			r := res.Records[0]
			if r.Key != tt.wantKey || r.Version != tt.wantVersion || r.Object != tt.wantObject || r.Metadata != nil {
				t.Errorf("record %+v, want key %q version %d object %q", r, tt.wantKey, tt.wantVersion, tt.wantObject)
			}
		})
	}
}

func TestReadBadSettingsAndCursor(t *testing.T) {
	c, _ := newConnector(t)
	tests := []struct{ name, source, cursor, code string }{
		{"unknown setting", `{"key":"id"}`, "", "INVALID_SETTINGS"},
		{"pattern with a path", `{"pattern":"../*.jsonl"}`, "", "INVALID_SETTINGS"},
		{"bad pattern", `{"pattern":"["}`, "", "INVALID_SETTINGS"},
		{"bad cursor", `{}`, "not json", "INVALID_CURSOR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cursor []byte
			if tt.cursor != "" {
				cursor = []byte(tt.cursor)
			}
			_, err := c.Read(context.Background(), sdk.ReadRequest{Source: json.RawMessage(tt.source), Cursor: cursor})
			if e := sdk.Classify(err); e == nil || e.Status != sdk.StatusPermanent || e.Code != tt.code {
				t.Errorf("Read error %v, want permanent %s", err, tt.code)
			}
		})
	}
}

// TestReadBadLines: a line that is not a record becomes an error record
// for the host to dead-letter, and the source goes on.
func TestReadBadLines(t *testing.T) {
	tests := []struct {
		name, source, line string
		wantError          string
		wantField          string
		wantPayload        string
	}{
		{"malformed", `{}`, `{"id":"x",}`, "invalid JSON", "", `"{\"id\":\"x\",}"`},
		{"array", `{}`, `[1,2]`, "not a JSON object", "", `[1,2]`},
		{"null", `{}`, `null`, "not a JSON object", "", `null`},
		{"no key", `{}`, `{"name":"x"}`, `key field "id" is missing`, "id", `{"name":"x"}`},
		{"null key", `{}`, `{"id":null}`, `key field "id" must be a string or a number`, "id", `{"id":null}`},
		{"empty key", `{}`, `{"id":""}`, `key field "id" is empty`, "id", `{"id":""}`},
		{"no version", `{"version_field":"rev"}`, `{"id":"x"}`, `version field "rev" is missing`, "rev", `{"id":"x"}`},
		{"fractional version", `{"version_field":"rev"}`, `{"id":"x","rev":1.5}`, "must be an integer", "rev", `{"id":"x","rev":1.5}`},
		{"bad time version", `{"version_field":"rev"}`, `{"id":"x","rev":"yesterday"}`, "RFC 3339", "rev", `{"id":"x","rev":"yesterday"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, dir := newConnector(t)
			writeFile(t, dir, "a.jsonl", `{"id":"ok1","rev":1}`+"\n"+tt.line+"\n"+`{"id":"ok2","rev":2}`+"\n")
			res := read(t, c, tt.source, nil, 10)
			if got := strings.Join(keys(res.Records), " "); got != "ok1 a.jsonl:2 ok2" {
				t.Fatalf("keys %s", got)
			}
			bad := res.Records[1]
			if !strings.Contains(bad.Metadata["weir.error"], tt.wantError) || bad.Metadata["weir.error_field"] != tt.wantField || string(bad.Payload) != tt.wantPayload {
				t.Errorf("error record metadata %v payload %s; want error %q field %q payload %s", bad.Metadata, bad.Payload, tt.wantError, tt.wantField, tt.wantPayload)
			}
			if bad.Version != 2 {
				t.Errorf("error record version %d, want its position 2", bad.Version)
			}
		})
	}
}
