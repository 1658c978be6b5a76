package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HandlerConfig configures NewHandler. Its zero value serves the default
// Prometheus registry and is always ready.
type HandlerConfig struct {
	// Gatherer is what /metrics serves; nil means prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	// Ready reports whether the process can do its work; /readyz answers 200
	// when it returns nil and 503 with its error otherwise. For a worker use
	// worker.Pool.Ready. Nil means always ready.
	Ready func() error
}

// NewHandler returns an http.Handler serving:
//
//   - /metrics: the gathered metrics in the Prometheus exposition format;
//   - /healthz: 200 "ok" while the process serves HTTP (liveness);
//   - /readyz: 200 "ready" when cfg.Ready returns nil, else 503 with the
//     error (readiness: take the instance out of rotation, do not restart it).
//
// Other paths answer 404.
func NewHandler(cfg HandlerConfig) http.Handler {
	g := cfg.Gatherer
	if g == nil {
		g = prometheus.DefaultGatherer
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if cfg.Ready != nil {
			if err := cfg.Ready(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = fmt.Fprintln(w, "not ready:", err)
				return
			}
		}
		_, _ = fmt.Fprintln(w, "ready")
	})
	return mux
}

// shutdownTimeout bounds how long Serve waits for requests in progress when
// its context ends.
const shutdownTimeout = 5 * time.Second

// ListenAndServe listens on the TCP address addr (such as ":9090") and
// serves h there until ctx ends; see Serve.
func ListenAndServe(ctx context.Context, addr string, h http.Handler) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("jetjobs metrics: listen on %s: %w", addr, err)
	}
	return Serve(ctx, ln, h)
}

// Serve serves h on ln until ctx ends, then shuts the server down, letting
// requests in progress finish for up to 5 seconds, and closes ln. It returns
// nil after a shutdown caused by ctx, or the error that stopped serving.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("jetjobs metrics: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close() // requests still running past the timeout
	}
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("jetjobs metrics: shut down server on %s: %w", ln.Addr(), err)
	}
	return nil
}
