// Command weir-connector-http is a generic HTTP/JSON connector: a
// destination that sends each record (or a batch of records) to an HTTP
// endpoint, and lookups answered by an endpoint. Every request goes
// through the host's limiter for the connection, so a connection's limits
// hold for any HTTP API, and 429 / Retry-After answers pause it for all
// hosts.
//
// Each record is sent as {"key","version","op","object","record"} with an
// Idempotency-Key header of key:version, so an endpoint can make repeated
// deliveries harmless.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weirhq/weir/sdk"
)

func main() {
	sdk.Serve(&connector{})
}

// connector is one connection's HTTP endpoint.
type connector struct {
	mu     sync.Mutex
	cfg    config
	base   *url.URL
	client *sdk.HTTPClient
}

var (
	_ sdk.Configurer  = (*connector)(nil)
	_ sdk.Checker     = (*connector)(nil)
	_ sdk.Destination = (*connector)(nil)
	_ sdk.Looker      = (*connector)(nil)
)

// Describe tells the host what the connector is.
func (c *connector) Describe() sdk.Description {
	return sdk.Description{
		Name:        "http",
		Version:     "0.1.0",
		Description: "Sends records to an HTTP/JSON endpoint and runs lookups against one, within the connection's limits.",
		Config: []sdk.Attribute{
			{Name: "url", Type: sdk.TypeString, Required: true, Description: "Base URL; object names are appended as a path."},
			{Name: "batch", Type: sdk.TypeNumber, Default: json.RawMessage(`1`), Description: "Records per request: 1 sends one object per request, more sends a JSON array."},
			{Name: "token", Type: sdk.TypeString, Sensitive: true, Description: "Bearer token sent with every request, if set."},
			{Name: "headers", Type: sdk.TypeStringMap, Description: "Extra request headers."},
			{Name: "timeout", Type: sdk.TypeString, Default: json.RawMessage(`"30s"`), Description: "Timeout of one request."},
		},
		Objects: []sdk.Object{{
			Name:        sdk.AnyObject,
			Description: "Any name: records of object \"orders\" are POSTed to <url>/orders; lookups POST their query to <url>/<object>.",
			Writable:    true,
			Lookup:      true,
			Operations:  []string{"upsert"},
		}},
	}
}

// config is the connection block.
type config struct {
	URL     string            `json:"url"`
	Batch   int               `json:"batch"`
	Token   string            `json:"token"`
	Headers map[string]string `json:"headers"`
	Timeout string            `json:"timeout"`
}

// Configure checks the URL and builds the limiter-aware client.
func (c *connector) Configure(_ context.Context, cfg sdk.Config, host sdk.Host) error {
	var conf config
	if err := cfg.Decode(&conf); err != nil {
		return err
	}
	base, err := url.Parse(conf.URL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("url %q must be an absolute http or https URL", conf.URL)
	}
	if conf.Batch < 1 {
		conf.Batch = 1
	}
	timeout, err := time.ParseDuration(conf.Timeout)
	if err != nil || timeout <= 0 {
		return fmt.Errorf("timeout %q is not a positive duration", conf.Timeout)
	}
	var authorization string
	if conf.Token != "" {
		authorization = "Bearer " + conf.Token
	}
	client := &sdk.HTTPClient{
		Host: host,
		HTTP: &http.Client{Timeout: timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		Auth: func(_ context.Context, req *http.Request, _ bool) error {
			if authorization != "" {
				req.Header.Set("Authorization", authorization)
			}
			return nil
		},
	}
	c.mu.Lock()
	c.cfg, c.base, c.client = conf, base, client
	c.mu.Unlock()
	return nil
}

// Check asks the endpoint's base URL; any answer below 500 is healthy.
func (c *connector) Check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, c.base.String(), nil)
	if err != nil {
		return err
	}
	_, err = c.client.Do(ctx, req)
	if e := sdk.Classify(err); e != nil && e.Status != sdk.StatusPermanent {
		return err
	}
	return nil
}

// envelope is what one record looks like on the wire. appendEnvelope
// writes it without reflection; json.Marshal of it is the reference.
type envelope struct {
	Key     string          `json:"key"`
	Version int64           `json:"version"`
	Op      string          `json:"op"`
	Object  string          `json:"object,omitempty"`
	Record  json.RawMessage `json:"record"`
}

func (c *connector) endpoint(object string) (string, error) {
	if object == "" || strings.ContainsAny(object, "/?#") || strings.HasPrefix(object, ".") {
		return "", sdk.Permanent("INVALID_OBJECT", fmt.Sprintf("object %q is not a plain path segment", object), "")
	}
	return c.base.JoinPath(object).String(), nil
}

// Write sends the records, Batch at a time. A request's failure is the
// result of every record in it; 2xx is success for all of them, and 201
// Created says the records were created rather than updated.
func (c *connector) Write(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
	target, err := c.endpoint(req.Object)
	if err != nil {
		return nil, err
	}
	out := make([]sdk.WriteResult, len(req.Records))
	for start := 0; start < len(req.Records); start += c.cfg.Batch {
		chunk := req.Records[start:min(start+c.cfg.Batch, len(req.Records))]
		created, err := c.send(ctx, target, chunk)
		// The chunk's records share one result; classify err once.
		res := sdk.ResultFor("", err)
		for i, r := range chunk {
			res.Key = r.Key
			if err == nil {
				res.ID, res.Created = r.Key, created
			}
			out[start+i] = res
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return out, nil
}

func (c *connector) send(ctx context.Context, target string, recs []sdk.Record) (created bool, err error) {
	body, err := appendBody(make([]byte, 0, bodySize(recs)), recs, c.cfg.Batch == 1)
	if err != nil {
		return false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	// Canonical names set directly, as Header.Set would.
	req.Header["Content-Type"] = []string{"application/json"}
	req.Header["Idempotency-Key"] = []string{idempotencyKey(recs)}
	for k, v := range c.cfg.Headers {
		req.Header.Set(k, v)
	}
	resp, err := c.client.Do(ctx, req)
	if err != nil {
		return false, err
	}
	return resp.StatusCode == http.StatusCreated, nil
}

// idempotencyKey returns the Idempotency-Key header of recs: key:version
// of each, comma-separated.
func idempotencyKey(recs []sdk.Record) string {
	n := 0
	for i := range recs {
		n += len(recs[i].Key) + 22
	}
	var b strings.Builder
	b.Grow(n)
	var num [20]byte
	for i := range recs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(recs[i].Key)
		b.WriteByte(':')
		b.Write(strconv.AppendInt(num[:0], recs[i].Version, 10))
	}
	return b.String()
}

// Lookup POSTs the query to <url>/<object> at the request's priority and
// returns the JSON answer.
func (c *connector) Lookup(ctx context.Context, req sdk.LookupRequest) (json.RawMessage, error) {
	target, err := c.endpoint(req.Object)
	if err != nil {
		return nil, err
	}
	query := req.Query
	if len(query) == 0 {
		query = json.RawMessage(`{}`)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(query))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	for k, v := range c.cfg.Headers {
		hreq.Header.Set(k, v)
	}
	resp, err := c.client.DoPriority(ctx, hreq, req.Priority)
	if err != nil {
		return nil, err
	}
	if !json.Valid(resp.Body) {
		return nil, sdk.Retryable(errors.New("lookup answer is not JSON"), 0)
	}
	return resp.Body, nil
}
