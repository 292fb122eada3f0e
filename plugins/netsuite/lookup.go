package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/weirhq/weir/sdk"
)

// stockQuery is a stock lookup's query.
type stockQuery struct {
	// Items are item names (itemid), external ids or internal ids.
	Items []json.RawMessage `json:"items"`
	// Locations, when set, keeps only these location ids.
	Locations []string `json:"locations"`
}

// maxStockCache is the cache size past which expired entries are dropped.
const maxStockCache = 10000

// stockEntry is one item's stock, cached; nil item when not found.
type stockEntry struct {
	item    *stockItem
	expires time.Time
}

// stockItem is the answer for one item.
type stockItem struct {
	ID                string          `json:"id"`
	ItemID            string          `json:"itemId"`
	ExternalID        string          `json:"externalId,omitempty"`
	QuantityAvailable json.Number     `json:"quantityAvailable"`
	QuantityOnHand    json.Number     `json:"quantityOnHand"`
	Locations         []stockLocation `json:"locations"`
}

// stockLocation is an item's stock at one location.
type stockLocation struct {
	ID                  string      `json:"id"`
	Name                string      `json:"name,omitempty"`
	QuantityAvailable   json.Number `json:"quantityAvailable"`
	QuantityOnHand      json.Number `json:"quantityOnHand"`
	QuantityCommitted   json.Number `json:"quantityCommitted"`
	QuantityOnOrder     json.Number `json:"quantityOnOrder"`
	QuantityBackOrdered json.Number `json:"quantityBackOrdered"`
}

// Lookup answers object "stock": {"items": ["WID-100", ...]} with
// {"items": {"WID-100": {"id", "itemId", "quantityAvailable",
// "quantityOnHand", "locations": [{"id", "name", "quantityAvailable",
// ...}]}, "NOPE": null}}, quantities in the item's base unit. Items are
// matched by name, external id or internal id; answers are cached for
// stock_cache_ttl, and the items not cached are read with one SuiteQL
// query (paged) at the request's priority.
func (c *connector) Lookup(ctx context.Context, req sdk.LookupRequest) (json.RawMessage, error) {
	if !strings.EqualFold(req.Object, objStock) {
		return nil, sdk.Permanent("INVALID_OBJECT", fmt.Sprintf("lookup object %q is unknown: use stock", req.Object), "object")
	}
	var q stockQuery
	if len(bytes.TrimSpace(req.Query)) > 0 {
		if err := sdk.DecodeStrict(req.Query, &q); err != nil {
			return nil, sdk.Permanent("INVALID_QUERY", "the stock query must be {\"items\": [...], \"locations\": [...]}: "+err.Error(), "query")
		}
	}
	var keys []string
	for i, raw := range q.Items {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			var n json.Number
			if err := json.Unmarshal(raw, &n); err != nil {
				return nil, sdk.Permanent("INVALID_QUERY", "items must be strings or numbers", fmt.Sprintf("items[%d]", i))
			}
			s = n.String()
		}
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(keys, s) {
			keys = append(keys, s)
		}
	}
	now := time.Now()
	answer := map[string]*stockItem{}
	var missing []string
	c.cacheMu.Lock()
	for _, k := range keys {
		if e, ok := c.stock[k]; ok && now.Before(e.expires) {
			answer[k] = e.item
		} else {
			missing = append(missing, k)
		}
	}
	c.cacheMu.Unlock()
	if len(missing) > 0 {
		fresh, err := c.loadStock(ctx, missing, req.Priority)
		if err != nil {
			return nil, err
		}
		c.cacheMu.Lock()
		if len(c.stock) > maxStockCache {
			for k, e := range c.stock {
				if now.After(e.expires) {
					delete(c.stock, k)
				}
			}
		}
		for _, k := range missing {
			answer[k] = fresh[k]
			if c.stockTTL > 0 {
				c.stock[k] = stockEntry{item: fresh[k], expires: now.Add(c.stockTTL)}
			}
		}
		c.cacheMu.Unlock()
	}
	out := map[string]any{}
	for _, k := range keys {
		it := answer[k]
		if it == nil {
			out[k] = nil
			continue
		}
		out[k] = filterLocations(it, q.Locations)
	}
	return encodeJSON(map[string]any{"items": out})
}

// filterLocations keeps only the given locations (all when empty) and sums
// the item's quantities over them.
func filterLocations(it *stockItem, locs []string) *stockItem {
	cp := *it
	cp.Locations = nil
	avail, onHand := new(big.Rat), new(big.Rat)
	for _, l := range it.Locations {
		if len(locs) > 0 && !slices.Contains(locs, l.ID) {
			continue
		}
		cp.Locations = append(cp.Locations, l)
		avail = ratSum(avail, l.QuantityAvailable)
		onHand = ratSum(onHand, l.QuantityOnHand)
	}
	if cp.Locations == nil {
		cp.Locations = []stockLocation{}
	}
	cp.QuantityAvailable, cp.QuantityOnHand = ratNumber(avail), ratNumber(onHand)
	return &cp
}

// loadStock reads the stock of items by name, external id or internal id.
func (c *connector) loadStock(ctx context.Context, keys []string, p sdk.Priority) (map[string]*stockItem, error) {
	out := map[string]*stockItem{}
	for start := 0; start < len(keys); start += 200 {
		chunk := keys[start:min(start+200, len(keys))]
		conds := []string{"i.itemid IN (" + sqlList(chunk) + ")", "i.externalid IN (" + sqlList(chunk) + ")"}
		var ids []string
		for _, k := range chunk {
			if isDigits(k) {
				ids = append(ids, k)
			}
		}
		if len(ids) > 0 {
			conds = append(conds, "i.id IN ("+strings.Join(ids, ", ")+")")
		}
		q := "SELECT i.id, i.itemid, i.externalid, a.location, BUILTIN.DF(a.location) AS locationname, a.quantityavailable, " +
			"a.quantityonhand, a.quantitycommitted, a.quantityonorder, a.quantitybackordered " +
			"FROM item i LEFT JOIN aggregateitemlocation a ON a.item = i.id WHERE " + strings.Join(conds, " OR ") +
			" ORDER BY i.id, a.location"
		rows, _, err := c.suiteqlAll(ctx, q, 1000, 0, p)
		if err != nil {
			return nil, err
		}
		byID := map[string]*stockItem{}
		var order []string
		for _, r := range rows {
			it := byID[r["id"]]
			if it == nil {
				it = &stockItem{ID: r["id"], ItemID: r["itemid"], ExternalID: r["externalid"], Locations: []stockLocation{}}
				byID[r["id"]] = it
				order = append(order, r["id"])
			}
			if r["location"] == "" {
				continue
			}
			it.Locations = append(it.Locations, stockLocation{ID: r["location"], Name: r["locationname"],
				QuantityAvailable: number(r["quantityavailable"]), QuantityOnHand: number(r["quantityonhand"]),
				QuantityCommitted: number(r["quantitycommitted"]), QuantityOnOrder: number(r["quantityonorder"]),
				QuantityBackOrdered: number(r["quantitybackordered"])})
		}
		for _, k := range chunk {
			for _, id := range order {
				it := byID[id]
				if it.ItemID == k || it.ExternalID == k || it.ID == k {
					out[k] = filterLocations(it, nil)
					break
				}
			}
		}
	}
	return out, nil
}

// number converts a SuiteQL number to a JSON number, 0 when absent.
func number(s string) json.Number {
	if n, ok := jsonNumber(s); ok {
		return n
	}
	return "0"
}

// ratSum adds a JSON number to a sum.
func ratSum(sum *big.Rat, n json.Number) *big.Rat {
	r, ok := new(big.Rat).SetString(n.String())
	if !ok {
		return sum
	}
	return new(big.Rat).Add(sum, r)
}

// ratNumber formats an exact decimal as a JSON number.
func ratNumber(r *big.Rat) json.Number {
	if r.IsInt() {
		return json.Number(r.Num().String())
	}
	s := r.FloatString(20)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return json.Number(s)
}
