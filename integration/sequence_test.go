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
	reqs := sequenceRequests(keys, perKey, func(n int) map[string]any { return map[string]any{"ms": 1, "fail_first": n == retried} })
	opts := []string{"-skip-topology", "-concurrency", "4", "-retry-initial", "50ms", "-retry-max", "50ms"}
	for i := range 3 {
		e.worker(fmt.Sprintf("w%d", i), opts...)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e.enqueueAll(ctx, reqs)
	e.books.accepted = e.ledger.list()
	s := e.books.settle(t, 2*time.Minute)
	elapsed := time.Since(start)
	noneDead(t, s)
	if s.Completed != keys*perKey {
		t.Fatalf("%d of %d jobs completed", s.Completed, keys*perKey)
	}

	retries, workers := checkSequences(t, readRecords(t, e.recDir), keys, perKey, nil)
	if retries != keys {
		t.Fatalf("%d retries started, want %d (one per key)", retries, keys)
	}
	if len(workers) != 3 {
		t.Fatalf("jobs started by %v; want all 3 workers to take part", workers)
	}
	t.Logf("sequences: %d jobs over %d keys by 3 worker processes in %s (%.0f jobs/s); starts per worker %v; %d retries kept their place",
		keys*perKey, keys, elapsed.Round(time.Millisecond), float64(keys*perKey)/elapsed.Seconds(), workers, retries)
}

// checkSequences checks the records of jobs "<key>-<n>": per key, no job
// starts while another runs, except the same job again after its worker
// (one of killed) died running it; and jobs start in order of n, a job
// started again (a retry, or a run after a crash) counting as its own
// place. It returns how many starts were such re-runs and the starts per
// worker.
func checkSequences(t *testing.T, recs []record, keys, perKey int, killed map[string]bool) (reruns int, workers map[string]int) {
	t.Helper()
	type run struct {
		n, attempt int
		worker     string
		at         time.Time
	}
	running := map[string]*run{} // key -> the job running now
	next := map[string]int{}     // key -> the job expected to start next
	workers = map[string]int{}
	for _, r := range recs {
		key, num, ok := strings.Cut(r.id, "-")
		n, err := strconv.Atoi(num)
		if !ok || err != nil {
			t.Fatalf("record of unknown job %q", r.id)
		}
		cur := running[key]
		if r.event != "start" {
			if cur == nil || cur.n != n {
				t.Fatalf("key %s: %s of job %d by %s at %s, but the key's running job is %+v", key, r.event, n, r.worker, r.at.Format(time.StampMicro), cur)
			}
			running[key] = nil
			continue
		}
		workers[r.worker]++
		if cur != nil && !(killed[cur.worker] && cur.n == n && r.attempt > cur.attempt) {
			t.Fatalf("key %s: job %d (attempt %d) started by %s at %s while job %d (attempt %d, started by %s at %s) ran: two jobs of a key overlap",
				key, n, r.attempt, r.worker, r.at.Format(time.StampMicro), cur.n, cur.attempt, cur.worker, cur.at.Format(time.StampMicro))
		}
		switch want := next[key]; {
		case n == want:
			next[key]++
		case n == want-1 && r.attempt > 1:
			reruns++
		default:
			t.Fatalf("key %s: job %d (attempt %d) started by %s, want job %d", key, n, r.attempt, r.worker, want)
		}
		running[key] = &run{n: n, attempt: r.attempt, worker: r.worker, at: r.at}
	}
	if len(next) != keys {
		t.Fatalf("jobs of %d keys started, want %d", len(next), keys)
	}
	for key, n := range next {
		if n != perKey {
			t.Fatalf("key %s: %d jobs started, want %d", key, n, perKey)
		}
	}
	return reruns, workers
}

// Worker processes are SIGKILLed while they run jobs of sequences: the
// killed worker's job is the only one of its key out until the server
// redelivers it after AckWait to another worker, so its key's next job
// waits for it, and nothing is lost.
func TestSequenceOrderThroughWorkerSIGKILL(t *testing.T) {
	srv := newNATSServer(t, natsServerConfig{})
	srv.start()
	e := newFaultEnv(t, "sequences-sigkill", srv.url(), job.Topology{})
	const keys, perKey, kills = 8, 40, 3
	reqs := sequenceRequests(keys, perKey, func(int) map[string]any { return map[string]any{"ms": 20} })
	opts := []string{"-skip-topology", "-ack-wait", "1s", "-concurrency", "2"}
	ws := make([]*workerProc, 3)
	for i := range ws {
		ws[i] = e.worker(fmt.Sprintf("w%d", i), opts...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e.enqueueAll(ctx, reqs)
	e.books.accepted = e.ledger.list()
	killed := map[string]bool{}
	interrupted := 0
	for k := range kills {
		slot := k % len(ws)
		victim := ws[slot]
		var open []string
		waitFor(t, 30*time.Second, 5*time.Millisecond, func() bool {
			n, inflight := e.progress()
			open = inflight[victim.name]
			return n > 40*(k+1) && len(open) > 0
		}, "worker %s running sequence jobs", victim.name)
		victim.kill()
		killed[victim.name] = true
		interrupted += len(open)
		ws[slot] = e.worker(fmt.Sprintf("w%d-%d", slot, k+1), opts...)
	}
	s := e.books.settle(t, 2*time.Minute)
	noneDead(t, s)
	reruns, workers := checkSequences(t, readRecords(t, e.recDir), keys, perKey, killed)
	if reruns < interrupted {
		t.Fatalf("%d re-runs, but %d jobs were running in killed workers", reruns, interrupted)
	}
	report(t, "sequence-sigkill", s,
		fmt.Sprintf("%d SIGKILLs of 3 workers running sequences of %d keys, %d jobs running in killed workers, AckWait 1s", kills, keys, interrupted),
		fmt.Sprintf("every key's jobs started in order and never overlapped; %d re-runs kept their place; starts per worker %v", reruns, workers))
}

// sequenceRequests returns perKey jobs of kind work in each of keys
// sequences (key0, key1, …), interleaved across the keys, job n of key k
// with ID "key<k>-<n>" and the arguments args(n).
func sequenceRequests(keys, perKey int, args func(n int) map[string]any) []job.Request {
	var reqs []job.Request
	for n := range perKey {
		for k := range keys {
			key := fmt.Sprintf("key%d", k)
			reqs = append(reqs, job.Request{
				Kind:    "work",
				Args:    args(n),
				Options: []job.Option{job.Sequence(key), job.ID(fmt.Sprintf("%s-%d", key, n))},
			})
		}
	}
	return reqs
}
