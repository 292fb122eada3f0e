package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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
	s, err := parseSettings(req.Source)
	if err != nil {
		return sdk.WebhookResponse{}, err
	}
	items, reject := splitBody(req.Body)
	if reject != "" {
		return sdk.WebhookResponse{Reject: reject}, nil
	}
	received := sdk.VersionFromTime(time.Now())
	recs := make([]sdk.Record, 0, len(items))
	for i, it := range items {
		rec, hasVersion, p := s.parse(it.text)
		if p != nil {
			return sdk.WebhookResponse{Reject: it.where + ": " + p.msg}, nil
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
		Body:    fmt.Appendf(nil, `{"accepted":%d}`, len(recs)),
	}, nil
}

// item is one object of a webhook body and where it is ("line 3",
// "element [2]").
type item struct {
	where string
	text  []byte
}

// splitBody splits a body into its objects, or says why it cannot.
func splitBody(body []byte) (items []item, reject string) {
	body = trim(body)
	if len(body) == 0 || body[0] != '[' {
		for n, line := range bytes.Split(body, []byte("\n")) {
			if text := trim(line); len(text) > 0 {
				items = append(items, item{fmt.Sprintf("line %d", n+1), text})
			}
		}
		return items, ""
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	_, _ = dec.Token() // the "["
	for i := 0; dec.More(); i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Sprintf("element [%d]: invalid JSON: %v", i, err)
		}
		items = append(items, item{fmt.Sprintf("element [%d]", i), raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Sprintf("the JSON array is not closed: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, "unexpected data after the JSON array"
	}
	return items, ""
}
