package worker_test

import (
	"fmt"
	"testing"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

// BenchmarkSequences drains b.N no-op jobs enqueued beforehand: unordered
// jobs, and the same jobs as sequences over 1,000 keys (job i in key
// i%1000) with 16 (the default) and 64 partitions. One embedded server,
// file storage, confirmed acks, queue concurrency 128; it reports jobs/s
// and the process's CPU time per job (server and pool together).
//
//	go test -run '^$' -bench BenchmarkSequences -benchtime 20000x ./worker/
func BenchmarkSequences(b *testing.B) {
	for _, bc := range []struct {
		name       string
		keys       int
		partitions int
	}{
		{"unordered", 0, 0},
		{"keys-1000/partitions-16", 1000, 16},
		{"keys-1000/partitions-64", 1000, 64},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := natstest.Start(b)
			_, js := srv.Connect(b)
			topo := job.Topology{SequencePartitions: bc.partitions}
			client, err := job.NewClient(js, job.ClientConfig{Topology: topo})
			if err != nil {
				b.Fatal(err)
			}
			var options func(j int) []job.Option
			if bc.keys > 0 {
				options = func(j int) []job.Option { return []job.Option{job.Sequence(fmt.Sprintf("key-%d", j%bc.keys))} }
			}
			drainBenchmark(b, js, client, worker.Config{Topology: topo}, options)
		})
	}
}
