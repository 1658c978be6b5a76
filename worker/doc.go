// Package worker runs jobs: a Pool binds to the durable JetStream consumer of
// each queue it serves, pulls no more jobs than it has free capacity for,
// runs each with the handler registered for its kind, and maps the outcome
// onto JetStream acknowledgements:
//
//   - success: Ack (by default a confirmed double ack);
//   - failure: Nak with the retry policy's delay, until the last attempt;
//   - last attempt, Permanent error, undecodable payload, expired or
//     canceled job: publish to the dead-letter stream, then Term;
//   - Snooze: republish on a server schedule (zero: to the back of the
//     queue) without using up an attempt.
//
// Handlers are typed: register a function or a Worker for an argument type
// with Handle or Register, and the pool decodes each job's JSON payload into
// that type before calling it. Running jobs send InProgress heartbeats, so a
// long job is never redelivered while its worker lives. Stop shuts down
// gracefully: it stops pulling, lets running jobs finish until its context
// ends, then cancels them and hands them back (republished with their
// attempts so far, then acked) for prompt redelivery elsewhere.
package worker
