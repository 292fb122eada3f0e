package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/weirhq/weir/sdk"
)

func upsert(key string, version int64, payload string) sdk.Record {
	return sdk.Record{Key: key, Version: version, Payload: json.RawMessage(payload)}
}

func del(key string, version int64) sdk.Record {
	return sdk.Record{Key: key, Version: version, Op: sdk.OpDelete}
}

func write(t *testing.T, c *connector, object string, recs ...sdk.Record) []sdk.WriteResult {
	t.Helper()
	res, err := c.Write(context.Background(), sdk.WriteRequest{Object: object, Operation: "upsert", Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(recs) {
		t.Fatalf("%d results for %d records", len(res), len(recs))
	}
	return res
}

// summary renders results as "key:ok+" (created), "key:ok" (updated or
// ignored) or "key:permanent CODE field".
func summary(res []sdk.WriteResult) string {
	var out []string
	for _, r := range res {
		s := r.Key + ":" + r.Status.String()
		if r.Created {
			s += "+"
		}
		if r.Status != sdk.StatusOK {
			s += " " + r.Code + " " + r.Field
		} else if r.ID != r.Key {
			s += " id=" + r.ID
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(data)
}

// TestWriteUpsert runs batches one after the other on one file and checks
// the results and the file after each.
func TestWriteUpsert(t *testing.T) {
	c, dir := newConnector(t)
	steps := []struct {
		name        string
		batch       []sdk.Record
		wantResults string
		wantFile    string
	}{
		{
			"new keys are appended",
			[]sdk.Record{upsert("a", 1, `{"v": 1}`), upsert("b", 1, `{"v":1}`)},
			"a:ok+, b:ok+",
			`{"key":"a","version":1,"record":{"v":1}}` + "\n" + `{"key":"b","version":1,"record":{"v":1}}` + "\n",
		},
		{
			"the same batch again changes nothing",
			[]sdk.Record{upsert("a", 1, `{"v":1}`), upsert("b", 1, `{"v":1}`)},
			"a:ok, b:ok",
			`{"key":"a","version":1,"record":{"v":1}}` + "\n" + `{"key":"b","version":1,"record":{"v":1}}` + "\n",
		},
		{
			"a newer version replaces its line in place",
			[]sdk.Record{upsert("a", 3, `{"v":3}`), upsert("c", 1, `{"v":1}`)},
			"a:ok, c:ok+",
			`{"key":"a","version":3,"record":{"v":3}}` + "\n" + `{"key":"b","version":1,"record":{"v":1}}` + "\n" + `{"key":"c","version":1,"record":{"v":1}}` + "\n",
		},
		{
			"older and equal versions are ignored",
			[]sdk.Record{upsert("a", 2, `{"v":2}`), upsert("a", 3, `{"v":"other"}`)},
			"a:ok, a:ok",
			`{"key":"a","version":3,"record":{"v":3}}` + "\n" + `{"key":"b","version":1,"record":{"v":1}}` + "\n" + `{"key":"c","version":1,"record":{"v":1}}` + "\n",
		},
		{
			"delete removes the line, an older delete does not, a missing key is fine",
			[]sdk.Record{del("b", 1), del("a", 2), del("zz", 9)},
			"b:ok, a:ok, zz:ok",
			`{"key":"a","version":3,"record":{"v":3}}` + "\n" + `{"key":"c","version":1,"record":{"v":1}}` + "\n",
		},
		{
			"versions of one key in one batch: the newest wins",
			[]sdk.Record{upsert("d", 1, `{"v":1}`), upsert("d", 5, `{"v":5}`), upsert("d", 4, `{"v":4}`)},
			"d:ok+, d:ok, d:ok",
			`{"key":"a","version":3,"record":{"v":3}}` + "\n" + `{"key":"c","version":1,"record":{"v":1}}` + "\n" + `{"key":"d","version":5,"record":{"v":5}}` + "\n",
		},
		{
			"invalid records fail alone",
			[]sdk.Record{upsert("e", 1, `[1]`), upsert("f", 1, `{"v":`), upsert("", 1, `{}`), upsert("g", 1, `{"v":1}`), upsert("h", 1, ``)},
			"e:permanent INVALID_JSON record, f:permanent INVALID_JSON record, :permanent INVALID_KEY key, g:ok+, h:permanent INVALID_JSON record",
			`{"key":"a","version":3,"record":{"v":3}}` + "\n" + `{"key":"c","version":1,"record":{"v":1}}` + "\n" + `{"key":"d","version":5,"record":{"v":5}}` + "\n" + `{"key":"g","version":1,"record":{"v":1}}` + "\n",
		},
		{
			"created then deleted in one batch leaves no line",
			[]sdk.Record{upsert("x", 1, `{}`), del("x", 1)},
			"x:ok+, x:ok",
			`{"key":"a","version":3,"record":{"v":3}}` + "\n" + `{"key":"c","version":1,"record":{"v":1}}` + "\n" + `{"key":"d","version":5,"record":{"v":5}}` + "\n" + `{"key":"g","version":1,"record":{"v":1}}` + "\n",
		},
	}
	for _, st := range steps {
		res := write(t, c, "orders", st.batch...)
		if got := summary(res); got != st.wantResults {
			t.Errorf("%s: results\n got %s\nwant %s", st.name, got, st.wantResults)
		}
		if got := readFile(t, dir, "orders.jsonl"); got != st.wantFile {
			t.Errorf("%s: file\n%s\nwant\n%s", st.name, got, st.wantFile)
		}
		// A restarted process sees the same index.
		if got := summary(write(t, configured(t, dir), "orders", upsert("a", 0, `{}`))); got != "a:ok" {
			t.Errorf("%s: after a restart, an old version of a: %s", st.name, got)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left in the folder: %v", entries)
	}
}

// TestWriteExact: payloads are stored compacted, numbers and strings byte
// for byte, and come back the same through Lookup.
func TestWriteExact(t *testing.T) {
	c, dir := newConnector(t)
	payload := "{ \"amount\": 12345678901234567.89,\n \"name\": \"Grüße – 東京 🚀\", \"esc\": \"\\u00e9 <&>\", \"list\": [1.50, 1e400] }"
	want := `{"amount":12345678901234567.89,"name":"Grüße – 東京 🚀","esc":"\u00e9 <&>","list":[1.50,1e400]}`
	write(t, c, "orders", upsert("k<1>", 1, payload))
	if got, line := readFile(t, dir, "orders.jsonl"), `{"key":"k<1>","version":1,"record":`+want+"}\n"; got != line {
		t.Errorf("file\n%s\nwant\n%s", got, line)
	}
	res, err := configured(t, dir).Lookup(context.Background(), sdk.LookupRequest{Object: "orders", Query: json.RawMessage(`{"keys":["k<1>"]}`)})
	if err != nil || string(res) != `{"records":{"k<1>":`+want+`}}` {
		t.Errorf("Lookup = %s, %v", res, err)
	}
}

func TestWriteTornLine(t *testing.T) {
	_, dir := newConnector(t)
	// A crash cut the last append short.
	writeFile(t, dir, "orders.jsonl", `{"key":"a","version":1,"record":{}}`+"\n"+`{"key":"b","vers`)
	c := configured(t, dir)
	if got := summary(write(t, c, "orders", upsert("c", 1, `{}`))); got != "c:ok+" {
		t.Fatalf("results %s", got)
	}
	want := `{"key":"a","version":1,"record":{}}` + "\n" + `{"key":"c","version":1,"record":{}}` + "\n"
	if got := readFile(t, dir, "orders.jsonl"); got != want {
		t.Errorf("file\n%s\nwant\n%s", got, want)
	}
}

func TestWriteCorruptFile(t *testing.T) {
	_, dir := newConnector(t)
	writeFile(t, dir, "orders.jsonl", "not json\n")
	_, err := configured(t, dir).Write(context.Background(), sdk.WriteRequest{Object: "orders", Records: []sdk.Record{upsert("a", 1, `{}`)}})
	if err == nil || !strings.Contains(err.Error(), "orders.jsonl line 1") {
		t.Errorf("Write on a corrupt file = %v", err)
	}
}

func TestWriteRefused(t *testing.T) {
	c, _ := newConnector(t)
	tests := []struct{ object, operation, code string }{
		{"", "upsert", "INVALID_OBJECT"},
		{"../x", "upsert", "INVALID_OBJECT"},
		{".hidden", "upsert", "INVALID_OBJECT"},
		{"a/b", "upsert", "INVALID_OBJECT"},
		{"orders", "insert", "UNSUPPORTED_OPERATION"},
	}
	for _, tt := range tests {
		_, err := c.Write(context.Background(), sdk.WriteRequest{Object: tt.object, Operation: tt.operation, Records: []sdk.Record{upsert("a", 1, `{}`)}})
		if e := sdk.Classify(err); e == nil || e.Status != sdk.StatusPermanent || e.Code != tt.code {
			t.Errorf("Write(%q, %q) = %v, want permanent %s", tt.object, tt.operation, err, tt.code)
		}
	}
}

// TestWriteConcurrent writes from many goroutines, new and existing keys
// mixed: one line per key, the newest version, nothing lost.
func TestWriteConcurrent(t *testing.T) {
	c, dir := newConnector(t)
	const writers, keys = 8, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range keys {
				v := int64(w*keys + k)
				_, err := c.Write(context.Background(), sdk.WriteRequest{Object: "orders", Records: []sdk.Record{
					upsert(fmt.Sprintf("own-%d-%d", w, k), 1, `{}`),
					upsert(fmt.Sprintf("shared-%d", k), v, fmt.Sprintf(`{"v":%d}`, v)),
				}})
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	state := fileState(t, filepath.Join(dir, "orders.jsonl"))
	if len(state) != writers*keys+keys {
		t.Errorf("%d keys in the file, want %d", len(state), writers*keys+keys)
	}
	for k := range keys {
		if got, want := string(state[fmt.Sprintf("shared-%d", k)]), fmt.Sprintf(`{"v":%d}`, (writers-1)*keys+k); got != want {
			t.Errorf("shared-%d = %s, want the newest %s", k, got, want)
		}
	}
}

func TestLookup(t *testing.T) {
	c, _ := newConnector(t)
	write(t, c, "stock", upsert("A-1", 1, `{"qty":3}`), upsert("7", 1, `{"qty":0.50}`))
	tests := []struct {
		name, object, query, want, code string
	}{
		{"found and missing", "stock", `{"keys":["A-1","nope"]}`, `{"records":{"A-1":{"qty":3},"nope":null}}`, ""},
		{"number key", "stock", `{"keys":[7]}`, `{"records":{"7":{"qty":0.50}}}`, ""},
		{"no keys", "stock", `{"keys":[]}`, `{"records":{}}`, ""},
		{"no file", "other", `{"keys":["A-1"]}`, `{"records":{"A-1":null}}`, ""},
		{"unknown query member", "stock", `{"key":["A-1"]}`, "", "INVALID_QUERY"},
		{"bad key", "stock", `{"keys":[true]}`, "", "INVALID_QUERY"},
		{"bad object", "../stock", `{"keys":[]}`, "", "INVALID_OBJECT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Lookup(context.Background(), sdk.LookupRequest{Object: tt.object, Query: json.RawMessage(tt.query)})
			if tt.code != "" {
				if e := sdk.Classify(err); e == nil || e.Status != sdk.StatusPermanent || e.Code != tt.code {
					t.Errorf("Lookup = %s, %v; want permanent %s", got, err, tt.code)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("Lookup = %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}
