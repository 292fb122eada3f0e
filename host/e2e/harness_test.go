package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/weirhq/weir/host/api"
)

// binDir holds weir and the connectors, built once for the package.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "weir-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	root, _ := filepath.Abs("../..")
	builds := [][2]string{{"weir", "./host/cmd/weir"}, {"weir-connector-jsonl", "./plugins/jsonl"}, {"weir-connector-http", "./plugins/http"},
		{"weir-connector-salesforce", "./plugins/salesforce"}, {"weir-connector-netsuite", "./plugins/netsuite"}, {"weir-connector-sap", "./plugins/sap"}}
	for _, b := range builds {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, b[0]), b[1])
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b[0], err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// workspace is a directory with a pipeline file, its lock and data.
type workspace struct {
	t   *testing.T
	dir string
	env []string
}

func newWorkspace(t *testing.T) *workspace {
	t.Helper()
	return &workspace{t: t, dir: t.TempDir(), env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}}
}

func (w *workspace) path(rel string) string { return filepath.Join(w.dir, rel) }

func (w *workspace) write(rel, content string) {
	w.t.Helper()
	p := w.path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

func (w *workspace) setenv(k, v string) { w.env = append(w.env, k+"="+v) }

// weir runs a CLI command in the workspace and returns its output and exit
// code.
func (w *workspace) weir(args ...string) (stdout, stderr string, code int) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "weir"), args...)
	cmd.Dir = w.dir
	cmd.Env = w.env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		w.t.Fatalf("weir %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// lock pins the connectors for the workspace's pipeline.hcl.
func (w *workspace) lock() {
	w.t.Helper()
	if out, errOut, code := w.weir("plugins", "lock", "-plugin-dir", binDir); code != 0 {
		w.t.Fatalf("plugins lock: exit %d\n%s%s", code, out, errOut)
	}
}

// daemon is a running `weir run`.
type daemon struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	log  *syncBuffer
	done chan struct{}
	err  error
}

// syncBuffer collects a process's output for assertions.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs `weir run` and waits until it is ready.
func (w *workspace) start(extra ...string) *daemon {
	w.t.Helper()
	return w.startAt(freeAddr(w.t), extra...)
}

// startAt starts weir run with its API on addr.
func (w *workspace) startAt(addr string, extra ...string) *daemon {
	w.t.Helper()
	args := append([]string{"run", "-listen", addr, "-progress=false", "-plugin-dir", binDir}, extra...)
	cmd := exec.Command(filepath.Join(binDir, "weir"), args...)
	cmd.Dir = w.dir
	cmd.Env = w.env
	d := &daemon{t: w.t, cmd: cmd, addr: addr, log: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = d.log, d.log
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	go func() { d.err = cmd.Wait(); close(d.done) }()
	w.t.Cleanup(func() { d.kill() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return d
			}
		}
		select {
		case <-d.done:
			w.t.Fatalf("weir run exited before it was ready: %v\n%s", d.err, d.log)
		default:
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("weir run not ready in 20s\n%s", d.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

// kill sends SIGKILL and waits for the process to be gone.
func (d *daemon) kill() {
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

// stop sends SIGTERM and returns the exit code.
func (d *daemon) stop(timeout time.Duration) int {
	d.t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(timeout):
		d.t.Fatalf("weir run did not exit within %v of SIGTERM\n%s", timeout, d.log)
	}
	if ee, ok := d.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return 0
}

// status reads GET /v1/status with the token.
func (d *daemon) status(token string) api.Status {
	d.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+d.addr+"/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st api.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		d.t.Fatal(err)
	}
	return st
}

// metricOK returns the value of a metric line (name with labels) from
// /metrics and whether it was there.
func (d *daemon) metricOK(series string) (float64, bool) {
	d.t.Helper()
	resp, err := http.Get("http://" + d.addr + "/metrics")
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, series+" ") {
			v, _ := strconv.ParseFloat(strings.TrimPrefix(line, series+" "), 64)
			return v, true
		}
	}
	return 0, false
}

// children returns the pids of pid's child processes.
func children(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name is in parentheses and may hold spaces.
		s := string(data)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
}

// readLines returns the JSON objects of a JSON-lines file.
func readLines(t *testing.T, path string) []map[string]json.RawMessage {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]json.RawMessage
	for n := 1; len(data) > 0; n++ {
		line, rest, complete := bytes.Cut(data, []byte("\n"))
		data = rest
		if !complete {
			// An append in progress, or one cut short by SIGKILL: never
			// acknowledged, and the jsonl destination drops it on its next
			// write. Tests that need a clean file check with wholeFile.
			break
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("%s:%d: bad line %q: %v", path, n, line, err)
		}
		out = append(out, m)
	}
	return out
}

// wholeFile fails the test unless the file at path ends with a complete
// line: what a cleanly stopped jsonl destination leaves.
func wholeFile(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("%s ends with a torn line %q", path, data[bytes.LastIndexByte(data, '\n')+1:])
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
