package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
)

// echo is a connector that reads back what was written and uses the host.
type echo struct {
	mu      sync.Mutex
	host    Host
	written []Record
}

func (e *echo) Describe() Description {
	return Description{Name: "echo", Version: "1.2.3", Config: []Attribute{{Name: "path", Type: TypeString, Required: true}}, Local: true}
}

func (e *echo) Configure(_ context.Context, cfg Config, host Host) error {
	var c struct{ Path string }
	if err := cfg.Decode(&c); err != nil {
		return err
	}
	e.host = host
	return nil
}

func (e *echo) Read(_ context.Context, req ReadRequest) (ReadResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return ReadResult{Records: e.written, Cursor: append([]byte("after:"), req.Cursor...)}, nil
}

func (e *echo) Write(ctx context.Context, req WriteRequest) ([]WriteResult, error) {
	release, err := e.host.Acquire(ctx, 1, PriorityBulk)
	if err != nil {
		return nil, err
	}
	defer release()
	tok, err := e.host.Token(ctx, false)
	if err != nil {
		return nil, err
	}
	out := make([]WriteResult, len(req.Records))
	for i, r := range req.Records {
		switch r.Key {
		case "bad":
			out[i] = ResultFor(r.Key, Permanent("INVALID_UNIT", "unit not in units type", "item.items[0].units"))
		case "slow":
			out[i] = ResultFor(r.Key, RateLimited("busy", 1500*time.Millisecond))
		default:
			out[i] = WriteResult{Key: r.Key, Status: StatusOK, ID: tok.AccessToken + ":" + r.Key, Created: true}
		}
	}
	e.mu.Lock()
	e.written = append(e.written, req.Records...)
	e.mu.Unlock()
	return out, nil
}

func (e *echo) Lookup(context.Context, LookupRequest) (json.RawMessage, error) {
	return nil, RateLimited("quota", 2*time.Second)
}

type testServices struct {
	mu       sync.Mutex
	acquires int
	releases []string
}

func (s *testServices) Token(context.Context, bool) (Token, error) {
	return Token{AccessToken: "T", Expiry: time.UnixMilli(1700000000000)}, nil
}
func (s *testServices) Acquire(context.Context, int, Priority) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acquires++
	return "lease-1", nil
}
func (s *testServices) Release(_ context.Context, lease string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releases = append(s.releases, lease)
	return nil
}
func (s *testServices) Report(context.Context, LimitReport) error { return nil }

func dispenseTest(t *testing.T, impl Connector) *Client {
	t.Helper()
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{PluginName: &connectorPlugin{Impl: impl}})
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(*Client)
}

func TestProtocolRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := dispenseTest(t, &echo{})
	d, err := c.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "echo" || d.Version != "1.2.3" || len(d.Config) != 1 || !d.Config[0].Required || !d.Local {
		t.Fatalf("Describe = %+v", d)
	}
	caps := map[Capability]bool{}
	for _, c := range d.Capabilities {
		caps[c] = true
	}
	if !caps[CapSource] || !caps[CapDestination] || !caps[CapLookup] || caps[CapWebhook] {
		t.Fatalf("capabilities = %v", d.Capabilities)
	}

	if err := c.Configure(ctx, Config{Connection: "x", Raw: json.RawMessage(`{"path":"p","extra":1}`)}, nil); err == nil {
		t.Fatal("Configure accepted an unknown attribute")
	}
	svc := &testServices{}
	if err := c.Configure(ctx, Config{Connection: "x", Raw: json.RawMessage(`{"path":"p"}`)}, svc); err != nil {
		t.Fatal(err)
	}

	payload := json.RawMessage(`{"amount":12345678901234567.89,"tiny":0.1000000000000000055511151231257827,"name":"Müller – 東京 🚀","n":1e400}`)
	recs := []Record{
		{Key: "k1", Version: 7, Payload: payload, Metadata: map[string]string{"m": "v"}, Object: "Order"},
		{Key: "bad", Version: 1, Payload: json.RawMessage(`{}`)},
		{Key: "slow", Version: 1, Payload: json.RawMessage(`{}`), Op: OpDelete},
	}
	res, err := c.Write(ctx, WriteRequest{Object: "salesOrder", Operation: "upsert", Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != StatusOK || res[0].ID != "T:k1" || !res[0].Created {
		t.Errorf("result 0 = %+v", res[0])
	}
	if res[1].Status != StatusPermanent || res[1].Code != "INVALID_UNIT" || res[1].Field != "item.items[0].units" {
		t.Errorf("result 1 = %+v", res[1])
	}
	if res[2].Status != StatusRateLimited || res[2].RetryAfter != 1500*time.Millisecond {
		t.Errorf("result 2 = %+v", res[2])
	}
	if svc.acquires != 1 || len(svc.releases) != 1 || svc.releases[0] != "lease-1" {
		t.Errorf("limiter acquires %d releases %v", svc.acquires, svc.releases)
	}

	got, err := c.Read(ctx, ReadRequest{Cursor: []byte("c1")})
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Cursor) != "after:c1" || len(got.Records) != 3 {
		t.Fatalf("Read = %+v", got)
	}
	r := got.Records[0]
	if !bytes.Equal(r.Payload, payload) || r.Key != "k1" || r.Version != 7 || r.Metadata["m"] != "v" || r.Object != "Order" {
		t.Errorf("record not byte-exact: %s %+v", r.Payload, r)
	}
	if got.Records[2].Op != OpDelete {
		t.Errorf("op lost: %+v", got.Records[2])
	}

	_, err = c.Lookup(ctx, LookupRequest{Object: "stock"})
	if e := Classify(err); e == nil || e.Status != StatusRateLimited || e.RetryAfter != 2*time.Second {
		t.Errorf("Lookup error = %#v", err)
	}
	_, err = c.DecodeWebhook(ctx, WebhookRequest{})
	if e := Classify(err); e == nil || e.Status != StatusPermanent {
		t.Errorf("DecodeWebhook on a connector without it = %v; want permanent", err)
	}
}

// TestClientConfigIsLockedDown guards brief §3.8: connectors are reached
// over gRPC only, with mutual TLS, and see none of the host's environment.
func TestClientConfigIsLockedDown(t *testing.T) {
	c := ClientConfig(exec.Command("weir-connector-x"))
	if !c.AutoMTLS {
		t.Error("AutoMTLS is off: host↔connector traffic would be in clear")
	}
	if !c.SkipHostEnv {
		t.Error("SkipHostEnv is off: connectors would inherit the host's secrets")
	}
	if len(c.AllowedProtocols) != 1 || c.AllowedProtocols[0] != plugin.ProtocolGRPC {
		t.Errorf("AllowedProtocols = %v; want gRPC only", c.AllowedProtocols)
	}
	if _, ok := c.VersionedPlugins[ProtocolVersion]; !ok {
		t.Errorf("protocol version %d not offered", ProtocolVersion)
	}
}
