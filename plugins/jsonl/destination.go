package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/weirhq/weir/sdk"
)

// table is one destination file, <folder>/<object>.jsonl, and its index:
// the newest version and payload of every key in it. The connector assumes
// it is the file's only writer.
type table struct {
	path string

	mu     sync.Mutex // held for a whole Write or Lookup
	rows   map[string]*row
	next   int64 // order of the next new key
	loaded bool
	// dirty is set when the file may hold bytes the index does not (a torn
	// last line, a failed write): the next write rewrites the whole file.
	dirty bool
}

// row is one key's line in a destination file.
type row struct {
	version int64
	record  json.RawMessage
	order   int64 // lines are kept in the order their keys were created
}

// envelope is the form of a destination line.
type envelope struct {
	Key     string          `json:"key"`
	Version int64           `json:"version"`
	Record  json.RawMessage `json:"record"`
}

// Write upserts (or, for records with op delete, removes) one line per key
// in <folder>/<object>.jsonl, idempotently:
//
//   - a record whose version is older than or equal to the stored one is
//     ignored (result OK, Created false);
//   - a delete removes the key unless the stored version is newer; deleting
//     an absent key is OK. No tombstone is kept: a later upsert of the key,
//     whatever its version, creates it again;
//   - a payload that is not a JSON object is refused: StatusPermanent, code
//     INVALID_JSON, field "record".
//
// A batch that only adds keys is appended to the file and fsync'd; a batch
// that changes or removes existing keys rewrites the file atomically (temp
// file, fsync, rename, fsync of the folder). Results are OK only once the
// bytes are on disk.
func (c *connector) Write(_ context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
	if req.Operation != "" && req.Operation != "upsert" {
		return nil, sdk.Permanent("UNSUPPORTED_OPERATION", fmt.Sprintf("operation %q is not supported: use \"upsert\" (records with op delete remove their key)", req.Operation), "operation")
	}
	t, err := c.table(req.Object)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.load(); err != nil {
		return nil, err
	}

	results := make([]sdk.WriteResult, len(req.Records))
	// staged holds the batch's changes by key (nil removes); order, the
	// staged keys in batch order.
	staged := make(map[string]*row, len(req.Records))
	var order []string
	for i, rec := range req.Records {
		var payload json.RawMessage
		if rec.Key == "" {
			results[i] = sdk.ResultFor("", sdk.Permanent("INVALID_KEY", "the record has no key", "key"))
			continue
		}
		if rec.Op != sdk.OpDelete {
			if payload = compact(rec.Payload); len(payload) == 0 || payload[0] != '{' {
				results[i] = sdk.ResultFor(rec.Key, sdk.Permanent("INVALID_JSON", "the record is not a JSON object", "record"))
				continue
			}
		}
		results[i] = sdk.WriteResult{Key: rec.Key, Status: sdk.StatusOK, ID: rec.Key}
		old, seen := staged[rec.Key]
		if !seen {
			old = t.rows[rec.Key]
		}
		var next *row // nil removes the key
		switch {
		case rec.Op == sdk.OpDelete:
			if old == nil || old.version > rec.Version {
				continue // nothing to remove, or a newer version is stored
			}
		case old != nil && old.version >= rec.Version:
			continue // this version, or a newer one, is stored
		default:
			next = &row{version: rec.Version, record: payload}
			results[i].Created = old == nil
		}
		if !seen {
			order = append(order, rec.Key)
		}
		staged[rec.Key] = next
	}
	if err := t.commit(order, staged); err != nil {
		t.dirty = true
		return nil, err
	}
	return results, nil
}

// table returns the table of an object, not yet loaded.
func (c *connector) table(object string) (*table, error) {
	if object == "" || strings.HasPrefix(object, ".") || strings.ContainsAny(object, "/\\\x00") {
		return nil, sdk.Permanent("INVALID_OBJECT", fmt.Sprintf("object %q is not a plain file name (no path, no leading dot)", object), "object")
	}
	dir, err := c.folder()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tables[object]
	if t == nil {
		t = &table{path: filepath.Join(dir, object+".jsonl")}
		c.tables[object] = t
	}
	return t, nil
}

// load reads the file into the index, once. A last line without "\n" is
// an append cut short by a crash (never acknowledged): it is left out, and
// the next write rewrites the file without it.
func (t *table) load() error {
	if t.loaded {
		return nil
	}
	data, err := os.ReadFile(t.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	t.rows, t.next, t.dirty = map[string]*row{}, 0, false
	for n := 1; len(data) > 0; n++ {
		line, rest, complete := bytes.Cut(data, []byte("\n"))
		data = rest
		if !complete {
			t.dirty = true
			break
		}
		var e envelope
		if err := json.Unmarshal(line, &e); err != nil || e.Key == "" || e.Record == nil {
			return fmt.Errorf("%s line %d is not a {\"key\",\"version\",\"record\"} line: %v", filepath.Base(t.path), n, err)
		}
		if t.rows[e.Key] != nil {
			t.dirty = true // a duplicate: the later line wins, the rewrite drops the other
		}
		t.rows[e.Key] = &row{version: e.Version, record: e.Record, order: t.next}
		t.next++
	}
	t.loaded = true
	return nil
}

// commit writes the staged changes to the file, then to the index.
func (t *table) commit(order []string, staged map[string]*row) error {
	if len(order) == 0 {
		return nil
	}
	rewrite := t.dirty
	for _, k := range order {
		rewrite = rewrite || t.rows[k] != nil
	}
	if !rewrite { // only new keys: append them
		var buf []byte
		for _, k := range order {
			if r := staged[k]; r != nil {
				buf = r.appendLine(buf, k)
			}
		}
		if err := appendSync(t.path, buf); err != nil {
			return err
		}
		for _, k := range order {
			if r := staged[k]; r != nil {
				r.order, t.next = t.next, t.next+1
				t.rows[k] = r
			}
		}
		return nil
	}

	rows, next := maps.Clone(t.rows), t.next
	for _, k := range order {
		switch r, old := staged[k], rows[k]; {
		case r == nil:
			delete(rows, k)
		case old != nil:
			r.order = old.order
			rows[k] = r
		default:
			r.order, next = next, next+1
			rows[k] = r
		}
	}
	keys := slices.SortedFunc(maps.Keys(rows), func(a, b string) int { return cmp.Compare(rows[a].order, rows[b].order) })
	var buf []byte
	for _, k := range keys {
		buf = rows[k].appendLine(buf, k)
	}
	if err := replaceSync(t.path, buf); err != nil {
		return err
	}
	t.rows, t.next, t.dirty = rows, next, false
	return nil
}

// appendLine appends the key's envelope line to buf.
func (r *row) appendLine(buf []byte, key string) []byte {
	buf = append(buf, `{"key":`...)
	buf = appendKey(buf, key)
	buf = append(buf, `,"version":`...)
	buf = strconv.AppendInt(buf, r.version, 10)
	buf = append(buf, `,"record":`...)
	buf = append(buf, r.record...)
	return append(buf, "}\n"...)
}

// appendKey appends key as marshal writes it: as it is between quotes when
// it is printable ASCII without '"' or '\\', else escaped by marshal.
func appendKey(buf []byte, key string) []byte {
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			k, _ := marshal(key)
			return append(buf, k...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, key...)
	return append(buf, '"')
}

// appendSync appends data to the file at path and flushes it to disk.
func appendSync(path string, data []byte) error {
	_, err := os.Stat(path)
	created := errors.Is(err, fs.ErrNotExist)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && created {
		err = syncDir(filepath.Dir(path))
	}
	return err
}

// replaceSync replaces the file at path with data atomically and durably.
func replaceSync(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	return err
}

// syncDir flushes a folder's entries (a new or renamed file) to disk.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Lookup answers {"keys": [...]} with {"records": {key: record or null}}
// from the object's file. Keys are strings or numbers, as in the source.
func (c *connector) Lookup(_ context.Context, req sdk.LookupRequest) (json.RawMessage, error) {
	var q struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := sdk.DecodeStrict(req.Query, &q); err != nil {
		return nil, sdk.Permanent("INVALID_QUERY", `the query must be {"keys": [...]}: `+err.Error(), "")
	}
	t, err := c.table(req.Object)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.load(); err != nil {
		return nil, err
	}
	records := make(map[string]json.RawMessage, len(q.Keys))
	for i, raw := range q.Keys {
		key, msg := keyOf(raw)
		if msg != "" {
			field := fmt.Sprintf("keys[%d]", i)
			return nil, sdk.Permanent("INVALID_QUERY", field+" "+msg, field)
		}
		records[key] = json.RawMessage("null")
		if r := t.rows[key]; r != nil {
			records[key] = r.record
		}
	}
	return marshal(map[string]any{"records": records})
}
