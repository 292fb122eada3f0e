package oauthtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	keysOnce sync.Once
	rsaKey   *rsa.PrivateKey
	rsaKey2  *rsa.PrivateKey
	ecKey    *ecdsa.PrivateKey
)

func keys(t *testing.T) {
	t.Helper()
	keysOnce.Do(func() {
		rsaKey, _ = rsa.GenerateKey(rand.Reader, 2048)
		rsaKey2, _ = rsa.GenerateKey(rand.Reader, 2048)
		ecKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	})
}

// post sends a token request and decodes the JSON answer.
func post(t *testing.T, u string, form url.Values, basicID, basicSecret string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return resp.StatusCode, body
}

func sign(t *testing.T, m jwt.SigningMethod, key any, kid string, claims jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestClientAssertion(t *testing.T) {
	keys(t)
	s := NewServer(Options{})
	defer s.Close()
	s.AddClient(Client{ID: "ns-rsa", PublicKey: &rsaKey.PublicKey, CertificateID: "cert-rsa"})
	s.AddClient(Client{ID: "ns-ec", PublicKey: &ecKey.PublicKey, CertificateID: "cert-ec"})
	now := time.Now()
	claims := func(iss string, mod func(*jwt.RegisteredClaims)) jwt.RegisteredClaims {
		c := jwt.RegisteredClaims{Issuer: iss, Audience: jwt.ClaimStrings{s.TokenURL()}, ID: randomString(8),
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(10 * time.Minute))}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	replayed := sign(t, jwt.SigningMethodPS256, rsaKey, "cert-rsa", claims("ns-rsa", nil))
	tests := []struct {
		name      string
		assertion string
		wantCode  string // "" for success
	}{
		{"PS256", sign(t, jwt.SigningMethodPS256, rsaKey, "cert-rsa", claims("ns-rsa", nil)), ""},
		{"ES256", sign(t, jwt.SigningMethodES256, ecKey, "cert-ec", claims("ns-ec", nil)), ""},
		{"replay 1st", replayed, ""},
		{"replay 2nd", replayed, "invalid_client"},
		{"RS256 refused", sign(t, jwt.SigningMethodRS256, rsaKey, "cert-rsa", claims("ns-rsa", nil)), "invalid_client"},
		{"wrong kid", sign(t, jwt.SigningMethodPS256, rsaKey, "other", claims("ns-rsa", nil)), "invalid_client"},
		{"unknown issuer", sign(t, jwt.SigningMethodPS256, rsaKey, "cert-rsa", claims("nobody", nil)), "invalid_client"},
		{"other key", sign(t, jwt.SigningMethodPS256, rsaKey2, "cert-rsa", claims("ns-rsa", nil)), "invalid_client"},
		{"wrong aud", sign(t, jwt.SigningMethodPS256, rsaKey, "cert-rsa", claims("ns-rsa", func(c *jwt.RegisteredClaims) {
			c.Audience = jwt.ClaimStrings{"https://elsewhere/token"}
		})), "invalid_client"},
		{"exp over 60 min after iat", sign(t, jwt.SigningMethodPS256, rsaKey, "cert-rsa", claims("ns-rsa", func(c *jwt.RegisteredClaims) {
			c.ExpiresAt = jwt.NewNumericDate(now.Add(61 * time.Minute))
		})), "invalid_client"},
		{"expired", sign(t, jwt.SigningMethodPS256, rsaKey, "cert-rsa", claims("ns-rsa", func(c *jwt.RegisteredClaims) {
			c.IssuedAt, c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Hour)), jwt.NewNumericDate(now.Add(-time.Minute))
		})), "invalid_client"},
		{"no iat", sign(t, jwt.SigningMethodPS256, rsaKey, "cert-rsa", claims("ns-rsa", func(c *jwt.RegisteredClaims) { c.IssuedAt = nil })), "invalid_client"},
		{"no jti", sign(t, jwt.SigningMethodPS256, rsaKey, "cert-rsa", claims("ns-rsa", func(c *jwt.RegisteredClaims) { c.ID = "" })), "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, s.TokenURL(), url.Values{"grant_type": {GrantClientCredentials},
				"client_assertion_type": {AssertionTypeJWTBearer}, "client_assertion": {tt.assertion}}, "", "")
			if tt.wantCode == "" {
				if status != 200 || body["access_token"] == nil || body["refresh_token"] != nil {
					t.Fatalf("got %d %v, want a token without refresh token", status, body)
				}
				return
			}
			if body["error"] != tt.wantCode || body["error_description"] == "" {
				t.Fatalf("got %d %v, want error %s", status, body, tt.wantCode)
			}
		})
	}
	if got := s.Calls(GrantClientCredentials); got != len(tests) {
		t.Errorf("Calls = %d, want %d", got, len(tests))
	}
}

func TestJWTBearer(t *testing.T) {
	keys(t)
	s := NewServer(Options{ExpiresIn: ExpiresInNone, Extra: map[string]string{"instance_url": "https://na1.example"}})
	defer s.Close()
	s.AddClient(Client{ID: "sf", PublicKey: &rsaKey.PublicKey, Users: []string{"int@acme.example"}})
	now := time.Now()
	claims := func(mod func(*jwt.RegisteredClaims)) jwt.RegisteredClaims {
		c := jwt.RegisteredClaims{Issuer: "sf", Subject: "int@acme.example", Audience: jwt.ClaimStrings{s.URL},
			ExpiresAt: jwt.NewNumericDate(now.Add(2 * time.Minute))}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	tests := []struct {
		name, assertion, wantDesc string
	}{
		{"ok", sign(t, jwt.SigningMethodRS256, rsaKey, "", claims(nil)), ""},
		{"wrong aud", sign(t, jwt.SigningMethodRS256, rsaKey, "", claims(func(c *jwt.RegisteredClaims) {
			c.Audience = jwt.ClaimStrings{"https://login.salesforce.com"}
		})), "audience is invalid"},
		{"exp over 3 min", sign(t, jwt.SigningMethodRS256, rsaKey, "", claims(func(c *jwt.RegisteredClaims) {
			c.ExpiresAt = jwt.NewNumericDate(now.Add(10 * time.Minute))
		})), "expired authorization code"},
		{"unknown user", sign(t, jwt.SigningMethodRS256, rsaKey, "", claims(func(c *jwt.RegisteredClaims) { c.Subject = "x@y" })),
			"user hasn't approved this consumer"},
		{"PS256 refused", sign(t, jwt.SigningMethodPS256, rsaKey, "", claims(nil)), "invalid assertion"},
		{"other key", sign(t, jwt.SigningMethodRS256, rsaKey2, "", claims(nil)), "invalid assertion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, s.TokenURL(), url.Values{"grant_type": {GrantJWTBearer}, "assertion": {tt.assertion}}, "", "")
			if tt.wantDesc == "" {
				if status != 200 || body["instance_url"] != "https://na1.example" || body["expires_in"] != nil || body["refresh_token"] != nil {
					t.Fatalf("got %d %v", status, body)
				}
				return
			}
			if status != 400 || body["error"] != "invalid_grant" || !strings.Contains(body["error_description"].(string), tt.wantDesc) {
				t.Fatalf("got %d %v, want invalid_grant %q", status, body, tt.wantDesc)
			}
		})
	}
}

// authorize runs /authorize without following the redirect and returns
// the code.
func authorize(t *testing.T, s *Server, q url.Values) url.Values {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(s.AuthorizeURL() + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %s", resp.Status)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	return loc.Query()
}

func challenge(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestAuthorizationCodePKCE(t *testing.T) {
	s := NewServer(Options{AutoApprove: true})
	defer s.Close()
	s.AddClient(Client{ID: "app", Secret: "s3cret", RequirePKCE: true})
	const redirect = "http://127.0.0.1:4242/callback"
	verifier := "verifier-" + randomString(32)
	tests := []struct {
		name      string
		verifier  string
		reuseCode bool
		wantCode  string
	}{
		{"right verifier", verifier, false, ""},
		{"wrong verifier", "other-" + randomString(32), false, "invalid_request"},
		{"missing verifier", "", false, "invalid_grant"},
		{"code used twice", verifier, true, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := authorize(t, s, url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {redirect},
				"state": {"st-1"}, "code_challenge": {challenge(verifier)}, "code_challenge_method": {"S256"}})
			if q.Get("state") != "st-1" || q.Get("code") == "" {
				t.Fatalf("redirect query %v", q)
			}
			form := url.Values{"grant_type": {GrantAuthorizationCode}, "code": {q.Get("code")}, "redirect_uri": {redirect}}
			if tt.verifier != "" {
				form.Set("code_verifier", tt.verifier)
			}
			if tt.reuseCode {
				if st, body := post(t, s.TokenURL(), form, "app", "s3cret"); st != 200 {
					t.Fatalf("first use: %d %v", st, body)
				}
			}
			status, body := post(t, s.TokenURL(), form, "app", "s3cret")
			if tt.wantCode == "" {
				if status != 200 || body["refresh_token"] == nil {
					t.Fatalf("got %d %v", status, body)
				}
				return
			}
			if body["error"] != tt.wantCode {
				t.Fatalf("got %d %v, want %s", status, body, tt.wantCode)
			}
		})
	}
	t.Run("no challenge refused", func(t *testing.T) {
		q := authorize(t, s, url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {redirect}, "state": {"x"}})
		if q.Get("error") != "invalid_request" || q.Get("code") != "" {
			t.Fatalf("redirect query %v", q)
		}
	})
}

func TestRefreshRotationRevokesChain(t *testing.T) {
	s := NewServer(Options{AutoApprove: true, RotateRefreshTokens: true})
	defer s.Close()
	s.AddClient(Client{ID: "app", Secret: "s3cret"})
	const redirect = "http://127.0.0.1:4242/callback"
	q := authorize(t, s, url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {redirect}})
	_, body := post(t, s.TokenURL(), url.Values{"grant_type": {GrantAuthorizationCode}, "code": {q.Get("code")}, "redirect_uri": {redirect}}, "app", "s3cret")
	rt1 := body["refresh_token"].(string)
	refresh := func(rt string) (int, map[string]any) {
		return post(t, s.TokenURL(), url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {rt}, "client_id": {"app"}, "client_secret": {"s3cret"}}, "", "")
	}
	st, body := refresh(rt1)
	rt2, _ := body["refresh_token"].(string)
	at2, _ := body["access_token"].(string)
	if st != 200 || rt2 == "" || rt2 == rt1 {
		t.Fatalf("refresh: %d %v", st, body)
	}
	if _, ok := s.Validate(at2); !ok {
		t.Fatal("new access token not valid")
	}
	if st, body := refresh(rt1); st != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("reuse: %d %v", st, body)
	}
	if st, body := refresh(rt2); st != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("after reuse, the current refresh token still works: %d %v", st, body)
	}
	if _, ok := s.Validate(at2); ok {
		t.Fatal("after reuse, the chain's access token is still valid")
	}
	if got := s.Calls(GrantRefreshToken); got != 3 {
		t.Errorf("refresh calls = %d, want 3", got)
	}
}

func TestTokenResponses(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		id       string
		basic    bool
		methods  []string
		wantCode string
		want     any // expires_in
	}{
		{"number", Options{AccessTokenLifetime: time.Hour}, "app", true, nil, "", float64(3600)},
		{"string", Options{ExpiresIn: ExpiresInString, AccessTokenLifetime: time.Hour}, "app", false, nil, "", "3600"},
		{"none", Options{ExpiresIn: ExpiresInNone}, "app", true, nil, "", nil},
		{"basic only refuses post", Options{}, "app", false, []string{AuthBasic}, "invalid_client", nil},
		{"wrong secret", Options{}, "app-wrong", true, nil, "invalid_client", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(tt.opts)
			defer s.Close()
			s.AddClient(Client{ID: "app", Secret: "s3cret", AuthMethods: tt.methods})
			s.AddClient(Client{ID: "app-wrong", Secret: "other"})
			form := url.Values{"grant_type": {GrantClientCredentials}}
			var status int
			var body map[string]any
			if tt.basic {
				status, body = post(t, s.TokenURL(), form, tt.id, "s3cret")
			} else {
				form.Set("client_id", tt.id)
				form.Set("client_secret", "s3cret")
				status, body = post(t, s.TokenURL(), form, "", "")
			}
			if tt.wantCode != "" {
				if status != 401 || body["error"] != tt.wantCode {
					t.Fatalf("got %d %v, want %s", status, body, tt.wantCode)
				}
				return
			}
			if status != 200 || body["expires_in"] != tt.want || body["token_type"] != "Bearer" {
				t.Fatalf("got %d %v, want expires_in %v", status, body, tt.want)
			}
		})
	}
}

func TestFailNext(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	s.AddClient(Client{ID: "app", Secret: "s3cret"})
	s.FailNext(1, 503)
	form := url.Values{"grant_type": {GrantClientCredentials}}
	if st, body := post(t, s.TokenURL(), form, "app", "s3cret"); st != 503 || body["error"] != "server_error" {
		t.Fatalf("got %d %v", st, body)
	}
	if st, _ := post(t, s.TokenURL(), form, "app", "s3cret"); st != 200 {
		t.Fatalf("second call: %d", st)
	}
}
