package plugins

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestConnectorLog(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   []map[string]any // JSON records, without time
	}{
		{
			name:   "hclog line with attributes in order and groups",
			writes: []string{`{"@level":"warn","@message":"slow","@timestamp":"2026-01-02T15:04:05.000000Z","@module":"jsonl","n":3,"ratio":1.5,"ok":true,"req":{"id":"r1","tries":[1,2]},"nil":null}` + "\n"},
			want: []map[string]any{{"level": "WARN", "msg": "slow", "connection": "c", "n": 3.0, "ratio": 1.5, "ok": true,
				"req": map[string]any{"id": "r1", "tries": []any{1.0, 2.0}}, "nil": nil}},
		},
		{
			name: "levels",
			writes: []string{
				`{"@level":"trace","@message":"t"}` + "\n", `{"@level":"debug","@message":"d"}` + "\n",
				`{"@level":"error","@message":"e"}` + "\n", `{"@level":"info+2","@message":"i2"}` + "\n",
				`{"@level":"loud","@message":"unknown"}` + "\n", `{"@message":"none"}` + "\n",
			},
			want: []map[string]any{
				{"level": "DEBUG-4", "msg": "t", "connection": "c"}, {"level": "DEBUG", "msg": "d", "connection": "c"},
				{"level": "ERROR", "msg": "e", "connection": "c"}, {"level": "INFO+2", "msg": "i2", "connection": "c"},
				{"level": "INFO", "msg": "unknown", "connection": "c"}, {"level": "INFO", "msg": "none", "connection": "c"},
			},
		},
		{
			name:   "host keys are not repeated",
			writes: []string{`{"@message":"m","connection":"other","k":"v"}` + "\n"},
			want:   []map[string]any{{"level": "INFO", "msg": "m", "connection": "c", "k": "v"}},
		},
		{
			name:   "lines split across writes",
			writes: []string{`{"@message":`, `"joined"}` + "\nplain ", "text\n\n", "\r\n"},
			want: []map[string]any{
				{"level": "INFO", "msg": "joined", "connection": "c"},
				{"level": "INFO", "msg": "plain text", "connection": "c"},
			},
		},
		{
			name: "plain lines as they are, at info or their prefix's level",
			writes: []string{
				"plain\n", "[DEBUG] debug prefix\n", "[WARN] careful\n", "[ERROR] broken\n",
				`{"@message": 5}` + "\n", `{"@message":"x"} trailing` + "\n", "{not json\n",
			},
			want: []map[string]any{
				{"level": "INFO", "msg": "plain", "connection": "c"},
				{"level": "INFO", "msg": "[DEBUG] debug prefix", "connection": "c"},
				{"level": "WARN", "msg": "[WARN] careful", "connection": "c"},
				{"level": "ERROR", "msg": "[ERROR] broken", "connection": "c"},
				{"level": "INFO", "msg": `{"@message": 5}`, "connection": "c"},
				{"level": "INFO", "msg": `{"@message":"x"} trailing`, "connection": "c"},
				{"level": "INFO", "msg": "{not json", "connection": "c"},
			},
		},
		{
			name:   "panic and stack trace at error",
			writes: []string{"before\n", "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n", `{"@message":"json still parsed"}` + "\n"},
			want: []map[string]any{
				{"level": "INFO", "msg": "before", "connection": "c"},
				{"level": "ERROR", "msg": "panic: boom", "connection": "c"},
				{"level": "ERROR", "msg": "goroutine 1 [running]:", "connection": "c"},
				{"level": "ERROR", "msg": "main.main()", "connection": "c"},
				{"level": "INFO", "msg": "json still parsed", "connection": "c"},
			},
		},
		{
			name:   "too deep JSON is plain text",
			writes: []string{`{"@message":"deep","a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "}\n"},
			want:   []map[string]any{{"level": "INFO", "msg": `{"@message":"deep","a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "}", "connection": "c"}},
		},
		{
			name:   "last line without newline is flushed",
			writes: []string{"unterminated"},
			want:   []map[string]any{{"level": "INFO", "msg": "unterminated", "connection": "c"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{
				Level: slog.LevelDebug - 4,
				ReplaceAttr: func(g []string, a slog.Attr) slog.Attr {
					if len(g) == 0 && a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				},
			})).With("connection", "c")
			w := newConnectorLog(log, "connection")
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			w.Flush()
			var got []map[string]any
			dec := json.NewDecoder(&buf)
			for dec.More() {
				var rec map[string]any
				if err := dec.Decode(&rec); err != nil {
					t.Fatal(err)
				}
				got = append(got, rec)
			}
			if !jsonEqual(got, tt.want) {
				t.Errorf("got\n%v\nwant\n%v", got, tt.want)
			}
		})
	}
}

// TestConnectorLogKeepsOrder checks that a connector's attributes keep their
// order.
func TestConnectorLogKeepsOrder(t *testing.T) {
	var buf bytes.Buffer
	w := newConnectorLog(slog.New(slog.NewTextHandler(&buf, nil)))
	_, _ = w.Write([]byte(`{"@message":"m","z":1,"a":{"y":2,"b":3},"m":"x"}` + "\n"))
	if want := `msg=m z=1 a.y=2 a.b=3 m=x`; !strings.Contains(buf.String(), want) {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

// TestConnectorLogLongLine checks that an endless line is split rather than
// buffered without bound.
func TestConnectorLogLongLine(t *testing.T) {
	var buf bytes.Buffer
	w := newConnectorLog(slog.New(slog.NewTextHandler(&buf, nil)))
	chunk := strings.Repeat("x", 1024)
	for range 2 * maxLogLine / len(chunk) {
		_, _ = w.Write([]byte(chunk))
	}
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Errorf("%d records for %d bytes, want 2", n, 2*maxLogLine)
	}
	if len(w.partial) != 0 {
		t.Errorf("%d bytes still buffered", len(w.partial))
	}
}

// jsonEqual compares values through their JSON encoding.
func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}
