package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/weirhq/weir/sdk"
)

// DecodeWebhook turns a body of JSON lines, or a JSON array of objects, into
// one record per object, keyed and versioned as the source settings say.
// Without version_field, a record's version is the time the body was
// received (microseconds) plus the object's index, so later objects of a
// body are newer. A malformed body is rejected whole, naming the line or
// element at fault: the host answers 400 and stores nothing. Otherwise the
// answer, sent once the records are stored, is 200 {"accepted":N}.
func (c *connector) DecodeWebhook(_ context.Context, req sdk.WebhookRequest) (sdk.WebhookResponse, error) {
	s, err := c.sources.get(req.Source)
	if err != nil {
		return sdk.WebhookResponse{}, err
	}
	items, reject := splitBody(req.Body, s)
	if reject != "" {
		return sdk.WebhookResponse{Reject: reject}, nil
	}
	received := sdk.VersionFromTime(time.Now())
	recs := make([]sdk.Record, 0, len(items))
	// The body is the request's own: payloads written as they are stay
	// runs of it, which the SDK sends back as spans rather than copies.
	payloads := arena{alias: true}
	for i, it := range items {
		var rec sdk.Record
		var hasVersion bool
		var p *problem
		if it.scanned {
			rec, hasVersion, p = s.record(it.text, it.fields, &payloads)
		} else {
			rec, hasVersion, p = s.parse(it.text, &payloads)
		}
		if p != nil {
			return sdk.WebhookResponse{Reject: it.where() + ": " + p.msg}, nil
		}
		if !hasVersion {
			rec.Version = received + int64(i)
		}
		recs = append(recs, rec)
	}
	return sdk.WebhookResponse{
		Records: recs,
		Status:  http.StatusOK,
		Headers: map[string][]string{"Content-Type": {"application/json"}},
		Body:    append(strconv.AppendInt([]byte(`{"accepted":`), int64(len(recs)), 10), '}'),
	}, nil
}

// item is one object of a webhook body and where it is: line n (from 1) of
// a body of lines, or element n (from 0) of an array.
type item struct {
	n       int
	element bool
	text    []byte
	// scanned is set when text is an object that scanObject would take,
	// and fields is what it found.
	scanned bool
	fields  objectFields
}

// where names the item's place in the body ("line 3", "element [2]").
func (it item) where() string {
	if it.element {
		return "element [" + strconv.Itoa(it.n) + "]"
	}
	return "line " + strconv.Itoa(it.n)
}

// splitBody splits a body into its objects, or says why it cannot. The
// elements of an array are scanned for the fields of s on the way.
func splitBody(body []byte, s settings) (items []item, reject string) {
	body = trim(body)
	if len(body) == 0 || body[0] != '[' {
		items = make([]item, 0, bytes.Count(body, []byte("\n"))+1)
		for n := 1; ; n++ {
			line, rest, more := bytes.Cut(body, []byte("\n"))
			if text := trim(line); len(text) > 0 {
				items = append(items, item{n: n, text: text})
			}
			if !more {
				return items, ""
			}
			body = rest
		}
	}
	if items, ok := splitArray(body, s); ok {
		return items, ""
	}
	return splitArrayDecoder(body)
}

// splitArray splits a JSON array, with no white space around it, into its
// elements, if the scanner accepts it. Objects are scanned for the fields
// of set as they are skipped.
func splitArray(body []byte, set settings) (items []item, ok bool) {
	s := scanner{data: body, i: 1}
	s.space()
	if s.next() == ']' {
		return nil, s.i+1 == len(body)
	}
	for n := 0; ; n++ {
		it := item{n: n, element: true}
		start := s.i
		if s.next() == '{' {
			it.fields, it.scanned = s.fields(set.KeyField, set.VersionField, set.VersionField != "")
			ok = it.scanned
		} else {
			ok = s.value(1)
		}
		if !ok {
			return nil, false
		}
		it.text = body[start:s.i:s.i]
		items = append(items, it)
		s.space()
		switch s.next() {
		case ',':
			s.i++
			s.space()
		case ']':
			if s.i+1 != len(body) {
				return nil, false
			}
			return items, true
		default:
			return nil, false
		}
	}
}

// splitArrayDecoder is splitArray by encoding/json, which names what is
// wrong with a body splitArray does not take.
func splitArrayDecoder(body []byte) (items []item, reject string) {
	dec := json.NewDecoder(bytes.NewReader(body))
	_, _ = dec.Token() // the "["
	for i := 0; dec.More(); i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Sprintf("element [%d]: invalid JSON: %v", i, err)
		}
		items = append(items, item{n: i, element: true, text: raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Sprintf("the JSON array is not closed: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, "unexpected data after the JSON array"
	}
	return items, ""
}
