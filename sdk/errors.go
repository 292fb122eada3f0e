package sdk

import (
	"errors"
	"fmt"
	"time"
)

// Error is a classified failure. Connectors return it (through the
// constructors below) so the host can apply the right policy.
type Error struct {
	Status     Status
	RetryAfter time.Duration
	// Limit, for StatusRateLimited, says which of the vendor's limits
	// refused (LimitRate when zero); HTTPClient reports it to the host.
	Limit   LimitKind
	Code    string
	Message string
	Field   string
	Err     error
}

// Error implements error.
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	s := e.Status.String()
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Field != "" {
		s += " at " + e.Field
	}
	if msg != "" {
		s += ": " + msg
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Retryable marks err as transient (network, 5xx, row lock). after is the
// vendor's advice, 0 for none.
func Retryable(err error, after time.Duration) error {
	return &Error{Status: StatusRetryable, RetryAfter: after, Err: err}
}

// RateLimited reports that the vendor refused for rate; after is its
// Retry-After, 0 for none.
func RateLimited(msg string, after time.Duration) error {
	return &Error{Status: StatusRateLimited, RetryAfter: after, Message: msg}
}

// LimitRefused reports that the vendor refused for one of its limits:
// LimitRate, LimitConcurrency (a pause of DefaultConcurrencyPause when
// after is 0) or LimitQuota (the daily quota).
func LimitRefused(kind LimitKind, msg string, after time.Duration) error {
	return &Error{Status: StatusRateLimited, Limit: kind, RetryAfter: after, Message: msg}
}

// AuthExpired reports an expired or revoked access token.
func AuthExpired(err error) error {
	return &Error{Status: StatusAuthExpired, Err: err}
}

// Permanent reports a failure that retrying cannot fix; field is the path of
// the offending field, empty when none.
func Permanent(code, msg, field string) error {
	return &Error{Status: StatusPermanent, Code: code, Message: msg, Field: field}
}

// Classify returns err as an *Error. Unclassified errors are retryable:
// a connector that cannot tell must not lose the record.
func Classify(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: StatusRetryable, Err: err}
}

// ResultFor builds the WriteResult of key from err (nil means OK).
func ResultFor(key string, err error) WriteResult {
	if err == nil {
		return WriteResult{Key: key, Status: StatusOK}
	}
	e := Classify(err)
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	return WriteResult{Key: key, Status: e.Status, RetryAfter: e.RetryAfter, Code: e.Code, Message: msg, Field: e.Field}
}
