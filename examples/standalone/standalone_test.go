package main

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/internal/proctest"
	"github.com/jetjobs/jetjobs/job"
)

var binary string

func TestMain(m *testing.M) {
	os.Exit(proctest.Main(m, ".", "standalone", &binary))
}

func TestStandaloneWorkerServesQueuesFromEnvironment(t *testing.T) {
	srv := natstest.Start(t)
	p := proctest.Start(t, binary, []string{"NATS_URL=" + srv.URL(), "JETJOBS_QUEUES=default, media", "JETJOBS_CONCURRENCY=2"})
	p.WaitOutput(p.Stderr, `"msg":"worker pool started","queues":\["default","media"\]`)

	_, js := srv.Connect(t)
	c, err := job.NewClient(js, job.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, e := range []struct {
		kind string
		args any
		opts []job.Option
	}{
		{"email.send", EmailArgs{To: "ada@example.com", Subject: "Hi"}, []job.Option{job.ID("mail-1")}},
		{"image.thumbnail", ThumbnailArgs{Image: "cat.png", Width: 128}, []job.Option{job.ID("thumb-1"), job.Queue("media")}},
		{"image.thumbnail", ThumbnailArgs{Image: "dog.png"}, []job.Option{job.ID("thumb-bad"), job.Queue("media")}},
	} {
		if _, err := c.Enqueue(ctx, e.kind, e.args, e.opts...); err != nil {
			t.Fatal(err)
		}
	}
	p.WaitOutput(p.Stderr, `"msg":"email sent","job_id":"mail-1","to":"ada@example.com"`)
	p.WaitOutput(p.Stderr, `"msg":"thumbnail rendered","job_id":"thumb-1"`)
	var dls []job.DeadLetter
	natstest.Eventually(t, 30*time.Second, func() bool {
		dls, err = c.DeadLetters(ctx, job.DeadLetterFilter{})
		return err == nil && len(dls) == 1
	}, "the bad thumbnail to be dead-lettered")
	if dls[0].ID != "thumb-bad" || dls[0].Reason != job.ReasonFailed || !strings.Contains(dls[0].Error, "want a positive width") {
		t.Errorf("dead letter = %+v", dls[0])
	}

	if code := p.Stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0", code)
	}
	if !strings.Contains(p.Stderr.String(), `"msg":"worker pool stopped"`) {
		t.Error("the pool did not log its stop")
	}
}

func TestStandaloneRefusesBadConfiguration(t *testing.T) {
	r := proctest.Run(t, binary, []string{"JETJOBS_CONCURRENCY=many"}, "")
	if r.Code != 2 || !strings.Contains(r.Stderr, "JETJOBS_CONCURRENCY") {
		t.Errorf("exit %d, stderr %q; want 2 and the variable named", r.Code, r.Stderr)
	}
}
