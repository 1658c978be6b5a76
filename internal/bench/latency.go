package bench

import (
	"slices"
	"sync/atomic"
	"time"
)

// Latencies summarises enqueue-to-start latencies.
type Latencies struct {
	Count              int
	P50, P90, P99, Max time.Duration
}

// recorder collects latencies from many goroutines without locking: each
// takes the next slot of a slice sized for the run.
type recorder struct {
	next atomic.Int64
	ns   []time.Duration
}

func newRecorder(n int) *recorder { return &recorder{ns: make([]time.Duration, n)} }

// add records d; values beyond the recorder's size (redeliveries) are
// dropped.
func (r *recorder) add(d time.Duration) {
	if i := r.next.Add(1) - 1; i < int64(len(r.ns)) {
		r.ns[i] = d
	}
}

// summary sorts what was recorded and returns its percentiles. Call it only
// after every add returned.
func (r *recorder) summary() Latencies {
	if r == nil {
		return Latencies{}
	}
	ns := r.ns[:min(int(r.next.Load()), len(r.ns))]
	if len(ns) == 0 {
		return Latencies{}
	}
	slices.Sort(ns)
	at := func(q float64) time.Duration {
		return ns[min(len(ns)-1, int(q*float64(len(ns))))]
	}
	return Latencies{Count: len(ns), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: ns[len(ns)-1]}
}
