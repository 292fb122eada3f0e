package oauth

import (
	"context"
	"errors"
	"time"

	"github.com/weirhq/weir/host/config"
	"github.com/weirhq/weir/host/store"
)

// States of a connection's tokens, as Status reports them.
const (
	// StateValid: an access token is valid until ValidUntil.
	StateValid = "valid"
	// StateRefreshable: the access token expired; the stored refresh token
	// renews it on next use.
	StateRefreshable = "expired, refreshed on next use"
	// StateNeedsLogin: no tokens, or the refresh token was refused.
	StateNeedsLogin = "needs login"
	// StateNoKey: tokens are needed but no encryption key is set.
	StateNoKey = "no key"
	// StateKeyMismatch: the stored tokens do not open with the keys given.
	StateKeyMismatch = "key mismatch"
	// StateNotFetched: a non-interactive flow no host has used yet (or the
	// token expired); fetched on next use.
	StateNotFetched = "fetched on next use"
	// StateStatic: Basic credentials, nothing to fetch.
	StateStatic = "static credentials"
)

// Status is what `weir auth status` shows of a connection. It holds no
// secret.
type Status struct {
	Connection string
	Flow       string
	// State is one of the State constants.
	State string
	// ValidUntil is the access token's expiry, when known.
	ValidUntil time.Time
	// RefreshToken reports whether a refresh token is stored.
	RefreshToken bool
	// LoggedIn is when `weir auth login` last succeeded.
	LoggedIn time.Time
	// LastRefresh is when a token was last obtained, and by which host.
	LastRefresh   time.Time
	LastRefreshBy string
	// LastError is the last failure since the last success, and when.
	LastError   string
	LastErrorAt time.Time
	// KeyID is the id of the key the stored tokens are encrypted with.
	KeyID string
}

// ReadStatus reports the token state of each connection from the store,
// without any request to an authorization server. keys may be nil.
func ReadStatus(ctx context.Context, kv store.KV, keys *Keyring, conns []Connection, now time.Time) ([]Status, error) {
	ts := tokenStore{kv: kv, keys: keys}
	out := make([]Status, 0, len(conns))
	for _, c := range conns {
		st := Status{Connection: c.Name, Flow: c.Flow}
		rec, err := ts.readStatus(ctx, c.Name)
		if err != nil {
			return nil, err
		}
		st.LoggedIn, st.LastRefresh, st.LastRefreshBy, st.LastError, st.LastErrorAt =
			rec.LoggedIn, rec.Refreshed, rec.RefreshedBy, rec.LastError, rec.ErrorAt
		switch c.flow() {
		case config.FlowBasic:
			st.State = StateStatic
		case config.FlowAuthorizationCode:
			raw, tok, err := ts.load(ctx, c.Name)
			if raw != nil {
				st.KeyID, _ = keyIDOf(raw)
			}
			switch {
			case !keys.HasKey() && len(keys.OldIDs()) == 0:
				st.State = StateNoKey
			case errors.Is(err, store.ErrNotFound):
				st.State = StateNeedsLogin
			case errors.Is(err, ErrNoKey) || errors.Is(err, ErrKey):
				st.State = StateKeyMismatch
			case err != nil:
				return nil, err
			case rec.NeedsLogin && rec.TokenID == tok.ID:
				st.State = StateNeedsLogin
			default:
				st.ValidUntil, st.RefreshToken = tok.Expiry, tok.RefreshToken != ""
				switch {
				case tok.Expiry.IsZero() || now.Before(tok.Expiry):
					st.State = StateValid
				case st.RefreshToken:
					st.State = StateRefreshable
				default:
					st.State = StateNeedsLogin
				}
			}
		default:
			st.ValidUntil = rec.Expiry
			if !rec.Expiry.IsZero() && now.Before(rec.Expiry) {
				st.State = StateValid
			} else {
				st.State = StateNotFetched
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// Status reports the token state of the broker's connections.
func (b *Broker) Status(ctx context.Context) ([]Status, error) {
	conns := make([]Connection, 0, len(b.names))
	for _, n := range b.names {
		conns = append(conns, b.sources[n].conn)
	}
	if b.opts.Store == nil {
		out := make([]Status, len(conns))
		for i, c := range conns {
			out[i] = Status{Connection: c.Name, Flow: c.Flow, State: StateNotFetched}
			if c.flow() == config.FlowBasic {
				out[i].State = StateStatic
			}
		}
		return out, nil
	}
	return ReadStatus(ctx, b.opts.Store, b.opts.Keys, conns, b.opts.Now())
}
