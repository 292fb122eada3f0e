package engine

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/weirhq/weir/host/expr"
	"github.com/weirhq/weir/host/translate"
	"github.com/weirhq/weir/sdk"
)

// evalError is a record's permanent failure in an expression, with the
// output field it was building.
type evalError struct {
	Field  string
	Reason string
	// Transient is set when a function failed for a reason that passes
	// (the store was unreachable): the record is retried.
	Transient bool
}

func (e *evalError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// diagReason renders diagnostics as "file:line:col: summary: detail; ...".
func diagReason(diags hcl.Diagnostics) string {
	var parts []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		s := d.Summary
		if d.Detail != "" {
			s += ": " + d.Detail
		}
		if d.Subject != nil {
			s = fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, s)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// evaluator evaluates one pipeline's expressions.
type evaluator struct {
	funcs Functions
}

func (ev *evaluator) ctx(vars map[string]cty.Value) *hcl.EvalContext {
	return &hcl.EvalContext{Variables: vars, Functions: ev.funcs}
}

// recordVars returns the variables for a record: `record` is its payload.
func recordVars(payload []byte) (map[string]cty.Value, error) {
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	v, err := expr.FromJSON(payload)
	if err != nil {
		return nil, &evalError{Field: "record", Reason: "payload is not valid JSON: " + err.Error()}
	}
	return map[string]cty.Value{"record": v}, nil
}

// key evaluates the key expression to a string.
func (ev *evaluator) key(e hcl.Expression, vars map[string]cty.Value) (string, error) {
	v, diags := e.Value(ev.ctx(vars))
	if diags.HasErrors() {
		return "", &evalError{Field: "key", Reason: diagReason(diags)}
	}
	if v.IsNull() || !v.IsKnown() {
		return "", &evalError{Field: "key", Reason: "key is null"}
	}
	v, _ = v.Unmark()
	switch v.Type() {
	case cty.String:
		if v.AsString() == "" {
			return "", &evalError{Field: "key", Reason: "key is empty"}
		}
		return v.AsString(), nil
	case cty.Number:
		return expr.FormatNumber(v.AsBigFloat()), nil
	}
	return "", &evalError{Field: "key", Reason: "key must be a string or a number, not " + v.Type().FriendlyName()}
}

// when evaluates the filter; a null result counts as false.
func (ev *evaluator) when(e hcl.Expression, vars map[string]cty.Value) (bool, error) {
	if e == nil {
		return true, nil
	}
	v, diags := e.Value(ev.ctx(vars))
	if diags.HasErrors() {
		return false, &evalError{Field: "when", Reason: diagReason(diags)}
	}
	if v.IsNull() {
		return false, nil
	}
	v, err := convert.Convert(v, cty.Bool)
	if err != nil || !v.IsKnown() {
		return false, &evalError{Field: "when", Reason: "when must be true or false"}
	}
	return v.True(), nil
}

// value evaluates an expression that feeds a field (lookup query).
func (ev *evaluator) value(field string, e hcl.Expression, vars map[string]cty.Value) (cty.Value, error) {
	v, diags := e.Value(ev.ctx(vars))
	if diags.HasErrors() {
		return cty.NilVal, &evalError{Field: field, Reason: diagReason(diags), Transient: translate.Transient(diags)}
	}
	return v, nil
}

// mapRecord builds the destination payload from the map attributes, in
// name order so the first failing field is reported the same way each time.
func (ev *evaluator) mapRecord(m map[string]hcl.Expression, vars map[string]cty.Value) ([]byte, error) {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make(map[string]cty.Value, len(m))
	for _, n := range names {
		v, diags := m[n].Value(ev.ctx(vars))
		if diags.HasErrors() {
			return nil, &evalError{Field: n, Reason: diagReason(diags), Transient: translate.Transient(diags)}
		}
		out[n] = v
	}
	b, err := expr.ToJSON(cty.ObjectVal(out))
	if err != nil {
		return nil, &evalError{Reason: err.Error()}
	}
	return b, nil
}

// permanentFromEval returns the sdk error for an evaluation failure:
// permanent, unless the failure was transient (a function that reads the
// store could not reach it), which is retried.
func permanentFromEval(err error) *sdk.Error {
	if e, ok := err.(*evalError); ok {
		status := sdk.StatusPermanent
		if e.Transient {
			status = sdk.StatusRetryable
		}
		return &sdk.Error{Status: status, Code: "MAPPING", Message: e.Reason, Field: e.Field}
	}
	return &sdk.Error{Status: sdk.StatusPermanent, Code: "MAPPING", Message: err.Error()}
}
