package sandbox

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// fieldPath is a resolved field path: the relationships to follow, then
// the field.
type fieldPath struct {
	rels  []*Field // reference fields, from the queried object outwards
	field *Field
	names []string // canonical names: relationship names, then the field
}

func invalidField(name, obj string) error {
	return &queryError{"INVALID_FIELD", fmt.Sprintf("\nNo such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", name, obj)}
}

// resolve resolves a dotted path on obj.
func (d *db) resolve(obj *Object, path []string) (*fieldPath, error) {
	if len(path) > 1 && strings.EqualFold(path[0], obj.Name) && obj.rels[strings.ToLower(path[0])] == nil {
		path = path[1:]
	}
	fp := &fieldPath{}
	cur := obj
	for i, name := range path {
		if i == len(path)-1 {
			f := cur.field(name)
			if f == nil {
				return nil, invalidField(name, cur.Name)
			}
			fp.field = f
			fp.names = append(fp.names, f.Name)
			return fp, nil
		}
		rf := cur.rels[strings.ToLower(name)]
		if rf == nil {
			return nil, &queryError{"INVALID_FIELD", fmt.Sprintf("\nDidn't understand relationship '%s' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.", name)}
		}
		fp.rels = append(fp.rels, rf)
		fp.names = append(fp.names, rf.RelationshipName)
		cur = d.schema.object(rf.ReferenceTo)
		if cur == nil {
			return nil, invalidField(name, obj.Name)
		}
	}
	return nil, invalidField(strings.Join(path, "."), obj.Name)
}

// value follows a path from r; nil when a relationship is empty.
func (d *db) value(r *record, fp *fieldPath) any {
	cur := r
	for _, rf := range fp.rels {
		id, _ := cur.f[rf.Name].(string)
		if id == "" {
			return nil
		}
		cur = d.get(id)
		if cur == nil {
			return nil
		}
	}
	return cur.f[fp.field.Name]
}

// compiled is a query ready to run.
type compiled struct {
	q        *soqlQuery
	obj      *Object
	items    []compiledItem
	where    func(r *record, now time.Time) bool
	order    []compiledOrder
	childRel *Child // for a sub-query
}

type compiledItem struct {
	path *fieldPath
	sub  *compiled
}

type compiledOrder struct {
	path *fieldPath
	item orderItem
}

// compile checks a parsed query against the schema. parent is the outer
// query's object for a sub-query.
func (d *db) compile(q *soqlQuery, parent *Object) (*compiled, error) {
	c := &compiled{q: q}
	if parent != nil {
		ch := parent.children[strings.ToLower(q.from)]
		if ch == nil {
			return nil, &queryError{"INVALID_TYPE", fmt.Sprintf("\nDidn't understand relationship '%s' in FROM part of query call. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.", q.from)}
		}
		c.childRel = ch
		c.obj = d.schema.object(ch.Object)
	} else {
		c.obj = d.schema.object(q.from)
		if c.obj == nil {
			return nil, &queryError{"INVALID_TYPE", fmt.Sprintf("\n%s\n%s^\nERROR at Row:1:Column:%d\nsObject type '%s' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.", q.src, strings.Repeat(" ", q.fromPos), q.fromPos+1, q.from)}
		}
	}
	for _, it := range q.items {
		if it.sub != nil {
			sub, err := d.compile(it.sub, c.obj)
			if err != nil {
				return nil, err
			}
			c.items = append(c.items, compiledItem{sub: sub})
			continue
		}
		fp, err := d.resolve(c.obj, it.path)
		if err != nil {
			return nil, err
		}
		c.items = append(c.items, compiledItem{path: fp})
	}
	if q.where != nil {
		w, err := d.compileExpr(c.obj, q.where)
		if err != nil {
			return nil, err
		}
		c.where = w
	}
	for _, o := range q.orderBy {
		fp, err := d.resolve(c.obj, o.path)
		if err != nil {
			return nil, err
		}
		c.order = append(c.order, compiledOrder{path: fp, item: o})
	}
	return c, nil
}

type predicate func(r *record, now time.Time) bool

func (d *db) compileExpr(obj *Object, e expr) (predicate, error) {
	switch x := e.(type) {
	case logicalExpr:
		var args []predicate
		for _, a := range x.args {
			p, err := d.compileExpr(obj, a)
			if err != nil {
				return nil, err
			}
			args = append(args, p)
		}
		if x.and {
			return func(r *record, now time.Time) bool {
				for _, p := range args {
					if !p(r, now) {
						return false
					}
				}
				return true
			}, nil
		}
		return func(r *record, now time.Time) bool {
			for _, p := range args {
				if p(r, now) {
					return true
				}
			}
			return false
		}, nil
	case notExpr:
		p, err := d.compileExpr(obj, x.x)
		if err != nil {
			return nil, err
		}
		return func(r *record, now time.Time) bool { return !p(r, now) }, nil
	case cmpExpr:
		return d.compileCmp(obj, x)
	}
	return nil, fmt.Errorf("unknown expression %T", e)
}

func filterTypeError(f *Field, quoted bool) error {
	typ := f.Type
	switch typ {
	case TypeDatetime:
		typ = "dateTime"
	case TypeCurrency, TypePercent:
		typ = "double"
	case TypeID, TypeReference, TypeTextarea, TypePicklist, TypeEmail, TypePhone, TypeURL:
		typ = "string"
	}
	how := "should not be enclosed in quotes"
	if quoted {
		how = "should be enclosed in quotes"
	}
	return &queryError{"INVALID_FIELD", fmt.Sprintf("\nvalue of filter criterion for field '%s' must be of type %s and %s", f.Name, typ, how)}
}

// operand is a literal converted to the stored form of a field, or a range
// of datetimes for relative date literals.
type operand struct {
	val      any
	relative *[2]int
}

func (d *db) operand(f *Field, l literal) (operand, error) {
	switch l.kind {
	case litNull:
		return operand{}, nil
	case litRelative:
		if f.Type != TypeDate && f.Type != TypeDatetime {
			return operand{}, filterTypeError(f, f.isText())
		}
		days := l.days
		return operand{relative: &days}, nil
	}
	switch {
	case f.Type == TypeDate:
		if l.kind != litDate {
			return operand{}, filterTypeError(f, false)
		}
		return operand{val: l.text}, nil
	case f.Type == TypeDatetime:
		if l.kind != litDatetime {
			return operand{}, filterTypeError(f, false)
		}
		return operand{val: l.t}, nil
	case f.isNumber():
		if l.kind != litNumber {
			return operand{}, filterTypeError(f, false)
		}
		return operand{val: json.Number(l.text)}, nil
	case f.Type == TypeBoolean:
		if l.kind != litBool {
			return operand{}, filterTypeError(f, false)
		}
		return operand{val: l.b}, nil
	default: // text and ids
		if l.kind != litString {
			return operand{}, filterTypeError(f, true)
		}
		if (f.Type == TypeID || f.Type == TypeReference) && validID(l.text) {
			return operand{val: to18(l.text)}, nil
		}
		return operand{val: l.text}, nil
	}
}

// dayRange is a relative date literal as [from, to) in UTC.
func dayRange(days [2]int, now time.Time) (time.Time, time.Time) {
	y, m, dd := now.UTC().Date()
	today := time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)
	return today.AddDate(0, 0, days[0]), today.AddDate(0, 0, days[1])
}

func (d *db) compileCmp(obj *Object, c cmpExpr) (predicate, error) {
	fp, err := d.resolve(obj, c.path)
	if err != nil {
		return nil, err
	}
	f := fp.field
	var ops []operand
	for _, l := range c.values {
		o, err := d.operand(f, l)
		if err != nil {
			return nil, err
		}
		ops = append(ops, o)
	}
	switch c.op {
	case "like", "notlike":
		re := likePattern(c.values[0].text)
		neg := c.op == "notlike"
		return func(r *record, _ time.Time) bool {
			v := d.value(r, fp)
			if v == nil {
				return neg
			}
			return re.MatchString(fmt.Sprint(outValue(v))) != neg
		}, nil
	case "in", "notin":
		neg := c.op == "notin"
		return func(r *record, now time.Time) bool {
			v := d.value(r, fp)
			for _, o := range ops {
				if test(f, v, "=", o, now) {
					return !neg
				}
			}
			return neg
		}, nil
	}
	op, o := c.op, ops[0]
	return func(r *record, now time.Time) bool { return test(f, d.value(r, fp), op, o, now) }, nil
}

// test compares a stored value with an operand.
func test(f *Field, v any, op string, o operand, now time.Time) bool {
	if o.relative != nil {
		if v == nil {
			return op == "!="
		}
		from, to := dayRange(*o.relative, now)
		var t time.Time
		switch x := v.(type) {
		case time.Time:
			t = x
		case string:
			t, _ = time.Parse("2006-01-02", x)
		}
		switch op {
		case "=":
			return !t.Before(from) && t.Before(to)
		case "!=":
			return t.Before(from) || !t.Before(to)
		case "<":
			return t.Before(from)
		case "<=":
			return t.Before(to)
		case ">":
			return !t.Before(to)
		case ">=":
			return !t.Before(from)
		}
		return false
	}
	if o.val == nil || v == nil {
		switch op {
		case "=":
			return v == nil && o.val == nil
		case "!=":
			return (v == nil) != (o.val == nil)
		}
		return false
	}
	n := compare(f.Type, v, o.val)
	switch op {
	case "=":
		return n == 0
	case "!=":
		return n != 0
	case "<":
		return n < 0
	case "<=":
		return n <= 0
	case ">":
		return n > 0
	case ">=":
		return n >= 0
	}
	return false
}

// likePattern turns a LIKE pattern (% and _, backslash escapes) into a
// case-insensitive regular expression.
func likePattern(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?is)^")
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		case '\\':
			if i+1 < len(p) {
				i++
				b.WriteString(regexp.QuoteMeta(string(p[i])))
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// run executes a compiled query over candidates (all records of the
// object for a top-level query). all includes deleted records (queryAll).
func (d *db) run(c *compiled, candidates []*record, all bool, version string, now time.Time) (rows []*omap, total int) {
	var matched []*record
	for _, r := range candidates {
		if r.deleted() && !all {
			continue
		}
		if c.where != nil && !c.where(r, now) {
			continue
		}
		matched = append(matched, r)
	}
	if len(c.order) > 0 {
		slices.SortStableFunc(matched, func(a, b *record) int {
			for _, o := range c.order {
				va, vb := d.value(a, o.path), d.value(b, o.path)
				if va == nil || vb == nil {
					if va == nil && vb == nil {
						continue
					}
					if (va == nil) == o.item.nullsFirst {
						return -1
					}
					return 1
				}
				n := compare(o.path.field.Type, va, vb)
				if o.item.desc {
					n = -n
				}
				if n != 0 {
					return n
				}
			}
			return 0
		})
	}
	if c.q.offset > 0 {
		matched = matched[min(c.q.offset, len(matched)):]
	}
	if c.q.limit >= 0 && len(matched) > c.q.limit {
		matched = matched[:c.q.limit]
	}
	if c.q.count {
		return nil, len(matched)
	}
	var children map[*compiled]map[string][]*record
	for _, it := range c.items {
		if it.sub == nil {
			continue
		}
		if children == nil {
			children = map[*compiled]map[string][]*record{}
		}
		byParent := map[string][]*record{}
		for _, cr := range d.lists[it.sub.obj.Name] {
			if !cr.deleted() {
				pid := cr.str(it.sub.childRel.Field)
				byParent[pid] = append(byParent[pid], cr)
			}
		}
		children[it.sub] = byParent
	}
	for _, r := range matched {
		rows = append(rows, d.project(c, r, children, version, now))
	}
	return rows, len(matched)
}

// project writes the selected fields of r.
func (d *db) project(c *compiled, r *record, children map[*compiled]map[string][]*record, version string, now time.Time) *omap {
	m := &omap{}
	m.set("attributes", attributes(r, version))
	for _, it := range c.items {
		if it.sub != nil {
			rows, total := d.run(it.sub, children[it.sub][r.id()], false, version, now)
			if total == 0 {
				m.set(it.sub.childRel.Name, nil)
				continue
			}
			list := make([]any, len(rows))
			for i, row := range rows {
				list[i] = row
			}
			sub := &omap{}
			sub.set("totalSize", total)
			sub.set("done", true)
			sub.set("records", list)
			m.set(it.sub.childRel.Name, sub)
			continue
		}
		d.place(m, r, it.path, 0, version)
	}
	return m
}

// place puts one selected path into m, nesting parent records as objects
// with their own attributes (null when the relationship is empty).
func (d *db) place(m *omap, r *record, fp *fieldPath, depth int, version string) {
	if depth == len(fp.rels) {
		m.set(fp.field.Name, outValue(r.f[fp.field.Name]))
		return
	}
	rf := fp.rels[depth]
	name := rf.RelationshipName
	id, _ := r.f[rf.Name].(string)
	parent := d.get(id)
	if parent == nil {
		if _, ok := m.get(name); !ok {
			m.set(name, nil)
		}
		return
	}
	sub, _ := m.vals[name].(*omap)
	if sub == nil {
		sub = &omap{}
		sub.set("attributes", attributes(parent, version))
		m.set(name, sub)
	}
	d.place(sub, parent, fp, depth+1, version)
}
