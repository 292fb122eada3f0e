package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Faults are injected failures for the REST API (records and SuiteQL) and
// the token endpoint. The zero value injects none.
type Faults struct {
	// Latency is added to every API request, inside its concurrency slot,
	// as a slow account would take; LatencyJitter adds up to that much
	// more at random.
	Latency       time.Duration
	LatencyJitter time.Duration
	// ErrorRate is the fraction of API requests answered with ErrorStatus
	// (503 when zero) and a NetSuite error body.
	ErrorRate   float64
	ErrorStatus int
	// Force429 refuses the next n API requests with 429
	// CONCURRENCY_LIMIT_EXCEEDED, whatever the load.
	Force429 int
	// Rate429 is the fraction of API requests refused that way.
	Rate429 float64
	// TokenErrors fails the next n token requests with 503 and
	// {"error":"server_error"}.
	TokenErrors int
}

// faultsJSON is the control API's form of Faults, with durations as Go
// duration strings ("50ms") or milliseconds.
type faultsJSON struct {
	Latency       any     `json:"latency,omitempty"`
	LatencyJitter any     `json:"latency_jitter,omitempty"`
	ErrorRate     float64 `json:"error_rate,omitempty"`
	ErrorStatus   int     `json:"error_status,omitempty"`
	Force429      int     `json:"force_429,omitempty"`
	Rate429       float64 `json:"rate_429,omitempty"`
	TokenErrors   int     `json:"token_errors,omitempty"`
	// ExpireTokens, in a request, expires every access token issued so
	// far (ExpireTokens); it is an action, not a lasting fault.
	ExpireTokens bool `json:"expire_tokens,omitempty"`
}

// MarshalJSON writes the faults with durations as strings.
func (f Faults) MarshalJSON() ([]byte, error) {
	j := faultsJSON{ErrorRate: f.ErrorRate, ErrorStatus: f.ErrorStatus, Force429: f.Force429, Rate429: f.Rate429, TokenErrors: f.TokenErrors}
	if f.Latency > 0 {
		j.Latency = f.Latency.String()
	}
	if f.LatencyJitter > 0 {
		j.LatencyJitter = f.LatencyJitter.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads faults; durations are strings ("50ms") or numbers of
// milliseconds.
func (f *Faults) UnmarshalJSON(data []byte) error {
	var j faultsJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	lat, err := parseDuration("latency", j.Latency)
	if err != nil {
		return err
	}
	jit, err := parseDuration("latency_jitter", j.LatencyJitter)
	if err != nil {
		return err
	}
	*f = Faults{Latency: lat, LatencyJitter: jit, ErrorRate: j.ErrorRate, ErrorStatus: j.ErrorStatus,
		Force429: j.Force429, Rate429: j.Rate429, TokenErrors: j.TokenErrors}
	return nil
}

func parseDuration(name string, v any) (time.Duration, error) {
	switch v := v.(type) {
	case nil:
		return 0, nil
	case float64:
		return time.Duration(v * float64(time.Millisecond)), nil
	case string:
		d, err := time.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("%s: %v", name, err)
		}
		return d, nil
	}
	return 0, fmt.Errorf("%s: want a duration string or milliseconds", name)
}

// SetFaults replaces the injected faults.
func (s *Server) SetFaults(f Faults) {
	s.gate.Lock()
	defer s.gate.Unlock()
	s.faults = f
}

// Faults returns the injected faults still pending.
func (s *Server) Faults() Faults {
	s.gate.Lock()
	defer s.gate.Unlock()
	return s.faults
}

// Request is one logged call to the API or the OAuth endpoints.
type Request struct {
	// Time is when the request arrived, End when it was answered.
	Time time.Time `json:"time"`
	End  time.Time `json:"end"`
	// Kind is "record", "suiteql", "system", "token", "authorize" or "".
	Kind   string `json:"kind"`
	Method string `json:"method"`
	Path   string `json:"path"`
	Query  string `json:"query,omitempty"`
	Status int    `json:"status"`
	// Code is the o:errorCode of an error answer, or the OAuth error.
	Code string `json:"code,omitempty"`
	// Auth is how the request authenticated: "bearer", "tba" or "".
	Auth string `json:"auth,omitempty"`
	// InFlight is how many API requests were in flight once this one was
	// admitted, itself included; 0 when it was refused at the door.
	InFlight int `json:"in_flight,omitempty"`
	// Note says why a request was refused, for humans.
	Note string `json:"note,omitempty"`
}

// Stats are counters since New or Reset.
type Stats struct {
	// Requests is the number of REST API requests (records, SuiteQL),
	// refused or not.
	Requests int `json:"requests"`
	// InFlight is the number of API requests in flight now; PeakInFlight
	// the most ever admitted at once.
	InFlight     int `json:"in_flight"`
	PeakInFlight int `json:"peak_in_flight"`
	// ConcurrencyRefused and RateRefused count 429 answers, forced ones
	// included in the first.
	ConcurrencyRefused int `json:"concurrency_refused"`
	RateRefused        int `json:"rate_refused"`
	// Unauthorized counts 401 answers of the API.
	Unauthorized int `json:"unauthorized"`
	// ServerErrors counts injected 5xx answers.
	ServerErrors int `json:"server_errors"`
	// TokenRequests counts calls of the token endpoint by grant type.
	TokenRequests map[string]int `json:"token_requests,omitempty"`
	// LogDropped is the number of requests dropped from the request log
	// (Options.MaxLog).
	LogDropped int `json:"log_dropped,omitempty"`
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.gate.Lock()
	defer s.gate.Unlock()
	st := s.stats
	st.InFlight, st.PeakInFlight, st.LogDropped = s.inFlight, s.peak, s.logDropped
	st.TokenRequests = map[string]int{}
	for k, v := range s.stats.TokenRequests {
		st.TokenRequests[k] = v
	}
	return st
}

// Requests returns the request log, oldest first (at most Options.MaxLog
// entries, the newest).
func (s *Server) Requests() []Request {
	s.gate.Lock()
	defer s.gate.Unlock()
	return append([]Request(nil), s.log...)
}

// recorder captures what a handler answered, for the log.
type recorder struct {
	http.ResponseWriter
	status     int
	code, note string
	auth       string
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// annotate sets the logged error code and note of a response.
func annotate(w http.ResponseWriter, code, note string) {
	if rec, ok := w.(*recorder); ok {
		if code != "" {
			rec.code = code
		}
		if note != "" {
			rec.note = note
		}
	}
}

// record appends a finished request to the log.
func (s *Server) record(r *http.Request, kind string, rec *recorder, start time.Time, inFlight int) {
	entry := Request{Time: start, End: s.now(), Kind: kind, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Status: rec.status, Code: rec.code, Auth: rec.auth, InFlight: inFlight, Note: rec.note}
	if entry.Status == 0 {
		entry.Status = http.StatusOK
	}
	s.gate.Lock()
	defer s.gate.Unlock()
	if len(s.log) >= s.opts.MaxLog {
		// Drop the oldest tenth at once, not one entry per request.
		n := len(s.log) - s.opts.MaxLog + max(1, s.opts.MaxLog/10)
		s.log = append(s.log[:0], s.log[n:]...)
		s.logDropped += n
	}
	s.log = append(s.log, entry)
}

// logged serves an ungoverned endpoint (OAuth) and logs it.
func (s *Server) logged(w http.ResponseWriter, r *http.Request, kind string, h http.HandlerFunc) {
	start := s.now()
	rec := &recorder{ResponseWriter: w}
	h(rec, r)
	s.record(r, kind, rec, start, 0)
}

// governed serves the REST API: it applies the forced faults, the
// concurrency and rate limits, latency, 5xx injection and authentication,
// then routes the request.
func (s *Server) governed(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	rec := &recorder{ResponseWriter: w}
	kind := apiKind(r.URL.Path)

	s.gate.Lock()
	s.stats.Requests++
	refuse, note := "", ""
	switch {
	case s.faults.Force429 > 0:
		s.faults.Force429--
		refuse, note = "CONCURRENCY_LIMIT_EXCEEDED", "forced 429 (fault injection)"
	case s.faults.Rate429 > 0 && s.rng.Float64() < s.faults.Rate429:
		refuse, note = "CONCURRENCY_LIMIT_EXCEEDED", "random 429 (fault injection)"
	case s.opts.ConcurrencyLimit > 0 && s.inFlight >= s.opts.ConcurrencyLimit:
		refuse, note = "CONCURRENCY_LIMIT_EXCEEDED", fmt.Sprintf("%d requests in flight, limit %d", s.inFlight, s.opts.ConcurrencyLimit)
	case s.opts.RateLimit > 0 && !s.rateAllowLocked(start):
		refuse, note = "REQUEST_LIMIT_EXCEEDED", fmt.Sprintf("more than %d requests in %s", s.opts.RateLimit, s.opts.RateWindow)
	}
	var inFlight int
	var latency time.Duration
	fail := 0
	if refuse == "" {
		s.inFlight++
		inFlight = s.inFlight
		if s.inFlight > s.peak {
			s.peak = s.inFlight
		}
		latency = s.faults.Latency
		if s.faults.LatencyJitter > 0 {
			latency += time.Duration(s.rng.Int64N(int64(s.faults.LatencyJitter) + 1))
		}
		if s.faults.ErrorRate > 0 && s.rng.Float64() < s.faults.ErrorRate {
			fail = s.faults.ErrorStatus
			if fail == 0 {
				fail = http.StatusServiceUnavailable
			}
			s.stats.ServerErrors++
		}
	} else if refuse == "CONCURRENCY_LIMIT_EXCEEDED" {
		s.stats.ConcurrencyRefused++
	} else {
		s.stats.RateRefused++
	}
	s.gate.Unlock()

	defer func() { s.record(r, kind, rec, start, inFlight) }()
	if refuse != "" {
		annotate(rec, refuse, note)
		msg := "Concurrent request limit exceeded. Request blocked."
		if refuse == "REQUEST_LIMIT_EXCEEDED" {
			msg = "Request limit exceeded. Request blocked."
		}
		writeErrorTitle(rec, s.opts, http.StatusTooManyRequests, s.opts.TooManyRequestsTitle, detail{Detail: msg, Code: refuse})
		return
	}
	// The answer is buffered and sent only once the request has left its
	// concurrency slot: a client that sees the answer may send its next
	// request at once without being refused for this one.
	buf := &bufferedResponse{header: http.Header{}}
	rec.ResponseWriter = buf
	defer func() {
		s.gate.Lock()
		s.inFlight--
		s.gate.Unlock()
		buf.flushTo(w)
	}()

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if fail != 0 {
		annotate(rec, "UNEXPECTED_ERROR", "injected server error")
		writeError(rec, s.opts, fail, "", detail{Detail: "An unexpected error occurred. Error ID: " + newID()[:20], Code: "UNEXPECTED_ERROR"})
		return
	}
	if !s.opts.NoAuth {
		how, failure := s.authenticate(r)
		rec.auth = how
		if failure != "" {
			s.gate.Lock()
			s.stats.Unauthorized++
			s.gate.Unlock()
			annotate(rec, "INVALID_LOGIN", failure)
			if how == "tba" {
				rec.Header().Set("WWW-Authenticate", fmt.Sprintf(`OAuth realm=%q, error=%q`, s.realm(), failure))
			}
			writeErrorTitle(rec, s.opts, http.StatusUnauthorized, "Unauthorized", detail{Detail: invalidLogin, Code: "INVALID_LOGIN"})
			return
		}
	}
	switch kind {
	case "record":
		s.serveRecord(rec, r)
	case "suiteql":
		s.serveSuiteQL(rec, r)
	case "system":
		s.serveSystem(rec, r)
	default:
		writeError(rec, s.opts, http.StatusNotFound, "", detail{Detail: fmt.Sprintf("Invalid URL path %s.", r.URL.Path), Code: "INVALID_URL"})
	}
}

// invalidLogin is NetSuite's detail for every authentication failure.
const invalidLogin = "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail."

// apiKind names the API a path belongs to.
func apiKind(path string) string {
	switch {
	case strings.HasPrefix(path, RecordPath):
		return "record"
	case path == SuiteQLPath:
		return "suiteql"
	case strings.HasPrefix(path, "/services/rest/system/v1/"):
		return "system"
	}
	return ""
}

// rateAllowLocked counts a request in the sliding window, reporting false
// when the window is full.
func (s *Server) rateAllowLocked(now time.Time) bool {
	cut := now.Add(-s.opts.RateWindow)
	i := 0
	for i < len(s.rateTimes) && !s.rateTimes[i].After(cut) {
		i++
	}
	s.rateTimes = s.rateTimes[i:]
	if len(s.rateTimes) >= s.opts.RateLimit {
		return false
	}
	s.rateTimes = append(s.rateTimes, now)
	return true
}

// serveSystem answers GET /services/rest/system/v1/governanceLimits.
func (s *Server) serveSystem(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/services/rest/system/v1/governanceLimits" || r.Method != http.MethodGet {
		writeError(w, s.opts, http.StatusNotFound, "", detail{Detail: fmt.Sprintf("Invalid URL path %s.", r.URL.Path), Code: "INVALID_URL"})
		return
	}
	limit := s.opts.ConcurrencyLimit
	if limit < 0 {
		limit = 0
	}
	writeJSON(w, http.StatusOK, contentType(s.opts, ctSingular), map[string]any{
		"accountConcurrencyLimit":            limit,
		"accountUnallocatedConcurrencyLimit": limit,
		"limitType":                          "accountLevel",
		"links":                              []any{link("self", s.baseURL(r)+r.URL.Path)},
	})
}

// bufferedResponse holds an answer until it is flushed.
type bufferedResponse struct {
	header http.Header
	status int
	body   []byte
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	b.body = append(b.body, p...)
	return len(p), nil
}

// flushTo sends the buffered answer.
func (b *bufferedResponse) flushTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body)
}
