package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/weirhq/weir/host/api"
	"github.com/weirhq/weir/host/config"
	"github.com/weirhq/weir/host/daemon"
	"github.com/weirhq/weir/host/logging"
	"github.com/weirhq/weir/host/oauth"
	"github.com/weirhq/weir/host/store"
	"github.com/weirhq/weir/host/store/bolt"
)

const authUsage = `Usage: weir auth COMMAND [flags]

Commands:
  login CONNECTION  log in with the OAuth 2.0 authorization code flow (PKCE) and store the tokens
  status            the token state of every connection with an oauth2 block
  rotate-key        re-encrypt stored tokens: ` + oauth.EnvSecretKeyOld + ` (old key) to ` + oauth.EnvSecretKey + ` (new key)

Tokens are stored encrypted with the key in ` + oauth.EnvSecretKey + ` or ` + oauth.EnvSecretKeyFile + `
(32 bytes in base64 or hex, e.g. "openssl rand -base64 32").
`

// authCmd is "weir auth": login, status and rotate-key.
func authCmd(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, authUsage)
		return silent(ExitUsage)
	}
	switch args[0] {
	case "login":
		return authLogin(ctx, e, args[1:])
	case "status":
		return authStatus(ctx, e, args[1:])
	case "rotate-key":
		return authRotateKey(ctx, e, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stderr, authUsage)
		return flag.ErrHelp
	}
	return usageError("unknown auth command %q: use login, status or rotate-key", args[0])
}

// parseInterspersed parses flags placed before or after the positional
// arguments, and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// authConfig parses the configuration. When the authorization_code
// connection named leaves its endpoints to its connector, the
// configuration is loaded in full: the connector describes them.
func authConfig(ctx context.Context, e *env, file string, dirs []string, needEndpoints string) (*config.Config, error) {
	cfg, diags := config.Parse(file)
	if diags.HasErrors() {
		config.FormatDiagnostics(e.stderr, diags)
		return nil, silent(ExitUsage)
	}
	if needEndpoints == "" {
		return cfg, nil
	}
	c := cfg.Connection(needEndpoints)
	if c == nil || c.OAuth2 == nil || c.OAuth2.Flow != config.FlowAuthorizationCode ||
		(c.OAuth2.TokenURL != "" && c.OAuth2.AuthorizationURL != "") {
		return cfg, nil
	}
	l, err := load(ctx, e, file, dirs, nil)
	if err != nil {
		return nil, err
	}
	return l.Config, nil
}

// openAuthStore opens the store the daemon uses for this configuration.
func openAuthStore(ctx context.Context, cfg *config.Config, file string) (store.Store, error) {
	st, _, err := daemon.OpenStore(ctx, cfg, filepath.Dir(file))
	if errors.Is(err, bolt.ErrInUse) {
		return nil, fmt.Errorf("%w: stop it first (only one process at a time can open the embedded store)", err)
	}
	return st, err
}

// loadKeys reads the token encryption keys from the environment.
func loadKeys(e *env) (*oauth.Keyring, error) {
	keys, err := oauth.LoadKeys(e.getenv)
	if err != nil {
		return nil, configError(err)
	}
	return keys, nil
}

// redactedLogger logs warnings and worse through the redactor.
func redactedLogger(w io.Writer, secrets func() []string) *slog.Logger {
	return slog.New(logging.Redact(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}), secrets))
}

func authLogin(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "auth login", "CONNECTION [-config FILE] [-no-browser] [-listen ADDR] [-timeout D]")
	file := fs.String("config", DefaultConfig, "pipeline file")
	noBrowser := fs.Bool("no-browser", false, "only print the URL; do not try to open a browser")
	listen := fs.String("listen", "", "callback server address (default: redirect_url's host and port, else 127.0.0.1:0)")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait for the browser")
	var dirs stringList
	fs.Var(&dirs, "plugin-dir", "directory to search for connectors first (repeatable)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return silent(ExitUsage)
	}
	name := pos[0]
	cfg, err := authConfig(ctx, e, *file, dirs, name)
	if err != nil {
		return err
	}
	c := cfg.Connection(name)
	switch {
	case c == nil:
		return usageError("no connection %q in %s", name, *file)
	case c.OAuth2 == nil:
		return usageError("connection %s has no oauth2 block", name)
	case c.OAuth2.Flow != config.FlowAuthorizationCode:
		return usageError("connection %s uses the %s flow, which needs no login: weir gets its tokens by itself", name, c.OAuth2.Flow)
	}
	conn, _ := oauth.FromConfig(c)
	st, _, err := daemon.OpenStore(ctx, cfg, filepath.Dir(*file))
	if errors.Is(err, bolt.ErrInUse) {
		// A daemon holds the embedded store: it runs the login and keeps
		// the tokens; this command only shows the URL and waits.
		return loginViaDaemon(ctx, e, cfg, name, *listen, *timeout, !*noBrowser)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := loadKeys(e)
	if err != nil {
		return err
	}
	if !keys.HasKey() {
		return configError(fmt.Errorf("%w: the tokens are stored encrypted: set %s (32 random bytes in base64 or hex, e.g. from \"openssl rand -base64 32\") or %s",
			oauth.ErrNoKey, oauth.EnvSecretKey, oauth.EnvSecretKeyFile))
	}
	var broker atomic.Pointer[oauth.Broker]
	secrets := func() []string {
		s := cfg.Secrets()
		if b := broker.Load(); b != nil {
			s = append(s, b.Secrets()...)
		}
		return s
	}
	b, err := oauth.New(oauth.Options{Store: st, Keys: keys, Logger: redactedLogger(e.stderr, secrets)}, []oauth.Connection{conn})
	if err != nil {
		return configError(err)
	}
	broker.Store(b)
	login, err := b.StartLogin(ctx, name, oauth.LoginOptions{Listen: *listen})
	if err != nil {
		return err
	}
	defer login.Close()
	showLoginURL(e, name, login.URL(), login.RedirectURL(), !*noBrowser)
	wctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := login.Wait(wctx)
	if err != nil {
		return err
	}
	loggedIn(e, name, res.Expiry, res.RefreshToken)
	return nil
}

// showLoginURL prints the login URL and opens a browser when one is there.
func showLoginURL(e *env, name, url, redirect string, browser bool) {
	fmt.Fprintf(e.stdout, "To log in to connection %s, open this URL in a browser:\n\n  %s\n\nWaiting for the redirect to %s ...\n",
		name, url, redirect)
	if browser && (e.getenv("DISPLAY") != "" || e.getenv("WAYLAND_DISPLAY") != "" || runtime.GOOS == "darwin") {
		openBrowser(url)
	}
}

// loggedIn reports a successful login.
func loggedIn(e *env, name string, expiry time.Time, refresh bool) {
	fmt.Fprintf(e.stdout, "logged in to %s: access token valid until %s", name, expiry.Format(time.RFC3339))
	if refresh {
		fmt.Fprintln(e.stdout, "; weir refreshes it with the stored refresh token")
	} else {
		fmt.Fprintln(e.stdout, "\nwarning: no refresh token was issued: log in again when it expires (ask for the refresh_token or offline_access scope)")
	}
}

// loginPoll is how often a login run by a daemon is looked at.
const loginPoll = 250 * time.Millisecond

// loginViaDaemon has the daemon that holds the store run the login: the
// callback server and the tokens stay in the daemon, this command shows
// the URL and waits for the outcome over the admin API.
func loginViaDaemon(ctx context.Context, e *env, cfg *config.Config, name, listen string, timeout time.Duration, browser bool) error {
	h := newHTTPAdmin(e, cfg.API.Listen)
	var st oauth.LoginState
	if err := h.do(ctx, "POST", "/v1/connections/"+url.PathEscape(name)+"/login", api.LoginRequest{Listen: listen}, &st); err != nil {
		return fmt.Errorf("a weir daemon holds the store; asking it to run the login: %w", err)
	}
	fmt.Fprintln(e.stdout, "A weir daemon holds the store: it runs this login and keeps the tokens.")
	showLoginURL(e, name, st.URL, st.RedirectURL, browser)
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(loginPoll)
	defer tick.Stop()
	for st.State == oauth.LoginPending {
		select {
		case <-wctx.Done():
			return fmt.Errorf("connection %s: no login callback received: %w", name, wctx.Err())
		case <-tick.C:
		}
		if err := h.do(wctx, "GET", "/v1/connections/"+url.PathEscape(name)+"/login", nil, &st); err != nil {
			return fmt.Errorf("connection %s: following the login in the daemon: %w", name, err)
		}
	}
	if st.State != oauth.LoginDone {
		return errors.New(st.Error)
	}
	loggedIn(e, name, st.Expiry, st.RefreshToken)
	return nil
}

// openBrowser tries to open url; failures are ignored (the URL is printed).
func openBrowser(url string) {
	name := "xdg-open"
	if runtime.GOOS == "darwin" {
		name = "open"
	}
	cmd := exec.Command(name, url)
	if cmd.Start() == nil {
		go cmd.Wait()
	}
}

func authStatus(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "auth status", "[-config FILE]")
	file := fs.String("config", DefaultConfig, "pipeline file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := authConfig(ctx, e, *file, nil, "")
	if err != nil {
		return err
	}
	conns := oauth.FromConfigAll(cfg)
	if len(conns) == 0 {
		fmt.Fprintf(e.stdout, "no connection in %s has an oauth2 block\n", *file)
		return nil
	}
	keys, err := loadKeys(e)
	if err != nil {
		return err
	}
	var statuses []oauth.Status
	st, _, err := daemon.OpenStore(ctx, cfg, filepath.Dir(*file))
	switch {
	case errors.Is(err, bolt.ErrInUse):
		// A daemon holds the embedded store: it reports with its own key.
		h := newHTTPAdmin(e, cfg.API.Listen)
		if err := h.do(ctx, "GET", "/v1/auth/status", nil, &statuses); err != nil {
			return fmt.Errorf("a weir daemon holds the store; asking it for the token state: %w", err)
		}
		keys = nil // the hints name the daemon's key, not this shell's
	case err != nil:
		return err
	default:
		defer st.Close()
		if statuses, err = oauth.ReadStatus(ctx, st, keys, conns, time.Now()); err != nil {
			return err
		}
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONNECTION\tFLOW\tSTATE\tVALID UNTIL\tLAST REFRESH\tLAST ERROR")
	var hints []string
	for _, s := range statuses {
		last := orDash(fmtTime(s.LastRefresh))
		if s.LastRefreshBy != "" && !s.LastRefresh.IsZero() {
			last += " by " + s.LastRefreshBy
		}
		lastErr := "-"
		if s.LastError != "" {
			lastErr = fmtTime(s.LastErrorAt) + " " + s.LastError
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Connection, s.Flow, s.State, orDash(fmtTime(s.ValidUntil)), last, lastErr)
		switch s.State {
		case oauth.StateNeedsLogin:
			hints = append(hints, fmt.Sprintf("run \"weir auth login %s\" to log in", s.Connection))
		case oauth.StateNoKey:
			hints = append(hints, fmt.Sprintf("connection %s: set %s or %s to the key its tokens are encrypted with", s.Connection, oauth.EnvSecretKey, oauth.EnvSecretKeyFile))
		case oauth.StateKeyMismatch:
			current := "the daemon's"
			if keys != nil {
				current = fmt.Sprintf("%q", keys.CurrentID())
			}
			hints = append(hints, fmt.Sprintf("connection %s: its tokens are encrypted with key id %s, which %s does not match (current key id %s)",
				s.Connection, s.KeyID, oauth.EnvSecretKey, current))
		}
	}
	tw.Flush()
	for _, h := range hints {
		fmt.Fprintln(e.stdout, h)
	}
	return nil
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func authRotateKey(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "auth rotate-key", "[-config FILE]")
	file := fs.String("config", DefaultConfig, "pipeline file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	keys, err := loadKeys(e)
	if err != nil {
		return err
	}
	if !keys.HasKey() || len(keys.OldIDs()) == 0 {
		return usageError("set %s (or %s) to the new key and %s (or %s) to the key the tokens are encrypted with now",
			oauth.EnvSecretKey, oauth.EnvSecretKeyFile, oauth.EnvSecretKeyOld, oauth.EnvSecretKeyOldFile)
	}
	cfg, err := authConfig(ctx, e, *file, nil, "")
	if err != nil {
		return err
	}
	st, err := openAuthStore(ctx, cfg, *file)
	if err != nil {
		return err
	}
	defer st.Close()
	var names []string
	for _, c := range oauth.FromConfigAll(cfg) {
		names = append(names, c.Name)
	}
	res, rerr := oauth.RotateKey(ctx, st, keys, names)
	if len(res.Rotated) > 0 {
		fmt.Fprintf(e.stdout, "re-encrypted the tokens of %s with key id %s\n", strings.Join(res.Rotated, ", "), keys.CurrentID())
	}
	if len(res.Current) > 0 {
		fmt.Fprintf(e.stdout, "already encrypted with key id %s: %s\n", keys.CurrentID(), strings.Join(res.Current, ", "))
	}
	if len(res.Rotated) == 0 && len(res.Current) == 0 && rerr == nil {
		fmt.Fprintln(e.stdout, "no stored tokens to re-encrypt")
	}
	if rerr != nil {
		return rerr
	}
	fmt.Fprintf(e.stdout, "%s is no longer needed once every weir host runs with the new %s\n", oauth.EnvSecretKeyOld, oauth.EnvSecretKey)
	return nil
}
