// Package oauth is Weir's OAuth 2.0 broker: it gives each connection's
// connector a current access token (sdk.HostServices.Token) and keeps the
// tokens of the authorization code flow, encrypted, in the store.
//
// # Flows
//
//   - authorization_code: `weir auth login` (StartLogin) runs the flow with
//     PKCE through a loopback callback and stores the tokens; the broker
//     then refreshes them.
//   - client_credentials: a client secret, sent with HTTP Basic or in the
//     body (AuthStyle). With a private key and no secret, a JWT client
//     assertion is sent instead, as for client_credentials_jwt.
//   - client_credentials_jwt: a JWT client assertion (RFC 7523; NetSuite
//     M2M) signed PS256 (RSA key) or ES256 (EC P-256 key), with kid = the
//     certificate ID, iss = the client ID, aud = the token URL.
//   - jwt_bearer: the JWT bearer grant (Salesforce server-to-server),
//     signed RS256, iss = client ID, sub = username, aud = the login URL.
//   - basic: no token endpoint; Token returns TokenType "Basic" and the
//     base64 of username:password, so the SDK's HTTP client sends
//     "Authorization: Basic ...".
//
// # Expiry and refresh
//
// An access token expires after its expires_in (a number or a string)
// when the response has one, else after the connection's session lifetime
// (DefaultSessionLifetime: Salesforce sends none). It is replaced a fifth
// of its lifetime, at most five minutes, before it expires, and at once
// when a connector asks with force (it was refused).
//
// # Refresh across hosts
//
// Refresh tokens may rotate: reusing an old one can revoke the whole chain.
// So the tokens of an authorization_code connection live in the store,
// and one refresh at a time runs per connection across every host: a
// refresher takes the connection's lock in the store (SetNX with a TTL
// where the store has it, else compare-and-swap with the expiry inside the
// value), re-reads the stored tokens (another host may have refreshed
// already), refreshes, stores the new tokens, with the new refresh token,
// before handing out the new access token, and releases the lock. The
// others poll the stored tokens with backoff, for a bounded time, and take
// the result. A refresh token is only ever sent as read under the lock.
//
// # Failures
//
// A refused refresh token (invalid_grant) is an sdk.AuthExpired error
// matching ErrLoginRequired, telling the user to run `weir auth login
// CONNECTION`: records wait, never dead-lettered. Network failures, 5xx
// and 429 are retryable. While a refresh fails, a still valid access token
// keeps being handed out.
//
// # Secrets
//
// Tokens are stored sealed with AES-256-GCM under a key from
// WEIR_SECRET_KEY or WEIR_SECRET_KEY_FILE (Keyring), bound to the
// connection's name; each record names its key's id, so RotateKey can
// re-encrypt them with a new key. Broker.Secrets lists the live token
// values for log redaction. Nothing here logs or returns a token, a
// secret, a private key or a code verifier in an error.
package oauth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirhq/weir/host/config"
	"github.com/weirhq/weir/host/store"
	"github.com/weirhq/weir/sdk"
)

// Defaults for zero Options fields.
const (
	DefaultLockTTL          = 30 * time.Second
	DefaultMinForceInterval = 5 * time.Second
)

// Options configure a Broker.
type Options struct {
	// Store keeps the tokens, locks and status. Required when a connection
	// uses the authorization_code flow; optional otherwise (status is then
	// not recorded).
	Store store.KV
	// Keys encrypt the stored tokens. Required, with a current key, when a
	// connection uses the authorization_code flow.
	Keys *Keyring
	// Logger receives refresh events and failures; slog.Default when nil.
	Logger *slog.Logger
	// HTTPClient makes the token requests; a client with a 30 s timeout
	// when nil.
	HTTPClient *http.Client
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Owner names this host in locks and status; hostname:pid when empty.
	Owner string
	// LockTTL is how long a refresh lock is held at most;
	// DefaultLockTTL when zero.
	LockTTL time.Duration
	// RequestTimeout bounds a token request; half of LockTTL when zero, and
	// never more, so a lock never lapses while its refresh is in flight.
	RequestTimeout time.Duration
	// WaitTimeout bounds the wait for another host's refresh; LockTTL plus
	// five seconds when zero.
	WaitTimeout time.Duration
	// MinForceInterval: a forced refresh of a token obtained less than this
	// long ago returns that token instead; DefaultMinForceInterval when
	// zero, none when negative.
	MinForceInterval time.Duration
}

// Broker hands out access tokens for a set of connections. It is safe for
// concurrent use.
type Broker struct {
	opts    Options
	log     *slog.Logger
	ts      tokenStore
	sources map[string]*Source
	names   []string
	secrets atomic.Pointer[[]string]
	// secretsMu serialises updateSecrets, so that an older list never
	// replaces a newer one.
	secretsMu sync.Mutex
}

// New returns a broker for the given connections. It checks each setup
// (flow, endpoints, private key) and fails, wrapping ErrNoKey, when a
// connection needs stored tokens and there is no key. It makes no request.
func New(opts Options, conns []Connection) (*Broker, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Owner == "" {
		host, _ := os.Hostname()
		opts.Owner = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if opts.LockTTL <= 0 {
		opts.LockTTL = DefaultLockTTL
	}
	if opts.RequestTimeout <= 0 || opts.RequestTimeout > opts.LockTTL/2 {
		opts.RequestTimeout = opts.LockTTL / 2
	}
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = opts.LockTTL + 5*time.Second
	}
	if opts.MinForceInterval == 0 {
		opts.MinForceInterval = DefaultMinForceInterval
	}
	b := &Broker{opts: opts, log: opts.Logger, ts: tokenStore{kv: opts.Store, keys: opts.Keys}, sources: map[string]*Source{}}
	var errs []error
	for _, c := range conns {
		s, err := b.newSource(c)
		if err != nil {
			errs = append(errs, fmt.Errorf("connection %s: oauth2: %w", c.Name, err))
			continue
		}
		b.sources[c.Name] = s
		b.names = append(b.names, c.Name)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.Sort(b.names)
	b.updateSecrets()
	return b, nil
}

func (b *Broker) newSource(c Connection) (*Source, error) {
	s := &Source{b: b, conn: c}
	switch c.flow() {
	case config.FlowBasic:
		if c.Username == "" || c.Password == "" {
			return nil, errors.New("the basic flow needs username and password")
		}
		s.static = &token{ID: "basic", AccessToken: base64.StdEncoding.EncodeToString([]byte(c.Username + ":" + c.Password)),
			TokenType: "Basic"}
		return s, nil
	case config.FlowAuthorizationCode:
		if b.opts.Store == nil {
			return nil, errors.New("the authorization_code flow needs a store for its tokens")
		}
		if !b.opts.Keys.HasKey() {
			return nil, fmt.Errorf("%w: the authorization_code flow stores its tokens encrypted: %s", ErrNoKey, noKeyHelp)
		}
		if c.AuthorizationURL == "" {
			return nil, errors.New("no authorization URL: set authorization_url in the oauth2 block")
		}
		s.shared = true
	case config.FlowClientCredentials:
		if c.ClientSecret == "" {
			return nil, errors.New("the client_credentials flow needs client_secret or private_key")
		}
	case config.FlowClientCredentialsJWT, config.FlowJWTBearer:
	default:
		return nil, fmt.Errorf("unknown flow %q", c.Flow)
	}
	if c.ClientID == "" {
		return nil, fmt.Errorf("the %s flow needs client_id", c.Flow)
	}
	if c.TokenURL == "" {
		return nil, errors.New("no token URL: set token_url in the oauth2 block")
	}
	if c.flow() == config.FlowJWTBearer && c.Username == "" {
		return nil, errors.New("the jwt_bearer flow needs username")
	}
	g, err := newGrants(c, b.opts.HTTPClient, b.opts.RequestTimeout)
	if err != nil {
		return nil, err
	}
	s.grants = g
	return s, nil
}

// Connections lists the connections the broker serves, sorted.
func (b *Broker) Connections() []string { return slices.Clone(b.names) }

// Source returns a connection's token source, nil when the broker does not
// serve it (the connection has no oauth2 block).
func (b *Broker) Source(connection string) *Source { return b.sources[connection] }

// Token returns a current access token for a connection; force replaces
// a token the vendor refused.
func (b *Broker) Token(ctx context.Context, connection string, force bool) (sdk.Token, error) {
	s := b.sources[connection]
	if s == nil {
		return sdk.Token{}, fmt.Errorf("connection %s has no oauth2 block: add one to give its connector an access token", connection)
	}
	return s.Token(ctx, force)
}

// Secrets returns the live credential values of every connection (access
// and refresh tokens, current and previous, and Basic credentials),
// sorted, for logging.Redact. It is cheap and returns the same slice until
// a token changes.
func (b *Broker) Secrets() []string {
	if p := b.secrets.Load(); p != nil {
		return *p
	}
	return nil
}

func (b *Broker) updateSecrets() {
	b.secretsMu.Lock()
	defer b.secretsMu.Unlock()
	var all []string
	for _, name := range b.names {
		all = append(all, b.sources[name].secretValues()...)
	}
	slices.Sort(all)
	all = slices.Compact(all)
	b.secrets.Store(&all)
}

// Source is one connection's token source.
type Source struct {
	b      *Broker
	conn   Connection
	grants *grants
	static *token // basic flow
	shared bool   // tokens in the store, refreshed under the lock

	mu       sync.Mutex
	cur      *token
	prev     *token // the token cur replaced, still in use for a while
	flight   *flight
	pending  *pendingWrite
	retryAt  time.Time // after a failure, no new attempt before
	lastErr  error
	failures int
}

// flight is a token fetch in progress; callers wait for done.
type flight struct {
	done chan struct{}
	tok  *token
	err  error
	// failed is the error of a refresh that failed while the previous
	// token was still valid (tok): callers that the vendor refused get it.
	failed error
}

// pendingWrite is a refreshed token the store did not take: it is written
// again before anything else, under the still held lock.
type pendingWrite struct {
	old  []byte
	next *token
	lock *storeLock
}

// Connection is the connection's name.
func (s *Source) Connection() string { return s.conn.Name }

// Token returns a current access token, fetching or refreshing it when
// there is none, when it is due, or when force asks for a new one (a
// token obtained less than Options.MinForceInterval ago is returned
// instead, so that a burst of refusals refreshes once). Concurrent calls
// share one fetch. Errors are classified (sdk.Classify).
func (s *Source) Token(ctx context.Context, force bool) (sdk.Token, error) {
	if s.static != nil {
		return s.static.sdk(), nil
	}
	now := s.b.opts.Now()
	s.mu.Lock()
	cur := s.cur
	if force && cur != nil && s.b.opts.MinForceInterval > 0 && now.Sub(cur.Obtained) < s.b.opts.MinForceInterval {
		force = false
	}
	if cur != nil && !force && !cur.due(now) && s.pending == nil {
		s.mu.Unlock()
		return cur.sdk(), nil
	}
	if now.Before(s.retryAt) && s.flight == nil {
		// Backing off after a failure.
		err := s.lastErr
		s.mu.Unlock()
		if !force && cur.usable(now) {
			return cur.sdk(), nil
		}
		return sdk.Token{}, err
	}
	f := s.flight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		s.flight = f
		go s.fly(f, cur, force)
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		if f.err != nil {
			return sdk.Token{}, f.err
		}
		if force && f.failed != nil {
			return sdk.Token{}, f.failed
		}
		return f.tok.sdk(), nil
	case <-ctx.Done():
		return sdk.Token{}, ctx.Err()
	}
}

// fly runs one fetch, detached from the callers' contexts: a refresh
// abandoned half-way could lose a rotated refresh token.
func (s *Source) fly(f *flight, seen *token, force bool) {
	ctx, cancel := context.WithTimeout(context.Background(), s.b.opts.WaitTimeout+2*s.b.opts.RequestTimeout)
	defer cancel()
	var tok *token
	var err error
	if s.shared {
		tok, err = s.refreshShared(ctx, seen, force)
	} else {
		tok, err = s.fetch(ctx)
	}
	now := s.b.opts.Now()
	s.mu.Lock()
	if err == nil {
		if s.cur == nil || s.cur.ID != tok.ID {
			s.prev = s.cur
		}
		s.cur, s.failures, s.retryAt, s.lastErr = tok, 0, time.Time{}, nil
	} else {
		s.failures++
		s.lastErr = err
		s.retryAt = now.Add(backoff(s.failures, err))
		if !force && seen.usable(now) {
			s.b.log.Warn("oauth: token refresh failed; the current access token is still valid", "connection", s.conn.Name, "error", err)
			f.failed, tok, err = err, seen, nil
		}
	}
	s.flight = nil
	f.tok, f.err = tok, err
	s.mu.Unlock()
	close(f.done)
	s.b.updateSecrets()
}

// backoff is the pause after n consecutive failures: from 1 s doubling to
// 1 min; a login-required error is re-checked (in the store) every 5 s.
func backoff(n int, err error) time.Duration {
	if errors.Is(err, ErrLoginRequired) {
		return 5 * time.Second
	}
	d := time.Second << min(n-1, 6)
	return min(d, time.Minute)
}

// secretValues lists the source's live credentials.
func (s *Source) secretValues() []string {
	if s.static != nil {
		return []string{s.static.AccessToken}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, t := range []*token{s.cur, s.prev} {
		if t != nil {
			out = append(out, t.AccessToken, t.RefreshToken)
		}
	}
	if p := s.pending; p != nil {
		out = append(out, p.next.AccessToken, p.next.RefreshToken)
	}
	return slices.DeleteFunc(out, func(v string) bool { return v == "" })
}

// fetch gets a new token with a non-interactive flow and records the
// outcome in the status (best effort).
func (s *Source) fetch(ctx context.Context) (*token, error) {
	now := s.b.opts.Now()
	t, err := s.grants.fetch(ctx, now)
	if err != nil {
		err = classify(s.conn, err, whatFetch)
		s.b.log.Warn("oauth: token request failed", "connection", s.conn.Name, "flow", s.conn.Flow, "error", err)
		s.status(ctx, func(st *statusRecord) { st.LastError, st.ErrorAt = err.Error(), now })
		return nil, err
	}
	tok := s.grants.tokenFrom(t, nil, now)
	s.b.log.Info("oauth: access token obtained", "connection", s.conn.Name, "flow", s.conn.Flow, "expires", tok.Expiry)
	s.status(ctx, func(st *statusRecord) {
		st.Expiry, st.Refreshed, st.RefreshedBy, st.LastError, st.ErrorAt = tok.Expiry, now, s.b.opts.Owner, "", time.Time{}
	})
	return tok, nil
}

// status updates the connection's status record, when there is a store.
func (s *Source) status(ctx context.Context, f func(*statusRecord)) {
	if s.b.opts.Store == nil {
		return
	}
	err := s.b.ts.updateStatus(ctx, s.conn.Name, func(st *statusRecord) {
		st.Flow = s.conn.Flow
		f(st)
	})
	if err != nil {
		s.b.log.Warn("oauth: cannot record token status", "connection", s.conn.Name, "error", err)
	}
}

// storeError classifies a store failure.
func (s *Source) storeError(err error) error {
	switch {
	case errors.Is(err, ErrNoKey) || errors.Is(err, ErrKey):
		return sdk.AuthExpired(fmt.Errorf("connection %s: stored tokens: %w", s.conn.Name, err))
	}
	return sdk.Retryable(fmt.Errorf("connection %s: token store: %w", s.conn.Name, err), 0)
}

// refreshShared returns the stored tokens when they are new to this host
// and not due, or refreshes them under the store lock, or waits for the
// host holding the lock to do it. seen is the token this host handed out
// last (nil for none).
func (s *Source) refreshShared(ctx context.Context, seen *token, force bool) (*token, error) {
	s.mu.Lock()
	pending := s.pending
	s.mu.Unlock()
	if pending != nil {
		if tok, err, done := s.flushPending(ctx, pending); done {
			return tok, err
		}
	}
	kv := s.b.opts.Store
	deadline := time.Now().Add(s.b.opts.WaitTimeout) // real time: this bounds a wait
	delay := 10 * time.Millisecond
	for {
		_, rec, err := s.b.ts.load(ctx, s.conn.Name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, loginRequired(s.conn.Name, "no tokens are stored for it")
		}
		if err != nil {
			return nil, s.storeError(err)
		}
		now := s.b.opts.Now()
		if s.adoptable(rec, seen, force, now) {
			return rec, nil
		}
		if rec.RefreshToken == "" {
			if !force && rec.usable(now) {
				return rec, nil
			}
			return nil, loginRequired(s.conn.Name, "its access token expired and the login gave no refresh token (ask for the refresh_token or offline_access scope)")
		}
		lk, ok, err := tryLock(ctx, kv, s.conn.Name, s.b.opts.Owner, now, s.b.opts.LockTTL)
		if err != nil {
			return nil, s.storeError(err)
		}
		if ok {
			return s.refreshLocked(ctx, lk, seen, force)
		}
		if time.Now().After(deadline) {
			return nil, sdk.Retryable(fmt.Errorf("connection %s: timed out after %s waiting for another weir host to refresh its token",
				s.conn.Name, s.b.opts.WaitTimeout), 0)
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, sdk.Retryable(fmt.Errorf("connection %s: waiting for a token refresh: %w", s.conn.Name, ctx.Err()), 0)
		}
		delay = min(delay*2, 250*time.Millisecond)
	}
}

// adoptable reports whether a stored token can be handed out instead of
// refreshing: it is another than the one this host saw (another host
// refreshed, or this host starts) and not due; or the refusal that forced
// this refresh predates it.
func (s *Source) adoptable(rec, seen *token, force bool, now time.Time) bool {
	if rec.due(now) {
		return false
	}
	if seen == nil || rec.ID != seen.ID {
		return true
	}
	if !force {
		return true
	}
	return s.b.opts.MinForceInterval > 0 && now.Sub(rec.Obtained) < s.b.opts.MinForceInterval
}

// refreshLocked refreshes under the held lock: re-read, redeem the stored
// refresh token, store the result, release.
func (s *Source) refreshLocked(ctx context.Context, lk *storeLock, seen *token, force bool) (*token, error) {
	kv := s.b.opts.Store
	release := func() {
		if err := lk.unlock(ctx, kv); err != nil {
			s.b.log.Warn("oauth: cannot release the refresh lock; it expires by itself", "connection", s.conn.Name, "error", err)
		}
	}
	raw, rec, err := s.b.ts.load(ctx, s.conn.Name)
	if err != nil {
		release()
		if errors.Is(err, store.ErrNotFound) {
			return nil, loginRequired(s.conn.Name, "no tokens are stored for it")
		}
		return nil, s.storeError(err)
	}
	now := s.b.opts.Now()
	if s.adoptable(rec, seen, force, now) {
		release() // refreshed by another host between our read and the lock
		return rec, nil
	}
	if st, err := s.b.ts.readStatus(ctx, s.conn.Name); err == nil && st.NeedsLogin && st.TokenID == rec.ID {
		release() // already refused: sending it again is pointless
		return nil, loginRequired(s.conn.Name, "its refresh token was refused")
	}
	t, err := s.grants.refresh(ctx, rec.RefreshToken)
	if err != nil {
		err = classify(s.conn, err, whatRefresh)
		s.b.log.Warn("oauth: token refresh failed", "connection", s.conn.Name, "error", err)
		s.status(ctx, func(st *statusRecord) {
			st.LastError, st.ErrorAt = err.Error(), now
			if errors.Is(err, ErrLoginRequired) {
				st.NeedsLogin, st.TokenID = true, rec.ID
			}
		})
		release()
		return nil, err
	}
	next := s.grants.tokenFrom(t, rec, s.b.opts.Now())
	newRaw, err := s.b.ts.seal(s.conn.Name, next)
	if err == nil {
		var swapped bool
		swapped, err = kv.CompareAndSwap(ctx, Namespace, tokenKey(s.conn.Name), raw, newRaw)
		if err == nil && !swapped {
			// Someone wrote tokens while we held the lock: a login (which
			// takes no lock). Theirs win; ours are dropped unused.
			release()
			s.b.log.Warn("oauth: tokens changed during a refresh (a new login?); using the stored ones", "connection", s.conn.Name)
			_, cur, lerr := s.b.ts.load(ctx, s.conn.Name)
			if lerr != nil {
				return nil, s.storeError(lerr)
			}
			return cur, nil
		}
	}
	if err != nil {
		// The server may have rotated the refresh token: keep the new one
		// and the lock, and write it before anything else.
		s.mu.Lock()
		s.pending = &pendingWrite{old: raw, next: next, lock: lk}
		s.mu.Unlock()
		s.b.log.Error("oauth: cannot store refreshed tokens; keeping them in memory and retrying", "connection", s.conn.Name, "error", err)
		return nil, sdk.Retryable(fmt.Errorf("connection %s: cannot store the refreshed tokens: %w", s.conn.Name, err), 0)
	}
	s.recordRefresh(ctx, next, now)
	release()
	return next, nil
}

// flushPending writes a refreshed token the store refused before. done
// reports whether it decided the outcome.
func (s *Source) flushPending(ctx context.Context, p *pendingWrite) (*token, error, bool) {
	kv := s.b.opts.Store
	newRaw, err := s.b.ts.seal(s.conn.Name, p.next)
	var swapped bool
	if err == nil {
		swapped, err = kv.CompareAndSwap(ctx, Namespace, tokenKey(s.conn.Name), p.old, newRaw)
	}
	if err != nil {
		return nil, sdk.Retryable(fmt.Errorf("connection %s: cannot store the refreshed tokens: %w", s.conn.Name, err), 0), true
	}
	s.mu.Lock()
	s.pending = nil
	s.mu.Unlock()
	if swapped {
		s.recordRefresh(ctx, p.next, s.b.opts.Now())
	}
	_ = p.lock.unlock(ctx, kv)
	if swapped {
		return p.next, nil, true
	}
	return nil, nil, false // the stored tokens changed meanwhile: start over
}

// recordRefresh notes a successful refresh in the log and the status.
func (s *Source) recordRefresh(ctx context.Context, t *token, now time.Time) {
	s.b.log.Info("oauth: access token refreshed", "connection", s.conn.Name, "expires", t.Expiry, "generation", t.Gen)
	s.status(ctx, func(st *statusRecord) {
		st.Expiry, st.Refreshed, st.RefreshedBy, st.Refresh = t.Expiry, now, s.b.opts.Owner, t.RefreshToken != ""
		st.LastError, st.ErrorAt, st.NeedsLogin, st.TokenID = "", time.Time{}, false, ""
	})
}
