package main

import (
	"encoding/binary"
	"encoding/json"
	"unicode/utf8"
)

// The fast paths of parse, compact and DecodeWebhook scan JSON with scanner
// instead of decoding it. The scanner accepts only text that encoding/json
// accepts too; on anything else (including valid text nested deeper than
// maxDepth) its callers fall back to encoding/json, which gives the error
// messages and the answer for the rare cases.

// maxDepth is the deepest nesting of objects and arrays the scanner follows.
const maxDepth = 64

// plain marks the bytes a JSON string holds as they are: all but '"', '\\'
// and control characters.
var plain = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 0x20 && c != '"' && c != '\\'
	}
	return t
}()

// scanner walks JSON text from data[i].
type scanner struct {
	data []byte
	i    int
	// spaced is set once white space is seen outside strings: the text is
	// not compact.
	spaced bool
}

// space skips JSON white space.
func (s *scanner) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.spaced = true
			s.i++
		default:
			return
		}
	}
}

// next returns the byte at data[i], or 0 at the end.
func (s *scanner) next() byte {
	if s.i < len(s.data) {
		return s.data[s.i]
	}
	return 0
}

// value skips one JSON value at data[i] in a container nested depth deep,
// reporting whether it is valid.
func (s *scanner) value(depth int) bool {
	switch c := s.next(); {
	case c == '"':
		_, ok := s.str()
		return ok
	case c == '{':
		return s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return false
}

// str skips the string at data[i], reporting whether it is valid and
// whether it holds escapes.
func (s *scanner) str() (escaped, ok bool) {
	d, i := s.data, s.i+1
	for {
		for i+8 <= len(d) && plain8(binary.LittleEndian.Uint64(d[i:])) {
			i += 8
		}
		for i < len(d) && plain[d[i]] {
			i++
		}
		if i >= len(d) {
			return escaped, false
		}
		switch d[i] {
		case '"':
			s.i = i + 1
			return escaped, true
		case '\\':
			escaped = true
			if i+1 >= len(d) {
				return escaped, false
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d) || !isHex(d[i+2]) || !isHex(d[i+3]) || !isHex(d[i+4]) || !isHex(d[i+5]) {
					return escaped, false
				}
				i += 6
			default:
				return escaped, false
			}
		default: // a control character
			return escaped, false
		}
	}
}

// plain8 reports whether the 8 bytes of x are all plain.
func plain8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q, b := x^(ones*'"'), x^(ones*'\\')
	// A byte is zero in q or b, or below 0x20 in x, when its high bit is
	// set by the subtraction and was clear before.
	return ((q-ones)&^q|(b-ones)&^b|(x-ones*0x20)&^x)&highs == 0
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// number skips the number at data[i], reporting whether it is valid.
func (s *scanner) number() bool {
	d, i := s.data, s.i
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		i = digits(d, i+1)
	default:
		return false
	}
	if i < len(d) && d[i] == '.' {
		j := digits(d, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digits(d, i)
		if j == i {
			return false
		}
		i = j
	}
	s.i = i
	return true
}

// digits returns the index of the first byte from d[i] that is not a digit.
func digits(d []byte, i int) int {
	for i < len(d) && d[i] >= '0' && d[i] <= '9' {
		i++
	}
	return i
}

// literal skips lit at data[i], reporting whether it is there.
func (s *scanner) literal(lit string) bool {
	if len(s.data)-s.i < len(lit) || string(s.data[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

// object skips the object at data[i], nested depth deep, reporting whether
// it is valid.
func (s *scanner) object(depth int) bool {
	if depth > maxDepth {
		return false
	}
	s.i++ // the "{"
	s.space()
	if s.next() == '}' {
		s.i++
		return true
	}
	for {
		if s.next() != '"' {
			return false
		}
		if _, ok := s.str(); !ok {
			return false
		}
		s.space()
		if s.next() != ':' {
			return false
		}
		s.i++
		s.space()
		if !s.value(depth) {
			return false
		}
		s.space()
		switch s.next() {
		case ',':
			s.i++
			s.space()
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// array skips the array at data[i], nested depth deep, reporting whether it
// is valid.
func (s *scanner) array(depth int) bool {
	if depth > maxDepth {
		return false
	}
	s.i++ // the "["
	s.space()
	if s.next() == ']' {
		s.i++
		return true
	}
	for {
		if !s.value(depth) {
			return false
		}
		s.space()
		switch s.next() {
		case ',':
			s.i++
			s.space()
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

// objectFields is what scanObject learns of a JSON object.
type objectFields struct {
	// a and b are the raw values (as written, without the white space
	// around them) of the last top-level members named as asked, or nil.
	a, b []byte
	// spaced reports white space outside strings: the text is not compact.
	spaced bool
}

// scanObject reports whether text is exactly one JSON object, with no white
// space around it, that the scanner accepts. If so it returns the values of
// the top-level members named a and, when wantB, b; as with encoding/json
// decoding into a map, member names are compared unescaped and the last
// of duplicate members counts.
func scanObject(text []byte, a, b string, wantB bool) (f objectFields, ok bool) {
	s := scanner{data: text}
	f, ok = s.fields(a, b, wantB)
	return f, ok && s.i == len(text)
}

// fields skips the object at data[i] as object does, and returns what
// scanObject does of it; f.spaced is about the object alone.
func (s *scanner) fields(a, b string, wantB bool) (f objectFields, ok bool) {
	if s.next() != '{' {
		return f, false
	}
	spacedBefore := s.spaced
	s.spaced = false
	defer func() {
		f.spaced = s.spaced
		s.spaced = s.spaced || spacedBefore
	}()
	s.i++
	s.space()
	if s.next() == '}' {
		s.i++
		return f, true
	}
	for {
		if s.next() != '"' {
			return f, false
		}
		start := s.i
		escaped, ok := s.str()
		if !ok {
			return f, false
		}
		name := s.data[start:s.i]
		s.space()
		if s.next() != ':' {
			return f, false
		}
		s.i++
		s.space()
		vstart := s.i
		if !s.value(1) {
			return f, false
		}
		v := s.data[vstart:s.i:s.i]
		if nameIs(name, escaped, a) {
			f.a = v
		}
		if wantB && nameIs(name, escaped, b) {
			f.b = v
		}
		s.space()
		switch s.next() {
		case ',':
			s.i++
			s.space()
		case '}':
			s.i++
			return f, true
		default:
			return f, false
		}
	}
}

// nameIs reports whether the valid JSON string quoted (quotes included)
// decodes to name; escaped says whether it holds escapes.
func nameIs(quoted []byte, escaped bool, name string) bool {
	raw := quoted[1 : len(quoted)-1]
	if !escaped && utf8.Valid(raw) {
		return string(raw) == name
	}
	// Escapes, or bytes that decode as U+FFFD.
	var s string
	return json.Unmarshal(quoted, &s) == nil && s == name
}

// unquote decodes a JSON string (quotes included) as json.Unmarshal does.
func unquote(quoted []byte) (string, error) {
	sc := scanner{data: quoted}
	if sc.next() == '"' {
		if escaped, ok := sc.str(); ok && !escaped && sc.i == len(quoted) && utf8.Valid(quoted) {
			return string(quoted[1 : len(quoted)-1]), nil
		}
	}
	var s string
	err := json.Unmarshal(quoted, &s)
	return s, err
}

// compactValue reports whether text is exactly one JSON value that the
// scanner accepts and that has no white space outside strings, that is
// text that json.Compact returns unchanged.
func compactValue(text []byte) bool {
	s := scanner{data: text}
	return s.value(0) && s.i == len(text) && !s.spaced
}
