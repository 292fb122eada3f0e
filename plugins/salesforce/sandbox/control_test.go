package sandbox

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestControlAPI(t *testing.T) {
	e := newEnv(t, Options{})
	steps := []struct {
		name, method, path, body string
		status                   int
		want                     string // a part of the answer
	}{
		{"index", "GET", "/_sandbox/", "", 200, `"org_id":"` + DefaultOrgID},
		{"demo seed", "POST", "/_sandbox/seed", `{"demo":true}`, 200, `"ids":[]`},
		{"records", "GET", "/_sandbox/records/Account", "", 200, `"BillingCountry":"Deutschland"`},
		{"seed with refs", "POST", "/_sandbox/seed", `{"records":[{"type":"Account","ref":"a","fields":{"Name":"Ref Co","BillingCountry":"U.S."}},{"type":"Order","fields":{"AccountId":"@a","EffectiveDate":"2024-01-01","Status":"Draft"}}]}`, 200, `"ids":["001`},
		{"bad seed", "POST", "/_sandbox/seed", `{"records":[{"type":"Order","fields":{}}]}`, 400, `REQUIRED_FIELD_MISSING`},
		{"unknown object", "GET", "/_sandbox/records/Nope", "", 404, `no sObject type`},
		{"faults", "POST", "/_sandbox/faults", `{"fail":[{"status":503,"count":1}],"latency":"1ms"}`, 200, `"ok":true`},
		{"faulted request", "GET", v + "/limits", "", 503, `SERVER_UNAVAILABLE`},
		{"next request fine", "GET", v + "/limits", "", 200, `DailyApiRequests`},
		{"faults in force", "GET", "/_sandbox/faults", "", 200, `"latency":"1ms"`},
		{"forced 429", "POST", "/_sandbox/faults", `{"clear":true,"fail":[{"status":429,"retry_after":3}]}`, 200, `"ok":true`},
		{"rate limited", "GET", v + "/limits", "", 429, `REQUEST_LIMIT_EXCEEDED`},
		{"limits", "POST", "/_sandbox/limits", `{"used":7,"daily_limit":10}`, 200, `"used":7`},
		{"requests", "GET", "/_sandbox/requests", "", 200, `"path":"/services/data/v61.0/limits","status":503`},
		{"outbound", "POST", "/_sandbox/outbound", `{"definitions":[{"object":"Order","endpoint":"http://127.0.0.1:1/hook"}]}`, 200, `"ok":true`},
		{"outbound state", "GET", "/_sandbox/outbound", "", 200, `"endpoint":"http://127.0.0.1:1/hook"`},
		{"expire tokens", "POST", "/_sandbox/faults", `{"expire_tokens":true}`, 200, `"ok":true`},
		{"expired", "GET", v + "/limits", "", 401, `INVALID_SESSION_ID`},
		{"reset", "POST", "/_sandbox/reset", `{}`, 200, `"ok":true`},
		{"empty after reset", "GET", "/_sandbox/records/Order", "", 200, `[]`},
	}
	for _, s := range steps {
		_, body := e.do(s.method, s.path, s.body, nil, s.status)
		if !strings.Contains(string(body), s.want) {
			t.Errorf("%s: %s, want %s", s.name, body, s.want)
		}
	}
	var log []RequestLog
	e.do("GET", "/_sandbox/requests?since="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano), "", &log, 200)
	if len(log) != 0 {
		t.Errorf("requests since the future: %v", log)
	}
	var recs []json.RawMessage
	e.do("GET", "/_sandbox/records/Pricebook2", "", &recs, 200)
	if len(recs) != 1 {
		t.Errorf("after reset: %d price books, want the standard one", len(recs))
	}
}
