package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// serveControl serves the control API:
//
//	GET    /_sandbox/records/{type}       every stored record of a type, expanded
//	GET    /_sandbox/records/{type}/{id}  one record (id or eid:...)
//	POST   /_sandbox/seed                 {"demo":true} (or no body): SeedDemo; else SeedData → {"ids":{...}}
//	GET    /_sandbox/faults               the pending faults
//	POST   /_sandbox/faults               replace the faults; {"expire_tokens":true} expires every token
//	DELETE /_sandbox/faults               clear them
//	GET    /_sandbox/requests             the request log (?since=RFC 3339 time, ?kind=record|suiteql|token...)
//	GET    /_sandbox/stats                counters: requests, peak in flight, 429s, 401s, token calls
//	POST   /_sandbox/reset                Reset
//	POST   /_sandbox/transform            {"order":"5001"|"eid:...","to":"itemFulfillment"|"invoice","location":"1"} → {"id":...}
//	POST   /_sandbox/tokens               {"client_id":"..."} → an access token, as IssueToken
//	POST   /_sandbox/expire-tokens        ExpireTokens
//	GET    /_sandbox/credentials          the demo credentials (registering them if needed)
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	path := strings.Trim(strings.TrimPrefix(r.URL.Path, ControlPath), "/")
	segs := strings.Split(path, "/")
	fail := func(status int, msg string) {
		writeJSON(w, status, "application/json", map[string]string{"error": msg})
	}
	decode := func(v any) bool {
		data, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			fail(http.StatusBadRequest, err.Error())
			return false
		}
		if len(strings.TrimSpace(string(data))) == 0 {
			return true
		}
		if err := json.Unmarshal(data, v); err != nil {
			fail(http.StatusBadRequest, "malformed JSON: "+err.Error())
			return false
		}
		return true
	}
	switch {
	case segs[0] == "records" && r.Method == http.MethodGet && (len(segs) == 2 || len(segs) == 3):
		s.mu.Lock()
		defer s.mu.Unlock()
		rt := s.db.typeNamed(segs[1], false)
		if rt == nil {
			fail(http.StatusNotFound, "unknown record type "+segs[1])
			return
		}
		rn := &renderer{d: s.db, opts: s.opts, base: s.baseURL(r), now: s.now()}
		if len(segs) == 3 {
			rec := s.db.get(rt.name, segs[2])
			if rec == nil {
				fail(http.StatusNotFound, "no "+rt.name+" "+segs[2])
				return
			}
			writeJSON(w, http.StatusOK, "application/json", rn.record(rec, true, recordURL(rn.base, rec)))
			return
		}
		out := []any{}
		for _, rec := range s.db.tables[rt.name].sorted() {
			out = append(out, rn.record(rec, true, recordURL(rn.base, rec)))
		}
		writeJSON(w, http.StatusOK, "application/json", out)
	case path == "seed" && r.Method == http.MethodPost:
		var body struct {
			Demo bool `json:"demo"`
			SeedData
		}
		if !decode(&body) {
			return
		}
		if body.Demo || len(body.Records) == 0 {
			s.SeedDemo()
			writeJSON(w, http.StatusOK, "application/json", map[string]any{"demo": true})
			return
		}
		ids, err := s.Seed(body.SeedData)
		if err != nil {
			fail(http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, "application/json", map[string]any{"ids": ids})
	case path == "faults" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, "application/json", s.Faults())
	case path == "faults" && r.Method == http.MethodPost:
		data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			fail(http.StatusBadRequest, err.Error())
			return
		}
		var f Faults
		var action struct {
			ExpireTokens bool `json:"expire_tokens"`
		}
		if err := json.Unmarshal(data, &f); err != nil {
			fail(http.StatusBadRequest, err.Error())
			return
		}
		_ = json.Unmarshal(data, &action)
		s.SetFaults(f)
		if action.ExpireTokens {
			s.ExpireTokens()
		}
		writeJSON(w, http.StatusOK, "application/json", s.Faults())
	case path == "faults" && r.Method == http.MethodDelete:
		s.SetFaults(Faults{})
		w.WriteHeader(http.StatusNoContent)
	case path == "requests" && r.Method == http.MethodGet:
		var since time.Time
		if v := r.URL.Query().Get("since"); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				fail(http.StatusBadRequest, "since: "+err.Error())
				return
			}
			since = t
		}
		kind := r.URL.Query().Get("kind")
		out := []Request{}
		for _, req := range s.Requests() {
			if req.Time.Before(since) || (kind != "" && req.Kind != kind) {
				continue
			}
			out = append(out, req)
		}
		writeJSON(w, http.StatusOK, "application/json", out)
	case path == "stats" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, "application/json", s.Stats())
	case path == "reset" && r.Method == http.MethodPost:
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	case path == "transform" && r.Method == http.MethodPost:
		var body struct {
			Order    string `json:"order"`
			To       string `json:"to"`
			Location string `json:"location"`
		}
		if !decode(&body) {
			return
		}
		id, err := s.Transform(body.Order, body.To, body.Location)
		if err != nil {
			fail(http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, "application/json", map[string]string{"id": id})
	case path == "tokens" && r.Method == http.MethodPost:
		var body struct {
			ClientID string `json:"client_id"`
		}
		if !decode(&body) {
			return
		}
		tok, exp := s.IssueToken(body.ClientID)
		writeJSON(w, http.StatusOK, "application/json", map[string]any{"access_token": tok, "token_type": "Bearer", "expires_at": exp})
	case path == "expire-tokens" && r.Method == http.MethodPost:
		s.ExpireTokens()
		w.WriteHeader(http.StatusNoContent)
	case path == "credentials" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, "application/json", s.DemoCredentials())
	default:
		fail(http.StatusNotFound, "unknown control endpoint "+r.Method+" "+r.URL.Path)
	}
}

// defaultBase is the base URL of links rendered outside a request.
func (s *Server) defaultBase() string {
	if s.opts.PublicURL != "" {
		return strings.TrimSuffix(s.opts.PublicURL, "/")
	}
	return "https://" + AccountHost(s.opts.AccountID) + ".suitetalk.api.netsuite.com"
}

// AccountHost returns the account id as NetSuite hostnames spell it:
// lower case, "_" as "-" ("123456_SB1" → "123456-sb1").
func AccountHost(accountID string) string {
	return strings.ToLower(strings.ReplaceAll(accountID, "_", "-"))
}

// Records returns every stored record of a type (any case), expanded as
// GET ?expandSubResources=true renders it, in internal id order.
func (s *Server) Records(typ string) []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := s.db.typeNamed(typ, false)
	if rt == nil {
		return nil
	}
	rn := &renderer{d: s.db, opts: s.opts, base: s.defaultBase(), now: s.now()}
	var out []json.RawMessage
	for _, rec := range s.db.tables[rt.name].sorted() {
		b, _ := json.Marshal(rn.record(rec, true, recordURL(rn.base, rec)))
		out = append(out, b)
	}
	return out
}

// Record returns one record by internal id or "eid:<externalId>",
// expanded.
func (s *Server) Record(typ, key string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := s.db.typeNamed(typ, false)
	if rt == nil {
		return nil, false
	}
	rec := s.db.get(rt.name, key)
	if rec == nil {
		return nil, false
	}
	rn := &renderer{d: s.db, opts: s.opts, base: s.defaultBase(), now: s.now()}
	b, _ := json.Marshal(rn.record(rec, true, recordURL(rn.base, rec)))
	return b, true
}
