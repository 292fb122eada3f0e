package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"
)

// server is a redis-server process started by a test.
type server struct {
	port int
	dir  string
	args []string
	cmd  *exec.Cmd
	out  *strings.Builder
}

// haveRedisServer reports whether redis-server is installed.
func haveRedisServer() bool {
	_, err := exec.LookPath("redis-server")
	return err == nil
}

// needRedisServer skips the test when redis-server is not installed.
func needRedisServer(t testing.TB) {
	t.Helper()
	if !haveRedisServer() {
		t.Skip("redis-server is not installed (apt-get install redis-server); skipping a test that runs its own Redis")
	}
}

// freePort returns a loopback port that is free, as is port+10000 (the
// Cluster bus port).
func freePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port > 55000 {
			continue
		}
		bus, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+10000))
		if err != nil {
			continue
		}
		bus.Close()
		return port
	}
	t.Fatal("no free port pair")
	return 0
}

// startServer starts redis-server on a free loopback port with its data in
// a fresh directory; extra arguments are added to the command line. The
// server is killed when the test ends.
func startServer(t testing.TB, args ...string) *server {
	t.Helper()
	needRedisServer(t)
	s := &server{port: freePort(t), dir: t.TempDir(), args: args}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.kill)
	return s
}

func (s *server) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }
func (s *server) url() string  { return "redis://" + s.addr() }

// start runs the server and waits until it answers PING.
func (s *server) start() error {
	args := append([]string{
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--dir", s.dir,
		"--save", "", "--daemonize", "no", "--protected-mode", "no", "--loglevel", "warning",
	}, s.args...)
	s.out = &strings.Builder{}
	s.cmd = exec.Command("redis-server", args...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	c := goredis.NewClient(&goredis.Options{Addr: s.addr(), DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := c.Ping(context.Background()).Err()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("redis-server on port %d did not answer: %v\n%s", s.port, err, s.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// restart starts the server again on the same port and directory.
func (s *server) restart(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
}

// kill sends SIGKILL and waits for the process to exit.
func (s *server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
	s.cmd = nil
}

// startCluster starts three redis-server processes in cluster mode, joins
// them into a Cluster without replicas and waits until it serves every slot.
// It returns a redis+cluster URL naming all three.
func startCluster(t testing.TB) string {
	t.Helper()
	needRedisServer(t)
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Skip("redis-cli is not installed; skipping the Redis Cluster test")
	}
	var nodes []*server
	for range 3 {
		nodes = append(nodes, startServer(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--appendonly", "no", "--cluster-node-timeout", "2000"))
	}
	args := []string{"--cluster", "create"}
	for _, n := range nodes {
		args = append(args, n.addr())
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, n := range nodes {
		c := goredis.NewClient(&goredis.Options{Addr: n.addr()})
		for {
			info, err := c.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				c.Close()
				t.Fatalf("cluster node %s not ready: %v %s", n.addr(), err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.Close()
	}
	return fmt.Sprintf("redis+cluster://%s?addr=%s&addr=%s", nodes[0].addr(), nodes[1].addr(), nodes[2].addr())
}

// The Redis the tests use by default: WEIR_TEST_REDIS_URL, else
// 127.0.0.1:6379; if that does not answer, a redis-server started for the
// package; only without redis-server, miniredis.
var (
	envOnce    sync.Once
	envURL     string
	envKind    string // "given", "started" or "miniredis"
	envCleanup []func()
)

// quiet discards go-redis's own log lines (dial failures while a test has
// Redis down on purpose).
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// TestMain stops the servers the package started.
func TestMain(m *testing.M) {
	goredis.SetLogger(quiet{})
	code := m.Run()
	for _, f := range envCleanup {
		f()
	}
	os.Exit(code)
}

// testURL returns the URL of the Redis for tests, saying with t.Log when
// it is not a real, given one.
func testURL(t testing.TB) string {
	t.Helper()
	envOnce.Do(func() {
		envURL = os.Getenv("WEIR_TEST_REDIS_URL")
		if envURL == "miniredis" {
			startMiniredis()
			return
		}
		if envURL == "" {
			envURL = "redis://127.0.0.1:6379"
		}
		c, _, err := newClient(envURL, &Options{DialTimeout: time.Second})
		if err == nil {
			err = c.Ping(context.Background()).Err()
			c.Close()
		}
		if err == nil {
			envKind = "given"
			return
		}
		if haveRedisServer() {
			s := &server{port: mustFreePort(), dir: mustTempDir()}
			if err := s.start(); err == nil {
				envCleanup = append(envCleanup, s.kill, func() { os.RemoveAll(s.dir) })
				envURL, envKind = s.url(), "started"
				return
			}
		}
		startMiniredis()
	})
	switch envKind {
	case "miniredis":
		t.Log("no Redis reachable and redis-server not installed: falling back to miniredis (an in-process imitation)")
	case "started":
		t.Logf("no Redis at WEIR_TEST_REDIS_URL or 127.0.0.1:6379: using a redis-server started on %s", envURL)
	}
	return envURL
}

func startMiniredis() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	// miniredis expires keys only when told that time passed.
	stop := make(chan struct{})
	go func() {
		last := time.Now()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-tick.C:
				mr.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	envCleanup = append(envCleanup, func() { close(stop); mr.Close() })
	envURL, envKind = "redis://"+mr.Addr(), "miniredis"
}

func mustFreePort() int {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port < 55000 {
			return port
		}
	}
}

func mustTempDir() string {
	d, err := os.MkdirTemp("", "weir-redis-test-")
	if err != nil {
		panic(err)
	}
	return d
}

var prefixSeq atomic.Int64

// uniquePrefix returns a key prefix no other test run uses.
func uniquePrefix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("weirtest-%s-%d", hex.EncodeToString(b), prefixSeq.Add(1))
}

// openTest opens a store on url under a fresh prefix and deletes its keys
// when the test ends (after the store is closed).
func openTest(t testing.TB, url string) *Store {
	t.Helper()
	prefix := uniquePrefix()
	t.Cleanup(func() { purge(t, url, prefix) })
	s, err := Open(context.Background(), url, Options{Prefix: prefix})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// purge deletes every key of a prefix, on every Cluster master.
func purge(t testing.TB, url, prefix string) {
	c, _, err := newClient(url, &Options{})
	if err != nil {
		t.Errorf("purge: %v", err)
		return
	}
	defer c.Close()
	ctx := context.Background()
	del := func(ctx context.Context, n goredis.UniversalClient) error {
		iter := n.Scan(ctx, 0, "{"+prefix+":*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			return err
		}
		for _, k := range keys {
			if err := n.Del(ctx, k).Err(); err != nil {
				return err
			}
		}
		return nil
	}
	if cc, ok := c.(*goredis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error { return del(ctx, n) })
	} else {
		err = del(ctx, c)
	}
	if err != nil {
		t.Logf("purge %s: %v", prefix, err)
	}
}

// keysOf lists the keys of a prefix (standalone only).
func keysOf(t testing.TB, s *Store) []string {
	t.Helper()
	keys, err := s.rdb.Keys(context.Background(), "{"+s.prefix+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
