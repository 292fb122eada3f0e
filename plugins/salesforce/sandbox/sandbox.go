// Package sandbox is a Salesforce org in a box: an HTTP server that
// behaves like Salesforce's OAuth 2.0 endpoints and REST API closely
// enough that the Weir Salesforce connector runs the same code against it
// as against a real org. The host starts it in-process for `weir dev` and
// `weir sandbox salesforce`; the connector's tests start it with httptest.
//
// What it does:
//
//   - OAuth 2.0 (/services/oauth2/...): the web server flow with a real
//     HTML login and consent page and PKCE, refresh tokens with optional
//     rotation (reusing an old refresh token revokes the chain), the JWT
//     bearer flow verifying RS256 assertions against a registered
//     certificate, token responses exactly as Salesforce writes them, and a
//     configurable access-token lifetime; expired tokens get 401
//     INVALID_SESSION_ID.
//   - REST (/services/data/vXX.X/...): SOQL queries (see soql.go for the
//     subset) with batches and nextRecordsUrl, queryAll, sObject create,
//     read, update, delete and upsert by external ID with Salesforce's
//     status codes and bodies, sObject Collections, describe, /limits,
//     Sforce-Limit-Info on every response, a rolling daily quota (403
//     REQUEST_LIMIT_EXCEEDED past it) and an optional cap on concurrent
//     requests.
//   - Order semantics: auto-numbered OrderNumber, TotalAmount rolled up
//     from OrderItems, required fields, order products only from the
//     order's price book and only while Draft, State and Country picklists
//     (BillingCountryCode kept in step with BillingCountry), SystemModstamp
//     stamped on every change.
//   - Outbound Messages: SOAP notifications POSTed when watched records
//     change, retried with backoff until acknowledged.
//   - A control API under /_sandbox/ for tests and demos (see control.go).
//
// Facts the reference marks unverified are Options.
package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Name is the sandbox's name, as in `weir sandbox salesforce`.
const Name = "salesforce"

// Defaults of the sandbox's org. The default client and user let `weir
// dev` and `weir sandbox salesforce` work without configuration.
const (
	DefaultOrgID        = "00D5g000004WeirEAA"
	DefaultClientID     = "3MVG9weir.sandbox.client"
	DefaultClientSecret = "weir-sandbox-client-secret"
	DefaultUsername     = "admin@weir.sandbox"
	DefaultPassword     = "sandbox"
	DefaultAPIVersion   = "61.0"
)

// Client is a connected app (External Client App).
type Client struct {
	// ID and Secret are the consumer key and secret.
	ID, Secret string
	// RedirectURIs are the allowed callback URLs, matched exactly.
	RedirectURIs []string
	// AllowLoopback also allows any http://127.0.0.1, [::1] or localhost
	// callback, on any port and path (for `weir auth login`).
	AllowLoopback bool
	// Public clients may exchange codes without the secret (PKCE only).
	Public bool
	// RequirePKCE refuses authorization requests without code_challenge.
	RequirePKCE bool
	// Certificate is the PEM certificate (or public key) JWT bearer
	// assertions are verified with; empty refuses the JWT bearer flow.
	Certificate string
	// PreAuthorized: an admin approved the app for all users, so the JWT
	// bearer flow works without a prior user approval.
	PreAuthorized bool
	// Scopes granted when the request names none; default
	// "api refresh_token id".
	Scopes []string
	// RunAs is the user of the client credentials flow; empty refuses it.
	RunAs string
}

// User is a user who can log in.
type User struct {
	// Username and Password log in on the authorize page.
	Username, Password string
	// FirstName, LastName and Email describe the User record.
	FirstName, LastName string
	Email               string
	// Inactive users cannot log in or get tokens ("inactive user").
	Inactive bool
}

// OutboundMessage is an outbound message definition: when a record of
// Object changes and matches Where, a notification with Fields goes to
// Endpoint.
type OutboundMessage struct {
	// Name names the action (for its ActionId).
	Name string `json:"name"`
	// Object is the sObject watched, e.g. "Order".
	Object string `json:"object"`
	// Endpoint is the URL notifications are POSTed to.
	Endpoint string `json:"endpoint"`
	// Fields sent; Id is always sent. Empty sends every field.
	Fields []string `json:"fields,omitempty"`
	// Where is an optional SOQL condition the record must match.
	Where string `json:"where,omitempty"`
	// SendSessionID includes a session id (an access token of the
	// sandbox's admin user) in each message.
	SendSessionID bool `json:"send_session_id,omitempty"`
}

// Options configure a Server. Zero values are Salesforce's defaults.
type Options struct {
	// OrgID is the 18-character organization id; DefaultOrgID when empty.
	OrgID string
	// BaseURL is the server's public URL (instance_url, identity URLs,
	// login URL). When empty, Start sets it, and requests tell it (Host).
	BaseURL string
	// Clients are the connected apps; when empty, one default client
	// (DefaultClientID and DefaultClientSecret, loopback callbacks,
	// pre-authorized for the JWT bearer flow, client credentials running as
	// the first user) so that `weir dev` needs no browser.
	Clients []Client
	// Users who can log in; DefaultUsername / DefaultPassword when empty.
	Users []User
	// AccessTokenLifetime is the session timeout; 2 h when zero.
	AccessTokenLifetime time.Duration
	// AuthCodeLifetime is how long an authorization code is valid; 15 min
	// when zero.
	AuthCodeLifetime time.Duration
	// RefreshRotation issues a new refresh token on every refresh and
	// invalidates the old one; reusing an invalidated one revokes the
	// chain and its access tokens.
	RefreshRotation bool
	// JWTAudiences are the accepted aud of JWT bearer assertions;
	// login.salesforce.com, test.salesforce.com and BaseURL when empty.
	JWTAudiences []string
	// JWTMaxLifetime bounds how far ahead a JWT bearer assertion's exp may
	// be; 3 min (plus a minute of clock skew) when zero.
	JWTMaxLifetime time.Duration

	// APIVersions is the range of REST versions served; 20.0 to 66.0 when
	// zero.
	MinAPIVersion, MaxAPIVersion float64
	// BatchSize is the largest query batch; 2000 when zero. Requests may
	// ask for smaller batches (Sforce-Query-Options: batchSize=N) down to
	// MinBatchSize (200 when zero).
	BatchSize, MinBatchSize int
	// LocatorTTL is how long an idle query locator lives; 15 min when zero.
	LocatorTTL time.Duration
	// DailyLimit is the org's rolling 24-hour API request allocation;
	// 100,000 when zero.
	DailyLimit int64
	// MaxConcurrent caps concurrent requests counted as long-running (403
	// REQUEST_LIMIT_EXCEEDED ConcurrentRequests); 0 for no cap.
	MaxConcurrent int
	// LongRunningAfter is when a request starts counting toward
	// MaxConcurrent; 0 counts every request in flight.
	LongRunningAfter time.Duration

	// NoPicklists disables State and Country picklists: addresses are free
	// text and there are no BillingCountryCode fields.
	NoPicklists bool
	// CountryValues overrides countries' integration values, e.g.
	// {"US": "USA"}.
	CountryValues map[string]string
	// Objects are extra (custom) objects; one named like a standard
	// object replaces it.
	Objects []*Object

	// Outbound are the outbound message definitions.
	Outbound []OutboundMessage
	// OutboundRetry is the first retry delay of an unacknowledged
	// notification, doubling up to OutboundMaxRetry (15 s and 1 h when
	// zero); notifications are dropped after OutboundGiveUp (24 h).
	OutboundRetry, OutboundMaxRetry, OutboundGiveUp time.Duration
	// OutboundBatch is the most notifications in one message; 100 when 0.
	OutboundBatch int
	// HTTPClient posts outbound messages; a 10 s timeout client when nil.
	HTTPClient *http.Client

	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Server is a sandbox org. It is an http.Handler; Start serves it on an
// address, or callers serve it themselves (httptest.NewServer). Close
// stops it and its outbound message delivery. It is safe for concurrent
// use.
type Server struct {
	opts Options
	mux  *http.ServeMux
	now  func() time.Time

	mu        sync.Mutex
	schema    *schema
	db        *db
	base      string
	users     map[string]*userState // by lower-case username
	clients   map[string]*Client
	codes     map[string]*authCode
	sessions  map[string]*session
	refreshes map[string]*refreshToken
	chains    map[string]*chain
	approvals map[string]bool
	usage     usage
	inflight  map[int64]time.Time
	reqSeq    int64
	faults    Faults
	lockRows  int
	log       []RequestLog
	cursors   map[string]*queryCursor
	cursorSeq int64
	out       *outbound

	srv    *http.Server
	closed bool
}

// New returns a sandbox org with the standard objects, the users and
// clients of opts, and the Standard Price Book; no other data (see Seed
// and SeedDemo).
func New(opts Options) *Server {
	if opts.OrgID == "" {
		opts.OrgID = DefaultOrgID
	}
	if opts.AccessTokenLifetime <= 0 {
		opts.AccessTokenLifetime = 2 * time.Hour
	}
	if opts.AuthCodeLifetime <= 0 {
		opts.AuthCodeLifetime = 15 * time.Minute
	}
	if opts.JWTMaxLifetime <= 0 {
		opts.JWTMaxLifetime = 3 * time.Minute
	}
	if opts.MinAPIVersion <= 0 {
		opts.MinAPIVersion = 20.0
	}
	if opts.MaxAPIVersion <= 0 {
		opts.MaxAPIVersion = 66.0
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 2000
	}
	if opts.MinBatchSize <= 0 {
		opts.MinBatchSize = min(200, opts.BatchSize)
	}
	if opts.LocatorTTL <= 0 {
		opts.LocatorTTL = 15 * time.Minute
	}
	if opts.DailyLimit <= 0 {
		opts.DailyLimit = 100000
	}
	if opts.OutboundRetry <= 0 {
		opts.OutboundRetry = 15 * time.Second
	}
	if opts.OutboundMaxRetry <= 0 {
		opts.OutboundMaxRetry = time.Hour
	}
	if opts.OutboundGiveUp <= 0 {
		opts.OutboundGiveUp = 24 * time.Hour
	}
	if opts.OutboundBatch <= 0 {
		opts.OutboundBatch = 100
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if len(opts.Clients) == 0 {
		runAs := DefaultUsername
		if len(opts.Users) > 0 {
			runAs = opts.Users[0].Username
		}
		opts.Clients = []Client{{ID: DefaultClientID, Secret: DefaultClientSecret, AllowLoopback: true, PreAuthorized: true, RunAs: runAs}}
	}
	if len(opts.Users) == 0 {
		opts.Users = []User{{Username: DefaultUsername, Password: DefaultPassword, FirstName: "Sandbox", LastName: "Admin", Email: DefaultUsername}}
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Server{opts: opts, now: now, base: strings.TrimSuffix(opts.BaseURL, "/")}
	s.mux = http.NewServeMux()
	s.routes()
	s.resetLocked(true)
	s.out = newOutbound(s)
	return s
}

// resetLocked empties the org: schema, data, users, faults, usage, logs;
// OAuth state too when tokens is true.
func (s *Server) resetLocked(tokens bool) {
	objs := standardSchema(!s.opts.NoPicklists)
	for _, extra := range s.opts.Objects {
		replaced := false
		for i, o := range objs {
			if strings.EqualFold(o.Name, extra.Name) {
				objs[i], replaced = extra, true
			}
		}
		if !replaced {
			objs = append(objs, extra)
		}
	}
	s.schema = newSchema(objs)
	var country *countryPicklist
	if !s.opts.NoPicklists {
		country = newCountryPicklist(s.opts.CountryValues)
	}
	s.db = newDB(s.schema, country, s.now)
	s.users = map[string]*userState{}
	s.clients = map[string]*Client{}
	for i := range s.opts.Clients {
		c := s.opts.Clients[i]
		s.clients[c.ID] = &c
	}
	ctx := dmlContext{seed: true}
	for _, u := range s.opts.Users {
		r, errs := s.db.insert(s.schema.object("User"), input{"Username": u.Username, "FirstName": u.FirstName,
			"LastName": nonEmpty(u.LastName, u.Username), "Email": nonEmpty(u.Email, u.Username), "IsActive": !u.Inactive}, ctx)
		if len(errs) > 0 {
			continue
		}
		s.users[strings.ToLower(u.Username)] = &userState{User: u, id: r.id()}
		if ctx.user == "" {
			ctx.user = r.id()
			r.f["CreatedById"], r.f["LastModifiedById"] = r.id(), r.id()
		}
	}
	if _, errs := s.db.insert(s.schema.object("Pricebook2"), input{"Name": "Standard Price Book", "IsActive": true, "IsStandard": true}, ctx); len(errs) > 0 {
		panic(fmt.Sprintf("sandbox: standard price book: %v", errs))
	}
	s.db.takeChanged()
	if tokens {
		s.codes = map[string]*authCode{}
		s.sessions = map[string]*session{}
		s.refreshes = map[string]*refreshToken{}
		s.chains = map[string]*chain{}
		s.approvals = map[string]bool{}
	}
	s.usage = usage{}
	s.inflight = map[int64]time.Time{}
	s.faults = Faults{}
	s.lockRows = 0
	s.log = nil
	s.cursors = map[string]*queryCursor{}
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// adminID returns the id of the first user, who owns seeded data.
func (s *Server) adminID() string {
	if u := s.users[strings.ToLower(s.opts.Users[0].Username)]; u != nil {
		return u.id
	}
	return ""
}

// Start serves the sandbox on addr ("127.0.0.1:0" for any free port) and
// returns its URL, which becomes BaseURL unless Options set one.
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	u := "http://" + ln.Addr().String()
	s.mu.Lock()
	if s.base == "" {
		s.base = u
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	srv := s.srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return u, nil
}

// Close stops the server started by Start, if any, and outbound message
// delivery.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	srv := s.srv
	s.mu.Unlock()
	s.out.close()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	}
	return nil
}

// URL returns the server's base URL once known (Start, Options.BaseURL or
// a first request).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base
}

// SetURL sets the base URL (instance_url, identity and login URLs) when
// the caller serves the sandbox itself, e.g. with httptest: without it,
// the first request's Host decides.
func (s *Server) SetURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.base = strings.TrimSuffix(u, "/")
}

// OrgID returns the organization id.
func (s *Server) OrgID() string { return s.opts.OrgID }

func (s *Server) routes() {
	s.mux.HandleFunc("/services/oauth2/authorize", s.authorize)
	s.mux.HandleFunc("/services/oauth2/token", s.token)
	s.mux.HandleFunc("/services/oauth2/revoke", s.revoke)
	s.mux.HandleFunc("/services/oauth2/userinfo", s.userinfo)
	s.mux.HandleFunc("/id/", s.identity)
	s.mux.HandleFunc("/services/data", s.versions)
	s.mux.HandleFunc("/services/data/", s.api)
	s.mux.HandleFunc("/_sandbox/", s.control)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, "<!doctype html><title>Weir Salesforce sandbox</title><p>Salesforce sandbox for org %s. REST at /services/data, OAuth at /services/oauth2, control API at /_sandbox/.</p>", s.opts.OrgID)
			return
		}
		writeJSON(w, http.StatusNotFound, []apiError{{ErrorCode: "NOT_FOUND", Message: "The requested resource does not exist"}})
	})
}

// ServeHTTP serves the sandbox.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.base == "" && r.Host != "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		s.base = scheme + "://" + r.Host
	}
	s.mu.Unlock()
	if strings.HasPrefix(r.URL.Path, "/_sandbox/") {
		s.mux.ServeHTTP(w, r)
		return
	}
	start := s.now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	if !s.injectFault(rec, r) {
		s.mux.ServeHTTP(rec, r)
	}
	s.logRequest(r, rec.status, start)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

// WriteHeader records the status.
func (w *statusRecorder) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records that the header was written.
func (w *statusRecorder) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// writeJSON writes v with Salesforce's content type.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`[{"message":"sandbox: `+err.Error()+`","errorCode":"UNKNOWN_EXCEPTION"}]`)
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	out := make([]byte, n)
	for i, c := range b {
		out[i] = base62[int(c)%62]
	}
	return string(out)
}

// usage counts API requests in a rolling 24 hours, by minute.
type usage struct {
	minutes map[int64]int64
}

func (u *usage) add(now time.Time, n int64) {
	if u.minutes == nil {
		u.minutes = map[int64]int64{}
	}
	u.minutes[now.Unix()/60] += n
}

func (u *usage) used(now time.Time) int64 {
	cutoff := now.Add(-24*time.Hour).Unix() / 60
	var n int64
	for m, c := range u.minutes {
		if m <= cutoff {
			delete(u.minutes, m)
			continue
		}
		n += c
	}
	return n
}

// Faults are failures and delays the sandbox injects, set with
// SetFaults or POST /_sandbox/faults.
type Faults struct {
	// Latency delays every matching request.
	Latency Duration `json:"latency,omitempty"`
	// ErrorRate fails this share (0 to 1) of matching requests with
	// ErrorStatus (503 when zero).
	ErrorRate   float64 `json:"error_rate,omitempty"`
	ErrorStatus int     `json:"error_status,omitempty"`
	// Path is the prefix of the requests Latency and ErrorRate apply to;
	// "/services/data/" when empty.
	Path string `json:"path,omitempty"`
	// Fail are failures of the next matching requests, in order.
	Fail []Failure `json:"fail,omitempty"`
	// LockRows makes the next n records written fail with
	// UNABLE_TO_LOCK_ROW.
	LockRows int `json:"lock_rows,omitempty"`
}

// Failure is a forced failure of the next Count requests under Path.
type Failure struct {
	// Status is the HTTP status, e.g. 403, 429, 503.
	Status int `json:"status"`
	// ErrorCode and Message make the body [{"message","errorCode"}];
	// defaults suit the status (403: REQUEST_LIMIT_EXCEEDED
	// "TotalRequests Limit exceeded.").
	ErrorCode string `json:"error_code,omitempty"`
	Message   string `json:"message,omitempty"`
	// RetryAfter, in seconds, adds a Retry-After header.
	RetryAfter int `json:"retry_after,omitempty"`
	// Count is how many requests fail; 1 when zero.
	Count int `json:"count,omitempty"`
	// Path is a request path prefix; "/services/data/" when empty.
	Path string `json:"path,omitempty"`
}

// Duration is a time.Duration written as a string ("50ms") in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "50ms" or a number of milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		*d = Duration(v)
		return err
	}
	var ms float64
	if err := json.Unmarshal(b, &ms); err != nil {
		return errors.New("a duration is a string such as \"50ms\" or a number of milliseconds")
	}
	*d = Duration(time.Duration(ms * float64(time.Millisecond)))
	return nil
}

// SetFaults replaces the injected latency and error rate, and queues
// f.Fail and f.LockRows after those already queued.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	queued := append(s.faults.Fail, f.Fail...)
	s.faults = f
	s.faults.Fail = queued
	s.lockRows += f.LockRows
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults, s.lockRows = Faults{}, 0
}

var defaultFailure = map[int][2]string{
	401: {"INVALID_SESSION_ID", "Session expired or invalid"},
	403: {"REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."},
	404: {"NOT_FOUND", "The requested resource does not exist"},
	420: {"REQUEST_LIMIT_EXCEEDED", "Rate limit exceeded."},
	429: {"REQUEST_LIMIT_EXCEEDED", "Rate limit exceeded."},
	500: {"UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)"},
	503: {"SERVER_UNAVAILABLE", "Server temporarily unavailable, please try again later."},
}

// injectFault applies the faults to a request; it reports true when it
// answered the request.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	f := s.faults
	var forced *Failure
	for i := range s.faults.Fail {
		fl := &s.faults.Fail[i]
		if strings.HasPrefix(r.URL.Path, nonEmpty(fl.Path, "/services/data/")) {
			c := *fl
			forced = &c
			if fl.Count <= 1 {
				s.faults.Fail = append(s.faults.Fail[:i:i], s.faults.Fail[i+1:]...)
			} else {
				fl.Count--
			}
			break
		}
	}
	matches := strings.HasPrefix(r.URL.Path, nonEmpty(f.Path, "/services/data/"))
	s.mu.Unlock()
	// REST requests wait inside api, where they count as in flight.
	if matches && f.Latency > 0 && !isREST(r.URL.Path) {
		select {
		case <-time.After(time.Duration(f.Latency)):
		case <-r.Context().Done():
		}
	}
	if forced == nil && matches && f.ErrorRate > 0 && mrand.Float64() < f.ErrorRate {
		forced = &Failure{Status: nonZero(f.ErrorStatus, http.StatusServiceUnavailable)}
	}
	if forced == nil {
		return false
	}
	def := defaultFailure[forced.Status]
	code, msg := nonEmpty(forced.ErrorCode, def[0]), nonEmpty(forced.Message, def[1])
	if code == "" {
		code = "UNKNOWN_EXCEPTION"
	}
	if msg == "" {
		msg = http.StatusText(forced.Status)
	}
	if forced.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(forced.RetryAfter))
	}
	if strings.HasPrefix(r.URL.Path, "/services/data/") {
		s.mu.Lock()
		w.Header().Set("Sforce-Limit-Info", s.limitInfoLocked())
		s.mu.Unlock()
	}
	writeJSON(w, forced.Status, []apiError{{ErrorCode: code, Message: msg}})
	return true
}

// isREST reports whether a path is a versioned REST resource.
func isREST(path string) bool {
	rest, ok := strings.CutPrefix(path, "/services/data/v")
	return ok && rest != ""
}

// latency waits the injected latency of a REST request.
func (s *Server) latency(r *http.Request) {
	s.mu.Lock()
	f := s.faults
	s.mu.Unlock()
	if f.Latency > 0 && strings.HasPrefix(r.URL.Path, nonEmpty(f.Path, "/services/data/")) {
		select {
		case <-time.After(time.Duration(f.Latency)):
		case <-r.Context().Done():
		}
	}
}

func nonZero(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// RequestLog is one request the sandbox answered.
type RequestLog struct {
	// Time is when the request arrived.
	Time time.Time `json:"time"`
	// Method, Path and Query are the request's; secrets in the query
	// (code, refresh_token, ...) are redacted.
	Method string `json:"method"`
	Path   string `json:"path"`
	Query  string `json:"query,omitempty"`
	// Status is the answer's status.
	Status int `json:"status"`
	// Duration is how long the answer took.
	Duration Duration `json:"duration"`
}

// maxLog bounds the request log.
const maxLog = 20000

func (s *Server) logRequest(r *http.Request, status int, start time.Time) {
	q := r.URL.Query()
	for _, secret := range []string{"code", "code_verifier", "client_secret", "refresh_token", "assertion", "password", "token"} {
		if q.Has(secret) {
			q.Set(secret, "redacted")
		}
	}
	e := RequestLog{Time: start, Method: r.Method, Path: r.URL.Path, Query: q.Encode(), Status: status, Duration: Duration(s.now().Sub(start))}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.log) >= maxLog {
		s.log = append(s.log[:0], s.log[len(s.log)-maxLog/2:]...)
	}
	s.log = append(s.log, e)
}

// Requests returns the request log, oldest first.
func (s *Server) Requests() []RequestLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RequestLog(nil), s.log...)
}

// Usage returns the API requests counted in the last 24 hours and the
// daily limit.
func (s *Server) Usage() (used, limit int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.usage.used(s.now()), s.opts.DailyLimit
}

// SetUsage sets the daily limit (when limit > 0) and replaces the count of
// the last 24 hours with used (when used >= 0).
func (s *Server) SetUsage(used, limit int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit > 0 {
		s.opts.DailyLimit = limit
	}
	if used >= 0 {
		s.usage = usage{}
		s.usage.add(s.now(), used)
	}
}

// SetMaxConcurrent sets the cap on concurrent long-running requests.
func (s *Server) SetMaxConcurrent(n int, longRunningAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.MaxConcurrent, s.opts.LongRunningAfter = n, longRunningAfter
}

func (s *Server) limitInfoLocked() string {
	return fmt.Sprintf("api-usage=%d/%d", s.usage.used(s.now()), s.opts.DailyLimit)
}

// parseVersion parses "v61.0".
func parseVersion(seg string) (float64, bool) {
	if !strings.HasPrefix(seg, "v") {
		return 0, false
	}
	v, err := strconv.ParseFloat(seg[1:], 64)
	if err != nil || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}
