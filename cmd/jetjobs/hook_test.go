package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// newHookServer serves POSTs with respond(body, Jetjobs-Id, Jetjobs-Attempt)
// as the status code and returns its URL.
func newHookServer(t *testing.T, respond func(body, id, attempt string) int) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(respond(string(b), r.Header.Get("Jetjobs-Id"), r.Header.Get("Jetjobs-Attempt")))
	}))
	t.Cleanup(s.Close)
	return s.URL
}
