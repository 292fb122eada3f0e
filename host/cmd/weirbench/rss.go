package main

import (
	"context"
	"fmt"
	"time"
)

// waitingPipeline is a webhook → HTTP pipeline whose destination allows one
// request an hour, so what is enqueued stays waiting.
func waitingPipeline(store, pipeline, conn, url string) string {
	return store + fmt.Sprintf(`
api {
  token = env("WEIR_API_TOKEN")
}

connection "jsonl" "hooks" {
  path = "in"
}

connection "http" %q {
  url   = %q
  batch = 100

  limits {
    rate = 1
    per  = "1h"
  }
}

pipeline %q {
  source "hooks" {
    key_field = "id"
  }
  webhook {
    auth   = "token"
    secret = env("HOOK_TOKEN")
  }
  key = record.id
  destination %q {
    object = "orders"
  }
}
`, conn, url, pipeline, conn)
}

// waitingRecords is how many records the memory rows enqueue.
const waitingRecords = 100_000

// waiting is the outcome of one memory run.
type waiting struct {
	idleRSS, rss, hwm int64
	redisBytes        int64 // used_memory growth (Redis runs)
	enqueue           time.Duration
}

// fillWaiting starts a host, enqueues 100,000 1 KB records by webhook (JSON
// arrays of 1,000, 4 clients) into a pipeline that cannot drain, and reads
// the host's memory before and after.
func fillWaiting(bin string, r *redisEnv) waiting {
	v := newVendor(0)
	defer v.close()
	name, storeBlock, env := "rss-embedded", "", []string(nil)
	if r != nil {
		name, storeBlock, env = "rss-redis", redisStore, []string{"WEIR_REDIS_URL=" + r.url}
	}
	pipeline, conn := runID+"_"+name[4:], runID+"_stuck"
	w := newWorkspace(bin, waitingPipeline(storeBlock, pipeline, conn, v.url()), env...)
	d := w.start(name)
	// Killed, not stopped: a drain would wait for the hour-long limit.
	defer d.kill()
	ctx := context.Background()
	time.Sleep(time.Second)
	var out waiting
	out.idleRSS = procStatusKB(d.pid, "VmRSS")
	var memBefore int64
	if r != nil {
		memBefore = r.usedMemory(ctx)
	}
	h := newHookClient(d.addr, pipeline, 4)
	const perBody = 1000
	out.enqueue = parallel(waitingRecords/perBody, 4, func(i int) error {
		return h.post(arrayBody("w", i*perBody, (i+1)*perBody))
	})
	if st := d.status(); st.Accepted < waitingRecords {
		fatal(fmt.Errorf("%s: %d of %d records accepted", name, st.Accepted, waitingRecords))
	}
	time.Sleep(time.Second)
	out.rss, out.hwm = procStatusKB(d.pid, "VmRSS"), procStatusKB(d.pid, "VmHWM")
	if r != nil {
		out.redisBytes = r.usedMemory(ctx) - memBefore
	}
	st := d.status()
	note("%s: %d accepted in %v (%.0f rec/s), %d waiting, %d delivered; host RSS %s idle, %s with them waiting, peak %s",
		name, st.Accepted, out.enqueue.Round(time.Millisecond), waitingRecords/out.enqueue.Seconds(), st.Waiting, st.Delivered,
		mb(out.idleRSS), mb(out.rss), mb(out.hwm))
	if r != nil {
		note("%s: Redis used_memory grew %s during the enqueue (records, key states, indexes)", name, mb(out.redisBytes))
	}
	return out
}

// mb formats a byte count in megabytes.
func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/1e6) }

// memoryRows measures the host's RSS with 100,000 records waiting, on the
// embedded store and on Redis, and Redis's memory per waiting record.
func memoryRows(bin string, r *redisEnv) []row {
	rssRow := func(store string, m waiting) row {
		return row{
			figure:    fmt.Sprintf("host RSS, 100,000 × 1 KB records waiting, %s", store),
			weir:      mb(m.rss),
			reference: mb(m.idleRSS) + " same host idle",
			ratio:     fmt.Sprintf("%.1f×", float64(m.rss)/float64(m.idleRSS)),
			target:    "≤ 150 MB",
		}
	}
	rows := []row{rssRow("embedded", fillWaiting(bin, nil))}
	if r == nil {
		return rows
	}
	m := fillWaiting(bin, r)
	rows = append(rows, rssRow("Redis", m))
	perRecord := float64(m.redisBytes) / waitingRecords
	ref := r.rawXAddMemory(waitingRecords)
	rows = append(rows, row{
		figure:    "Redis memory per waiting 1 KB record",
		weir:      fmt.Sprintf("%.0f B", perRecord),
		reference: fmt.Sprintf("%.0f B raw XADD entry", ref),
		ratio:     fmt.Sprintf("%.2f×", perRecord/ref),
		target:    "(§7.2: ~1,203 B per XADD entry)",
	})
	return rows
}
