package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// pad fills an order document up to about 1 KB.
var pad = strings.Repeat("x", 1024-80)

// doc returns a 1 KB order document with the given id.
func doc(id string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"total":12345678901234567.89,"status":"Activated","pad":"%s"}`, id, pad)
}

// order returns the 1 KB order document number i.
func order(i int) []byte { return doc(fmt.Sprintf("o%06d", i)) }

// arrayBody returns a JSON array of the documents with ids
// prefix<from>…prefix<to-1>, as one webhook body.
func arrayBody(prefix string, from, to int) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := from; i < to; i++ {
		if i > from {
			b.WriteByte(',')
		}
		b.Write(doc(fmt.Sprintf("%s%07d", prefix, i)))
	}
	b.WriteByte(']')
	return b.Bytes()
}

// hookClient posts webhooks to one daemon's pipeline.
type hookClient struct {
	url    string
	client *http.Client
}

// newHookClient posts to pipeline's webhook on the daemon at addr over at
// most conns connections.
func newHookClient(addr, pipeline string, conns int) *hookClient {
	return &hookClient{
		url:    "http://" + addr + "/v1/hooks/" + pipeline,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}},
	}
}

// post sends one body and fails unless it is answered 200.
func (h *hookClient) post(body []byte) error {
	req, _ := http.NewRequest("POST", h.url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer bench-hook")
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("webhook: HTTP %d: %s", resp.StatusCode, msg)
	}
	return nil
}

// parallel runs f(0..n-1) on k goroutines and returns the wall time.
func parallel(n, k int, f func(i int) error) time.Duration {
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	start := time.Now()
	for c := range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < n; i += k {
				if err := f(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		fatal(firstErr)
	}
	return time.Since(start)
}

// parallelUntil runs f on k goroutines until each reports done.
func parallelUntil(k int, f func(g int) (bool, error)) error {
	var wg sync.WaitGroup
	errs := make(chan error, k)
	for g := range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				done, err := f(g)
				if err != nil {
					errs <- err
					return
				}
				if done {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
