package oauth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/weirhq/weir/host/store"
	"github.com/weirhq/weir/sdk"
)

// Namespace is the store namespace of everything this package keeps:
// "token/<connection>" (encrypted tokens), "status/<connection>" (plain,
// secret-free status), "lock/<connection>" (the refresh lock) and "index"
// (the connections with stored tokens, for key rotation).
const Namespace = "oauth"

func tokenKey(conn string) string  { return "token/" + conn }
func statusKey(conn string) string { return "status/" + conn }
func lockKey(conn string) string   { return "lock/" + conn }

const indexKey = "index"

// token is a connection's tokens, as kept in memory and, encrypted, in the
// store.
type token struct {
	// ID identifies this token set; it changes at every refresh, so a host
	// can tell that another one refreshed.
	ID string `json:"id"`
	// Gen counts refreshes since the login.
	Gen          int64             `json:"gen"`
	AccessToken  string            `json:"access_token"`
	TokenType    string            `json:"token_type,omitempty"`
	RefreshToken string            `json:"refresh_token,omitempty"`
	Expiry       time.Time         `json:"expiry,omitzero"`
	Obtained     time.Time         `json:"obtained"`
	Extra        map[string]string `json:"extra,omitempty"`
}

// sdk converts t to what connectors receive.
func (t *token) sdk() sdk.Token {
	typ := t.TokenType
	if typ == "" {
		typ = "Bearer"
	}
	return sdk.Token{AccessToken: t.AccessToken, TokenType: typ, Expiry: t.Expiry, Extra: maps(t.Extra)}
}

func maps(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// refreshMargin is how long before expiry a token is refreshed: a fifth of
// its lifetime, at most five minutes.
func refreshMargin(lifetime time.Duration) time.Duration {
	return min(lifetime/5, 5*time.Minute)
}

// due reports whether t should be replaced at now: it is expired, or
// within its refresh margin.
func (t *token) due(now time.Time) bool {
	if t.Expiry.IsZero() {
		return false
	}
	lifetime := t.Expiry.Sub(t.Obtained)
	return !now.Before(t.Expiry.Add(-refreshMargin(lifetime)))
}

// usable reports whether t can still be handed out at now, if only while
// a refresh fails: a few seconds short of its expiry.
func (t *token) usable(now time.Time) bool {
	return t != nil && (t.Expiry.IsZero() || now.Before(t.Expiry.Add(-5*time.Second)))
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// statusRecord is what `weir auth status` shows of a connection. It holds
// no secret and is stored in clear.
type statusRecord struct {
	Flow        string    `json:"flow,omitempty"`
	Expiry      time.Time `json:"expiry,omitzero"`
	Refreshed   time.Time `json:"refreshed,omitzero"`
	RefreshedBy string    `json:"refreshed_by,omitempty"`
	LoggedIn    time.Time `json:"logged_in,omitzero"`
	Refresh     bool      `json:"refresh_token,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	ErrorAt     time.Time `json:"error_at,omitzero"`
	// NeedsLogin is set when the authorization server refused the stored
	// refresh token TokenID; a new login clears it.
	NeedsLogin bool   `json:"needs_login,omitempty"`
	TokenID    string `json:"token_id,omitempty"`
}

// tokenStore reads and writes one store's token records.
type tokenStore struct {
	kv   store.KV
	keys *Keyring
}

// load reads and decrypts a connection's tokens. It returns the raw
// stored value too, for compare-and-swap. A missing record matches
// store.ErrNotFound.
func (s tokenStore) load(ctx context.Context, conn string) ([]byte, *token, error) {
	raw, err := s.kv.Get(ctx, Namespace, tokenKey(conn))
	if err != nil {
		return nil, nil, err
	}
	pt, err := s.keys.open(conn, raw)
	if err != nil {
		return raw, nil, err
	}
	var t token
	if err := json.Unmarshal(pt, &t); err != nil {
		return raw, nil, fmt.Errorf("%w: the decrypted tokens are malformed", ErrKey)
	}
	return raw, &t, nil
}

// seal encrypts t for conn.
func (s tokenStore) seal(conn string, t *token) ([]byte, error) {
	pt, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	return s.keys.seal(conn, pt)
}

// readStatus returns a connection's status record (zero when none).
func (s tokenStore) readStatus(ctx context.Context, conn string) (statusRecord, error) {
	var st statusRecord
	raw, err := s.kv.Get(ctx, Namespace, statusKey(conn))
	if errors.Is(err, store.ErrNotFound) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return statusRecord{}, nil
	}
	return st, nil
}

// updateStatus applies f to a connection's status record. Status is
// advisory: concurrent updates may lose one another.
func (s tokenStore) updateStatus(ctx context.Context, conn string, f func(*statusRecord)) error {
	st, err := s.readStatus(ctx, conn)
	if err != nil {
		return err
	}
	f(&st)
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.kv.Put(ctx, Namespace, statusKey(conn), raw)
}

// index returns the connections with stored tokens.
func (s tokenStore) index(ctx context.Context) ([]string, []byte, error) {
	raw, err := s.kv.Get(ctx, Namespace, indexKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var names []string
	if err := json.Unmarshal(raw, &names); err != nil {
		return nil, raw, nil
	}
	return names, raw, nil
}

// addToIndex records that conn has stored tokens.
func (s tokenStore) addToIndex(ctx context.Context, conn string) error {
	for range 20 {
		names, raw, err := s.index(ctx)
		if err != nil {
			return err
		}
		if slices.Contains(names, conn) {
			return nil
		}
		names = append(names, conn)
		slices.Sort(names)
		next, _ := json.Marshal(names)
		ok, err := s.kv.CompareAndSwap(ctx, Namespace, indexKey, raw, next)
		if err != nil || ok {
			return err
		}
	}
	return errors.New("oauth: the token index is changing too fast")
}

// RotateResult reports a key rotation.
type RotateResult struct {
	// Rotated lists the connections whose tokens were re-encrypted.
	Rotated []string
	// Current lists the connections already encrypted with the new key.
	Current []string
}

// RotateKey re-encrypts with keys' current key every stored token record
// encrypted with one of its old keys: those of the connections given and
// of every connection the store's index lists. Each record is swapped
// atomically, so a host refreshing meanwhile loses nothing. Records that no
// key of the keyring opens are reported in the error, and left alone.
func RotateKey(ctx context.Context, kv store.KV, keys *Keyring, connections []string) (RotateResult, error) {
	var res RotateResult
	if !keys.HasKey() {
		return res, fmt.Errorf("%w: %s to the new key, and %s to the old one", ErrNoKey, EnvSecretKey, EnvSecretKeyOld)
	}
	ts := tokenStore{kv: kv, keys: keys}
	names, _, err := ts.index(ctx)
	if err != nil {
		return res, err
	}
	for _, c := range connections {
		if !slices.Contains(names, c) {
			names = append(names, c)
		}
	}
	slices.Sort(names)
	var errs []error
	for _, conn := range names {
		rotated, err := ts.rotateOne(ctx, conn)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			errs = append(errs, fmt.Errorf("connection %s: %w", conn, err))
		case rotated:
			res.Rotated = append(res.Rotated, conn)
		default:
			res.Current = append(res.Current, conn)
		}
	}
	return res, errors.Join(errs...)
}

func (s tokenStore) rotateOne(ctx context.Context, conn string) (bool, error) {
	for range 20 {
		raw, err := s.kv.Get(ctx, Namespace, tokenKey(conn))
		if err != nil {
			return false, err
		}
		kid, err := keyIDOf(raw)
		if err != nil {
			return false, err
		}
		if kid == s.keys.CurrentID() {
			return false, nil
		}
		pt, err := s.keys.open(conn, raw)
		if err != nil {
			return false, err
		}
		next, err := s.keys.seal(conn, pt)
		if err != nil {
			return false, err
		}
		ok, err := s.kv.CompareAndSwap(ctx, Namespace, tokenKey(conn), raw, next)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, errors.New("the tokens keep changing; try again")
}
