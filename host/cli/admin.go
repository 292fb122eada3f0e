package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/weirhq/weir/host/api"
	"github.com/weirhq/weir/host/config"
	"github.com/weirhq/weir/host/daemon"
	"github.com/weirhq/weir/host/store"
)

// APITokenEnv is the environment variable the CLI reads the API token from.
const APITokenEnv = "WEIR_API_TOKEN"

// admin is what status and dlq need: the running daemon's API, or, when no
// daemon runs, the embedded store itself.
type admin interface {
	Status(ctx context.Context) (api.Status, error)
	DeadLetters(ctx context.Context, pipeline, after string, limit int) ([]api.DeadLetter, error)
	DeadLetter(ctx context.Context, pipeline, id string) (api.DeadLetter, error)
	Replay(ctx context.Context, pipeline string, ids []string) (store.ReplayResult, error)
	Drop(ctx context.Context, pipeline string, ids []string) (int, error)
	Close() error
}

// adminFlags are the flags of commands that talk to a daemon.
type adminFlags struct {
	config *string
	addr   *string
}

func addAdminFlags(fs *flag.FlagSet) adminFlags {
	return adminFlags{
		config: fs.String("config", DefaultConfig, "pipeline file (for the API address and the store)"),
		addr:   fs.String("addr", "", "API address of the running weir (default: the api block's listen)"),
	}
}

// connect reaches the running daemon's API, or opens the embedded store
// when no daemon answers.
func (f adminFlags) connect(ctx context.Context, e *env) (admin, error) {
	cfg, diags := config.Parse(*f.config)
	if diags.HasErrors() {
		config.FormatDiagnostics(e.stderr, diags)
		return nil, silent(ExitUsage)
	}
	addr := *f.addr
	if addr == "" {
		addr = cfg.API.Listen
	}
	h := newHTTPAdmin(e, addr)
	_, err := h.Status(ctx)
	if err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
		return h, err
	}
	st, _, err := daemon.OpenStore(ctx, cfg, filepath.Dir(*f.config))
	if err != nil {
		return nil, fmt.Errorf("no weir answers at %s, and the store cannot be opened: %w", addr, err)
	}
	names := make([]string, len(cfg.Pipelines))
	for i, p := range cfg.Pipelines {
		names[i] = p.Name
	}
	return &storeAdmin{st: st, pipelines: names}, nil
}

// httpAdmin talks to a running daemon.
type httpAdmin struct {
	base, token string
	client      *http.Client
}

// newHTTPAdmin talks to the daemon at addr with the token from the
// environment.
func newHTTPAdmin(e *env, addr string) *httpAdmin {
	return &httpAdmin{base: "http://" + addr, token: e.getenv(APITokenEnv), client: &http.Client{Timeout: 30 * time.Second}}
}

func (h *httpAdmin) Close() error { return nil }

func (h *httpAdmin) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.base+path, rd)
	if err != nil {
		return err
	}
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode >= 300 {
		var e api.Error
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			if resp.StatusCode == http.StatusUnauthorized && h.token == "" {
				return fmt.Errorf("%s (set %s)", e.Error, APITokenEnv)
			}
			return errors.New(e.Error)
		}
		return fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
	}
	return json.Unmarshal(data, out)
}

func (h *httpAdmin) Status(ctx context.Context) (api.Status, error) {
	var st api.Status
	return st, h.do(ctx, "GET", "/v1/status", nil, &st)
}

func (h *httpAdmin) DeadLetters(ctx context.Context, pipeline, after string, limit int) ([]api.DeadLetter, error) {
	var out struct {
		DeadLetters []api.DeadLetter `json:"dead_letters"`
	}
	q := url.Values{"after": {after}, "limit": {fmt.Sprint(limit)}}
	err := h.do(ctx, "GET", "/v1/pipelines/"+url.PathEscape(pipeline)+"/dead-letters?"+q.Encode(), nil, &out)
	return out.DeadLetters, err
}

func (h *httpAdmin) DeadLetter(ctx context.Context, pipeline, id string) (api.DeadLetter, error) {
	var out api.DeadLetter
	return out, h.do(ctx, "GET", "/v1/pipelines/"+url.PathEscape(pipeline)+"/dead-letters/"+url.PathEscape(id), nil, &out)
}

func (h *httpAdmin) Replay(ctx context.Context, pipeline string, ids []string) (store.ReplayResult, error) {
	var out store.ReplayResult
	return out, h.do(ctx, "POST", "/v1/pipelines/"+url.PathEscape(pipeline)+"/dead-letters/replay", api.IDs{IDs: ids}, &out)
}

func (h *httpAdmin) Drop(ctx context.Context, pipeline string, ids []string) (int, error) {
	var out struct {
		Dropped int `json:"dropped"`
	}
	err := h.do(ctx, "POST", "/v1/pipelines/"+url.PathEscape(pipeline)+"/dead-letters/drop", api.IDs{IDs: ids}, &out)
	return out.Dropped, err
}

// storeAdmin works on the embedded store of a stopped daemon.
type storeAdmin struct {
	st        store.Store
	pipelines []string
}

func (s *storeAdmin) Close() error { return s.st.Close() }

func (s *storeAdmin) known(p string) error {
	for _, n := range s.pipelines {
		if n == p {
			return nil
		}
	}
	return usageError("no pipeline %q in the configuration", p)
}

func (s *storeAdmin) Status(ctx context.Context) (api.Status, error) {
	out := api.Status{Pipelines: []api.PipelineStatus{}, Connections: []api.ConnectionStatus{}}
	for _, p := range s.pipelines {
		st, err := s.st.Stats(ctx, p)
		if err != nil {
			return out, err
		}
		out.Pipelines = append(out.Pipelines, api.PipelineStatusOf(p, st))
	}
	return out, nil
}

func (s *storeAdmin) DeadLetters(ctx context.Context, pipeline, after string, limit int) ([]api.DeadLetter, error) {
	if err := s.known(pipeline); err != nil {
		return nil, err
	}
	dls, err := s.st.DeadLetters(ctx, pipeline, after, limit)
	out := make([]api.DeadLetter, len(dls))
	for i, d := range dls {
		out[i] = api.DeadLetterOf(d)
	}
	return out, err
}

func (s *storeAdmin) DeadLetter(ctx context.Context, pipeline, id string) (api.DeadLetter, error) {
	if err := s.known(pipeline); err != nil {
		return api.DeadLetter{}, err
	}
	d, err := s.st.DeadLetterByID(ctx, pipeline, id)
	if errors.Is(err, store.ErrNotFound) {
		return api.DeadLetter{}, fmt.Errorf("pipeline %s has no dead letter %q", pipeline, id)
	}
	return api.DeadLetterOf(d), err
}

func (s *storeAdmin) Replay(ctx context.Context, pipeline string, ids []string) (store.ReplayResult, error) {
	if err := s.known(pipeline); err != nil {
		return store.ReplayResult{}, err
	}
	return s.st.Replay(ctx, pipeline, ids)
}

func (s *storeAdmin) Drop(ctx context.Context, pipeline string, ids []string) (int, error) {
	if err := s.known(pipeline); err != nil {
		return 0, err
	}
	return s.st.Drop(ctx, pipeline, ids)
}

func statusCmd(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "status", "[-config FILE] [-addr ADDR] [-json]")
	af := addAdminFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	a, err := af.connect(ctx, e)
	if err != nil {
		return err
	}
	defer a.Close()
	st, err := a.Status(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	if _, ok := a.(*storeAdmin); ok {
		fmt.Fprintln(e.stdout, "weir is not running; figures from the store:")
	}
	fmt.Fprintf(e.stdout, "%-20s %9s %9s %9s %9s %9s %9s\n", "PIPELINE", "ACCEPTED", "DELIVERED", "WAITING", "IN FLIGHT", "RETRYING", "DEAD")
	for _, p := range st.Pipelines {
		fmt.Fprintf(e.stdout, "%-20s %9d %9d %9d %9d %9d %9d\n", p.Name, p.Accepted, p.Delivered, p.Ready+p.Pending, p.InFlight, p.Retrying, p.DeadLetters)
	}
	if len(st.Connections) > 0 {
		fmt.Fprintf(e.stdout, "\n%-20s %-10s %-4s %8s %-14s %-10s %s\n", "CONNECTION", "CONNECTOR", "UP", "RESTARTS", "RATE", "IN FLIGHT", "TODAY")
		for _, c := range st.Connections {
			rate := "unlimited"
			if c.Rate > 0 {
				rate = fmt.Sprintf("%d/%d per %s", c.InWindow, c.Rate, c.Per)
			}
			inflight := fmt.Sprint(c.InFlight)
			if c.Concurrency > 0 {
				inflight += fmt.Sprintf("/%d", c.Concurrency)
			}
			today := fmt.Sprint(c.UsedToday)
			if c.PerDay > 0 {
				today += fmt.Sprintf("/%d", c.PerDay)
			}
			up := "yes"
			if !c.Up {
				up = "no"
			}
			line := fmt.Sprintf("%-20s %-10s %-4s %8d %-14s %-10s %s", c.Name, c.Connector, up, c.Restarts, rate, inflight, today)
			if !c.PausedUntil.IsZero() {
				line += "  paused until " + c.PausedUntil.Format(time.RFC3339)
			}
			fmt.Fprintln(e.stdout, line)
		}
	}
	return nil
}

func dlqCmd(ctx context.Context, e *env, args []string) error {
	const synopsis = "list|show|replay|drop [-config FILE] [-addr ADDR] PIPELINE [ID...]"
	if len(args) == 0 {
		return usageError("usage: weir dlq %s", synopsis)
	}
	verb := args[0]
	fs := newFlags(e, "dlq "+verb, "[-config FILE] [-addr ADDR] PIPELINE [ID...]")
	af := addAdminFlags(fs)
	all := fs.Bool("all", false, "replay or drop every dead letter of the pipeline")
	limit := fs.Int("limit", 100, "list at most this many")
	after := fs.String("after", "", "list dead letters after this ID")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return usageError("name the pipeline: weir dlq %s PIPELINE [ID...]", verb)
	}
	pipeline, ids := rest[0], rest[1:]
	switch verb {
	case "list", "show", "replay", "drop":
	default:
		return usageError("unknown dlq command %q: use list, show, replay or drop", verb)
	}
	if (verb == "replay" || verb == "drop") && len(ids) == 0 && !*all {
		return usageError("name the dead letters to %s, or give -all", verb)
	}
	if verb == "show" && len(ids) == 0 {
		return usageError("name the dead letters to show")
	}
	a, err := af.connect(ctx, e)
	if err != nil {
		return err
	}
	defer a.Close()
	switch verb {
	case "list":
		dls, err := a.DeadLetters(ctx, pipeline, *after, *limit)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%-24s %-24s %8s  %-20s %s\n", "ID", "KEY", "ATTEMPTS", "FIELD", "REASON")
		for _, d := range dls {
			fmt.Fprintf(e.stdout, "%-24s %-24s %8d  %-20s %s\n", d.ID, d.Key, d.Attempts, d.Field, oneLine(d.Reason))
		}
		fmt.Fprintf(e.stdout, "%d dead letter(s)\n", len(dls))
	case "show":
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		for _, id := range ids {
			d, err := a.DeadLetter(ctx, pipeline, id)
			if err != nil {
				return err
			}
			enc.Encode(d)
		}
	case "replay":
		res, err := a.Replay(ctx, pipeline, ids)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "replayed %d\n", res.Replayed)
		for _, id := range res.Stale {
			fmt.Fprintf(e.stdout, "kept %s: its key already has a version at least as new\n", id)
		}
		for _, id := range res.Missing {
			fmt.Fprintf(e.stdout, "no dead letter %s\n", id)
		}
		if len(res.Missing) > 0 {
			return silent(ExitFailure)
		}
	case "drop":
		n, err := a.Drop(ctx, pipeline, ids)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "dropped %d\n", n)
	}
	return nil
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
