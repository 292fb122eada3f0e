package api

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/host/engine"
	"github.com/weirhq/weir/host/oauth"
	"github.com/weirhq/weir/host/store"
	"github.com/weirhq/weir/sdk"
)

type fakeIngester struct {
	calls int
	fail  error
	last  sdk.WebhookRequest
}

func (f *fakeIngester) Ingest(_ context.Context, _ string, req sdk.WebhookRequest) (sdk.WebhookResponse, error) {
	f.calls++
	f.last = req
	if f.fail != nil {
		return sdk.WebhookResponse{}, f.fail
	}
	if strings.HasPrefix(string(req.Body), "{bad") {
		return sdk.WebhookResponse{Reject: "line 1: invalid JSON"}, nil
	}
	return sdk.WebhookResponse{Records: []sdk.Record{{Key: "a"}}, Status: 202, Body: []byte("<Ack/>"), Headers: map[string][]string{"Content-Type": {"text/xml"}}}, nil
}

type emptyStore struct{}

func (emptyStore) DeadLetters(context.Context, string, string, int) ([]store.DeadLetter, error) {
	return nil, nil
}
func (emptyStore) DeadLetterByID(context.Context, string, string) (store.DeadLetter, error) {
	return store.DeadLetter{}, store.ErrNotFound
}
func (emptyStore) Replay(context.Context, string, []string) (store.ReplayResult, error) {
	return store.ReplayResult{}, nil
}
func (emptyStore) Drop(context.Context, string, []string) (int, error) { return 0, nil }

func TestWebhooksAndAdminAuth(t *testing.T) {
	ing := &fakeIngester{}
	srv := New(Options{
		Ingester:  ing,
		Store:     emptyStore{},
		Pipelines: []string{"signed", "tokened"},
		Webhooks: map[string]Webhook{
			"signed":  {Auth: AuthHMAC, Secret: "hook-secret", MaxBody: 64},
			"tokened": {Auth: AuthToken, Secret: "hook-token"},
		},
		Token: "admin-token",
		Status: func(context.Context) (Status, error) {
			return Status{Pipelines: []PipelineStatus{PipelineStatusOf("signed", store.Stats{Ready: 2})}}, nil
		},
	})
	sig := func(body string) string {
		return "sha256=" + hex.EncodeToString(Sign([]byte("hook-secret"), []byte(body)))
	}
	tests := []struct {
		name, method, path, body string
		headers                  map[string]string
		want                     int
		wantBody                 string
		ingests                  bool
	}{
		{"signed ok", "POST", "/v1/hooks/signed", `{"id":1}`, map[string]string{"X-Weir-Signature": sig(`{"id":1}`)}, 202, "<Ack/>", true},
		{"bad signature", "POST", "/v1/hooks/signed", `{"id":1}`, map[string]string{"X-Weir-Signature": sig(`{"id":2}`)}, 401, "invalid webhook authentication", false},
		{"no signature", "POST", "/v1/hooks/signed", `{"id":1}`, nil, 401, "", false},
		{"too large", "POST", "/v1/hooks/signed", strings.Repeat("x", 65), map[string]string{"X-Weir-Signature": sig(strings.Repeat("x", 65))}, 413, "over the limit", false},
		{"malformed", "POST", "/v1/hooks/signed", `{bad`, map[string]string{"X-Weir-Signature": sig(`{bad`)}, 400, "line 1: invalid JSON", true},
		{"token ok", "POST", "/v1/hooks/tokened", `[]`, map[string]string{"Authorization": "Bearer hook-token"}, 202, "", true},
		{"token wrong", "POST", "/v1/hooks/tokened", `[]`, map[string]string{"Authorization": "Bearer admin-token"}, 401, "", false},
		{"no such hook", "POST", "/v1/hooks/nope", `[]`, nil, 404, "", false},
		{"status without token", "GET", "/v1/status", "", nil, 401, "API token", false},
		{"status with token", "GET", "/v1/status", "", map[string]string{"Authorization": "Bearer admin-token"}, 200, `"ready": 2`, false},
		{"dead letter missing", "GET", "/v1/pipelines/signed/dead-letters/x", "", map[string]string{"Authorization": "Bearer admin-token"}, 404, "no dead letter", false},
		{"replay bad body", "POST", "/v1/pipelines/signed/dead-letters/replay", `{"id":[1]}`, map[string]string{"Authorization": "Bearer admin-token"}, 400, "ids", false},
		{"health is open", "GET", "/healthz", "", nil, 200, "ok", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ing.calls
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != tt.want || !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("%s %s = %d %s; want %d containing %q", tt.method, tt.path, rec.Code, body, tt.want, tt.wantBody)
			}
			if (ing.calls > before) != tt.ingests {
				t.Errorf("ingested = %v; want %v", ing.calls > before, tt.ingests)
			}
		})
	}
}

// TestWebhookTokenNotPassedOn checks that the connector gets the request's
// headers but not the host's bearer token.
func TestWebhookTokenNotPassedOn(t *testing.T) {
	ing := &fakeIngester{}
	srv := New(Options{Ingester: ing, Webhooks: map[string]Webhook{"p": {Auth: AuthToken, Secret: "hook-token"}}})
	req := httptest.NewRequest("POST", "/v1/hooks/p", strings.NewReader(`{"id":1}`))
	req.Header.Set("Authorization", "Bearer hook-token")
	req.Header.Set("X-Vendor-Event", "order.created")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != 202 {
		t.Fatalf("webhook = %d %s", rec.Code, rec.Body)
	}
	h := http.Header(ing.last.Headers)
	if h.Get("Authorization") != "" || h.Get("X-Vendor-Event") != "order.created" || string(ing.last.Body) != `{"id":1}` {
		t.Errorf("the connector got headers %v, body %q", ing.last.Headers, ing.last.Body)
	}
	if req.Header.Get("Authorization") == "" {
		t.Error("the request's own headers were changed")
	}
}

func TestWebhookIs503WhenNotStored(t *testing.T) {
	srv := New(Options{Ingester: &fakeIngester{fail: errors.New("store: closed")}, Webhooks: map[string]Webhook{"p": {Auth: AuthNone}}})
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/hooks/p", strings.NewReader(`{}`)))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("code %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
}

type fakeLooker struct{}

func (fakeLooker) Lookup(_ context.Context, name string, q json.RawMessage) (json.RawMessage, error) {
	switch name {
	case "stock":
		return json.RawMessage(`{"query":` + string(q) + `,"available":4}`), nil
	case "busy":
		return nil, sdk.RateLimited("quota", 2500*time.Millisecond)
	case "bad":
		return nil, sdk.Permanent("UNKNOWN_ITEM", "no item X", "items[0]")
	}
	return nil, ErrUnknownLookup
}

func TestLookupRoute(t *testing.T) {
	srv := New(Options{Lookups: fakeLooker{}, Token: "tok"})
	tests := []struct {
		name, body string
		token      string
		want       int
		contains   string
		retryAfter string
	}{
		{"stock", `{"items":["A"]}`, "tok", 200, `"available":4`, ""},
		{"stock", ``, "tok", 200, `"query":{}`, ""},
		{"stock", `{"items":`, "tok", 400, "not valid JSON", ""},
		{"stock", `{}`, "", 401, "API token", ""},
		{"busy", `{}`, "tok", 429, "quota", "3"},
		{"bad", `{}`, "tok", 422, `"field": "items[0]"`, ""},
		{"nope", `{}`, "tok", 404, "declare it", ""},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("POST", "/v1/lookups/"+tt.name, strings.NewReader(tt.body))
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != tt.want || !strings.Contains(rec.Body.String(), tt.contains) || rec.Header().Get("Retry-After") != tt.retryAfter {
			t.Errorf("%s %q = %d %s (Retry-After %q); want %d with %q", tt.name, tt.body, rec.Code, rec.Body, rec.Header().Get("Retry-After"), tt.want, tt.contains)
		}
	}
}

// fakeLogins knows one connection, "crm".
type fakeLogins struct{ started map[string]string }

func (f *fakeLogins) Start(_ context.Context, conn, listen string) (oauth.LoginState, error) {
	if conn != "crm" {
		return oauth.LoginState{}, errors.New("connection " + conn + " has no oauth2 block")
	}
	f.started[conn] = listen
	return oauth.LoginState{Connection: conn, State: oauth.LoginPending, URL: "https://login.example.test/authorize?state=s"}, nil
}

func (f *fakeLogins) State(conn string) (oauth.LoginState, bool) {
	if _, ok := f.started[conn]; !ok {
		return oauth.LoginState{}, false
	}
	return oauth.LoginState{Connection: conn, State: oauth.LoginDone}, true
}

func (f *fakeLogins) Status(context.Context) ([]oauth.Status, error) {
	return []oauth.Status{{Connection: "crm", Flow: "authorization_code", State: oauth.StateValid}}, nil
}

func TestLoginRoutes(t *testing.T) {
	logins := &fakeLogins{started: map[string]string{}}
	with := New(Options{Token: "t", Logins: logins})
	without := New(Options{Token: "t"})
	tests := []struct {
		name, method, path, body string
		srv                      *Server
		code                     int
		want                     string
	}{
		{"state before any start", "GET", "/v1/connections/crm/login", "", with, 404, "no login was started"},
		{"start", "POST", "/v1/connections/crm/login", `{"listen":"127.0.0.1:8765"}`, with, 200, `"state": "pending"`},
		{"state after the start", "GET", "/v1/connections/crm/login", "", with, 200, `"state": "done"`},
		{"unknown connection", "POST", "/v1/connections/nope/login", "", with, 400, "no oauth2 block"},
		{"malformed body", "POST", "/v1/connections/crm/login", `{"listen":`, with, 400, "login request"},
		{"token state", "GET", "/v1/auth/status", "", with, 200, `"State": "valid"`},
		{"host without logins", "POST", "/v1/connections/crm/login", "", without, 501, "runs no logins"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer t")
			rec := httptest.NewRecorder()
			tt.srv.ServeHTTP(rec, req)
			if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.want) {
				t.Fatalf("%s %s = %d %s; want %d with %q", tt.method, tt.path, rec.Code, rec.Body, tt.code, tt.want)
			}
		})
	}
	if logins.started["crm"] != "127.0.0.1:8765" {
		t.Errorf("listen passed on as %q", logins.started["crm"])
	}
	req := httptest.NewRequest("POST", "/v1/connections/crm/login", nil)
	rec := httptest.NewRecorder()
	with.ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Errorf("a login without the API token = %d; want 401", rec.Code)
	}
}

// fakePlanner knows one pipeline, "orders", and plans each record as a
// create of its payload.
type fakePlanner struct{ fromSource int }

func (f *fakePlanner) Plan(_ context.Context, pipeline string, recs []sdk.Record, fromSource int) ([]engine.PlanResult, error) {
	if pipeline != "orders" {
		return nil, fmt.Errorf("%w: %q", engine.ErrUnknownPipeline, pipeline)
	}
	f.fromSource = fromSource
	if fromSource > 0 {
		recs = []sdk.Record{{Key: "read-1", Payload: []byte(`{"id":"r"}`)}}
	}
	out := make([]engine.PlanResult, len(recs))
	for i, r := range recs {
		out[i] = engine.PlanResult{Key: r.Key, Action: engine.PlanCreate, Record: r.Payload}
	}
	return out, nil
}

func TestPlanRoute(t *testing.T) {
	planner := &fakePlanner{}
	with := New(Options{Token: "t", Planner: planner})
	without := New(Options{Token: "t"})
	tests := []struct {
		name, path, body string
		srv              *Server
		code             int
		want             string
	}{
		{"samples", "/v1/pipelines/orders/plan", `{"records":[{"id":"a"},{"id":"b"}]}`, with, 200, `"key":"sample-2"`},
		{"from the source", "/v1/pipelines/orders/plan", `{"from_source":3}`, with, 200, `"key":"read-1"`},
		{"neither", "/v1/pipelines/orders/plan", `{}`, with, 400, "either records or from_source"},
		{"both", "/v1/pipelines/orders/plan", `{"records":[{}],"from_source":1}`, with, 400, "either records or from_source"},
		{"too many from the source", "/v1/pipelines/orders/plan", `{"from_source":10001}`, with, 400, "over 10000"},
		{"unknown field", "/v1/pipelines/orders/plan", `{"recs":[{}]}`, with, 400, "unknown field"},
		{"malformed", "/v1/pipelines/orders/plan", `{"records":`, with, 400, "plan request"},
		{"unknown pipeline", "/v1/pipelines/nope/plan", `{"from_source":1}`, with, 404, `no pipeline \"nope\"`},
		{"host without plans", "/v1/pipelines/orders/plan", `{"from_source":1}`, without, 501, "runs no plans"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", tt.path, strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer t")
			rec := httptest.NewRecorder()
			tt.srv.ServeHTTP(rec, req)
			if rec.Code != tt.code || !strings.Contains(strings.ReplaceAll(rec.Body.String(), " ", ""), strings.ReplaceAll(tt.want, " ", "")) {
				t.Fatalf("POST %s %s = %d %s; want %d with %q", tt.path, tt.body, rec.Code, rec.Body, tt.code, tt.want)
			}
		})
	}
	if planner.fromSource != 3 {
		t.Errorf("from_source passed on as %d", planner.fromSource)
	}
	req := httptest.NewRequest("POST", "/v1/pipelines/orders/plan", strings.NewReader(`{"from_source":1}`))
	rec := httptest.NewRecorder()
	with.ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Errorf("a plan without the API token = %d; want 401", rec.Code)
	}
}
