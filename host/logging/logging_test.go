package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in      string
		want    Format
		wantErr bool
	}{
		{"text", FormatText, false},
		{"JSON", FormatJSON, false},
		{" json ", FormatJSON, false},
		{"logfmt", "", true},
	}
	for _, tt := range tests {
		got, err := ParseFormat(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in      string
		want    slog.Level
		wantErr bool
	}{
		{"debug", slog.LevelDebug, false},
		{"INFO", slog.LevelInfo, false},
		{"warn", slog.LevelWarn, false},
		{"error", slog.LevelError, false},
		{"loud", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseLevel(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestNewHandler(t *testing.T) {
	tests := []struct {
		format Format
		want   []string
	}{
		{FormatText, []string{`level=WARN`, `msg="disk low"`, `delay=1.5s`}},
		{FormatJSON, []string{`"level":"WARN"`, `"msg":"disk low"`, `"delay":"1.5s"`}},
		{"", []string{`level=WARN`}},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(NewHandler(&buf, slog.LevelWarn, tt.format))
			log.Info("not shown")
			log.Warn("disk low", "delay", 1500*time.Millisecond)
			out := buf.String()
			if strings.Contains(out, "not shown") {
				t.Errorf("record below the level was written: %s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output %q lacks %q", out, w)
				}
			}
		})
	}
}

// stringer is a fmt.Stringer whose text holds a secret.
type stringer string

func (s stringer) String() string { return string(s) }

// lazy is a LogValuer resolving to a string.
type lazy string

func (l lazy) LogValue() slog.Value { return slog.StringValue(string(l)) }

func TestRedact(t *testing.T) {
	const secret = "s3cr3t-Token"
	tests := []struct {
		name string
		log  func(*slog.Logger)
		want []string // substrings the output must contain
	}{
		{"message", func(l *slog.Logger) { l.Info("token is " + secret + "!") }, []string{`msg="token is [REDACTED]!"`}},
		{"string attr", func(l *slog.Logger) { l.Info("x", "auth", "Bearer "+secret) }, []string{`auth="Bearer [REDACTED]"`}},
		{"nested groups", func(l *slog.Logger) {
			l.Info("x", slog.Group("req", slog.Group("headers", "authorization", secret), "n", 3))
		}, []string{`req.headers.authorization=[REDACTED]`, `req.n=3`}},
		{"error", func(l *slog.Logger) { l.Info("x", "err", errors.New("bad key "+secret)) }, []string{`err="bad key [REDACTED]"`}},
		{"stringer", func(l *slog.Logger) { l.Info("x", "v", stringer(secret)) }, []string{`v=[REDACTED]`}},
		{"bytes", func(l *slog.Logger) { l.Info("x", "body", []byte(`{"k":"`+secret+`"}`)) }, []string{`body="{\"k\":\"[REDACTED]\"}"`}},
		{"log valuer", func(l *slog.Logger) { l.Info("x", "v", lazy(secret)) }, []string{`v=[REDACTED]`}},
		{"with attrs", func(l *slog.Logger) { l.With("conn", secret).Info("x") }, []string{`conn=[REDACTED]`}},
		{"with group", func(l *slog.Logger) { l.WithGroup("g").Info("x", "k", secret) }, []string{`g.k=[REDACTED]`}},
		{"longest first", func(l *slog.Logger) { l.Info(secret + "-suffix") }, []string{`msg=[REDACTED]`}},
		{"short secrets kept", func(l *slog.Logger) { l.Info("x", "flag", "on") }, []string{`flag=on`}},
		{"non-secret values keep their kind", func(l *slog.Logger) { l.Info("x", "n", 42, "ok", true) }, []string{`n=42`, `ok=true`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			secrets := func() []string { return []string{"on", secret, secret + "-suffix", secret} }
			tt.log(slog.New(Redact(NewHandler(&buf, slog.LevelDebug, FormatText), secrets)))
			out := buf.String()
			if strings.Contains(out, secret) {
				t.Errorf("secret in output: %s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output %q lacks %q", out, w)
				}
			}
		})
	}
}

func TestRedactJSON(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(Redact(NewHandler(&buf, slog.LevelInfo, FormatJSON), func() []string { return []string{"hunter2!"} }))
	log.Info("login hunter2!", slog.Group("user", "password", "hunter2!", "id", 7))
	var got struct {
		Msg  string
		User struct {
			Password string
			ID       int
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v: %s", err, buf.String())
	}
	if got.Msg != "login "+Redacted || got.User.Password != Redacted || got.User.ID != 7 {
		t.Errorf("got %+v from %s", got, buf.String())
	}
}

// TestRedactSecretsChange checks that a secret added while running (a
// refreshed token) is redacted from then on, and that concurrent use is safe.
func TestRedactSecretsChange(t *testing.T) {
	var (
		mu      sync.Mutex
		secrets = []string{"first-secret"}
		buf     bytes.Buffer
		bufMu   sync.Mutex
	)
	list := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return secrets
	}
	log := slog.New(Redact(slog.NewTextHandler(lockedWriter{&bufMu, &buf}, nil), list))
	log.Info("a", "v", "second-secret")
	mu.Lock()
	secrets = append(secrets[:1:1], "second-secret")
	mu.Unlock()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { log.Info("b", "v", "second-secret", "w", "first-secret") })
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 9 {
		t.Fatalf("got %d lines, want 9: %q", len(lines), lines)
	}
	if !strings.Contains(lines[0], "v=second-secret") {
		t.Errorf("line before the secret was known: %q", lines[0])
	}
	for _, l := range lines[1:] {
		if strings.Contains(l, "secret") {
			t.Errorf("secret in %q", l)
		}
	}
}

// lockedWriter serialises writes to a buffer.
type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func TestRedactNoSecrets(t *testing.T) {
	var buf bytes.Buffer
	slog.New(Redact(slog.NewTextHandler(&buf, nil), nil)).Info("plain", "k", "v")
	if !strings.Contains(buf.String(), `msg=plain k=v`) {
		t.Errorf("got %q", buf.String())
	}
}
