package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/weirhq/weir/plugins/netsuite/sandbox"
	"github.com/weirhq/weir/sdk"
	"github.com/weirhq/weir/sdk/conformance"
)

func TestMain(m *testing.M) {
	code := m.Run()
	conformance.Cleanup()
	os.Exit(code)
}

// connectorBinary builds weir-connector-netsuite once per test binary.
func connectorBinary(t *testing.T) string {
	t.Helper()
	return conformance.Build(t, ".", "weir-connector-netsuite")
}

// nsSandbox is a sandbox served over HTTP, with an M2M certificate whose
// private key the tests sign assertions with, as the host's broker does.
type nsSandbox struct {
	*sandbox.Server
	url      string
	key      *ecdsa.PrivateKey
	clientID string
	certID   string
}

func startSandbox(t *testing.T, opts sandbox.Options) *nsSandbox {
	t.Helper()
	opts.Demo = true
	s := sandbox.New(opts)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sb := &nsSandbox{Server: s, url: srv.URL, key: key, clientID: "weir-test-client", certID: "weir-test-cert"}
	if err := s.AddCertificate(sandbox.Certificate{ID: sb.certID, ClientID: sb.clientID, PublicKey: &key.PublicKey}); err != nil {
		t.Fatal(err)
	}
	return sb
}

// assertToken gets an access token with the client credentials grant and
// an ES256 client assertion, as the host's OAuth broker does.
func (sb *nsSandbox) assertToken() (string, error) {
	tokenURL := sb.url + sandbox.TokenPath
	now := time.Now()
	claims := struct {
		jwt.RegisteredClaims
		Scope []string `json:"scope"`
	}{jwt.RegisteredClaims{Issuer: sb.clientID, Audience: jwt.ClaimStrings{tokenURL}, IssuedAt: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute)), ID: fmt.Sprint(now.UnixNano())}, []string{"rest_webservices"}}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = sb.certID
	assertion, err := tok.SignedString(sb.key)
	if err != nil {
		return "", err
	}
	resp, err := http.PostForm(tokenURL, url.Values{"grant_type": {"client_credentials"},
		"client_assertion_type": {sandbox.ClientAssertionType}, "client_assertion": {assertion}})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		return "", fmt.Errorf("token endpoint: %d %s %v", resp.StatusCode, body.Error, err)
	}
	return body.AccessToken, nil
}

// config returns a connection configuration for the sandbox with extra
// attributes.
func (sb *nsSandbox) config(extra map[string]any) json.RawMessage {
	m := map[string]any{"account_id": sb.AccountID(), "base_url": sb.url, "concurrency_backoff": "20ms"}
	for k, v := range extra {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return b
}

// testHost is a host stand-in: tokens from the sandbox by client
// assertion (a forced refresh asserts again), an optional concurrency
// limiter, and the limit reports received.
type testHost struct {
	sb  *nsSandbox
	sem chan struct{} // nil: Acquire never waits

	mu         sync.Mutex
	token      string
	tokenCalls int
	forced     int
	reports    []sdk.LimitReport
	inFlight   int
	peak       int
	priorities map[sdk.Priority]int
	leases     map[string]func()
	next       int
}

func newTestHost(sb *nsSandbox, concurrency int) *testHost {
	h := &testHost{sb: sb, priorities: map[sdk.Priority]int{}, leases: map[string]func(){}}
	if concurrency > 0 {
		h.sem = make(chan struct{}, concurrency)
	}
	return h
}

// Token returns the current token, asserting for a new one when forced.
func (h *testHost) Token(_ context.Context, force bool) (sdk.Token, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tokenCalls++
	if force {
		h.forced++
	}
	if force || h.token == "" {
		tok, err := h.sb.assertToken()
		if err != nil {
			return sdk.Token{}, err
		}
		h.token = tok
	}
	return sdk.Token{AccessToken: h.token, TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}, nil
}

// Acquire waits for a concurrency slot when the host limits concurrency.
func (h *testHost) Acquire(ctx context.Context, _ int, p sdk.Priority) (func(), error) {
	if h.sem != nil {
		select {
		case h.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	h.mu.Lock()
	h.inFlight++
	h.peak = max(h.peak, h.inFlight)
	h.priorities[p]++
	h.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			h.inFlight--
			h.mu.Unlock()
			if h.sem != nil {
				<-h.sem
			}
		})
	}, nil
}

// Report records a limit report.
func (h *testHost) Report(_ context.Context, r sdk.LimitReport) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reports = append(h.reports, r)
	return nil
}

// services adapts the host to sdk.HostServices, for connector processes.
func (h *testHost) services() sdk.HostServices { return hostServices{h} }

type hostServices struct{ h *testHost }

func (s hostServices) Token(ctx context.Context, force bool) (sdk.Token, error) {
	return s.h.Token(ctx, force)
}

func (s hostServices) Acquire(ctx context.Context, cost int, p sdk.Priority) (string, error) {
	release, err := s.h.Acquire(ctx, cost, p)
	if err != nil {
		return "", err
	}
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	s.h.next++
	lease := fmt.Sprintf("lease-%d", s.h.next)
	s.h.leases[lease] = release
	return lease, nil
}

func (s hostServices) Release(_ context.Context, lease string) error {
	s.h.mu.Lock()
	release := s.h.leases[lease]
	delete(s.h.leases, lease)
	s.h.mu.Unlock()
	if release == nil {
		return fmt.Errorf("unknown lease %q", lease)
	}
	release()
	return nil
}

func (s hostServices) Report(ctx context.Context, r sdk.LimitReport) error { return s.h.Report(ctx, r) }

// newConnector configures a connector in this process.
func newConnector(t *testing.T, cfg json.RawMessage, host sdk.Host) *connector {
	t.Helper()
	c := &connector{log: slog.New(slog.DiscardHandler)}
	if err := c.Configure(t.Context(), sdk.Config{Connection: "test", Raw: cfg}, host); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return c
}

// process is a connector process started as the host starts it.
type process struct {
	client *sdk.Client
	pc     *plugin.Client
}

// startProcess starts the connector binary with host services of the
// test's choosing (the kit's Start always grants at once).
func startProcess(t *testing.T, cfg json.RawMessage, host sdk.HostServices) *process {
	t.Helper()
	cmd := exec.Command(connectorBinary(t))
	cmd.Env = []string{}
	pcfg := sdk.ClientConfig(cmd)
	pcfg.Logger = hclog.NewNullLogger()
	pc := plugin.NewClient(pcfg)
	t.Cleanup(pc.Kill)
	client, err := sdk.Dispense(pc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := client.Configure(ctx, sdk.Config{Connection: "test", Raw: cfg}, host); err != nil {
		t.Fatal(err)
	}
	return &process{client: client, pc: pc}
}

// orderPayload is a sales order with lines.
func orderPayload(ext string, lines ...string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"externalId":%q,"entity":{"externalId":"ACC-0001"},"subsidiary":{"id":"1"},"item":{"items":[%s]}}`,
		ext, strings.Join(lines, ",")))
}

// decodeJSON decodes a JSON object keeping numbers.
func decodeJSON(t *testing.T, data []byte) map[string]any {
	t.Helper()
	m, err := decodeObject(data)
	if err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return m
}

// at returns the value at a dotted path with [i] indexes.
func at(v any, p string) any {
	for _, part := range strings.Split(p, ".") {
		name, idx, hasIdx := strings.Cut(part, "[")
		if name != "" {
			m, _ := v.(map[string]any)
			v = m[name]
		}
		if hasIdx {
			var i int
			fmt.Sscanf(strings.TrimSuffix(idx, "]"), "%d", &i)
			a, _ := v.([]any)
			if i >= len(a) {
				return nil
			}
			v = a[i]
		}
	}
	return v
}
