package oauth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/host/logging"
	"github.com/weirhq/weir/host/oauth"
	"github.com/weirhq/weir/host/oauth/oauthtest"
	"github.com/weirhq/weir/host/store"
	"github.com/weirhq/weir/sdk"
)

func TestLogin(t *testing.T) {
	f := newFixture(t, oauthtest.Options{RotateRefreshTokens: true, ExpiresIn: oauthtest.ExpiresInNone})
	b := f.broker("host-a", f.crm())
	ctx := context.Background()

	l, err := b.StartLogin(ctx, "crm", oauth.LoginOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(l.URL())
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || len(q.Get("state")) < 22 ||
		q.Get("redirect_uri") != l.RedirectURL() || q.Get("client_id") != crmClientID || q.Get("scope") != "api refresh_token" {
		t.Fatalf("authorization URL query %v", q)
	}
	if !strings.HasPrefix(l.RedirectURL(), "http://127.0.0.1:") || !strings.HasSuffix(l.RedirectURL(), "/callback") {
		t.Fatalf("redirect URL %s", l.RedirectURL())
	}
	resp, err := http.Get(l.URL()) // the browser: authorize, then the redirect to the callback
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("callback: %s", resp.Status)
	}
	res, err := l.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !res.RefreshToken || !res.Expiry.Equal(f.clk.Now().Add(oauth.DefaultSessionLifetime)) {
		t.Fatalf("result %+v", res)
	}
	if got := f.srv.Calls(oauthtest.GrantAuthorizationCode); got != 1 {
		t.Fatalf("code exchanges = %d", got)
	}
	// A second callback is refused: the server is one-shot.
	if resp, err := http.Get(l.RedirectURL() + "?state=x&code=y"); err == nil {
		resp.Body.Close()
		t.Fatalf("callback still served after the login: %s", resp.Status)
	}

	// Another host's broker reads the stored tokens: no request.
	b2 := f.broker("host-b", f.crm())
	tok, err := b2.Token(ctx, "crm", false)
	if err != nil {
		t.Fatal(err)
	}
	if at, ok := f.srv.Validate(tok.AccessToken); !ok || at.Grant != oauthtest.GrantAuthorizationCode {
		t.Fatalf("token not valid at the server: %+v", at)
	}
	if tok.TokenType != "Bearer" || tok.Extra["instance_url"] != "https://na1.example.test" || !tok.Expiry.Equal(res.Expiry) {
		t.Fatalf("token %+v", tok)
	}
	if f.srv.Calls(oauthtest.GrantRefreshToken) != 0 {
		t.Fatal("a fresh login was refreshed")
	}
	sts, err := b2.Status(ctx)
	if err != nil || len(sts) != 1 || sts[0].State != oauth.StateValid || !sts[0].RefreshToken || sts[0].LoggedIn.IsZero() {
		t.Fatalf("status %+v %v", sts, err)
	}
}

func TestLoginRefused(t *testing.T) {
	tests := []struct {
		name    string
		query   func(url.Values) // changes the redirect's query
		wantErr error
		wantMsg string
	}{
		{"wrong state", func(q url.Values) { q.Set("state", "forged-state-value-0123456789") }, oauth.ErrStateMismatch, ""},
		{"no state", func(q url.Values) { q.Del("state") }, oauth.ErrStateMismatch, ""},
		{"error from server", func(q url.Values) { q.Del("code"); q.Set("error", "access_denied") }, nil, "access_denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, oauthtest.Options{})
			b := f.broker("host-a", f.crm())
			ctx := context.Background()
			l, err := b.StartLogin(ctx, "crm", oauth.LoginOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := noFollow.Get(l.URL())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc, _ := url.Parse(resp.Header.Get("Location"))
			q := loc.Query()
			tt.query(q)
			loc.RawQuery = q.Encode()
			resp, err = http.Get(loc.String())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("callback answered %s", resp.Status)
			}
			_, err = l.Wait(ctx)
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Wait: %v", err)
			}
			if _, err := f.st.Get(ctx, oauth.Namespace, "token/crm"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("tokens stored after a refused login: %v", err)
			}
			if got := f.srv.Calls(oauthtest.GrantAuthorizationCode); got != 0 {
				t.Fatalf("code exchanged %d times", got)
			}
		})
	}
}

func TestLoginOnlyForAuthorizationCode(t *testing.T) {
	f := newFixture(t, oauthtest.Options{})
	b := f.broker("h", oauth.Connection{Name: "erp", Flow: "basic", Username: "u", Password: "secret-password"})
	if _, err := b.StartLogin(context.Background(), "erp", oauth.LoginOptions{}); err == nil || !strings.Contains(err.Error(), "needs no login") {
		t.Fatalf("StartLogin: %v", err)
	}
}

func TestFlows(t *testing.T) {
	type check func(t *testing.T, f *fixture, tok sdk.Token)
	valid := func(grant string) check {
		return func(t *testing.T, f *fixture, tok sdk.Token) {
			at, ok := f.srv.Validate(tok.AccessToken)
			if !ok || at.Grant != grant || tok.TokenType != "Bearer" {
				t.Fatalf("token %+v not valid at the server for %s (%+v)", tok, grant, at)
			}
		}
	}
	tests := []struct {
		name   string
		client oauthtest.Client
		conn   oauth.Connection
		check  check
		auth   map[string]int // client authentications seen by the server
	}{
		{
			name:   "client credentials, Basic",
			client: oauthtest.Client{ID: "cc", Secret: "cc-s3cret-value", AuthMethods: []string{oauthtest.AuthBasic}},
			conn:   oauth.Connection{Flow: "client_credentials", ClientID: "cc", ClientSecret: "cc-s3cret-value", AuthStyle: oauth.AuthStyleBasic},
			check:  valid(oauthtest.GrantClientCredentials),
			auth:   map[string]int{oauthtest.AuthBasic: 1, oauthtest.AuthPost: 0},
		},
		{
			name:   "client credentials, in the body",
			client: oauthtest.Client{ID: "cc", Secret: "cc-s3cret-value", AuthMethods: []string{oauthtest.AuthPost}},
			conn:   oauth.Connection{Flow: "client_credentials", ClientID: "cc", ClientSecret: "cc-s3cret-value", AuthStyle: oauth.AuthStyleBody},
			check:  valid(oauthtest.GrantClientCredentials),
			auth:   map[string]int{oauthtest.AuthBasic: 0, oauthtest.AuthPost: 1},
		},
		{
			name:   "client credentials, auto falls back to the body",
			client: oauthtest.Client{ID: "cc", Secret: "cc-s3cret-value", AuthMethods: []string{oauthtest.AuthPost}},
			conn:   oauth.Connection{Flow: "client_credentials", ClientID: "cc", ClientSecret: "cc-s3cret-value"},
			check:  valid(oauthtest.GrantClientCredentials),
			auth:   map[string]int{oauthtest.AuthBasic: 1, oauthtest.AuthPost: 1},
		},
		{
			name:   "client credentials JWT, PS256",
			client: oauthtest.Client{ID: "ns", CertificateID: "cert-1"},
			conn:   oauth.Connection{Flow: "client_credentials_jwt", ClientID: "ns", CertificateID: "cert-1", Scopes: []string{"rest_webservices"}},
			check:  valid(oauthtest.GrantClientCredentials),
			auth:   map[string]int{oauthtest.AuthAssertion: 1},
		},
		{
			name:   "client credentials JWT, ES256",
			client: oauthtest.Client{ID: "ns", CertificateID: "cert-ec"},
			conn:   oauth.Connection{Flow: "client_credentials_jwt", ClientID: "ns", CertificateID: "cert-ec"},
			check:  valid(oauthtest.GrantClientCredentials),
			auth:   map[string]int{oauthtest.AuthAssertion: 1},
		},
		{
			name:   "client credentials with a private key only",
			client: oauthtest.Client{ID: "ns", CertificateID: "cert-1"},
			conn:   oauth.Connection{Flow: "client_credentials", ClientID: "ns", CertificateID: "cert-1"},
			check:  valid(oauthtest.GrantClientCredentials),
			auth:   map[string]int{oauthtest.AuthAssertion: 1},
		},
		{
			name:   "JWT bearer, RS256",
			client: oauthtest.Client{ID: "sf", Users: []string{"integration@acme.test"}},
			conn:   oauth.Connection{Flow: "jwt_bearer", ClientID: "sf", Username: "integration@acme.test"},
			check: func(t *testing.T, f *fixture, tok sdk.Token) {
				valid(oauthtest.GrantJWTBearer)(t, f, tok)
				if tok.Extra["instance_url"] != "https://na1.example.test" {
					t.Fatalf("extra %v", tok.Extra)
				}
			},
		},
		{
			name: "basic",
			conn: oauth.Connection{Flow: "basic", Username: "COMM_USER", Password: "basic-passw0rd"},
			check: func(t *testing.T, f *fixture, tok sdk.Token) {
				if tok.TokenType != "Basic" || tok.AccessToken != base64.StdEncoding.EncodeToString([]byte("COMM_USER:basic-passw0rd")) || !tok.Expiry.IsZero() {
					t.Fatalf("token %+v", tok)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, oauthtest.Options{ExpiresIn: oauthtest.ExpiresInString})
			conn := tt.conn
			conn.Name = "erp"
			conn.TokenURL = f.srv.TokenURL()
			switch {
			case tt.client.CertificateID == "cert-ec":
				conn.PrivateKey, tt.client.PublicKey = ecSEC1, &ecKey.PublicKey
			case conn.Flow == "jwt_bearer":
				conn.PrivateKey, tt.client.PublicKey = rsaPKCS1, &rsaKey.PublicKey
			case tt.client.CertificateID != "":
				conn.PrivateKey, tt.client.PublicKey = rsaPKCS8, &rsaKey.PublicKey
			}
			if tt.client.ID != "" {
				f.srv.AddClient(tt.client)
			}
			b := f.broker("h", conn)
			tok, err := b.Token(context.Background(), "erp", false)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, f, tok)
			for m, n := range tt.auth {
				if got := f.srv.ClientAuth(m); got != n {
					t.Errorf("client authentications %s = %d, want %d", m, got, n)
				}
			}
			// Cached until due; then fetched again (the auto-detected auth
			// style is remembered).
			if again := token(t, b, "erp", false); again != tok.AccessToken {
				t.Fatal("token not cached")
			}
			f.clk.Add(59 * time.Minute)
			if again := token(t, b, "erp", false); again == tok.AccessToken && conn.Flow != "basic" {
				t.Fatal("due token not replaced")
			}
			if tt.name == "client credentials, auto falls back to the body" && f.srv.ClientAuth(oauthtest.AuthBasic) != 1 {
				t.Fatal("auth style not remembered")
			}
		})
	}
}

func TestFlowSetupErrors(t *testing.T) {
	testKeys(t)
	tests := []struct {
		name string
		conn oauth.Connection
		keys bool
		want string
	}{
		{"jwt_bearer with an EC key", oauth.Connection{Flow: "jwt_bearer", ClientID: "c", Username: "u", PrivateKey: ecSEC1, TokenURL: "http://x/t"}, true, "RS256"},
		{"no PEM", oauth.Connection{Flow: "client_credentials_jwt", ClientID: "c", PrivateKey: "not a key", TokenURL: "http://x/t"}, true, "no PEM"},
		{"no token URL", oauth.Connection{Flow: "client_credentials", ClientID: "c", ClientSecret: "s"}, true, "token_url"},
		{"authorization code without key", oauth.Connection{Flow: "authorization_code", ClientID: "c", TokenURL: "http://x/t", AuthorizationURL: "http://x/a"}, false, oauth.EnvSecretKey},
		{"unknown flow", oauth.Connection{Flow: "password", ClientID: "c", TokenURL: "http://x/t"}, true, "unknown flow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.conn.Name = "erp"
			f := newFixture(t, oauthtest.Options{})
			opts := oauth.Options{}
			if !tt.keys {
				opts.Keys, _ = oauth.NewKeyring(nil)
			}
			_, err := f.newBroker(opts, tt.conn)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "connection erp") {
				t.Fatalf("New: %v, want an error about %s", err, tt.want)
			}
			if !tt.keys && !errors.Is(err, oauth.ErrNoKey) {
				t.Fatalf("%v does not match ErrNoKey", err)
			}
			for _, p := range []string{ecSEC1, rsaPKCS8} {
				if strings.Contains(err.Error(), strings.Split(p, "\n")[2]) {
					t.Fatal("the error quotes the private key")
				}
			}
		})
	}
}

func TestAssertionRefusedIsNotRetryable(t *testing.T) {
	f := newFixture(t, oauthtest.Options{})
	f.srv.AddClient(oauthtest.Client{ID: "ns", CertificateID: "cert-1", PublicKey: &rsaKey.PublicKey})
	b := f.broker("h", oauth.Connection{Name: "erp", Flow: "client_credentials_jwt", ClientID: "ns", CertificateID: "wrong-cert",
		PrivateKey: rsaPKCS8, TokenURL: f.srv.TokenURL()})
	_, err := b.Token(context.Background(), "erp", false)
	if e := sdk.Classify(err); e == nil || e.Status != sdk.StatusAuthExpired || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("Token: %v", err)
	}
}

func TestExpiry(t *testing.T) {
	tests := []struct {
		name     string
		opts     oauthtest.Options
		session  time.Duration
		lifetime time.Duration
	}{
		{"expires_in number", oauthtest.Options{AccessTokenLifetime: 50 * time.Minute, ExpiresIn: oauthtest.ExpiresInNumber}, 0, 50 * time.Minute},
		{"expires_in string", oauthtest.Options{AccessTokenLifetime: 40 * time.Minute, ExpiresIn: oauthtest.ExpiresInString}, 0, 40 * time.Minute},
		{"no expires_in, session lifetime", oauthtest.Options{ExpiresIn: oauthtest.ExpiresInNone}, 30 * time.Minute, 30 * time.Minute},
		{"no expires_in, default", oauthtest.Options{ExpiresIn: oauthtest.ExpiresInNone}, 0, oauth.DefaultSessionLifetime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.opts)
			f.srv.AddClient(oauthtest.Client{ID: "cc", Secret: "cc-s3cret-value"})
			crm := f.crm()
			crm.SessionLifetime = tt.session
			b := f.broker("h", crm, oauth.Connection{Name: "erp", Flow: "client_credentials", ClientID: "cc", ClientSecret: "cc-s3cret-value",
				TokenURL: f.srv.TokenURL(), SessionLifetime: tt.session})
			want := f.clk.Now().Add(tt.lifetime)
			if res := f.login(b, "crm"); !res.Expiry.Equal(want) {
				t.Errorf("login expiry %s, want %s", res.Expiry, want)
			}
			for _, conn := range []string{"crm", "erp"} {
				tok, err := b.Token(context.Background(), conn, false)
				if err != nil {
					t.Fatal(err)
				}
				if !tok.Expiry.Equal(want) {
					t.Errorf("%s: expiry %s, want %s", conn, tok.Expiry, want)
				}
			}
		})
	}
}

func TestRefreshAheadOfExpiry(t *testing.T) {
	f := newFixture(t, oauthtest.Options{AccessTokenLifetime: time.Hour, RotateRefreshTokens: true})
	b := f.broker("h", f.crm())
	f.login(b, "crm")
	t1 := token(t, b, "crm", false)
	steps := []struct {
		advance  time.Duration
		refresh  int  // refresh calls so far
		newToken bool // a new access token is handed out
	}{
		{30 * time.Minute, 0, false},
		{24 * time.Minute, 0, false}, // 54 min: not yet within 5 min of expiry
		{2 * time.Minute, 1, true},   // 56 min: refreshed ahead
		{10 * time.Minute, 1, false}, // the new token is good for an hour
	}
	prev := t1
	for i, s := range steps {
		f.clk.Add(s.advance)
		got := token(t, b, "crm", false)
		if n := f.srv.Calls(oauthtest.GrantRefreshToken); n != s.refresh {
			t.Fatalf("step %d: %d refresh calls, want %d", i, n, s.refresh)
		}
		if (got != prev) != s.newToken {
			t.Fatalf("step %d: new token = %v, want %v", i, got != prev, s.newToken)
		}
		if _, ok := f.srv.Validate(got); !ok {
			t.Fatalf("step %d: token not valid", i)
		}
		prev = got
	}
}

func TestForceRefresh(t *testing.T) {
	f := newFixture(t, oauthtest.Options{RotateRefreshTokens: true})
	b := f.broker("h", f.crm())
	f.login(b, "crm")
	t1 := token(t, b, "crm", false)
	// A refusal right after the token was obtained does not refresh again.
	if got := token(t, b, "crm", true); got != t1 || f.srv.Calls(oauthtest.GrantRefreshToken) != 0 {
		t.Fatal("a forced refresh of a brand-new token refreshed")
	}
	f.clk.Add(10 * time.Second)
	t2 := token(t, b, "crm", true)
	if t2 == t1 || f.srv.Calls(oauthtest.GrantRefreshToken) != 1 {
		t.Fatalf("forced refresh: new=%v calls=%d", t2 != t1, f.srv.Calls(oauthtest.GrantRefreshToken))
	}
	if token(t, b, "crm", false) != t2 {
		t.Fatal("refreshed token not kept")
	}
}

func TestLoginRequired(t *testing.T) {
	tests := []struct {
		name  string
		opts  oauthtest.Options
		login bool
		after func(f *fixture) // after the login
		force bool
	}{
		{"never logged in", oauthtest.Options{}, false, func(*fixture) {}, false},
		{"revoked", oauthtest.Options{}, true, func(f *fixture) { f.srv.RevokeAll(); f.clk.Add(2 * time.Hour) }, false},
		{"revoked, vendor refuses the access token", oauthtest.Options{}, true, func(f *fixture) { f.srv.RevokeAll(); f.clk.Add(time.Minute) }, true},
		{"refresh token expired", oauthtest.Options{RefreshTokenLifetime: 7 * 24 * time.Hour}, true, func(f *fixture) { f.clk.Add(8 * 24 * time.Hour) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.opts)
			b := f.broker("h", f.crm())
			if tt.login {
				f.login(b, "crm")
				token(t, b, "crm", false)
			}
			tt.after(f)
			_, err := b.Token(context.Background(), "crm", tt.force)
			e := sdk.Classify(err)
			if e == nil || e.Status != sdk.StatusAuthExpired || !errors.Is(err, oauth.ErrLoginRequired) ||
				!strings.Contains(err.Error(), `run "weir auth login crm"`) {
				t.Fatalf("Token: %v", err)
			}
			// Another host does not send the refused refresh token again.
			calls := f.srv.Calls(oauthtest.GrantRefreshToken)
			b2 := f.broker("h2", f.crm())
			_, err = b2.Token(context.Background(), "crm", false)
			if tt.force {
				// The stored access token looks valid until the vendor
				// refuses it on this host too.
				f.clk.Add(10 * time.Second)
				_, err = b2.Token(context.Background(), "crm", true)
			}
			if !errors.Is(err, oauth.ErrLoginRequired) {
				t.Fatalf("second host: %v", err)
			}
			if got := f.srv.Calls(oauthtest.GrantRefreshToken); got != calls {
				t.Fatalf("the refused refresh token was sent again (%d calls, was %d)", got, calls)
			}
			sts, _ := b.Status(context.Background())
			if sts[0].State != oauth.StateNeedsLogin {
				t.Fatalf("status %+v", sts[0])
			}
			// A new login fixes it, for every host.
			f.login(b, "crm")
			f.clk.Add(6 * time.Second)
			tok, err := b2.Token(context.Background(), "crm", true)
			if err != nil {
				t.Fatalf("after a new login: %v", err)
			}
			if _, ok := f.srv.Validate(tok.AccessToken); !ok {
				t.Fatal("after a new login: token not valid")
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	t.Run("5xx from the token endpoint", func(t *testing.T) {
		f := newFixture(t, oauthtest.Options{})
		f.srv.AddClient(oauthtest.Client{ID: "cc", Secret: "cc-s3cret-value"})
		b := f.broker("h", oauth.Connection{Name: "erp", Flow: "client_credentials", ClientID: "cc", ClientSecret: "cc-s3cret-value", TokenURL: f.srv.TokenURL()})
		f.srv.FailNext(1, http.StatusServiceUnavailable)
		_, err := b.Token(context.Background(), "erp", false)
		if e := sdk.Classify(err); e.Status != sdk.StatusRetryable || !strings.Contains(err.Error(), "503") {
			t.Fatalf("Token: %v", err)
		}
		f.clk.Add(2 * time.Second) // past the backoff
		token(t, b, "erp", false)
	})
	t.Run("network", func(t *testing.T) {
		f := newFixture(t, oauthtest.Options{})
		b := f.broker("h", oauth.Connection{Name: "erp", Flow: "client_credentials", ClientID: "cc", ClientSecret: "cc-s3cret-value",
			TokenURL: "http://127.0.0.1:1/token"})
		_, err := b.Token(context.Background(), "erp", false)
		if e := sdk.Classify(err); e.Status != sdk.StatusRetryable {
			t.Fatalf("Token: %v", err)
		}
	})
	t.Run("refresh fails while the token is still valid", func(t *testing.T) {
		f := newFixture(t, oauthtest.Options{RotateRefreshTokens: true})
		b := f.broker("h", f.crm())
		f.login(b, "crm")
		t1 := token(t, b, "crm", false)
		f.clk.Add(56 * time.Minute)
		f.srv.FailNext(1, http.StatusInternalServerError)
		if got := token(t, b, "crm", false); got != t1 {
			t.Fatal("the still valid token was not handed out")
		}
		f.clk.Add(5 * time.Minute) // expired now
		f.srv.FailNext(1, http.StatusBadGateway)
		_, err := b.Token(context.Background(), "crm", false)
		if e := sdk.Classify(err); e.Status != sdk.StatusRetryable {
			t.Fatalf("Token: %v", err)
		}
		f.clk.Add(5 * time.Second)
		if got := token(t, b, "crm", false); got == t1 {
			t.Fatal("not refreshed once the server is back")
		}
	})
}

func TestSecretsForRedaction(t *testing.T) {
	f := newFixture(t, oauthtest.Options{RotateRefreshTokens: true})
	b := f.broker("h", f.crm(), oauth.Connection{Name: "sap", Flow: "basic", Username: "COMM", Password: "sap-passw0rd"})
	f.login(b, "crm")
	t1 := token(t, b, "crm", false)
	f.clk.Add(time.Hour)
	t2 := token(t, b, "crm", false)
	secrets := b.Secrets()
	for _, want := range []string{t1, t2, base64.StdEncoding.EncodeToString([]byte("COMM:sap-passw0rd"))} {
		if !containsString(secrets, want) {
			t.Errorf("Secrets lacks a live credential")
		}
	}
	var rts int
	for _, s := range f.srv.Secrets() {
		if strings.HasPrefix(s, "rt-") && containsString(secrets, s) {
			rts++
		}
	}
	if rts == 0 {
		t.Error("Secrets lacks the refresh token")
	}
	var out syncBuffer
	log := slog.New(logging.Redact(slog.NewTextHandler(&out, nil), b.Secrets))
	log.Info("calling vendor", "authorization", "Bearer "+t2)
	if strings.Contains(out.String(), t2) || !strings.Contains(out.String(), logging.Redacted) {
		t.Fatalf("not redacted: %s", out.String())
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
