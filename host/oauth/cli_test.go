package oauth_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/host/cli"
	"github.com/weirhq/weir/host/oauth"
	"github.com/weirhq/weir/host/oauth/oauthtest"
)

// TestCLI runs weir auth login, status and rotate-key as a user would, the
// browser being an HTTP client, and checks that no secret, token, key or
// code verifier appears in anything they print.
func TestCLI(t *testing.T) {
	f := newFixture(t, oauthtest.Options{RotateRefreshTokens: true, ExpiresIn: oauthtest.ExpiresInNone})
	f.srv.AddClient(oauthtest.Client{ID: "ns", CertificateID: "cert-1", PublicKey: &ecKey.PublicKey})
	dir := t.TempDir()
	file := filepath.Join(dir, "pipeline.hcl")
	cfg := fmt.Sprintf(`
connection "salesforce" "crm" {
  oauth2 {
    flow              = "authorization_code"
    client_id         = %q
    client_secret     = env("TEST_CRM_SECRET")
    scopes            = ["api", "refresh_token"]
    token_url         = %q
    authorization_url = %q
    session_lifetime  = "45m"
  }
}

connection "netsuite" "erp" {
  oauth2 {
    flow           = "client_credentials"
    client_id      = "ns"
    private_key    = env("TEST_NS_KEY")
    certificate_id = "cert-1"
    token_url      = %q
  }
}
`, crmClientID, f.srv.TokenURL(), f.srv.AuthorizeURL(), f.srv.TokenURL())
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_CRM_SECRET", crmClientSecret)
	t.Setenv("TEST_NS_KEY", ecSEC1)
	t.Setenv("DISPLAY", "")
	t.Setenv(oauth.EnvSecretKey, base64.StdEncoding.EncodeToString(f.key))
	t.Setenv(oauth.EnvSecretKeyFile, "")
	t.Setenv(oauth.EnvSecretKeyOld, "")
	t.Setenv(oauth.EnvSecretKeyOldFile, "")

	run := func(args ...string) (int, string) {
		t.Helper()
		var out syncBuffer
		code := cli.Main(context.Background(), args, &out, &out)
		f.checkOutput(out.String)
		return code, out.String()
	}

	// weir auth login crm: follow the printed URL like a browser.
	var out syncBuffer
	f.checkOutput(out.String)
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(context.Background(), []string{"auth", "login", "crm", "-config", file, "-no-browser", "-timeout", "10s"}, &out, &out)
	}()
	authURL := waitForURL(t, &out, f.srv.AuthorizeURL())
	resp, err := http.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if code := <-done; code != 0 || resp.StatusCode != 200 {
		t.Fatalf("login exited %d, callback %s %s:\n%s", code, resp.Status, page, out.String())
	}
	if !strings.Contains(out.String(), "logged in to crm: access token valid until") {
		t.Fatalf("login output:\n%s", out.String())
	}
	if f.srv.Calls(oauthtest.GrantAuthorizationCode) != 1 {
		t.Fatal("no code exchange")
	}

	code, status := run("auth", "status", "-config", file)
	if code != 0 || !regexpLine(status, "crm", "authorization_code", oauth.StateValid) || !regexpLine(status, "erp", "client_credentials", oauth.StateNotFetched) {
		t.Fatalf("status exited %d:\n%s", code, status)
	}

	// Rotate to a new key; the old one is then refused.
	newKey := make([]byte, oauth.KeySize)
	rand.Read(newKey)
	t.Cleanup(func() {
		for _, o := range f.outputs {
			if strings.Contains(o(), base64.StdEncoding.EncodeToString(newKey)) {
				t.Error("the new key leaked")
			}
		}
	})
	t.Setenv(oauth.EnvSecretKey, base64.StdEncoding.EncodeToString(newKey))
	code, outText := run("auth", "rotate-key", "-config", file)
	if code != 2 || !strings.Contains(outText, oauth.EnvSecretKeyOld) {
		t.Fatalf("rotate-key without the old key exited %d:\n%s", code, outText)
	}
	t.Setenv(oauth.EnvSecretKeyOld, base64.StdEncoding.EncodeToString(f.key))
	code, outText = run("auth", "rotate-key", "-config", file)
	if code != 0 || !strings.Contains(outText, "re-encrypted the tokens of crm with key id "+oauth.KeyID(newKey)) {
		t.Fatalf("rotate-key exited %d:\n%s", code, outText)
	}
	t.Setenv(oauth.EnvSecretKeyOld, "")
	if code, status = run("auth", "status", "-config", file); code != 0 || !regexpLine(status, "crm", oauth.StateValid) {
		t.Fatalf("status with the new key exited %d:\n%s", code, status)
	}
	t.Setenv(oauth.EnvSecretKey, base64.StdEncoding.EncodeToString(f.key))
	if code, status = run("auth", "status", "-config", file); code != 0 || !regexpLine(status, "crm", oauth.StateKeyMismatch) {
		t.Fatalf("status with the old key exited %d:\n%s", code, status)
	}

	// Without a key, login refuses to start.
	t.Setenv(oauth.EnvSecretKey, "")
	code, outText = run("auth", "login", "crm", "-config", file, "-no-browser")
	if code != 2 || !strings.Contains(outText, oauth.EnvSecretKey) {
		t.Fatalf("login without a key exited %d:\n%s", code, outText)
	}
	// A connection that needs no login.
	t.Setenv(oauth.EnvSecretKey, base64.StdEncoding.EncodeToString(newKey))
	if code, outText = run("auth", "login", "erp", "-config", file); code != 2 || !strings.Contains(outText, "needs no login") {
		t.Fatalf("login erp exited %d:\n%s", code, outText)
	}
}

// waitForURL waits for the login command to print the authorization URL.
func waitForURL(t *testing.T, out *syncBuffer, prefix string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(out.String(), "\n") {
			if l := strings.TrimSpace(line); strings.HasPrefix(l, prefix) {
				return l
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no authorization URL printed:\n%s", out.String())
	return ""
}

// regexpLine reports whether a line of text holds every field, in order.
func regexpLine(text string, fields ...string) bool {
	for _, line := range strings.Split(text, "\n") {
		rest, ok := line, true
		for _, f := range fields {
			i := strings.Index(rest, f)
			if i < 0 {
				ok = false
				break
			}
			rest = rest[i+len(f):]
		}
		if ok {
			return true
		}
	}
	return false
}
