package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
)

// The one line of an error speaks of the CLI's flags and commands, not of
// the library's API, and explains a server without JetStream and missing
// streams in the terms of the namespace.
func TestDescribe(t *testing.T) {
	ns := job.Topology{Stream: "NOPE", Prefix: "nope"}.WithDefaults()
	connected := func(js bool) *app {
		return &app{conn: connFlags{server: "nats://a:b@h:4222"}, server: "nats://h:4222", serverJS: js, namespace: &ns}
	}
	notFound := fmt.Errorf("jetjobs: dead-letter stream NOPE_DLQ: %w", jetstream.ErrStreamNotFound)
	overlap := fmt.Errorf("jetjobs: create stream NOPE: %w", &jetstream.APIError{Code: 400, ErrorCode: 10065, Description: "subjects overlap with an existing stream"})
	full := fmt.Errorf("%w: stream JOBS refused the job (maximum messages exceeded); wait for workers to drain it or raise Topology.MaxMsgs/MaxBytes: %w",
		job.ErrQueueFull, &jetstream.APIError{Code: 503, ErrorCode: 10077, Description: "maximum messages exceeded"})
	storage := fmt.Errorf("%w: stream JOBS refused the job (insufficient resources); wait for workers to drain the queue, or free disk space or raise the server's max_file_store (or the account's storage limit): %w",
		job.ErrStorageFull, &jetstream.APIError{Code: 503, ErrorCode: 10023, Description: "insufficient resources"})
	for _, c := range []struct {
		name string
		app  *app
		err  error
		want string // the whole line
	}{
		{"no JetStream: no responders", connected(false), fmt.Errorf("jetjobs: work stream JOBS: %w", nats.ErrNoResponders),
			"JetStream is not enabled on nats://h:4222: start nats-server with -js (or use 'jetjobs server')"},
		{"no JetStream: the server says so", connected(true), fmt.Errorf("x: %w", jetstream.ErrJetStreamNotEnabled),
			"JetStream is not enabled on nats://h:4222: start nats-server with -js (or use 'jetjobs server')"},
		{"no JetStream before connecting names the flag's servers, redacted", &app{conn: connFlags{server: "nats://a:b@h:4222"}}, jetstream.ErrJetStreamNotEnabled,
			"JetStream is not enabled on nats://a:xxxxx@h:4222: start nats-server with -js (or use 'jetjobs server')"},
		{"no JetStream for the account", connected(true), jetstream.ErrJetStreamNotEnabledForAccount,
			"JetStream is not enabled for the account of this user on nats://h:4222: enable it for the account in the server's configuration (jetstream: enabled), or connect as a user of an account that has it"},
		{"no responders from a JetStream server is not about JetStream", connected(true), fmt.Errorf("%w (stream NOPE, subject nope.q.k): %w", job.ErrNoStream, nats.ErrNoResponders),
			"work stream NOPE not found on nats://h:4222: check --stream NOPE and --prefix nope (env JETJOBS_STREAM, JETJOBS_PREFIX), or create the streams: start a worker, or run 'jetjobs enqueue', which creates them"},
		{"missing dead-letter stream", connected(true), notFound,
			"dead-letter stream NOPE_DLQ not found on nats://h:4222: check --stream NOPE and --prefix nope (env JETJOBS_STREAM, JETJOBS_PREFIX), or create the streams: start a worker, or run 'jetjobs enqueue', which creates them"},
		{"missing stream with --skip-topology", &app{server: "nats://h:4222", serverJS: true, namespace: &ns, skipTopo: true}, fmt.Errorf("jetjobs: work stream NOPE: %w", jetstream.ErrStreamNotFound),
			"work stream NOPE not found on nats://h:4222: --skip-topology assumes the streams exist: check --stream NOPE and --prefix nope (env JETJOBS_STREAM, JETJOBS_PREFIX), or create them by running a worker once without --skip-topology, or 'jetjobs enqueue', as a user allowed to"},
		{"subjects overlap", connected(true), overlap,
			"create stream NOPE: nats: API error: code=400 err_code=10065 description=subjects overlap with an existing stream (another stream stores the subjects nope.>: give the namespace a prefix of its own with --prefix (or JETJOBS_PREFIX) together with --stream)"},
		{"full stream, without the server's words twice or the Go API", connected(true), full,
			"work stream is full: stream JOBS refused the job (maximum messages exceeded); wait for workers to drain it or raise the stream's limits (max_msgs, max_bytes)"},
		{"server out of storage", connected(true), storage,
			"the server is out of storage: stream JOBS refused the job (insufficient resources); wait for workers to drain the queue, or free disk space or raise the server's max_file_store (or the account's storage limit)"},
		{"nats: nats:", &app{}, errors.New("jetjobs: publish: nats: nats: timeout"), "publish: nats: timeout"},
		{"several lines", &app{}, errors.New("a\nb"), "a b"},
	} {
		if got := c.app.describe(c.err); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}
