package translate

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/cockroachdb/apd/v3"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/weirhq/weir/host/config"
)

// UnitConversion is the result of looking a unit up in a units table.
type UnitConversion struct {
	// From is the table entry that matched, as written in the table.
	From string
	// Unit is the destination unit.
	Unit string
	// Factor is the exact factor: a quantity in From times Factor is the
	// quantity in Unit. It is shared: do not modify it.
	Factor *apd.Decimal

	factor cty.Value // Factor as an HCL number
}

// unitIndex is a units table prepared for lookups.
type unitIndex struct {
	size    int
	entries map[string]UnitConversion
	// folded maps a folded name to the entries that fold to it.
	folded map[string][]string
	err    error
}

// unitCache caches the index of each units table of one configuration; it
// lives as long as the configuration's functions.
type unitCache struct {
	m sync.Map // *config.UnitTable → *unitIndex
}

// index returns the index of t, built on first use (and again if the table
// changed size, which happens only while the configuration is parsed).
func (uc *unitCache) index(t *config.UnitTable) *unitIndex {
	if v, ok := uc.m.Load(t); ok {
		if idx := v.(*unitIndex); idx.size == len(t.Entries) {
			return idx
		}
	}
	idx := newUnitIndex(t)
	uc.m.Store(t, idx)
	return idx
}

func newUnitIndex(t *config.UnitTable) *unitIndex {
	idx := &unitIndex{size: len(t.Entries), entries: map[string]UnitConversion{}, folded: map[string][]string{}}
	for name, u := range t.Entries {
		f := u.Factor
		var d *apd.Decimal
		if f == nil {
			d = apd.New(1, 0)
		} else {
			var err error
			if d, err = DecimalFromNumber(f); err != nil && idx.err == nil {
				idx.err = fmt.Errorf("factor of unit %s in units table %s: %w", quote(name), quote(t.Name), err)
			}
		}
		uc := UnitConversion{From: name, Unit: u.Unit, Factor: d}
		if d != nil {
			uc.factor = NumberFromDecimal(d)
		}
		idx.entries[name] = uc
		k := foldUnit(name)
		idx.folded[k] = append(idx.folded[k], name)
	}
	for _, names := range idx.folded {
		slices.Sort(names)
	}
	return idx
}

// foldUnit is a unit name compared without case and with its white space
// normalised.
func foldUnit(s string) string {
	return strings.ToLower(NormalizeSpace(s))
}

// LookupUnit finds value in table: an exact match first, then a match
// ignoring case and white space ("pack  of 12" finds "Pack of 12"). An
// unknown or ambiguous unit is an error naming the unit and the table.
func LookupUnit(table *config.UnitTable, value string) (UnitConversion, error) {
	return lookupUnit(newUnitIndex(table), table, value)
}

func lookupUnit(idx *unitIndex, table *config.UnitTable, value string) (UnitConversion, error) {
	if idx.err != nil {
		return UnitConversion{}, idx.err
	}
	if u, ok := idx.entries[value]; ok {
		return u, nil
	}
	switch names := idx.folded[foldUnit(value)]; len(names) {
	case 0:
	case 1:
		return idx.entries[names[0]], nil
	default:
		return UnitConversion{}, fmt.Errorf("unit %s matches %s in units table %s: write it exactly",
			quote(value), quoteList(names, " and "), quote(table.Name))
	}
	known := make([]string, 0, len(idx.entries))
	for name := range idx.entries {
		known = append(known, name)
	}
	slices.Sort(known)
	hint := ""
	if len(known) > 0 {
		more := ""
		if len(known) > 10 {
			known, more = known[:10], ", …"
		}
		hint = " (it has " + quoteList(known, ", ") + more + ")"
	}
	return UnitConversion{}, fmt.Errorf("unknown unit %s in units table %s%s", quote(value), quote(table.Name), hint)
}

func quoteList(names []string, sep string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(n)
	}
	return strings.Join(q, sep)
}

// unitTable returns the named units table of c.
func unitTable(c *config.Config, v cty.Value) (*config.UnitTable, error) {
	if v.IsNull() {
		return nil, errors.New("a units table name is required, not null")
	}
	name := v.AsString()
	if t := c.UnitTable(name); t != nil {
		return t, nil
	}
	var names []string
	for _, t := range c.Units {
		names = append(names, t.Name)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("unknown units table %s: the configuration has no units blocks", quote(name))
	}
	return nil, fmt.Errorf("unknown units table %s (tables: %s)", quote(name), quoteList(names, ", "))
}

// lookupUnitArgs resolves the table and unit arguments of unit and
// convert_quantity.
func lookupUnitArgs(c *config.Config, uc *unitCache, args []cty.Value) (UnitConversion, error) {
	t, err := unitTable(c, args[0])
	if err != nil {
		return UnitConversion{}, function.NewArgError(0, err)
	}
	if args[1].IsNull() {
		return UnitConversion{}, function.NewArgErrorf(1, "no unit given (null) for units table %s", quote(t.Name))
	}
	u, err := lookupUnit(uc.index(t), t, args[1].AsString())
	if err != nil {
		return UnitConversion{}, function.NewArgError(1, err)
	}
	return u, nil
}

var unitType = cty.Object(map[string]cty.Type{"unit": cty.String, "factor": cty.Number})

// makeUnitFunc makes unit(table, value) for one configuration.
func makeUnitFunc(c *config.Config, _ string) function.Function {
	uc := new(unitCache)
	return function.New(&function.Spec{
		Description: "Looks a unit up in a units table and returns {unit, factor}.",
		Params: []function.Parameter{
			{Name: "table", Type: cty.String, AllowNull: true},
			{Name: "value", Type: cty.String, AllowNull: true},
		},
		Type: function.StaticReturnType(unitType),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			u, err := lookupUnitArgs(c, uc, args)
			if err != nil {
				return cty.NilVal, err
			}
			return cty.ObjectVal(map[string]cty.Value{
				"unit":   cty.StringVal(u.Unit),
				"factor": u.factor,
			}), nil
		},
	})
}

var convertedType = cty.Object(map[string]cty.Type{"unit": cty.String, "factor": cty.Number, "quantity": cty.Number})

// makeConvertQuantityFunc makes convert_quantity(table, unit, quantity) for
// one configuration.
func makeConvertQuantityFunc(c *config.Config, _ string) function.Function {
	uc := new(unitCache)
	return function.New(&function.Spec{
		Description: "Converts a quantity through a units table, exactly in decimal: returns {unit, factor, quantity}.",
		Params: []function.Parameter{
			{Name: "table", Type: cty.String, AllowNull: true},
			{Name: "unit", Type: cty.String, AllowNull: true},
			decimalParam("quantity"),
		},
		Type: function.StaticReturnType(convertedType),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			u, err := lookupUnitArgs(c, uc, args)
			if err != nil {
				return cty.NilVal, err
			}
			q, err := decimalValue(args[2])
			if err != nil {
				return cty.NilVal, function.NewArgError(2, err)
			}
			out, err := Mul(q, u.Factor)
			if err != nil {
				return cty.NilVal, function.NewArgError(2, err)
			}
			return cty.ObjectVal(map[string]cty.Value{
				"unit":     cty.StringVal(u.Unit),
				"factor":   u.factor,
				"quantity": NumberFromDecimal(out),
			}), nil
		},
	})
}
