package redis

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/weirhq/weir/host/store"
)

// serverTimes runs f n times and returns the median server-side duration
// of the EVALSHA calls it made, from SLOWLOG.
func serverTimes(t *testing.T, c *goredis.Client, label string, f func()) {
	ctx := context.Background()
	c.ConfigSet(ctx, "slowlog-log-slower-than", "0")
	c.ConfigSet(ctx, "slowlog-max-len", "100000")
	c.SlowLogReset(ctx)
	f()
	logs, _ := c.SlowLogGet(ctx, -1).Result()
	c.ConfigSet(ctx, "slowlog-log-slower-than", "10000")
	by := map[string][]time.Duration{}
	for _, l := range logs {
		if len(l.Args) > 0 && (l.Args[0] == "evalsha" || l.Args[0] == "EVALSHA") {
			by[l.Args[1][:8]] = append(by[l.Args[1][:8]], l.Duration)
		}
	}
	names := map[string]string{enqueueScript.Hash()[:8]: "enqueue", leaseScript.Hash()[:8]: "lease", settleScript.Hash()[:8]: "settle"}
	for h, ds := range by {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		t.Logf("%s %-8s calls %4d  median %v  p10 %v", label, names[h], len(ds), ds[len(ds)/2], ds[len(ds)/10])
	}
}

func TestTmpProbe(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t)
	s := openTest(t, srv.url())
	defer s.Close()
	admin := goredis.NewClient(&goredis.Options{Addr: srv.addr()})
	defer admin.Close()
	for _, batch := range []int{1, 16, 100} {
		serverTimes(t, admin, fmt.Sprintf("batch %3d", batch), func() {
			for i := range 300 {
				recs := make([]store.Record, batch)
				for j := range recs {
					recs[j] = store.Record{Key: fmt.Sprintf("o-%d-%d-%d", batch, i, j), Version: 1, Payload: payload1K}
				}
				if _, err := s.Enqueue(ctx, "orders", recs, nil); err != nil {
					t.Fatal(err)
				}
				ls, err := s.Lease(ctx, "orders", "w", 100, time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				outs := make([]store.Outcome, len(ls))
				for j, l := range ls {
					outs[j] = store.Outcome{Lease: l, Kind: store.Acked}
				}
				if err := s.Settle(ctx, outs); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
