package oauth_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirhq/weir/host/api"
	"github.com/weirhq/weir/host/cli"
	"github.com/weirhq/weir/host/oauth"
	"github.com/weirhq/weir/host/oauth/oauthtest"
	"github.com/weirhq/weir/host/store/bolt"
)

// TestCLILoginThroughDaemon runs weir auth login while a daemon holds the
// embedded store: the daemon runs the login over its admin API and keeps
// the tokens; the CLI shows the URL and waits, and needs no key.
func TestCLILoginThroughDaemon(t *testing.T) {
	f := newFixture(t, oauthtest.Options{})
	dir := t.TempDir()
	// The daemon: it holds the store and serves the admin API.
	st, err := bolt.Open(filepath.Join(dir, "data"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b, err := f.newBroker(oauth.Options{Store: st}, f.crm())
	if err != nil {
		t.Fatal(err)
	}
	logins := oauth.NewLogins(b)
	t.Cleanup(logins.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: api.New(api.Options{Token: "admin-t0ken", Logins: logins, Logger: f.logger()})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	file := filepath.Join(dir, "pipeline.hcl")
	cfg := fmt.Sprintf(`
api {
  listen = %q
  token  = env("WEIR_API_TOKEN")
}

store {
  dir = "data"
}

connection "salesforce" "crm" {
  oauth2 {
    flow              = "authorization_code"
    client_id         = %q
    client_secret     = env("TEST_CRM_SECRET")
    scopes            = ["api", "refresh_token"]
    token_url         = %q
    authorization_url = %q
  }
}
`, ln.Addr().String(), crmClientID, f.srv.TokenURL(), f.srv.AuthorizeURL())
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_CRM_SECRET", crmClientSecret)
	t.Setenv("DISPLAY", "")
	t.Setenv(oauth.EnvSecretKey, "") // the CLI needs no key: the daemon stores the tokens
	t.Setenv(oauth.EnvSecretKeyFile, "")

	login := func(token string) (chan int, *syncBuffer) {
		t.Setenv(cli.APITokenEnv, token)
		var out syncBuffer
		f.checkOutput(out.String)
		done := make(chan int, 1)
		go func() {
			done <- cli.Main(context.Background(), []string{"auth", "login", "crm", "-config", file, "-no-browser", "-timeout", "10s"}, &out, &out)
		}()
		return done, &out
	}

	// Without the admin token the daemon refuses.
	done, out := login("")
	if code := <-done; code == 0 || !strings.Contains(out.String(), cli.APITokenEnv) {
		t.Fatalf("login without the API token exited %d:\n%s", code, out.String())
	}

	done, out = login("admin-t0ken")
	authURL := waitForURL(t, out, f.srv.AuthorizeURL())
	resp, err := http.Get(authURL) // the browser
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if code := <-done; code != 0 || resp.StatusCode != 200 {
		t.Fatalf("login exited %d, callback %s %s:\n%s", code, resp.Status, page, out.String())
	}
	if !strings.Contains(out.String(), "A weir daemon holds the store") || !strings.Contains(out.String(), "logged in to crm: access token valid until") {
		t.Fatalf("login output:\n%s", out.String())
	}
	// The daemon has the tokens.
	if tok := token(t, b, "crm", false); tok == "" {
		t.Fatal("the daemon has no access token after the login")
	}
	if st, ok := logins.State("crm"); !ok || st.State != oauth.LoginDone || !st.RefreshToken {
		t.Fatalf("daemon login state = %+v, %v", st, ok)
	}

	// weir auth status asks the daemon too.
	var status syncBuffer
	f.checkOutput(status.String)
	if code := cli.Main(context.Background(), []string{"auth", "status", "-config", file}, &status, &status); code != 0 ||
		!regexpLine(status.String(), "crm", "authorization_code", oauth.StateValid) {
		t.Fatalf("auth status exited %d:\n%s", code, status.String())
	}
}
