package metrics

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetjobs/jetjobs/job"
)

// queueStats reads the per-queue gauges from the server with a
// job.Inspector (the figures `jetjobs queues` shows) and caches them. Reads
// happen inside Collect, under mu, so concurrent scrapes share one read and
// no goroutine runs between scrapes.
type queueStats struct {
	inspector *job.Inspector
	queues    []string
	maxQueues int
	ttl       time.Duration
	timeout   time.Duration

	pending, running, redelivered, waiting, deadLetters, oldest, paused *prometheus.Desc
	errors                                                              prometheus.Counter

	mu     sync.Mutex
	readAt time.Time
	values []job.QueueStats
}

func newQueueStats(js jetstream.JetStream, cfg Config) (*queueStats, error) {
	inspector, err := job.NewInspector(js, cfg.Topology)
	if err != nil {
		return nil, err
	}
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help+" Read from the server.", []string{"queue"}, nil)
	}
	return &queueStats{
		inspector: inspector,
		queues:    slices.Clone(cfg.Queues),
		maxQueues: cfg.MaxQueues,
		ttl:       cfg.QueueStatsTTL,
		timeout:   cfg.QueueStatsTimeout,
		pending: desc("jetjobs_queue_pending_jobs",
			"Jobs of the queue no worker has received yet."),
		running: desc("jetjobs_queue_running_jobs",
			"Jobs of the queue delivered to a worker and not yet settled: running, or waiting out a retry delay (the consumer's ack pending)."),
		redelivered: desc("jetjobs_queue_redelivered_jobs",
			"Unsettled jobs of the queue delivered more than once: retries, and jobs whose worker died."),
		waiting: desc("jetjobs_queue_waiting_pulls",
			"Pull requests idle workers have open on the queue; 0 with pending jobs means no worker is free or bound."),
		deadLetters: desc("jetjobs_queue_dead_letters",
			"Dead letters of the queue in the dead-letter stream."),
		oldest: desc("jetjobs_queue_oldest_pending_age_seconds",
			"How long the oldest job no worker has received yet has waited; 0 when none waits."),
		paused: desc("jetjobs_queue_paused",
			"1 if an operator paused the queue's consumer, else 0."),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jetjobs_queue_stats_errors_total",
			Help: "Failed reads of the queue gauges from the server; the gauges are left out of scrapes until a read succeeds.",
		}),
	}, nil
}

func (s *queueStats) describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{s.pending, s.running, s.redelivered, s.waiting, s.deadLetters, s.oldest, s.paused} {
		ch <- d
	}
	s.errors.Describe(ch)
}

func (s *queueStats) collect(ch chan<- prometheus.Metric) {
	for _, q := range s.current() {
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, q.Queue)
		}
		gauge(s.pending, float64(q.Pending))
		gauge(s.running, float64(q.Running))
		gauge(s.redelivered, float64(q.Redelivered))
		gauge(s.waiting, float64(q.Waiting))
		gauge(s.deadLetters, float64(q.DeadLetters))
		gauge(s.oldest, q.OldestPendingAge.Seconds())
		paused := 0.0
		if q.Paused {
			paused = 1
		}
		gauge(s.paused, paused)
	}
	s.errors.Collect(ch)
}

// current returns the cached figures, reading them first if they are older
// than the TTL. A failed read is cached too, as no figures, so that a server
// in trouble is not asked again on every scrape.
func (s *queueStats) current() []job.QueueStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.readAt.IsZero() && time.Since(s.readAt) < s.ttl {
		return s.values
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	values, err := s.read(ctx)
	if err != nil {
		s.errors.Inc()
	}
	s.values, s.readAt = values, time.Now()
	return values
}

// read returns the figures of the configured queues (zero for one that has
// no consumer, jobs or dead letters) or, with none configured, of every
// queue the inspector finds.
func (s *queueStats) read(ctx context.Context) ([]job.QueueStats, error) {
	all, err := s.inspector.Queues(ctx)
	if err != nil {
		return nil, err
	}
	if len(s.queues) == 0 {
		if len(all) > s.maxQueues {
			// Bound queues first, then by name (the inspector's order).
			slices.SortStableFunc(all, func(a, b job.QueueStats) int {
				switch {
				case a.Bound == b.Bound:
					return 0
				case a.Bound:
					return -1
				}
				return 1
			})
			all = all[:s.maxQueues]
		}
		return all, nil
	}
	out := make([]job.QueueStats, 0, len(s.queues))
	for _, name := range s.queues {
		q := job.QueueStats{Queue: name}
		if i := slices.IndexFunc(all, func(q job.QueueStats) bool { return q.Queue == name }); i >= 0 {
			q = all[i]
		}
		out = append(out, q)
	}
	return out, nil
}
