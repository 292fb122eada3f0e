package oauth_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirhq/weir/host/oauth"
	"github.com/weirhq/weir/host/oauth/oauthtest"
	"github.com/weirhq/weir/host/store/bolt"
)

// Test keys, generated once for the package.
var (
	keysOnce sync.Once
	rsaKey   *rsa.PrivateKey
	ecKey    *ecdsa.PrivateKey
	rsaPKCS8 string // PEM "PRIVATE KEY"
	rsaPKCS1 string // PEM "RSA PRIVATE KEY"
	ecSEC1   string // PEM "EC PRIVATE KEY"
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		rsaKey, _ = rsa.GenerateKey(rand.Reader, 2048)
		ecKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		p8, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
		rsaPKCS8 = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}))
		rsaPKCS1 = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}))
		sec1, _ := x509.MarshalECPrivateKey(ecKey)
		ecSEC1 = string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}))
	})
}

// clock is a settable clock shared by the server and the brokers.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer collects output written from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Client registered for the authorization code connection "crm".
const (
	crmClientID     = "weir-crm"
	crmClientSecret = "crm-client-s3cret-value"
)

// fixture is an authorization server, a store, a key and a log shared by
// the brokers of a test. At cleanup it checks that no secret the server
// saw or issued, no private key and no encryption key reached the log or
// any output registered with checkOutput.
type fixture struct {
	t       *testing.T
	srv     *oauthtest.Server
	clk     *clock
	st      *bolt.Store
	key     []byte
	keys    *oauth.Keyring
	logs    *syncBuffer
	outputs []func() string
}

func newFixture(t *testing.T, opts oauthtest.Options) *fixture {
	t.Helper()
	testKeys(t)
	clk := newClock()
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	opts.AutoApprove = true
	if opts.Extra == nil {
		opts.Extra = map[string]string{"instance_url": "https://na1.example.test"}
	}
	srv := oauthtest.NewServer(opts)
	t.Cleanup(srv.Close)
	srv.AddClient(oauthtest.Client{ID: crmClientID, Secret: crmClientSecret, RequirePKCE: true})
	st, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key := make([]byte, oauth.KeySize)
	rand.Read(key)
	keys, err := oauth.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, srv: srv, clk: clk, st: st, key: key, keys: keys, logs: &syncBuffer{}}
	f.outputs = append(f.outputs, f.logs.String)
	t.Cleanup(f.checkNoLeaks)
	return f
}

// checkOutput adds an output to the leak check.
func (f *fixture) checkOutput(out func() string) { f.outputs = append(f.outputs, out) }

func (f *fixture) checkNoLeaks() {
	secrets := f.srv.Secrets()
	secrets = append(secrets, base64.StdEncoding.EncodeToString(f.key), base64.RawURLEncoding.EncodeToString(f.key))
	for _, p := range []string{rsaPKCS8, rsaPKCS1, ecSEC1} {
		// A line of the key body is enough to spot it.
		secrets = append(secrets, strings.Split(p, "\n")[2])
	}
	for i, out := range f.outputs {
		text := out()
		for _, s := range secrets {
			if len(s) >= 8 && strings.Contains(text, s) {
				f.t.Errorf("output %d leaks a secret (%.12s...):\n%s", i, s, text)
			}
		}
	}
}

func (f *fixture) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// broker returns a broker on the fixture's store, key and clock.
func (f *fixture) broker(owner string, conns ...oauth.Connection) *oauth.Broker {
	f.t.Helper()
	b, err := f.newBroker(oauth.Options{Owner: owner}, conns...)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

func (f *fixture) newBroker(opts oauth.Options, conns ...oauth.Connection) (*oauth.Broker, error) {
	if opts.Store == nil {
		opts.Store = f.st
	}
	if opts.Keys == nil {
		opts.Keys = f.keys
	}
	opts.Logger = f.logger()
	opts.Now = f.clk.Now
	return oauth.New(opts, conns)
}

// crm is the authorization code connection.
func (f *fixture) crm() oauth.Connection {
	return oauth.Connection{Name: "crm", Flow: "authorization_code", ClientID: crmClientID, ClientSecret: crmClientSecret,
		Scopes: []string{"api", "refresh_token"}, TokenURL: f.srv.TokenURL(), AuthorizationURL: f.srv.AuthorizeURL()}
}

// login runs `weir auth login` in-process: the browser is an HTTP client
// that follows the authorization server's redirect to the callback.
func (f *fixture) login(b *oauth.Broker, name string) oauth.LoginResult {
	f.t.Helper()
	return login(f.t, b, name)
}

func login(t *testing.T, b *oauth.Broker, name string) oauth.LoginResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := b.StartLogin(ctx, name, oauth.LoginOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	resp, err := http.Get(l.URL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("callback answered %s: %s", resp.Status, body)
	}
	res, err := l.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// token calls Token and fails the test on error.
func token(t *testing.T, b *oauth.Broker, conn string, force bool) string {
	t.Helper()
	tok, err := b.Token(context.Background(), conn, force)
	if err != nil {
		t.Fatalf("Token(%s, force=%v): %v", conn, force, err)
	}
	return tok.AccessToken
}
