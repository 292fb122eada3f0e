package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// apiRequest is one authenticated REST call.
type apiRequest struct {
	w       http.ResponseWriter
	r       *http.Request
	version float64
	vstr    string   // "v61.0"
	segs    []string // path segments after the version, unescaped
	user    string
	ctx     dmlContext
}

func notFound() []apiError {
	return []apiError{{ErrorCode: "NOT_FOUND", Message: "The requested resource does not exist"}}
}

// versions lists the API versions (GET /services/data), without
// authentication or Sforce-Limit-Info, as Salesforce does.
func (s *Server) versions(w http.ResponseWriter, r *http.Request) {
	var out []*omap
	for v := s.opts.MinAPIVersion; v <= s.opts.MaxAPIVersion+1e-9; v++ {
		m := &omap{}
		m.set("label", "Weir sandbox")
		m.set("url", fmt.Sprintf("/services/data/v%.1f", v))
		m.set("version", fmt.Sprintf("%.1f", v))
		out = append(out, m)
	}
	writeJSON(w, http.StatusOK, out)
}

// api serves /services/data/vXX.X/...: authentication, limits, then the
// resource.
func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	raw := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.EscapedPath(), "/services/data/"), "/"), "/")
	if len(raw) == 1 && raw[0] == "" {
		s.versions(w, r)
		return
	}
	version, ok := parseVersion(raw[0])
	if !ok || version < s.opts.MinAPIVersion-1e-9 || version > s.opts.MaxAPIVersion+1e-9 {
		writeJSON(w, http.StatusNotFound, notFound())
		return
	}
	segs := make([]string, 0, len(raw)-1)
	for _, seg := range raw[1:] {
		u, err := url.PathUnescape(seg)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, []apiError{{ErrorCode: "INVALID_URL", Message: "malformed URL"}})
			return
		}
		segs = append(segs, u)
	}

	s.mu.Lock()
	se := s.sessionLocked(r)
	if se == nil {
		s.mu.Unlock()
		invalidSession(w)
		return
	}
	now := s.now()
	if s.opts.MaxConcurrent > 0 {
		n := 0
		for _, start := range s.inflight {
			if now.Sub(start) >= s.opts.LongRunningAfter {
				n++
			}
		}
		if n >= s.opts.MaxConcurrent {
			w.Header().Set("Sforce-Limit-Info", s.limitInfoLocked())
			s.mu.Unlock()
			writeJSON(w, http.StatusForbidden, []apiError{{ErrorCode: "REQUEST_LIMIT_EXCEEDED", Message: "ConcurrentRequests (Concurrent API Requests) Limit exceeded."}})
			return
		}
	}
	if s.usage.used(now) >= s.opts.DailyLimit {
		w.Header().Set("Sforce-Limit-Info", s.limitInfoLocked())
		s.mu.Unlock()
		writeJSON(w, http.StatusForbidden, []apiError{{ErrorCode: "REQUEST_LIMIT_EXCEEDED", Message: "TotalRequests Limit exceeded."}})
		return
	}
	s.usage.add(now, 1)
	s.reqSeq++
	seq := s.reqSeq
	s.inflight[seq] = now
	w.Header().Set("Sforce-Limit-Info", s.limitInfoLocked())
	user := se.user
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.inflight, seq)
		s.mu.Unlock()
	}()

	s.latency(r)
	a := &apiRequest{w: w, r: r, version: version, vstr: raw[0], segs: segs, user: user, ctx: dmlContext{user: user}}
	s.route(a)
}

func (s *Server) route(a *apiRequest) {
	segs, m := a.segs, a.r.Method
	n := len(segs)
	switch {
	case n == 0:
		s.resources(a)
	case segs[0] == "limits" && n == 1:
		s.limits(a)
	case (segs[0] == "query" || segs[0] == "queryAll") && n <= 2 && m == http.MethodGet:
		if n == 1 {
			s.query(a, segs[0] == "queryAll")
		} else {
			s.queryMore(a, segs[1])
		}
	case segs[0] == "sobjects":
		s.sobjects(a)
	case segs[0] == "composite" && n >= 2 && segs[1] == "sobjects":
		s.collections(a)
	default:
		writeJSON(a.w, http.StatusNotFound, notFound())
	}
}

func (s *Server) resources(a *apiRequest) {
	m := &omap{}
	for _, k := range []string{"limits", "query", "queryAll", "sobjects", "composite"} {
		m.set(k, fmt.Sprintf("/services/data/%s/%s", a.vstr, k))
	}
	writeJSON(a.w, http.StatusOK, m)
}

func (s *Server) limits(a *apiRequest) {
	s.mu.Lock()
	used, limit := s.usage.used(s.now()), s.opts.DailyLimit
	s.mu.Unlock()
	entry := func(max, remaining int64) *omap {
		m := &omap{}
		m.set("Max", max)
		m.set("Remaining", remaining)
		return m
	}
	m := &omap{}
	m.set("ConcurrentAsyncGetReportInstances", entry(200, 200))
	m.set("DailyApiRequests", entry(limit, max(0, limit-used)))
	m.set("DailyAsyncApexExecutions", entry(250000, 250000))
	m.set("DailyBulkApiBatches", entry(15000, 15000))
	m.set("DailyBulkV2QueryJobs", entry(10000, 10000))
	m.set("DailyWorkflowEmails", entry(2000, 2000))
	m.set("DataStorageMB", entry(1024, 1024))
	m.set("FileStorageMB", entry(1024, 1024))
	m.set("HourlyTimeBasedWorkflow", entry(1000, 1000))
	writeJSON(a.w, http.StatusOK, m)
}

// queryCursor is the result of a query, read in batches by locator.
type queryCursor struct {
	rows     []*omap
	total    int
	batch    int
	all      bool
	lastUsed time.Time
}

// batchSize is the batch a request asks for (Sforce-Query-Options:
// batchSize=N), within MinBatchSize and BatchSize.
func (s *Server) batchSize(r *http.Request) int {
	b := s.opts.BatchSize
	for _, opt := range strings.Split(r.Header.Get("Sforce-Query-Options"), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(opt), "=")
		if strings.EqualFold(k, "batchSize") {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				b = min(max(n, s.opts.MinBatchSize), s.opts.BatchSize)
			}
		}
	}
	return b
}

func queryErr(w http.ResponseWriter, err error) {
	if qe, ok := err.(*queryError); ok {
		writeJSON(w, http.StatusBadRequest, []apiError{{ErrorCode: qe.code, Message: qe.msg}})
		return
	}
	writeJSON(w, http.StatusBadRequest, []apiError{{ErrorCode: "MALFORMED_QUERY", Message: err.Error()}})
}

// query runs a SOQL query and answers its first batch.
func (s *Server) query(a *apiRequest, all bool) {
	q := a.r.URL.Query().Get("q")
	if q == "" {
		writeJSON(a.w, http.StatusBadRequest, []apiError{{ErrorCode: "MALFORMED_QUERY", Message: "A query string has to be specified"}})
		return
	}
	parsed, err := parseSOQL(q)
	if err != nil {
		queryErr(a.w, err)
		return
	}
	s.mu.Lock()
	c, err := s.db.compile(parsed, nil)
	if err != nil {
		s.mu.Unlock()
		queryErr(a.w, err)
		return
	}
	now := s.now()
	rows, total := s.db.run(c, s.db.lists[c.obj.Name], all, a.vstr, now)
	cur := &queryCursor{rows: rows, total: total, batch: s.batchSize(a.r), all: all, lastUsed: now}
	s.cursorSeq++
	loc := makeID("01g", s.cursorSeq)
	s.cursors[loc] = cur
	s.expireCursorsLocked(now)
	s.mu.Unlock()
	s.answerBatch(a, loc, cur, 0)
}

func (s *Server) expireCursorsLocked(now time.Time) {
	for loc, c := range s.cursors {
		if now.Sub(c.lastUsed) > s.opts.LocatorTTL {
			delete(s.cursors, loc)
		}
	}
}

// queryMore answers a nextRecordsUrl: <locator>-<offset>.
func (s *Server) queryMore(a *apiRequest, ref string) {
	loc, off, ok := strings.Cut(ref, "-")
	offset, err := strconv.Atoi(off)
	s.mu.Lock()
	now := s.now()
	s.expireCursorsLocked(now)
	cur := s.cursors[loc]
	if cur != nil {
		cur.lastUsed = now
	}
	s.mu.Unlock()
	if !ok || err != nil || cur == nil || offset < 0 || offset > len(cur.rows) {
		writeJSON(a.w, http.StatusBadRequest, []apiError{{ErrorCode: "INVALID_QUERY_LOCATOR", Message: "invalid query locator"}})
		return
	}
	s.answerBatch(a, loc, cur, offset)
}

func (s *Server) answerBatch(a *apiRequest, loc string, cur *queryCursor, offset int) {
	end := min(offset+cur.batch, len(cur.rows))
	m := &omap{}
	m.set("totalSize", cur.total)
	m.set("done", end >= len(cur.rows))
	if end < len(cur.rows) {
		kind := "query"
		if cur.all {
			kind = "queryAll"
		}
		m.set("nextRecordsUrl", fmt.Sprintf("/services/data/%s/%s/%s-%d", a.vstr, kind, loc, end))
	} else {
		s.mu.Lock()
		delete(s.cursors, loc)
		s.mu.Unlock()
	}
	recs := make([]any, 0, end-offset)
	for _, r := range cur.rows[offset:end] {
		recs = append(recs, r)
	}
	m.set("records", recs)
	writeJSON(a.w, http.StatusOK, m)
}

// readBody decodes a JSON object body.
func readBody(a *apiRequest) (input, bool) {
	body, err := io.ReadAll(io.LimitReader(a.r.Body, 50<<20))
	if err != nil {
		writeJSON(a.w, http.StatusBadRequest, []apiError{{ErrorCode: "JSON_PARSER_ERROR", Message: err.Error()}})
		return nil, false
	}
	in, err := decodeInput(body)
	if err != nil {
		writeJSON(a.w, http.StatusBadRequest, []apiError{{ErrorCode: "JSON_PARSER_ERROR", Message: fmt.Sprintf("Unexpected character: %v at [line:1, column:1]", err)}})
		return nil, false
	}
	return in, true
}

func (s *Server) sobjects(a *apiRequest) {
	segs, m := a.segs, a.r.Method
	if len(segs) == 1 {
		s.describeGlobal(a)
		return
	}
	s.mu.Lock()
	obj := s.schema.object(segs[1])
	s.mu.Unlock()
	if obj == nil {
		writeJSON(a.w, http.StatusNotFound, []apiError{{ErrorCode: "NOT_FOUND", Message: "The requested resource does not exist"}})
		return
	}
	switch {
	case len(segs) == 2 && m == http.MethodGet:
		info := &omap{}
		info.set("objectDescribe", s.describeShort(obj, a.vstr))
		info.set("recentItems", []any{})
		writeJSON(a.w, http.StatusOK, info)
	case len(segs) == 2 && m == http.MethodPost:
		s.create(a, obj)
	case len(segs) == 3 && segs[2] == "describe" && m == http.MethodGet:
		writeJSON(a.w, http.StatusOK, s.describe(obj, a.vstr))
	case len(segs) == 3 && strings.EqualFold(segs[2], "Id") && m == http.MethodPost:
		s.create(a, obj) // upsert with a null Id: a create
	case len(segs) == 3:
		s.byID(a, obj, segs[2])
	case len(segs) == 4:
		s.byExternalID(a, obj, segs[2], segs[3])
	default:
		writeJSON(a.w, http.StatusNotFound, notFound())
	}
}

// saveResult is a single-record create/upsert body.
func saveResult(id string, created *bool) *omap {
	m := &omap{}
	m.set("id", id)
	m.set("success", true)
	m.set("errors", []any{})
	if created != nil {
		m.set("created", *created)
	}
	return m
}

// consumeLock reports whether the next record written fails with
// UNABLE_TO_LOCK_ROW (Faults.LockRows).
func (s *Server) consumeLockLocked() bool {
	if s.lockRows > 0 {
		s.lockRows--
		return true
	}
	return false
}

var lockError = apiError{ErrorCode: "UNABLE_TO_LOCK_ROW", Message: "unable to obtain exclusive access to this record or 1 records", dml: true}

func (s *Server) create(a *apiRequest, obj *Object) {
	in, ok := readBody(a)
	if !ok {
		return
	}
	s.mu.Lock()
	if s.consumeLockLocked() {
		s.mu.Unlock()
		writeJSON(a.w, http.StatusBadRequest, []apiError{lockError})
		return
	}
	r, errs := s.db.insert(obj, in, a.ctx)
	changed := s.db.takeChanged()
	s.mu.Unlock()
	if len(errs) > 0 {
		writeJSON(a.w, http.StatusBadRequest, errs)
		return
	}
	s.out.notify(changed)
	writeJSON(a.w, http.StatusCreated, saveResult(r.id(), nil))
}

func (s *Server) byID(a *apiRequest, obj *Object, id string) {
	s.mu.Lock()
	r := s.db.get(id)
	if r != nil && r.obj != obj {
		r = nil
	}
	switch a.r.Method {
	case http.MethodGet:
		defer s.mu.Unlock()
		if r == nil || r.deleted() {
			writeJSON(a.w, http.StatusNotFound, notFound())
			return
		}
		writeJSON(a.w, http.StatusOK, s.db.view(r, a.vstr, fieldsParam(a.r)))
	case http.MethodPatch:
		if r == nil {
			s.mu.Unlock()
			writeJSON(a.w, http.StatusNotFound, notFound())
			return
		}
		s.mu.Unlock()
		in, ok := readBody(a)
		if !ok {
			return
		}
		s.mu.Lock()
		var errs []apiError
		if s.consumeLockLocked() {
			errs = []apiError{lockError}
		} else {
			errs = s.db.update(r, in, a.ctx)
		}
		changed := s.db.takeChanged()
		s.mu.Unlock()
		if len(errs) > 0 {
			writeJSON(a.w, http.StatusBadRequest, errs)
			return
		}
		s.out.notify(changed)
		a.w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		if r == nil {
			s.mu.Unlock()
			writeJSON(a.w, http.StatusNotFound, notFound())
			return
		}
		errs := s.db.remove(r, a.ctx)
		changed := s.db.takeChanged()
		s.mu.Unlock()
		if len(errs) > 0 {
			status := http.StatusBadRequest
			if errs[0].ErrorCode == "ENTITY_IS_DELETED" {
				status = http.StatusNotFound
			}
			writeJSON(a.w, status, errs)
			return
		}
		s.out.notify(changed)
		a.w.WriteHeader(http.StatusNoContent)
	default:
		s.mu.Unlock()
		writeJSON(a.w, http.StatusMethodNotAllowed, []apiError{{ErrorCode: "METHOD_NOT_ALLOWED", Message: "HTTP Method '" + a.r.Method + "' not allowed. Allowed are GET,PATCH,DELETE"}})
	}
}

func fieldsParam(r *http.Request) []string {
	f := r.URL.Query().Get("fields")
	if f == "" {
		return nil
	}
	var out []string
	for _, name := range strings.Split(f, ",") {
		out = append(out, strings.TrimSpace(name))
	}
	return out
}

// extField returns the external ID field of an upsert, or the NOT_FOUND
// body Salesforce answers for a bad one.
func extField(obj *Object, name string) (*Field, []apiError) {
	f := obj.field(name)
	if f == nil || !(f.ExternalID || f.Name == "Id") {
		return nil, []apiError{{ErrorCode: "NOT_FOUND", Message: "Provided external ID field does not exist or is not accessible: " + name}}
	}
	return f, nil
}

// byExternalID serves /sobjects/{type}/{field}/{value}: GET, upsert
// (PATCH) and DELETE.
func (s *Server) byExternalID(a *apiRequest, obj *Object, field, value string) {
	f, errs := extField(obj, field)
	if errs != nil {
		writeJSON(a.w, http.StatusNotFound, errs)
		return
	}
	var in input
	if a.r.Method == http.MethodPatch {
		var ok bool
		if in, ok = readBody(a); !ok {
			return
		}
	}
	s.mu.Lock()
	val, code, msg := convertValue(f, value)
	var matches []*record
	if code == "" {
		matches = s.db.find(obj, f, val)
	}
	if len(matches) > 1 {
		urls := make([]string, len(matches))
		for i, m := range matches {
			urls[i] = fmt.Sprintf("/services/data/%s/sobjects/%s/%s", a.vstr, obj.Name, m.id())
		}
		s.mu.Unlock()
		writeJSON(a.w, http.StatusMultipleChoices, urls)
		return
	}
	switch a.r.Method {
	case http.MethodGet:
		defer s.mu.Unlock()
		if len(matches) == 0 {
			writeJSON(a.w, http.StatusNotFound, notFound())
			return
		}
		writeJSON(a.w, http.StatusOK, s.db.view(matches[0], a.vstr, fieldsParam(a.r)))
	case http.MethodDelete:
		if len(matches) == 0 {
			s.mu.Unlock()
			writeJSON(a.w, http.StatusNotFound, notFound())
			return
		}
		errs := s.db.remove(matches[0], a.ctx)
		changed := s.db.takeChanged()
		s.mu.Unlock()
		if len(errs) > 0 {
			writeJSON(a.w, http.StatusBadRequest, errs)
			return
		}
		s.out.notify(changed)
		a.w.WriteHeader(http.StatusNoContent)
	case http.MethodPatch:
		if code != "" {
			s.mu.Unlock()
			writeJSON(a.w, http.StatusBadRequest, []apiError{dmlErr(code, msg, f.Name)})
			return
		}
		res, created, errs, status := s.upsertOneLocked(a, obj, f, val, in, matches, a.r.URL.Query().Get("updateOnly") == "true")
		changed := s.db.takeChanged()
		s.mu.Unlock()
		if errs != nil {
			writeJSON(a.w, status, errs)
			return
		}
		s.out.notify(changed)
		switch {
		case created:
			writeJSON(a.w, http.StatusCreated, res)
		case a.version >= 46:
			writeJSON(a.w, http.StatusOK, res)
		default:
			a.w.WriteHeader(http.StatusNoContent)
		}
	default:
		s.mu.Unlock()
		writeJSON(a.w, http.StatusMethodNotAllowed, []apiError{{ErrorCode: "METHOD_NOT_ALLOWED", Message: "HTTP Method '" + a.r.Method + "' not allowed. Allowed are GET,PATCH,DELETE"}})
	}
}

// upsertOneLocked upserts one record matched by an external ID value. The
// result has "created" from API 46.0 on.
func (s *Server) upsertOneLocked(a *apiRequest, obj *Object, f *Field, val any, in input, matches []*record, updateOnly bool) (*omap, bool, []apiError, int) {
	for k, v := range in {
		if strings.EqualFold(k, f.Name) {
			bv, _, _ := convertValue(f, v)
			if compare(f.Type, bv, val) != 0 {
				return nil, false, []apiError{dmlErr("INVALID_FIELD", fmt.Sprintf("The value of the external ID field %s in the request body doesn't match the value in the URL", f.Name), f.Name)}, http.StatusBadRequest
			}
			delete(in, k)
		}
	}
	if s.consumeLockLocked() {
		return nil, false, []apiError{lockError}, http.StatusBadRequest
	}
	result := func(id string, created bool) *omap {
		if a.version >= 46 {
			return saveResult(id, &created)
		}
		return saveResult(id, nil)
	}
	if len(matches) == 1 {
		if errs := s.db.update(matches[0], in, a.ctx); len(errs) > 0 {
			return nil, false, errs, http.StatusBadRequest
		}
		return result(matches[0].id(), false), false, nil, 0
	}
	if updateOnly || f.Name == "Id" {
		return nil, false, notFound(), http.StatusNotFound
	}
	in[f.Name] = val
	r, errs := s.db.insert(obj, in, a.ctx)
	if len(errs) > 0 {
		return nil, false, errs, http.StatusBadRequest
	}
	return result(r.id(), true), true, nil, 0
}

// collectionLimit is the most records in one sObject Collections call.
const collectionLimit = 200

type collectionBody struct {
	AllOrNone bool              `json:"allOrNone"`
	Records   []json.RawMessage `json:"records"`
}

// collections serves /composite/sobjects: POST create, PATCH update by
// Id, PATCH .../{type}/{field} upsert, DELETE ?ids=, GET .../{type}?ids=.
func (s *Server) collections(a *apiRequest) {
	segs, m := a.segs, a.r.Method
	if a.version < 42 || len(segs) == 4 && a.version < 46 {
		writeJSON(a.w, http.StatusNotFound, notFound())
		return
	}
	switch {
	case len(segs) == 2 && m == http.MethodDelete:
		s.collectionDelete(a)
		return
	case len(segs) == 3 && m == http.MethodGet:
		s.collectionRetrieve(a, segs[2])
		return
	case len(segs) == 2 && (m == http.MethodPost || m == http.MethodPatch), len(segs) == 4 && m == http.MethodPatch:
	default:
		writeJSON(a.w, http.StatusNotFound, notFound())
		return
	}
	body, err := io.ReadAll(io.LimitReader(a.r.Body, 50<<20))
	var cb collectionBody
	if err == nil {
		err = json.Unmarshal(body, &cb)
	}
	if err != nil {
		writeJSON(a.w, http.StatusBadRequest, []apiError{{ErrorCode: "JSON_PARSER_ERROR", Message: "Cannot deserialize the request body: " + err.Error()}})
		return
	}
	if len(cb.Records) > collectionLimit {
		writeJSON(a.w, http.StatusBadRequest, []apiError{{ErrorCode: "EXCEEDED_ID_LIMIT", Message: fmt.Sprintf("record limit reached. cannot submit more than %d records into this call", collectionLimit)}})
		return
	}
	var obj *Object
	var ext *Field
	if len(segs) == 4 {
		s.mu.Lock()
		obj = s.schema.object(segs[2])
		s.mu.Unlock()
		if obj == nil {
			writeJSON(a.w, http.StatusNotFound, notFound())
			return
		}
		var errs []apiError
		if ext, errs = extField(obj, segs[3]); errs != nil {
			writeJSON(a.w, http.StatusNotFound, errs)
			return
		}
	}
	results := make([]*omap, len(cb.Records))
	s.mu.Lock()
	if cb.AllOrNone {
		s.db.begin()
	}
	failed := false
	for i, raw := range cb.Records {
		res, errs := s.collectionOneLocked(a, raw, obj, ext)
		if len(errs) > 0 {
			failed = true
			res = &omap{}
			res.set("success", false)
			list := make([]any, len(errs))
			for j, e := range errs {
				list[j] = e.collection()
			}
			res.set("errors", list)
		}
		results[i] = res
	}
	if cb.AllOrNone && failed {
		s.db.rollback()
		for i, res := range results {
			if ok, _ := res.get("success"); ok == true {
				r := &omap{}
				r.set("id", nil)
				r.set("success", false)
				r.set("errors", []any{apiError{ErrorCode: "ALL_OR_NONE_OPERATION_ROLLED_BACK", Message: "Record rolled back because not all records were valid and the request was using AllOrNone header"}.collection()})
				results[i] = r
			}
		}
	} else {
		s.db.commit()
	}
	changed := s.db.takeChanged()
	s.mu.Unlock()
	s.out.notify(changed)
	writeJSON(a.w, http.StatusOK, results)
}

// collectionOneLocked writes one record of a collection call.
func (s *Server) collectionOneLocked(a *apiRequest, raw json.RawMessage, obj *Object, ext *Field) (*omap, []apiError) {
	in, err := decodeInput(raw)
	if err != nil {
		return nil, []apiError{dmlErr("JSON_PARSER_ERROR", "record is not a JSON object")}
	}
	typ := ""
	if attrs, ok := in["attributes"].(map[string]any); ok {
		typ, _ = attrs["type"].(string)
	}
	if obj == nil {
		if obj = s.schema.object(typ); obj == nil {
			return nil, []apiError{dmlErr("INVALID_TYPE", "sObject type '"+typ+"' is not supported.")}
		}
	} else if typ != "" && !strings.EqualFold(typ, obj.Name) {
		return nil, []apiError{dmlErr("INVALID_TYPE", fmt.Sprintf("The type %s does not match the type %s of the request", typ, obj.Name))}
	}
	var idField *Field
	idVal := any(nil)
	for k, v := range in {
		if strings.EqualFold(k, "Id") {
			idVal = v
		}
	}
	switch {
	case ext != nil: // upsert
		var v any
		for k, x := range in {
			if strings.EqualFold(k, ext.Name) {
				v = x
				if ext.Name != "Id" {
					delete(in, k)
				}
			}
		}
		val, code, msg := convertValue(ext, v)
		if code != "" {
			return nil, []apiError{dmlErr(code, msg, ext.Name)}
		}
		if val == nil {
			return nil, []apiError{dmlErr("MISSING_ARGUMENT", ext.Name+" not specified", ext.Name)}
		}
		matches := s.db.find(obj, ext, val)
		if len(matches) > 1 {
			ids := make([]string, len(matches))
			for i, m := range matches {
				ids[i] = m.id()
			}
			return nil, []apiError{dmlErr("DUPLICATE_EXTERNAL_ID", fmt.Sprintf("%s: more than one record found for external id field: [%s]", ext.Name, strings.Join(ids, ", ")), ext.Name)}
		}
		if ext.Name == "Id" {
			delete(in, "Id")
		}
		res, _, errs, _ := s.upsertOneLocked(&apiRequest{version: max(a.version, 46), ctx: a.ctx}, obj, ext, val, in, matches, false)
		return res, errs
	case a.r.Method == http.MethodPost: // create
		if idVal != nil {
			return nil, []apiError{dmlErr("INVALID_FIELD", "Record ID: cannot specify Id in an insert call", "Id")}
		}
		if s.consumeLockLocked() {
			return nil, []apiError{lockError}
		}
		r, errs := s.db.insert(obj, in, a.ctx)
		if len(errs) > 0 {
			return nil, errs
		}
		return saveResult(r.id(), nil), nil
	default: // update by Id
		idField = obj.field("Id")
		id, _ := idVal.(string)
		r := s.db.get(id)
		if id == "" || r == nil || r.obj != obj {
			return nil, []apiError{dmlErr("MISSING_ARGUMENT", "Id not specified in an update call", idField.Name)}
		}
		delete(in, "Id")
		if s.consumeLockLocked() {
			return nil, []apiError{lockError}
		}
		if errs := s.db.update(r, in, a.ctx); len(errs) > 0 {
			return nil, errs
		}
		return saveResult(r.id(), nil), nil
	}
}

func (s *Server) collectionDelete(a *apiRequest) {
	ids := strings.Split(a.r.URL.Query().Get("ids"), ",")
	allOrNone := a.r.URL.Query().Get("allOrNone") == "true"
	if len(ids) > collectionLimit {
		writeJSON(a.w, http.StatusBadRequest, []apiError{{ErrorCode: "EXCEEDED_ID_LIMIT", Message: fmt.Sprintf("record limit reached. cannot submit more than %d records into this call", collectionLimit)}})
		return
	}
	s.mu.Lock()
	if allOrNone {
		s.db.begin()
	}
	results := make([]*omap, len(ids))
	failed := false
	for i, id := range ids {
		res := &omap{}
		r := s.db.get(strings.TrimSpace(id))
		var errs []apiError
		switch {
		case r == nil:
			errs = []apiError{dmlErr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")}
		default:
			errs = s.db.remove(r, a.ctx)
		}
		if len(errs) > 0 {
			failed = true
			res.set("id", id)
			res.set("success", false)
			res.set("errors", []any{errs[0].collection()})
		} else {
			res.set("id", r.id())
			res.set("success", true)
			res.set("errors", []any{})
		}
		results[i] = res
	}
	if allOrNone && failed {
		s.db.rollback()
	} else {
		s.db.commit()
	}
	changed := s.db.takeChanged()
	s.mu.Unlock()
	s.out.notify(changed)
	writeJSON(a.w, http.StatusOK, results)
}

func (s *Server) collectionRetrieve(a *apiRequest, typ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	obj := s.schema.object(typ)
	if obj == nil {
		writeJSON(a.w, http.StatusNotFound, notFound())
		return
	}
	fields := fieldsParam(a.r)
	var out []any
	for _, id := range strings.Split(a.r.URL.Query().Get("ids"), ",") {
		r := s.db.get(strings.TrimSpace(id))
		if r == nil || r.obj != obj || r.deleted() {
			out = append(out, nil)
			continue
		}
		out = append(out, s.db.view(r, a.vstr, fields))
	}
	writeJSON(a.w, http.StatusOK, out)
}

func (s *Server) describeGlobal(a *apiRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []any
	for _, name := range s.schema.names {
		list = append(list, s.describeShort(s.schema.object(name), a.vstr))
	}
	m := &omap{}
	m.set("encoding", "UTF-8")
	m.set("maxBatchSize", collectionLimit)
	m.set("sobjects", list)
	writeJSON(a.w, http.StatusOK, m)
}

func (s *Server) describeShort(obj *Object, version string) *omap {
	m := &omap{}
	m.set("name", obj.Name)
	m.set("label", obj.Name)
	m.set("keyPrefix", obj.Prefix)
	m.set("custom", strings.HasSuffix(obj.Name, "__c"))
	m.set("createable", true)
	m.set("updateable", true)
	m.set("deletable", true)
	m.set("queryable", true)
	urls := &omap{}
	urls.set("sobject", fmt.Sprintf("/services/data/%s/sobjects/%s", version, obj.Name))
	urls.set("describe", fmt.Sprintf("/services/data/%s/sobjects/%s/describe", version, obj.Name))
	urls.set("rowTemplate", fmt.Sprintf("/services/data/%s/sobjects/%s/{ID}", version, obj.Name))
	m.set("urls", urls)
	return m
}

// describe writes an object's describe: its fields and child
// relationships.
func (s *Server) describe(obj *Object, version string) *omap {
	m := s.describeShort(obj, version)
	var fields []any
	for _, f := range obj.order {
		fm := &omap{}
		fm.set("name", f.Name)
		fm.set("label", f.Label())
		fm.set("type", f.Type)
		length := 0
		if f.isText() || f.Type == TypeID {
			length = f.maxLength()
		}
		fm.set("length", length)
		fm.set("custom", strings.HasSuffix(f.Name, "__c"))
		fm.set("externalId", f.ExternalID)
		fm.set("unique", f.Unique)
		fm.set("idLookup", f.ExternalID || f.Name == "Id")
		fm.set("nillable", !f.Required && f.Type != TypeBoolean && f.Name != "Id")
		fm.set("createable", f.Createable)
		fm.set("updateable", f.Updateable)
		fm.set("calculated", false)
		fm.set("autoNumber", f.Name == "OrderNumber" || f.Name == "OrderItemNumber")
		ref := []string{}
		if f.ReferenceTo != "" {
			ref = []string{f.ReferenceTo}
		}
		fm.set("referenceTo", ref)
		if f.RelationshipName != "" {
			fm.set("relationshipName", f.RelationshipName)
		} else {
			fm.set("relationshipName", nil)
		}
		var pl []any
		for _, v := range f.Picklist {
			p := &omap{}
			p.set("active", true)
			p.set("label", v)
			p.set("value", v)
			pl = append(pl, p)
		}
		if f.Name == "BillingCountryCode" || f.Name == "ShippingCountryCode" {
			pl = nil
			for _, code := range sortedKeys(s.db.country.value) {
				p := &omap{}
				p.set("active", true)
				p.set("label", s.db.country.value[code])
				p.set("value", code)
				pl = append(pl, p)
			}
		}
		if pl == nil {
			pl = []any{}
		}
		fm.set("picklistValues", pl)
		fm.set("restrictedPicklist", f.Restricted)
		fields = append(fields, fm)
	}
	m.set("fields", fields)
	var children []any
	for _, ch := range sortedChildren(obj) {
		c := &omap{}
		c.set("childSObject", ch.Object)
		c.set("field", ch.Field)
		c.set("relationshipName", ch.Name)
		c.set("cascadeDelete", parentOf(ch.Object) == obj.Name)
		children = append(children, c)
	}
	if children == nil {
		children = []any{}
	}
	m.set("childRelationships", children)
	return m
}
