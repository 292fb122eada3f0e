package redis

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/weirhq/weir/host/store"
)

func TestURLForms(t *testing.T) {
	cases := []struct {
		url      string
		mode     mode
		addrs    []string
		user, pw string
		db       int
		tls      bool
		master   string
	}{
		{url: "redis://127.0.0.1:6379", mode: standalone, addrs: []string{"127.0.0.1:6379"}},
		{url: "redis://:s3cret@redis.internal/2", mode: standalone, addrs: []string{"redis.internal:6379"}, pw: "s3cret", db: 2},
		{url: "rediss://weir:s3cret@redis.internal:6380?dial_timeout=3s", mode: standalone, addrs: []string{"redis.internal:6380"}, user: "weir", pw: "s3cret", tls: true},
		{url: "unix:///run/redis.sock?db=1", mode: standalone, addrs: []string{"/run/redis.sock"}, db: 1},
		{url: "redis+cluster://10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000", mode: cluster, addrs: []string{"10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"}},
		{url: "rediss+cluster://:pw@cfg.cache.amazonaws.com:6379", mode: cluster, addrs: []string{"cfg.cache.amazonaws.com:6379"}, pw: "pw", tls: true},
		{url: "redis://10.0.0.1:7000?cluster=true", mode: cluster, addrs: []string{"10.0.0.1:7000"}},
		{url: "redis://10.0.0.1:7000?addr=10.0.0.2:7000", mode: cluster, addrs: []string{"10.0.0.1:7000", "10.0.0.2:7000"}},
		{url: "redis-sentinel://s1:26379?master_name=weir&addr=s2:26379&password=masterpw", mode: sentinel, addrs: []string{"s1:26379", "s2:26379"}, pw: "masterpw", master: "weir"},
		{url: "redis://s1:26379/3?master_name=weir", mode: sentinel, addrs: []string{"s1:26379"}, db: 3, master: "weir"},
	}
	for _, tc := range cases {
		m, o, _, err := parseURL(tc.url)
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		if m != tc.mode {
			t.Errorf("%s: mode %d, want %d", tc.url, m, tc.mode)
			continue
		}
		var addrs []string
		var user, pw, master string
		var db int
		var tlsc *tls.Config
		switch o := o.(type) {
		case *goredis.Options:
			addrs, user, pw, db, tlsc = []string{o.Addr}, o.Username, o.Password, o.DB, o.TLSConfig
		case *goredis.ClusterOptions:
			addrs, user, pw, tlsc = o.Addrs, o.Username, o.Password, o.TLSConfig
		case *goredis.FailoverOptions:
			addrs, user, pw, db, tlsc, master = o.SentinelAddrs, o.Username, o.Password, o.DB, o.TLSConfig, o.MasterName
		}
		if strings.Join(addrs, ",") != strings.Join(tc.addrs, ",") || user != tc.user || pw != tc.pw || db != tc.db || (tlsc != nil) != tc.tls || master != tc.master {
			t.Errorf("%s: addrs %v user %q password %q db %d tls %v master %q", tc.url, addrs, user, pw, db, tlsc != nil, master)
		}
	}

	bad := []string{
		"http://localhost",
		"redis+cluster://h:1/2",
		"redis://h:1?cluster=maybe",
		"redis-sentinel://h:26379",
		"redis+cluster://h:1?master_name=x",
		"redis://:hunter2@h:1?no_such_option=1",
		"redis://:hunter2@h:1/notadb",
		"redis://:hunter2@[::1",
		"redis-sentinel://s1:26379?master_name=m&password=hunter2&bogus=1",
	}
	for _, u := range bad {
		_, _, _, err := parseURL(u)
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", u, err)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error shows the password: %v", u, err)
		}
	}
}

func TestRedactedWhere(t *testing.T) {
	for _, u := range []string{
		"redis://:hunter2@h:1",
		"rediss://user:hunter2@h:1/2",
		"redis-sentinel://:hunter2@s1:26379?master_name=m&password=hunter2",
	} {
		_, _, where, err := parseURL(u)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if strings.Contains(where, "hunter2") || !strings.Contains(where, "xxxxx") {
			t.Errorf("%s shown as %s", u, where)
		}
	}
}

func TestOptionsApplied(t *testing.T) {
	tlsConf := &tls.Config{ServerName: "redis.example"}
	c, _, err := newClient("redis://:fromurl@h:1?read_timeout=5s", &Options{Password: "fromenv", TLSConfig: tlsConf, PoolSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	o := c.(*goredis.Client).Options()
	switch {
	case o.Password != "fromenv":
		t.Errorf("Password %q, want the one from Options", o.Password)
	case o.TLSConfig != tlsConf:
		t.Errorf("TLSConfig not applied")
	case o.ReadTimeout != 5*time.Second:
		t.Errorf("ReadTimeout %s, want the URL's 5s", o.ReadTimeout)
	case o.DialTimeout != DefaultDialTimeout || o.WriteTimeout != DefaultWriteTimeout:
		t.Errorf("DialTimeout %s, WriteTimeout %s; want the defaults", o.DialTimeout, o.WriteTimeout)
	case o.PoolSize != 7:
		t.Errorf("PoolSize %d, want 7", o.PoolSize)
	}
	for _, p := range []string{"a b", "x{y}", strings.Repeat("p", 65)} {
		if _, err := Open(t.Context(), "redis://127.0.0.1:1", Options{Prefix: p}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("prefix %q: err = %v, want ErrInvalid", p, err)
		}
	}
}

func TestEscapeName(t *testing.T) {
	long := strings.Repeat("ü", 100)
	cases := []struct{ in, want string }{
		{"orders", "orders"},
		{"orders_to-erp.v2", "orders_to-erp.v2"},
		{"{orders}", "%7Borders%7D"},
		{"a:b}{c", "a%3Ab%7D%7Bc"},
		{"naïve pipe/1", "na%C3%AFve%20pipe%2F1"},
		{"*?[x]", "%2A%3F%5Bx%5D"},
		{"~", "%7E"},
	}
	for _, tc := range cases {
		if got := escapeName(tc.in); got != tc.want {
			t.Errorf("escapeName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	a, b := escapeName(long), escapeName(long+"x")
	if a == b || len(a) > maxTagName || !strings.Contains(a, "~") || strings.Count(a[:strings.Index(a, "~")], "%")*3 > len(a) {
		t.Errorf("long names: %q, %q", a, b)
	}
	if i := strings.Index(a, "~"); i < 2 || a[i-1] == '%' || a[i-2] == '%' {
		t.Errorf("escape cut in half: %q", a)
	}
}

func TestRecordCodec(t *testing.T) {
	recs := []store.Record{
		{Key: "k", Version: 0},
		{Key: "SO-1", Version: 1<<62 + 3, Op: store.OpDelete, Object: "Order", Payload: []byte(`{"a":1}`), Metadata: map[string]string{"trace": "x", "": "empty"}},
		{Key: strings.Repeat("k", store.MaxKeyLen), Version: 9, Payload: make([]byte, 70000)},
	}
	for _, r := range recs {
		b := encodeRecord(nil, &r)
		if len(b) > recordSize(&r) {
			t.Errorf("%s: encoded %d bytes, bound %d", r.Key[:1], len(b), recordSize(&r))
		}
		got, err := decodeRecord(string(b))
		if err != nil || got.Key != r.Key || got.Version != r.Version || got.Op != r.Op || got.Object != r.Object ||
			string(got.Payload) != string(r.Payload) || len(got.Metadata) != len(r.Metadata) {
			t.Errorf("round trip of %s@%d = %+v, %v", r.Key[:1], r.Version, got.Version, err)
		}
		for k, v := range r.Metadata {
			if got.Metadata[k] != v {
				t.Errorf("metadata %q = %q, want %q", k, got.Metadata[k], v)
			}
		}
		for cut := range min(len(b), 2000) {
			if _, err := decodeRecord(string(b[:cut])); err == nil && cut < len(b) {
				t.Fatalf("a record cut at %d of %d bytes decoded", cut, len(b))
			}
		}
	}
	if v := versionString(1<<63 - 1); len(v) != 19 || v != "9223372036854775807" {
		t.Errorf("versionString(max) = %q", v)
	}
	if versionString(9) >= versionString(10) {
		t.Errorf("version strings do not order numerically")
	}
}
