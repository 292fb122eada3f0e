package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// control calls the control API and returns status and body.
func (e *env) control(method, p, body string) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+ControlPath+p, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func TestControlAPI(t *testing.T) {
	e := newEnv(t, Options{})
	start := time.Now()

	// Seed test data with fields of its own.
	status, body := e.control("POST", "seed", `{"records":{"salesOrder":[{"externalId":"SEED-1","entity":{"externalId":"ACC-0002"},
		"seq":1,"amount":12345678901234567.89,"name":"Grüße","item":{"items":[{"item":{"externalId":"WID-100"},"quantity":1}]}}]}}`)
	if status != 200 || !strings.Contains(string(body), `"salesOrder":["5001"]`) {
		t.Fatalf("seed: %d %s", status, body)
	}
	status, body = e.control("GET", "records/salesOrder", "")
	var recs []map[string]any
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&recs); err != nil || status != 200 || len(recs) != 1 {
		t.Fatalf("records: %d %s %v", status, body, err)
	}
	if recs[0]["amount"] != json.Number("12345678901234567.89") || recs[0]["name"] != "Grüße" || path(recs[0], "subsidiary.id") != "1" {
		t.Errorf("seeded record %v", recs[0])
	}
	if status, body := e.control("GET", "records/salesOrder/eid:SEED-1", ""); status != 200 || !strings.Contains(string(body), `"tranId":"SO1001"`) {
		t.Errorf("one record: %d %s", status, body)
	}
	if status, _ := e.control("POST", "seed", `{"records":{"salesOrder":[{"entity":{"externalId":"NOPE"}}]}}`); status != 400 {
		t.Errorf("seed with a bad reference: %d", status)
	}

	// Faults.
	if status, body := e.control("POST", "faults", `{"latency":"5ms","force_429":1,"error_rate":0}`); status != 200 || !strings.Contains(string(body), `"latency":"5ms"`) {
		t.Errorf("faults: %d %s", status, body)
	}
	if s, _, _ := e.do("GET", RecordPath+"customer/1001", nil); s != 429 {
		t.Errorf("forced 429 not applied: %d", s)
	}
	if s, _, _ := e.do("GET", RecordPath+"customer/1001", nil); s != 200 {
		t.Errorf("after the forced 429: %d", s)
	}
	if status, _ := e.control("POST", "faults", `{"expire_tokens":true}`); status != 200 {
		t.Errorf("expire tokens: %d", status)
	}
	if s, _, _ := e.do("GET", RecordPath+"customer/1001", nil); s != 401 {
		t.Errorf("after expire_tokens: %d", s)
	}
	status, body = e.control("POST", "tokens", `{"client_id":"tool"}`)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal(body, &tok); status != 200 || tok.AccessToken == "" {
		t.Fatalf("tokens: %d %s", status, body)
	}
	e.token = tok.AccessToken

	// Transform through the control API.
	if status, body := e.control("POST", "transform", `{"order":"eid:SEED-1","to":"itemFulfillment","location":"2"}`); status != 200 || !strings.Contains(string(body), `"id":"5002"`) {
		t.Errorf("transform: %d %s", status, body)
	}

	// The request log has timestamps and in-flight counts.
	status, body = e.control("GET", "requests?kind=record", "")
	var log []Request
	if err := json.Unmarshal(body, &log); err != nil || status != 200 || len(log) != 3 {
		t.Fatalf("requests: %d %s %v", status, body, err)
	}
	for _, r := range log {
		if r.Time.Before(start.Add(-time.Second)) || r.End.Before(r.Time) || r.Kind != "record" {
			t.Errorf("log entry %+v", r)
		}
	}
	if log[0].Status != 429 || log[0].Code != "CONCURRENCY_LIMIT_EXCEEDED" || log[1].InFlight != 1 || log[2].Code != "INVALID_LOGIN" {
		t.Errorf("log %+v", log)
	}
	status, body = e.control("GET", "stats", "")
	if status != 200 || !strings.Contains(string(body), `"concurrency_refused":1`) || !strings.Contains(string(body), `"unauthorized":1`) {
		t.Errorf("stats: %d %s", status, body)
	}
	status, body = e.control("GET", "credentials", "")
	var cred Credentials
	if json.Unmarshal(body, &cred); status != 200 || !strings.Contains(cred.PrivateKeyPEM, "PRIVATE KEY") || cred.TokenID == "" {
		t.Errorf("credentials: %d %s", status, body)
	}

	// Reset: demo data again, no orders, empty log.
	if status, _ := e.control("POST", "reset", ""); status != 204 {
		t.Errorf("reset: %d", status)
	}
	if n := len(e.s.Records("salesOrder")); n != 0 {
		t.Errorf("%d orders after reset", n)
	}
	if n := len(e.s.Records("customer")); n != DemoCustomers {
		t.Errorf("%d customers after reset, want %d", n, DemoCustomers)
	}
	if n := len(e.s.Requests()); n != 0 {
		t.Errorf("%d logged requests after reset", n)
	}
	if s, _, body := e.do("GET", RecordPath+"customer/eid:ACC-0040", nil); s != 200 {
		t.Errorf("a token survives reset: %d %s", s, body)
	}
	if status, _ := e.control("GET", "nothing", ""); status != 404 {
		t.Errorf("unknown control endpoint: %d", status)
	}
}
