package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// suiteql runs a query through the API.
func (e *env) suiteql(q, query string, headers ...string) (int, map[string]any) {
	e.t.Helper()
	if len(headers) == 0 {
		headers = []string{"Prefer", "transient"}
	}
	status, _, body := e.do(http.MethodPost, SuiteQLPath+query, map[string]string{"q": q}, headers...)
	return status, decode(e.t, body)
}

func TestSuiteQLPagingAndShape(t *testing.T) {
	e := newEnv(t, Options{})
	for i := range 5 {
		if status, _, body := e.do(http.MethodPut, RecordPath+fmt.Sprintf("salesOrder/eid:SF-%d", i), order(fmt.Sprintf("SF-%d", i),
			`{"item":{"externalId":"WID-100"},"quantity":1}`)); status != 204 {
			t.Fatalf("PUT: %d %s", status, body)
		}
	}
	q := `SELECT t.id, t.tranid, t.externalid, t.memo, TO_CHAR(t.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS modified
		FROM transaction t
		WHERE t.type = 'SalesOrd' AND t.lastmodifieddate >= TO_DATE('2000-01-01 00:00:00', 'YYYY-MM-DD HH24:MI:SS')
		ORDER BY t.lastmodifieddate, t.id`
	var ids []string
	for offset := 0; ; offset += 2 {
		status, page := e.suiteql(q, fmt.Sprintf("?limit=2&offset=%d", offset))
		if status != 200 {
			t.Fatalf("offset %d: %d %v", offset, status, page)
		}
		if page["totalResults"] != json.Number("5") || page["offset"] != json.Number(fmt.Sprint(offset)) {
			t.Errorf("page %v", page)
		}
		items := page["items"].([]any)
		if page["count"] != json.Number(fmt.Sprint(len(items))) {
			t.Errorf("count %v for %d items", page["count"], len(items))
		}
		for _, it := range items {
			m := it.(map[string]any)
			if _, ok := m["memo"]; ok {
				t.Errorf("a NULL column is present: %v", m)
			}
			if links, ok := m["links"].([]any); !ok || len(links) != 0 {
				t.Errorf("item links %v, want []", m["links"])
			}
			if _, err := time.Parse("2006-01-02 15:04:05", m["modified"].(string)); err != nil {
				t.Errorf("modified %v: %v", m["modified"], err)
			}
			ids = append(ids, m["id"].(string))
		}
		var rels []string
		for _, l := range page["links"].([]any) {
			rels = append(rels, l.(map[string]any)["rel"].(string))
		}
		if !strings.Contains(fmt.Sprint(rels), "self") {
			t.Errorf("links %v lack self", rels)
		}
		if page["hasMore"] == false {
			if strings.Contains(fmt.Sprint(rels), "next") {
				t.Errorf("last page has a next link")
			}
			break
		}
		if !strings.Contains(fmt.Sprint(rels), "next") {
			t.Errorf("a page with more has no next link: %v", rels)
		}
	}
	if fmt.Sprint(ids) != "[5001 5002 5003 5004 5005]" {
		t.Errorf("ids %v", ids)
	}
}

func TestSuiteQLErrors(t *testing.T) {
	e := newEnv(t, Options{})
	cases := []struct {
		name, q, query string
		headers        []string
		code, title    string
		in             string
	}{
		{"unknown field", "SELECT foo FROM transaction", "", nil, "USER_ERROR", "Invalid search query.", "Field 'foo'"},
		{"unknown qualified field", "SELECT t.foo FROM transaction t", "", nil, "USER_ERROR", "Invalid search query.", "Field 'foo' for record 'transaction'"},
		{"unknown table", "SELECT id FROM nosuchtable", "", nil, "USER_ERROR", "Invalid search query.", "Record 'nosuchtable'"},
		{"syntax", "SELECT id FROM transaction WHERE", "", nil, "USER_ERROR", "Invalid search query.", "Search error occurred"},
		{"not a select", "DELETE FROM transaction", "", nil, "USER_ERROR", "Invalid search query.", "only SELECT"},
		{"limit over 1000", "SELECT id FROM transaction", "?limit=1001", nil, "INVALID_PARAMETER", "Bad Request", "limit"},
		{"offset not a multiple", "SELECT id FROM transaction", "?limit=10&offset=15", nil, "INVALID_PARAMETER", "Bad Request", "multiple"},
		{"no Prefer: transient", "SELECT id FROM transaction", "", []string{"X-Other", "1"}, "INVALID_HEADER", "Bad Request", "Prefer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, m := e.suiteql(c.q, c.query, c.headers...)
			if status != 400 {
				t.Fatalf("status %d: %v", status, m)
			}
			if m["title"] != c.title || path(m, "o:errorDetails[0].o:errorCode") != c.code {
				t.Errorf("error %v", m)
			}
			if d := fmt.Sprint(path(m, "o:errorDetails[0].detail")); !strings.Contains(d, c.in) {
				t.Errorf("detail %q lacks %q", d, c.in)
			}
		})
	}
}

func TestSuiteQLQueries(t *testing.T) {
	var mu sync.Mutex
	clock := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	e := newEnv(t, Options{Now: now})
	e.do(http.MethodPut, RecordPath+"salesOrder/eid:SF-A", order("SF-A", `{"item":{"externalId":"WID-PK12"},"quantity":2,"units":"2","location":{"id":"1"}}`,
		`{"item":{"externalId":"CAB-10M"},"quantity":5,"rate":19.99}`))
	mu.Lock()
	clock = clock.Add(10 * time.Second)
	mu.Unlock()
	e.do(http.MethodPut, RecordPath+"salesOrder/eid:SF-B", order("SF-B", `{"item":{"externalId":"GAD-200"},"quantity":1}`))
	cases := []struct {
		name, q string
		want    string
	}{
		{"lines", `SELECT tl.transaction, BUILTIN.DF(tl.item) AS item, tl.quantity, tl.units, BUILTIN.DF(tl.units) AS unit, tl.netamount
			FROM transactionline tl JOIN transaction t ON t.id = tl.transaction
			WHERE t.externalid = 'SF-A' AND tl.mainline = 'F' ORDER BY tl.linesequencenumber`,
			`[map[item:WID-PK12 netamount:-998 quantity:-24 transaction:5001 unit:Case units:2] map[item:CAB-10M netamount:-99.95 quantity:-5 transaction:5001 unit:Each units:3]]`},
		{"item units", `SELECT i.itemid, u.internalid, u.unitname, u.abbreviation, u.conversionrate FROM item i
			JOIN unitstypeuom u ON u.unitstype = i.unitstype WHERE i.externalid IN ('WID-100', 'CAB-10M') ORDER BY i.itemid, u.internalid`,
			`[map[abbreviation:ea conversionrate:1 internalid:3 itemid:CAB-10M unitname:Each] map[abbreviation:ea conversionrate:1 internalid:1 itemid:WID-100 unitname:Each] map[abbreviation:cs conversionrate:12 internalid:2 itemid:WID-100 unitname:Case]]`},
		{"stock per location", `SELECT i.itemid, BUILTIN.DF(a.location) AS location, a.quantityavailable, a.quantityonhand FROM aggregateitemlocation a
			JOIN item i ON i.id = a.item WHERE i.itemid = 'WID-PK12' ORDER BY a.location`,
			`[map[itemid:WID-PK12 location:Austin Warehouse quantityavailable:2376 quantityonhand:2400] map[itemid:WID-PK12 location:Rotterdam DC quantityavailable:600 quantityonhand:600] map[itemid:WID-PK12 location:Toronto Depot quantityavailable:240 quantityonhand:240]]`},
		{"settled only (SYSDATE arithmetic)", `SELECT externalid FROM transaction WHERE lastmodifieddate < SYSDATE - 5/86400 ORDER BY id`,
			`[map[externalid:SF-A]]`},
		{"default date format and status", `SELECT t.trandate, t.status, BUILTIN.DF(t.status) s, BUILTIN.DF(t.entity) c FROM transaction t WHERE t.externalid = 'SF-B'`,
			`[map[c:CUST0001 Customer 1 s:Sales Order : Pending Fulfillment status:B trandate:11/27/2026]]`},
		{"cursor condition", `SELECT id FROM transaction WHERE lastmodifieddate > TO_DATE('2026-11-27 08:00:00', 'YYYY-MM-DD HH24:MI:SS')
			OR (lastmodifieddate = TO_DATE('2026-11-27 08:00:00', 'YYYY-MM-DD HH24:MI:SS') AND id > 5001) ORDER BY lastmodifieddate, id`,
			`[map[id:5002]]`},
		{"like, nvl, upper, not in", `SELECT UPPER(companyname) AS n, NVL(phone, 'none') AS p FROM customer WHERE companyname LIKE 'Customer 1_' AND id NOT IN (1010, 1011) ORDER BY id DESC`,
			`[map[n:CUSTOMER 19 p:none] map[n:CUSTOMER 18 p:none] map[n:CUSTOMER 17 p:none] map[n:CUSTOMER 16 p:none] map[n:CUSTOMER 15 p:none] map[n:CUSTOMER 14 p:none] map[n:CUSTOMER 13 p:none] map[n:CUSTOMER 12 p:none]]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, m := e.suiteql(c.q, "")
			if status != 200 {
				t.Fatalf("%d %v", status, m)
			}
			var rows []map[string]any
			for _, it := range m["items"].([]any) {
				r := it.(map[string]any)
				delete(r, "links")
				rows = append(rows, r)
			}
			if got := fmt.Sprint(rows); got != c.want {
				t.Errorf("rows\n got %s\nwant %s", got, c.want)
			}
		})
	}
	o := newEnv(t, Options{OracleNumbers: true})
	rows, err := o.s.Query("SELECT 1/2 AS half, -1/4 AS q FROM currency WHERE id = 1")
	if err != nil || fmt.Sprint(rows) != "[map[half:.5 q:-.25]]" {
		t.Errorf("Oracle numbers: %v %v", rows, err)
	}
}
