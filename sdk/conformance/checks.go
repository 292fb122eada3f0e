package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/weirhq/weir/sdk"
)

// How long a source may take to return what was seeded (vendor sandboxes
// may index asynchronously), and how often to poll it meanwhile.
const (
	seedVisibleWithin = 15 * time.Second
	pollInterval      = 50 * time.Millisecond
)

var (
	nameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`) // as the host finds binaries
	versionRE = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$`)
	attrRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
)

// ctx returns a context for one call, cancelled when t ends.
func (k *kit) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

func (k *kit) checkDescribe(t *testing.T) {
	d, err := k.shared.Client.Describe(k.ctx(t))
	k.note(err)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	for _, p := range describeProblems(d, k.tg) {
		t.Error(p)
	}
}

// describeProblems returns what is wrong with a description.
func describeProblems(d sdk.Description, tg Target) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if !nameRE.MatchString(d.Name) {
		bad("Name %q: want lower-case letters, digits, _ and -, not starting with _ or -", d.Name)
	}
	if base := filepath.Base(tg.Binary); strings.HasPrefix(base, "weir-connector-") && strings.TrimSuffix(base, ".exe") != "weir-connector-"+d.Name {
		bad("Name %q does not match the binary %s (want weir-connector-%s)", d.Name, base, d.Name)
	}
	if !versionRE.MatchString(d.Version) {
		bad("Version %q is not a semantic version such as 0.1.0", d.Version)
	}
	caps := map[sdk.Capability]bool{}
	for _, c := range d.Capabilities {
		switch {
		case !slices.Contains([]sdk.Capability{sdk.CapSource, sdk.CapDestination, sdk.CapLookup, sdk.CapWebhook}, c):
			bad("unknown capability %q", c)
		case caps[c]:
			bad("capability %q listed twice", c)
		}
		caps[c] = true
	}
	if len(caps) == 0 {
		bad("no capabilities")
	}
	out = append(out, attributeProblems("Config", d.Config)...)
	out = append(out, attributeProblems("SourceConfig", d.SourceConfig)...)
	if len(d.SourceConfig) > 0 && !caps[sdk.CapSource] && !caps[sdk.CapWebhook] {
		bad("SourceConfig is set but the connector is neither a source nor a webhook decoder")
	}

	names := map[string]bool{}
	var writable, lookup bool
	for i, o := range d.Objects {
		if o.Name == "" || names[o.Name] {
			bad("Objects[%d]: name %q is empty or repeated", i, o.Name)
		}
		names[o.Name] = true
		writable = writable || o.Writable
		lookup = lookup || o.Lookup
		for j, f := range o.Fields {
			if _, err := ctyjson.UnmarshalType(f.Type); f.Name == "" || err != nil {
				bad("Objects[%d] %q Fields[%d] %q: type %s is not a cty type (%v)", i, o.Name, j, f.Name, f.Type, err)
			}
		}
	}
	if writable != caps[sdk.CapDestination] {
		bad("destination capability %v but writable objects %v: they go together", caps[sdk.CapDestination], writable)
	}
	if lookup != caps[sdk.CapLookup] {
		bad("lookup capability %v but lookup objects %v: they go together", caps[sdk.CapLookup], lookup)
	}
	if tg.Object != "" {
		o := targetObject(d, tg.Object)
		switch {
		case o == nil || !o.Writable:
			bad("no writable object %q (nor %q) for Target.Object", tg.Object, sdk.AnyObject)
		case tg.Operation != "" && len(o.Operations) > 0 && !slices.Contains(o.Operations, tg.Operation):
			bad("object %q does not list operation %q in %v", o.Name, tg.Operation, o.Operations)
		}
	}
	return out
}

// targetObject returns the object named name, or the sdk.AnyObject one.
func targetObject(d sdk.Description, name string) *sdk.Object {
	var wild *sdk.Object
	for i, o := range d.Objects {
		switch o.Name {
		case name:
			return &d.Objects[i]
		case sdk.AnyObject:
			wild = &d.Objects[i]
		}
	}
	return wild
}

// attributeProblems checks a schema: names, cty types and defaults.
func attributeProblems(where string, as []sdk.Attribute) []string {
	var out []string
	seen := map[string]bool{}
	for i, a := range as {
		at := fmt.Sprintf("%s[%d] %q", where, i, a.Name)
		if !attrRE.MatchString(a.Name) || seen[a.Name] {
			out = append(out, at+": name is not an identifier or is repeated")
		}
		seen[a.Name] = true
		ty, err := ctyjson.UnmarshalType(a.Type)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: type %s is not a cty type in JSON form: %v", at, a.Type, err))
			continue
		}
		if len(a.Default) == 0 {
			continue
		}
		if a.Required {
			out = append(out, at+": required attributes have no default")
		}
		if ty == cty.DynamicPseudoType {
			if !json.Valid(a.Default) {
				out = append(out, fmt.Sprintf("%s: default %s is not JSON", at, a.Default))
			}
		} else if _, err := ctyjson.Unmarshal(a.Default, ty); err != nil {
			out = append(out, fmt.Sprintf("%s: default %s is not a %s: %v", at, a.Default, ty.FriendlyName(), err))
		}
	}
	return out
}

func (k *kit) checkCheck(t *testing.T) {
	err := k.shared.Client.Check(k.ctx(t))
	k.note(err)
	if err != nil {
		t.Errorf("Check: %v", err)
	}
}

// checkCapabilities calls each RPC: a declared capability must answer, an
// undeclared one must be Unimplemented.
func (k *kit) checkCapabilities(t *testing.T) {
	c := k.shared.Client
	d, err := c.Describe(k.ctx(t))
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	object := k.tg.Object
	if object == "" {
		object = "conformance"
	}
	lookupObject := object
	for _, o := range d.Objects {
		if o.Lookup && o.Name != sdk.AnyObject {
			lookupObject = o.Name
			break
		}
	}
	source := k.tg.Source
	if source == nil {
		source = json.RawMessage(`{}`)
	}
	probes := []struct {
		cap  sdk.Capability
		call func(ctx context.Context) error
	}{
		{sdk.CapSource, func(ctx context.Context) error {
			_, err := c.Read(ctx, sdk.ReadRequest{Source: source, MaxRecords: 1})
			return err
		}},
		{sdk.CapDestination, func(ctx context.Context) error {
			_, err := c.Write(ctx, sdk.WriteRequest{Object: object, Operation: k.tg.Operation})
			return err
		}},
		{sdk.CapLookup, func(ctx context.Context) error {
			_, err := c.Lookup(ctx, sdk.LookupRequest{Object: lookupObject, Query: json.RawMessage(`{}`)})
			return err
		}},
		{sdk.CapWebhook, func(ctx context.Context) error {
			_, err := c.DecodeWebhook(ctx, sdk.WebhookRequest{Source: source, Method: "POST", Path: "/v1/hooks/conformance"})
			return err
		}},
	}
	for _, p := range probes {
		err := p.call(k.ctx(t))
		k.note(err)
		declared := slices.Contains(d.Capabilities, p.cap)
		e := sdk.Classify(err)
		switch unimplemented := e != nil && e.Code == "Unimplemented"; {
		case declared && unimplemented:
			t.Errorf("capability %q is declared but its RPC is unimplemented: %v", p.cap, err)
		case !declared && !unimplemented:
			t.Errorf("capability %q is not declared but its RPC answers (error %v)", p.cap, err)
		}
	}
}

// write writes recs to the target object and checks there is one result
// per record, in order.
func (k *kit) write(t *testing.T, recs []sdk.Record) []sdk.WriteResult {
	t.Helper()
	res, err := k.shared.Client.Write(k.ctx(t), sdk.WriteRequest{Object: k.tg.Object, Operation: k.tg.Operation, Records: recs})
	k.note(err)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	k.noteResults(res)
	if len(res) != len(recs) {
		t.Fatalf("Write returned %d results for %d records", len(res), len(recs))
	}
	for i := range res {
		if recs[i].Key != "" && res[i].Key != recs[i].Key {
			t.Errorf("result %d is for key %q, want %q: results come in record order", i, res[i].Key, recs[i].Key)
		}
	}
	return res
}

// wantOK fails t for every result that is not OK, or whose Created is not
// created(i).
func wantOK(t *testing.T, what string, res []sdk.WriteResult, created func(i int) bool) {
	t.Helper()
	for i, r := range res {
		switch {
		case r.Status != sdk.StatusOK:
			t.Errorf("%s: record %q: %s %s %s (field %q), want ok", what, r.Key, r.Status, r.Code, r.Message, r.Field)
		case created != nil && r.Created != created(i):
			t.Errorf("%s: record %q: Created = %v, want %v", what, r.Key, r.Created, created(i))
		}
	}
}

func (k *kit) needDestination(t *testing.T) {
	t.Helper()
	if k.tg.Object == "" || k.tg.NewRecords == nil || k.tg.State == nil {
		t.Skip("needs Target.Object, NewRecords and State")
	}
}

// checkIdempotentWrite writes a batch twice, then a newer and an older
// version of it.
func (k *kit) checkIdempotentWrite(t *testing.T) {
	k.needDestination(t)
	before := k.tg.State(t)
	v10 := k.tg.NewRecords(4, k.base+10)
	wantOK(t, "first write", k.write(t, v10), func(i int) bool { return before[v10[i].Key] == nil })
	s1 := k.tg.State(t)
	wantOK(t, "same batch again", k.write(t, v10), func(int) bool { return false })
	s2 := k.tg.State(t)
	for _, r := range v10 {
		if s1[r.Key] == nil {
			t.Errorf("record %q written but missing from State", r.Key)
		} else if !sameJSON(s1[r.Key], s2[r.Key]) {
			t.Errorf("record %q: writing the same batch twice changed it:\n first: %s\nsecond: %s", r.Key, s1[r.Key], s2[r.Key])
		}
	}

	v30 := k.tg.NewRecords(4, k.base+30)
	v20 := k.tg.NewRecords(4, k.base+20)
	for i := range v10 {
		if v30[i].Key != v10[i].Key || v20[i].Key != v10[i].Key {
			t.Fatalf("NewRecords(4, v) returned different keys for different versions: %q, %q, %q", v10[i].Key, v20[i].Key, v30[i].Key)
		}
	}
	wantOK(t, "newer version", k.write(t, v30), func(int) bool { return false })
	s3 := k.tg.State(t)
	for i, r := range v30 {
		if !sameJSON(v10[i].Payload, r.Payload) && sameJSON(s1[r.Key], s3[r.Key]) {
			t.Errorf("record %q: a newer version did not change State: %s", r.Key, s3[r.Key])
		}
	}
	wantOK(t, "older version after a newer one", k.write(t, v20), func(int) bool { return false })
	s4 := k.tg.State(t)
	for _, r := range v20 {
		if !sameJSON(s3[r.Key], s4[r.Key]) {
			t.Errorf("record %q: an older version overwrote a newer one:\n newer: %s\n   now: %s", r.Key, s3[r.Key], s4[r.Key])
		}
	}
}

// checkErrorClasses writes the invalid records between two valid ones.
func (k *kit) checkErrorClasses(t *testing.T) {
	if k.tg.Object == "" || k.tg.NewRecords == nil || len(k.tg.Invalid) == 0 {
		t.Skip("needs Target.Object, NewRecords and Invalid")
	}
	valid := k.tg.NewRecords(2, k.base+40)
	batch := []sdk.Record{valid[0]}
	for _, c := range k.tg.Invalid {
		batch = append(batch, c.Record)
	}
	batch = append(batch, valid[1])
	res := k.write(t, batch)
	wantOK(t, "valid records in a batch with invalid ones", []sdk.WriteResult{res[0], res[len(res)-1]}, nil)
	for i, c := range k.tg.Invalid {
		r := res[i+1]
		switch {
		case r.Status != sdk.StatusPermanent:
			t.Errorf("%s: status %s (%s %s), want permanent", c.Name, r.Status, r.Code, r.Message)
		case r.Field != c.Field:
			t.Errorf("%s: field %q, want %q (%s %s)", c.Name, r.Field, c.Field, r.Code, r.Message)
		case c.Code != "" && r.Code != c.Code:
			t.Errorf("%s: code %q, want %q (%s)", c.Name, r.Code, c.Code, r.Message)
		case r.Message == "":
			t.Errorf("%s: a permanent result without a message", c.Name)
		}
	}
}

// checkExactWrite writes records and reads them back through State.
func (k *kit) checkExactWrite(t *testing.T) {
	k.needDestination(t)
	recs := k.tg.NewRecords(2, k.base+50)
	var payloads [][]byte
	for _, r := range recs {
		payloads = append(payloads, r.Payload)
	}
	if number, text := exactSamples(payloads...); !number || !text {
		t.Skip("NewRecords payloads need a number that float64 would change and non-ASCII text: include conformance.Decimal and conformance.Text")
	}
	wantOK(t, "write", k.write(t, recs), nil)
	state := k.tg.State(t)
	for _, r := range recs {
		k.wantExact(t, r.Key, state[r.Key], r.Payload, "State")
	}
}

// wantExact fails t unless got holds all of want exactly.
func (k *kit) wantExact(t *testing.T, key string, got, want []byte, where string) {
	t.Helper()
	if got == nil {
		t.Errorf("record %q is missing from %s", key, where)
		return
	}
	path, err := mismatch(got, want)
	switch {
	case err != nil:
		t.Errorf("record %q: %v", key, err)
	case path != "":
		t.Errorf("record %q: %s differs at %s:\nwant %s\n got %s", key, where, path, want, got)
	}
}

func (k *kit) needSource(t *testing.T) {
	t.Helper()
	if k.tg.Source == nil || k.tg.Seed == nil {
		t.Skip("needs Target.Source and Seed")
	}
}

// checkExactRead seeds records and reads them back.
func (k *kit) checkExactRead(t *testing.T) {
	k.needSource(t)
	recs := k.seeds("exact", 2)
	k.tg.Seed(t, recs)
	r := k.reader(k.shared, recs, 100)
	r.drain(t)
	r.wantAll(t)
	for _, got := range r.got {
		for _, want := range recs {
			if got.Key == want.Key {
				k.wantExact(t, got.Key, got.Payload, want.Payload, "Read")
			}
		}
	}
}

// checkCursorResume reads half of the seeded records in small batches, kills
// the connector with a read in flight, and resumes from the last cursor in
// a new process.
func (k *kit) checkCursorResume(t *testing.T) {
	k.needSource(t)
	const n = 12
	recs := k.seeds("resume", n)
	k.tg.Seed(t, recs)
	first := k.start(t)
	r := k.reader(first, recs, 3)
	r.readUntil(t, func() bool { return len(r.got) >= n/2 })

	// A read in flight when the process dies: its batch never counts, as
	// the host would not have saved its cursor.
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		_, _ = first.Client.Read(ctx, sdk.ReadRequest{Source: k.tg.Source, Cursor: r.cursor, MaxRecords: 3})
	}()
	first.Kill()
	<-done

	r.inst = k.start(t)
	r.drain(t)
	r.wantAll(t)
}

// reader reads a source as the host does, saving each batch's cursor.
type reader struct {
	k      *kit
	inst   *Instance
	batch  int
	cursor []byte
	want   []string        // seeded keys, in order
	seeded map[string]bool // the same, as a set
	got    []sdk.Record    // records of seeded keys read, in order
}

func (k *kit) reader(inst *Instance, recs []sdk.Record, batch int) *reader {
	r := &reader{k: k, inst: inst, batch: batch, seeded: map[string]bool{}}
	for _, rec := range recs {
		r.want = append(r.want, rec.Key)
		r.seeded[rec.Key] = true
	}
	return r
}

// read reads one batch and reports More.
func (r *reader) read(t *testing.T) bool {
	t.Helper()
	res, err := r.inst.Client.Read(r.k.ctx(t), sdk.ReadRequest{Source: r.k.tg.Source, Cursor: r.cursor, MaxRecords: r.batch})
	r.k.note(err)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if len(res.Records) > r.batch {
		t.Errorf("Read returned %d records, more than MaxRecords %d", len(res.Records), r.batch)
	}
	for _, rec := range res.Records {
		if rec.Key == "" {
			t.Errorf("Read returned a record without a key: %s", rec.Payload)
		}
		if r.seeded[rec.Key] {
			if e := rec.Metadata["weir.error"]; e != "" {
				t.Errorf("seeded record %q came back as an error: %s", rec.Key, e)
			}
			r.got = append(r.got, rec)
		}
	}
	r.cursor = res.Cursor
	return res.More
}

// readUntil reads until enough, polling while the source has nothing more.
func (r *reader) readUntil(t *testing.T, enough func() bool) {
	t.Helper()
	deadline := time.Now().Add(seedVisibleWithin)
	for !enough() {
		if !r.read(t) {
			r.wait(t, deadline)
		}
	}
}

// drain reads until every seeded record was read and the source reports
// nothing more.
func (r *reader) drain(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(seedVisibleWithin)
	for r.read(t) || len(r.got) < len(r.want) {
		r.wait(t, deadline)
	}
}

// wait pauses before polling the source again, or fails t after deadline.
func (r *reader) wait(t *testing.T, deadline time.Time) {
	t.Helper()
	if time.Now().After(deadline) {
		var keys []string
		for _, rec := range r.got {
			keys = append(keys, rec.Key)
		}
		t.Fatalf("after %s the source returned %d of %d seeded records:\n got %q\nwant %q", seedVisibleWithin, len(r.got), len(r.want), keys, r.want)
	}
	time.Sleep(pollInterval)
}

// wantAll fails t unless every seeded record was read exactly once, in
// order.
func (r *reader) wantAll(t *testing.T) {
	t.Helper()
	var keys []string
	for _, rec := range r.got {
		keys = append(keys, rec.Key)
	}
	if !slices.Equal(keys, r.want) {
		t.Errorf("seeded records read (each exactly once, in order):\n got %q\nwant %q", keys, r.want)
	}
}

// checkNoSecrets provokes a configuration error, then looks for every
// secret in all the connector logs and messages seen.
func (k *kit) checkNoSecrets(t *testing.T) {
	inst := launch(t, k.tg)
	k.instances = append(k.instances, inst)
	raw := withAttribute(k.tg.Config, "weir_conformance_unknown", true)
	k.note(inst.Client.Configure(k.ctx(t), sdk.Config{Connection: Connection, Raw: raw}, inst.Host))
	inst.Close(t)

	for i, s := range k.secrets() {
		for _, in := range k.instances {
			if strings.Contains(in.Logs(), s) {
				t.Errorf("secret %d (%d bytes) appears in the connector's log", i, len(s))
				break
			}
		}
		for _, m := range k.messages {
			if strings.Contains(m, s) {
				t.Errorf("secret %d (%d bytes) appears in an error message: %s", i, len(s), redact(m, k.secrets()))
				break
			}
		}
	}
}

// secrets returns the non-empty secrets, the token included.
func (k *kit) secrets() []string {
	var out []string
	for _, s := range append([]string{k.tg.Token}, k.tg.Secrets...) {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// redact replaces every secret in s.
func redact(s string, secrets []string) string {
	for _, x := range secrets {
		if x != "" {
			s = strings.ReplaceAll(s, x, "[secret]")
		}
	}
	return s
}
