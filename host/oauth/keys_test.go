package oauth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/host/oauth"
	"github.com/weirhq/weir/host/oauth/oauthtest"
	"github.com/weirhq/weir/sdk"
)

func TestLoadKeys(t *testing.T) {
	key := make([]byte, oauth.KeySize)
	rand.Read(key)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rawFile := write("raw", key)
	b64File := write("b64", []byte(base64.StdEncoding.EncodeToString(key)+"\n"))
	tests := []struct {
		name    string
		env     map[string]string
		want    bool   // a current key
		wantErr string // "" for none
	}{
		{"none", nil, false, ""},
		{"hex", map[string]string{oauth.EnvSecretKey: hex.EncodeToString(key)}, true, ""},
		{"base64", map[string]string{oauth.EnvSecretKey: base64.StdEncoding.EncodeToString(key)}, true, ""},
		{"base64url raw", map[string]string{oauth.EnvSecretKey: " " + base64.RawURLEncoding.EncodeToString(key) + "\n"}, true, ""},
		{"file, raw bytes", map[string]string{oauth.EnvSecretKeyFile: rawFile}, true, ""},
		{"file, base64", map[string]string{oauth.EnvSecretKeyFile: b64File}, true, ""},
		{"too short", map[string]string{oauth.EnvSecretKey: base64.StdEncoding.EncodeToString(key[:16])}, false, "16 bytes"},
		{"not a key", map[string]string{oauth.EnvSecretKey: "correct horse battery staple"}, false, "neither hex"},
		{"both", map[string]string{oauth.EnvSecretKey: hex.EncodeToString(key), oauth.EnvSecretKeyFile: rawFile}, false, "set only one"},
		{"missing file", map[string]string{oauth.EnvSecretKeyFile: filepath.Join(dir, "nope")}, false, oauth.EnvSecretKeyFile},
		{"bad old key", map[string]string{oauth.EnvSecretKey: hex.EncodeToString(key), oauth.EnvSecretKeyOld: "xx"}, false, oauth.EnvSecretKeyOld},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := oauth.LoadKeys(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LoadKeys: %v, want an error about %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if keys.HasKey() != tt.want || (tt.want && keys.CurrentID() != oauth.KeyID(key)) {
				t.Fatalf("keys %v", keys)
			}
			for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
				s := fmt.Sprintf(format, keys)
				if strings.Contains(s, hex.EncodeToString(key)) || strings.Contains(s, base64.StdEncoding.EncodeToString(key)) ||
					strings.Contains(s, fmt.Sprint(key)) {
					t.Fatalf("%s shows the key: %s", format, s)
				}
			}
		})
	}
}

func TestTokensEncryptedAtRest(t *testing.T) {
	f := newFixture(t, oauthtest.Options{RotateRefreshTokens: true})
	b := f.broker("h", f.crm())
	f.login(b, "crm")
	f.clk.Add(time.Hour) // refresh once
	token(t, b, "crm", false)
	ctx := context.Background()
	raw, err := f.st.Get(ctx, oauth.Namespace, "token/crm")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append(b.Secrets(), f.srv.Secrets()...) {
		if bytes.Contains(raw, []byte(s)) {
			t.Fatalf("the stored record holds a token in clear: %s", raw)
		}
	}
	for _, s := range []string{"access_token", "refresh_token", "instance_url"} {
		if bytes.Contains(raw, []byte(s)) {
			t.Fatalf("the stored record shows %s: %s", s, raw)
		}
	}
	if !bytes.Contains(raw, []byte(f.keys.CurrentID())) {
		t.Fatalf("the stored record does not name its key: %s", raw)
	}
}

func TestWrongKey(t *testing.T) {
	other := make([]byte, oauth.KeySize)
	rand.Read(other)
	otherKeys, _ := oauth.NewKeyring(other)
	noKeys, _ := oauth.NewKeyring(nil)
	tests := []struct {
		name    string
		keys    *oauth.Keyring
		copyTo  string // read the record as another connection's
		wantErr error
		wantMsg string
	}{
		{"another key", otherKeys, "", oauth.ErrKey, "key id"},
		{"record copied to another connection", nil, "erp", oauth.ErrKey, "another connection"},
		{"status without key", noKeys, "", oauth.ErrNoKey, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, oauthtest.Options{})
			f.login(f.broker("h", f.crm()), "crm")
			ctx := context.Background()
			conn := f.crm()
			if tt.copyTo != "" {
				raw, _ := f.st.Get(ctx, oauth.Namespace, "token/crm")
				f.st.Put(ctx, oauth.Namespace, "token/"+tt.copyTo, raw)
				conn.Name = tt.copyTo
			}
			if tt.wantErr == oauth.ErrNoKey {
				if _, err := f.newBroker(oauth.Options{Keys: tt.keys}, conn); !errors.Is(err, oauth.ErrNoKey) || !strings.Contains(err.Error(), oauth.EnvSecretKey) {
					t.Fatalf("New without key: %v", err)
				}
				sts, err := oauth.ReadStatus(ctx, f.st, tt.keys, []oauth.Connection{conn}, f.clk.Now())
				if err != nil || sts[0].State != oauth.StateNoKey {
					t.Fatalf("status %+v %v", sts, err)
				}
				return
			}
			b, err := f.newBroker(oauth.Options{Keys: tt.keys}, conn)
			if err != nil {
				t.Fatal(err)
			}
			_, err = b.Token(ctx, conn.Name, false)
			if e := sdk.Classify(err); e == nil || e.Status != sdk.StatusAuthExpired || !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Token: %v", err)
			}
			sts, _ := b.Status(ctx)
			if sts[0].State != oauth.StateKeyMismatch {
				t.Fatalf("status %+v", sts[0])
			}
		})
	}
}

func TestRotateKey(t *testing.T) {
	f := newFixture(t, oauthtest.Options{})
	b := f.broker("h", f.crm())
	f.login(b, "crm")
	before := token(t, b, "crm", false)
	ctx := context.Background()
	oldRaw, _ := f.st.Get(ctx, oauth.Namespace, "token/crm")

	newKey := make([]byte, oauth.KeySize)
	rand.Read(newKey)
	both, _ := oauth.NewKeyring(newKey, f.key)
	res, err := oauth.RotateKey(ctx, f.st, both, nil) // the index knows crm
	if err != nil || len(res.Rotated) != 1 || res.Rotated[0] != "crm" {
		t.Fatalf("RotateKey: %+v %v", res, err)
	}
	newRaw, _ := f.st.Get(ctx, oauth.Namespace, "token/crm")
	if bytes.Equal(oldRaw, newRaw) || !bytes.Contains(newRaw, []byte(oauth.KeyID(newKey))) {
		t.Fatalf("record not re-encrypted: %s", newRaw)
	}
	// Again: nothing to do.
	if res, err := oauth.RotateKey(ctx, f.st, both, []string{"crm", "never-logged-in"}); err != nil || len(res.Current) != 1 || len(res.Rotated) != 0 {
		t.Fatalf("second RotateKey: %+v %v", res, err)
	}
	onlyNew, _ := oauth.NewKeyring(newKey)
	bNew, err := f.newBroker(oauth.Options{Keys: onlyNew}, f.crm())
	if err != nil {
		t.Fatal(err)
	}
	if got := token(t, bNew, "crm", false); got != before {
		t.Fatal("the tokens changed in the rotation")
	}
	bOld, err := f.newBroker(oauth.Options{}, f.crm()) // the old key only
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bOld.Token(ctx, "crm", false); !errors.Is(err, oauth.ErrKey) {
		t.Fatalf("the old key still opens the tokens: %v", err)
	}
	// Without the old key, nothing can be rotated.
	if _, err := oauth.RotateKey(ctx, f.st, func() *oauth.Keyring { k, _ := oauth.NewKeyring(make([]byte, 32)); return k }(), nil); !errors.Is(err, oauth.ErrKey) {
		t.Fatalf("RotateKey with an unrelated key: %v", err)
	}
}
