package translate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/weirhq/weir/host/config"
	"github.com/weirhq/weir/host/store"
	"github.com/weirhq/weir/host/store/bolt"
)

// openKV opens an embedded store for the test.
func openKV(t *testing.T) store.KV {
	t.Helper()
	st, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// flakyKV fails every call with store.ErrUnavailable while down is set.
type flakyKV struct {
	store.KV
	down atomic.Bool
}

func (f *flakyKV) Get(ctx context.Context, ns, key string) ([]byte, error) {
	if f.down.Load() {
		return nil, fmt.Errorf("redis: %w", store.ErrUnavailable)
	}
	return f.KV.Get(ctx, ns, key)
}

func TestXRefPutGet(t *testing.T) {
	ctx := context.Background()
	x := NewXRef(openKV(t), XRefOptions{})

	if _, err := x.Get(ctx, "crm", "801A"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get of an unknown id: %v", err)
	}
	if err := x.Put(ctx, "crm", "801A", map[string]string{"erp": "607632"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"crm": "801A", "erp": "607632"}
	for _, k := range [][2]string{{"crm", "801A"}, {"erp", "607632"}} {
		got, err := x.Get(ctx, k[0], k[1])
		if err != nil || !maps.Equal(got, want) {
			t.Errorf("Get(%s, %s) = %v, %v; want %v", k[0], k[1], got, err, want)
		}
	}
	if id, ok, err := x.Lookup(ctx, "erp", "607632", "crm"); err != nil || !ok || id != "801A" {
		t.Errorf("Lookup(erp → crm) = %q, %v, %v", id, ok, err)
	}
	if _, ok, err := x.Lookup(ctx, "erp", "607632", "sap"); err != nil || ok {
		t.Errorf("Lookup(erp → sap) = %v, %v; want unknown", ok, err)
	}

	// The SAP write of the same order joins the entry: every id finds all.
	if err := x.Put(ctx, "crm", "801A", map[string]string{"sap": "4711"}); err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"crm": "801A", "erp": "607632", "sap": "4711"}
	for _, k := range [][2]string{{"crm", "801A"}, {"erp", "607632"}, {"sap", "4711"}} {
		got, err := x.Get(ctx, k[0], k[1])
		if err != nil || !maps.Equal(got, want) {
			t.Errorf("Get(%s, %s) = %v, %v; want %v", k[0], k[1], got, err, want)
		}
	}

	// A re-created ERP order replaces the id; the new id finds the order.
	if err := x.Put(ctx, "erp", "700001", map[string]string{"crm": "801A"}); err != nil {
		t.Fatal(err)
	}
	if id, _, _ := x.Lookup(ctx, "crm", "801A", "erp"); id != "700001" {
		t.Errorf("after re-linking, crm → erp = %q", id)
	}
	if id, _, _ := x.Lookup(ctx, "erp", "700001", "sap"); id != "4711" {
		t.Errorf("after re-linking, erp → sap = %q", id)
	}
}

func TestXRefPutErrors(t *testing.T) {
	ctx := context.Background()
	x := NewXRef(openKV(t), XRefOptions{})
	for _, tc := range []struct {
		system, key string
		ids         map[string]string
		want        string
	}{
		{"", "1", nil, "system name"},
		{"crm/x", "1", nil, "may hold only"},
		{"crm", "", nil, "must be 1 to 512 bytes"},
		{"crm", "1", map[string]string{"erp": ""}, `id "" of system "erp"`},
		{"crm", "1", map[string]string{"crm": "2"}, `ids gives "crm" id "2", not "1"`},
		{"crm", "1", map[string]string{"e r p": "2"}, "may hold only"},
	} {
		err := x.Put(ctx, tc.system, tc.key, tc.ids)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Put(%q, %q, %v) = %v, want %q", tc.system, tc.key, tc.ids, err, tc.want)
		}
	}
}

// TestXRefConcurrentHosts writes the ERP and SAP ids of many orders at once
// from two hosts sharing a store: every id ends up finding every other.
func TestXRefConcurrentHosts(t *testing.T) {
	ctx := context.Background()
	kv := openKV(t)
	hosts := []*XRef{NewXRef(kv, XRefOptions{}), NewXRef(kv, XRefOptions{CacheTTL: -1})}
	const orders = 40
	var wg sync.WaitGroup
	for i := range orders {
		sf := fmt.Sprintf("801%03d", i)
		wg.Go(func() {
			if err := hosts[0].Put(ctx, "crm", sf, map[string]string{"erp": "ns" + sf}); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if err := hosts[1].Put(ctx, "crm", sf, map[string]string{"sap": "sap" + sf}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range orders {
		sf := fmt.Sprintf("801%03d", i)
		for _, h := range hosts {
			for _, q := range []struct{ sys, id, other, want string }{
				{"crm", sf, "erp", "ns" + sf},
				{"crm", sf, "sap", "sap" + sf},
				{"erp", "ns" + sf, "sap", "sap" + sf},
				{"sap", "sap" + sf, "erp", "ns" + sf},
				{"sap", "sap" + sf, "crm", sf},
			} {
				got, ok, err := h.Lookup(ctx, q.sys, q.id, q.other)
				if err != nil || !ok || got != q.want {
					t.Errorf("Lookup(%s %s → %s) = %q, %v, %v; want %q", q.sys, q.id, q.other, got, ok, err, q.want)
				}
			}
		}
	}
}

// TestXRefCache: links found are cached; a missing link is always asked of
// the store; a re-linked id is seen after the cache time.
func TestXRefCache(t *testing.T) {
	ctx := context.Background()
	kv := openKV(t)
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	a := NewXRef(kv, XRefOptions{CacheTTL: time.Minute, Now: clock})
	b := NewXRef(kv, XRefOptions{Now: clock})

	if err := b.Put(ctx, "crm", "1", map[string]string{"erp": "10"}); err != nil {
		t.Fatal(err)
	}
	if id, _, _ := a.Lookup(ctx, "crm", "1", "erp"); id != "10" {
		t.Fatalf("crm → erp = %q", id)
	}
	// Another host adds the SAP id: seen at once, though the entry is cached.
	if err := b.Put(ctx, "crm", "1", map[string]string{"sap": "20"}); err != nil {
		t.Fatal(err)
	}
	if id, ok, _ := a.Lookup(ctx, "crm", "1", "sap"); !ok || id != "20" {
		t.Errorf("crm → sap = %q, %v", id, ok)
	}
	// Another host re-links the ERP id: the cached answer stands until the
	// cache time has passed.
	if err := b.Put(ctx, "crm", "1", map[string]string{"erp": "11"}); err != nil {
		t.Fatal(err)
	}
	if id, _, _ := a.Lookup(ctx, "crm", "1", "erp"); id != "10" {
		t.Errorf("within the cache time, crm → erp = %q, want the cached 10", id)
	}
	now = now.Add(time.Minute)
	if id, _, _ := a.Lookup(ctx, "crm", "1", "erp"); id != "11" {
		t.Errorf("after the cache time, crm → erp = %q, want 11", id)
	}

	// The cache stays bounded.
	small := NewXRef(kv, XRefOptions{CacheSize: 4, Now: clock})
	for i := range 20 {
		if err := small.Put(ctx, "crm", fmt.Sprint(i), map[string]string{"erp": fmt.Sprint(100 + i)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(small.cache); n > 4 {
		t.Errorf("cache holds %d entries, bound is 4", n)
	}
}

func TestXRefFunction(t *testing.T) {
	ctx := context.Background()
	cfg, dir := loadConfig(t, "")
	// Before binding: an error naming the problem.
	runCases(t, cfg, dir, []evalCase{
		{name: "unbound", expr: `xref("crm", record.OrderNumber, "erp")`, wantErr: []string{"no store is bound"}},
	})

	kv := &flakyKV{KV: openKV(t)}
	x := NewXRef(kv, XRefOptions{})
	BindXRef(cfg, x)
	if err := x.Put(ctx, "crm", "00012345", map[string]string{"erp": "607632"}); err != nil {
		t.Fatal(err)
	}
	if err := x.Put(ctx, "crm", "00012345", map[string]string{"sap": "4711"}); err != nil {
		t.Fatal(err)
	}
	runCases(t, cfg, dir, []evalCase{
		{name: "crm to erp", expr: `xref("crm", record.OrderNumber, "erp")`, want: `"607632"`},
		{name: "erp to crm", expr: `xref("erp", "607632", "crm")`, want: `"00012345"`},
		{name: "number id", expr: `xref("erp", 607632, "sap")`, want: `"4711"`},
		{name: "sap to erp", expr: `xref("sap", "4711", "erp")`, want: `"607632"`},
		{name: "unknown id", expr: `xref("crm", "nope", "erp")`, want: `null`},
		{name: "unknown system", expr: `xref("crm", record.OrderNumber, "billing")`, want: `null`},
		{name: "null id", expr: `xref("crm", record.Description, "erp")`, want: `null`},
		{name: "coalesce", expr: `coalesce(xref("crm", "nope", "erp"), "new")`, want: `"new"`},
		{name: "bad system", expr: `xref("c r m", "1", "erp")`, wantErr: []string{`"system" parameter`, "may hold only"}},
	})

	// A store failure is transient: the engine retries instead of
	// dead-lettering.
	kv.down.Store(true)
	_, diags := evalIn(t, cfg, dir, `{ id = xref("crm", "never-cached", "erp") }`)
	if !diags.HasErrors() || !Transient(diags) {
		t.Errorf("store down: diags %v, transient %v", diags, Transient(diags))
	}
	if !errors.Is(storeErr(diags), store.ErrUnavailable) {
		t.Errorf("store down: the error does not match store.ErrUnavailable")
	}
	kv.down.Store(false)
	// Other failures are permanent.
	_, diags = evalIn(t, cfg, dir, `iso_country("Atlantis")`)
	if !diags.HasErrors() || Transient(diags) {
		t.Errorf("unknown country: transient %v", Transient(diags))
	}
	_, diags = evalIn(t, cfg, dir, `record.Nope`)
	if !diags.HasErrors() || Transient(diags) {
		t.Errorf("missing attribute: transient %v", Transient(diags))
	}

	// Unbinding makes it unavailable again.
	BindXRef(cfg, nil)
	if _, diags := evalIn(t, cfg, dir, `xref("crm", "00012345", "erp")`); !diags.HasErrors() {
		t.Error("unbound xref answered")
	}
}

// storeErr returns the error of the first failed function call in diags.
func storeErr(diags hcl.Diagnostics) error {
	for _, d := range diags {
		if extra, ok := hcl.DiagnosticExtra[hclsyntax.FunctionCallDiagExtra](d); ok {
			return extra.FunctionCallError()
		}
	}
	return nil
}

// TestXRefBindingReleased checks that a configuration's binding goes with
// the configuration.
func TestXRefBindingReleased(t *testing.T) {
	count := func() int {
		n := 0
		xrefBindings.Range(func(any, any) bool { n++; return true })
		return n
	}
	cfg := &config.Config{}
	BindXRef(cfg, NewXRef(openKV(t), XRefOptions{}))
	k := weak.Make(cfg)
	if _, ok := xrefBindings.Load(k); !ok {
		t.Fatal("no binding")
	}
	cfg = nil
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		if _, ok := xrefBindings.Load(k); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("binding kept after its configuration was collected (%d bindings)", count())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
