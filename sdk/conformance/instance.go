package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/weirhq/weir/sdk"
)

// Connection is the connection name the kit configures connectors with.
const Connection = "conformance"

// Instance is a running, configured connector process.
type Instance struct {
	// Client is the host's handle on the connector.
	Client *sdk.Client
	// Host is the host services the connector was configured with.
	Host *Host

	plugin *plugin.Client
	cmd    *exec.Cmd
	logs   *logBuffer

	mu     sync.Mutex
	killed bool
	closed bool
}

// Start launches tg.Binary exactly as the host does (sdk.ClientConfig,
// plugin.NewClient, sdk.Dispense), configures it with tg.Config and a Host
// handing out tg.Token, and stops it when t ends. Everything the process
// writes to stderr and stdout, and the go-plugin client's own log, is kept
// for Logs.
func Start(t *testing.T, tg Target) *Instance {
	t.Helper()
	inst := launch(t, tg)
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()
	cfg := sdk.Config{Connection: Connection, Raw: tg.Config}
	if err := inst.Client.Configure(ctx, cfg, inst.Host); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return inst
}

// launch starts the process without configuring it.
func launch(t *testing.T, tg Target) *Instance {
	t.Helper()
	logs := &logBuffer{}
	cmd := exec.Command(tg.Binary)
	cmd.Env = tg.Env
	cfg := sdk.ClientConfig(cmd)
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "host", Output: logs, Level: hclog.Trace})
	cfg.Stderr, cfg.SyncStderr, cfg.SyncStdout = logs, logs, logs
	pc := plugin.NewClient(cfg)
	inst := &Instance{Host: NewHost(tg.Token), plugin: pc, cmd: cmd, logs: logs}
	t.Cleanup(func() {
		inst.Close(t)
		if t.Failed() {
			t.Logf("connector log (secrets redacted):\n%s", redact(logs.String(), append([]string{tg.Token}, tg.Secrets...)))
		}
	})
	client, err := sdk.Dispense(pc)
	if err != nil {
		t.Fatalf("start %s: %v", tg.Binary, err)
	}
	inst.Client = client
	return inst
}

// Kill kills the connector process with SIGKILL, as a crash would.
func (i *Instance) Kill() {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.cmd.Process != nil && !i.closed {
		_ = i.cmd.Process.Kill()
		i.killed = true
	}
}

// Close stops the connector the way the host does and fails t if a limiter
// lease was released twice or, unless the process was killed, never.
// Calling it again does nothing.
func (i *Instance) Close(t *testing.T) {
	t.Helper()
	i.mu.Lock()
	if i.closed {
		i.mu.Unlock()
		return
	}
	i.closed = true
	killed := i.killed
	i.mu.Unlock()
	i.plugin.Kill()
	for _, p := range i.Host.problems(!killed) {
		t.Error(p)
	}
}

// Logs returns everything the connector logged so far.
func (i *Instance) Logs() string { return i.logs.String() }

// logBuffer is a bytes.Buffer safe for the go-plugin goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// withAttribute returns the JSON object obj with one more attribute.
func withAttribute(obj json.RawMessage, name string, value any) json.RawMessage {
	m := map[string]any{}
	_ = json.Unmarshal(obj, &m)
	m[name] = value
	out, _ := json.Marshal(m)
	return out
}
