// Package expr converts records between JSON and go-cty values for pipeline
// expressions (key, when, map, lookup queries). Numbers are never decoded to
// float64: they travel as decimal text into cty's arbitrary-precision
// numbers and back, so 12345678901234567.89 stays 12345678901234567.89.
package expr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/zclconf/go-cty/cty"
)

// FromJSON decodes a JSON document into a cty value: objects become object
// values, arrays tuples, numbers exact cty numbers, null a dynamic null.
func FromJSON(data []byte) (cty.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return cty.NilVal, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return cty.NilVal, fmt.Errorf("unexpected data after the JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (cty.Value, error) {
	tok, err := dec.Token()
	if err != nil {
		return cty.NilVal, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			attrs := map[string]cty.Value{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return cty.NilVal, err
				}
				k, _ := kt.(string)
				v, err := decodeValue(dec)
				if err != nil {
					return cty.NilVal, err
				}
				attrs[k] = v
			}
			if _, err := dec.Token(); err != nil {
				return cty.NilVal, err
			}
			return cty.ObjectVal(attrs), nil
		case '[':
			var elems []cty.Value
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return cty.NilVal, err
				}
				elems = append(elems, v)
			}
			if _, err := dec.Token(); err != nil {
				return cty.NilVal, err
			}
			if len(elems) == 0 {
				return cty.EmptyTupleVal, nil
			}
			return cty.TupleVal(elems), nil
		}
		return cty.NilVal, fmt.Errorf("unexpected %v", t)
	case string:
		return cty.StringVal(t), nil
	case json.Number:
		if err := checkExponent(string(t)); err != nil {
			return cty.NilVal, err
		}
		return cty.ParseNumberVal(string(t))
	case bool:
		return cty.BoolVal(t), nil
	case nil:
		return cty.NullVal(cty.DynamicPseudoType), nil
	}
	return cty.NilVal, fmt.Errorf("unexpected JSON token %v", tok)
}

// ToJSON encodes a cty value as JSON. Object keys are sorted; numbers are
// written in the shortest decimal form that is exact for the value.
// Unknown values are an error naming their path.
func ToJSON(v cty.Value) ([]byte, error) {
	var b bytes.Buffer
	if err := encode(&b, v, ""); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func encode(b *bytes.Buffer, v cty.Value, path string) error {
	if !v.IsKnown() {
		return fmt.Errorf("%s: value is not known", pathOrRoot(path))
	}
	if v.IsNull() {
		b.WriteString("null")
		return nil
	}
	v, _ = v.Unmark()
	t := v.Type()
	switch {
	case t == cty.String:
		enc, _ := json.Marshal(v.AsString())
		b.Write(enc)
	case t == cty.Number:
		b.WriteString(FormatNumber(v.AsBigFloat()))
	case t == cty.Bool:
		b.WriteString(strconv.FormatBool(v.True()))
	case t.IsObjectType() || t.IsMapType():
		m := v.AsValueMap()
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			enc, _ := json.Marshal(k)
			b.Write(enc)
			b.WriteByte(':')
			if err := encode(b, m[k], joinPath(path, k)); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case t.IsTupleType() || t.IsListType() || t.IsSetType():
		b.WriteByte('[')
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			_, ev := it.Element()
			if i > 0 {
				b.WriteByte(',')
			}
			if err := encode(b, ev, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	default:
		return fmt.Errorf("%s: cannot write a %s as JSON", pathOrRoot(path), t.FriendlyName())
	}
	return nil
}

// maxExponent bounds the decimal exponent of numbers in records: far
// beyond any amount or quantity, and small enough that writing the number
// out in full stays cheap (a webhook cannot make the host expand 1e600000000).
const maxExponent = 1000

// checkExponent refuses JSON numbers whose exponent is out of range.
func checkExponent(num string) error {
	i := strings.IndexAny(num, "eE")
	if i < 0 {
		return nil
	}
	exp, err := strconv.Atoi(strings.TrimPrefix(num[i+1:], "+"))
	if err != nil || exp > maxExponent || exp < -maxExponent {
		return fmt.Errorf("number %.40s is out of range (exponent beyond ±%d)", num, maxExponent)
	}
	return nil
}

// FormatNumber writes a cty number as JSON decimal text, without an
// exponent for ordinary magnitudes, exact to the value's precision.
func FormatNumber(f *big.Float) string {
	if exp := f.MantExp(nil); exp > 4*maxExponent || exp < -4*maxExponent {
		return f.Text('g', -1)
	}
	if f.IsInt() {
		i, _ := f.Int(nil)
		return i.String()
	}
	s := f.Text('g', -1)
	if strings.ContainsAny(s, "eE") {
		if exp := f.MantExp(nil); exp > -64 && exp < 128 {
			s = f.Text('f', -1)
		}
	}
	return s
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func pathOrRoot(path string) string {
	if path == "" {
		return "record"
	}
	return path
}

// StringPath is an attribute path (outermost first) compiled for reading
// strings out of JSON documents without decoding them.
type StringPath string

// CompileStringPath compiles an attribute path, outermost first. It
// reports false for a path it cannot express: an empty one, or one with an
// all-digit name, which the scanner would take for an array index.
func CompileStringPath(path []string) (StringPath, bool) {
	if len(path) == 0 {
		return "", false
	}
	parts := make([]string, len(path))
	for i, name := range path {
		if name == "" || strings.Trim(name, "0123456789") == "" {
			return "", false
		}
		parts[i] = gjson.Escape(name)
	}
	return StringPath(strings.Join(parts, ".")), true
}

// In returns the string at the path in doc, scanning only as far as it
// must. It reports false when the path is missing, passes through
// something that is not an object, or does not end at a string. The
// document is not validated: a malformed one is caught by whatever decodes
// it in full.
func (p StringPath) In(doc []byte) (string, bool) {
	if len(p) == 0 {
		return "", false
	}
	v := gjson.GetBytes(doc, string(p))
	if v.Type != gjson.String {
		return "", false
	}
	return v.String(), true
}
