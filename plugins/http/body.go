package main

import (
	"encoding/json"
	"strconv"

	"github.com/weirhq/weir/sdk"
)

// This file builds request bodies by appending bytes, not by reflection.
// The output is byte for byte what json.Marshal gives for the envelope (or
// a slice of them): the payload compacted, with <, >, &, U+2028 and U+2029
// escaped the way encoding/json escapes them.

// errInvalidJSON returns the error of a chunk holding a payload that is
// not JSON.
func errInvalidJSON() error {
	return sdk.Permanent("INVALID_JSON", "the record is not valid JSON", "record")
}

// bodySize estimates the body of recs, so that it is built in one
// allocation.
func bodySize(recs []sdk.Record) int {
	n := 2
	for i := range recs {
		r := &recs[i]
		// 80 covers the field names, punctuation, op and version; escapes
		// can make the body longer, which append then copes with.
		n += len(r.Payload) + len(r.Key) + len(r.Object) + 80
	}
	return n
}

// appendBody appends the request body of recs to dst: one envelope when
// single is set (recs then holds one record), else a JSON array of them.
// It returns errInvalidJSON() if a payload is not JSON.
func appendBody(dst []byte, recs []sdk.Record, single bool) ([]byte, error) {
	if !single {
		dst = append(dst, '[')
	}
	for i := range recs {
		if i > 0 {
			dst = append(dst, ',')
		}
		var ok bool
		if dst, ok = appendEnvelope(dst, &recs[i]); !ok {
			return dst, errInvalidJSON()
		}
	}
	if !single {
		dst = append(dst, ']')
	}
	return dst, nil
}

// appendEnvelope appends r as an envelope object. It reports false if the
// payload is not JSON.
func appendEnvelope(dst []byte, r *sdk.Record) ([]byte, bool) {
	dst = append(dst, `{"key":`...)
	dst = appendJSONString(dst, r.Key)
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendInt(dst, r.Version, 10)
	dst = append(dst, `,"op":`...)
	dst = appendJSONString(dst, r.Op.String())
	if r.Object != "" {
		dst = append(dst, `,"object":`...)
		dst = appendJSONString(dst, r.Object)
	}
	dst = append(dst, `,"record":`...)
	dst, ok := appendPayload(dst, r.Payload)
	if !ok {
		return dst, false
	}
	return append(dst, '}'), true
}

// appendPayload appends the compacted, HTML-escaped payload to dst. It
// reports false if the payload is not JSON.
func appendPayload(dst, payload []byte) ([]byte, bool) {
	if out, ok := appendCompactJSON(dst, payload); ok {
		return out, true
	}
	// Not handled by the fast path: an error, or nesting deeper than it
	// follows. encoding/json decides.
	if !json.Valid(payload) {
		return dst, false
	}
	enc, err := json.Marshal(json.RawMessage(payload))
	if err != nil {
		return dst, false
	}
	return append(dst, enc...), true
}

// htmlSafe holds the ASCII bytes that json.Marshal copies unchanged into a
// string.
var htmlSafe = func() (t [256]bool) {
	for b := 0x20; b < 0x7f; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// appendJSONString appends s as json.Marshal encodes a string.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !htmlSafe[s[i]] {
			enc, _ := json.Marshal(s) // a string always encodes
			return append(dst, enc...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// maxFastDepth is the deepest nesting appendCompactJSON follows; deeper
// documents go to encoding/json.
const maxFastDepth = 128

// plainInString is 1 for the bytes that appendCompactJSON copies without
// a second look inside a string: not a quote, backslash, control byte, an
// HTML-special byte or the first byte of U+2028 / U+2029.
var plainInString = func() (t [256]byte) {
	for b := 0x20; b < 0x100; b++ {
		if b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' && b != 0xE2 {
			t[b] = 1
		}
	}
	return t
}()

// hexDigits are the digits of \u escapes.
const hexDigits = "0123456789abcdef"

// isHex reports whether c is a hexadecimal digit.
func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(src []byte, i int) int {
	for i < len(src) {
		switch src[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// appendCompactJSON checks that src is one JSON value and appends it to dst
// without insignificant whitespace and with <, >, &, U+2028 and U+2029
// escaped as \u003c, \u003e, \u0026, \u2028 and \u2029: what json.Marshal
// makes of a json.RawMessage. It reports false, with dst's contents beyond
// its length undefined, when src is not JSON or nests deeper than
// maxFastDepth.
func appendCompactJSON(dst, src []byte) ([]byte, bool) {
	const (
		wantValue  = iota // a value: the document, an element or a member's
		wantKey           // a member's key, after '{' or ','
		afterValue        // ',', a closing bracket or the end
	)
	var stack [maxFastDepth]byte // '{' or '[' of each open container
	depth := 0
	state := wantValue
	i := 0
	n := len(src)
	for {
		i = skipSpace(src, i)
		switch state {
		case wantValue:
			if i >= n {
				return dst, false
			}
			switch c := src[i]; c {
			case '{', '[':
				dst = append(dst, c)
				i = skipSpace(src, i+1)
				if i < n && src[i] == c+2 { // '}' or ']'
					dst = append(dst, c+2)
					i++
					state = afterValue
					continue
				}
				if depth == maxFastDepth {
					return dst, false
				}
				stack[depth] = c
				depth++
				if c == '{' {
					state = wantKey
				}
				continue
			case '"':
				var ok bool
				if dst, i, ok = appendString(dst, src, i); !ok {
					return dst, false
				}
			case 't':
				if !hasLiteral(src, i, "true") {
					return dst, false
				}
				dst = append(dst, "true"...)
				i += 4
			case 'f':
				if !hasLiteral(src, i, "false") {
					return dst, false
				}
				dst = append(dst, "false"...)
				i += 5
			case 'n':
				if !hasLiteral(src, i, "null") {
					return dst, false
				}
				dst = append(dst, "null"...)
				i += 4
			default:
				end, ok := scanNumber(src, i)
				if !ok {
					return dst, false
				}
				dst = append(dst, src[i:end]...)
				i = end
			}
			state = afterValue
		case wantKey:
			if i >= n || src[i] != '"' {
				return dst, false
			}
			var ok bool
			if dst, i, ok = appendString(dst, src, i); !ok {
				return dst, false
			}
			i = skipSpace(src, i)
			if i >= n || src[i] != ':' {
				return dst, false
			}
			dst = append(dst, ':')
			i++
			state = wantValue
		case afterValue:
			if depth == 0 {
				return dst, i == n
			}
			if i >= n {
				return dst, false
			}
			open := stack[depth-1]
			switch c := src[i]; {
			case c == ',':
				dst = append(dst, ',')
				i++
				if open == '{' {
					state = wantKey
				} else {
					state = wantValue
				}
			case c == open+2:
				dst = append(dst, c)
				i++
				depth--
			default:
				return dst, false
			}
		}
	}
}

// hasLiteral reports whether src holds lit at i.
func hasLiteral(src []byte, i int, lit string) bool {
	return len(src)-i >= len(lit) && string(src[i:i+len(lit)]) == lit
}

// scanNumber returns the end of the JSON number starting at src[i], and
// false if there is none.
func scanNumber(src []byte, i int) (int, bool) {
	n := len(src)
	if i < n && src[i] == '-' {
		i++
	}
	switch {
	case i < n && src[i] == '0':
		i++
	case i < n && '1' <= src[i] && src[i] <= '9':
		for i++; i < n && '0' <= src[i] && src[i] <= '9'; i++ {
		}
	default:
		return i, false
	}
	if i < n && src[i] == '.' {
		i++
		if i >= n || src[i] < '0' || src[i] > '9' {
			return i, false
		}
		for i++; i < n && '0' <= src[i] && src[i] <= '9'; i++ {
		}
	}
	if i < n && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < n && (src[i] == '+' || src[i] == '-') {
			i++
		}
		if i >= n || src[i] < '0' || src[i] > '9' {
			return i, false
		}
		for i++; i < n && '0' <= src[i] && src[i] <= '9'; i++ {
		}
	}
	return i, true
}

// appendString appends the JSON string starting at src[i] (its opening
// quote) to dst with HTML-special characters escaped, and returns the
// index after its closing quote, or false if it is not a valid string.
func appendString(dst, src []byte, i int) ([]byte, int, bool) {
	n := len(src)
	start := i // first byte not yet copied
	i++
	for {
		// Eight bytes a step while all are plain, then byte by byte.
		for i+8 <= n {
			w := src[i : i+8 : i+8]
			if plainInString[w[0]]&plainInString[w[1]]&plainInString[w[2]]&plainInString[w[3]]&
				plainInString[w[4]]&plainInString[w[5]]&plainInString[w[6]]&plainInString[w[7]] == 0 {
				break
			}
			i += 8
		}
		for i < n && plainInString[src[i]] == 1 {
			i++
		}
		if i >= n {
			return dst, i, false
		}
		switch c := src[i]; {
		case c == '"':
			i++
			return append(dst, src[start:i]...), i, true
		case c == '\\':
			if i+1 >= n {
				return dst, i, false
			}
			switch src[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+5 >= n || !isHex(src[i+2]) || !isHex(src[i+3]) || !isHex(src[i+4]) || !isHex(src[i+5]) {
					return dst, i, false
				}
				i += 6
			default:
				return dst, i, false
			}
		case c == '<' || c == '>' || c == '&':
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			i++
			start = i
		case c == 0xE2:
			if i+2 < n && src[i+1] == 0x80 && src[i+2]&^1 == 0xA8 {
				dst = append(dst, src[start:i]...)
				dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[src[i+2]&0xF])
				i += 3
				start = i
			} else {
				i++
			}
		default: // a control byte
			return dst, i, false
		}
	}
}
