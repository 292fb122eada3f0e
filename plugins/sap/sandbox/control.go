package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Seed is data for POST /_sandbox/seed: records by entity set, as the
// control API's POST /_sandbox/records/{set} takes them, and net prices.
type Seed struct {
	// Demo loads the demo data (SeedDemo) first.
	Demo bool `json:"demo,omitempty"`
	// Records are entities by entity set; to-many navigations may be
	// given inline (e.g. an A_Product's to_ProductUnitsOfMeasure).
	Records map[string][]json.RawMessage `json:"records,omitempty"`
	// Prices are net prices per base unit, by material, as decimal text.
	Prices map[string]string `json:"prices,omitempty"`
}

func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/_sandbox/")
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.Encode(v)
	}
	fail := func(status int, err error) { reply(status, map[string]string{"error": err.Error()}) }
	body := func() []byte { b, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20)); return bytes.TrimSpace(b) }
	switch {
	case strings.HasPrefix(path, "records/"):
		set, key, hasKey := strings.Cut(strings.TrimPrefix(path, "records/"), "/")
		switch {
		case r.Method == http.MethodGet && !hasKey:
			recs, err := s.Records(set)
			if err != nil {
				fail(http.StatusNotFound, err)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte("["))
			for i, rec := range recs {
				if i > 0 {
					w.Write([]byte(","))
				}
				w.Write(rec)
			}
			w.Write([]byte("]\n"))
		case r.Method == http.MethodPost && !hasKey:
			raw := body()
			var recs []json.RawMessage
			if len(raw) > 0 && raw[0] == '[' {
				if err := json.Unmarshal(raw, &recs); err != nil {
					fail(http.StatusBadRequest, err)
					return
				}
			} else {
				recs = []json.RawMessage{raw}
			}
			out, err := s.Insert(set, recs...)
			if err != nil {
				fail(http.StatusBadRequest, err)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			parts := make([][]byte, len(out))
			for i, o := range out {
				parts[i] = o
			}
			w.Write([]byte("[" + string(bytes.Join(parts, []byte(","))) + "]\n"))
		case (r.Method == http.MethodPatch || r.Method == http.MethodPost) && hasKey:
			if err := s.Update(set, key, body()); err != nil {
				fail(http.StatusBadRequest, err)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		case r.Method == http.MethodDelete && hasKey:
			if err := s.Delete(set, key); err != nil {
				fail(http.StatusNotFound, err)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		default:
			fail(http.StatusMethodNotAllowed, fmt.Errorf("%s /_sandbox/%s is not supported", r.Method, path))
		}
	case path == "seed" && r.Method == http.MethodPost:
		raw := body()
		seed := Seed{Demo: len(raw) == 0}
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &seed); err != nil {
				fail(http.StatusBadRequest, err)
				return
			}
		}
		if err := s.Seed(seed); err != nil {
			fail(http.StatusBadRequest, err)
			return
		}
		reply(http.StatusOK, s.counts())
	case path == "faults":
		switch r.Method {
		case http.MethodGet:
			reply(http.StatusOK, s.CurrentFaults())
		case http.MethodPost, http.MethodPut:
			var f Faults
			dec := json.NewDecoder(bytes.NewReader(body()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&f); err != nil && err != io.EOF {
				fail(http.StatusBadRequest, err)
				return
			}
			s.SetFaults(f)
			reply(http.StatusOK, s.CurrentFaults())
		case http.MethodDelete:
			s.SetFaults(Faults{})
			w.WriteHeader(http.StatusNoContent)
		default:
			fail(http.StatusMethodNotAllowed, fmt.Errorf("%s /_sandbox/faults is not supported", r.Method))
		}
	case path == "requests":
		switch r.Method {
		case http.MethodGet:
			var since time.Time
			if v := r.URL.Query().Get("since"); v != "" {
				t, err := time.Parse(time.RFC3339Nano, v)
				if err != nil {
					fail(http.StatusBadRequest, err)
					return
				}
				since = t
			}
			out := []Request{}
			for _, req := range s.Requests() {
				if !req.Time.Before(since) {
					out = append(out, req)
				}
			}
			reply(http.StatusOK, out)
		case http.MethodDelete:
			s.mu.Lock()
			s.log = nil
			s.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		default:
			fail(http.StatusMethodNotAllowed, fmt.Errorf("%s /_sandbox/requests is not supported", r.Method))
		}
	case path == "reset" && r.Method == http.MethodPost:
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	default:
		fail(http.StatusNotFound, fmt.Errorf("unknown control endpoint %s /_sandbox/%s", r.Method, path))
	}
}

func (s *Server) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for name, tb := range s.tables {
		if len(tb.rows) > 0 {
			out[name] = len(tb.rows)
		}
	}
	return out
}

// typeOf returns the entity type of a set, in any service.
func (s *Server) typeOf(set string) *entityType {
	for _, svc := range s.services {
		if t := svc.set(set); t != nil {
			return t
		}
	}
	return nil
}

// Records returns every entity of set, in key order, in the OData JSON
// form without __metadata, to-many navigations inline as arrays.
func (s *Server) Records(set string) ([]json.RawMessage, error) {
	t := s.typeOf(set)
	if t == nil {
		return nil, fmt.Errorf("no entity set %q", set)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rows := append([]*entity(nil), s.tables[set].rows...)
	sortByKey(t, rows)
	sh := newShape()
	for _, n := range t.Navs {
		if n.Many {
			sh.expand[n.Name] = newShape()
		}
	}
	out := make([]json.RawMessage, len(rows))
	for i, e := range rows {
		var b bytes.Buffer
		s.render(&b, "", t, e, sh, false)
		out[i] = b.Bytes()
	}
	return out, nil
}

// Insert stores records of set as they are, without business validation:
// read-only fields may be set, decimals may be JSON numbers, to-many
// navigations may be inline. An A_SalesOrder without SalesOrder gets the
// next number; an entity with an ETag but no change time gets one. It
// returns the stored records as Records renders them.
func (s *Server) Insert(set string, recs ...json.RawMessage) ([]json.RawMessage, error) {
	t := s.typeOf(set)
	if t == nil {
		return nil, fmt.Errorf("no entity set %q", set)
	}
	s.mu.Lock()
	var stored []*entity
	for i, raw := range recs {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			s.mu.Unlock()
			return nil, fmt.Errorf("record %d: %v", i, err)
		}
		e, err := s.insertLocked(t, m, nil)
		if err != nil {
			s.mu.Unlock()
			return nil, fmt.Errorf("record %d: %v", i, err)
		}
		stored = append(stored, e)
	}
	sh := newShape()
	for _, n := range t.Navs {
		if n.Many {
			sh.expand[n.Name] = newShape()
		}
	}
	out := make([]json.RawMessage, len(stored))
	for i, e := range stored {
		var b bytes.Buffer
		s.render(&b, "", t, e, sh, false)
		out[i] = b.Bytes()
	}
	s.mu.Unlock()
	return out, nil
}

func (s *Server) rawProps(t *entityType, vals, m map[string]any) error {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "__metadata" || t.nav(name) != nil {
			continue
		}
		p := t.prop(name)
		if p == nil {
			return fmt.Errorf("%s has no property %q", t.Name, name)
		}
		v, err := decodeValue(p, m[name], true)
		if err != nil {
			return err
		}
		vals[name] = v
	}
	return nil
}

func (s *Server) insertLocked(t *entityType, m map[string]any, parent map[string]any) (*entity, error) {
	vals := map[string]any{}
	for k, v := range parent {
		vals[k] = v
	}
	if err := s.rawProps(t, vals, m); err != nil {
		return nil, err
	}
	if t.Set == "A_SalesOrder" && (vals["SalesOrder"] == nil || vals["SalesOrder"] == "") {
		for {
			vals["SalesOrder"] = padAlpha(fmt.Sprint(s.nextOrder), 10)
			s.nextOrder++
			if s.tables[t.Set].get(vals) == nil {
				break
			}
		}
	}
	for _, k := range t.Keys {
		if vals[k] == nil {
			vals[k] = zeroValue(t.prop(k))
		}
	}
	if t.ETag != "" && vals[t.ETag] == nil {
		vals[t.ETag] = s.changeTimeLocked()
	}
	e := &entity{vals: vals}
	s.tables[t.Set].put(e)
	for _, n := range t.Navs {
		v, ok := m[n.Name]
		if !ok || !n.Many {
			continue
		}
		list, ok := navList(v)
		if !ok {
			return nil, fmt.Errorf("%s must be an array", n.Name)
		}
		ct := t.Service.set(n.Target)
		link := map[string]any{}
		for i := range n.From {
			link[n.To[i]] = vals[n.From[i]]
		}
		if ct.ETag != "" && t.ETag != "" {
			link[ct.ETag] = vals[t.ETag]
		}
		for _, cm := range list {
			if _, err := s.insertLocked(ct, cm, link); err != nil {
				return nil, err
			}
		}
	}
	return e, nil
}

func (s *Server) findLocked(set, key string) (*entityType, *entity, error) {
	t := s.typeOf(set)
	if t == nil {
		return nil, nil, fmt.Errorf("no entity set %q", set)
	}
	if len(t.Keys) == 1 && !strings.ContainsAny(key, "'=") {
		key = "'" + strings.ReplaceAll(key, "'", "''") + "'"
	}
	kv, err := parseKey(t, key)
	if err != nil {
		return nil, nil, err
	}
	e := s.tables[set].get(kv)
	if e == nil {
		return nil, nil, fmt.Errorf("no %s with key %s", set, key)
	}
	return t, e, nil
}

// Update changes fields of one entity, given its key ("1" or
// "SalesOrder='1',SalesOrderItem='10'"), without business validation, as
// the system's own processing would (a delivery changing a status). The
// entity's change time moves on.
func (s *Server) Update(set, key string, fields json.RawMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, e, err := s.findLocked(set, key)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(fields))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return err
	}
	vals := map[string]any{}
	for k, v := range e.vals {
		vals[k] = v
	}
	if err := s.rawProps(t, vals, m); err != nil {
		return err
	}
	for _, k := range t.Keys {
		if c, _ := compare(vals[k], e.vals[k]); c != 0 {
			return fmt.Errorf("key %s cannot change", k)
		}
	}
	e.vals = vals
	switch {
	case t.Set == "A_SalesOrder":
		s.touchLocked(e)
	case t.Set == "A_SalesOrderItem":
		if o := s.tables["A_SalesOrder"].get(map[string]any{"SalesOrder": e.vals["SalesOrder"]}); o != nil {
			s.touchLocked(o)
		}
	case t.ETag != "":
		e.vals[t.ETag] = s.changeTimeLocked()
	}
	return nil
}

// Delete removes one entity (a sales order with its items, partners and
// texts).
func (s *Server) Delete(set, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, e, err := s.findLocked(set, key)
	if err != nil {
		return err
	}
	if t.Set == "A_SalesOrder" {
		so := valueKey(e.vals["SalesOrder"])
		for _, child := range []string{"A_SalesOrderItem", "A_SalesOrderHeaderPartner", "A_SalesOrderText"} {
			for _, c := range append([]*entity(nil), s.tables[child].byFirst[so]...) {
				s.tables[child].remove(c)
			}
		}
	}
	s.tables[set].remove(e)
	return nil
}

// Seed loads seed data.
func (s *Server) Seed(seed Seed) error {
	if seed.Demo {
		s.SeedDemo()
	}
	// Master data first, so that orders can refer to it.
	order := []string{"A_Customer", "A_BusinessPartner", "A_Product", "A_ProductUnitsOfMeasure", "A_ProductDescription",
		"A_MaterialStock", "A_MatlStkInAcctMod"}
	var sets []string
	sets = append(sets, order...)
	var rest []string
	for set := range seed.Records {
		found := false
		for _, o := range order {
			found = found || o == set
		}
		if !found {
			rest = append(rest, set)
		}
	}
	sort.Strings(rest)
	for _, set := range append(sets, rest...) {
		if recs := seed.Records[set]; len(recs) > 0 {
			if _, err := s.Insert(set, recs...); err != nil {
				return fmt.Errorf("%s: %w", set, err)
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for m, p := range seed.Prices {
		r, ok := parseDecimal(p)
		if !ok {
			return fmt.Errorf("price of %s: %q is not a decimal", m, p)
		}
		s.prices[m] = r
	}
	return nil
}
