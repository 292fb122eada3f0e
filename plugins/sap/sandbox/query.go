package sandbox

import (
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// token kinds of the $filter lexer.
const (
	tkEOF = iota
	tkIdent
	tkString
	tkNumber
	tkTyped // datetime'…', datetimeoffset'…', guid'…'
	tkOpen
	tkClose
	tkComma
	tkEq
)

type token struct {
	kind int
	text string // identifier, string content, number text, typed literal content
	typ  string // prefix of a typed literal
}

func lex(s string) ([]token, error) {
	var out []token
	i := 0
	quoted := func() (string, error) {
		// s[i] is the opening quote.
		var b strings.Builder
		i++
		for i < len(s) {
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					b.WriteByte('\'')
					i += 2
					continue
				}
				i++
				return b.String(), nil
			}
			b.WriteByte(s[i])
			i++
		}
		return "", errors.New("unterminated string literal")
	}
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(':
			out = append(out, token{kind: tkOpen})
			i++
		case c == ')':
			out = append(out, token{kind: tkClose})
			i++
		case c == ',':
			out = append(out, token{kind: tkComma})
			i++
		case c == '=':
			out = append(out, token{kind: tkEq, text: "="})
			i++
		case c == '\'':
			v, err := quoted()
			if err != nil {
				return nil, err
			}
			out = append(out, token{kind: tkString, text: v})
		case c == '-' || c == '+' || (c >= '0' && c <= '9') || c == '.':
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == 'e' || s[j] == 'E') {
				j++
			}
			num := s[i:j]
			if j < len(s) && strings.ContainsRune("mMdDfFlL", rune(s[j])) {
				j++
			}
			out = append(out, token{kind: tkNumber, text: num})
			i = j
		case unicode.IsLetter(rune(c)) || c == '_' || c == '$':
			j := i
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '_' || s[j] == '/' || s[j] == '.') {
				j++
			}
			word := s[i:j]
			i = j
			if i < len(s) && s[i] == '\'' {
				v, err := quoted()
				if err != nil {
					return nil, err
				}
				out = append(out, token{kind: tkTyped, typ: strings.ToLower(word), text: v})
				continue
			}
			out = append(out, token{kind: tkIdent, text: word})
		default:
			return nil, fmt.Errorf("unexpected character %q", c)
		}
	}
	return append(out, token{kind: tkEOF}), nil
}

// expr is a node of a parsed $filter.
type expr interface {
	eval(t *entityType, e *entity) any
}

type (
	litExpr  struct{ v any }
	propExpr struct{ p *Property }
	binExpr  struct {
		op   string
		l, r expr
	}
	notExpr  struct{ x expr }
	callExpr struct {
		fn   string
		args []expr
	}
)

func (x litExpr) eval(*entityType, *entity) any { return x.v }
func (x propExpr) eval(_ *entityType, e *entity) any {
	v := e.vals[x.p.Name]
	if v == nil {
		return zeroValue(x.p)
	}
	return v
}
func (x notExpr) eval(t *entityType, e *entity) any {
	b, _ := x.x.eval(t, e).(bool)
	return !b
}

func (x binExpr) eval(t *entityType, e *entity) any {
	switch x.op {
	case "and":
		l, _ := x.l.eval(t, e).(bool)
		if !l {
			return false
		}
		r, _ := x.r.eval(t, e).(bool)
		return r
	case "or":
		l, _ := x.l.eval(t, e).(bool)
		if l {
			return true
		}
		r, _ := x.r.eval(t, e).(bool)
		return r
	}
	c, ok := compare(x.l.eval(t, e), x.r.eval(t, e))
	if !ok {
		return false
	}
	switch x.op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false
}

func (x callExpr) eval(t *entityType, e *entity) any {
	var args []string
	for _, a := range x.args {
		s, _ := a.eval(t, e).(string)
		args = append(args, s)
	}
	switch x.fn {
	case "substringof":
		return strings.Contains(args[1], args[0])
	case "startswith":
		return strings.HasPrefix(args[0], args[1])
	case "endswith":
		return strings.HasSuffix(args[0], args[1])
	case "tolower":
		return strings.ToLower(args[0])
	case "toupper":
		return strings.ToUpper(args[0])
	case "trim":
		return strings.TrimSpace(args[0])
	}
	return nil
}

// parser is a recursive-descent $filter parser.
type parser struct {
	t    *entityType
	toks []token
	pos  int
}

func parseFilter(t *entityType, s string) (expr, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{t: t, toks: toks}
	x, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tkEOF {
		return nil, fmt.Errorf("unexpected %q", p.peek().text)
	}
	return x, nil
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token { t := p.toks[p.pos]; p.pos++; return t }
func (p *parser) word(w string) bool {
	if t := p.peek(); t.kind == tkIdent && strings.EqualFold(t.text, w) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) or() (expr, error) {
	l, err := p.and()
	for err == nil && p.word("or") {
		var r expr
		if r, err = p.and(); err == nil {
			l = binExpr{op: "or", l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) and() (expr, error) {
	l, err := p.not()
	for err == nil && p.word("and") {
		var r expr
		if r, err = p.not(); err == nil {
			l = binExpr{op: "and", l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) not() (expr, error) {
	if p.word("not") {
		x, err := p.not()
		return notExpr{x}, err
	}
	return p.cmp()
}

func (p *parser) cmp() (expr, error) {
	l, err := p.primary()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind == tkIdent {
		switch op := strings.ToLower(t.text); op {
		case "eq", "ne", "gt", "ge", "lt", "le":
			p.pos++
			r, err := p.primary()
			if err != nil {
				return nil, err
			}
			return alphaAware(binExpr{op: op, l: l, r: r}), nil
		}
	}
	return l, nil
}

// alphaAware pads a string literal compared with an ALPHA property, as the
// gateway's input conversion does.
func alphaAware(b binExpr) expr {
	fix := func(prop, lit expr) expr {
		pe, ok := prop.(propExpr)
		le, ok2 := lit.(litExpr)
		if !ok || !ok2 || !pe.p.Alpha {
			return lit
		}
		if s, ok := le.v.(string); ok {
			return litExpr{padAlpha(s, pe.p.MaxLength)}
		}
		return lit
	}
	b.r = fix(b.l, b.r)
	b.l = fix(b.r, b.l)
	return b
}

func (p *parser) primary() (expr, error) {
	t := p.next()
	switch t.kind {
	case tkOpen:
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.next().kind != tkClose {
			return nil, errors.New("missing )")
		}
		return x, nil
	case tkString:
		return litExpr{t.text}, nil
	case tkNumber:
		r, ok := new(big.Rat).SetString(t.text)
		if !ok {
			return nil, fmt.Errorf("invalid number %q", t.text)
		}
		return litExpr{r}, nil
	case tkTyped:
		switch t.typ {
		case "datetime", "datetimeoffset":
			for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.9999999", "2006-01-02T15:04:05", "2006-01-02T15:04"} {
				if tm, err := time.Parse(layout, t.text); err == nil {
					return litExpr{tm.UTC()}, nil
				}
			}
			return nil, fmt.Errorf("invalid %s literal '%s'", t.typ, t.text)
		case "guid", "x", "binary", "time":
			return litExpr{t.text}, nil
		}
		return nil, fmt.Errorf("unknown literal type %s", t.typ)
	case tkIdent:
		switch strings.ToLower(t.text) {
		case "true":
			return litExpr{true}, nil
		case "false":
			return litExpr{false}, nil
		case "null":
			return litExpr{nil}, nil
		}
		if p.peek().kind == tkOpen {
			fn := strings.ToLower(t.text)
			arity := map[string]int{"substringof": 2, "startswith": 2, "endswith": 2, "tolower": 1, "toupper": 1, "trim": 1}[fn]
			if arity == 0 {
				return nil, fmt.Errorf("function %s is not supported", t.text)
			}
			p.pos++
			var args []expr
			for {
				a, err := p.or()
				if err != nil {
					return nil, err
				}
				args = append(args, a)
				if k := p.next().kind; k == tkClose {
					break
				} else if k != tkComma {
					return nil, errors.New("expected , or )")
				}
			}
			if len(args) != arity {
				return nil, fmt.Errorf("%s takes %d arguments", fn, arity)
			}
			return callExpr{fn: fn, args: args}, nil
		}
		prop := p.t.prop(t.text)
		if prop == nil {
			if strings.Contains(t.text, "/") {
				return nil, fmt.Errorf("filtering on navigation properties is not supported ('%s')", t.text)
			}
			return nil, fmt.Errorf("property '%s' is not defined in type '%s'", t.text, p.t.Name)
		}
		return propExpr{prop}, nil
	}
	return nil, errors.New("unexpected end of expression")
}

// orderKey is one $orderby term.
type orderKey struct {
	prop *Property
	desc bool
}

func parseOrderBy(t *entityType, s string) ([]orderKey, error) {
	var out []orderKey
	for _, term := range strings.Split(s, ",") {
		f := strings.Fields(term)
		if len(f) == 0 {
			continue
		}
		p := t.prop(f[0])
		if p == nil {
			return nil, fmt.Errorf("property '%s' is not defined in type '%s'", f[0], t.Name)
		}
		k := orderKey{prop: p}
		if len(f) > 1 {
			switch strings.ToLower(f[1]) {
			case "desc":
				k.desc = true
			case "asc":
			default:
				return nil, fmt.Errorf("invalid sort order '%s'", f[1])
			}
		}
		out = append(out, k)
	}
	return out, nil
}

// shape is what to render of an entity: nil selects everything.
type shape struct {
	all    bool
	noETag bool // leave etag out of __metadata
	props  map[string]bool
	expand map[string]*shape
}

func newShape() *shape { return &shape{all: true, expand: map[string]*shape{}} }

// parseShape reads $select and $expand into a tree.
func parseShape(t *entityType, services map[string]*service, sel, exp string) (*shape, error) {
	root := newShape()
	for _, path := range splitList(exp) {
		cur, ct := root, t
		for _, seg := range strings.Split(path, "/") {
			n := ct.nav(seg)
			if n == nil {
				return nil, fmt.Errorf("navigation property '%s' is not defined in type '%s'", seg, ct.Name)
			}
			child := cur.expand[seg]
			if child == nil {
				child = newShape()
				cur.expand[seg] = child
			}
			cur, ct = child, ct.Service.set(n.Target)
		}
	}
	for _, path := range splitList(sel) {
		if path == "*" {
			continue
		}
		cur, ct := root, t
		segs := strings.Split(path, "/")
		for i, seg := range segs {
			if cur.all {
				cur.all, cur.props = false, map[string]bool{}
			}
			if i < len(segs)-1 || ct.nav(seg) != nil {
				n := ct.nav(seg)
				if n == nil {
					return nil, fmt.Errorf("navigation property '%s' is not defined in type '%s'", seg, ct.Name)
				}
				cur.props[seg] = true
				if i == len(segs)-1 {
					break
				}
				child := cur.expand[seg]
				if child == nil {
					return nil, fmt.Errorf("'%s' is selected but not expanded", seg)
				}
				cur, ct = child, ct.Service.set(n.Target)
				continue
			}
			if ct.prop(seg) == nil {
				return nil, fmt.Errorf("property '%s' is not defined in type '%s'", seg, ct.Name)
			}
			cur.props[seg] = true
		}
	}
	return root, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseKey parses a key predicate's content ("'1'" or
// "SalesOrder='1',SalesOrderItem='10'") into key values.
func parseKey(t *entityType, s string) (map[string]any, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	lit := func(tk token, p *Property) (any, error) {
		switch tk.kind {
		case tkString, tkTyped:
			if p.Type == EdmString {
				if p.Alpha {
					return padAlpha(tk.text, p.MaxLength), nil
				}
				return tk.text, nil
			}
			if tm, err := time.Parse(time.RFC3339Nano, tk.text); err == nil {
				return tm.UTC(), nil
			}
			return tk.text, nil
		case tkNumber:
			if n, err := strconv.ParseInt(tk.text, 10, 64); err == nil && p.Type != EdmDecimal {
				return n, nil
			}
			r, _ := new(big.Rat).SetString(tk.text)
			return r, nil
		}
		return nil, errors.New("invalid key value")
	}
	if len(toks) == 2 && len(t.Keys) == 1 {
		v, err := lit(toks[0], t.prop(t.Keys[0]))
		if err != nil {
			return nil, err
		}
		out[t.Keys[0]] = v
		return out, nil
	}
	for i := 0; i < len(toks)-1; {
		if i+3 >= len(toks) || toks[i].kind != tkIdent || toks[i+1].kind != tkEq {
			return nil, errors.New("invalid key predicate")
		}
		name := toks[i].text
		p := t.prop(name)
		if p == nil || !t.isKey(name) {
			return nil, fmt.Errorf("'%s' is not a key of '%s'", name, t.Name)
		}
		i += 2
		v, err := lit(toks[i], p)
		if err != nil {
			return nil, err
		}
		out[name] = v
		i++
		if toks[i].kind == tkComma {
			i++
		}
	}
	if len(out) != len(t.Keys) {
		return nil, fmt.Errorf("the key predicate of '%s' needs %s", t.Set, strings.Join(t.Keys, ", "))
	}
	return out, nil
}

// keyPredicate renders an entity's key as in its URI.
func keyPredicate(t *entityType, vals map[string]any) string {
	lit := func(name string) string {
		p := t.prop(name)
		switch v := vals[name].(type) {
		case string:
			if p.Alpha {
				v = stripAlpha(v)
			}
			return "'" + url.PathEscape(strings.ReplaceAll(v, "'", "''")) + "'"
		case int64:
			return strconv.FormatInt(v, 10)
		case *big.Rat:
			return formatDecimal(v, p.Scale) + "M"
		case time.Time:
			return "datetime'" + v.Format("2006-01-02T15:04:05") + "'"
		}
		return "''"
	}
	if len(t.Keys) == 1 {
		return "(" + lit(t.Keys[0]) + ")"
	}
	parts := make([]string, len(t.Keys))
	for i, k := range t.Keys {
		parts[i] = k + "=" + lit(k)
	}
	return "(" + strings.Join(parts, ",") + ")"
}
