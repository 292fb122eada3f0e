package main

import "net/http"

// httpResponse builds an *http.Response for classify tests.
type httpResponse struct {
	status int
	header map[string]string
}

func (r *httpResponse) build() *http.Response {
	h := http.Header{}
	for k, v := range r.header {
		h.Set(k, v)
	}
	return &http.Response{StatusCode: r.status, Header: h}
}
