package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/weirhq/weir/sdk"
)

// Paths of the REST API.
const (
	recordPath  = "/services/rest/record/v1/"
	suiteqlPath = "/services/rest/query/v1/suiteql"
)

// nsError is NetSuite's error body.
type nsError struct {
	Type    string     `json:"type"`
	Title   string     `json:"title"`
	Status  int        `json:"status"`
	Details []nsDetail `json:"o:errorDetails"`
}

// nsDetail is one o:errorDetails entry.
type nsDetail struct {
	Detail     string `json:"detail"`
	Code       string `json:"o:errorCode"`
	Path       string `json:"o:errorPath"`
	Header     string `json:"o:errorHeader"`
	QueryParam string `json:"o:errorQueryParam"`
}

// Markers of limit refusals, found with errors.Is.
var (
	errConcurrency = errors.New("concurrency limit")
	errRate        = errors.New("request rate limit")
)

// concurrencyCodes are the error codes of concurrency refusals (REST,
// RESTlets, SOAP); rateCodes those of frequency limits.
var (
	concurrencyCodes = map[string]bool{"CONCURRENCY_LIMIT_EXCEEDED": true, "SSS_REQUEST_LIMIT_EXCEEDED": true,
		"WS_REQUEST_BLOCKED": true, "WS_CONCUR_SESSION_DISALLWD": true}
	rateCodes = map[string]bool{"REQUEST_LIMIT_EXCEEDED": true, "SSS_REQUEST_LIMIT_EXCEEDED_FREQUENCY": true}
)

// lockRE matches details of transient record conflicts (row locks).
var lockRE = regexp.MustCompile(`(?i)record has been changed|has been locked|RCRD_HAS_BEEN_CHANGED|RCRD_LOCKED|try again`)

// classify turns a NetSuite response into nil or a classified error. It
// never reads the type URL, which differs between releases; it reads the
// status, o:errorCode, o:errorPath and detail. Limit refusals come back
// retryable with no Retry-After, marked errConcurrency or errRate, for send
// to report and retry: NetSuite sends no Retry-After.
func classify(resp *http.Response, body []byte) error {
	status := resp.StatusCode
	if status < 400 {
		return nil
	}
	var ne nsError
	_ = json.Unmarshal(body, &ne)
	var d nsDetail
	if len(ne.Details) > 0 {
		d = ne.Details[0]
	}
	msg := strings.TrimSpace(d.Detail)
	if msg == "" {
		msg = strings.TrimSpace(ne.Title)
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	msg = fmt.Sprintf("HTTP %d: %s", status, msg)
	code := d.Code
	switch {
	case concurrencyCodes[code] || (status == http.StatusTooManyRequests && !rateCodes[code]):
		if code == "" {
			code = "CONCURRENCY_LIMIT_EXCEEDED"
		}
		return &sdk.Error{Status: sdk.StatusRetryable, Code: code, Message: msg, Err: errConcurrency}
	case rateCodes[code]:
		return &sdk.Error{Status: sdk.StatusRetryable, Code: code, Message: msg, Err: errRate}
	case status == http.StatusUnauthorized:
		if code == "" {
			code = "INVALID_LOGIN"
		}
		return &sdk.Error{Status: sdk.StatusAuthExpired, Code: code, Message: msg}
	case status == http.StatusRequestTimeout || status >= 500:
		if code == "" {
			code = strconv.Itoa(status)
		}
		// NetSuite sends no Retry-After; a proxy in front of it may.
		after, _ := sdk.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return &sdk.Error{Status: sdk.StatusRetryable, Code: code, Message: msg, RetryAfter: after}
	case lockRE.MatchString(d.Detail) || code == "RCRD_HAS_BEEN_CHANGED":
		return &sdk.Error{Status: sdk.StatusRetryable, Code: code, Message: msg}
	}
	if code == "" {
		code = strconv.Itoa(status)
	}
	return &sdk.Error{Status: sdk.StatusPermanent, Code: code, Message: msg, Field: d.Path}
}

// send makes one API request through the limiter. A refusal for
// concurrency (or rate) is reported to the host, which pauses the
// connection, and retried after a jittered exponential backoff; once the
// retries are spent it comes back as StatusRateLimited with the next
// backoff as RetryAfter.
func (c *connector) send(ctx context.Context, method, path string, query url.Values, body []byte, p sdk.Priority, headers map[string]string) (*sdk.Response, error) {
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	backoff := c.backoff
	for attempt := 0; ; attempt++ {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body) // sets GetBody: the SDK may resend after a 401
		}
		req, err := http.NewRequestWithContext(ctx, method, target, rd)
		if err != nil {
			return nil, sdk.Permanent("INVALID_REQUEST", err.Error(), "")
		}
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := c.http.DoPriority(ctx, req, p)
		limited := errors.Is(err, errConcurrency)
		if !limited && !errors.Is(err, errRate) {
			return resp, err
		}
		wait := jitter(backoff)
		kind := sdk.LimitConcurrency
		if !limited {
			kind = sdk.LimitRate
		}
		_ = c.host.Report(ctx, sdk.LimitReport{Kind: kind, RetryAfter: wait})
		e := sdk.Classify(err)
		if attempt >= c.retries() {
			return resp, &sdk.Error{Status: sdk.StatusRateLimited, Code: e.Code, Message: e.Message, RetryAfter: wait}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return resp, ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// jitter returns a duration in [d/2, d].
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}

// suiteqlPage is one page of a SuiteQL answer.
type suiteqlPage struct {
	Count        int                 `json:"count"`
	HasMore      bool                `json:"hasMore"`
	Offset       int                 `json:"offset"`
	TotalResults int                 `json:"totalResults"`
	Items        []map[string]string `json:"-"`
}

// suiteql runs one page of a query (limit 1 to 1000, offset a multiple of
// limit). Values come back as strings; NULL columns are absent.
func (c *connector) suiteql(ctx context.Context, q string, limit, offset int, p sdk.Priority) (*suiteqlPage, error) {
	body, err := json.Marshal(map[string]string{"q": q})
	if err != nil {
		return nil, err
	}
	query := url.Values{"limit": {strconv.Itoa(limit)}, "offset": {strconv.Itoa(offset)}}
	resp, err := c.send(ctx, http.MethodPost, suiteqlPath, query, body, p, map[string]string{"Prefer": "transient"})
	if err != nil {
		return nil, err
	}
	var raw struct {
		suiteqlPage
		Items []map[string]json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(resp.Body, &raw); err != nil {
		return nil, sdk.Retryable(fmt.Errorf("SuiteQL answer is not JSON: %v", err), 0)
	}
	page := raw.suiteqlPage
	for _, it := range raw.Items {
		row := map[string]string{}
		for k, v := range it {
			var s string
			if json.Unmarshal(v, &s) == nil {
				row[k] = s
			}
		}
		page.Items = append(page.Items, row)
	}
	return &page, nil
}

// suiteqlAll runs a query and pages through all of it, pageSize rows at a
// time (offsets multiple of the page size), up to max rows (0: no bound);
// more reports rows left.
func (c *connector) suiteqlAll(ctx context.Context, q string, pageSize, max int, p sdk.Priority) (rows []map[string]string, more bool, err error) {
	pageSize = min(max0(pageSize, 1000), 1000)
	for offset := 0; ; offset += pageSize {
		page, err := c.suiteql(ctx, q, pageSize, offset, p)
		if err != nil {
			return nil, false, err
		}
		rows = append(rows, page.Items...)
		if max > 0 && len(rows) >= max {
			return rows[:max], len(rows) > max || page.HasMore, nil
		}
		if !page.HasMore || len(page.Items) == 0 {
			return rows, false, nil
		}
		if offset+pageSize >= 100000 {
			return rows, true, nil
		}
	}
}

func max0(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// sqlString quotes s as a SuiteQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// sqlList quotes strings as a SuiteQL IN list.
func sqlList(ss []string) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = sqlString(s)
	}
	return strings.Join(out, ", ")
}

var columnRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// validColumn reports whether s is a plain column name.
func validColumn(s string) bool { return columnRE.MatchString(s) }

// jsonNumber converts a SuiteQL number ("12", "-.5", "1,234.5" never) to
// JSON number text, false when it is not a number.
func jsonNumber(s string) (json.Number, bool) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "."):
		s = "0" + s
	case strings.HasPrefix(s, "-."):
		s = "-0" + s[1:]
	}
	if _, ok := new(big.Rat).SetString(s); !ok || strings.ContainsAny(s, "/") {
		return "", false
	}
	var probe any
	if json.Unmarshal([]byte(s), &probe) != nil {
		return "", false
	}
	return json.Number(s), true
}

// tbaSigner signs requests with OAuth 1.0a (HMAC-SHA256), as NetSuite's
// token-based authentication requires.
type tbaSigner struct {
	realm, consumerKey, consumerSecret, tokenID, tokenSecret string
	now                                                      func() time.Time
}

// sign sets the Authorization header of req.
func (s *tbaSigner) sign(req *http.Request) error {
	nonce, err := randomNonce(20)
	if err != nil {
		return err
	}
	params := map[string]string{
		"oauth_consumer_key": s.consumerKey, "oauth_token": s.tokenID, "oauth_nonce": nonce,
		"oauth_timestamp": strconv.FormatInt(s.now().Unix(), 10), "oauth_signature_method": "HMAC-SHA256", "oauth_version": "1.0",
	}
	params["oauth_signature"] = oauthSignature(req.Method, req.URL, params, s.consumerSecret, s.tokenSecret)
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, `OAuth realm="%s"`, percentEncode(s.realm))
	for _, k := range keys {
		fmt.Fprintf(&b, `, %s="%s"`, k, percentEncode(params[k]))
	}
	req.Header.Set("Authorization", b.String())
	return nil
}

// oauthSignature computes an OAuth 1.0a HMAC-SHA256 signature (RFC 5849
// §3.4): the method, the base URI and the sorted, encoded parameters (the
// query's and the oauth_ ones), keyed by the two secrets.
func oauthSignature(method string, u *url.URL, oauth map[string]string, consumerSecret, tokenSecret string) string {
	type pair struct{ k, v string }
	var ps []pair
	for k, vs := range u.Query() {
		for _, v := range vs {
			ps = append(ps, pair{percentEncode(k), percentEncode(v)})
		}
	}
	for k, v := range oauth {
		if k != "oauth_signature" && k != "realm" {
			ps = append(ps, pair{percentEncode(k), percentEncode(v)})
		}
	}
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].k != ps[j].k {
			return ps[i].k < ps[j].k
		}
		return ps[i].v < ps[j].v
	})
	pairs := make([]string, len(ps))
	for i, p := range ps {
		pairs[i] = p.k + "=" + p.v
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Host)
	if (scheme == "https" && strings.HasSuffix(host, ":443")) || (scheme == "http" && strings.HasSuffix(host, ":80")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	base := strings.ToUpper(method) + "&" + percentEncode(scheme+"://"+host+u.EscapedPath()) + "&" + percentEncode(strings.Join(pairs, "&"))
	mac := hmac.New(sha256.New, []byte(percentEncode(consumerSecret)+"&"+percentEncode(tokenSecret)))
	mac.Write([]byte(base))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// percentEncode encodes s as RFC 3986 requires for OAuth: every byte but
// the unreserved characters as %XX.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// randomNonce returns n random alphanumeric characters.
func randomNonce(n int) (string, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	for i, b := range buf {
		buf[i] = alphabet[int(b)%len(alphabet)]
	}
	return string(buf), nil
}
