package sdk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxResponseBytes bounds a vendor response body read by HTTPClient.
const maxResponseBytes = 64 << 20

// defaultHTTPTimeout bounds one vendor request. It stays below the host's
// concurrency lease so a slot is never re-issued while a request runs.
const defaultHTTPTimeout = 60 * time.Second

// HTTPClient makes vendor HTTP requests the way the host requires: each
// request is granted by the connection's limiter first, carries the host's
// access token, and its response is classified into the result classes.
// A 401 refreshes the token and retries once; a 429 or Retry-After is
// reported to the host so every host pauses the connection.
type HTTPClient struct {
	// Host is the host services handed to Configure.
	Host Host
	// HTTP is the underlying client; nil uses one with a 60 s timeout.
	HTTP *http.Client
	// Auth applies credentials to a request; nil uses the host's OAuth
	// token as "Authorization: Bearer". Set NoAuth for none.
	Auth func(ctx context.Context, req *http.Request, force bool) error
	// Classify turns a response into nil (success) or a classified error;
	// nil uses DefaultClassify. Vendor connectors wrap DefaultClassify.
	Classify func(resp *http.Response, body []byte) error
	// Now is the clock used for Retry-After dates; nil uses time.Now.
	Now func() time.Time
	// OnResponse, when set, sees every vendor response before it is
	// classified, including a 401 that is then retried (e.g. to read a
	// quota header on every call).
	OnResponse func(*http.Response)
}

// BasicAuth returns an HTTPClient.Auth that sends HTTP Basic credentials.
func BasicAuth(user, password string) func(context.Context, *http.Request, bool) error {
	return func(_ context.Context, req *http.Request, _ bool) error {
		req.SetBasicAuth(user, password)
		return nil
	}
}

// NoAuth is an HTTPClient.Auth that adds no credentials.
func NoAuth(context.Context, *http.Request, bool) error { return nil }

// Response is a vendor response with its body read.
type Response struct {
	*http.Response
	Body []byte
}

// Do sends req at bulk priority. See DoPriority.
func (c *HTTPClient) Do(ctx context.Context, req *http.Request) (*Response, error) {
	return c.DoPriority(ctx, req, PriorityBulk)
}

// DoPriority sends req once the limiter allows it and returns the response
// with its body. A non-nil error is classified (see Classify); the response
// is returned with it when there was one.
func (c *HTTPClient) DoPriority(ctx context.Context, req *http.Request, p Priority) (*Response, error) {
	resp, err := c.once(ctx, req, p, false)
	if e := Classify(err); e != nil && e.Status == StatusAuthExpired {
		if req.Body != nil && req.GetBody == nil {
			return resp, err
		}
		retry := req.Clone(ctx)
		if req.GetBody != nil {
			body, berr := req.GetBody()
			if berr != nil {
				return resp, err
			}
			retry.Body = body
		}
		return c.once(ctx, retry, p, true)
	}
	return resp, err
}

// tokenRefetchAfter is how long a limiter wait may last before the token
// fetched ahead of it is fetched again.
var tokenRefetchAfter = 10 * time.Second

func (c *HTTPClient) once(ctx context.Context, req *http.Request, p Priority, forceToken bool) (*Response, error) {
	if c.Host == nil {
		return nil, errors.New("sdk: HTTPClient.Host is nil: set it from Configure")
	}
	req = req.WithContext(ctx)
	// The host's token is fetched before the grant, so that the request
	// follows its grant at once and reaches the vendor at the pace the
	// limiter granted it; after a long wait it is fetched again, in case
	// the broker refreshed it meanwhile. Auth functions may sign with a
	// timestamp, so they run after the grant.
	early := c.Auth == nil
	if early {
		if err := c.bearer(ctx, req, forceToken); err != nil {
			return nil, err
		}
	}
	asked := time.Now()
	release, err := c.Host.Acquire(ctx, 1, p)
	if err != nil {
		return nil, Retryable(fmt.Errorf("limiter: %w", err), 0)
	}
	defer release()
	switch {
	case !early:
		if err := c.Auth(ctx, req, forceToken); err != nil {
			return nil, err
		}
	case time.Since(asked) > tokenRefetchAfter:
		if err := c.bearer(ctx, req, false); err != nil {
			return nil, err
		}
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: defaultHTTPTimeout}
	}
	raw, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, Retryable(fmt.Errorf("%s %s: %w", req.Method, redactURL(req), err), 0)
	}
	body, err := io.ReadAll(io.LimitReader(raw.Body, maxResponseBytes))
	raw.Body.Close()
	resp := &Response{Response: raw, Body: body}
	if c.OnResponse != nil {
		c.OnResponse(raw)
	}
	if err != nil {
		return resp, Retryable(fmt.Errorf("%s %s: read body: %w", req.Method, redactURL(req), err), 0)
	}
	classify := c.Classify
	if classify == nil {
		classify = c.DefaultClassify
	}
	cerr := classify(raw, body)
	if e := Classify(cerr); e != nil {
		switch {
		case e.Status == StatusRateLimited:
			kind := e.Limit
			if kind == 0 {
				kind = LimitRate
			}
			_ = c.Host.Report(ctx, LimitReport{Kind: kind, RetryAfter: e.RetryAfter})
		case e.Status == StatusRetryable && e.RetryAfter > 0:
			_ = c.Host.Report(ctx, LimitReport{Kind: LimitRate, RetryAfter: e.RetryAfter})
		}
	}
	return resp, cerr
}

func (c *HTTPClient) bearer(ctx context.Context, req *http.Request, force bool) error {
	tok, err := c.Host.Token(ctx, force)
	if err != nil {
		return err
	}
	typ := tok.TokenType
	if typ == "" || strings.EqualFold(typ, "bearer") {
		typ = "Bearer"
	}
	req.Header.Set("Authorization", typ+" "+tok.AccessToken)
	return nil
}

// DefaultClassify classifies a response by its status alone: 2xx and 3xx
// succeed; 401 is an expired token; 429 is rate limiting; 408, 5xx are
// retryable; any other 4xx is permanent. Retry-After is honoured.
func (c *HTTPClient) DefaultClassify(resp *http.Response, body []byte) error {
	now := time.Now
	if c != nil && c.Now != nil {
		now = c.Now
	}
	after, _ := ParseRetryAfter(resp.Header.Get("Retry-After"), now())
	code := resp.StatusCode
	msg := fmt.Sprintf("HTTP %d: %s", code, snippet(body))
	switch {
	case code < 400:
		return nil
	case code == http.StatusUnauthorized:
		return AuthExpired(errors.New(msg))
	case code == http.StatusTooManyRequests:
		return RateLimited(msg, after)
	case code == http.StatusRequestTimeout || code >= 500:
		return Retryable(errors.New(msg), after)
	default:
		return Permanent(strconv.Itoa(code), msg, "")
	}
}

// ParseRetryAfter parses a Retry-After header value: delay-seconds or an
// HTTP date (relative to now). It reports false for an empty or invalid
// value; dates in the past give 0.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// snippet returns the start of a response body for error messages.
func snippet(body []byte) string {
	const max = 512
	body = bytes.TrimSpace(body)
	if len(body) > max {
		return string(body[:max]) + "…"
	}
	return string(body)
}

// redactURL returns the request URL without its query, which may carry
// credentials.
func redactURL(req *http.Request) string {
	u := *req.URL
	u.RawQuery = ""
	u.User = nil
	return u.String()
}
