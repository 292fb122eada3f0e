package sandbox

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The SOQL subset the sandbox understands:
//
//	SELECT field, Parent.Field, (SELECT ... FROM ChildRelationship ...), COUNT()
//	FROM Object
//	WHERE cond   -- =, !=, <>, <, >, <=, >=, [NOT] IN (...), [NOT] LIKE, AND, OR, NOT, ( )
//	ORDER BY path [ASC|DESC] [NULLS FIRST|LAST], ...
//	LIMIT n OFFSET n
//
// Literals: 'strings' (with backslash escapes), numbers, true, false,
// null, dates 2024-01-31, datetimes 2024-01-31T10:00:00Z (optional
// fraction, Z or an offset, never quoted), and TODAY, YESTERDAY, TOMORROW,
// LAST_N_DAYS:n, NEXT_N_DAYS:n. As in Salesforce, AND and OR cannot be
// mixed at one level without parentheses.

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tDate
	tDatetime
	tOp
	tLParen
	tRParen
	tComma
	tColon
)

type token struct {
	kind tokKind
	text string // identifiers as written; strings unescaped
	pos  int    // byte offset
}

// queryError is a SOQL error, reported as 400 with its code.
type queryError struct {
	code, msg string
}

// Error returns the code and message.
func (e *queryError) Error() string { return e.code + ": " + e.msg }

var (
	datetimeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})`)
	dateRE     = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}`)
	numberRE   = regexp.MustCompile(`^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?`)
)

func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(src) {
					return nil, malformed(src, i, "unterminated string")
				}
				if src[j] == '\\' && j+1 < len(src) {
					switch e := src[j+1]; e {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					case 'r':
						b.WriteByte('\r')
					case 'b':
						b.WriteByte('\b')
					case 'f':
						b.WriteByte('\f')
					default:
						b.WriteByte(e)
					}
					j += 2
					continue
				}
				if src[j] == '\'' {
					break
				}
				b.WriteByte(src[j])
				j++
			}
			toks = append(toks, token{tString, b.String(), i})
			i = j + 1
		case c == '(':
			toks = append(toks, token{tLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tRParen, ")", i})
			i++
		case c == ',':
			toks = append(toks, token{tComma, ",", i})
			i++
		case c == ':':
			toks = append(toks, token{tColon, ":", i})
			i++
		case c == '=':
			toks = append(toks, token{tOp, "=", i})
			i++
		case c == '!' || c == '<' || c == '>':
			raw := string(c)
			if i+1 < len(src) && (src[i+1] == '=' || (c == '<' && src[i+1] == '>')) {
				raw += string(src[i+1])
			}
			if raw == "!" {
				return nil, malformed(src, i, "unexpected token: '!'")
			}
			op := raw
			if op == "<>" {
				op = "!="
			}
			toks = append(toks, token{tOp, op, i})
			i += len(raw)
		case c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.':
			rest := src[i:]
			if m := datetimeRE.FindString(rest); m != "" {
				toks = append(toks, token{tDatetime, m, i})
				i += len(m)
			} else if m := dateRE.FindString(rest); m != "" {
				toks = append(toks, token{tDate, m, i})
				i += len(m)
			} else if m := numberRE.FindString(rest); m != "" {
				toks = append(toks, token{tNumber, m, i})
				i += len(m)
			} else {
				return nil, malformed(src, i, fmt.Sprintf("unexpected token: '%c'", c))
			}
		case isIdentStart(c):
			j := i
			for j < len(src) && (isIdentStart(src[j]) || src[j] >= '0' && src[j] <= '9' || src[j] == '.') {
				j++
			}
			toks = append(toks, token{tIdent, src[i:j], i})
			i = j
		default:
			return nil, malformed(src, i, fmt.Sprintf("unexpected token: '%c'", c))
		}
	}
	return append(toks, token{tEOF, "", len(src)}), nil
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

// malformed returns a MALFORMED_QUERY error pointing at pos, formatted
// like Salesforce's.
func malformed(src string, pos int, msg string) error {
	line := strings.ReplaceAll(src, "\n", " ")
	return &queryError{"MALFORMED_QUERY", fmt.Sprintf("\n%s\n%s^\nERROR at Row:1:Column:%d\n%s", line, strings.Repeat(" ", pos), pos+1, msg)}
}

// soqlQuery is a parsed query.
type soqlQuery struct {
	src     string
	items   []selectItem
	count   bool
	from    string
	fromPos int
	where   expr
	orderBy []orderItem
	limit   int // -1 when absent
	offset  int
}

type selectItem struct {
	path []string // field path; nil for a sub-query
	sub  *soqlQuery
	pos  int
}

type orderItem struct {
	path       []string
	desc       bool
	nullsFirst bool
	pos        int
}

type expr interface{ isExpr() }

type logicalExpr struct {
	and  bool
	args []expr
}

type notExpr struct{ x expr }

type cmpExpr struct {
	path   []string
	op     string // = != < > <= >= in notin like notlike
	values []literal
	pos    int
}

func (logicalExpr) isExpr() {}
func (notExpr) isExpr()     {}
func (cmpExpr) isExpr()     {}

// literal kinds.
const (
	litString = iota
	litNumber
	litBool
	litNull
	litDate
	litDatetime
	litRelative // TODAY, LAST_N_DAYS:n, ...: a range of days
)

type literal struct {
	kind int
	text string
	b    bool
	t    time.Time // datetime
	days [2]int    // litRelative: from, to (exclusive) in days relative to today
	pos  int
}

type parser struct {
	src  string
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

// accept consumes the next token when it is the keyword w.
func (p *parser) accept(w string) bool {
	if !p.keyword(w) {
		return false
	}
	p.i++
	return true
}

func (p *parser) keyword(words ...string) bool {
	t := p.peek()
	if t.kind != tIdent {
		return false
	}
	for _, w := range words {
		if strings.EqualFold(t.text, w) {
			return true
		}
	}
	return false
}

func (p *parser) expectKeyword(w string) error {
	if !p.keyword(w) {
		return p.unexpected()
	}
	p.i++
	return nil
}

func (p *parser) unexpected() error {
	t := p.peek()
	if t.kind == tEOF {
		return malformed(p.src, t.pos, "unexpected token: <EOF>")
	}
	text := t.text
	if t.kind == tString {
		text = "'" + text + "'"
	}
	return malformed(p.src, t.pos, fmt.Sprintf("unexpected token: %s", text))
}

var reserved = map[string]bool{"select": true, "from": true, "where": true, "and": true, "or": true, "not": true,
	"in": true, "like": true, "order": true, "by": true, "limit": true, "offset": true, "asc": true, "desc": true,
	"nulls": true, "null": true, "true": true, "false": true, "group": true, "having": true}

// parseSOQL parses a query.
func parseSOQL(src string) (*soqlQuery, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	q, err := p.query(false)
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tEOF {
		return nil, p.unexpected()
	}
	return q, nil
}

func (p *parser) query(sub bool) (*soqlQuery, error) {
	q := &soqlQuery{src: p.src, limit: -1}
	if err := p.expectKeyword("SELECT"); err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		switch {
		case t.kind == tLParen && !sub:
			p.i++
			s, err := p.query(true)
			if err != nil {
				return nil, err
			}
			if p.peek().kind != tRParen {
				return nil, p.unexpected()
			}
			p.i++
			q.items = append(q.items, selectItem{sub: s, pos: t.pos})
		case t.kind == tIdent && strings.EqualFold(t.text, "COUNT") && p.toks[p.i+1].kind == tLParen:
			p.i += 2
			if p.peek().kind != tRParen {
				return nil, p.unexpected()
			}
			p.i++
			q.count = true
		case t.kind == tIdent && !reserved[strings.ToLower(t.text)]:
			p.i++
			q.items = append(q.items, selectItem{path: strings.Split(t.text, "."), pos: t.pos})
		default:
			return nil, p.unexpected()
		}
		if p.peek().kind != tComma {
			break
		}
		p.i++
	}
	if q.count && len(q.items) > 0 {
		return nil, malformed(p.src, q.items[0].pos, "COUNT() cannot be combined with fields")
	}
	if err := p.expectKeyword("FROM"); err != nil {
		return nil, err
	}
	t := p.next()
	if t.kind != tIdent {
		p.i--
		return nil, p.unexpected()
	}
	q.from, q.fromPos = t.text, t.pos
	if p.accept("WHERE") {
		w, err := p.or()
		if err != nil {
			return nil, err
		}
		q.where = w
	}
	if p.accept("ORDER") {
		if err := p.expectKeyword("BY"); err != nil {
			return nil, err
		}
		for {
			t := p.next()
			if t.kind != tIdent || reserved[strings.ToLower(t.text)] {
				p.i--
				return nil, p.unexpected()
			}
			o := orderItem{path: strings.Split(t.text, "."), pos: t.pos, nullsFirst: true}
			if p.accept("ASC") {
			} else if p.accept("DESC") {
				o.desc, o.nullsFirst = true, false
			}
			if p.accept("NULLS") {
				switch {
				case p.keyword("FIRST"):
					o.nullsFirst = true
				case p.keyword("LAST"):
					o.nullsFirst = false
				default:
					return nil, p.unexpected()
				}
				p.i++
			}
			q.orderBy = append(q.orderBy, o)
			if p.peek().kind != tComma {
				break
			}
			p.i++
		}
	}
	if p.accept("LIMIT") {
		n, err := p.integer()
		if err != nil {
			return nil, err
		}
		q.limit = n
	}
	if p.accept("OFFSET") {
		n, err := p.integer()
		if err != nil {
			return nil, err
		}
		q.offset = n
	}
	return q, nil
}

func (p *parser) integer() (int, error) {
	t := p.next()
	n, err := strconv.Atoi(t.text)
	if t.kind != tNumber || err != nil || n < 0 {
		p.i--
		return 0, p.unexpected()
	}
	return n, nil
}

// or parses a condition: AND or OR chains, never mixed without
// parentheses.
func (p *parser) or() (expr, error) {
	first, err := p.unary()
	if err != nil {
		return nil, err
	}
	var chain *logicalExpr
	for p.keyword("AND", "OR") {
		t := p.next()
		and := strings.EqualFold(t.text, "AND")
		if chain == nil {
			chain = &logicalExpr{and: and, args: []expr{first}}
		} else if chain.and != and {
			return nil, malformed(p.src, t.pos, fmt.Sprintf("unexpected token: %s", strings.ToUpper(t.text)))
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		chain.args = append(chain.args, x)
	}
	if chain == nil {
		return first, nil
	}
	return *chain, nil
}

func (p *parser) unary() (expr, error) {
	if p.accept("NOT") {
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notExpr{x}, nil
	}
	if p.peek().kind == tLParen {
		p.i++
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek().kind != tRParen {
			return nil, p.unexpected()
		}
		p.i++
		return x, nil
	}
	return p.comparison()
}

func (p *parser) comparison() (expr, error) {
	t := p.next()
	if t.kind != tIdent || reserved[strings.ToLower(t.text)] {
		p.i--
		return nil, p.unexpected()
	}
	c := cmpExpr{path: strings.Split(t.text, "."), pos: t.pos}
	negate := false
	if p.accept("NOT") {
		negate = true
		if !p.keyword("IN", "LIKE") {
			return nil, p.unexpected()
		}
	}
	switch op := p.peek(); {
	case op.kind == tOp && !negate:
		p.i++
		c.op = op.text
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		c.values = []literal{v}
	case p.keyword("LIKE"):
		p.i++
		c.op = "like"
		if negate {
			c.op = "notlike"
		}
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		if v.kind != litString {
			return nil, malformed(p.src, v.pos, "LIKE needs a string")
		}
		c.values = []literal{v}
	case p.keyword("IN"):
		p.i++
		c.op = "in"
		if negate {
			c.op = "notin"
		}
		if p.peek().kind != tLParen {
			return nil, p.unexpected()
		}
		p.i++
		for {
			v, err := p.literal()
			if err != nil {
				return nil, err
			}
			c.values = append(c.values, v)
			if p.peek().kind != tComma {
				break
			}
			p.i++
		}
		if p.peek().kind != tRParen {
			return nil, p.unexpected()
		}
		p.i++
	default:
		return nil, p.unexpected()
	}
	return c, nil
}

var relativeDays = map[string][2]int{"today": {0, 1}, "yesterday": {-1, 0}, "tomorrow": {1, 2}}

func (p *parser) literal() (literal, error) {
	t := p.next()
	l := literal{text: t.text, pos: t.pos}
	switch t.kind {
	case tString:
		l.kind = litString
	case tNumber:
		l.kind = litNumber
	case tDate:
		if _, ok := parseDate(t.text); !ok {
			return l, malformed(p.src, t.pos, "invalid date: "+t.text)
		}
		l.kind = litDate
	case tDatetime:
		dt, ok := parseDatetime(t.text)
		if !ok {
			return l, malformed(p.src, t.pos, "invalid datetime: "+t.text)
		}
		l.kind, l.t = litDatetime, dt
	case tIdent:
		low := strings.ToLower(t.text)
		switch {
		case low == "true" || low == "false":
			l.kind, l.b = litBool, low == "true"
		case low == "null":
			l.kind = litNull
		case relativeDays[low] != [2]int{}:
			l.kind, l.days = litRelative, relativeDays[low]
		case low == "last_n_days" || low == "next_n_days":
			if p.peek().kind != tColon {
				return l, p.unexpected()
			}
			p.i++
			n, err := p.integer()
			if err != nil {
				return l, err
			}
			l.kind = litRelative
			if low == "last_n_days" {
				l.days = [2]int{-n, 1}
			} else {
				l.days = [2]int{0, n + 1}
			}
		default:
			p.i--
			return l, p.unexpected()
		}
	default:
		p.i--
		return l, p.unexpected()
	}
	return l, nil
}
