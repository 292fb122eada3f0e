package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/weirhq/weir/host/config"
	"github.com/weirhq/weir/sdk"
)

// Grant and assertion type URNs (RFC 7523).
const (
	GrantTypeJWTBearer     = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	ClientAssertionTypeJWT = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// Assertion lifetimes: NetSuite accepts a client assertion whose exp is at
// most 60 minutes after its iat; Salesforce a JWT bearer assertion whose
// exp is at most 3 minutes ahead. Both are kept well inside.
const (
	ClientAssertionLifetime = 5 * time.Minute
	JWTBearerLifetime       = 2 * time.Minute
)

// DefaultSessionLifetime is the access token lifetime assumed when the
// token response has no expires_in and the connection sets no
// session_lifetime (Salesforce's default session timeout).
const DefaultSessionLifetime = 2 * time.Hour

// DefaultExtraKeys are the token response fields passed to connectors in
// sdk.Token.Extra.
var DefaultExtraKeys = []string{"instance_url", "api_instance_url", "id", "issued_at", "scope", "signature",
	"sfdc_community_url", "sfdc_community_id"}

// AuthStyle says how a client secret is sent to the token endpoint.
type AuthStyle int

// Auth styles.
const (
	// AuthStyleAuto sends the secret with HTTP Basic and, if the server
	// refuses the client (invalid_client), in the form body, remembering
	// what worked. Without a secret, the client_id goes in the body.
	AuthStyleAuto AuthStyle = iota
	// AuthStyleBasic sends client_id and client_secret with HTTP Basic.
	AuthStyleBasic
	// AuthStyleBody sends them as form fields.
	AuthStyleBody
)

// Connection is the OAuth 2.0 setup of one connection.
type Connection struct {
	// Name is the connection's name.
	Name string
	// Flow is one of config's Flow constants. A client_credentials flow
	// with a private key and no client secret uses a JWT client assertion,
	// like client_credentials_jwt.
	Flow          string
	ClientID      string
	ClientSecret  string
	PrivateKey    string // PEM
	CertificateID string
	Username      string
	Password      string
	Scopes        []string
	// TokenURL and AuthorizationURL are the endpoints.
	TokenURL         string
	AuthorizationURL string
	// RedirectURL is the login callback; empty for
	// http://127.0.0.1:<port>/callback.
	RedirectURL string
	// Audience is a JWT bearer assertion's aud; the token URL's origin
	// (scheme://host) when empty.
	Audience string
	// SessionLifetime is the access token lifetime when the token response
	// has no expires_in; DefaultSessionLifetime when zero.
	SessionLifetime time.Duration
	// AuthStyle says how the client secret is sent.
	AuthStyle AuthStyle
	// ExtraKeys are the token response fields passed in sdk.Token.Extra;
	// DefaultExtraKeys when nil.
	ExtraKeys []string
}

// FromConfig returns the OAuth setup of a configured connection, false when
// it has no oauth2 block. Endpoints the block leaves out come from the
// connector's description when the configuration was resolved.
func FromConfig(c *config.Connection) (Connection, bool) {
	o := c.OAuth2
	if o == nil {
		return Connection{}, false
	}
	conn := Connection{
		Name: c.Name, Flow: o.Flow, ClientID: o.ClientID, ClientSecret: o.ClientSecret, PrivateKey: o.PrivateKey,
		CertificateID: o.CertificateID, Username: o.Username, Password: o.Password, Scopes: o.Scopes,
		TokenURL: o.TokenURL, AuthorizationURL: o.AuthorizationURL, RedirectURL: o.RedirectURL,
		SessionLifetime: o.SessionLifetime,
	}
	if d := c.Description; d != nil && d.OAuth != nil {
		if conn.TokenURL == "" {
			conn.TokenURL = d.OAuth.TokenURL
		}
		if conn.AuthorizationURL == "" {
			conn.AuthorizationURL = d.OAuth.AuthorizationURL
		}
		if len(conn.Scopes) == 0 {
			conn.Scopes = d.OAuth.Scopes
		}
	}
	return conn, true
}

// FromConfigAll returns the OAuth setups of every connection with an
// oauth2 block.
func FromConfigAll(cfg *config.Config) []Connection {
	var out []Connection
	for _, c := range cfg.Connections {
		if conn, ok := FromConfig(c); ok {
			out = append(out, conn)
		}
	}
	return out
}

// flow returns the effective flow.
func (c *Connection) flow() string {
	if c.Flow == config.FlowClientCredentials && c.ClientSecret == "" && c.PrivateKey != "" {
		return config.FlowClientCredentialsJWT
	}
	return c.Flow
}

// signer is a parsed private key with its JWS algorithm.
type signer struct {
	method jwt.SigningMethod
	key    any
}

// parsePrivateKey reads a PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC).
// Its errors never quote the key.
func parsePrivateKey(pemText string) (any, error) {
	rest := []byte(pemText)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("private_key holds no PEM private key block")
		}
		switch block.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, errors.New("private_key: malformed PKCS#8 private key")
			}
			return k, nil
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, errors.New("private_key: malformed RSA private key")
			}
			return k, nil
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(block.Bytes)
			if err != nil {
				return nil, errors.New("private_key: malformed EC private key")
			}
			return k, nil
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("private_key is encrypted: give it unencrypted (from a file or variable only weir can read)")
		}
	}
}

// assertionSigner picks the client assertion algorithm from the key:
// PS256 for RSA, ES256/ES384/ES512 for EC P-256/P-384/P-521.
func assertionSigner(key any) (signer, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return signer{jwt.SigningMethodPS256, k}, nil
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			return signer{jwt.SigningMethodES256, k}, nil
		case elliptic.P384():
			return signer{jwt.SigningMethodES384, k}, nil
		case elliptic.P521():
			return signer{jwt.SigningMethodES512, k}, nil
		}
		return signer{}, errors.New("private_key: unsupported EC curve (use P-256)")
	}
	return signer{}, fmt.Errorf("private_key: a %T cannot sign a client assertion (use RSA for PS256 or EC P-256 for ES256)", key)
}

// bearerSigner is RS256, the only algorithm of Salesforce's JWT bearer flow.
func bearerSigner(key any) (signer, error) {
	k, ok := key.(*rsa.PrivateKey)
	if !ok {
		return signer{}, fmt.Errorf("private_key: the jwt_bearer flow signs with RS256 and needs an RSA key, not %T", key)
	}
	return signer{jwt.SigningMethodRS256, k}, nil
}

// grants makes the token requests of one connection.
type grants struct {
	conn    Connection
	client  *http.Client
	timeout time.Duration
	signer  signer

	mu    sync.Mutex
	style oauth2.AuthStyle // learnt by AuthStyleAuto; 0 until then
}

func newGrants(c Connection, client *http.Client, timeout time.Duration) (*grants, error) {
	g := &grants{conn: c, client: client, timeout: timeout}
	switch c.flow() {
	case config.FlowClientCredentialsJWT, config.FlowJWTBearer:
		if c.PrivateKey == "" {
			return nil, errors.New("the flow needs private_key")
		}
		key, err := parsePrivateKey(c.PrivateKey)
		if err != nil {
			return nil, err
		}
		if c.flow() == config.FlowJWTBearer {
			g.signer, err = bearerSigner(key)
		} else {
			g.signer, err = assertionSigner(key)
		}
		if err != nil {
			return nil, err
		}
	}
	return g, nil
}

// ctx adds the HTTP client and the request timeout.
func (g *grants) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, g.client)
	return context.WithTimeout(ctx, g.timeout)
}

// withClientAuth runs a token request with the connection's auth style.
// With AuthStyleAuto and a secret, it tries HTTP Basic first and the form
// body if the server refuses the client: a refused client means the grant
// was not looked at, so retrying cannot replay a refresh token.
func (g *grants) withClientAuth(do func(oauth2.AuthStyle) (*oauth2.Token, error)) (*oauth2.Token, error) {
	switch {
	case g.conn.AuthStyle == AuthStyleBasic:
		return do(oauth2.AuthStyleInHeader)
	case g.conn.AuthStyle == AuthStyleBody || g.conn.ClientSecret == "":
		return do(oauth2.AuthStyleInParams)
	}
	g.mu.Lock()
	style := g.style
	g.mu.Unlock()
	if style != 0 {
		return do(style)
	}
	tok, err := do(oauth2.AuthStyleInHeader)
	style = oauth2.AuthStyleInHeader
	if isClientRefused(err) {
		tok, err = do(oauth2.AuthStyleInParams)
		style = oauth2.AuthStyleInParams
	}
	if err == nil {
		g.mu.Lock()
		g.style = style
		g.mu.Unlock()
	}
	return tok, err
}

func isClientRefused(err error) bool {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return false
	}
	return strings.HasPrefix(re.ErrorCode, "invalid_client") || (re.ErrorCode == "" && re.Response != nil && re.Response.StatusCode == http.StatusUnauthorized)
}

func (g *grants) config(style oauth2.AuthStyle, redirect string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: g.conn.ClientID, ClientSecret: g.conn.ClientSecret, RedirectURL: redirect, Scopes: g.conn.Scopes,
		Endpoint: oauth2.Endpoint{AuthURL: g.conn.AuthorizationURL, TokenURL: g.conn.TokenURL, AuthStyle: style},
	}
}

// exchange trades an authorization code and its PKCE verifier for tokens.
func (g *grants) exchange(ctx context.Context, code, verifier, redirect string) (*oauth2.Token, error) {
	ctx, cancel := g.ctx(ctx)
	defer cancel()
	return g.withClientAuth(func(style oauth2.AuthStyle) (*oauth2.Token, error) {
		return g.config(style, redirect).Exchange(ctx, code, oauth2.VerifierOption(verifier))
	})
}

// refresh redeems a refresh token. The server may rotate it: the returned
// token then carries the new one (otherwise the old one).
func (g *grants) refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	ctx, cancel := g.ctx(ctx)
	defer cancel()
	return g.withClientAuth(func(style oauth2.AuthStyle) (*oauth2.Token, error) {
		return g.config(style, "").TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	})
}

// fetch gets a token with the connection's non-interactive flow.
func (g *grants) fetch(ctx context.Context, now time.Time) (*oauth2.Token, error) {
	ctx, cancel := g.ctx(ctx)
	defer cancel()
	switch g.conn.flow() {
	case config.FlowClientCredentials:
		return g.withClientAuth(func(style oauth2.AuthStyle) (*oauth2.Token, error) {
			cc := &clientcredentials.Config{ClientID: g.conn.ClientID, ClientSecret: g.conn.ClientSecret,
				TokenURL: g.conn.TokenURL, Scopes: g.conn.Scopes, AuthStyle: style}
			return cc.Token(ctx)
		})
	case config.FlowClientCredentialsJWT:
		assertion, err := g.clientAssertion(now)
		if err != nil {
			return nil, err
		}
		cc := &clientcredentials.Config{TokenURL: g.conn.TokenURL, Scopes: g.conn.Scopes, AuthStyle: oauth2.AuthStyleInParams,
			EndpointParams: url.Values{"client_assertion_type": {ClientAssertionTypeJWT}, "client_assertion": {assertion}}}
		return cc.Token(ctx)
	case config.FlowJWTBearer:
		assertion, err := g.bearerAssertion(now)
		if err != nil {
			return nil, err
		}
		cc := &clientcredentials.Config{TokenURL: g.conn.TokenURL, AuthStyle: oauth2.AuthStyleInParams,
			EndpointParams: url.Values{"grant_type": {GrantTypeJWTBearer}, "assertion": {assertion}}}
		return cc.Token(ctx)
	}
	return nil, fmt.Errorf("flow %q does not fetch tokens by itself", g.conn.Flow)
}

// assertionClaims are a client assertion's claims: the registered ones and
// NetSuite's scope.
type assertionClaims struct {
	jwt.RegisteredClaims
	Scope []string `json:"scope,omitempty"`
}

// clientAssertion signs a client assertion (RFC 7523 §2.2; NetSuite M2M):
// kid = certificate ID, iss = client ID, aud = token URL, iat, exp, jti.
func (g *grants) clientAssertion(now time.Time) (string, error) {
	claims := assertionClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: g.conn.ClientID, Audience: jwt.ClaimStrings{g.conn.TokenURL}, ID: newID(),
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ClientAssertionLifetime)),
		},
		Scope: g.conn.Scopes,
	}
	t := jwt.NewWithClaims(g.signer.method, claims)
	if g.conn.CertificateID != "" {
		t.Header["kid"] = g.conn.CertificateID
	}
	return t.SignedString(g.signer.key)
}

// bearerAssertion signs a JWT bearer grant assertion (Salesforce): iss =
// client ID, sub = username, aud = the login URL, exp a little ahead.
func (g *grants) bearerAssertion(now time.Time) (string, error) {
	aud := g.conn.Audience
	if aud == "" {
		u, err := url.Parse(g.conn.TokenURL)
		if err != nil {
			return "", fmt.Errorf("token_url: %w", err)
		}
		aud = u.Scheme + "://" + u.Host
	}
	claims := jwt.RegisteredClaims{
		Issuer: g.conn.ClientID, Subject: g.conn.Username, Audience: jwt.ClaimStrings{aud},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(JWTBearerLifetime)),
	}
	return jwt.NewWithClaims(g.signer.method, claims).SignedString(g.signer.key)
}

// tokenFrom turns a token response into a stored token. Its expiry comes
// from expires_in when given, else from the session lifetime counted from
// issued_at (Salesforce, in milliseconds) or now. prev, when not nil, is
// the token refreshed: its refresh token and extras carry over when the
// response has none.
func (g *grants) tokenFrom(t *oauth2.Token, prev *token, now time.Time) *token {
	out := &token{ID: newID(), AccessToken: t.AccessToken, TokenType: t.TokenType, RefreshToken: t.RefreshToken,
		Obtained: now, Extra: map[string]string{}}
	if prev != nil {
		out.Gen = prev.Gen + 1
		if out.RefreshToken == "" {
			out.RefreshToken = prev.RefreshToken
		}
		for k, v := range prev.Extra {
			out.Extra[k] = v
		}
	}
	keys := g.conn.ExtraKeys
	if keys == nil {
		keys = DefaultExtraKeys
	}
	for _, k := range keys {
		switch v := t.Extra(k).(type) {
		case string:
			out.Extra[k] = v
		case float64:
			out.Extra[k] = strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			out.Extra[k] = strconv.FormatBool(v)
		}
	}
	if len(out.Extra) == 0 {
		out.Extra = nil
	}
	if !t.Expiry.IsZero() {
		// x/oauth2 set Expiry from expires_in against the wall clock.
		if lifetime := time.Until(t.Expiry).Round(time.Second); lifetime > 0 {
			out.Expiry = now.Add(lifetime)
			return out
		}
	}
	lifetime := g.conn.SessionLifetime
	if lifetime <= 0 {
		lifetime = DefaultSessionLifetime
	}
	if ms, err := strconv.ParseInt(out.Extra["issued_at"], 10, 64); err == nil {
		if at := time.UnixMilli(ms); !at.After(now) && now.Sub(at) < lifetime {
			out.Obtained = at
		}
	}
	out.Expiry = out.Obtained.Add(lifetime)
	return out
}

// What a token request was, for classify.
const (
	whatFetch    = "token request"
	whatRefresh  = "token refresh"
	whatExchange = "authorization code exchange"
)

// classify turns a token request failure into a classified error for
// connection conn. Refusals of the grant or the client are auth_expired
// (records wait for a login or a configuration fix); network failures,
// 5xx and 429 are retryable. Messages quote the server's error code and
// description, never a request or a token.
func classify(conn Connection, err error, what string) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		detail := re.ErrorCode
		if re.ErrorDescription != "" {
			detail += ": " + re.ErrorDescription
		}
		if detail == "" {
			detail = fmt.Sprintf("HTTP %d", status)
		} else {
			detail = fmt.Sprintf("HTTP %d %s", status, detail)
		}
		switch {
		case status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout ||
			re.ErrorCode == "server_error" || re.ErrorCode == "temporarily_unavailable":
			return sdk.Retryable(fmt.Errorf("connection %s: %s failed at %s (%s)", conn.Name, what, conn.TokenURL, detail), 0)
		case re.ErrorCode == "invalid_grant" && what == whatRefresh:
			return loginRequired(conn.Name, fmt.Sprintf("the authorization server refused its refresh token (%s)", detail))
		}
		return sdk.AuthExpired(fmt.Errorf("connection %s: %s was refused by %s (%s): check the connection's oauth2 settings",
			conn.Name, what, conn.TokenURL, detail))
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return sdk.Retryable(fmt.Errorf("connection %s: %s at %s: %w", conn.Name, what, conn.TokenURL, scrubURLError(err)), 0)
	}
	return sdk.Retryable(fmt.Errorf("connection %s: %s: %w", conn.Name, what, scrubURLError(err)), 0)
}

// scrubURLError drops the URL of a *url.Error (the token URL is named
// separately), keeping the cause.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// ErrLoginRequired matches the errors saying that a connection's user must
// run `weir auth login` (again). They are classified auth_expired.
var ErrLoginRequired = errors.New("login required")

// loginError is a login-required error naming the connection.
type loginError struct {
	conn, why string
}

func (e *loginError) Error() string {
	return fmt.Sprintf("connection %s: %s: run \"weir auth login %s\" to log in", e.conn, e.why, e.conn)
}

func (e *loginError) Is(target error) bool { return target == ErrLoginRequired }

func loginRequired(conn, why string) error {
	return sdk.AuthExpired(&loginError{conn: conn, why: why})
}
