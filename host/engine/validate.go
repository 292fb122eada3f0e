package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/weirhq/weir/sdk"
)

// schema checks mapped records against a destination object's declared
// fields before any vendor call, so that a missing or mistyped field is a
// dead letter with its path rather than a vendor 400.
type schema struct {
	fields   map[string]cty.Type
	required []string
}

// newSchema compiles an object's fields; nil when it declares none.
func newSchema(fields []sdk.Field) (*schema, error) {
	if len(fields) == 0 {
		return nil, nil
	}
	s := &schema{fields: map[string]cty.Type{}}
	for _, f := range fields {
		ty := cty.DynamicPseudoType
		if len(f.Type) > 0 {
			t, err := ctyjson.UnmarshalType(f.Type)
			if err != nil {
				return nil, fmt.Errorf("field %s: type %s: %w", f.Name, f.Type, err)
			}
			ty = t
		}
		s.fields[f.Name] = ty
		if f.Required {
			s.required = append(s.required, f.Name)
		}
	}
	sort.Strings(s.required)
	return s, nil
}

// check returns a permanent error naming the first field at fault.
func (s *schema) check(payload []byte) error {
	if s == nil {
		return nil
	}
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return sdk.Permanent("INVALID_RECORD", "the mapped record is not a JSON object", "")
	}
	for _, name := range s.required {
		v, ok := obj[name]
		if !ok || string(v) == "null" {
			return sdk.Permanent("REQUIRED_FIELD_MISSING", fmt.Sprintf("required field %s is missing", name), name)
		}
	}
	names := make([]string, 0, len(obj))
	for n := range obj {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		ty, ok := s.fields[name]
		if !ok {
			return sdk.Permanent("UNKNOWN_FIELD", fmt.Sprintf("the destination object has no field %s", name), name)
		}
		if err := kindCheck(obj[name], ty, name); err != nil {
			return err
		}
	}
	return nil
}

// kindCheck checks that a JSON value has the kind of a cty type, recursing
// into objects, lists and maps; dynamic accepts anything.
func kindCheck(v json.RawMessage, ty cty.Type, path string) error {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" || ty == cty.DynamicPseudoType {
		return nil
	}
	bad := func(want string) error {
		return sdk.Permanent("INVALID_FIELD_TYPE", fmt.Sprintf("%s must be %s, not %s", path, want, kindOf(v)), path)
	}
	switch {
	case ty == cty.String:
		if v[0] != '"' {
			return bad("a string")
		}
	case ty == cty.Number:
		if v[0] != '-' && (v[0] < '0' || v[0] > '9') {
			return bad("a number")
		}
	case ty == cty.Bool:
		if string(v) != "true" && string(v) != "false" {
			return bad("true or false")
		}
	case ty.IsObjectType():
		var obj map[string]json.RawMessage
		if v[0] != '{' || json.Unmarshal(v, &obj) != nil {
			return bad("an object")
		}
		for name, at := range ty.AttributeTypes() {
			if err := kindCheck(obj[name], at, path+"."+name); err != nil {
				return err
			}
		}
	case ty.IsMapType():
		var obj map[string]json.RawMessage
		if v[0] != '{' || json.Unmarshal(v, &obj) != nil {
			return bad("an object")
		}
		for name, ev := range obj {
			if err := kindCheck(ev, ty.ElementType(), path+"."+name); err != nil {
				return err
			}
		}
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		var elems []json.RawMessage
		if v[0] != '[' || json.Unmarshal(v, &elems) != nil {
			return bad("a list")
		}
		for i, ev := range elems {
			et := cty.DynamicPseudoType
			switch {
			case ty.IsTupleType():
				if i < len(ty.TupleElementTypes()) {
					et = ty.TupleElementTypes()[i]
				}
			default:
				et = ty.ElementType()
			}
			if err := kindCheck(ev, et, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func kindOf(v json.RawMessage) string {
	switch v[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "a list"
	case 't', 'f':
		return "a bool"
	case 'n':
		return "null"
	}
	return "a number"
}
