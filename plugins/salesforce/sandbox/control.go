package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The control API, for tests and demos (no authentication: a sandbox
// only):
//
//	GET  /_sandbox/records/{type}   every record stored, deleted ones too (?deleted=false to omit them)
//	POST /_sandbox/seed             {"demo":true} or {"records":[SeedRecord...]} → {"ids":[...]}
//	GET  /_sandbox/faults           the faults in force
//	POST /_sandbox/faults           Faults, plus "expire_tokens":true and "clear":true
//	GET  /_sandbox/requests         the request log (?since=RFC 3339 time)
//	POST /_sandbox/reset            empty the org ({"tokens":true} also forgets OAuth state)
//	GET  /_sandbox/limits           {"used","daily_limit","max_concurrent","long_running_after"}
//	POST /_sandbox/limits           set any of them
//	GET  /_sandbox/outbound         outbound message definitions, pending notifications, deliveries
//	POST /_sandbox/outbound         {"definitions":[OutboundMessage...]} replaces the definitions
//	POST /_sandbox/token            a token response for {"username"} (default user), with a refresh token

// SeedRecord is a record to seed. Seeds bypass the rules API writes
// follow: free-text countries stay as written (with their code filled in
// when recognisable), audit fields (CreatedDate, LastModifiedDate,
// SystemModstamp) may be set, and orders may be activated as they are
// seeded.
type SeedRecord struct {
	// Type is the sObject, e.g. "Account".
	Type string `json:"type"`
	// Ref names the record for later seeds, whose string values "@name"
	// become its id. "@StandardPricebook" is the Standard Price Book.
	Ref string `json:"ref,omitempty"`
	// ID, when set (or "@name"), updates that record instead of creating
	// one.
	ID string `json:"id,omitempty"`
	// Delete deletes the record ID.
	Delete bool `json:"delete,omitempty"`
	// Fields are the values, as the REST API takes them.
	Fields map[string]any `json:"fields,omitempty"`
}

// Seed writes records in order, atomically, and returns their ids.
func (s *Server) Seed(recs ...SeedRecord) ([]string, error) {
	s.mu.Lock()
	s.db.begin()
	ids, err := s.seedLocked(recs)
	if err != nil {
		s.db.rollback()
		s.mu.Unlock()
		return nil, err
	}
	s.db.commit()
	changed := s.db.takeChanged()
	s.mu.Unlock()
	s.out.notify(changed)
	return ids, nil
}

func (s *Server) seedLocked(recs []SeedRecord) ([]string, error) {
	refs := map[string]string{}
	for _, r := range s.db.lists["Pricebook2"] {
		if r.f["IsStandard"] == true {
			refs["StandardPricebook"] = r.id()
		}
	}
	resolve := func(v string) string {
		if id, ok := refs[strings.TrimPrefix(v, "@")]; ok && strings.HasPrefix(v, "@") {
			return id
		}
		return v
	}
	ctx := dmlContext{user: s.adminID(), seed: true}
	ids := make([]string, 0, len(recs))
	for i, sr := range recs {
		obj := s.schema.object(sr.Type)
		if obj == nil {
			return nil, fmt.Errorf("seed %d: no sObject type %q", i, sr.Type)
		}
		raw, err := json.Marshal(sr.Fields)
		if err != nil {
			return nil, fmt.Errorf("seed %d: %v", i, err)
		}
		in := input{}
		if len(sr.Fields) > 0 {
			if in, err = decodeInput(raw); err != nil {
				return nil, fmt.Errorf("seed %d: %v", i, err)
			}
		}
		for k, v := range in {
			if str, ok := v.(string); ok {
				in[k] = resolve(str)
			}
		}
		var errs []apiError
		var id string
		if sr.ID != "" {
			r := s.db.get(resolve(sr.ID))
			if r == nil {
				return nil, fmt.Errorf("seed %d: no record %s", i, sr.ID)
			}
			if sr.Delete {
				errs = s.db.remove(r, ctx)
			} else {
				errs = s.db.update(r, in, ctx)
			}
			id = r.id()
		} else {
			var r *record
			if r, errs = s.db.insert(obj, in, ctx); r != nil {
				id = r.id()
			}
		}
		if len(errs) > 0 {
			return nil, fmt.Errorf("seed %d (%s): %s: %s", i, obj.Name, errs[0].ErrorCode, errs[0].Message)
		}
		if sr.Ref != "" {
			refs[sr.Ref] = id
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// Records returns every record of an object as the REST API writes it,
// deleted ones too (with IsDeleted true), in creation order.
func (s *Server) Records(object string) ([]json.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	obj := s.schema.object(object)
	if obj == nil {
		return nil, fmt.Errorf("no sObject type %q", object)
	}
	var out []json.RawMessage
	for _, r := range s.db.lists[obj.Name] {
		b, err := s.db.view(r, "v"+DefaultAPIVersion, nil).MarshalJSON()
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// Reset empties the org as New made it; with tokens, OAuth state too.
func (s *Server) Reset(tokens bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked(tokens)
}

func controlError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

func decodeControl(r *http.Request, v any) error {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r.Body); err != nil {
		return err
	}
	if buf.Len() == 0 {
		return nil
	}
	dec := json.NewDecoder(&buf)
	dec.UseNumber()
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// control serves /_sandbox/.
func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/_sandbox/")
	switch {
	case strings.HasPrefix(path, "records/") && r.Method == http.MethodGet:
		recs, err := s.Records(strings.TrimPrefix(path, "records/"))
		if err != nil {
			controlError(w, http.StatusNotFound, "%v", err)
			return
		}
		if r.URL.Query().Get("deleted") == "false" {
			recs = slices.DeleteFunc(recs, func(b json.RawMessage) bool { return bytes.Contains(b, []byte(`"IsDeleted":true`)) })
		}
		if recs == nil {
			recs = []json.RawMessage{}
		}
		writeJSON(w, http.StatusOK, recs)
	case path == "seed" && r.Method == http.MethodPost:
		var body struct {
			Demo    bool         `json:"demo"`
			Records []SeedRecord `json:"records"`
		}
		if err := decodeControl(r, &body); err != nil {
			controlError(w, http.StatusBadRequest, "body: %v", err)
			return
		}
		var ids []string
		var err error
		if body.Demo || len(body.Records) == 0 {
			err = s.SeedDemo()
		}
		if err == nil && len(body.Records) > 0 {
			ids, err = s.Seed(body.Records...)
		}
		if err != nil {
			controlError(w, http.StatusBadRequest, "%v", err)
			return
		}
		if ids == nil {
			ids = []string{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"ids": ids})
	case path == "faults" && r.Method == http.MethodGet:
		s.mu.Lock()
		f := s.faults
		f.LockRows = s.lockRows
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, f)
	case path == "faults" && r.Method == http.MethodPost:
		var body struct {
			Faults
			ExpireTokens bool `json:"expire_tokens"`
			Clear        bool `json:"clear"`
		}
		if err := decodeControl(r, &body); err != nil {
			controlError(w, http.StatusBadRequest, "body: %v", err)
			return
		}
		if body.Clear {
			s.ClearFaults()
		}
		s.SetFaults(body.Faults)
		if body.ExpireTokens {
			s.ExpireTokens()
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case path == "requests" && r.Method == http.MethodGet:
		log := s.Requests()
		if since := r.URL.Query().Get("since"); since != "" {
			t, err := time.Parse(time.RFC3339Nano, since)
			if err != nil {
				controlError(w, http.StatusBadRequest, "since: %v", err)
				return
			}
			log = slices.DeleteFunc(log, func(e RequestLog) bool { return e.Time.Before(t) })
		}
		if log == nil {
			log = []RequestLog{}
		}
		writeJSON(w, http.StatusOK, log)
	case path == "reset" && r.Method == http.MethodPost:
		var body struct {
			Tokens bool `json:"tokens"`
		}
		if err := decodeControl(r, &body); err != nil {
			controlError(w, http.StatusBadRequest, "body: %v", err)
			return
		}
		s.Reset(body.Tokens)
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case path == "limits":
		var body struct {
			Used             *int64    `json:"used"`
			DailyLimit       int64     `json:"daily_limit"`
			MaxConcurrent    *int      `json:"max_concurrent"`
			LongRunningAfter *Duration `json:"long_running_after"`
		}
		if r.Method == http.MethodPost {
			if err := decodeControl(r, &body); err != nil {
				controlError(w, http.StatusBadRequest, "body: %v", err)
				return
			}
			used := int64(-1)
			if body.Used != nil {
				used = *body.Used
			}
			s.SetUsage(used, body.DailyLimit)
			if body.MaxConcurrent != nil || body.LongRunningAfter != nil {
				s.mu.Lock()
				if body.MaxConcurrent != nil {
					s.opts.MaxConcurrent = *body.MaxConcurrent
				}
				if body.LongRunningAfter != nil {
					s.opts.LongRunningAfter = time.Duration(*body.LongRunningAfter)
				}
				s.mu.Unlock()
			}
		}
		used, limit := s.Usage()
		s.mu.Lock()
		out := map[string]any{"used": used, "daily_limit": limit, "max_concurrent": s.opts.MaxConcurrent, "long_running_after": Duration(s.opts.LongRunningAfter)}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	case path == "outbound" && r.Method == http.MethodGet:
		s.out.mu.Lock()
		defs := slices.Clone(s.out.defs)
		s.out.mu.Unlock()
		if defs == nil {
			defs = []OutboundMessage{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"definitions": defs, "pending": s.out.pendingView(), "deliveries": s.Deliveries()})
	case path == "outbound" && r.Method == http.MethodPost:
		var body struct {
			Definitions []OutboundMessage `json:"definitions"`
		}
		if err := decodeControl(r, &body); err != nil {
			controlError(w, http.StatusBadRequest, "body: %v", err)
			return
		}
		s.SetOutbound(body.Definitions)
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case path == "token" && r.Method == http.MethodPost:
		var body struct {
			Username string `json:"username"`
		}
		if err := decodeControl(r, &body); err != nil {
			controlError(w, http.StatusBadRequest, "body: %v", err)
			return
		}
		resp, err := s.TokenResponse(body.Username)
		if err != nil {
			controlError(w, http.StatusBadRequest, "%v", err)
			return
		}
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		_, _ = w.Write(resp)
	case path == "" || path == "index":
		writeJSON(w, http.StatusOK, map[string]any{"sandbox": Name, "org_id": s.opts.OrgID, "endpoints": []string{
			"GET /_sandbox/records/{type}", "POST /_sandbox/seed", "GET|POST /_sandbox/faults", "GET /_sandbox/requests",
			"POST /_sandbox/reset", "GET|POST /_sandbox/limits", "GET|POST /_sandbox/outbound", "POST /_sandbox/token"}})
	default:
		controlError(w, http.StatusNotFound, "no control endpoint %s %s", r.Method, r.URL.Path)
	}
}

// TokenResponse returns a token response for a user (the first user when
// empty) of the first client, with a refresh token, as the web server
// flow would: for tests and tools that need a token without a browser.
func (s *Server) TokenResponse(username string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if username == "" {
		username = s.opts.Users[0].Username
	}
	u := s.users[strings.ToLower(username)]
	if u == nil {
		return nil, fmt.Errorf("no user %q", username)
	}
	c := s.clients[s.opts.Clients[0].ID]
	ch := randomToken(16)
	s.chains[ch] = &chain{}
	s.approvals[u.id+"|"+c.ID] = true
	return s.issueLocked(u, c, c.scope(""), ch, true, true).MarshalJSON()
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

func sortedChildren(o *Object) []*Child {
	out := slices.Collect(maps.Values(o.children))
	slices.SortFunc(out, func(a, b *Child) int { return strings.Compare(a.Name, b.Name) })
	return out
}
