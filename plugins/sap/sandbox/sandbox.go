// Package sandbox is an SAP S/4HANA sandbox: an HTTP server that behaves
// like S/4HANA's OData V2 APIs closely enough that weir-connector-sap runs
// the same code against it as against a real system.
//
// It serves, under /sap/opu/odata/sap/:
//
//   - API_SALES_ORDER_SRV: A_SalesOrder (deep insert with to_Item, PATCH
//     with If-Match, DELETE), A_SalesOrderItem, A_SalesOrderHeaderPartner,
//     A_SalesOrderText;
//   - API_MATERIAL_STOCK_SRV: A_MaterialStock, A_MatlStkInAcctMod;
//   - API_PRODUCT_SRV: A_Product, A_ProductDescription,
//     A_ProductUnitsOfMeasure;
//   - API_BUSINESS_PARTNER: A_BusinessPartner, A_BusinessPartnerAddress,
//     A_Customer;
//
// each with its service document and $metadata (EDMX), the verbose JSON
// format ({"d":…}, {"d":{"results":[…]}}, __metadata with uri, type and
// etag, __deferred links, /Date(ms)/ dates, decimals as strings), the
// query options $filter, $select, $expand, $orderby, $top, $skip,
// $inlinecount and $count, and OData error bodies with errordetails.
//
// Around them it plays the rest of the system: Basic authentication of
// communication users, OAuth 2.0 client credentials
// (/sap/bc/sec/oauth2/token), the sap-client parameter, sessions with
// their cookies and the CSRF token protocol, ETags (412, 428), business
// validation, and an optional API-management spike arrest in front.
//
// The control API under /_sandbox/ lists, inserts and changes records,
// seeds demo data, injects faults and shows the request log; see
// ServeHTTP. Everything the vendor reference marks unverified is an
// Option.
package sandbox

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Name is the sandbox's name, as in `weir sandbox sap`.
const Name = "sap"

// Defaults for zero Options fields.
const (
	DefaultSystemID       = "S4H"
	DefaultClient         = "100"
	DefaultUser           = "WEIR_COMM_USER"
	DefaultPassword       = "Sandbox-Passw0rd"
	DefaultClientID       = "weir-sandbox"
	DefaultClientSecret   = "sandbox-client-secret"
	DefaultTokenLifetime  = time.Hour
	DefaultSessionTimeout = 30 * time.Minute
	DefaultServicePrefix  = "/sap/opu/odata/sap"
	DefaultTokenPath      = "/sap/bc/sec/oauth2/token"
	// maxLog bounds the request log.
	maxLog = 50000
)

// Options configure a Server. The zero value is a system with the default
// users, strict S/4HANA Cloud behaviour (428 without If-Match, decimals
// only as strings) and no data: call SeedDemo or POST /_sandbox/seed.
type Options struct {
	// SystemID and Client name the system and its client (the sap-client
	// parameter; requests for another client fail to log on).
	SystemID, Client string
	// Users are the communication users for Basic authentication, name to
	// password; DefaultUser with DefaultPassword when nil.
	Users map[string]string
	// OAuthClients are the OAuth 2.0 clients for the client credentials
	// grant, id to secret; DefaultClientID with DefaultClientSecret when
	// nil.
	OAuthClients map[string]string
	// TokenLifetime is the access token lifetime; DefaultTokenLifetime
	// when zero.
	TokenLifetime time.Duration
	// ExpiresInNumber sends expires_in as a JSON number; by default it is
	// a string ("3600"), as ABAP answers [unverified].
	ExpiresInNumber bool
	// SessionTimeout ends a session (and its CSRF token) after this long
	// without a request; DefaultSessionTimeout when zero.
	SessionTimeout time.Duration
	// DisableCSRF accepts modifying requests without a CSRF token.
	DisableCSRF bool
	// IfMatchOptional accepts updates without If-Match (on-premise
	// systems); by default they fail with 428, as on S/4HANA Cloud.
	IfMatchOptional bool
	// RejectIfMatchStar refuses "If-Match: *" with 412 [unverified].
	RejectIfMatchStar bool
	// RejectWrappedPatch refuses PATCH bodies wrapped in {"d":…}
	// [unverified whether the gateway accepts them].
	RejectWrappedPatch bool
	// LenientDecimals accepts JSON numbers for Edm.Decimal properties; by
	// default only strings are valid.
	LenientDecimals bool
	// OmitFeedETags leaves etag out of the __metadata of entities read in
	// a collection (only single reads carry it) [unverified].
	OmitFeedETags bool
	// PageSize, when positive, pages collections server-side with __next
	// links [unverified for these services].
	PageSize int
	// DuplicatePOCheck is what a create with a customer reference already
	// used for the sold-to party gets: "" nothing, "warning" a sap-message
	// header, "error" a 400 [unverified].
	DuplicatePOCheck string
	// ProductISOUnits adds BaseISOUnit to A_Product and AlternativeISOUnit
	// to A_ProductUnitsOfMeasure [unverified for API_PRODUCT_SRV].
	ProductISOUnits bool
	// Extensions are custom fields appended to the entity types of the
	// named entity sets; DefaultExtensions when nil.
	Extensions map[string][]Property
	// SpikeArrest puts an API-management spike arrest in front of the
	// OData services from the start (see Faults).
	SpikeArrest *SpikeArrest
	// Units is the unit of measure table (T006); DefaultUnits when nil.
	Units []Unit
	// SalesOrganizations are the valid sales organizations; the demo ones
	// (1710, 1010) when nil.
	SalesOrganizations map[string]SalesOrganization
	// ServicePrefix is where the services live; DefaultServicePrefix when
	// empty (the API hub sandbox uses /s4hanacloud/sap/opu/odata/sap).
	ServicePrefix string
	// TokenPath is the OAuth token endpoint; DefaultTokenPath when empty.
	TokenPath string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Unit is a unit of measure: its SAP code (T006-MSEHI, as shown in
// English) and its ISO code.
type Unit struct {
	SAP  string `json:"sap"`
	ISO  string `json:"iso"`
	Text string `json:"text"`
	// PrimaryISO is the SAP unit chosen when several share the ISO code.
	PrimaryISO bool `json:"primary_iso"`
}

// DefaultUnits is the sandbox's unit table. The ISO codes of CAR, PAK and
// CS are unverified.
var DefaultUnits = []Unit{
	{SAP: "EA", ISO: "EA", Text: "each", PrimaryISO: true},
	{SAP: "PC", ISO: "PCE", Text: "piece", PrimaryISO: true},
	{SAP: "CS", ISO: "CS", Text: "case", PrimaryISO: true},
	{SAP: "CAR", ISO: "CT", Text: "carton", PrimaryISO: true},
	{SAP: "PAK", ISO: "PK", Text: "pack", PrimaryISO: true},
	{SAP: "BOX", ISO: "BX", Text: "box", PrimaryISO: true},
	{SAP: "PAL", ISO: "PF", Text: "pallet", PrimaryISO: true},
	{SAP: "KG", ISO: "KGM", Text: "kilogram", PrimaryISO: true},
	{SAP: "G", ISO: "GRM", Text: "gram", PrimaryISO: true},
	{SAP: "M", ISO: "MTR", Text: "metre", PrimaryISO: true},
	{SAP: "L", ISO: "LTR", Text: "litre", PrimaryISO: true},
	{SAP: "H", ISO: "HUR", Text: "hour", PrimaryISO: true},
	{SAP: "DZ", ISO: "DZN", Text: "dozen", PrimaryISO: true},
	{SAP: "ST", ISO: "PCE", Text: "item"},
}

// SalesOrganization is a sales organization's currency, delivering plant
// and valid distribution channels and divisions.
type SalesOrganization struct {
	Currency  string   `json:"currency"`
	Plant     string   `json:"plant"`
	Channels  []string `json:"channels"`
	Divisions []string `json:"divisions"`
}

var defaultSalesOrgs = map[string]SalesOrganization{
	"1710": {Currency: "USD", Plant: "1710", Channels: []string{"10"}, Divisions: []string{"00"}},
	"1010": {Currency: "EUR", Plant: "1010", Channels: []string{"10"}, Divisions: []string{"00"}},
}

// SpikeArrest is an API-management spike arrest (Apigee semantics: rate
// smoothing, one request per 1/rate, no counter).
type SpikeArrest struct {
	// Rate is "<n>ps" or "<n>pm"; "10ps" when empty.
	Rate string `json:"rate,omitempty"`
	// Status is 500 (the default, as Apigee answers) or 429.
	Status int `json:"status,omitempty"`
	// RetryAfter, in seconds, is sent as Retry-After when positive.
	RetryAfter int `json:"retry_after,omitempty"`
	// FaultString and ErrorCode are the fault body's texts [unverified];
	// "Spike arrest violation. Allowed rate : <rate>" and
	// "policies.ratelimit.SpikeArrestViolation" when empty.
	FaultString string `json:"faultstring,omitempty"`
	ErrorCode   string `json:"errorcode,omitempty"`
}

func (sa *SpikeArrest) interval() time.Duration {
	rate := sa.Rate
	if rate == "" {
		rate = "10ps"
	}
	per := time.Second
	switch {
	case strings.HasSuffix(rate, "pm"):
		per = time.Minute
	case strings.HasSuffix(rate, "ps"):
	default:
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSuffix(rate, "ps"), "pm"))
	if err != nil || n <= 0 {
		return 0
	}
	return per / time.Duration(n)
}

// Duration is a time.Duration in JSON as "250ms" (or a number of
// milliseconds).
type Duration time.Duration

// MarshalJSON writes the duration as text.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "250ms" or 250 (milliseconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		*d = Duration(v)
		return err
	}
	var ms float64
	if err := json.Unmarshal(b, &ms); err != nil {
		return fmt.Errorf("duration: %s", b)
	}
	*d = Duration(time.Duration(ms * float64(time.Millisecond)))
	return nil
}

// Faults are injected failures, set with POST /_sandbox/faults or
// SetFaults. Counters count down as they fire; one-shot flags act when set.
type Faults struct {
	// Latency delays every OData request before it is handled.
	Latency Duration `json:"latency,omitempty"`
	// AckDelay delays the response of a modifying request after it took
	// effect: a client that dies meanwhile never learns it succeeded.
	AckDelay Duration `json:"ack_delay,omitempty"`
	// ErrorRate is the share of OData requests failing with ErrorStatus.
	ErrorRate float64 `json:"error_rate,omitempty"`
	// FailNext fails the next n OData requests with ErrorStatus.
	FailNext int `json:"fail_next,omitempty"`
	// ErrorStatus is the status of injected errors; 503 when zero.
	ErrorStatus int `json:"error_status,omitempty"`
	// Force429 answers the next n OData requests 429 with Retry-After.
	Force429 int `json:"force_429,omitempty"`
	// RetryAfter is the Retry-After of forced 429s, in seconds; 1 when
	// zero.
	RetryAfter int `json:"retry_after,omitempty"`
	// SpikeArrest enables the gateway's spike arrest (nil: as Options).
	SpikeArrest *SpikeArrest `json:"spike_arrest,omitempty"`
	// SpikeArrestNext refuses the next n requests by spike arrest,
	// whatever the rate: a storm.
	SpikeArrestNext int `json:"spike_arrest_next,omitempty"`
	// ExpireSessions ends every session now: CSRF tokens become invalid.
	ExpireSessions bool `json:"expire_sessions,omitempty"`
	// ExpireSessionsAfter ends every session after that many more
	// modifying requests succeeded (0: never).
	ExpireSessionsAfter int `json:"expire_sessions_after,omitempty"`
	// SessionTimeout changes the session lifetime (0: as Options).
	SessionTimeout Duration `json:"session_timeout,omitempty"`
	// ExpireTokens makes every OAuth access token expire now.
	ExpireTokens bool `json:"expire_tokens,omitempty"`
	// ConcurrentChange makes the next n updates or deletes meet a change
	// made just before them: their If-Match is stale (412).
	ConcurrentChange int `json:"concurrent_change,omitempty"`
}

// Request is one logged request.
type Request struct {
	Time     time.Time `json:"time"`
	Method   string    `json:"method"`
	Path     string    `json:"path"`
	Query    string    `json:"query,omitempty"`
	Status   int       `json:"status"`
	Service  string    `json:"service,omitempty"`
	User     string    `json:"user,omitempty"`
	Auth     string    `json:"auth,omitempty"` // basic, bearer, session
	CSRF     string    `json:"csrf,omitempty"` // fetch, valid, invalid
	Refusal  string    `json:"refusal,omitempty"`
	Duration Duration  `json:"duration"`
}

// Server is the sandbox. It is an http.Handler, safe for concurrent use.
type Server struct {
	opts     Options
	services map[string]*service
	units    map[string]Unit // by SAP code
	isoUnits map[string]Unit // by ISO code (the primary SAP unit)
	orgs     map[string]SalesOrganization

	mu         sync.Mutex
	tables     map[string]*table
	prices     map[string]*big.Rat // material → net price per base unit
	nextOrder  int64
	lastChange time.Time
	sessions   map[string]*session
	tokens     map[string]*accessToken
	faults     Faults
	lastSpike  time.Time
	log        []Request
	rnd        *mrand.Rand
}

type session struct {
	id, user, client, token string
	lastUse                 time.Time
}

type accessToken struct {
	client  string
	expires time.Time
}

// New returns a sandbox with no data.
func New(opts Options) *Server {
	if opts.SystemID == "" {
		opts.SystemID = DefaultSystemID
	}
	if opts.Client == "" {
		opts.Client = DefaultClient
	}
	if opts.Users == nil {
		opts.Users = map[string]string{DefaultUser: DefaultPassword}
	}
	if opts.OAuthClients == nil {
		opts.OAuthClients = map[string]string{DefaultClientID: DefaultClientSecret}
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = DefaultTokenLifetime
	}
	if opts.SessionTimeout <= 0 {
		opts.SessionTimeout = DefaultSessionTimeout
	}
	if opts.ServicePrefix == "" {
		opts.ServicePrefix = DefaultServicePrefix
	}
	opts.ServicePrefix = "/" + strings.Trim(opts.ServicePrefix, "/")
	if opts.TokenPath == "" {
		opts.TokenPath = DefaultTokenPath
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Extensions == nil {
		opts.Extensions = DefaultExtensions
	}
	if opts.Units == nil {
		opts.Units = DefaultUnits
	}
	if opts.SalesOrganizations == nil {
		opts.SalesOrganizations = defaultSalesOrgs
	}
	s := &Server{opts: opts, services: newServices(opts.Extensions, opts.ProductISOUnits),
		units: map[string]Unit{}, isoUnits: map[string]Unit{}, orgs: opts.SalesOrganizations,
		rnd: mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 7))}
	for _, u := range opts.Units {
		s.units[u.SAP] = u
		if _, ok := s.isoUnits[u.ISO]; !ok || u.PrimaryISO {
			s.isoUnits[u.ISO] = u
		}
	}
	s.resetLocked()
	return s
}

// resetLocked empties the store and forgets sessions, tokens, faults and
// the log.
func (s *Server) resetLocked() {
	s.tables = map[string]*table{}
	for _, svc := range s.services {
		for _, t := range svc.Sets {
			s.tables[t.Set] = newTable(t)
		}
	}
	s.prices = map[string]*big.Rat{}
	s.nextOrder = 1
	s.sessions = map[string]*session{}
	s.tokens = map[string]*accessToken{}
	s.faults = Faults{}
	s.log = nil
}

// Reset empties the sandbox: data, sessions, tokens, faults and log.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

// SetFaults replaces the injected faults.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setFaultsLocked(f)
}

func (s *Server) setFaultsLocked(f Faults) {
	if f.ExpireSessions {
		s.sessions = map[string]*session{}
		f.ExpireSessions = false
	}
	if f.ExpireTokens {
		s.tokens = map[string]*accessToken{}
		f.ExpireTokens = false
	}
	s.faults = f
}

// CurrentFaults returns the faults in force.
func (s *Server) CurrentFaults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// ExpireSessions ends every session: their CSRF tokens become invalid.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions = map[string]*session{}
}

// Requests returns the request log, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

func (s *Server) now() time.Time { return s.opts.Now().UTC() }

// changeTimeLocked returns a new change timestamp, 100 ns resolution,
// later than every one before.
func (s *Server) changeTimeLocked() time.Time {
	t := s.now().Truncate(100 * time.Nanosecond)
	if !t.After(s.lastChange) {
		t = s.lastChange.Add(100 * time.Nanosecond)
	}
	s.lastChange = t
	return t
}

// statusWriter records the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// reqInfo is what the log notes about a request as it is handled.
type reqInfo struct {
	service, user, auth, csrf, refusal string
}

// ServeHTTP serves the OData services, the OAuth token endpoint and the
// control API:
//
//	GET    /_sandbox/records/{set}        every record of an entity set (navigations inline)
//	POST   /_sandbox/records/{set}        insert records as they are (no validation)
//	PATCH  /_sandbox/records/{set}/{key}  change a record's fields (e.g. a status)
//	POST   /_sandbox/seed                 demo data (empty body or {"demo":true}) or a Seed
//	GET    /_sandbox/faults               the faults in force; POST replaces them, DELETE clears
//	GET    /_sandbox/requests[?since=…]   the request log with timestamps; DELETE clears it
//	POST   /_sandbox/reset                empty everything
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sandbox/") {
		s.serveControl(w, r)
		return
	}
	start := s.now()
	sw := &statusWriter{ResponseWriter: w}
	info := &reqInfo{}
	switch {
	case r.URL.Path == s.opts.TokenPath:
		s.serveToken(sw, r)
	case strings.HasPrefix(r.URL.Path, s.opts.ServicePrefix+"/"):
		s.serveService(sw, r, info)
	default:
		odataError(sw, http.StatusNotFound, "/IWFND/CM_MED/025", "No service found for namespace '', name '"+r.URL.Path+"', version '0001'", nil)
	}
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	q := r.URL.Query()
	q.Del("client_secret")
	s.mu.Lock()
	if len(s.log) >= maxLog {
		s.log = append(s.log[:0], s.log[len(s.log)/2:]...)
	}
	s.log = append(s.log, Request{Time: start, Method: r.Method, Path: r.URL.Path, Query: q.Encode(), Status: sw.status,
		Service: info.service, User: info.user, Auth: info.auth, CSRF: info.csrf, Refusal: info.refusal,
		Duration: Duration(s.now().Sub(start))})
	s.mu.Unlock()
}

// serveService runs a request through the gateway, logon and CSRF checks,
// then the service.
func (s *Server) serveService(w http.ResponseWriter, r *http.Request, info *reqInfo) {
	rest := strings.TrimPrefix(r.URL.Path, s.opts.ServicePrefix+"/")
	name, rest, _ := strings.Cut(rest, "/")
	name, _, _ = strings.Cut(name, ";") // matrix parameters such as ;v=0001
	info.service = name

	if s.gateway(w, info) {
		return
	}
	svc := s.services[name]
	if svc == nil {
		odataError(w, http.StatusNotFound, "/IWFND/MED/170", "No service found for namespace '/SAP/', name '"+name+"', version '0001'", nil)
		return
	}
	if client := r.URL.Query().Get("sap-client"); client != "" && client != s.opts.Client {
		info.refusal = "client"
		logonFailed(w, s.opts, "Client "+client+" is not available in this system")
		return
	}
	user, ok := s.authenticate(w, r, info)
	if !ok {
		return
	}
	info.user = user
	method := r.Method
	if o := r.Header.Get("X-Http-Method"); method == http.MethodPost && o != "" {
		method = strings.ToUpper(o)
	}
	modifying := method != http.MethodGet && method != http.MethodHead
	if !s.csrf(w, r, info, user, modifying) {
		return
	}
	h := &odataRequest{s: s, svc: svc, w: w, r: r, method: method, path: rest, user: user}
	h.serve()
	if modifying && s.ackDelay() > 0 {
		time.Sleep(s.ackDelay())
	}
}

func (s *Server) ackDelay() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Duration(s.faults.AckDelay)
}

// gateway applies latency, injected errors, forced 429s and the spike
// arrest. It reports whether it answered.
func (s *Server) gateway(w http.ResponseWriter, info *reqInfo) bool {
	s.mu.Lock()
	f := &s.faults
	latency := time.Duration(f.Latency)
	sa := f.SpikeArrest
	if sa == nil {
		sa = s.opts.SpikeArrest
	}
	spiked := false
	if f.SpikeArrestNext > 0 {
		f.SpikeArrestNext--
		spiked = true
		if sa == nil {
			sa = &SpikeArrest{}
		}
	} else if sa != nil {
		now := s.opts.Now()
		if iv := sa.interval(); iv > 0 && now.Sub(s.lastSpike) < iv {
			spiked = true
		} else {
			s.lastSpike = now
		}
	}
	var force429, fail bool
	retryAfter := max(f.RetryAfter, 1)
	status := f.ErrorStatus
	if status == 0 {
		status = http.StatusServiceUnavailable
	}
	if !spiked {
		switch {
		case f.Force429 > 0:
			f.Force429--
			force429 = true
		case f.FailNext > 0:
			f.FailNext--
			fail = true
		case f.ErrorRate > 0 && s.rnd.Float64() < f.ErrorRate:
			fail = true
		}
	}
	s.mu.Unlock()

	switch {
	case spiked:
		info.refusal = "spike_arrest"
		rate := sa.Rate
		if rate == "" {
			rate = "10ps"
		}
		fs, code := sa.FaultString, sa.ErrorCode
		if fs == "" {
			fs = "Spike arrest violation. Allowed rate : " + rate
		}
		if code == "" {
			code = "policies.ratelimit.SpikeArrestViolation"
		}
		st := sa.Status
		if st == 0 {
			st = http.StatusInternalServerError
		}
		if sa.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(sa.RetryAfter))
		}
		body, _ := json.Marshal(map[string]any{"fault": map[string]any{"faultstring": fs, "detail": map[string]string{"errorcode": code}}})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(st)
		w.Write(body)
		return true
	case force429:
		info.refusal = "429"
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprintf(w, `{"fault":{"faultstring":"Rate limit quota violation. Quota limit exceeded.","detail":{"errorcode":"policies.ratelimit.QuotaViolation"}}}`)
		return true
	}
	if latency > 0 {
		time.Sleep(latency)
	}
	if fail {
		info.refusal = "injected"
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<html><head><title>%d %s</title></head><body><h1>%s</h1><p>The request could not be processed: the ICM has no free work process.</p></body></html>",
			status, http.StatusText(status), http.StatusText(status))
		return true
	}
	return false
}

// logonFailed answers 401 as the ICF does.
func logonFailed(w http.ResponseWriter, opts Options, why string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Basic realm="SAP NetWeaver Application Server [%s/%s]"`, opts.SystemID, opts.Client))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprintf(w, "<html><head><title>Logon Error Message</title></head><body><p>Logon failed. %s</p></body></html>", why)
}

// authenticate checks Basic credentials, a bearer token or a session
// cookie, and answers 401 when there is none valid.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, info *reqInfo) (string, bool) {
	if user, pass, ok := r.BasicAuth(); ok {
		info.auth = "basic"
		want, known := s.opts.Users[user]
		if !known || subtle.ConstantTimeCompare([]byte(want), []byte(pass)) != 1 {
			info.refusal = "logon"
			logonFailed(w, s.opts, "Check your user name and password.")
			return "", false
		}
		return user, true
	}
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		info.auth = "bearer"
		tok := strings.TrimSpace(h[7:])
		s.mu.Lock()
		at := s.tokens[tok]
		valid := at != nil && s.now().Before(at.expires)
		s.mu.Unlock()
		if !valid {
			info.refusal = "token"
			w.Header().Set("WWW-Authenticate", `Bearer realm="SAP NetWeaver Application Server", error="invalid_token"`)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, "<html><body><p>Logon failed: the access token is invalid or has expired.</p></body></html>")
			return "", false
		}
		return at.client, true
	}
	if sess := s.sessionOf(r); sess != nil {
		info.auth = "session"
		return sess.user, true
	}
	info.refusal = "logon"
	logonFailed(w, s.opts, "No credentials.")
	return "", false
}

// sessionCookie is the session cookie's name.
func (s *Server) sessionCookie() string {
	return "SAP_SESSIONID_" + s.opts.SystemID + "_" + s.opts.Client
}

// sessionOf returns the request's live session, touching it, or nil.
func (s *Server) sessionOf(r *http.Request) *session {
	c, err := r.Cookie(s.sessionCookie())
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessions[c.Value]
	if sess == nil {
		return nil
	}
	timeout := s.opts.SessionTimeout
	if t := time.Duration(s.faults.SessionTimeout); t > 0 {
		timeout = t
	}
	now := s.now()
	if now.Sub(sess.lastUse) > timeout {
		delete(s.sessions, sess.id)
		return nil
	}
	sess.lastUse = now
	return sess
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// csrfFailed is the exact refusal of a modifying request without a valid
// token: 403, "x-csrf-token: Required" and a 28-byte text body.
func csrfFailed(w http.ResponseWriter) {
	const body = "CSRF token validation failed"
	w.Header().Set("x-csrf-token", "Required")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprint(w, body)
}

// csrf runs the token protocol: a fetch on a read returns the session's
// token (opening a session with its cookies when there is none); a
// modifying request needs the token of its live session.
func (s *Server) csrf(w http.ResponseWriter, r *http.Request, info *reqInfo, user string, modifying bool) bool {
	if s.opts.DisableCSRF {
		return true
	}
	sent := r.Header.Get("x-csrf-token")
	if !modifying {
		if !strings.EqualFold(sent, "fetch") {
			return true
		}
		info.csrf = "fetch"
		sess := s.sessionOf(r)
		if sess == nil || sess.user != user {
			sess = &session{id: randomHex(24), user: user, client: s.opts.Client, token: base64ish(randomHex(16)), lastUse: s.now()}
			s.mu.Lock()
			s.sessions[sess.id] = sess
			s.mu.Unlock()
			http.SetCookie(w, &http.Cookie{Name: s.sessionCookie(), Value: sess.id, Path: "/", HttpOnly: true})
			http.SetCookie(w, &http.Cookie{Name: "sap-usercontext", Value: "sap-client=" + s.opts.Client, Path: "/"})
		}
		w.Header().Set("x-csrf-token", sess.token)
		return true
	}
	sess := s.sessionOf(r)
	if sess == nil || sent == "" || sess.user != user || subtle.ConstantTimeCompare([]byte(sess.token), []byte(sent)) != 1 {
		info.csrf = "invalid"
		info.refusal = "csrf"
		csrfFailed(w)
		return false
	}
	info.csrf = "valid"
	s.mu.Lock()
	if s.faults.ExpireSessionsAfter > 0 {
		s.faults.ExpireSessionsAfter--
		if s.faults.ExpireSessionsAfter == 0 {
			s.sessions = map[string]*session{}
		}
	}
	s.mu.Unlock()
	return true
}

// base64ish turns hex into a token that looks like SAP's (base64 text).
func base64ish(h string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var b strings.Builder
	for i := 0; i+1 < len(h); i += 2 {
		v, _ := strconv.ParseUint(h[i:i+2], 16, 8)
		b.WriteByte(alphabet[v%64])
	}
	return b.String() + "=="
}

// serveToken is the OAuth 2.0 token endpoint: client credentials, with the
// client authenticated by HTTP Basic or form fields.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	oauthErr := func(status int, code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if r.Method != http.MethodPost {
		oauthErr(http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthErr(http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	want, known := s.opts.OAuthClients[id]
	if id == "" || !known || subtle.ConstantTimeCompare([]byte(want), []byte(secret)) != 1 {
		oauthErr(http.StatusUnauthorized, "invalid_client", "Client authentication failed")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		oauthErr(http.StatusBadRequest, "unsupported_grant_type", "grant type '"+gt+"' is not supported for this client")
		return
	}
	scope := r.PostForm.Get("scope")
	if scope == "" {
		scope = "API_SALES_ORDER_SRV_0001 API_MATERIAL_STOCK_SRV_0001 API_PRODUCT_SRV_0001 API_BUSINESS_PARTNER_0001"
	}
	tok := randomHex(20)
	s.mu.Lock()
	s.tokens[tok] = &accessToken{client: id, expires: s.now().Add(s.opts.TokenLifetime)}
	s.mu.Unlock()
	secs := int(s.opts.TokenLifetime / time.Second)
	var expires any = strconv.Itoa(secs)
	if s.opts.ExpiresInNumber {
		expires = secs
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": expires, "scope": scope})
}

// detail is one entry of innererror.errordetails.
type detail struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Target   string `json:"target"`
	Severity string `json:"severity"`
}

// odataError writes an OData V2 error body as the SAP gateway does.
func odataError(w http.ResponseWriter, status int, code, msg string, details []detail) {
	type errordetail struct {
		Code        string `json:"code"`
		Message     string `json:"message"`
		Propertyref string `json:"propertyref"`
		Severity    string `json:"severity"`
		Target      string `json:"target"`
	}
	eds := []errordetail{}
	for _, d := range details {
		eds = append(eds, errordetail{Code: d.Code, Message: d.Message, Severity: d.Severity, Target: d.Target})
	}
	if len(details) > 0 {
		eds = append(eds, errordetail{Code: "/IWBEP/CX_MGW_BUSI_EXCEPTION", Message: "An exception was raised", Severity: "error"})
	}
	now := time.Now().UTC()
	body := map[string]any{"error": map[string]any{
		"code":    code,
		"message": map[string]string{"lang": "en", "value": msg},
		"innererror": map[string]any{
			"application": map[string]string{"component_id": "SD-SLS-API", "service_namespace": "/SAP/",
				"service_id": "API_SALES_ORDER_SRV", "service_version": "0001"},
			"transactionid": strings.ToUpper(randomHex(16)),
			"timestamp":     now.Format("20060102150405") + fmt.Sprintf(".%07d", now.Nanosecond()/100),
			"Error_Resolution": map[string]string{
				"SAP_Transaction": "For backend administrators: use ADT feed reader \"SAP Gateway Error Log\" or run transaction /IWFND/ERROR_LOG on SAP Gateway hub system and search for entries with the timestamp above for more details",
				"SAP_Note":        "See SAP Note 1797736 for error analysis (https://service.sap.com/sap/support/notes/1797736)",
			},
			"errordetails": eds,
		},
	}}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(body)
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}
