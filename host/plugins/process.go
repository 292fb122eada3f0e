package plugins

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/weirhq/weir/sdk"
)

// exitPollInterval is how often the thread that started a connector checks
// whether the process has exited (go-plugin offers Exited, not a channel).
const exitPollInterval = 50 * time.Millisecond

// stopGrace bounds a graceful stop (go-plugin's Shutdown RPC) before the
// process is killed.
const stopGrace = 5 * time.Second

// launchSpec says how to start one connector process.
type launchSpec struct {
	connector string
	binary    string
	checksum  []byte
	// lockFile is named in checksum errors.
	lockFile string
	// env is the whole environment of the process, besides go-plugin's
	// handshake variables.
	env []string
	// log receives the process's stderr; it tags lines with hostKeys.
	log          *slog.Logger
	hostKeys     []string
	startTimeout time.Duration
}

// process is one running connector process.
type process struct {
	pc  *plugin.Client
	cmd *exec.Cmd
	// logs receive the process's output, flushed once it has exited.
	logs []*connectorLog
	// exited is closed once the process has exited and go-plugin has
	// reaped it.
	exited chan struct{}
}

// startProcess starts a connector process and waits for go-plugin's
// handshake, bounded by ctx and spec.startTimeout.
//
// The process gets Pdeathsig SIGKILL, so it dies with the host. The kernel
// sends that signal when the OS thread that forked the child exits, not the
// process (golang/go#27505), so the fork happens on a goroutine locked to its
// thread that stays parked for as long as the process runs.
func startProcess(ctx context.Context, spec launchSpec) (*process, error) {
	if len(spec.checksum) == 0 {
		actual, _ := Checksum(spec.binary)
		return nil, &ChecksumError{Connector: spec.connector, LockFile: spec.lockFile, Binary: spec.binary, Actual: actual}
	}
	cmd := exec.Command(spec.binary)
	// A fresh, clipped slice: go-plugin appends its handshake variables to
	// cmd.Env, which must not write into the caller's backing array.
	cmd.Env = slices.Clip(append([]string{}, spec.env...))
	// Its own process group: a Ctrl-C at the host's terminal reaches the
	// host, which drains and then stops its connectors, not the connectors
	// directly (they would die mid-drain and be restarted).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}

	// The process's stderr, and what its code writes to os.Stderr and
	// os.Stdout once go-plugin has redirected them to its stdio stream, go
	// to the host's log; each stream is split into lines on its own.
	logs := make([]*connectorLog, 3)
	for i := range logs {
		logs[i] = newConnectorLog(spec.log, spec.hostKeys...)
	}
	cc := sdk.ClientConfig(cmd)
	cc.SecureConfig = &plugin.SecureConfig{Checksum: spec.checksum, Hash: sha256.New()}
	cc.StartTimeout = spec.startTimeout
	cc.Stderr, cc.SyncStderr, cc.SyncStdout = logs[0], logs[1], logs[2]
	// go-plugin's own parsing of plugin stderr is off (see connectorLog);
	// the supervisor logs lifecycle events itself.
	cc.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Off, Output: io.Discard})

	p := &process{pc: plugin.NewClient(cc), cmd: cmd, logs: logs, exited: make(chan struct{})}
	started := make(chan error, 1)
	go p.run(started)
	select {
	case err := <-started:
		if err != nil {
			return nil, startError(spec, err)
		}
		return p, nil
	case <-ctx.Done():
		go func() {
			if <-started == nil {
				p.kill()
			}
		}()
		return nil, fmt.Errorf("connector %q: start: %w", spec.connector, ctx.Err())
	}
}

// startError explains a failed start; a checksum mismatch found by go-plugin
// at exec time becomes a *ChecksumError.
func startError(spec launchSpec, err error) error {
	if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
		actual, _ := Checksum(spec.binary)
		return &ChecksumError{Connector: spec.connector, LockFile: spec.lockFile, Binary: spec.binary, Pinned: spec.checksum, Actual: actual}
	}
	return fmt.Errorf("connector %q: start %s: %w", spec.connector, spec.binary, err)
}

// run starts the process on this goroutine's locked thread, reports the
// outcome on started, and keeps the thread until the process has exited.
func (p *process) run(started chan<- error) {
	runtime.LockOSThread()
	// Never unlocked: returning from a locked goroutine ends its thread,
	// which is harmless once the connector is gone.
	_, err := p.pc.Start()
	started <- err
	if err != nil {
		return
	}
	for !p.pc.Exited() {
		time.Sleep(exitPollInterval)
	}
	for _, l := range p.logs {
		l.Flush()
	}
	close(p.exited)
}

// pid returns the process id.
func (p *process) pid() int { return p.cmd.Process.Pid }

// hasExited reports whether the process has exited.
func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// exitStatus describes how the process ended ("exit status 3", "signal:
// killed"); call it after exited is closed.
func (p *process) exitStatus() string {
	if st := p.cmd.ProcessState; st != nil {
		return st.String()
	}
	return "unknown status"
}

// ping checks the process's health by RPC: the gRPC health service that
// go-plugin's ClientProtocol.Ping calls, with ctx's deadline (Ping has none).
func (p *process) ping(ctx context.Context) error {
	rpc, err := p.pc.Client()
	if err != nil {
		return err
	}
	gc, ok := rpc.(*plugin.GRPCClient)
	if !ok {
		return fmt.Errorf("unexpected plugin protocol client %T", rpc)
	}
	resp, err := grpc_health_v1.NewHealthClient(gc.Conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: plugin.GRPCServiceName})
	if err != nil {
		return err
	}
	if s := resp.GetStatus(); s != grpc_health_v1.HealthCheckResponse_SERVING {
		return fmt.Errorf("health status %s", s)
	}
	return nil
}

// kill ends the process at once (SIGKILL), releases go-plugin's resources
// and waits until the process has exited.
func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	p.pc.Kill()
	<-p.exited
}

// stop asks the process to exit (go-plugin's Shutdown RPC), kills it when
// that takes longer than stopGrace or ctx allows, and waits until it has
// exited.
func (p *process) stop(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		p.pc.Kill()
		close(done)
	}()
	grace := time.NewTimer(stopGrace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		_ = p.cmd.Process.Kill()
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
	}
	<-done
	<-p.exited
}

// instance is a started, described and (for a connection) configured
// connector.
type instance struct {
	proc   *process
	client *sdk.Client
	desc   sdk.Description
	since  time.Time
}

// startInstance starts a process, dispenses its client, describes it and,
// when settings is not nil, configures it with settings and host.
func startInstance(ctx context.Context, spec launchSpec, settings *sdk.Config, host sdk.HostServices) (*instance, error) {
	proc, err := startProcess(ctx, spec)
	if err != nil {
		return nil, err
	}
	fail := func(step string, err error) (*instance, error) {
		proc.kill()
		return nil, fmt.Errorf("connector %q: %s: %w", spec.connector, step, err)
	}
	client, err := sdk.Dispense(proc.pc)
	if err != nil {
		return fail("dispense", err)
	}
	desc, err := client.Describe(ctx)
	if err != nil {
		return fail("describe", err)
	}
	if settings != nil {
		if err := client.Configure(ctx, *settings, host); err != nil {
			return fail("configure", err)
		}
	}
	return &instance{proc: proc, client: client, desc: desc, since: time.Now()}, nil
}

// Describe starts the connector binary, asks it to describe itself and
// stops it: for "weir validate" and "weir plugins list". The binary must
// match checksum; its stderr is logged through logger (nil: discarded).
func Describe(ctx context.Context, binary string, checksum []byte, logger *slog.Logger) (sdk.Description, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	name := strings.TrimPrefix(filepath.Base(binary), BinaryPrefix)
	spec := launchSpec{
		connector: name, binary: binary, checksum: checksum,
		log: logger.With("connector", name), hostKeys: []string{"connector"}, startTimeout: startTimeout,
	}
	inst, err := startInstance(ctx, spec, nil, nil)
	if err != nil {
		return sdk.Description{}, err
	}
	inst.proc.stop(ctx)
	return inst.desc, nil
}
