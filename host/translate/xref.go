package translate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"weak"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/weirhq/weir/host/config"
	"github.com/weirhq/weir/host/store"
)

// XRefNamespace is the store.KV namespace of the cross-reference table.
const XRefNamespace = "xref"

// Limits of cross-reference names and ids.
const (
	// MaxSystemLen is the longest system name, in bytes.
	MaxSystemLen = 64
	// MaxIDLen is the longest id, in bytes.
	MaxIDLen = 512
)

// XRefOptions tunes an XRef.
type XRefOptions struct {
	// CacheTTL is how long a link read from the store is reused without
	// reading it again; DefaultXRefCacheTTL when 0, no caching when
	// negative. Only links found are cached: a missing id or system is
	// always asked of the store, so a link another host has just written
	// is seen at once. An id re-linked by another host (a replaced ERP
	// order) may be seen in its old state for up to CacheTTL.
	CacheTTL time.Duration
	// CacheSize bounds the ids cached; DefaultXRefCacheSize when 0.
	CacheSize int
	// Now is the clock of the cache; time.Now when nil.
	Now func() time.Time
}

// Defaults of XRefOptions.
const (
	DefaultXRefCacheTTL  = time.Minute
	DefaultXRefCacheSize = 100_000
)

// XRef is the cross-reference table: it links the ids one record has in
// several systems, e.g. a Salesforce Order, its NetSuite sales order and
// its SAP SalesOrder. Systems are named by the configuration's connection
// names ("crm", "erp"). The table is indexed by every system's id, so it
// is read in any direction: from the Salesforce id to the NetSuite id and
// back.
//
// The store is the truth; XRef caches the links it reads and writes, and
// is safe for concurrent use by many goroutines and hosts sharing a store.
//
// Each id is a store.KV key "<system>/<id>" in XRefNamespace whose value
// is the JSON object of all the ids linked to it, its own included:
// {"crm":"00012345","erp":"607632"}.
type XRef struct {
	kv   store.KV
	ttl  time.Duration
	size int
	now  func() time.Time

	mu    sync.Mutex
	cache map[string]cachedLinks
}

type cachedLinks struct {
	ids     map[string]string
	expires time.Time
}

// NewXRef returns the cross-reference table kept in kv.
func NewXRef(kv store.KV, opts XRefOptions) *XRef {
	x := &XRef{kv: kv, ttl: opts.CacheTTL, size: opts.CacheSize, now: opts.Now, cache: map[string]cachedLinks{}}
	if x.ttl == 0 {
		x.ttl = DefaultXRefCacheTTL
	}
	if x.size <= 0 {
		x.size = DefaultXRefCacheSize
	}
	if x.now == nil {
		x.now = time.Now
	}
	return x
}

// CheckSystem reports whether name can name a system: 1 to MaxSystemLen
// ASCII letters, digits, "_", "-" or ".".
func CheckSystem(name string) error {
	if name == "" || len(name) > MaxSystemLen {
		return fmt.Errorf("system name %s must be 1 to %d characters", quote(name), MaxSystemLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("system name %s may hold only letters, digits, \"_\", \"-\" and \".\"", quote(name))
		}
	}
	return nil
}

func checkID(system, id string) error {
	if id == "" || len(id) > MaxIDLen || !utf8.ValidString(id) {
		return fmt.Errorf("id %s of system %s must be 1 to %d bytes of UTF-8", quote(id), quote(system), MaxIDLen)
	}
	return nil
}

func xrefKey(system, id string) string { return system + "/" + id }

// Put links key, the record's id in system, to the ids it has in other
// systems (ids maps a system to an id; it may repeat system with key).
// Links already known to any of these ids are kept, so that the Salesforce
// → NetSuite and Salesforce → SAP writes of one order end in one entry of
// three ids; an id given here replaces the one known for its system. The
// entry of every id involved is updated, each atomically
// (CompareAndSwap), so concurrent Puts from several hosts merge.
func (x *XRef) Put(ctx context.Context, system, key string, ids map[string]string) error {
	want := map[string]string{system: key}
	for s, id := range ids {
		if s == system && id != key {
			return fmt.Errorf("xref: ids gives %s id %s, not %s", quote(s), quote(id), quote(key))
		}
		want[s] = id
	}
	for _, s := range slices.Sorted(maps.Keys(want)) {
		if err := CheckSystem(s); err != nil {
			return fmt.Errorf("xref: %w", err)
		}
		if err := checkID(s, want[s]); err != nil {
			return fmt.Errorf("xref: %w", err)
		}
	}
	// What the ids are already linked to, the ids given winning.
	merged := maps.Clone(want)
	for _, s := range slices.Sorted(maps.Keys(want)) {
		cur, _, err := x.read(ctx, s, want[s])
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		for _, t := range slices.Sorted(maps.Keys(cur)) {
			if _, ok := merged[t]; !ok {
				merged[t] = cur[t]
			}
		}
	}
	for _, s := range slices.Sorted(maps.Keys(merged)) {
		if err := x.merge(ctx, s, merged[s], merged); err != nil {
			return err
		}
	}
	return nil
}

// merge adds links to the entry of id in system, atomically.
func (x *XRef) merge(ctx context.Context, system, id string, links map[string]string) error {
	k := xrefKey(system, id)
	for range 16 {
		cur, raw, err := x.read(ctx, system, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		next := maps.Clone(cur)
		if next == nil {
			next = map[string]string{}
		}
		maps.Copy(next, links)
		if raw != nil && maps.Equal(cur, next) {
			x.remember(k, next)
			return nil
		}
		val, err := json.Marshal(next)
		if err != nil {
			return fmt.Errorf("xref: %w", err)
		}
		ok, err := x.kv.CompareAndSwap(ctx, XRefNamespace, k, raw, val)
		if err != nil {
			return fmt.Errorf("xref: write %s: %w", k, err)
		}
		if ok {
			x.remember(k, next)
			return nil
		}
	}
	return fmt.Errorf("xref: write %s: too much contention", k)
}

// read returns the entry of id in system from the store, with its raw
// value for CompareAndSwap; nil and an error matching store.ErrNotFound
// when there is none. A corrupt entry reads as empty, so that a Put
// repairs it.
func (x *XRef) read(ctx context.Context, system, id string) (map[string]string, []byte, error) {
	k := xrefKey(system, id)
	raw, err := x.kv.Get(ctx, XRefNamespace, k)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("xref: read %s: %w", k, err)
	}
	if raw == nil {
		raw = []byte{}
	}
	var m map[string]string
	if json.Unmarshal(raw, &m) != nil {
		m = nil
	}
	if m != nil {
		x.remember(k, m)
	}
	return m, raw, nil
}

// entry returns the links of id in system, from the cache when fresh
// enough and allowed, else from the store; nil when there are none.
// cached reports an answer from the cache.
func (x *XRef) entry(ctx context.Context, system, id string, useCache bool) (links map[string]string, cached bool, err error) {
	if useCache {
		if m, ok := x.recall(xrefKey(system, id)); ok {
			return m, true, nil
		}
	}
	m, _, err := x.read(ctx, system, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	return m, false, err
}

// Get returns every id linked to key, the record's id in system, by
// system, its own included; an error matching store.ErrNotFound when key
// is not in the table. Ids linked through one other system are included
// (the NetSuite id of an SAP order, through their common Salesforce id),
// the entry's own links winning.
func (x *XRef) Get(ctx context.Context, system, key string) (map[string]string, error) {
	own, _, err := x.entry(ctx, system, key, true)
	if err != nil {
		return nil, err
	}
	if own == nil {
		return nil, fmt.Errorf("xref: %s: %w", xrefKey(system, key), store.ErrNotFound)
	}
	out := maps.Clone(own)
	for _, t := range slices.Sorted(maps.Keys(own)) {
		if t == system {
			continue
		}
		other, _, err := x.entry(ctx, t, own[t], true)
		if err != nil {
			return nil, err
		}
		for u, id := range other {
			if _, ok := out[u]; !ok {
				out[u] = id
			}
		}
	}
	return out, nil
}

// Lookup returns the id in other of the record whose id in system is key,
// and whether it is known. An answer found in the cache is trusted; a
// missing one is always checked against the store.
func (x *XRef) Lookup(ctx context.Context, system, key, other string) (string, bool, error) {
	for _, useCache := range []bool{true, false} {
		own, cached, err := x.entry(ctx, system, key, useCache)
		if err != nil {
			return "", false, err
		}
		if id, ok := own[other]; ok {
			return id, true, nil
		}
		for _, t := range slices.Sorted(maps.Keys(own)) {
			if t == system {
				continue
			}
			linked, c, err := x.entry(ctx, t, own[t], useCache)
			if err != nil {
				return "", false, err
			}
			cached = cached || c
			if id, ok := linked[other]; ok {
				return id, true, nil
			}
		}
		if !cached {
			break // the store itself said no
		}
	}
	return "", false, nil
}

func (x *XRef) recall(k string) (map[string]string, bool) {
	if x.ttl < 0 {
		return nil, false
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	c, ok := x.cache[k]
	if !ok || !x.now().Before(c.expires) {
		return nil, false
	}
	return c.ids, true
}

// remember caches the links of k; m must not be modified afterwards.
func (x *XRef) remember(k string, m map[string]string) {
	if x.ttl < 0 {
		return
	}
	now := x.now()
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.cache) >= x.size {
		for key, c := range x.cache {
			if !now.Before(c.expires) {
				delete(x.cache, key)
			}
		}
		// Still full: forget an arbitrary half.
		for key := range x.cache {
			if len(x.cache) < x.size/2 {
				break
			}
			delete(x.cache, key)
		}
	}
	x.cache[k] = cachedLinks{ids: m, expires: now.Add(x.ttl)}
}

// xrefBinding is the XRef bound to one configuration.
type xrefBinding struct {
	x atomic.Pointer[XRef]
}

// xrefBindings holds the binding of each live configuration; an entry goes
// when its configuration is garbage collected.
var xrefBindings sync.Map // weak.Pointer[config.Config] → *xrefBinding

func bindingFor(c *config.Config) *xrefBinding {
	k := weak.Make(c)
	if v, ok := xrefBindings.Load(k); ok {
		return v.(*xrefBinding)
	}
	v, loaded := xrefBindings.LoadOrStore(k, new(xrefBinding))
	if !loaded {
		runtime.AddCleanup(c, func(k weak.Pointer[config.Config]) { xrefBindings.Delete(k) }, k)
	}
	return v.(*xrefBinding)
}

// BindXRef makes x the table that the xref function of cfg's expressions
// reads (nil unbinds it). The daemon calls it once the store is open,
// before running pipelines; it may be called before or after the
// configuration's functions are first used.
func BindXRef(cfg *config.Config, x *XRef) {
	bindingFor(cfg).x.Store(x)
}

// XRefTimeout bounds the store reads of one xref call.
var XRefTimeout = 5 * time.Second

// ErrXRefUnbound is the error of xref in a configuration without a bound
// table (BindXRef was not called).
var ErrXRefUnbound = errors.New("xref is not available: no store is bound to this configuration")

// StoreError is the error of an xref call whose store read failed. It is
// transient: the record should be retried, not dead-lettered.
type StoreError struct {
	Err error
}

func (e *StoreError) Error() string { return "cross-reference store: " + e.Err.Error() }

// Unwrap returns the store's error.
func (e *StoreError) Unwrap() error { return e.Err }

// Transient reports whether diags, from evaluating an expression, hold a
// failure that a later attempt may not have: an xref call whose store read
// failed or timed out. The engine retries such a record with backoff
// instead of dead-lettering it.
func Transient(diags hcl.Diagnostics) bool {
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		extra, ok := hcl.DiagnosticExtra[hclsyntax.FunctionCallDiagExtra](d)
		if !ok {
			continue
		}
		var se *StoreError
		if errors.As(extra.FunctionCallError(), &se) {
			return true
		}
	}
	return false
}

// makeXRefFunc makes xref(system, id, other_system) for one configuration.
func makeXRefFunc(c *config.Config, _ string) function.Function {
	b := bindingFor(c)
	return function.New(&function.Spec{
		Description: "Returns the id in other_system of the record whose id in system is id, or null when unknown.",
		Params: []function.Parameter{
			{Name: "system", Type: cty.String},
			{Name: "id", Type: cty.String, AllowNull: true},
			{Name: "other_system", Type: cty.String},
		},
		Type: function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			system, other := args[0].AsString(), args[2].AsString()
			if err := CheckSystem(system); err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			if err := CheckSystem(other); err != nil {
				return cty.NilVal, function.NewArgError(2, err)
			}
			x := b.x.Load()
			if x == nil {
				return cty.NilVal, ErrXRefUnbound
			}
			if args[1].IsNull() || args[1].AsString() == "" {
				return cty.NullVal(cty.String), nil
			}
			id := args[1].AsString()
			if checkID(system, id) != nil {
				return cty.NullVal(cty.String), nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), XRefTimeout)
			defer cancel()
			got, ok, err := x.Lookup(ctx, system, id, other)
			if err != nil {
				return cty.NilVal, &StoreError{Err: err}
			}
			if !ok {
				return cty.NullVal(cty.String), nil
			}
			return cty.StringVal(got), nil
		},
	})
}
