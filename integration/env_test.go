package integration

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
)

// faultEnv is one scenario's world: a nats-server process (or the URLs of a
// cluster), a client of the test, a directory where workers record, and
// the books.
type faultEnv struct {
	t       *testing.T
	servers string
	nc      *nats.Conn
	js      jetstream.JetStream
	client  *job.Client
	recDir  string
	ledger  *ledger
	books   *books
}

// newFaultEnv connects to servers, creates the streams of topo, and
// prepares the books of scenario; opts are added to the test client's
// connection options.
func newFaultEnv(t *testing.T, scenario, servers string, topo job.Topology, opts ...nats.Option) *faultEnv {
	t.Helper()
	nc, js := connect(t, servers, opts...)
	c, err := job.NewClient(js, job.ClientConfig{Topology: topo})
	if err != nil {
		t.Fatal(err)
	}
	// A cluster may still be electing its JetStream leader: retry.
	var ensureErr error
	if !poll(30*time.Second, 200*time.Millisecond, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ensureErr = c.EnsureTopology(ctx)
		return ensureErr == nil
	}) {
		t.Fatalf("create the streams: %v", ensureErr)
	}
	recDir := filepath.Join(t.TempDir(), "records")
	if err := os.MkdirAll(recDir, 0o755); err != nil {
		t.Fatal(err)
	}
	e := &faultEnv{t: t, servers: servers, nc: nc, js: js, client: c, recDir: recDir, ledger: &ledger{}}
	e.books = &books{scenario: scenario, client: c, recDir: recDir}
	return e
}

// worker starts a test worker on the env's servers and waits until it runs.
func (e *faultEnv) worker(name string, opts ...string) *workerProc {
	e.t.Helper()
	return startWorker(e.t, e.recDir, name, e.servers, opts)
}

// enqueueInBackground enqueues reqs (paced: batch jobs every interval) in a
// goroutine, retrying each until accepted. The returned channel yields the
// result once all are accepted.
func (e *faultEnv) enqueueInBackground(reqs []job.Request, batch int, every time.Duration) <-chan error {
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	e.t.Cleanup(cancel)
	go func() {
		retries, err := enqueueReliably(ctx, e.client, reqs, batch, every, e.ledger.add)
		if retries > 0 {
			e.t.Logf("enqueue: %d publishes retried", retries)
		}
		done <- err
	}()
	return done
}

// awaitEnqueued waits for an enqueueInBackground to finish.
func (e *faultEnv) awaitEnqueued(done <-chan error) {
	e.t.Helper()
	select {
	case err := <-done:
		if err != nil {
			e.t.Fatalf("enqueue: %v", err)
		}
	case <-time.After(2 * time.Minute):
		e.t.Fatal("enqueue did not finish")
	}
	e.books.accepted = e.ledger.list()
}

// counts returns, from the records, how many jobs each worker finished
// and which jobs it has started but not finished.
func (e *faultEnv) progress() (done int, inflight map[string][]string) {
	inflight = map[string][]string{}
	open := map[string]map[string]bool{}
	for _, r := range readRecords(e.t, e.recDir) {
		if open[r.worker] == nil {
			open[r.worker] = map[string]bool{}
		}
		switch r.event {
		case "start":
			open[r.worker][r.id] = true
		case "done":
			delete(open[r.worker], r.id)
			done++
		}
	}
	for w, ids := range open {
		for id := range ids {
			inflight[w] = append(inflight[w], id)
		}
	}
	return done, inflight
}

// firstDoneAfter returns when each of ids first finished after t (zero if not yet).
func firstDoneAfter(recs []record, ids []string, t time.Time) map[string]time.Time {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	out := map[string]time.Time{}
	for _, r := range recs {
		if r.event == "done" && want[r.id] && r.at.After(t) {
			if _, ok := out[r.id]; !ok {
				out[r.id] = r.at
			}
		}
	}
	return out
}

// startedNotDone returns the jobs worker had started before t and not
// finished before t.
func startedNotDone(recs []record, worker string, t time.Time) []string {
	open := map[string]bool{}
	for _, r := range recs {
		if r.worker != worker || !r.at.Before(t) {
			continue
		}
		switch r.event {
		case "start":
			open[r.id] = true
		case "done":
			delete(open, r.id)
		}
	}
	return slices.Sorted(maps.Keys(open))
}

// firstDone returns the time of the first completion after t.
func firstDone(recs []record, t time.Time) time.Time {
	for _, r := range recs {
		if r.event == "done" && r.at.After(t) {
			return r.at
		}
	}
	return time.Time{}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

// enqueueBooked enqueues reqs at once and books each job the server
// accepted. The jobs refused with refusal (errors.Is) are returned, with
// the last such error; any other error fails the test.
func (e *faultEnv) enqueueBooked(ctx context.Context, reqs []job.Request, refusal error) (refused []string, refusedErr error) {
	e.t.Helper()
	res, err := e.client.EnqueueMany(ctx, reqs)
	must(e.t, err)
	for _, r := range res {
		switch {
		case r.Err == nil:
			e.ledger.add(r.ID)
		case refusal != nil && errors.Is(r.Err, refusal):
			refused, refusedErr = append(refused, r.ID), r.Err
		default:
			e.t.Fatalf("enqueue %s: %v", r.ID, r.Err)
		}
	}
	return refused, refusedErr
}

// enqueueAll enqueues reqs at once and books them; every one must be
// accepted.
func (e *faultEnv) enqueueAll(ctx context.Context, reqs []job.Request) {
	e.t.Helper()
	e.enqueueBooked(ctx, reqs, nil)
}
