package sandbox

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"html"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
)

var inputRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// login drives the authorize page as a browser would: GET the form, POST
// it back with the credentials, and return the redirect's query.
func login(t *testing.T, authURL, username, password, action string) url.Values {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `<form method="post"`) {
		t.Fatalf("authorize page: %d %s", resp.StatusCode, page)
	}
	form := url.Values{"username": {username}, "password": {password}, "action": {action}}
	for _, m := range inputRE.FindAllStringSubmatch(string(page), -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	u, _ := url.Parse(authURL)
	resp, err = client.PostForm(u.Scheme+"://"+u.Host+"/services/oauth2/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return url.Values{"page": {string(body)}}
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc.Query()
}

func oauthConfig(base string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: DefaultClientID, ClientSecret: DefaultClientSecret,
		Endpoint:    oauth2.Endpoint{AuthURL: base + "/services/oauth2/authorize", TokenURL: base + "/services/oauth2/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: "http://127.0.0.1:43123/callback",
		Scopes:      []string{"api", "refresh_token"},
	}
}

func oauthError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode + ": " + re.ErrorDescription
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestWebServerFlowPKCE(t *testing.T) {
	e := newEnv(t, Options{})
	conf := oauthConfig(e.url)
	ctx := context.Background()
	tests := []struct {
		name     string
		password string
		action   string
		verifier func(v string) []oauth2.AuthCodeOption
		want     string // token error, "" for success
		redirect string // error in the redirect
	}{
		{name: "ok", password: DefaultPassword, action: "allow", verifier: func(v string) []oauth2.AuthCodeOption { return []oauth2.AuthCodeOption{oauth2.VerifierOption(v)} }},
		{name: "wrong verifier", password: DefaultPassword, action: "allow", verifier: func(string) []oauth2.AuthCodeOption {
			return []oauth2.AuthCodeOption{oauth2.VerifierOption(oauth2.GenerateVerifier())}
		}, want: "invalid_request: invalid code verifier"},
		{name: "missing verifier", password: DefaultPassword, action: "allow", verifier: func(string) []oauth2.AuthCodeOption { return nil }, want: "invalid_grant: invalid code verifier"},
		{name: "denied", password: DefaultPassword, action: "deny", redirect: "access_denied"},
		{name: "bad password", password: "nope", action: "allow", redirect: "page"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verifier := oauth2.GenerateVerifier()
			q := login(t, conf.AuthCodeURL("st&te", oauth2.S256ChallengeOption(verifier)), DefaultUsername, tt.password, tt.action)
			switch {
			case tt.redirect == "page":
				if !strings.Contains(q.Get("page"), "check your username and password") {
					t.Fatalf("bad password: %v", q)
				}
				return
			case tt.redirect != "":
				if q.Get("error") != tt.redirect || q.Get("state") != "st&te" {
					t.Fatalf("redirect %v", q)
				}
				return
			case q.Get("state") != "st&te" || q.Get("code") == "":
				t.Fatalf("redirect %v", q)
			}
			tok, err := conf.Exchange(ctx, q.Get("code"), tt.verifier(verifier)...)
			if got := oauthError(err); got != tt.want {
				t.Fatalf("exchange: %q, want %q", got, tt.want)
			}
			if err != nil {
				return
			}
			checkTokenResponse(t, e.url, tok)
			// The code is single-use.
			if _, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); oauthError(err) != "invalid_grant: expired authorization code" {
				t.Errorf("code reused: %v", err)
			}
		})
	}
}

func checkTokenResponse(t *testing.T, base string, tok *oauth2.Token) {
	t.Helper()
	if tok.RefreshToken == "" || tok.TokenType != "Bearer" || !tok.Expiry.IsZero() {
		t.Errorf("token %+v: want a refresh token, Bearer, no expiry", tok)
	}
	if tok.Extra("expires_in") != nil {
		t.Error("the response has expires_in")
	}
	if tok.Extra("instance_url") != base {
		t.Errorf("instance_url %v", tok.Extra("instance_url"))
	}
	issued, ok := tok.Extra("issued_at").(string)
	ms, err := strconv.ParseInt(issued, 10, 64)
	if !ok || err != nil || time.Since(time.UnixMilli(ms)) > time.Minute {
		t.Errorf("issued_at %v is not a millisecond string", tok.Extra("issued_at"))
	}
	id := tok.Extra("id").(string)
	if !strings.HasPrefix(id, base+"/id/"+DefaultOrgID+"/005") {
		t.Errorf("id %q", id)
	}
	mac := hmac.New(sha256.New, []byte(DefaultClientSecret))
	mac.Write([]byte(id + issued))
	if got := tok.Extra("signature"); got != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
		t.Errorf("signature %v", got)
	}
}

func TestRefreshRotation(t *testing.T) {
	for _, rotation := range []bool{false, true} {
		t.Run("rotation="+strconv.FormatBool(rotation), func(t *testing.T) {
			e := newEnv(t, Options{RefreshRotation: rotation})
			var first struct {
				AccessToken  string `json:"access_token"`
				RefreshToken string `json:"refresh_token"`
			}
			e.do("POST", "/_sandbox/token", "", &first, 200)
			refresh := func(rt string) (map[string]any, int) {
				resp, err := http.PostForm(e.url+"/services/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}})
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var m map[string]any
				_ = json.NewDecoder(resp.Body).Decode(&m)
				return m, resp.StatusCode
			}
			second, code := refresh(first.RefreshToken)
			if code != 200 {
				t.Fatalf("refresh: %d %v", code, second)
			}
			_, hasRT := second["refresh_token"]
			if hasRT != rotation {
				t.Fatalf("refresh_token in the response: %v, rotation %v", hasRT, rotation)
			}
			again, code := refresh(first.RefreshToken)
			if !rotation {
				if code != 200 {
					t.Fatalf("reuse without rotation: %d %v", code, again)
				}
				return
			}
			if code != 400 || again["error"] != "invalid_grant" || again["error_description"] != "expired access/refresh token" {
				t.Fatalf("reuse of a rotated refresh token: %d %v", code, again)
			}
			// The chain is revoked: the newest refresh token and the access
			// tokens of the chain are dead.
			if m, code := refresh(second["refresh_token"].(string)); code != 400 {
				t.Errorf("the chain's newest refresh token still works: %v", m)
			}
			e.token = second["access_token"].(string)
			var errs []apiErrorJSON
			e.do("GET", v+"/limits", "", &errs, 401)
			if errs[0].ErrorCode != "INVALID_SESSION_ID" || errs[0].Message != "Session expired or invalid" {
				t.Errorf("revoked token: %+v", errs)
			}
		})
	}
}

func TestAccessTokenExpiry(t *testing.T) {
	e := newEnv(t, Options{AccessTokenLifetime: 50 * time.Millisecond})
	e.do("GET", v+"/limits", "", nil, 200)
	time.Sleep(60 * time.Millisecond)
	_, body := e.do("GET", v+"/limits", "", nil, 401)
	if string(body) != `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]` {
		t.Errorf("body %s", body)
	}
}

// certificate returns a key and its self-signed certificate in PEM.
func certificate(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "weir"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestJWTBearer(t *testing.T) {
	key, cert := certificate(t)
	other, _ := certificate(t)
	e := newEnv(t, Options{Clients: []Client{
		{ID: "jwt-app", Secret: "s", Certificate: cert, PreAuthorized: true},
		{ID: "jwt-unapproved", Secret: "s", Certificate: cert},
	}})
	tests := []struct {
		name   string
		claims jwt.MapClaims
		key    *rsa.PrivateKey
		want   string
	}{
		{"ok", jwt.MapClaims{"iss": "jwt-app", "sub": DefaultUsername, "aud": "https://login.salesforce.com", "exp": time.Now().Add(2 * time.Minute).Unix()}, key, ""},
		{"sandbox audience", jwt.MapClaims{"iss": "jwt-app", "sub": DefaultUsername, "aud": e.url, "exp": time.Now().Add(time.Minute).Unix()}, key, ""},
		{"audience", jwt.MapClaims{"iss": "jwt-app", "sub": DefaultUsername, "aud": "https://example.com", "exp": time.Now().Add(time.Minute).Unix()}, key, "invalid_grant: audience is invalid"},
		{"expired", jwt.MapClaims{"iss": "jwt-app", "sub": DefaultUsername, "aud": "https://login.salesforce.com", "exp": time.Now().Add(-time.Hour).Unix()}, key, "invalid_grant: expired authorization code"},
		{"wrong key", jwt.MapClaims{"iss": "jwt-app", "sub": DefaultUsername, "aud": "https://login.salesforce.com", "exp": time.Now().Add(time.Minute).Unix()}, other, "invalid_grant: invalid assertion"},
		{"not approved", jwt.MapClaims{"iss": "jwt-unapproved", "sub": DefaultUsername, "aud": "https://login.salesforce.com", "exp": time.Now().Add(time.Minute).Unix()}, key, "invalid_grant: user hasn't approved this consumer"},
		{"unknown client", jwt.MapClaims{"iss": "nobody", "sub": DefaultUsername, "aud": "https://login.salesforce.com", "exp": time.Now().Add(time.Minute).Unix()}, key, "invalid_client_id: client identifier invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertion, err := jwt.NewWithClaims(jwt.SigningMethodRS256, tt.claims).SignedString(tt.key)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.PostForm(e.url+"/services/oauth2/token", url.Values{"grant_type": {GrantJWTBearer}, "assertion": {assertion}})
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&m)
			resp.Body.Close()
			got := ""
			if m["error"] != nil {
				got = m["error"].(string) + ": " + m["error_description"].(string)
			}
			if got != tt.want {
				t.Fatalf("got %q (%v), want %q", got, m, tt.want)
			}
			if got == "" {
				if m["refresh_token"] != nil || m["instance_url"] != e.url || m["token_type"] != "Bearer" || m["access_token"] == nil {
					t.Errorf("response %v", m)
				}
			}
		})
	}
}

// TestStandalone: Start serves the sandbox on an address, as `weir sandbox
// salesforce` does; the default client gets tokens by client credentials,
// with Basic authentication as x/oauth2 sends it.
func TestStandalone(t *testing.T) {
	s := New(Options{})
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	conf := oauthConfig(base)
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	_, err = conf.PasswordCredentialsToken(context.Background(), "nobody", "x")
	if oauthError(err) != "invalid_grant: authentication failure" {
		t.Errorf("password flow with a bad user: %v", err)
	}
	form := url.Values{"grant_type": {GrantClientCredentials}}
	req, _ := http.NewRequest("POST", base+"/services/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(DefaultClientID, DefaultClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if m["access_token"] == nil || m["instance_url"] != base {
		t.Fatalf("client credentials: %v", m)
	}
	req, _ = http.NewRequest("GET", base+"/services/data/v61.0/query?q="+url.QueryEscape("SELECT COUNT() FROM Order"), nil)
	req.Header.Set("Authorization", "Bearer "+m["access_token"].(string))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if m["totalSize"] != float64(6) {
		t.Errorf("orders: %v", m)
	}
}
