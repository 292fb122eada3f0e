package main

import (
	"context"
	"crypto/rand"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/host/oauth"
	"github.com/weirhq/weir/host/store/bolt"
	"github.com/weirhq/weir/plugins/salesforce/sandbox"
	"github.com/weirhq/weir/sdk"
)

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// browser logs in on the sandbox's authorize page as a user would: open
// the login URL, fill in the form, allow, and follow the redirect to the
// callback. It returns the callback's answer.
func browser(t *testing.T, loginURL, username, password string) string {
	t.Helper()
	resp, err := http.Get(loginURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `name="password"`) {
		t.Fatalf("login page: %d %s", resp.StatusCode, page)
	}
	form := url.Values{"username": {username}, "password": {password}, "action": {"allow"}}
	for _, m := range hiddenRE.FindAllStringSubmatch(string(page), -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	u, _ := url.Parse(loginURL)
	resp, err = http.PostForm(u.Scheme+"://"+u.Host+"/services/oauth2/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return string(body)
}

// TestAuthLogin: `weir auth login` through the sandbox's HTML form (PKCE),
// then the connector runs on the broker's tokens: the session expires, the
// connector's 401 makes the broker refresh (rotating the refresh token),
// and reads go on.
func TestAuthLogin(t *testing.T) {
	o := newOrg(t, sandbox.Options{RefreshRotation: true})
	if _, err := o.Seed(accounts(4, "L", nil)...); err != nil {
		t.Fatal(err)
	}
	st, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key := make([]byte, oauth.KeySize)
	_, _ = rand.Read(key)
	keys, err := oauth.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := oauth.New(oauth.Options{Store: st, Keys: keys, MinForceInterval: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, []oauth.Connection{{
		Name: "crm", Flow: "authorization_code", ClientID: sandbox.DefaultClientID, ClientSecret: sandbox.DefaultClientSecret,
		Scopes: []string{"api", "refresh_token"}, TokenURL: o.url + "/services/oauth2/token", AuthorizationURL: o.url + "/services/oauth2/authorize",
	}})
	if err != nil {
		t.Fatal(err)
	}
	c0, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := b.StartLogin(c0, "crm", oauth.LoginOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if u := l.URL(); !strings.Contains(u, "code_challenge_method=S256") || !strings.Contains(u, "code_challenge=") {
		t.Errorf("login URL without PKCE: %s", u)
	}
	if answer := browser(t, l.URL(), sandbox.DefaultUsername, sandbox.DefaultPassword); !strings.Contains(answer, "Logged in to crm") {
		t.Fatalf("callback: %s", answer)
	}
	res, err := l.Wait(c0)
	if err != nil || !res.RefreshToken {
		t.Fatalf("login: %+v %v", res, err)
	}

	h := &host{org: o, leases: map[string]bool{}, token: func(ctx context.Context, force bool) (sdk.Token, error) {
		return b.Token(ctx, "crm", force)
	}}
	c := start(t, h, nil)
	r := &reader{t: t, c: c, src: source(map[string]any{"object": "Account", "key_field": "ExternalId__c"})}
	got := 0
	for range 3 {
		res, err := r.read(2)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		got += len(res.Records)
		o.ExpireTokens()
	}
	if got != 4 {
		t.Errorf("%d records read, want 4", got)
	}
	if _, forced, _ := h.counts(); forced < 2 {
		t.Errorf("%d forced refreshes, want at least 2", forced)
	}
}
