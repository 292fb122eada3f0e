package oauth

import (
	"context"
	"sync"
	"time"
)

// DaemonLoginTimeout bounds how long a login started through a running
// daemon waits for the browser.
const DaemonLoginTimeout = 10 * time.Minute

// Login states reported by Logins.
const (
	LoginPending = "pending"
	LoginDone    = "done"
	LoginFailed  = "failed"
)

// LoginState is where a login run by Logins stands. It carries no secret:
// the URL holds the state and the PKCE challenge, never the verifier.
type LoginState struct {
	Connection  string    `json:"connection"`
	State       string    `json:"state"`
	URL         string    `json:"url,omitempty"`
	RedirectURL string    `json:"redirect_url,omitempty"`
	Expiry      time.Time `json:"expiry,omitzero"`
	// RefreshToken reports whether a refresh token was issued.
	RefreshToken bool   `json:"refresh_token"`
	Error        string `json:"error,omitempty"`
}

// Logins runs authorization code logins inside the process that owns the
// token store (a daemon holding the embedded store), for `weir auth login`
// to start and follow through the admin API. The tokens never leave the
// process: the callback server runs here and stores them with this
// process's key. One login per connection at a time; starting another
// closes the earlier one.
type Logins struct {
	b       *Broker
	mu      sync.Mutex
	pending map[string]*daemonLogin
}

type daemonLogin struct {
	cancel context.CancelFunc // ends the wait, which closes the login
	state  LoginState
}

// NewLogins returns the logins of b.
func NewLogins(b *Broker) *Logins {
	return &Logins{b: b, pending: map[string]*daemonLogin{}}
}

// Start starts a login for the connection and returns its URL. listen is
// the callback server's address ("" as StartLogin decides). The login ends
// with the browser's redirect, after DaemonLoginTimeout, or with Close.
func (l *Logins) Start(ctx context.Context, connection, listen string) (LoginState, error) {
	login, err := l.b.StartLogin(ctx, connection, LoginOptions{Listen: listen})
	if err != nil {
		return LoginState{}, err
	}
	wctx, cancel := context.WithTimeout(context.Background(), DaemonLoginTimeout)
	d := &daemonLogin{cancel: cancel, state: LoginState{Connection: connection, State: LoginPending, URL: login.URL(), RedirectURL: login.RedirectURL()}}
	l.mu.Lock()
	if old := l.pending[connection]; old != nil {
		old.cancel()
	}
	l.pending[connection] = d
	l.mu.Unlock()
	go func() {
		defer cancel()
		res, err := login.Wait(wctx)
		l.mu.Lock()
		defer l.mu.Unlock()
		if err != nil {
			d.state.State, d.state.Error = LoginFailed, err.Error()
			return
		}
		d.state.State, d.state.Expiry, d.state.RefreshToken = LoginDone, res.Expiry, res.RefreshToken
	}()
	return d.state, nil
}

// State returns the state of the connection's latest login, or false when
// none was started.
func (l *Logins) State(connection string) (LoginState, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.pending[connection]
	if d == nil {
		return LoginState{}, false
	}
	return d.state, true
}

// Close ends every login in progress.
func (l *Logins) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, d := range l.pending {
		d.cancel()
	}
}

// Status reports the token state of the broker's connections.
func (l *Logins) Status(ctx context.Context) ([]Status, error) { return l.b.Status(ctx) }
