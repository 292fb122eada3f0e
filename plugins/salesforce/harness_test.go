package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/weirhq/weir/plugins/salesforce/sandbox"
	"github.com/weirhq/weir/sdk"
	"github.com/weirhq/weir/sdk/conformance"
)

func TestMain(m *testing.M) {
	code := m.Run()
	conformance.Cleanup()
	os.Exit(code)
}

// binary builds the connector once per test process.
func binary(t *testing.T) string {
	t.Helper()
	return conformance.Build(t, ".", "weir-connector-salesforce")
}

// org is a sandbox served by httptest.
type org struct {
	*sandbox.Server
	url string
}

func newOrg(t *testing.T, opts sandbox.Options) *org {
	t.Helper()
	s := sandbox.New(opts)
	hs := httptest.NewServer(s)
	s.SetURL(hs.URL)
	t.Cleanup(func() {
		hs.Close()
		s.Close()
	})
	return &org{Server: s, url: hs.URL}
}

// tokenResponse is the part of a token response the test host keeps.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	InstanceURL  string `json:"instance_url"`
	ID           string `json:"id"`
	TokenType    string `json:"token_type"`
	IssuedAt     string `json:"issued_at"`
}

// host is the host services a connector under test gets: tokens from the
// sandbox, refreshed (with rotation when the sandbox rotates) when the
// connector forces a refresh, a limiter that grants every request and
// counts leases, and the limit reports.
type host struct {
	org *org
	// token, when set, hands out the tokens instead (an OAuth broker).
	token func(ctx context.Context, force bool) (sdk.Token, error)

	mu       sync.Mutex
	tok      tokenResponse
	refresh  int // refreshes done
	forced   int // forced Token calls
	leases   map[string]bool
	next     int
	acquired int
	reports  []sdk.LimitReport
	errs     []string
}

var _ sdk.HostServices = (*host)(nil)

// newHost logs in to the org (as `weir auth login` would have) and returns
// host services holding the tokens.
func newHost(t *testing.T, o *org) *host {
	t.Helper()
	h := &host{org: o, leases: map[string]bool{}}
	raw, err := o.TokenResponse("")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &h.tok); err != nil {
		t.Fatal(err)
	}
	return h
}

// Token returns the access token, refreshing it first when forced.
func (h *host) Token(ctx context.Context, force bool) (sdk.Token, error) {
	if h.token != nil {
		if force {
			h.mu.Lock()
			h.forced++
			h.mu.Unlock()
		}
		return h.token(ctx, force)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if force {
		h.forced++
		resp, err := http.PostForm(h.org.url+"/services/oauth2/token", url.Values{
			"grant_type": {"refresh_token"}, "refresh_token": {h.tok.RefreshToken},
			"client_id": {sandbox.DefaultClientID}, "client_secret": {sandbox.DefaultClientSecret},
		})
		if err != nil {
			return sdk.Token{}, sdk.Retryable(err, 0)
		}
		defer resp.Body.Close()
		var next tokenResponse
		if err := json.NewDecoder(resp.Body).Decode(&next); err != nil || resp.StatusCode != 200 || next.AccessToken == "" {
			return sdk.Token{}, sdk.AuthExpired(fmt.Errorf("refresh: HTTP %d", resp.StatusCode))
		}
		if next.RefreshToken == "" {
			next.RefreshToken = h.tok.RefreshToken // no rotation
		}
		h.tok = next
		h.refresh++
	}
	return sdk.Token{AccessToken: h.tok.AccessToken, TokenType: h.tok.TokenType, Expiry: time.Now().Add(time.Hour),
		Extra: map[string]string{"instance_url": h.tok.InstanceURL, "id": h.tok.ID, "issued_at": h.tok.IssuedAt}}, nil
}

// Acquire grants at once.
func (h *host) Acquire(context.Context, int, sdk.Priority) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.next++
	l := fmt.Sprintf("lease-%d", h.next)
	h.leases[l] = true
	h.acquired++
	return l, nil
}

// Release returns a lease.
func (h *host) Release(_ context.Context, lease string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.leases[lease] {
		h.errs = append(h.errs, "lease released twice or never acquired: "+lease)
		return fmt.Errorf("unknown lease %q", lease)
	}
	delete(h.leases, lease)
	return nil
}

// Report records a limit report.
func (h *host) Report(_ context.Context, r sdk.LimitReport) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reports = append(h.reports, r)
	return nil
}

// reportsOf returns the reports of a kind.
func (h *host) reportsOf(kind sdk.LimitKind) []sdk.LimitReport {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []sdk.LimitReport
	for _, r := range h.reports {
		if r.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

func (h *host) counts() (refreshes, forced, acquired int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.refresh, h.forced, h.acquired
}

// start launches the connector as the host does and configures it with
// cfg and the host services h. The process stops when t ends, and t fails
// if a lease was mishandled.
func start(t *testing.T, h *host, cfg map[string]any) *sdk.Client {
	t.Helper()
	cmd := exec.Command(binary(t))
	cmd.Env = []string{}
	pc := sdk.ClientConfig(cmd)
	pc.Logger = hclog.New(&hclog.LoggerOptions{Name: "host", Output: testWriter{t}, Level: hclog.Warn})
	client := plugin.NewClient(pc)
	t.Cleanup(func() {
		client.Kill()
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, e := range h.errs {
			t.Error(e)
		}
		for l := range h.leases {
			t.Errorf("lease %s never released", l)
		}
	})
	c, err := sdk.Dispense(client)
	if err != nil {
		t.Fatal(err)
	}
	if cfg == nil {
		cfg = map[string]any{}
	}
	raw, _ := json.Marshal(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Configure(ctx, sdk.Config{Connection: "crm", Raw: raw}, h); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return c
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", p)
	return len(p), nil
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func source(v map[string]any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
