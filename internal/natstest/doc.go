// Package natstest starts embedded NATS servers with JetStream for tests:
// a random port, a t.TempDir() store, shutdown at cleanup, and restart on
// the same store and port. It is the only package outside cmd/ and
// examples/ that imports nats-server.
package natstest
