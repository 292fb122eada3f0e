package sandbox

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
)

// env is a sandbox under test with a valid token.
type env struct {
	t     *testing.T
	s     *Server
	srv   *httptest.Server
	token string
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	opts.Demo = true
	s := New(opts)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	tok, _ := s.IssueToken("test-client")
	return &env{t: t, s: s, srv: srv, token: tok}
}

// do sends a request with the env's token and returns status, headers and
// body.
func (e *env) do(method, path string, body any, headers ...string) (int, http.Header, []byte) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

// get decodes a GET's JSON body.
func (e *env) get(path string) map[string]any {
	e.t.Helper()
	status, _, body := e.do(http.MethodGet, path, nil)
	if status != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", path, status, body)
	}
	return decode(e.t, body)
}

func decode(t *testing.T, body []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return m
}

// path returns the value at a dotted path with [i] indexes.
func path(v any, p string) any {
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

func order(ext string, lines ...string) string {
	return fmt.Sprintf(`{"externalId":%q,"entity":{"externalId":"ACC-0001"},"subsidiary":{"id":"1"},"tranDate":"2026-11-27","item":{"items":[%s]}}`,
		ext, strings.Join(lines, ","))
}

func TestCreateAndGetShapes(t *testing.T) {
	e := newEnv(t, Options{})
	status, h, body := e.do(http.MethodPost, RecordPath+"salesOrder", order("SF-1",
		`{"item":{"externalId":"WID-PK12"},"quantity":7,"units":"2","rate":499.00}`,
		`{"item":{"id":"11"},"quantity":3,"units":{"id":"1"},"rate":12345678901234567.89}`))
	if status != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("POST: %d %s, want 204 and no body", status, body)
	}
	loc := h.Get("Location")
	if !strings.HasPrefix(loc, e.srv.URL+RecordPath+"salesOrder/") {
		t.Fatalf("Location %q", loc)
	}
	id := loc[strings.LastIndex(loc, "/")+1:]
	plain := e.get(RecordPath + "salesOrder/" + id)
	if l := path(plain, "item.links[0].rel"); l != "self" || path(plain, "item.items") != nil {
		t.Errorf("without expandSubResources the sublist is only links: %v", plain["item"])
	}
	so := e.get(RecordPath + "salesOrder/" + id + "?expandSubResources=true")
	for _, c := range []struct {
		path string
		want any
	}{
		{"id", id},
		{"externalId", "SF-1"},
		{"tranId", "SO1001"},
		{"entity.id", "1001"},
		{"entity.refName", "CUST0001 Customer 1"},
		{"entity.links[0].rel", "self"},
		{"subsidiary.id", "1"},
		{"currency.refName", "US Dollar"},
		{"status.id", "Pending Fulfillment"},
		{"orderStatus.id", "B"},
		{"item.totalResults", json.Number("2")},
		{"item.items[0].line", json.Number("1")},
		{"item.items[0].item.id", "12"},
		{"item.items[0].item.refName", "WID-PK12"},
		{"item.items[0].units", "2"},
		{"item.items[0].amount", json.Number("3493")},
		{"item.items[1].amount", json.Number("37037036703703703.67")},
		{"item.items[0].itemType.id", "InvtPart"},
		{"total", json.Number("37037036703707196.67")},
		{"tranDate", "2026-11-27"},
	} {
		if got := path(so, c.path); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s = %v (%T), want %v", c.path, got, got, c.want)
		}
	}
	if lm, _ := so["lastModifiedDate"].(string); !strings.HasSuffix(lm, ":00Z") {
		t.Errorf("lastModifiedDate %q: want minute precision in UTC", lm)
	}
	few := e.get(RecordPath + "salesOrder/" + id + "?fields=tranId,total")
	if len(few) != 4 || few["tranId"] != "SO1001" {
		t.Errorf("?fields=tranId,total: %v", few)
	}
	byEID := e.get(RecordPath + "salesOrder/eid:SF-1")
	if byEID["id"] != id {
		t.Errorf("GET eid:SF-1 id = %v, want %s", byEID["id"], id)
	}
}

func TestUpsertSublistSemantics(t *testing.T) {
	e := newEnv(t, Options{})
	put := func(query string, lines ...string) string {
		t.Helper()
		status, h, body := e.do(http.MethodPut, RecordPath+"salesOrder/eid:SF-9"+query, order("SF-9", lines...))
		if status != http.StatusNoContent {
			t.Fatalf("PUT: %d %s", status, body)
		}
		return h.Get("Location")
	}
	lineItems := func() []string {
		so := e.get(RecordPath + "salesOrder/eid:SF-9?expandSubResources=true")
		var out []string
		for _, l := range path(so, "item.items").([]any) {
			out = append(out, fmt.Sprintf("%v×%v", path(l, "item.refName"), path(l, "quantity")))
		}
		return out
	}
	firstLoc := put("?replace=item", `{"item":{"externalId":"WID-100"},"quantity":1}`, `{"item":{"externalId":"GAD-200"},"quantity":2}`)
	second := put("?replace=item", `{"item":{"externalId":"CAB-10M"},"quantity":5}`)
	if firstLoc != second {
		t.Errorf("upsert moved the order: %s then %s", firstLoc, second)
	}
	if got := lineItems(); fmt.Sprint(got) != "[CAB-10M×5]" {
		t.Errorf("after PUT ?replace=item lines = %v, want only the new line", got)
	}
	put("", `{"item":{"externalId":"WID-100"},"quantity":3}`)
	if got := lineItems(); fmt.Sprint(got) != "[CAB-10M×5 WID-100×3]" {
		t.Errorf("after PUT without replace lines = %v, want the line appended", got)
	}
	first := path(e.get(RecordPath+"salesOrder/eid:SF-9?expandSubResources=true"), "item.items[0].line")
	if first != json.Number("3") {
		t.Errorf("first line is %v, want 3: replaced lines are not renumbered from 1", first)
	}
	status, _, body := e.do(http.MethodPatch, RecordPath+"salesOrder/eid:SF-9", fmt.Sprintf(`{"item":{"items":[{"line":%v,"quantity":9}]}}`, first))
	if status != http.StatusNoContent {
		t.Fatalf("PATCH line: %d %s", status, body)
	}
	if got := lineItems(); fmt.Sprint(got) != "[CAB-10M×9 WID-100×3]" {
		t.Errorf("after PATCH of one line lines = %v", got)
	}
	if n := len(e.s.Records("salesOrder")); n != 1 {
		t.Errorf("%d orders stored, want 1", n)
	}
}

func TestValidationErrors(t *testing.T) {
	e := newEnv(t, Options{})
	cases := []struct {
		name, body     string
		status         int
		code, path, in string
	}{
		{"unknown item", order("V1", `{"item":{"id":"9999"},"quantity":1}`), 400, "INVALID_CONTENT", "item.items[0].item", "Invalid Field Value 9999"},
		{"unknown item external id", order("V2", `{"item":{"externalId":"NOPE"},"quantity":1}`), 400, "INVALID_KEY_OR_REF", "item.items[0].item", "NOPE"},
		{"unit not in units type", order("V3", `{"item":{"externalId":"WID-100"},"quantity":1}`, `{"item":{"externalId":"CAB-10M"},"quantity":1,"units":"2"}`),
			400, "INVALID_CONTENT", "item.items[1].units", "units"},
		{"missing entity", `{"subsidiary":{"id":"1"},"item":{"items":[{"item":{"id":"11"}}]}}`, 400, "USER_ERROR", "entity", "Customer"},
		{"missing subsidiary", `{"entity":{"id":"1001"},"item":{"items":[{"item":{"id":"11"}}]}}`, 400, "USER_ERROR", "subsidiary", "Subsidiary"},
		{"unknown customer", `{"entity":{"externalId":"ACC-9999"},"subsidiary":{"id":"1"},"item":{"items":[{"item":{"id":"11"}}]}}`, 400, "INVALID_KEY_OR_REF", "entity", "ACC-9999"},
		{"no lines", `{"entity":{"id":"1001"},"subsidiary":{"id":"1"}}`, 400, "USER_ERROR", "item", "at least one line"},
		{"unknown field", `{"entity":{"id":"1001"},"subsidiary":{"id":"1"},"colour":"red","item":{"items":[{"item":{"id":"11"}}]}}`, 400, "INVALID_CONTENT", "colour", "colour"},
		{"bad country", `{"entity":{"id":"1001"},"subsidiary":{"id":"1"},"shippingAddress":{"country":{"id":"USA"}},"item":{"items":[{"item":{"id":"11"}}]}}`, 400, "INVALID_CONTENT", "shippingAddress.country", "USA"},
		{"quantity as text", order("V4", `{"item":{"id":"11"},"quantity":"two"}`), 400, "INVALID_CONTENT", "item.items[0].quantity", "two"},
		{"not JSON", `{"entity":`, 400, "INVALID_CONTENT", "", "Invalid content"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, h, body := e.do(http.MethodPost, RecordPath+"salesOrder", c.body)
			if status != c.status {
				t.Fatalf("status %d, want %d: %s", status, c.status, body)
			}
			if ct := h.Get("Content-Type"); !strings.Contains(ct, "application/vnd.oracle.resource+json") {
				t.Errorf("Content-Type %q", ct)
			}
			m := decode(t, body)
			if m["title"] != "Bad Request" || fmt.Sprint(m["status"]) != "400" || !strings.HasPrefix(fmt.Sprint(m["type"]), "https://") {
				t.Errorf("error envelope %s", body)
			}
			if got := path(m, "o:errorDetails[0].o:errorCode"); got != c.code {
				t.Errorf("o:errorCode %v, want %s", got, c.code)
			}
			if got, _ := path(m, "o:errorDetails[0].o:errorPath").(string); got != c.path {
				t.Errorf("o:errorPath %q, want %q", got, c.path)
			}
			if d, _ := path(m, "o:errorDetails[0].detail").(string); !strings.Contains(d, c.in) {
				t.Errorf("detail %q does not mention %q", d, c.in)
			}
		})
	}
	if n := len(e.s.Records("salesOrder")); n != 0 {
		t.Errorf("%d orders stored by refused requests", n)
	}
	status, _, body := e.do(http.MethodPost, RecordPath+"salesOrder", order("V9", `{"item":{"id":"11"},"colour":"red"}`),
		"X-NetSuite-PropertyNameValidation", "Ignore")
	if status != http.StatusNoContent {
		t.Errorf("unknown line field with validation Ignore: %d %s", status, body)
	}
	status, _, body = e.do(http.MethodGet, RecordPath+"salesOrder/424242", nil)
	if m := decode(t, body); status != 404 || path(m, "o:errorDetails[0].o:errorCode") != "NONEXISTENT_ID" {
		t.Errorf("GET missing: %d %s", status, body)
	}
}

func TestCustomerAndItemRecords(t *testing.T) {
	e := newEnv(t, Options{})
	status, _, body := e.do(http.MethodPut, RecordPath+"customer/eid:ACC-0100", `{"companyName":"Initech","subsidiary":{"id":"1"},"email":"ap@initech.example",
		"addressBook":{"items":[{"defaultBilling":true,"addressBookAddress":{"addr1":"1 Main St","city":"Austin","state":"TX","zip":"78701","country":{"id":"US"}}}]}}`)
	if status != http.StatusNoContent {
		t.Fatalf("PUT customer: %d %s", status, body)
	}
	c := e.get(RecordPath + "customer/eid:ACC-0100?expandSubResources=true")
	if c["companyName"] != "Initech" || path(c, "currency.id") != "1" || path(c, "addressBook.items[0].addressBookAddress.country.refName") != "United States" {
		t.Errorf("customer %v", c)
	}
	status, _, body = e.do(http.MethodPost, RecordPath+"customer", `{"email":"x@example.com","subsidiary":{"id":"1"}}`)
	if m := decode(t, body); status != 400 || path(m, "o:errorDetails[0].o:errorPath") != "companyName" {
		t.Errorf("customer without a name: %d %s", status, body)
	}
	item := e.get(RecordPath + "inventoryItem/eid:WID-100?expandSubResources=true")
	if path(item, "unitsType.refName") != "Count" || path(item, "locations.totalResults") != json.Number("3") ||
		path(item, "locations.items[0].quantityOnHand") != json.Number("1200") || path(item, "saleUnit.refName") != "Each" {
		t.Errorf("item %v", item)
	}
	ut := e.get(RecordPath + "unitsType/1?expandSubResources=true")
	if path(ut, "uom.items[1].unitName") != "Case" || path(ut, "uom.items[1].conversionRate") != json.Number("12") {
		t.Errorf("units type %v", ut)
	}
	// Case-insensitive types and a list.
	list := e.get(RecordPath + "SALESORDER?limit=5")
	if list["totalResults"] != json.Number("0") || list["hasMore"] != false {
		t.Errorf("list %v", list)
	}
}

func TestTransformsAndStock(t *testing.T) {
	e := newEnv(t, Options{})
	status, _, body := e.do(http.MethodPut, RecordPath+"salesOrder/eid:SF-T?replace=item",
		order("SF-T", `{"item":{"externalId":"WID-100"},"quantity":10,"location":{"id":"1"}}`, `{"item":{"externalId":"WID-PK12"},"quantity":2,"units":"2","location":{"id":"1"}}`))
	if status != 204 {
		t.Fatalf("PUT: %d %s", status, body)
	}
	stock := func(code string) string {
		rows, err := e.s.Query(fmt.Sprintf("SELECT a.quantityavailable FROM aggregateitemlocation a JOIN item i ON i.id = a.item WHERE i.itemid = '%s' AND a.location = 1", code))
		if err != nil || len(rows) != 1 {
			t.Fatalf("stock query: %v %v", rows, err)
		}
		return rows[0]["quantityavailable"]
	}
	if got := stock("WID-100"); got != "1190" {
		t.Errorf("WID-100 available %s, want 1200 - 10 committed", got)
	}
	if got := stock("WID-PK12"); got != "2376" {
		t.Errorf("WID-PK12 available %s, want 2400 - 2 cases of 12", got)
	}
	status, h, body := e.do(http.MethodPost, RecordPath+"salesOrder/eid:SF-T/!transform/itemFulfillment", `{"item":{"items":[{"orderLine":1,"quantity":4}]}}`)
	if status != 204 || !strings.Contains(h.Get("Location"), "/itemFulfillment/") {
		t.Fatalf("fulfill: %d %s %v", status, body, h)
	}
	so := e.get(RecordPath + "salesOrder/eid:SF-T?expandSubResources=true")
	if path(so, "status.id") != "Pending Billing/Partially Fulfilled" || path(so, "item.items[0].quantityFulfilled") != json.Number("4") {
		t.Errorf("after a partial fulfillment: %v %v", path(so, "status"), path(so, "item.items[0]"))
	}
	if _, err := e.s.Transform("eid:SF-T", "invoice", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Transform("eid:SF-T", "itemFulfillment", ""); err != nil {
		t.Fatal(err)
	}
	so = e.get(RecordPath + "salesOrder/eid:SF-T")
	if path(so, "status.id") != "Pending Billing" {
		t.Errorf("fully fulfilled, partly billed: status %v", path(so, "status"))
	}
	if got := stock("WID-100"); got != "1190" {
		t.Errorf("after shipping WID-100 available %s, want 1190 (on hand 1190, nothing committed)", got)
	}
	rows, err := e.s.Query("SELECT t.id, t.type, BUILTIN.DF(t.status) AS status FROM transaction t ORDER BY t.id")
	if err != nil || len(rows) != 4 || rows[1]["type"] != "ItemShip" || rows[2]["status"] != "Invoice : Open" {
		t.Errorf("transactions %v %v", rows, err)
	}
	status, _, body = e.do(http.MethodPut, RecordPath+"salesOrder/eid:SF-T?replace=item", order("SF-T", `{"item":{"externalId":"GAD-200"},"quantity":1}`))
	if m := decode(t, body); status != 400 || path(m, "o:errorDetails[0].o:errorCode") != "USER_ERROR" {
		t.Errorf("replacing fulfilled lines: %d %s", status, body)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	e := newEnv(t, Options{ConcurrencyLimit: 5})
	e.s.SetFaults(Faults{Latency: 40 * time.Millisecond})
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, h, body := e.do(http.MethodGet, RecordPath+"customer/1001", nil)
			mu.Lock()
			defer mu.Unlock()
			counts[status]++
			if status == 429 {
				m := decode(t, body)
				if path(m, "o:errorDetails[0].o:errorCode") != "CONCURRENCY_LIMIT_EXCEEDED" || h.Get("Retry-After") != "" || fmt.Sprint(m["status"]) != "429" {
					t.Errorf("429 answer: %v %s", h, body)
				}
			}
		}()
	}
	wg.Wait()
	st := e.s.Stats()
	if counts[200] < 5 || counts[429] == 0 || counts[200]+counts[429] != 20 {
		t.Errorf("answers %v: want 5 or more 200s and some 429s", counts)
	}
	if st.PeakInFlight > 5 || st.ConcurrencyRefused != counts[429] {
		t.Errorf("stats %+v", st)
	}
	for _, r := range e.s.Requests() {
		if r.InFlight > 5 {
			t.Errorf("request admitted with %d in flight", r.InFlight)
		}
	}
}

func TestRateLimitAndFaults(t *testing.T) {
	e := newEnv(t, Options{RateLimit: 3, RateWindow: time.Minute, ConcurrencyLimit: -1})
	var statuses []int
	for range 5 {
		s, _, _ := e.do(http.MethodGet, RecordPath+"customer/1001", nil)
		statuses = append(statuses, s)
	}
	if fmt.Sprint(statuses) != "[200 200 200 429 429]" {
		t.Errorf("rate limited statuses %v", statuses)
	}
	e = newEnv(t, Options{})
	e.s.SetFaults(Faults{Force429: 2})
	var got []int
	for range 3 {
		s, _, _ := e.do(http.MethodGet, RecordPath+"customer/1001", nil)
		got = append(got, s)
	}
	if fmt.Sprint(got) != "[429 429 200]" {
		t.Errorf("forced 429s: %v", got)
	}
	e.s.SetFaults(Faults{ErrorRate: 1, ErrorStatus: 502})
	if s, _, body := e.do(http.MethodGet, RecordPath+"customer/1001", nil); s != 502 || !strings.Contains(string(body), "UNEXPECTED_ERROR") {
		t.Errorf("injected 5xx: %d %s", s, body)
	}
	e.s.SetFaults(Faults{})
	e.s.ExpireTokens()
	status, _, body := e.do(http.MethodGet, RecordPath+"customer/1001", nil)
	if m := decode(t, body); status != 401 || path(m, "o:errorDetails[0].o:errorCode") != "INVALID_LOGIN" || m["title"] != "Unauthorized" {
		t.Errorf("expired token: %d %s", status, body)
	}
}

func TestAccountHost(t *testing.T) {
	for in, want := range map[string]string{"123456_SB1": "123456-sb1", "1234567": "1234567", "TSTDRV123": "tstdrv123"} {
		if got := AccountHost(in); got != want {
			t.Errorf("AccountHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRequestLogBound(t *testing.T) {
	e := newEnv(t, Options{MaxLog: 10})
	for range 25 {
		e.do(http.MethodGet, RecordPath+"customer/1001", nil)
	}
	if n, st := len(e.s.Requests()), e.s.Stats(); n > 10 || n+st.LogDropped != 25 || st.Requests != 25 {
		t.Errorf("%d logged, %d dropped, %d requests", n, st.LogDropped, st.Requests)
	}
}
