package integration

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
)

// cluster is three nats-server processes forming one JetStream cluster on
// loopback.
type cluster struct {
	nodes []*natsServer
}

func startCluster(tb testing.TB) *cluster {
	tb.Helper()
	ports := freePorts(tb, 9)
	routes := []int{ports[2], ports[5], ports[8]}
	c := &cluster{}
	for i := range 3 {
		c.nodes = append(c.nodes, newNATSServer(tb, natsServerConfig{
			name: fmt.Sprintf("n%d", i+1), port: ports[3*i], httpPort: ports[3*i+1], clusterPort: ports[3*i+2], routes: routes,
		}))
	}
	for _, n := range c.nodes {
		n.start()
	}
	return c
}

func (c *cluster) urls() string {
	var us []string
	for _, n := range c.nodes {
		us = append(us, n.url())
	}
	return strings.Join(us, ",")
}

func (c *cluster) node(name string) *natsServer {
	for _, n := range c.nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

// streamCluster returns the stream's leader and whether every replica is
// online and current.
func streamCluster(ctx context.Context, js jetstream.JetStream, stream string) (leader string, allCurrent bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return "", false
	}
	ci := s.CachedInfo().Cluster
	if ci == nil {
		return "", false
	}
	allCurrent = len(ci.Replicas) == 2
	for _, r := range ci.Replicas {
		if !r.Current || r.Offline {
			allCurrent = false
		}
	}
	return ci.Leader, allCurrent
}

// A three-node cluster with streams at Replicas 3 loses the work stream's
// leader to SIGKILL while jobs are enqueued and worked; the node comes
// back, and later a second node (the new leader) is restarted. Work resumes
// each time without operator action and the books balance.
func TestFaultClusterLeaderKilled(t *testing.T) {
	cl := startCluster(t)
	e := newFaultEnv(t, "cluster", cl.urls(), job.Topology{Replicas: 3})
	js := e.client.JetStream()
	ctx := t.Context()
	waitFor(t, 30*time.Second, 50*time.Millisecond, func() bool {
		_, ok := streamCluster(ctx, js, "JOBS")
		return ok
	}, "JOBS replicated on 3 nodes")

	opts := []string{"-skip-topology", "-replicas", "3", "-ack-wait", "2s", "-concurrency", "8"}
	e.worker("w0", opts...)
	e.worker("w1", opts...)
	const jobs = 600
	enqueued := e.enqueueInBackground(workRequests("cl", jobs, 20), 15, 150*time.Millisecond)

	var lines []string
	// Fault 1: SIGKILL the stream leader.
	// Both faults strike while jobs are still being enqueued.
	waitFor(t, 30*time.Second, 10*time.Millisecond, func() bool { n, _ := e.progress(); return n >= 100 && e.ledger.len() >= 150 }, "progress before the leader is killed")
	leader, _ := streamCluster(ctx, js, "JOBS")
	victim := cl.node(leader)
	if victim == nil {
		t.Fatalf("stream leader %q is not a node of the cluster", leader)
	}
	killed := time.Now()
	victim.kill()
	var newLeader string
	waitFor(t, 60*time.Second, 20*time.Millisecond, func() bool {
		newLeader, _ = streamCluster(ctx, js, "JOBS")
		return newLeader != "" && newLeader != leader
	}, "a new stream leader")
	elected := time.Since(killed)
	waitFor(t, 60*time.Second, 10*time.Millisecond, func() bool {
		return !firstDone(readRecords(t, e.recDir), killed.Add(elected)).IsZero()
	}, "work resumed after the leader was killed")
	resumed := firstDone(readRecords(t, e.recDir), killed.Add(elected)).Sub(killed)
	lines = append(lines, fmt.Sprintf("leader %s SIGKILLed: new leader %s elected in %s, first job done %s after the kill", leader, newLeader, ms(elected), ms(resumed)))

	// The killed node comes back and catches up.
	victim.start()
	back := time.Now()
	waitFor(t, 60*time.Second, 50*time.Millisecond, func() bool {
		_, ok := streamCluster(ctx, js, "JOBS")
		return ok
	}, "the restarted node caught up")
	lines = append(lines, fmt.Sprintf("%s restarted and current again after %s", leader, ms(time.Since(back))))

	// Fault 2: restart a second node, the current leader (SIGTERM, as in a
	// rolling restart), while work goes on.
	waitFor(t, 30*time.Second, 10*time.Millisecond, func() bool { n, _ := e.progress(); return n >= 300 && e.ledger.len() >= 450 }, "progress before the second restart")
	if e.ledger.len() == jobs {
		t.Log("the enqueue finished before the second restart")
	}
	second, _ := streamCluster(ctx, js, "JOBS")
	node2 := cl.node(second)
	if node2 == nil || second == leader {
		t.Fatalf("second node %q", second)
	}
	stopped := time.Now()
	node2.proc.signal(syscall.SIGTERM)
	if _, ok := node2.proc.wait(30 * time.Second); !ok {
		t.Fatalf("node %s did not stop on SIGTERM", second)
	}
	node2.start()
	waitFor(t, 60*time.Second, 50*time.Millisecond, func() bool {
		_, ok := streamCluster(ctx, js, "JOBS")
		return ok
	}, "all replicas current after the second restart")
	waitFor(t, 60*time.Second, 10*time.Millisecond, func() bool {
		return !firstDone(readRecords(t, e.recDir), stopped).IsZero()
	}, "work resumed after the second restart")
	final, _ := streamCluster(ctx, js, "JOBS")
	lines = append(lines, fmt.Sprintf("%s (leader) restarted with SIGTERM: first job done %s after the stop; cluster current again after %s, leader now %s",
		second, ms(firstDone(readRecords(t, e.recDir), stopped).Sub(stopped)), ms(time.Since(stopped)), final))

	e.awaitEnqueued(enqueued)
	s := e.books.settle(t, 120*time.Second)
	if st, err := js.Stream(ctx, "JOBS"); err != nil || st.CachedInfo().Config.Replicas != 3 {
		t.Errorf("work stream replicas after the faults: %v", err)
	}
	noneDead(t, s)
	report(t, "cluster-r3", s,
		"3-node cluster, streams R3, 2 workers; stream leader SIGKILLed, restarted; then the new leader restarted (SIGTERM)",
		strings.Join(lines, "; "))
}
