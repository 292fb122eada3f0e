package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"
)

// decodeExact decodes one JSON document keeping every number's text.
func decodeExact(doc []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the JSON document")
	}
	return v, nil
}

// mismatch returns the path of the first value of want that got does not
// hold exactly, or "" when got holds all of want. Objects in got may have
// more members than in want; arrays must have the same length; numbers
// must be written the same ("1.50" is not "1.5"); strings must be the same
// text, however escaped.
func mismatch(got, want []byte) (string, error) {
	w, err := decodeExact(want)
	if err != nil {
		return "", fmt.Errorf("expected payload: %w", err)
	}
	g, err := decodeExact(got)
	if err != nil {
		return "", fmt.Errorf("actual payload: %w", err)
	}
	return holds(g, w, ""), nil
}

func holds(got, want any, path string) string {
	at := path
	if at == "" {
		at = "(root)"
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return at
		}
		for _, name := range slices.Sorted(maps.Keys(w)) {
			sub := name
			if path != "" {
				sub = path + "." + name
			}
			gv, ok := g[name]
			if !ok {
				return sub
			}
			if p := holds(gv, w[name], sub); p != "" {
				return p
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return at
		}
		for i := range w {
			if p := holds(g[i], w[i], fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
		return ""
	default: // json.Number, string, bool or nil: comparable
		if got != want {
			return at
		}
		return ""
	}
}

// exactSamples reports whether the payloads hold a number whose text
// binary floating point would change and a string beyond ASCII: what the
// byte-exact checks need to mean something.
func exactSamples(payloads ...[]byte) (number, text bool) {
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case json.Number:
			f, err := strconv.ParseFloat(v.String(), 64)
			if err != nil || strconv.FormatFloat(f, 'f', -1, 64) != v.String() && strconv.FormatFloat(f, 'g', -1, 64) != v.String() {
				number = true
			}
		case string:
			for _, r := range v {
				if r >= utf8.RuneSelf {
					text = true
				}
			}
		}
	}
	for _, p := range payloads {
		if v, err := decodeExact(p); err == nil {
			walk(v)
		}
	}
	return number, text
}

// sameJSON reports whether a and b are the same JSON text once compacted.
func sameJSON(a, b []byte) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}
