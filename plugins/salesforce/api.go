package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/weirhq/weir/sdk"
)

// placeholderHost stands for the instance until the token names it: the
// auth hook, which gets the token for each request, points the request at
// the token's instance_url (or the configured one).
const placeholderHost = "instance.invalid"

// api is the Salesforce REST client of a connection.
type api struct {
	host     sdk.Host
	http     *sdk.HTTPClient
	instance string // configured instance URL; "" uses the token's
	version  string // "v61.0"
	vnum     int    // 61
}

func newAPI(host sdk.Host, instance, version string, vnum int) *api {
	a := &api{host: host, instance: instance, version: version, vnum: vnum}
	a.http = &sdk.HTTPClient{Host: host, Auth: a.auth, Classify: classify}
	return a
}

// dataPath returns /services/data/vXX.X/<rest>.
func (a *api) dataPath(rest string) string { return "/services/data/" + a.version + "/" + rest }

// auth adds the access token and points the request at the instance.
func (a *api) auth(ctx context.Context, req *http.Request, force bool) error {
	tok, err := a.host.Token(ctx, force)
	if err != nil {
		return err
	}
	base := a.instance
	if base == "" {
		base = tok.Extra["instance_url"]
	}
	if base == "" {
		return sdk.Permanent("NO_INSTANCE_URL", "the token response has no instance_url and the connection sets none", "instance_url")
	}
	if req.URL.Host == placeholderHost {
		bu, err := url.Parse(base)
		if err != nil || bu.Host == "" {
			return sdk.Permanent("BAD_INSTANCE_URL", fmt.Sprintf("instance_url %q is not a URL", base), "instance_url")
		}
		u := *req.URL
		u.Scheme, u.Host = bu.Scheme, bu.Host
		if prefix := strings.TrimSuffix(bu.Path, "/"); prefix != "" {
			u.Path = prefix + u.Path
			if u.RawPath != "" {
				u.RawPath = prefix + u.RawPath
			}
		}
		req.URL, req.Host = &u, bu.Host
	}
	typ := tok.TokenType
	if typ == "" || strings.EqualFold(typ, "bearer") {
		typ = "Bearer"
	}
	req.Header.Set("Authorization", typ+" "+tok.AccessToken)
	return nil
}

// request builds a request for a path on the instance (such as a
// nextRecordsUrl).
func (a *api) request(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	var rd *bytes.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequestWithContext(ctx, method, "https://"+placeholderHost+path, rd)
	} else {
		req, err = http.NewRequestWithContext(ctx, method, "https://"+placeholderHost+path, nil)
	}
	if err != nil {
		return nil, sdk.Permanent("BAD_REQUEST", err.Error(), "")
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// get sends a GET with optional headers.
func (a *api) get(ctx context.Context, path string, p sdk.Priority, header http.Header) (*sdk.Response, error) {
	req, err := a.request(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return a.do(ctx, req, p)
}

// send sends a request with a JSON body.
func (a *api) send(ctx context.Context, method, path string, body []byte, p sdk.Priority) (*sdk.Response, error) {
	req, err := a.request(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	return a.do(ctx, req, p)
}

// do sends a request through the SDK client, feeds Sforce-Limit-Info to
// the limiter, and turns REQUEST_LIMIT_EXCEEDED into a limiter pause and a
// rate-limited error.
func (a *api) do(ctx context.Context, req *http.Request, p sdk.Priority) (*sdk.Response, error) {
	resp, err := a.http.DoPriority(ctx, req, p)
	if resp != nil {
		if used, max, ok := parseLimitInfo(resp.Header.Get("Sforce-Limit-Info")); ok {
			_ = a.host.Report(ctx, sdk.LimitReport{Kind: sdk.LimitQuotaUsage, Used: used, Max: max})
		}
	}
	var le *limitError
	if errors.As(err, &le) {
		kind := sdk.LimitQuota
		if le.concurrent {
			kind = sdk.LimitConcurrency
		}
		_ = a.host.Report(ctx, sdk.LimitReport{Kind: kind})
		return resp, sdk.RateLimited(le.msg, 0)
	}
	return resp, err
}

var limitInfoRE = regexp.MustCompile(`(?:^|[^-])api-usage=(\d+)/(\d+)`)

// parseLimitInfo reads "api-usage=18/5000" from Sforce-Limit-Info.
func parseLimitInfo(h string) (used, max int64, ok bool) {
	m := limitInfoRE.FindStringSubmatch(h)
	if m == nil {
		return 0, 0, false
	}
	used, err1 := strconv.ParseInt(m[1], 10, 64)
	max, err2 := strconv.ParseInt(m[2], 10, 64)
	return used, max, err1 == nil && err2 == nil && max > 0
}

// limitError is a 403 REQUEST_LIMIT_EXCEEDED. It is deliberately not an
// *sdk.Error, so the SDK client does not report it as a rate pause: do
// reports it as what it is (quota or concurrency).
type limitError struct {
	concurrent bool
	msg        string
}

// Error returns the refusal.
func (e *limitError) Error() string { return e.msg }

// sfError is one error of Salesforce's JSON array body; statusCode is its
// name inside sObject Collections results.
type sfError struct {
	Message    string   `json:"message"`
	ErrorCode  string   `json:"errorCode"`
	StatusCode string   `json:"statusCode"`
	Fields     []string `json:"fields"`
}

func (e sfError) code() string {
	if e.ErrorCode != "" {
		return e.ErrorCode
	}
	return e.StatusCode
}

// parseErrors reads an error body: a JSON array of errors (or, rarely, one
// object).
func parseErrors(body []byte) []sfError {
	var errs []sfError
	if json.Unmarshal(body, &errs) == nil && len(errs) > 0 {
		return errs
	}
	var one sfError
	if json.Unmarshal(body, &one) == nil && one.code() != "" {
		return []sfError{one}
	}
	return nil
}

// retryableCodes are error codes retrying can fix.
var retryableCodes = map[string]bool{
	"UNABLE_TO_LOCK_ROW":                true,
	"SERVER_UNAVAILABLE":                true,
	"REQUEST_RUNNING_TOO_LONG":          true,
	"QUERY_TIMEOUT":                     true,
	"INVALID_QUERY_LOCATOR":             true,
	"ALL_OR_NONE_OPERATION_ROLLED_BACK": true,
	"UNKNOWN_EXCEPTION":                 true,
}

// oneLine collapses a message (SOQL errors span lines) to one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// recordError classifies one error of a record: retryable codes, else
// permanent with the first field as the field path.
func recordError(e sfError) error {
	code := e.code()
	msg := oneLine(e.Message)
	if retryableCodes[code] {
		return sdk.Retryable(fmt.Errorf("%s: %s", code, msg), 0)
	}
	field := ""
	if len(e.Fields) > 0 {
		field = e.Fields[0]
	}
	return sdk.Permanent(code, msg, field)
}

// classify classifies a Salesforce response (HTTPClient.Classify).
func classify(resp *http.Response, body []byte) error {
	code := resp.StatusCode
	switch {
	case code < 300 || code == http.StatusNotModified:
		return nil
	case code == http.StatusMultipleChoices:
		var urls []string
		_ = json.Unmarshal(body, &urls)
		return sdk.Permanent("MULTIPLE_CHOICES", fmt.Sprintf("the external ID matches %d records: %s", len(urls), strings.Join(urls, ", ")), "")
	}
	errs := parseErrors(body)
	var first sfError
	if len(errs) > 0 {
		first = errs[0]
	}
	switch {
	case code == http.StatusForbidden && first.code() == "REQUEST_LIMIT_EXCEEDED":
		return &limitError{concurrent: strings.Contains(first.Message, "ConcurrentRequests"), msg: "REQUEST_LIMIT_EXCEEDED: " + oneLine(first.Message)}
	case code == http.StatusUnauthorized || first.code() == "INVALID_SESSION_ID":
		return sdk.AuthExpired(fmt.Errorf("HTTP %d %s: %s", code, first.code(), oneLine(first.Message)))
	case retryableCodes[first.code()]:
		return recordError(first)
	case code == 420 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500 || first.code() == "":
		return (&sdk.HTTPClient{}).DefaultClassify(resp, body)
	default:
		return recordError(first)
	}
}
