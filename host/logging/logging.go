// Package logging builds the host's slog handlers: text or JSON output, and
// a redacting wrapper that keeps secrets out of every log line.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Format is a log output format.
type Format string

// Log formats.
const (
	// FormatText is slog's key=value text format, for people.
	FormatText Format = "text"
	// FormatJSON is one JSON object per line, for log shippers.
	FormatJSON Format = "json"
)

// ParseFormat parses a -log-format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case FormatText, FormatJSON:
		return f, nil
	}
	return "", fmt.Errorf("unknown log format %q: use %q or %q", s, FormatText, FormatJSON)
}

// ParseLevel parses a -log-level value: debug, info, warn or error (or an
// offset such as "info+2", as slog.Level reads it).
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(s))); err != nil {
		return 0, fmt.Errorf("unknown log level %q: use debug, info, warn or error", s)
	}
	return l, nil
}

// NewHandler returns a handler writing records at level or above to w in
// format (text when format is neither FormatText nor FormatJSON). Durations
// are written as strings ("1.5s") in both formats.
func NewHandler(w io.Writer, level slog.Leveler, format Format) slog.Handler {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationsAsText}
	if format == FormatJSON {
		return slog.NewJSONHandler(w, opts)
	}
	return slog.NewTextHandler(w, opts)
}

// durationsAsText writes time.Duration values as "200ms" rather than as
// nanoseconds (the JSON handler's default).
func durationsAsText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
