package translate

import (
	"fmt"
	"math/big"

	"github.com/zclconf/go-cty/cty"
)

// intArg returns a whole number argument within [lo, hi].
func intArg(v cty.Value, lo, hi int) (int, error) {
	if v.IsNull() {
		return 0, fmt.Errorf("must be a whole number, not null")
	}
	f := v.AsBigFloat()
	if !f.IsInt() {
		return 0, fmt.Errorf("must be a whole number, not %s", f.Text('g', 10))
	}
	if f.Cmp(big.NewFloat(float64(lo))) < 0 || f.Cmp(big.NewFloat(float64(hi))) > 0 {
		return 0, fmt.Errorf("must be between %d and %d, not %s", lo, hi, f.Text('g', 10))
	}
	n, _ := f.Int64()
	return int(n), nil
}

// typeName names a value's type in messages.
func typeName(v cty.Value) string {
	return v.Type().FriendlyName()
}

// quote quotes a value for messages, shortening long ones.
func quote(s string) string {
	const max = 80
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return fmt.Sprintf("%q", s)
}
