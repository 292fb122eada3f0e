package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// decodeBody decodes a JSON request body keeping numbers exact.
func decodeBody(data []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the JSON object")
	}
	if m == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	return m, nil
}

// ratOf returns v as an exact rational: a json.Number, a numeric string,
// an integer or a *big.Rat.
func ratOf(v any) (*big.Rat, bool) {
	switch v := v.(type) {
	case json.Number:
		return parseRat(string(v))
	case string:
		return parseRat(v)
	case int:
		return new(big.Rat).SetInt64(int64(v)), true
	case int64:
		return new(big.Rat).SetInt64(v), true
	case *big.Rat:
		if v == nil {
			return nil, false
		}
		return new(big.Rat).Set(v), true
	}
	return nil, false
}

// parseRat parses a decimal number (with an optional exponent).
func parseRat(s string) (*big.Rat, bool) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, "/") {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

// decString formats r as an exact decimal: "12", "-0.5", "12345678901234567.89".
// A value with no finite decimal form is rounded to 20 places.
func decString(r *big.Rat) string {
	if r == nil {
		return ""
	}
	if r.IsInt() {
		return r.Num().String()
	}
	den := new(big.Int).Set(r.Denom())
	places := 0
	ten := big.NewInt(10)
	for places < 20 {
		if new(big.Int).Mod(new(big.Int).Exp(ten, big.NewInt(int64(places)), nil), den).Sign() == 0 {
			break
		}
		places++
	}
	s := r.FloatString(places)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// oracleNumber formats a decimal as Oracle converts numbers to text: no
// leading zero before the point (".5", "-.25").
func oracleNumber(s string) string {
	switch {
	case strings.HasPrefix(s, "0."):
		return s[1:]
	case strings.HasPrefix(s, "-0."):
		return "-" + s[2:]
	}
	return s
}

// numJSON returns r as a JSON number.
func numJSON(r *big.Rat) json.Number { return json.Number(decString(r)) }

// mul returns a × b.
func mul(a, b *big.Rat) *big.Rat { return new(big.Rat).Mul(a, b) }

// add returns a + b.
func add(a, b *big.Rat) *big.Rat { return new(big.Rat).Add(a, b) }

// sub returns a - b.
func sub(a, b *big.Rat) *big.Rat { return new(big.Rat).Sub(a, b) }

// ratInt returns n as a rational.
func ratInt(n int64) *big.Rat { return new(big.Rat).SetInt64(n) }

// minRat returns the smaller of a and b.
func minRat(a, b *big.Rat) *big.Rat {
	if a.Cmp(b) <= 0 {
		return a
	}
	return b
}

// stringOf renders a body value for an error message.
func stringOf(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return v
	case json.Number:
		return string(v)
	case bool:
		return strconv.FormatBool(v)
	case map[string]any:
		if id, ok := v["id"]; ok {
			return stringOf(id)
		}
		if id, ok := v["externalId"]; ok {
			return stringOf(id)
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// idString returns an id given as a string or a number, as text.
func idString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, v != ""
	case json.Number:
		return string(v), true
	}
	return "", false
}

// cloneValue deep-copies a decoded JSON value.
func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = cloneValue(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = cloneValue(e)
		}
		return out
	case *big.Rat:
		return new(big.Rat).Set(v)
	}
	return v
}
