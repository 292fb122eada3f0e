package translate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Currency is an ISO 4217 currency.
type Currency struct {
	// Code is the three-letter code, e.g. "EUR".
	Code string
	// Numeric is the three-digit code with its leading zeros, e.g. "978".
	Numeric string
	// MinorUnits is the number of decimal places of amounts (2 for EUR,
	// 0 for JPY, 3 for KWD), or -1 where ISO 4217 gives none (gold, XXX).
	MinorUnits int
	// Name is the ISO English name, e.g. "Euro".
	Name string
}

var currencyByCode, currencyByNumeric = func() (map[string]int, map[int]int) {
	byCode, byNum := map[string]int{}, map[int]int{}
	for i, c := range currencies {
		n, err := strconv.Atoi(c.Numeric)
		if len(c.Code) != 3 || len(c.Numeric) != 3 || err != nil {
			panic(fmt.Sprintf("translate: malformed currency %+v", c))
		}
		if _, dup := byCode[c.Code]; dup {
			panic("translate: duplicate currency " + c.Code)
		}
		if j, dup := byNum[n]; dup {
			panic(fmt.Sprintf("translate: numeric %s of both %s and %s", c.Numeric, currencies[j].Code, c.Code))
		}
		byCode[c.Code], byNum[n] = i, i
	}
	return byCode, byNum
}()

// LookupCurrency finds an active ISO 4217 currency by its alphabetic code,
// in any case, or its numeric code. A withdrawn code (HRK, VEF…) is an
// error that names its successor.
func LookupCurrency(s string) (Currency, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	if t == "" {
		return Currency{}, errors.New("no currency given (empty string)")
	}
	if isDigits(t) {
		if n, err := strconv.Atoi(t); err == nil && len(t) <= 3 {
			if i, ok := currencyByNumeric[n]; ok {
				return currencies[i], nil
			}
		}
		return Currency{}, fmt.Errorf("unknown currency %s: not an ISO 4217 numeric code", quote(s))
	}
	if i, ok := currencyByCode[t]; ok {
		return currencies[i], nil
	}
	if next, ok := withdrawnCurrencies[t]; ok {
		return Currency{}, fmt.Errorf("currency %s was withdrawn from ISO 4217 (replaced by %s)", quote(s), next)
	}
	return Currency{}, fmt.Errorf("unknown currency %s", quote(s))
}

// Currencies returns every active ISO 4217 currency, by code.
func Currencies() []Currency {
	return append([]Currency(nil), currencies...)
}

var currencyType = cty.Object(map[string]cty.Type{
	"code":        cty.String,
	"numeric":     cty.String,
	"minor_units": cty.Number,
	"name":        cty.String,
})

var currencyFunc = function.New(&function.Spec{
	Description: "Checks an ISO 4217 currency code and returns {code, numeric, minor_units, name}.",
	Params:      []function.Parameter{{Name: "code", Type: cty.String, AllowNull: true}},
	Type:        function.StaticReturnType(currencyType),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if args[0].IsNull() {
			return cty.NilVal, function.NewArgErrorf(0, "no currency given (null)")
		}
		c, err := LookupCurrency(args[0].AsString())
		if err != nil {
			return cty.NilVal, function.NewArgError(0, err)
		}
		minor := cty.NullVal(cty.Number)
		if c.MinorUnits >= 0 {
			minor = cty.NumberIntVal(int64(c.MinorUnits))
		}
		return cty.ObjectVal(map[string]cty.Value{
			"code":        cty.StringVal(c.Code),
			"numeric":     cty.StringVal(c.Numeric),
			"minor_units": minor,
			"name":        cty.StringVal(c.Name),
		}), nil
	},
})
