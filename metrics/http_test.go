package metrics_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetjobs/jetjobs/metrics"
)

func TestHandlerRoutes(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "probe_total", Help: "A probe."}))
	var ready error = errors.New("still starting")
	h := metrics.NewHandler(metrics.HandlerConfig{Gatherer: reg, Ready: func() error { return ready }})
	do := func(method, path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec.Code, rec.Body.String()
	}
	tests := []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/healthz", 200, "ok"},
		{"GET", "/readyz", 503, "not ready: still starting"},
		{"GET", "/metrics", 200, "probe_total 0"},
		{"HEAD", "/healthz", 200, ""},
		{"POST", "/metrics", 405, ""},
		{"GET", "/", 404, ""},
	}
	for _, tt := range tests {
		code, body := do(tt.method, tt.path)
		if code != tt.code || !strings.Contains(body, tt.body) {
			t.Errorf("%s %s = %d %q, want %d containing %q", tt.method, tt.path, code, body, tt.code, tt.body)
		}
	}
	ready = nil
	if code, body := do("GET", "/readyz"); code != 200 || strings.TrimSpace(body) != "ready" {
		t.Errorf("ready: /readyz = %d %q", code, body)
	}
	// The zero config: default registry, always ready.
	h = metrics.NewHandler(metrics.HandlerConfig{})
	if code, _ := do("GET", "/readyz"); code != 200 {
		t.Errorf("zero config: /readyz = %d, want 200", code)
	}
	if code, body := do("GET", "/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("zero config: /metrics = %d, want the default registry's Go metrics", code)
	}
}

func TestServeUntilContextEnds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- metrics.Serve(ctx, ln, metrics.NewHandler(metrics.HandlerConfig{})) }()
	if code, _ := get(t, "http://"+ln.Addr().String()+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel = %v, want nil", err)
	}
	if _, err := httpClient.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Fatal("server still answers after Serve returned")
	}
}

func TestListenAndServeReportsListenErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	// The address is taken.
	err = metrics.ListenAndServe(context.Background(), ln.Addr().String(), http.NotFoundHandler())
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("ListenAndServe on a taken address = %v, want a listen error", err)
	}
}
