package redis

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/weirhq/weir/host/store"
)

// Batch limits. Concurrent Enqueue calls for one pipeline share a script
// call (group commit) up to these; a single call above them is split.
const (
	maxGroupRecords = 1000
	maxGroupBytes   = 4 << 20
	// maxLease bounds the entries one Lease call takes, so that a script
	// call does bounded work.
	maxLease = 1000
	// maxSettle bounds the outcomes or renewals per script call.
	maxSettle = 500
	// deadChunk bounds the dead letters handled per Replay or Drop script
	// call.
	deadChunk = 256
	// maxOwnerLen bounds a lease owner's length, which entry states hold
	// in 6 digits.
	maxOwnerLen = 999_999
)

// pipeKeys are a pipeline's keys, all with the same hash tag, and its
// enqueue group committer.
type pipeKeys struct {
	name                                    string
	ent, ready, delayed, inflight, dead     string
	cps, leaders                            string
	enqueueKeys, leaseKeys, settleKeys      []string
	replayKeys, dropKeys, renewKeys, dlKeys []string
	batch                                   batcher
}

// pipe returns the keys of a pipeline.
func (s *Store) pipe(name string) *pipeKeys {
	if p, ok := s.pipes.Load(name); ok {
		return p.(*pipeKeys)
	}
	t := "{" + s.prefix + ":" + escapeName(name) + "}:"
	p := &pipeKeys{
		name: name, ent: t + "e", ready: t + "r", delayed: t + "y",
		inflight: t + "i", dead: t + "d", cps: t + "c", leaders: t + "l",
	}
	p.enqueueKeys = []string{p.ent, p.ready, p.delayed, p.cps, p.leaders}
	p.leaseKeys = []string{p.ent, p.ready, p.delayed, p.inflight}
	p.renewKeys = []string{p.ent, p.inflight}
	p.settleKeys = []string{p.ent, p.ready, p.delayed, p.inflight, p.dead}
	p.dlKeys = []string{p.ent, p.dead}
	p.replayKeys = []string{p.ent, p.ready, p.delayed, p.dead}
	p.dropKeys = []string{p.ent, p.dead}
	actual, _ := s.pipes.LoadOrStore(name, p)
	return actual.(*pipeKeys)
}

func checkName(what, name string) error {
	if name == "" {
		return store.Invalid("empty %s", what)
	}
	return nil
}

// enqueueCall is one Enqueue call (or one chunk of a large one) as a group
// of the enqueue script.
type enqueueCall struct {
	args   []any // the group's script arguments
	fields []any // r<handle>, encoded record pairs, written before the script
	bytes  int
	nrec   int
	res    store.EnqueueResult
	err    error
	done   chan struct{}
}

// batcher is a pipeline's group committer: while one script call runs,
// later Enqueue calls queue up and then go together in the next.
type batcher struct {
	mu      sync.Mutex
	queue   []*enqueueCall
	running bool
}

// Enqueue implements store.Queue. Concurrent calls for one pipeline share
// script calls (group commit); once queued, a call is carried out even if
// its context ends, and Enqueue returns its result. A call of more than
// maxGroupRecords records or maxGroupBytes bytes is stored in several
// script calls, the checkpoint with the last; if Redis fails in between,
// or leadership is lost, the records already stored stay and the
// checkpoint has not moved, so the source reads them again.
func (s *Store) Enqueue(ctx context.Context, pipeline string, recs []store.Record, cp *store.Checkpoint) (store.EnqueueResult, error) {
	if err := checkName("pipeline", pipeline); err != nil {
		return store.EnqueueResult{}, err
	}
	for i := range recs {
		if err := recs[i].Validate(); err != nil {
			return store.EnqueueResult{}, err
		}
	}
	if cp != nil {
		if err := checkName("checkpoint source", cp.Source); err != nil {
			return store.EnqueueResult{}, err
		}
	}
	if len(recs) == 0 && cp == nil {
		return store.EnqueueResult{}, ctx.Err()
	}
	leave, err := s.enter(ctx)
	if err != nil {
		return store.EnqueueResult{}, err
	}
	defer leave()
	p := s.pipe(pipeline)
	calls := s.splitEnqueue(recs, cp)
	var res store.EnqueueResult
	for _, c := range calls {
		if len(calls) == 1 {
			s.submit(p, c)
		} else {
			s.runEnqueue(p, []*enqueueCall{c})
		}
		if c.err != nil {
			return store.EnqueueResult{}, c.err
		}
		res.Accepted += c.res.Accepted
		res.Coalesced += c.res.Coalesced
		res.Stale += c.res.Stale
	}
	return res, nil
}

// splitEnqueue encodes records into groups within the batch limits; the
// checkpoint goes with the last, the leadership check with every one.
func (s *Store) splitEnqueue(recs []store.Record, cp *store.Checkpoint) []*enqueueCall {
	var calls []*enqueueCall
	size := 0
	for i := range recs {
		size += recordSize(&recs[i])
	}
	buf := make([]byte, 0, min(size, maxGroupBytes)) // one allocation for most calls
	start := func() *enqueueCall {
		c := &enqueueCall{done: make(chan struct{})}
		src, tok := "", "0"
		if cp != nil {
			src = cp.Source
			if cp.Token != 0 {
				tok = strconv.FormatUint(cp.Token, 10)
			}
		}
		n := min(len(recs), maxGroupRecords)
		c.args = append(make([]any, 0, 5+3*n), 0, "0", src, "", tok)
		c.fields = make([]any, 0, 2*n)
		calls = append(calls, c)
		return c
	}
	c := start()
	for i := range recs {
		r := &recs[i]
		n := recordSize(r)
		if c.nrec > 0 && (c.nrec == maxGroupRecords || c.bytes+n > maxGroupBytes) {
			c = start()
		}
		if cap(buf)-len(buf) < n {
			buf = make([]byte, 0, max(n, min(size, maxGroupBytes)))
		}
		at := len(buf)
		buf = encodeRecord(buf, r) // n is an upper bound: no reallocation
		enc := buf[at:len(buf):len(buf)]
		h := s.handle()
		c.args = append(c.args, r.Key, versionString(r.Version), stateTail(h, r.Key))
		c.fields = append(c.fields, "r"+h, enc)
		c.nrec++
		c.bytes += n
	}
	for _, c := range calls {
		c.args[0] = c.nrec
	}
	if cp != nil {
		last := calls[len(calls)-1]
		last.args[1] = "1"
		last.args[3] = cp.Value
		if cp.Value == nil {
			last.args[3] = ""
		}
	}
	return calls
}

// submit queues a call with the pipeline's batcher and returns when it has
// run. If no script call is running, the caller runs one itself, with
// whatever else is queued by then.
func (s *Store) submit(p *pipeKeys, c *enqueueCall) {
	b := &p.batch
	b.mu.Lock()
	b.queue = append(b.queue, c)
	if b.running {
		b.mu.Unlock()
		<-c.done
		return
	}
	b.running = true
	b.mu.Unlock()
	s.drain(p, c)
	<-c.done
}

// drain runs queued calls in batches until own (if any) is done, then
// hands what is left to a new goroutine so that its caller can return.
func (s *Store) drain(p *pipeKeys, own *enqueueCall) {
	b := &p.batch
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		if own != nil && isDone(own) {
			b.mu.Unlock()
			go s.drain(p, nil)
			return
		}
		n, recs, bytes := 0, 0, 0
		for n < len(b.queue) {
			c := b.queue[n]
			if n > 0 && (recs+c.nrec > maxGroupRecords || bytes+c.bytes > maxGroupBytes) {
				break
			}
			n, recs, bytes = n+1, recs+c.nrec, bytes+c.bytes
		}
		batch := slices.Clone(b.queue[:n])
		b.queue = slices.Delete(b.queue, 0, n)
		b.mu.Unlock()
		s.runEnqueue(p, batch)
	}
}

func isDone(c *enqueueCall) bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// runEnqueue runs one enqueue script call for a batch of groups and
// completes them. It does not use any caller's context: one caller giving
// up must not fail the others; the client's timeouts bound it.
func (s *Store) runEnqueue(p *pipeKeys, batch []*enqueueCall) {
	n, nf := 1, 0
	for _, c := range batch {
		n += len(c.args)
		nf += len(c.fields)
	}
	args := make([]any, 0, n)
	args = append(args, len(batch))
	fields := make([]any, 0, nf)
	for _, c := range batch {
		args = append(args, c.args...)
		fields = append(fields, c.fields...)
	}
	vals, err := s.runEnqueueTx(p, fields, args)
	if err == nil && len(vals) != 4*len(batch) {
		err = fmt.Errorf("enqueue script returned %d values for %d groups", len(vals), len(batch))
	}
	for i, c := range batch {
		switch {
		case err != nil:
			c.err = s.wrap("enqueue", err)
		case vals[4*i] != "0":
			src := c.args[2].(string)
			c.err = fmt.Errorf("%w: checkpoint token %s for source %q of pipeline %q is not the current leadership token", store.ErrNotLeader, c.args[4], src, p.name)
		default:
			c.res = store.EnqueueResult{Accepted: atoi(vals[4*i+1]), Coalesced: atoi(vals[4*i+2]), Stale: atoi(vals[4*i+3])}
		}
		close(c.done)
	}
}

// runEnqueueTx writes the records' fields and runs the enqueue script in
// one MULTI/EXEC, so that the records never pass through Lua. If the
// script is not loaded, it loads it and runs the transaction again: the
// fields are written again with the same values.
func (s *Store) runEnqueueTx(p *pipeKeys, fields, args []any) ([]string, error) {
	ctx := context.Background()
	if len(fields) == 0 {
		return enqueueScript.Run(ctx, s.rdb, p.enqueueKeys, args...).StringSlice()
	}
	for try := 0; ; try++ {
		tx := s.rdb.TxPipeline()
		tx.HSet(ctx, p.ent, fields...)
		res := tx.EvalSha(ctx, enqueueScript.Hash(), p.enqueueKeys, args...)
		_, err := tx.Exec(ctx)
		if err != nil && try == 0 && goredis.HasErrorPrefix(res.Err(), "NOSCRIPT") {
			if err := enqueueScript.Load(ctx, s.rdb).Err(); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		return res.StringSlice()
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func atoi64(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// promoteLimit bounds how many due retries one Lease moves to the ready
// index, so that a burst of due retries is spread over several calls.
func promoteLimit(max int) int { return 4*max + 64 }

// Lease implements store.Queue. One script call leases at most maxLease
// entries.
func (s *Store) Lease(ctx context.Context, pipeline, owner string, max int, ttl time.Duration) ([]store.Lease, error) {
	if err := checkName("pipeline", pipeline); err != nil {
		return nil, err
	}
	if err := checkName("lease owner", owner); err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, store.Invalid("lease ttl %s is not positive", ttl)
	}
	if len(owner) > maxOwnerLen {
		return nil, store.Invalid("lease owner %.40q... is longer than %d bytes", owner, maxOwnerLen)
	}
	if max <= 0 {
		return nil, ctx.Err()
	}
	max = min(max, maxLease)
	leave, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	p := s.pipe(pipeline)
	vals, err := leaseScript.Run(ctx, s.rdb, p.leaseKeys, owner, max, ttlMicros(ttl), promoteLimit(max)).StringSlice()
	if err != nil {
		return nil, s.wrap("lease", err)
	}
	if len(vals)%2 != 1 {
		return nil, s.wrap("lease", errCorrupt)
	}
	expires := time.UnixMicro(atoi64(vals[0]))
	if len(vals) == 1 {
		return []store.Lease{}, nil
	}
	states := make([]leasedState, 0, len(vals)/2)
	fields := make([]string, 0, len(vals)/2)
	for i := 1; i < len(vals); i += 2 {
		st, ok := parseLeased(vals[i+1])
		if !ok {
			return nil, s.wrap("lease", fmt.Errorf("entry %s: %w", vals[i], errCorrupt))
		}
		states = append(states, st)
		fields = append(fields, "r"+st.handle)
	}
	// Records are immutable under their handle, so reading them after the
	// script is safe. One that is gone was settled by another owner after
	// this lease was lost (nothing else deletes a leased entry's record):
	// that lease is lost and left out.
	recs, err := s.rdb.HMGet(ctx, p.ent, fields...).Result()
	if err != nil {
		return nil, s.wrap("lease", err)
	}
	out := make([]store.Lease, 0, len(states))
	for i, st := range states {
		id := vals[1+2*i]
		enc, ok := recs[i].(string)
		if !ok {
			continue
		}
		rec, err := decodeRecord(enc)
		if err != nil {
			return nil, s.wrap("lease", fmt.Errorf("entry %s: %w", id, err))
		}
		out = append(out, store.Lease{
			Pipeline:   pipeline,
			Record:     rec,
			ID:         id,
			Attempt:    st.attempt,
			Owner:      owner,
			Token:      st.token,
			Expires:    expires,
			LastError:  st.lastError,
			EnqueuedAt: time.UnixMicro(st.enqueued),
		})
	}
	return out, nil
}

// group is the positions, in a call's arguments, of the leases of one
// pipeline.
type group struct {
	pipeline string
	idx      []int
}

// byPipeline groups positions by pipeline, in order of first appearance.
func byPipeline(n int, pipeline func(int) string) []group {
	var groups []group
	at := map[string]int{}
	for i := range n {
		name := pipeline(i)
		g, ok := at[name]
		if !ok {
			g = len(groups)
			at[name] = g
			groups = append(groups, group{pipeline: name})
		}
		groups[g].idx = append(groups[g].idx, i)
	}
	return groups
}

// lostError builds the error for lost leases, in argument order.
func lostError(lost []int, id func(int) string) error {
	if len(lost) == 0 {
		return nil
	}
	slices.Sort(lost)
	ids := make([]string, len(lost))
	for i, x := range lost {
		ids[i] = id(x)
	}
	return &store.LeaseLostError{IDs: ids}
}

// Renew implements store.Queue.
func (s *Store) Renew(ctx context.Context, leases []store.Lease, ttl time.Duration) error {
	if ttl <= 0 {
		return store.Invalid("lease ttl %s is not positive", ttl)
	}
	if len(leases) == 0 {
		return ctx.Err()
	}
	leave, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	var lost []int
	for _, g := range byPipeline(len(leases), func(i int) string { return leases[i].Pipeline }) {
		if g.pipeline == "" {
			lost = append(lost, g.idx...)
			continue
		}
		p := s.pipe(g.pipeline)
		for chunk := range slices.Chunk(g.idx, maxSettle) {
			args := make([]any, 0, 1+3*len(chunk))
			args = append(args, ttlMicros(ttl))
			var sent []int
			for _, i := range chunk {
				l := &leases[i]
				if !canonicalID(l.ID) {
					lost = append(lost, i)
					continue
				}
				sent = append(sent, i)
				args = append(args, l.ID, l.Owner, fenceString(l.Token, l.Owner))
			}
			if len(sent) == 0 {
				continue
			}
			vals, err := renewScript.Run(ctx, s.rdb, p.renewKeys, args...).StringSlice()
			if err != nil {
				return s.wrap("renew", err)
			}
			expires := time.UnixMicro(atoi64(vals[0]))
			gone := map[int]bool{}
			for _, v := range vals[1:] {
				i := sent[atoi(v)-1]
				gone[i] = true
				lost = append(lost, i)
			}
			for _, i := range sent {
				if !gone[i] {
					leases[i].Expires = expires
				}
			}
		}
	}
	return lostError(lost, func(i int) string { return leases[i].ID })
}

// Settle implements store.Queue: one script call per pipeline (and per
// maxSettle outcomes).
func (s *Store) Settle(ctx context.Context, outcomes []store.Outcome) error {
	if err := store.CheckOutcomes(outcomes); err != nil {
		return err
	}
	if len(outcomes) == 0 {
		return ctx.Err()
	}
	leave, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	var lost []int
	for _, g := range byPipeline(len(outcomes), func(i int) string { return outcomes[i].Lease.Pipeline }) {
		if g.pipeline == "" {
			lost = append(lost, g.idx...)
			continue
		}
		p := s.pipe(g.pipeline)
		for chunk := range slices.Chunk(g.idx, maxSettle) {
			args := make([]any, 0, 4*len(chunk))
			var sent []int
			for _, i := range chunk {
				o := &outcomes[i]
				if !canonicalID(o.Lease.ID) {
					lost = append(lost, i)
					continue
				}
				sent = append(sent, i)
				kind := "A"
				switch o.Kind {
				case store.Retried:
					kind = "R"
				case store.DeadLettered:
					kind = "D"
				}
				args = append(args, kind, o.Lease.ID, o.Lease.Owner, fenceString(o.Lease.Token, o.Lease.Owner))
				if kind != "A" {
					args = append(args, timeString(o.At), o.Reason, o.Field)
				}
			}
			if len(sent) == 0 {
				continue
			}
			vals, err := settleScript.Run(ctx, s.rdb, p.settleKeys, args...).StringSlice()
			if err != nil {
				return s.wrap("settle", err)
			}
			for _, v := range vals {
				lost = append(lost, sent[atoi(v)-1])
			}
		}
	}
	return lostError(lost, func(i int) string { return outcomes[i].Lease.ID })
}

// Checkpoint implements store.Queue.
func (s *Store) Checkpoint(ctx context.Context, pipeline, source string) ([]byte, error) {
	if pipeline == "" || source == "" {
		return nil, store.ErrNotFound
	}
	leave, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	v, err := s.rdb.HGet(ctx, s.pipe(pipeline).cps, source).Bytes()
	if err == goredis.Nil {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, s.wrap("checkpoint", err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// statFields are the counters of Stats, in order.
var statFields = []string{"#ready", "#pending", "#delayed", "#inflight", "#dead", "#accepted", "#delivered", "#coalesced", "#stale"}

// Stats implements store.Queue with one HMGET of the counters.
func (s *Store) Stats(ctx context.Context, pipeline string) (store.Stats, error) {
	leave, err := s.enter(ctx)
	if err != nil {
		return store.Stats{}, err
	}
	defer leave()
	vals, err := s.rdb.HMGet(ctx, s.pipe(pipeline).ent, statFields...).Result()
	if err != nil {
		return store.Stats{}, s.wrap("stats", err)
	}
	n := make([]int64, len(statFields))
	for i, v := range vals {
		if str, ok := v.(string); ok {
			n[i] = atoi64(str)
		}
	}
	return store.Stats{
		Ready: n[0], Pending: n[1], Delayed: n[2], InFlight: n[3], DeadLetters: n[4],
		Accepted: n[5], Delivered: n[6], Coalesced: n[7], Stale: n[8],
	}, nil
}

// Lead implements store.Leadership, with expiry on the Redis server's
// clock.
func (s *Store) Lead(ctx context.Context, pipeline, source, owner string, ttl time.Duration) (uint64, error) {
	if err := checkName("pipeline", pipeline); err != nil {
		return 0, err
	}
	if err := checkName("source", source); err != nil {
		return 0, err
	}
	if err := checkName("leader owner", owner); err != nil {
		return 0, err
	}
	if ttl <= 0 {
		return 0, store.Invalid("leadership ttl %s is not positive", ttl)
	}
	leave, err := s.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer leave()
	vals, err := leadScript.Run(ctx, s.rdb, []string{s.pipe(pipeline).leaders}, source, owner, ttlMicros(ttl)).StringSlice()
	if err != nil {
		return 0, s.wrap("lead", err)
	}
	if len(vals) == 3 && vals[0] == "0" {
		until := time.UnixMicro(atoi64(vals[2])).UTC().Format(time.RFC3339Nano)
		return 0, fmt.Errorf("%w: source %q of pipeline %q is led by %q until %s", store.ErrNotLeader, source, pipeline, vals[1], until)
	}
	tok, err := strconv.ParseUint(vals[0], 10, 64)
	if len(vals) != 1 || err != nil || tok == 0 {
		return 0, s.wrap("lead", errCorrupt)
	}
	return tok, nil
}

// ForgetDelivered implements store.Queue, with ages on the Redis server's
// clock. The cursor is an HSCAN cursor over the entries hash, whose key
// states it examines: a scan step may return somewhat more or fewer than
// limit, and a key state may be examined twice.
func (s *Store) ForgetDelivered(ctx context.Context, pipeline string, olderThan time.Duration, cursor string, limit int) (int, string, error) {
	if err := checkName("pipeline", pipeline); err != nil {
		return 0, "", err
	}
	leave, err := s.enter(ctx)
	if err != nil {
		return 0, "", err
	}
	defer leave()
	if cursor == "" {
		cursor = "0"
	}
	if limit <= 0 {
		limit = 1000
	}
	res, err := forgetScript.Run(ctx, s.rdb, []string{s.pipe(pipeline).ent}, cursor, limit, max(olderThan, 0).Microseconds()).Slice()
	if err != nil {
		return 0, "", s.wrap("forget delivered", err)
	}
	if len(res) != 2 {
		return 0, "", errCorrupt
	}
	next, _ := res[0].(string)
	n, _ := res[1].(int64)
	if next == "0" {
		next = ""
	}
	return int(n), next, nil
}
