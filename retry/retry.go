package retry

import (
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Policy returns the delay before the attempt after a failed one. attempt is
// the number of the attempt that failed, from 1. Implementations must be
// safe for concurrent use.
type Policy interface {
	Delay(attempt int) time.Duration
}

// PolicyFunc adapts a function to Policy.
type PolicyFunc func(attempt int) time.Duration

// Delay calls f(attempt).
func (f PolicyFunc) Delay(attempt int) time.Duration { return f(attempt) }

// Exponential waits Initial after the first failure and Multiplier times
// longer after each further one, up to Max, each delay spread at random by
// ±Jitter of itself (so retries of many jobs that failed together do not
// arrive together). Zero fields take the defaults below.
type Exponential struct {
	// Initial delay after the first failed attempt; default 1s.
	Initial time.Duration
	// Max caps the delay; default 1h.
	Max time.Duration
	// Multiplier grows the delay per attempt; default 2.
	Multiplier float64
	// Jitter is the randomization factor in [0, 1]; default 0.2. Use
	// NoJitter for exact delays.
	Jitter float64
}

// NoJitter as Exponential.Jitter gives exact, repeatable delays.
const NoJitter = -1

// Default returns the default policy: Exponential{} (1s doubling to 1h,
// ±20% jitter).
func Default() Policy { return Exponential{} }

func (e Exponential) normalized() Exponential {
	if e.Initial <= 0 {
		e.Initial = time.Second
	}
	if e.Max <= 0 {
		e.Max = time.Hour
	}
	if e.Max < e.Initial {
		e.Max = e.Initial
	}
	if e.Multiplier < 1 {
		e.Multiplier = 2
	}
	switch {
	case e.Jitter < 0:
		e.Jitter = 0
	case e.Jitter == 0:
		e.Jitter = 0.2
	case e.Jitter > 1:
		e.Jitter = 1
	}
	return e
}

// Validate reports settings that cannot be meant: negative durations, a
// multiplier below 1, or jitter above 1.
func (e Exponential) Validate() error {
	switch {
	case e.Initial < 0 || e.Max < 0:
		return fmt.Errorf("retry.Exponential: durations must not be negative (Initial %s, Max %s)", e.Initial, e.Max)
	case e.Multiplier != 0 && e.Multiplier < 1:
		return fmt.Errorf("retry.Exponential: Multiplier %g must be >= 1", e.Multiplier)
	case e.Jitter > 1:
		return fmt.Errorf("retry.Exponential: Jitter %g must be in [0, 1]", e.Jitter)
	}
	return nil
}

// Delay returns the delay after failed attempt n.
func (e Exponential) Delay(attempt int) time.Duration {
	e = e.normalized()
	b := &backoff.ExponentialBackOff{
		InitialInterval:     e.Initial,
		RandomizationFactor: e.Jitter,
		Multiplier:          e.Multiplier,
		MaxInterval:         e.Max,
		MaxElapsedTime:      0,
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}
	b.Reset()
	// The backoff advances its interval deterministically and randomizes
	// only what it returns, so the n-th value is the delay for attempt n.
	var d time.Duration
	for range max(attempt, 1) {
		d = b.NextBackOff()
		if b.InitialInterval == b.MaxInterval {
			break
		}
	}
	return d
}

// Constant waits the same delay after every failure.
type Constant time.Duration

// Delay returns the constant.
func (c Constant) Delay(int) time.Duration { return time.Duration(c) }
