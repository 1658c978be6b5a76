package job_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/jetjobs/jetjobs/job"
)

// A purge confirmed after looking at the dead letters deletes those, not
// the ones that arrived since, and says exactly how many it deleted.
func TestPurgeDeadLettersThroughSparesLaterOnes(t *testing.T) {
	ctx := context.Background()
	c, js, _ := newClient(t, job.Topology{})
	topo := c.Topology()
	seq := uint64(0)
	deadLetter := func(queue string) {
		t.Helper()
		seq++
		id := fmt.Sprintf("%s-%d", queue, seq)
		if _, err := js.PublishMsg(ctx, topo.DeadLetterMessage("jobs."+queue+".k", nil, nil, id, queue, "JOBS", seq, job.ReasonFailed, "boom", 1)); err != nil {
			t.Fatal(err)
		}
	}
	ids := func() []string {
		t.Helper()
		dls, err := c.DeadLetters(ctx, job.DeadLetterFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, dl := range dls {
			out = append(out, dl.ID)
		}
		return out
	}

	if mark, err := c.DeadLetterSequence(ctx); err != nil || mark != 0 {
		t.Fatalf("DeadLetterSequence of an empty stream = %d, %v", mark, err)
	}
	deadLetter("mail")
	deadLetter("mail")
	deadLetter("bulk")
	mark, err := c.DeadLetterSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadLetter("mail") // arrives after someone looked and confirmed
	n, err := c.PurgeDeadLettersThrough(ctx, "mail", mark)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"bulk-3", "mail-4"}; n != 2 || !slices.Equal(ids(), want) {
		t.Fatalf("purged %d, left %v; want 2 purged, %v left", n, ids(), want)
	}
	if n, err := c.PurgeDeadLetters(ctx, ""); err != nil || n != 2 || len(ids()) != 0 {
		t.Fatalf("purge all: %d, %v; left %v", n, err, ids())
	}
	if _, err := c.PurgeDeadLetters(ctx, "bad queue"); err == nil {
		t.Fatal("purge of an invalid queue name succeeded")
	}
}
