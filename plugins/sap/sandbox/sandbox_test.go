package sandbox

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// client is a test client of a sandbox with a session cookie jar.
type client struct {
	t     *testing.T
	base  string
	hc    *http.Client
	token string
}

func newClient(t *testing.T, opts Options) (*Server, *client) {
	t.Helper()
	s := New(opts)
	s.SeedDemo()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	return s, &client{t: t, base: srv.URL, hc: &http.Client{Jar: jar}}
}

func (c *client) do(method, path, body string, hdr map[string]string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.SetBasicAuth(DefaultUser, DefaultPassword)
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("x-csrf-token", c.token)
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

const so = "/sap/opu/odata/sap/API_SALES_ORDER_SRV"

func (c *client) fetchToken() {
	c.t.Helper()
	resp, _ := c.do("GET", so+"/", "", map[string]string{"x-csrf-token": "Fetch"})
	c.token = resp.Header.Get("x-csrf-token")
	if c.token == "" || resp.StatusCode != 200 {
		c.t.Fatalf("fetch: %d token %q", resp.StatusCode, c.token)
	}
}

const order = `{"SalesOrderType":"OR","SalesOrganization":"1710","DistributionChannel":"10","OrganizationDivision":"00",
 "SoldToParty":"17100001","PurchaseOrderByCustomer":"SF-1",
 "to_Item":[{"Material":"WID-100","RequestedQuantity":"2","RequestedQuantityUnit":"CS"},
            {"Material":"CAB-10M","RequestedQuantity":"25","RequestedQuantityISOUnit":"MTR"}]}`

func TestCSRF(t *testing.T) {
	s, c := newClient(t, Options{})
	resp, body := c.do("POST", so+"/A_SalesOrder", order, nil)
	if resp.StatusCode != 403 || resp.Header.Get("x-csrf-token") != "Required" || body != "CSRF token validation failed" ||
		resp.Header.Get("Content-Length") != "28" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("without token: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	c.fetchToken()
	if resp, body := c.do("POST", so+"/A_SalesOrder", order, nil); resp.StatusCode != 201 {
		t.Fatalf("with token: %d %s", resp.StatusCode, body)
	}
	// A token without its session cookie is not enough.
	jarless := &client{t: t, base: c.base, hc: &http.Client{}, token: c.token}
	if resp, _ := jarless.do("POST", so+"/A_SalesOrder", order, nil); resp.StatusCode != 403 {
		t.Fatalf("token without cookie: %d", resp.StatusCode)
	}
	s.ExpireSessions()
	if resp, _ := c.do("POST", so+"/A_SalesOrder", order, nil); resp.StatusCode != 403 || resp.Header.Get("x-csrf-token") != "Required" {
		t.Fatalf("expired session: %d", resp.StatusCode)
	}
}

func TestSessionTimeout(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	_, c := newClient(t, Options{SessionTimeout: time.Minute, Now: func() time.Time { return now }})
	c.fetchToken()
	now = now.Add(2 * time.Minute)
	if resp, _ := c.do("POST", so+"/A_SalesOrder", order, nil); resp.StatusCode != 403 {
		t.Fatalf("after the timeout: %d", resp.StatusCode)
	}
}

func TestDeepInsertAndRead(t *testing.T) {
	_, c := newClient(t, Options{})
	c.fetchToken()
	resp, body := c.do("POST", so+"/A_SalesOrder", order, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var created struct {
		D struct {
			Metadata                                                            struct{ URI, Type, Etag string } `json:"__metadata"`
			SalesOrder, TotalNetAmount, LastChangeDateTime, TransactionCurrency string
			ToItem                                                              struct {
				Results []map[string]any
			} `json:"to_Item"`
			ToPartner map[string]map[string]string `json:"to_Partner"`
		}
	}
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatal(err)
	}
	d := created.D
	// 2 CS of WID-100 = 24 EA at 12.50; 25 M of CAB-10M = 2.5 PC at 7.25.
	if d.SalesOrder != "1" || d.TotalNetAmount != "318.125" || d.TransactionCurrency != "USD" ||
		!strings.HasPrefix(d.Metadata.Etag, `W/"datetimeoffset'`) || d.Metadata.Type != "API_SALES_ORDER_SRV.A_SalesOrderType" ||
		!strings.HasPrefix(d.LastChangeDateTime, "/Date(") || !strings.HasSuffix(d.LastChangeDateTime, "+0000)/") ||
		d.ToPartner["__deferred"]["uri"] == "" || resp.Header.Get("Location") != d.Metadata.URI {
		t.Fatalf("created: %s", body)
	}
	if len(d.ToItem.Results) != 2 || d.ToItem.Results[1]["RequestedQuantitySAPUnit"] != "M" || d.ToItem.Results[1]["SalesOrderItem"] != "20" ||
		d.ToItem.Results[0]["RequestedQuantity"] != "2.000" || d.ToItem.Results[0]["RequestedQuantityISOUnit"] != "CS" {
		t.Fatalf("items: %v", d.ToItem.Results)
	}

	tests := []struct {
		name, query string
		want        []string
	}{
		{"filter eq", "/A_SalesOrder?$filter=PurchaseOrderByCustomer%20eq%20'SF-1'&$select=SalesOrder", []string{`"SalesOrder":"1"`}},
		{"inlinecount", "/A_SalesOrder?$inlinecount=allpages&$top=0", []string{`"__count":"1"`, `"results":[]`}},
		{"expand select", "/A_SalesOrder('1')?$expand=to_Item&$select=SalesOrder,to_Item/Material", []string{`"to_Item":{"results":[{"__metadata"`, `"Material":"WID-100"}`}},
		{"items by key", "/A_SalesOrderItem(SalesOrder='1',SalesOrderItem='10')", []string{`"NetAmount":"300.000"`}},
		{"alpha compare", "/A_SalesOrder?$filter=SalesOrder%20gt%20'0'%20and%20SoldToParty%20eq%20'17100001'&$select=SalesOrder", []string{`"SalesOrder":"1"`}},
		{"substringof", "/A_SalesOrderItem?$filter=substringof('CAB',Material)&$select=Material", []string{`"Material":"CAB-10M"`}},
		{"count", "/A_SalesOrderItem/$count", []string{"2"}},
		{"nav", "/A_SalesOrder('1')/to_Item?$orderby=SalesOrderItem%20desc&$top=1&$select=SalesOrderItem", []string{`"SalesOrderItem":"20"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := c.do("GET", so+tc.query, "", nil)
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("%s lacks %s", body, w)
				}
			}
		})
	}
}

func TestValidation(t *testing.T) {
	_, c := newClient(t, Options{})
	c.fetchToken()
	tests := []struct {
		name, body, code, target string
	}{
		{"unknown material", `{"SalesOrderType":"OR","SalesOrganization":"1710","DistributionChannel":"10","OrganizationDivision":"00","SoldToParty":"17100001","to_Item":[{"SalesOrderItem":"10","Material":"NOPE","RequestedQuantity":"1"}]}`,
			msgMaterial, "to_Item(SalesOrder='',SalesOrderItem='10')/Material"},
		{"unit not for material", `{"SalesOrderType":"OR","SalesOrganization":"1710","DistributionChannel":"10","OrganizationDivision":"00","SoldToParty":"17100001","to_Item":[{"Material":"WID-100","RequestedQuantity":"1"},{"Material":"GAD-200","RequestedQuantity":"1","RequestedQuantityUnit":"PAK"}]}`,
			msgUnitMaterial, "to_Item(SalesOrder='',SalesOrderItem='20')/RequestedQuantityUnit"},
		{"unknown unit", `{"SalesOrderType":"OR","SalesOrganization":"1710","DistributionChannel":"10","OrganizationDivision":"00","SoldToParty":"17100001","to_Item":[{"Material":"WID-100","RequestedQuantity":"1","RequestedQuantitySAPUnit":"XX"}]}`,
			msgUnit, "to_Item(SalesOrder='',SalesOrderItem='10')/RequestedQuantitySAPUnit"},
		{"unknown sold-to", `{"SalesOrderType":"OR","SalesOrganization":"1710","DistributionChannel":"10","OrganizationDivision":"00","SoldToParty":"99"}`,
			msgSoldTo, "SoldToParty"},
		{"blocked sold-to", `{"SalesOrderType":"OR","SalesOrganization":"1710","DistributionChannel":"10","OrganizationDivision":"00","SoldToParty":"17100009"}`,
			msgSoldToBlocked, "SoldToParty"},
		{"decimal as number", `{"SalesOrderType":"OR","SalesOrganization":"1710","DistributionChannel":"10","OrganizationDivision":"00","SoldToParty":"17100001","to_Item":[{"Material":"WID-100","RequestedQuantity":1}]}`,
			msgInput, "to_Item(SalesOrder='',SalesOrderItem='10')/RequestedQuantity"},
		{"too long", `{"SalesOrderType":"OR","SalesOrganization":"1710","DistributionChannel":"10","OrganizationDivision":"00","SoldToParty":"17100001","PurchaseOrderByCustomer":"` + strings.Repeat("x", 36) + `"}`,
			msgInput, "PurchaseOrderByCustomer"},
		{"unknown property", `{"SalesOrderType":"OR","Bogus":"1"}`, msgProperty, "Bogus"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := c.do("POST", so+"/A_SalesOrder", tc.body, nil)
			var e struct {
				Error struct {
					Code    string
					Message struct{ Lang, Value string }
					Inner   struct {
						Details []struct{ Code, Message, Target, Severity string } `json:"errordetails"`
					} `json:"innererror"`
				}
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil || resp.StatusCode != 400 {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			d := e.Error.Inner.Details
			if e.Error.Code != tc.code || e.Error.Message.Lang != "en" || len(d) < 2 || d[0].Target != tc.target || d[0].Severity != "error" {
				t.Fatalf("got %s", body)
			}
		})
	}
}

func TestETags(t *testing.T) {
	s, c := newClient(t, Options{})
	c.fetchToken()
	resp, body := c.do("POST", so+"/A_SalesOrder", order, nil)
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 201 || etag == "" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	patch := `{"PurchaseOrderByShipToParty":"X-1"}`
	if resp, _ := c.do("PATCH", so+"/A_SalesOrder('1')", patch, nil); resp.StatusCode != 428 {
		t.Fatalf("no If-Match: %d", resp.StatusCode)
	}
	if resp, _ := c.do("PATCH", so+"/A_SalesOrder('1')", patch, map[string]string{"If-Match": `W/"datetimeoffset'2001-01-01T00%3A00%3A00.0000000Z'"`}); resp.StatusCode != 412 {
		t.Fatalf("stale: %d", resp.StatusCode)
	}
	resp, body = c.do("PATCH", so+"/A_SalesOrder('1')", patch, map[string]string{"If-Match": etag})
	if resp.StatusCode != 204 || resp.Header.Get("ETag") == etag {
		t.Fatalf("fresh: %d %s", resp.StatusCode, body)
	}
	etag = resp.Header.Get("ETag")
	s.SetFaults(Faults{ConcurrentChange: 1})
	if resp, _ := c.do("PATCH", so+"/A_SalesOrderItem(SalesOrder='1',SalesOrderItem='10')", `{"RequestedQuantity":"3"}`, map[string]string{"If-Match": etag}); resp.StatusCode != 412 {
		t.Fatalf("concurrent change: %d", resp.StatusCode)
	}
	_, body = c.do("GET", so+"/A_SalesOrder('1')?$select=PurchaseOrderByShipToParty", "", nil)
	if !strings.Contains(body, `"X-1"`) {
		t.Fatalf("after patch: %s", body)
	}
}

func TestAuthAndGateway(t *testing.T) {
	s, c := newClient(t, Options{})
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest("POST", c.base+DefaultTokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(DefaultClientID, DefaultClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   string `json:"expires_in"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if tok.AccessToken == "" || tok.ExpiresIn != "3600" {
		t.Fatalf("token: %+v", tok)
	}
	tests := []struct {
		name   string
		hdr    map[string]string
		query  string
		faults Faults
		status int
	}{
		{"basic", nil, "", Faults{}, 200},
		{"bearer", map[string]string{"Authorization": "Bearer " + tok.AccessToken}, "", Faults{}, 200},
		{"bad bearer", map[string]string{"Authorization": "Bearer nope"}, "", Faults{}, 401},
		{"wrong password", map[string]string{"Authorization": "Basic V0VJUl9DT01NX1VTRVI6eA=="}, "", Faults{}, 401},
		{"right client", nil, "?sap-client=100", Faults{}, 200},
		{"wrong client", nil, "?sap-client=200", Faults{}, 401},
		{"spike arrest", nil, "", Faults{SpikeArrestNext: 1}, 500},
		{"429", nil, "", Faults{Force429: 1}, 429},
		{"503", nil, "", Faults{FailNext: 1}, 503},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.SetFaults(tc.faults)
			resp, body := c.do("GET", so+"/A_SalesOrder"+tc.query, "", tc.hdr)
			if resp.StatusCode != tc.status {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			if tc.status == 500 && !strings.Contains(body, `"errorcode":"policies.ratelimit.SpikeArrestViolation"`) {
				t.Fatalf("fault body %s", body)
			}
		})
	}
}

func TestMetadata(t *testing.T) {
	_, c := newClient(t, Options{ProductISOUnits: true})
	for _, svc := range []string{SalesOrderService, MaterialStockService, ProductService, BusinessPartnerService} {
		resp, body := c.do("GET", "/sap/opu/odata/sap/"+svc+"/$metadata", "", nil)
		var doc struct {
			Schemas []struct {
				Types []struct {
					Name  string `xml:"Name,attr"`
					Props []struct {
						Name string `xml:"Name,attr"`
					} `xml:"Property"`
				} `xml:"EntityType"`
			} `xml:"DataServices>Schema"`
		}
		if err := xml.Unmarshal([]byte(body), &doc); err != nil || resp.StatusCode != 200 || len(doc.Schemas) != 1 || len(doc.Schemas[0].Types) == 0 {
			t.Fatalf("%s: %d %v", svc, resp.StatusCode, err)
		}
	}
	_, body := c.do("GET", "/sap/opu/odata/sap/"+ProductService+"/A_ProductUnitsOfMeasure?$filter=Product%20eq%20'WID-PK12'", "", nil)
	if !strings.Contains(body, `"AlternativeUnit":"PAK","QuantityNumerator":"12"`) || !strings.Contains(body, `"AlternativeISOUnit":"PK"`) {
		t.Fatalf("units: %s", body)
	}
}

func TestControlAPI(t *testing.T) {
	_, c := newClient(t, Options{})
	start := time.Now().UTC()
	c.do("GET", so+"/A_SalesOrder", "", nil)
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"records", "GET", "/_sandbox/records/A_Product", "", 200, `"Product":"WID-PK12"`},
		{"records inline units", "GET", "/_sandbox/records/A_Product", "", 200, `"to_ProductUnitsOfMeasure":[{"Product":"CAB-10M","AlternativeUnit":"M"`},
		{"insert", "POST", "/_sandbox/records/A_SalesOrder", `{"SoldToParty":"17100001","PurchaseOrderByCustomer":"SEEDED","TotalNetAmount":5}`, 201, `"SalesOrder":"1"`},
		{"update", "PATCH", "/_sandbox/records/A_SalesOrder/1", `{"OverallSDProcessStatus":"C"}`, 204, ""},
		{"updated", "GET", "/_sandbox/records/A_SalesOrder", "", 200, `"OverallSDProcessStatus":"C"`},
		{"faults", "POST", "/_sandbox/faults", `{"latency":"1ms","spike_arrest":{"rate":"5ps","status":429,"retry_after":2}}`, 200, `"rate":"5ps"`},
		{"bad fault", "POST", "/_sandbox/faults", `{"nope":1}`, 400, "unknown field"},
		{"requests", "GET", "/_sandbox/requests?since=" + start.Format(time.RFC3339Nano), "", 200, `"path":"/sap/opu/odata/sap/API_SALES_ORDER_SRV/A_SalesOrder"`},
		{"seed", "POST", "/_sandbox/seed", `{"records":{"A_Customer":[{"Customer":"42","CustomerName":"New"}]},"prices":{"WID-100":"1.5"}}`, 200, `"A_Customer":7`},
		{"reset", "POST", "/_sandbox/reset", "", 204, ""},
		{"empty", "GET", "/_sandbox/records/A_Product", "", 200, "[]"},
		{"unknown set", "GET", "/_sandbox/records/Nope", "", 404, "no entity set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := c.do(tc.method, tc.path, tc.body, nil)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
		})
	}
}
