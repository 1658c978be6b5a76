package integration

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
)

// record is one line a test worker wrote: it started or finished a job.
type record struct {
	event   string // "start" or "done"
	id      string
	attempt int
	worker  string
	at      time.Time
}

// readRecords reads every *.rec file in dir.
func readRecords(tb testing.TB, dir string) []record {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.rec"))
	if err != nil {
		tb.Fatal(err)
	}
	var out []record
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		for line := range strings.Lines(string(b)) {
			fs := strings.Fields(line)
			if len(fs) != 5 || !strings.HasSuffix(line, "\n") {
				tb.Fatalf("%s: torn record %q", f, line)
			}
			attempt, _ := strconv.Atoi(fs[2])
			ns, _ := strconv.ParseInt(fs[4], 10, 64)
			out = append(out, record{event: fs[0], id: fs[1], attempt: attempt, worker: fs[3], at: time.Unix(0, ns)})
		}
	}
	slices.SortFunc(out, func(a, b record) int { return a.at.Compare(b.at) })
	return out
}

// doneCounts counts the successful runs of each job.
func doneCounts(recs []record) map[string]int {
	n := map[string]int{}
	for _, r := range recs {
		if r.event == "done" {
			n[r.id]++
		}
	}
	return n
}

// connect returns a connection that reconnects forever to servers
// (comma-separated) and a JetStream context whose asynchronous publishes
// time out, so an enqueue during an outage fails instead of hanging.
func connect(tb testing.TB, servers string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	opts = append([]nats.Option{
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100 * time.Millisecond),
		nats.ReconnectJitter(0, 0),
		nats.RetryOnFailedConnect(true),
	}, opts...)
	nc, err := nats.Connect(servers, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(3*time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	return nc, js
}

// books is the ledger of one scenario: the jobs the server accepted, and
// where each ended.
type books struct {
	scenario string
	client   *job.Client
	recDir   string
	accepted []string
}

// summary is the outcome of checking the books.
type summary struct {
	Jobs         int
	Completed    int // distinct jobs that ran to success
	DeadLettered int
	Lost         int
	Duplicates   int // successful runs beyond the first, over all jobs
	Redelivered  int // jobs that completed on a delivery after the first
	MaxDelivery  int // the highest delivery a job completed on
	DeadByReason map[job.Reason]int
	lost         []string
	deadOf       map[string]job.DeadLetter
	readErr      error // the dead letters could not be read
}

func (b *books) tally(ctx context.Context, tb testing.TB) summary {
	tb.Helper()
	recs := readRecords(tb, b.recDir)
	done := doneCounts(recs)
	firstDone := map[string]int{}
	for _, r := range recs {
		if _, seen := firstDone[r.id]; r.event == "done" && !seen {
			firstDone[r.id] = r.attempt
		}
	}
	dls, err := b.client.DeadLetters(ctx, job.DeadLetterFilter{})
	if err != nil {
		return summary{Lost: -1, readErr: err}
	}
	s := summary{Jobs: len(b.accepted), DeadByReason: map[job.Reason]int{}, deadOf: map[string]job.DeadLetter{}}
	for _, dl := range dls {
		s.deadOf[dl.ID] = dl
	}
	for _, id := range b.accepted {
		n := done[id]
		_, dead := s.deadOf[id]
		switch {
		case n > 0:
			s.Completed++
			s.Duplicates += n - 1
			if a := firstDone[id]; a > 1 {
				s.Redelivered++
				s.MaxDelivery = max(s.MaxDelivery, a)
			}
		case dead:
			s.DeadLettered++
			s.DeadByReason[s.deadOf[id].Reason]++
		default:
			s.Lost++
			s.lost = append(s.lost, id)
		}
	}
	return s
}

// settle waits until every accepted job completed or was dead-lettered and
// the work stream is empty (so nothing can still run again), then checks
// that none was lost and returns the figures.
func (b *books) settle(tb testing.TB, timeout time.Duration) summary {
	tb.Helper()
	var s summary
	settled := poll(timeout, 100*time.Millisecond, func() bool {
		// Each look has a deadline of its own: a request to a stream
		// between leaders can go unanswered, and must not hold the whole
		// wait.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s = b.tally(ctx, tb)
		return s.Lost == 0 && b.streamEmpty(ctx)
	})
	if !settled {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		msgs := "unknown"
		if st, err := b.client.JetStream().Stream(ctx, b.client.Topology().Stream); err == nil {
			msgs = fmt.Sprint(st.CachedInfo().State.Msgs)
		}
		if s.readErr != nil {
			tb.Errorf("%s: books could not be read after %s: %v", b.scenario, timeout, s.readErr)
			return s
		}
		tb.Errorf("%s: books do not balance after %s: %d of %d jobs lost (e.g. %v); %s jobs left in the work stream",
			b.scenario, timeout, s.Lost, s.Jobs, s.lost[:min(len(s.lost), 10)], msgs)
	}
	return s
}

func (b *books) streamEmpty(ctx context.Context) bool {
	st, err := b.client.JetStream().Stream(ctx, b.client.Topology().Stream)
	return err == nil && st.CachedInfo().State.Msgs == 0
}

// report logs the scenario's figures in one line (docs/reliability.md is
// written from these).
func report(tb testing.TB, scenario string, s summary, faults string, recovery string) {
	tb.Helper()
	reasons := ""
	for _, r := range slices.Sorted(maps.Keys(s.DeadByReason)) {
		reasons += fmt.Sprintf(" %s=%d", r, s.DeadByReason[r])
	}
	tb.Logf("RESULT %s: jobs=%d completed=%d dead_lettered=%d%s lost=%d duplicates=%d redelivered=%d (up to delivery %d) | faults: %s | recovery: %s",
		scenario, s.Jobs, s.Completed, s.DeadLettered, reasons, s.Lost, s.Duplicates, s.Redelivered, max(s.MaxDelivery, 1), faults, recovery)
	if s.Lost != 0 {
		tb.Errorf("%s: %d jobs lost", scenario, s.Lost)
	}
}

// workRequests returns n "work" jobs of ms milliseconds each, with IDs
// prefix-0 … prefix-(n-1): a retried enqueue of the same job is stored once
// (within the duplicate window).
func workRequests(prefix string, n, ms int, opts ...job.Option) []job.Request {
	reqs := make([]job.Request, n)
	for i := range reqs {
		reqs[i] = job.Request{Kind: "work", Args: map[string]int{"ms": ms}, Options: append([]job.Option{job.ID(fmt.Sprintf("%s-%d", prefix, i))}, opts...)}
	}
	return reqs
}

// enqueueReliably enqueues reqs in batches of batch, one batch per tick of
// every (zero: no pacing), retrying each job until the server acknowledged
// it; accepted receives the ID of each acknowledged job. It returns how
// many publishes had to be retried.
func enqueueReliably(ctx context.Context, c *job.Client, reqs []job.Request, batch int, every time.Duration, accepted func(id string)) (retries int, err error) {
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	for len(reqs) > 0 {
		n := min(batch, len(reqs))
		pending := reqs[:n]
		reqs = reqs[n:]
		for len(pending) > 0 {
			bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			res, _ := c.EnqueueMany(bctx, pending)
			cancel()
			var again []job.Request
			for i, r := range res {
				if r.Err != nil {
					again = append(again, pending[i])
					continue
				}
				accepted(r.ID)
			}
			if len(again) > 0 {
				retries += len(again)
				if err := wait(ctx, 100*time.Millisecond); err != nil {
					return retries, err
				}
			}
			pending = again
		}
		if tick != nil && len(reqs) > 0 {
			select {
			case <-tick:
			case <-ctx.Done():
				return retries, ctx.Err()
			}
		}
	}
	return retries, nil
}

// wait waits d or until ctx ends (a retry's backoff, not synchronisation).
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ledger is the concurrency-safe list of job IDs the server accepted.
type ledger struct {
	mu   sync.Mutex
	ids  []string
	seen map[string]bool
}

func (l *ledger) add(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	if !l.seen[id] {
		l.seen[id] = true
		l.ids = append(l.ids, id)
	}
}

func (l *ledger) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ids)
}

func (l *ledger) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ids)
}

// noneDead fails the test if any job of a scenario whose jobs all succeed
// was dead-lettered: the books balance then, but a healthy job needs an
// operator's replay.
func noneDead(tb testing.TB, s summary) {
	tb.Helper()
	for id, dl := range s.deadOf {
		tb.Errorf("healthy job %s dead-lettered: reason %s after %d attempts: %s", id, dl.Reason, dl.Attempts, dl.Error)
	}
}
