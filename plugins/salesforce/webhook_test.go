package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirhq/weir/plugins/salesforce/sandbox"
	"github.com/weirhq/weir/sdk"
)

// hookEndpoint stands in for the host's POST /v1/hooks/{pipeline}: it
// hands each request to the connector's DecodeWebhook, "stores" the
// records by key and version as the host's queue would (a key's version
// is enqueued once), and answers what the connector said. It fails the
// first failFirst requests with 503, as a host whose store is down.
type hookEndpoint struct {
	t         *testing.T
	c         *sdk.Client
	src       json.RawMessage
	failFirst int

	mu       sync.Mutex
	requests int
	bodies   [][]byte
	answers  [][]byte
	enqueued map[string]int // key@version → times enqueued
	records  []sdk.Record
}

func (e *hookEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	e.mu.Lock()
	e.requests++
	n := e.requests
	e.bodies = append(e.bodies, body)
	e.mu.Unlock()
	if n <= e.failFirst {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	resp, err := e.c.DecodeWebhook(ctx(e.t), sdk.WebhookRequest{Source: e.src, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Headers: r.Header, Body: body})
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	if resp.Reject != "" {
		http.Error(w, resp.Reject, nonZero(resp.Status, http.StatusBadRequest))
		return
	}
	e.mu.Lock()
	for _, rec := range resp.Records {
		id := fmt.Sprintf("%s@%d", rec.Key, rec.Version)
		if e.enqueued[id] == 0 {
			e.records = append(e.records, rec)
		}
		e.enqueued[id]++
	}
	e.answers = append(e.answers, resp.Body)
	e.mu.Unlock()
	for k, v := range resp.Headers {
		w.Header()[k] = v
	}
	w.WriteHeader(nonZero(resp.Status, http.StatusOK))
	_, _ = w.Write(resp.Body)
}

func nonZero(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// TestOutboundMessage: an order changes; the sandbox POSTs the SOAP
// notification, which the endpoint first fails; the sandbox retries; the
// connector decodes the order (fetched with its items and account) and
// answers the exact Ack; the sandbox stops sending. The same message
// again, and a message naming the order twice, enqueue nothing new.
func TestOutboundMessage(t *testing.T) {
	if AckBody != sandbox.AckBody {
		t.Fatalf("the connector's Ack differs from the sandbox's:\n%s\n%s", AckBody, sandbox.AckBody)
	}
	o := newOrg(t, sandbox.Options{OutboundRetry: 20 * time.Millisecond, OutboundMaxRetry: 100 * time.Millisecond})
	if err := o.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	c := start(t, newHost(t, o), nil)
	ep := &hookEndpoint{t: t, c: c, failFirst: 1, enqueued: map[string]int{},
		src: source(map[string]any{"object": "Order", "outbound_secret": "s3cret"})}
	hs := httptest.NewServer(ep)
	t.Cleanup(hs.Close)
	o.SetOutbound([]sandbox.OutboundMessage{{Name: "Order to ERP", Object: "Order", Endpoint: hs.URL + "/v1/hooks/orders?secret=s3cret",
		Fields: []string{"Id", "OrderNumber", "Status", "TotalAmount", "AccountId", "SystemModstamp"}, Where: "Status = 'Activated'"}})

	orders := state(t, o, "Order", "PoNumber")
	var order struct{ Id string }
	_ = json.Unmarshal(orders["PO-GX-1002"], &order)
	if _, err := o.Seed(sandbox.SeedRecord{Type: "Order", ID: order.Id, Fields: map[string]any{"Description": "rush"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for o.PendingNotifications() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	ds := o.Deliveries()
	if len(ds) != 2 || ds[0].Acked || !ds[1].Acked || ds[0].Records[0] != order.Id {
		t.Fatalf("deliveries %+v: want a failed one, then an acknowledged one", ds)
	}
	ep.mu.Lock()
	answer, first := ep.answers[0], ep.bodies[1]
	recs := append([]sdk.Record(nil), ep.records...)
	ep.mu.Unlock()
	if string(answer) != sandbox.AckBody {
		t.Errorf("answer %q, want the Ack", answer)
	}
	if len(recs) != 1 || recs[0].Key != order.Id || recs[0].Object != "Order" || recs[0].Op != sdk.OpUpsert {
		t.Fatalf("records %+v", recs)
	}
	var p struct {
		Description string
		OrderItems  []struct{ Product2 struct{ ProductCode string } }
		Account     struct{ Name string }
	}
	_ = json.Unmarshal(recs[0].Payload, &p)
	if p.Description != "rush" || len(p.OrderItems) != 1 || p.OrderItems[0].Product2.ProductCode != "GAD-200" || p.Account.Name != "Globex Inc." {
		t.Errorf("payload %s", recs[0].Payload)
	}

	// Duplicates: the same message again, and one naming the order twice.
	post := func(body []byte, query string) int {
		resp, err := http.Post(hs.URL+"/v1/hooks/orders?"+query, "text/xml; charset=utf-8", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	twice := bytes.Replace(first, []byte("   </Notification>\n"), []byte("   </Notification>\n"+notificationOf(t, first)), 1)
	for _, body := range [][]byte{first, twice} {
		if code := post(body, "secret=s3cret"); code != 200 {
			t.Fatalf("duplicate: %d", code)
		}
	}
	ep.mu.Lock()
	for id, n := range ep.enqueued {
		if n != 3 {
			t.Errorf("%s decoded %d times, want 3 (once per message)", id, n)
		}
	}
	if len(ep.records) != 1 {
		t.Errorf("%d records enqueued, want 1", len(ep.records))
	}
	ep.mu.Unlock()

	// Refusals.
	tests := []struct {
		name  string
		body  []byte
		query string
		want  int
	}{
		{"no secret", first, "", 401},
		{"wrong secret", first, "secret=guess", 401},
		{"other org", bytes.ReplaceAll(first, []byte(o.OrgID()), []byte("00D000000000001AAA")), "secret=s3cret", 403},
		{"not SOAP", []byte("<html/>"), "secret=s3cret", 400},
		{"not XML", []byte("{}"), "secret=s3cret", 400},
	}
	for _, tt := range tests {
		if code := post(tt.body, tt.query); code != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, code, tt.want)
		}
	}
}

// notificationOf returns the first Notification element of a message.
func notificationOf(t *testing.T, body []byte) string {
	s := string(body)
	i, j := strings.Index(s, "   <Notification>"), strings.Index(s, "   </Notification>\n")
	if i < 0 || j < 0 {
		t.Fatalf("no notification in %s", body)
	}
	return s[i : j+len("   </Notification>\n")]
}

// TestOutboundWithoutFetch: with fetch off, the notified fields are the
// payload, typed by the describe.
func TestOutboundWithoutFetch(t *testing.T) {
	o := newOrg(t, sandbox.Options{})
	if err := o.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	c := start(t, newHost(t, o), nil)
	body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>%s</OrganizationId>
   <ActionId>04k000000000001AAA</ActionId>
   <SessionId xsi:nil="true"/>
   <Notification>
    <Id>04l000000000001AAA</Id>
    <sObject xsi:type="sf:Order" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>801000000000009AAA</sf:Id>
     <sf:TotalAmount>12345678901234567.89</sf:TotalAmount>
     <sf:Status>Activated</sf:Status>
     <sf:Description xsi:nil="true"/>
     <sf:SystemModstamp>2024-05-01T10:00:00.000Z</sf:SystemModstamp>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>`, o.OrgID()[:15])
	resp, err := c.DecodeWebhook(ctx(t), sdk.WebhookRequest{Source: source(map[string]any{"outbound_secret": "x", "fetch": false}),
		Method: "POST", Query: "secret=x", Body: []byte(body)})
	if err != nil || resp.Reject != "" {
		t.Fatalf("decode: %v %q", err, resp.Reject)
	}
	if len(resp.Records) != 1 {
		t.Fatalf("records %+v", resp.Records)
	}
	r := resp.Records[0]
	want := `{"Description":null,"Id":"801000000000009AAA","Status":"Activated","SystemModstamp":"2024-05-01T10:00:00.000+0000","TotalAmount":12345678901234567.89}`
	if string(r.Payload) != want || r.Key != "801000000000009AAA" || r.Version != time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC).UnixMicro() {
		t.Errorf("record %s v%d:\n%s\nwant %s", r.Key, r.Version, r.Payload, want)
	}
}
