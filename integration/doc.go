// Package integration holds the tests that run real servers, processes and
// faults: worker processes killed mid-batch, a nats-server process killed
// and restarted, a three-node JetStream cluster losing its stream leader,
// network cuts, graceful termination, poison jobs, a full queue, and servers
// that require each kind of authentication and least-privilege permissions.
// Every fault scenario ends by checking the books: each accepted job
// completed or was dead-lettered, none was lost. See docs/reliability.md and
// docs/security.md.
//
// The package has no non-test code. TestMain builds nats-server (at the
// version pinned in go.mod), the jetjobs CLI and the test worker
// (internal/testworker) into a temporary directory once per run.
package integration
