package sdk

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeHost counts limiter use and hands out numbered tokens.
type fakeHost struct {
	mu       sync.Mutex
	acquired int
	released int
	refresh  int
	reports  []LimitReport
	// wait is how long Acquire waits; calls lists "token" and "acquire"
	// in the order they came.
	wait  time.Duration
	calls []string
}

func (h *fakeHost) Token(_ context.Context, force bool) (Token, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, "token")
	if force {
		h.refresh++
	}
	return Token{AccessToken: "tok" + string(rune('0'+h.refresh))}, nil
}

func (h *fakeHost) Acquire(context.Context, int, Priority) (func(), error) {
	time.Sleep(h.wait)
	h.mu.Lock()
	h.acquired++
	h.calls = append(h.calls, "acquire")
	h.mu.Unlock()
	return func() { h.mu.Lock(); h.released++; h.mu.Unlock() }, nil
}

func (h *fakeHost) Report(_ context.Context, r LimitReport) error {
	h.mu.Lock()
	h.reports = append(h.reports, r)
	h.mu.Unlock()
	return nil
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"120", 120 * time.Second, true},
		{" 0 ", 0, true},
		{"-1", 0, false},
		{"Fri, 27 Nov 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Fri, 27 Nov 2026 11:00:00 GMT", 0, true},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestHTTPClientClassifies(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		want       Status
		wantAfter  time.Duration
		reported   bool
	}{
		{"ok", 200, "", StatusOK, 0, false},
		{"created", 201, "", StatusOK, 0, false},
		{"too many", 429, "7", StatusRateLimited, 7 * time.Second, true},
		{"unavailable with advice", 503, "3", StatusRetryable, 3 * time.Second, true},
		{"server error", 500, "", StatusRetryable, 0, false},
		{"timeout", 408, "", StatusRetryable, 0, false},
		{"bad request", 400, "", StatusPermanent, 0, false},
		{"not found", 404, "", StatusPermanent, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer tok0" {
					t.Errorf("Authorization = %q", r.Header.Get("Authorization"))
				}
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, `{"detail":"x"}`)
			}))
			defer srv.Close()
			host := &fakeHost{}
			c := &HTTPClient{Host: host}
			req, _ := http.NewRequest("GET", srv.URL+"/thing?secret=s3cr3t", nil)
			resp, err := c.Do(context.Background(), req)
			if resp == nil || string(resp.Body) != `{"detail":"x"}` {
				t.Fatalf("response body not returned: %+v", resp)
			}
			got := StatusOK
			var after time.Duration
			if e := Classify(err); e != nil {
				got, after = e.Status, e.RetryAfter
				if strings.Contains(e.Error(), "s3cr3t") {
					t.Errorf("error leaks the query: %v", e)
				}
			}
			if got != tt.want || after != tt.wantAfter {
				t.Errorf("status %v after %v; want %v after %v (err %v)", got, after, tt.want, tt.wantAfter, err)
			}
			if host.acquired != 1 || host.released != 1 {
				t.Errorf("acquired %d released %d; want 1 and 1", host.acquired, host.released)
			}
			if (len(host.reports) == 1) != tt.reported {
				t.Errorf("reports = %+v; reported want %v", host.reports, tt.reported)
			}
		})
	}
}

func TestHTTPClientRefreshesOnceOn401(t *testing.T) {
	var calls int
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		if r.Header.Get("Authorization") != "Bearer tok1" {
			w.WriteHeader(401)
			return
		}
		w.WriteHeader(204)
	}))
	defer srv.Close()
	host := &fakeHost{}
	c := &HTTPClient{Host: host}
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(`{"a":1}`))
	if _, err := c.Do(context.Background(), req); err != nil {
		t.Fatalf("Do: %v", err)
	}
	if calls != 2 || host.refresh != 1 {
		t.Fatalf("calls %d refreshes %d; want 2 and 1", calls, host.refresh)
	}
	if bodies[1] != `{"a":1}` {
		t.Fatalf("retried body = %q", bodies[1])
	}
	if host.acquired != 2 || host.released != 2 {
		t.Fatalf("each attempt must acquire and release: %d/%d", host.acquired, host.released)
	}
}

func TestHTTPClientNetworkErrorIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c := &HTTPClient{Host: &fakeHost{}}
	req, _ := http.NewRequest("GET", url, nil)
	_, err := c.Do(context.Background(), req)
	if e := Classify(err); e == nil || e.Status != StatusRetryable {
		t.Fatalf("err = %v; want retryable", err)
	}
}

func TestHTTPClientReportsTheLimitThatRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Quota", "7/100")
		w.WriteHeader(429)
	}))
	defer srv.Close()
	host := &fakeHost{}
	var seen []string
	c := &HTTPClient{
		Host: host,
		Auth: BasicAuth("user", "pw"),
		Classify: func(resp *http.Response, body []byte) error {
			if resp.StatusCode == 429 {
				return LimitRefused(LimitConcurrency, "CONCURRENCY_LIMIT_EXCEEDED", 0)
			}
			return nil
		},
		OnResponse: func(r *http.Response) { seen = append(seen, r.Header.Get("X-Quota")) },
	}
	req, _ := http.NewRequest("GET", srv.URL, nil)
	_, err := c.Do(context.Background(), req)
	if e := Classify(err); e == nil || e.Status != StatusRateLimited || e.Limit != LimitConcurrency {
		t.Fatalf("err = %#v", err)
	}
	if len(host.reports) != 1 || host.reports[0].Kind != LimitConcurrency {
		t.Fatalf("reports = %+v; want one concurrency report", host.reports)
	}
	if len(seen) != 1 || seen[0] != "7/100" {
		t.Fatalf("OnResponse saw %v", seen)
	}
	// The class survives the trip through gRPC.
	back := Classify(fromStatus(toStatus(err)))
	if back.Limit != LimitConcurrency || back.Status != StatusRateLimited {
		t.Fatalf("after gRPC: %+v", back)
	}
}

// TestHTTPClientTokenBeforeGrant checks that the host's token is fetched
// before the limiter's grant, so that the request follows the grant at
// once, and again after a long wait; an Auth function runs after the grant.
func TestHTTPClientTokenBeforeGrant(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	defer func(d time.Duration) { tokenRefetchAfter = d }(tokenRefetchAfter)
	tokenRefetchAfter = 50 * time.Millisecond
	for _, tc := range []struct {
		name   string
		wait   time.Duration
		custom bool
		want   string
	}{
		{"granted at once", 0, false, "token acquire"},
		{"granted after a long wait", 100 * time.Millisecond, false, "token acquire token"},
		{"auth function", 0, true, "acquire"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &fakeHost{wait: tc.wait}
			c := &HTTPClient{Host: h}
			signed := ""
			if tc.custom {
				c.Auth = func(_ context.Context, req *http.Request, _ bool) error {
					h.mu.Lock()
					signed = strings.Join(h.calls, " ")
					h.mu.Unlock()
					req.Header.Set("Authorization", "Signed")
					return nil
				}
			}
			req, _ := http.NewRequest("GET", srv.URL, nil)
			if _, err := c.Do(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(h.calls, " "); got != tc.want {
				t.Errorf("calls %q; want %q", got, tc.want)
			}
			if tc.custom && signed != "acquire" {
				t.Errorf("signed after %q; want after the grant", signed)
			}
		})
	}
}
