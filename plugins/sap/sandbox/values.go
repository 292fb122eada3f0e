package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Values are kept typed: string, *big.Rat (Edm.Decimal), time.Time (UTC),
// bool, int64, or nil.

var (
	decimalRE = regexp.MustCompile(`^[+-]?(\d+\.?\d*|\.\d+)$`)
	jsonDate  = regexp.MustCompile(`^/Date\((-?\d+)([+-]\d{4})?\)/$`)
)

// parseDecimal parses decimal text exactly.
func parseDecimal(s string) (*big.Rat, bool) {
	if !decimalRE.MatchString(s) {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

// decimalDigits returns the integer and fraction digits of decimal text.
func decimalDigits(s string) (intDigits, fracDigits int) {
	s = strings.TrimLeft(s, "+-")
	whole, frac, _ := strings.Cut(s, ".")
	whole = strings.TrimLeft(whole, "0")
	frac = strings.TrimRight(frac, "0")
	return len(whole), len(frac)
}

// formatDecimal renders r with exactly scale fraction digits.
func formatDecimal(r *big.Rat, scale int) string {
	return r.FloatString(scale)
}

// parseJSONDate parses "/Date(ms)/" and "/Date(ms+hhmm)/".
func parseJSONDate(s string) (time.Time, bool) {
	m := jsonDate.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	ms, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(ms).UTC(), true
}

// padAlpha applies SAP's ALPHA conversion to a numeric value.
func padAlpha(s string, n int) string {
	if s == "" || len(s) >= n {
		return s
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return s
		}
	}
	return strings.Repeat("0", n-len(s)) + s
}

// stripAlpha is ALPHA's output conversion: leading zeros of a numeric value
// are not shown.
func stripAlpha(s string) string {
	for _, c := range s {
		if c < '0' || c > '9' {
			return s
		}
	}
	if t := strings.TrimLeft(s, "0"); t != "" {
		return t
	}
	if s != "" {
		return "0"
	}
	return s
}

// inputError is a value the client sent that does not fit its property.
type inputError struct {
	prop string
	msg  string
}

func (e *inputError) Error() string { return e.msg }

// decodeValue converts a JSON value (decoded with UseNumber) to the typed
// value of p. lenient accepts JSON numbers for Edm.Decimal.
func decodeValue(p *Property, v any, lenient bool) (any, error) {
	bad := func(format string, args ...any) error {
		return &inputError{prop: p.Name, msg: fmt.Sprintf(format, args...)}
	}
	if v == nil {
		return nil, nil
	}
	switch p.Type {
	case EdmString:
		s, ok := v.(string)
		if !ok {
			return nil, bad("Invalid value for property '%s': a string is expected", p.Name)
		}
		if p.MaxLength > 0 && utf8.RuneCountInString(s) > p.MaxLength {
			return nil, bad("Value '%s' of property '%s' exceeds the maximum length of %d", s, p.Name, p.MaxLength)
		}
		if p.Alpha {
			s = padAlpha(s, p.MaxLength)
		}
		return s, nil
	case EdmDecimal:
		var text string
		switch x := v.(type) {
		case string:
			text = x
		case json.Number:
			if !lenient {
				return nil, bad("Invalid value for property '%s': Edm.Decimal values are sent as JSON strings", p.Name)
			}
			text = x.String()
		default:
			return nil, bad("Invalid value for property '%s'", p.Name)
		}
		r, ok := parseDecimal(strings.TrimSpace(text))
		if !ok {
			return nil, bad("Value '%s' of property '%s' is not a valid decimal", text, p.Name)
		}
		i, f := decimalDigits(text)
		if f > p.Scale || i > p.Precision-p.Scale {
			return nil, bad("Value '%s' of property '%s' exceeds precision %d, scale %d", text, p.Name, p.Precision, p.Scale)
		}
		return r, nil
	case EdmDateTime, EdmDateTimeOffset:
		s, ok := v.(string)
		if !ok {
			return nil, bad("Invalid value for property '%s': a date is expected as /Date(ms)/", p.Name)
		}
		if t, ok := parseJSONDate(s); ok {
			return t, nil
		}
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.9999999"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t.UTC(), nil
			}
		}
		return nil, bad("Value '%s' of property '%s' is not a valid date", s, p.Name)
	case EdmBoolean:
		b, ok := v.(bool)
		if !ok {
			return nil, bad("Invalid value for property '%s': true or false is expected", p.Name)
		}
		return b, nil
	case EdmInt32, EdmInt64:
		var text string
		switch x := v.(type) {
		case json.Number:
			text = x.String()
		case string:
			text = x
		default:
			return nil, bad("Invalid value for property '%s': an integer is expected", p.Name)
		}
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return nil, bad("Value '%s' of property '%s' is not an integer", text, p.Name)
		}
		return n, nil
	}
	return nil, bad("Property '%s' has an unsupported type", p.Name)
}

// zeroValue is what a property holds when nothing was set: "" for CHAR
// fields (SAP never has null strings), null otherwise.
func zeroValue(p *Property) any {
	switch p.Type {
	case EdmString:
		return ""
	case EdmBoolean:
		return false
	case EdmDecimal:
		return new(big.Rat)
	}
	return nil
}

// encodeValue appends the OData V2 JSON form of v.
func encodeValue(b *bytes.Buffer, p *Property, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		if p.Alpha {
			x = stripAlpha(x)
		}
		writeJSONString(b, x)
	case *big.Rat:
		writeJSONString(b, formatDecimal(x, p.Scale))
	case time.Time:
		if p.Type == EdmDateTimeOffset {
			fmt.Fprintf(b, `"\/Date(%d+0000)\/"`, x.UnixMilli())
		} else {
			fmt.Fprintf(b, `"\/Date(%d)\/"`, x.UnixMilli())
		}
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int64:
		if p.Type == EdmInt64 {
			fmt.Fprintf(b, `"%d"`, x)
		} else {
			b.WriteString(strconv.FormatInt(x, 10))
		}
	default:
		b.WriteString("null")
	}
}

// writeJSONString appends s as a JSON string without HTML escaping.
func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	b.Truncate(b.Len() - 1) // the encoder's newline
}

// compare orders two typed values; ok is false when they cannot be
// compared. nil sorts first.
func compare(a, b any) (int, bool) {
	if a == nil || b == nil {
		switch {
		case a == nil && b == nil:
			return 0, true
		case a == nil:
			return -1, true
		default:
			return 1, true
		}
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(x, y), true
	case *big.Rat:
		y, ok := asRat(b)
		if !ok {
			return 0, false
		}
		return x.Cmp(y), true
	case int64:
		y, ok := asRat(b)
		if !ok {
			return 0, false
		}
		return new(big.Rat).SetInt64(x).Cmp(y), true
	case time.Time:
		y, ok := b.(time.Time)
		if !ok {
			return 0, false
		}
		return x.Compare(y), true
	case bool:
		y, ok := b.(bool)
		if !ok {
			return 0, false
		}
		switch {
		case x == y:
			return 0, true
		case !x:
			return -1, true
		default:
			return 1, true
		}
	}
	return 0, false
}

func asRat(v any) (*big.Rat, bool) {
	switch x := v.(type) {
	case *big.Rat:
		return x, true
	case int64:
		return new(big.Rat).SetInt64(x), true
	}
	return nil, false
}

// etagOf renders a DateTimeOffset ETag as S/4HANA does:
// W/"datetimeoffset'2016-09-02T06%3A15%3A47.1257050Z'".
func etagOf(t time.Time) string {
	s := t.UTC().Format("2006-01-02T15:04:05.0000000Z")
	return `W/"datetimeoffset'` + strings.ReplaceAll(s, ":", "%3A") + `'"`
}
