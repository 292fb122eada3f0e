package translate

import (
	"math/big"
	"testing"

	"github.com/cockroachdb/apd/v3"
)

func TestDecimalFunctions(t *testing.T) {
	run(t, []evalCase{
		// decimal
		{expr: `decimal("499.00")`, want: `499`},
		{expr: `decimal(" -12.50 ")`, want: `-12.5`},
		{expr: `decimal("1e3")`, want: `1000`},
		{expr: `decimal(record.TotalAmount)`, want: `12345678901234567.89`},
		{expr: `decimal("12345678901234567890.123456789")`, want: `12345678901234567890.123456789`},
		{expr: `decimal(record.Description)`, want: `null`},
		{expr: `decimal("1,234.56")`, wantErr: []string{`"1,234.56" is not a decimal number`}},
		{expr: `decimal("12,5")`, wantErr: []string{`"12,5" is not a decimal number`}},
		{expr: `decimal("NaN")`, wantErr: []string{`"NaN" is not a decimal number`}},
		{expr: `decimal("Infinity")`, wantErr: []string{`is not a decimal number`}},
		{expr: `decimal("")`, wantErr: []string{`"" is not a decimal number`}},
		{expr: `decimal("1e999999")`, wantErr: []string{`out of range`}},
		{expr: `decimal(true)`, wantErr: []string{`not bool`}},
		{expr: `decimal(1/0)`, wantErr: []string{`infinite`}},

		// add, sub, mul: exact
		{name: "0.1+0.2", expr: `decimal_add(0.1, 0.2)`, want: `0.3`},
		{name: "0.1+0.2 strings", expr: `decimal_add("0.1", "0.2") == 0.3`, want: `true`},
		{name: "0.3-0.1", expr: `decimal_sub(0.3, 0.1)`, want: `0.2`},
		{name: "1.1*1.1", expr: `decimal_mul(1.1, 1.1)`, want: `1.21`},
		{name: "big*3", expr: `decimal_mul(12345678901234567.89, 3)`, want: `37037036703703703.67`},
		{name: "record*3", expr: `decimal_mul(record.TotalAmount, 3)`, want: `37037036703703703.67`},
		{name: "line total", expr: `decimal_mul(record.OrderItems[0].Quantity, record.OrderItems[0].UnitPrice)`, want: `139.93`},
		{name: "HCL noise removed", expr: `decimal(0.3 - 0.1)`, want: `0.2`},
		{name: "mul of HCL noise", expr: `decimal_mul(1.1 * 1.1, 100)`, want: `121`},
		{name: "sum", expr: `decimal_sum([for l in record.OrderItems : decimal_mul(l.Quantity, l.UnitPrice)])`, want: `140.18`},
		{name: "sum empty", expr: `decimal_sum([])`, want: `0`},
		{name: "sum strings", expr: `decimal_sum(["0.1", "0.2", 0.3])`, want: `0.6`},
		{name: "sum null element", expr: `decimal_sum([1, null])`, wantErr: []string{"element 1", "not null"}},
		{name: "add null", expr: `decimal_add(record.Description, 1)`, wantErr: []string{`"a" parameter`, "not null"}},
		{name: "mul too many digits", expr: `decimal_mul("1234567890123456789012345678901234567890123456789012345678901", "1234567890123456789012345678901234567890123456789012345678901")`,
			wantErr: []string{"more than 100 significant digits"}},

		// div
		{expr: `decimal_div(1, 8)`, want: `0.125`},
		{expr: `decimal_div(1, 3)`, want: `0.3333333333333333333333333333333333`},
		{expr: `decimal_div(2, 3)`, want: `0.6666666666666666666666666666666667`},
		{expr: `decimal_div(100, 3, 2)`, want: `33.33`},
		{expr: `decimal_div(200, 3, 2)`, want: `66.67`},
		{expr: `decimal_div(1, 8, 2)`, want: `0.13`},
		{expr: `decimal_div(1, 8, 2, "HALF_EVEN")`, want: `0.12`},
		{expr: `decimal_div(1, 3, 2, "UP")`, want: `0.34`},
		{expr: `decimal_div(-1, 3, 2, "FLOOR")`, want: `-0.34`},
		{expr: `decimal_div(1, 30000, 2, "CEILING")`, want: `0.01`},
		{expr: `decimal_div(1, 30000, 2)`, want: `0`},
		{expr: `decimal_div(10, 4, 0, "HALF_EVEN")`, want: `2`},
		{expr: `decimal_div(14, 4, 0, "HALF_EVEN")`, want: `4`},
		{expr: `decimal_div(1, 0)`, wantErr: []string{"division by zero"}},
		{expr: `decimal_div(1, 0, 2)`, wantErr: []string{"division by zero"}},
		{expr: `decimal_div(1, 3, 2, "SIDEWAYS")`, wantErr: []string{`unknown rounding mode "SIDEWAYS"`}},
		{expr: `decimal_div(1, 3, 2.5)`, wantErr: []string{"places must be a whole number"}},

		// round
		{name: "half-even 2.345", expr: `round(2.345, 2, "HALF_EVEN")`, want: `2.34`},
		{name: "half-even 2.355", expr: `round(2.355, 2, "half_even")`, want: `2.36`},
		{name: "half-even 0.5", expr: `round(0.5, 0, "HALF_EVEN")`, want: `0`},
		{name: "half-even 1.5", expr: `round(1.5, 0, "HALF_EVEN")`, want: `2`},
		{name: "half-even 2.5", expr: `round(2.5, 0, "HALF_EVEN")`, want: `2`},
		{name: "half-up 2.345", expr: `round(2.345, 2, "HALF_UP")`, want: `2.35`},
		{name: "half-up default", expr: `round(2.345, 2)`, want: `2.35`},
		{name: "half-up 2.5", expr: `round(2.5, 0, "half-up")`, want: `3`},
		{name: "half-up -2.5", expr: `round(-2.5, 0)`, want: `-3`},
		{name: "half-down 2.5", expr: `round(2.5, 0, "HALF_DOWN")`, want: `2`},
		{name: "down", expr: `round(2.349, 2, "DOWN")`, want: `2.34`},
		{name: "up", expr: `round(2.341, 2, "UP")`, want: `2.35`},
		{name: "up tiny", expr: `round(0.0004, 2, "UP")`, want: `0.01`},
		{name: "ceiling tiny", expr: `round(0.0004, 2, "CEILING")`, want: `0.01`},
		{name: "ceiling negative tiny", expr: `round(-0.0004, 2, "CEILING")`, want: `0`},
		{name: "floor negative tiny", expr: `round(-0.0004, 2, "FLOOR")`, want: `-0.01`},
		{name: "half-up tiny", expr: `round(0.0004, 2)`, want: `0`},
		{name: "string", expr: `round("19.999", 2)`, want: `20`},
		{name: "big", expr: `round(record.TotalAmount, 1)`, want: `12345678901234567.9`},
		{name: "null", expr: `round(record.Description, 2)`, want: `null`},
		{name: "negative places", expr: `round(1, -1)`, wantErr: []string{"places must be between 0 and 100"}},
		{name: "bad mode type", expr: `round(1, 2, 3)`, wantErr: []string{"rounding mode"}},

		// format_decimal
		{expr: `format_decimal(499, 2)`, want: `"499.00"`},
		{expr: `format_decimal("499.00", 2)`, want: `"499.00"`},
		{expr: `format_decimal(0.5, 0)`, want: `"1"`},
		{expr: `format_decimal(0.5, 0, "HALF_EVEN")`, want: `"0"`},
		{expr: `format_decimal(-0.001, 2)`, want: `"0.00"`},
		{expr: `format_decimal(-1.005, 2)`, want: `"-1.01"`},
		{expr: `format_decimal(1.005, 2, "HALF_EVEN")`, want: `"1.00"`},
		{expr: `format_decimal(1e-7, 8)`, want: `"0.00000010"`},
		{expr: `format_decimal(1e21, 2)`, want: `"1000000000000000000000.00"`},
		{expr: `format_decimal(record.TotalAmount, 3)`, want: `"12345678901234567.890"`},
		{expr: `format_decimal(decimal_add(0.1, 0.2), 2)`, want: `"0.30"`},
		{expr: `format_decimal(1.1 * 1.1, 4)`, want: `"1.2100"`},
		{expr: `format_decimal(record.Description, 2)`, want: `null`},
		{expr: `format_decimal(1, 2, "HALF_UP", "x")`, wantErr: []string{"at most three arguments"}},
	})
}

func TestParseDecimal(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"0", "0", true},
		{"-0.00", "-0.00", true},
		{"+1.5", "1.5", true},
		{".5", "0.5", true},
		{"5.", "5", true},
		{"1E+2", "1E+2", true},
		{"007", "7", true},
		{" 1 ", "1", true},
		{"1 000", "", false},
		{"0x10", "", false},
		{"1e", "", false},
		{"e5", "", false},
		{"--1", "", false},
		{"1.2.3", "", false},
		{"inf", "", false},
		{"1e1234567", "", false},
	} {
		d, err := ParseDecimal(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseDecimal(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && d.String() != tc.want {
			t.Errorf("ParseDecimal(%q) = %s, want %s", tc.in, d, tc.want)
		}
	}
}

// TestNumberRoundTrip checks that decimals of up to MaxDigits digits survive
// the trip through an HCL number.
func TestNumberRoundTrip(t *testing.T) {
	for _, s := range []string{
		"0.1", "0.3", "19.99", "12345678901234567.89", "-0.000001",
		"9999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999",
		"0.1234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567891",
		"1E+500", "1E-500",
	} {
		d, err := ParseDecimal(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecimalFromNumber(NumberFromDecimal(d).AsBigFloat())
		if err != nil {
			t.Fatal(err)
		}
		if back.Cmp(d) != 0 {
			t.Errorf("%s came back as %s", s, back)
		}
	}
	if _, err := DecimalFromNumber(new(big.Float).SetMantExp(big.NewFloat(1), 1<<20)); err == nil {
		t.Error("a huge number was accepted")
	}
}

func TestRoundModes(t *testing.T) {
	// Rounding to 0 places, every mode, like the General Decimal Arithmetic
	// examples.
	inputs := []string{"5.5", "2.5", "1.6", "1.1", "1.0", "-1.0", "-1.1", "-1.6", "-2.5", "-5.5"}
	want := map[string][]string{
		"UP":        {"6", "3", "2", "2", "1", "-1", "-2", "-2", "-3", "-6"},
		"DOWN":      {"5", "2", "1", "1", "1", "-1", "-1", "-1", "-2", "-5"},
		"CEILING":   {"6", "3", "2", "2", "1", "-1", "-1", "-1", "-2", "-5"},
		"FLOOR":     {"5", "2", "1", "1", "1", "-1", "-2", "-2", "-3", "-6"},
		"HALF_UP":   {"6", "3", "2", "1", "1", "-1", "-1", "-2", "-3", "-6"},
		"HALF_DOWN": {"5", "2", "2", "1", "1", "-1", "-1", "-2", "-2", "-5"},
		"HALF_EVEN": {"6", "2", "2", "1", "1", "-1", "-1", "-2", "-2", "-6"},
	}
	for mode, outs := range want {
		r, err := ParseRounding(mode)
		if err != nil {
			t.Fatal(err)
		}
		for i, in := range inputs {
			d, _, _ := apd.NewFromString(in)
			got, err := Round(d, 0, r)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != outs[i] {
				t.Errorf("Round(%s, 0, %s) = %s, want %s", in, mode, got, outs[i])
			}
		}
	}
}

// TestDivPlacesMatchesExact checks the single rounding of DivPlaces against
// the quotient computed to many more digits.
func TestDivPlacesMatchesExact(t *testing.T) {
	nums := []string{"1", "2", "10", "-7", "0.005", "123456.789", "1E+30", "3", "0.0000001"}
	for _, a := range nums {
		for _, b := range nums {
			da, _, _ := apd.NewFromString(a)
			db, _, _ := apd.NewFromString(b)
			for _, mode := range []string{"HALF_UP", "HALF_EVEN", "UP", "DOWN", "CEILING", "FLOOR"} {
				r, _ := ParseRounding(mode)
				for _, places := range []int{0, 2, 5} {
					got, err := DivPlaces(da, db, places, r)
					if err != nil {
						t.Fatal(err)
					}
					wide := apd.Context{Precision: 300, MaxExponent: apd.MaxExponent, MinExponent: apd.MinExponent, Rounding: apd.RoundDown}
					q := new(apd.Decimal)
					res, _ := wide.Quo(q, da, db)
					if res.Inexact() {
						// Beyond 300 digits: a sticky digit stands for the rest.
						sticky := apd.New(1, q.Exponent-1)
						sticky.Negative = q.Negative
						wider := apd.Context{Precision: 400, MaxExponent: apd.MaxExponent, MinExponent: apd.MinExponent}
						wider.Add(q, q, sticky)
					}
					want, err := Round(q, places, r)
					if err != nil {
						t.Fatal(err)
					}
					if got.Cmp(want) != 0 {
						t.Errorf("DivPlaces(%s, %s, %d, %s) = %s, want %s", a, b, places, mode, got, want)
					}
				}
			}
		}
	}
}
