package integration

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
)

// partitionAckWait is the workers' AckWait in the partition scenarios.
const partitionAckWait = 2 * time.Second

// partitionCut is how long a minority node is cut off, and leaderCut the
// stream leader: long enough for the majority to elect a new one (6–8 s
// with the server's default election timeouts) and work on before the
// heal. Both are longer than AckWait, and longer still with longFaults.
func partitionCut() time.Duration {
	if longFaults() {
		return 30 * time.Second
	}
	return 3 * partitionAckWait
}

// partitionJobs is how many jobs a partition scenario enqueues, paced so
// that the enqueue lasts through the cut.
func partitionJobs() int {
	if longFaults() {
		return 5000
	}
	return 800
}

func leaderCut() time.Duration {
	if longFaults() {
		return 60 * time.Second
	}
	return 15 * time.Second
}

// fastPings makes a client notice a silent link within 2 to 3 seconds (two
// PINGs unanswered at the third interval) instead of nats.go's 4 to 6
// minutes: a cut drops packets and resets nothing.
var fastPings = []nats.Option{nats.PingInterval(time.Second), nats.MaxPingsOutstanding(2)}

// enqueueAttempt is one publish of the observed enqueuer: when it was sent,
// and what it got.
type enqueueAttempt struct {
	at  time.Time
	err error
}

// observedEnqueue enqueues reqs in batches (batch jobs every interval),
// retrying each job until it is accepted, like enqueueReliably, and keeps
// every attempt's outcome.
type observedEnqueue struct {
	mu       sync.Mutex
	attempts []enqueueAttempt
	done     chan error
}

func (e *faultEnv) enqueueObserved(reqs []job.Request, batch int, every time.Duration) *observedEnqueue {
	o := &observedEnqueue{done: make(chan error, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	e.t.Cleanup(cancel)
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for len(reqs) > 0 {
			pending := reqs[:min(batch, len(reqs))]
			reqs = reqs[len(pending):]
			for len(pending) > 0 {
				bctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				sent := time.Now()
				res, _ := e.client.EnqueueMany(bctx, pending)
				cancel()
				var again []job.Request
				o.mu.Lock()
				for i, r := range res {
					o.attempts = append(o.attempts, enqueueAttempt{at: sent, err: r.Err})
					if r.Err != nil {
						again = append(again, pending[i])
						continue
					}
					e.ledger.add(r.ID)
				}
				o.mu.Unlock()
				pending = again
				if len(again) > 0 {
					if err := wait(ctx, 100*time.Millisecond); err != nil {
						o.done <- err
						return
					}
				}
			}
			select {
			case <-t.C:
			case <-ctx.Done():
				o.done <- ctx.Err()
				return
			}
		}
		o.done <- nil
	}()
	return o
}

// during sums up the attempts sent in [from, to): how many were accepted,
// and the failures by kind of error.
func (o *observedEnqueue) during(from, to time.Time) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	ok := 0
	failed := map[string]int{}
	for _, a := range o.attempts {
		if a.at.Before(from) || !a.at.Before(to) {
			continue
		}
		if a.err == nil {
			ok++
			continue
		}
		failed[errorKind(a.err)]++
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(failed)) {
		parts = append(parts, fmt.Sprintf("%d %s", failed[k], k))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%d accepted, none failed", ok)
	}
	return fmt.Sprintf("%d accepted, failed: %s", ok, strings.Join(parts, ", "))
}

// errorKind names the kind of a failed enqueue for the report.
func errorKind(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout), errors.Is(err, jetstream.ErrAsyncPublishTimeout):
		return "timed out"
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse):
		return "no responders"
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrDisconnected):
		return "disconnected"
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return fmt.Sprintf("JetStream error %d", apiErr.ErrorCode)
	}
	return err.Error()
}

func (o *observedEnqueue) wait(e *faultEnv) {
	e.t.Helper()
	select {
	case err := <-o.done:
		if err != nil {
			e.t.Fatalf("enqueue: %v", err)
		}
	case <-time.After(2 * time.Minute):
		e.t.Fatal("enqueue did not finish")
	}
	e.books.accepted = e.ledger.list()
}

// partitionWorld is a three-node cluster in network namespaces with the
// work stream at Replicas 3, and the test's env on it.
type partitionWorld struct {
	lab *netlab
	cl  *cluster
	e   *faultEnv
	js  jetstream.JetStream
}

func newPartitionWorld(t *testing.T, scenario string) *partitionWorld {
	lab := newNetlab(t)
	cl := netCluster(t, lab)
	e := newFaultEnv(t, scenario, cl.urls(), job.Topology{Replicas: 3}, fastPings...)
	w := &partitionWorld{lab: lab, cl: cl, e: e, js: e.client.JetStream()}
	waitFor(t, 30*time.Second, 50*time.Millisecond, func() bool {
		_, ok := streamCluster(t.Context(), w.js, "JOBS")
		return ok
	}, "JOBS replicated on 3 nodes")
	return w
}

// workerOptions are the options of every worker in the partition scenarios.
func partitionWorkerOpts(extra ...string) []string {
	return append([]string{"-skip-topology", "-replicas", "3", "-ack-wait", partitionAckWait.String(), "-concurrency", "8", "-ping-interval", "1s"}, extra...)
}

// The work stream's leader is cut off from the other two nodes (and from
// every client: its link is down) for leaderCut while jobs are enqueued
// and worked, then healed. One worker is connected to the leader, the
// other to a follower; both keep nats.go's default PING interval (2m), as
// most applications do, so nats.go alone would keep the one on the cut
// node on its silent connection for 4 to 6 minutes. The pool notices that
// its pulls and then a PING go unanswered and reconnects, to the majority.
// The majority elects a new leader and both workers do the jobs (those the
// cut-off worker held, after AckWait); the old leader, back, rejoins as a
// follower. The books balance: every enqueue that got an
// acknowledgement is kept.
func TestFaultPartitionLeader(t *testing.T) {
	w := newPartitionWorld(t, "partition: leader cut off")
	e, ctx := w.e, t.Context()
	leader, _ := streamCluster(ctx, w.js, "JOBS")
	victim := w.cl.node(leader)
	if victim == nil {
		t.Fatalf("stream leader %q is not a node of the cluster", leader)
	}
	// Each worker lists its own node first and keeps to the list.
	urls := func(first *natsServer) string {
		us := []string{first.url()}
		for _, n := range w.cl.nodes {
			if n != first {
				us = append(us, n.url())
			}
		}
		return strings.Join(us, ",")
	}
	var follower *natsServer
	for _, n := range w.cl.nodes {
		if n != victim {
			follower = n
			break
		}
	}
	opts := []string{"-skip-topology", "-replicas", "3", "-ack-wait", partitionAckWait.String(), "-concurrency", "8", "-no-discovery"}
	onLeader := startWorkerIn(t, w.lab.host("w1", 21), e.recDir, "w1", urls(victim), opts...)
	startWorkerIn(t, w.lab.host("w2", 22), e.recDir, "w2", urls(follower), opts...)
	jobs := partitionJobs()
	enq := e.enqueueObserved(workRequests("pl", jobs, 20), 10, 150*time.Millisecond)

	waitFor(t, 30*time.Second, 10*time.Millisecond, func() bool {
		n, open := e.progress()
		return n >= 100 && e.ledger.len() >= 150 && len(open[onLeader.name]) > 0
	}, "progress before the cut")
	if now, _ := streamCluster(ctx, w.js, "JOBS"); now != leader {
		t.Fatalf("the stream leader moved from %s to %s before the cut", leader, now)
	}
	host := w.lab.hosts[leader]
	w.lab.cut(host)
	cutAt := time.Now()
	var newLeader string
	waitFor(t, 60*time.Second, 20*time.Millisecond, func() bool {
		newLeader, _ = streamCluster(ctx, w.js, "JOBS")
		return newLeader != "" && newLeader != leader
	}, "a new stream leader on the majority")
	elected := time.Since(cutAt)
	var resumed time.Duration
	waitFor(t, 60*time.Second, 10*time.Millisecond, func() bool {
		at := firstDone(readRecords(t, e.recDir), cutAt.Add(elected))
		resumed = at.Sub(cutAt)
		return !at.IsZero()
	}, "jobs done again after the leader was cut off")
	if resumed >= leaderCut() {
		t.Errorf("no job done on the majority during the cut (%s); first %s after it", ms(leaderCut()), ms(resumed))
	}
	// The worker on the cut node notices that its connection is silent
	// and moves to the majority (nats.go alone would wait 4 to 6 minutes
	// for its PINGs to go unanswered).
	var failedOver time.Duration
	waitFor(t, leaderCut(), 10*time.Millisecond, func() bool {
		for _, r := range readRecords(t, e.recDir) {
			if r.event == "start" && r.worker == onLeader.name && r.at.After(cutAt) {
				failedOver = r.at.Sub(cutAt)
				return true
			}
		}
		return false
	}, "the worker of the cut-off node working on the majority during the cut")
	// The cut lasts leaderCut (the fault's length, not a synchronisation).
	must(t, wait(ctx, time.Until(cutAt.Add(leaderCut()))))
	w.lab.heal(host)
	healAt := time.Now()
	back := workerBack(t, e, onLeader, healAt, "heal")
	waitFor(t, 60*time.Second, 50*time.Millisecond, func() bool {
		_, ok := streamCluster(ctx, w.js, "JOBS")
		return ok
	}, "the cut-off node current again")
	current := time.Since(healAt)
	if !victim.running() || onLeader.exited() {
		t.Errorf("the cut-off server or its worker exited")
	}

	enq.wait(e)
	s := e.books.settle(t, 90*time.Second)
	noneDead(t, s)
	report(t, "partition-leader", s,
		fmt.Sprintf("stream leader %s cut off (link down) for %s with one of 2 workers connected to it, AckWait %s; enqueues during the cut: %s",
			leader, ms(healAt.Sub(cutAt)), partitionAckWait, enq.during(cutAt, healAt)),
		fmt.Sprintf("new leader %s elected %s after the cut, first job done %s after it; the cut-off node's worker started a job on the majority %s after the cut; after the heal it took a job in %s, the node was current in %s",
			newLeader, ms(elected), ms(resumed), ms(failedOver), ms(back), ms(current)))
}

// A node that is not the stream leader is cut off from the other two along
// with a worker that runs beside it (in its namespace, connected to it
// alone) for three times AckWait, once with the queue's consumer led from
// the majority and once from the cut node. The minority node has no
// quorum: the worker's fetches and acknowledgements go unanswered, and the
// jobs it was running are delivered to the majority's worker after AckWait
// (the duplicates of a cut longer than AckWait) — or, when the cut node led
// the consumer, once the majority has elected a new consumer leader, while
// its worker waits. After the heal the cut-off worker works again without
// a restart. Enqueues go on through the majority; the books balance.
func TestFaultPartitionMinorityWorker(t *testing.T) {
	for _, consumerOnCut := range []bool{false, true} {
		name := "consumer-led-by-majority"
		if consumerOnCut {
			name = "consumer-led-by-cut-node"
		}
		t.Run(name, func(t *testing.T) { partitionMinority(t, name, consumerOnCut) })
	}
}

func partitionMinority(t *testing.T, name string, consumerOnCut bool) {
	w := newPartitionWorld(t, "partition: minority node with a worker")
	e, ctx := w.e, t.Context()
	leader, _ := streamCluster(ctx, w.js, "JOBS")
	var minority *natsServer
	for _, n := range w.cl.nodes {
		if n.name != leader {
			minority = n
			break
		}
	}
	mhost := w.lab.hosts[minority.name]
	var majority []string
	for _, n := range w.cl.nodes {
		if n != minority {
			majority = append(majority, n.url())
		}
	}
	cutWorker := startWorkerIn(t, mhost, e.recDir, "wm", minority.url(), partitionWorkerOpts("-no-discovery")...)
	startWorkerIn(t, w.lab.host("w1", 21), e.recDir, "w1", strings.Join(majority, ","), partitionWorkerOpts()...)
	// Place the consumer's leadership: on the node to be cut, or on the
	// stream leader.
	to := leader
	if consumerOnCut {
		to = minority.name
	}
	moveConsumerLeader(t, e, "JOBS", job.DefaultQueue, to)
	jobs := partitionJobs()
	enq := e.enqueueObserved(workRequests("pm", jobs, 100), 10, 150*time.Millisecond)

	var (
		cutAt          time.Time
		inflight       []string
		consumerLeader string
	)
	for try := 1; len(inflight) == 0; try++ {
		if try > 5 {
			t.Fatal("the minority's worker had no job running at any of 5 cuts")
		}
		waitFor(t, 30*time.Second, 10*time.Millisecond, func() bool {
			n, open := e.progress()
			return n > 60*try && len(open[cutWorker.name]) >= 3
		}, "minority worker mid-batch")
		consumerLeader = consumerLeaderOf(ctx, w.js, "JOBS", job.DefaultQueue)
		w.lab.cut(mhost)
		cutAt = time.Now()
		if inflight = startedNotDone(readRecords(t, e.recDir), cutWorker.name, cutAt); len(inflight) == 0 {
			w.lab.heal(mhost)
		}
	}
	// The jobs the cut-off worker was running are done by the majority's
	// worker once AckWait has passed.
	var (
		takenOver  time.Duration
		onDelivery []int
	)
	waitFor(t, 30*time.Second, 10*time.Millisecond, func() bool {
		takenOver, onDelivery = 0, nil
		recs := readRecords(t, e.recDir)
		for _, id := range inflight {
			r, ok := firstDoneBy(recs, id, "w1", cutAt)
			if !ok {
				return false
			}
			takenOver = max(takenOver, r.at.Sub(cutAt))
			onDelivery = append(onDelivery, r.attempt)
		}
		return true
	}, "the majority's worker did the cut-off worker's jobs")
	if takenOver < partitionAckWait {
		t.Errorf("the cut-off worker's jobs were delivered again %s after the cut, before AckWait (%s)", ms(takenOver), partitionAckWait)
	}
	must(t, wait(ctx, time.Until(cutAt.Add(partitionCut()))))
	doneInCut := countDoneBy(readRecords(t, e.recDir), cutWorker.name, cutAt.Add(time.Second), time.Now())
	w.lab.heal(mhost)
	healAt := time.Now()
	stall := longestPause(readRecords(t, e.recDir), "w1", cutAt, healAt)
	back := workerBack(t, e, cutWorker, healAt, "heal")
	if cutWorker.exited() {
		t.Error("the cut-off worker exited")
	}
	enq.wait(e)
	s := e.books.settle(t, 90*time.Second)
	noneDead(t, s)
	report(t, "partition-minority-"+name, s,
		fmt.Sprintf("follower %s (consumer leader: %s) and its worker cut off from the majority for %s, AckWait %s, %d jobs running on it; enqueues during the cut: %s",
			minority.name, consumerLeader, ms(healAt.Sub(cutAt)), partitionAckWait, len(inflight), enq.during(cutAt, healAt)),
		fmt.Sprintf("the majority's worker started no job for %s at most during the cut, and did the cut-off worker's jobs within %s of it (on deliveries %v); the cut-off worker started %d jobs during the cut; it started a job again %s after the heal",
			ms(stall), ms(takenOver), onDelivery, doneInCut, ms(back)))
}

// workerBack enqueues jobs of 200 ms, a batch of 16 (two workers' slots)
// every half second, until w starts a job after since, and returns how long
// after since that was. The jobs go into the books under prefix.
func workerBack(t *testing.T, e *faultEnv, w *workerProc, since time.Time, prefix string) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for i := 0; ; i++ {
		for _, r := range readRecords(t, e.recDir) {
			if r.event == "start" && r.worker == w.name && r.at.After(since) {
				return r.at.Sub(since)
			}
		}
		reqs := workRequests(fmt.Sprintf("%s-%d", prefix, i), 16, 200)
		bctx, bcancel := context.WithTimeout(ctx, 3*time.Second)
		res, _ := e.client.EnqueueMany(bctx, reqs)
		bcancel()
		for _, r := range res {
			if r.Err == nil {
				e.ledger.add(r.ID)
			}
		}
		if err := wait(ctx, 500*time.Millisecond); err != nil {
			t.Fatalf("worker %s took no job within 60s after %s", w.name, since.Format(time.TimeOnly))
		}
	}
}

// consumerLeaderOf names the server that leads the consumer ("" if unknown).
func consumerLeaderOf(ctx context.Context, js jetstream.JetStream, stream, consumer string) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, stream, consumer)
	if err != nil || c.CachedInfo().Cluster == nil {
		return ""
	}
	return c.CachedInfo().Cluster.Leader
}

// moveConsumerLeader asks the consumer's leader to step down in favour of
// server to, until to leads it.
func moveConsumerLeader(t *testing.T, e *faultEnv, stream, consumer, to string) {
	t.Helper()
	js := e.client.JetStream()
	subject := fmt.Sprintf("$JS.API.CONSUMER.LEADER.STEPDOWN.%s.%s", stream, consumer)
	body := fmt.Appendf(nil, `{"placement":{"preferred":%q}}`, to)
	waitFor(t, 30*time.Second, 200*time.Millisecond, func() bool {
		if consumerLeaderOf(t.Context(), js, stream, consumer) == to {
			return true
		}
		_, _ = e.nc.Request(subject, body, 2*time.Second)
		return poll(3*time.Second, 50*time.Millisecond, func() bool { return consumerLeaderOf(t.Context(), js, stream, consumer) == to })
	}, "consumer %s of %s led by %s", consumer, stream, to)
}

// longestPause returns the longest time in [from, to] in which worker
// started no job.
func longestPause(recs []record, worker string, from, to time.Time) time.Duration {
	var longest time.Duration
	last := from
	for _, r := range recs {
		if r.event != "start" || r.worker != worker || r.at.Before(from) || r.at.After(to) {
			continue
		}
		longest = max(longest, r.at.Sub(last))
		last = r.at
	}
	return max(longest, to.Sub(last))
}

// firstDoneBy returns the record of worker's first finish of id after t.
func firstDoneBy(recs []record, id, worker string, t time.Time) (record, bool) {
	for _, r := range recs {
		if r.event == "done" && r.id == id && r.worker == worker && r.at.After(t) {
			return r, true
		}
	}
	return record{}, false
}

// countDoneBy counts the jobs worker started in [from, to).
func countDoneBy(recs []record, worker string, from, to time.Time) int {
	n := 0
	for _, r := range recs {
		if r.event == "start" && r.worker == worker && !r.at.Before(from) && r.at.Before(to) {
			n++
		}
	}
	return n
}
