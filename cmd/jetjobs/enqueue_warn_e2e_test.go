package main

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/internal/proctest"
)

// Forgetting --queue: enqueue warns when the job's queue has no consumer
// while another queue has one, and names the queue that holds jobs of the
// kind first. It is quiet when the queue is served, and before any worker
// ever started.
func TestEnqueueWarnsOfAQueueNoWorkerServes(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	if r := jetjobs(t, "", "enqueue", "-s", url, "--log-format", "json", "email.send"); r.Code != 0 || r.Stderr != "" {
		t.Errorf("with no worker anywhere yet: exit %d, stderr %q; want no warning", r.Code, r.Stderr)
	}
	ok(t, "enqueue", "-s", url, "--queue", "mail", "email.send", `{"to":"a@b.c"}`)
	startWorker(t, url, nil, "--queue", "mail,media", "--exec", "other.kind=false")

	r := jetjobs(t, "", "enqueue", "-s", url, "--log-format", "json", "email.send", `{"to":"a@b.c"}`)
	want := `no worker has served queue default (it has no consumer), while queue mail has one and holds jobs of kind email.send: the job waits in default until a worker serves that queue; to enqueue to mail, give --queue mail`
	if r.Code != 0 || !strings.Contains(r.Stderr, `"level":"WARN","msg":"`+want+`"`) {
		t.Errorf("enqueue to default: exit %d, stderr %q; want the warning %q", r.Code, r.Stderr, want)
	}
	r = jetjobs(t, "", "enqueue", "-s", url, "--log-format", "json", "--count", "2", "--quiet", "--queue", "mial", "report.build")
	want = `no worker has served queue mial (it has no consumer), while queues mail, media have one: the job waits in mial until a worker serves that queue; to enqueue to mail, give --queue mail`
	if r.Code != 0 || !strings.Contains(r.Stderr, want) {
		t.Errorf("enqueue --count to mial: exit %d, stderr %q; want the warning %q", r.Code, r.Stderr, want)
	}
	if r := jetjobs(t, "", "enqueue", "-s", url, "--log-format", "json", "--queue", "mail", "email.send"); r.Code != 0 || r.Stderr != "" {
		t.Errorf("enqueue to a served queue: exit %d, stderr %q; want no warning", r.Code, r.Stderr)
	}
}

// An enqueuer that may publish its queue's jobs and nothing else (the
// enqueuer role of docs/security.md) gets no warning and no wait from the
// look at the consumers it may not read.
func TestEnqueueCheckUnderLeastPrivilege(t *testing.T) {
	srv := natstest.Start(t, func(o *server.Options) {
		o.Users = []*server.User{
			{Username: "admin", Password: "admin-pw"},
			{Username: "mail-enqueuer", Password: "enqueuer-pw", Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{"jobs.mail.>"}},
				Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX_mail_enqueuer.>"}},
			}},
		}
	})
	url := srv.URL()
	// Another queue has a consumer: the check goes as far as it can.
	startWorker(t, url, []string{"NATS_USER=admin", "NATS_PASSWORD=admin-pw"}, "--exec", "k=true")
	start := time.Now()
	r := proctest.Run(t, binary, []string{"NATS_USER=mail-enqueuer", "NATS_PASSWORD=enqueuer-pw"}, "",
		"enqueue", "-s", url, "--log-format", "json", "--inbox-prefix", "_INBOX_mail_enqueuer", "--queue", "mail", "email.send", "{}")
	if r.Code != 0 || r.Stderr != "" {
		t.Errorf("enqueue as the enqueuer: exit %d, stderr %q; want no warning", r.Code, r.Stderr)
	}
	if took := time.Since(start); took >= probeTimeout {
		t.Errorf("enqueue as the enqueuer took %s: it waited for a request it may not make", took)
	}
}
