package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
)

// maxLogLine bounds one connector log line; longer lines are split.
const maxLogLine = 64 << 10

// maxLogDepth bounds the nesting of a connector's JSON log line; deeper
// lines are logged as plain text.
const maxLogDepth = 32

// Reserved keys of an hclog JSON line (sdk.Logger writes the same keys).
const (
	hclogMessage   = "@message"
	hclogLevel     = "@level"
	hclogReserved  = "@" // @timestamp, @module, @caller: dropped
	hclogTraceName = "trace"
)

// levelTrace is the slog level of hclog's trace lines.
const levelTrace = slog.LevelDebug - 4

// plainPrefixes map the level prefixes some programs put on plain stderr
// lines to a level; other plain lines are logged at info.
var plainPrefixes = []struct {
	prefix string
	level  slog.Level
}{
	{"[ERROR]", slog.LevelError},
	{"[WARN]", slog.LevelWarn},
}

// panicPrefixes start the Go runtime's report of a crash: that line and
// every plain line after it (the stack trace) are logged at error.
var panicPrefixes = []string{"panic: ", "fatal error: "}

// connectorLog is the io.Writer go-plugin copies a connector's stderr to
// (ClientConfig.Stderr). It re-emits each line through an slog.Logger:
// hclog JSON lines (what sdk.Logger and go-plugin's server write) with their
// level, message and attributes, in order; other lines as they are, at info;
// a panic and the stack trace after it at error.
//
// Parsing here rather than in go-plugin's hclog logger is deliberate:
// go-plugin v1.8.0 panics the host on a JSON line whose @message is not a
// string, and logs lines whose @timestamp is not in hclog's exact format
// verbatim at debug.
type connectorLog struct {
	log *slog.Logger
	// hostKeys are attribute keys the host tags lines with itself; a
	// connector's attributes of the same name are dropped, so that no line
	// has a key twice.
	hostKeys []string

	mu      sync.Mutex
	partial []byte
	inPanic bool
}

// newConnectorLog returns a writer logging through log, which tags lines
// with hostKeys.
func newConnectorLog(log *slog.Logger, hostKeys ...string) *connectorLog {
	return &connectorLog{log: log, hostKeys: hostKeys}
}

// Write logs every complete line of p and keeps the rest for the next call.
func (w *connectorLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			if len(w.partial) >= maxLogLine {
				w.emit(w.partial)
				w.partial = w.partial[:0]
			}
			break
		}
		line := p[:i]
		if len(w.partial) > 0 {
			w.partial = append(w.partial, line...)
			line = w.partial
		}
		w.emit(line)
		w.partial = w.partial[:0]
		p = p[i+1:]
	}
	return n, nil
}

// Flush logs a last line that had no newline.
func (w *connectorLog) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.emit(w.partial)
		w.partial = w.partial[:0]
	}
}

// emit logs one line.
func (w *connectorLog) emit(line []byte) {
	line = bytes.TrimRight(line, "\r")
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	ctx := context.Background()
	if line[0] == '{' {
		if level, msg, attrs, ok := parseJSONLine(line); ok {
			attrs = slices.DeleteFunc(attrs, func(a slog.Attr) bool { return slices.Contains(w.hostKeys, a.Key) })
			w.log.LogAttrs(ctx, level, msg, attrs...)
			return
		}
	}
	text := string(line)
	level := slog.LevelInfo
	for _, p := range panicPrefixes {
		if strings.HasPrefix(text, p) {
			w.inPanic = true
		}
	}
	if w.inPanic {
		level = slog.LevelError
	} else {
		for _, p := range plainPrefixes {
			if strings.HasPrefix(text, p.prefix) {
				level = p.level
				break
			}
		}
	}
	w.log.LogAttrs(ctx, level, text)
}

// errNotLogLine rejects a JSON line that is not an hclog log line.
var errNotLogLine = errors.New("not an hclog line")

// parseJSONLine parses an hclog JSON line: a JSON object with a string
// "@message". ok is false for anything else.
func parseJSONLine(line []byte) (level slog.Level, msg string, attrs []slog.Attr, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil || v.Kind() != slog.KindGroup {
		return 0, "", nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return 0, "", nil, false // trailing data
	}
	level, haveMsg := slog.LevelInfo, false
	for _, a := range v.Group() {
		switch {
		case a.Key == hclogMessage:
			if a.Value.Kind() != slog.KindString {
				return 0, "", nil, false
			}
			msg, haveMsg = a.Value.String(), true
		case a.Key == hclogLevel:
			level = parseLevel(a.Value.String())
		case strings.HasPrefix(a.Key, hclogReserved):
		default:
			attrs = append(attrs, a)
		}
	}
	return level, msg, attrs, haveMsg
}

// parseLevel maps an hclog or slog level name to a level; unknown names are
// info.
func parseLevel(s string) slog.Level {
	s = strings.ToLower(s)
	switch s {
	case hclogTraceName:
		return levelTrace
	case "warning":
		return slog.LevelWarn
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// decodeValue decodes the next JSON value, keeping the order of object
// members: objects become groups, numbers int64 or float64 when exact.
func decodeValue(dec *json.Decoder, depth int) (slog.Value, error) {
	if depth > maxLogDepth {
		return slog.Value{}, errNotLogLine
	}
	tok, err := dec.Token()
	if err != nil {
		return slog.Value{}, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			var members []slog.Attr
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return slog.Value{}, err
				}
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return slog.Value{}, err
				}
				members = append(members, slog.Attr{Key: k.(string), Value: v})
			}
			if _, err := dec.Token(); err != nil { // '}'
				return slog.Value{}, err
			}
			return slog.GroupValue(members...), nil
		case '[':
			items := []any{}
			for dec.More() {
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return slog.Value{}, err
				}
				items = append(items, v.Any())
			}
			if _, err := dec.Token(); err != nil { // ']'
				return slog.Value{}, err
			}
			return slog.AnyValue(items), nil
		}
	case string:
		return slog.StringValue(t), nil
	case bool:
		return slog.BoolValue(t), nil
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return slog.Int64Value(i), nil
		}
		if f, err := t.Float64(); err == nil {
			return slog.Float64Value(f), nil
		}
		return slog.StringValue(t.String()), nil
	case nil:
		return slog.AnyValue(nil), nil
	}
	return slog.Value{}, errNotLogLine
}
