package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weirhq/weir/sdk"
)

// odata is a client of the system's OData V2 services. Every request goes
// through sdk.HTTPClient (limiter, credentials, classification); modifying
// requests carry the session's CSRF token.
type odata struct {
	http   *sdk.HTTPClient
	root   string     // base_url + service_path
	params url.Values // sap-client, sap-language

	csrfMu  sync.Mutex
	csrf    string // the session's token; "" when none
	csrfGen int    // bumped with every fetch

	metaMu sync.Mutex
	meta   map[string]*schema // by service
}

// url builds a service URL with the system parameters and q.
func (o *odata) url(svc, path string, q url.Values) string {
	u := o.root + "/" + svc + "/" + strings.TrimPrefix(path, "/")
	v := url.Values{}
	for k, vs := range o.params {
		v[k] = vs
	}
	for k, vs := range q {
		v[k] = vs
	}
	if len(v) > 0 {
		// OData wants %20, not +, in query options.
		u += "?" + strings.ReplaceAll(v.Encode(), "+", "%20")
	}
	return u
}

// get reads a resource as JSON.
func (o *odata) get(ctx context.Context, svc, path string, q url.Values, p sdk.Priority) (*sdk.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.url(svc, path, q), nil)
	if err != nil {
		return nil, sdk.Permanent("INVALID_REQUEST", err.Error(), "")
	}
	req.Header.Set("Accept", "application/json")
	return o.http.DoPriority(ctx, req, p)
}

// getURL follows a __next link.
func (o *odata) getURL(ctx context.Context, link string, p sdk.Priority) (*sdk.Response, error) {
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(u.String(), o.root) {
		return nil, sdk.Retryable(fmt.Errorf("a __next link outside the service: %q", link), 0)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	return o.http.DoPriority(ctx, req, p)
}

// errCSRF is a 403 with "x-csrf-token: Required".
var errCSRF = errors.New("CSRF token validation failed")

// token returns the session's CSRF token, fetching one with a read that
// also opens the session (its cookies land in the client's jar).
func (o *odata) token(ctx context.Context, svc string) (string, int, error) {
	o.csrfMu.Lock()
	defer o.csrfMu.Unlock()
	if o.csrf != "" {
		return o.csrf, o.csrfGen, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.url(svc, "", nil), nil)
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("x-csrf-token", "Fetch")
	resp, err := o.http.Do(ctx, req)
	if err != nil {
		return "", 0, err
	}
	tok := resp.Header.Get("x-csrf-token")
	if tok == "" || strings.EqualFold(tok, "required") {
		return "", 0, sdk.Retryable(errors.New("the system sent no CSRF token"), 0)
	}
	o.csrf = tok
	o.csrfGen++
	return o.csrf, o.csrfGen, nil
}

// forget drops the token of generation gen, unless a newer one was
// fetched meanwhile.
func (o *odata) forget(gen int) {
	o.csrfMu.Lock()
	defer o.csrfMu.Unlock()
	if o.csrfGen == gen {
		o.csrf = ""
	}
}

// modify sends a modifying request with the CSRF token. On 403 with
// "x-csrf-token: Required" (a session that expired, a token never valid)
// it fetches a new token once and retries once.
func (o *odata) modify(ctx context.Context, method, svc, path string, body any, ifMatch string) (*sdk.Response, error) {
	var data []byte
	if body != nil {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(body); err != nil {
			return nil, sdk.Permanent("INVALID_JSON", err.Error(), "")
		}
		data = b.Bytes()
	}
	for attempt := 0; ; attempt++ {
		tok, gen, err := o.token(ctx, svc)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, method, o.url(svc, path, nil), bytes.NewReader(data))
		if err != nil {
			return nil, sdk.Permanent("INVALID_REQUEST", err.Error(), "")
		}
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		req.Header.Set("Accept", "application/json")
		if data != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("x-csrf-token", tok)
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		resp, err := o.http.Do(ctx, req)
		if errors.Is(err, errCSRF) {
			o.forget(gen)
			if attempt == 0 {
				continue
			}
			return resp, sdk.Retryable(errors.New("CSRF token validation failed again after fetching a new token"), 0)
		}
		return resp, err
	}
}

// fault is an API-management fault body.
type fault struct {
	Fault struct {
		FaultString string `json:"faultstring"`
		Detail      struct {
			ErrorCode string `json:"errorcode"`
		} `json:"detail"`
	} `json:"fault"`
}

// odataErr is an OData V2 error body.
type odataErr struct {
	status  int
	Code    string
	Message string
	Details []errDetail
}

type errDetail struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Target   string `json:"target"`
	Severity string `json:"severity"`
}

func (e *odataErr) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("HTTP %d %s: %s", e.status, e.Code, e.Message)
	}
	return fmt.Sprintf("HTTP %d: %s", e.status, e.Message)
}

// primary returns the detail that says what is wrong: the first error
// with a target, else the first error that is not the gateway's generic
// business exception.
func (e *odataErr) primary() errDetail {
	var first *errDetail
	for i, d := range e.Details {
		if d.Severity != "" && d.Severity != "error" || strings.HasPrefix(d.Code, "/IWBEP/CX_") {
			continue
		}
		if d.Target != "" {
			return d
		}
		if first == nil {
			first = &e.Details[i]
		}
	}
	if first != nil {
		return *first
	}
	return errDetail{Code: e.Code, Message: e.Message}
}

func parseODataError(status int, body []byte) *odataErr {
	var doc struct {
		Error struct {
			Code    string          `json:"code"`
			Message json.RawMessage `json:"message"`
			Inner   struct {
				Details []errDetail `json:"errordetails"`
			} `json:"innererror"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &doc) != nil || (doc.Error.Code == "" && len(doc.Error.Message) == 0) {
		return nil
	}
	e := &odataErr{status: status, Code: doc.Error.Code, Details: doc.Error.Inner.Details}
	var m struct{ Value string }
	if json.Unmarshal(doc.Error.Message, &m) == nil && m.Value != "" {
		e.Message = m.Value
	} else {
		_ = json.Unmarshal(doc.Error.Message, &e.Message) // OData V4 style
	}
	return e
}

// lockCodes are business errors that a retry fixes: the document is being
// processed by someone else.
var lockCodes = map[string]bool{"V1/042": true, "MC/601": true}

// classify turns a response into nil or a classified error: the CSRF
// refusal, spike arrest and quota faults (rate limiting, whatever their
// status), OData error bodies (permanent business errors with their code,
// text and target), and otherwise the SDK's defaults.
func (o *odata) classify(resp *http.Response, body []byte) error {
	code := resp.StatusCode
	if code < 400 {
		return nil
	}
	after, _ := sdk.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	if code == http.StatusForbidden && strings.EqualFold(resp.Header.Get("x-csrf-token"), "required") {
		return sdk.Retryable(errCSRF, 0)
	}
	var f fault
	if json.Unmarshal(body, &f) == nil && f.Fault.Detail.ErrorCode != "" {
		ec := f.Fault.Detail.ErrorCode
		if strings.Contains(ec, "SpikeArrest") || strings.Contains(ec, "Quota") || strings.Contains(ec, "ratelimit") || code == http.StatusTooManyRequests {
			if after <= 0 {
				after = time.Second
			}
			return sdk.RateLimited(fmt.Sprintf("HTTP %d %s: %s", code, ec, f.Fault.FaultString), after)
		}
	}
	if e := parseODataError(code, body); e != nil {
		switch {
		case code == http.StatusUnauthorized:
			return sdk.AuthExpired(e)
		case code == http.StatusTooManyRequests:
			return sdk.RateLimited(e.Error(), after)
		case code == http.StatusRequestTimeout || code >= 500:
			return sdk.Retryable(e, after)
		}
		d := e.primary()
		if lockCodes[d.Code] || lockCodes[e.Code] {
			return sdk.Retryable(e, after)
		}
		c := d.Code
		if c == "" {
			c = strconv.Itoa(code)
		}
		return &sdk.Error{Status: sdk.StatusPermanent, Code: c, Message: d.Message, Field: d.Target, Err: e}
	}
	return o.http.DefaultClassify(resp, body)
}

// statusOf returns the HTTP status behind a classified error, 0 if none.
func statusOf(err error) int {
	var oe *odataErr
	if errors.As(err, &oe) {
		return oe.status
	}
	var se *sdk.Error
	if errors.As(err, &se) && se.Status == sdk.StatusPermanent {
		n, _ := strconv.Atoi(se.Code)
		return n
	}
	return 0
}

// schema is what the connector knows of a service from its $metadata.
type schema struct {
	types map[string]*etype // by entity type name
	sets  map[string]*etype // by entity set name
}

type etype struct {
	name  string
	props map[string]*eprop
	order []string
	navs  map[string]string // navigation → target type name
}

type eprop struct {
	Name      string
	Type      string
	MaxLength int
	Precision int
	Scale     int
	Creatable bool
	Updatable bool
}

// edmx is the part of an EDMX document the connector reads.
type edmx struct {
	Schemas []struct {
		Namespace string `xml:"Namespace,attr"`
		Types     []struct {
			Name  string `xml:"Name,attr"`
			Props []struct {
				Name      string `xml:"Name,attr"`
				Type      string `xml:"Type,attr"`
				MaxLength string `xml:"MaxLength,attr"`
				Precision string `xml:"Precision,attr"`
				Scale     string `xml:"Scale,attr"`
				Creatable string `xml:"http://www.sap.com/Protocols/SAPData creatable,attr"`
				Updatable string `xml:"http://www.sap.com/Protocols/SAPData updatable,attr"`
			} `xml:"Property"`
			Navs []struct {
				Name         string `xml:"Name,attr"`
				Relationship string `xml:"Relationship,attr"`
				ToRole       string `xml:"ToRole,attr"`
			} `xml:"NavigationProperty"`
		} `xml:"EntityType"`
		Assocs []struct {
			Name string `xml:"Name,attr"`
			Ends []struct {
				Type string `xml:"Type,attr"`
				Role string `xml:"Role,attr"`
			} `xml:"End"`
		} `xml:"Association"`
		Containers []struct {
			Sets []struct {
				Name       string `xml:"Name,attr"`
				EntityType string `xml:"EntityType,attr"`
			} `xml:"EntitySet"`
		} `xml:"EntityContainer"`
	} `xml:"DataServices>Schema"`
}

func parseMetadata(doc []byte) (*schema, error) {
	var x edmx
	if err := xml.Unmarshal(doc, &x); err != nil {
		return nil, err
	}
	s := &schema{types: map[string]*etype{}, sets: map[string]*etype{}}
	local := func(q string) string { return q[strings.LastIndexByte(q, '.')+1:] }
	atoi := func(v string) int { n, _ := strconv.Atoi(v); return n }
	for _, sc := range x.Schemas {
		assocEnds := map[string]map[string]string{} // assoc → role → type
		for _, a := range sc.Assocs {
			m := map[string]string{}
			for _, e := range a.Ends {
				m[e.Role] = local(e.Type)
			}
			assocEnds[a.Name] = m
		}
		for _, t := range sc.Types {
			et := &etype{name: t.Name, props: map[string]*eprop{}, navs: map[string]string{}}
			for _, p := range t.Props {
				et.props[p.Name] = &eprop{Name: p.Name, Type: p.Type, MaxLength: atoi(p.MaxLength), Precision: atoi(p.Precision),
					Scale: atoi(p.Scale), Creatable: p.Creatable != "false", Updatable: p.Updatable != "false"}
				et.order = append(et.order, p.Name)
			}
			for _, n := range t.Navs {
				et.navs[n.Name] = assocEnds[local(n.Relationship)][n.ToRole]
			}
			s.types[t.Name] = et
		}
		for _, c := range sc.Containers {
			for _, set := range c.Sets {
				if et := s.types[local(set.EntityType)]; et != nil {
					s.sets[set.Name] = et
				}
			}
		}
	}
	if len(s.sets) == 0 {
		return nil, errors.New("no entity sets")
	}
	return s, nil
}

// schemaOf returns a service's schema, read from $metadata once.
func (o *odata) schemaOf(ctx context.Context, svc string) (*schema, error) {
	o.metaMu.Lock()
	defer o.metaMu.Unlock()
	if s := o.meta[svc]; s != nil {
		return s, nil
	}
	resp, err := o.get(ctx, svc, "$metadata", nil, sdk.PriorityBulk)
	if err != nil {
		return nil, err
	}
	s, err := parseMetadata(resp.Body)
	if err != nil {
		return nil, sdk.Retryable(fmt.Errorf("%s/$metadata: %v", svc, err), 0)
	}
	o.meta[svc] = s
	return s, nil
}

// decodeJSON decodes a response body keeping numbers exact.
func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return sdk.Retryable(fmt.Errorf("unexpected response: %v", err), 0)
	}
	return nil
}

// entityOf reads {"d": {...}}.
func entityOf(body []byte) (map[string]any, error) {
	var doc struct {
		D map[string]any `json:"d"`
	}
	if err := decodeJSON(body, &doc); err != nil {
		return nil, err
	}
	if doc.D == nil {
		return nil, sdk.Retryable(errors.New("unexpected response: no d object"), 0)
	}
	return doc.D, nil
}

// collectionOf reads {"d": {"results": [...], "__next": …}}.
func collectionOf(body []byte) ([]map[string]any, string, error) {
	var doc struct {
		D struct {
			Results []map[string]any `json:"results"`
			Next    string           `json:"__next"`
		} `json:"d"`
	}
	if err := decodeJSON(body, &doc); err != nil {
		return nil, "", err
	}
	return doc.D.Results, doc.D.Next, nil
}

// results reads a navigation property expanded to many: {"results": [...]}.
func results(v any) []map[string]any {
	if m, ok := v.(map[string]any); ok {
		v = m["results"]
	}
	arr, _ := v.([]any)
	out := make([]map[string]any, 0, len(arr))
	for _, e := range arr {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// etagOf returns an entity's ETag from __metadata.
func etagOf(e map[string]any) string {
	m, _ := e["__metadata"].(map[string]any)
	s, _ := m["etag"].(string)
	return s
}

// quote renders a string literal for $filter and key predicates.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
