// Package translate provides the HCL functions that translate records
// between vendors: ISO 3166-1 countries, ISO 4217 currencies, unit tables
// with exact quantity conversion, decimal arithmetic and rounding for money,
// date and time conversion between Salesforce, NetSuite, SAP and RFC 3339,
// string normalisation, and the cross-reference table of record ids across
// systems (XRef).
//
// The package registers its functions with config.Register from init: a
// program makes them available to every configuration by importing it for
// its side effects:
//
//	import _ "github.com/weirhq/weir/host/translate"
//
// Every function is pure, apart from xref, which reads the XRef bound to
// the configuration with BindXRef. Every function is safe for concurrent
// use.
//
// # Errors
//
// A value a function cannot translate (an unknown country, unit or
// currency, a malformed date or number) is an error that names the value,
// such as `unknown country "Atlantis"`. The engine dead-letters the record
// with that reason, the expression's position and the output field: a
// function never guesses. The one exception is xref when the store cannot
// be reached: that error matches store.ErrUnavailable (see Transient) and
// the record should be retried instead.
//
// # Nulls
//
// Functions that return a single value (decimal, round, format_decimal,
// the date and string functions, xref) return null for a null value, so
// that an optional field stays absent; the destination's required fields
// catch a missing one. Functions that return an object (iso_country,
// currency, unit, convert_quantity) and the two-operand arithmetic
// functions fail on null with a message naming what is missing, since
// their result is always used further.
//
// # Exact numbers
//
// HCL numbers are binary floating point numbers of 512 bits. A decimal
// read from JSON or HCL converts to one exactly enough to be written back
// unchanged, but HCL's own + - * / round in binary: 1.1 * 1.1 gives
// 1.2100…0001 with about 150 digits. The decimal functions compute in
// decimal (github.com/cockroachdb/apd) and return numbers that are the
// exact decimal results: use decimal_mul, not *, on fractional amounts.
package translate

import (
	"github.com/zclconf/go-cty/cty/function"

	"github.com/weirhq/weir/host/config"
)

func init() {
	static := map[string]function.Function{
		"iso_country": isoCountryFunc,
		"currency":    currencyFunc,

		"decimal":        decimalFunc,
		"decimal_add":    decimalAddFunc,
		"decimal_sub":    decimalSubFunc,
		"decimal_mul":    decimalMulFunc,
		"decimal_div":    decimalDivFunc,
		"decimal_sum":    decimalSumFunc,
		"round":          roundFunc,
		"format_decimal": formatDecimalFunc,

		"to_rfc3339":     toRFC3339Func,
		"to_iso_date":    toISODateFunc,
		"to_sf_datetime": toSFDatetimeFunc,
		"to_sap_date":    toSAPDateFunc,
		"to_sap_time":    toSAPTimeFunc,
		"from_sap_time":  fromSAPTimeFunc,

		"normalize_space": normalizeSpaceFunc,
		"ascii_fold":      asciiFoldFunc,
		"digits_only":     digitsOnlyFunc,
		"truncate":        truncateFunc,
	}
	for name, f := range static {
		config.Register(name, func(*config.Config, string) function.Function { return f })
	}
	config.Register("unit", makeUnitFunc)
	config.Register("convert_quantity", makeConvertQuantityFunc)
	config.Register("xref", makeXRefFunc)
}

// Names returns the names of the functions this package registers, sorted.
func Names() []string {
	return []string{
		"ascii_fold", "convert_quantity", "currency", "decimal", "decimal_add",
		"decimal_div", "decimal_mul", "decimal_sub", "decimal_sum", "digits_only",
		"format_decimal", "from_sap_time", "iso_country", "normalize_space", "round",
		"to_iso_date", "to_rfc3339", "to_sap_date", "to_sap_time", "to_sf_datetime",
		"truncate", "unit", "xref",
	}
}
