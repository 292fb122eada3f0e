package main

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/weirhq/weir/sdk"
)

func TestDecodeWebhook(t *testing.T) {
	tests := []struct {
		name, source, body string
		wantKeys           string // the keys read, space separated
		wantReject         string // a part of the reason, when rejected
	}{
		{"lines", `{}`, "{\"id\":\"a\"}\n\n{\"id\":2}\r\n", "a 2", ""},
		{"array", `{}`, ` [ {"id":"a"}, {"id":"b"} ] `, "a b", ""},
		{"empty array", `{}`, `[]`, "", ""},
		{"empty body", `{}`, ``, "", ""},
		{"malformed line", `{}`, "{\"id\":\"a\"}\n{\"id\":\n", "", "line 2: invalid JSON"},
		{"line without key", `{"key_field":"sku"}`, "{\"sku\":\"a\"}\n{\"id\":\"b\"}\n", "", `line 2: key field "sku" is missing`},
		{"element not an object", `{}`, `[{"id":"a"}, 3]`, "", "element [1]: not a JSON object"},
		{"malformed element", `{}`, `[{"id":"a"} {"id":"b"}]`, "", "element [1]: invalid JSON"},
		{"unclosed array", `{}`, `[{"id":"a"}`, "", "not closed"},
		{"data after the array", `{}`, `[{"id":"a"}] x`, "", "after the JSON array"},
		{"bad version", `{"version_field":"rev"}`, `[{"id":"a","rev":"soon"}]`, "", `element [0]: version field "rev" must be an RFC 3339 time`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newConnector(t)
			res, err := c.DecodeWebhook(context.Background(), sdk.WebhookRequest{Source: json.RawMessage(tt.source), Method: "POST", Body: []byte(tt.body)})
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantReject != "" {
				if !strings.Contains(res.Reject, tt.wantReject) || len(res.Records) != 0 {
					t.Errorf("Reject %q with %d records, want %q", res.Reject, len(res.Records), tt.wantReject)
				}
				return
			}
			if res.Reject != "" || strings.Join(keys(res.Records), " ") != tt.wantKeys {
				t.Fatalf("records %v reject %q, want %s", keys(res.Records), res.Reject, tt.wantKeys)
			}
			if res.Status != 200 || string(res.Body) != `{"accepted":`+strconv.Itoa(len(res.Records))+`}` {
				t.Errorf("response %d %s", res.Status, res.Body)
			}
			for i := 1; i < len(res.Records); i++ {
				if res.Records[i].Version <= res.Records[i-1].Version {
					t.Errorf("versions do not grow through the body: %d then %d", res.Records[i-1].Version, res.Records[i].Version)
				}
			}
		})
	}
}

func TestDecodeWebhookExact(t *testing.T) {
	c, _ := newConnector(t)
	body := `[{"id": "a", "rev": 7, "amount": 12345678901234567.89, "name": "東京 🚀 <&>"}]`
	res, err := c.DecodeWebhook(context.Background(), sdk.WebhookRequest{Source: json.RawMessage(`{"version_field":"rev","object":"Order"}`), Body: []byte(body)})
	if err != nil || len(res.Records) != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	r := res.Records[0]
	want := `{"id":"a","rev":7,"amount":12345678901234567.89,"name":"東京 🚀 <&>"}`
	if r.Key != "a" || r.Version != 7 || r.Object != "Order" || string(r.Payload) != want {
		t.Errorf("record %+v payload %s, want %s", r, r.Payload, want)
	}
}
