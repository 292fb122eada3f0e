// Package sandbox is a stand-in for NetSuite's REST web services
// (SuiteTalk REST), close enough that the netsuite connector runs the same
// code against it as against a real account:
//
//   - the record API (/services/rest/record/v1/...) for salesOrder,
//     customer and inventoryItem: POST → 204 with Location, PUT eid:
//     upsert, PATCH with sublist append or ?replace=, GET with
//     expandSubResources, DELETE, the sales order transforms to
//     itemFulfillment and invoice, and read-only subsidiary, currency,
//     location and unitsType records; the JSON shapes of real responses
//     (ids as strings, references as {id, refName, links}, sublists as
//     {items, totalResults, links}) and NetSuite's validation and error
//     bodies (type, title, status, o:errorDetails with o:errorCode and
//     o:errorPath);
//   - SuiteQL (POST /services/rest/query/v1/suiteql): a subset of the SQL
//     the connector runs (SELECT ... FROM ... JOIN ... WHERE ... ORDER BY,
//     TO_CHAR, TO_DATE, BUILTIN.DF, SYSDATE arithmetic) over transaction,
//     transactionline, item, unitstypeuom, aggregateitemlocation,
//     inventorybalance, location, customer, subsidiary and currency, with
//     NetSuite's paging rules and answer shape (values as strings);
//   - authentication: the OAuth 2.0 token endpoint (client credentials
//     with a JWT assertion checked against a registered certificate's
//     public key, authorization code with PKCE, refresh tokens), the
//     authorize endpoint, token-based authentication (OAuth 1.0a
//     HMAC-SHA256 signatures), and 401 INVALID_LOGIN for anything else;
//   - governance: the account's concurrency limit (default 5), refused
//     with 429 CONCURRENCY_LIMIT_EXCEEDED and no Retry-After, an optional
//     request-rate limit, and fault injection (latency, 5xx, forced 429s,
//     token expiry);
//   - the control API under /_sandbox/: records, seed, faults, requests,
//     stats, transform, reset.
//
// What the reference marks unverified is an Options field. New returns an
// http.Handler; the host runs it in-process (weir dev) or standalone
// (weir sandbox netsuite), tests with httptest.
package sandbox

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Name is the sandbox's name, as in `weir sandbox netsuite`.
const Name = "netsuite"

// Defaults for zero Options fields.
const (
	DefaultAccountID            = "1234567"
	DefaultConcurrencyLimit     = 5
	DefaultAccessTokenLifetime  = time.Hour
	DefaultRefreshTokenLifetime = 7 * 24 * time.Hour
	DefaultCodeLifetime         = 10 * time.Minute
	DefaultMaxAssertionLifetime = time.Hour
	DefaultTBATimestampSkew     = 5 * time.Minute
	DefaultMinStateLength       = 22
	DefaultDateFormat           = "1/2/2006"
	DefaultMaxLog               = 20000
)

// SuiteQL limits: the largest page, and the most rows one query can page
// through without SuiteAnalytics Connect.
const (
	MaxSuiteQLLimit = 1000
	MaxSuiteQLRows  = 100000
)

// Paths of the API, relative to the account's host.
const (
	RecordPath    = "/services/rest/record/v1/"
	SuiteQLPath   = "/services/rest/query/v1/suiteql"
	TokenPath     = "/services/rest/auth/oauth2/v1/token"
	AuthorizePath = "/app/login/oauth2/authorize.nl"
	ControlPath   = "/_sandbox/"
)

// Options configure a Server. The zero value is a sandbox for account
// DefaultAccountID with NetSuite's documented behaviour; fields marked
// unverified choose between behaviours the reference could not settle.
type Options struct {
	// AccountID is the account (e.g. "123456_SB1"): the TBA realm and the
	// company in tokens. DefaultAccountID when empty.
	AccountID string
	// PublicURL is the base URL clients use (scheme://host), for links,
	// Location headers, TBA signature base strings and the audience of
	// client assertions; when empty it is taken from each request.
	PublicURL string
	// Demo seeds the demo data (SeedDemo) at New and at every Reset.
	Demo bool

	// ConcurrencyLimit is the account's concurrency limit: requests in
	// flight past it are refused with 429 CONCURRENCY_LIMIT_EXCEEDED.
	// DefaultConcurrencyLimit when zero; negative for no limit.
	// (Unverified: the base is 5 or 15 depending on the source.)
	ConcurrencyLimit int
	// RateLimit, when positive, refuses requests past RateLimit per
	// RateWindow (a sliding window; one minute when zero) with 429
	// REQUEST_LIMIT_EXCEEDED. NetSuite has such frequency limits; their
	// values are not public.
	RateLimit  int
	RateWindow time.Duration

	// AccessTokenLifetime is how long OAuth 2.0 access tokens live;
	// DefaultAccessTokenLifetime (60 minutes) when zero.
	AccessTokenLifetime time.Duration
	// RefreshTokenLifetime is how long refresh tokens live;
	// DefaultRefreshTokenLifetime (7 days, unverified) when zero.
	RefreshTokenLifetime time.Duration
	// CodeLifetime is how long an authorization code lives;
	// DefaultCodeLifetime when zero.
	CodeLifetime time.Duration
	// MaxAssertionLifetime bounds exp - iat of a client assertion;
	// DefaultMaxAssertionLifetime (60 minutes) when zero.
	MaxAssertionLifetime time.Duration
	// TBATimestampSkew bounds how far an OAuth 1.0a timestamp may be from
	// the server's clock; DefaultTBATimestampSkew when zero.
	TBATimestampSkew time.Duration
	// MinStateLength is the shortest state the authorize endpoint accepts;
	// DefaultMinStateLength (22, unverified) when zero, none when negative.
	MinStateLength int
	// AllowHTTPRedirect accepts http:// redirect URIs, which NetSuite
	// refuses (it wants https:// or a custom scheme).
	AllowHTTPRedirect bool
	// ExpiresInNumber sends expires_in as a JSON number instead of the
	// string "3600" (unverified which one NetSuite sends).
	ExpiresInNumber bool
	// NoAuth accepts API requests without credentials.
	NoAuth bool

	// TooManyRequestsTitle is the title of a 429 body; "Too Many Requests"
	// when empty (some captures show "Bad Request").
	TooManyRequestsTitle string
	// LegacyErrorType uses the rfc2616 type URLs in error bodies instead
	// of the rfc9110 ones.
	LegacyErrorType bool
	// UpsertStatus is the status of a successful PUT eid: upsert; 204 when
	// zero (unverified).
	UpsertStatus int
	// CaseSensitiveTypes makes record type names in paths case-sensitive
	// (unverified; NetSuite appears to accept any case).
	CaseSensitiveTypes bool
	// PropertyNameValidation is the default of the
	// X-NetSuite-PropertyNameValidation header for unknown body fields:
	// "Error" (the default), "Warning" or "Ignore".
	PropertyNameValidation string
	// SubsidiaryFromEntity sources a sales order's missing subsidiary from
	// its customer instead of refusing the order.
	SubsidiaryFromEntity bool
	// PlainJSON answers with Content-Type application/json instead of
	// application/vnd.oracle.resource+json; type=... (unverified).
	PlainJSON bool
	// ExpandByDefault inlines sublists and subrecords in GET answers even
	// without expandSubResources=true (unverified: captures show only
	// links then).
	ExpandByDefault bool
	// UnitsAsReference renders a transaction line's units as a reference
	// {id, refName} instead of the plain string id seen in captures.
	UnitsAsReference bool

	// AllowMissingPrefer runs SuiteQL queries sent without
	// "Prefer: transient" instead of refusing them.
	AllowMissingPrefer bool
	// OracleNumbers formats SuiteQL numbers as Oracle does (".5", "-.25")
	// instead of "0.5", "-0.25" (unverified).
	OracleNumbers bool
	// DateFormat is the user's date format for SuiteQL dates not formatted
	// with TO_CHAR, as a Go layout; DefaultDateFormat (M/D/YYYY) when
	// empty.
	DateFormat string
	// Location is the user's time zone for SuiteQL dates; UTC when nil.
	Location *time.Location

	// MaxLog bounds the request log; DefaultMaxLog when zero.
	MaxLog int
	// RandSeed seeds fault injection, for repeatable runs.
	RandSeed uint64
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Server is the sandbox. It is safe for concurrent use.
type Server struct {
	opts Options

	// gate guards the governance state.
	gate       sync.Mutex
	inFlight   int
	peak       int
	rateTimes  []time.Time
	faults     Faults
	rng        *rand.Rand
	log        []Request
	stats      Stats
	logDropped int

	// mu guards the data and the credentials.
	mu   sync.Mutex
	db   *db
	auth *authState
}

// New returns a sandbox configured by opts.
func New(opts Options) *Server {
	if opts.AccountID == "" {
		opts.AccountID = DefaultAccountID
	}
	if opts.ConcurrencyLimit == 0 {
		opts.ConcurrencyLimit = DefaultConcurrencyLimit
	}
	if opts.RateWindow <= 0 {
		opts.RateWindow = time.Minute
	}
	if opts.AccessTokenLifetime <= 0 {
		opts.AccessTokenLifetime = DefaultAccessTokenLifetime
	}
	if opts.RefreshTokenLifetime <= 0 {
		opts.RefreshTokenLifetime = DefaultRefreshTokenLifetime
	}
	if opts.CodeLifetime <= 0 {
		opts.CodeLifetime = DefaultCodeLifetime
	}
	if opts.MaxAssertionLifetime <= 0 {
		opts.MaxAssertionLifetime = DefaultMaxAssertionLifetime
	}
	if opts.TBATimestampSkew <= 0 {
		opts.TBATimestampSkew = DefaultTBATimestampSkew
	}
	if opts.MinStateLength == 0 {
		opts.MinStateLength = DefaultMinStateLength
	}
	if opts.TooManyRequestsTitle == "" {
		opts.TooManyRequestsTitle = "Too Many Requests"
	}
	if opts.UpsertStatus == 0 {
		opts.UpsertStatus = http.StatusNoContent
	}
	switch strings.ToLower(opts.PropertyNameValidation) {
	case "warning":
		opts.PropertyNameValidation = "Warning"
	case "ignore":
		opts.PropertyNameValidation = "Ignore"
	default:
		opts.PropertyNameValidation = "Error"
	}
	if opts.DateFormat == "" {
		opts.DateFormat = DefaultDateFormat
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.MaxLog <= 0 {
		opts.MaxLog = DefaultMaxLog
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, rng: rand.New(rand.NewPCG(opts.RandSeed, 0x6e65747375697465))}
	s.db = newDB()
	s.auth = newAuthState()
	if opts.Demo {
		s.SeedDemo()
	}
	return s
}

// AccountID is the account the sandbox stands for.
func (s *Server) AccountID() string { return s.opts.AccountID }

// now returns the server's clock.
func (s *Server) now() time.Time { return s.opts.Now() }

// Reset brings the sandbox back to its state after New: no records (or
// the demo data with Options.Demo), no faults, an empty request log and
// zero stats. Registered clients, certificates, TBA tokens and issued
// access tokens are kept: they are setup, not data.
func (s *Server) Reset() {
	s.mu.Lock()
	s.db = newDB()
	s.mu.Unlock()
	s.gate.Lock()
	s.faults = Faults{}
	s.log = nil
	s.logDropped = 0
	s.stats = Stats{InFlight: s.inFlight}
	s.peak = s.inFlight
	s.rateTimes = nil
	s.gate.Unlock()
	if s.opts.Demo {
		s.SeedDemo()
	}
}

// ServeHTTP routes a request: the control API, the OAuth endpoints, and
// the governed REST API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, ControlPath):
		s.serveControl(w, r)
	case path == TokenPath:
		s.logged(w, r, "token", s.serveToken)
	case path == AuthorizePath:
		s.logged(w, r, "authorize", s.serveAuthorize)
	case strings.HasPrefix(path, "/services/rest/"):
		s.governed(w, r)
	default:
		s.logged(w, r, "", func(w http.ResponseWriter, r *http.Request) {
			writeError(w, s.opts, http.StatusNotFound, "", detail{Detail: fmt.Sprintf("Invalid URL path %s.", path), Code: "INVALID_URL"})
		})
	}
}

// baseURL is the scheme and host clients use for this request.
func (s *Server) baseURL(r *http.Request) string {
	if s.opts.PublicURL != "" {
		return strings.TrimSuffix(s.opts.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	return scheme + "://" + r.Host
}

// writeJSON writes v as the body with a content type.
func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// contentType returns the content type of an answer: NetSuite's own, or
// application/json with Options.PlainJSON.
func contentType(opts Options, ct string) string {
	if opts.PlainJSON {
		return "application/json"
	}
	return ct
}

// Content types of the REST API (unverified beyond client code).
const (
	ctSingular   = "application/vnd.oracle.resource+json; type=singular-resource"
	ctCollection = "application/vnd.oracle.resource+json; type=collection"
	ctError      = "application/vnd.oracle.resource+json; type=error"
)
