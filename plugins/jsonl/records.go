package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weirhq/weir/sdk"
)

// settings are a pipeline's source attributes (Describe's SourceConfig),
// used by Read and DecodeWebhook.
type settings struct {
	Pattern      string `json:"pattern"`
	KeyField     string `json:"key_field"`
	VersionField string `json:"version_field"`
	Object       string `json:"object"`
}

// parseSettings decodes the source attributes strictly and fills in the
// defaults.
func parseSettings(raw json.RawMessage) (settings, error) {
	var s settings
	if err := sdk.DecodeStrict(raw, &s); err != nil {
		return s, sdk.Permanent("INVALID_SETTINGS", "source settings: "+err.Error(), "")
	}
	if s.Pattern == "" {
		s.Pattern = "*.jsonl"
	}
	if s.KeyField == "" {
		s.KeyField = "id"
	}
	if s.Object == "" {
		s.Object = "record"
	}
	if _, err := filepath.Match(s.Pattern, ""); err != nil || strings.ContainsAny(s.Pattern, `/\`) {
		return s, sdk.Permanent("INVALID_SETTINGS", fmt.Sprintf("pattern %q is not a file name glob", s.Pattern), "pattern")
	}
	return s, nil
}

// settingsCache keeps parsed source settings by their JSON text, which the
// host sends again with every Read and webhook.
type settingsCache struct {
	mu sync.Mutex
	m  map[string]settings
}

// settingsCacheSize bounds the number of settings a cache holds.
const settingsCacheSize = 64

// get returns parseSettings(raw), from the cache when it is there.
func (sc *settingsCache) get(raw json.RawMessage) (settings, error) {
	sc.mu.Lock()
	s, ok := sc.m[string(raw)]
	sc.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := parseSettings(raw)
	if err != nil {
		return s, err
	}
	sc.mu.Lock()
	if sc.m == nil || len(sc.m) >= settingsCacheSize {
		sc.m = make(map[string]settings)
	}
	sc.m[string(raw)] = s
	sc.mu.Unlock()
	return s, nil
}

// problem says why a line or webhook element is not a record.
type problem struct {
	field string // path of the field at fault, "" for the whole line
	msg   string
}

// parse turns one JSON object into a record: its key, its version when
// version_field is set (hasVersion), and its payload, which is the object
// compacted: every number and string stays byte for byte as written. The
// payload is copied into a (unless a aliases), so it never shares memory
// with text.
func (s settings) parse(text []byte, a *arena) (rec sdk.Record, hasVersion bool, p *problem) {
	f, ok := scanObject(text, s.KeyField, s.VersionField, s.VersionField != "")
	if !ok {
		return s.parseSlow(text)
	}
	return s.record(text, f, a)
}

// record is parse of text, an object that scanObject took and found f in.
func (s settings) record(text []byte, f objectFields, a *arena) (rec sdk.Record, hasVersion bool, p *problem) {
	key, msg := keyOf(f.a)
	if msg != "" {
		return rec, false, s.keyProblem(msg)
	}
	rec = sdk.Record{Key: key, Object: s.Object}
	if s.VersionField != "" {
		if rec.Version, msg = versionOf(f.b); msg != "" {
			return sdk.Record{}, false, s.versionProblem(msg)
		}
	}
	if f.spaced {
		rec.Payload = compact(text)
	} else {
		rec.Payload = a.copy(text)
	}
	return rec, s.VersionField != "", nil
}

// parseSlow is parse by encoding/json, for the lines scanObject does not
// take: malformed ones, ones that are not objects and very deep ones.
func (s settings) parseSlow(text []byte) (rec sdk.Record, hasVersion bool, p *problem) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(text, &fields); err != nil || fields == nil {
		var typeErr *json.UnmarshalTypeError
		if err == nil || errors.As(err, &typeErr) {
			return rec, false, &problem{msg: "not a JSON object"}
		}
		return rec, false, &problem{msg: "invalid JSON: " + err.Error()}
	}
	key, msg := keyOf(fields[s.KeyField])
	if msg != "" {
		return rec, false, s.keyProblem(msg)
	}
	rec = sdk.Record{Key: key, Object: s.Object, Payload: compact(text)}
	if s.VersionField == "" {
		return rec, false, nil
	}
	rec.Version, msg = versionOf(fields[s.VersionField])
	if msg != "" {
		return sdk.Record{}, false, s.versionProblem(msg)
	}
	return rec, true, nil
}

// keyProblem is the problem of a key field that keyOf refused with msg.
func (s settings) keyProblem(msg string) *problem {
	return &problem{field: s.KeyField, msg: fmt.Sprintf("key field %q %s", s.KeyField, msg)}
}

// versionProblem is the problem of a version field that versionOf refused
// with msg.
func (s settings) versionProblem(msg string) *problem {
	return &problem{field: s.VersionField, msg: fmt.Sprintf("version field %q %s", s.VersionField, msg)}
}

// keyOf returns a key written as a JSON string (its text) or a JSON number
// (as written, e.g. "1e3" stays "1e3"), or else what is wrong with it.
func keyOf(raw json.RawMessage) (key, msg string) {
	switch {
	case raw == nil:
		return "", "is missing"
	case raw[0] == '"':
		key, err := unquote(raw)
		if err != nil || key == "" {
			return "", "is empty"
		}
		return key, ""
	case raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9':
		return string(raw), ""
	}
	return "", "must be a string or a number, not " + string(raw)
}

// versionOf returns a version written as a JSON integer or as an RFC 3339
// time string (its microseconds since 1970, sdk.VersionFromTime).
func versionOf(raw json.RawMessage) (int64, string) {
	if raw == nil {
		return 0, "is missing"
	}
	if raw[0] == '"' {
		if s, err := unquote(raw); err == nil {
			if t, err := time.Parse(time.RFC3339, s); err == nil {
				return sdk.VersionFromTime(t), ""
			}
		}
		return 0, "must be an RFC 3339 time such as \"2026-11-27T10:00:00Z\", not " + string(raw)
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, "must be an integer or an RFC 3339 time, not " + string(raw)
	}
	return v, ""
}

// errorRecord carries a line that is not a valid record to the host, which
// dead-letters it with the reason in metadata "weir.error" (and the field
// at fault in "weir.error_field"). Its payload is the line when that is
// JSON, else the line's text as a JSON string.
func errorRecord(key string, version int64, object string, text []byte, p *problem) sdk.Record {
	payload := compact(text)
	if payload == nil {
		payload, _ = marshal(string(text))
	}
	md := map[string]string{"weir.error": p.msg}
	if p.field != "" {
		md["weir.error_field"] = p.field
	}
	return sdk.Record{Key: key, Version: version, Object: object, Payload: payload, Metadata: md}
}

// compact returns JSON text without insignificant spaces (and nil when it is
// not JSON), in new memory. Numbers and strings are left exactly as written.
func compact(text []byte) json.RawMessage {
	if compactValue(text) {
		return bytes.Clone(text)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, text); err != nil {
		return nil
	}
	return buf.Bytes()
}

// marshal is json.Marshal without escaping <, > and &, so strings stay as
// written.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// trim removes JSON white space (and a "\r" before "\n") around a line.
func trim(line []byte) []byte {
	return bytes.Trim(line, " \t\r\n")
}

// arena hands out copies of byte slices from shared blocks, so that a batch
// of records costs a few allocations instead of one per payload. An
// aliasing arena hands out the slices themselves, for text the records may
// keep (a webhook's body).
type arena struct {
	block []byte
	alias bool
}

// arenaMax bounds the size of an arena's blocks.
const arenaMax = 256 << 10

// copy returns a copy of b, or b in an aliasing arena. Its capacity ends
// with it: appending to it never writes over another copy, or what follows
// b.
func (a *arena) copy(b []byte) []byte {
	if a.alias {
		return b[:len(b):len(b)]
	}
	if cap(a.block)-len(a.block) < len(b) {
		size := min(max(2*cap(a.block), 4<<10), arenaMax)
		a.block = make([]byte, 0, max(size, len(b)))
	}
	start := len(a.block)
	a.block = append(a.block, b...)
	return a.block[start:len(a.block):len(a.block)]
}
