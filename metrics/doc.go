// Package metrics exposes what jetjobs queues and workers do as Prometheus
// metrics, and serves them over HTTP next to health endpoints.
//
// A Collector is a prometheus.Collector with two sources:
//
//   - its Middleware and its Observe hook, installed on a worker pool (most
//     simply with Instrument), count the jobs this process runs: started,
//     succeeded, failed, retried, snoozed and dead-lettered jobs by queue,
//     kind and dead-letter reason, handler durations, the time from enqueue
//     to start, and the jobs running now;
//   - with a JetStream connection it also reports per-queue gauges read from
//     the server by a job.Inspector (pending, running, redelivered, dead
//     letters, the age of the oldest pending job, paused), cached for
//     Config.QueueStatsTTL so that scrapes do not load JetStream.
//
// Labels are bounded: queue, kind, outcome and reason only, never a job ID;
// kinds past Config.MaxKinds share the kind "_other".
//
// NewHandler serves /metrics, /healthz (alive) and /readyz (ready, usually
// worker.Pool.Ready), and ListenAndServe runs it until a context ends.
// docs/observability.md lists every metric and shows alerts.
package metrics
