package integration

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/job"
)

// A sequence of 1,000 jobs over 10 keys, worked by 3 worker processes: no
// two jobs of a key overlap, and each key's jobs start in enqueue order,
// also where a job in the middle of each key fails its first attempt and
// is retried. The workers record every start and end with their own
// timestamps in a shared ledger; the records of each key must alternate
// start, end, start, end, and the starts must walk the key's jobs in order
// (a retry starts the same job again).
func TestSequenceOrderAcrossWorkerProcesses(t *testing.T) {
	srv := newNATSServer(t, natsServerConfig{})
	srv.start()
	e := newFaultEnv(t, "sequences", srv.url(), job.Topology{})
	const keys, perKey, retried = 10, 100, 50
	var reqs []job.Request
	for n := range perKey {
		for k := range keys {
			key := fmt.Sprintf("key%d", k)
			reqs = append(reqs, job.Request{
				Kind:    "work",
				Args:    map[string]any{"ms": 1, "fail_first": n == retried},
				Options: []job.Option{job.Sequence(key), job.ID(fmt.Sprintf("%s-%d", key, n))},
			})
		}
	}
	opts := []string{"-skip-topology", "-concurrency", "4", "-retry-initial", "50ms", "-retry-max", "50ms"}
	for i := range 3 {
		e.worker(fmt.Sprintf("w%d", i), opts...)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := e.client.EnqueueMany(ctx, reqs)
	must(t, err)
	for _, r := range res {
		must(t, r.Err)
		e.ledger.add(r.ID)
	}
	e.books.accepted = e.ledger.list()
	s := e.books.settle(t, 2*time.Minute)
	elapsed := time.Since(start)
	noneDead(t, s)
	if s.Completed != keys*perKey {
		t.Fatalf("%d of %d jobs completed", s.Completed, keys*perKey)
	}

	recs := readRecords(t, e.recDir)
	type step struct {
		n       int
		attempt int
		event   string
		worker  string
		at      time.Time
	}
	byKey := map[string][]step{}
	workers := map[string]int{}
	for _, r := range recs {
		key, num, ok := strings.Cut(r.id, "-")
		n, err := strconv.Atoi(num)
		if !ok || err != nil {
			t.Fatalf("record of unknown job %q", r.id)
		}
		byKey[key] = append(byKey[key], step{n: n, attempt: r.attempt, event: r.event, worker: r.worker, at: r.at})
		if r.event == "start" {
			workers[r.worker]++
		}
	}
	retries := 0
	for key, steps := range byKey {
		next := 0 // the job expected to start next
		for i, st := range steps {
			if i%2 == 0 {
				if st.event != "start" {
					t.Fatalf("key %s: %s of job %d at %s by %s while no job of the key ran", key, st.event, st.n, st.at.Format(time.StampMicro), st.worker)
				}
				switch {
				case st.n == next:
					next++
				case st.n == next-1 && st.attempt > 1:
					retries++ // the same job again: its retry
				default:
					t.Fatalf("key %s: job %d (attempt %d) started by %s, want job %d", key, st.n, st.attempt, st.worker, next)
				}
				continue
			}
			prev := steps[i-1]
			if st.event == "start" || st.n != prev.n {
				t.Fatalf("key %s: %s of job %d by %s at %s while job %d (started by %s at %s) ran: two jobs of a key overlap",
					key, st.event, st.n, st.worker, st.at.Format(time.StampMicro), prev.n, prev.worker, prev.at.Format(time.StampMicro))
			}
		}
		if next != perKey {
			t.Fatalf("key %s: %d jobs started, want %d", key, next, perKey)
		}
	}
	if retries != keys {
		t.Fatalf("%d retries started, want %d (one per key)", retries, keys)
	}
	if len(workers) != 3 {
		t.Fatalf("jobs started by %v; want all 3 workers to take part", workers)
	}
	t.Logf("sequences: %d jobs over %d keys by 3 worker processes in %s (%.0f jobs/s); starts per worker %v; %d retries kept their place",
		keys*perKey, keys, elapsed.Round(time.Millisecond), float64(keys*perKey)/elapsed.Seconds(), workers, retries)
}
