package main

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/weirhq/weir/plugins/salesforce/sandbox"
	"github.com/weirhq/weir/sdk"
	"github.com/weirhq/weir/sdk/conformance"
)

// conformanceObject is a custom object whose fields are those of the
// records the kit seeds, so the source returns them as seeded.
var conformanceObject = &sandbox.Object{Name: "Conformance__c", Fields: []sandbox.Field{
	{Name: "Key__c", Type: sandbox.TypeString, Createable: true, Updateable: true, ExternalID: true, Unique: true},
	{Name: "seq", Type: sandbox.TypeDouble, Createable: true, Updateable: true},
	{Name: "amount", Type: sandbox.TypeCurrency, Createable: true, Updateable: true},
	{Name: "small", Type: sandbox.TypeDouble, Createable: true, Updateable: true},
	{Name: "name", Type: sandbox.TypeString, Createable: true, Updateable: true},
}}

func TestConformance(t *testing.T) {
	o := newOrg(t, sandbox.Options{Objects: []*sandbox.Object{conformanceObject}})
	token, err := o.Token("")
	if err != nil {
		t.Fatal(err)
	}
	conformance.Run(t, conformance.Target{
		Binary:    binary(t),
		Config:    json.RawMessage(fmt.Sprintf(`{"instance_url":%q,"version_field":"Weir_Version__c"}`, o.url)),
		Source:    json.RawMessage(`{"object":"Conformance__c","key_field":"Key__c","related":false}`),
		Token:     token,
		Secrets:   []string{token, sandbox.DefaultClientSecret},
		Object:    "Account",
		Operation: "upsert",
		Seed: func(t *testing.T, recs []sdk.Record) {
			var seeds []sandbox.SeedRecord
			for _, r := range recs {
				var fields map[string]any
				if err := json.Unmarshal(r.Payload, &fields); err != nil {
					t.Fatal(err)
				}
				// Numbers exactly as seeded.
				dec := map[string]json.RawMessage{}
				_ = json.Unmarshal(r.Payload, &dec)
				for k, v := range dec {
					if _, isNum := fields[k].(float64); isNum {
						fields[k] = json.Number(v)
					}
				}
				fields["Key__c"] = r.Key
				seeds = append(seeds, sandbox.SeedRecord{Type: "Conformance__c", Fields: fields})
			}
			if _, err := o.Seed(seeds...); err != nil {
				t.Fatal(err)
			}
		},
		NewRecords: func(n int, version int64) []sdk.Record {
			recs := make([]sdk.Record, n)
			for i := range recs {
				recs[i] = sdk.Record{Key: fmt.Sprintf("conf-acct-%d", i), Version: version, Object: "Account", Payload: fmt.Appendf(nil,
					`{"Name":"Conformance %d v%d","Description":%q,"Credit_Limit__c":%s}`, i, version, conformance.Text, conformance.Decimal)}
			}
			return recs
		},
		State: func(t *testing.T) map[string]json.RawMessage {
			return state(t, o, "Account", "ExternalId__c")
		},
		Invalid: []conformance.InvalidCase{
			{Name: "unknown field", Record: sdk.Record{Key: "bad-field", Version: 1, Payload: json.RawMessage(`{"Name":"x","Nope__c":1}`)}, Field: "Nope__c", Code: "INVALID_FIELD"},
			{Name: "required field missing", Record: sdk.Record{Key: "bad-required", Version: 1, Payload: json.RawMessage(`{"Description":"no name"}`)}, Field: "Name", Code: "REQUIRED_FIELD_MISSING"},
			{Name: "read-only field", Record: sdk.Record{Key: "bad-readonly", Version: 1, Payload: json.RawMessage(`{"Name":"x","CreatedDate":"2024-01-01T00:00:00Z"}`)}, Field: "CreatedDate", Code: "INVALID_FIELD_FOR_INSERT_UPDATE"},
			{Name: "not JSON", Record: sdk.Record{Key: "bad-json", Version: 1, Payload: json.RawMessage(`{"a":`)}, Field: "record", Code: "INVALID_JSON"},
			{Name: "no key", Record: sdk.Record{Version: 1, Payload: json.RawMessage(`{"Name":"x"}`)}, Field: "key", Code: "INVALID_KEY"},
		},
	})
}

// state reads an object's live records from the sandbox, outside the
// connector, by a field's value.
func state(t *testing.T, o *org, object, keyField string) map[string]json.RawMessage {
	t.Helper()
	recs, err := o.Records(object)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]json.RawMessage{}
	for _, raw := range recs {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if m["IsDeleted"] == true {
			continue
		}
		if k, ok := m[keyField].(string); ok {
			out[k] = raw
		}
	}
	return out
}
