package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// redisURL returns the Redis the tests share: WEIR_TEST_REDIS_URL, else the
// local server, else (on a machine with no Redis at all) an in-process
// miniredis, which the test says.
func redisURL(t *testing.T) string {
	t.Helper()
	if u := os.Getenv("WEIR_TEST_REDIS_URL"); u != "" {
		return u
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:6379", time.Second); err == nil {
		c.Close()
		return "redis://127.0.0.1:6379/0"
	}
	m := miniredis.RunT(t)
	t.Logf("no Redis at 127.0.0.1:6379 and WEIR_TEST_REDIS_URL unset: using miniredis at %s", m.Addr())
	return "redis://" + m.Addr() + "/0"
}

// uniq returns a name unique to this test run, so tests sharing one Redis
// do not see each other's keys.
func uniq(prefix string) string {
	return fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano()%1e12)
}

// cluster is several weir run processes sharing one configuration and
// Redis.
type cluster struct {
	t     *testing.T
	w     *workspace
	mu    sync.Mutex
	hosts []*daemon
}

// host returns the i-th live host (modulo their number).
func (c *cluster) host(i int) *daemon {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hosts[i%len(c.hosts)]
}

// replace kills host i and starts a new one in its place.
func (c *cluster) replace(i int) {
	c.mu.Lock()
	victim := c.hosts[i]
	c.mu.Unlock()
	victim.kill()
	fresh := c.w.start()
	c.mu.Lock()
	c.hosts[i] = fresh
	c.mu.Unlock()
}

func startCluster(t *testing.T, w *workspace, n int) *cluster {
	c := &cluster{t: t, w: w}
	for range n {
		c.hosts = append(c.hosts, w.start())
	}
	return c
}

// burst posts n records over the cluster's live hosts from 16 clients and
// returns how many were answered 200; records refused are retried on
// another host, as a load balancer would.
func (c *cluster) burst(pipeline, token string, n int, payload func(i int) string) int64 {
	var ok atomic.Int64
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 16 {
				for attempt := 0; attempt < 50; attempt++ {
					h := c.host(i + attempt)
					req, _ := http.NewRequest("POST", "http://"+h.addr+"/v1/hooks/"+pipeline, strings.NewReader(payload(i)))
					req.Header.Set("Authorization", "Bearer "+token)
					resp, err := client.Do(req)
					if err == nil {
						resp.Body.Close()
						if resp.StatusCode == 200 {
							ok.Add(1)
							break
						}
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	return ok.Load()
}

// limitedPipeline is a webhook → HTTP vendor pipeline on Redis.
func limitedPipeline(pipeline, conn, vendorURL, limits string, batch int) string {
	return fmt.Sprintf(`
store {
  redis {
    url = env("WEIR_REDIS_URL")
  }
}

api {
  token = env("WEIR_API_TOKEN")
}

connection "jsonl" "hooks" {
  path = "in"
}

connection "http" %q {
  url   = %q
  batch = %d

  limits {
%s
  }
}

lookup "stock" {
  connection = %q
  cache      = "0s"
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
  retry {
    attempts   = 50
    base_delay = "100ms"
    max_delay  = "2s"
  }
}
`, conn, vendorURL, batch, limits, conn, pipeline, conn)
}

func redisWorkspace(t *testing.T, url string) *workspace {
	w := newWorkspace(t)
	w.setenv("WEIR_REDIS_URL", url)
	w.setenv("WEIR_API_TOKEN", adminToken)
	w.setenv("HOOK_TOKEN", hookToken)
	return w
}

// Tokens of the Redis workspaces.
const (
	adminToken = "admin-3b9f1c77e2"
	hookToken  = "hook-8d41a0c6f5"
)

func orderPayload(i int) string {
	return fmt.Sprintf(`{"id":"o%05d","total":%d.50,"pad":"%s"}`, i, 5000+i, strings.Repeat("x", 200))
}

// TestThreeHostsShareTheRateLimit: three hosts, one Redis, a 5,000-record
// burst into a vendor limited to 99 requests per (scaled) minute of 6 s,
// 50 records a request. (A real minute gives the limiter's pacing 20× more
// room for the time requests take to reach the vendor.)
func TestThreeHostsShareTheRateLimit(t *testing.T) {
	v := newVendor(t, 0)
	w := redisWorkspace(t, redisURL(t))
	pipeline, conn := uniq("orders"), uniq("erp")
	const per = 6 * time.Second
	w.write("pipeline.hcl", limitedPipeline(pipeline, conn, v.srv.URL, `    rate = 99
    per  = "6s"`, 50))
	w.lock()
	c := startCluster(t, w, 3)
	if got := c.burst(pipeline, hookToken, 5000, orderPayload); got != 5000 {
		t.Fatalf("%d of 5000 accepted", got)
	}
	waitFor(t, "all 5000 at the vendor", 90*time.Second, func() bool { return v.count() == 5000 })
	most := v.maxInWindow(per)
	util := v.utilisation(99, per)
	t.Logf("%d requests; most in any 6 s window: %d (limit 99); utilisation %.1f%%; %d versions delivered more than once", len(v.times), most, 100*util, v.redeliveries())
	if most > 99 {
		t.Errorf("%d requests in one window: the limit of 99 was broken", most)
	}
	if util < 0.97 {
		t.Errorf("utilisation %.1f%% < 97%% while work waited", 100*util)
	}
	if d := v.duplicates(); len(d) > 0 {
		t.Errorf("created twice: %v", d[:min(5, len(d))])
	}
}

// TestKilledHostsLoseAndDuplicateNothing kills one of three hosts twice
// mid-burst; the others finish its leased work within lease + 5 s.
func TestKilledHostsLoseAndDuplicateNothing(t *testing.T) {
	v := newVendor(t, 5*time.Millisecond)
	w := redisWorkspace(t, redisURL(t))
	pipeline, conn := uniq("orders"), uniq("erp")
	w.write("pipeline.hcl", limitedPipeline(pipeline, conn, v.srv.URL, `    concurrency = 4`, 20))
	w.lock()
	c := startCluster(t, w, 3)

	done := make(chan int64)
	go func() { done <- c.burst(pipeline, hookToken, 5000, orderPayload) }()
	for kill := range 2 {
		waitFor(t, "progress before a kill", 30*time.Second, func() bool { return v.count() > 1000*(kill+1) })
		c.replace(kill % len(c.hosts))
		t.Logf("killed a host with %d records at the vendor", v.count())
	}
	accepted := <-done
	if accepted != 5000 {
		t.Fatalf("%d of 5000 accepted", accepted)
	}
	// The engine's lease is 10 s, and so is a dead host's hold on its
	// concurrency slots (limiter.DefaultLeaseTTL).
	start := time.Now()
	waitFor(t, "every record at the vendor", 10*time.Second+5*time.Second, func() bool { return v.count() == 5000 })
	t.Logf("last records delivered %v after the burst", time.Since(start).Round(time.Millisecond))
	if d := v.duplicates(); len(d) > 0 {
		t.Errorf("created twice: %v", d[:min(5, len(d))])
	}
}

// TestConcurrencyLimitAcrossHosts: never more than 5 vendor requests in
// flight across three hosts, even while hosts are killed.
func TestConcurrencyLimitAcrossHosts(t *testing.T) {
	v := newVendor(t, 30*time.Millisecond)
	w := redisWorkspace(t, redisURL(t))
	pipeline, conn := uniq("orders"), uniq("erp")
	w.write("pipeline.hcl", limitedPipeline(pipeline, conn, v.srv.URL, `    concurrency = 5`, 5))
	w.lock()
	c := startCluster(t, w, 3)
	done := make(chan int64)
	go func() { done <- c.burst(pipeline, hookToken, 2000, orderPayload) }()
	waitFor(t, "progress", 30*time.Second, func() bool { return v.count() > 300 })
	c.replace(1)
	<-done
	waitFor(t, "all delivered", 60*time.Second, func() bool { return v.count() == 2000 })
	v.mu.Lock()
	peak := v.peak
	v.mu.Unlock()
	t.Logf("peak in flight at the vendor: %d (limit 5)", peak)
	if peak > 5 {
		t.Errorf("%d requests in flight: the concurrency limit of 5 was broken", peak)
	}
	if peak < 4 {
		t.Errorf("peak %d: the hosts did not use the concurrency they had", peak)
	}
}

// TestStalledHostCannotSettle: a host frozen past its lease comes back and
// its late settlements are refused; nothing is duplicated.
func TestStalledHostCannotSettle(t *testing.T) {
	v := newVendor(t, 200*time.Millisecond)
	w := redisWorkspace(t, redisURL(t))
	pipeline, conn := uniq("orders"), uniq("erp")
	w.write("pipeline.hcl", limitedPipeline(pipeline, conn, v.srv.URL, `    concurrency = 8`, 10))
	w.lock()
	c := startCluster(t, w, 2)
	if got := c.burst(pipeline, hookToken, 600, orderPayload); got != 600 {
		t.Fatalf("%d of 600 accepted", got)
	}
	stalled := c.hosts[0]
	waitFor(t, "work in flight", 10*time.Second, func() bool { return v.count() > 20 })
	stalled.cmd.Process.Signal(syscall.SIGSTOP)
	time.Sleep(12 * time.Second) // past the 10 s lease
	stalled.cmd.Process.Signal(syscall.SIGCONT)
	waitFor(t, "all delivered", 60*time.Second, func() bool { return v.count() == 600 })
	time.Sleep(time.Second)
	if d := v.duplicates(); len(d) > 0 {
		t.Errorf("created twice: %v", d[:min(5, len(d))])
	}
	// The stalled host had batches in flight: when it woke, the store
	// refused to let it settle them (others had taken them over).
	waitFor(t, "the stalled host's late settlement to be refused", 20*time.Second, func() bool {
		return strings.Contains(stalled.log.String(), "taken over")
	})
	st := c.hosts[1].status(adminToken)
	for _, p := range st.Pipelines {
		if p.Name == pipeline && (p.Waiting != 0 || p.DeadLetters != 0) {
			t.Errorf("status after recovery: %+v", p)
		}
	}
}

// TestRedisRestartLosesNothing restarts a Redis (appendonly, fsync always)
// mid-run: webhooks answer 503 while it is down, never 2xx; the hosts
// resume by themselves; nothing acknowledged is lost.
func TestRedisRestartLosesNothing(t *testing.T) {
	srv := startRedis(t)
	v := newVendor(t, 0)
	w := redisWorkspace(t, srv.url())
	pipeline, conn := uniq("orders"), uniq("erp")
	w.write("pipeline.hcl", limitedPipeline(pipeline, conn, v.srv.URL, `    rate = 200
    per  = "1s"`, 1))
	w.lock()
	c := startCluster(t, w, 2)
	var acked sync.Map
	var during503, during2xx atomic.Int64
	var down atomic.Bool
	post := func(i int) {
		h := c.hosts[i%2]
		req, _ := http.NewRequest("POST", "http://"+h.addr+"/v1/hooks/"+pipeline, strings.NewReader(orderPayload(i)))
		req.Header.Set("Authorization", "Bearer "+hookToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		resp.Body.Close()
		switch {
		case resp.StatusCode == 200:
			acked.Store(i, true)
			if down.Load() {
				during2xx.Add(1)
			}
		case resp.StatusCode == 503 && down.Load():
			during503.Add(1)
		}
	}
	for i := range 300 {
		post(i)
	}
	srv.kill()
	down.Store(true)
	for i := 300; i < 400; i++ {
		post(i)
	}
	down.Store(false)
	srv.restart(t)
	waitFor(t, "hosts to resume", 20*time.Second, func() bool {
		post(400)
		_, ok := acked.Load(400)
		return ok
	})
	for i := 401; i < 600; i++ {
		post(i)
	}
	n := 0
	acked.Range(func(_, _ any) bool { n++; return true })
	waitFor(t, "every acknowledged record at the vendor", 60*time.Second, func() bool { return v.count() >= n })
	t.Logf("%d acknowledged; while Redis was down: %d answered 503, %d answered 2xx", n, during503.Load(), during2xx.Load())
	if during2xx.Load() != 0 {
		t.Errorf("%d webhooks answered 2xx while Redis was down", during2xx.Load())
	}
	if during503.Load() == 0 {
		t.Errorf("no webhook was answered 503 while Redis was down")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	acked.Range(func(k, _ any) bool {
		if _, ok := v.records[fmt.Sprintf("o%05d", k.(int))]; !ok {
			t.Errorf("acknowledged record o%05d lost", k.(int))
		}
		return true
	})
}

// TestInteractiveLookupsKeepTheirShare: while a bulk backlog saturates the
// limit, real-time lookups are still answered promptly.
func TestInteractiveLookupsKeepTheirShare(t *testing.T) {
	v := newVendor(t, 0)
	w := redisWorkspace(t, redisURL(t))
	pipeline, conn := uniq("orders"), uniq("erp")
	w.write("pipeline.hcl", limitedPipeline(pipeline, conn, v.srv.URL, `    rate = 20
    per  = "1s"
    interactive_share = 0.1`, 1))
	w.lock()
	c := startCluster(t, w, 2)
	if got := c.burst(pipeline, hookToken, 300, orderPayload); got != 300 {
		t.Fatalf("%d of 300 accepted", got)
	}
	waitFor(t, "the backlog to saturate the limit", 10*time.Second, func() bool { return v.maxInWindow(time.Second) >= 18 })
	var slowest time.Duration
	for i := range 6 {
		h := c.hosts[i%2]
		start := time.Now()
		req, _ := http.NewRequest("POST", "http://"+h.addr+"/v1/lookups/stock", strings.NewReader(`{"items":["A"]}`))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("lookup: HTTP %d", resp.StatusCode)
		}
		slowest = max(slowest, time.Since(start))
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("slowest lookup during the backlog: %v; most bulk writes in a window: %d (rate 20, bulk 18)", slowest, v.maxInWindow(time.Second))
	if slowest > 700*time.Millisecond {
		t.Errorf("a lookup waited %v behind the bulk backlog", slowest)
	}
	if most := v.maxInWindow(time.Second); most > 18 {
		t.Errorf("bulk writes took %d of a window; 2 are reserved for lookups", most)
	}
}

// redisServer is a redis-server the test owns (to kill and restart it).
type redisServer struct {
	port int
	dir  string
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not installed")
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &redisServer{port: port, dir: t.TempDir()}
	s.restart(t)
	t.Cleanup(s.kill)
	return s
}

func (s *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.port) }

func (s *redisServer) restart(t *testing.T) {
	t.Helper()
	s.cmd = exec.Command("redis-server", "--port", fmt.Sprint(s.port), "--bind", "127.0.0.1", "--dir", s.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--maxmemory-policy", "noeviction")
	s.cmd.Stdout, s.cmd.Stderr = nil, nil
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "redis-server", 10*time.Second, func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

func (s *redisServer) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGKILL)
		s.cmd.Wait()
		s.cmd = nil
	}
}
