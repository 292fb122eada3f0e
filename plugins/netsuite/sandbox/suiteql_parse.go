package sandbox

import (
	"fmt"
	"strings"
	"unicode"
)

// The SuiteQL subset:
//
//	query   = SELECT [DISTINCT] item {, item} FROM table [[AS] alias]
//	          { [INNER | LEFT [OUTER]] JOIN table [[AS] alias] ON expr }
//	          [WHERE expr] [ORDER BY expr [ASC|DESC] {, ...}]
//	item    = * | alias.* | expr [[AS] name]
//	expr    = or; or = and {OR and}; and = not {AND not}; not = NOT not | cmp
//	cmp     = sum [op sum | [NOT] IN (expr {, expr}) | IS [NOT] NULL
//	          | [NOT] LIKE sum | [NOT] BETWEEN sum AND sum]
//	sum     = product {(+ | - | ||) product}; product = unary {(* | /) unary}
//	unary   = - unary | primary
//	primary = number | 'string' | NULL | SYSDATE | CURRENT_DATE | name[.name]
//	          | name[.name] ( [expr {, expr}] ) | COUNT(*) | ( expr )

// token is a lexical token.
type token struct {
	kind byte // 'i' identifier, 'n' number, 's' string, 'o' operator, 0 end
	text string
	pos  int
}

// lex splits a query into tokens.
func lex(q string) ([]token, error) {
	var out []token
	i := 0
	for i < len(q) {
		c := q[i]
		switch {
		case unicode.IsSpace(rune(c)):
			i++
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(q) {
					return nil, fmt.Errorf("unterminated string literal at position %d", i)
				}
				if q[j] == '\'' {
					if j+1 < len(q) && q[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(q[j])
				j++
			}
			out = append(out, token{'s', b.String(), i})
			i = j + 1
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9':
			j := i
			for j < len(q) && (q[j] >= '0' && q[j] <= '9' || q[j] == '.') {
				j++
			}
			out = append(out, token{'n', q[i:j], i})
			i = j
		case c == '_' || unicode.IsLetter(rune(c)):
			j := i
			for j < len(q) && (q[j] == '_' || q[j] == '$' || q[j] == '#' || unicode.IsLetter(rune(q[j])) || unicode.IsDigit(rune(q[j]))) {
				j++
			}
			out = append(out, token{'i', q[i:j], i})
			i = j
		case c == '"':
			j := strings.IndexByte(q[i+1:], '"')
			if j < 0 {
				return nil, fmt.Errorf("unterminated quoted identifier at position %d", i)
			}
			out = append(out, token{'i', q[i+1 : i+1+j], i})
			i += j + 2
		default:
			two := ""
			if i+1 < len(q) {
				two = q[i : i+2]
			}
			switch two {
			case "<=", ">=", "<>", "!=", "||":
				out = append(out, token{'o', two, i})
				i += 2
				continue
			}
			if strings.IndexByte("=<>+-*/(),.;", c) < 0 {
				return nil, fmt.Errorf("unexpected character %q at position %d", c, i)
			}
			out = append(out, token{'o', string(c), i})
			i++
		}
	}
	return append(out, token{kind: 0, pos: len(q)}), nil
}

// Expression nodes.
type (
	colRef struct{ table, col string }
	lit    struct{ v value }
	call   struct {
		name string
		args []expr
		star bool // COUNT(*)
	}
	unaryExpr  struct{ x expr }
	binaryExpr struct {
		op   string
		l, r expr
	}
	inExpr struct {
		x    expr
		list []expr
		not  bool
	}
	isNullExpr struct {
		x   expr
		not bool
	}
	likeExpr struct {
		x, pat expr
		not    bool
	}
	betweenExpr struct {
		x, lo, hi expr
		not       bool
	}
	nowExpr struct{}
)

// expr is an expression node.
type expr any

// selectItem is one item of the select list.
type selectItem struct {
	e     expr
	alias string
	star  bool
	table string // t.* when star
}

// tableRef is a table with its alias.
type tableRef struct{ name, alias string }

// joinClause is a JOIN.
type joinClause struct {
	left bool
	t    tableRef
	on   expr
}

// orderItem is one ORDER BY term.
type orderItem struct {
	e    expr
	desc bool
}

// query is a parsed SELECT.
type query struct {
	distinct bool
	items    []selectItem
	from     tableRef
	joins    []joinClause
	where    expr
	order    []orderItem
}

// parser parses tokens.
type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != 0 {
		p.i++
	}
	return t
}

// kw reports whether the next token is the keyword k, consuming it.
func (p *parser) kw(k string) bool {
	t := p.peek()
	if t.kind == 'i' && strings.EqualFold(t.text, k) {
		p.i++
		return true
	}
	return false
}

// op reports whether the next token is the operator o, consuming it.
func (p *parser) op(o string) bool {
	t := p.peek()
	if t.kind == 'o' && t.text == o {
		p.i++
		return true
	}
	return false
}

func (p *parser) errorf(format string, args ...any) error {
	t := p.peek()
	near := t.text
	if t.kind == 0 {
		near = "end of query"
	}
	return fmt.Errorf("%s near '%s'", fmt.Sprintf(format, args...), near)
}

// reserved are words that end an expression or cannot be aliases.
var reserved = map[string]bool{
	"SELECT": true, "FROM": true, "WHERE": true, "ORDER": true, "BY": true, "GROUP": true, "HAVING": true,
	"JOIN": true, "INNER": true, "LEFT": true, "RIGHT": true, "FULL": true, "OUTER": true, "ON": true,
	"AND": true, "OR": true, "NOT": true, "IN": true, "IS": true, "NULL": true, "LIKE": true, "BETWEEN": true,
	"AS": true, "ASC": true, "DESC": true, "DISTINCT": true, "UNION": true, "FETCH": true, "OFFSET": true,
	"CROSS": true, "NULLS": true,
}

// parseQuery parses one SELECT statement.
func parseQuery(q string) (*query, error) {
	toks, err := lex(q)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if !p.kw("SELECT") {
		return nil, p.errorf("only SELECT queries are supported")
	}
	out := &query{}
	out.distinct = p.kw("DISTINCT")
	for {
		item, err := p.selectItem()
		if err != nil {
			return nil, err
		}
		out.items = append(out.items, item)
		if !p.op(",") {
			break
		}
	}
	if !p.kw("FROM") {
		return nil, p.errorf("FROM expected")
	}
	if out.from, err = p.tableRef(); err != nil {
		return nil, err
	}
	for {
		left := false
		switch {
		case p.kw("JOIN"):
		case p.kw("INNER"):
			if !p.kw("JOIN") {
				return nil, p.errorf("JOIN expected")
			}
		case p.kw("LEFT"):
			p.kw("OUTER")
			if !p.kw("JOIN") {
				return nil, p.errorf("JOIN expected")
			}
			left = true
		default:
			goto joined
		}
		t, err := p.tableRef()
		if err != nil {
			return nil, err
		}
		if !p.kw("ON") {
			return nil, p.errorf("ON expected")
		}
		on, err := p.expr()
		if err != nil {
			return nil, err
		}
		out.joins = append(out.joins, joinClause{left: left, t: t, on: on})
	}
joined:
	if p.kw("WHERE") {
		if out.where, err = p.expr(); err != nil {
			return nil, err
		}
	}
	if p.kw("GROUP") {
		return nil, p.errorf("GROUP BY is not supported by the sandbox")
	}
	if p.kw("ORDER") {
		if !p.kw("BY") {
			return nil, p.errorf("BY expected")
		}
		for {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			item := orderItem{e: e}
			if p.kw("DESC") {
				item.desc = true
			} else {
				p.kw("ASC")
			}
			out.order = append(out.order, item)
			if !p.op(",") {
				break
			}
		}
	}
	p.op(";")
	if p.peek().kind != 0 {
		return nil, p.errorf("unexpected text")
	}
	return out, nil
}

func (p *parser) selectItem() (selectItem, error) {
	if p.op("*") {
		return selectItem{star: true}, nil
	}
	if t := p.peek(); t.kind == 'i' && p.toks[p.i+1].text == "." && p.toks[p.i+2].text == "*" {
		p.i += 3
		return selectItem{star: true, table: strings.ToLower(t.text)}, nil
	}
	e, err := p.expr()
	if err != nil {
		return selectItem{}, err
	}
	item := selectItem{e: e}
	if p.kw("AS") {
		t := p.next()
		if t.kind != 'i' {
			return selectItem{}, p.errorf("alias expected")
		}
		item.alias = strings.ToLower(t.text)
	} else if t := p.peek(); t.kind == 'i' && !reserved[strings.ToUpper(t.text)] {
		p.next()
		item.alias = strings.ToLower(t.text)
	}
	return item, nil
}

func (p *parser) tableRef() (tableRef, error) {
	t := p.next()
	if t.kind != 'i' || reserved[strings.ToUpper(t.text)] {
		return tableRef{}, p.errorf("table name expected")
	}
	ref := tableRef{name: strings.ToLower(t.text)}
	ref.alias = ref.name
	p.kw("AS")
	if a := p.peek(); a.kind == 'i' && !reserved[strings.ToUpper(a.text)] {
		p.next()
		ref.alias = strings.ToLower(a.text)
	}
	return ref, nil
}

func (p *parser) expr() (expr, error) { return p.or() }

func (p *parser) or() (expr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.kw("OR") {
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = binaryExpr{"OR", l, r}
	}
	return l, nil
}

func (p *parser) and() (expr, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.kw("AND") {
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = binaryExpr{"AND", l, r}
	}
	return l, nil
}

func (p *parser) not() (expr, error) {
	if p.kw("NOT") {
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return binaryExpr{"NOT", x, nil}, nil
	}
	return p.cmp()
}

func (p *parser) cmp() (expr, error) {
	l, err := p.sum()
	if err != nil {
		return nil, err
	}
	for _, o := range []string{"=", "<>", "!=", "<=", ">=", "<", ">"} {
		if p.op(o) {
			r, err := p.sum()
			if err != nil {
				return nil, err
			}
			if o == "!=" {
				o = "<>"
			}
			return binaryExpr{o, l, r}, nil
		}
	}
	not := p.kw("NOT")
	switch {
	case p.kw("IN"):
		if !p.op("(") {
			return nil, p.errorf("( expected")
		}
		var list []expr
		for {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			list = append(list, e)
			if !p.op(",") {
				break
			}
		}
		if !p.op(")") {
			return nil, p.errorf(") expected")
		}
		return inExpr{l, list, not}, nil
	case p.kw("LIKE"):
		r, err := p.sum()
		if err != nil {
			return nil, err
		}
		return likeExpr{l, r, not}, nil
	case p.kw("BETWEEN"):
		lo, err := p.sum()
		if err != nil {
			return nil, err
		}
		if !p.kw("AND") {
			return nil, p.errorf("AND expected")
		}
		hi, err := p.sum()
		if err != nil {
			return nil, err
		}
		return betweenExpr{l, lo, hi, not}, nil
	case not:
		return nil, p.errorf("IN, LIKE or BETWEEN expected")
	case p.kw("IS"):
		n := p.kw("NOT")
		if !p.kw("NULL") {
			return nil, p.errorf("NULL expected")
		}
		return isNullExpr{l, n}, nil
	}
	return l, nil
}

func (p *parser) sum() (expr, error) {
	l, err := p.product()
	if err != nil {
		return nil, err
	}
	for {
		var o string
		switch {
		case p.op("+"):
			o = "+"
		case p.op("-"):
			o = "-"
		case p.op("||"):
			o = "||"
		default:
			return l, nil
		}
		r, err := p.product()
		if err != nil {
			return nil, err
		}
		l = binaryExpr{o, l, r}
	}
}

func (p *parser) product() (expr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		var o string
		switch {
		case p.op("*"):
			o = "*"
		case p.op("/"):
			o = "/"
		default:
			return l, nil
		}
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = binaryExpr{o, l, r}
	}
}

func (p *parser) unary() (expr, error) {
	if p.op("-") {
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return unaryExpr{x}, nil
	}
	return p.primary()
}

func (p *parser) primary() (expr, error) {
	t := p.peek()
	switch t.kind {
	case 'n':
		p.next()
		r, ok := parseRat(t.text)
		if !ok {
			return nil, p.errorf("bad number %s", t.text)
		}
		return lit{numValue(r)}, nil
	case 's':
		p.next()
		return lit{strValue(t.text)}, nil
	case 'o':
		if p.op("(") {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			if !p.op(")") {
				return nil, p.errorf(") expected")
			}
			return e, nil
		}
		return nil, p.errorf("expression expected")
	case 'i':
		up := strings.ToUpper(t.text)
		switch up {
		case "NULL":
			p.next()
			return lit{value{}}, nil
		case "SYSDATE", "CURRENT_DATE", "CURRENT_TIMESTAMP", "SYSTIMESTAMP":
			p.next()
			return nowExpr{}, nil
		}
		if reserved[up] {
			return nil, p.errorf("expression expected")
		}
		p.next()
		name := t.text
		if p.op(".") {
			t2 := p.next()
			if t2.kind != 'i' {
				return nil, p.errorf("name expected after '.'")
			}
			name += "." + t2.text
		}
		if p.op("(") {
			c := call{name: strings.ToUpper(name)}
			if p.op("*") {
				c.star = true
			} else if !p.op(")") {
				for {
					e, err := p.expr()
					if err != nil {
						return nil, err
					}
					c.args = append(c.args, e)
					if !p.op(",") {
						break
					}
				}
			} else {
				return c, nil
			}
			if !p.op(")") {
				return nil, p.errorf(") expected")
			}
			return c, nil
		}
		if table, col, ok := strings.Cut(name, "."); ok {
			return colRef{strings.ToLower(table), strings.ToLower(col)}, nil
		}
		return colRef{"", strings.ToLower(name)}, nil
	}
	return nil, p.errorf("expression expected")
}
