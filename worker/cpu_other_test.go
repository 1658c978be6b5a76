//go:build !unix

package worker_test

import "time"

// processCPU is not measured here; benchmarks report 0 CPU per job.
func processCPU() time.Duration { return 0 }
