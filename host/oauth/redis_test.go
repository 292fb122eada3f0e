package oauth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirhq/weir/host/oauth"
	"github.com/weirhq/weir/host/oauth/oauthtest"
	"github.com/weirhq/weir/host/store"
	"github.com/weirhq/weir/host/store/redis"
)

// helperEnv, when set, makes the test binary a helper host of
// TestRotationAcrossProcesses; its value is the helper's JSON config.
const helperEnv = "WEIR_OAUTH_TEST_HELPER"

// ctlNS is the store namespace the test drives its helpers through.
const ctlNS = "oauthtest"

func TestMain(m *testing.M) {
	if cfg := os.Getenv(helperEnv); cfg != "" {
		os.Exit(runHelper(cfg))
	}
	os.Exit(m.Run())
}

// helperConfig is what a helper process needs.
type helperConfig struct {
	Name, RedisURL, Prefix, TokenURL, AuthorizeURL, Key string
}

// redisURL is the Redis the cross-process test uses.
func redisURL() string {
	if u := os.Getenv("WEIR_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:8])
}

// TestRotationAcrossProcesses is TestRotationUnderContention with three OS
// processes sharing Redis: each round the test moves every clock forward
// so the token is due, and all three hosts ask at once, from two
// goroutines each. Exactly one refresh reaches the server per round, with
// no invalid_grant, and all hosts end with the same valid token.
func TestRotationAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts helper processes")
	}
	ctx := context.Background()
	prefix := "weir-oauth-test-" + hashToken(time.Now().String())
	st, err := redis.Open(ctx, redisURL(), redis.Options{Prefix: prefix})
	if err != nil {
		t.Skipf("no Redis (set WEIR_TEST_REDIS_URL): %v", err)
	}
	defer st.Close()
	defer func() {
		for _, k := range []string{"token/crm", "status/crm", "lock/crm", "index"} {
			st.Delete(ctx, oauth.Namespace, k)
		}
		st.Delete(ctx, ctlNS, "round")
	}()

	var offset atomic.Int64 // the test's clock shift, for the server and the hosts
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	srv := oauthtest.NewServer(oauthtest.Options{RotateRefreshTokens: true, AutoApprove: true, Now: now,
		AccessTokenLifetime: time.Hour, TokenDelay: 20 * time.Millisecond})
	defer srv.Close()
	srv.AddClient(oauthtest.Client{ID: crmClientID, Secret: crmClientSecret, RequirePKCE: true})
	key := make([]byte, oauth.KeySize)
	rand.Read(key)
	keys, _ := oauth.NewKeyring(key)
	conn := oauth.Connection{Name: "crm", Flow: "authorization_code", ClientID: crmClientID, ClientSecret: crmClientSecret,
		TokenURL: srv.TokenURL(), AuthorizationURL: srv.AuthorizeURL()}
	var logs syncBuffer
	parent, err := oauth.New(oauth.Options{Store: st, Keys: keys, Now: now, Owner: "test", Logger: slog.New(slog.NewTextHandler(&logs, nil))},
		[]oauth.Connection{conn})
	if err != nil {
		t.Fatal(err)
	}
	login(t, parent, "crm")

	const hosts = 3
	var outs [hosts]bytes.Buffer
	var procs []*exec.Cmd
	for i := range hosts {
		cfg, _ := json.Marshal(helperConfig{Name: fmt.Sprintf("host-%d", i), RedisURL: redisURL(), Prefix: prefix,
			TokenURL: srv.TokenURL(), AuthorizeURL: srv.AuthorizeURL(), Key: base64.StdEncoding.EncodeToString(key)})
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), helperEnv+"="+string(cfg), "TEST_CRM_SECRET="+crmClientSecret)
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, cmd)
	}
	defer func() {
		st.Put(ctx, ctlNS, "round", []byte("done"))
		for i, p := range procs {
			if err := p.Wait(); err != nil {
				t.Errorf("helper %d: %v\n%s", i, err, outs[i].String())
			}
		}
		secrets := srv.Secrets()
		for i := range outs {
			for _, s := range secrets {
				if strings.Contains(outs[i].String(), s) {
					t.Errorf("helper %d's output leaks a secret", i)
				}
			}
		}
	}()

	const rounds = 4
	for round := 0; round <= rounds; round++ {
		if round > 0 {
			offset.Add(int64(56 * time.Minute)) // due: within 5 min of expiry
		}
		if err := st.Put(ctx, ctlNS, "round", fmt.Appendf(nil, "%d %d", round, offset.Load())); err != nil {
			t.Fatal(err)
		}
		var got []string
		deadline := time.Now().Add(30 * time.Second)
		for i := 0; i < hosts; {
			v, err := st.Get(ctx, ctlNS, fmt.Sprintf("result/host-%d/%d", i, round))
			if errors.Is(err, store.ErrNotFound) {
				if time.Now().After(deadline) {
					t.Fatalf("round %d: no result from host %d:\n%s", round, i, outs[i].String())
				}
				time.Sleep(5 * time.Millisecond)
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			st.Delete(ctx, ctlNS, fmt.Sprintf("result/host-%d/%d", i, round))
			got = append(got, strings.Fields(string(v))...)
			i++
		}
		for _, r := range got {
			if strings.HasPrefix(r, "ERR") || r != got[0] {
				t.Fatalf("round %d: results %v", round, got)
			}
		}
		if n := srv.Calls(oauthtest.GrantRefreshToken); n != round {
			t.Fatalf("round %d: %d refresh calls, want %d", round, n, round)
		}
		tok, err := parent.Token(ctx, "crm", false)
		if err != nil {
			t.Fatal(err)
		}
		if hashToken(tok.AccessToken) != got[0] {
			t.Fatalf("round %d: the stored token is not the hosts'", round)
		}
		if _, ok := srv.Validate(tok.AccessToken); !ok {
			t.Fatalf("round %d: the shared token is not valid", round)
		}
	}
}

// runHelper is a helper host: for each round the test announces, it
// shifts its clock and asks for a token from two goroutines at once, then
// posts the hashes of what it got.
func runHelper(cfgJSON string) int {
	var cfg helperConfig
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	st, err := redis.Open(ctx, cfg.RedisURL, redis.Options{Prefix: cfg.Prefix})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.Close()
	key, _ := base64.StdEncoding.DecodeString(cfg.Key)
	keys, _ := oauth.NewKeyring(key)
	var offset atomic.Int64
	b, err := oauth.New(oauth.Options{Store: st, Keys: keys, Owner: cfg.Name,
		Now:    func() time.Time { return time.Now().Add(time.Duration(offset.Load())) },
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))},
		[]oauth.Connection{{Name: "crm", Flow: "authorization_code", ClientID: crmClientID, ClientSecret: os.Getenv("TEST_CRM_SECRET"),
			TokenURL: cfg.TokenURL, AuthorizationURL: cfg.AuthorizeURL}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	deadline := time.Now().Add(60 * time.Second)
	for round := 0; time.Now().Before(deadline); {
		v, err := st.Get(ctx, ctlNS, "round")
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		f := strings.Fields(string(v))
		if len(f) == 1 && f[0] == "done" {
			return 0
		}
		if len(f) != 2 || f[0] != strconv.Itoa(round) {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		off, _ := strconv.ParseInt(f[1], 10, 64)
		offset.Store(off)
		var wg sync.WaitGroup
		res := make([]string, 2)
		for g := range res {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tok, err := b.Token(ctx, "crm", false)
				if err != nil {
					res[g] = "ERR:" + strings.ReplaceAll(err.Error(), " ", "_")
					return
				}
				res[g] = hashToken(tok.AccessToken)
			}()
		}
		wg.Wait()
		if err := st.Put(ctx, ctlNS, fmt.Sprintf("result/%s/%d", cfg.Name, round), []byte(strings.Join(res, " "))); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		round++
	}
	fmt.Fprintln(os.Stderr, "helper: timed out")
	return 1
}
