// Package oauthtest is an OAuth 2.0 authorization server for tests and
// vendor sandboxes. It implements what Weir's connectors meet in the wild:
//
//   - /authorize: the authorization code flow with PKCE (S256), for
//     registered clients and redirect URIs, approved at once (AutoApprove)
//     or through a one-button consent page;
//   - /token: the grants authorization_code (with PKCE verification),
//     refresh_token (with optional rotation, where reusing a rotated refresh
//     token revokes the whole chain, as Salesforce does), client_credentials
//     with a client secret (HTTP Basic or form) or with a JWT client
//     assertion (RFC 7523, PS256/ES256..., as NetSuite M2M does), and the
//     JWT bearer grant (RS256, as Salesforce's server-to-server flow does).
//
// Errors are the standard JSON bodies, {"error":"invalid_grant",
// "error_description":"..."}. The server counts token calls per grant type
// so tests can check how often a client asked, and it can be told to fail
// the next calls (FailNext) or to answer slowly (Options.TokenDelay).
//
// NewServer starts it on a loopback listener; NewHandler returns it as an
// http.Handler to mount inside a vendor sandbox.
package oauthtest

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Grant types, as sent in grant_type. The counters of Calls use them.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	GrantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

// AssertionTypeJWTBearer is the client_assertion_type of a JWT client
// assertion (RFC 7523 §2.2).
const AssertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// ExpiresIn says how a token response carries the access token lifetime.
type ExpiresIn int

// ExpiresIn styles.
const (
	// ExpiresInNumber sends "expires_in":3600 (RFC 6749).
	ExpiresInNumber ExpiresIn = iota
	// ExpiresInString sends "expires_in":"3600" (NetSuite, SAP).
	ExpiresInString
	// ExpiresInNone sends no expires_in at all (Salesforce).
	ExpiresInNone
)

// Defaults used for zero Options fields.
const (
	DefaultAccessTokenLifetime  = time.Hour
	DefaultCodeLifetime         = 15 * time.Minute
	DefaultMaxAssertionLifetime = 60 * time.Minute
	DefaultMaxBearerLifetime    = 3 * time.Minute
	// clockSkew is tolerated on assertion times.
	clockSkew = 5 * time.Second
)

// Options configure a Server. The zero value is a server with one-hour
// access tokens sent with a numeric expires_in, no rotation, and a consent
// page.
type Options struct {
	// AccessTokenLifetime is how long access tokens are valid;
	// DefaultAccessTokenLifetime when zero.
	AccessTokenLifetime time.Duration
	// ExpiresIn is how expires_in is sent (or not).
	ExpiresIn ExpiresIn
	// RotateRefreshTokens issues a new refresh token on every refresh and
	// invalidates the old one; reusing an invalidated one revokes the whole
	// chain (its refresh and access tokens).
	RotateRefreshTokens bool
	// RefreshTokenLifetime bounds a refresh token's life (NetSuite: 7 days);
	// zero means refresh tokens do not expire.
	RefreshTokenLifetime time.Duration
	// AutoApprove answers /authorize with the redirect at once, as if the
	// user had logged in and approved.
	AutoApprove bool
	// AuthorizePath and TokenPath are the endpoints' paths; "/authorize"
	// and "/token" when empty.
	AuthorizePath, TokenPath string
	// Extra fields added to every token response, e.g. instance_url.
	Extra map[string]string
	// JWTBearerAudience is the aud a JWT bearer assertion must carry; the
	// token endpoint's origin (scheme://host) when empty.
	JWTBearerAudience string
	// MaxAssertionLifetime bounds exp - iat of a client assertion;
	// DefaultMaxAssertionLifetime when zero.
	MaxAssertionLifetime time.Duration
	// MaxBearerLifetime bounds exp - now of a JWT bearer assertion;
	// DefaultMaxBearerLifetime when zero.
	MaxBearerLifetime time.Duration
	// TokenDelay delays every token response, to widen race windows.
	TokenDelay time.Duration
	// Now is the server's clock; time.Now when nil.
	Now func() time.Time
}

// Client is a registered client.
type Client struct {
	// ID is the client_id (Salesforce consumer key, NetSuite client ID).
	ID string
	// Secret is the client secret; empty for a public client or one that
	// authenticates with a JWT assertion.
	Secret string
	// RedirectURIs are the allowed redirect URIs, matched exactly, except
	// that a loopback http URI (127.0.0.1, [::1], localhost) matches any
	// port (RFC 8252 §7.3). Empty allows any loopback http URI.
	RedirectURIs []string
	// RequirePKCE refuses authorization requests without a code_challenge.
	RequirePKCE bool
	// PublicKey verifies the client's JWT assertions (client assertion and
	// JWT bearer grant).
	PublicKey crypto.PublicKey
	// CertificateID is the kid a client assertion must carry (NetSuite's
	// certificate ID); when empty any kid is accepted.
	CertificateID string
	// Users are the subjects a JWT bearer assertion may name; empty allows
	// any non-empty subject.
	Users []string
	// AuthMethods restricts how the client may send its secret:
	// AuthBasic, AuthPost or both; empty allows both (NetSuite: Basic only).
	AuthMethods []string
}

// Client authentication methods, for Client.AuthMethods and ClientAuth.
const (
	AuthBasic     = "client_secret_basic"
	AuthPost      = "client_secret_post"
	AuthAssertion = "private_key_jwt"
	AuthNone      = "none"
)

// Server is the authorization server. It is safe for concurrent use.
type Server struct {
	// URL is the base URL of a server started by NewServer; empty for
	// NewHandler.
	URL string

	opts Options
	ts   *httptest.Server

	mu       sync.Mutex
	clients  map[string]*Client
	codes    map[string]*authCode
	refresh  map[string]*refreshToken
	access   map[string]*AccessToken
	chains   map[string]bool // chain ID -> revoked
	jtis     map[string]time.Time
	pending  map[string]url.Values // consent requests by ID
	calls    map[string]int
	auths    map[string]int
	secrets  map[string]bool
	failN    int
	failCode int
}

// AccessToken describes an issued access token.
type AccessToken struct {
	// ClientID is the client it was issued to.
	ClientID string
	// Subject is the user (JWT bearer) or "" for a client token.
	Subject string
	// Grant is the grant type that issued it.
	Grant string
	// Expires is when it stops being valid.
	Expires time.Time
	// Scope is the granted scope.
	Scope string
	chain string
}

type authCode struct {
	client, redirectURI, challenge, scope string
	expires                               time.Time
	used                                  bool
}

type refreshToken struct {
	client, chain, scope string
	expires              time.Time // zero: never
	used                 bool      // rotated away
}

// NewHandler returns a server without a listener, to mount in a sandbox's
// mux (use its paths, or set Options.AuthorizePath and TokenPath).
func NewHandler(opts Options) *Server {
	if opts.AccessTokenLifetime <= 0 {
		opts.AccessTokenLifetime = DefaultAccessTokenLifetime
	}
	if opts.MaxAssertionLifetime <= 0 {
		opts.MaxAssertionLifetime = DefaultMaxAssertionLifetime
	}
	if opts.MaxBearerLifetime <= 0 {
		opts.MaxBearerLifetime = DefaultMaxBearerLifetime
	}
	if opts.AuthorizePath == "" {
		opts.AuthorizePath = "/authorize"
	}
	if opts.TokenPath == "" {
		opts.TokenPath = "/token"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{
		opts: opts, clients: map[string]*Client{}, codes: map[string]*authCode{},
		refresh: map[string]*refreshToken{}, access: map[string]*AccessToken{}, chains: map[string]bool{},
		jtis: map[string]time.Time{}, pending: map[string]url.Values{}, calls: map[string]int{},
		auths: map[string]int{}, secrets: map[string]bool{},
	}
}

// NewServer starts a server on a loopback port. Close it when done.
func NewServer(opts Options) *Server {
	s := NewHandler(opts)
	s.ts = httptest.NewServer(s)
	s.URL = s.ts.URL
	return s
}

// Close stops a server started by NewServer.
func (s *Server) Close() {
	if s.ts != nil {
		s.ts.Close()
	}
}

// AuthorizeURL is the authorization endpoint of a started server.
func (s *Server) AuthorizeURL() string { return s.URL + s.opts.AuthorizePath }

// TokenURL is the token endpoint of a started server.
func (s *Server) TokenURL() string { return s.URL + s.opts.TokenPath }

// AddClient registers (or replaces) a client.
func (s *Server) AddClient(c Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cc := c
	s.clients[c.ID] = &cc
}

// Calls returns how many token requests with this grant_type were
// received, successful or not.
func (s *Server) Calls(grant string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[grant]
}

// ClientAuth returns how many token requests authenticated the client
// with a method (AuthBasic, AuthPost, AuthAssertion, AuthNone), whether
// or not the authentication succeeded.
func (s *Server) ClientAuth(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auths[method]
}

// ResetCalls sets every counter back to zero.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.calls)
	clear(s.auths)
}

// Secrets returns every secret value the server has seen or issued:
// client secrets, authorization codes, code verifiers, assertions, access
// and refresh tokens. Tests grep logs and output for them.
func (s *Server) Secrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.secrets))
	for v := range s.secrets {
		out = append(out, v)
	}
	for _, c := range s.clients {
		if c.Secret != "" {
			out = append(out, c.Secret)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// noteSecret records a secret value (for Secrets).
func (s *Server) noteSecret(vals ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noteSecretLocked(vals...)
}

func (s *Server) noteSecretLocked(vals ...string) {
	for _, v := range vals {
		if v != "" {
			s.secrets[v] = true
		}
	}
}

// FailNext makes the next n token requests fail with the HTTP status
// (500 when 0) and a server_error body, before any grant is processed.
func (s *Server) FailNext(n, status int) {
	if status == 0 {
		status = http.StatusInternalServerError
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failCode = n, status
}

// RevokeAll revokes every refresh and access token issued so far, as an
// administrator revoking the app's sessions would.
func (s *Server) RevokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rt := range s.refresh {
		s.chains[rt.chain] = true
	}
	for _, at := range s.access {
		if at.chain != "" {
			s.chains[at.chain] = true
		}
	}
	clear(s.access)
}

// Validate reports whether an access token is currently valid, and what
// it was issued for. Sandboxes use it to check Authorization headers.
func (s *Server) Validate(token string) (AccessToken, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.access[token]
	if !ok || !s.opts.Now().Before(at.Expires) || (at.chain != "" && s.chains[at.chain]) {
		return AccessToken{}, false
	}
	return *at, true
}

// ServeHTTP serves the authorization and token endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case s.opts.AuthorizePath:
		s.authorize(w, r)
	case s.opts.TokenPath:
		s.token(w, r)
	default:
		http.NotFound(w, r)
	}
}

// oauthError is a token endpoint error (RFC 6749 §5.2).
type oauthError struct {
	status      int
	code        string
	description string
}

func (e *oauthError) Error() string { return e.code + ": " + e.description }

func errInvalidRequest(format string, args ...any) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_request", fmt.Sprintf(format, args...)}
}

func errInvalidGrant(format string, args ...any) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_grant", fmt.Sprintf(format, args...)}
}

func errInvalidClient(format string, args ...any) *oauthError {
	return &oauthError{http.StatusUnauthorized, "invalid_client", fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *oauthError) {
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="oauthtest"`)
	}
	writeJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.description})
}

// authorize serves the authorization endpoint: GET validates the request
// and redirects (AutoApprove) or shows a consent page; POST is the consent.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		q, ok := s.pending[r.PostForm.Get("request")]
		delete(s.pending, r.PostForm.Get("request"))
		s.mu.Unlock()
		if !ok {
			http.Error(w, "unknown or used authorization request", http.StatusBadRequest)
			return
		}
		if r.PostForm.Get("approve") != "yes" {
			redirectError(w, r, q.Get("redirect_uri"), q.Get("state"), "access_denied", "end-user denied authorization")
			return
		}
		s.issueCode(w, r, q)
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	c := s.clients[q.Get("client_id")]
	s.mu.Unlock()
	redirect := q.Get("redirect_uri")
	// Errors about the client or redirect URI are shown, never redirected
	// (RFC 6749 §4.1.2.1).
	switch {
	case c == nil:
		http.Error(w, "error=invalid_client_id: client identifier invalid", http.StatusBadRequest)
		return
	case !redirectAllowed(c, redirect):
		http.Error(w, "error=redirect_uri_mismatch: redirect_uri must match configuration", http.StatusBadRequest)
		return
	}
	state := q.Get("state")
	switch {
	case q.Get("response_type") != "code":
		redirectError(w, r, redirect, state, "unsupported_response_type", "response type not supported")
		return
	case q.Get("code_challenge") == "" && c.RequirePKCE:
		redirectError(w, r, redirect, state, "invalid_request", "code_challenge required")
		return
	case q.Get("code_challenge") != "" && q.Get("code_challenge_method") != "" && q.Get("code_challenge_method") != "S256":
		redirectError(w, r, redirect, state, "invalid_request", "code_challenge_method must be S256")
		return
	}
	if s.opts.AutoApprove {
		s.issueCode(w, r, q)
		return
	}
	id := randomString(16)
	s.mu.Lock()
	s.pending[id] = q
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><title>Authorize</title><form method="post" action="%s">
<p>Allow %s to access your data?</p><input type="hidden" name="request" value="%s">
<button name="approve" value="yes">Allow</button> <button name="approve" value="no">Deny</button></form>`,
		html.EscapeString(s.opts.AuthorizePath), html.EscapeString(c.ID), id)
}

func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, q url.Values) {
	code := "code-" + randomString(24)
	s.mu.Lock()
	s.noteSecretLocked(code)
	s.codes[code] = &authCode{client: q.Get("client_id"), redirectURI: q.Get("redirect_uri"),
		challenge: q.Get("code_challenge"), scope: q.Get("scope"), expires: s.opts.Now().Add(DefaultCodeLifetime)}
	s.mu.Unlock()
	u, _ := url.Parse(q.Get("redirect_uri"))
	v := u.Query()
	v.Set("code", code)
	if st := q.Get("state"); st != "" {
		v.Set("state", st)
	}
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func redirectError(w http.ResponseWriter, r *http.Request, redirect, state, code, desc string) {
	u, err := url.Parse(redirect)
	if err != nil {
		http.Error(w, code+": "+desc, http.StatusBadRequest)
		return
	}
	v := u.Query()
	v.Set("error", code)
	v.Set("error_description", desc)
	if state != "" {
		v.Set("state", state)
	}
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// redirectAllowed matches a redirect URI against the client's.
func redirectAllowed(c *Client, redirect string) bool {
	u, err := url.Parse(redirect)
	if err != nil || redirect == "" {
		return false
	}
	loopback := u.Scheme == "http" && isLoopback(u.Hostname())
	if len(c.RedirectURIs) == 0 {
		return loopback
	}
	for _, allowed := range c.RedirectURIs {
		if allowed == redirect {
			return true
		}
		a, err := url.Parse(allowed)
		if err == nil && loopback && a.Scheme == "http" && a.Hostname() == u.Hostname() && a.Path == u.Path {
			return true
		}
	}
	return false
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// token serves the token endpoint.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, &oauthError{http.StatusMethodNotAllowed, "invalid_request", "token requests must be POST"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, errInvalidRequest("malformed form body"))
		return
	}
	grant := r.PostForm.Get("grant_type")
	s.mu.Lock()
	s.calls[grant]++
	f := r.PostForm
	s.noteSecretLocked(f.Get("code"), f.Get("code_verifier"), f.Get("refresh_token"), f.Get("client_secret"),
		f.Get("assertion"), f.Get("client_assertion"))
	if _, secret, ok := r.BasicAuth(); ok {
		s.noteSecretLocked(secret)
	}
	fail := 0
	if s.failN > 0 {
		s.failN--
		fail = s.failCode
	}
	s.mu.Unlock()
	if d := s.opts.TokenDelay; d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if fail != 0 {
		writeJSON(w, fail, map[string]string{"error": "server_error", "error_description": "injected failure"})
		return
	}
	var resp map[string]any
	var err *oauthError
	switch grant {
	case GrantAuthorizationCode:
		resp, err = s.grantCode(r)
	case GrantRefreshToken:
		resp, err = s.grantRefresh(r)
	case GrantClientCredentials:
		resp, err = s.grantClientCredentials(r)
	case GrantJWTBearer:
		resp, err = s.grantJWTBearer(r)
	case "":
		err = errInvalidRequest("grant_type is required")
	default:
		err = &oauthError{http.StatusBadRequest, "unsupported_grant_type", "grant type not supported"}
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// authenticate identifies the calling client from HTTP Basic, the form
// (client_id, client_secret) or a JWT client assertion. A public client
// (no secret, no key) needs only its client_id.
func (s *Server) authenticate(r *http.Request) (*Client, *oauthError) {
	form := r.PostForm
	if form.Get("client_assertion_type") != "" || form.Get("client_assertion") != "" {
		s.countAuth(AuthAssertion)
		return s.verifyClientAssertion(r)
	}
	id, secret, basic := r.BasicAuth()
	method := AuthPost
	switch {
	case basic:
		method = AuthBasic
	case form.Get("client_secret") == "":
		method = AuthNone
	}
	s.countAuth(method)
	if basic {
		if form.Get("client_secret") != "" {
			return nil, errInvalidRequest("client credentials sent both in the Authorization header and in the body")
		}
		// RFC 6749 §2.3.1: form-urlencoded before Basic encoding.
		if v, err := url.QueryUnescape(id); err == nil {
			id = v
		}
		if v, err := url.QueryUnescape(secret); err == nil {
			secret = v
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	if id == "" {
		return nil, errInvalidClient("client authentication required")
	}
	s.mu.Lock()
	c := s.clients[id]
	s.mu.Unlock()
	switch {
	case c == nil:
		return nil, errInvalidClient("client identifier invalid")
	case c.Secret == "" && c.PublicKey == nil:
		return c, nil // public client
	case c.Secret == "":
		return nil, errInvalidClient("this client authenticates with a JWT client assertion")
	case len(c.AuthMethods) > 0 && !slices.Contains(c.AuthMethods, method):
		return nil, errInvalidClient("client authentication method %s not allowed for this client", method)
	case subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1:
		return nil, errInvalidClient("invalid client credentials")
	}
	return c, nil
}

func (s *Server) grantCode(r *http.Request) (map[string]any, *oauthError) {
	c, oerr := s.authenticate(r)
	if oerr != nil {
		return nil, oerr
	}
	form := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	code := s.codes[form.Get("code")]
	switch {
	case code == nil || code.client != c.ID:
		return nil, errInvalidGrant("invalid authorization code")
	case code.used:
		return nil, errInvalidGrant("authorization code already used")
	case !s.opts.Now().Before(code.expires):
		return nil, errInvalidGrant("expired authorization code")
	case form.Get("redirect_uri") != code.redirectURI:
		return nil, errInvalidGrant("redirect_uri mismatch")
	}
	if code.challenge != "" {
		v := form.Get("code_verifier")
		if v == "" {
			return nil, errInvalidGrant("code_verifier is required")
		}
		sum := sha256.Sum256([]byte(v))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != code.challenge {
			return nil, errInvalidRequest("invalid code verifier")
		}
	}
	code.used = true
	chain := randomString(8)
	s.chains[chain] = false
	rt := s.newRefreshLocked(c.ID, chain, code.scope)
	return s.issueLocked(c.ID, "", GrantAuthorizationCode, code.scope, chain, rt), nil
}

func (s *Server) grantRefresh(r *http.Request) (map[string]any, *oauthError) {
	c, oerr := s.authenticate(r)
	if oerr != nil {
		return nil, oerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := s.refresh[r.PostForm.Get("refresh_token")]
	switch {
	case rt == nil || rt.client != c.ID:
		return nil, errInvalidGrant("expired access/refresh token")
	case s.chains[rt.chain]:
		return nil, errInvalidGrant("expired access/refresh token")
	case rt.used:
		// Reuse of a rotated refresh token: revoke the whole chain.
		s.chains[rt.chain] = true
		for tok, at := range s.access {
			if at.chain == rt.chain {
				delete(s.access, tok)
			}
		}
		return nil, errInvalidGrant("expired access/refresh token")
	case !rt.expires.IsZero() && !s.opts.Now().Before(rt.expires):
		return nil, errInvalidGrant("expired access/refresh token")
	}
	next := ""
	if s.opts.RotateRefreshTokens {
		rt.used = true
		next = s.newRefreshLocked(c.ID, rt.chain, rt.scope)
	}
	return s.issueLocked(c.ID, "", GrantRefreshToken, rt.scope, rt.chain, next), nil
}

func (s *Server) grantClientCredentials(r *http.Request) (map[string]any, *oauthError) {
	c, oerr := s.authenticate(r)
	if oerr != nil {
		return nil, oerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueLocked(c.ID, "", GrantClientCredentials, r.PostForm.Get("scope"), "", ""), nil
}

// grantJWTBearer verifies a JWT bearer assertion (Salesforce's
// server-to-server flow): RS256, iss = client, sub = user, aud = the login
// URL, exp at most MaxBearerLifetime ahead.
func (s *Server) grantJWTBearer(r *http.Request) (map[string]any, *oauthError) {
	now := s.opts.Now()
	var claims jwt.RegisteredClaims
	var client *Client
	_, err := jwt.ParseWithClaims(r.PostForm.Get("assertion"), &claims, func(t *jwt.Token) (any, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		iss, _ := t.Claims.GetIssuer()
		client = s.clients[iss]
		if client == nil || client.PublicKey == nil {
			return nil, errors.New("unknown issuer")
		}
		return client.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	if err != nil {
		if !s.known(claims.Issuer) {
			return nil, errInvalidGrant("invalid_client_id: client identifier invalid")
		}
		return nil, errInvalidGrant("invalid assertion: %v", err)
	}
	aud := s.opts.JWTBearerAudience
	if aud == "" {
		aud = origin(r)
	}
	switch {
	case !slices.Contains(claims.Audience, aud):
		return nil, errInvalidGrant("audience is invalid")
	case claims.ExpiresAt == nil || !now.Before(claims.ExpiresAt.Time) ||
		claims.ExpiresAt.Sub(now) > s.opts.MaxBearerLifetime+clockSkew:
		return nil, errInvalidGrant("expired authorization code")
	case claims.Subject == "" || (len(client.Users) > 0 && !slices.Contains(client.Users, claims.Subject)):
		return nil, errInvalidGrant("user hasn't approved this consumer")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueLocked(client.ID, claims.Subject, GrantJWTBearer, r.PostForm.Get("scope"), "", ""), nil
}

// assertionClaims are a client assertion's claims; NetSuite adds scope.
type assertionClaims struct {
	jwt.RegisteredClaims
	Scope any `json:"scope,omitempty"`
}

// verifyClientAssertion checks a JWT client assertion (RFC 7523 §3,
// NetSuite M2M): a PS or ES algorithm, kid = the certificate ID, iss = the
// client, aud = the token endpoint, iat and exp present with exp - iat at
// most MaxAssertionLifetime, and a jti not seen before.
func (s *Server) verifyClientAssertion(r *http.Request) (*Client, *oauthError) {
	form := r.PostForm
	if form.Get("client_assertion_type") != AssertionTypeJWTBearer {
		return nil, errInvalidRequest("client_assertion_type must be %s", AssertionTypeJWTBearer)
	}
	now := s.opts.Now()
	var claims assertionClaims
	var client *Client
	_, err := jwt.ParseWithClaims(form.Get("client_assertion"), &claims, func(t *jwt.Token) (any, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		iss, _ := t.Claims.GetIssuer()
		client = s.clients[iss]
		if client == nil || client.PublicKey == nil {
			client = nil
			return nil, errors.New("unknown issuer")
		}
		kid, _ := t.Header["kid"].(string)
		if client.CertificateID != "" && kid != client.CertificateID {
			return nil, fmt.Errorf("kid %q is not the client's certificate ID", kid)
		}
		return client.PublicKey, nil
	}, jwt.WithValidMethods([]string{"PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}), jwt.WithoutClaimsValidation())
	if err != nil {
		if !s.known(claims.Issuer) {
			return nil, errInvalidClient("client identifier invalid")
		}
		return nil, errInvalidClient("invalid client assertion: %v", err)
	}
	if id := form.Get("client_id"); id != "" && id != client.ID {
		return nil, errInvalidClient("client_id does not match the assertion's issuer")
	}
	switch {
	case !slices.Contains(claims.Audience, tokenEndpoint(r)):
		return nil, errInvalidClient("invalid client assertion: aud must be the token endpoint URL")
	case claims.IssuedAt == nil:
		return nil, errInvalidClient("invalid client assertion: iat is required")
	case claims.ExpiresAt == nil:
		return nil, errInvalidClient("invalid client assertion: exp is required")
	case !now.Before(claims.ExpiresAt.Time):
		return nil, errInvalidClient("invalid client assertion: expired")
	case claims.ExpiresAt.Sub(claims.IssuedAt.Time) > s.opts.MaxAssertionLifetime:
		return nil, errInvalidClient("invalid client assertion: exp is more than %s after iat", s.opts.MaxAssertionLifetime)
	case claims.IssuedAt.After(now.Add(clockSkew)):
		return nil, errInvalidClient("invalid client assertion: iat is in the future")
	case claims.ID == "":
		return nil, errInvalidClient("invalid client assertion: jti is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for j, exp := range s.jtis {
		if now.After(exp) {
			delete(s.jtis, j)
		}
	}
	if _, seen := s.jtis[claims.ID]; seen {
		return nil, errInvalidClient("invalid client assertion: jti already used")
	}
	s.jtis[claims.ID] = claims.ExpiresAt.Time
	return client, nil
}

// known reports whether a client is registered.
func (s *Server) known(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clients[id] != nil
}

func (s *Server) countAuth(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auths[method]++
}

func (s *Server) newRefreshLocked(client, chain, scope string) string {
	tok := "rt-" + randomString(32)
	s.noteSecretLocked(tok)
	rt := &refreshToken{client: client, chain: chain, scope: scope}
	if s.opts.RefreshTokenLifetime > 0 {
		rt.expires = s.opts.Now().Add(s.opts.RefreshTokenLifetime)
	}
	s.refresh[tok] = rt
	return tok
}

// issueLocked creates an access token and its response.
func (s *Server) issueLocked(client, subject, grant, scope, chain, refresh string) map[string]any {
	now := s.opts.Now()
	tok := "at-" + randomString(32)
	s.noteSecretLocked(tok)
	s.access[tok] = &AccessToken{ClientID: client, Subject: subject, Grant: grant,
		Expires: now.Add(s.opts.AccessTokenLifetime), Scope: scope, chain: chain}
	resp := map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"issued_at":    strconv.FormatInt(now.UnixMilli(), 10),
	}
	if scope != "" {
		resp["scope"] = scope
	}
	if refresh != "" {
		resp["refresh_token"] = refresh
	}
	secs := int64(s.opts.AccessTokenLifetime / time.Second)
	switch s.opts.ExpiresIn {
	case ExpiresInNumber:
		resp["expires_in"] = secs
	case ExpiresInString:
		resp["expires_in"] = strconv.FormatInt(secs, 10)
	}
	for k, v := range s.opts.Extra {
		resp[k] = v
	}
	return resp
}

// origin is the request's scheme://host.
func origin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// tokenEndpoint is the URL the request was sent to, without query.
func tokenEndpoint(r *http.Request) string { return origin(r) + r.URL.Path }

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DescribeCalls formats the counters, for test failure messages.
func (s *Server) DescribeCalls() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.calls))
	for k := range s.calls {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, s.calls[k])
	}
	return strings.Join(parts, " ")
}
