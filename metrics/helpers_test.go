package metrics_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/internal/pooltest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/metrics"
	"github.com/jetjobs/jetjobs/worker"
)

// env is one embedded server with a client for a test.
type env struct {
	t      testing.TB
	srv    *natstest.Server
	js     jetstream.JetStream
	client *job.Client
}

func newEnv(t testing.TB) *env {
	t.Helper()
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	c, err := job.NewClient(js, job.ClientConfig{})
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, c.EnsureTopology(ctx))
	return &env{t: t, srv: srv, js: js, client: c}
}

func testLogger() *slog.Logger { return pooltest.Logger() }

// pool creates, starts and (at cleanup) stops a pool on e's server.
func (e *env) pool(cfg worker.Config, register func(p *worker.Pool)) *worker.Pool {
	e.t.Helper()
	return pooltest.Start(e.t, e.js, cfg, register)
}

func (e *env) enqueue(kind string, args any, opts ...job.Option) {
	e.t.Helper()
	if _, err := e.client.Enqueue(context.Background(), kind, args, opts...); err != nil {
		e.t.Fatalf("enqueue %s: %v", kind, err)
	}
}

// serve serves h on a loopback port until the end of the test and returns
// its base URL.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- metrics.Serve(ctx, ln, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// httpClient does not keep connections, so no transport goroutine outlives
// a test.
var httpClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := httpClient.Get(url)
	must(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp.StatusCode, string(body)
}

// families are scraped or gathered metrics by name.
type families map[string]*dto.MetricFamily

// scrape fetches and parses url's /metrics.
func scrape(t *testing.T, baseURL string) families {
	t.Helper()
	code, body := get(t, baseURL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams
}

// gather collects g without HTTP.
func gather(t *testing.T, g prometheus.Gatherer) families {
	t.Helper()
	mfs, err := g.Gather()
	must(t, err)
	out := families{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// metric finds the sample of name whose labels include labels ("k=v"
// pairs) and returns it, or nil.
func (f families) metric(name string, labels ...string) *dto.Metric {
	mf := f[name]
	if mf == nil {
		return nil
	}
next:
	for _, m := range mf.GetMetric() {
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		return m
	}
	return nil
}

// value returns the counter, gauge or histogram count of the sample, or -1
// if there is none.
func (f families) value(name string, labels ...string) float64 {
	m := f.metric(name, labels...)
	switch {
	case m == nil:
		return -1
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return -1
}

// expect checks values and reports every mismatch.
func (f families) expect(t *testing.T, want map[string]float64) {
	t.Helper()
	for key, w := range want {
		name, labels := parseKey(key)
		if got := f.value(name, labels...); got != w {
			t.Errorf("%s = %v, want %v", key, got, w)
		}
	}
}

// parseKey splits `name{a=b,c=d}`.
func parseKey(key string) (string, []string) {
	name, rest, ok := strings.Cut(key, "{")
	if !ok {
		return key, nil
	}
	return name, strings.Split(strings.TrimSuffix(rest, "}"), ",")
}

func (f families) String() string {
	var b strings.Builder
	for _, mf := range f {
		fmt.Fprintln(&b, mf.String())
	}
	return b.String()
}

func eventually(t *testing.T, cond func() bool, msg string, args ...any) {
	t.Helper()
	natstest.Eventually(t, 15*time.Second, cond, msg, args...)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
