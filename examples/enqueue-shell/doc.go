// Package enqueueshell holds the test of the shell example: enqueue.sh
// enqueues jobs with `jetjobs enqueue` and with a raw NATS publish, and a
// Go worker pool runs them. The example itself is a bash script; see
// README.md.
package enqueueshell
