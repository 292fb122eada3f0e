package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/weirhq/weir/sdk"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		header http.Header
		want   sdk.Status
		code   string
		field  string
		limit  string // "quota" or "concurrency" for a limitError
	}{
		{name: "ok", status: 200, body: `{}`, want: sdk.StatusOK},
		{name: "no content", status: 204, want: sdk.StatusOK},
		{name: "expired session", status: 401, body: `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`, want: sdk.StatusAuthExpired},
		{name: "daily quota", status: 403, body: `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`, limit: "quota"},
		{name: "concurrency", status: 403, body: `[{"message":"ConcurrentRequests (Concurrent API Requests) Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`, limit: "concurrency"},
		{name: "row lock", status: 400, body: `[{"message":"unable to obtain exclusive access to this record","errorCode":"UNABLE_TO_LOCK_ROW","fields":[]}]`, want: sdk.StatusRetryable},
		{name: "validation", status: 400, body: `[{"message":"Required fields are missing: [Name]","errorCode":"REQUIRED_FIELD_MISSING","fields":["Name"]}]`, want: sdk.StatusPermanent, code: "REQUIRED_FIELD_MISSING", field: "Name"},
		{name: "bad query", status: 400, body: `[{"message":"\nSELECT Nope FROM Account\n       ^\nERROR at Row:1:Column:8\nNo such column 'Nope'","errorCode":"INVALID_FIELD"}]`, want: sdk.StatusPermanent, code: "INVALID_FIELD"},
		{name: "not found", status: 404, body: `[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]`, want: sdk.StatusPermanent, code: "NOT_FOUND"},
		{name: "multiple choices", status: 300, body: `["/services/data/v61.0/sobjects/Account/001A","/services/data/v61.0/sobjects/Account/001B"]`, want: sdk.StatusPermanent, code: "MULTIPLE_CHOICES"},
		{name: "server busy", status: 503, body: `[{"message":"Server temporarily unavailable","errorCode":"SERVER_UNAVAILABLE"}]`, want: sdk.StatusRetryable},
		{name: "internal error, HTML", status: 500, body: `<html>oops</html>`, want: sdk.StatusRetryable},
		{name: "edge rate limit", status: 429, body: ``, header: http.Header{"Retry-After": {"7"}}, want: sdk.StatusRateLimited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tt.status, Header: tt.header}
			if resp.Header == nil {
				resp.Header = http.Header{}
			}
			err := classify(resp, []byte(tt.body))
			if tt.limit != "" {
				le, ok := err.(*limitError)
				if !ok || le.concurrent != (tt.limit == "concurrency") {
					t.Fatalf("got %#v, want a %s limit error", err, tt.limit)
				}
				return
			}
			e := sdk.Classify(err)
			switch {
			case tt.want == sdk.StatusOK && err != nil:
				t.Fatalf("got %v, want success", err)
			case tt.want == sdk.StatusOK:
			case e == nil || e.Status != tt.want:
				t.Fatalf("got %v, want %s", err, tt.want)
			case tt.code != "" && e.Code != tt.code || e.Field != tt.field:
				t.Errorf("code %q field %q, want %q %q", e.Code, e.Field, tt.code, tt.field)
			}
		})
	}
}

func TestParseLimitInfo(t *testing.T) {
	tests := []struct {
		header    string
		used, max int64
		ok        bool
	}{
		{"api-usage=18/5000", 18, 5000, true},
		{"api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)", 25, 5000, true},
		{"per-app-api-usage=17/250(appName=x); api-usage=10018/100000", 10018, 100000, true},
		{"api-usage=10018/100000; api-bursts=1/750", 10018, 100000, true},
		{"per-app-api-usage=17/250(appName=x)", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tt := range tests {
		used, max, ok := parseLimitInfo(tt.header)
		if used != tt.used || max != tt.max || ok != tt.ok {
			t.Errorf("%q: %d/%d %v", tt.header, used, max, ok)
		}
	}
}

func TestParseSettings(t *testing.T) {
	tests := []struct {
		raw   string
		field string // of the error; "" for none
	}{
		{`{}`, ""},
		{`{"object":"Conformance__c","fields":["Id","Account.Name"],"lag":"5s","since":"2024-01-01T00:00:00Z"}`, ""},
		{`{"object":"Order; DROP"}`, "object"},
		{`{"fields":["Name) FROM User --"]}`, "fields"},
		{`{"query_batch_size":50}`, "query_batch_size"},
		{`{"lag":"soon"}`, "lag"},
		{`{"since":"yesterday"}`, "since"},
		{`{"unknown":1}`, ""},
	}
	for _, tt := range tests {
		_, err := parseSettings(json.RawMessage(tt.raw))
		e := sdk.Classify(err)
		switch {
		case tt.raw == `{"unknown":1}`:
			if e == nil || e.Status != sdk.StatusPermanent {
				t.Errorf("%s: %v, want a permanent error", tt.raw, err)
			}
		case tt.field == "" && err != nil:
			t.Errorf("%s: %v", tt.raw, err)
		case tt.field != "" && (e == nil || e.Field != tt.field):
			t.Errorf("%s: %v, want an error at %s", tt.raw, err, tt.field)
		}
	}
}

func TestQuote(t *testing.T) {
	tests := map[string]string{
		`plain`:        `'plain'`,
		`O'Brien`:      `'O\'Brien'`,
		`back\slash`:   `'back\\slash'`,
		"two\nlines":   `'two\nlines'`,
		`' OR Id != '`: `'\' OR Id != \''`,
	}
	for in, want := range tests {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestConfigure(t *testing.T) {
	tests := []struct {
		cfg  string
		want string // part of the error; "" for none
	}{
		{`{}`, ""},
		{`{"instance_url":"https://acme.my.salesforce.com","api_version":"45.0","write_batch":1}`, ""},
		{`{"api_version":"61"}`, "api_version"},
		{`{"instance_url":"acme"}`, "instance_url"},
		{`{"instance_url":"https://login.salesforce.com"}`, "login host"},
		{`{"write_batch":500}`, "write_batch"},
		{`{"external_id_fields":{"Order":"x y"}}`, "external_id_fields"},
		{`{"organization_id":"00D"}`, "organization_id"},
		{`{"password":"x"}`, "unknown field"},
	}
	for _, tt := range tests {
		c := &connector{}
		err := c.Configure(t.Context(), sdk.Config{Connection: "crm", Raw: json.RawMessage(tt.cfg)}, nil)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.cfg, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: %v, want an error about %s", tt.cfg, err, tt.want)
		}
	}
}
