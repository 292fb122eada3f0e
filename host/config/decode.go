package config

import (
	"fmt"
	"math/big"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// decoder accumulates diagnostics while decoding.
type decoder struct {
	cfg   *Config
	diags hcl.Diagnostics
}

// scope is what expressions of one file are evaluated with.
type scope struct {
	dir string
	ctx *hcl.EvalContext
}

func (d *decoder) scope(dir string) *scope {
	return &scope{dir: dir, ctx: d.cfg.EvalContext(dir, nil)}
}

// errorAt adds an error diagnostic.
func (d *decoder) errorAt(subject, context hcl.Range, summary, detail string, args ...any) {
	d.diags = append(d.diags, newDiag(hcl.DiagError, subject, context, summary, detail, args...))
}

// warnAt adds a warning diagnostic.
func (d *decoder) warnAt(subject, context hcl.Range, summary, detail string, args ...any) {
	d.diags = append(d.diags, newDiag(hcl.DiagWarning, subject, context, summary, detail, args...))
}

// attrError adds an error about an attribute's value.
func (d *decoder) attrError(attr *hcl.Attribute, summary, detail string, args ...any) {
	d.errorAt(attr.Expr.Range(), attr.Range, summary, detail, args...)
}

func newDiag(sev hcl.DiagnosticSeverity, subject, context hcl.Range, summary, detail string, args ...any) *hcl.Diagnostic {
	// detail is always a format: vet checks the callers as printf
	// wrappers, so a literal % is written %%.
	detail = fmt.Sprintf(detail, args...)
	diag := &hcl.Diagnostic{Severity: sev, Summary: summary, Detail: detail, Subject: subject.Ptr()}
	if context != (hcl.Range{}) && context != subject {
		diag.Context = context.Ptr()
	}
	return diag
}

// pos renders a range's start as file:line:col.
func pos(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// blockRange is the whole range of a block, header to closing brace.
func blockRange(b *hcl.Block) hcl.Range {
	if body, ok := b.Body.(*hclsyntax.Body); ok {
		return hcl.RangeBetween(b.DefRange, body.SrcRange)
	}
	return b.DefRange
}

// nameRange is the range of a block's label i, or its header.
func nameRange(b *hcl.Block, i int) hcl.Range {
	if i < len(b.LabelRanges) {
		return b.LabelRanges[i]
	}
	return b.DefRange
}

// content decodes a body strictly against schema.
func (d *decoder) content(body hcl.Body, schema *hcl.BodySchema) *hcl.BodyContent {
	c, diags := body.Content(schema)
	d.diags = append(d.diags, diags...)
	return c
}

// single returns the only block of the given type, reporting any other.
func (d *decoder) single(blocks hcl.Blocks, typ, where string) *hcl.Block {
	var first *hcl.Block
	for _, b := range blocks {
		if b.Type != typ {
			continue
		}
		if first == nil {
			first = b
			continue
		}
		d.errorAt(b.DefRange, blockRange(b), "Duplicate "+typ+" block",
			"Only one %s block is allowed %s; the first is at %s.", typ, where, pos(first.DefRange))
	}
	return first
}

// checkName reports a label that is not an identifier.
func (d *decoder) checkName(b *hcl.Block, i int, what string) {
	name := b.Labels[i]
	if !hclsyntax.ValidIdentifier(name) {
		d.errorAt(nameRange(b, i), b.DefRange, "Invalid "+what+" name",
			"%q is not a valid %s name: use letters, digits, underscores and dashes, starting with a letter or an underscore.", name, what)
	}
}

// Flags of attribute decoding.
type flags int

const (
	required  flags = 1 << iota // null is refused (absence is checked by the schema)
	sensitive                   // must come from env() or file(); collected as a secret
	zeroOK                      // a duration of 0 is allowed (it turns something off)
)

// value evaluates attr and converts it to ty. ok is false when the
// attribute is absent, null (unless required, an error) or invalid
// (diagnostics added).
func (d *decoder) value(attr *hcl.Attribute, s *scope, ty cty.Type, f flags) (cty.Value, bool) {
	if attr == nil {
		return cty.NilVal, false
	}
	if f&sensitive != 0 && !fromSecretSource(attr.Expr) {
		d.diags = append(d.diags, literalSecret(attr))
		return cty.NilVal, false
	}
	v, diags := attr.Expr.Value(s.ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	v, ok := d.convert(attr, v, ty)
	if !ok {
		return cty.NilVal, false
	}
	if v.IsNull() {
		if f&required != 0 {
			d.attrError(attr, "Invalid value", "%s must not be null.", attr.Name)
		}
		return cty.NilVal, false
	}
	if f&sensitive != 0 {
		d.cfg.collectSecrets(v)
	}
	return v, true
}

// convert converts v to ty, reporting a mismatch at attr.
func (d *decoder) convert(attr *hcl.Attribute, v cty.Value, ty cty.Type) (cty.Value, bool) {
	if !v.IsWhollyKnown() {
		d.attrError(attr, "Invalid value", "The value of %s is not known when the configuration is loaded.", attr.Name)
		return cty.NilVal, false
	}
	out, err := convert.Convert(v, ty)
	if err != nil {
		d.attrError(attr, "Incorrect attribute value type", "Inappropriate value for %s: %s.", attr.Name, err)
		return cty.NilVal, false
	}
	return out, true
}

// str decodes a string attribute into dst.
func (d *decoder) str(attrs hcl.Attributes, name string, s *scope, f flags, dst *string) bool {
	v, ok := d.value(attrs[name], s, cty.String, f)
	if ok {
		*dst = v.AsString()
	}
	return ok
}

// enum decodes a string attribute that must be one of allowed.
func (d *decoder) enum(attrs hcl.Attributes, name string, s *scope, f flags, dst *string, allowed ...string) bool {
	var v string
	if !d.str(attrs, name, s, f, &v) {
		return false
	}
	for _, a := range allowed {
		if v == a {
			*dst = v
			return true
		}
	}
	d.attrError(attrs[name], "Invalid value", "%s must be %s, not %q.", name, orList(allowed), v)
	return false
}

// orList renders "a", "b" or "c".
func orList(items []string) string {
	q := make([]string, len(items))
	for i, it := range items {
		q[i] = fmt.Sprintf("%q", it)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// strList decodes a list of strings.
func (d *decoder) strList(attrs hcl.Attributes, name string, s *scope, f flags, dst *[]string) bool {
	v, ok := d.value(attrs[name], s, cty.List(cty.String), f)
	if !ok {
		return false
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			d.attrError(attrs[name], "Invalid value", "%s must not contain null.", name)
			return false
		}
		out = append(out, e.AsString())
	}
	*dst = out
	return true
}

// integer decodes a whole number not below min.
func (d *decoder) integer(attrs hcl.Attributes, name string, s *scope, f flags, min int64, dst *int64) bool {
	attr := attrs[name]
	v, ok := d.value(attr, s, cty.Number, f)
	if !ok {
		return false
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		d.attrError(attr, "Invalid value", "%s must be a whole number, not %s.", name, bf.Text('f', -1))
		return false
	}
	i, acc := bf.Int64()
	if acc != big.Exact {
		d.attrError(attr, "Invalid value", "%s is too large.", name)
		return false
	}
	if i < min {
		switch min {
		case 0:
			d.attrError(attr, "Invalid value", "%s must not be negative, got %d.", name, i)
		case 1:
			d.attrError(attr, "Invalid value", "%s must be greater than 0, got %d.", name, i)
		default:
			d.attrError(attr, "Invalid value", "%s must be at least %d, got %d.", name, min, i)
		}
		return false
	}
	*dst = i
	return true
}

// integerInt is integer for an int destination.
func (d *decoder) integerInt(attrs hcl.Attributes, name string, s *scope, f flags, min int64, dst *int) bool {
	var i int64
	if !d.integer(attrs, name, s, f, min, &i) {
		return false
	}
	*dst = int(i)
	return true
}

// duration decodes a positive duration string such as "30s".
func (d *decoder) duration(attrs hcl.Attributes, name string, s *scope, f flags, dst *time.Duration) bool {
	var str string
	if !d.str(attrs, name, s, f, &str) {
		return false
	}
	v, err := time.ParseDuration(strings.TrimSpace(str))
	if err != nil {
		d.attrError(attrs[name], "Invalid duration",
			"%q is not a duration: write a number and a unit (ms, s, m or h), such as \"30s\", \"5m\" or \"2h\".", str)
		return false
	}
	if v < 0 || (v == 0 && f&zeroOK == 0) {
		d.attrError(attrs[name], "Invalid duration", "%s must be greater than 0, got %q.", name, str)
		return false
	}
	*dst = v
	return true
}

var sizeRE = regexp.MustCompile(`^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$`)

var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"kb": 1000, "mb": 1000 * 1000, "gb": 1000 * 1000 * 1000,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
}

// parseSize parses sizes such as "1MiB", "512KiB", "10MB" or "2048".
func parseSize(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	mult, ok := sizeUnits[strings.ToLower(m[2])]
	if !ok {
		return 0, fmt.Errorf("%q has an unknown unit %q", s, m[2])
	}
	n, _, err := big.ParseFloat(m[1], 10, 256, big.ToZero)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	n.Mul(n, new(big.Float).SetInt64(mult))
	if !n.IsInt() {
		return 0, fmt.Errorf("%q is not a whole number of bytes", s)
	}
	v, acc := n.Int64()
	if acc != big.Exact {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return v, nil
}

// size decodes a positive size, a string such as "1MiB" or a number of
// bytes.
func (d *decoder) size(attrs hcl.Attributes, name string, s *scope, f flags, dst *int64) bool {
	attr := attrs[name]
	v, ok := d.value(attr, s, cty.DynamicPseudoType, f)
	if !ok {
		return false
	}
	var str string
	switch v.Type() {
	case cty.String:
		str = v.AsString()
	case cty.Number:
		str = v.AsBigFloat().Text('f', -1)
	default:
		d.attrError(attr, "Incorrect attribute value type", "%s must be a size such as \"1MiB\", \"512KiB\" or \"10MB\".", name)
		return false
	}
	n, err := parseSize(str)
	if err != nil {
		d.attrError(attr, "Invalid size", "%s: write a number and a unit (B, KB, MB, GB, KiB, MiB or GiB), such as \"1MiB\".", err)
		return false
	}
	if n <= 0 {
		d.attrError(attr, "Invalid size", "%s must be greater than 0.", name)
		return false
	}
	*dst = n
	return true
}

// httpURL decodes an absolute http(s) URL.
func (d *decoder) httpURL(attrs hcl.Attributes, name string, s *scope, f flags, dst *string) bool {
	var str string
	if !d.str(attrs, name, s, f, &str) {
		return false
	}
	u, err := url.Parse(str)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.attrError(attrs[name], "Invalid URL", "%s must be an absolute http or https URL, not %q.", name, str)
		return false
	}
	*dst = str
	return true
}

// collectSecrets records every string in v as a secret.
func (c *Config) collectSecrets(v cty.Value) {
	_ = cty.Walk(v, func(_ cty.Path, v cty.Value) (bool, error) {
		if v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
			c.addSecret(v.AsString())
		}
		return true, nil
	})
}
