package sandbox

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// makeID returns the 18-character id of the n-th record with a prefix:
// the prefix, a pod character, the counter in base 62 (so ids sort in
// creation order) and the case-safe suffix Salesforce computes.
func makeID(prefix string, n int64) string {
	var digits [11]byte
	for i := len(digits) - 1; i >= 0; i-- {
		digits[i] = base62[n%62]
		n /= 62
	}
	id15 := prefix + "0" + string(digits[:])
	return id15 + idSuffix(id15)
}

// idSuffix is the three-character checksum that makes a 15-character id
// case-insensitively unique: one character per block of five, encoding
// which of its characters are upper-case letters.
func idSuffix(id15 string) string {
	const table = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	var out [3]byte
	for b := 0; b < 3; b++ {
		bits := 0
		for i := 0; i < 5; i++ {
			if c := id15[b*5+i]; c >= 'A' && c <= 'Z' {
				bits |= 1 << i
			}
		}
		out[b] = table[bits]
	}
	return string(out[:])
}

// validID reports whether s looks like a Salesforce id (15 or 18
// alphanumeric characters, with a valid suffix when 18).
func validID(s string) bool {
	if len(s) != 15 && len(s) != 18 {
		return false
	}
	for _, c := range []byte(s) {
		if !strings.ContainsRune(base62, rune(c)) {
			return false
		}
	}
	return len(s) == 15 || idSuffix(s[:15]) == s[15:]
}

// to18 returns the 18-character form of a valid 15 or 18-character id.
func to18(s string) string {
	if len(s) == 15 {
		return s + idSuffix(s)
	}
	return s
}

// Datetime formats: what the REST API writes, and what it reads.
const datetimeOut = "2006-01-02T15:04:05.000-0700"

var datetimeIn = []string{
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04:05Z0700",
}

// parseDatetime parses an ISO-8601 datetime with a zone (Z, +hh:mm or
// +hhmm) and optional fractional seconds, truncated to milliseconds.
func parseDatetime(s string) (time.Time, bool) {
	for _, layout := range datetimeIn {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Truncate(time.Millisecond), true
		}
	}
	return time.Time{}, false
}

// formatDatetime writes a datetime as the REST API does:
// 2011-07-07T00:37:00.000+0000.
func formatDatetime(t time.Time) string { return t.UTC().Format(datetimeOut) }

// parseDate checks a YYYY-MM-DD date.
func parseDate(s string) (string, bool) {
	if _, err := time.Parse("2006-01-02", s); err != nil {
		return "", false
	}
	return s, true
}

// parseNumber parses a JSON number's text exactly.
func parseNumber(s string) (*big.Rat, bool) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, "/_") {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

// formatMoney writes an exact amount with two decimals, as currency
// fields are stored: 6240.00.
func formatMoney(r *big.Rat) json.Number { return json.Number(r.FloatString(2)) }

// convertValue turns a JSON value (decoded with UseNumber) into the stored
// form of field f: string, bool, json.Number, time.Time or a date string.
// nil clears the field. The error is the message of the API error.
func convertValue(f *Field, v any) (any, string, string) {
	if v == nil {
		return nil, "", ""
	}
	bad := func() (any, string, string) {
		return nil, "INVALID_TYPE_ON_FIELD_IN_RECORD", fmt.Sprintf("%s: value not of required type: %s", f.Name, jsonText(v))
	}
	switch f.Type {
	case TypeBoolean:
		switch x := v.(type) {
		case bool:
			return x, "", ""
		case string:
			if b, err := strconv.ParseBool(x); err == nil {
				return b, "", ""
			}
		}
		return bad()
	case TypeDouble, TypeCurrency, TypePercent, TypeInt:
		var text string
		switch x := v.(type) {
		case json.Number:
			text = x.String()
		case string:
			text = strings.TrimSpace(x)
			if text == "" {
				return nil, "", ""
			}
		default:
			return bad()
		}
		r, ok := parseNumber(text)
		if !ok {
			return bad()
		}
		if f.Type == TypeInt && !r.IsInt() {
			return bad()
		}
		return json.Number(text), "", ""
	case TypeDate:
		s, ok := v.(string)
		if !ok {
			return bad()
		}
		if len(s) > 10 {
			if t, ok := parseDatetime(s); ok {
				return t.Format("2006-01-02"), "", ""
			}
		}
		if d, ok := parseDate(s); ok {
			return d, "", ""
		}
		return bad()
	case TypeDatetime:
		s, ok := v.(string)
		if !ok {
			return bad()
		}
		t, ok := parseDatetime(s)
		if !ok {
			return bad()
		}
		return t, "", ""
	case TypeID, TypeReference:
		s, ok := v.(string)
		if !ok {
			return bad()
		}
		if s == "" {
			return nil, "", ""
		}
		if !validID(s) {
			return nil, "MALFORMED_ID", fmt.Sprintf("%s: id value of incorrect type: %s", f.Name, s)
		}
		return to18(s), "", ""
	default: // text
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case json.Number:
			s = x.String()
		case bool:
			s = strconv.FormatBool(x)
		default:
			return bad()
		}
		if s == "" {
			return nil, "", ""
		}
		if n := len([]rune(s)); n > f.maxLength() {
			return nil, "STRING_TOO_LONG", fmt.Sprintf("%s: data value too large: %s (max length=%d)", f.Name, truncate(s, 40), f.maxLength())
		}
		return s, "", ""
	}
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "..."
	}
	return s
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// outValue is a stored value as the REST API writes it.
func outValue(v any) any {
	if t, ok := v.(time.Time); ok {
		return formatDatetime(t)
	}
	return v
}

// compare orders two stored values of field type typ: -1, 0, 1. Nil sorts
// first. Text compares case-insensitively, ids byte for byte.
func compare(typ string, a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	switch x := a.(type) {
	case time.Time:
		y, ok := b.(time.Time)
		if !ok {
			return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
		}
		return x.Compare(y)
	case json.Number:
		y, ok := b.(json.Number)
		rx, ok1 := parseNumber(x.String())
		ry, ok2 := parseNumber(y.String())
		if !ok || !ok1 || !ok2 {
			return strings.Compare(x.String(), fmt.Sprint(b))
		}
		return rx.Cmp(ry)
	case bool:
		y, _ := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case string:
		y := fmt.Sprint(b)
		if typ == TypeID || typ == TypeReference {
			return strings.Compare(x, y)
		}
		return strings.Compare(strings.ToLower(x), strings.ToLower(y))
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

// num is a JSON number for seeds written in Go.
func num(s string) json.Number { return json.Number(s) }
