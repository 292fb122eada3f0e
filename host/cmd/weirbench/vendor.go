package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// vendor is an in-process HTTP endpoint for the http connector. It takes
// the records of a request from its Idempotency-Key header (key:version,
// comma-separated), answers after delay, and counts a record delivered
// once a request carrying it was answered while its client still waited.
// The first path segment names the host that sent it (each host's
// connection URL can end in its own segment).
type vendor struct {
	srv   *http.Server
	addr  string
	delay time.Duration

	mu        sync.Mutex
	first     time.Time            // the first request's arrival
	last      time.Time            // the last new record's delivery
	delivered map[string]time.Time // key → first delivery
	arrived   map[string]time.Time // host + "/" + key → first arrival
	inFlight  map[*inflightReq]bool
}

// inflightReq is a request the vendor is working on.
type inflightReq struct {
	host string
	keys []string
}

// newVendor starts a vendor answering after delay.
func newVendor(delay time.Duration) *vendor {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal(err)
	}
	v := &vendor{addr: l.Addr().String(), delay: delay, delivered: map[string]time.Time{}, arrived: map[string]time.Time{}, inFlight: map[*inflightReq]bool{}}
	v.srv = &http.Server{Handler: v, ReadHeaderTimeout: 10 * time.Second}
	go v.srv.Serve(l)
	return v
}

// url returns the base URL for a connection; path, if given, names the
// sending host.
func (v *vendor) url(path ...string) string {
	return "http://" + v.addr + "/" + strings.Join(path, "/")
}

// close stops the server.
func (v *vendor) close() { v.srv.Close() }

// ServeHTTP handles one request of the connector.
func (v *vendor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost { // the connector's health check
		return
	}
	arrived := time.Now()
	io.Copy(io.Discard, r.Body)
	req := &inflightReq{host: strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0]}
	for _, kv := range strings.Split(r.Header.Get("Idempotency-Key"), ",") {
		if i := strings.LastIndexByte(kv, ':'); i > 0 {
			req.keys = append(req.keys, kv[:i])
		}
	}
	v.mu.Lock()
	if v.first.IsZero() {
		v.first = arrived
	}
	for _, k := range req.keys {
		if _, ok := v.arrived[req.host+"/"+k]; !ok {
			v.arrived[req.host+"/"+k] = arrived
		}
	}
	v.inFlight[req] = true
	v.mu.Unlock()
	if v.delay > 0 {
		t := time.NewTimer(v.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	v.mu.Lock()
	delete(v.inFlight, req)
	if r.Context().Err() != nil { // the client is gone: not delivered
		v.mu.Unlock()
		return
	}
	now := time.Now()
	for _, k := range req.keys {
		if _, ok := v.delivered[k]; !ok {
			v.delivered[k] = now
			v.last = now
		}
	}
	v.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// count returns how many distinct records were delivered.
func (v *vendor) count() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.delivered)
}

// span returns the first request's arrival and the last new record's
// delivery.
func (v *vendor) span() (first, last time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.first, v.last
}

// waitCount waits until n distinct records were delivered, or timeout.
func (v *vendor) waitCount(n int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for v.count() < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// inFlightFrom returns the keys of the requests from host in progress, and
// how many requests they are.
func (v *vendor) inFlightFrom(host string) (keys []string, requests int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for r := range v.inFlight {
		if r.host == host {
			keys = append(keys, r.keys...)
			requests++
		}
	}
	return keys, requests
}

// firstArrival returns when the first of keys reached the vendor from
// host, or the zero time.
func (v *vendor) firstArrival(host string, keys []string) time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	var first time.Time
	for _, k := range keys {
		if t, ok := v.arrived[host+"/"+k]; ok && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	return first
}

// deliveredAt returns when each key was delivered; ok is false while any is
// not yet delivered.
func (v *vendor) deliveredAt(keys []string) (last time.Time, ok bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, k := range keys {
		t, found := v.delivered[k]
		if !found {
			return time.Time{}, false
		}
		if t.After(last) {
			last = t
		}
	}
	return last, true
}
