package conformance

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/weirhq/weir/sdk"
)

func TestMismatch(t *testing.T) {
	tests := []struct {
		name, got, want, path string
	}{
		{"same", `{"a":1.50,"b":"é"}`, `{"a":1.50,"b":"é"}`, ""},
		{"extra members are fine", `{"id":"k","a":1}`, `{"a":1}`, ""},
		{"escapes are the same text", `{"s":"\u00e9<"}`, `{"s":"é\u003c"}`, ""},
		{"number rounded", `{"a":12345678901234568}`, `{"a":12345678901234567.89}`, "a"},
		{"trailing zero lost", `{"a":1.5}`, `{"a":1.50}`, "a"},
		{"number as string", `{"a":"1.50"}`, `{"a":1.50}`, "a"},
		{"missing member", `{"b":1}`, `{"a":1}`, "a"},
		{"nested", `{"o":{"l":[1,{"x":"a"}]}}`, `{"o":{"l":[1,{"x":"b"}]}}`, "o.l[1].x"},
		{"array length", `{"l":[1]}`, `{"l":[1,2]}`, "l"},
		{"different text", `{"s":"Grusse"}`, `{"s":"Grüße"}`, "s"},
		{"root type", `[]`, `{}`, "(root)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, err := mismatch([]byte(tt.got), []byte(tt.want))
			if err != nil || path != tt.path {
				t.Errorf("mismatch = %q, %v; want %q", path, err, tt.path)
			}
		})
	}
	if _, err := mismatch([]byte(`{"a":`), []byte(`{}`)); err == nil {
		t.Error("malformed JSON accepted")
	}
}

func TestExactSamples(t *testing.T) {
	tests := []struct {
		payload      string
		number, text bool
	}{
		{`{"a":1,"b":2.5,"s":"plain"}`, false, false},
		{`{"a":` + Decimal + `,"s":"plain"}`, true, false},
		{`{"a":[1.50],"s":"x","t":["東京"]}`, true, true},
		{`{"n":{"s":"é"}}`, false, true},
	}
	for _, tt := range tests {
		if number, text := exactSamples([]byte(tt.payload)); number != tt.number || text != tt.text {
			t.Errorf("exactSamples(%s) = %v, %v; want %v, %v", tt.payload, number, text, tt.number, tt.text)
		}
	}
}

func goodDescription() sdk.Description {
	return sdk.Description{
		Name: "acme", Version: "1.2.0",
		Capabilities: []sdk.Capability{sdk.CapSource, sdk.CapDestination},
		Config: []sdk.Attribute{
			{Name: "url", Type: sdk.TypeString, Required: true},
			{Name: "tags", Type: sdk.TypeStringList, Default: json.RawMessage(`["a"]`)},
			{Name: "extra", Type: sdk.TypeDynamic, Default: json.RawMessage(`{"x":1}`)},
		},
		SourceConfig: []sdk.Attribute{{Name: "object", Type: sdk.TypeString, Default: json.RawMessage(`"Order"`)}},
		Objects: []sdk.Object{
			{Name: "Order", Readable: true, Writable: true, Operations: []string{"upsert"}, Fields: []sdk.Field{{Name: "Qty", Type: sdk.TypeNumber}}},
		},
	}
}

func TestDescribeProblems(t *testing.T) {
	tests := []struct {
		name   string
		change func(d *sdk.Description, tg *Target)
		want   string // a part of the one problem expected; "" for none
	}{
		{"good", func(*sdk.Description, *Target) {}, ""},
		{"wildcard object", func(d *sdk.Description, tg *Target) { d.Objects[0].Name = "*"; tg.Object = "anything" }, ""},
		{"name", func(d *sdk.Description, tg *Target) { d.Name, tg.Binary = "Acme Corp", "/tmp/acme" }, "lower-case"},
		{"binary name", func(_ *sdk.Description, tg *Target) { tg.Binary = "/bin/weir-connector-other" }, "does not match the binary"},
		{"version", func(d *sdk.Description, _ *Target) { d.Version = "latest" }, "semantic version"},
		{"no capabilities", func(d *sdk.Description, _ *Target) { d.Capabilities = nil; d.Objects = nil; d.SourceConfig = nil }, "no capabilities"},
		{"unknown capability", func(d *sdk.Description, _ *Target) { d.Capabilities = append(d.Capabilities, "teleport") }, "unknown capability"},
		{"bad type", func(d *sdk.Description, _ *Target) { d.Config[0].Type = json.RawMessage(`"text"`) }, "not a cty type"},
		{"default of the wrong type", func(d *sdk.Description, _ *Target) { d.Config[1].Default = json.RawMessage(`"a"`) }, "is not a list of string"},
		{"required with a default", func(d *sdk.Description, _ *Target) { d.Config[0].Default = json.RawMessage(`"x"`) }, "required attributes have no default"},
		{"repeated attribute", func(d *sdk.Description, _ *Target) { d.Config[1].Name = "url" }, "repeated"},
		{"field type", func(d *sdk.Description, _ *Target) { d.Objects[0].Fields[0].Type = nil }, "Fields[0]"},
		{"destination without writable objects", func(d *sdk.Description, _ *Target) { d.Objects[0].Writable = false }, "writable objects"},
		{"lookup objects without the capability", func(d *sdk.Description, _ *Target) { d.Objects[0].Lookup = true }, "lookup objects"},
		{"unknown target object", func(_ *sdk.Description, tg *Target) { tg.Object = "Invoice" }, `no writable object "Invoice"`},
		{"unknown operation", func(_ *sdk.Description, tg *Target) { tg.Object, tg.Operation = "Order", "merge" }, `operation "merge"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, tg := goodDescription(), Target{Binary: "/tmp/weir-connector-acme"}
			tt.change(&d, &tg)
			got := describeProblems(d, tg)
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("problems %q, want none", got)
			case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
				t.Errorf("problems %q, want one with %q", got, tt.want)
			}
		})
	}
}

func TestHost(t *testing.T) {
	ctx := context.Background()
	h := NewHost("tok")
	if tok, _ := h.Token(ctx, false); tok.AccessToken != "tok" || tok.Expiry.IsZero() {
		t.Errorf("token %+v", tok)
	}
	l1, _ := h.Acquire(ctx, 1, sdk.PriorityBulk)
	l2, _ := h.Acquire(ctx, 1, sdk.PriorityInteractive)
	if l1 == "" || l1 == l2 {
		t.Fatalf("leases %q %q", l1, l2)
	}
	if err := h.Release(ctx, l1); err != nil {
		t.Fatal(err)
	}
	if got := h.problems(true); len(got) != 1 || !strings.Contains(got[0], "never released") {
		t.Errorf("problems with a lease held: %q", got)
	}
	if got := h.problems(false); len(got) != 0 {
		t.Errorf("problems of a killed process: %q", got)
	}
	if err := h.Release(ctx, l1); err == nil {
		t.Error("a second release was accepted")
	}
	_ = h.Release(ctx, l2)
	_ = h.Report(ctx, sdk.LimitReport{Kind: sdk.LimitRate})
	if got := h.problems(true); len(got) != 1 || !strings.Contains(got[0], "released twice") {
		t.Errorf("problems after a double release: %q", got)
	}
	if h.Acquired() != 2 || h.Released() != 2 || h.TokenCalls() != 1 || len(h.Reports()) != 1 {
		t.Errorf("counts: %d acquired, %d released, %d tokens, %d reports", h.Acquired(), h.Released(), h.TokenCalls(), len(h.Reports()))
	}
}
