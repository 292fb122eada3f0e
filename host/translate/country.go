package translate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Country is an ISO 3166-1 country.
type Country struct {
	// Alpha2 is the two-letter code, e.g. "US".
	Alpha2 string
	// Alpha3 is the three-letter code, e.g. "USA".
	Alpha3 string
	// Numeric is the three-digit code with its leading zeros, e.g. "036".
	Numeric string
	// Name is the English short name, e.g. "United States".
	Name string
}

// countryIndex finds countries by normalised name or code, and by number.
type countryIndex struct {
	byKey     map[string]int
	byNumeric map[int]int
}

var countryIdx = buildCountryIndex()

// buildCountryIndex indexes every code, name and alias. It panics when two
// countries share a key: the tables must never be ambiguous.
func buildCountryIndex() *countryIndex {
	idx := &countryIndex{byKey: map[string]int{}, byNumeric: map[int]int{}}
	add := func(i int, s string) {
		k := countryKey(s)
		if k == "" {
			panic(fmt.Sprintf("translate: country %s: empty key for %q", countries[i].Alpha2, s))
		}
		if j, ok := idx.byKey[k]; ok && j != i {
			panic(fmt.Sprintf("translate: %q names both %s and %s", s, countries[j].Alpha2, countries[i].Alpha2))
		}
		idx.byKey[k] = i
	}
	pos := map[string]int{}
	for i, c := range countries {
		pos[c.Alpha2] = i
		n, err := strconv.Atoi(c.Numeric)
		if err != nil || len(c.Numeric) != 3 || len(c.Alpha2) != 2 || len(c.Alpha3) != 3 {
			panic(fmt.Sprintf("translate: malformed country %+v", c))
		}
		if j, ok := idx.byNumeric[n]; ok {
			panic(fmt.Sprintf("translate: numeric %s of both %s and %s", c.Numeric, countries[j].Alpha2, c.Alpha2))
		}
		idx.byNumeric[n] = i
		add(i, c.Alpha2)
		add(i, c.Alpha3)
		for _, name := range nameVariants(c.Name) {
			add(i, name)
		}
	}
	for a2, aliases := range countryAliases {
		i, ok := pos[a2]
		if !ok {
			panic(fmt.Sprintf("translate: aliases of unknown country %s", a2))
		}
		for _, a := range aliases {
			add(i, a)
		}
	}
	return idx
}

// nameVariants returns an ISO name and the forms derived from it: without
// a parenthesised part ("Saint Martin (French part)" → "Saint Martin") and
// with an inverted qualifier put back in front ("Korea, Republic of" →
// "Republic of Korea").
func nameVariants(name string) []string {
	out := []string{name}
	if i := strings.Index(name, " ("); i > 0 && strings.HasSuffix(name, ")") {
		out = append(out, name[:i])
	}
	if head, tail, ok := strings.Cut(name, ", "); ok {
		out = append(out, tail+" "+head)
	}
	return out
}

// countryKey normalises a country as written for comparison: accents
// folded, case, apostrophes and dots ignored, "&" read as "and", "St" as
// "Saint", the word "the" dropped, and the remaining words joined, so that
// "U.S.A." and "usa", or "Côte d’Ivoire" and "COTE DIVOIRE", are the same.
func countryKey(s string) string {
	s = strings.ToLower(ASCIIFold(s))
	var b strings.Builder
	word := make([]byte, 0, 16)
	flush := func() {
		switch w := string(word); w {
		case "", "the":
		case "st":
			b.WriteString("saint")
		default:
			b.WriteString(w)
		}
		word = word[:0]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			word = append(word, c)
		case c == '\'' || c == '.' || c == '`':
			// U.S.A. is USA; d'Ivoire is divoire.
		case c == '&':
			flush()
			b.WriteString("and")
		default:
			flush()
		}
	}
	flush()
	return b.String()
}

// LookupCountry finds a country by its alpha-2, alpha-3 or numeric code
// (with or without leading zeros), its ISO name or a common variant
// ("USA", "U.K.", "Deutschland", "Holland", "South Korea", "Ivory Coast"),
// ignoring case, accents, punctuation and surrounding space. It never
// guesses: anything else is an error naming the value.
func LookupCountry(s string) (Country, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return Country{}, errors.New("no country given (empty string)")
	}
	if isDigits(t) {
		if digits := strings.TrimLeft(t, "0"); digits != "" && len(digits) <= 3 {
			n, _ := strconv.Atoi(digits)
			if i, ok := countryIdx.byNumeric[n]; ok {
				return countries[i], nil
			}
		}
		return Country{}, fmt.Errorf("unknown country %s: not an ISO 3166-1 numeric code", quote(s))
	}
	if i, ok := countryIdx.byKey[countryKey(t)]; ok {
		return countries[i], nil
	}
	return Country{}, fmt.Errorf("unknown country %s", quote(s))
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// Countries returns every ISO 3166-1 country, in the order of their
// English names.
func Countries() []Country {
	return append([]Country(nil), countries...)
}

var countryType = cty.Object(map[string]cty.Type{
	"alpha2":  cty.String,
	"alpha3":  cty.String,
	"numeric": cty.String,
	"name":    cty.String,
})

var isoCountryFunc = function.New(&function.Spec{
	Description: "Returns the ISO 3166-1 country {alpha2, alpha3, numeric, name} of a code or a name.",
	Params:      []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowNull: true, AllowDynamicType: true}},
	Type:        function.StaticReturnType(countryType),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v := args[0]
		var c Country
		var err error
		switch {
		case v.IsNull():
			err = errors.New("no country given (null)")
		case v.Type() == cty.String:
			c, err = LookupCountry(v.AsString())
		case v.Type() == cty.Number:
			c, err = countryByNumber(v)
		default:
			err = fmt.Errorf("a country code or name is required, not %s", typeName(v))
		}
		if err != nil {
			return cty.NilVal, function.NewArgError(0, err)
		}
		return cty.ObjectVal(map[string]cty.Value{
			"alpha2":  cty.StringVal(c.Alpha2),
			"alpha3":  cty.StringVal(c.Alpha3),
			"numeric": cty.StringVal(c.Numeric),
			"name":    cty.StringVal(c.Name),
		}), nil
	},
})

// countryByNumber finds a country by its numeric code given as a number.
func countryByNumber(v cty.Value) (Country, error) {
	f := v.AsBigFloat()
	if f.IsInt() {
		if n, acc := f.Int64(); acc == 0 && n > 0 && n < 1000 {
			if i, ok := countryIdx.byNumeric[int(n)]; ok {
				return countries[i], nil
			}
		}
	}
	return Country{}, fmt.Errorf("unknown country %s: not an ISO 3166-1 numeric code", f.Text('g', 20))
}
