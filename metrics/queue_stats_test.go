package metrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/metrics"
	"github.com/jetjobs/jetjobs/worker"
)

// idleQueue creates the consumer of queue as a pool would, without a pool
// pulling from it, so jobs stay pending.
func (e *env) idleQueue(queue string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := e.js.CreateOrUpdateConsumer(ctx, "JOBS", worker.ConsumerConfig(job.Topology{}, queue, 30*time.Second, 100, 0))
	must(e.t, err)
}

// apiCounter counts the JetStream API requests the server receives, through
// a separate connection.
type apiCounter struct {
	ch     chan *nats.Msg
	marker string
	n      int
}

func countAPIRequests(t *testing.T, e *env) *apiCounter {
	nc, _ := e.srv.Connect(t)
	c := &apiCounter{ch: make(chan *nats.Msg, 1024), marker: "test.marker"}
	for _, subj := range []string{"$JS.API.>", c.marker} {
		sub, err := nc.ChanSubscribe(subj, c.ch)
		must(t, err)
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	must(t, nc.Flush())
	return c
}

// sync returns the requests counted since the last call. from must be the
// connection that made the requests: the marker published on it arrives
// after all of them.
func (c *apiCounter) sync(t *testing.T, from *nats.Conn) int {
	t.Helper()
	must(t, from.Publish(c.marker, nil))
	timeout := time.After(10 * time.Second)
	n := 0
	for {
		select {
		case m := <-c.ch:
			if m.Subject == c.marker {
				return n
			}
			n++
		case <-timeout:
			t.Fatal("marker did not arrive")
		}
	}
}

// TestQueueStatsAreCached checks that scrapes within QueueStatsTTL are served
// from the cache, without requests to the server, and that values are read
// again afterwards.
func TestQueueStatsAreCached(t *testing.T) {
	e := newEnv(t)
	e.idleQueue("idle")
	for range 2 {
		e.enqueue("work", nil, job.Queue("idle"))
	}
	// The collector's own connection, so its requests can be told apart.
	nc, js := e.srv.Connect(t)
	api := countAPIRequests(t, e)
	coll, err := metrics.New(js, metrics.Config{QueueStatsTTL: time.Hour, Queues: []string{"idle", "absent"}})
	must(t, err)
	reg := prometheus.NewRegistry()
	reg.MustRegister(coll)

	f := gather(t, reg)
	if v := f.value("jetjobs_queue_pending_jobs", "queue=idle"); v != 2 {
		t.Fatalf("pending = %v, want 2", v)
	}
	if v := f.value("jetjobs_queue_pending_jobs", "queue=absent"); v != 0 {
		t.Errorf("configured queue without a consumer or jobs: pending = %v, want 0", v)
	}
	if n := api.sync(t, nc); n == 0 {
		t.Fatal("first scrape made no JetStream requests")
	}
	for range 3 {
		e.enqueue("work", nil, job.Queue("idle"))
	}
	for range 5 {
		f = gather(t, reg)
	}
	if n := api.sync(t, nc); n != 0 {
		t.Errorf("scrapes within the TTL made %d JetStream requests; want 0", n)
	}
	if v := f.value("jetjobs_queue_pending_jobs", "queue=idle"); v != 2 {
		t.Errorf("cached pending = %v, want 2 (as first read)", v)
	}

	fresh, err := metrics.New(js, metrics.Config{QueueStatsTTL: time.Nanosecond, Queues: []string{"idle"}})
	must(t, err)
	reg = prometheus.NewRegistry()
	reg.MustRegister(fresh)
	if v := gather(t, reg).value("jetjobs_queue_pending_jobs", "queue=idle"); v != 5 {
		t.Errorf("fresh pending = %v, want 5", v)
	}
}

// TestQueueStatsDiscoverQueues checks that without Config.Queues every queue
// consumer of the work stream is reported, and nothing else.
func TestQueueStatsDiscoverQueues(t *testing.T) {
	e := newEnv(t)
	e.idleQueue("alpha")
	e.idleQueue("beta")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Not a queue consumer: its filter is not jobs.audit.>.
	_, err := e.js.CreateOrUpdateConsumer(ctx, "JOBS", jetstream.ConsumerConfig{Durable: "audit", FilterSubject: "jobs.zeta.>"})
	must(t, err)
	_, err = e.js.PauseConsumer(ctx, "JOBS", "alpha", time.Now().Add(time.Hour))
	must(t, err)
	e.enqueue("work", nil, job.Queue("alpha"))
	e.enqueue("work", nil, job.Queue("beta"))
	e.enqueue("work", nil, job.Queue("beta"))
	coll, err := metrics.New(e.js, metrics.Config{})
	must(t, err)
	reg := prometheus.NewRegistry()
	reg.MustRegister(coll)
	f := gather(t, reg)
	if age := f.value("jetjobs_queue_oldest_pending_age_seconds", "queue=beta"); age < 0 || age > 60 {
		t.Errorf("oldest pending age of beta = %v, want a few milliseconds", age)
	}
	f.expect(t, map[string]float64{
		`jetjobs_queue_pending_jobs{queue=alpha}`: 1,
		`jetjobs_queue_pending_jobs{queue=beta}`:  2,
		`jetjobs_queue_dead_letters{queue=alpha}`: 0,
		`jetjobs_queue_pending_jobs{queue=audit}`: -1,
		`jetjobs_queue_paused{queue=alpha}`:       1,
		`jetjobs_queue_paused{queue=beta}`:        0,
		`jetjobs_queue_stats_errors_total`:        0,
	})
}

// TestQueueStatsServerDown checks that a failed read leaves the gauges out
// and counts the error, and that the gauges come back with the server.
func TestQueueStatsServerDown(t *testing.T) {
	e := newEnv(t)
	e.idleQueue("idle")
	coll, err := metrics.New(e.js, metrics.Config{QueueStatsTTL: time.Nanosecond, QueueStatsTimeout: 200 * time.Millisecond})
	must(t, err)
	reg := prometheus.NewRegistry()
	reg.MustRegister(coll)
	if v := gather(t, reg).value("jetjobs_queue_pending_jobs", "queue=idle"); v != 0 {
		t.Fatalf("pending = %v, want 0", v)
	}
	e.srv.Shutdown()
	f := gather(t, reg)
	if v := f.value("jetjobs_queue_pending_jobs", "queue=idle"); v != -1 {
		t.Errorf("server down: pending = %v, want no series", v)
	}
	if v := f.value("jetjobs_queue_stats_errors_total"); v < 1 {
		t.Errorf("errors = %v, want >= 1", v)
	}
	e.srv.Restart(t)
	eventually(t, func() bool {
		return gather(t, reg).value("jetjobs_queue_pending_jobs", "queue=idle") == 0
	}, "gauges back after the server restarted")
}
