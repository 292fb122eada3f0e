package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
)

// detail is one entry of o:errorDetails.
type detail struct {
	Detail     string `json:"detail"`
	Code       string `json:"o:errorCode"`
	Path       string `json:"o:errorPath,omitempty"`
	Header     string `json:"o:errorHeader,omitempty"`
	QueryParam string `json:"o:errorQueryParam,omitempty"`
}

// apiError is a NetSuite error answer.
type apiError struct {
	status  int
	title   string // the status text when empty
	details []detail
}

func (e *apiError) Error() string {
	var parts []string
	for _, d := range e.details {
		parts = append(parts, d.Code+": "+d.Detail)
	}
	return strings.Join(parts, "; ")
}

// badRequest returns a 400 with one detail.
func badRequest(code, path, msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, details: []detail{{Detail: msg, Code: code, Path: path}}}
}

// notFound returns NetSuite's 404 for a missing record instance.
func notFound() *apiError {
	return &apiError{status: http.StatusNotFound, details: []detail{{
		Detail: "The record instance does not exist. Provide a valid record instance ID.", Code: "NONEXISTENT_ID"}}}
}

// invalidValue is NetSuite's answer to a reference or value it does not
// accept: 400 INVALID_CONTENT at path.
func invalidValue(path, field string, value any) *apiError {
	return badRequest("INVALID_CONTENT", path, "Error while accessing a resource. You have entered an Invalid Field Value "+
		stringOf(value)+" for the following field: "+field)
}

// missingValue is NetSuite's answer to a mandatory field left empty:
// 400 USER_ERROR at path.
func missingValue(path, label string) *apiError {
	return badRequest("USER_ERROR", path, "Error while accessing a resource. Please enter value(s) for: "+label+".")
}

// typeURL returns the error body's type for a status.
func typeURL(opts Options, status int) string {
	if opts.LegacyErrorType {
		sec := map[int]string{400: "10.4.1", 401: "10.4.2", 403: "10.4.4", 404: "10.4.5", 405: "10.4.6", 409: "10.4.10",
			415: "10.4.16", 500: "10.5.1", 503: "10.5.4"}[status]
		if sec == "" {
			return "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html"
		}
		return "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec" + sec
	}
	if status == http.StatusTooManyRequests {
		return "https://www.rfc-editor.org/rfc/rfc6585.html#section-4"
	}
	sec := map[int]string{400: "15.5.1", 401: "15.5.2", 403: "15.5.4", 404: "15.5.5", 405: "15.5.6", 409: "15.5.10",
		415: "15.5.16", 500: "15.6.1", 502: "15.6.3", 503: "15.6.4", 504: "15.6.5"}[status]
	if sec == "" {
		return "https://www.rfc-editor.org/rfc/rfc9110.html"
	}
	return "https://www.rfc-editor.org/rfc/rfc9110.html#section-" + sec
}

// writeError writes a NetSuite error body with the status's own title.
func writeError(w http.ResponseWriter, opts Options, status int, title string, ds ...detail) {
	writeErrorTitle(w, opts, status, title, ds...)
}

// writeErrorTitle writes a NetSuite error body:
// {"type","title","status","o:errorDetails":[...]}.
func writeErrorTitle(w http.ResponseWriter, opts Options, status int, title string, ds ...detail) {
	if title == "" {
		title = http.StatusText(status)
	}
	if len(ds) > 0 {
		annotate(w, ds[0].Code, "")
	}
	writeJSON(w, status, contentType(opts, ctError), struct {
		Type    string   `json:"type"`
		Title   string   `json:"title"`
		Status  int      `json:"status"`
		Details []detail `json:"o:errorDetails"`
	}{typeURL(opts, status), title, status, ds})
}

// writeAPIError writes e.
func writeAPIError(w http.ResponseWriter, opts Options, e *apiError) {
	writeErrorTitle(w, opts, e.status, e.title, e.details...)
}

// newID returns a random hex identifier.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
