package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/weirhq/weir/host/store"
)

// defaultPage is the page size of DeadLetters when none is given.
const defaultPage = 100

// deadLetterHandle returns the record handle in a dead letter's details.
func deadLetterHandle(details string) (string, bool) {
	f := strings.SplitN(details, "|", 6)
	if len(f) != 6 || f[4] == "" {
		return "", false
	}
	return f[4], true
}

// decodeDeadLetter builds a dead letter from its stored details
// ("attempts|at|version|enqueued|handle|len|" + key + "len|" + reason +
// field, see settleScript) and encoded record. The record carries the key
// and version too; the details' copies serve the replay script.
func decodeDeadLetter(pipeline, id, details, rec string) (store.DeadLetter, error) {
	d := store.DeadLetter{ID: id, Pipeline: pipeline}
	f := strings.SplitN(details, "|", 7)
	if len(f) != 7 {
		return d, errCorrupt
	}
	d.Attempts = atoi(f[0])
	d.At = time.UnixMicro(atoi64(f[1]))
	d.EnqueuedAt = time.UnixMicro(atoi64(f[3]))
	klen, err := strconv.Atoi(f[5])
	if err != nil || klen < 0 || klen > len(f[6]) {
		return d, errCorrupt
	}
	n, rest, ok := strings.Cut(f[6][klen:], "|")
	rlen, err := strconv.Atoi(n)
	if !ok || err != nil || rlen < 0 || rlen > len(rest) {
		return d, errCorrupt
	}
	d.Reason, d.Field = rest[:rlen], rest[rlen:]
	if d.Record, err = decodeRecord(rec); err != nil {
		return d, err
	}
	return d, nil
}

// DeadLetters implements store.DeadLetterQueue.
func (s *Store) DeadLetters(ctx context.Context, pipeline, after string, limit int) ([]store.DeadLetter, error) {
	if limit <= 0 {
		limit = defaultPage
	}
	from := "0"
	if after != "" {
		if _, err := strconv.ParseUint(after, 10, 64); err != nil {
			return nil, store.Invalid("dead letter cursor %q is not an ID", after)
		}
		from = after
	}
	leave, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	vals, err := deadLettersScript.Run(ctx, s.rdb, s.pipe(pipeline).dlKeys, from, limit).StringSlice()
	if err != nil {
		return nil, s.wrap("dead letters", err)
	}
	var out []store.DeadLetter
	for i := 0; i+2 < len(vals); i += 3 {
		d, err := decodeDeadLetter(pipeline, vals[i], vals[i+1], vals[i+2])
		if err != nil {
			return nil, s.wrap("dead letters", fmt.Errorf("dead letter %s: %w", vals[i], err))
		}
		out = append(out, d)
	}
	return out, nil
}

// DeadLetterByID implements store.DeadLetterQueue.
func (s *Store) DeadLetterByID(ctx context.Context, pipeline, id string) (store.DeadLetter, error) {
	if pipeline == "" || !canonicalID(id) {
		return store.DeadLetter{}, store.ErrNotFound
	}
	leave, err := s.enter(ctx)
	if err != nil {
		return store.DeadLetter{}, err
	}
	defer leave()
	ent := s.pipe(pipeline).ent
	details, err := s.rdb.HGet(ctx, ent, "d"+id).Result()
	if err == goredis.Nil {
		return store.DeadLetter{}, store.ErrNotFound
	}
	if err != nil {
		return store.DeadLetter{}, s.wrap("dead letter", err)
	}
	h, ok := deadLetterHandle(details)
	if !ok {
		return store.DeadLetter{}, s.wrap("dead letter", fmt.Errorf("dead letter %s: %w", id, errCorrupt))
	}
	// A handle is never reused for another record, so this is the dead
	// letter's record unless it was dropped or replayed and settled
	// meanwhile.
	rec, err := s.rdb.HGet(ctx, ent, "r"+h).Result()
	if err == goredis.Nil {
		return store.DeadLetter{}, store.ErrNotFound
	}
	if err != nil {
		return store.DeadLetter{}, s.wrap("dead letter", err)
	}
	d, err := decodeDeadLetter(pipeline, id, details, rec)
	if err != nil {
		return store.DeadLetter{}, s.wrap("dead letter", fmt.Errorf("dead letter %s: %w", id, err))
	}
	return d, nil
}

// Replay implements store.DeadLetterQueue, in script calls of at most
// deadChunk dead letters.
func (s *Store) Replay(ctx context.Context, pipeline string, ids []string) (store.ReplayResult, error) {
	var res store.ReplayResult
	err := s.eachDead(ctx, "replay", pipeline, ids, func(p *pipeKeys, args []any) (bool, string, error) {
		vals, err := replayScript.Run(ctx, s.rdb, p.replayKeys, args...).StringSlice()
		if err != nil {
			return false, "", err
		}
		if len(vals) < 4 {
			return false, "", errCorrupt
		}
		res.Replayed += atoi(vals[2])
		stale := atoi(vals[3])
		if 4+stale > len(vals) {
			return false, "", errCorrupt
		}
		res.Stale = append(res.Stale, vals[4:4+stale]...)
		res.Missing = append(res.Missing, vals[4+stale:]...)
		return vals[0] == "1", vals[1], nil
	})
	return res, err
}

// Drop implements store.DeadLetterQueue, in script calls of at most
// deadChunk dead letters.
func (s *Store) Drop(ctx context.Context, pipeline string, ids []string) (int, error) {
	n := 0
	err := s.eachDead(ctx, "drop", pipeline, ids, func(p *pipeKeys, args []any) (bool, string, error) {
		vals, err := dropScript.Run(ctx, s.rdb, p.dropKeys, args...).StringSlice()
		if err != nil {
			return false, "", err
		}
		if len(vals) != 3 {
			return false, "", errCorrupt
		}
		n += atoi(vals[2])
		return vals[0] == "1", vals[1], nil
	})
	return n, err
}

// eachDead calls run with script arguments for the given dead letters (all
// if ids is nil) in chunks; run reports whether "all" has more after the
// returned ID.
func (s *Store) eachDead(ctx context.Context, op, pipeline string, ids []string,
	run func(p *pipeKeys, args []any) (more bool, last string, err error)) error {
	if err := checkName("pipeline", pipeline); err != nil {
		return err
	}
	leave, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	p := s.pipe(pipeline)
	if ids == nil {
		after := "0"
		for {
			more, last, err := run(p, []any{"all", after, deadChunk})
			if err != nil {
				return s.wrap(op, err)
			}
			if !more {
				return nil
			}
			after = last
		}
	}
	for start := 0; start < len(ids); start += deadChunk {
		// Any string is safe as an ID here: it only names hash fields and
		// sorted set members, and IDs this store never issued are missing.
		args := []any{"ids", "0", "0"}
		for _, id := range ids[start:min(start+deadChunk, len(ids))] {
			args = append(args, id)
		}
		if _, _, err := run(p, args); err != nil {
			return s.wrap(op, err)
		}
	}
	return nil
}
