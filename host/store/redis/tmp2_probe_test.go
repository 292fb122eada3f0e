package redis

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

func TestTmpProbe2(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	admin := goredis.NewClient(&goredis.Options{Addr: srv.addr()})
	defer admin.Close()
	// 100 fields of 1 KB in hash {x}:e
	args := []any{}
	for i := range 100 {
		args = append(args, fmt.Sprintf("r%d", i), payload1K)
	}
	admin.HSet(ctx, "{x}:e", args...)
	fields := []any{}
	for i := range 100 {
		fields = append(fields, fmt.Sprintf("r%d", i))
	}
	small := []any{}
	for i := range 100 {
		small = append(small, fmt.Sprintf("s%d", i), "R|12345|0|0|0|")
	}
	for _, sc := range []struct {
		name string
		src  string
		args []any
	}{
		{"hmget1k count", "local v = redis.call('HMGET', KEYS[1], unpack(ARGV)) return #v", fields},
		{"hmget1k return", "return redis.call('HMGET', KEYS[1], unpack(ARGV))", fields},
		{"hset1k from args", "redis.call('HSET', KEYS[1], unpack(ARGV)) return 1", args},
		{"args1k only", "return 1", args},
		{"hset small", "redis.call('HSET', KEYS[1], unpack(ARGV)) return 1", small},
		{"100 tables+match", "local x for i=1,100 do local a,b,c = string.match('R|12|3|4|5|abc', '^(%a)|(%d+)|(%d+)|') x = {a,b,c} end return 1", nil},
	} {
		script := goredis.NewScript(sc.src)
		script.Run(ctx, admin, []string{"{x}:e"}, sc.args...)
		admin.ConfigSet(ctx, "slowlog-log-slower-than", "0")
		admin.ConfigSet(ctx, "slowlog-max-len", "1000")
		admin.SlowLogReset(ctx)
		for range 300 {
			if err := script.Run(ctx, admin, []string{"{x}:e"}, sc.args...).Err(); err != nil {
				t.Fatal(err)
			}
		}
		logs, _ := admin.SlowLogGet(ctx, -1).Result()
		var ds []time.Duration
		for _, l := range logs {
			if l.Args[0] == "evalsha" {
				ds = append(ds, l.Duration)
			}
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		t.Logf("%-18s n %d p10 %v median %v", sc.name, len(ds), ds[len(ds)/10], ds[len(ds)/2])
	}
	// plain commands for comparison
	admin.ConfigSet(ctx, "slowlog-log-slower-than", "0")
	admin.SlowLogReset(ctx)
	for range 300 {
		admin.HMGet(ctx, "{x}:e", "r1", "r2")
		admin.HSet(ctx, "{x}:e", args...)
	}
	logs, _ := admin.SlowLogGet(ctx, -1).Result()
	by := map[string][]time.Duration{}
	for _, l := range logs {
		by[l.Args[0]] = append(by[l.Args[0]], l.Duration)
	}
	for k, ds := range by {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		t.Logf("plain %-10s n %d p10 %v median %v", k, len(ds), ds[len(ds)/10], ds[len(ds)/2])
	}
}
