package sandbox

import (
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strings"
	"time"
)

// vkind is a SuiteQL value's type.
type vkind int

const (
	vNull vkind = iota
	vStr
	vNum
	vTime
)

// value is a SuiteQL value.
type value struct {
	kind vkind
	s    string
	n    *big.Rat
	t    time.Time
}

func strValue(s string) value     { return value{kind: vStr, s: s} }
func numValue(r *big.Rat) value   { return value{kind: vNum, n: r} }
func timeValue(t time.Time) value { return value{kind: vTime, t: t} }
func intValue(n int64) value      { return numValue(ratInt(n)) }
func boolValue(b bool) value      { return strValue(map[bool]string{true: "T", false: "F"}[b]) }
func (v value) null() bool        { return v.kind == vNull }
func optNum(r *big.Rat, ok bool) value {
	if !ok {
		return value{}
	}
	return numValue(r)
}

// row is one row of a table: lower-case column → value; display values
// (BUILTIN.DF) under "<column>#df".
type row map[string]value

// tableDef is a SuiteQL table.
type tableDef struct {
	cols []string
	// custom is the prefix of custom field columns ("custbody"), "" for
	// none.
	custom string
	rows   func(x *executor) []row
}

// queryError is an "Invalid search query." failure.
type queryError struct{ msg string }

func (e *queryError) Error() string { return e.msg }

func qerr(format string, args ...any) error { return &queryError{fmt.Sprintf(format, args...)} }

// executor runs one query over a snapshot of the data.
type executor struct {
	d    *db
	opts Options
	now  time.Time
	q    *query
	// scope maps aliases to table definitions, in FROM/JOIN order.
	scope   map[string]*tableDef
	aliases []string
	names   map[string]string // alias → table name
}

// rowEnv is a joined row: alias → row.
type rowEnv map[string]row

// run executes q and returns the output columns' names and rows.
func (x *executor) run() ([]string, [][]value, error) {
	q := x.q
	x.scope, x.names = map[string]*tableDef{}, map[string]string{}
	for _, t := range append([]tableRef{q.from}, joinTables(q.joins)...) {
		def := suiteqlTables[t.name]
		if def == nil {
			return nil, nil, qerr("Record '%s' was not found.", t.name)
		}
		if _, dup := x.scope[t.alias]; dup {
			return nil, nil, qerr("The alias '%s' is used twice.", t.alias)
		}
		x.scope[t.alias] = def
		x.names[t.alias] = t.name
		x.aliases = append(x.aliases, t.alias)
	}
	// Output columns.
	type outCol struct {
		name string
		e    expr
	}
	var cols []outCol
	unnamed := 0
	for _, it := range q.items {
		if it.star {
			for _, a := range x.aliases {
				if it.table != "" && it.table != a {
					continue
				}
				for _, c := range x.scope[a].cols {
					cols = append(cols, outCol{c, colRef{a, c}})
				}
			}
			if it.table != "" && x.scope[it.table] == nil {
				return nil, nil, qerr("Record '%s' was not found.", it.table)
			}
			continue
		}
		name := it.alias
		if name == "" {
			if c, ok := it.e.(colRef); ok {
				name = c.col
			} else {
				unnamed++
				name = fmt.Sprintf("expr%d", unnamed)
			}
		}
		cols = append(cols, outCol{name, it.e})
	}
	aliases := map[string]expr{}
	for _, c := range cols {
		aliases[c.name] = c.e
	}
	// Check every column reference before running.
	check := []expr{q.where}
	for _, c := range cols {
		check = append(check, c.e)
	}
	for _, j := range q.joins {
		check = append(check, j.on)
	}
	for _, o := range q.order {
		if c, ok := o.e.(colRef); ok && c.table == "" && aliases[c.col] != nil {
			continue
		}
		check = append(check, o.e)
	}
	for _, e := range check {
		if err := x.checkExpr(e); err != nil {
			return nil, nil, err
		}
	}
	// FROM and JOINs.
	envs := []rowEnv{}
	for _, r := range x.scope[q.from.alias].rows(x) {
		envs = append(envs, rowEnv{q.from.alias: r})
	}
	for _, j := range q.joins {
		right := x.scope[j.t.alias].rows(x)
		var out []rowEnv
		for _, e := range envs {
			matched := false
			for _, r := range right {
				ne := rowEnv{}
				for k, v := range e {
					ne[k] = v
				}
				ne[j.t.alias] = r
				ok, err := x.truth(j.on, ne)
				if err != nil {
					return nil, nil, err
				}
				if ok {
					out = append(out, ne)
					matched = true
				}
			}
			if !matched && j.left {
				ne := rowEnv{}
				for k, v := range e {
					ne[k] = v
				}
				ne[j.t.alias] = row{}
				out = append(out, ne)
			}
		}
		envs = out
	}
	// WHERE.
	if q.where != nil {
		var kept []rowEnv
		for _, e := range envs {
			ok, err := x.truth(q.where, e)
			if err != nil {
				return nil, nil, err
			}
			if ok {
				kept = append(kept, e)
			}
		}
		envs = kept
	}
	// SELECT.
	type outRow struct {
		vals []value
		keys []value
	}
	rows := make([]outRow, 0, len(envs))
	for _, e := range envs {
		r := outRow{vals: make([]value, len(cols))}
		for i, c := range cols {
			v, err := x.eval(c.e, e)
			if err != nil {
				return nil, nil, err
			}
			r.vals[i] = v
		}
		for _, o := range q.order {
			var v value
			var err error
			if c, ok := o.e.(colRef); ok && c.table == "" && aliases[c.col] != nil {
				v, err = x.eval(aliases[c.col], e)
			} else {
				v, err = x.eval(o.e, e)
			}
			if err != nil {
				return nil, nil, err
			}
			r.keys = append(r.keys, v)
		}
		rows = append(rows, r)
	}
	if q.distinct {
		seen := map[string]bool{}
		var kept []outRow
		for _, r := range rows {
			k := fmt.Sprint(formatAll(r.vals, x.opts))
			if !seen[k] {
				seen[k] = true
				kept = append(kept, r)
			}
		}
		rows = kept
	}
	if len(q.order) > 0 {
		sort.SliceStable(rows, func(i, j int) bool {
			for k, o := range q.order {
				a, b := rows[i].keys[k], rows[j].keys[k]
				c := compareForSort(a, b)
				if c == 0 {
					continue
				}
				if o.desc {
					return c > 0
				}
				return c < 0
			}
			return false
		})
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	out := make([][]value, len(rows))
	for i, r := range rows {
		out[i] = r.vals
	}
	return names, out, nil
}

func joinTables(js []joinClause) []tableRef {
	var out []tableRef
	for _, j := range js {
		out = append(out, j.t)
	}
	return out
}

// formatAll formats values for DISTINCT.
func formatAll(vs []value, opts Options) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		s, ok := formatValue(v, opts)
		if !ok {
			s = "\x00null"
		}
		out[i] = s
	}
	return out
}

// resolve finds the table alias of a column reference.
func (x *executor) resolve(c colRef) (string, error) {
	has := func(def *tableDef, col string) bool {
		for _, k := range def.cols {
			if k == col {
				return true
			}
		}
		return def.custom != "" && strings.HasPrefix(col, def.custom)
	}
	if c.table != "" {
		def := x.scope[c.table]
		if def == nil {
			return "", qerr("Field '%s.%s' was not found. Alias '%s' is not defined.", c.table, c.col, c.table)
		}
		if !has(def, c.col) {
			return "", qerr("Field '%s' for record '%s' was not found.", c.col, x.names[c.table])
		}
		return c.table, nil
	}
	found := ""
	for _, a := range x.aliases {
		if has(x.scope[a], c.col) {
			if found != "" {
				return "", qerr("Field '%s' is ambiguous.", c.col)
			}
			found = a
		}
	}
	if found == "" {
		return "", qerr("Field '%s' was not found.", c.col)
	}
	return found, nil
}

// checkExpr checks the column references and functions of an expression.
func (x *executor) checkExpr(e expr) error {
	switch e := e.(type) {
	case nil, lit, nowExpr:
		return nil
	case colRef:
		_, err := x.resolve(e)
		return err
	case call:
		if _, ok := functions[e.name]; !ok {
			return qerr("Unknown identifier '%s'.", strings.ToLower(e.name))
		}
		if e.star {
			return qerr("Aggregate functions need GROUP BY, which the sandbox does not support.")
		}
		if e.name == "BUILTIN.DF" && (len(e.args) != 1 || !isCol(e.args[0])) {
			return qerr("BUILTIN.DF takes one field.")
		}
		for _, a := range e.args {
			if err := x.checkExpr(a); err != nil {
				return err
			}
		}
	case unaryExpr:
		return x.checkExpr(e.x)
	case binaryExpr:
		if err := x.checkExpr(e.l); err != nil {
			return err
		}
		return x.checkExpr(e.r)
	case inExpr:
		for _, a := range append([]expr{e.x}, e.list...) {
			if err := x.checkExpr(a); err != nil {
				return err
			}
		}
	case isNullExpr:
		return x.checkExpr(e.x)
	case likeExpr:
		if err := x.checkExpr(e.x); err != nil {
			return err
		}
		return x.checkExpr(e.pat)
	case betweenExpr:
		for _, a := range []expr{e.x, e.lo, e.hi} {
			if err := x.checkExpr(a); err != nil {
				return err
			}
		}
	}
	return nil
}

func isCol(e expr) bool { _, ok := e.(colRef); return ok }

// functions are the functions the sandbox knows (COUNT and SUM are
// refused without GROUP BY support).
var functions = map[string]bool{
	"TO_CHAR": true, "TO_DATE": true, "TO_NUMBER": true, "TO_TIMESTAMP": true, "BUILTIN.DF": true, "UPPER": true,
	"LOWER": true, "NVL": true, "COALESCE": true, "TRUNC": true, "COUNT": true, "SUM": true,
}

// truth evaluates a condition; NULL is false.
func (x *executor) truth(e expr, en rowEnv) (bool, error) {
	v, err := x.eval(e, en)
	if err != nil {
		return false, err
	}
	return v.kind == vStr && v.s == "\x00true", nil
}

var (
	vTrue  = strValue("\x00true")
	vFalse = strValue("\x00false")
)

func boolOf(b bool) value {
	if b {
		return vTrue
	}
	return vFalse
}

// eval evaluates an expression in a joined row.
func (x *executor) eval(e expr, en rowEnv) (value, error) {
	switch e := e.(type) {
	case nil:
		return vTrue, nil
	case lit:
		return e.v, nil
	case nowExpr:
		return timeValue(x.now.Truncate(time.Second)), nil
	case colRef:
		a, err := x.resolve(e)
		if err != nil {
			return value{}, err
		}
		return en[a][e.col], nil
	case unaryExpr:
		v, err := x.eval(e.x, en)
		if err != nil || v.null() {
			return v, err
		}
		n, ok := toNum(v)
		if !ok {
			return value{}, qerr("Invalid number.")
		}
		return numValue(new(big.Rat).Neg(n)), nil
	case binaryExpr:
		return x.binary(e, en)
	case inExpr:
		v, err := x.eval(e.x, en)
		if err != nil || v.null() {
			return value{}, err
		}
		for _, item := range e.list {
			w, err := x.eval(item, en)
			if err != nil {
				return value{}, err
			}
			if c, ok := compare(v, w); ok && c == 0 {
				return boolOf(!e.not), nil
			}
		}
		return boolOf(e.not), nil
	case isNullExpr:
		v, err := x.eval(e.x, en)
		if err != nil {
			return value{}, err
		}
		return boolOf(v.null() != e.not), nil
	case likeExpr:
		v, err := x.eval(e.x, en)
		if err != nil {
			return value{}, err
		}
		p, err := x.eval(e.pat, en)
		if err != nil || v.null() || p.null() {
			return value{}, err
		}
		s, _ := formatValue(v, x.opts)
		pat, _ := formatValue(p, x.opts)
		re := regexp.MustCompile("^(?s)" + strings.NewReplacer("%", ".*", "_", ".").Replace(regexp.QuoteMeta(pat)) + "$")
		return boolOf(re.MatchString(s) != e.not), nil
	case betweenExpr:
		v, err := x.eval(e.x, en)
		if err != nil {
			return value{}, err
		}
		lo, err := x.eval(e.lo, en)
		if err != nil {
			return value{}, err
		}
		hi, err := x.eval(e.hi, en)
		if err != nil {
			return value{}, err
		}
		a, ok1 := compare(v, lo)
		b, ok2 := compare(v, hi)
		if !ok1 || !ok2 {
			return value{}, nil
		}
		return boolOf((a >= 0 && b <= 0) != e.not), nil
	case call:
		return x.call(e, en)
	}
	return value{}, qerr("Unsupported expression.")
}

// binary evaluates AND, OR, NOT, comparisons and arithmetic.
func (x *executor) binary(e binaryExpr, en rowEnv) (value, error) {
	switch e.op {
	case "AND", "OR":
		l, err := x.truth(e.l, en)
		if err != nil {
			return value{}, err
		}
		if e.op == "AND" && !l {
			return vFalse, nil
		}
		if e.op == "OR" && l {
			return vTrue, nil
		}
		r, err := x.truth(e.r, en)
		return boolOf(r), err
	case "NOT":
		v, err := x.eval(e.l, en)
		if err != nil || v.null() {
			return value{}, err
		}
		return boolOf(v.s != "\x00true"), nil
	}
	l, err := x.eval(e.l, en)
	if err != nil {
		return value{}, err
	}
	r, err := x.eval(e.r, en)
	if err != nil {
		return value{}, err
	}
	switch e.op {
	case "=", "<>", "<", "<=", ">", ">=":
		c, ok := compare(l, r)
		if !ok {
			return value{}, nil
		}
		switch e.op {
		case "=":
			return boolOf(c == 0), nil
		case "<>":
			return boolOf(c != 0), nil
		case "<":
			return boolOf(c < 0), nil
		case "<=":
			return boolOf(c <= 0), nil
		case ">":
			return boolOf(c > 0), nil
		}
		return boolOf(c >= 0), nil
	case "||":
		ls, _ := formatValue(l, x.opts)
		rs, _ := formatValue(r, x.opts)
		return strValue(ls + rs), nil
	}
	if l.null() || r.null() {
		return value{}, nil
	}
	// Date arithmetic: a date plus or minus days; a date minus a date.
	if l.kind == vTime && (e.op == "+" || e.op == "-") {
		if r.kind == vTime && e.op == "-" {
			return numValue(new(big.Rat).SetFrac64(int64(l.t.Sub(r.t)/time.Second), 86400)), nil
		}
		days, ok := toNum(r)
		if !ok {
			return value{}, qerr("Invalid number in date arithmetic.")
		}
		secs, _ := mul(days, ratInt(86400)).Float64()
		d := time.Duration(secs * float64(time.Second))
		if e.op == "-" {
			d = -d
		}
		return timeValue(l.t.Add(d)), nil
	}
	a, ok1 := toNum(l)
	b, ok2 := toNum(r)
	if !ok1 || !ok2 {
		return value{}, qerr("Invalid number.")
	}
	switch e.op {
	case "+":
		return numValue(add(a, b)), nil
	case "-":
		return numValue(sub(a, b)), nil
	case "*":
		return numValue(mul(a, b)), nil
	case "/":
		if b.Sign() == 0 {
			return value{}, qerr("Division by zero.")
		}
		return numValue(new(big.Rat).Quo(a, b)), nil
	}
	return value{}, qerr("Unsupported operator %s.", e.op)
}

// call evaluates a function.
func (x *executor) call(c call, en rowEnv) (value, error) {
	if c.name == "BUILTIN.DF" {
		col := c.args[0].(colRef)
		a, err := x.resolve(col)
		if err != nil {
			return value{}, err
		}
		if v, ok := en[a][col.col+"#df"]; ok {
			return v, nil
		}
		return en[a][col.col], nil
	}
	args := make([]value, len(c.args))
	for i, a := range c.args {
		v, err := x.eval(a, en)
		if err != nil {
			return value{}, err
		}
		args[i] = v
	}
	arity := func(min, max int) error {
		if len(args) < min || len(args) > max {
			return qerr("Wrong number of arguments for %s.", strings.ToLower(c.name))
		}
		return nil
	}
	switch c.name {
	case "TO_CHAR":
		if err := arity(1, 2); err != nil {
			return value{}, err
		}
		v := args[0]
		if v.null() {
			return v, nil
		}
		if v.kind == vTime {
			layout := x.opts.DateFormat
			if len(args) == 2 {
				layout = oracleLayout(args[1].s)
			}
			return strValue(v.t.In(x.opts.Location).Format(layout)), nil
		}
		s, _ := formatValue(v, x.opts)
		return strValue(s), nil
	case "TO_DATE", "TO_TIMESTAMP":
		if err := arity(1, 2); err != nil {
			return value{}, err
		}
		if args[0].null() || args[0].kind == vTime {
			return args[0], nil
		}
		layout := x.opts.DateFormat
		if len(args) == 2 {
			layout = oracleLayout(args[1].s)
		}
		t, err := time.ParseInLocation(layout, args[0].s, x.opts.Location)
		if err != nil {
			return value{}, qerr("Invalid date value '%s' for format '%s'.", args[0].s, stringArg(args, 1))
		}
		return timeValue(t), nil
	case "TO_NUMBER":
		if err := arity(1, 1); err != nil {
			return value{}, err
		}
		if args[0].null() {
			return args[0], nil
		}
		n, ok := toNum(args[0])
		if !ok {
			return value{}, qerr("Invalid number '%s'.", args[0].s)
		}
		return numValue(n), nil
	case "UPPER", "LOWER":
		if err := arity(1, 1); err != nil {
			return value{}, err
		}
		if args[0].null() {
			return args[0], nil
		}
		s, _ := formatValue(args[0], x.opts)
		if c.name == "UPPER" {
			return strValue(strings.ToUpper(s)), nil
		}
		return strValue(strings.ToLower(s)), nil
	case "NVL", "COALESCE":
		if len(args) < 2 {
			return value{}, qerr("Wrong number of arguments for %s.", strings.ToLower(c.name))
		}
		for _, a := range args {
			if !a.null() {
				return a, nil
			}
		}
		return value{}, nil
	case "TRUNC":
		if err := arity(1, 1); err != nil {
			return value{}, err
		}
		v := args[0]
		switch v.kind {
		case vTime:
			t := v.t.In(x.opts.Location)
			return timeValue(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, x.opts.Location)), nil
		case vNum:
			q := new(big.Int).Quo(v.n.Num(), v.n.Denom())
			return numValue(new(big.Rat).SetInt(q)), nil
		}
		return v, nil
	}
	return value{}, qerr("Aggregate functions need GROUP BY, which the sandbox does not support.")
}

func stringArg(args []value, i int) string {
	if i < len(args) {
		return args[i].s
	}
	return ""
}

// oracleLayout converts an Oracle date format ("YYYY-MM-DD HH24:MI:SS") to
// a Go layout.
func oracleLayout(f string) string {
	tokens := []struct{ ora, gol string }{
		{"YYYY", "2006"}, {"HH24", "15"}, {"HH12", "03"}, {"MONTH", "January"}, {"MON", "Jan"}, {"YY", "06"},
		{"MM", "01"}, {"DD", "02"}, {"HH", "03"}, {"MI", "04"}, {"SS", "05"}, {"AM", "PM"}, {"PM", "PM"},
	}
	var b strings.Builder
	up := strings.ToUpper(f)
outer:
	for i := 0; i < len(f); {
		for _, t := range tokens {
			if strings.HasPrefix(up[i:], t.ora) {
				b.WriteString(t.gol)
				i += len(t.ora)
				continue outer
			}
		}
		b.WriteByte(f[i])
		i++
	}
	return b.String()
}

// toNum converts a number or a numeric string.
func toNum(v value) (*big.Rat, bool) {
	switch v.kind {
	case vNum:
		return v.n, true
	case vStr:
		return parseRat(v.s)
	}
	return nil, false
}

// compare compares two values; false when either is NULL or they cannot
// be compared.
func compare(a, b value) (int, bool) {
	if a.null() || b.null() {
		return 0, false
	}
	switch {
	case a.kind == vTime && b.kind == vTime:
		return a.t.Compare(b.t), true
	case a.kind == vTime || b.kind == vTime:
		return 0, false
	case a.kind == vNum || b.kind == vNum:
		x, ok1 := toNum(a)
		y, ok2 := toNum(b)
		if !ok1 || !ok2 {
			return strings.Compare(a.s, b.s), a.kind == vStr && b.kind == vStr
		}
		return x.Cmp(y), true
	}
	return strings.Compare(a.s, b.s), true
}

// compareForSort orders values with NULLs last.
func compareForSort(a, b value) int {
	switch {
	case a.null() && b.null():
		return 0
	case a.null():
		return 1
	case b.null():
		return -1
	}
	c, ok := compare(a, b)
	if !ok {
		return strings.Compare(a.s, b.s)
	}
	return c
}

// formatValue formats a value as SuiteQL returns it (strings), false for
// NULL.
func formatValue(v value, opts Options) (string, bool) {
	switch v.kind {
	case vStr:
		switch v.s {
		case "\x00true":
			return "T", true
		case "\x00false":
			return "F", true
		}
		return v.s, true
	case vNum:
		s := decString(v.n)
		if opts.OracleNumbers {
			s = oracleNumber(s)
		}
		return s, true
	case vTime:
		return v.t.In(opts.Location).Format(opts.DateFormat), true
	}
	return "", false
}
