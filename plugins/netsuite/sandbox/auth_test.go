package sandbox

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testRSAOnce sync.Once
	testRSA     *rsa.PrivateKey
)

// rsaKey is a test RSA key, made once.
func rsaKey(t *testing.T) *rsa.PrivateKey {
	testRSAOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testRSA = k
	})
	return testRSA
}

// postForm posts a token request and decodes the JSON answer.
func postForm(t *testing.T, endpoint string, form url.Values, basicUser, basicPass string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		req.SetBasicAuth(basicUser, basicPass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestClientCredentialsAssertion(t *testing.T) {
	e := newEnv(t, Options{})
	rsaK := rsaKey(t)
	ecK, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err := e.s.AddCertificate(Certificate{ID: "cert-ps", ClientID: "m2m-client", PublicKey: &rsaK.PublicKey}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.AddCertificate(Certificate{ID: "cert-es", ClientID: "m2m-client", PublicKey: &ecK.PublicKey}); err != nil {
		t.Fatal(err)
	}
	tokenURL := e.srv.URL + TokenPath
	now := time.Now()
	type claims struct {
		jwt.RegisteredClaims
		Scope any `json:"scope,omitempty"`
	}
	good := func() claims {
		return claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: "m2m-client", Audience: jwt.ClaimStrings{tokenURL},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute))},
			Scope: []string{"rest_webservices"}}
	}
	sign := func(m jwt.SigningMethod, key any, kid string, c claims) string {
		tok := jwt.NewWithClaims(m, c)
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cases := []struct {
		name      string
		assertion func() string
		typ       string
		status    int
		err       string
	}{
		{"PS256", func() string { return sign(jwt.SigningMethodPS256, rsaK, "cert-ps", good()) }, "", 200, ""},
		{"ES256", func() string { return sign(jwt.SigningMethodES256, ecK, "cert-es", good()) }, "", 200, ""},
		{"scope as a comma list", func() string {
			c := good()
			c.Scope = "restlets,rest_webservices"
			return sign(jwt.SigningMethodES256, ecK, "cert-es", c)
		}, "", 200, ""},
		{"RS256 no longer accepted", func() string { return sign(jwt.SigningMethodRS256, rsaK, "cert-ps", good()) }, "", 400, "invalid_client"},
		{"unknown certificate", func() string { return sign(jwt.SigningMethodPS256, rsaK, "cert-x", good()) }, "", 400, "invalid_client"},
		{"key of another certificate", func() string { return sign(jwt.SigningMethodES256, ecK, "cert-ps", good()) }, "", 400, "invalid_client"},
		{"iss is not the client", func() string {
			c := good()
			c.Issuer = "someone-else"
			return sign(jwt.SigningMethodPS256, rsaK, "cert-ps", c)
		}, "", 400, "invalid_client"},
		{"aud is not the token URL", func() string {
			c := good()
			c.Audience = jwt.ClaimStrings{"https://example.com/token"}
			return sign(jwt.SigningMethodPS256, rsaK, "cert-ps", c)
		}, "", 400, "invalid_client"},
		{"exp more than 60 minutes after iat", func() string {
			c := good()
			c.ExpiresAt = jwt.NewNumericDate(now.Add(61 * time.Minute))
			return sign(jwt.SigningMethodPS256, rsaK, "cert-ps", c)
		}, "", 400, "invalid_grant"},
		{"expired", func() string {
			c := good()
			c.IssuedAt = jwt.NewNumericDate(now.Add(-20 * time.Minute))
			c.ExpiresAt = jwt.NewNumericDate(now.Add(-10 * time.Minute))
			return sign(jwt.SigningMethodPS256, rsaK, "cert-ps", c)
		}, "", 400, "invalid_client"},
		{"no scope", func() string {
			c := good()
			c.Scope = nil
			return sign(jwt.SigningMethodPS256, rsaK, "cert-ps", c)
		}, "", 400, "invalid_scope"},
		{"wrong assertion type", func() string { return sign(jwt.SigningMethodPS256, rsaK, "cert-ps", good()) }, "urn:other", 400, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			typ := c.typ
			if typ == "" {
				typ = ClientAssertionType
			}
			status, m := postForm(t, tokenURL, url.Values{"grant_type": {"client_credentials"},
				"client_assertion_type": {typ}, "client_assertion": {c.assertion()}}, "", "")
			if status != c.status {
				t.Fatalf("status %d, want %d: %v", status, c.status, m)
			}
			if c.err != "" {
				if m["error"] != c.err {
					t.Errorf("error %v, want %s", m["error"], c.err)
				}
				return
			}
			if m["expires_in"] != "3600" || m["token_type"] != "Bearer" || m["refresh_token"] != nil {
				t.Errorf("token response %v", m)
			}
			tok, _ := m["access_token"].(string)
			if parts := strings.Split(tok, "."); len(parts) != 3 {
				t.Fatalf("access token is not a JWT: %q", tok)
			}
			e.token = tok
			if status, _, body := e.do(http.MethodGet, RecordPath+"customer/1001", nil); status != 200 {
				t.Errorf("API call with the token: %d %s", status, body)
			}
		})
	}
}

func TestAccessTokenLifetime(t *testing.T) {
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	e := newEnv(t, Options{AccessTokenLifetime: 2 * time.Minute, Now: now})
	if status, _, _ := e.do(http.MethodGet, RecordPath+"customer/1001", nil); status != 200 {
		t.Fatalf("fresh token refused: %d", status)
	}
	mu.Lock()
	clock = clock.Add(2 * time.Minute)
	mu.Unlock()
	if status, _, _ := e.do(http.MethodGet, RecordPath+"customer/1001", nil); status != 401 {
		t.Errorf("token after its lifetime: %d, want 401", status)
	}
}

// authorize runs the authorize endpoint and returns the redirect.
func authorize(t *testing.T, base string, q url.Values) *url.URL {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(base + AuthorizePath + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d", resp.StatusCode)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestAuthorizationCodeAndRefresh(t *testing.T) {
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	e := newEnv(t, Options{Now: now})
	e.s.AddClient(Client{ID: "conf", Secret: "s3cret", RedirectURIs: []string{"https://app.example/cb"}})
	e.s.AddClient(Client{ID: "pub", Public: true})
	tokenURL := e.srv.URL + TokenPath
	verifier := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	state := "state-0123456789abcdefghij"

	login := func(client, redirect string) string {
		t.Helper()
		u := authorize(t, e.srv.URL, url.Values{"response_type": {"code"}, "client_id": {client}, "redirect_uri": {redirect},
			"scope": {"rest_webservices"}, "state": {state}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}})
		q := u.Query()
		if q.Get("state") != state || q.Get("company") != "1234567" || q.Get("role") == "" || q.Get("code") == "" {
			t.Fatalf("callback %s", u)
		}
		return q.Get("code")
	}

	// Wrong verifier, then the right one; a code is single-use.
	code := login("conf", "https://app.example/cb")
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://app.example/cb"}, "code_verifier": {"wrong-verifier-wrong-verifier-wrong-verifier"}}
	if status, m := postForm(t, tokenURL, form, "conf", "s3cret"); status != 400 || m["error"] != "invalid_grant" {
		t.Errorf("wrong verifier: %d %v", status, m)
	}
	form.Set("code_verifier", verifier)
	if status, m := postForm(t, tokenURL, form, "conf", "wrong"); status != 401 || m["error"] != "invalid_client" {
		t.Errorf("wrong secret: %d %v", status, m)
	}
	status, m := postForm(t, tokenURL, form, "conf", "s3cret")
	if status != 200 || m["refresh_token"] == nil || m["expires_in"] != "3600" {
		t.Fatalf("code exchange: %d %v", status, m)
	}
	if status, m := postForm(t, tokenURL, form, "conf", "s3cret"); status != 400 || m["error"] != "invalid_grant" {
		t.Errorf("code used twice: %d %v", status, m)
	}
	refresh := m["refresh_token"].(string)
	// A confidential client's refresh token is reused until it expires
	// after 7 days.
	for i := range 2 {
		status, m := postForm(t, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}, "conf", "s3cret")
		if status != 200 || m["access_token"] == nil || m["refresh_token"] != nil {
			t.Fatalf("refresh %d: %d %v", i, status, m)
		}
	}
	advance(7*24*time.Hour + time.Second)
	if status, m := postForm(t, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}, "conf", "s3cret"); status != 400 || m["error"] != "invalid_grant" {
		t.Errorf("refresh after 7 days: %d %v", status, m)
	}

	// A public client's refresh tokens rotate.
	pcode := login("pub", "com.example.app:/cb")
	status, m = postForm(t, tokenURL, url.Values{"grant_type": {"authorization_code"}, "client_id": {"pub"}, "code": {pcode},
		"redirect_uri": {"com.example.app:/cb"}, "code_verifier": {verifier}}, "", "")
	if status != 200 {
		t.Fatalf("public exchange: %d %v", status, m)
	}
	old := m["refresh_token"].(string)
	status, m = postForm(t, tokenURL, url.Values{"grant_type": {"refresh_token"}, "client_id": {"pub"}, "refresh_token": {old}}, "", "")
	if status != 200 || m["refresh_token"] == nil || m["refresh_token"] == old {
		t.Fatalf("public refresh: %d %v", status, m)
	}
	if status, m := postForm(t, tokenURL, url.Values{"grant_type": {"refresh_token"}, "client_id": {"pub"}, "refresh_token": {old}}, "", ""); status != 400 || m["error"] != "invalid_grant" {
		t.Errorf("rotated refresh token reused: %d %v", status, m)
	}
}

func TestAuthorizeRefusals(t *testing.T) {
	e := newEnv(t, Options{})
	e.s.AddClient(Client{ID: "conf", Secret: "s"})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := url.Values{"response_type": {"code"}, "client_id": {"conf"}, "redirect_uri": {"https://app.example/cb"},
		"scope": {"rest_webservices"}, "state": {"state-0123456789abcdefghij"}}
	cases := []struct {
		name, key, value string
		status           int
		errCode          string
	}{
		{"http redirect", "redirect_uri", "http://127.0.0.1:9999/callback", 400, ""},
		{"unknown client", "client_id", "nobody", 400, ""},
		{"short state", "state", "short", 302, "invalid_request"},
		{"no known scope", "scope", "email", 302, "invalid_scope"},
		{"token response type", "response_type", "token", 302, "unsupported_response_type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := url.Values{}
			for k, v := range base {
				q[k] = v
			}
			q.Set(c.key, c.value)
			resp, err := client.Get(e.srv.URL + AuthorizePath + "?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			if c.errCode != "" {
				u, _ := url.Parse(resp.Header.Get("Location"))
				if u.Query().Get("error") != c.errCode {
					t.Errorf("redirect %s, want error=%s", u, c.errCode)
				}
			}
		})
	}
}

// signTBA builds an OAuth 1.0a Authorization header the way a client does.
func signTBA(method, rawURL, realm string, tok TBAToken, nonce string, ts int64, method2 string) string {
	u, _ := url.Parse(rawURL)
	p := map[string]string{"oauth_consumer_key": tok.ConsumerKey, "oauth_token": tok.TokenID, "oauth_nonce": nonce,
		"oauth_timestamp": strconv.FormatInt(ts, 10), "oauth_signature_method": method2, "oauth_version": "1.0"}
	sig := tbaSignature(method, u.Scheme+"://"+u.Host+u.EscapedPath(), u.Query(), p, tok.ConsumerSecret, tok.TokenSecret)
	h := fmt.Sprintf(`OAuth realm="%s"`, realm)
	for _, k := range []string{"oauth_consumer_key", "oauth_token", "oauth_signature_method", "oauth_timestamp", "oauth_nonce", "oauth_version"} {
		h += fmt.Sprintf(`,%s="%s"`, k, oauthEscape(p[k]))
	}
	return h + fmt.Sprintf(`,oauth_signature="%s"`, oauthEscape(sig))
}

func TestTBA(t *testing.T) {
	e := newEnv(t, Options{AccountID: "123456_SB1"})
	tok := TBAToken{ConsumerKey: "ck", ConsumerSecret: "cs", TokenID: "tid", TokenSecret: "ts"}
	e.s.AddTBAToken(tok)
	target := e.srv.URL + RecordPath + "customer/1001?expandSubResources=true"
	now := time.Now().Unix()
	cases := []struct {
		name   string
		header func() string
		status int
		why    string
	}{
		{"valid", func() string { return signTBA("GET", target, "123456_SB1", tok, "nonce-000001", now, "HMAC-SHA256") }, 200, ""},
		{"nonce reused", func() string { return signTBA("GET", target, "123456_SB1", tok, "nonce-000001", now, "HMAC-SHA256") }, 401, "nonce_used"},
		{"bad secret", func() string {
			bad := tok
			bad.TokenSecret = "nope"
			return signTBA("GET", target, "123456_SB1", bad, "nonce-000002", now, "HMAC-SHA256")
		}, 401, "signature_invalid"},
		{"HMAC-SHA1", func() string { return signTBA("GET", target, "123456_SB1", tok, "nonce-000003", now, "HMAC-SHA1") }, 401, "signature_method_rejected"},
		{"wrong realm", func() string { return signTBA("GET", target, "123456-sb1", tok, "nonce-000004", now, "HMAC-SHA256") }, 401, "realm_rejected"},
		{"old timestamp", func() string {
			return signTBA("GET", target, "123456_SB1", tok, "nonce-000005", now-3600, "HMAC-SHA256")
		}, 401, "timestamp_refused"},
		{"short nonce", func() string { return signTBA("GET", target, "123456_SB1", tok, "abc", now, "HMAC-SHA256") }, 401, "nonce_rejected"},
		{"unknown consumer", func() string {
			bad := tok
			bad.ConsumerKey, bad.TokenID = "other", "other"
			return signTBA("GET", target, "123456_SB1", bad, "nonce-000006", now, "HMAC-SHA256")
		}, 401, "consumer_key_unknown"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, target, nil)
			req.Header.Set("Authorization", c.header())
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			if c.why != "" && !strings.Contains(resp.Header.Get("WWW-Authenticate"), c.why) {
				t.Errorf("WWW-Authenticate %q, want %s", resp.Header.Get("WWW-Authenticate"), c.why)
			}
		})
	}
}
