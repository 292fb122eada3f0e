package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// entity is one stored entity: typed values by property name.
type entity struct {
	vals map[string]any
}

// table holds an entity set's entities.
type table struct {
	t     *entityType
	rows  []*entity
	byKey map[string]*entity
	// byFirst indexes rows by their first key's value, which is what
	// navigation properties join on.
	byFirst map[string][]*entity
}

func newTable(t *entityType) *table {
	return &table{t: t, byKey: map[string]*entity{}, byFirst: map[string][]*entity{}}
}

func valueKey(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case *big.Rat:
		return x.RatString()
	case time.Time:
		return strconv.FormatInt(x.UnixNano(), 10)
	}
	return fmt.Sprint(v)
}

func (tb *table) keyOf(vals map[string]any) string {
	parts := make([]string, len(tb.t.Keys))
	for i, k := range tb.t.Keys {
		parts[i] = valueKey(vals[k])
	}
	return strings.Join(parts, "\x00")
}

func (tb *table) get(key map[string]any) *entity { return tb.byKey[tb.keyOf(key)] }

// put inserts or replaces an entity by its key.
func (tb *table) put(e *entity) {
	k := tb.keyOf(e.vals)
	if old := tb.byKey[k]; old != nil {
		*old = *e
		return
	}
	tb.byKey[k] = e
	tb.rows = append(tb.rows, e)
	f := valueKey(e.vals[tb.t.Keys[0]])
	tb.byFirst[f] = append(tb.byFirst[f], e)
}

func (tb *table) remove(e *entity) {
	delete(tb.byKey, tb.keyOf(e.vals))
	tb.rows = slices.DeleteFunc(tb.rows, func(x *entity) bool { return x == e })
	f := valueKey(e.vals[tb.t.Keys[0]])
	tb.byFirst[f] = slices.DeleteFunc(tb.byFirst[f], func(x *entity) bool { return x == e })
}

// related returns the entities nav leads to from e.
func (s *Server) related(t *entityType, e *entity, n *navProp) []*entity {
	target := s.tables[n.Target]
	if target == nil {
		return nil
	}
	var cand []*entity
	if n.To[0] == target.t.Keys[0] {
		cand = target.byFirst[valueKey(e.vals[n.From[0]])]
	} else {
		cand = target.rows
	}
	var out []*entity
	for _, c := range cand {
		match := true
		for i := range n.From {
			if valueKey(c.vals[n.To[i]]) != valueKey(e.vals[n.From[i]]) {
				match = false
				break
			}
		}
		if match {
			out = append(out, c)
		}
	}
	sortByKey(target.t, out)
	return out
}

func sortByKey(t *entityType, rows []*entity) {
	slices.SortStableFunc(rows, func(a, b *entity) int {
		for _, k := range t.Keys {
			if c, ok := compare(a.vals[k], b.vals[k]); ok && c != 0 {
				return c
			}
		}
		return 0
	})
}

// odataRequest is one request to a service.
type odataRequest struct {
	s      *Server
	svc    *service
	w      http.ResponseWriter
	r      *http.Request
	method string
	path   string
	user   string
}

// base is the service root URL as the client addressed it.
func (h *odataRequest) base() string {
	scheme := "http"
	if h.r.TLS != nil {
		scheme = "https"
	}
	if p := h.r.Header.Get("X-Forwarded-Proto"); p != "" {
		scheme = p
	}
	return scheme + "://" + h.r.Host + h.s.opts.ServicePrefix + "/" + h.svc.Name
}

func (h *odataRequest) fail(status int, code, msg string, details ...detail) {
	odataError(h.w, status, code, msg, details)
}

// resource is what a resource path addresses.
type resource struct {
	t      *entityType
	one    *entity   // a single entity (key predicate or to-one navigation)
	many   []*entity // a collection
	single bool
	parent *entity     // for a navigation: the entity it starts from
	pt     *entityType // and its type
	nav    *navProp
	count  bool
}

func (h *odataRequest) serve() {
	path := strings.Trim(h.path, "/")
	switch {
	case path == "" && h.method == http.MethodGet, path == "" && h.method == http.MethodHead:
		h.serviceDocument()
		return
	case path == "$metadata":
		h.w.Header().Set("Content-Type", "application/xml")
		h.w.Header().Set("dataserviceversion", "2.0")
		h.w.Write(h.svc.metadata())
		return
	case path == "$batch":
		h.fail(http.StatusNotImplemented, "/IWBEP/CM_MGW_RT/000", "$batch is not supported by the sandbox")
		return
	}
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	res, ok := h.resolve(path)
	if !ok {
		return
	}
	switch h.method {
	case http.MethodGet, http.MethodHead:
		h.get(res)
	case http.MethodPost:
		h.post(res)
	case http.MethodPatch, "MERGE", http.MethodPut:
		h.update(res)
	case http.MethodDelete:
		h.delete(res)
	default:
		h.fail(http.StatusMethodNotAllowed, "/IWBEP/CM_MGW_RT/000", "Method "+h.method+" is not allowed")
	}
}

func (h *odataRequest) serviceDocument() {
	var sets []string
	for _, t := range h.svc.Sets {
		sets = append(sets, t.Set)
	}
	h.w.Header().Set("Content-Type", "application/json")
	h.w.Header().Set("dataserviceversion", "2.0")
	json.NewEncoder(h.w).Encode(map[string]any{"d": map[string]any{"EntitySets": sets}})
}

// resolve walks the resource path under h.s.mu.
func (h *odataRequest) resolve(path string) (*resource, bool) {
	segs := strings.Split(path, "/")
	res := &resource{}
	for i, raw := range segs {
		seg, err := url.PathUnescape(raw)
		if err != nil {
			h.fail(http.StatusBadRequest, "/IWBEP/CM_MGW_RT/000", "Malformed URI")
			return nil, false
		}
		if seg == "$count" && i == len(segs)-1 && i > 0 && !res.single {
			res.count = true
			break
		}
		name, pred, hasPred := strings.Cut(seg, "(")
		if hasPred {
			if !strings.HasSuffix(pred, ")") {
				h.fail(http.StatusBadRequest, "/IWBEP/CM_MGW_RT/000", "Malformed URI segment '"+seg+"'")
				return nil, false
			}
			pred = strings.TrimSuffix(pred, ")")
		}
		if i == 0 {
			t := h.svc.set(name)
			if t == nil {
				h.fail(http.StatusNotFound, "/IWBEP/CM_MGW_RT/021", "Resource not found for the segment '"+name+"'.")
				return nil, false
			}
			res.t = t
			if !hasPred {
				res.many = slices.Clone(h.s.tables[t.Set].rows)
				continue
			}
			key, err := parseKey(t, pred)
			if err != nil {
				h.fail(http.StatusBadRequest, "/IWBEP/CM_MGW_RT/000", "Invalid key predicate '"+pred+"': "+err.Error())
				return nil, false
			}
			res.one, res.single = h.s.tables[t.Set].get(key), true
			if res.one == nil {
				h.fail(http.StatusNotFound, "/IWBEP/CM_MGW_RT/020", "Resource not found for segment '"+t.Name+"'")
				return nil, false
			}
			continue
		}
		if !res.single {
			h.fail(http.StatusBadRequest, "/IWBEP/CM_MGW_RT/000", "Navigation from a collection is not allowed")
			return nil, false
		}
		n := res.t.nav(name)
		if n == nil {
			h.fail(http.StatusNotFound, "/IWBEP/CM_MGW_RT/021", "Resource not found for the segment '"+name+"'.")
			return nil, false
		}
		rows := h.s.related(res.t, res.one, n)
		res.parent, res.pt, res.nav = res.one, res.t, n
		res.t = h.svc.set(n.Target)
		res.one, res.many, res.single = nil, rows, !n.Many
		if !n.Many {
			if len(rows) == 0 {
				h.fail(http.StatusNotFound, "/IWBEP/CM_MGW_RT/020", "Resource not found for segment '"+name+"'")
				return nil, false
			}
			res.one = rows[0]
		}
		if hasPred {
			h.fail(http.StatusBadRequest, "/IWBEP/CM_MGW_RT/000", "Key predicates after a navigation are not supported by the sandbox")
			return nil, false
		}
	}
	return res, true
}

func (h *odataRequest) get(res *resource) {
	q := h.r.URL.Query()
	sh, err := parseShape(res.t, h.s.services, q.Get("$select"), q.Get("$expand"))
	if err != nil {
		h.fail(http.StatusBadRequest, "/IWBEP/CM_MGW_RT/000", err.Error())
		return
	}
	var b bytes.Buffer
	if res.single {
		b.WriteString(`{"d":`)
		h.s.render(&b, h.base(), res.t, res.one, sh, true)
		b.WriteString("}")
		if res.t.ETag != "" {
			if t, ok := res.one.vals[res.t.ETag].(time.Time); ok {
				h.w.Header().Set("ETag", etagOf(t))
			}
		}
		h.writeJSON(http.StatusOK, b.Bytes())
		return
	}
	rows := res.many
	if f := q.Get("$filter"); f != "" {
		x, err := parseFilter(res.t, f)
		if err != nil {
			h.fail(http.StatusBadRequest, "/IWBEP/CM_MGW_RT/000", "Invalid filter expression: '"+f+"': "+err.Error())
			return
		}
		rows = slices.DeleteFunc(rows, func(e *entity) bool { v, _ := x.eval(res.t, e).(bool); return !v })
	}
	if ob := q.Get("$orderby"); ob != "" {
		keys, err := parseOrderBy(res.t, ob)
		if err != nil {
			h.fail(http.StatusBadRequest, "/IWBEP/CM_MGW_RT/000", err.Error())
			return
		}
		sortByKey(res.t, rows)
		slices.SortStableFunc(rows, func(a, b *entity) int {
			for _, k := range keys {
				c, _ := compare(valueOr(k.prop, a), valueOr(k.prop, b))
				if k.desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		})
	} else {
		sortByKey(res.t, rows)
	}
	total := len(rows)
	if res.count {
		h.w.Header().Set("Content-Type", "text/plain;charset=utf-8")
		fmt.Fprint(h.w, total)
		return
	}
	intParam := func(name string) (int, bool) {
		v := q.Get(name)
		if v == "" {
			return -1, true
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			h.fail(http.StatusBadRequest, "/IWBEP/CM_MGW_RT/000", "Invalid value '"+v+"' for "+name)
			return 0, false
		}
		return n, true
	}
	skip, ok := intParam("$skip")
	if !ok {
		return
	}
	top, ok := intParam("$top")
	if !ok {
		return
	}
	skipToken, ok := intParam("$skiptoken")
	if !ok {
		return
	}
	offset := max(skip, 0) + max(skipToken, 0)
	if offset > len(rows) {
		offset = len(rows)
	}
	rows = rows[offset:]
	next := ""
	if top >= 0 && top < len(rows) {
		rows = rows[:top]
	}
	if ps := h.s.opts.PageSize; ps > 0 && len(rows) > ps {
		rows = rows[:ps]
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("$skiptoken", strconv.Itoa(max(skipToken, 0)+ps))
		if top >= 0 {
			nq.Set("$top", strconv.Itoa(top-ps))
		}
		next = h.base() + "/" + strings.Trim(h.path, "/") + "?" + strings.ReplaceAll(nq.Encode(), "+", "%20")
	}
	sh.noETag = h.s.opts.OmitFeedETags
	b.WriteString(`{"d":{"results":[`)
	for i, e := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		h.s.render(&b, h.base(), res.t, e, sh, true)
	}
	b.WriteString("]")
	if q.Get("$inlinecount") == "allpages" {
		fmt.Fprintf(&b, `,"__count":"%d"`, total)
	}
	if next != "" {
		b.WriteString(`,"__next":`)
		writeJSONString(&b, next)
	}
	b.WriteString("}}")
	h.writeJSON(http.StatusOK, b.Bytes())
}

func valueOr(p *Property, e *entity) any {
	if v := e.vals[p.Name]; v != nil {
		return v
	}
	return zeroValue(p)
}

func (h *odataRequest) writeJSON(status int, body []byte) {
	h.w.Header().Set("Content-Type", "application/json;charset=utf-8")
	h.w.Header().Set("dataserviceversion", "2.0")
	h.w.WriteHeader(status)
	if h.method != http.MethodHead {
		h.w.Write(body)
	}
}

// render writes an entity in the verbose JSON format. withMeta adds
// __metadata and __deferred links; without, to-many navigations that are
// not expanded are left out (the control API's form).
func (s *Server) render(b *bytes.Buffer, base string, t *entityType, e *entity, sh *shape, withMeta bool) {
	b.WriteByte('{')
	first := true
	sep := func() {
		if !first {
			b.WriteByte(',')
		}
		first = false
	}
	uri := base + "/" + t.Set + keyPredicate(t, e.vals)
	if withMeta {
		sep()
		b.WriteString(`"__metadata":{"id":`)
		writeJSONString(b, uri)
		b.WriteString(`,"uri":`)
		writeJSONString(b, uri)
		b.WriteString(`,"type":`)
		writeJSONString(b, t.Service.Name+"."+t.Name)
		if t.ETag != "" && (sh == nil || !sh.noETag) {
			if tm, ok := e.vals[t.ETag].(time.Time); ok {
				b.WriteString(`,"etag":`)
				writeJSONString(b, etagOf(tm))
			}
		}
		b.WriteByte('}')
	}
	for i := range t.Props {
		p := &t.Props[i]
		if sh != nil && !sh.all && !sh.props[p.Name] {
			continue
		}
		sep()
		writeJSONString(b, p.Name)
		b.WriteByte(':')
		encodeValue(b, p, valueOr(p, e))
	}
	for i := range t.Navs {
		n := &t.Navs[i]
		if sh != nil && !sh.all && !sh.props[n.Name] {
			continue
		}
		sub := (*shape)(nil)
		if sh != nil {
			sub = sh.expand[n.Name]
		}
		target := t.Service.set(n.Target)
		if sub == nil {
			if withMeta {
				sep()
				writeJSONString(b, n.Name)
				b.WriteString(`:{"__deferred":{"uri":`)
				writeJSONString(b, uri+"/"+n.Name)
				b.WriteString("}}")
			}
			continue
		}
		sep()
		writeJSONString(b, n.Name)
		b.WriteByte(':')
		rows := s.related(t, e, n)
		if !n.Many {
			if len(rows) == 0 {
				b.WriteString("null")
			} else {
				s.render(b, base, target, rows[0], sub, withMeta)
			}
			continue
		}
		if withMeta {
			b.WriteString(`{"results":[`)
		} else {
			b.WriteByte('[')
		}
		for j, c := range rows {
			if j > 0 {
				b.WriteByte(',')
			}
			s.render(b, base, target, c, sub, withMeta)
		}
		b.WriteByte(']')
		if withMeta {
			b.WriteByte('}')
		}
	}
	b.WriteByte('}')
}

// decodeBody reads a JSON object body keeping numbers exact.
func (h *odataRequest) decodeBody() (map[string]any, bool) {
	dec := json.NewDecoder(h.r.Body)
	dec.UseNumber()
	var body map[string]any
	if err := dec.Decode(&body); err != nil || body == nil {
		h.fail(http.StatusBadRequest, "/IWBEP/CM_MGW_RT/004", "Malformed request body: a JSON object is expected")
		return nil, false
	}
	return body, true
}

func (h *odataRequest) post(res *resource) {
	switch {
	case res.t.Set == "A_SalesOrder" && !res.single && res.parent == nil:
		body, ok := h.decodeBody()
		if ok {
			h.createOrder(body)
		}
	case res.t.Set == "A_SalesOrderItem" && res.parent != nil && res.pt.Set == "A_SalesOrder":
		body, ok := h.decodeBody()
		if ok {
			h.createItem(res.parent, body)
		}
	default:
		h.fail(http.StatusNotImplemented, "/IWBEP/CM_MGW_RT/000", "Method 'CREATE_ENTITY' not implemented in data provider class for '"+res.t.Set+"'")
	}
}

// checkIfMatch enforces the ETag precondition of an update or delete of
// an entity whose ETag is the time current; bump makes a concurrent change
// (the ConcurrentChange fault) and returns the new time. It reports
// whether to go on.
func (h *odataRequest) checkIfMatch(current time.Time, bump func() time.Time) bool {
	if h.s.faults.ConcurrentChange > 0 {
		h.s.faults.ConcurrentChange--
		current = bump()
	}
	im := strings.TrimSpace(h.r.Header.Get("If-Match"))
	switch {
	case im == "" && h.s.opts.IfMatchOptional:
		return true
	case im == "":
		h.fail(http.StatusPreconditionRequired, "/IWBEP/CM_MGW_RT/024", "Precondition required: send an If-Match header with the entity's ETag")
		return false
	case im == "*" && !h.s.opts.RejectIfMatchStar:
		return true
	}
	want := etagOf(current)
	for _, tag := range strings.Split(im, ",") {
		tag = strings.TrimSpace(tag)
		if tag == want || strings.TrimPrefix(tag, "W/") == strings.TrimPrefix(want, "W/") {
			return true
		}
	}
	h.fail(http.StatusPreconditionFailed, "/IWBEP/CM_MGW_RT/023", "Precondition failed: the entity was changed since it was read (ETag mismatch)")
	return false
}

func (h *odataRequest) update(res *resource) {
	if !res.single || res.parent != nil {
		h.fail(http.StatusMethodNotAllowed, "/IWBEP/CM_MGW_RT/000", "Updates address one entity by its key")
		return
	}
	body, ok := h.decodeBody()
	if !ok {
		return
	}
	if d, wrapped := body["d"].(map[string]any); wrapped && len(body) == 1 {
		if h.s.opts.RejectWrappedPatch {
			h.fail(http.StatusBadRequest, "/IWBEP/CM_MGW_RT/021", "Property 'd' is invalid")
			return
		}
		body = d
	}
	switch res.t.Set {
	case "A_SalesOrder":
		h.updateOrder(res.one, body)
	case "A_SalesOrderItem":
		h.updateItem(res.one, body)
	default:
		h.fail(http.StatusNotImplemented, "/IWBEP/CM_MGW_RT/000", "Method 'UPDATE_ENTITY' not implemented in data provider class for '"+res.t.Set+"'")
	}
}

func (h *odataRequest) delete(res *resource) {
	if !res.single || res.parent != nil {
		h.fail(http.StatusMethodNotAllowed, "/IWBEP/CM_MGW_RT/000", "Deletes address one entity by its key")
		return
	}
	switch res.t.Set {
	case "A_SalesOrder":
		h.deleteOrder(res.one)
	case "A_SalesOrderItem":
		h.deleteItem(res.one)
	default:
		h.fail(http.StatusNotImplemented, "/IWBEP/CM_MGW_RT/000", "Method 'DELETE_ENTITY' not implemented in data provider class for '"+res.t.Set+"'")
	}
}
