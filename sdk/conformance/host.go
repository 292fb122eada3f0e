package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/weirhq/weir/sdk"
)

// Host is the kit's sdk.HostServices: it hands out a fixed access token,
// grants every Acquire at once with a fresh lease, and counts acquires,
// releases, token calls and limit reports. A lease released twice, or an
// unknown lease, is an error the instance's Close reports.
type Host struct {
	token string

	mu       sync.Mutex
	next     int
	open     map[string]bool // leases granted and not yet released
	acquired int
	released int
	tokens   int
	reports  []sdk.LimitReport
	errs     []string
}

var _ sdk.HostServices = (*Host)(nil)

// NewHost returns host services that hand out token.
func NewHost(token string) *Host {
	return &Host{token: token, open: map[string]bool{}}
}

// Token returns the configured token, valid for an hour.
func (h *Host) Token(context.Context, bool) (sdk.Token, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tokens++
	return sdk.Token{AccessToken: h.token, TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}, nil
}

// Acquire grants a request at once and returns a new lease.
func (h *Host) Acquire(context.Context, int, sdk.Priority) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.next++
	lease := fmt.Sprintf("lease-%d", h.next)
	h.open[lease] = true
	h.acquired++
	return lease, nil
}

// Release returns a lease; releasing one twice, or one never granted, is an
// error.
func (h *Host) Release(_ context.Context, lease string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.open[lease] {
		msg := fmt.Sprintf("limiter lease %q released twice or never acquired", lease)
		h.errs = append(h.errs, msg)
		return errors.New(msg)
	}
	delete(h.open, lease)
	h.released++
	return nil
}

// Report records a limit report.
func (h *Host) Report(_ context.Context, r sdk.LimitReport) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reports = append(h.reports, r)
	return nil
}

// Acquired returns how many requests the connector acquired.
func (h *Host) Acquired() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.acquired
}

// Released returns how many leases the connector released.
func (h *Host) Released() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.released
}

// TokenCalls returns how many times the connector asked for a token.
func (h *Host) TokenCalls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tokens
}

// Reports returns the limit reports received, in order.
func (h *Host) Reports() []sdk.LimitReport {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.reports)
}

// problems returns what went wrong with leases; with held, leases still
// held are problems too.
func (h *Host) problems(held bool) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := slices.Clone(h.errs)
	if held {
		for lease := range h.open {
			out = append(out, fmt.Sprintf("limiter lease %q was never released", lease))
		}
		slices.Sort(out)
	}
	return out
}
