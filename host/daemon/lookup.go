package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/weirhq/weir/host/api"
	"github.com/weirhq/weir/host/config"
	"github.com/weirhq/weir/host/engine"
	"github.com/weirhq/weir/sdk"
)

// maxCachedAnswers bounds the lookup cache; past it, expired answers are
// dropped, and if none are, the cache starts over.
const maxCachedAnswers = 10000

// lookups serves the configured lookup routes at interactive priority,
// reusing an answer to the same query for the route's cache time.
type lookups struct {
	routes     map[string]*config.LookupRoute
	connectors engine.Connectors

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	answer  json.RawMessage
	expires time.Time
}

func newLookups(routes []*config.LookupRoute, conns engine.Connectors) *lookups {
	l := &lookups{routes: map[string]*config.LookupRoute{}, connectors: conns, cache: map[string]cached{}}
	for _, r := range routes {
		l.routes[r.Name] = r
	}
	return l
}

// Lookup implements api.Looker.
func (l *lookups) Lookup(ctx context.Context, name string, query json.RawMessage) (json.RawMessage, error) {
	r, ok := l.routes[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", api.ErrUnknownLookup, name)
	}
	key := name + "\x00" + string(query)
	now := time.Now()
	if r.Cache > 0 {
		l.mu.Lock()
		c, ok := l.cache[key]
		l.mu.Unlock()
		if ok && now.Before(c.expires) {
			return c.answer, nil
		}
	}
	conn, err := l.connectors.Connector(ctx, r.Connection)
	if err != nil {
		return nil, sdk.Retryable(fmt.Errorf("connection %s: %w", r.Connection, err), 0)
	}
	answer, err := conn.Lookup(ctx, sdk.LookupRequest{Object: r.Object, Query: query, Priority: sdk.PriorityInteractive})
	if err != nil {
		return nil, err
	}
	if r.Cache > 0 {
		l.mu.Lock()
		if len(l.cache) >= maxCachedAnswers {
			for k, c := range l.cache {
				if now.After(c.expires) {
					delete(l.cache, k)
				}
			}
			if len(l.cache) >= maxCachedAnswers {
				l.cache = map[string]cached{}
			}
		}
		l.cache[key] = cached{answer: answer, expires: now.Add(r.Cache)}
		l.mu.Unlock()
	}
	return answer, nil
}
