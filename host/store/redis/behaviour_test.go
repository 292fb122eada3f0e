package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/weirhq/weir/host/store"
	"github.com/weirhq/weir/host/store/storetest"
)

func rec(key string, version int64) store.Record {
	return store.Record{Key: key, Version: version, Object: "Order", Payload: fmt.Appendf(nil, `{"key":%q}`, key)}
}

// pollLease leases until it gets one entry or 5 s pass.
func pollLease(t *testing.T, s store.Store, pipeline, owner string) store.Lease {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ls, err := s.Lease(context.Background(), pipeline, owner, 1, time.Minute)
		if err != nil {
			t.Fatalf("Lease: %v", err)
		}
		if len(ls) == 1 {
			return ls[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s leased nothing within 5s", owner)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStalledOwnerFenced: a host whose lease expired while it stalled, and
// whose entry another host took over, can neither ack, renew, retry,
// dead-letter nor settle it, before or after the new owner finishes. The
// two hosts are two stores (two connection pools) on the same keys.
func TestStalledOwnerFenced(t *testing.T) {
	ctx := context.Background()
	url := testURL(t)
	a := openTest(t, url)
	defer a.Close()
	b, err := Open(ctx, url, Options{Prefix: a.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	if _, err := a.Enqueue(ctx, "orders", []store.Record{rec("SO-1", 1)}, nil); err != nil {
		t.Fatal(err)
	}
	stalled, err := a.Lease(ctx, "orders", "host-a", 1, 50*time.Millisecond)
	if err != nil || len(stalled) != 1 {
		t.Fatalf("Lease = %v, %v", stalled, err)
	}
	old := stalled[0]
	took := pollLease(t, b, "orders", "host-b")
	if _, err := a.Enqueue(ctx, "orders", []store.Record{rec("SO-2", 1)}, nil); err != nil {
		t.Fatal(err)
	}
	if took.ID != old.ID || took.Attempt != 2 || took.Token == old.Token {
		t.Fatalf("host-b leased %s attempt %d token %d; want %s attempt 2 with a new token", took.ID, took.Attempt, took.Token, old.ID)
	}
	want, _ := a.Stats(ctx, "orders")

	attempts := []struct {
		name string
		do   func() error
	}{
		{"Ack", func() error { return storetest.Ack(ctx, a, old) }},
		{"Renew", func() error { return a.Renew(ctx, []store.Lease{old}, time.Minute) }},
		{"Retry", func() error { return storetest.Retry(ctx, a, old, time.Now(), "timeout") }},
		{"DeadLetter", func() error { return storetest.DeadLetter(ctx, a, old, "bad", "") }},
		{"Settle", func() error {
			return a.Settle(ctx, []store.Outcome{{Lease: old, Kind: store.Acked}, {Lease: old, Kind: store.Retried}})
		}},
	}
	check := func(when string) {
		t.Helper()
		for _, at := range attempts {
			err := at.do()
			var lle *store.LeaseLostError
			if !errors.Is(err, store.ErrLeaseLost) || !errors.As(err, &lle) || lle.IDs[0] != old.ID {
				t.Errorf("%s by the stalled owner %s: err = %v, want ErrLeaseLost for %s", at.name, when, err, old.ID)
			}
		}
		if got, _ := a.Stats(ctx, "orders"); got != want {
			t.Errorf("Stats changed by the stalled owner %s: %+v, want %+v", when, got, want)
		}
	}
	check("while the entry is leased again")
	if err := b.Renew(ctx, []store.Lease{took}, time.Minute); err != nil {
		t.Fatalf("Renew by the new owner: %v", err)
	}
	if err := storetest.Ack(ctx, b, took); err != nil {
		t.Fatalf("Ack by the new owner: %v", err)
	}
	want, _ = a.Stats(ctx, "orders")
	check("after the new owner acknowledged it")
	if want.Delivered != 1 || want.Ready != 1 {
		t.Fatalf("Stats = %+v, want one delivered, one ready", want)
	}
}

// TestLeaderTakeover: host A leads a source and dies (its store is closed,
// so it stops renewing); host B takes over within the lease time, and A's
// checkpoint token no longer saves anything.
func TestLeaderTakeover(t *testing.T) {
	ctx := context.Background()
	url := testURL(t)
	a := openTest(t, url)
	b, err := Open(ctx, url, Options{Prefix: a.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const ttl = 300 * time.Millisecond
	ledAt := time.Now() // before the call: A's lease runs at least until ledAt + ttl
	tokA, err := a.Lead(ctx, "orders", "crm", "host-a", ttl)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lead(ctx, "orders", "crm", "host-b", ttl); !errors.Is(err, store.ErrNotLeader) || !strings.Contains(err.Error(), `"host-a"`) {
		t.Fatalf("Lead by host-b while host-a leads: err = %v, want ErrNotLeader naming host-a", err)
	}
	a.Close() // host A dies

	var tokB uint64
	for {
		tokB, err = b.Lead(ctx, "orders", "crm", "host-b", ttl)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrNotLeader) {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	took := time.Since(ledAt)
	if took < ttl-2*time.Millisecond || took > ttl+time.Second {
		t.Errorf("host-b took over %s after host-a's last renewal, want just after the %s lease", took, ttl)
	}
	if tokB <= tokA {
		t.Fatalf("token %d after takeover, want more than %d", tokB, tokA)
	}
	_, err = b.Enqueue(ctx, "orders", []store.Record{rec("SO-1", 1)}, &store.Checkpoint{Source: "crm", Value: []byte("c-a"), Token: tokA})
	if !errors.Is(err, store.ErrNotLeader) {
		t.Fatalf("Enqueue with the dead leader's token: err = %v, want ErrNotLeader", err)
	}
	if st, _ := b.Stats(ctx, "orders"); st != (store.Stats{}) {
		t.Fatalf("a refused enqueue stored something: %+v", st)
	}
	if _, err := b.Enqueue(ctx, "orders", []store.Record{rec("SO-1", 1)}, &store.Checkpoint{Source: "crm", Value: []byte("c-b"), Token: tokB}); err != nil {
		t.Fatal(err)
	}
	t.Logf("takeover %s after the last renewal (lease %s)", took.Round(time.Millisecond), ttl)
}

// TestGroupCommit checks that concurrent single-record enqueues, which share
// script calls, each get their own result, and that one caller's stale
// leadership token fails only that caller.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, testURL(t))
	defer s.Close()
	tok, err := s.Lead(ctx, "orders", "crm", "me", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	const callers, each = 16, 50
	var wg sync.WaitGroup
	errs := make(chan error, callers*each)
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				var cp *store.Checkpoint
				wantErr := error(nil)
				switch {
				case c == 0 && i%5 == 0:
					cp, wantErr = &store.Checkpoint{Source: "crm", Value: []byte("stale"), Token: tok + 1}, store.ErrNotLeader
				case c == 1:
					cp = &store.Checkpoint{Source: "crm", Value: []byte("ok"), Token: tok}
				}
				// Every record twice: once accepted, once stale.
				r := rec(fmt.Sprintf("k-%d-%d", c, i), 1)
				res, err := s.Enqueue(ctx, "orders", []store.Record{r, r}, cp)
				switch {
				case wantErr != nil && !errors.Is(err, wantErr):
					errs <- fmt.Errorf("caller %d call %d: err = %v, want %v", c, i, err, wantErr)
				case wantErr == nil && err != nil:
					errs <- err
				case wantErr == nil && res != (store.EnqueueResult{Accepted: 1, Stale: 1}):
					errs <- fmt.Errorf("caller %d call %d: %+v, want one accepted, one stale", c, i, res)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	refused := each / 5
	st, _ := s.Stats(ctx, "orders")
	if want := int64(callers*each - refused); st.Accepted != want || st.Stale != want || st.Ready != want {
		t.Fatalf("Stats = %+v, want %d accepted, stale and ready", st, want)
	}
	if cp, err := s.Checkpoint(ctx, "orders", "crm"); err != nil || string(cp) != "ok" {
		t.Fatalf("Checkpoint = %q, %v; want ok", cp, err)
	}
}

// TestOneSlotPerPipeline checks the key layout: every key of a pipeline
// hashes to one Cluster slot, whatever the pipeline's name, and names that
// differ give different tags.
func TestOneSlotPerPipeline(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, testURL(t))
	defer s.Close()
	names := []string{"orders", "{orders}", "a:b}{c", "naïve pipe/1", "kv:x", strings.Repeat("long-", 100), strings.Repeat("long-", 100) + "x"}
	tags := map[string]string{}
	for _, name := range names {
		if _, err := s.Enqueue(ctx, name, []store.Record{rec("k", 1)}, &store.Checkpoint{Source: "crm", Value: []byte("c")}); err != nil {
			t.Fatal(err)
		}
		ls, err := s.Lease(ctx, name, "w", 1, time.Minute)
		if err != nil || len(ls) != 1 {
			t.Fatalf("Lease(%q) = %v, %v", name, ls, err)
		}
		if err := storetest.DeadLetter(ctx, s, ls[0], "bad", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Lead(ctx, name, "crm", "w", time.Minute); err != nil {
			t.Fatal(err)
		}
		p := s.pipe(name)
		tag := p.ent[:strings.IndexByte(p.ent, '}')+1]
		if other, dup := tags[tag]; dup {
			t.Fatalf("pipelines %q and %q share the tag %s", other, name, tag)
		}
		tags[tag] = name
		if len(tag) > 2*maxTagName {
			t.Errorf("tag of %q is %d bytes long", name, len(tag))
		}
		for _, k := range []string{p.ent, p.ready, p.delayed, p.inflight, p.dead, p.cps, p.leaders} {
			if !strings.HasPrefix(k, tag) || strings.Count(k, "{") != 1 || strings.Count(k, "}") != 1 {
				t.Errorf("key %q of pipeline %q does not carry exactly the tag %s", k, name, tag)
			}
		}
	}
	for _, k := range keysOf(t, s) {
		tag := k[:strings.IndexByte(k, '}')+1]
		if _, ok := tags[tag]; !ok {
			t.Errorf("key %q is outside every pipeline's tag", k)
		}
	}
	if k := s.kvKey("kv:x", "e"); strings.HasPrefix(k, s.pipe("kv:x").ent[:strings.IndexByte(s.pipe("kv:x").ent, '}')]) {
		t.Errorf("KV key %q shares a tag with pipeline kv:x", k)
	}
}

// TestRestart kills Redis (SIGKILL) under a running host, checks that calls
// fail fast with ErrUnavailable while it is down, restarts it on the same
// port and directory, and checks that every acknowledged enqueue and
// checkpoint survived and that the same store works again by itself.
func TestRestart(t *testing.T) {
	srv := startServer(t, "--appendonly", "yes", "--appendfsync", "always")
	ctx := context.Background()
	s := openTest(t, srv.url())
	defer s.Close()
	if w := s.Warnings(ctx); len(w) != 0 {
		t.Errorf("Warnings on appendonly yes, appendfsync always, noeviction = %q, want none", w)
	}

	const writers = 4
	var mu sync.Mutex
	acked := map[int]int{} // writer → last acknowledged record
	var failures []time.Duration
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			for i := 1; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := rec(fmt.Sprintf("%d-%d", w, i), 1)
				cp := &store.Checkpoint{Source: fmt.Sprint(w), Value: []byte(fmt.Sprint(i))}
				start := time.Now()
				_, err := s.Enqueue(ctx, "orders", []store.Record{r}, cp)
				mu.Lock()
				if err == nil {
					acked[w] = i
				} else {
					if !errors.Is(err, store.ErrUnavailable) {
						t.Errorf("Enqueue while Redis is down: err = %v, want ErrUnavailable", err)
					}
					failures = append(failures, time.Since(start))
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(50 * time.Millisecond)
					i-- // the same record again
				}
			}
		})
	}
	total := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, i := range acked {
			n += i
		}
		return n
	}
	for total() < 300 {
		time.Sleep(5 * time.Millisecond)
	}
	srv.kill()
	killedAt := time.Now()
	time.Sleep(300 * time.Millisecond)

	start := time.Now()
	err := s.Ping(ctx)
	if !errors.Is(err, store.ErrUnavailable) || time.Since(start) > 3*time.Second {
		t.Errorf("Ping while Redis is down = %v after %s; want ErrUnavailable fast", err, time.Since(start))
	}
	start = time.Now()
	_, err = s.Lease(ctx, "orders", "w", 10, time.Minute)
	if !errors.Is(err, store.ErrUnavailable) || time.Since(start) > 3*time.Second {
		t.Errorf("Lease while Redis is down = %v after %s; want ErrUnavailable fast", err, time.Since(start))
	}
	t.Logf("error while down: %v", err)

	srv.restart(t)
	for {
		if err := s.Ping(ctx); err == nil {
			break
		}
		if time.Since(killedAt) > 15*time.Second {
			t.Fatalf("the store did not reconnect within 15 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Let the writers succeed again, then stop them.
	before := total()
	for total() < before+40 {
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	mu.Lock()
	slowest := time.Duration(0)
	for _, d := range failures {
		slowest = max(slowest, d)
	}
	if len(failures) == 0 || slowest > 3*time.Second {
		t.Errorf("%d failed enqueues while down, slowest %s; want failures within 3 s", len(failures), slowest)
	}
	for w := range writers {
		cp, err := s.Checkpoint(ctx, "orders", fmt.Sprint(w))
		if err != nil {
			t.Fatalf("checkpoint %d: %v", w, err)
		}
		var last int
		fmt.Sscan(string(cp), &last)
		if last < acked[w] {
			t.Errorf("writer %d: checkpoint %d, but %d was acknowledged", w, last, acked[w])
		}
		for i := 1; i <= acked[w]; i++ {
			res, err := s.Enqueue(ctx, "orders", []store.Record{rec(fmt.Sprintf("%d-%d", w, i), 1)}, nil)
			if err != nil || res.Stale != 1 {
				t.Fatalf("record %d-%d acknowledged before the restart is missing: %+v, %v", w, i, res, err)
			}
		}
	}
	mu.Unlock()
	ls, err := s.Lease(ctx, "orders", "w", 100, time.Minute)
	if err != nil || len(ls) == 0 {
		t.Fatalf("Lease after the restart = %d, %v", len(ls), err)
	}
	if err := storetest.Ack(ctx, s, ls[0]); err != nil {
		t.Fatalf("Ack after the restart: %v", err)
	}
	t.Logf("%d enqueues acknowledged, all present after SIGKILL and restart; %d failed while down (slowest %s)",
		total(), len(failures), slowest.Round(time.Millisecond))
}

// TestOpenUnreachable checks that Open fails fast and clearly.
func TestOpenUnreachable(t *testing.T) {
	port := freePort(t)
	start := time.Now()
	_, err := Open(context.Background(), fmt.Sprintf("redis://:hunter2@127.0.0.1:%d", port), Options{})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open of a closed port: err = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Open took %s to fail", d)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the password: %v", err)
	}
	t.Log(err)
}

// TestWarnings checks the start-up warnings for each persistence setting.
func TestWarnings(t *testing.T) {
	srv := startServer(t, "--appendonly", "no", "--maxmemory-policy", "allkeys-lru")
	ctx := context.Background()
	s := openTest(t, srv.url())
	defer s.Close()
	admin := goredis.NewClient(&goredis.Options{Addr: srv.addr()})
	defer admin.Close()
	cases := []struct {
		name   string
		config []string
		want   []string // one substring per warning
	}{
		{"no AOF, evicting", nil, []string{"appendonly is off", "set maxmemory-policy noeviction"}},
		{"no AOF", []string{"maxmemory-policy", "noeviction"}, []string{"set appendonly yes and appendfsync everysec"}},
		{"AOF without fsync", []string{"appendonly", "yes", "appendfsync", "no"}, []string{"set appendfsync everysec (or always)"}},
		{"AOF everysec", []string{"appendfsync", "everysec"}, nil},
		{"AOF always, volatile eviction", []string{"appendfsync", "always", "maxmemory-policy", "volatile-lru"}, []string{"maxmemory-policy is volatile-lru"}},
	}
	for _, tc := range cases {
		if len(tc.config) > 0 {
			if err := admin.ConfigSet(ctx, tc.config[0], tc.config[1]).Err(); err != nil {
				t.Fatal(err)
			}
			if len(tc.config) > 2 {
				if err := admin.ConfigSet(ctx, tc.config[2], tc.config[3]).Err(); err != nil {
					t.Fatal(err)
				}
			}
		}
		got := s.Warnings(ctx)
		if len(got) != len(tc.want) {
			t.Errorf("%s: Warnings = %q, want %d", tc.name, got, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s: warning %q does not say %q", tc.name, got[i], w)
			}
		}
	}
	t.Logf("example: %s", strings.Join(cases[0].want, "; "))

	// A server without CONFIG: say so, and what to check.
	locked := startServer(t, "--rename-command", "CONFIG", "")
	s2 := openTest(t, locked.url())
	defer s2.Close()
	if w := s2.Warnings(ctx); len(w) != 1 || !strings.Contains(w[0], "cannot read its configuration") || !strings.Contains(w[0], "noeviction") {
		t.Errorf("Warnings without CONFIG = %q", w)
	}
}

// TestLeaseWithoutRecordIsLost checks the read of records after the lease
// script: an entry whose record is gone by then (settled by another owner
// after this lease was lost) is left out as a lost lease, and the others
// are leased as usual.
func TestLeaseWithoutRecordIsLost(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, testURL(t))
	defer s.Close()
	if _, err := s.Enqueue(ctx, "orders", []store.Record{rec("SO-1", 1), rec("SO-2", 1)}, nil); err != nil {
		t.Fatal(err)
	}
	p := s.pipe("orders")
	fields, err := s.rdb.HKeys(ctx, p.ent).Result()
	if err != nil {
		t.Fatal(err)
	}
	var records []string
	for _, f := range fields {
		if strings.HasPrefix(f, "r") {
			records = append(records, f)
		}
	}
	if len(records) != 2 {
		t.Fatalf("record fields %v; want 2", records)
	}
	gone, err := s.rdb.HGet(ctx, p.ent, records[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	s.rdb.HDel(ctx, p.ent, records[0])
	leases, err := s.Lease(ctx, "orders", "host-a", 10, time.Minute)
	if err != nil || len(leases) != 1 {
		t.Fatalf("Lease = %+v, %v; want the one entry whose record is there", leases, err)
	}
	if r, _ := decodeRecord(gone); leases[0].Record.Key == r.Key {
		t.Fatalf("leased %s, whose record was gone", r.Key)
	}
}

// TestKeyStateWithoutDeliveryTime checks that key states written before the
// time of the last delivery was kept are still read: their delivered
// version still refuses older ones, a delivery rewrites them in the new
// form, and ForgetDelivered counts them as delivered long ago.
func TestKeyStateWithoutDeliveryTime(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, testURL(t))
	defer s.Close()
	p := s.pipe("orders")
	ver := func(v int64) string { return fmt.Sprintf("%019d", v) }
	zero := ver(0)
	// Idle keys delivered at version 5, in the old form: cv pv del cur|pend.
	for _, key := range []string{"SO-1", "SO-2"} {
		if err := s.rdb.HSet(ctx, p.ent, "k"+key, zero+zero+ver(5)+"0|0").Err(); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.Enqueue(ctx, "orders", []store.Record{rec("SO-1", 4), rec("SO-2", 6)}, nil)
	if err != nil || res.Stale != 1 || res.Accepted != 1 {
		t.Fatalf("Enqueue(SO-1@4, SO-2@6) = %+v, %v; want SO-1@4 stale and SO-2@6 accepted", res, err)
	}
	ls, err := s.Lease(ctx, "orders", "w", 10, time.Minute)
	if err != nil || len(ls) != 1 || ls[0].Record.Key != "SO-2" {
		t.Fatalf("Lease = %+v, %v", ls, err)
	}
	if err := s.Settle(ctx, []store.Outcome{{Lease: ls[0], Kind: store.Acked}}); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.rdb.HGet(ctx, p.ent, "kSO-2").Result(); len(st) != 3*19+16+3 || st[38:57] != ver(6) {
		t.Fatalf("SO-2's state after its delivery = %q; want the new form with version 6", st)
	}
	n, next, err := s.ForgetDelivered(ctx, "orders", time.Hour, "", 100)
	if err != nil || n != 1 || next != "" {
		t.Fatalf("ForgetDelivered(older than an hour) = %d, %q, %v; want the old-form SO-1 only", n, next, err)
	}
	if ok, _ := s.rdb.HExists(ctx, p.ent, "kSO-1").Result(); ok {
		t.Fatal("SO-1's old-form state was not forgotten")
	}
}
