package main

import (
	"fmt"
	"time"

	"github.com/weirhq/weir/host/engine"
)

// recoveryPipeline is a webhook → slow HTTP endpoint pipeline on Redis: two
// workers of 100 records, one request of 100 records a write, so a host has
// 200 records in flight. Each host's requests go to its own URL path.
func recoveryPipeline(pipeline, conn string) string {
	return redisStore + fmt.Sprintf(`
api {
  token = env("WEIR_API_TOKEN")
}

connection "jsonl" "hooks" {
  path = "in"
}

connection "http" %q {
  url   = env("VENDOR_URL")
  batch = 100
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
  workers = 2
}
`, conn, pipeline, conn)
}

// recovery runs two hosts on Redis against an endpoint that takes 2 s a
// request, sends 400 records, SIGKILLs host A once it has its 200 records
// in flight at the endpoint, and times from the kill until host B has
// delivered every one of them. Reference: the engine's lease time.
func recovery(bin string, r *redisEnv) row {
	const n, delay = 400, 2 * time.Second
	v := newVendor(delay)
	defer v.close()
	pipeline, conn := runID+"_recovery", runID+"_slow"
	w := newWorkspace(bin, recoveryPipeline(pipeline, conn), "WEIR_REDIS_URL="+r.url, "VENDOR_URL="+v.url("a"))
	a := w.start("recovery-a", "VENDOR_URL="+v.url("a"))
	b := w.start("recovery-b", "VENDOR_URL="+v.url("b"))
	defer b.stop()
	if err := newHookClient(b.addr, pipeline, 1).post(arrayBody("k", 0, n)); err != nil {
		fatal(err)
	}
	var keys []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		var reqs int
		keys, reqs = v.inFlightFrom("a")
		if reqs >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(keys) == 0 {
		fatal(fmt.Errorf("recovery: host A never had records in flight"))
	}
	a.cmd.Process.Kill()
	killed := time.Now()
	<-a.done
	var last time.Time
	for {
		var ok bool
		if last, ok = v.deliveredAt(keys); ok {
			break
		}
		if time.Since(killed) > 60*time.Second {
			fatal(fmt.Errorf("recovery: host A's %d records not delivered 60 s after the kill", len(keys)))
		}
		time.Sleep(5 * time.Millisecond)
	}
	took := last.Sub(killed)
	if !v.waitCount(n, 30*time.Second) {
		progress("recovery: only %d of %d records delivered", v.count(), n)
	}
	note("recovery: host A had %d records in flight; host B began sending them %.1f s after the SIGKILL (the lease expiring) and had delivered them all %.1f s after it (the endpoint takes %.0f s a request)",
		len(keys), v.firstArrival("b", keys).Sub(killed).Seconds(), took.Seconds(), delay.Seconds())
	lease := engine.DefaultLeaseTTL
	return row{
		figure:    fmt.Sprintf("recovery after SIGKILL of a host with %d in flight, 2 hosts, Redis", len(keys)),
		weir:      fmt.Sprintf("%.1f s", took.Seconds()),
		reference: fmt.Sprintf("%.0f s engine lease", lease.Seconds()),
		ratio:     fmt.Sprintf("lease + %.1f s", (took - lease).Seconds()),
		target:    "≤ lease + 5 s, ≤ 15 s",
	}
}
