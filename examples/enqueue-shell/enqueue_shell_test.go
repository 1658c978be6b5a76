package enqueueshell_test

import (
	"os"
	"strings"
	"testing"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/internal/proctest"
	"github.com/jetjobs/jetjobs/jetjobstest"
	"github.com/jetjobs/jetjobs/job"
)

// jetjobsBin is the jetjobs binary the script runs, built once.
var jetjobsBin string

func TestMain(m *testing.M) {
	os.Exit(proctest.Main(m, "../../cmd/jetjobs", "jetjobs", &jetjobsBin))
}

type emailArgs struct {
	To string `json:"to"`
}

func TestShellEnqueuesJobsAGoWorkerReads(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	env := []string{"NATS_URL=" + srv.URL(), "JETJOBS=" + jetjobsBin}

	// Before any stream exists the raw publish has no taker: a clear error.
	// (Run the raw function alone: jetjobs enqueue would create the streams.)
	r := proctest.Run(t, "bash", env, "", "-c", `source ./enqueue.sh && enqueue_raw default email.send '{}' early`)
	if r.Code == 0 || !strings.Contains(r.Stderr, "no stream takes jobs.default.email.send") {
		t.Errorf("raw publish without a stream: exit %d, stderr %q", r.Code, r.Stderr)
	}

	r = proctest.Run(t, "bash", env, "", "enqueue.sh")
	if r.Code != 0 {
		t.Fatalf("enqueue.sh: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, want := range []string{"jetjobs enqueue: shell-cli-1", "raw publish:     shell-raw-1"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.Stdout)
		}
	}
	// Both jobs wait in the queue as a Go worker reads them: the ID, the
	// limit and the arguments the script gave.
	c, err := job.NewClient(js, job.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	jetjobstest.RequireManyEnqueued(t, c,
		jetjobstest.Want{Kind: "email.send", Expect: []jetjobstest.Expect{
			jetjobstest.ID("shell-cli-1"), jetjobstest.Queue("default"), jetjobstest.MaxAttempts(3), jetjobstest.Args(emailArgs{To: "ada@example.com"})}},
		jetjobstest.Want{Kind: "email.send", Expect: []jetjobstest.Expect{
			jetjobstest.ID("shell-raw-1"), jetjobstest.Queue("default"), jetjobstest.Args(emailArgs{To: "alan@example.com"})}},
	)
}
