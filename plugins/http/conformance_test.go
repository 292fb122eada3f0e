package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/weirhq/weir/sdk"
	"github.com/weirhq/weir/sdk/conformance"
)

func TestMain(m *testing.M) {
	code := m.Run()
	conformance.Cleanup()
	os.Exit(code)
}

// endpoint is a test HTTP API that upserts records by key, keeping the
// newest version, and refuses records whose "qty" is negative.
type endpoint struct {
	mu      sync.Mutex
	records map[string]envelope
	auth    []string
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.auth = append(e.auth, r.Header.Get("Authorization"))
	if r.Method == http.MethodHead {
		return
	}
	if strings.HasSuffix(r.URL.Path, "/stock") {
		io.WriteString(w, `{"available":3}`)
		return
	}
	var env envelope
	if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	if strings.Contains(string(env.Record), `"qty":-`) {
		http.Error(w, `{"error":"qty must not be negative"}`, http.StatusUnprocessableEntity)
		return
	}
	old, ok := e.records[env.Key]
	if !ok || old.Version <= env.Version {
		e.records[env.Key] = env
	}
	if !ok {
		w.WriteHeader(http.StatusCreated)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func TestConformance(t *testing.T) {
	ep := &endpoint{records: map[string]envelope{}}
	srv := httptest.NewServer(ep)
	defer srv.Close()
	const token = "http-conformance-bearer-91f2"
	conformance.Run(t, conformance.Target{
		Binary:    conformance.Build(t, ".", "weir-connector-http"),
		Config:    json.RawMessage(fmt.Sprintf(`{"url":%q,"batch":1,"token":%q,"timeout":"5s"}`, srv.URL, token)),
		Object:    "orders",
		Operation: "upsert",
		NewRecords: func(n int, version int64) []sdk.Record {
			out := make([]sdk.Record, n)
			for i := range out {
				out[i] = sdk.Record{Key: fmt.Sprintf("o-%d", i), Version: version, Payload: json.RawMessage(
					fmt.Sprintf(`{"v":%d,"total":%s,"name":%q}`, version, conformance.Decimal, conformance.Text))}
			}
			return out
		},
		State: func(t *testing.T) map[string]json.RawMessage {
			ep.mu.Lock()
			defer ep.mu.Unlock()
			out := map[string]json.RawMessage{}
			for k, v := range ep.records {
				out[k] = v.Record
			}
			return out
		},
		Invalid: []conformance.InvalidCase{
			{Name: "refused by the endpoint", Record: sdk.Record{Key: "neg", Version: 1, Payload: json.RawMessage(`{"qty":-1}`)}, Code: "422"},
			{Name: "not JSON", Record: sdk.Record{Key: "bad", Version: 1, Payload: json.RawMessage(`{"a":`)}, Field: "record", Code: "INVALID_JSON"},
		},
		Secrets: []string{token},
	})
	ep.mu.Lock()
	defer ep.mu.Unlock()
	for _, a := range ep.auth {
		if a != "Bearer "+token {
			t.Fatalf("a request carried Authorization %q", a)
		}
	}
}
