// Package jetjobstest helps applications test their jetjobs handlers and
// enqueues in a few lines, against the real protocol and a real server,
// with no mock of the broker.
//
//   - Work and WorkFunc run one attempt of a job through the path a worker
//     pool runs it on (decoding, middleware, timeout, panic recovery and
//     the pool's one decision on the attempt) and return what the pool
//     would have done: succeeded, retried after a delay, snoozed,
//     dead-lettered with a reason. They need no server.
//   - StartServer starts an embedded NATS server with JetStream for one
//     test and creates the streams of a namespace.
//   - RequireEnqueued, RequireNotEnqueued and RequireManyEnqueued check the
//     jobs waiting in a namespace, and RequireDeadLettered,
//     RequireNotDeadLettered and RequireManyDeadLettered its dead letters.
//     They read the streams without consuming anything, and on failure
//     list what is there instead.
//   - StartPool runs a real pool on the test server, and Pool.Drain waits
//     until its queues are idle and returns how each delivery ended: for
//     tests of a whole flow.
//
// Every function takes the test's testing.TB and reports failures through
// it. See docs/testing.md.
//
// This package imports nats-server (for StartServer); import it only from
// tests.
package jetjobstest
