package sandbox

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Scopes an integration can be granted.
const (
	ScopeRESTWebServices = "rest_webservices"
	ScopeRESTlets        = "restlets"
	ScopeSuiteAnalytics  = "suite_analytics"
)

// ClientAssertionType is the client_assertion_type of a JWT client
// assertion (RFC 7523).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Client is an integration record: an OAuth 2.0 client.
type Client struct {
	// ID is the integration's client ID.
	ID string
	// Secret is its client secret; empty for a public client.
	Secret string
	// Public clients authenticate with PKCE alone (client_id in the body)
	// and get a new refresh token with every refresh, the old one then
	// refused.
	Public bool
	// RedirectURIs are the allowed redirect URIs, matched exactly; empty
	// allows any https:// or custom-scheme URI.
	RedirectURIs []string
}

// Certificate is an OAuth 2.0 client credentials (M2M) mapping: the
// public key that verifies a client's assertions, under the certificate ID
// its assertions name as kid.
type Certificate struct {
	// ID is the certificate ID (the assertion's kid).
	ID string
	// ClientID is the integration the certificate is mapped to (the
	// assertion's iss).
	ClientID string
	// PublicKey is an *rsa.PublicKey (PS256/384/512) or an
	// *ecdsa.PublicKey (ES256/384/512).
	PublicKey crypto.PublicKey
}

// TBAToken is a token-based authentication setup: the integration's
// consumer key and secret and an access token's id and secret.
type TBAToken struct {
	ConsumerKey, ConsumerSecret string
	TokenID, TokenSecret        string
}

// accessToken is an issued OAuth 2.0 access token.
type accessToken struct {
	client  string
	scope   []string
	expires time.Time
}

// refreshToken is an issued refresh token.
type refreshToken struct {
	client  string
	scope   []string
	expires time.Time
	oit     time.Time
	used    bool // rotated away (public clients)
}

// authCode is an issued authorization code.
type authCode struct {
	client, redirect, challenge, method string
	scope                               []string
	expires                             time.Time
	used                                bool
}

// authState is the sandbox's credentials and tokens.
type authState struct {
	clients map[string]*Client
	certs   map[string]*Certificate
	tba     map[string]*TBAToken // by token id
	access  map[string]*accessToken
	refresh map[string]*refreshToken
	codes   map[string]*authCode
	nonces  map[string]time.Time
	demo    *Credentials
}

func newAuthState() *authState {
	return &authState{clients: map[string]*Client{}, certs: map[string]*Certificate{}, tba: map[string]*TBAToken{},
		access: map[string]*accessToken{}, refresh: map[string]*refreshToken{}, codes: map[string]*authCode{},
		nonces: map[string]time.Time{}}
}

// AddClient registers (or replaces) an integration.
func (s *Server) AddClient(c Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cc := c
	cc.RedirectURIs = slices.Clone(c.RedirectURIs)
	s.auth.clients[c.ID] = &cc
}

// AddCertificate registers a client credentials certificate. The client
// is registered too when it is not yet.
func (s *Server) AddCertificate(c Certificate) error {
	switch c.PublicKey.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
	default:
		return fmt.Errorf("certificate %s: the public key must be RSA or ECDSA, not %T", c.ID, c.PublicKey)
	}
	if c.ID == "" || c.ClientID == "" {
		return errors.New("a certificate needs an ID and a client ID")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cc := c
	s.auth.certs[c.ID] = &cc
	if s.auth.clients[c.ClientID] == nil {
		s.auth.clients[c.ClientID] = &Client{ID: c.ClientID}
	}
	return nil
}

// AddTBAToken registers a token-based authentication token.
func (s *Server) AddTBAToken(t TBAToken) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tt := t
	s.auth.tba[t.TokenID] = &tt
}

// IssueToken issues an access token for clientID (registered or not) with
// the rest_webservices scope, as the token endpoint would, and returns it
// with its expiry.
func (s *Server) IssueToken(clientID string) (string, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueLocked(clientID, []string{ScopeRESTWebServices}, time.Time{})
}

// ExpireTokens makes every access token issued so far expired, as if an
// hour had passed: the next API call with one gets 401.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, t := range s.auth.access {
		if t.expires.After(now) {
			t.expires = now
		}
	}
}

// realm is the account id as TBA realms spell it: upper case, "_".
func (s *Server) realm() string {
	return strings.ToUpper(strings.ReplaceAll(s.opts.AccountID, "-", "_"))
}

// signing is the key the sandbox signs its tokens with (PS256, as
// NetSuite does), made once per process.
var signing struct {
	once sync.Once
	key  *rsa.PrivateKey
}

func signingKey() *rsa.PrivateKey {
	signing.once.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		signing.key = k
	})
	return signing.key
}

// tokenClaims are the claims of the tokens the sandbox issues, after
// NetSuite's token structure.
type tokenClaims struct {
	jwt.RegisteredClaims
	Scope []string `json:"scope"`
	OIT   int64    `json:"oit"`
}

// signToken returns a signed JWT for a token.
func (s *Server) signToken(clientID string, scope []string, iat, exp, oit time.Time) string {
	claims := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "https://system.netsuite.com", Subject: "3;-5",
			Audience: jwt.ClaimStrings{"e2d8a0c4-weir-sandbox;" + s.realm(), clientID},
			IssuedAt: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(exp), ID: newID(),
		},
		Scope: scope, OIT: oit.Unix(),
	}
	t := jwt.NewWithClaims(jwt.SigningMethodPS256, claims)
	t.Header["kid"] = "weir-sandbox-signing"
	out, err := t.SignedString(signingKey())
	if err != nil {
		panic(err)
	}
	return out
}

// issueLocked issues an access token; oit is the token chain's original
// issue time (now when zero).
func (s *Server) issueLocked(clientID string, scope []string, oit time.Time) (string, time.Time) {
	now := s.now()
	if oit.IsZero() {
		oit = now
	}
	exp := now.Add(s.opts.AccessTokenLifetime)
	tok := s.signToken(clientID, scope, now, exp, oit)
	for k, t := range s.auth.access {
		if now.Sub(t.expires) > time.Hour {
			delete(s.auth.access, k)
		}
	}
	s.auth.access[tok] = &accessToken{client: clientID, scope: scope, expires: exp}
	return tok, exp
}

// authenticate checks an API request's credentials: a bearer token or a
// TBA signature. It returns how the request authenticated and, when it
// did not, why.
func (s *Server) authenticate(r *http.Request) (how, failure string) {
	h := r.Header.Get("Authorization")
	scheme, rest, _ := strings.Cut(h, " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		s.mu.Lock()
		defer s.mu.Unlock()
		t, ok := s.auth.access[strings.TrimSpace(rest)]
		switch {
		case !ok:
			return "bearer", "unknown access token"
		case !s.now().Before(t.expires):
			return "bearer", "access token expired"
		case !slices.Contains(t.scope, ScopeRESTWebServices):
			return "bearer", "the token lacks the rest_webservices scope"
		}
		return "bearer", ""
	case strings.EqualFold(scheme, "OAuth"):
		return "tba", s.checkTBA(r, rest)
	case h == "":
		return "", "no credentials"
	}
	return "", "unsupported authorization scheme"
}

// checkTBA verifies an OAuth 1.0a Authorization header (HMAC-SHA256).
func (s *Server) checkTBA(r *http.Request, header string) string {
	p, err := parseOAuthHeader(header)
	if err != nil {
		return "parameter_rejected"
	}
	if p["realm"] != s.realm() {
		return "realm_rejected"
	}
	switch {
	case p["oauth_signature_method"] != "HMAC-SHA256":
		return "signature_method_rejected"
	case p["oauth_version"] != "" && p["oauth_version"] != "1.0":
		return "version_rejected"
	case len(p["oauth_nonce"]) < 6 || len(p["oauth_nonce"]) > 64:
		return "nonce_rejected"
	}
	ts, err := strconv.ParseInt(p["oauth_timestamp"], 10, 64)
	now := s.now()
	if err != nil || now.Sub(time.Unix(ts, 0)).Abs() > s.opts.TBATimestampSkew {
		return "timestamp_refused"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := s.auth.tba[p["oauth_token"]]
	switch {
	case tok == nil && !s.consumerKnownLocked(p["oauth_consumer_key"]):
		return "consumer_key_unknown"
	case tok == nil:
		return "token_rejected"
	case tok.ConsumerKey != p["oauth_consumer_key"]:
		return "consumer_key_refused"
	}
	want := tbaSignature(r.Method, s.baseURL(r)+r.URL.EscapedPath(), r.URL.Query(), p, tok.ConsumerSecret, tok.TokenSecret)
	if subtle.ConstantTimeCompare([]byte(want), []byte(p["oauth_signature"])) != 1 {
		return "signature_invalid"
	}
	nonceKey := tok.TokenID + "\x00" + p["oauth_timestamp"] + "\x00" + p["oauth_nonce"]
	if _, used := s.auth.nonces[nonceKey]; used {
		return "nonce_used"
	}
	for k, at := range s.auth.nonces {
		if now.Sub(at) > 2*s.opts.TBATimestampSkew {
			delete(s.auth.nonces, k)
		}
	}
	s.auth.nonces[nonceKey] = now
	return ""
}

func (s *Server) consumerKnownLocked(key string) bool {
	for _, t := range s.auth.tba {
		if t.ConsumerKey == key {
			return true
		}
	}
	return false
}

// parseOAuthHeader parses the parameters of an "OAuth ..." header.
func parseOAuthHeader(h string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range splitParams(h) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("malformed parameter %q", part)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		dv, err := url.PathUnescape(v)
		if err != nil {
			return nil, err
		}
		out[strings.TrimSpace(k)] = dv
	}
	return out, nil
}

// splitParams splits on commas outside quotes.
func splitParams(h string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(h); i++ {
		switch h[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, h[start:i])
				start = i + 1
			}
		}
	}
	return append(out, h[start:])
}

// oauthEscape percent-encodes s as OAuth 1.0a requires (RFC 3986
// unreserved characters kept).
func oauthEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// tbaSignature computes the OAuth 1.0a HMAC-SHA256 signature of a request.
// uri is scheme://host/path without the query; query the query
// parameters; oauth the header's parameters (realm and oauth_signature are
// left out).
func tbaSignature(method, uri string, query url.Values, oauth map[string]string, consumerSecret, tokenSecret string) string {
	type kv struct{ k, v string }
	var params []kv
	for k, vs := range query {
		for _, v := range vs {
			params = append(params, kv{oauthEscape(k), oauthEscape(v)})
		}
	}
	for k, v := range oauth {
		if k == "realm" || k == "oauth_signature" {
			continue
		}
		params = append(params, kv{oauthEscape(k), oauthEscape(v)})
	}
	sort.Slice(params, func(i, j int) bool {
		if params[i].k != params[j].k {
			return params[i].k < params[j].k
		}
		return params[i].v < params[j].v
	})
	parts := make([]string, len(params))
	for i, p := range params {
		parts[i] = p.k + "=" + p.v
	}
	base := strings.ToUpper(method) + "&" + oauthEscape(normalizeURI(uri)) + "&" + oauthEscape(strings.Join(parts, "&"))
	mac := hmac.New(sha256.New, []byte(oauthEscape(consumerSecret)+"&"+oauthEscape(tokenSecret)))
	mac.Write([]byte(base))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// normalizeURI lower-cases the scheme and host and drops default ports.
func normalizeURI(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Host)
	if (u.Scheme == "http" && strings.HasSuffix(host, ":80")) || (u.Scheme == "https" && strings.HasSuffix(host, ":443")) {
		host = host[:strings.LastIndex(host, ":")]
	}
	return u.Scheme + "://" + host + u.EscapedPath()
}

// tokenError writes an OAuth error body.
func tokenError(w http.ResponseWriter, status int, code, why string) {
	annotate(w, code, why)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="NetSuite"`)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, "application/json", map[string]string{"error": code})
}

// serveToken serves the token endpoint.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		tokenError(w, http.StatusMethodNotAllowed, "invalid_request", "the token endpoint takes POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	grant := r.PostForm.Get("grant_type")
	s.gate.Lock()
	if s.stats.TokenRequests == nil {
		s.stats.TokenRequests = map[string]int{}
	}
	s.stats.TokenRequests[grant]++
	fail := s.faults.TokenErrors > 0
	if fail {
		s.faults.TokenErrors--
	}
	s.gate.Unlock()
	if fail {
		tokenError(w, http.StatusServiceUnavailable, "server_error", "injected token endpoint failure")
		return
	}
	switch grant {
	case "client_credentials":
		s.clientCredentials(w, r)
	case "authorization_code":
		s.authorizationCode(w, r)
	case "refresh_token":
		s.refreshGrant(w, r)
	case "":
		tokenError(w, http.StatusBadRequest, "invalid_request", "grant_type is missing")
	default:
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type "+grant)
	}
}

// writeToken writes a token response.
func (s *Server) writeToken(w http.ResponseWriter, access string, refresh string) {
	resp := map[string]any{"access_token": access, "token_type": "Bearer"}
	secs := int64(s.opts.AccessTokenLifetime / time.Second)
	if s.opts.ExpiresInNumber {
		resp["expires_in"] = secs
	} else {
		resp["expires_in"] = strconv.FormatInt(secs, 10)
	}
	if refresh != "" {
		resp["refresh_token"] = refresh
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, "application/json", resp)
}

// assertionClaims are a client assertion's claims.
type assertionClaims struct {
	jwt.RegisteredClaims
	Scope any `json:"scope"`
}

// assertionMethods are the algorithms NetSuite accepts for assertions.
var assertionMethods = []string{"PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

// clientCredentials serves grant_type=client_credentials with a JWT
// client assertion.
func (s *Server) clientCredentials(w http.ResponseWriter, r *http.Request) {
	if r.PostForm.Get("client_assertion_type") != ClientAssertionType {
		tokenError(w, http.StatusBadRequest, "invalid_request", "client_assertion_type must be "+ClientAssertionType)
		return
	}
	assertion := r.PostForm.Get("client_assertion")
	if assertion == "" {
		tokenError(w, http.StatusBadRequest, "invalid_request", "client_assertion is missing")
		return
	}
	var cert *Certificate
	var claims assertionClaims
	tokenURL := s.baseURL(r) + TokenPath
	_, err := jwt.ParseWithClaims(assertion, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		s.mu.Lock()
		cert = s.auth.certs[kid]
		s.mu.Unlock()
		if cert == nil {
			return nil, fmt.Errorf("unknown certificate ID (kid) %q", kid)
		}
		return cert.PublicKey, nil
	}, jwt.WithValidMethods(assertionMethods), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithAudience(tokenURL), jwt.WithLeeway(5*time.Second), jwt.WithTimeFunc(s.now))
	switch {
	case err != nil:
		tokenError(w, http.StatusBadRequest, "invalid_client", "client assertion refused: "+err.Error())
		return
	case claims.IssuedAt == nil:
		tokenError(w, http.StatusBadRequest, "invalid_client", "client assertion refused: iat is missing")
		return
	case claims.Issuer != cert.ClientID:
		tokenError(w, http.StatusBadRequest, "invalid_client", "client assertion refused: iss is not the certificate's client ID")
		return
	case claims.ExpiresAt.Sub(claims.IssuedAt.Time) > s.opts.MaxAssertionLifetime:
		tokenError(w, http.StatusBadRequest, "invalid_grant", fmt.Sprintf("client assertion refused: exp is more than %s after iat", s.opts.MaxAssertionLifetime))
		return
	}
	scope, ok := parseScope(claims.Scope)
	if !ok {
		tokenError(w, http.StatusBadRequest, "invalid_scope", "the assertion's scope names none of rest_webservices, restlets, suite_analytics")
		return
	}
	s.mu.Lock()
	tok, _ := s.issueLocked(cert.ClientID, scope, time.Time{})
	s.mu.Unlock()
	s.writeToken(w, tok, "")
}

// parseScope reads a scope given as a list or a comma or space separated
// string, keeping known scopes; false when none is known.
func parseScope(v any) ([]string, bool) {
	var raw []string
	switch v := v.(type) {
	case string:
		raw = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '+' })
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				raw = append(raw, s)
			}
		}
	}
	var out []string
	for _, sc := range raw {
		if (sc == ScopeRESTWebServices || sc == ScopeRESTlets || sc == ScopeSuiteAnalytics) && !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, len(out) > 0
}

// clientAuth authenticates the client of an authorization code or refresh
// request: HTTP Basic (or client_id and client_secret in the body) for a
// confidential client, client_id alone for a public one.
func (s *Server) clientAuth(w http.ResponseWriter, r *http.Request) *Client {
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	s.mu.Lock()
	c := s.auth.clients[id]
	s.mu.Unlock()
	status := http.StatusBadRequest
	if basic {
		status = http.StatusUnauthorized
	}
	switch {
	case c == nil:
		tokenError(w, status, "invalid_client", "unknown client_id")
		return nil
	case c.Public && secret == "":
		return c
	case c.Secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1:
		tokenError(w, status, "invalid_client", "client authentication failed")
		return nil
	}
	return c
}

// authorizationCode serves grant_type=authorization_code.
func (s *Server) authorizationCode(w http.ResponseWriter, r *http.Request) {
	c := s.clientAuth(w, r)
	if c == nil {
		return
	}
	f := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	code := s.auth.codes[f.Get("code")]
	now := s.now()
	switch {
	case code == nil || code.used || code.client != c.ID || !now.Before(code.expires):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown, used or expired code")
		return
	case f.Get("redirect_uri") != code.redirect:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request's")
		return
	case code.challenge != "" && !pkceMatches(code.method, code.challenge, f.Get("code_verifier")):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
		return
	case code.challenge == "" && c.Public:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "a public client must use PKCE")
		return
	}
	code.used = true
	access, _ := s.issueLocked(c.ID, code.scope, now)
	refresh := s.newRefreshLocked(c.ID, code.scope, now)
	s.writeToken(w, access, refresh)
}

// newRefreshLocked issues a refresh token of a chain started at oit.
func (s *Server) newRefreshLocked(client string, scope []string, oit time.Time) string {
	now := s.now()
	exp := now.Add(s.opts.RefreshTokenLifetime)
	tok := s.signToken(client, scope, now, exp, oit)
	s.auth.refresh[tok] = &refreshToken{client: client, scope: scope, expires: exp, oit: oit}
	return tok
}

// refreshGrant serves grant_type=refresh_token.
func (s *Server) refreshGrant(w http.ResponseWriter, r *http.Request) {
	c := s.clientAuth(w, r)
	if c == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := s.auth.refresh[r.PostForm.Get("refresh_token")]
	now := s.now()
	if rt == nil || rt.used || rt.client != c.ID || !now.Before(rt.expires) {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown, rotated or expired refresh token")
		return
	}
	access, _ := s.issueLocked(c.ID, rt.scope, rt.oit)
	next := ""
	if c.Public {
		rt.used = true
		next = s.newRefreshLocked(c.ID, rt.scope, rt.oit)
	}
	s.writeToken(w, access, next)
}

// pkceMatches checks a code verifier against its challenge.
func pkceMatches(method, challenge, verifier string) bool {
	if verifier == "" {
		return false
	}
	var got string
	switch method {
	case "S256":
		sum := sha256.Sum256([]byte(verifier))
		got = base64.RawURLEncoding.EncodeToString(sum[:])
	case "plain", "":
		got = verifier
	default:
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// serveAuthorize serves the authorize endpoint. The sandbox approves at
// once, as a logged-in administrator would, and redirects with the code,
// the state, and NetSuite's role, entity and company parameters.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	refuse := func(why string) {
		annotate(w, "invalid_request", why)
		http.Error(w, "Invalid authorization request: "+why, http.StatusBadRequest)
	}
	s.mu.Lock()
	c := s.auth.clients[q.Get("client_id")]
	s.mu.Unlock()
	redirect := q.Get("redirect_uri")
	ru, err := url.Parse(redirect)
	switch {
	case c == nil:
		refuse("unknown client_id")
		return
	case redirect == "" || err != nil || ru.Scheme == "":
		refuse("redirect_uri must be an absolute URI")
		return
	case len(c.RedirectURIs) > 0 && !slices.Contains(c.RedirectURIs, redirect):
		refuse("redirect_uri is not registered for the client")
		return
	case ru.Scheme == "http" && !s.opts.AllowHTTPRedirect:
		refuse("redirect_uri must use https or a custom scheme")
		return
	}
	back := func(params url.Values) {
		v := ru.Query()
		for k, vs := range params {
			v[k] = vs
		}
		u := *ru
		u.RawQuery = v.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	fail := func(code, why string) {
		annotate(w, code, why)
		back(url.Values{"error": {code}, "state": {q.Get("state")}})
	}
	scope, ok := parseScope(strings.Join(strings.Fields(q.Get("scope")), ","))
	method := q.Get("code_challenge_method")
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "response_type must be code")
		return
	case !ok:
		fail("invalid_scope", "scope names none of rest_webservices, restlets, suite_analytics")
		return
	case s.opts.MinStateLength > 0 && len(q.Get("state")) < s.opts.MinStateLength:
		fail("invalid_request", fmt.Sprintf("state must be at least %d characters", s.opts.MinStateLength))
		return
	case q.Get("code_challenge") == "" && c.Public:
		fail("invalid_request", "a public client must send a code_challenge")
		return
	case q.Get("code_challenge") != "" && method != "S256" && method != "plain" && method != "":
		fail("invalid_request", "code_challenge_method must be S256 or plain")
		return
	}
	code := newID()
	s.mu.Lock()
	s.auth.codes[code] = &authCode{client: c.ID, redirect: redirect, challenge: q.Get("code_challenge"), method: method,
		scope: scope, expires: s.now().Add(s.opts.CodeLifetime)}
	s.mu.Unlock()
	back(url.Values{"code": {code}, "state": {q.Get("state")}, "role": {"3"}, "entity": {"-5"}, "company": {s.realm()}})
}
