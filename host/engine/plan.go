package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/weirhq/weir/host/store"
	"github.com/weirhq/weir/sdk"
)

// Plan actions.
const (
	PlanCreate = "create"
	PlanUpdate = "update"
	// PlanWrite is a write whose create-or-update the destination cannot
	// tell in advance (it cannot read its records back).
	PlanWrite  = "write"
	PlanSkip   = "skip"
	PlanReject = "reject"
)

// SampleRecords turns record payloads given to plan into records, keyed
// sample-1, sample-2, … until the pipeline's key expression keys them.
func SampleRecords(payloads []json.RawMessage) []sdk.Record {
	out := make([]sdk.Record, len(payloads))
	for i, p := range payloads {
		out[i] = sdk.Record{Key: fmt.Sprintf("sample-%d", i+1), Payload: p}
	}
	return out
}

// PlanResult is what one record would become.
type PlanResult struct {
	Key    string `json:"key"`
	Action string `json:"action"`
	// Reason says why a record is skipped or rejected.
	Reason string `json:"reason,omitempty"`
	// Field is the path of the field at fault of a rejected record.
	Field string `json:"field,omitempty"`
	// Record is the payload that would be written.
	Record json.RawMessage `json:"record,omitempty"`
	// Changes lists the fields an update would change.
	Changes []FieldChange `json:"changes,omitempty"`
}

// FieldChange is one top-level field an update changes.
type FieldChange struct {
	Field string          `json:"field"`
	From  json.RawMessage `json:"from"`
	To    json.RawMessage `json:"to"`
}

// Plan runs records through a pipeline's key, when, lookups (read-only),
// map and validation, and says what each would become, without writing
// anything. Where the destination connector can read its records back (a
// Lookup of the destination object by {"keys": [...]}, answered with
// {"records": {key: record or null}}), creates are told from updates and
// updates list their changes.
func (e *Engine) Plan(ctx context.Context, pipeline string, recs []sdk.Record) ([]PlanResult, error) {
	r, ok := e.pipelines[pipeline]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownPipeline, pipeline)
	}
	out := make([]PlanResult, len(recs))
	var writeKeys []string
	for i, rec := range recs {
		sr := store.Record{Key: rec.Key, Version: rec.Version, Op: store.Op(rec.Op), Object: rec.Object, Payload: rec.Payload, Metadata: rec.Metadata}
		if r.p.Key != nil {
			if err := r.keyOf(&sr); err != nil {
				e := permanentFromEval(err)
				out[i] = PlanResult{Key: rec.Key, Action: PlanReject, Reason: e.Message, Field: e.Field}
				continue
			}
		}
		out[i].Key = sr.Key
		payload, skip, err := r.prepare(ctx, store.Lease{Pipeline: pipeline, Record: sr, Attempt: 1})
		switch {
		case err != nil:
			e := sdk.Classify(err)
			reason := e.Message
			if reason == "" {
				reason = e.Error()
			}
			if e.Status != sdk.StatusPermanent {
				reason = fmt.Sprintf("%s (%s: would be retried)", reason, e.Status)
			}
			out[i].Action, out[i].Reason, out[i].Field = PlanReject, reason, e.Field
		case skip:
			out[i].Action, out[i].Reason = PlanSkip, "when is false"
			if r.p.WhenText != "" {
				out[i].Reason = "when " + r.p.WhenText + " is false"
			}
		default:
			out[i].Action, out[i].Record = PlanWrite, payload
			writeKeys = append(writeKeys, sr.Key)
		}
	}
	current, err := r.current(ctx, writeKeys)
	if err != nil || current == nil {
		return out, nil
	}
	for i := range out {
		if out[i].Action != PlanWrite {
			continue
		}
		old, found := current[out[i].Key]
		if !found || len(old) == 0 || string(old) == "null" {
			out[i].Action = PlanCreate
			continue
		}
		out[i].Action = PlanUpdate
		out[i].Changes = diff(old, out[i].Record)
	}
	return out, nil
}

// current reads the destination's records for keys, or returns nil when
// the destination cannot read them back.
func (r *runner) current(ctx context.Context, keys []string) (map[string]json.RawMessage, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	conn, err := r.e.opts.Connectors.Connector(ctx, r.p.Destination.Connection)
	if err != nil {
		return nil, err
	}
	q, _ := json.Marshal(map[string][]string{"keys": keys})
	res, err := conn.Lookup(ctx, sdk.LookupRequest{Object: r.p.Destination.Object, Query: q, Priority: sdk.PriorityInteractive})
	if err != nil {
		return nil, err
	}
	var answer struct {
		Records map[string]json.RawMessage `json:"records"`
	}
	if err := json.Unmarshal(res, &answer); err != nil || answer.Records == nil {
		return nil, fmt.Errorf("destination lookup answer has no records")
	}
	return answer.Records, nil
}

// diff lists the top-level fields whose values differ between two JSON
// objects (compared in canonical form).
func diff(from, to json.RawMessage) []FieldChange {
	var a, b map[string]json.RawMessage
	if json.Unmarshal(from, &a) != nil || json.Unmarshal(to, &b) != nil {
		return []FieldChange{{Field: "", From: from, To: to}}
	}
	names := map[string]bool{}
	for k := range a {
		names[k] = true
	}
	for k := range b {
		names[k] = true
	}
	sorted := make([]string, 0, len(names))
	for k := range names {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var out []FieldChange
	for _, k := range sorted {
		if !sameJSON(a[k], b[k]) {
			out = append(out, FieldChange{Field: k, From: orNull(a[k]), To: orNull(b[k])})
		}
	}
	return out
}

func orNull(v json.RawMessage) json.RawMessage {
	if len(v) == 0 {
		return json.RawMessage("null")
	}
	return v
}

// sameJSON compares two JSON values ignoring formatting and key order;
// numbers are compared as written after compaction.
func sameJSON(a, b json.RawMessage) bool {
	ca, cb := canonical(a), canonical(b)
	return bytes.Equal(ca, cb)
}

func canonical(v json.RawMessage) []byte {
	if len(v) == 0 {
		return []byte("null")
	}
	var x any
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	if dec.Decode(&x) != nil {
		return v
	}
	out, _ := json.Marshal(x)
	return out
}
