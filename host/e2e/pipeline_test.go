package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirhq/weir/host/engine"
	"github.com/weirhq/weir/host/store/bolt"
)

// postHook posts body to a pipeline's webhook with a bearer token and
// returns the status code.
func postHook(t *testing.T, addr, pipeline, token, body string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/hooks/"+pipeline, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

const copyPipeline = `
api {
  token = env("WEIR_API_TOKEN")
}

connection "jsonl" "in" {
  path = "in"
}

connection "jsonl" "out" {
  path = "out"
}

pipeline "copy" {
  source "in" {
    poll          = "50ms"
    batch_size    = 250
    key_field     = "id"
    version_field = "v"
  }
  key = record.id
  map {
    id    = record.id
    v     = record.v
    total = record.total
  }
  destination "out" {
    object = "copied"
  }
  workers = 4
}
`

// TestSIGKILLThreeTimesLosesAndDuplicatesNothing runs 10,000 record
// versions (8,000 keys, 2,000 of them updated) through jsonl → jsonl and
// kills the host three times at random moments.
func TestSIGKILLThreeTimesLosesAndDuplicatesNothing(t *testing.T) {
	w := newWorkspace(t)
	w.setenv("WEIR_API_TOKEN", "t0ken-for-status")
	w.write("pipeline.hcl", copyPipeline)
	newest := map[string]int{}
	var files [4]strings.Builder
	for i := range 10000 {
		key := i % 8000
		v := i/8000 + 1
		id := fmt.Sprintf("k%05d", key)
		newest[id] = v
		fmt.Fprintf(&files[i*4/10000], `{"id":"%s","v":%d,"total":%d.%02d}`+"\n", id, v, 1000+i, i%100)
	}
	for i := range files {
		w.write(fmt.Sprintf("in/part-%d.jsonl", i), files[i].String())
	}
	w.lock()

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	for kill := range 3 {
		d := w.start()
		time.Sleep(time.Duration(30+rng.IntN(350)) * time.Millisecond)
		d.kill()
		t.Logf("kill %d: %d lines written so far", kill+1, len(readLines(t, w.path("out/copied.jsonl"))))
	}
	d := w.start()
	waitFor(t, "every key delivered", 90*time.Second, func() bool {
		st := d.status("t0ken-for-status")
		p := st.Pipelines[0]
		return p.Waiting+p.InFlight == 0 && allNewest(t, w.path("out/copied.jsonl"), newest)
	})
	st := d.status("t0ken-for-status").Pipelines[0]
	if code := d.stop(15 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}

	wholeFile(t, w.path("out/copied.jsonl"))
	lines := readLines(t, w.path("out/copied.jsonl"))
	seen := map[string]bool{}
	for _, l := range lines {
		var key string
		var rec struct {
			V int `json:"v"`
		}
		json.Unmarshal(l["key"], &key)
		json.Unmarshal(l["record"], &rec)
		if seen[key] {
			t.Fatalf("key %s written twice", key)
		}
		seen[key] = true
		if rec.V != newest[key] {
			t.Errorf("key %s has version %d; newest is %d", key, rec.V, newest[key])
		}
	}
	if len(seen) != len(newest) {
		t.Fatalf("%d keys in the output; want %d", len(seen), len(newest))
	}
	// Every accepted version was delivered or replaced by a newer one.
	if st.Accepted != st.Delivered+st.Coalesced+st.DeadLetters || st.DeadLetters != 0 {
		t.Errorf("status does not add up: %+v", st)
	}
	if st.Delivered < int64(len(newest)) {
		t.Errorf("delivered %d < %d keys", st.Delivered, len(newest))
	}
	t.Logf("status: accepted %d delivered %d coalesced %d stale %d", st.Accepted, st.Delivered, st.Coalesced, st.Stale)
}

// allNewest reports whether the output holds every key at its newest
// version.
func allNewest(t *testing.T, path string, newest map[string]int) bool {
	lines := readLines(t, path)
	if len(lines) != len(newest) {
		return false
	}
	for _, l := range lines {
		var key string
		var rec struct {
			V int `json:"v"`
		}
		json.Unmarshal(l["key"], &key)
		json.Unmarshal(l["record"], &rec)
		if rec.V != newest[key] {
			return false
		}
	}
	return true
}

// TestWebhookBurstIsDurable fires 5,000 records from 16 clients and kills
// the host right after: every record answered 2xx is in the store.
func TestWebhookBurstIsDurable(t *testing.T) {
	w := newWorkspace(t)
	w.setenv("HOOK_TOKEN", "burst-token-1")
	w.write("pipeline.hcl", `
api {
  max_body = "4KiB"
}

connection "jsonl" "in" {
  path = "in"
}

connection "jsonl" "out" {
  path = "out"
}

pipeline "orders" {
  source "in" {
    key_field = "id"
  }
  webhook {
    auth   = "token"
    secret = env("HOOK_TOKEN")
  }
  key = record.id
  destination "out" {
    object = "orders"
  }
}
`)
	w.lock()
	d := w.start()

	// Refusals first: nothing of them may be stored.
	if code := postHook(t, d.addr, "orders", "burst-token-1", `{"id":"x"`); code != 400 {
		t.Errorf("malformed body: %d; want 400", code)
	}
	if code := postHook(t, d.addr, "orders", "", `{"id":"y"}`); code != 401 {
		t.Errorf("no token: %d; want 401", code)
	}
	if code := postHook(t, d.addr, "orders", "burst-token-1", `{"id":"z","pad":"`+strings.Repeat("x", 5000)+`"}`); code != 413 {
		t.Errorf("oversized body: %d; want 413", code)
	}

	payload := strings.Repeat("x", 900)
	var ok atomic.Int64
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	start := time.Now()
	for c := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < 5000; i += 16 {
				id := fmt.Sprintf("o%05d", i)
				if postHook(t, d.addr, "orders", "burst-token-1", `{"id":"`+id+`","total":12.5,"pad":"`+payload+`"}`) == 200 {
					ok.Add(1)
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	d.kill()
	t.Logf("burst: %d of 5000 answered 2xx in %v", ok.Load(), elapsed.Round(time.Millisecond))
	if ok.Load() != 5000 {
		t.Errorf("%d of 5000 accepted", ok.Load())
	}

	// Records the host had leased when it died are still in the store, to be
	// delivered again once their lease ends: the store is read as of then.
	later := func() time.Time { return time.Now().Add(engine.DefaultLeaseTTL + time.Minute) }
	st, err := bolt.Open(w.path(".weir"), bolt.Options{Now: later})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stats, err := st.Stats(context.Background(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	if stats.Accepted != int64(len(acked)) {
		t.Errorf("store accepted %d records; %d were answered 2xx (refused requests must add none)", stats.Accepted, len(acked))
	}
	// Every acknowledged order is kept as it was sent, byte for byte
	// (payloads come back from the connector as spans of the body): either
	// delivered before the kill, or still in the store.
	kept := map[string]string{}
	for _, l := range readLines(t, w.path("out/orders.jsonl")) {
		var key string
		if err := json.Unmarshal(l["key"], &key); err != nil {
			t.Fatal(err)
		}
		kept[key] = string(l["record"])
	}
	delivered := len(kept)
	for {
		leases, err := st.Lease(context.Background(), "orders", "check", 500, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(leases) == 0 {
			break
		}
		for _, l := range leases {
			kept[l.Record.Key] = string(l.Record.Payload)
		}
	}
	for key, got := range kept {
		want := `{"id":"` + key + `","total":12.5,"pad":"` + payload + `"}`
		if !acked[key] || got != want {
			t.Fatalf("kept %s (acknowledged: %v): %d bytes %.60q…; want %d bytes %.60q…", key, acked[key], len(got), got, len(want), want)
		}
	}
	if len(kept) != len(acked) {
		t.Errorf("%d orders kept (%d delivered); %d acknowledged", len(kept), delivered, len(acked))
	}
}

// TestSIGTERMDrainsAndRestartContinues stops the host mid-run with SIGTERM:
// it exits 0, and a restart finishes with nothing lost or duplicated.
func TestSIGTERMDrainsAndRestartContinues(t *testing.T) {
	w := newWorkspace(t)
	w.setenv("WEIR_API_TOKEN", "t")
	w.write("pipeline.hcl", copyPipeline)
	var b bytes.Buffer
	for i := range 4000 {
		fmt.Fprintf(&b, `{"id":"k%05d","v":1,"total":%d}`+"\n", i, i)
	}
	w.write("in/all.jsonl", b.String())
	w.lock()
	d := w.start()
	waitFor(t, "some progress", 20*time.Second, func() bool { return len(readLines(t, w.path("out/copied.jsonl"))) > 0 })
	stopAt := time.Now()
	if code := d.stop(35 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM\n%s", code, d.log)
	}
	t.Logf("stopped %v after SIGTERM", time.Since(stopAt).Round(time.Millisecond))
	if !strings.Contains(d.log.String(), "draining") {
		t.Errorf("no drain logged:\n%s", d.log)
	}
	mid := len(readLines(t, w.path("out/copied.jsonl")))
	d = w.start()
	waitFor(t, "all 4000", 60*time.Second, func() bool { return len(readLines(t, w.path("out/copied.jsonl"))) == 4000 })
	d.stop(15 * time.Second)
	seen := map[string]bool{}
	for _, l := range readLines(t, w.path("out/copied.jsonl")) {
		k := string(l["key"])
		if seen[k] {
			t.Fatalf("duplicate %s", k)
		}
		seen[k] = true
	}
	t.Logf("%d written before SIGTERM, 4000 after the restart", mid)
}

// TestDeadLetterReplayAfterFix: a record whose map fails is dead-lettered
// with the reason and field path while the others flow; after fixing the
// pipeline, weir dlq replay delivers it once.
func TestDeadLetterReplayAfterFix(t *testing.T) {
	w := newWorkspace(t)
	w.setenv("WEIR_API_TOKEN", "admin-t")
	broken := `
api {
  token = env("WEIR_API_TOKEN")
}

connection "jsonl" "in" {
  path = "in"
}

connection "jsonl" "out" {
  path = "out"
}

pipeline "orders" {
  source "in" {
    poll      = "50ms"
    key_field = "id"
  }
  key = record.id
  map {
    id      = record.id
    country = record.address.country
  }
  destination "out" {
    object = "orders"
  }
}
`
	w.write("pipeline.hcl", broken)
	w.write("in/orders.jsonl", `{"id":"a","address":{"country":"US"}}
{"id":"b","address":{}}
{"id":"c","address":{"country":"DE"}}
`)
	w.lock()
	d := w.start()
	waitFor(t, "a and c delivered", 20*time.Second, func() bool { return len(readLines(t, w.path("out/orders.jsonl"))) == 2 })
	waitFor(t, "b dead-lettered", 10*time.Second, func() bool { return d.status("admin-t").Pipelines[0].DeadLetters == 1 })

	out, errOut, code := w.weir("dlq", "list", "-addr", d.addr, "orders")
	if code != 0 || !strings.Contains(out, " b ") || !strings.Contains(out, "country") || !strings.Contains(out, "pipeline.hcl:") {
		t.Fatalf("dlq list: exit %d\n%s%s", code, out, errOut)
	}
	id := strings.Fields(strings.Split(out, "\n")[1])[0]
	out, _, code = w.weir("dlq", "show", "-addr", d.addr, "orders", id)
	if code != 0 || !strings.Contains(out, `"field": "country"`) {
		t.Fatalf("dlq show: exit %d\n%s", code, out)
	}
	if code := d.stop(15 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}

	w.write("pipeline.hcl", strings.Replace(broken, "record.address.country", `try(record.address.country, "unknown")`, 1))
	d = w.start()
	out, errOut, code = w.weir("dlq", "replay", "-addr", d.addr, "orders", id)
	if code != 0 || !strings.Contains(out, "replayed 1") {
		t.Fatalf("dlq replay: exit %d\n%s%s", code, out, errOut)
	}
	waitFor(t, "b delivered", 10*time.Second, func() bool { return len(readLines(t, w.path("out/orders.jsonl"))) == 3 })
	time.Sleep(300 * time.Millisecond)
	lines := readLines(t, w.path("out/orders.jsonl"))
	if len(lines) != 3 {
		t.Fatalf("%d lines after replay; want 3", len(lines))
	}
	if st := d.status("admin-t").Pipelines[0]; st.DeadLetters != 0 || st.Delivered != 3 {
		t.Errorf("after replay: %+v", st)
	}
	d.stop(10 * time.Second)
}
