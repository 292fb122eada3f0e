package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Grant types of the token endpoint.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
)

type userState struct {
	User
	id string
}

type authCode struct {
	client, redirect, user, scope string
	challenge                     string
	expires                       time.Time
	used                          bool
}

// session is an access token.
type session struct {
	user, client, chain string
	expires             time.Time
	revoked             bool
}

// refreshToken is one refresh token of a chain: the tokens issued from one
// authorization. With rotation, only the newest is valid.
type refreshToken struct {
	chain, client, user, scope string
	used                       bool
}

type chain struct {
	revoked bool
}

// tokenError writes a token endpoint error: 400 {"error","error_description"}.
func tokenError(w http.ResponseWriter, status int, code, desc string) {
	m := &omap{}
	m.set("error", code)
	m.set("error_description", desc)
	writeJSON(w, status, m)
}

func (s *Server) baseLocked() string { return s.base }

// loopback reports whether u is an http callback on this machine.
func loopback(u *url.URL) bool {
	if u.Scheme != "http" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *Client) redirectAllowed(uri string) bool {
	if slices.Contains(c.RedirectURIs, uri) {
		return true
	}
	u, err := url.Parse(uri)
	return err == nil && c.AllowLoopback && loopback(u)
}

func (c *Client) scope(requested string) string {
	if s := strings.Join(strings.Fields(requested), " "); s != "" {
		return s
	}
	if len(c.Scopes) > 0 {
		return strings.Join(c.Scopes, " ")
	}
	return "api refresh_token id"
}

func hasScope(scope string, names ...string) bool {
	for _, s := range strings.Fields(scope) {
		if slices.Contains(names, s) {
			return true
		}
	}
	return false
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Login | Salesforce Sandbox</title>
<style>body{font-family:sans-serif;background:#f3f3f3}main{max-width:22rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:.5rem}
label{display:block;margin-top:1rem}input[type=text],input[type=password]{width:100%;padding:.4rem}.error{color:#c23934}
.buttons{margin-top:1.5rem;display:flex;gap:1rem}</style></head>
<body><main>
<h1>Log in to the Weir Salesforce sandbox</h1>
<p><strong>{{.App}}</strong> is asking to access your data ({{.Scope}}).</p>
{{if .Error}}<p class="error" id="error">{{.Error}}</p>{{end}}
<form method="post" action="/services/oauth2/authorize" id="login">
{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<label for="username">Username</label><input type="text" id="username" name="username" value="{{.Username}}" autocomplete="username">
<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password">
<div class="buttons"><button type="submit" name="action" value="allow" id="allow">Allow</button>
<button type="submit" name="action" value="deny" id="deny">Deny</button></div>
</form></main></body></html>
`))

type hidden struct{ Name, Value string }

// authorizeParams are carried from the authorize request through the form.
var authorizeParams = []string{"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method", "prompt", "login_hint", "display", "nonce"}

func errorPage(w http.ResponseWriter, code, desc string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, "<!doctype html><title>Error</title><p id=\"error\">error=%s<br>error_description=%s</p>", template.HTMLEscapeString(code), template.HTMLEscapeString(desc))
}

func redirectWith(w http.ResponseWriter, r *http.Request, redirect string, params url.Values) {
	u, err := url.Parse(redirect)
	if err != nil {
		errorPage(w, "redirect_uri_mismatch", "redirect_uri must match configuration")
		return
	}
	q := u.Query()
	for k, v := range params {
		if len(v) > 0 && v[0] != "" {
			q[k] = v
		}
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// authorize serves the web server flow's login and consent page (GET) and
// its form (POST), redirecting with a code and the state.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		errorPage(w, "invalid_request", "bad request")
		return
	}
	p := r.Form
	s.mu.Lock()
	client := s.clients[p.Get("client_id")]
	s.mu.Unlock()
	if client == nil {
		errorPage(w, "invalid_client_id", "client identifier invalid")
		return
	}
	redirect := p.Get("redirect_uri")
	if !client.redirectAllowed(redirect) {
		errorPage(w, "redirect_uri_mismatch", "redirect_uri must match configuration")
		return
	}
	fail := func(code, desc string) {
		redirectWith(w, r, redirect, url.Values{"error": {code}, "error_description": {desc}, "state": {p.Get("state")}})
	}
	if p.Get("response_type") != "code" {
		fail("unsupported_response_type", "response type not supported")
		return
	}
	switch m := p.Get("code_challenge_method"); {
	case m != "" && m != "S256":
		fail("invalid_request", "code_challenge_method must be S256")
		return
	case client.RequirePKCE && p.Get("code_challenge") == "":
		fail("invalid_request", "missing required code challenge")
		return
	}
	scope := client.scope(p.Get("scope"))
	page := struct {
		App, Scope, Error, Username string
		Hidden                      []hidden
	}{App: client.ID, Scope: scope, Username: p.Get("login_hint")}
	for _, name := range authorizeParams {
		if v := p.Get(name); v != "" {
			page.Hidden = append(page.Hidden, hidden{name, v})
		}
	}
	if r.Method == http.MethodGet {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = loginPage.Execute(w, page)
		return
	}
	if p.Get("action") == "deny" {
		fail("access_denied", "end-user denied authorization")
		return
	}
	s.mu.Lock()
	u := s.users[strings.ToLower(strings.TrimSpace(p.Get("username")))]
	ok := u != nil && !u.Inactive && subtle.ConstantTimeCompare([]byte(u.Password), []byte(p.Get("password"))) == 1
	var code string
	if ok {
		code = "aPrx" + randomToken(60)
		s.codes[code] = &authCode{client: client.ID, redirect: redirect, user: u.id, scope: scope,
			challenge: p.Get("code_challenge"), expires: s.now().Add(s.opts.AuthCodeLifetime)}
		s.approvals[u.id+"|"+client.ID] = true
	}
	s.mu.Unlock()
	if !ok {
		page.Error = "Please check your username and password. If you still can't log in, contact your Salesforce administrator."
		page.Username = p.Get("username")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_ = loginPage.Execute(w, page)
		return
	}
	redirectWith(w, r, redirect, url.Values{"code": {code}, "state": {p.Get("state")}})
}

// clientAuth returns the client id and secret from HTTP Basic or the form.
func clientAuth(r *http.Request) (id, secret string, hasSecret bool) {
	if u, p, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(u)
		secret, _ = url.QueryUnescape(p)
		return id, secret, true
	}
	_, has := r.PostForm["client_secret"]
	return r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"), has
}

// token serves the token endpoint.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		tokenError(w, http.StatusBadRequest, "invalid_request", "must use HTTP POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "invalid request body")
		return
	}
	f := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	var resp *omap
	var status int
	var code, desc string
	switch f.Get("grant_type") {
	case GrantAuthorizationCode:
		resp, status, code, desc = s.grantCode(r)
	case GrantRefreshToken:
		resp, status, code, desc = s.grantRefresh(r)
	case GrantJWTBearer:
		resp, status, code, desc = s.grantJWT(r)
	case GrantClientCredentials:
		resp, status, code, desc = s.grantClientCredentials(r)
	case GrantPassword:
		resp, status, code, desc = s.grantPassword(r)
	case "":
		status, code, desc = 400, "invalid_request", "grant type not specified"
	default:
		status, code, desc = 400, "unsupported_grant_type", "grant type not supported"
	}
	if resp == nil {
		tokenError(w, status, code, desc)
		return
	}
	w.Header().Set("Cache-Control", "no-cache, no-store")
	if f.Get("format") == "urlencoded" || r.Header.Get("Accept") == "application/x-www-form-urlencoded" {
		v := url.Values{}
		for _, k := range resp.keys {
			v.Set(k, fmt.Sprint(resp.vals[k]))
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		_, _ = w.Write([]byte(v.Encode()))
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// confidential checks a client's secret; public clients may omit it.
func (s *Server) confidential(r *http.Request) (*Client, int, string, string) {
	id, secret, has := clientAuth(r)
	c := s.clients[id]
	if c == nil {
		return nil, 400, "invalid_client_id", "client identifier invalid"
	}
	if !has && c.Public {
		return c, 0, "", ""
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
		return nil, 400, "invalid_client", "invalid client credentials"
	}
	return c, 0, "", ""
}

func (s *Server) grantCode(r *http.Request) (*omap, int, string, string) {
	f := r.PostForm
	c, status, code, desc := s.confidential(r)
	if c == nil {
		return nil, status, code, desc
	}
	ac := s.codes[f.Get("code")]
	if ac == nil || ac.used || s.now().After(ac.expires) || ac.client != c.ID {
		return nil, 400, "invalid_grant", "expired authorization code"
	}
	if f.Get("redirect_uri") != ac.redirect {
		return nil, 400, "redirect_uri_mismatch", "redirect_uri must match configuration"
	}
	if ac.challenge != "" {
		verifier, sent := f["code_verifier"]
		if !sent || verifier[0] == "" {
			return nil, 400, "invalid_grant", "invalid code verifier"
		}
		sum := sha256.Sum256([]byte(verifier[0]))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != ac.challenge {
			return nil, 400, "invalid_request", "invalid code verifier"
		}
	}
	u := s.userByID(ac.user)
	if u == nil || u.Inactive {
		return nil, 400, "invalid_grant", "inactive user"
	}
	ac.used = true
	delete(s.codes, f.Get("code"))
	ch := randomToken(16)
	s.chains[ch] = &chain{}
	return s.issueLocked(u, c, ac.scope, ch, hasScope(ac.scope, "refresh_token", "offline_access"), true), 0, "", ""
}

func (s *Server) userByID(id string) *userState {
	for _, u := range s.users {
		if u.id == id {
			return u
		}
	}
	return nil
}

func (s *Server) grantRefresh(r *http.Request) (*omap, int, string, string) {
	f := r.PostForm
	id, secret, has := clientAuth(r)
	c := s.clients[id]
	if c == nil {
		return nil, 400, "invalid_client_id", "client identifier invalid"
	}
	if has && subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
		return nil, 400, "invalid_client", "invalid client credentials"
	}
	rt := s.refreshes[f.Get("refresh_token")]
	if rt == nil || rt.client != c.ID {
		return nil, 400, "invalid_grant", "expired access/refresh token"
	}
	ch := s.chains[rt.chain]
	if ch == nil || ch.revoked {
		return nil, 400, "invalid_grant", "expired access/refresh token"
	}
	if rt.used {
		// Reuse of a rotated-out refresh token: revoke the whole chain.
		s.revokeChainLocked(rt.chain)
		return nil, 400, "invalid_grant", "expired access/refresh token"
	}
	u := s.userByID(rt.user)
	if u == nil || u.Inactive {
		return nil, 400, "invalid_grant", "inactive user"
	}
	if s.opts.RefreshRotation {
		rt.used = true
	}
	return s.issueLocked(u, c, rt.scope, rt.chain, s.opts.RefreshRotation, true), 0, "", ""
}

func (s *Server) revokeChainLocked(ch string) {
	if c := s.chains[ch]; c != nil {
		c.revoked = true
	}
	for tok, rt := range s.refreshes {
		if rt.chain == ch {
			delete(s.refreshes, tok)
		}
	}
	for _, se := range s.sessions {
		if se.chain == ch {
			se.revoked = true
		}
	}
}

func (s *Server) audiences() []string {
	if len(s.opts.JWTAudiences) > 0 {
		return s.opts.JWTAudiences
	}
	return []string{"https://login.salesforce.com", "https://test.salesforce.com", s.base}
}

// publicKey parses a PEM certificate or public key.
func publicKey(pemText string) (any, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	switch block.Type {
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		return cert.PublicKey, nil
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return x509.ParsePKIXPublicKey(block.Bytes)
	}
}

func (s *Server) grantJWT(r *http.Request) (*omap, int, string, string) {
	assertion := r.PostForm.Get("assertion")
	var client *Client
	tok, err := jwt.Parse(assertion, func(t *jwt.Token) (any, error) {
		iss, _ := t.Claims.GetIssuer()
		client = s.clients[iss]
		if client == nil || client.Certificate == "" {
			return nil, errors.New("unknown client")
		}
		return publicKey(client.Certificate)
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	if client == nil {
		return nil, 400, "invalid_client_id", "client identifier invalid"
	}
	if err != nil || !tok.Valid {
		return nil, 400, "invalid_grant", "invalid assertion"
	}
	claims := tok.Claims.(jwt.MapClaims)
	aud, _ := claims.GetAudience()
	okAud := false
	for _, a := range aud {
		if slices.Contains(s.audiences(), strings.TrimSuffix(a, "/")) {
			okAud = true
		}
	}
	if !okAud {
		return nil, 400, "invalid_grant", "audience is invalid"
	}
	exp, err := claims.GetExpirationTime()
	now := s.now()
	const skew = time.Minute
	switch {
	case err != nil || exp == nil || exp.Before(now.Add(-skew)):
		return nil, 400, "invalid_grant", "expired authorization code"
	case exp.After(now.Add(s.opts.JWTMaxLifetime + skew)):
		return nil, 400, "invalid_grant", "invalid assertion"
	}
	sub, _ := claims.GetSubject()
	u := s.users[strings.ToLower(sub)]
	switch {
	case u == nil:
		return nil, 400, "invalid_grant", "invalid assertion"
	case u.Inactive:
		return nil, 400, "invalid_grant", "inactive user"
	case !client.PreAuthorized && !s.approvals[u.id+"|"+client.ID]:
		return nil, 400, "invalid_grant", "user hasn't approved this consumer"
	}
	return s.issueLocked(u, client, client.scope(r.PostForm.Get("scope")), "", false, false), 0, "", ""
}

func (s *Server) grantClientCredentials(r *http.Request) (*omap, int, string, string) {
	c, status, code, desc := s.confidential(r)
	if c == nil {
		return nil, status, code, desc
	}
	u := s.users[strings.ToLower(c.RunAs)]
	if c.RunAs == "" || u == nil {
		return nil, 400, "invalid_grant", "no client credentials user enabled"
	}
	if u.Inactive {
		return nil, 400, "invalid_grant", "inactive user"
	}
	return s.issueLocked(u, c, c.scope(r.PostForm.Get("scope")), "", false, true), 0, "", ""
}

func (s *Server) grantPassword(r *http.Request) (*omap, int, string, string) {
	c, status, code, desc := s.confidential(r)
	if c == nil {
		return nil, status, code, desc
	}
	u := s.users[strings.ToLower(r.PostForm.Get("username"))]
	if u == nil || subtle.ConstantTimeCompare([]byte(u.Password), []byte(r.PostForm.Get("password"))) != 1 {
		return nil, 400, "invalid_grant", "authentication failure"
	}
	if u.Inactive {
		return nil, 400, "invalid_grant", "inactive user"
	}
	return s.issueLocked(u, c, c.scope(r.PostForm.Get("scope")), "", false, true), 0, "", ""
}

// issueLocked makes an access token (and a refresh token when refresh)
// and writes the token response as Salesforce does: no expires_in,
// issued_at in milliseconds as a string, and signature =
// Base64(HMAC-SHA256(client secret, id + issued_at)) when signed.
func (s *Server) issueLocked(u *userState, c *Client, scope, ch string, refresh, signed bool) *omap {
	now := s.now()
	access := s.opts.OrgID[:15] + "!AQ" + randomToken(94)
	s.sessions[access] = &session{user: u.id, client: c.ID, chain: ch, expires: now.Add(s.opts.AccessTokenLifetime)}
	id := fmt.Sprintf("%s/id/%s/%s", s.baseLocked(), s.opts.OrgID, u.id)
	issued := strconv.FormatInt(now.UnixMilli(), 10)
	m := &omap{}
	m.set("access_token", access)
	if refresh && ch != "" {
		rt := "5Aep" + randomToken(83)
		s.refreshes[rt] = &refreshToken{chain: ch, client: c.ID, user: u.id, scope: scope}
		m.set("refresh_token", rt)
	}
	if signed {
		mac := hmac.New(sha256.New, []byte(c.Secret))
		mac.Write([]byte(id + issued))
		m.set("signature", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	m.set("scope", scope)
	m.set("instance_url", s.baseLocked())
	m.set("id", id)
	m.set("token_type", "Bearer")
	if signed {
		m.set("issued_at", issued)
	}
	return m
}

// revoke revokes an access token, or a refresh token with its chain.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	tok := r.Form.Get("token")
	s.mu.Lock()
	defer s.mu.Unlock()
	if rt := s.refreshes[tok]; rt != nil {
		s.revokeChainLocked(rt.chain)
		w.WriteHeader(http.StatusOK)
		return
	}
	if se := s.sessions[tok]; se != nil {
		se.revoked = true
		w.WriteHeader(http.StatusOK)
		return
	}
	tokenError(w, http.StatusBadRequest, "unsupported_token_type", "this token type is not supported")
}

// bearer returns the session of a request's access token, nil when it is
// missing, unknown, revoked or expired.
func (s *Server) sessionLocked(r *http.Request) *session {
	h := r.Header.Get("Authorization")
	var tok string
	for _, scheme := range []string{"Bearer ", "OAuth "} {
		if len(h) > len(scheme) && strings.EqualFold(h[:len(scheme)], scheme) {
			tok = strings.TrimSpace(h[len(scheme):])
		}
	}
	se := s.sessions[tok]
	if se == nil || se.revoked || !s.now().Before(se.expires) {
		return nil
	}
	if ch := s.chains[se.chain]; ch != nil && ch.revoked {
		return nil
	}
	return se
}

// ExpireTokens makes every access token issued so far expired, as a
// session timeout would; refresh tokens stay valid.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, se := range s.sessions {
		se.expires = now
	}
}

// Token returns a fresh access token for a user (DefaultUsername when
// empty), as the password flow would, for tests and tools. It fails for an
// unknown user.
func (s *Server) Token(username string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if username == "" {
		username = s.opts.Users[0].Username
	}
	u := s.users[strings.ToLower(username)]
	if u == nil {
		return "", fmt.Errorf("sandbox: no user %q", username)
	}
	resp := s.issueLocked(u, s.clients[s.opts.Clients[0].ID], "api", "", false, false)
	tok, _ := resp.get("access_token")
	return tok.(string), nil
}

func invalidSession(w http.ResponseWriter) {
	writeJSON(w, http.StatusUnauthorized, []apiError{{ErrorCode: "INVALID_SESSION_ID", Message: "Session expired or invalid"}})
}

// identity serves the identity URL (/id/{org}/{user}).
func (s *Server) identity(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.sessionLocked(r)
	if se == nil {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte("Bad_OAuth_Token"))
		return
	}
	u := s.userByID(se.user)
	m := &omap{}
	m.set("id", fmt.Sprintf("%s/id/%s/%s", s.base, s.opts.OrgID, u.id))
	m.set("asserted_user", true)
	m.set("user_id", u.id)
	m.set("organization_id", s.opts.OrgID)
	m.set("username", u.Username)
	m.set("display_name", strings.TrimSpace(u.FirstName+" "+u.LastName))
	m.set("email", u.Email)
	m.set("active", !u.Inactive)
	urls := &omap{}
	urls.set("rest", s.base+"/services/data/v{version}/")
	urls.set("sobjects", s.base+"/services/data/v{version}/sobjects/")
	urls.set("query", s.base+"/services/data/v{version}/query/")
	m.set("urls", urls)
	writeJSON(w, http.StatusOK, m)
}

// userinfo serves the OpenID Connect userinfo endpoint.
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.sessionLocked(r)
	if se == nil {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte("Bad_OAuth_Token"))
		return
	}
	u := s.userByID(se.user)
	m := &omap{}
	m.set("sub", fmt.Sprintf("%s/id/%s/%s", s.base, s.opts.OrgID, u.id))
	m.set("user_id", u.id)
	m.set("organization_id", s.opts.OrgID)
	m.set("preferred_username", u.Username)
	m.set("name", strings.TrimSpace(u.FirstName+" "+u.LastName))
	m.set("email", u.Email)
	writeJSON(w, http.StatusOK, m)
}
