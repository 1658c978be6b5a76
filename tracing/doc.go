// Package tracing carries OpenTelemetry traces through jetjobs: from the
// code that enqueues a job, across the queue, to every attempt of it.
//
// BeforePublish, installed as job.ClientConfig.BeforePublish, starts a short
// PRODUCER span for each job enqueued and writes its W3C trace context into
// the job's traceparent and tracestate headers. Middleware, installed on a
// worker pool, reads those headers and runs each attempt in a CONSUMER span
// that is a child of (and linked to) the enqueuing span, with the
// OpenTelemetry messaging semantic conventions (messaging.system "nats", the
// subject as destination, the job ID as message ID) plus the job's queue,
// kind and attempt; an error or a panic is recorded on the span. Every
// attempt, retries included, joins the same trace. Jobs published by any
// other program with a traceparent header join that program's trace.
//
// The package is separate from the rest of jetjobs so that applications
// without OpenTelemetry do not link it.
package tracing
