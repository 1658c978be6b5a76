package main

import (
	"context"
	"strings"
	"testing"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
)

// --sequence KEY stores the job under its key's partition, where queue
// listings count it; a key that is not one token, or --in with it, is a
// usage error that names what to change.
func TestEnqueueSequence(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	id := strings.TrimSpace(ok(t, "enqueue", "-s", url, "-q", "billing", "--sequence", "customer-42", "invoice.send", `{"n":1}`))
	_, js := srv.Connect(t)
	stream, err := js.Stream(context.Background(), "JOBS")
	if err != nil {
		t.Fatal(err)
	}
	p := wire.Partition("billing", "customer-42", job.DefaultSequencePartitions)
	m, err := stream.GetLastMsgForSubject(context.Background(), wire.PartitionSubject("jobs", "billing", p, "customer-42", "invoice.send"))
	if err != nil {
		t.Fatalf("job not stored under partition %d: %v", p, err)
	}
	if m.Header.Get(job.HeaderID) != id {
		t.Fatalf("stored job %s, enqueued %s", m.Header.Get(job.HeaderID), id)
	}
	if q := queueFigures(t, url)["billing"]; q.Pending != 1 {
		t.Errorf("queue billing = %+v, want the sequence job pending", q)
	}
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--sequence", "a.b"}, `character '.'`},
		{[]string{"--sequence", ""}, "sequence key is empty"},
		{[]string{"--sequence", "k", "--in", "1m"}, "cannot be delayed"},
	} {
		r := jetjobs(t, "", append(append([]string{"enqueue", "-s", url}, tc.args...), "invoice.send")...)
		if r.Code != 2 || !strings.Contains(r.Stderr, tc.says) {
			t.Errorf("enqueue %v: exit %d, stderr %q; want exit 2 saying %q", tc.args, r.Code, r.Stderr, tc.says)
		}
	}
}
