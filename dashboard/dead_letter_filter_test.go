package dashboard_test

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/dashboard"
	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
)

// A kind or reason filter is a subject filter: its page lists newest
// first and pages on, like the unfiltered list. With a dead letter of the
// v1 subject form among the queue's, the same filter reads oldest first,
// says why, and lists that one too.
func TestDeadLettersKindFilterNewestFirst(t *testing.T) {
	e := newEnv(t, dashboard.Config{})
	for i := range 120 {
		kind := "email.send"
		if i%2 == 1 {
			kind = "email" // a kind the filter's kind starts with
		}
		e.deadLetter("dl-"+strconv.Itoa(i), "mail", kind, nil, job.ReasonFailed, "x", nil)
	}
	_, body := e.get("/dead-letters?kind=email.send&reason=failed")
	mustContain(t, body, ">dl-118<", ">dl-20<", "Newest first")
	if strings.Contains(body, ">dl-119<") || strings.Contains(body, ">dl-18<") {
		t.Fatal("the first page lists another kind, or more than 50")
	}
	next := regexp.MustCompile(`href="([^"]+)" id="next"`).FindStringSubmatch(body)
	if next == nil {
		t.Fatal("no next page link")
	}
	_, body = e.get(strings.TrimPrefix(strings.ReplaceAll(next[1], "&amp;", "&"), prefix))
	mustContain(t, body, ">dl-18<", ">dl-0<")
	if strings.Contains(body, ">dl-20<") {
		t.Fatal("the second page overlaps the first")
	}

	// A dead letter an older version stored under <queue>.<id>.
	topo := e.client.Topology()
	msg := topo.DeadLetterMessage(job.Subject(topo.Prefix, "mail", "email.send"), nil, nil, "old-1", "mail", "JOBS", uint64(time.Now().UnixNano()), job.ReasonFailed, "x", 3)
	msg.Subject = wire.DeadLetterSubjectV1(topo.DeadLetterPrefix, "mail", "old-1")
	if _, err := e.js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	_, body = e.get("/dead-letters?kind=email.send")
	mustContain(t, body, "Oldest first (a filter on error text, or on kind or reason where dead letters stored by an older version", ">dl-0<")
	next = regexp.MustCompile(`href="([^"]+)" id="next"`).FindStringSubmatch(body)
	if next == nil {
		t.Fatal("no next page link")
	}
	_, body = e.get(strings.TrimPrefix(strings.ReplaceAll(next[1], "&amp;", "&"), prefix))
	mustContain(t, body, ">dl-118<", ">old-1<")

	// A kind that is not a kind is refused, saying what is wrong.
	status, body := e.get("/dead-letters?kind=" + "email.%3E")
	if status != http.StatusBadRequest {
		t.Fatalf("kind email.>: status %d", status)
	}
	mustContain(t, body, "kind filter")
}
