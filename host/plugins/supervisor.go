package plugins

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/weirhq/weir/sdk"
)

// Supervision timings.
const (
	// healthInterval is how often a running connector is health-checked.
	healthInterval = 2 * time.Second
	// healthTimeout bounds one health check.
	healthTimeout = time.Second
	// healthFailures consecutive failed health checks mark a connector as
	// hung: it is killed and restarted.
	healthFailures = 3
	// restartBackoffBase is the delay before the first restart after a
	// crash; each further consecutive restart doubles it.
	restartBackoffBase = 200 * time.Millisecond
	// restartBackoffMax caps the restart delay.
	restartBackoffMax = 30 * time.Second
	// stableRunPeriod of running resets the restart backoff.
	stableRunPeriod = time.Minute
	// startTimeout bounds a restart's handshake, Describe and Configure.
	startTimeout = 30 * time.Second
)

// logKeyConnection is the attribute naming the connection on log lines.
const logKeyConnection = "connection"

// ErrStopped is returned by Client after Stop.
var ErrStopped = errors.New("connector supervisor stopped")

// Config configures the Supervisor of one connection.
type Config struct {
	// Connection is the connection's name, tagged on every log line.
	Connection string
	// Connector is the connector's name, e.g. "jsonl".
	Connector string
	// Binary is the connector executable (see Find).
	Binary string
	// Checksum is the binary's SHA-256 pinned in the lock file (see
	// Lock.Verify). Required: the binary is checked against it before every
	// start, and a missing or differing checksum is refused.
	Checksum []byte
	// LockFile is the lock file Checksum comes from, named in errors;
	// LockFileName when empty.
	LockFile string
	// Env is the whole environment the connector sees; nothing is inherited
	// from the host (go-plugin adds its handshake variables).
	Env []string
	// Settings is the connection's configuration, passed to Configure after
	// every start. Settings.Connection defaults to Connection.
	Settings sdk.Config
	// Host is served to the connector (tokens, limiter); nil for none.
	Host sdk.HostServices
	// Logger receives supervision events and the connector's own log lines,
	// tagged connection=<Connection>; slog.Default() when nil.
	Logger *slog.Logger
	// Metrics records restarts and liveness; nil for none.
	Metrics *Metrics
}

// timing holds the supervision timings; tests shorten them.
type timing struct {
	healthInterval, healthTimeout time.Duration
	healthFailures                int
	backoffBase, backoffMax       time.Duration
	stablePeriod, startTimeout    time.Duration
}

// defaultTiming is the production supervision timing.
var defaultTiming = timing{
	healthInterval: healthInterval, healthTimeout: healthTimeout, healthFailures: healthFailures,
	backoffBase: restartBackoffBase, backoffMax: restartBackoffMax,
	stablePeriod: stableRunPeriod, startTimeout: startTimeout,
}

// state is a Supervisor's life stage.
type state int

// Supervisor states.
const (
	stateIdle state = iota
	stateStarting
	stateRunning
	stateStopped
)

// Supervisor runs one connection's connector process: it starts it, checks
// its health by RPC, restarts it with backoff when it exits or hangs, and
// hands out a client for the live instance. Its methods are safe for
// concurrent use.
type Supervisor struct {
	cfg    Config
	log    *slog.Logger
	timing timing

	mu    sync.Mutex
	state state
	// cur is the live instance, nil while the connector is down.
	cur  *instance
	desc sdk.Description
	// ready is closed when cur is set or the supervisor stops.
	ready chan struct{}
	// downReason says why the connector is down (last exit or start error).
	downReason string
	// restarts counts restart attempts since the first start.
	restarts int
	cancel   context.CancelFunc
	// done is closed when the supervision goroutine returns.
	done chan struct{}
}

// New returns a supervisor for cfg; Start starts the connector.
func New(cfg Config) *Supervisor {
	if cfg.Settings.Connection == "" {
		cfg.Settings.Connection = cfg.Connection
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	cfg.Metrics.init(cfg.Connection)
	return &Supervisor{
		cfg:    cfg,
		log:    log.With(logKeyConnection, cfg.Connection),
		timing: defaultTiming,
		ready:  make(chan struct{}),
	}
}

// Start starts the connector, describes and configures it, and supervises it
// from then on. The first start is not retried: its error (a checksum
// refused, matching ErrUnverified; a configuration the connector rejects; a
// binary that does not start) is returned and the supervisor can be started
// again.
func (s *Supervisor) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.state != stateIdle {
		s.mu.Unlock()
		return fmt.Errorf("connection %q: supervisor already started", s.cfg.Connection)
	}
	s.state = stateStarting
	s.mu.Unlock()

	inst, err := s.startInstance(ctx)

	s.mu.Lock()
	if s.state == stateStopped {
		s.mu.Unlock()
		if inst != nil {
			inst.proc.kill()
		}
		return ErrStopped
	}
	if err != nil {
		s.state = stateIdle
		s.mu.Unlock()
		return err
	}
	superviseCtx, cancel := context.WithCancel(context.Background())
	s.state, s.cancel, s.done = stateRunning, cancel, make(chan struct{})
	s.publishLocked(inst)
	s.mu.Unlock()

	s.log.Info("connector started", "connector", s.cfg.Connector, "version", inst.desc.Version, "pid", inst.proc.pid())
	go s.supervise(superviseCtx, inst)
	return nil
}

// Client returns the client of the live connector instance. While the
// connector is restarting it waits, bounded by ctx, for the new instance.
// Calls on a client whose process has died fail as retryable; call Client
// again for the current one.
func (s *Supervisor) Client(ctx context.Context) (*sdk.Client, error) {
	for {
		s.mu.Lock()
		st, cur, ready, reason := s.state, s.cur, s.ready, s.downReason
		s.mu.Unlock()
		switch st {
		case stateIdle, stateStarting:
			return nil, fmt.Errorf("connection %q: connector %q not started", s.cfg.Connection, s.cfg.Connector)
		case stateStopped:
			return nil, ErrStopped
		}
		if cur != nil {
			if !cur.proc.hasExited() {
				return cur.client, nil
			}
			s.down(cur, "process exited: "+cur.proc.exitStatus())
			continue
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("connection %q: connector %q is down (%s) and restarting: %w", s.cfg.Connection, s.cfg.Connector, reason, ctx.Err())
		}
	}
}

// Description returns what the connector reported at its latest start.
func (s *Supervisor) Description() sdk.Description {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.desc
}

// Restarts returns how many times the connector was restarted.
func (s *Supervisor) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// Up reports whether the connector process is running and not known to be
// unhealthy.
func (s *Supervisor) Up() bool {
	s.mu.Lock()
	cur := s.cur
	s.mu.Unlock()
	return cur != nil && !cur.proc.hasExited()
}

// Stop stops supervising and stops the connector: gracefully first, then
// killed once ctx is done or a grace period has passed. It is idempotent.
func (s *Supervisor) Stop(ctx context.Context) {
	s.mu.Lock()
	if s.state == stateStopped {
		s.mu.Unlock()
		return
	}
	s.state = stateStopped
	cancel, done, cur := s.cancel, s.done, s.cur
	s.cur = nil
	s.wakeLocked()
	s.mu.Unlock()

	if cancel != nil {
		cancel()
		<-done
	}
	if cur != nil {
		cur.proc.stop(ctx)
		s.log.Info("connector stopped", "connector", s.cfg.Connector)
	}
	s.cfg.Metrics.setUp(s.cfg.Connection, false)
}

// supervise watches inst and its successors until ctx is done.
func (s *Supervisor) supervise(ctx context.Context, inst *instance) {
	defer close(s.done)
	attempt := 0
	for {
		reason := s.watch(ctx, inst)
		if ctx.Err() != nil {
			return // Stop stops the live instance
		}
		s.down(inst, reason)
		inst.proc.kill()
		uptime := time.Since(inst.since)
		if uptime >= s.timing.stablePeriod {
			attempt = 0
		}
		attempt++
		delay := s.backoff(attempt)
		s.log.Warn("connector crashed; restarting", "connector", s.cfg.Connector, "reason", reason,
			"uptime", uptime.Round(time.Millisecond), "attempt", attempt, "delay", delay)
		for {
			if !sleep(ctx, delay) {
				return
			}
			s.cfg.Metrics.restarted(s.cfg.Connection)
			s.mu.Lock()
			s.restarts++
			s.mu.Unlock()
			next, err := s.startInstance(ctx)
			if err == nil {
				inst = next
				break
			}
			if ctx.Err() != nil {
				return
			}
			s.setDownReason(err.Error())
			attempt++
			delay = s.backoff(attempt)
			s.log.Warn("connector restart failed; retrying", "connector", s.cfg.Connector, "error", err,
				"attempt", attempt, "delay", delay)
		}
		if !s.publish(inst) {
			inst.proc.kill()
			return
		}
		s.log.Info("connector restarted", "connector", s.cfg.Connector, "attempt", attempt, "pid", inst.proc.pid())
	}
}

// watch returns why inst must be replaced: its process exited, or it failed
// healthFailures health checks in a row. It returns "" when ctx is done.
func (s *Supervisor) watch(ctx context.Context, inst *instance) string {
	tick := time.NewTicker(s.timing.healthInterval)
	defer tick.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return ""
		case <-inst.proc.exited:
			return "process exited: " + inst.proc.exitStatus()
		case <-tick.C:
		}
		pingCtx, cancel := context.WithTimeout(ctx, s.timing.healthTimeout)
		err := inst.proc.ping(pingCtx)
		cancel()
		switch {
		case err == nil:
			failures = 0
			continue
		case ctx.Err() != nil:
			return ""
		case inst.proc.hasExited():
			return "process exited: " + inst.proc.exitStatus()
		}
		failures++
		s.log.Warn("connector health check failed", "connector", s.cfg.Connector, "error", err,
			"failures", failures, "limit", s.timing.healthFailures)
		if failures >= s.timing.healthFailures {
			return fmt.Sprintf("unresponsive: %d health checks failed in a row, last: %v", failures, err)
		}
	}
}

// startInstance starts, describes and configures one instance.
func (s *Supervisor) startInstance(ctx context.Context) (*instance, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timing.startTimeout)
	defer cancel()
	spec := launchSpec{
		connector: s.cfg.Connector, binary: s.cfg.Binary, checksum: s.cfg.Checksum, lockFile: s.cfg.LockFile,
		env: s.cfg.Env, log: s.log, hostKeys: []string{logKeyConnection}, startTimeout: s.timing.startTimeout,
	}
	inst, err := startInstance(ctx, spec, &s.cfg.Settings, s.cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("connection %q: %w", s.cfg.Connection, err)
	}
	return inst, nil
}

// publish makes inst the live instance; false when the supervisor stopped.
func (s *Supervisor) publish(inst *instance) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateStopped {
		return false
	}
	s.publishLocked(inst)
	return true
}

// publishLocked makes inst the live instance and wakes Client callers.
func (s *Supervisor) publishLocked(inst *instance) {
	s.cur, s.desc, s.downReason = inst, inst.desc, ""
	s.wakeLocked()
	s.cfg.Metrics.setUp(s.cfg.Connection, true)
}

// down marks inst as no longer live (when it still is), so that Client
// waits for its successor.
func (s *Supervisor) down(inst *instance, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != inst {
		return
	}
	s.cur, s.downReason = nil, reason
	s.ready = make(chan struct{})
	s.cfg.Metrics.setUp(s.cfg.Connection, false)
}

// setDownReason records why the connector is still down.
func (s *Supervisor) setDownReason(reason string) {
	s.mu.Lock()
	s.downReason = reason
	s.mu.Unlock()
}

// wakeLocked closes ready unless it is closed already.
func (s *Supervisor) wakeLocked() {
	select {
	case <-s.ready:
	default:
		close(s.ready)
	}
}

// backoff returns the delay before restart attempt n (1-based): the base
// doubled n-1 times, capped at the maximum.
func (s *Supervisor) backoff(n int) time.Duration {
	d := s.timing.backoffBase
	for i := 1; i < n && d < s.timing.backoffMax; i++ {
		d *= 2
	}
	return min(d, s.timing.backoffMax)
}

// sleep waits for d; false when ctx is done first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
