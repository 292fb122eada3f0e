package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	goredis "github.com/redis/go-redis/v9"

	"github.com/weirhq/weir/host/api"
	"github.com/weirhq/weir/host/config"
	"github.com/weirhq/weir/host/engine"
	"github.com/weirhq/weir/host/limiter"
	"github.com/weirhq/weir/host/oauth"
	"github.com/weirhq/weir/host/plugins"
	"github.com/weirhq/weir/host/store"
	"github.com/weirhq/weir/host/store/bolt"
	storeredis "github.com/weirhq/weir/host/store/redis"
	"github.com/weirhq/weir/host/translate"
	"github.com/weirhq/weir/sdk"
)

// OpenStore opens the configured store: Redis when the store block has a
// redis block (with its client, for the shared limiters), else the embedded
// store in the data directory (relative to dir, the configuration's
// directory).
func OpenStore(ctx context.Context, cfg *config.Config, dir string) (store.Store, goredis.UniversalClient, error) {
	if r := cfg.Store.Redis; r != nil {
		goredis.SetLogger(redisLog{})
		st, err := storeredis.Open(ctx, r.URL, storeredis.Options{Prefix: r.Prefix})
		if err != nil {
			return nil, nil, err
		}
		return st, st.Client(), nil
	}
	data := cfg.Store.Dir
	if !filepath.IsAbs(data) {
		data = filepath.Join(dir, data)
	}
	st, err := bolt.Open(data, bolt.Options{})
	if err != nil {
		return nil, nil, err
	}
	return st, nil, nil
}

// redisLog sends go-redis's own messages (dial failures while Redis is
// down) to the host's structured log, through its redaction.
type redisLog struct{}

func (redisLog) Printf(ctx context.Context, format string, v ...any) {
	slog.Default().WarnContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}

// shutdownTimeout bounds the HTTP server's graceful shutdown.
const shutdownTimeout = 5 * time.Second

// Options configure a Daemon beyond its configuration file.
type Options struct {
	Logger *slog.Logger
	// Listen overrides the api block's listen address (tests use
	// "127.0.0.1:0").
	Listen string
	// LeaseTTL overrides the engine's lease time.
	LeaseTTL time.Duration
	// DrainTimeout overrides the engine's drain bound.
	DrainTimeout time.Duration
	// Registry receives the metrics; nil creates one.
	Registry *prometheus.Registry
}

// Daemon is a running host.
type Daemon struct {
	loaded      *Loaded
	opts        Options
	log         *slog.Logger
	store       store.Store
	supervisors map[string]*plugins.Supervisor
	limiters    map[string]limiter.Limiter
	engine      *engine.Engine
	api         *api.Server
	broker      *oauth.Broker
	logins      *oauth.Logins
	listener    net.Listener
	registry    *prometheus.Registry
}

// New opens the store, starts one supervised connector per connection and
// builds the engine and API. Close it when Run is not called.
func New(ctx context.Context, l *Loaded, opts Options) (*Daemon, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
		opts.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	cfg := l.Config
	d := &Daemon{loaded: l, opts: opts, log: opts.Logger, supervisors: map[string]*plugins.Supervisor{},
		limiters: map[string]limiter.Limiter{}, registry: opts.Registry}

	st, client, err := OpenStore(ctx, l.Config, l.Dir)
	if err != nil {
		return nil, err
	}
	d.store = st
	if rs, ok := st.(*storeredis.Store); ok {
		for _, w := range rs.Warnings(ctx) {
			opts.Logger.Warn("redis: " + w)
		}
	}

	xref := translate.NewXRef(st, translate.XRefOptions{})
	translate.BindXRef(cfg, xref)
	if err := d.startConnections(ctx, st, client, plugins.NewMetrics(opts.Registry)); err != nil {
		d.Close()
		return nil, err
	}

	var pipelines []engine.Pipeline
	webhooks := map[string]api.Webhook{}
	var names []string
	for _, p := range cfg.Pipelines {
		pipelines = append(pipelines, compile(cfg, p, d.supervisors))
		names = append(names, p.Name)
		if p.Webhook != nil {
			webhooks[p.Name] = api.Webhook{Auth: p.Webhook.Auth, Secret: p.Webhook.Secret, Header: p.Webhook.Header, MaxBody: p.Webhook.MaxBody}
		}
	}
	hostname, _ := os.Hostname()
	// Sources need a leader only when hosts share the store: the embedded
	// store admits one host (and a restarted one must not wait for its
	// predecessor's lease).
	var leadership store.Leadership
	if client != nil {
		leadership = st
	}
	eng, err := engine.New(engine.Options{
		Pipelines: pipelines, Queue: st, Leadership: leadership, Connectors: connectors(d.supervisors), XRef: xref,
		Metrics: engine.NewMetrics(opts.Registry), Logger: opts.Logger,
		Owner:    fmt.Sprintf("%s:%d:%d", hostname, os.Getpid(), time.Now().UnixNano()),
		LeaseTTL: opts.LeaseTTL, DrainTimeout: opts.DrainTimeout,
	})
	if err != nil {
		d.Close()
		return nil, err
	}
	d.engine = eng
	opts.Registry.MustRegister(&queueCollector{store: st, pipelines: names}, &limiterCollector{limiters: d.limiters})
	d.logins = oauth.NewLogins(d.broker)
	d.api = api.New(api.Options{
		Ingester: eng, Lookups: newLookups(cfg.LookupRoutes, connectors(d.supervisors)), Store: st, Pipelines: names, Webhooks: webhooks, Token: cfg.API.Token,
		Ready: d.ready, Status: d.Status, Gatherer: opts.Registry, Logger: opts.Logger, Logins: d.logins, Planner: d,
	})
	listen := cfg.API.Listen
	if opts.Listen != "" {
		listen = opts.Listen
	}
	d.listener, err = net.Listen("tcp", listen)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("api: listen on %s: %w (is another weir running? set the api block's listen)", listen, err)
	}
	return d, nil
}

// startConnections starts the OAuth broker (tokens in kv), one limiter
// per connection (shared through client when set) and one supervised
// connector per connection.
func (d *Daemon) startConnections(ctx context.Context, kv store.KV, client goredis.UniversalClient, pm *plugins.Metrics) error {
	l, opts, cfg := d.loaded, d.opts, d.loaded.Config
	keys, err := oauth.LoadKeys(os.Getenv)
	if err != nil {
		return err
	}
	d.broker, err = oauth.New(oauth.Options{Store: kv, Keys: keys, Logger: opts.Logger}, oauth.FromConfigAll(cfg))
	if err != nil {
		return err
	}
	if sts, err := d.broker.Status(ctx); err == nil {
		for _, s := range sts {
			if s.State == oauth.StateNeedsLogin || s.State == oauth.StateKeyMismatch {
				opts.Logger.Warn("connection needs attention", "connection", s.Connection, "state", s.State, "hint", "run: weir auth login "+s.Connection)
			}
		}
	}
	env, err := connectorEnv()
	if err != nil {
		return err
	}
	for _, c := range cfg.Connections {
		lim := limiter.Limits{Rate: c.Limits.Rate, Per: c.Limits.Per, Concurrency: c.Limits.Concurrency,
			PerDay: c.Limits.PerDay, InteractiveShare: c.Limits.InteractiveShare}
		if err := lim.Validate(); err != nil {
			return fmt.Errorf("connection %s: limits: %w", c.Name, err)
		}
		if client != nil {
			prefix := storeredis.DefaultPrefix
			if r := cfg.Store.Redis; r != nil && r.Prefix != "" {
				prefix = r.Prefix
			}
			d.limiters[c.Name] = limiter.NewRedis(client, c.Name, lim, limiter.WithKeyPrefix(prefix+":lim:"))
		} else {
			d.limiters[c.Name] = limiter.NewLocal(lim)
		}
		bin := l.Binaries[c.Connector]
		sup := plugins.New(plugins.Config{
			Connection: c.Name,
			Connector:  c.Connector,
			Binary:     bin.Path,
			Checksum:   bin.Checksum,
			LockFile:   l.LockFile,
			Env:        env,
			Settings:   sdk.Config{Connection: c.Name, Raw: c.Settings},
			Host:       &hostServices{connection: c.Name, limiter: d.limiters[c.Name], tokens: d.broker.Source(c.Name)},
			Logger:     opts.Logger,
			Metrics:    pm,
		})
		d.supervisors[c.Name] = sup
		if err := sup.Start(ctx); err != nil {
			return fmt.Errorf("connection %s: %w", c.Name, err)
		}
	}
	return nil
}

// Secrets returns the live OAuth tokens and credentials, for the log
// redactor.
func (d *Daemon) Secrets() []string {
	if d.broker == nil {
		return nil
	}
	return d.broker.Secrets()
}

// Addr is the API's listening address.
func (d *Daemon) Addr() string { return d.listener.Addr().String() }

// Store returns the daemon's store.
func (d *Daemon) Store() store.Store { return d.store }

// Run serves the API and runs the engine until ctx ends, then stops
// accepting webhooks, drains the engine, stops the connectors and closes
// the store.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.Close()
	srv := &http.Server{Handler: d.api, ReadHeaderTimeout: 10 * time.Second}
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(d.listener) }()
	d.log.Info("weir is running", "api", d.Addr(), "pipelines", len(d.loaded.Config.Pipelines), "connections", len(d.supervisors))

	engCtx, stopEngine := context.WithCancel(ctx)
	defer stopEngine()
	engDone := make(chan error, 1)
	go func() { engDone <- d.engine.Run(engCtx) }()

	var err error
	select {
	case <-ctx.Done():
	case err = <-srvErr:
		err = fmt.Errorf("api: %w", err)
	}
	d.log.Info("stopping: no new work accepted, draining in-flight records")
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	_ = srv.Shutdown(shutCtx)
	cancel()
	stopEngine()
	if e := <-engDone; e != nil && err == nil {
		err = e
	}
	d.log.Info("stopped")
	return err
}

// Close stops the connectors and closes the store.
func (d *Daemon) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range d.supervisors {
		s.Stop(ctx)
	}
	if d.logins != nil {
		d.logins.Close()
	}
	if d.listener != nil {
		d.listener.Close()
	}
	if d.store != nil {
		d.store.Close()
	}
}

func (d *Daemon) ready(ctx context.Context) error {
	if err := d.store.Ping(ctx); err != nil {
		return err
	}
	var down []string
	for name, s := range d.supervisors {
		if !s.Up() {
			down = append(down, name)
		}
	}
	if len(down) > 0 {
		sort.Strings(down)
		return fmt.Errorf("connections not up: %s", strings.Join(down, ", "))
	}
	return nil
}

// Status returns the pipelines' queues and the connections' state.
func (d *Daemon) Status(ctx context.Context) (api.Status, error) {
	st := api.Status{Pipelines: []api.PipelineStatus{}, Connections: d.connectionStatus(ctx)}
	for _, p := range d.loaded.Config.Pipelines {
		s, err := d.store.Stats(ctx, p.Name)
		if err != nil {
			return api.Status{}, fmt.Errorf("pipeline %s: %w", p.Name, err)
		}
		st.Pipelines = append(st.Pipelines, api.PipelineStatusOf(p.Name, s))
	}
	return st, nil
}

func (d *Daemon) connectionStatus(ctx context.Context) []api.ConnectionStatus {
	out := []api.ConnectionStatus{}
	for _, c := range d.loaded.Config.Connections {
		s := api.ConnectionStatus{Name: c.Name, Connector: c.Connector}
		if sup := d.supervisors[c.Name]; sup != nil {
			s.Up = sup.Up()
			s.Restarts = sup.Restarts()
		}
		if lim := d.limiters[c.Name]; lim != nil {
			u, _ := lim.Usage(ctx)
			s.Rate, s.InWindow, s.InFlight, s.Concurrency, s.UsedToday, s.PerDay, s.PausedUntil =
				u.Rate, u.InWindow, u.InFlight, u.Concurrency, u.UsedToday, u.PerDay, u.PausedUntil
			if u.Per > 0 {
				s.Per = u.Per.String()
			}
		}
		out = append(out, s)
	}
	return out
}

// compile turns a configured pipeline into the engine's form.
func compile(cfg *config.Config, p *config.Pipeline, sups map[string]*plugins.Supervisor) engine.Pipeline {
	ep := engine.Pipeline{
		Name: p.Name,
		Source: engine.Source{Connection: p.Source.Connection, Settings: p.Source.Settings,
			Poll: p.Source.Poll, BatchSize: p.Source.BatchSize},
		Key:         p.Key,
		When:        p.When,
		Destination: engine.Destination{Connection: p.Destination.Connection, Object: p.Destination.Object, Operation: p.Destination.Operation},
		Retry:       engine.Retry{Attempts: p.Retry.Attempts, BaseDelay: p.Retry.BaseDelay, MaxDelay: p.Retry.MaxDelay},
		Workers:     p.Workers,
		BatchSize:   p.Destination.BatchSize,
		Functions:   cfg.Functions(p.Dir),

		ForgetDeliveredAfter: p.ForgetDeliveredAfter,
	}
	if p.When != nil {
		rng := p.When.Range()
		if f := cfg.Files[rng.Filename]; f != nil {
			ep.WhenText = string(rng.SliceBytes(f.Bytes))
		}
	}
	if p.Retry.Backoff == config.BackoffConstant {
		ep.Retry.MaxDelay = ep.Retry.BaseDelay
	}
	if sup := sups[p.Source.Connection]; sup != nil && !hasCapability(sup.Description(), sdk.CapSource) {
		ep.Source.Poll = 0
	}
	if sup := sups[p.Destination.Connection]; sup != nil {
		for _, o := range sup.Description().Objects {
			if o.Name == p.Destination.Object {
				ep.Destination.Fields = o.Fields
			}
		}
	}
	if len(p.Map) > 0 {
		ep.Map = make(map[string]hcl.Expression, len(p.Map))
		for _, f := range p.Map {
			ep.Map[f.Name] = f.Expr
		}
	}
	for _, lk := range p.Lookups {
		ep.Lookups = append(ep.Lookups, engine.Lookup{Name: lk.Name, Connection: lk.Connection, Object: lk.Object, Query: lk.Query})
	}
	return ep
}

func hasCapability(d sdk.Description, c sdk.Capability) bool {
	for _, x := range d.Capabilities {
		if x == c {
			return true
		}
	}
	return false
}

// connectorEnv is the whole environment a connector process sees: nothing
// of the host's but what a Go program needs to run, and the GOMAXPROCS it
// runs with (see connectorProcs).
func connectorEnv() ([]string, error) {
	procs, err := connectorProcs(runtime.NumCPU(), os.Getenv(EnvConnectorProcs))
	if err != nil {
		return nil, err
	}
	env := []string{"GOMAXPROCS=" + strconv.Itoa(procs)}
	for _, k := range []string{"PATH", "TMPDIR", "TZ", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env, nil
}

// EnvConnectorProcs names the variable that sets connectors' GOMAXPROCS.
const EnvConnectorProcs = "WEIR_CONNECTOR_GOMAXPROCS"

// connectorProcs is the GOMAXPROCS of connector processes: setting (the
// value of EnvConnectorProcs) when given, else a quarter of the host's
// cpus, at least one. A connector mostly waits on the host and on vendors,
// and the Go scheduler wakes its idle threads for every call: measured on
// two cores, a DecodeWebhooks call of 15 × 1 KB costs the connector 130 µs
// of CPU at GOMAXPROCS 1 and 230 µs at 2, and the host 20% less too.
func connectorProcs(cpus int, setting string) (int, error) {
	if setting != "" {
		n, err := strconv.Atoi(setting)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("%s=%q: want a whole number of at least 1", EnvConnectorProcs, setting)
		}
		return n, nil
	}
	return max(1, cpus/4), nil
}

// connectors adapts supervisors to the engine.
type connectors map[string]*plugins.Supervisor

func (c connectors) Connector(ctx context.Context, name string) (engine.Connector, error) {
	s, ok := c[name]
	if !ok {
		return nil, fmt.Errorf("no connection %q", name)
	}
	return s.Client(ctx)
}

// hostServices is what the host serves one connection's connector.
type hostServices struct {
	connection string
	limiter    limiter.Limiter
	tokens     *oauth.Source // nil without an oauth2 block
}

func (h *hostServices) Token(ctx context.Context, force bool) (sdk.Token, error) {
	if h.tokens == nil {
		return sdk.Token{}, fmt.Errorf("connection %s has no oauth2 block: add one to give its connector an access token", h.connection)
	}
	return h.tokens.Token(ctx, force)
}

func (h *hostServices) Acquire(ctx context.Context, cost int, p sdk.Priority) (string, error) {
	prio := limiter.Bulk
	if p == sdk.PriorityInteractive {
		prio = limiter.Interactive
	}
	return h.limiter.Acquire(ctx, cost, prio)
}

func (h *hostServices) Release(ctx context.Context, lease string) error {
	return h.limiter.Release(ctx, lease)
}

func (h *hostServices) Report(ctx context.Context, r sdk.LimitReport) error {
	return h.limiter.Report(ctx, limiter.ReportKind(r.Kind), r.RetryAfter, r.Used, r.Max)
}

// queueCollector exports queue depths from the store at scrape time.
type queueCollector struct {
	store     store.Queue
	pipelines []string
}

var queueDepth = prometheus.NewDesc("weir_queue_depth", "Records in the queue by state.", []string{"pipeline", "state"}, nil)

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- queueDepth }

func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, p := range q.pipelines {
		st, err := q.store.Stats(ctx, p)
		if err != nil {
			continue
		}
		for state, v := range map[string]int64{"ready": st.Ready, "pending": st.Pending, "retrying": st.Delayed, "in_flight": st.InFlight, "dead_letters": st.DeadLetters} {
			ch <- prometheus.MustNewConstMetric(queueDepth, prometheus.GaugeValue, float64(v), p, state)
		}
	}
}

// limiterCollector exports each connection's limiter use at scrape time.
type limiterCollector struct {
	limiters map[string]limiter.Limiter
}

var (
	limiterWaits    = prometheus.NewDesc("weir_limiter_waits_total", "Vendor requests that waited for the connection's limiter.", []string{"connection"}, nil)
	limiterInWindow = prometheus.NewDesc("weir_limiter_requests_in_window", "Vendor requests granted in the current rate window.", []string{"connection"}, nil)
	limiterRate     = prometheus.NewDesc("weir_limiter_rate", "Requests allowed per rate window (0: unlimited).", []string{"connection"}, nil)
	limiterInFlight = prometheus.NewDesc("weir_limiter_in_flight", "Vendor requests in flight.", []string{"connection"}, nil)
	limiterToday    = prometheus.NewDesc("weir_limiter_used_today", "Vendor requests counted against today's quota.", []string{"connection"}, nil)
)

func (l *limiterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{limiterWaits, limiterInWindow, limiterRate, limiterInFlight, limiterToday} {
		ch <- d
	}
}

func (l *limiterCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for name, lim := range l.limiters {
		u, err := lim.Usage(ctx)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(limiterWaits, prometheus.CounterValue, float64(u.Waits), name)
		ch <- prometheus.MustNewConstMetric(limiterInWindow, prometheus.GaugeValue, float64(u.InWindow), name)
		ch <- prometheus.MustNewConstMetric(limiterRate, prometheus.GaugeValue, float64(u.Rate), name)
		ch <- prometheus.MustNewConstMetric(limiterInFlight, prometheus.GaugeValue, float64(u.InFlight), name)
		ch <- prometheus.MustNewConstMetric(limiterToday, prometheus.GaugeValue, float64(u.UsedToday), name)
	}
}
