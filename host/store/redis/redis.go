// Package redis is Weir's shared store on Redis (standalone, Sentinel or
// Cluster), for several hosts working on the same pipelines. It implements
// store.Store with the same semantics as the embedded bolt store; the
// conformance suite in storetest is the judge.
//
// # URLs
//
// Open takes a URL in one of these forms (userinfo and query parameters as
// go-redis parses them: dial_timeout, read_timeout, pool_size, …):
//
//	redis://[[user]:password@]host[:port][/db]         standalone
//	rediss://…                                          standalone over TLS
//	unix://[[user]:password@]/path/to/redis.sock[?db=N] standalone, unix socket
//	redis+cluster://[[user]:password@]host:port[?addr=host2:port&addr=…]
//	rediss+cluster://…                                  Cluster (over TLS)
//	redis://host:port?cluster=true[&addr=…]            Cluster, also when
//	redis://host:port?addr=host2:port                   addr is given
//	redis-sentinel://[[user]:password@]sentinel:26379[/db]?master_name=NAME[&addr=sentinel2:26379][&password=MASTERPW]
//	rediss-sentinel://…                                 Sentinel (over TLS)
//	redis://sentinel:26379?master_name=NAME             Sentinel as well
//
// For Sentinel, the URL's userinfo authenticates to the Sentinels and the
// password parameter (or Options.Password) to the master. Options.Username,
// Options.Password and Options.TLSConfig, when set, override the URL, so
// that secrets can come from the environment rather than from the URL.
// Errors never repeat the password.
//
// # Keys
//
// Every key of a pipeline carries the hash tag {<prefix>:<pipeline>}, with
// the name escaped (see escapeName) and long names shortened with a hash;
// KV keys are {<prefix>:kv:<namespace>}:<key>. Every script touches the
// keys of one tag only, so everything runs on Cluster; a pipeline lives on
// one shard. The layout is described with the scripts (scripts.go).
//
// # Durability
//
// A call returns after Redis has executed it; it is then as durable as the
// server's persistence: with appendonly yes and appendfsync always, nothing
// acknowledged is lost when Redis or its machine crashes; with appendfsync
// everysec, up to about a second of writes can be; without the append-only
// file, everything since the last snapshot. Asynchronous replication can
// also lose the last writes on a failover. Warnings reports the settings
// that can lose queued records. The store itself never trims or evicts
// records.
//
// # Failures
//
// The client reconnects by itself. While Redis is unreachable, calls fail
// within a few seconds (dial 1 s, read and write 2 s by default) with an
// error matching store.ErrUnavailable; a write that failed so may or may
// not have taken effect, which at-least-once delivery and versioned records
// absorb.
package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/weirhq/weir/host/store"
)

// Default timeouts: short, so that calls fail fast while Redis is down.
const (
	// DefaultDialTimeout bounds connecting to Redis.
	DefaultDialTimeout = time.Second
	// DefaultReadTimeout bounds waiting for a reply; every script call
	// does bounded work, far below it.
	DefaultReadTimeout = 2 * time.Second
	// DefaultWriteTimeout bounds sending a command.
	DefaultWriteTimeout = 2 * time.Second
)

// DefaultPrefix is the key prefix when Options.Prefix is empty.
const DefaultPrefix = "weir"

// Options tune Open. The zero value is ready to use.
type Options struct {
	// Prefix starts every hash tag; DefaultPrefix if empty. Hosts that
	// share work must use the same prefix. Letters, digits, '.', '_' and
	// '-' only.
	Prefix string
	// Username and Password, when set, override the URL's (for Sentinel:
	// the master's).
	Username string
	Password string
	// TLSConfig, when set, enables TLS with this configuration whatever the
	// URL scheme.
	TLSConfig *tls.Config
	// DialTimeout, ReadTimeout and WriteTimeout apply unless the URL sets
	// them; the defaults above if zero.
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// PoolSize is the connection pool size (per node) unless the URL sets
	// it; go-redis's default (10 per CPU) if zero.
	PoolSize int
}

// Store is the Redis store. It implements store.Store and is safe for
// concurrent use.
type Store struct {
	rdb    goredis.UniversalClient
	prefix string
	where  string // the redacted URL, for messages

	mu     sync.RWMutex // held for reading by every call; guards closed
	closed bool

	pipes sync.Map // pipeline name → *pipeKeys

	// Record handles (see scripts.go) are hprefix and a counter: a random
	// prefix per Store makes them unique without asking Redis.
	hprefix string
	hseq    atomic.Uint64
}

var _ store.Store = (*Store)(nil)

// Open connects to the Redis at url (see the package documentation for the
// forms) and checks that it answers. It fails with an error matching
// store.ErrUnavailable when it does not, and store.ErrInvalid for a bad URL
// or prefix.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if escapeName(prefix) != prefix || len(prefix) > 64 {
		return nil, store.Invalid("Redis key prefix %q may hold only letters, digits, '.', '_' and '-' (at most 64)", prefix)
	}
	rdb, where, err := newClient(url, &opts)
	if err != nil {
		return nil, err
	}
	s := &Store{rdb: rdb, prefix: prefix, where: where, hprefix: handlePrefix()}
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("store: cannot reach Redis at %s: %w", where, s.classify(err))
	}
	return s, nil
}

// mode is how a URL connects.
type mode int

const (
	standalone mode = iota
	cluster
	sentinel
)

// parseURL turns a URL into client options; it never returns the URL
// itself in errors, which would expose the password.
func parseURL(raw string) (mode, any, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, "", store.Invalid("Redis URL: %v", err)
	}
	where := redactURL(u)
	m := standalone
	scheme := u.Scheme
	switch {
	case strings.HasSuffix(scheme, "+cluster"):
		m, scheme = cluster, strings.TrimSuffix(scheme, "+cluster")
	case strings.HasSuffix(scheme, "-sentinel"):
		m, scheme = sentinel, strings.TrimSuffix(scheme, "-sentinel")
	}
	if m != standalone && scheme != "redis" && scheme != "rediss" {
		return 0, nil, "", store.Invalid("Redis URL %s: unknown scheme %q", where, u.Scheme)
	}
	q := u.Query()
	if q.Has("cluster") {
		switch v := q.Get("cluster"); v {
		case "true", "1":
			m = cluster
		case "false", "0", "":
		default:
			return 0, nil, "", store.Invalid("Redis URL %s: cluster=%q, want true or false", where, v)
		}
		q.Del("cluster")
	}
	if q.Has("master_name") {
		if m == cluster {
			return 0, nil, "", store.Invalid("Redis URL %s: master_name (Sentinel) and Cluster exclude each other", where)
		}
		m = sentinel
	}
	if m == standalone && q.Has("addr") {
		m = cluster
	}
	if m == sentinel && q.Get("master_name") == "" {
		return 0, nil, "", store.Invalid("Redis URL %s: Sentinel needs master_name=NAME", where)
	}
	if m == cluster && strings.Trim(u.Path, "/") != "" && strings.Trim(u.Path, "/") != "0" {
		return 0, nil, "", store.Invalid("Redis URL %s: Redis Cluster has only database 0", where)
	}
	u.Scheme = scheme
	u.RawQuery = q.Encode()
	var o any
	switch m {
	case cluster:
		u.Path = ""
		o, err = goredis.ParseClusterURL(u.String())
	case sentinel:
		o, err = goredis.ParseFailoverURL(u.String())
	default:
		o, err = goredis.ParseURL(u.String())
	}
	if err != nil {
		return 0, nil, "", store.Invalid("Redis URL %s: %v", where, redactErr(err, u))
	}
	return m, o, where, nil
}

// redactURL renders a URL for messages, without its passwords (userinfo
// and the Sentinel master's password parameter).
func redactURL(u *url.URL) string {
	c := *u
	if q := c.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		c.RawQuery = q.Encode()
	}
	return c.Redacted()
}

// redactErr removes the URL's passwords from an error message.
func redactErr(err error, u *url.URL) string {
	msg := err.Error()
	var secrets []string
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			secrets = append(secrets, pw)
		}
	}
	secrets = append(secrets, u.Query()["password"]...)
	for _, pw := range secrets {
		if pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return msg
}

// settings holds the fields the store sets on every kind of client.
type settings struct {
	username, password                       *string
	tls                                      **tls.Config
	dial, read, write                        *time.Duration
	pool, maxRetries, dialRetries            *int
	dialRetryTimeout, minBackoff, maxBackoff *time.Duration
	ctxTimeout                               *bool
}

// apply fills what the URL left unset.
func (c settings) apply(o *Options) {
	if o.Username != "" {
		*c.username = o.Username
	}
	if o.Password != "" {
		*c.password = o.Password
	}
	if o.TLSConfig != nil {
		*c.tls = o.TLSConfig
	}
	def := func(p *time.Duration, opt, d time.Duration) {
		if *p == 0 {
			*p = orDefault(opt, d)
		}
	}
	def(c.dial, o.DialTimeout, DefaultDialTimeout)
	def(c.read, o.ReadTimeout, DefaultReadTimeout)
	def(c.write, o.WriteTimeout, DefaultWriteTimeout)
	if *c.pool == 0 && o.PoolSize > 0 {
		*c.pool = o.PoolSize
	}
	// One retry covers a pooled connection that died with a restart; more
	// would only delay the error while Redis is down.
	if *c.maxRetries == 0 {
		*c.maxRetries = 1
	}
	if c.dialRetries != nil && *c.dialRetries == 0 {
		*c.dialRetries = 1
	}
	if c.dialRetryTimeout != nil && *c.dialRetryTimeout == 0 {
		*c.dialRetryTimeout = 50 * time.Millisecond
	}
	def(c.minBackoff, 0, 8*time.Millisecond)
	def(c.maxBackoff, 0, 100*time.Millisecond)
	*c.ctxTimeout = true
}

// orDefault returns a unless it is zero, else b.
func orDefault(a, b time.Duration) time.Duration {
	if a != 0 {
		return a
	}
	return b
}

// newClient builds the go-redis client for a URL.
func newClient(raw string, opts *Options) (goredis.UniversalClient, string, error) {
	m, o, where, err := parseURL(raw)
	if err != nil {
		return nil, "", err
	}
	switch m {
	case cluster:
		c := o.(*goredis.ClusterOptions)
		settings{&c.Username, &c.Password, &c.TLSConfig, &c.DialTimeout, &c.ReadTimeout, &c.WriteTimeout,
			&c.PoolSize, &c.MaxRetries, &c.DialerRetries, &c.DialerRetryTimeout, &c.MinRetryBackoff, &c.MaxRetryBackoff,
			&c.ContextTimeoutEnabled}.apply(opts)
		return goredis.NewClusterClient(c), where, nil
	case sentinel:
		c := o.(*goredis.FailoverOptions)
		settings{&c.Username, &c.Password, &c.TLSConfig, &c.DialTimeout, &c.ReadTimeout, &c.WriteTimeout,
			&c.PoolSize, &c.MaxRetries, &c.DialerRetries, &c.DialerRetryTimeout, &c.MinRetryBackoff, &c.MaxRetryBackoff,
			&c.ContextTimeoutEnabled}.apply(opts)
		return goredis.NewFailoverClient(c), where, nil
	default:
		c := o.(*goredis.Options)
		settings{&c.Username, &c.Password, &c.TLSConfig, &c.DialTimeout, &c.ReadTimeout, &c.WriteTimeout,
			&c.PoolSize, &c.MaxRetries, &c.DialerRetries, &c.DialerRetryTimeout, &c.MinRetryBackoff, &c.MaxRetryBackoff,
			&c.ContextTimeoutEnabled}.apply(opts)
		return goredis.NewClient(c), where, nil
	}
}

// Client returns the underlying go-redis client, e.g. for a limiter that
// shares the connection. Keys it writes must not start with a hash tag of
// this store's prefix.
func (s *Store) Client() goredis.UniversalClient { return s.rdb }

// Prefix returns the key prefix in use.
func (s *Store) Prefix() string { return s.prefix }

// Close closes the connections after the calls in progress; later calls
// return store.ErrClosed and closing again returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.rdb.Close()
}

// enter starts a call: it fails if ctx is done or the store is closed, and
// otherwise holds the store open until the returned function is called.
func (s *Store) enter(ctx context.Context) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, store.ErrClosed
	}
	return s.mu.RUnlock, nil
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	leave, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	return s.wrap("ping", s.rdb.Ping(ctx).Err())
}

// wrap names the operation in an error and classifies it.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	err = s.classify(err)
	switch {
	case errors.Is(err, store.ErrClosed), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("store: redis %s at %s: %w", op, s.where, err)
}

// unavailableError marks an error from an unreachable or unready Redis.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string   { return "unavailable: " + e.err.Error() }
func (e *unavailableError) Unwrap() []error { return []error{store.ErrUnavailable, e.err} }

// classify maps go-redis errors to the store's: a closed client to
// ErrClosed, network failures and unready servers to ErrUnavailable.
func (s *Store) classify(err error) error {
	if errors.Is(err, goredis.ErrClosed) {
		return store.ErrClosed
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) && !errors.As(err, &ne):
		return err
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.As(err, &ne),
		goredis.IsLoadingError(err), goredis.IsReadOnlyError(err), goredis.IsClusterDownError(err),
		goredis.IsTryAgainError(err), goredis.IsMasterDownError(err), goredis.IsOOMError(err),
		goredis.IsMaxClientsError(err), goredis.HasErrorPrefix(err, "BUSY"),
		strings.Contains(err.Error(), "pool timeout"), strings.Contains(err.Error(), "all sentinels"):
		return &unavailableError{err}
	}
	return err
}

// Warnings inspects the server's persistence and eviction settings and
// returns, for each setting that can lose queued records, a sentence saying
// what can be lost and what to set. It returns nil when all is well. When
// the configuration cannot be read (CONFIG disabled, as on some managed
// services), it says so and what to check.
func (s *Store) Warnings(ctx context.Context) []string {
	leave, err := s.enter(ctx)
	if err != nil {
		return []string{fmt.Sprintf("Redis at %s: cannot check its configuration: %v", s.where, err)}
	}
	defer leave()
	if c, ok := s.rdb.(*goredis.ClusterClient); ok {
		var mu sync.Mutex
		var out []string
		err := c.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error {
			w := configWarnings(ctx, n, "Redis node "+n.Options().Addr)
			mu.Lock()
			out = append(out, w...)
			mu.Unlock()
			return nil
		})
		if err != nil {
			out = append(out, fmt.Sprintf("Redis Cluster at %s: cannot check its nodes' configuration: %v", s.where, s.classify(err)))
		}
		return out
	}
	return configWarnings(ctx, s.rdb, "Redis at "+s.where)
}

// configWarnings checks one server.
func configWarnings(ctx context.Context, c goredis.Cmdable, who string) []string {
	get := func(name string) (string, error) {
		m, err := c.ConfigGet(ctx, name).Result()
		if err != nil {
			return "", err
		}
		v, ok := m[name]
		if !ok {
			return "", fmt.Errorf("CONFIG GET %s returned nothing", name)
		}
		return strings.ToLower(v), nil
	}
	var out []string
	aof, err := get("appendonly")
	if err != nil {
		return []string{fmt.Sprintf("%s: cannot read its configuration (%v); make sure it runs with appendonly yes, appendfsync everysec (or always) and maxmemory-policy noeviction, or queued records can be lost", who, err)}
	}
	switch aof {
	case "no":
		out = append(out, fmt.Sprintf("%s: appendonly is off: records queued since the last snapshot are lost if Redis restarts; set appendonly yes and appendfsync everysec (or always)", who))
	default:
		if fsync, err := get("appendfsync"); err == nil && fsync == "no" {
			out = append(out, fmt.Sprintf("%s: appendfsync is no: the operating system decides when the append-only file reaches the disk, so records queued in the last ~30 s are lost if the machine crashes; set appendfsync everysec (or always)", who))
		}
	}
	if policy, err := get("maxmemory-policy"); err == nil && policy != "noeviction" {
		out = append(out, fmt.Sprintf("%s: maxmemory-policy is %s: when Redis reaches maxmemory it evicts keys, including queued records and checkpoints; set maxmemory-policy noeviction", who, policy))
	}
	return out
}
