// Package bench measures jetjobs against a plain nats.go program doing the
// same work on the same server in the same process, for `jetjobs bench` and
// the benchmarks of this package.
//
// Each scenario runs on two sides. The jetjobs side enqueues with
// job.Client and works jobs with a worker.Pool: a no-op handler on typed
// arguments decoded from JSON, the default middleware, confirmed
// acknowledgements unless Config.AckAsync. The raw side is what an
// application would write without a framework: it JSON-encodes the same
// arguments and publishes them asynchronously, consumes with
// jetstream.Consumer.Consume, decodes them into the same type and Acks.
// Both sides use the consumer configuration jetjobs uses, their own
// connections, and fresh queues, so one side never sees the other's jobs.
//
// With Config.Procs the Drain and Concurrent scenarios work their jobs in
// worker processes of their own (Config.Spawn starts each; it runs
// ServeWorker), all bound to the same consumers, while the runner's process
// enqueues: the scale-out that internal/bench/scale.sh measures against one
// server and a three-node cluster. Config.ServerPIDs adds the CPU time of
// server processes on the same machine.
//
// A Runner owns a namespace of its own (Config.Topology, by default stream
// JETJOBS_BENCH on subjects jetjobs_bench.>) on the server it is given,
// creates it, and deletes it on Close.
package bench
