package expr

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestJSONRoundTripIsExact(t *testing.T) {
	tests := []struct{ in, want string }{
		{`12345678901234567.89`, `12345678901234567.89`},
		{`0.1`, `0.1`},
		{`-0.000123`, `-0.000123`},
		{`100`, `100`},
		{`1e3`, `1000`},
		{`99999999999999999999999999.999999`, `99999999999999999999999999.999999`},
		{`"Müller – 東京 🚀"`, `"Müller – 東京 🚀"`},
		{`{"b":[1,2.50,{"c":null}],"a":true}`, `{"a":true,"b":[1,2.5,{"c":null}]}`},
		{`[]`, `[]`},
		{`{}`, `{}`},
	}
	for _, tt := range tests {
		v, err := FromJSON([]byte(tt.in))
		if err != nil {
			t.Fatalf("FromJSON(%s): %v", tt.in, err)
		}
		out, err := ToJSON(v)
		if err != nil {
			t.Fatalf("ToJSON(%s): %v", tt.in, err)
		}
		if string(out) != tt.want {
			t.Errorf("round trip %s = %s; want %s", tt.in, out, tt.want)
		}
	}
}

func TestFromJSONRejectsTrailingData(t *testing.T) {
	for _, in := range []string{`{"a":1} {}`, `{"a":`, ``, `{"a":1e600000000}`, `[1E-5000]`} {
		if _, err := FromJSON([]byte(in)); err == nil {
			t.Errorf("FromJSON(%q) accepted", in)
		}
	}
}

func TestToJSONNamesUnknownPath(t *testing.T) {
	v := cty.ObjectVal(map[string]cty.Value{"item": cty.TupleVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"qty": cty.UnknownVal(cty.Number)})})})
	_, err := ToJSON(v)
	if err == nil || err.Error() != "item[0].qty: value is not known" {
		t.Fatalf("err = %v", err)
	}
}

func TestStringPath(t *testing.T) {
	doc := []byte(`{"id":"A-1","n":12,"account":{"number":"ACC 7","x":[{"y":"in array"}]},"nul":null,"esc":"a\"b\u00e9",` +
		`"a.b":"dotted","we*rd?":"wild","items":["zero"],"s":"{\"id\":\"inner\"}"}`)
	tests := []struct {
		path []string
		want string
		ok   bool
	}{
		{[]string{"id"}, "A-1", true},
		{[]string{"account", "number"}, "ACC 7", true},
		{[]string{"esc"}, `a"bé`, true},
		{[]string{"n"}, "", false},
		{[]string{"nul"}, "", false},
		{[]string{"missing"}, "", false},
		{[]string{"account", "x", "y"}, "", false},
		{[]string{"a.b"}, "dotted", true},
		{[]string{"a", "b"}, "", false},
		{[]string{"we*rd?"}, "wild", true},
		{[]string{"we*"}, "", false},
		{[]string{"s", "id"}, "", false},
		{[]string{"account"}, "", false},
	}
	for _, tt := range tests {
		p, ok := CompileStringPath(tt.path)
		if !ok {
			t.Fatalf("%v: not compiled", tt.path)
		}
		got, ok := p.In(doc)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%v: got %q, %v; want %q, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
	for _, path := range [][]string{nil, {"items", "0"}, {""}} {
		if _, ok := CompileStringPath(path); ok {
			t.Errorf("%q compiled; it cannot be expressed", path)
		}
	}
}
