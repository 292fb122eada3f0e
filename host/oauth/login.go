package oauth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// ErrStateMismatch matches the error of a login whose callback carried a
// state other than the one sent: it is refused and nothing is stored.
var ErrStateMismatch = errors.New("the callback's state does not match the login's: refused (possible cross-site request forgery)")

// DefaultCallbackPath is the callback's path when the connection sets no
// redirect_url.
const DefaultCallbackPath = "/callback"

// LoginOptions configure StartLogin.
type LoginOptions struct {
	// Listen is the callback server's address. When empty: the host and
	// port of the connection's redirect_url, or 127.0.0.1 on a free port.
	Listen string
}

// LoginResult is a successful login.
type LoginResult struct {
	Connection string
	// Expiry is when the access token expires (it is refreshed before).
	Expiry time.Time
	// RefreshToken reports whether a refresh token was issued; without one
	// the login lasts only as long as the access token.
	RefreshToken bool
	// Scope is the granted scope, when the server said.
	Scope string
}

// Login is an authorization code login in progress: a one-shot callback
// server on a loopback port waits for the browser's redirect.
type Login struct {
	src      *Source
	authURL  string
	redirect string
	path     string
	state    string
	verifier string
	srv      *http.Server
	ln       net.Listener
	claimed  sync.Once
	result   chan loginOutcome
	closed   sync.Once
}

type loginOutcome struct {
	res LoginResult
	err error
}

// StartLogin starts the authorization code flow with PKCE (S256) and a
// random state for an authorization_code connection: it opens the
// callback server and builds the URL the user opens in a browser. Call
// Wait for the outcome, and Close.
func (b *Broker) StartLogin(ctx context.Context, connection string, opts LoginOptions) (*Login, error) {
	s := b.sources[connection]
	switch {
	case s == nil:
		return nil, fmt.Errorf("connection %s has no oauth2 block", connection)
	case !s.shared:
		return nil, fmt.Errorf("connection %s uses the %s flow, which needs no login: weir gets its tokens by itself", connection, s.conn.Flow)
	}
	listen, path := opts.Listen, DefaultCallbackPath
	if s.conn.RedirectURL != "" {
		u, err := url.Parse(s.conn.RedirectURL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("connection %s: redirect_url %q is not an absolute URL", connection, s.conn.RedirectURL)
		}
		if u.Path != "" {
			path = u.Path
		}
		if listen == "" {
			if u.Port() == "" {
				return nil, fmt.Errorf("connection %s: redirect_url %s has no port to listen on: add one, or give the callback server's address with -listen", connection, s.conn.RedirectURL)
			}
			listen = u.Host
		}
	}
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("login callback: %w", err)
	}
	redirect := s.conn.RedirectURL
	if redirect == "" {
		addr := ln.Addr().(*net.TCPAddr)
		host := addr.IP.String()
		if addr.IP.IsUnspecified() {
			host = "127.0.0.1"
		}
		redirect = "http://" + net.JoinHostPort(host, fmt.Sprint(addr.Port)) + DefaultCallbackPath
	}
	l := &Login{src: s, redirect: redirect, path: path, state: randomState(), verifier: oauth2.GenerateVerifier(),
		ln: ln, result: make(chan loginOutcome, 1)}
	l.authURL = s.grants.config(0, redirect).AuthCodeURL(l.state, oauth2.S256ChallengeOption(l.verifier))
	l.srv = &http.Server{Handler: http.HandlerFunc(l.callback), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = l.srv.Serve(ln) }()
	return l, nil
}

func randomState() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// URL is the authorization URL to open in a browser. It carries the
// state and the PKCE challenge, never the verifier.
func (l *Login) URL() string { return l.authURL }

// RedirectURL is the callback URL the authorization server redirects to.
func (l *Login) RedirectURL() string { return l.redirect }

// Wait waits for the callback and returns the login's outcome: the tokens
// are stored, or nothing is.
func (l *Login) Wait(ctx context.Context) (LoginResult, error) {
	select {
	case o := <-l.result:
		l.Close()
		return o.res, o.err
	case <-ctx.Done():
		l.Close()
		return LoginResult{}, fmt.Errorf("connection %s: no login callback received: %w", l.src.conn.Name, ctx.Err())
	}
}

// Close stops the callback server.
func (l *Login) Close() error {
	l.closed.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = l.srv.Shutdown(ctx)
	})
	return nil
}

// callback handles the browser's redirect, once.
func (l *Login) callback(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != l.path {
		http.NotFound(w, r)
		return
	}
	first := false
	l.claimed.Do(func() { first = true })
	if !first {
		http.Error(w, "This login is over. Run weir auth login again.", http.StatusGone)
		return
	}
	q := r.URL.Query()
	var o loginOutcome
	status := http.StatusOK
	switch {
	case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(l.state)) != 1:
		o.err, status = fmt.Errorf("connection %s: %w", l.src.conn.Name, ErrStateMismatch), http.StatusBadRequest
	case q.Get("error") != "":
		o.err, status = fmt.Errorf("connection %s: the authorization server refused the login: %s %s", l.src.conn.Name,
			q.Get("error"), q.Get("error_description")), http.StatusBadRequest
	case q.Get("code") == "":
		o.err, status = fmt.Errorf("connection %s: the callback carried no authorization code", l.src.conn.Name), http.StatusBadRequest
	default:
		ctx, cancel := context.WithTimeout(context.Background(), l.src.b.opts.RequestTimeout+10*time.Second)
		o.res, o.err = l.finish(ctx, q.Get("code"))
		cancel()
		if o.err != nil {
			status = http.StatusBadGateway
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	msg := fmt.Sprintf("Logged in to %s. You can close this window.", l.src.conn.Name)
	if o.err != nil {
		msg = "Login failed: " + o.err.Error()
	}
	fmt.Fprintf(w, "<!doctype html><title>weir auth login</title><p>%s</p>\n", html.EscapeString(msg))
	l.result <- o
}

// finish exchanges the code and stores the tokens.
func (l *Login) finish(ctx context.Context, code string) (LoginResult, error) {
	s := l.src
	t, err := s.grants.exchange(ctx, code, l.verifier, l.redirect)
	if err != nil {
		return LoginResult{}, classify(s.conn, err, whatExchange)
	}
	now := s.b.opts.Now()
	var prev *token
	if _, old, err := s.b.ts.load(ctx, s.conn.Name); err == nil {
		prev = &token{Gen: old.Gen}
	}
	tok := s.grants.tokenFrom(t, prev, now)
	raw, err := s.b.ts.seal(s.conn.Name, tok)
	if err != nil {
		return LoginResult{}, err
	}
	if err := s.b.opts.Store.Put(ctx, Namespace, tokenKey(s.conn.Name), raw); err != nil {
		return LoginResult{}, fmt.Errorf("connection %s: store the tokens: %w", s.conn.Name, err)
	}
	if err := s.b.ts.addToIndex(ctx, s.conn.Name); err != nil {
		s.b.log.Warn("oauth: cannot index the stored tokens", "connection", s.conn.Name, "error", err)
	}
	s.status(ctx, func(st *statusRecord) {
		st.Expiry, st.LoggedIn, st.Refreshed, st.RefreshedBy, st.Refresh = tok.Expiry, now, now, s.b.opts.Owner, tok.RefreshToken != ""
		st.LastError, st.ErrorAt, st.NeedsLogin, st.TokenID = "", time.Time{}, false, ""
	})
	s.mu.Lock()
	s.prev, s.cur = s.cur, tok
	s.mu.Unlock()
	s.b.updateSecrets()
	s.b.log.Info("oauth: logged in", "connection", s.conn.Name, "expires", tok.Expiry, "refresh_token", tok.RefreshToken != "")
	return LoginResult{Connection: s.conn.Name, Expiry: tok.Expiry, RefreshToken: tok.RefreshToken != "", Scope: tok.Extra["scope"]}, nil
}
