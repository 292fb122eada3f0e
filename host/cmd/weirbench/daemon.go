package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/weirhq/weir/host/api"
)

// cpuSnapshot is the CPU time used so far by a daemon, by each of its
// connector processes (by binary name) and by weirbench itself.
type cpuSnapshot struct {
	host, self time.Duration
	children   map[string]time.Duration
}

// snapshotCPU reads the CPU times of pid, its children and weirbench.
func snapshotCPU(pid int) cpuSnapshot {
	s := cpuSnapshot{host: procCPU(pid), self: procCPU(os.Getpid()), children: map[string]time.Duration{}}
	for _, child := range children(pid) {
		argv, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", child))
		name, _, _ := strings.Cut(string(argv), "\x00")
		s.children[filepath.Base(name)] += procCPU(child)
	}
	return s
}

// since describes the CPU used since an earlier snapshot.
func (s cpuSnapshot) since(before cpuSnapshot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "host %v", s.host-before.host)
	names := make([]string, 0, len(s.children))
	for name := range s.children {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if d := s.children[name] - before.children[name]; d > 0 {
			fmt.Fprintf(&b, ", %s %v", strings.TrimPrefix(name, "weir-connector-"), d)
		}
	}
	fmt.Fprintf(&b, ", weirbench %v", s.self-before.self)
	return b.String()
}

// children returns the pids whose parent is pid.
func children(pid int) []int {
	var out []int
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
			out = append(out, child)
		}
	}
	return out
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

// procStatusKB returns a field of /proc/<pid>/status in bytes, such as
// VmRSS or VmHWM.
func procStatusKB(pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}

// workspace is a temporary directory holding a pipeline and its data.
type workspace struct {
	dir, bin string
	env      []string
}

// newWorkspace writes pipeline into a new directory and locks the plugins;
// env adds NAME=value pairs to the daemons' environment.
func newWorkspace(bin, pipeline string, env ...string) *workspace {
	dir, err := os.MkdirTemp("", "weirbench-")
	if err != nil {
		fatal(err)
	}
	atExit(func() { os.RemoveAll(dir) })
	w := &workspace{dir: dir, bin: bin, env: append([]string{"PATH=" + os.Getenv("PATH"), "WEIR_API_TOKEN=bench", "HOOK_TOKEN=bench-hook"}, env...)}
	w.write("pipeline.hcl", pipeline)
	w.run("plugins", "lock", "-plugin-dir", bin)
	return w
}

// write creates the file rel of the workspace.
func (w *workspace) write(rel, content string) {
	p := filepath.Join(w.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		fatal(err)
	}
}

// run runs a weir command in the workspace and fails unless it succeeds.
func (w *workspace) run(args ...string) {
	cmd := exec.Command(filepath.Join(w.bin, "weir"), args...)
	cmd.Dir, cmd.Env = w.dir, w.env
	if out, err := cmd.CombinedOutput(); err != nil {
		fatal(fmt.Errorf("weir %v: %v\n%s", args, err, out))
	}
}

// logBuffer collects a daemon's output; safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// daemon is one running `weir run`.
type daemon struct {
	name string
	addr string
	pid  int
	cmd  *exec.Cmd
	logs *logBuffer
	done chan struct{} // closed once the process has exited
}

// start runs `weir run` in the workspace, with env added to the
// workspace's, and waits until it is ready. It is killed at exit unless
// stopped before.
func (w *workspace) start(name string, env ...string) *daemon {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	args := []string{"run", "-listen", addr, "-progress=false", "-log-level", "warn", "-plugin-dir", w.bin}
	if cpuProfile != "" {
		p, _ := filepath.Abs(cpuProfile + "." + name)
		args = append(args, "-cpuprofile", p)
	}
	cmd := exec.Command(filepath.Join(w.bin, "weir"), args...)
	cmd.Dir, cmd.Env = w.dir, append(append([]string{}, w.env...), env...)
	d := &daemon{name: name, addr: addr, cmd: cmd, logs: &logBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = d.logs, d.logs
	if err := cmd.Start(); err != nil {
		fatal(err)
	}
	d.pid = cmd.Process.Pid
	go func() {
		cmd.Wait()
		close(d.done)
	}()
	atExit(d.kill)
	deadline := time.Now().Add(30 * time.Second)
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
			fatal(fmt.Errorf("weir run (%s) exited:\n%s", name, d.logs.String()))
		default:
		}
		if time.Now().After(deadline) {
			d.kill()
			fatal(fmt.Errorf("weir run (%s) not ready:\n%s", name, d.logs.String()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop asks the daemon to stop (SIGTERM) and waits, killing it if it takes
// longer than its drain.
func (d *daemon) stop() {
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(40 * time.Second):
		d.kill()
	}
}

// kill ends the daemon at once (SIGKILL); its connectors die with it.
func (d *daemon) kill() {
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

// status returns the daemon's first pipeline's status.
func (d *daemon) status() api.PipelineStatus {
	req, _ := http.NewRequest("GET", "http://"+d.addr+"/v1/status", nil)
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

// waitDelivered waits until the daemon's pipeline has delivered n records,
// or timeout passes; it reports whether it got there.
func (d *daemon) waitDelivered(n int64, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if d.status().Delivered >= n {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}
