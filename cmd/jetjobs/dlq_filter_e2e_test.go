package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
)

// publishFiledDeadLetter stores the dead letter of job id of queue mail
// and kind, dead for reason, as a worker does, or, v1, on the subject older
// versions filed it under.
func publishFiledDeadLetter(t *testing.T, c *job.Client, id, kind string, reason job.Reason, v1 bool) {
	t.Helper()
	topo := c.Topology()
	dl := topo.DeadLetterMessage("jobs.mail."+kind, nil, []byte(`{}`), id, "mail", "JOBS", deadLetterSeq.Add(1), reason, "boom", 2)
	if v1 {
		dl.Subject = wire.DeadLetterSubjectV1(topo.DeadLetterPrefix, "mail", id)
	}
	if _, err := c.JetStream().PublishMsg(t.Context(), dl); err != nil {
		t.Fatal(err)
	}
}

// dlq ls, replay --all and purge take --kind and --reason, select by them
// both the dead letters filed under them and those of the older subject
// form, and refuse a kind or reason that is none.
func TestDLQKindAndReasonFlags(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	c := streamsClient(t, srv)
	publishFiledDeadLetter(t, c, "a", "thing.do", job.ReasonDecode, false)
	publishFiledDeadLetter(t, c, "b", "thing.do", job.ReasonFailed, false)
	publishFiledDeadLetter(t, c, "c", "thing", job.ReasonDecode, false)
	publishFiledDeadLetter(t, c, "d", "thing.do", job.ReasonDecode, true)
	publishFiledDeadLetter(t, c, "e", "other", job.ReasonFailed, false)

	ids := func(args ...string) []string {
		t.Helper()
		var dls []deadLetterJSON
		if err := json.Unmarshal([]byte(ok(t, append([]string{"dlq", "ls", "-s", url, "--json"}, args...)...)), &dls); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, dl := range dls {
			out = append(out, dl.ID)
		}
		return out
	}
	if got := ids("--kind", "thing.do", "--reason", "decode"); !slices.Equal(got, []string{"a", "d"}) {
		t.Errorf("ls --kind thing.do --reason decode: %v, want [a d]", got)
	}
	if got := ids("-k", "thing.do", "--limit", "2"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("ls -k thing.do --limit 2: %v, want [a b]", got)
	}
	r := jetjobs(t, "", "dlq", "ls", "-s", url, "-k", "thing.do", "--limit", "2")
	if !strings.Contains(r.Stderr, "listed the oldest 2 of the 3 dead letters") {
		t.Errorf("ls --limit 2 of 3: stderr %q", r.Stderr)
	}
	for _, bad := range [][]string{{"ls", "--kind", "thing.>"}, {"ls", "--reason", "bored"}, {"replay", "--kind", "thing"}, {"purge", "--kind", "a b"}} {
		if r := jetjobs(t, "", append([]string{"dlq"}, append(bad, "-s", url)...)...); r.Code != exitUsage {
			t.Errorf("dlq %v: exit %d, stderr %q; want a usage error", bad, r.Code, r.Stderr)
		}
	}

	if r := jetjobs(t, "y\n", "dlq", "purge", "-s", url, "--kind", "thing.do", "--reason", "failed"); r.Code != 0 ||
		!strings.Contains(r.Stderr, "Delete the 1 dead letter of kind thing.do, reason failed for good?") || r.Stdout != "purged 1 dead letter\n" {
		t.Errorf("purge --kind --reason: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	if got := ok(t, "dlq", "replay", "-s", url, "--all", "--reason", "decode"); got != "replayed 3 dead letters\n" {
		t.Errorf("replay --all --reason decode: %q", got)
	}
	if got := ids(); !slices.Equal(got, []string{"e"}) {
		t.Errorf("left %v, want [e]", got)
	}
	if q := queueFigures(t, url)["mail"]; q.Pending != 3 {
		t.Errorf("queue mail = %+v, want the 3 replayed jobs pending", q)
	}
}
