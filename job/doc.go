// Package job is the leaf package of jetjobs: the job envelope handlers
// receive, typed arguments, job IDs, the enqueue client and its options, the
// stream topology, dead letters, and the error values handlers return to
// steer retries (Snooze, Permanent).
//
// It speaks wire protocol v1 (docs/protocol.md): a job is one JetStream
// message on <prefix>.<queue>.<kind> whose payload is the job's arguments as
// JSON, with optional Jetjobs-* headers. Any NATS client can enqueue a job by
// publishing such a message; this package is the Go way to do it with
// validation, IDs and pipelining.
//
// Batches (Client.EnqueueBatch) and workflows (NewWorkflow,
// Client.StartWorkflow) keep their counters and readiness on the server;
// the worker that settles a job advances them (docs/workflows.md).
//
// job imports neither worker nor middleware: applications that only enqueue
// depend on this package alone.
package job
