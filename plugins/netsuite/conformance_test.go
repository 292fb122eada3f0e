package main

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/weirhq/weir/plugins/netsuite/sandbox"
	"github.com/weirhq/weir/sdk"
	"github.com/weirhq/weir/sdk/conformance"
)

// volatile are fields of a stored order that change without a write
// (stock moves, clock): State leaves them out.
var volatile = []string{"lastModifiedDate", "createdDate", "quantityAvailable", "quantityOnHand", "quantityCommitted", "quantityBackOrdered"}

// sandboxState reads the sandbox's sales orders by external id, without
// the volatile fields.
func sandboxState(t *testing.T, sb *nsSandbox) map[string]json.RawMessage {
	t.Helper()
	out := map[string]json.RawMessage{}
	for _, raw := range sb.Records("salesOrder") {
		m := decodeJSON(t, raw)
		for _, f := range volatile {
			delete(m, f)
		}
		if items, ok := at(m, "item.items").([]any); ok {
			for _, l := range items {
				for _, f := range volatile {
					delete(l.(map[string]any), f)
				}
			}
		}
		ext, _ := m["externalId"].(string)
		b, err := encodeJSON(m)
		if err != nil {
			t.Fatal(err)
		}
		out[ext] = b
	}
	return out
}

func TestConformance(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{})
	token, err := sb.assertToken()
	if err != nil {
		t.Fatal(err)
	}
	conformance.Run(t, conformance.Target{
		Binary: connectorBinary(t),
		Config: sb.config(map[string]any{"version_fields": map[string]string{"salesOrder": "custbody_weir_version"}}),
		Token:  token,
		Source: json.RawMessage(`{"object":"salesOrder","key_field":"externalId","settle":"1s"}`),
		Seed: func(t *testing.T, recs []sdk.Record) {
			var bodies []json.RawMessage
			for _, r := range recs {
				// The order's own fields, then the seeded payload's.
				bodies = append(bodies, json.RawMessage(fmt.Sprintf(
					`{"externalId":%q,"entity":{"id":"1001"},"subsidiary":{"id":"1"},"item":{"items":[{"item":{"id":"11"},"quantity":1}]},%s`,
					r.Key, r.Payload[1:])))
			}
			if _, err := sb.Seed(sandbox.SeedData{Records: map[string][]json.RawMessage{"salesOrder": bodies}}); err != nil {
				t.Fatal(err)
			}
		},
		Object:    "salesOrder",
		Operation: "upsert",
		NewRecords: func(n int, version int64) []sdk.Record {
			recs := make([]sdk.Record, n)
			for i := range recs {
				recs[i] = sdk.Record{Key: fmt.Sprintf("CONF-%d", i), Version: version, Payload: json.RawMessage(fmt.Sprintf(
					`{"entity":{"id":"1001"},"subsidiary":{"id":"1"},"memo":%q,"custbody_weir_amount":%s,"custbody_rev":%d,`+
						`"item":{"items":[{"item":{"id":"11"},"quantity":%d,"units":"1","rate":%s}]}}`,
					conformance.Text, conformance.Decimal, version, 1+version%3, conformance.Decimal))}
			}
			return recs
		},
		State: func(t *testing.T) map[string]json.RawMessage { return sandboxState(t, sb) },
		Invalid: []conformance.InvalidCase{
			{Name: "unit id not in the item's units type", Code: "INVALID_CONTENT", Field: "item.items[0].units",
				Record: sdk.Record{Key: "BAD-UNIT-ID", Version: 1, Payload: orderPayload("BAD-UNIT-ID", `{"item":{"externalId":"CAB-10M"},"quantity":1,"units":"2"}`)}},
			{Name: "unit name not in the item's units type", Code: "UNKNOWN_UNIT", Field: "item.items[1].units",
				Record: sdk.Record{Key: "BAD-UNIT-NAME", Version: 1, Payload: orderPayload("BAD-UNIT-NAME",
					`{"item":{"externalId":"WID-100"},"quantity":1,"units":"Case"}`, `{"item":{"externalId":"CAB-10M"},"quantity":1,"units":"Case"}`)}},
			{Name: "unknown item", Code: "INVALID_KEY_OR_REF", Field: "item.items[0].item",
				Record: sdk.Record{Key: "BAD-ITEM", Version: 1, Payload: orderPayload("BAD-ITEM", `{"item":{"externalId":"NOPE-1"},"quantity":1}`)}},
			{Name: "no customer", Code: "USER_ERROR", Field: "entity",
				Record: sdk.Record{Key: "BAD-ENTITY", Version: 1, Payload: json.RawMessage(`{"subsidiary":{"id":"1"},"item":{"items":[{"item":{"id":"11"}}]}}`)}},
			{Name: "not an object", Code: "INVALID_JSON", Field: "record",
				Record: sdk.Record{Key: "BAD-JSON", Version: 1, Payload: json.RawMessage(`[1]`)}},
		},
	})
}
