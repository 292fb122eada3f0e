package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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

// hookClient posts webhooks to one URL over a pool of keep-alive
// connections. Like wrk, it writes each request itself and reads the
// answer with net/http's parser on the calling goroutine: the standard
// client's two goroutines per connection cost the 16 burst clients more
// CPU than the host spends serving them, on the same two cores.
type hookClient struct {
	addr string // host:port
	path string
	head []byte // the request line and headers, without Content-Length
	pool chan *hookConn
}

// hookConn is one connection of a hookClient.
type hookConn struct {
	conn net.Conn
	r    *bufio.Reader
	buf  []byte
}

// newHookClient posts to pipeline's webhook on the daemon at addr over at
// most conns connections.
func newHookClient(addr, pipeline string, conns int) *hookClient {
	return newURLClient("http://"+addr+"/v1/hooks/"+pipeline, conns)
}

// newURLClient posts to an http:// URL over at most conns connections.
func newURLClient(rawURL string, conns int) *hookClient {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" {
		fatal(fmt.Errorf("hook client: %q is not an http URL", rawURL))
	}
	h := &hookClient{addr: u.Host, path: u.RequestURI(), pool: make(chan *hookConn, conns)}
	h.head = fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer bench-hook\r\nContent-Type: application/json\r\n", h.path, h.addr)
	for range conns {
		h.pool <- nil
	}
	return h
}

// post sends one body and fails unless it is answered 200.
func (h *hookClient) post(body []byte) error {
	c := <-h.pool
	err := h.exchange(&c, body)
	if err != nil && c != nil { // the connection's state is unknown
		c.conn.Close()
		c = nil
	}
	h.pool <- c
	return err
}

// exchange sends body on *c (dialled if nil) and reads the answer.
func (h *hookClient) exchange(c **hookConn, body []byte) error {
	if *c == nil {
		conn, err := net.Dial("tcp", h.addr)
		if err != nil {
			return err
		}
		*c = &hookConn{conn: conn, r: bufio.NewReaderSize(conn, 4096)}
	}
	hc := *c
	hc.buf = append(hc.buf[:0], h.head...)
	hc.buf = fmt.Appendf(hc.buf, "Content-Length: %d\r\n\r\n", len(body))
	hc.buf = append(hc.buf, body...)
	if _, err := hc.conn.Write(hc.buf); err != nil {
		return err
	}
	resp, err := http.ReadResponse(hc.r, nil)
	if err != nil {
		return err
	}
	msg, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.Close { // the server is done with this connection
		hc.conn.Close()
		*c = nil
	}
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
