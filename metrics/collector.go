package metrics

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetjobs/jetjobs/job"
)

// Label values that are not a queue or kind name.
const (
	// OtherKind is the kind label of jobs whose queue and kind pair came
	// after Config.MaxKinds distinct pairs had been seen.
	OtherKind = "_other"
	// InvalidLabel is the queue and kind label of a job whose subject could
	// not be read (it is dead-lettered with reason "decode").
	InvalidLabel = "_invalid"
)

// DefaultBuckets are the default histogram buckets, in seconds, of job
// durations and enqueue-to-start latencies: 5ms to one hour.
var DefaultBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}

const (
	defaultMaxKinds          = 200
	defaultMaxQueues         = 100
	defaultQueueStatsTTL     = 10 * time.Second
	defaultQueueStatsTimeout = 5 * time.Second
)

// Config configures a Collector. Its zero value reports the job metrics and,
// given a JetStream connection, the gauges of every queue of the default
// namespace.
type Config struct {
	// Topology names the streams whose queues are reported; its zero value
	// is the default namespace.
	Topology job.Topology
	// Queues lists the queues whose server-side gauges are reported (a name
	// listed twice counts once). Empty means the queues job.Inspector.Queues
	// reports: each queue that has a consumer on the work stream, and each
	// that holds jobs or dead letters without one, at most MaxQueues of them.
	// Set it in production: queues a foreign publisher invents then cost
	// neither series nor reads.
	Queues []string
	// MaxQueues bounds the queues reported when Queues is empty; default
	// 100. Queues with a consumer come first, then the others, each by name.
	MaxQueues int
	// QueueStatsTTL is how long queue gauges read from the server are reused
	// before a scrape reads them again; default 10s. Every scrape within it,
	// from any number of scrapers, is served from the cache.
	QueueStatsTTL time.Duration
	// QueueStatsTimeout bounds one read of the queue gauges; default 5s.
	QueueStatsTimeout time.Duration
	// MaxKinds bounds the distinct queue and kind pairs that get label
	// values of their own; default 200. Jobs of further pairs (a foreign
	// publisher inventing kinds, say) are counted under the kind "_other".
	// Kinds that reach a handler (registered in the pool) always get their
	// own series: they are bounded by the registrations.
	MaxKinds int
	// DurationBuckets are the buckets of jetjobs_job_duration_seconds and
	// LatencyBuckets those of jetjobs_job_enqueue_to_start_seconds; nil
	// means DefaultBuckets.
	DurationBuckets []float64
	LatencyBuckets  []float64
}

func (c Config) withDefaults() Config {
	c.Topology = c.Topology.WithDefaults()
	if c.QueueStatsTTL == 0 {
		c.QueueStatsTTL = defaultQueueStatsTTL
	}
	if c.QueueStatsTimeout == 0 {
		c.QueueStatsTimeout = defaultQueueStatsTimeout
	}
	if c.MaxKinds == 0 {
		c.MaxKinds = defaultMaxKinds
	}
	if c.MaxQueues == 0 {
		c.MaxQueues = defaultMaxQueues
	}
	if len(c.Queues) > 0 {
		c.Queues = slices.Compact(slices.Sorted(slices.Values(c.Queues)))
	}
	if c.DurationBuckets == nil {
		c.DurationBuckets = DefaultBuckets
	}
	if c.LatencyBuckets == nil {
		c.LatencyBuckets = DefaultBuckets
	}
	return c
}

func (c Config) validate() error {
	if err := c.Topology.Validate(); err != nil {
		return err
	}
	for _, q := range c.Queues {
		if err := job.ValidateQueue(q); err != nil {
			return fmt.Errorf("metrics.Config.Queues: %w", err)
		}
	}
	switch {
	case c.QueueStatsTTL < 0:
		return fmt.Errorf("%w: metrics.Config.QueueStatsTTL %s must not be negative", job.ErrInvalidOption, c.QueueStatsTTL)
	case c.QueueStatsTimeout < 0:
		return fmt.Errorf("%w: metrics.Config.QueueStatsTimeout %s must not be negative", job.ErrInvalidOption, c.QueueStatsTimeout)
	case c.MaxKinds < 0:
		return fmt.Errorf("%w: metrics.Config.MaxKinds %d must not be negative", job.ErrInvalidOption, c.MaxKinds)
	case c.MaxQueues < 0:
		return fmt.Errorf("%w: metrics.Config.MaxQueues %d must not be negative", job.ErrInvalidOption, c.MaxQueues)
	}
	for _, b := range []struct {
		name    string
		buckets []float64
	}{{"DurationBuckets", c.DurationBuckets}, {"LatencyBuckets", c.LatencyBuckets}} {
		if len(b.buckets) == 0 || !slices.IsSorted(b.buckets) || len(slices.Compact(slices.Clone(b.buckets))) != len(b.buckets) {
			return fmt.Errorf("%w: metrics.Config.%s must be strictly increasing upper bounds in seconds", job.ErrInvalidOption, b.name)
		}
	}
	return nil
}

// Collector is a prometheus.Collector of jetjobs metrics; docs/observability.md
// lists them. Create it with New, install it on worker pools with Instrument
// (or its Middleware and Observe), and register it with a
// prometheus.Registerer. One Collector can serve every pool of a process;
// registering two in one registry fails, as their metrics have the same
// names. It is safe for concurrent use.
type Collector struct {
	cfg Config
	js  jetstream.JetStream

	jobs        *prometheus.CounterVec
	started     *prometheus.CounterVec
	failed      *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	running     *prometheus.GaugeVec
	duration    *prometheus.HistogramVec
	latency     *prometheus.HistogramVec

	mu     sync.RWMutex
	series map[seriesKey]*series

	stats *queueStats // nil without a JetStream connection
}

// New returns a Collector. With js it also reports the per-queue gauges read
// from the server (see Config.Queues); with a nil js it reports only what the
// pools it instruments observe. New does no I/O.
func New(js jetstream.JetStream, cfg Config) (*Collector, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Collector{
		cfg: cfg,
		js:  js,
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jetjobs_jobs_total",
			Help: "Deliveries of jobs settled by this process, by outcome: succeeded, retried, snoozed, dead_lettered or interrupted (by shutdown).",
		}, []string{"queue", "kind", "outcome"}),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jetjobs_jobs_started_total",
			Help: "Attempts whose handler this process started.",
		}, []string{"queue", "kind"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jetjobs_jobs_failed_total",
			Help: "Attempts whose handler returned an error (other than a snooze) or panicked; each is then retried or dead-lettered.",
		}, []string{"queue", "kind"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jetjobs_dead_letters_total",
			Help: "Jobs this process moved to the dead-letter stream, by reason.",
		}, []string{"queue", "kind", "reason"}),
		running: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "jetjobs_jobs_running",
			Help: "Handlers running in this process now.",
		}, []string{"queue", "kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "jetjobs_job_duration_seconds",
			Help:    "How long handlers ran, per attempt, whatever their outcome.",
			Buckets: cfg.DurationBuckets,
		}, []string{"queue", "kind"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "jetjobs_job_enqueue_to_start_seconds",
			Help:    "Time from a job's enqueue to the start of its first attempt.",
			Buckets: cfg.LatencyBuckets,
		}, []string{"queue", "kind"}),
		series: map[seriesKey]*series{},
	}
	if js != nil {
		stats, err := newQueueStats(js, cfg)
		if err != nil {
			return nil, err
		}
		c.stats = stats
	}
	return c, nil
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, v := range c.vecs() {
		v.Describe(ch)
	}
	if c.stats != nil {
		c.stats.describe(ch)
	}
}

// Collect implements prometheus.Collector. With a JetStream connection it
// reads the queue gauges from the server when the cached ones are older than
// Config.QueueStatsTTL, waiting at most Config.QueueStatsTimeout.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, v := range c.vecs() {
		v.Collect(ch)
	}
	if c.stats != nil {
		c.stats.collect(ch)
	}
}

func (c *Collector) vecs() []prometheus.Collector {
	return []prometheus.Collector{c.jobs, c.started, c.failed, c.deadLetters, c.running, c.duration, c.latency}
}

// seriesKey is the label pair every job metric has.
type seriesKey struct{ queue, kind string }

// series holds the metrics of one queue and kind, resolved once, so that
// recording an event costs one map lookup rather than one per metric.
type series struct {
	key               seriesKey
	started, failed   prometheus.Counter
	running           prometheus.Gauge
	duration, latency prometheus.Observer
	outcomes          [len(knownOutcomes)]prometheus.Counter
	reasons           [len(knownReasons)]prometheus.Counter
}

// seriesFor returns the series of queue and kind, creating it (and so its
// zero-valued counters, which keeps rate() and increase() exact from the
// first event on) unless MaxKinds pairs exist and the kind is not known to be
// registered, in which case it returns the queue's "_other" series.
func (c *Collector) seriesFor(queue, kind string, registered bool) *series {
	k := seriesKey{labelValue(queue), labelValue(kind)}
	c.mu.RLock()
	s := c.series[k]
	c.mu.RUnlock()
	if s != nil {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.series[k]; s != nil {
		return s
	}
	if len(c.series) >= c.cfg.MaxKinds && !registered {
		// Not remembered under its own key, so that invented kinds cost no
		// memory either; their events take this slower path.
		k.kind = OtherKind
		if s := c.series[k]; s != nil {
			return s
		}
	}
	s = &series{
		key:      k,
		started:  c.started.WithLabelValues(k.queue, k.kind),
		failed:   c.failed.WithLabelValues(k.queue, k.kind),
		running:  c.running.WithLabelValues(k.queue, k.kind),
		duration: c.duration.WithLabelValues(k.queue, k.kind),
		latency:  c.latency.WithLabelValues(k.queue, k.kind),
	}
	for i, o := range knownOutcomes {
		s.outcomes[i] = c.jobs.WithLabelValues(k.queue, k.kind, string(o))
	}
	for i, r := range knownReasons {
		s.reasons[i] = c.deadLetters.WithLabelValues(k.queue, k.kind, string(r))
	}
	c.series[k] = s
	return s
}

func labelValue(v string) string {
	if v == "" {
		return InvalidLabel
	}
	return v
}
