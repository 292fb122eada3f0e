package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirhq/weir/host/engine"
	"github.com/weirhq/weir/host/limiter"
	"github.com/weirhq/weir/host/plugins"
	"github.com/weirhq/weir/host/store"
	"github.com/weirhq/weir/host/store/bolt"
	"github.com/weirhq/weir/host/translate"
	"github.com/weirhq/weir/sdk"
)

// Planner runs records through pipelines without writing anything: the
// connectors are started (lookups and source reads are read-only), the
// queue is never touched.
type Planner struct {
	d      *Daemon
	engine *engine.Engine
}

// NewPlanner starts the configuration's connectors for `weir plan`. The
// store is opened for stored tokens and source cursors. When another weir
// holds the embedded store, NewPlanner returns its error (matching
// bolt.ErrInUse): that daemon can run the plan (Daemon.Plan). When the
// store cannot be opened otherwise, plan goes on without it.
func NewPlanner(ctx context.Context, l *Loaded, log *slog.Logger) (*Planner, error) {
	if log == nil {
		log = slog.Default()
	}
	d := &Daemon{loaded: l, opts: Options{Logger: log}, log: log, supervisors: map[string]*plugins.Supervisor{},
		limiters: map[string]limiter.Limiter{}}
	p := &Planner{d: d}
	var kv store.KV = &memKV{}
	st, client, err := OpenStore(ctx, l.Config, l.Dir)
	switch {
	case errors.Is(err, bolt.ErrInUse):
		return nil, err
	case err == nil:
		d.store, kv = st, st
	default:
		log.Warn("plan runs without the store (no stored tokens, sources read from the start)", "reason", err)
	}
	translate.BindXRef(l.Config, translate.NewXRef(kv, translate.XRefOptions{}))
	if err := d.startConnections(ctx, kv, client, plugins.NewMetrics(prometheus.NewRegistry())); err != nil {
		d.Close()
		return nil, err
	}
	var pipelines []engine.Pipeline
	for _, pc := range l.Config.Pipelines {
		pipelines = append(pipelines, compile(l.Config, pc, d.supervisors))
	}
	p.engine, err = engine.New(engine.Options{Pipelines: pipelines, Connectors: connectors(d.supervisors), Logger: log, Owner: "plan"})
	if err != nil {
		d.Close()
		return nil, err
	}
	return p, nil
}

// Plan says what each record would become in pipeline.
func (p *Planner) Plan(ctx context.Context, pipeline string, recs []sdk.Record) ([]engine.PlanResult, error) {
	return p.engine.Plan(ctx, pipeline, recs)
}

// FromSource reads up to n records from the pipeline's source after its
// saved cursor (from the start without one), saving nothing.
func (p *Planner) FromSource(ctx context.Context, pipeline string, n int) ([]sdk.Record, error) {
	return p.d.readSource(ctx, pipeline, n)
}

// Plan says what records would become in pipeline, writing nothing: recs,
// or, when fromSource > 0, that many records read from the source after
// its saved cursor. It serves weir plan while the daemon holds the store,
// with the daemon's stored tokens, cursors and running connectors.
func (d *Daemon) Plan(ctx context.Context, pipeline string, recs []sdk.Record, fromSource int) ([]engine.PlanResult, error) {
	if fromSource > 0 {
		var err error
		if recs, err = d.readSource(ctx, pipeline, fromSource); err != nil {
			return nil, err
		}
	}
	return d.engine.Plan(ctx, pipeline, recs)
}

// readSource reads up to n records from the pipeline's source after its
// saved cursor (from the start without a store or a cursor), saving
// nothing.
func (d *Daemon) readSource(ctx context.Context, pipeline string, n int) ([]sdk.Record, error) {
	pc := d.loaded.Config.Pipeline(pipeline)
	if pc == nil {
		return nil, fmt.Errorf("%w: %q", engine.ErrUnknownPipeline, pipeline)
	}
	var cursor []byte
	if d.store != nil {
		c, err := d.store.Checkpoint(ctx, pipeline, pc.Source.Connection)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		cursor = c
	}
	sup := d.supervisors[pc.Source.Connection]
	client, err := sup.Client(ctx)
	if err != nil {
		return nil, err
	}
	var out []sdk.Record
	for len(out) < n {
		res, err := client.Read(ctx, sdk.ReadRequest{Source: pc.Source.Settings, Cursor: cursor, MaxRecords: n - len(out)})
		if err != nil {
			return out, fmt.Errorf("read %s: %w", pc.Source.Connection, err)
		}
		out = append(out, res.Records...)
		if !res.More || len(res.Records) == 0 || bytes.Equal(res.Cursor, cursor) {
			break
		}
		cursor = res.Cursor
	}
	if len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// Close stops the connectors and closes the store.
func (p *Planner) Close() { p.d.Close() }

// memKV is an in-memory store.KV, for plan runs without the store.
type memKV struct {
	mu sync.Mutex
	m  map[string]memValue
}

type memValue struct {
	v       []byte
	expires time.Time
}

func (k *memKV) get(key string) ([]byte, bool) {
	v, ok := k.m[key]
	if !ok || (!v.expires.IsZero() && time.Now().After(v.expires)) {
		return nil, false
	}
	return v.v, true
}

func (k *memKV) init() {
	if k.m == nil {
		k.m = map[string]memValue{}
	}
}

// Get implements store.KV.
func (k *memKV) Get(_ context.Context, ns, key string) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if v, ok := k.get(ns + "\x00" + key); ok {
		return bytes.Clone(v), nil
	}
	return nil, store.ErrNotFound
}

// Put implements store.KV.
func (k *memKV) Put(_ context.Context, ns, key string, val []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.init()
	k.m[ns+"\x00"+key] = memValue{v: append([]byte{}, val...)}
	return nil
}

// Delete implements store.KV.
func (k *memKV) Delete(_ context.Context, ns, key string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, ns+"\x00"+key)
	return nil
}

// CompareAndSwap implements store.KV.
func (k *memKV) CompareAndSwap(_ context.Context, ns, key string, old, new []byte) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.init()
	id := ns + "\x00" + key
	cur, ok := k.get(id)
	if (old == nil) != !ok || (old != nil && !bytes.Equal(cur, old)) {
		return false, nil
	}
	if new == nil {
		delete(k.m, id)
		return true, nil
	}
	k.m[id] = memValue{v: append([]byte{}, new...), expires: k.m[id].expires}
	return true, nil
}

// SetNX implements store.KV.
func (k *memKV) SetNX(_ context.Context, ns, key string, val []byte, ttl time.Duration) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.init()
	id := ns + "\x00" + key
	if _, ok := k.get(id); ok {
		return false, nil
	}
	v := memValue{v: append([]byte{}, val...)}
	if ttl > 0 {
		v.expires = time.Now().Add(ttl)
	}
	k.m[id] = v
	return true, nil
}
