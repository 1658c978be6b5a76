package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
)

// JetStream error codes the CLI explains (nats.go has no constants for
// them).
const (
	errCodeStreamNotMatch        jetstream.ErrorCode = 10060 // Nats-Expected-Stream names another stream
	errCodeStreamSubjectsOverlap jetstream.ErrorCode = 10065
)

// describe turns err into one line that says what to do, in the CLI's
// terms (its flags and commands, not the library's API), without the
// repeated "jetjobs: " prefixes of wrapped library errors and without the
// secrets of any URL in it.
func (a *app) describe(err error) string {
	msg, ok := a.noJetStream(err)
	if !ok {
		msg, ok = a.missingStream(err)
	}
	if !ok {
		msg = err.Error()
		for _, r := range libraryTerms {
			msg = strings.ReplaceAll(msg, r[0], r[1])
		}
		if hint := a.overlapHint(err); hint != "" {
			msg += " (" + hint + ")"
		}
	}
	// The server's error, last, often repeats what the message said.
	if m := apiErrorTail.FindStringSubmatchIndex(msg); m != nil && strings.Contains(msg[:m[0]], msg[m[2]:m[3]]) {
		msg = msg[:m[0]]
	}
	msg = redact(msg)
	msg = strings.ReplaceAll(msg, "jetjobs: ", "")
	for strings.Contains(msg, "nats: nats: ") {
		msg = strings.ReplaceAll(msg, "nats: nats: ", "nats: ")
	}
	// One line, and errors may quote foreign text (IDs, subjects, a
	// server's words): no control characters reach the terminal.
	return escapeUnprintable(strings.Join(strings.Fields(msg), " "))
}

// apiErrorTail is a JetStream API error at the end of a message, as
// nats.go words it; its description is the first group.
var apiErrorTail = regexp.MustCompile(`: (?:nats: )+API error: code=\d+ err_code=\d+ description=(.+)$`)

// libraryTerms replaces advice in library errors that names the Go API
// with what a user of the CLI does instead.
var libraryTerms = [][2]string{
	{"run EnsureTopology (or start a worker)", "start a worker or run 'jetjobs enqueue'"},
	{"run EnsureTopology or start a worker", "start a worker or run 'jetjobs enqueue'"},
	{"(Topology.Stream and Prefix)", "(--stream and --prefix)"},
	{"raise Topology.MaxMsgs/MaxBytes", "raise the stream's limits (max_msgs, max_bytes)"},
	{"raise Topology.MaxMsgSize", "raise the stream's max_msg_size"},
}

// where names the server of the command's connection, or the servers it
// was given.
func (a *app) where() string {
	if a.server != "" {
		return a.server
	}
	return redactServers(a.conn.server)
}

// noJetStream explains a server without JetStream: nats.go reports it as
// "no responders" to the JetStream API, or with the server's own error.
func (a *app) noJetStream(err error) (string, bool) {
	switch {
	case errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return fmt.Sprintf("JetStream is not enabled for the account of this user on %s: enable it for the account in the server's configuration (jetstream: enabled), or connect as a user of an account that has it", a.where()), true
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled),
		// A server that announced JetStream answers its API; "no
		// responders" from one that did not means there is none.
		a.server != "" && !a.serverJS && errors.Is(err, nats.ErrNoResponders):
		return fmt.Sprintf("JetStream is not enabled on %s: start nats-server with -js (or use 'jetjobs server')", a.where()), true
	}
	return "", false
}

// missingStream explains a stream or bucket of the namespace that does not
// exist, naming it, the flags that chose it and what creates it.
func (a *app) missingStream(err error) (string, bool) {
	if a.namespace == nil || !(errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, job.ErrNoStream) || errors.Is(err, jetstream.ErrBucketNotFound)) {
		return "", false
	}
	t := *a.namespace
	text := err.Error()
	what, name := "", ""
	// Longest names first: each starts with the work stream's name.
	for _, c := range []struct{ what, name string }{
		{"cancel bucket", t.CancelBucket}, {"state bucket", t.StateBucket}, {"flow bucket", t.FlowBucket}, {"counter stream", t.CounterStream}, {"dead-letter stream", t.DeadLetterStream},
		{"schedule stream", t.ScheduleStream}, {"work stream", t.Stream},
	} {
		if strings.Contains(text, c.name) {
			what, name = c.what, c.name
			break
		}
	}
	if name == "" {
		if !errors.Is(err, job.ErrNoStream) {
			return "", false
		}
		what, name = "work stream", t.Stream
	}
	flags := fmt.Sprintf("--stream %s and --prefix %s (env JETJOBS_STREAM, JETJOBS_PREFIX)", t.Stream, t.Prefix)
	hint := fmt.Sprintf("check %s, or create the streams: start a worker, or run 'jetjobs enqueue', which creates them", flags)
	if a.skipTopo {
		hint = fmt.Sprintf("--skip-topology assumes the streams exist: check %s, or create them by running a worker once without --skip-topology, or 'jetjobs enqueue', as a user allowed to", flags)
	}
	return fmt.Sprintf("%s %s not found on %s: %s", what, name, a.where(), hint), true
}

// overlapHint explains a namespace whose subjects another stream stores:
// --stream was given without a --prefix of its own.
func (a *app) overlapHint(err error) string {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || (apiErr.ErrorCode != errCodeStreamSubjectsOverlap && apiErr.ErrorCode != errCodeStreamNotMatch) {
		return ""
	}
	prefix := job.DefaultPrefix
	if a.namespace != nil {
		prefix = a.namespace.Prefix
	}
	return fmt.Sprintf("another stream stores the subjects %s.>: give the namespace a prefix of its own with --prefix (or JETJOBS_PREFIX) together with --stream", prefix)
}
