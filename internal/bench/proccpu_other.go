//go:build !linux

package bench

import "time"

// processCPU returns zero: only Linux tells other processes' CPU time here.
func processCPU([]int) time.Duration { return 0 }
