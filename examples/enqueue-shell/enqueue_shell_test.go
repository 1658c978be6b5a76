package enqueueshell_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/internal/proctest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

// jetjobsBin is the jetjobs binary the script runs, built once.
var jetjobsBin string

func TestMain(m *testing.M) {
	os.Exit(proctest.Main(m, "../../cmd/jetjobs", "jetjobs", &jetjobsBin))
}

type emailArgs struct {
	To string `json:"to"`
}

func TestShellEnqueuesJobsAGoWorkerRuns(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	env := []string{"NATS_URL=" + srv.URL(), "JETJOBS=" + jetjobsBin}

	// Before any stream exists the raw publish has no taker: a clear error.
	// (Run the raw function alone: jetjobs enqueue would create the streams.)
	r := proctest.Run(t, "bash", env, "", "-c", `source ./enqueue.sh && enqueue_raw default email.send '{}' early`)
	if r.Code == 0 || !strings.Contains(r.Stderr, "no stream takes jobs.default.email.send") {
		t.Errorf("raw publish without a stream: exit %d, stderr %q", r.Code, r.Stderr)
	}

	ran := make(chan *job.Job[emailArgs], 4)
	pool, err := worker.New(js, worker.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := worker.Handle(pool, "email.send", func(_ context.Context, j *job.Job[emailArgs]) error {
		ran <- j
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := pool.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = pool.Stop(ctx)
	})

	r = proctest.Run(t, "bash", env, "", "enqueue.sh")
	if r.Code != 0 {
		t.Fatalf("enqueue.sh: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, want := range []string{"jetjobs enqueue: shell-cli-1", "raw publish:     shell-raw-1"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.Stdout)
		}
	}
	want := map[string]struct {
		to          string
		maxAttempts int
	}{
		"shell-cli-1": {"ada@example.com", 3},
		"shell-raw-1": {"alan@example.com", job.DefaultMaxAttempts},
	}
	for n := len(want); n > 0; n-- { // not "range want": the loop deletes from it
		select {
		case j := <-ran:
			w, ok := want[j.ID]
			if !ok {
				t.Fatalf("ran unexpected job %q", j.ID)
			}
			if j.Args.To != w.to || j.MaxAttempts != w.maxAttempts || j.Queue != "default" {
				t.Errorf("job %s ran with to=%s max_attempts=%d queue=%s, want %+v", j.ID, j.Args.To, j.MaxAttempts, j.Queue, w)
			}
			delete(want, j.ID)
		case <-time.After(30 * time.Second):
			t.Fatalf("jobs %v never ran", want)
		}
	}
}
