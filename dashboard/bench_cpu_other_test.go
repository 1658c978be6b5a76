//go:build !unix

package dashboard_test

import "time"

// processCPU is -1 where getrusage is not available: no CPU figure.
func processCPU() time.Duration { return -1 }
