package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/jetjobs/jetjobs/internal/proctest"
)

func uiGet(t *testing.T, url, user, pass string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// jetjobs ui serves the dashboard of the namespace, behind basic auth when
// asked (the password never on the command line), read-only when asked.
func TestUIServesDashboardWithBasicAuth(t *testing.T) {
	url, _ := startServerProc(t)
	ok(t, "enqueue", "-s", url, "--queue", "mail", "email.send", `{"to":"a@b.c"}`)
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := proctest.Start(t, binary, nil, "ui", "-s", url, "--listen", "127.0.0.1:0", "--auth-user", "ops", "--auth-password-file", pwFile, "--read-only")
	t.Cleanup(func() {
		if code := p.Stop(syscall.SIGTERM); code != 0 {
			t.Errorf("ui exit code after SIGTERM = %d, want 0", code)
		}
	})
	web := p.WaitOutput(p.Stdout, `dashboard: (http://\S+)`)[1]
	if status, _ := uiGet(t, web, "", ""); status != http.StatusUnauthorized {
		t.Fatalf("without credentials: %d", status)
	}
	if status, _ := uiGet(t, web, "ops", "wrong"); status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", status)
	}
	status, body := uiGet(t, web, "ops", "s3cret")
	if status != http.StatusOK || !strings.Contains(body, `data-queue="mail"`) || !strings.Contains(body, "read-only") {
		t.Fatalf("with credentials: %d\n%s", status, body)
	}

	r := jetjobs(t, "", "ui", "-s", url, "--auth-user", "ops")
	if r.Code != exitUsage || !strings.Contains(r.Stderr, "JETJOBS_UI_PASSWORD") {
		t.Fatalf("--auth-user without a password: exit %d, %s", r.Code, r.Stderr)
	}
	for _, args := range [][]string{{"ui", "-s", url, "--listen", "0.0.0.0:0"}, {"server", "--listen", "127.0.0.1:0", "--ui", "0.0.0.0:0"}, {"demo", "--ui", "0.0.0.0:0"}} {
		r := jetjobs(t, "", args...)
		if r.Code != exitUsage || !strings.Contains(r.Stderr, "no authentication") {
			t.Fatalf("jetjobs %s: exit %d, %s", strings.Join(args, " "), r.Code, r.Stderr)
		}
	}
}

// jetjobs server --ui serves the dashboard next to the server; jetjobs
// workers lists a running worker.
func TestServerUIAndWorkersCommand(t *testing.T) {
	url, p := startServerProc(t, "--ui", "127.0.0.1:0")
	web := p.WaitOutput(p.Stdout, `dashboard: (http://\S+)`)[1]
	if status, body := uiGet(t, web+"workers", "", ""); status != http.StatusOK || !strings.Contains(body, "No live worker") {
		t.Fatalf("workers page: %d", status)
	}
	w := startWorker(t, url, nil, "--queue", "mail", "--concurrency", "3", "--exec", "email.send=cat")
	_ = w
	var ws []map[string]any
	eventually(t, func() bool {
		r := jetjobs(t, "", "workers", "-s", url, "--json")
		ws = nil
		return r.Code == 0 && json.Unmarshal([]byte(r.Stdout), &ws) == nil && len(ws) == 1
	}, "jetjobs workers does not list the worker")
	if ws[0]["pid"].(float64) != float64(w.Pid()) {
		t.Fatalf("workers --json: %v, want pid %d", ws[0], w.Pid())
	}
	out := ok(t, "workers", "-s", url)
	if !strings.Contains(out, "mail 0/3") || !strings.Contains(out, "idle") {
		t.Fatalf("workers:\n%s", out)
	}
	if status, body := uiGet(t, web+"workers", "", ""); status != http.StatusOK || !strings.Contains(body, "mail</a> 0/3") {
		t.Fatalf("workers page: %d\n%s", status, body)
	}
}

// jetjobs demo --ui keeps the demo up for the dashboard it names, until
// interrupted.
func TestDemoUI(t *testing.T) {
	p := proctest.Start(t, binary, nil, "demo", "--ui", "127.0.0.1:0")
	web := p.WaitOutput(p.Stdout, `dashboard: (http://\S+)`)[1]
	status, body := uiGet(t, web+"dead-letters", "", "")
	if status != http.StatusOK || !strings.Contains(body, "resize-cat") {
		t.Fatalf("the demo's dead letters: %d\n%s", status, body)
	}
	if code := p.Stop(syscall.SIGINT); code != 0 {
		t.Fatalf("demo --ui exit code after SIGINT = %d, want 0", code)
	}
}
