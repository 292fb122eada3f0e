package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirhq/weir/sdk"
	"github.com/weirhq/weir/sdk/conformance"
)

func TestMain(m *testing.M) {
	code := m.Run()
	conformance.Cleanup()
	os.Exit(code)
}

// connectorBinary builds weir-connector-jsonl once per test binary.
func connectorBinary(t *testing.T) string {
	t.Helper()
	return conformance.Build(t, ".", "weir-connector-jsonl")
}

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	const secret = "jsonl-conformance-secret-4b1d"
	seeded := 0
	conformance.Run(t, conformance.Target{
		Binary:    connectorBinary(t),
		Env:       []string{"JSONL_TEST_SECRET=" + secret},
		Config:    json.RawMessage(fmt.Sprintf(`{"path":%q}`, dir)),
		Source:    json.RawMessage(`{"pattern":"seed-*.jsonl","key_field":"id"}`),
		Object:    "orders",
		Operation: "upsert",
		NewRecords: func(n int, version int64) []sdk.Record {
			recs := make([]sdk.Record, n)
			for i := range recs {
				key := fmt.Sprintf("order-%d", i)
				recs[i] = sdk.Record{Key: key, Version: version, Payload: fmt.Appendf(nil,
					`{"id":%q,"rev":%d,"total":%s,"note":%q}`, key, version, conformance.Decimal, conformance.Text)}
			}
			return recs
		},
		Seed: func(t *testing.T, recs []sdk.Record) {
			// Two files per seed, so reads cross a file boundary.
			half := len(recs) / 2
			for _, part := range [][]sdk.Record{recs[:half], recs[half:]} {
				var buf bytes.Buffer
				for _, r := range part {
					// The key field first, then the seeded payload's members.
					fmt.Fprintf(&buf, `{"id":%q,%s`+"\n", r.Key, r.Payload[1:])
				}
				seeded++
				name := filepath.Join(dir, fmt.Sprintf("seed-%04d.jsonl", seeded))
				if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		},
		State: func(t *testing.T) map[string]json.RawMessage {
			return fileState(t, filepath.Join(dir, "orders.jsonl"))
		},
		Invalid: []conformance.InvalidCase{
			{Name: "array payload", Record: sdk.Record{Key: "bad-array", Version: 1, Payload: json.RawMessage(`[1,2]`)}, Field: "record", Code: "INVALID_JSON"},
			{Name: "malformed payload", Record: sdk.Record{Key: "bad-json", Version: 1, Payload: json.RawMessage(`{"a":`)}, Field: "record", Code: "INVALID_JSON"},
			{Name: "no key", Record: sdk.Record{Version: 1, Payload: json.RawMessage(`{}`)}, Field: "key", Code: "INVALID_KEY"},
		},
		Secrets: []string{secret},
	})
}

// fileState reads a destination file outside the connector: key → record.
func fileState(t *testing.T, path string) map[string]json.RawMessage {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return map[string]json.RawMessage{}
	}
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]json.RawMessage{}
	for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		var e envelope
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("%s: %v in %s", path, err, line)
		}
		if _, dup := state[e.Key]; dup {
			t.Errorf("%s: key %q has two lines", path, e.Key)
		}
		state[e.Key] = e.Record
	}
	return state
}

// TestLogsReachHost: what the connector logs with sdk.Logger reaches the
// host's log as a parsed line, at its level.
func TestLogsReachHost(t *testing.T) {
	inst := conformance.Start(t, conformance.Target{
		Binary: connectorBinary(t),
		Config: json.RawMessage(fmt.Sprintf(`{"path":%q}`, t.TempDir())),
	})
	inst.Close(t)
	// The line's attributes come in no fixed order.
	logs := inst.Logs()
	i := strings.Index(logs, "[INFO]  host.weir-connector-jsonl: configured:")
	if i < 0 || !strings.Contains(strings.SplitN(logs[i:], "\n", 2)[0], "connection=conformance") {
		t.Errorf("the connector's log line did not reach the host's log:\n%s", logs)
	}
}
