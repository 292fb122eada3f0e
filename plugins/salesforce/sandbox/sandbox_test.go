package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// env is a sandbox served by httptest with an access token.
type env struct {
	t     *testing.T
	s     *Server
	url   string
	token string
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	s := New(opts)
	hs := httptest.NewServer(s)
	s.SetURL(hs.URL)
	t.Cleanup(func() {
		hs.Close()
		s.Close()
	})
	e := &env{t: t, s: s, url: hs.URL}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	e.do("POST", "/_sandbox/token", "", &tok, 200)
	e.token = tok.AccessToken
	return e
}

// do sends a request and decodes the answer into out, checking the
// status; it returns the response and its body.
func (e *env) do(method, path, body string, out any, want int) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want != 0 && resp.StatusCode != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, data)
	}
	if out != nil && len(data) > 0 {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
	return resp, data
}

const v = "/services/data/v61.0"

func q(soql string) string { return v + "/query?q=" + urlEscape(soql) }

func urlEscape(s string) string {
	r := strings.NewReplacer(" ", "+", "'", "%27", ",", "%2C", "=", "%3D", ">", "%3E", "<", "%3C", "(", "%28", ")", "%29", ":", "%3A", "+", "%2B", "%", "%25")
	return r.Replace(s)
}

type queryResult struct {
	TotalSize      int              `json:"totalSize"`
	Done           bool             `json:"done"`
	NextRecordsURL string           `json:"nextRecordsUrl"`
	Records        []map[string]any `json:"records"`
}

func TestDemoQueries(t *testing.T) {
	e := newEnv(t, Options{})
	if err := e.s.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		soql  string
		count int
		check func(t *testing.T, recs []map[string]any)
	}{
		{"orders over 5000", "SELECT Id, OrderNumber, TotalAmount FROM Order WHERE TotalAmount >= 5000 AND Status = 'Activated' ORDER BY TotalAmount DESC", 3, func(t *testing.T, recs []map[string]any) {
			if got := recs[0]["TotalAmount"]; got != json.Number("8501.50") {
				t.Errorf("largest TotalAmount %v, want 8501.50", got)
			}
		}},
		{"orders under 5000", "SELECT Id FROM Order WHERE TotalAmount < 5000 AND StatusCode = 'Activated'", 2, nil},
		{"parent and children", "SELECT Id, OrderNumber, Account.Name, Account.BillingCountry, Account.BillingCountryCode, (SELECT Quantity, UnitPrice, Product2.ProductCode, Product2.QuantityUnitOfMeasure FROM OrderItems ORDER BY OrderItemNumber) FROM Order WHERE Account.AccountNumber = 'INITECH-003'", 1, func(t *testing.T, recs []map[string]any) {
			acc := recs[0]["Account"].(map[string]any)
			if acc["BillingCountry"] != "U.S." || acc["BillingCountryCode"] != "US" {
				t.Errorf("account %v: want U.S. kept as written, code US", acc)
			}
			items := recs[0]["OrderItems"].(map[string]any)["records"].([]any)
			if len(items) != 2 {
				t.Fatalf("items %v", items)
			}
			p := items[0].(map[string]any)["Product2"].(map[string]any)
			if p["ProductCode"] != "WID-100-12" || p["QuantityUnitOfMeasure"] != "Pack of 12" {
				t.Errorf("product %v", p)
			}
		}},
		{"IN and LIKE", "SELECT Name FROM Account WHERE BillingCountryCode IN ('DE', 'GB') OR Name LIKE 'acme%'", 3, nil},
		{"NOT IN", "SELECT Name FROM Account WHERE BillingCountryCode NOT IN ('US')", 3, nil},
		{"date literal", "SELECT Id FROM Order WHERE EffectiveDate = TODAY", 6, nil},
		{"datetime literal", "SELECT Id FROM Order WHERE SystemModstamp > 2000-01-01T00:00:00.000Z AND CreatedDate < 2999-01-01T00:00:00+01:00", 6, nil},
		{"limit offset", "SELECT Id FROM Account ORDER BY Name LIMIT 2 OFFSET 1", 2, nil},
		{"empty children are null", "SELECT Id, (SELECT Id FROM Orders) FROM Account WHERE Name = 'Acme Corporation'", 1, func(t *testing.T, recs []map[string]any) {
			if recs[0]["Orders"] == nil {
				t.Error("Acme has orders")
			}
		}},
		{"count", "SELECT COUNT() FROM Product2", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res queryResult
			e.t = t
			e.do("GET", q(tt.soql), "", &res, 200)
			if tt.name == "count" {
				if res.TotalSize != 4 || len(res.Records) != 0 {
					t.Errorf("count: %+v", res)
				}
				return
			}
			if len(res.Records) != tt.count {
				t.Fatalf("%d records, want %d: %+v", len(res.Records), tt.count, res.Records)
			}
			if tt.check != nil {
				tt.check(t, res.Records)
			}
		})
	}
}

func TestQueryErrors(t *testing.T) {
	e := newEnv(t, Options{})
	tests := []struct {
		soql, code string
	}{
		{"SELECT Id FROM Nothing", "INVALID_TYPE"},
		{"SELECT Nope FROM Account", "INVALID_FIELD"},
		{"SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'", "MALFORMED_QUERY"},
		{"SELECT Id FROM Order WHERE SystemModstamp > '2024-01-01T00:00:00Z'", "INVALID_FIELD"},
		{"SELECT Id FROM Order WHERE EffectiveDate > 2024-01-01T00:00:00Z", "INVALID_FIELD"},
		{"SELECT Id, (SELECT Id FROM Nothings) FROM Order", "INVALID_TYPE"},
		{"SELECT Id FROM", "MALFORMED_QUERY"},
		{"SELECT Id FROM Account WHERE Name = 'unterminated", "MALFORMED_QUERY"},
	}
	for _, tt := range tests {
		var errs []apiErrorJSON
		e.do("GET", q(tt.soql), "", &errs, 400)
		if len(errs) != 1 || errs[0].ErrorCode != tt.code {
			t.Errorf("%s: %+v, want %s", tt.soql, errs, tt.code)
		}
	}
}

type apiErrorJSON struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields"`
}

func TestPagingAndLimits(t *testing.T) {
	e := newEnv(t, Options{BatchSize: 3, DailyLimit: 50})
	var recs []SeedRecord
	for i := 0; i < 8; i++ {
		recs = append(recs, SeedRecord{Type: "Account", Fields: map[string]any{"Name": "A" + string(rune('a'+i))}})
	}
	if _, err := e.s.Seed(recs...); err != nil {
		t.Fatal(err)
	}
	var got []string
	var res queryResult
	resp, _ := e.do("GET", q("SELECT Name FROM Account ORDER BY Name"), "", &res, 200)
	if h := resp.Header.Get("Sforce-Limit-Info"); h != "api-usage=1/50" {
		t.Errorf("Sforce-Limit-Info %q", h)
	}
	pages := 1
	for {
		for _, r := range res.Records {
			got = append(got, r["Name"].(string))
		}
		if res.Done {
			break
		}
		if !strings.HasPrefix(res.NextRecordsURL, v+"/query/01g") {
			t.Fatalf("nextRecordsUrl %q", res.NextRecordsURL)
		}
		next := res.NextRecordsURL
		res = queryResult{}
		e.do("GET", next, "", &res, 200)
		pages++
	}
	if pages != 3 || len(got) != 8 || res.TotalSize != 8 {
		t.Errorf("pages %d, records %v, totalSize %d", pages, got, res.TotalSize)
	}
	e.s.SetUsage(50, 0)
	var errs []apiErrorJSON
	resp, _ = e.do("GET", v+"/limits", "", &errs, 403)
	if len(errs) != 1 || errs[0].ErrorCode != "REQUEST_LIMIT_EXCEEDED" || errs[0].Message != "TotalRequests Limit exceeded." {
		t.Errorf("past the quota: %+v", errs)
	}
	if h := resp.Header.Get("Sforce-Limit-Info"); h != "api-usage=50/50" {
		t.Errorf("Sforce-Limit-Info past the quota %q", h)
	}
	e.s.SetUsage(0, 0)
	var limits map[string]map[string]int
	e.do("GET", v+"/limits", "", &limits, 200)
	if l := limits["DailyApiRequests"]; l["Max"] != 50 || l["Remaining"] != 49 {
		t.Errorf("DailyApiRequests %v", l)
	}
}

func TestUpsertStatusCodes(t *testing.T) {
	e := newEnv(t, Options{})
	if _, err := e.s.Seed(
		SeedRecord{Type: "Account", Fields: map[string]any{"Name": "Dup 1", "Legacy_Id__c": "L-1"}},
		SeedRecord{Type: "Account", Fields: map[string]any{"Name": "Dup 2", "Legacy_Id__c": "L-1"}},
	); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, method, body string
		status                   int
		want                     string // a part of the body
	}{
		{"create", v + "/sobjects/Account/ExternalId__c/X-1", "PATCH", `{"Name":"X"}`, 201, `"created":true`},
		{"update v61", v + "/sobjects/Account/ExternalId__c/X-1", "PATCH", `{"Name":"X2"}`, 200, `"created":false`},
		{"update v45", "/services/data/v45.0/sobjects/Account/ExternalId__c/X-1", "PATCH", `{"Name":"X3"}`, 204, ""},
		{"create v45 has no created", "/services/data/v45.0/sobjects/Account/ExternalId__c/X-2", "PATCH", `{"Name":"Y"}`, 201, `"errors":[]}`},
		{"multiple", v + "/sobjects/Account/Legacy_Id__c/L-1", "PATCH", `{"Name":"Z"}`, 300, `/sobjects/Account/001`},
		{"bad field", v + "/sobjects/Account/Namez/X", "PATCH", `{"Name":"Z"}`, 404, `Provided external ID field does not exist or is not accessible: Namez`},
		{"updateOnly", v + "/sobjects/Account/ExternalId__c/NEW?updateOnly=true", "PATCH", `{"Name":"Z"}`, 404, `NOT_FOUND`},
		{"required", v + "/sobjects/Account/ExternalId__c/X-3", "PATCH", `{"Description":"no name"}`, 400, `"errorCode":"REQUIRED_FIELD_MISSING","fields":["Name"]`},
		{"unknown field", v + "/sobjects/Account/ExternalId__c/X-3", "PATCH", `{"Name":"n","Nope__c":1}`, 400, `INVALID_FIELD`},
		{"read-only field", v + "/sobjects/Order", "POST", `{"TotalAmount":1}`, 400, `INVALID_FIELD_FOR_INSERT_UPDATE`},
		{"bad country", v + "/sobjects/Account", "POST", `{"Name":"n","BillingCountry":"Atlantis"}`, 400, `FIELD_INTEGRITY_EXCEPTION`},
		{"not found", v + "/sobjects/Account/001000000000000AAA", "GET", "", 404, `"errorCode":"NOT_FOUND"`},
		{"no collections before 46", "/services/data/v45.0/composite/sobjects/Account/ExternalId__c", "PATCH", `{"records":[]}`, 404, `NOT_FOUND`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			_, body := e.do(tt.method, tt.path, tt.body, nil, tt.status)
			if !strings.Contains(string(body), tt.want) {
				t.Errorf("body %s, want %s", body, tt.want)
			}
		})
	}
}

func TestCountrySync(t *testing.T) {
	e := newEnv(t, Options{CountryValues: map[string]string{"US": "USA"}})
	tests := []struct {
		body, country, code string
	}{
		{`{"Name":"a","BillingCountryCode":"de"}`, "Germany", "DE"},
		{`{"Name":"b","BillingCountry":"usa"}`, "USA", "US"},
		{`{"Name":"c","BillingCountryCode":"US","BillingStateCode":"TX"}`, "USA", "US"},
	}
	for _, tt := range tests {
		var res struct{ ID string }
		e.do("POST", v+"/sobjects/Account", tt.body, &res, 201)
		var rec map[string]any
		e.do("GET", v+"/sobjects/Account/"+res.ID, "", &rec, 200)
		if rec["BillingCountry"] != tt.country || rec["BillingCountryCode"] != tt.code {
			t.Errorf("%s: country %v code %v", tt.body, rec["BillingCountry"], rec["BillingCountryCode"])
		}
	}
}

// demoOrderRefs seeds the demo data and returns the ids an order of Gadget
// Pros for Acme needs: the account, the standard price book and the
// product's price book entry.
func demoOrderRefs(t *testing.T, e *env) (acct, book, entry string) {
	t.Helper()
	if err := e.s.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	var accts, books, entries queryResult
	e.do("GET", q("SELECT Id FROM Account WHERE AccountNumber = 'ACME-001'"), "", &accts, 200)
	e.do("GET", q("SELECT Id FROM Pricebook2 WHERE IsStandard = true"), "", &books, 200)
	e.do("GET", q("SELECT Id, Product2.ProductCode FROM PricebookEntry WHERE Product2.ProductCode = 'GAD-200'"), "", &entries, 200)
	return accts.Records[0]["Id"].(string), books.Records[0]["Id"].(string), entries.Records[0]["Id"].(string)
}

func TestOrderSemantics(t *testing.T) {
	e := newEnv(t, Options{})
	acct, book, entry := demoOrderRefs(t, e)

	var errs []apiErrorJSON
	e.do("POST", v+"/sobjects/Order", `{"AccountId":"`+acct+`"}`, &errs, 400)
	if errs[0].ErrorCode != "REQUIRED_FIELD_MISSING" || strings.Join(errs[0].Fields, ",") != "EffectiveDate,Status" {
		t.Errorf("required: %+v", errs)
	}
	var created struct{ ID string }
	e.do("POST", v+"/sobjects/Order", `{"AccountId":"`+acct+`","EffectiveDate":"2024-05-01","Status":"Draft","Pricebook2Id":"`+book+`"}`, &created, 201)
	order := created.ID
	e.do("POST", v+"/sobjects/OrderItem", `{"OrderId":"`+order+`","PricebookEntryId":"`+entry+`","Quantity":3,"UnitPrice":2450.50}`, nil, 201)
	var o map[string]any
	e.do("GET", v+"/sobjects/Order/"+order, "", &o, 200)
	if o["TotalAmount"] != json.Number("7351.50") || o["OrderNumber"] == nil || o["StatusCode"] != "Draft" {
		t.Errorf("order %v %v %v", o["TotalAmount"], o["OrderNumber"], o["StatusCode"])
	}
	stamp := o["SystemModstamp"].(string)
	if !strings.HasSuffix(stamp, "+0000") || len(stamp) != len("2011-07-07T00:37:00.000+0000") {
		t.Errorf("SystemModstamp %q", stamp)
	}
	e.do("PATCH", v+"/sobjects/Order/"+order, `{"Status":"Activated"}`, nil, 204)
	errs = nil
	e.do("POST", v+"/sobjects/OrderItem", `{"OrderId":"`+order+`","PricebookEntryId":"`+entry+`","Quantity":1,"UnitPrice":1}`, &errs, 400)
	if errs[0].ErrorCode != "FIELD_INTEGRITY_EXCEPTION" {
		t.Errorf("item on an activated order: %+v", errs)
	}
	errs = nil
	e.do("PATCH", v+"/sobjects/Order/"+order, `{"Status":"Shipped"}`, &errs, 400)
	if errs[0].ErrorCode != "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" {
		t.Errorf("restricted picklist: %+v", errs)
	}
}

func TestCollectionsUpsert(t *testing.T) {
	e := newEnv(t, Options{})
	body := `{"allOrNone":false,"records":[
		{"attributes":{"type":"Account"},"ExternalId__c":"C-1","Name":"One","Credit_Limit__c":12345678901234567.89},
		{"attributes":{"type":"Account"},"ExternalId__c":"C-2"},
		{"attributes":{"type":"Account"},"ExternalId__c":"C-3","Name":"Three"}]}`
	var res []map[string]any
	e.do("PATCH", v+"/composite/sobjects/Account/ExternalId__c", body, &res, 200)
	if len(res) != 3 || res[0]["success"] != true || res[0]["created"] != true || res[1]["success"] != false || res[2]["created"] != true {
		t.Fatalf("results %v", res)
	}
	errs := res[1]["errors"].([]any)[0].(map[string]any)
	if errs["statusCode"] != "REQUIRED_FIELD_MISSING" {
		t.Errorf("error %v", errs)
	}
	res = nil
	e.do("PATCH", v+"/composite/sobjects/Account/ExternalId__c", strings.Replace(body, `"allOrNone":false`, `"allOrNone":true`, 1), &res, 200)
	if res[0]["success"] != false || res[2]["errors"].([]any)[0].(map[string]any)["statusCode"] != "ALL_OR_NONE_OPERATION_ROLLED_BACK" {
		t.Errorf("allOrNone %v", res)
	}
	recs, _ := e.s.Records("Account")
	if n := len(recs); n != 2 {
		t.Errorf("%d accounts after a rolled back call, want 2", n)
	}
	if !bytes.Contains(recs[0], []byte(`"Credit_Limit__c":12345678901234567.89`)) {
		t.Errorf("decimal not kept exactly: %s", recs[0])
	}
}

// TestOrderTotalRollsUp checks an order's TotalAmount through the changes of
// its products: added, rolled back with an allOrNone call, and deleted with
// the order.
func TestOrderTotalRollsUp(t *testing.T) {
	e := newEnv(t, Options{})
	acct, book, entry := demoOrderRefs(t, e)
	var created struct{ ID string }
	e.do("POST", v+"/sobjects/Order", `{"AccountId":"`+acct+`","EffectiveDate":"2024-05-01","Status":"Draft","Pricebook2Id":"`+book+`"}`, &created, 201)
	order := created.ID
	item := func(qty string) string {
		return `{"attributes":{"type":"OrderItem"},"OrderId":"` + order + `","PricebookEntryId":"` + entry + `","UnitPrice":100` + qty + `}`
	}
	total := func() any {
		var o map[string]any
		e.do("GET", v+"/sobjects/Order/"+order, "", &o, 200)
		return o["TotalAmount"]
	}

	steps := []struct {
		name, method, path, body string
		want                     json.Number
	}{
		{"one product", "POST", v + "/composite/sobjects", `{"allOrNone":true,"records":[` + item(`,"Quantity":2`) + `]}`, "200.00"},
		{"a call rolled back", "POST", v + "/composite/sobjects", `{"allOrNone":true,"records":[` + item(`,"Quantity":5`) + `,` + item(``) + `]}`, "200.00"},
		{"another product", "POST", v + "/composite/sobjects", `{"allOrNone":false,"records":[` + item(`,"Quantity":1`) + `]}`, "300.00"},
	}
	for _, s := range steps {
		e.do(s.method, s.path, s.body, nil, 200)
		if got := total(); got != s.want {
			t.Errorf("%s: TotalAmount %v; want %v", s.name, got, s.want)
		}
	}

	e.do("DELETE", v+"/sobjects/Order/"+order, "", nil, 204)
	var items queryResult
	e.do("GET", q("SELECT Id FROM OrderItem WHERE OrderId = '"+order+"'"), "", &items, 200)
	if len(items.Records) != 0 {
		t.Errorf("%d products left of a deleted order", len(items.Records))
	}
}
