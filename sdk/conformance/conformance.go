// Package conformance is the conformance kit for Weir connectors. A
// connector's own tests build its binary and call Run, which starts it the
// way the host does (go-plugin, gRPC, AutoMTLS, protocol v1) and checks what
// every connector owes the host: a well-formed Describe, idempotent writes,
// cursors that resume exactly after a crash, classified errors, byte-exact
// payloads and no secret in logs or errors.
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, conformance.Target{
//			Binary: bin, Config: json.RawMessage(`{"path":"` + dir + `"}`),
//			Object: "orders", Operation: "upsert",
//			NewRecords: newRecords, State: state,
//		})
//	}
//
// Each check is a subtest; a check whose Target fields are missing is
// skipped. Start gives authors the same running instance for tests of their
// own.
package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/weirhq/weir/sdk"
)

// Values the kit puts in the records it seeds, and that NewRecords payloads
// should carry for the byte-exact write check: a decimal that binary
// floating point cannot hold, and text beyond ASCII that JSON escaping and
// re-encoding must not change.
const (
	Decimal = "12345678901234567.89"
	Text    = "Grüße – 東京 🚀 \"q\" <&>"
)

// Target describes a connector under test. Only Binary is required; the
// checks that need a missing field are skipped.
type Target struct {
	// Binary is the connector executable (weir-connector-<name>).
	Binary string
	// Env is the connector's whole environment: like the host, the kit does
	// not pass its own.
	Env []string
	// Config is the connection block's attributes as a JSON object.
	Config json.RawMessage

	// Source is the source settings passed to Read; nil skips the source
	// checks.
	Source json.RawMessage
	// Seed makes the source return recs next, in order, after everything it
	// returned before. Each record read back must have the seeded key and a
	// payload holding every field of the seeded payload with the same value
	// (numbers as written, strings with the same text); it may add fields,
	// such as the key field.
	Seed func(t *testing.T, recs []sdk.Record)

	// Object and Operation name the destination object and operation for
	// Write; an empty Object skips the destination checks.
	Object, Operation string
	// NewRecords returns n valid records for Object at the given version.
	// The keys depend only on n and the index (the same n gives the same
	// keys), and the payloads on the version, so that State tells versions
	// apart. Payloads holding Decimal and Text make the byte-exact write
	// check run; without them it is skipped.
	NewRecords func(n int, version int64) []sdk.Record
	// State returns the destination's records by key, read outside the
	// connector (from the vendor sandbox, the files, ...).
	State func(t *testing.T) map[string]json.RawMessage
	// Invalid are records that Write must refuse permanently.
	Invalid []InvalidCase

	// Secrets must never appear in the connector's logs or error messages.
	// Token is always one of them.
	Secrets []string
	// Token is the access token the kit's host services hand out; a
	// generated one when empty.
	Token string
}

// InvalidCase is a record that Write must refuse with StatusPermanent.
type InvalidCase struct {
	// Name names the case in failures.
	Name string
	// Record is the invalid record.
	Record sdk.Record
	// Field is the expected WriteResult.Field (the path of the offending
	// field).
	Field string
	// Code, when set, is the expected WriteResult.Code.
	Code string
}

// callTimeout bounds one call to the connector.
const callTimeout = 30 * time.Second

// Run runs every check on tg as subtests of t.
func Run(t *testing.T, tg Target) {
	t.Helper()
	if tg.Binary == "" {
		t.Fatal("conformance: Target.Binary is empty")
	}
	k := &kit{tg: tg, run: strconv.FormatInt(time.Now().UnixNano(), 36), base: time.Now().UnixMicro()}
	if k.tg.Token == "" {
		k.tg.Token = "weir-conformance-token-" + k.run
	}
	k.shared = k.start(t)

	t.Run("Describe", k.checkDescribe)
	t.Run("Check", k.checkCheck)
	t.Run("Capabilities", k.checkCapabilities)
	t.Run("IdempotentWrite", k.checkIdempotentWrite)
	t.Run("ErrorClasses", k.checkErrorClasses)
	t.Run("ExactWrite", k.checkExactWrite)
	t.Run("ExactRead", k.checkExactRead)
	t.Run("CursorResume", k.checkCursorResume)
	k.shared.Close(t)
	t.Run("NoSecrets", k.checkNoSecrets)
}

// kit is the state of one Run.
type kit struct {
	tg        Target
	run       string // unique to this Run, for fresh keys
	base      int64  // versions are base + a small offset: newer on every run
	shared    *Instance
	instances []*Instance
	messages  []string // every error or result message seen
}

// start starts and configures an instance whose logs the secret check reads.
func (k *kit) start(t *testing.T) *Instance {
	t.Helper()
	inst := Start(t, k.tg)
	k.instances = append(k.instances, inst)
	return inst
}

// note records error messages for the secret check.
func (k *kit) note(err error) {
	if err != nil {
		k.messages = append(k.messages, err.Error())
	}
}

// noteResults records write result messages for the secret check.
func (k *kit) noteResults(rs []sdk.WriteResult) {
	for _, r := range rs {
		if r.Message != "" || r.Code != "" {
			k.messages = append(k.messages, r.Code+" "+r.Message)
		}
	}
}

// seeds returns n records for Seed, keyed uniquely to this Run, with
// versions ascending and payloads carrying Decimal and Text.
func (k *kit) seeds(name string, n int) []sdk.Record {
	recs := make([]sdk.Record, n)
	for i := range recs {
		recs[i] = sdk.Record{
			Key:     fmt.Sprintf("conf-%s-%s-%d", k.run, name, i),
			Version: k.base + int64(i),
			Payload: fmt.Appendf(nil, `{"seq":%d,"amount":%s,"small":-0.000000000000000000001,"name":%s}`, i, Decimal, jsonString(Text)),
		}
	}
	return recs
}

// jsonString returns s as a JSON string, without escaping <, > and &.
func jsonString(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
