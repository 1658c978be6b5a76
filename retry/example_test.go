package retry_test

import (
	"fmt"
	"time"

	"github.com/jetjobs/jetjobs/retry"
	"github.com/jetjobs/jetjobs/worker"
)

// The delays of an exponential policy without jitter: 2s after the first
// failure, doubling, capped at 10s. The pool Naks attempt n's failure with
// Delay(n), so the server holds the job for that long.
func ExampleExponential() {
	p := retry.Exponential{Initial: 2 * time.Second, Max: 10 * time.Second, Jitter: retry.NoJitter}
	for attempt := 1; attempt <= 5; attempt++ {
		fmt.Printf("after attempt %d: %s\n", attempt, p.Delay(attempt))
	}
	// Output:
	// after attempt 1: 2s
	// after attempt 2: 4s
	// after attempt 3: 8s
	// after attempt 4: 10s
	// after attempt 5: 10s
}

// The default policy waits about a second after the first failure (±20%),
// doubling up to an hour.
func ExampleDefault() {
	d := retry.Default().Delay(1)
	fmt.Println(d >= 800*time.Millisecond && d <= 1200*time.Millisecond)
	// Output: true
}

// A constant policy as a pool's default, and a policy of your own for one
// kind (worker.WithRetryPolicy) or any kind (worker.Config.RetryPolicy).
func ExamplePolicyFunc() {
	steps := retry.PolicyFunc(func(attempt int) time.Duration {
		return []time.Duration{time.Second, time.Minute, time.Hour}[min(attempt, 3)-1]
	})
	cfg := worker.Config{RetryPolicy: retry.Constant(30 * time.Second)}
	fmt.Println(cfg.RetryPolicy.Delay(7), steps.Delay(1), steps.Delay(2), steps.Delay(9))
	// Output: 30s 1s 1m0s 1h0m0s
}
