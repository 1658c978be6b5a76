package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetjobs/jetjobs/job"
)

// A foreign publisher sends jobs with malformed headers, undecodable
// payloads and invalid kinds among valid ones. Each bad job is
// dead-lettered with reason decode without its handler running; the
// workers neither crash nor stall, and every valid job — including a plain
// publish without any header — completes.
func TestBadInputFromForeignPublisher(t *testing.T) {
	srv := newNATSServer(t, natsServerConfig{})
	srv.start()
	e := newFaultEnv(t, "bad input", srv.url(), job.Topology{})
	ws := []*workerProc{
		e.worker("b0", "-skip-topology", "-concurrency", "4"),
		e.worker("b1", "-skip-topology", "-concurrency", "4"),
	}
	js := e.client.JetStream()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	type bad struct {
		subject string
		header  map[string]string
		payload string
	}
	bads := []bad{
		{"jobs.default.work", map[string]string{job.HeaderMaxAttempts: "many"}, `{"ms":1}`},
		{"jobs.default.work", map[string]string{job.HeaderMaxAttempts: "0"}, `{"ms":1}`},
		{"jobs.default.work", map[string]string{job.HeaderTimeout: "soon"}, `{"ms":1}`},
		{"jobs.default.work", map[string]string{job.HeaderTimeout: "-1s"}, `{"ms":1}`},
		{"jobs.default.work", map[string]string{job.HeaderEnqueuedAt: "yesterday"}, `{"ms":1}`},
		{"jobs.default.work", map[string]string{job.HeaderDeadline: "2026-13-01"}, `{"ms":1}`},
		{"jobs.default.work", map[string]string{job.HeaderAttemptBase: "-3"}, `{"ms":1}`},
		{"jobs.default.work", nil, `{nope`},
		{"jobs.default.work", nil, `{"ms":"slow"}`},
		{"jobs.default.work", nil, `[1,2`},
		{"jobs.default.work", nil, "\x00\xff\xfe"},
		{"jobs.default.work", map[string]string{job.HeaderTimeout: strings.Repeat("9", 10000)}, `{"ms":1}`},
		{"jobs.default.é", nil, `{"ms":1}`},
	}
	var badIDs []string
	publish := func(i int, b bad) {
		id := fmt.Sprintf("bad-%d", i)
		m := nats.NewMsg(b.subject)
		m.Data = []byte(b.payload)
		m.Header.Set(job.HeaderID, id)
		for k, v := range b.header {
			m.Header.Set(k, v)
		}
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatalf("publish %s: %v", id, err)
		}
		badIDs = append(badIDs, id)
		e.ledger.add(id)
	}
	// Bad jobs first, then valid ones, then more bad ones: the queue flows
	// past each.
	reqs := workRequests("good", 200, 5)
	for i, b := range bads[:7] {
		publish(i, b)
	}
	_, err := enqueueReliably(ctx, e.client, reqs[:100], 50, 0, e.ledger.add)
	must(t, err)
	for i, b := range bads[7:] {
		publish(7+i, b)
	}
	_, err = enqueueReliably(ctx, e.client, reqs[100:], 50, 0, e.ledger.add)
	must(t, err)
	// `nats pub jobs.default.work '{"ms":1}'`: no headers at all.
	ack, err := js.Publish(ctx, "jobs.default.work", []byte(`{"ms":1}`))
	must(t, err)
	e.ledger.add(fmt.Sprintf("JOBS-%d", ack.Sequence))
	e.books.accepted = e.ledger.list()

	s := e.books.settle(t, 60*time.Second)
	for _, id := range badIDs {
		dl, ok := s.deadOf[id]
		switch {
		case !ok:
			t.Errorf("%s: not dead-lettered", id)
		case dl.Reason != job.ReasonDecode:
			t.Errorf("%s: reason %q (%s), want decode", id, dl.Reason, dl.Error)
		case dl.Attempts != 1:
			t.Errorf("%s: dead-lettered after %d attempts, want 1", id, dl.Attempts)
		}
	}
	if s.Completed != 201 || s.DeadLettered != len(bads) {
		t.Errorf("completed %d (want 201), dead-lettered %d (want %d)", s.Completed, s.DeadLettered, len(bads))
	}
	ran := map[string]bool{}
	for _, r := range readRecords(t, e.recDir) {
		ran[r.id] = true
	}
	for _, id := range badIDs {
		if ran[id] {
			t.Errorf("the handler ran undecodable job %s", id)
		}
	}
	for _, w := range ws {
		if w.exited() {
			t.Errorf("worker %s died", w.name)
		}
	}
	report(t, "bad-input", s, fmt.Sprintf("%d malformed jobs from a foreign publisher among 201 valid ones", len(bads)), "no stall: every valid job completed")
}
