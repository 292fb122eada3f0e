package sdk

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hooks decodes "reject", "slow" (rate limited) and "boom" (a plain error)
// bodies specially; any other body becomes one record keyed by the body.
type hooks struct{ echo }

func (*hooks) DecodeWebhook(_ context.Context, req WebhookRequest) (WebhookResponse, error) {
	switch body := string(req.Body); body {
	case "reject":
		return WebhookResponse{Reject: "line 1: not JSON", Status: 422}, nil
	case "slow":
		return WebhookResponse{}, RateLimited("busy", 3*time.Second)
	case "boom":
		return WebhookResponse{}, Permanent("BAD_SOURCE", "source settings: no key_field", "source.key_field")
	default:
		return WebhookResponse{
			Records: []Record{{Key: body, Version: 1, Payload: []byte(`{"src":` + string(req.Source) + `}`)}},
			Status:  202, Headers: map[string][]string{"X-Q": {req.Query}}, Body: []byte("ok " + body),
		}, nil
	}
}

// TestDecodeWebhooksBatch checks that a batch decides every request on its
// own, in order, with each failure's class kept.
func TestDecodeWebhooksBatch(t *testing.T) {
	c := dispenseTest(t, &hooks{})
	reqs := []WebhookRequest{{Body: []byte("a"), Query: "q=1"}, {Body: []byte("reject")}, {Body: []byte("slow")}, {Body: []byte("boom")}, {Body: []byte("b")}}
	tests := []struct {
		name  string
		batch bool
	}{{"batched", true}, {"one at a time", false}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.noBatchWebhooks.Store(!tt.batch)
			res, errs, err := c.DecodeWebhooks(context.Background(), []byte(`"S"`), reqs)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != len(reqs) || len(errs) != len(reqs) {
				t.Fatalf("%d results, %d errors for %d requests", len(res), len(errs), len(reqs))
			}
			for i, key := range map[int]string{0: "a", 4: "b"} {
				if errs[i] != nil || len(res[i].Records) != 1 || res[i].Records[0].Key != key || string(res[i].Records[0].Payload) != `{"src":"S"}` ||
					res[i].Status != 202 || string(res[i].Body) != "ok "+key {
					t.Errorf("request %d: %+v, %v", i, res[i], errs[i])
				}
			}
			if res[0].Headers["X-Q"][0] != "q=1" {
				t.Errorf("headers = %v", res[0].Headers)
			}
			if errs[1] != nil || res[1].Reject != "line 1: not JSON" || res[1].Status != 422 {
				t.Errorf("request 1: %+v, %v", res[1], errs[1])
			}
			if e := Classify(errs[2]); e == nil || e.Status != StatusRateLimited || e.RetryAfter != 3*time.Second {
				t.Errorf("request 2: %v", errs[2])
			}
			if e := Classify(errs[3]); e == nil || e.Status != StatusPermanent || e.Code != "BAD_SOURCE" || e.Field != "source.key_field" ||
				!strings.Contains(e.Error(), "no key_field") {
				t.Errorf("request 3: %#v", errs[3])
			}
		})
	}
	c.noBatchWebhooks.Store(false)
	if _, _, err := c.DecodeWebhooks(context.Background(), nil, reqs[:1]); err != nil || c.noBatchWebhooks.Load() {
		t.Fatalf("a connector with the call fell back: %v", err)
	}
}

// TestDecodeWebhooksWithoutDecoder checks that a connector without webhook
// decoding refuses a batch as it refuses one request.
func TestDecodeWebhooksWithoutDecoder(t *testing.T) {
	c := dispenseTest(t, &echo{})
	res, errs, err := c.DecodeWebhooks(context.Background(), nil, []WebhookRequest{{Body: []byte("a")}})
	if err != nil {
		e := Classify(err)
		if e.Status != StatusPermanent {
			t.Fatalf("err = %v; want permanent", err)
		}
		return
	}
	if e := Classify(errs[0]); e == nil || e.Status != StatusPermanent || len(res[0].Records) != 0 {
		t.Fatalf("errs[0] = %v; want permanent", errs[0])
	}
}

// barrierHooks decodes a request only once n decodes have started, so a
// batch of n decodes only if they run at the same time.
type barrierHooks struct {
	echo
	n       int
	mu      sync.Mutex
	started int
	all     chan struct{}
}

func (b *barrierHooks) DecodeWebhook(ctx context.Context, req WebhookRequest) (WebhookResponse, error) {
	b.mu.Lock()
	if b.started++; b.started == b.n {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
		return WebhookResponse{Records: []Record{{Key: string(req.Body), Version: 1, Payload: []byte(`{}`)}}}, nil
	case <-time.After(10 * time.Second):
		return WebhookResponse{}, errors.New("decodes of one batch did not run at the same time")
	}
}

// TestDecodeWebhooksInParallel checks that the requests of a batch are
// decoded at the same time, as concurrent single requests would be.
func TestDecodeWebhooksInParallel(t *testing.T) {
	const n = 4
	c := dispenseTest(t, &barrierHooks{n: n, all: make(chan struct{})})
	reqs := make([]WebhookRequest, n)
	for i := range reqs {
		reqs[i].Body = []byte{byte('a' + i)}
	}
	res, errs, err := c.DecodeWebhooks(context.Background(), nil, reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range reqs {
		if errs[i] != nil || len(res[i].Records) != 1 || res[i].Records[0].Key != string(reqs[i].Body) {
			t.Errorf("request %d: %+v, %v", i, res[i], errs[i])
		}
	}
}

// TestForEachHelped checks that every index is called exactly once, fast
// or slow, with and without helpers.
func TestForEachHelped(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		each time.Duration
	}{
		{"none", 0, 0},
		{"one", 1, 0},
		{"fast", 64, 0},
		{"slow", 20, 300 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := make([]atomic.Int32, tc.n)
			forEachHelped(tc.n, func(i int) {
				time.Sleep(tc.each)
				calls[i].Add(1)
			})
			for i := range calls {
				if got := calls[i].Load(); got != 1 {
					t.Errorf("index %d called %d times", i, got)
				}
			}
		})
	}
}
