// Package api serves Weir's HTTP API: health, readiness and metrics,
// webhook ingest, status and dead letters. Everything but health,
// readiness, metrics and webhooks needs the API token as a bearer token.
package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/weirhq/weir/host/engine"
	"github.com/weirhq/weir/host/oauth"
	"github.com/weirhq/weir/host/store"
	"github.com/weirhq/weir/sdk"
)

// DefaultMaxBody is the webhook body limit when none is configured.
const DefaultMaxBody = 1 << 20

// Webhook authentication modes.
const (
	AuthNone  = "none"
	AuthToken = "token"
	AuthHMAC  = "hmac"
)

// DefaultSignatureHeader carries "sha256=<hex HMAC-SHA256 of the body>".
const DefaultSignatureHeader = "X-Weir-Signature"

// Webhook is one pipeline's webhook route.
type Webhook struct {
	// Auth is AuthNone, AuthToken (Authorization: Bearer <secret>) or
	// AuthHMAC (Header: sha256=<hex HMAC-SHA256(secret, body)>).
	Auth    string
	Secret  string
	Header  string
	MaxBody int64
}

// Ingester accepts webhook requests durably; *engine.Engine is one.
type Ingester interface {
	Ingest(ctx context.Context, pipeline string, req sdk.WebhookRequest) (sdk.WebhookResponse, error)
}

// Looker answers the named real-time lookups of POST /v1/lookups/{name}.
type Looker interface {
	// Lookup runs the named lookup. It returns an error matching
	// ErrUnknownLookup for a name that is not configured; connector errors
	// keep their class (sdk.Classify).
	Lookup(ctx context.Context, name string, query json.RawMessage) (json.RawMessage, error)
}

// ErrUnknownLookup is returned by a Looker for a name it does not serve.
var ErrUnknownLookup = errors.New("unknown lookup")

// Options configure a Server.
type Options struct {
	Ingester Ingester
	Lookups  Looker
	Store    store.DeadLetterQueue
	// Pipelines lists every pipeline for status and dead-letter routes.
	Pipelines []string
	// Webhooks maps pipeline names to their webhook routes.
	Webhooks map[string]Webhook
	// Token is the admin API token; empty refuses every admin request.
	Token string
	// Ready reports why the host is not ready (nil: ready).
	Ready func(ctx context.Context) error
	// Status returns the host's status for GET /v1/status.
	Status   func(ctx context.Context) (Status, error)
	Gatherer prometheus.Gatherer
	Logger   *slog.Logger
	// Logins runs `weir auth login` inside the daemon, for a CLI that
	// cannot open the store the daemon holds; nil refuses it.
	Logins Logins
	// Planner runs `weir plan` inside the daemon, with its stored tokens
	// and source cursors, for a CLI that cannot open the store the daemon
	// holds; nil refuses it.
	Planner Planner
}

// Planner says what records would become in a pipeline, writing nothing
// (*daemon.Daemon). It returns an error matching engine.ErrUnknownPipeline
// for a pipeline that is not configured.
type Planner interface {
	// Plan plans recs, or, when fromSource > 0, that many records read
	// from the pipeline's source after its saved cursor (saving nothing).
	Plan(ctx context.Context, pipeline string, recs []sdk.Record, fromSource int) ([]engine.PlanResult, error)
}

// PlanRequest is the body of POST /v1/pipelines/{pipeline}/plan: record
// payloads to plan, or how many records to read from the source.
type PlanRequest struct {
	Records    []json.RawMessage `json:"records,omitempty"`
	FromSource int               `json:"from_source,omitempty"`
}

// maxPlanBody bounds a plan request.
const maxPlanBody = 64 << 20

// maxPlanFromSource bounds the records one plan request reads from a
// source.
const maxPlanFromSource = 10000

// Logins starts and follows authorization code logins and reports the
// token state (*oauth.Logins).
type Logins interface {
	Start(ctx context.Context, connection, listen string) (oauth.LoginState, error)
	State(connection string) (oauth.LoginState, bool)
	Status(ctx context.Context) ([]oauth.Status, error)
}

// LoginRequest is the body of POST /v1/connections/{name}/login.
type LoginRequest struct {
	// Listen is the callback server's address ("": the connection's
	// redirect_url, else a free loopback port).
	Listen string `json:"listen,omitempty"`
}

// Server is the HTTP API.
type Server struct {
	opts Options
	mux  *http.ServeMux
}

// New returns the API server.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Gatherer == nil {
		opts.Gatherer = prometheus.DefaultGatherer
	}
	s := &Server{opts: opts, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("POST /v1/hooks/{pipeline}", s.hook)
	s.mux.HandleFunc("GET /v1/status", s.admin(s.status))
	s.mux.HandleFunc("POST /v1/lookups/{name}", s.admin(s.lookup))
	s.mux.HandleFunc("POST /v1/connections/{name}/login", s.admin(s.withLogins(s.startLogin)))
	s.mux.HandleFunc("GET /v1/connections/{name}/login", s.admin(s.withLogins(s.loginState)))
	s.mux.HandleFunc("GET /v1/auth/status", s.admin(s.withLogins(s.authStatus)))
	s.mux.HandleFunc("POST /v1/pipelines/{pipeline}/plan", s.admin(s.plan))
	s.mux.HandleFunc("GET /v1/pipelines/{pipeline}/dead-letters", s.admin(s.deadLetters))
	s.mux.HandleFunc("GET /v1/pipelines/{pipeline}/dead-letters/{id}", s.admin(s.deadLetter))
	s.mux.HandleFunc("POST /v1/pipelines/{pipeline}/dead-letters/replay", s.admin(s.replay))
	s.mux.HandleFunc("POST /v1/pipelines/{pipeline}/dead-letters/drop", s.admin(s.drop))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// writeJSON writes v with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// Error is the body of every error response.
type Error struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, Error{Error: fmt.Sprintf(format, args...)})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.opts.Ready != nil {
		if err := s.opts.Ready(r.Context()); err != nil {
			writeError(w, http.StatusServiceUnavailable, "not ready: %v", err)
			return
		}
	}
	io.WriteString(w, "ready\n")
}

// admin wraps a handler with the API token check.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Token == "" {
			writeError(w, http.StatusUnauthorized, "the admin API is disabled: set the api block's token (e.g. token = env(\"WEIR_API_TOKEN\"))")
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.Token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="weir"`)
			writeError(w, http.StatusUnauthorized, "missing or invalid API token")
			return
		}
		h(w, r)
	}
}

func (s *Server) hook(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("pipeline")
	hook, ok := s.opts.Webhooks[name]
	if !ok {
		writeError(w, http.StatusNotFound, "pipeline %q has no webhook", name)
		return
	}
	max := hook.MaxBody
	if max <= 0 {
		max = DefaultMaxBody
	}
	if r.ContentLength > max {
		writeError(w, http.StatusRequestEntityTooLarge, "body of %d bytes is over the limit of %d", r.ContentLength, max)
		return
	}
	body, err := readBody(http.MaxBytesReader(w, r.Body, max), r.ContentLength)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "body is over the limit of %d bytes", max)
			return
		}
		writeError(w, http.StatusBadRequest, "read body: %v", err)
		return
	}
	if !authenticHook(hook, r, body) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="weir"`)
		writeError(w, http.StatusUnauthorized, "missing or invalid webhook authentication")
		return
	}
	headers := r.Header
	if hook.Auth == AuthToken {
		// The bearer token is the host's secret, checked above; the
		// connector does not see it.
		headers = headers.Clone()
		headers.Del("Authorization")
	}
	resp, err := s.opts.Ingester.Ingest(r.Context(), name, sdk.WebhookRequest{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Headers: headers, Body: body,
	})
	if err != nil {
		// Nothing was stored: the sender must retry.
		s.opts.Logger.Warn("webhook not accepted", "pipeline", name, "err", err)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "not accepted, retry later: %v", err)
		return
	}
	if resp.Reject != "" {
		code := resp.Status
		if code < 400 {
			code = http.StatusBadRequest
		}
		writeError(w, code, "%s", resp.Reject)
		return
	}
	for k, vs := range resp.Headers {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	code := resp.Status
	if code == 0 {
		code = http.StatusOK
	}
	if resp.Body == nil {
		writeJSON(w, code, map[string]int{"accepted": len(resp.Records)})
		return
	}
	w.WriteHeader(code)
	w.Write(resp.Body)
}

// readBody reads a request body, in one allocation when its length is
// declared (net/http ends such a body at that length).
func readBody(r io.Reader, declared int64) ([]byte, error) {
	if declared <= 0 {
		return io.ReadAll(r)
	}
	buf := make([]byte, declared)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// authenticHook checks a webhook request's token or signature.
func authenticHook(h Webhook, r *http.Request, body []byte) bool {
	switch h.Auth {
	case AuthNone, "":
		return h.Secret == ""
	case AuthToken:
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		return ok && h.Secret != "" && subtle.ConstantTimeCompare([]byte(got), []byte(h.Secret)) == 1
	case AuthHMAC:
		header := h.Header
		if header == "" {
			header = DefaultSignatureHeader
		}
		got, ok := strings.CutPrefix(r.Header.Get(header), "sha256=")
		if !ok || h.Secret == "" {
			return false
		}
		sig, err := hex.DecodeString(got)
		if err != nil {
			return false
		}
		return hmac.Equal(sig, Sign([]byte(h.Secret), body))
	}
	return false
}

// Sign returns HMAC-SHA256(secret, body), the webhook signature.
func Sign(secret, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return m.Sum(nil)
}

// maxLookupBody bounds a lookup query.
const maxLookupBody = 1 << 20

// plan answers what records would become in a pipeline, writing nothing.
func (s *Server) plan(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("pipeline")
	if s.opts.Planner == nil {
		writeError(w, http.StatusNotImplemented, "this host runs no plans")
		return
	}
	var req PlanRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxPlanBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "plan request: %v", err)
		return
	}
	switch {
	case (len(req.Records) == 0) == (req.FromSource <= 0):
		writeError(w, http.StatusBadRequest, "plan request: give either records or from_source")
		return
	case req.FromSource > maxPlanFromSource:
		writeError(w, http.StatusBadRequest, "plan request: from_source %d is over %d", req.FromSource, maxPlanFromSource)
		return
	}
	res, err := s.opts.Planner.Plan(r.Context(), name, engine.SampleRecords(req.Records), req.FromSource)
	switch {
	case errors.Is(err, engine.ErrUnknownPipeline):
		writeError(w, http.StatusNotFound, "no pipeline %q", name)
	case err != nil:
		writeError(w, http.StatusBadGateway, "plan %s: %v", name, err)
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

// withLogins refuses the login routes on a host without Logins.
func (s *Server) withLogins(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Logins == nil {
			writeError(w, http.StatusNotImplemented, "this host runs no logins")
			return
		}
		h(w, r)
	}
}

// startLogin starts an authorization code login in the daemon and answers
// its URL; the tokens stay in the daemon.
func (s *Server) startLogin(w http.ResponseWriter, r *http.Request) {
	var req LoginRequest
	if r.ContentLength != 0 {
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, "login request: %v", err)
			return
		}
	}
	st, err := s.opts.Logins.Start(r.Context(), r.PathValue("name"), req.Listen)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// loginState answers where the connection's latest login stands.
func (s *Server) loginState(w http.ResponseWriter, r *http.Request) {
	st, ok := s.opts.Logins.State(r.PathValue("name"))
	if !ok {
		writeError(w, http.StatusNotFound, "no login was started for connection %q", r.PathValue("name"))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// authStatus answers the token state of every oauth2 connection (no token
// ever).
func (s *Server) authStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.opts.Logins.Status(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "token state: %v", err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) lookup(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if s.opts.Lookups == nil {
		writeError(w, http.StatusNotFound, "no lookup %q", name)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxLookupBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "query over %d bytes", maxLookupBody)
		return
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		body = []byte("{}")
	}
	if !json.Valid(body) {
		writeError(w, http.StatusBadRequest, "the query is not valid JSON")
		return
	}
	res, err := s.opts.Lookups.Lookup(r.Context(), name, body)
	if err != nil {
		if errors.Is(err, ErrUnknownLookup) {
			writeError(w, http.StatusNotFound, "no lookup %q: declare it with lookup %q { connection = ... }", name, name)
			return
		}
		e := sdk.Classify(err)
		switch e.Status {
		case sdk.StatusPermanent:
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": e.Error(), "field": e.Field})
		case sdk.StatusRateLimited:
			if e.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
			}
			writeError(w, http.StatusTooManyRequests, "%v", e)
		default:
			writeError(w, http.StatusBadGateway, "%v", e)
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(res)
}

// PipelineStatus is one pipeline's line of status.
type PipelineStatus struct {
	Name        string `json:"name"`
	Waiting     int64  `json:"waiting"`
	Ready       int64  `json:"ready"`
	Pending     int64  `json:"pending"`
	Retrying    int64  `json:"retrying"`
	InFlight    int64  `json:"in_flight"`
	DeadLetters int64  `json:"dead_letters"`
	Accepted    int64  `json:"accepted"`
	Delivered   int64  `json:"delivered"`
	Coalesced   int64  `json:"coalesced"`
	Stale       int64  `json:"stale"`
}

// ConnectionStatus is one connection's line of status.
type ConnectionStatus struct {
	Name        string    `json:"name"`
	Connector   string    `json:"connector"`
	Up          bool      `json:"up"`
	Restarts    int       `json:"restarts"`
	Rate        int       `json:"rate,omitempty"`
	Per         string    `json:"per,omitempty"`
	InWindow    int       `json:"in_window"`
	InFlight    int       `json:"in_flight"`
	Concurrency int       `json:"concurrency,omitempty"`
	UsedToday   int64     `json:"used_today"`
	PerDay      int64     `json:"per_day,omitempty"`
	PausedUntil time.Time `json:"paused_until,omitzero"`
}

// Status is the body of GET /v1/status.
type Status struct {
	Pipelines   []PipelineStatus   `json:"pipelines"`
	Connections []ConnectionStatus `json:"connections"`
}

// PipelineStatusOf converts store stats.
func PipelineStatusOf(name string, st store.Stats) PipelineStatus {
	return PipelineStatus{Name: name, Waiting: st.Waiting(), Ready: st.Ready, Pending: st.Pending, Retrying: st.Delayed,
		InFlight: st.InFlight, DeadLetters: st.DeadLetters, Accepted: st.Accepted, Delivered: st.Delivered,
		Coalesced: st.Coalesced, Stale: st.Stale}
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	if s.opts.Status == nil {
		writeError(w, http.StatusServiceUnavailable, "status is not available")
		return
	}
	st, err := s.opts.Status(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) knownPipeline(w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.PathValue("pipeline")
	for _, p := range s.opts.Pipelines {
		if p == name {
			return name, true
		}
	}
	writeError(w, http.StatusNotFound, "no pipeline %q", name)
	return "", false
}

func (s *Server) deadLetters(w http.ResponseWriter, r *http.Request) {
	p, ok := s.knownPipeline(w, r)
	if !ok {
		return
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	dls, err := s.opts.Store.DeadLetters(r.Context(), p, r.URL.Query().Get("after"), limit)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	out := make([]DeadLetter, len(dls))
	for i, d := range dls {
		out[i] = DeadLetterOf(d)
	}
	writeJSON(w, http.StatusOK, map[string]any{"dead_letters": out})
}

func (s *Server) deadLetter(w http.ResponseWriter, r *http.Request) {
	p, ok := s.knownPipeline(w, r)
	if !ok {
		return
	}
	d, err := s.opts.Store.DeadLetterByID(r.Context(), p, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "pipeline %s has no dead letter %q", p, r.PathValue("id"))
		return
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, DeadLetterOf(d))
}

// IDs is the body of replay and drop: the dead letters to act on, all of
// them when absent or empty.
type IDs struct {
	IDs []string `json:"ids"`
}

func readIDs(r *http.Request) ([]string, error) {
	var body IDs
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, nil
	}
	if err := sdk.DecodeStrict(data, &body); err != nil {
		return nil, fmt.Errorf("body must be {\"ids\": [...]}: %w", err)
	}
	if len(body.IDs) == 0 {
		return nil, nil
	}
	return body.IDs, nil
}

func (s *Server) replay(w http.ResponseWriter, r *http.Request) {
	p, ok := s.knownPipeline(w, r)
	if !ok {
		return
	}
	ids, err := readIDs(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	res, err := s.opts.Store.Replay(r.Context(), p, ids)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) drop(w http.ResponseWriter, r *http.Request) {
	p, ok := s.knownPipeline(w, r)
	if !ok {
		return
	}
	ids, err := readIDs(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	n, err := s.opts.Store.Drop(r.Context(), p, ids)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"dropped": n})
}

// DeadLetter is a dead letter as the API shows it.
type DeadLetter struct {
	ID         string            `json:"id"`
	Key        string            `json:"key"`
	Version    int64             `json:"version"`
	Reason     string            `json:"reason"`
	Field      string            `json:"field,omitempty"`
	Attempts   int               `json:"attempts"`
	At         time.Time         `json:"at"`
	EnqueuedAt time.Time         `json:"enqueued_at"`
	Record     json.RawMessage   `json:"record"`
	Metadata   map[string]string `json:"metadata,omitempty"`
}

// DeadLetterOf converts a stored dead letter.
func DeadLetterOf(d store.DeadLetter) DeadLetter {
	rec := json.RawMessage(d.Record.Payload)
	if !json.Valid(rec) {
		b, _ := json.Marshal(string(d.Record.Payload))
		rec = b
	}
	return DeadLetter{ID: d.ID, Key: d.Record.Key, Version: d.Record.Version, Reason: d.Reason, Field: d.Field,
		Attempts: d.Attempts, At: d.At, EnqueuedAt: d.EnqueuedAt, Record: rec, Metadata: d.Record.Metadata}
}

var _ Ingester = (*engine.Engine)(nil)
