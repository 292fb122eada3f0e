// Command weirbench measures Weir against the brief's targets and prints
// each figure beside a reference measured in the same run on the same
// machine: `make bench`.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/weirhq/weir/host/api"
	"github.com/weirhq/weir/host/store"
	"github.com/weirhq/weir/host/store/bolt"
)

// cpuProfile, when set, profiles the daemons.
var cpuProfile string

// daemonPID is the last started daemon's pid.
var daemonPID int

// cpuTime returns the user+system CPU time of pid and its children
// (connectors), read from /proc.
func cpuTime(pid int) time.Duration {
	total := procCPU(pid)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(data)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == fmt.Sprint(pid) {
			var child int
			fmt.Sscan(e.Name(), &child)
			total += procCPU(child)
		}
	}
	return total
}

// procCPU returns one process's user+system CPU time.
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	var utime, stime int64
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	return time.Duration(utime+stime) * 10 * time.Millisecond // USER_HZ = 100
}

// row is one line of the report.
type row struct {
	figure    string
	weir      string
	reference string
	ratio     string
	target    string
}

func main() {
	bin := flag.String("bin", "bin", "directory holding weir and the connectors")
	records := flag.Int("records", 50000, "records for the end-to-end run")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write the daemon's CPU profile of each run to FILE.<run>")
	flag.String("only", "", "run one figure: burst or e2e")
	flag.Parse()
	abs, err := filepath.Abs(*bin)
	if err != nil {
		fatal(err)
	}
	only := flag.Lookup("only").Value.String()
	var rows []row
	if only == "" || only == "burst" {
		rows = append(rows, burstEmbedded(abs))
	}
	if only == "" || only == "e2e" {
		rows = append(rows, endToEndEmbedded(abs, *records))
	}
	print(rows)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "weirbench:", err)
	os.Exit(1)
}

func print(rows []row) {
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tWEIR\tREFERENCE (same run)\tRATIO\tTARGET")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.figure, r.weir, r.reference, r.ratio, r.target)
	}
	tw.Flush()
}

// workspace is a temporary directory holding a pipeline and its data.
type workspace struct {
	dir, bin string
	env      []string
}

func newWorkspace(bin, pipeline string) *workspace {
	dir, err := os.MkdirTemp("", "weirbench-")
	if err != nil {
		fatal(err)
	}
	w := &workspace{dir: dir, bin: bin, env: []string{"PATH=" + os.Getenv("PATH"), "WEIR_API_TOKEN=bench", "HOOK_TOKEN=bench-hook"}}
	w.write("pipeline.hcl", pipeline)
	w.run("plugins", "lock", "-plugin-dir", bin)
	return w
}

func (w *workspace) write(rel, content string) {
	p := filepath.Join(w.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		fatal(err)
	}
}

func (w *workspace) run(args ...string) {
	cmd := exec.Command(filepath.Join(w.bin, "weir"), args...)
	cmd.Dir, cmd.Env = w.dir, w.env
	if out, err := cmd.CombinedOutput(); err != nil {
		fatal(fmt.Errorf("weir %v: %v\n%s", args, err, out))
	}
}

// daemon starts `weir run` and waits until it is ready.
func (w *workspace) daemon(name string) (addr string, stop func()) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal(err)
	}
	addr = l.Addr().String()
	l.Close()
	args := []string{"run", "-listen", addr, "-progress=false", "-log-level", "warn", "-plugin-dir", w.bin}
	if cpuProfile != "" {
		p, _ := filepath.Abs(cpuProfile + "." + name)
		args = append(args, "-cpuprofile", p)
	}
	cmd := exec.Command(filepath.Join(w.bin, "weir"), args...)
	cmd.Dir, cmd.Env = w.dir, w.env
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			fatal(fmt.Errorf("weir run not ready:\n%s", logs.String()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	daemonPID = cmd.Process.Pid
	return addr, func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		os.RemoveAll(w.dir)
	}
}

func status(addr string) api.PipelineStatus {
	req, _ := http.NewRequest("GET", "http://"+addr+"/v1/status", nil)
	req.Header.Set("Authorization", "Bearer bench")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fatal(err)
	}
	defer resp.Body.Close()
	var st api.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		fatal(err)
	}
	return st.Pipelines[0]
}

const burstPipeline = `
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
`

// order returns a 1 KB order document.
func order(i int) []byte {
	pad := strings.Repeat("x", 1024-80)
	return []byte(fmt.Sprintf(`{"id":"o%06d","total":12345678901234567.89,"status":"Activated","pad":"%s"}`, i, pad))
}

// burstEmbedded posts 5,000 1 KB orders from 16 clients and times until
// every one is answered 2xx (durably stored). Reference: the embedded
// store's own single-record enqueues from 16 goroutines.
func burstEmbedded(bin string) row {
	const n, clients = 5000, 16
	w := newWorkspace(bin, burstPipeline)
	addr, stop := w.daemon("burst")
	defer stop()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	post := func(i int) error {
		req, _ := http.NewRequest("POST", "http://"+addr+"/v1/hooks/orders", bytes.NewReader(order(i)))
		req.Header.Set("Authorization", "Bearer bench-hook")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	}
	for i := range clients { // open the connections
		if err := post(n + i); err != nil {
			fatal(err)
		}
	}
	hostBefore, allBefore, selfBefore := procCPU(daemonPID), cpuTime(daemonPID), procCPU(os.Getpid())
	elapsed := parallel(n, clients, post)
	fmt.Fprintf(os.Stderr, "burst CPU: host %v, connectors %v, load generator %v, wall %v\n",
		procCPU(daemonPID)-hostBefore, cpuTime(daemonPID)-allBefore-(procCPU(daemonPID)-hostBefore), procCPU(os.Getpid())-selfBefore, elapsed.Round(time.Millisecond))

	ref := rawEnqueue(n, clients)
	return row{
		figure:    "burst: 5,000 × 1 KB webhooks, 16 clients, embedded",
		weir:      fmt.Sprintf("%.3f s", elapsed.Seconds()),
		reference: fmt.Sprintf("%.3f s raw store enqueues", ref.Seconds()),
		ratio:     fmt.Sprintf("%.2f×", elapsed.Seconds()/ref.Seconds()),
		target:    "≤ 0.5 s",
	}
}

// parallel runs f(0..n-1) on k goroutines and returns the wall time.
func parallel(n, k int, f func(i int) error) time.Duration {
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	start := time.Now()
	for c := range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < n; i += k {
				if err := f(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		fatal(firstErr)
	}
	return time.Since(start)
}

// rawEnqueue times n single-record enqueues from k goroutines on a fresh
// embedded store.
func rawEnqueue(n, k int) time.Duration {
	dir, _ := os.MkdirTemp("", "weirbench-raw-")
	defer os.RemoveAll(dir)
	st, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	return parallel(n, k, func(i int) error {
		_, err := st.Enqueue(ctx, "raw", []store.Record{{Key: fmt.Sprintf("o%06d", i), Version: 1, Payload: order(i)}}, nil)
		return err
	})
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
    poll       = "20ms"
    batch_size = 2000
    key_field  = "id"
  }
  key = record.id
  destination "out" {
    object = "copied"
  }
  workers = 4
}
`

// endToEndEmbedded times n records from a JSON-lines file to the
// destination file, passing through the queue. Reference: the embedded
// store's batched enqueue + lease + ack cycle alone.
func endToEndEmbedded(bin string, n int) row {
	w := newWorkspace(bin, copyPipeline)
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"id":"r%07d","total":%d.99,"status":"Activated"}`+"\n", i, i)
	}
	w.write("in/records.jsonl", b.String())
	start := time.Now()
	addr, stop := w.daemon("e2e")
	defer stop()
	for {
		st := status(addr)
		if st.Delivered >= int64(n) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	rate := float64(n) / elapsed.Seconds()
	ref := rawCycle(n)
	return row{
		figure:    fmt.Sprintf("end to end: %d records jsonl → jsonl, embedded (incl. start-up)", n),
		weir:      fmt.Sprintf("%.0f rec/s", rate),
		reference: fmt.Sprintf("%.0f rec/s raw store cycle", ref),
		ratio:     fmt.Sprintf("%.0f%%", 100*rate/ref),
		target:    "(Redis: ≥ 20,000 rec/s)",
	}
}

// rawCycle measures the embedded store's batched enqueue (500 a commit),
// lease (100) and ack cycle in records per second.
func rawCycle(n int) float64 {
	dir, _ := os.MkdirTemp("", "weirbench-raw-")
	defer os.RemoveAll(dir)
	st, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < n; i += 500 {
		recs := make([]store.Record, 0, 500)
		for j := i; j < min(i+500, n); j++ {
			recs = append(recs, store.Record{Key: fmt.Sprintf("r%07d", j), Version: 1, Payload: []byte(`{"id":"x","total":1.99,"status":"Activated"}`)})
		}
		if _, err := st.Enqueue(ctx, "raw", recs, &store.Checkpoint{Source: "in", Value: []byte("c")}); err != nil {
			fatal(err)
		}
	}
	err = parallelUntil(4, func() (bool, error) {
		leases, err := st.Lease(ctx, "raw", "w", 100, time.Minute)
		if err != nil || len(leases) == 0 {
			return true, err
		}
		out := make([]store.Outcome, len(leases))
		for i, l := range leases {
			out[i] = store.Outcome{Lease: l, Kind: store.Acked}
		}
		return false, st.Settle(ctx, out)
	})
	if err != nil {
		fatal(err)
	}
	return float64(n) / time.Since(start).Seconds()
}

// parallelUntil runs f on k goroutines until each reports done.
func parallelUntil(k int, f func() (bool, error)) error {
	var wg sync.WaitGroup
	errs := make(chan error, k)
	for range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				done, err := f()
				if err != nil {
					errs <- err
					return
				}
				if done {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
