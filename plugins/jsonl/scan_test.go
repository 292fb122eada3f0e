package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestScanObject(t *testing.T) {
	deep := func(n int) string { return `{"id":1,"x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + "}" }
	tests := []struct {
		name, text string
		a, b       string // names asked for; b "" is not asked for
		wantOK     bool
		wantA      string // "" for nil
		wantB      string
		wantSpaced bool
	}{
		{"string key", `{"id":"x","rev":7}`, "id", "rev", true, `"x"`, `7`, false},
		{"number key", `{"id":-1.5e+3}`, "id", "", true, `-1.5e+3`, "", false},
		{"missing", `{"name":"x"}`, "id", "rev", true, "", "", false},
		{"empty object", `{}`, "id", "", true, "", "", false},
		{"same name nested", `{"x":{"id":1},"y":[{"id":2}]}`, "id", "", true, "", "", false},
		{"nested then top", `{"x":{"id":1},"id":2}`, "id", "", true, `2`, "", false},
		{"duplicate: last wins", `{"id":1,"rev":5,"id":"two"}`, "id", "rev", true, `"two"`, `5`, false},
		{"both names the same", `{"id":3}`, "id", "id", true, `3`, `3`, false},
		{"unicode escape in name", `{"i\u0064":"x"}`, "id", "", true, `"x"`, "", false},
		{"escaped quote in name", `{"a\"b":1}`, `a"b`, "", true, `1`, "", false},
		{"escaped name differs", `{"i\u0065":"x"}`, "id", "", true, "", "", false},
		{"non-ASCII name", `{"名前":"x"}`, "名前", "", true, `"x"`, "", false},
		{"invalid UTF-8 name reads as U+FFFD", "{\"\xff\":1}", "\uFFFD", "", true, `1`, "", false},
		{"escapes in value", `{"id":"a\"b\\c\u00e9\n"}`, "id", "", true, `"a\"b\\c\u00e9\n"`, "", false},
		{"null value", `{"id":null}`, "id", "", true, `null`, "", false},
		{"object value", `{"id":{"a":[1,true,false,null]}}`, "id", "", true, `{"a":[1,true,false,null]}`, "", false},
		{"white space", "{ \"id\" :\t\"x\" ,\r\n\"v\" : [1, 2] }", "id", "v", true, `"x"`, `[1, 2]`, true},
		{"space only in strings", `{"id":"a b","c":" "}`, "id", "", true, `"a b"`, "", false},
		{"space in nested value", `{"id":1,"x":{"a": 1}}`, "id", "", true, `1`, "", true},
		{"deep enough", deep(maxDepth - 1), "id", "", true, `1`, "", false},

		{"too deep", deep(maxDepth), "id", "", false, "", "", false},
		{"trailing comma", `{"id":1,}`, "id", "", false, "", "", false},
		{"leading zero", `{"id":01}`, "id", "", false, "", "", false},
		{"bare point", `{"id":1.}`, "id", "", false, "", "", false},
		{"bare exponent", `{"id":1e}`, "id", "", false, "", "", false},
		{"plus sign", `{"id":+1}`, "id", "", false, "", "", false},
		{"short literal", `{"id":tru}`, "id", "", false, "", "", false},
		{"long literal", `{"id":nulls}`, "id", "", false, "", "", false},
		{"control character", "{\"id\":\"a\x01\"}", "id", "", false, "", "", false},
		{"bad escape", `{"id":"\q"}`, "id", "", false, "", "", false},
		{"short unicode escape", `{"id":"\u12"}`, "id", "", false, "", "", false},
		{"no colon", `{"id" 1}`, "id", "", false, "", "", false},
		{"no comma", `{"id":1 "b":2}`, "id", "", false, "", "", false},
		{"unquoted name", `{id:1}`, "id", "", false, "", "", false},
		{"unclosed", `{"id":1`, "id", "", false, "", "", false},
		{"unclosed string", `{"id":"x}`, "id", "", false, "", "", false},
		{"data after", `{"id":1}x`, "id", "", false, "", "", false},
		{"two objects", `{"id":1}{"id":2}`, "id", "", false, "", "", false},
		{"space before", ` {"id":1}`, "id", "", false, "", "", false},
		{"space after", `{"id":1} `, "id", "", false, "", "", false},
		{"array", `[{"id":1}]`, "id", "", false, "", "", false},
		{"null", `null`, "id", "", false, "", "", false},
		{"empty", ``, "id", "", false, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := scanObject([]byte(tt.text), tt.a, tt.b, tt.b != "")
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				return
			}
			if string(f.a) != tt.wantA || (f.a == nil) != (tt.wantA == "") || string(f.b) != tt.wantB || f.spaced != tt.wantSpaced {
				t.Errorf("a %q b %q spaced %v, want %q %q %v", f.a, f.b, f.spaced, tt.wantA, tt.wantB, tt.wantSpaced)
			}
			checkScan(t, []byte(tt.text), tt.a, tt.b)
		})
	}
}

// checkScan compares scanObject with encoding/json decoding text into a
// map, when scanObject takes text.
func checkScan(t *testing.T, text []byte, a, b string) {
	t.Helper()
	f, ok := scanObject(text, a, b, true)
	if !ok {
		return
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(text, &fields); err != nil || fields == nil {
		t.Fatalf("scanObject takes %q, encoding/json: %v", text, err)
	}
	if !bytes.Equal(f.a, fields[a]) || (f.a == nil) != (fields[a] == nil) || !bytes.Equal(f.b, fields[b]) || (f.b == nil) != (fields[b] == nil) {
		t.Fatalf("%q: scanObject %q %q, encoding/json %q %q", text, f.a, f.b, fields[a], fields[b])
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, text); err != nil || f.spaced == bytes.Equal(buf.Bytes(), text) {
		t.Fatalf("%q: spaced %v, compacted %q (%v)", text, f.spaced, buf.Bytes(), err)
	}
}

func TestCompact(t *testing.T) {
	tests := []struct{ text, want string }{
		{`{"a":1}`, `{"a":1}`},
		{`{ "a" : [1, 2] }`, `{"a":[1,2]}`},
		{` "a b" `, `"a b"`},
		{`1.50`, `1.50`},
		{`-0`, `-0`},
		{`[]`, `[]`},
		{"\"\u2028<&>\"", "\"\u2028<&>\""},
		{`{"a":1,}`, ""},
		{`nul`, ""},
		{``, ""},
	}
	for _, tt := range tests {
		got := compact([]byte(tt.text))
		if string(got) != tt.want || (got == nil) != (tt.want == "") {
			t.Errorf("compact(%q) = %q, want %q", tt.text, got, tt.want)
		}
		checkCompact(t, []byte(tt.text))
	}
}

// checkCompact compares compactValue and compact with json.Compact.
func checkCompact(t *testing.T, text []byte) {
	t.Helper()
	var buf bytes.Buffer
	err := json.Compact(&buf, text)
	if compactValue(text) && (err != nil || !bytes.Equal(buf.Bytes(), text)) {
		t.Fatalf("compactValue takes %q: json.Compact %q, %v", text, buf.Bytes(), err)
	}
	got := compact(text)
	if err == nil && !bytes.Equal(got, buf.Bytes()) || err != nil && got != nil {
		t.Fatalf("compact(%q) = %q, json.Compact %q, %v", text, got, buf.Bytes(), err)
	}
}

func TestUnquote(t *testing.T) {
	tests := []struct {
		quoted, want string
		wantErr      bool
	}{
		{`"abc"`, "abc", false},
		{`""`, "", false},
		{`"a\"b"`, `a"b`, false},
		{`"\u00e9\ud83d\ude80"`, "é🚀", false},
		{`"東京"`, "東京", false},
		{"\"\xff\"", "\uFFFD", false},
		{`"a"b"`, "", true},
		{"\"a\x01\"", "", true},
		{`"abc`, "", true},
		{`"`, "", true},
		{`abc`, "", true},
	}
	for _, tt := range tests {
		got, err := unquote([]byte(tt.quoted))
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("unquote(%q) = %q, %v; want %q, error %v", tt.quoted, got, err, tt.want, tt.wantErr)
		}
		checkUnquote(t, []byte(tt.quoted))
	}
}

// checkUnquote compares unquote with json.Unmarshal.
func checkUnquote(t *testing.T, quoted []byte) {
	t.Helper()
	got, err := unquote(quoted)
	var want string
	wantErr := json.Unmarshal(quoted, &want)
	if got != want || (err == nil) != (wantErr == nil) {
		t.Fatalf("unquote(%q) = %q, %v; json.Unmarshal %q, %v", quoted, got, err, want, wantErr)
	}
}

func TestAppendKey(t *testing.T) {
	tests := []struct{ key, want string }{
		{"a-1", `"a-1"`},
		{"", `""`},
		{`a"b\c`, `"a\"b\\c"`},
		{"<&>", `"<&>"`},
		{"é", `"é"`},
		{"tab\there", `"tab\there"`},
		{"\x01", `"\u0001"`},
		{"\xff", `"\ufffd"`},
		{"\u2028", `"\u2028"`},
	}
	for _, tt := range tests {
		if got := string(appendKey([]byte("x"), tt.key)); got != "x"+tt.want {
			t.Errorf("appendKey(%q) = %s, want x%s", tt.key, got, tt.want)
		}
		checkAppendKey(t, tt.key)
	}
}

// checkAppendKey compares appendKey with marshal.
func checkAppendKey(t *testing.T, key string) {
	t.Helper()
	want, _ := marshal(key)
	if got := appendKey(nil, key); !bytes.Equal(got, want) {
		t.Fatalf("appendKey(%q) = %s, marshal %s", key, got, want)
	}
}

func TestItemWhere(t *testing.T) {
	if got := (item{n: 3}).where(); got != "line 3" {
		t.Errorf("where = %q", got)
	}
	if got := (item{n: 0, element: true}).where(); got != "element [0]" {
		t.Errorf("where = %q", got)
	}
}

func TestSplitArray(t *testing.T) {
	tests := []struct {
		body   string
		want   []string // the elements, when splitArray takes the body
		wantOK bool
	}{
		{`[]`, nil, true},
		{`[ ]`, nil, true},
		{`[{"id":1}]`, []string{`{"id":1}`}, true},
		{`[ {"id":1} ,	2, "x" , [3] ]`, []string{`{"id":1}`, `2`, `"x"`, `[3]`}, true},
		{`[{"id": 1},{"id":2,"rev":3}]`, []string{`{"id": 1}`, `{"id":2,"rev":3}`}, true},
		{`[{"id":1},]`, nil, false},
		{`[{"id":1} {"id":2}]`, nil, false},
		{`[{"id":1}`, nil, false},
		{`[{"id":1}] x`, nil, false},
		{`[{"id":1}]]`, nil, false},
		{`[,]`, nil, false},
	}
	for _, tt := range tests {
		items, ok := splitArray([]byte(tt.body), parseSettingsCases[1])
		var got []string
		for i, it := range items {
			if it.n != i || !it.element {
				t.Errorf("%s: item %d is %+v", tt.body, i, it)
			}
			got = append(got, string(it.text))
		}
		if ok != tt.wantOK || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitArray(%s) = %q, %v; want %q, %v", tt.body, got, ok, tt.want, tt.wantOK)
		}
		checkSplitArray(t, []byte(tt.body))
	}
}

// checkSplitArray compares splitArray with splitArrayDecoder, when
// splitArray takes body.
func checkSplitArray(t *testing.T, body []byte) {
	t.Helper()
	set := parseSettingsCases[1]
	items, ok := splitArray(body, set)
	if !ok {
		return
	}
	want, reject := splitArrayDecoder(body)
	if reject != "" || len(items) != len(want) {
		t.Fatalf("%q: splitArray %d items, decoder %d (%s)", body, len(items), len(want), reject)
	}
	for i := range items {
		if !bytes.Equal(items[i].text, want[i].text) || items[i].where() != want[i].where() {
			t.Fatalf("%q: item %d is %q at %s, decoder %q at %s", body, i, items[i].text, items[i].where(), want[i].text, want[i].where())
		}
		f, ok := scanObject(items[i].text, set.KeyField, set.VersionField, true)
		if items[i].scanned != ok || ok && !reflect.DeepEqual(items[i].fields, f) {
			t.Fatalf("%q: item %d scanned %v %+v, scanObject %v %+v", body, i, items[i].scanned, items[i].fields, ok, f)
		}
	}
}

// checkParse compares parse with parseSlow, which is the encoding/json
// reading of a line, for the settings of parseSettingsCases.
func checkParse(t *testing.T, text []byte) {
	t.Helper()
	for _, s := range parseSettingsCases {
		var a arena
		rec, hasVersion, p := s.parse(text, &a)
		want, wantHasVersion, wantP := s.parseSlow(text)
		if !reflect.DeepEqual(rec, want) || hasVersion != wantHasVersion || !reflect.DeepEqual(p, wantP) {
			t.Fatalf("%q with %+v:\nparse     %+v %v %+v\nparseSlow %+v %v %+v", text, s, rec, hasVersion, p, want, wantHasVersion, wantP)
		}
	}
}

var parseSettingsCases = []settings{
	{KeyField: "id", Object: "record"},
	{KeyField: "id", VersionField: "rev", Object: "record"},
	{KeyField: "sku", VersionField: "at", Object: "Order"},
	{KeyField: "k", VersionField: "k", Object: "record"},
}

// parseCorpus is lines for checkParse and the fuzz tests.
var parseCorpus = []string{
	`{"id":"x"}`,
	`{"id":7,"rev":42}`,
	`{"id":1e3,"rev":-5}`,
	`{ "id" : "x" , "rev" : 1 }`,
	`{"id":"a b","rev":"2026-11-27T10:00:00.123456Z"}`,
	`{"id":"x","rev":"2026-11-27T10:00:00Z","at":"2026-11-27T10:00:00+01:00","sku":"S-1"}`,
	`{"id":"x","rev":"yesterday"}`,
	`{"id":"x","rev":1.5}`,
	`{"id":"x","rev":99999999999999999999}`,
	`{"id":"x","rev":null}`,
	`{"id":"x","rev":"\u0032026-11-27T10:00:00Z"}`,
	`{"id":""}`,
	`{"id":null}`,
	`{"id":true}`,
	`{"id":[1, 2]}`,
	`{"id":{"a":1}}`,
	`{"id":"\u00e9\"q\""}`,
	`{"i\u0064":"esc"}`,
	`{"id":1,"id":2}`,
	`{"id":1,"x":{"id":2}}`,
	`{"name":"x"}`,
	`{"k":"v"}`,
	`{"k":5}`,
	`{}`,
	`{"id":"x",}`,
	`[{"id": 1},{"id":2,"rev":3}, 4]`,
	`{"id":"x"`,
	`[1,2]`,
	`null`,
	`"str"`,
	`12`,
	"{\"id\":\"\xff\"}",
	"{\"id\":\"a\x01\"}",
	`{"id":"x","amount":12345678901234567.89,"tiny":1e-400,"name":"Grüße – 東京 🚀","esc":"\u00e9 <&> \"q\"","list":[1.50,2]}`,
	`{"id":"x","a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
}

func TestParseMatchesEncodingJSON(t *testing.T) {
	for _, line := range append(parseCorpus, string(benchLine(3))) {
		checkParse(t, []byte(line))
		checkScan(t, []byte(line), "id", "rev")
		checkCompact(t, []byte(line))
	}
}

// TestParsePayloadIsACopy: the payload does not share memory with the line,
// which the source reuses, and appending to it does not touch another.
func TestParsePayloadIsACopy(t *testing.T) {
	s := settings{KeyField: "id", Object: "record"}
	var a arena
	line := []byte(`{"id":"x"}`)
	r1, _, _ := s.parse(line, &a)
	r2, _, _ := s.parse(line, &a)
	line[7] = 'y'
	_ = append(r1.Payload, "!!!!"...)
	if string(r1.Payload) != `{"id":"x"}` || string(r2.Payload) != `{"id":"x"}` {
		t.Errorf("payloads %s %s", r1.Payload, r2.Payload)
	}
}

// TestReadLongLines reads lines longer than the read buffer, including an
// unterminated last one.
func TestReadLongLines(t *testing.T) {
	c, dir := newConnector(t)
	long := func(id string) string {
		return `{"id":"` + id + `","pad":"` + strings.Repeat("x", readBuffer+100) + `"}`
	}
	writeFile(t, dir, "a.jsonl", long("a1")+"\n"+`{"id":"a2"}`+"\n"+long("a3")+"\r\n"+long("a4"))
	res := read(t, c, `{}`, nil, 10)
	if got := strings.Join(keys(res.Records), " "); got != "a1 a2 a3" {
		t.Fatalf("keys %s", got)
	}
	if string(res.Records[2].Payload) != long("a3") {
		t.Errorf("payload of a3 is %d bytes", len(res.Records[2].Payload))
	}
	appendFile(t, dir, "a.jsonl", "\n")
	res = read(t, c, `{}`, res.Cursor, 10)
	if len(res.Records) != 1 || string(res.Records[0].Payload) != long("a4") {
		t.Fatalf("records %v", keys(res.Records))
	}
	var cur cursor
	if err := json.Unmarshal(res.Cursor, &cur); err != nil || cur.Line != 4 {
		t.Errorf("cursor %s (%v)", res.Cursor, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "a.jsonl")); err != nil || fi.Size() != cur.Offset {
		t.Errorf("file is %v bytes, cursor at %d", fi, cur.Offset)
	}
}

func FuzzParse(f *testing.F) {
	for _, line := range parseCorpus {
		f.Add([]byte(line))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		checkParse(t, text)
		checkScan(t, text, "id", "rev")
		checkCompact(t, text)
		if len(text) > 0 && text[0] == '"' {
			checkUnquote(t, text)
		}
		if len(text) > 0 && text[0] == '[' {
			checkSplitArray(t, text)
		}
		checkAppendKey(t, string(text))
	})
}

// TestSettingsCache: the cache answers what parseSettings does.
func TestSettingsCache(t *testing.T) {
	var sc settingsCache
	for range 2 {
		for _, raw := range []string{``, `{}`, `{"key_field":"sku"}`, `{"pattern":"["}`} {
			got, err := sc.get(json.RawMessage(raw))
			want, wantErr := parseSettings(json.RawMessage(raw))
			if got != want || (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
				t.Errorf("get(%s) = %+v, %v; parseSettings %+v, %v", raw, got, err, want, wantErr)
			}
		}
	}
	for i := range 2 * settingsCacheSize {
		raw := json.RawMessage(`{"object":"o` + strings.Repeat("x", i) + `"}`)
		if s, err := sc.get(raw); err != nil || len(s.Object) != i+1 {
			t.Fatalf("get(%s) = %+v, %v", raw, s, err)
		}
	}
	if len(sc.m) > settingsCacheSize {
		t.Errorf("the cache holds %d settings", len(sc.m))
	}
}
