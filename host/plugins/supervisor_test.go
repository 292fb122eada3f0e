package plugins

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weirhq/weir/host/logging"
	"github.com/weirhq/weir/sdk"
)

// Environment of the helper "host" process (TestHelperHost).
const (
	helperHostEnv = "WEIR_TEST_HELPER_HOST"
	helperBinEnv  = "WEIR_TEST_HELPER_CONNECTOR"
)

// waitTimeout bounds every wait in these tests.
const waitTimeout = 10 * time.Second

var (
	// crashyBin is the test connector, built once by TestMain.
	crashyBin string
	// crashySum is its SHA-256.
	crashySum []byte
)

func TestMain(m *testing.M) {
	// Keep the main thread to the main goroutine: the runtime never ends
	// the main thread, so a test goroutine that locked it and exited would
	// not end its thread, and TestStartFromExitingThread would prove nothing.
	runtime.LockOSThread()
	os.Exit(runTests(m))
}

// runTests builds the test connector (unless this is the helper host,
// which is handed its path) and runs the tests.
func runTests(m *testing.M) int {
	crashyBin = os.Getenv(helperBinEnv)
	if crashyBin == "" {
		dir, err := os.MkdirTemp("", "weir-plugins-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		crashyBin = filepath.Join(dir, BinaryName("crashy"))
		out, err := exec.Command("go", "build", "-o", crashyBin, "./testdata/crashy").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build test connector: %v\n%s", err, out)
			return 1
		}
	}
	var err error
	if crashySum, err = Checksum(crashyBin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything logged so far.
func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fastTiming is supervision timing for tests: quick health checks, the
// production restart backoff.
var fastTiming = timing{
	healthInterval: 100 * time.Millisecond, healthTimeout: 200 * time.Millisecond, healthFailures: 2,
	backoffBase: restartBackoffBase, backoffMax: restartBackoffMax,
	stablePeriod: stableRunPeriod, startTimeout: waitTimeout,
}

// harness is a started supervisor of the crashy connector.
type harness struct {
	s       *Supervisor
	logs    *logBuffer
	metrics *Metrics
}

// startCrashy starts a supervisor of crashy for connection conn, with
// settings as its configuration. It is stopped when the test ends.
func startCrashy(t *testing.T, conn string, settings string, edit func(*Config)) *harness {
	t.Helper()
	h := &harness{logs: &logBuffer{}, metrics: NewMetrics(prometheus.NewRegistry())}
	cfg := Config{
		Connection: conn, Connector: "crashy", Binary: crashyBin, Checksum: crashySum,
		Env:      []string{"CRASHY_TEST_VAR=present"},
		Settings: sdk.Config{Raw: json.RawMessage(settings)},
		Logger:   slog.New(logging.NewHandler(h.logs, slog.LevelDebug, logging.FormatText)),
		Metrics:  h.metrics,
	}
	if edit != nil {
		edit(&cfg)
	}
	h.s = New(cfg)
	h.s.timing = fastTiming
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := h.s.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		h.s.Stop(context.Background())
		if t.Failed() {
			t.Logf("logs:\n%s", h.logs)
		}
	})
	return h
}

// pid asks the live connector for its process id.
func (h *harness) pid(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := h.s.Client(ctx)
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	return lookupPID(t, ctx, c)
}

// lookupPID asks c for its process id.
func lookupPID(t *testing.T, ctx context.Context, c *sdk.Client) int {
	t.Helper()
	raw, err := c.Lookup(ctx, sdk.LookupRequest{Object: "pid"})
	if err != nil {
		t.Fatalf("Lookup pid: %v", err)
	}
	pid, err := strconv.Atoi(string(raw))
	if err != nil {
		t.Fatalf("pid %q: %v", raw, err)
	}
	return pid
}

// lookup asks the live connector to carry out action.
func (h *harness) lookup(t *testing.T, action string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := h.s.Client(ctx)
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	if _, err := c.Lookup(ctx, sdk.LookupRequest{Object: action}); err != nil {
		t.Fatalf("Lookup %s: %v", action, err)
	}
}

// waitForRestart waits until a connector other than oldPID answers, and
// returns its pid.
func (h *harness) waitForRestart(t *testing.T, oldPID int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for {
		c, err := h.s.Client(ctx)
		if err != nil {
			t.Fatalf("Client while waiting for the restart: %v", err)
		}
		if raw, err := c.Lookup(ctx, sdk.LookupRequest{Object: "pid"}); err == nil {
			if pid, _ := strconv.Atoi(string(raw)); pid != oldPID {
				return pid
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("connector %d not replaced within %s", oldPID, waitTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitFor polls cond until it holds or waitTimeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// processGone reports whether pid has exited (a zombie counts as gone).
func processGone(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name.
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z'
}

func TestSupervisorStartClientDescribe(t *testing.T) {
	t.Setenv("WEIR_HOST_ONLY_VAR", "host")
	h := startCrashy(t, "crm", `{}`, nil)

	d := h.s.Description()
	if d.Name != "crashy" || d.Version != "0.1.0" {
		t.Errorf("Description = %q %q, want crashy 0.1.0", d.Name, d.Version)
	}
	env := strings.Split(d.Description, "\n")
	if !contains(env, "CRASHY_TEST_VAR=present") {
		t.Errorf("connector environment lacks CRASHY_TEST_VAR: %q", env)
	}
	for _, v := range env {
		for _, host := range []string{"HOME=", "PATH=", "WEIR_HOST_ONLY_VAR="} {
			if strings.HasPrefix(v, host) {
				t.Errorf("connector sees host variable %q", v)
			}
		}
	}

	ctx := t.Context()
	c1, err := h.s.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := h.s.Client(ctx)
	if err != nil || c1 != c2 {
		t.Errorf("Client is not idempotent: %p, %p, %v", c1, c2, err)
	}
	if pid := lookupPID(t, ctx, c1); pid != h.s.cur.proc.pid() {
		t.Errorf("connector pid %d, supervisor has %d", pid, h.s.cur.proc.pid())
	}
	if !h.s.Up() || testutil.ToFloat64(h.metrics.up.WithLabelValues("crm")) != 1 {
		t.Error("connector not reported up")
	}

	h.s.Stop(ctx)
	if _, err := h.s.Client(ctx); !errors.Is(err, ErrStopped) {
		t.Errorf("Client after Stop: %v, want ErrStopped", err)
	}
	if h.s.Up() || testutil.ToFloat64(h.metrics.up.WithLabelValues("crm")) != 0 {
		t.Error("connector still reported up after Stop")
	}
}

// contains reports whether list holds s.
func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestSupervisorRestartsCrashedConnector(t *testing.T) {
	tests := []struct {
		name   string
		crash  func(t *testing.T, h *harness, pid int)
		reason string
		log    string // another line the crash must log
	}{
		{"sigkill", func(t *testing.T, _ *harness, pid int) {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}, `reason="process exited: signal: killed"`, ""},
		{"exit", func(t *testing.T, h *harness, _ int) { h.lookup(t, "exit") },
			`reason="process exited: exit status 7"`, ""},
		{"panic", func(t *testing.T, h *harness, _ int) { h.lookup(t, "panic") },
			`reason="process exited: exit status 2"`, `level=ERROR msg="panic: crashy: asked to panic"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startCrashy(t, "erp-"+tt.name, `{}`, nil)
			oldPID := h.pid(t)
			start := time.Now()
			tt.crash(t, h, oldPID)
			newPID := h.waitForRestart(t, oldPID)
			t.Logf("crash to working client of the restarted connector: %s", time.Since(start).Round(time.Millisecond))

			if got := testutil.ToFloat64(h.metrics.restarts.WithLabelValues("erp-" + tt.name)); got != 1 {
				t.Errorf("%s = %v, want 1", metricRestarts, got)
			}
			if got := testutil.ToFloat64(h.metrics.up.WithLabelValues("erp-" + tt.name)); got != 1 {
				t.Errorf("%s = %v after the restart, want 1", metricUp, got)
			}
			if !processGone(oldPID) {
				t.Errorf("old connector %d still running", oldPID)
			}
			logs := h.logs.String()
			want := []string{
				`level=WARN msg="connector crashed; restarting" connection=erp-` + tt.name,
				tt.reason, "attempt=1 delay=200ms",
				fmt.Sprintf(`level=INFO msg="connector restarted" connection=erp-%s connector=crashy attempt=1 pid=%d`, tt.name, newPID),
			}
			if tt.log != "" {
				want = append(want, tt.log)
			}
			for _, w := range want {
				if !strings.Contains(logs, w) {
					t.Errorf("log lacks %q:\n%s", w, logs)
				}
			}
			if d := h.s.Description(); d.Name != "crashy" {
				t.Errorf("Description after restart: %+v", d)
			}
		})
	}
}

func TestSupervisorRestartsHungConnector(t *testing.T) {
	h := startCrashy(t, "hung", `{}`, nil)
	oldPID := h.pid(t)
	start := time.Now()
	h.lookup(t, "hang")
	newPID := h.waitForRestart(t, oldPID)
	t.Logf("hang to working client of the restarted connector: %s", time.Since(start).Round(time.Millisecond))

	waitFor(t, "the hung process to be killed", func() bool { return processGone(oldPID) })
	if newPID == oldPID {
		t.Fatal("not restarted")
	}
	logs := h.logs.String()
	for _, w := range []string{
		`msg="connector health check failed" connection=hung connector=crashy error=`,
		`failures=2 limit=2`,
		`reason="unresponsive: 2 health checks failed in a row, last: `,
		`msg="connector restarted"`,
	} {
		if !strings.Contains(logs, w) {
			t.Errorf("log lacks %q:\n%s", w, logs)
		}
	}
	if got := testutil.ToFloat64(h.metrics.restarts.WithLabelValues("hung")); got != 1 {
		t.Errorf("%s = %v, want 1", metricRestarts, got)
	}
}

// TestStartFromExitingThread starts a connector from a goroutine whose OS
// thread then exits: the connector must not get Pdeathsig from it.
func TestStartFromExitingThread(t *testing.T) {
	logs := &logBuffer{}
	s := New(Config{
		Connection: "thread", Connector: "crashy", Binary: crashyBin, Checksum: crashySum,
		Logger: slog.New(logging.NewHandler(logs, slog.LevelDebug, logging.FormatText)),
	})
	s.timing = fastTiming
	t.Cleanup(func() { s.Stop(context.Background()) })
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		errc <- s.Start(t.Context())
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	pid := s.cur.proc.pid()
	time.Sleep(4 * fastTiming.healthInterval)
	c, err := s.Client(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := lookupPID(t, t.Context(), c); got != pid {
		t.Errorf("connector %d replaced by %d; logs:\n%s", pid, got, logs)
	}
}

// TestHelperHost is the "host" process of TestHostKillTakesConnectorDown:
// it starts a supervised connector, prints its pid and waits to be killed.
func TestHelperHost(t *testing.T) {
	if os.Getenv(helperHostEnv) == "" {
		t.Skip("helper process of TestHostKillTakesConnectorDown")
	}
	s := New(Config{Connection: "helper", Connector: "crashy", Binary: crashyBin, Checksum: crashySum,
		Logger: slog.New(slog.DiscardHandler)})
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("pid=%d\n", s.cur.proc.pid())
	select {}
}

func TestHostKillTakesConnectorDown(t *testing.T) {
	host := exec.Command(os.Args[0], "-test.run=^TestHelperHost$")
	host.Env = append(os.Environ(), helperHostEnv+"=1", helperBinEnv+"="+crashyBin)
	host.Stderr = os.Stderr
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = host.Process.Kill()
		_ = host.Wait()
	})
	pid := 0
	sc := bufio.NewScanner(out)
	for pid == 0 && sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "pid="); ok {
			pid, _ = strconv.Atoi(v)
		}
	}
	if pid == 0 {
		t.Fatalf("helper host printed no connector pid (%v)", sc.Err())
	}
	if processGone(pid) {
		t.Fatalf("connector %d not running before the host is killed", pid)
	}

	if err := host.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	_ = host.Wait()
	deadline := killed.Add(2 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("connector %d outlived its host by 2s", pid)
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("connector gone %s after the host's SIGKILL", time.Since(killed).Round(time.Millisecond))
}

func TestChecksumVerification(t *testing.T) {
	dir := t.TempDir()
	lockPath := filepath.Join(dir, LockFileName)
	wrong := bytes.Repeat([]byte{0x9f}, len(crashySum))
	tests := []struct {
		name    string
		pinned  []byte // nil: crashy is not in the lock file
		wantErr []string
	}{
		{"wrong sum", wrong, []string{
			`connector "crashy": checksum mismatch: ` + lockPath + " pins sha256 " + hex.EncodeToString(wrong),
			crashyBin + " has " + hex.EncodeToString(crashySum), `run "weir plugins lock"`,
		}},
		{"missing from lock", nil, []string{
			`connector "crashy": not pinned in ` + lockPath, crashyBin + " has sha256 " + hex.EncodeToString(crashySum),
		}},
		{"correct sum", crashySum, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lock := &Lock{}
			lock.Pin("other", "1.0.0", wrong)
			if tt.pinned != nil {
				lock.Pin("crashy", "0.1.0", tt.pinned)
			}
			if err := lock.Write(lockPath); err != nil {
				t.Fatal(err)
			}
			lock, err := ReadLock(lockPath)
			if err != nil {
				t.Fatal(err)
			}

			// The CLI's check.
			_, verifyErr := lock.Verify("crashy", crashyBin)
			// The supervisor's own check, at exec time.
			s := New(Config{
				Connection: "pinned", Connector: "crashy", Binary: crashyBin, LockFile: lock.Path,
				Checksum: lock.Connectors["crashy"].SHA256, Logger: slog.New(slog.DiscardHandler),
			})
			startErr := s.Start(t.Context())
			t.Cleanup(func() { s.Stop(context.Background()) })

			for _, err := range []error{verifyErr, startErr} {
				if tt.wantErr == nil {
					if err != nil {
						t.Errorf("unexpected error: %v", err)
					}
					continue
				}
				var ce *ChecksumError
				if !errors.Is(err, ErrUnverified) || !errors.As(err, &ce) {
					t.Fatalf("error %v does not match ErrUnverified and *ChecksumError", err)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
			}
			if tt.wantErr == nil {
				if _, err := s.Client(t.Context()); err != nil {
					t.Errorf("Client: %v", err)
				}
			}
		})
	}
}

func TestStartRejectedConfiguration(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	s := New(Config{
		Connection: "bad", Connector: "crashy", Binary: crashyBin, Checksum: crashySum,
		Settings: sdk.Config{Raw: json.RawMessage(`{"reject": true}`)}, Metrics: m,
		Logger: slog.New(slog.DiscardHandler),
	})
	s.timing = fastTiming
	err := s.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), `connection "bad": connector "crashy": configure:`) ||
		!strings.Contains(err.Error(), "rejected: reject is set") {
		t.Fatalf("Start = %v, want the connector's rejection", err)
	}
	time.Sleep(3 * fastTiming.healthInterval)
	if got := testutil.ToFloat64(m.restarts.WithLabelValues("bad")); got != 0 {
		t.Errorf("a failed first start was retried %v times", got)
	}
	if _, err := s.Client(t.Context()); err == nil {
		t.Error("Client after a failed Start returned a client")
	}
}

func TestConnectorLogsAndRedaction(t *testing.T) {
	const secret = "sup3r-s3cret-value"
	settings := `{"secret": "` + secret + `", "leak": true}`
	tests := []struct {
		name   string
		redact bool
	}{
		{"redacted", true},
		{"control without redaction", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startCrashy(t, "leaky", settings, func(c *Config) {
				if tt.redact {
					c.Logger = slog.New(logging.Redact(c.Logger.Handler(), func() []string { return []string{secret} }))
				}
			})
			h.lookup(t, "hostile") // must not crash the host
			leak := secret
			if tt.redact {
				leak = logging.Redacted
			}
			want := []string{
				`level=INFO msg=configured connection=leaky settings.leak=true settings.secret_set=true`,
				`level=WARN msg="leaking ` + leak + `" connection=leaky token=` + leak + ` auth.header="Bearer ` + leak + `"`,
				`level=INFO msg="plain stderr line with ` + leak + `" connection=leaky`,
				`level=INFO msg="plain stderr line" connection=leaky`,
				`level=INFO msg="{\"@message\": 5, \"@level\": \"error\"}" connection=leaky`,
			}
			waitFor(t, "the connector's log lines", func() bool {
				logs := h.logs.String()
				for _, w := range want {
					if !strings.Contains(logs, w) {
						return false
					}
				}
				return true
			})
			if got := strings.Contains(h.logs.String(), secret); got == tt.redact {
				t.Errorf("secret in logs = %v, redaction on = %v", got, tt.redact)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	d, err := Describe(t.Context(), crashyBin, crashySum, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "crashy" || d.Version != "0.1.0" || len(d.Config) != 3 {
		t.Errorf("Describe = %+v", d)
	}
	if strings.Contains(d.Description, "HOME=") {
		t.Error("a described connector sees the host environment")
	}
	if _, err := Describe(t.Context(), crashyBin, nil, nil); !errors.Is(err, ErrUnverified) {
		t.Errorf("Describe without a checksum: %v, want ErrUnverified", err)
	}
}

func TestBackoff(t *testing.T) {
	s := New(Config{Connection: "b"})
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{1, 200 * time.Millisecond},
		{2, 400 * time.Millisecond},
		{3, 800 * time.Millisecond},
		{8, 25600 * time.Millisecond},
		{9, 30 * time.Second},
		{100, 30 * time.Second},
	}
	for _, tt := range tests {
		if got := s.backoff(tt.attempt); got != tt.want {
			t.Errorf("backoff(%d) = %s, want %s", tt.attempt, got, tt.want)
		}
	}
}

func TestNewMetricsSharesRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, b := NewMetrics(reg), NewMetrics(reg)
	a.restarted("x")
	if got := testutil.ToFloat64(b.restarts.WithLabelValues("x")); got != 1 {
		t.Errorf("second Metrics sees %v restarts, want 1", got)
	}
	var nilMetrics *Metrics
	nilMetrics.restarted("x") // no panic
	nilMetrics.setUp("x", true)
}
