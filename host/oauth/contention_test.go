package oauth_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirhq/weir/host/oauth"
	"github.com/weirhq/weir/host/oauth/oauthtest"
	"github.com/weirhq/weir/host/store"
	"github.com/weirhq/weir/sdk"
)

// TestRotationUnderContention runs three brokers (three hosts) on one
// store against a server that rotates refresh tokens and revokes the chain
// on reuse. Each round, every host asks at the same moment, from several
// goroutines: exactly one refresh reaches the server and everyone ends
// with the same valid token.
func TestRotationUnderContention(t *testing.T) {
	f := newFixture(t, oauthtest.Options{RotateRefreshTokens: true, AccessTokenLifetime: time.Hour, TokenDelay: 20 * time.Millisecond})
	var brokers []*oauth.Broker
	for i := range 3 {
		brokers = append(brokers, f.broker(fmt.Sprintf("host-%d", i), f.crm()))
	}
	f.login(brokers[0], "crm")
	first := token(t, brokers[0], "crm", false)
	for _, b := range brokers[1:] {
		if token(t, b, "crm", false) != first {
			t.Fatal("hosts disagree after the login")
		}
	}
	if n := f.srv.Calls(oauthtest.GrantRefreshToken); n != 0 {
		t.Fatalf("%d refreshes before any was due", n)
	}

	rounds := []struct {
		name    string
		advance time.Duration
		force   bool
	}{
		{"due", 56 * time.Minute, false},
		{"forced", 10 * time.Second, true},
		{"due again", 56 * time.Minute, false},
		{"forced again", 10 * time.Second, true},
	}
	const perHost = 4
	for i, r := range rounds {
		f.clk.Add(r.advance)
		start := make(chan struct{})
		var wg sync.WaitGroup
		results := make([]string, len(brokers)*perHost)
		errs := make([]error, len(results))
		for h, b := range brokers {
			for g := range perHost {
				wg.Add(1)
				go func(idx int, b *oauth.Broker) {
					defer wg.Done()
					<-start
					tok, err := b.Token(context.Background(), "crm", r.force)
					results[idx], errs[idx] = tok.AccessToken, err
				}(h*perHost+g, b)
			}
		}
		close(start)
		wg.Wait()
		for j, err := range errs {
			if err != nil {
				t.Fatalf("round %s: caller %d: %v", r.name, j, err)
			}
		}
		for j, tok := range results {
			if tok != results[0] {
				t.Fatalf("round %s: caller %d got another token", r.name, j)
			}
		}
		if n := f.srv.Calls(oauthtest.GrantRefreshToken); n != i+1 {
			t.Fatalf("round %s: %d refresh calls in total, want %d (%s)", r.name, n, i+1, f.srv.DescribeCalls())
		}
		if _, ok := f.srv.Validate(results[0]); !ok {
			t.Fatalf("round %s: the shared token is not valid (chain revoked?)", r.name)
		}
		for _, b := range brokers {
			if got := token(t, b, "crm", false); got != results[0] {
				t.Fatalf("round %s: a host moved on", r.name)
			}
		}
	}
	// The chain is intact: one more refresh works.
	f.clk.Add(time.Hour)
	if _, ok := f.srv.Validate(token(t, brokers[2], "crm", false)); !ok {
		t.Fatal("refresh after the rounds failed")
	}
}

// TestLockHeldElsewhere checks the refresh lock against another host's:
// while it lives Token waits and then gives up with a retryable error,
// without any refresh; once it expires (its holder crashed) it is taken.
func TestLockHeldElsewhere(t *testing.T) {
	tests := []struct {
		name        string
		ttl         time.Duration // the other host's lock, in real time
		wantRefresh bool
	}{
		{"live lock", time.Hour, false},
		{"lock of a crashed host", 150 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, oauthtest.Options{RotateRefreshTokens: true})
			b, err := f.newBroker(oauth.Options{Owner: "h", WaitTimeout: 500 * time.Millisecond}, f.crm())
			if err != nil {
				t.Fatal(err)
			}
			f.login(b, "crm")
			t1 := token(t, b, "crm", false)
			f.clk.Add(time.Hour)
			ctx := context.Background()
			if ok, err := f.st.SetNX(ctx, oauth.Namespace, "lock/crm", []byte(`{"owner":"other-host"}`), tt.ttl); !ok || err != nil {
				t.Fatalf("SetNX: %v %v", ok, err)
			}
			start := time.Now()
			tok, err := b.Token(ctx, "crm", false)
			if !tt.wantRefresh {
				if e := sdk.Classify(err); e == nil || e.Status != sdk.StatusRetryable || !strings.Contains(err.Error(), "another weir host") {
					t.Fatalf("Token: %v", err)
				}
				if n := f.srv.Calls(oauthtest.GrantRefreshToken); n != 0 {
					t.Fatalf("refreshed %d times without the lock", n)
				}
				return
			}
			if err != nil || tok.AccessToken == t1 || f.srv.Calls(oauthtest.GrantRefreshToken) != 1 {
				t.Fatalf("Token: %v (calls %d)", err, f.srv.Calls(oauthtest.GrantRefreshToken))
			}
			if time.Since(start) < tt.ttl {
				t.Fatal("refreshed before the other host's lock expired")
			}
			if _, err := f.st.Get(ctx, oauth.Namespace, "lock/crm"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("lock not released: %v", err)
			}
		})
	}
}

// flakyKV fails the next CompareAndSwap calls on one key.
type flakyKV struct {
	store.KV
	key  string
	fail atomic.Int32
}

func (k *flakyKV) CompareAndSwap(ctx context.Context, ns, key string, old, new []byte) (bool, error) {
	if key == k.key && k.fail.Add(-1) >= 0 {
		return false, errors.New("store unavailable")
	}
	return k.KV.CompareAndSwap(ctx, ns, key, old, new)
}

// TestRotatedTokenKeptWhenStoreFails checks that a refreshed (rotated)
// refresh token the store did not take is kept, with the lock, and stored
// before anything else: no host sends the old one meanwhile.
func TestRotatedTokenKeptWhenStoreFails(t *testing.T) {
	f := newFixture(t, oauthtest.Options{RotateRefreshTokens: true})
	flaky := &flakyKV{KV: f.st, key: "token/crm"}
	b, err := f.newBroker(oauth.Options{Owner: "a", Store: flaky, WaitTimeout: 300 * time.Millisecond}, f.crm())
	if err != nil {
		t.Fatal(err)
	}
	b2, err := f.newBroker(oauth.Options{Owner: "b", WaitTimeout: 300 * time.Millisecond}, f.crm())
	if err != nil {
		t.Fatal(err)
	}
	f.login(b, "crm")
	token(t, b, "crm", false)
	f.clk.Add(time.Hour)
	flaky.fail.Store(1)
	ctx := context.Background()
	if _, err := b.Token(ctx, "crm", false); sdk.Classify(err).Status != sdk.StatusRetryable || !strings.Contains(err.Error(), "cannot store") {
		t.Fatalf("Token with a failing store: %v", err)
	}
	if _, err := b2.Token(ctx, "crm", false); sdk.Classify(err).Status != sdk.StatusRetryable {
		t.Fatalf("another host while the new tokens are not stored: %v", err)
	}
	if n := f.srv.Calls(oauthtest.GrantRefreshToken); n != 1 {
		t.Fatalf("%d refresh calls, want 1", n)
	}
	f.clk.Add(2 * time.Second) // past the backoff
	got := token(t, b, "crm", false)
	if got2 := token(t, b2, "crm", false); got2 != got {
		t.Fatal("hosts disagree")
	}
	if _, ok := f.srv.Validate(got); !ok || f.srv.Calls(oauthtest.GrantRefreshToken) != 1 {
		t.Fatalf("valid %v, refresh calls %d", ok, f.srv.Calls(oauthtest.GrantRefreshToken))
	}
	f.clk.Add(time.Hour) // the chain still works
	if _, ok := f.srv.Validate(token(t, b2, "crm", false)); !ok {
		t.Fatal("chain broken")
	}
}
