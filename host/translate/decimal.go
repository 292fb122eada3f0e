package translate

import (
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/cockroachdb/apd/v3"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Limits of the decimal functions.
const (
	// MaxDigits is the most significant digits a decimal may have. HCL
	// numbers (512-bit binary) carry up to about 150 decimal digits
	// faithfully, so every decimal of MaxDigits digits survives the trip
	// into an HCL number and back to JSON unchanged.
	MaxDigits = 100
	// MaxExponent bounds the magnitude of decimals: |x| < 10^(MaxExponent+1)
	// and non-zero |x| ≥ 10^-MaxExponent.
	MaxExponent = 1000
	// MaxPlaces is the most decimal places round and format_decimal accept.
	MaxPlaces = 100
	// DivDigits is the number of significant digits of decimal_div without
	// places (IEEE 754 decimal128).
	DivDigits = 34
)

// decimalContext computes exactly within the limits: an inexact result is
// detected by the callers.
var decimalContext = apd.Context{
	Precision:   MaxDigits,
	MaxExponent: MaxExponent,
	MinExponent: -MaxExponent,
	Traps:       apd.DefaultTraps,
	Rounding:    apd.RoundHalfEven,
}

// Rounding modes accepted by round, format_decimal and decimal_div.
var roundings = map[string]apd.Rounder{
	"HALF_UP":   apd.RoundHalfUp,
	"HALF_EVEN": apd.RoundHalfEven,
	"HALF_DOWN": apd.RoundHalfDown,
	"UP":        apd.RoundUp,
	"DOWN":      apd.RoundDown,
	"CEILING":   apd.RoundCeiling,
	"FLOOR":     apd.RoundFloor,
}

// DefaultRounding is the rounding of round, format_decimal and decimal_div
// when no mode is given: half away from zero, the commercial rounding that
// Salesforce, NetSuite and SAP apply to amounts.
const DefaultRounding = "HALF_UP"

// ParseRounding returns the rounder of a mode name: HALF_UP, HALF_EVEN,
// HALF_DOWN, UP, DOWN, CEILING or FLOOR, in any case, with "-" or "_".
func ParseRounding(mode string) (apd.Rounder, error) {
	m := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(mode), "-", "_"))
	if r, ok := roundings[m]; ok {
		return r, nil
	}
	return "", fmt.Errorf("unknown rounding mode %s: use HALF_UP, HALF_EVEN, HALF_DOWN, UP, DOWN, CEILING or FLOOR", quote(mode))
}

// ParseDecimal parses a decimal number written as text: an optional sign,
// digits with an optional decimal point, and an optional exponent
// ("-12.50", "1e3", " 7 "). Surrounding white space is ignored; thousands
// separators, decimal commas, NaN and infinities are refused, as are
// numbers beyond MaxDigits significant digits or MaxExponent.
func ParseDecimal(s string) (*apd.Decimal, error) {
	t := strings.TrimSpace(s)
	if !decimalSyntax(t) {
		return nil, fmt.Errorf("%s is not a decimal number", quote(s))
	}
	d, _, err := apd.NewFromString(t)
	if err != nil {
		// The syntax is right: the exponent is beyond apd's.
		return nil, fmt.Errorf("%s is out of range (beyond 1e±%d)", quote(s), MaxExponent)
	}
	if d.NumDigits() > MaxDigits {
		d.Reduce(d)
		if d.NumDigits() > MaxDigits {
			return nil, fmt.Errorf("%s has more than %d significant digits", quote(s), MaxDigits)
		}
	}
	if err := checkRange(d); err != nil {
		return nil, fmt.Errorf("%s %w", quote(s), err)
	}
	return d, nil
}

// decimalSyntax reports whether s is [+-]digits[.digits][e[+-]digits] with
// at least one mantissa digit and an exponent of at most 6 digits.
func decimalSyntax(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && isDigit(s[i]) {
			i++
			exp++
		}
		if exp == 0 || exp > 6 {
			return false
		}
	}
	return i == len(s)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// checkRange reports a decimal beyond MaxExponent.
func checkRange(d *apd.Decimal) error {
	if d.IsZero() {
		return nil
	}
	adj := int64(d.Exponent) + d.NumDigits() - 1
	if adj > MaxExponent || adj < -MaxExponent {
		return fmt.Errorf("is out of range (beyond 1e±%d)", MaxExponent)
	}
	return nil
}

// DecimalFromNumber returns the decimal an HCL number stands for: the
// shortest decimal that converts to it, rounded half-even to MaxDigits
// significant digits. Numbers read from JSON or HCL come back exactly as
// written; the rounding removes the binary noise that HCL's own arithmetic
// leaves beyond the 150th digit.
func DecimalFromNumber(f *big.Float) (*apd.Decimal, error) {
	if f.IsInf() {
		return nil, errors.New("number is infinite")
	}
	if f.Sign() == 0 {
		return new(apd.Decimal), nil
	}
	// 2^3400 ≈ 10^1023: a bound on the work of writing the number out.
	if exp := f.MantExp(nil); exp > 3400 || exp < -3400 {
		return nil, fmt.Errorf("number is out of range (beyond 1e±%d)", MaxExponent)
	}
	d, _, err := apd.NewFromString(f.Text('g', -1))
	if err != nil {
		return nil, fmt.Errorf("number %s: %w", f.Text('g', 10), err)
	}
	if d.NumDigits() > MaxDigits {
		if _, err := decimalContext.Round(d, d); err != nil {
			return nil, fmt.Errorf("number %s: %w", f.Text('g', 10), err)
		}
		d.Reduce(d)
	}
	if err := checkRange(d); err != nil {
		return nil, fmt.Errorf("number %w", err)
	}
	return d, nil
}

// NumberFromDecimal returns the HCL number of a decimal of at most
// MaxDigits digits, which converts back to the same decimal.
func NumberFromDecimal(d *apd.Decimal) cty.Value {
	v, err := cty.ParseNumberVal(d.String())
	if err != nil {
		// apd writes only what big.ParseFloat reads.
		panic(fmt.Sprintf("translate: decimal %s: %v", d, err))
	}
	return v
}

// decimalValue returns the decimal of a number or a string argument.
func decimalValue(v cty.Value) (*apd.Decimal, error) {
	if v.IsNull() {
		return nil, errors.New("a decimal number is required, not null")
	}
	switch v.Type() {
	case cty.Number:
		return DecimalFromNumber(v.AsBigFloat())
	case cty.String:
		return ParseDecimal(v.AsString())
	}
	return nil, fmt.Errorf("a number or a string of digits is required, not %s", typeName(v))
}

// exact checks the condition of an exact operation.
func exact(res apd.Condition, err error) error {
	if err != nil {
		return fmt.Errorf("result is out of range (%v)", err)
	}
	if res.Inexact() {
		return fmt.Errorf("result has more than %d significant digits", MaxDigits)
	}
	return nil
}

// Add returns a + b exactly.
func Add(a, b *apd.Decimal) (*apd.Decimal, error) {
	d := new(apd.Decimal)
	return d, exact(decimalContext.Add(d, a, b))
}

// Sub returns a - b exactly.
func Sub(a, b *apd.Decimal) (*apd.Decimal, error) {
	d := new(apd.Decimal)
	return d, exact(decimalContext.Sub(d, a, b))
}

// Mul returns a × b exactly.
func Mul(a, b *apd.Decimal) (*apd.Decimal, error) {
	d := new(apd.Decimal)
	return d, exact(decimalContext.Mul(d, a, b))
}

// Div returns a ÷ b rounded half-even to DivDigits significant digits
// (exact when the quotient fits).
func Div(a, b *apd.Decimal) (*apd.Decimal, error) {
	if b.IsZero() {
		return nil, errors.New("division by zero")
	}
	c := decimalContext
	c.Precision = DivDigits
	d := new(apd.Decimal)
	if _, err := c.Quo(d, a, b); err != nil {
		return nil, fmt.Errorf("result is out of range (%v)", err)
	}
	return d, nil
}

// DivPlaces returns a ÷ b rounded once, with the given rounding, to places
// decimal places.
func DivPlaces(a, b *apd.Decimal, places int, r apd.Rounder) (*apd.Decimal, error) {
	if b.IsZero() {
		return nil, errors.New("division by zero")
	}
	if a.IsZero() {
		return Round(a, places, r)
	}
	// Truncate the quotient two digits below the last place, then make it
	// "sticky": when digits were cut, add one further digit. Rounding that
	// to places gives the same result as rounding the exact quotient, for
	// every rounding mode, since the cut never crosses a multiple of the
	// half place.
	adjA := int64(a.Exponent) + a.NumDigits() - 1
	adjB := int64(b.Exponent) + b.NumDigits() - 1
	p := max(adjA-adjB+int64(places)+3, 1)
	if p > 4*MaxExponent {
		return nil, errors.New("result is out of range")
	}
	c := apd.Context{Precision: uint32(p), MaxExponent: apd.MaxExponent, MinExponent: apd.MinExponent,
		Traps: apd.DefaultTraps, Rounding: apd.RoundDown}
	q := new(apd.Decimal)
	res, err := c.Quo(q, a, b)
	if err != nil {
		return nil, fmt.Errorf("result is out of range (%v)", err)
	}
	if res.Inexact() {
		sticky := apd.New(1, q.Exponent-1)
		sticky.Negative = q.Negative
		wide := apd.Context{Precision: uint32(p + 2), MaxExponent: apd.MaxExponent, MinExponent: apd.MinExponent,
			Traps: apd.DefaultTraps}
		if _, err := wide.Add(q, q, sticky); err != nil {
			return nil, fmt.Errorf("result is out of range (%v)", err)
		}
	}
	return Round(q, places, r)
}

// Round rounds d to places decimal places (0 ≤ places ≤ MaxPlaces) with
// the given rounding; the result has exactly that many places ("499" to 2
// places is 499.00).
func Round(d *apd.Decimal, places int, r apd.Rounder) (*apd.Decimal, error) {
	if places < 0 || places > MaxPlaces {
		return nil, fmt.Errorf("places must be between 0 and %d", MaxPlaces)
	}
	x := d
	// apd's Quantize drops a value whose digits all lie below the place
	// after the last one without consulting the rounding (0.0004 UP to 2
	// places would be 0.00): give it a stand-in that rounds the same way,
	// one tenth of the last place.
	if !d.IsZero() && int64(d.Exponent)+d.NumDigits() < -int64(places) {
		x = apd.New(1, int32(-places-1))
		x.Negative = d.Negative
	}
	c := apd.Context{Precision: 3*MaxExponent + MaxPlaces, MaxExponent: apd.MaxExponent,
		MinExponent: apd.MinExponent, Traps: apd.DefaultTraps, Rounding: r}
	out := new(apd.Decimal)
	if _, err := c.Quantize(out, x, int32(-places)); err != nil {
		return nil, fmt.Errorf("cannot round %s to %d places: %v", d, places, err)
	}
	if out.IsZero() {
		out.Negative = false
	}
	return out, nil
}

// FormatDecimal writes d rounded to places decimal places, with exactly
// that many digits after the point and no exponent: FormatDecimal(499, 2)
// is "499.00".
func FormatDecimal(d *apd.Decimal, places int, r apd.Rounder) (string, error) {
	out, err := Round(d, places, r)
	if err != nil {
		return "", err
	}
	return out.Text('f'), nil
}

// decimalParam is a number-or-string parameter.
func decimalParam(name string) function.Parameter {
	return function.Parameter{Name: name, Type: cty.DynamicPseudoType, AllowNull: true, AllowDynamicType: true}
}

// roundingArg returns the rounding of an optional mode argument.
func roundingArg(args []cty.Value, i int) (apd.Rounder, error) {
	if len(args) <= i || args[i].IsNull() {
		return roundings[DefaultRounding], nil
	}
	if args[i].Type() != cty.String {
		return "", function.NewArgErrorf(i, "a rounding mode such as \"HALF_EVEN\" is required, not %s", typeName(args[i]))
	}
	r, err := ParseRounding(args[i].AsString())
	if err != nil {
		return "", function.NewArgError(i, err)
	}
	return r, nil
}

var decimalFunc = function.New(&function.Spec{
	Description: "Returns the exact decimal value of a number or of a string such as \"499.00\".",
	Params:      []function.Parameter{decimalParam("value")},
	Type:        function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if args[0].IsNull() {
			return cty.NullVal(cty.Number), nil
		}
		d, err := decimalValue(args[0])
		if err != nil {
			return cty.NilVal, function.NewArgError(0, err)
		}
		return NumberFromDecimal(d), nil
	},
})

// binaryDecimalFunc makes decimal_add, decimal_sub and decimal_mul.
func binaryDecimalFunc(desc string, op func(a, b *apd.Decimal) (*apd.Decimal, error)) function.Function {
	return function.New(&function.Spec{
		Description: desc,
		Params:      []function.Parameter{decimalParam("a"), decimalParam("b")},
		Type:        function.StaticReturnType(cty.Number),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			a, err := decimalValue(args[0])
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			b, err := decimalValue(args[1])
			if err != nil {
				return cty.NilVal, function.NewArgError(1, err)
			}
			d, err := op(a, b)
			if err != nil {
				return cty.NilVal, err
			}
			return NumberFromDecimal(d), nil
		},
	})
}

var (
	decimalAddFunc = binaryDecimalFunc("Returns a + b, exactly in decimal.", Add)
	decimalSubFunc = binaryDecimalFunc("Returns a - b, exactly in decimal.", Sub)
	decimalMulFunc = binaryDecimalFunc("Returns a × b, exactly in decimal.", Mul)
)

var decimalDivFunc = function.New(&function.Spec{
	Description: "Returns a ÷ b in decimal: rounded to places decimal places when given, else to 34 significant digits.",
	Params:      []function.Parameter{decimalParam("a"), decimalParam("b")},
	VarParam:    &function.Parameter{Name: "places_and_mode", Type: cty.DynamicPseudoType, AllowNull: true, AllowDynamicType: true},
	Type:        function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		a, err := decimalValue(args[0])
		if err != nil {
			return cty.NilVal, function.NewArgError(0, err)
		}
		b, err := decimalValue(args[1])
		if err != nil {
			return cty.NilVal, function.NewArgError(1, err)
		}
		if len(args) > 4 {
			return cty.NilVal, function.NewArgErrorf(4, "decimal_div takes at most four arguments: a, b, places and mode")
		}
		var d *apd.Decimal
		if len(args) == 2 {
			d, err = Div(a, b)
		} else {
			var places int
			places, err = placesArg(args, 2)
			if err != nil {
				return cty.NilVal, err
			}
			r, rerr := roundingArg(args, 3)
			if rerr != nil {
				return cty.NilVal, rerr
			}
			d, err = DivPlaces(a, b, places, r)
		}
		if err != nil {
			return cty.NilVal, err
		}
		return NumberFromDecimal(d), nil
	},
})

// placesArg returns a places argument.
func placesArg(args []cty.Value, i int) (int, error) {
	v := args[i]
	if v.Type() != cty.Number {
		if v.IsNull() {
			return 0, function.NewArgErrorf(i, "places must be a whole number, not null")
		}
		return 0, function.NewArgErrorf(i, "places must be a whole number, not %s", typeName(v))
	}
	n, err := intArg(v, 0, MaxPlaces)
	if err != nil {
		return 0, function.NewArgErrorf(i, "places %v", err)
	}
	return n, nil
}

var decimalSumFunc = function.New(&function.Spec{
	Description: "Returns the exact decimal sum of a list of numbers (0 for an empty list).",
	Params:      []function.Parameter{{Name: "values", Type: cty.DynamicPseudoType, AllowDynamicType: true}},
	Type:        function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v := args[0]
		ty := v.Type()
		if !(ty.IsListType() || ty.IsTupleType() || ty.IsSetType()) {
			return cty.NilVal, function.NewArgErrorf(0, "a list of numbers is required, not %s", typeName(v))
		}
		if !v.IsWhollyKnown() {
			return cty.UnknownVal(cty.Number), nil
		}
		sum := new(apd.Decimal)
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			_, e := it.Element()
			e, _ = e.Unmark()
			d, err := decimalValue(e)
			if err != nil {
				return cty.NilVal, function.NewArgErrorf(0, "element %d: %v", i, err)
			}
			if sum, err = Add(sum, d); err != nil {
				return cty.NilVal, err
			}
		}
		return NumberFromDecimal(sum), nil
	},
})

var roundFunc = function.New(&function.Spec{
	Description: "Rounds a decimal to places decimal places; mode is HALF_UP (default), HALF_EVEN, HALF_DOWN, UP, DOWN, CEILING or FLOOR.",
	Params:      []function.Parameter{decimalParam("value"), {Name: "places", Type: cty.Number, AllowNull: true}},
	VarParam:    &function.Parameter{Name: "mode", Type: cty.DynamicPseudoType, AllowNull: true, AllowDynamicType: true},
	Type:        function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		d, err := roundArgs(args)
		if err != nil || d == nil {
			return cty.NullVal(cty.Number), err
		}
		return NumberFromDecimal(d), nil
	},
})

var formatDecimalFunc = function.New(&function.Spec{
	Description: "Writes a decimal rounded to exactly places decimal places, as a string such as \"499.00\".",
	Params:      []function.Parameter{decimalParam("value"), {Name: "places", Type: cty.Number, AllowNull: true}},
	VarParam:    &function.Parameter{Name: "mode", Type: cty.DynamicPseudoType, AllowNull: true, AllowDynamicType: true},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		d, err := roundArgs(args)
		if err != nil || d == nil {
			return cty.NullVal(cty.String), err
		}
		return cty.StringVal(d.Text('f')), nil
	},
})

// roundArgs rounds args[0] to args[1] places with the mode args[2]; a null
// value gives nil.
func roundArgs(args []cty.Value) (*apd.Decimal, error) {
	if len(args) > 3 {
		return nil, function.NewArgErrorf(3, "takes at most three arguments: value, places and mode")
	}
	places, err := placesArg(args, 1)
	if err != nil {
		return nil, err
	}
	r, err := roundingArg(args, 2)
	if err != nil {
		return nil, err
	}
	if args[0].IsNull() {
		return nil, nil
	}
	d, err := decimalValue(args[0])
	if err != nil {
		return nil, function.NewArgError(0, err)
	}
	return Round(d, places, r)
}
