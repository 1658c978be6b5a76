package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/jetjobs/jetjobs/internal/natstest"
)

// A worker with --metrics-listen serves /metrics with the jobs it ran,
// /healthz, and /readyz: ready while it works, 503 while it drains on
// SIGTERM (the endpoints stay up until the running job finished).
func TestWorkerMetricsListen(t *testing.T) {
	srv := natstest.Start(t)
	out := t.TempDir()
	w := startWorker(t, srv.URL(), []string{"OUT=" + out}, "--metrics-listen", "127.0.0.1:0", "--max-attempts", "1",
		"--exec", "ok.job=cat > /dev/null",
		"--exec", "bad.job=echo broken >&2; exit 1",
		"--exec", `slow.job=touch "$OUT/started"; while [ ! -e "$OUT/release" ]; do sleep 0.01; done`)
	release := filepath.Join(out, "release")
	// Should the test fail while slow.job runs, end its loop, which would
	// otherwise outlive the killed worker and hold its output open.
	t.Cleanup(func() { _ = os.WriteFile(release, nil, 0o644) })
	base := "http://" + w.WaitOutput(w.Stderr, `"msg":"serving metrics","addr":"([^"]+)"`)[1]

	if code, body := httpGet(t, base+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz = %d %q, want 200 ok", code, body)
	}
	if code, body := httpGet(t, base+"/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Errorf("GET /readyz while running = %d %q, want 200 ready", code, body)
	}

	ok(t, "enqueue", "-s", srv.URL(), "--count", "3", "ok.job", "{}")
	ok(t, "enqueue", "-s", srv.URL(), "bad.job")
	var m samples
	eventually(t, func() bool {
		m = scrapeMetrics(t, base)
		return m[`jetjobs_jobs_total{kind="ok.job",outcome="succeeded",queue="default"}`] == 3 &&
			m[`jetjobs_jobs_total{kind="bad.job",outcome="dead_lettered",queue="default"}`] == 1
	}, "/metrics to count 3 succeeded and 1 dead-lettered job")
	for key, want := range map[string]float64{
		`jetjobs_jobs_total{kind="ok.job",outcome="retried",queue="default"}`:        0,
		`jetjobs_jobs_started_total{kind="ok.job",queue="default"}`:                  3,
		`jetjobs_jobs_started_total{kind="bad.job",queue="default"}`:                 1,
		`jetjobs_jobs_failed_total{kind="ok.job",queue="default"}`:                   0,
		`jetjobs_jobs_failed_total{kind="bad.job",queue="default"}`:                  1,
		`jetjobs_dead_letters_total{kind="bad.job",queue="default",reason="failed"}`: 1,
		`jetjobs_job_duration_seconds_count{kind="ok.job",queue="default"}`:          3,
		`jetjobs_job_enqueue_to_start_seconds_count{kind="ok.job",queue="default"}`:  3,
		`jetjobs_jobs_running{kind="ok.job",queue="default"}`:                        0,
		`jetjobs_queue_stats_errors_total`:                                           0,
	} {
		got, found := m[key]
		if !found {
			got = -1
		}
		if got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	// The queue gauges from the server, and the Go and process collectors.
	for _, key := range []string{`jetjobs_queue_pending_jobs{queue="default"}`, `jetjobs_queue_dead_letters{queue="default"}`, "go_goroutines", "process_start_time_seconds"} {
		if _, found := m[key]; !found {
			t.Errorf("/metrics lacks %s", key)
		}
	}

	// SIGTERM while a job runs: not ready while it drains, metrics still
	// served, then a clean exit once the job finished.
	ok(t, "enqueue", "-s", srv.URL(), "slow.job")
	eventually(t, func() bool { _, err := os.Stat(filepath.Join(out, "started")); return err == nil }, "the slow job to start")
	if err := syscall.Kill(w.Pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var body string
	eventually(t, func() bool {
		var code int
		code, body = httpGet(t, base+"/readyz")
		return code == http.StatusServiceUnavailable
	}, "/readyz to answer 503 while the worker drains")
	if !strings.Contains(body, "stopping") {
		t.Errorf("/readyz while draining = %q, want it to say stopping", body)
	}
	if got := scrapeMetrics(t, base)[`jetjobs_jobs_running{kind="slow.job",queue="default"}`]; got != 1 {
		t.Errorf("jetjobs_jobs_running of slow.job while draining = %v, want 1", got)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := w.Wait(); code != 0 {
		t.Errorf("worker exit code after SIGTERM = %d, want 0", code)
	}
	if q := queueFigures(t, srv.URL())["default"]; q.Pending != 0 || q.Running != 0 || q.DeadLetters != 1 {
		t.Errorf("queue default = %+v, want the slow job acknowledged and 1 dead letter", q)
	}
}

// A bad or taken --metrics-listen address fails before connecting, in one
// line.
func TestWorkerMetricsListenErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	unreachable := unusedURL(t)
	for _, c := range []struct {
		addr string
		code int
		want string
	}{
		{"nonsense", exitUsage, `--metrics-listen "nonsense": use host:port`},
		{taken.Addr().String(), exitError, "--metrics-listen " + taken.Addr().String() + ": listen tcp"},
	} {
		r := jetjobs(t, "", "worker", "-s", unreachable, "--exec", "a=true", "--metrics-listen", c.addr)
		if r.Code != c.code || strings.Count(r.Stderr, "\n") != 1 || !strings.Contains(r.Stderr, c.want) {
			t.Errorf("--metrics-listen %s: exit %d, stderr %q; want exit %d and one line with %q", c.addr, r.Code, r.Stderr, c.code, c.want)
		}
	}
}

// samples are the scraped samples by name and labels, as the exposition
// format writes them: `name{a="1",b="2"}` with labels sorted by name;
// histograms as name_count and name_sum.
type samples map[string]float64

var metricsClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := metricsClient.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func scrapeMetrics(t *testing.T, base string) samples {
	t.Helper()
	code, body := httpGet(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	out := samples{}
	for name, mf := range fams {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			slices.Sort(labels)
			key := func(suffix string) string {
				if len(labels) == 0 {
					return name + suffix
				}
				return name + suffix + "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key("")] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key("")] = m.Gauge.GetValue()
			case m.Untyped != nil:
				out[key("")] = m.Untyped.GetValue()
			case m.Histogram != nil:
				out[key("_count")] = float64(m.Histogram.GetSampleCount())
				out[key("_sum")] = m.Histogram.GetSampleSum()
			}
		}
	}
	return out
}
