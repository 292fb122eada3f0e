package config

import (
	"fmt"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Variables of per-record expressions.
const (
	varRecord = "record"
	varLookup = "lookup"
)

// exprRules says what a per-record expression may refer to.
type exprRules struct {
	// what names the expression in messages, e.g. "key".
	what string
	// allowLookup allows references to lookup.
	allowLookup bool
	// lookups are the names lookup.<name> may refer to.
	lookups []string
	// declared are all the pipeline's lookups, for better messages.
	declared []string
}

// checkExpr checks a per-record expression statically: every variable is
// record or lookup.<declared lookup>, and every function exists.
func (d *decoder) checkExpr(expr hcl.Expression, s *scope, r exprRules) {
	for _, t := range expr.Variables() {
		root := t.RootName()
		rootRange := t[0].SourceRange()
		switch root {
		case varRecord:
		case varLookup:
			if !r.allowLookup {
				d.errorAt(rootRange, expr.Range(), "Lookup results not available",
					"%s is evaluated before lookups run: it may refer only to record.", r.what)
				continue
			}
			if len(t) < 2 {
				continue
			}
			name, ok := stepName(t[1])
			rng := hcl.RangeBetween(rootRange, t[1].SourceRange())
			if !ok {
				d.errorAt(rng, expr.Range(), "Invalid lookup reference", "Refer to a lookup's result as lookup.<name>.")
				continue
			}
			if slices.Contains(r.lookups, name) {
				continue
			}
			if slices.Contains(r.declared, name) {
				d.errorAt(rng, expr.Range(), "Lookup not available",
					"%s may refer only to lookups declared before it, and lookup %q is not.", r.what, name)
				continue
			}
			d.errorAt(rng, expr.Range(), "Unknown lookup",
				"There is no lookup named %q in this pipeline.%s", name, didYouMean(name, r.lookups))
		default:
			vars := "record (the source record)"
			options := []string{varRecord}
			if r.allowLookup {
				vars += " and lookup.<name> (a lookup's result)"
				options = append(options, varLookup)
			}
			d.errorAt(rootRange, expr.Range(), "Unknown variable",
				"There is no variable named %q: %s may refer to %s.%s", root, r.what, vars, didYouMean(root, options))
		}
	}
	d.checkFuncs(expr, s)
}

// checkFuncs reports calls to unknown functions.
func (d *decoder) checkFuncs(expr hcl.Expression, s *scope) {
	sx, ok := expr.(hclsyntax.Expression)
	if !ok {
		return
	}
	hclsyntax.VisitAll(sx, func(n hclsyntax.Node) hcl.Diagnostics {
		call, ok := n.(*hclsyntax.FunctionCallExpr)
		if !ok {
			return nil
		}
		if _, ok := s.ctx.Functions[call.Name]; !ok {
			names := make([]string, 0, len(s.ctx.Functions))
			for name := range s.ctx.Functions {
				names = append(names, name)
			}
			d.errorAt(call.NameRange, call.Range(), "Call to unknown function",
				"There is no function named %q.%s", call.Name, didYouMean(call.Name, names))
		}
		return nil
	})
}

// stepName is the name in .name or ["name"].
func stepName(step hcl.Traverser) (string, bool) {
	switch s := step.(type) {
	case hcl.TraverseAttr:
		return s.Name, true
	case hcl.TraverseIndex:
		if s.Key.Type() == cty.String && !s.Key.IsNull() && s.Key.IsKnown() {
			return s.Key.AsString(), true
		}
	}
	return "", false
}

// fromSecretSource reports whether expr calls env() or file() anywhere.
func fromSecretSource(expr hcl.Expression) bool {
	sx, ok := expr.(hclsyntax.Expression)
	if !ok {
		return false
	}
	found := false
	hclsyntax.VisitAll(sx, func(n hclsyntax.Node) hcl.Diagnostics {
		if call, ok := n.(*hclsyntax.FunctionCallExpr); ok && (call.Name == "env" || call.Name == "file") {
			found = true
		}
		return nil
	})
	return found
}

// literalSecret is the error for a secret written in the file.
func literalSecret(attr *hcl.Attribute) *hcl.Diagnostic {
	return newDiag(hcl.DiagError, attr.Expr.Range(), attr.Range, "Literal secret",
		"%s is sensitive and must not be written in the file: use env(\"NAME\") or file(\"path\") so the secret stays out of the file.", attr.Name)
}

// didYouMean suggests the option closest to name, if close enough.
func didYouMean(name string, options []string) string {
	best, bestDist := "", 3
	for _, o := range options {
		dist := levenshtein(name, o)
		if dist*2 > len(name) {
			continue
		}
		if dist < bestDist || (dist == bestDist && best != "" && o < best) {
			best, bestDist = o, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

// levenshtein is the edit distance between a and b.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
