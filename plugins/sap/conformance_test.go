package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/weirhq/weir/plugins/sap/sandbox"
	"github.com/weirhq/weir/sdk"
	"github.com/weirhq/weir/sdk/conformance"
)

func TestMain(m *testing.M) {
	code := m.Run()
	conformance.Cleanup()
	os.Exit(code)
}

const testPassword = "Conformance-Secret-7d1f"

// conformanceExtensions are the custom fields of the conformance sandbox:
// the version field, and fields for the kit's seeded payloads.
var conformanceExtensions = map[string][]sandbox.Property{
	"A_SalesOrder": {
		{Name: "YY1_WeirVersion_SDH", Type: sandbox.EdmString, MaxLength: 20},
		{Name: "seq", Type: sandbox.EdmInt32},
		{Name: "amount", Type: sandbox.EdmDecimal, Precision: 23, Scale: 2},
		{Name: "small", Type: sandbox.EdmDecimal, Precision: 22, Scale: 21},
		{Name: "name", Type: sandbox.EdmString, MaxLength: 80},
	},
}

// env is a sandbox served in-process and a connector configuration for it.
type env struct {
	sb     *sandbox.Server
	srv    *httptest.Server
	config map[string]any
	sch    *schema // the sales order service's, for State
}

func newEnv(t *testing.T, opts sandbox.Options) *env {
	t.Helper()
	if opts.Users == nil {
		opts.Users = map[string]string{sandbox.DefaultUser: testPassword}
	}
	if opts.Extensions == nil {
		opts.Extensions = conformanceExtensions
	}
	sb := sandbox.New(opts)
	sb.SeedDemo()
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	e := &env{sb: sb, srv: srv, config: map[string]any{
		"base_url": srv.URL, "sap_client": sandbox.DefaultClient, "auth": "basic",
		"username": sandbox.DefaultUser, "password": testPassword,
		"defaults":      map[string]string{"SalesOrderType": "OR", "SalesOrganization": "1710", "DistributionChannel": "10", "OrganizationDivision": "00"},
		"version_field": "YY1_WeirVersion_SDH", "write_concurrency": 4,
	}}
	e.sch = e.schema(t)
	req, _ := http.NewRequest("DELETE", srv.URL+"/_sandbox/requests", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	return e
}

func (e *env) target(t *testing.T, change map[string]any) conformance.Target {
	cfg := map[string]any{}
	for k, v := range e.config {
		cfg[k] = v
	}
	for k, v := range change {
		cfg[k] = v
	}
	raw, _ := json.Marshal(cfg)
	return conformance.Target{
		Binary:    conformance.Build(t, ".", "weir-connector-sap"),
		Config:    raw,
		Object:    objSalesOrder,
		Operation: "upsert",
		Secrets:   []string{testPassword},
	}
}

// orders returns the sandbox's sales orders by reference, decimals as
// JSON numbers (their exact text), as the kit's State wants them.
func (e *env) orders(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	sch := e.sch
	recs, err := e.sb.Records("A_SalesOrder")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]json.RawMessage{}
	for _, raw := range recs {
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		p := numbers(sch, sch.sets["A_SalesOrder"], m)
		b, _ := marshal(p)
		out[fmt.Sprint(m["PurchaseOrderByCustomer"])] = b
	}
	return out
}

// numbers turns Edm.Decimal strings into JSON numbers, recursively.
func numbers(sch *schema, t *etype, m map[string]any) map[string]any {
	for k, v := range m {
		if target, ok := t.navs[k]; ok {
			if arr, ok := v.([]any); ok {
				for _, c := range arr {
					if cm, ok := c.(map[string]any); ok {
						numbers(sch, sch.types[target], cm)
					}
				}
			}
			continue
		}
		if p := t.props[k]; p != nil && p.Type == "Edm.Decimal" {
			if s, ok := v.(string); ok && s != "" {
				m[k] = json.Number(s)
			}
		}
	}
	return m
}

func (e *env) schema(t *testing.T) *schema {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+"/sap/opu/odata/sap/API_SALES_ORDER_SRV/$metadata", nil)
	req.SetBasicAuth(sandbox.DefaultUser, testPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	sch, err := parseMetadata(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// newOrders are the kit's records: orders whose payloads hold the exact
// decimal and text, and whose item quantity depends on the version.
func newOrders(n int, version int64) []sdk.Record {
	out := make([]sdk.Record, n)
	for i := range out {
		payload := fmt.Sprintf(`{"SoldToParty":"17100001","amount":%s,"name":%s,"to_Item":[{"Material":"WID-100","RequestedQuantity":%d.000,"RequestedQuantityUnit":"EA"},{"Material":"WID-PK12","RequestedQuantity":2.500,"RequestedQuantityUnit":"PAK"}]}`,
			conformance.Decimal, jsonText(conformance.Text), version%1000+1)
		out[i] = sdk.Record{Key: fmt.Sprintf("conf-sap-%d", i), Version: version, Object: objSalesOrder, Payload: json.RawMessage(payload)}
	}
	return out
}

func jsonText(s string) string { b, _ := marshal(s); return string(b) }

func TestConformance(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	tg := e.target(t, nil)
	tg.Source = json.RawMessage(`{"key_field":"PurchaseOrderByCustomer","fields":["seq","amount","small","name"]}`)
	tg.Seed = func(t *testing.T, recs []sdk.Record) {
		for _, r := range recs {
			var m map[string]any
			dec := json.NewDecoder(bytes.NewReader(r.Payload))
			dec.UseNumber()
			if err := dec.Decode(&m); err != nil {
				t.Fatal(err)
			}
			m["PurchaseOrderByCustomer"], m["SoldToParty"], m["SalesOrderType"] = r.Key, "17100001", "OR"
			raw, _ := json.Marshal(m)
			if _, err := e.sb.Insert("A_SalesOrder", raw); err != nil {
				t.Fatal(err)
			}
		}
	}
	tg.NewRecords = newOrders
	tg.State = e.orders
	item := func(s string) json.RawMessage {
		return json.RawMessage(`{"SoldToParty":"17100001","to_Item":[{"Material":"WID-100","RequestedQuantity":"1","RequestedQuantityUnit":"EA"},` + s + `]}`)
	}
	tg.Invalid = []conformance.InvalidCase{
		{Name: "unknown material", Record: sdk.Record{Key: "bad-material", Version: 1, Payload: item(`{"Material":"NOPE","RequestedQuantity":"1"}`)},
			Field: "to_Item[1].Material", Code: "V1/384"},
		{Name: "unit not defined for the material", Record: sdk.Record{Key: "bad-unit", Version: 1, Payload: item(`{"Material":"GAD-200","RequestedQuantity":"1","RequestedQuantityUnit":"PAK"}`)},
			Field: "to_Item[1].RequestedQuantityUnit", Code: "V1/393"},
		{Name: "unknown sold-to party", Record: sdk.Record{Key: "bad-soldto", Version: 1, Payload: json.RawMessage(`{"SoldToParty":"99999"}`)},
			Field: "SoldToParty", Code: "V1/320"},
		{Name: "quantity beyond its scale", Record: sdk.Record{Key: "bad-qty", Version: 1, Payload: item(`{"Material":"GAD-200","RequestedQuantity":1.2345}`)},
			Field: "to_Item[1].RequestedQuantity", Code: "INVALID_DECIMAL"},
		{Name: "unknown field", Record: sdk.Record{Key: "bad-field", Version: 1, Payload: json.RawMessage(`{"SoldToParty":"17100001","Bogus":1}`)},
			Field: "Bogus", Code: "UNKNOWN_FIELD"},
		{Name: "not an object", Record: sdk.Record{Key: "bad-json", Version: 1, Payload: json.RawMessage(`[1]`)},
			Field: "record", Code: "INVALID_JSON"},
	}
	conformance.Run(t, tg)

	for _, r := range e.sb.Requests() {
		if r.Auth != "" && r.Auth != "basic" {
			t.Errorf("request %s %s authenticated by %s", r.Method, r.Path, r.Auth)
		}
		if r.Status == http.StatusUnauthorized {
			t.Errorf("request %s %s: 401", r.Method, r.Path)
		}
		if q, _ := url.ParseQuery(r.Query); r.Service != "" && q.Get("sap-client") != sandbox.DefaultClient {
			t.Errorf("request %s %s without sap-client", r.Method, r.Path)
		}
	}
}

// TestConformanceOAuth runs the kit's checks with a token from the
// sandbox's OAuth endpoint as the host's token.
func TestConformanceOAuth(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest("POST", e.srv.URL+sandbox.DefaultTokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(sandbox.DefaultClientID, sandbox.DefaultClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if tok.AccessToken == "" {
		t.Fatal("no access token")
	}
	tg := e.target(t, map[string]any{"auth": "oauth", "username": nil, "password": nil})
	tg.Token = tok.AccessToken
	tg.NewRecords = newOrders
	tg.State = e.orders
	conformance.Run(t, tg)
	for _, r := range e.sb.Requests() {
		if r.Auth != "" && r.Auth != "bearer" {
			t.Errorf("request %s %s authenticated by %s", r.Method, r.Path, r.Auth)
		}
	}
}
