package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/internal/proctest"
)

var binary string

func TestMain(m *testing.M) {
	os.Exit(proctest.Main(m, ".", "embedded", &binary))
}

func signup(t *testing.T, base, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(base+"/signup", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// get fetches url without keeping the connection, so no client goroutine
// outlives the test.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := client.Get(url)
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

func TestEmbeddedServiceEnqueuesWorksAndShutsDown(t *testing.T) {
	for _, external := range []bool{false, true} {
		t.Run(map[bool]string{false: "embedded server", true: "NATS_URL"}[external], func(t *testing.T) {
			env := []string{"ADDR=127.0.0.1:0", "DATA_DIR=" + t.TempDir()}
			var srv *natstest.Server
			if external {
				srv = natstest.Start(t)
				env = append(env, "NATS_URL="+srv.URL())
			}
			p := proctest.Start(t, binary, env)
			base := "http://" + p.WaitOutput(p.Stderr, `"msg":"listening","addr":"([^"]+)"`)[1]

			code, out := signup(t, base, `{"email":"ada@example.com"}`)
			if code != http.StatusAccepted || out["job_id"] != "welcome:ada@example.com" || out["duplicate"] != false {
				t.Fatalf("signup: %d %v", code, out)
			}
			p.WaitOutput(p.Stderr, `"msg":"welcome email sent","job_id":"welcome:ada@example.com","email":"ada@example.com","attempt":1`)
			if code, out := signup(t, base, `{"email":"ada@example.com"}`); code != http.StatusAccepted || out["duplicate"] != true {
				t.Errorf("second signup: %d %v, want a duplicate", code, out)
			}
			if code, _ := signup(t, base, `{"mail":`); code != http.StatusBadRequest {
				t.Errorf("bad signup: %d, want 400", code)
			}

			// The job is counted once its outcome is settled, just after the
			// handler logged.
			const succeeded = `jetjobs_jobs_total{kind="welcome.send",outcome="succeeded",queue="default"} 1`
			var scraped string
			natstest.Eventually(t, 30*time.Second, func() bool {
				_, scraped = get(t, base+"/metrics")
				return strings.Contains(scraped, succeeded+"\n")
			}, "/metrics to count the welcome job")
			for _, want := range []string{`jetjobs_queue_pending_jobs{queue="default"} `, "go_goroutines "} {
				if !strings.Contains(scraped, want) {
					t.Errorf("/metrics lacks %s", want)
				}
			}
			// The dashboard, mounted under /jobs/, lists the queue.
			if code, body := get(t, base+"/jobs/"); code != http.StatusOK || !strings.Contains(body, `data-queue="default"`) || !strings.Contains(body, `href="/jobs/queues/default"`) {
				t.Errorf("GET /jobs/ = %d, want 200 and the default queue linked under /jobs:\n%s", code, body)
			}
			for path, want := range map[string]string{"/healthz": "ok\n", "/readyz": "ready\n"} {
				if code, body := get(t, base+path); code != http.StatusOK || body != want {
					t.Errorf("GET %s = %d %q, want 200 %q", path, code, body, want)
				}
			}

			if code := p.Stop(syscall.SIGTERM); code != 0 {
				t.Fatalf("exit code after SIGTERM = %d, want 0", code)
			}
			logs := p.Stderr.String()
			if strings.Count(logs, "welcome email sent") != 1 {
				t.Errorf("the welcome email was sent %d times, want once", strings.Count(logs, "welcome email sent"))
			}
			for _, want := range []string{`"msg":"shutting down"`, `"msg":"worker pool stopped"`, `"msg":"stopped"`} {
				if !strings.Contains(logs, want) {
					t.Errorf("logs lack %s", want)
				}
			}
			if !external && !strings.Contains(logs, "embedded NATS server stopped") {
				t.Errorf("the embedded server did not stop cleanly")
			}
			if external {
				_, js := srv.Connect(t)
				s, err := js.Stream(t.Context(), "JOBS")
				if err != nil {
					t.Fatal(err)
				}
				if n := s.CachedInfo().State.Msgs; n != 0 {
					t.Errorf("%d jobs left in the work stream, want 0", n)
				}
			}
		})
	}
}
