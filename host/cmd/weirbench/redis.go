package main

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// redisEnv is the Redis of the Redis rows, with a plain go-redis client
// for the raw references.
type redisEnv struct {
	url string
	rdb *goredis.Client
}

// openRedis connects to url; the error says why there is no Redis.
func openRedis(url string) (*redisEnv, error) {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("bad Redis URL: %v", err)
	}
	rdb := goredis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("no Redis at %s (set WEIR_BENCH_REDIS_URL): %v", opts.Addr, err)
	}
	r := &redisEnv{url: url, rdb: rdb}
	atExit(func() {
		if n := r.cleanup(); n > 0 {
			progress("deleted %d Redis keys of run %s", n, runID)
		}
	})
	return r, nil
}

// info returns the fields of an INFO section.
func (r *redisEnv) info(ctx context.Context, section string) map[string]string {
	out := map[string]string{}
	s, err := r.rdb.Info(ctx, section).Result()
	if err != nil {
		return out
	}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			out[k] = v
		}
	}
	return out
}

// config returns a CONFIG GET value, or "?" when CONFIG is not allowed.
func (r *redisEnv) config(ctx context.Context, name string) string {
	m, err := r.rdb.ConfigGet(ctx, name).Result()
	if err != nil {
		return "?"
	}
	return m[name]
}

// describe names the Redis version and its persistence settings.
func (r *redisEnv) describe(ctx context.Context) string {
	srv := r.info(ctx, "server")
	pers := r.info(ctx, "persistence")
	aof := "appendonly no"
	if pers["aof_enabled"] == "1" {
		aof = "appendonly yes, appendfsync " + r.config(ctx, "appendfsync")
	}
	save := r.config(ctx, "save")
	if save == "" {
		save = "off"
	}
	mode := "no persistence: a Redis restart loses everything; the §8 peers were measured with AOF everysec"
	if pers["aof_enabled"] == "1" {
		mode = "persistent"
	}
	return fmt.Sprintf("Redis %s at %s: %s, RDB save %q (%s)", srv["redis_version"], r.rdb.Options().Addr, aof, save, mode)
}

// usedMemory returns INFO memory's used_memory.
func (r *redisEnv) usedMemory(ctx context.Context) int64 {
	n, _ := strconv.ParseInt(r.info(ctx, "memory")["used_memory"], 10, 64)
	return n
}

// cpu returns the Redis server's CPU time so far (INFO cpu); 0 for no
// Redis.
func (r *redisEnv) cpu(ctx context.Context) time.Duration {
	if r == nil {
		return 0
	}
	m := r.info(ctx, "cpu")
	sys, _ := strconv.ParseFloat(m["used_cpu_sys"], 64)
	user, _ := strconv.ParseFloat(m["used_cpu_user"], 64)
	return time.Duration((sys + user) * float64(time.Second))
}

// redisLoad is the Redis server's work so far: CPU time and scripts run.
type redisLoad struct {
	cpu          time.Duration
	scripts      int64 // EVAL and EVALSHA calls
	scriptMicros int64 // time spent in them
	commands     int64 // every command, including those scripts call
}

// load returns the Redis server's work so far; zero for no Redis.
func (r *redisEnv) load(ctx context.Context) redisLoad {
	if r == nil {
		return redisLoad{}
	}
	l := redisLoad{cpu: r.cpu(ctx)}
	for name, v := range r.info(ctx, "commandstats") {
		var calls, usec int64
		for _, f := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(f, "=")
			switch k {
			case "calls":
				calls, _ = strconv.ParseInt(val, 10, 64)
			case "usec":
				usec, _ = strconv.ParseInt(val, 10, 64)
			}
		}
		l.commands += calls
		switch name {
		case "cmdstat_eval", "cmdstat_evalsha", "cmdstat_eval_ro", "cmdstat_evalsha_ro":
			l.scripts += calls
			l.scriptMicros += usec
		}
	}
	return l
}

// since describes the Redis work done since before, for records records.
func (l redisLoad) since(before redisLoad, records int) string {
	scripts := l.scripts - before.scripts
	per := 0.0
	if scripts > 0 {
		per = float64(l.scriptMicros-before.scriptMicros) / float64(scripts)
	}
	return fmt.Sprintf("redis-server %v (%d commands, %d scripts averaging %.0f µs; %.1f µs of Redis CPU a record)",
		(l.cpu - before.cpu).Round(10*time.Millisecond), l.commands-before.commands, scripts, per,
		float64((l.cpu-before.cpu).Microseconds())/float64(records))
}

// cleanup deletes every key whose name holds this run's id and returns how
// many it deleted.
func (r *redisEnv) cleanup() int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := 0
	iter := r.rdb.Scan(ctx, 0, "*"+runID+"*", 1000).Iterator()
	var batch []string
	flush := func() {
		if len(batch) > 0 {
			r.rdb.Unlink(ctx, batch...)
			n += len(batch)
			batch = batch[:0]
		}
	}
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 500 {
			flush()
		}
	}
	flush()
	return n
}

// key returns a raw reference key of this run.
func (r *redisEnv) key(name string) string { return "weirbench:" + runID + ":" + name }

// rawXAdd times n XADDs of 1 KB records to a new stream, pipelined 100 at a
// time from one client, and deletes the stream.
func (r *redisEnv) rawXAdd(n int) time.Duration {
	ctx := context.Background()
	key := r.key("xadd")
	defer r.rdb.Del(ctx, key)
	start := time.Now()
	for i := 0; i < n; i += 100 {
		p := r.rdb.Pipeline()
		for j := i; j < min(i+100, n); j++ {
			p.XAdd(ctx, &goredis.XAddArgs{Stream: key, Values: []any{"d", order(j)}})
		}
		if _, err := p.Exec(ctx); err != nil {
			fatal(err)
		}
	}
	return time.Since(start)
}

// rawCycle runs n 1 KB records through a stream with k goroutines, each
// repeating: pipelined XADD ×100, XREADGROUP COUNT 100, one XACK of the
// IDs read. It returns records per second and deletes the stream.
func (r *redisEnv) rawCycle(n, k int) float64 {
	ctx := context.Background()
	key := r.key("cycle")
	defer r.rdb.Del(ctx, key)
	if err := r.rdb.XGroupCreateMkStream(ctx, key, "g", "$").Err(); err != nil {
		fatal(err)
	}
	payload := order(0)
	var added, read atomic.Int64
	start := time.Now()
	err := parallelUntil(k, func(g int) (bool, error) {
		if added.Add(100) > int64(n) {
			return true, nil
		}
		p := r.rdb.Pipeline()
		for range 100 {
			p.XAdd(ctx, &goredis.XAddArgs{Stream: key, Values: []any{"d", payload}})
		}
		if _, err := p.Exec(ctx); err != nil {
			return true, err
		}
		streams, err := r.rdb.XReadGroup(ctx, &goredis.XReadGroupArgs{
			Group: "g", Consumer: fmt.Sprintf("c%d", g), Streams: []string{key, ">"}, Count: 100, Block: -1,
		}).Result()
		if err != nil {
			return true, err
		}
		var ids []string
		for _, s := range streams {
			for _, m := range s.Messages {
				ids = append(ids, m.ID)
			}
		}
		if len(ids) > 0 {
			if err := r.rdb.XAck(ctx, key, "g", ids...).Err(); err != nil {
				return true, err
			}
		}
		read.Add(int64(len(ids)))
		return false, nil
	})
	if err != nil {
		fatal(err)
	}
	elapsed := time.Since(start)
	if got := read.Load(); got != int64(n) {
		fatal(fmt.Errorf("raw stream cycle: read %d of %d", got, n))
	}
	return float64(n) / elapsed.Seconds()
}

// rawXAddMemory adds n 1 KB records to a new stream (pipelined 1,000 at a
// time) and returns the growth of used_memory per record; the stream is
// deleted.
func (r *redisEnv) rawXAddMemory(n int) float64 {
	ctx := context.Background()
	key := r.key("mem")
	defer r.rdb.Del(ctx, key)
	before := r.usedMemory(ctx)
	for i := 0; i < n; i += 1000 {
		p := r.rdb.Pipeline()
		for j := i; j < min(i+1000, n); j++ {
			p.XAdd(ctx, &goredis.XAddArgs{Stream: key, Values: []any{"d", order(j)}})
		}
		if _, err := p.Exec(ctx); err != nil {
			fatal(err)
		}
	}
	return float64(r.usedMemory(ctx)-before) / float64(n)
}

// keyPrefix starts every key the daemons and the in-process stores make,
// so that cleanup finds them all (queues, limiters, and KV entries such as
// the cross-reference table, whose keys name no pipeline or connection).
var keyPrefix = "weirbench-" + runID

// redisStore is the store block of a Redis pipeline.
var redisStore = fmt.Sprintf(`
store {
  redis {
    url    = env("WEIR_REDIS_URL")
    prefix = %q
  }
}
`, keyPrefix)

// burstRedis is burstEmbedded on Redis. Reference: pipelined XADD of the
// same 5,000 records from one client.
func burstRedis(bin string, r *redisEnv) row {
	pipeline := runID + "_burst"
	cfg := redisStore + strings.Replace(burstPipeline, `pipeline "orders"`, fmt.Sprintf("pipeline %q", pipeline), 1)
	w := newWorkspace(bin, cfg, "WEIR_REDIS_URL="+r.url)
	d := w.start("redis-burst")
	elapsed := burst(d, pipeline, burstReps, r)
	d.stop()
	ref := best(burstReps, true, func(int) time.Duration { return r.rawXAdd(5000) })
	note("burst floor: the same 5,000 requests from 16 clients to a Go handler in weirbench that only reads them take %.3f s [best of %d]",
		httpFloor().Seconds(), burstReps)
	return row{
		figure:    fmt.Sprintf("burst: 5,000 × 1 KB webhooks, 16 clients, Redis [best of %d]", burstReps),
		weir:      fmt.Sprintf("%.3f s", elapsed.Seconds()),
		reference: fmt.Sprintf("%.3f s raw XADD ×5,000, pipelined 100", ref.Seconds()),
		ratio:     fmt.Sprintf("%.2f×", elapsed.Seconds()/ref.Seconds()),
		target:    "≤ 0.25 s",
	}
}

// e2ePipeline reads a JSON-lines file into a Redis queue and sends it to an
// HTTP endpoint, 100 records a request.
func e2ePipeline(pipeline, conn, url string) string {
	return redisStore + fmt.Sprintf(`
api {
  token = env("WEIR_API_TOKEN")
}

connection "jsonl" "in" {
  path = "in"
}

connection "http" %q {
  url   = %q
  batch = 100
}

pipeline %q {
  source "in" {
    poll       = "20ms"
    batch_size = 2000
    key_field  = "id"
  }
  key = record.id
  destination %q {
    object = "orders"
  }
  workers = 4
}
`, conn, url, pipeline, conn)
}

// endToEndRedis sends n 1 KB records from a JSON-lines file through Redis
// to the in-process HTTP endpoint and measures records per second from the
// first request's arrival to the last record's delivery. Reference: the
// raw batched stream cycle with one client, the brief's "raw batched Redis
// queue cycle" (its 56–62k/s is the one-client row of
// reference/queue-and-limits.md §7.2); the 4-client cycle is noted too.
func endToEndRedis(bin string, r *redisEnv, n int) row {
	var rate float64
	var bestCPU string
	for rep := range e2eReps {
		// Keys new to each run, so that no run finds the state (such as
		// cross-references) of an earlier one.
		var b strings.Builder
		for i := range n {
			b.Write(doc(fmt.Sprintf("r%d_%07d", rep, i)))
			b.WriteByte('\n')
		}
		v := newVendor(0)
		pipeline, conn := fmt.Sprintf("%s_e2e%d", runID, rep), fmt.Sprintf("%s_sink%d", runID, rep)
		w := newWorkspace(bin, e2ePipeline(pipeline, conn, v.url()), "WEIR_REDIS_URL="+r.url)
		w.write("in/records.jsonl", b.String())
		d := w.start(fmt.Sprintf("redis-e2e%d", rep))
		before, redisBefore := snapshotCPU(d.pid), r.load(context.Background())
		if !v.waitCount(n, 120*time.Second) {
			fatal(fmt.Errorf("end to end, Redis: %d of %d records at the endpoint after 120 s", v.count(), n))
		}
		cpu := snapshotCPU(d.pid).since(before) + ", " + r.load(context.Background()).since(redisBefore, n)
		d.stop()
		v.close()
		first, last := v.span()
		got := float64(n) / last.Sub(first).Seconds()
		progress("redis e2e %d: %.0f rec/s (%v from the first request to the last record); CPU from start-up: %s",
			rep+1, got, last.Sub(first).Round(time.Millisecond), cpu)
		if got > rate {
			rate, bestCPU = got, cpu
		}
	}
	note("redis-e2e: jsonl file source (batch_size 2000) → Redis → 4 workers leasing 100 → http connector, 100 records a request, to a Go handler in weirbench; rate from the first request's arrival to the last record's delivery. CPU of the best run, from start-up: %s", bestCPU)
	rawCPU := math.Inf(1)
	ref := best(e2eReps, false, func(int) float64 {
		before := r.cpu(context.Background())
		got := r.rawCycle(n, 1)
		perRecord := float64((r.cpu(context.Background()) - before).Microseconds()) / float64(n)
		progress("raw stream cycle: %.0f rec/s, %.1f µs of Redis CPU a record", got, perRecord)
		rawCPU = min(rawCPU, perRecord)
		return got
	})
	four := r.rawCycle(n, 4)
	note("%s; the raw stream cycle: %.1f µs a record; with 4 clients it runs %.0f rec/s (Weir %.0f%% of that)",
		storeCycle(r, n), rawCPU, four, 100*rate/four)
	return row{
		figure:    fmt.Sprintf("end to end: %s × 1 KB jsonl → Redis → http, no limit [best of %d]", thousands(n), e2eReps),
		weir:      fmt.Sprintf("%.0f rec/s", rate),
		reference: fmt.Sprintf("%.0f rec/s raw stream cycle ×100, 1 client", ref),
		ratio:     fmt.Sprintf("%.0f%%", 100*rate/ref),
		target:    "≥ 20,000 rec/s and ≥ 25%",
	}
}
