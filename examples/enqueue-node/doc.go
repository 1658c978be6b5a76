// Package enqueuenode holds the test of the Node.js example: enqueue.mjs
// enqueues jobs with the nats npm package per wire protocol v1, and a Go
// worker pool runs them. The example itself is JavaScript; see README.md.
package enqueuenode
