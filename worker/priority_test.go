package worker_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

func TestWeightedPrioritiesFollowWeights(t *testing.T) {
	e := newEnv(t)
	const perQueue, sample = 2000, 2000
	e.enqueueMany("heavy", "work", perQueue)
	e.enqueueMany("light", "work", perQueue)

	var heavy, light, total atomic.Int64
	var once sync.Once
	result := make(chan [2]int64, 1)
	e.pool(worker.Config{
		Concurrency: 8,
		Queues: map[string]worker.QueueConfig{
			"heavy": {Weight: 3},
			"light": {Weight: 1},
		},
		AckAsync: true,
	}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "work", func(ctx context.Context, j *job.Job[struct{}]) error {
			if j.Queue == "heavy" {
				heavy.Add(1)
			} else {
				light.Add(1)
			}
			if total.Add(1) == sample {
				// Both queues still have jobs: the split so far is the
				// split of the budget.
				once.Do(func() { result <- [2]int64{heavy.Load(), light.Load()} })
			}
			time.Sleep(time.Millisecond) // the job's work
			return nil
		}))
	})
	var got [2]int64
	select {
	case got = <-result:
	case <-time.After(60 * time.Second):
		t.Fatalf("only %d jobs ran", total.Load())
	}
	share := float64(got[0]) / float64(got[0]+got[1])
	t.Logf("of the first %d jobs: heavy (weight 3) %d, light (weight 1) %d: heavy share %.3f, want 0.75", sample, got[0], got[1], share)
	if share < 0.70 || share > 0.80 {
		t.Fatalf("heavy share %.3f, want 0.75 ± 0.05", share)
	}
}

func TestStrictPriorityIsNotStarvedByBusyLowQueue(t *testing.T) {
	e := newEnv(t)
	const lowJobs, highJobs = 400, 40
	e.enqueueMany("low", "low", lowJobs)

	var (
		lowStarted    atomic.Int64
		highDone      atomic.Int64
		lowDuringHigh atomic.Int64 // low jobs started between the first high job's start and the last one's end
		highStarted   atomic.Bool
	)
	allHigh := make(chan struct{})
	e.pool(worker.Config{
		Concurrency: 8,
		Queues: map[string]worker.QueueConfig{
			"high": {Priority: 1},
			"low":  {},
		},
	}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "low", func(ctx context.Context, j *job.Job[struct{}]) error {
			lowStarted.Add(1)
			if highStarted.Load() && highDone.Load() < highJobs {
				lowDuringHigh.Add(1)
			}
			time.Sleep(10 * time.Millisecond)
			return nil
		}))
		must(t, worker.Handle(p, "high", func(ctx context.Context, j *job.Job[struct{}]) error {
			highStarted.Store(true)
			time.Sleep(10 * time.Millisecond)
			if highDone.Add(1) == highJobs {
				close(allHigh)
			}
			return nil
		}))
	})
	eventually(t, func() bool { return lowStarted.Load() >= 50 }, "the low queue to be busy")
	start := time.Now()
	e.enqueueMany("high", "high", highJobs)
	select {
	case <-allHigh:
	case <-time.After(30 * time.Second):
		t.Fatalf("%d of %d high jobs ran", highDone.Load(), highJobs)
	}
	elapsed := time.Since(start)
	t.Logf("%d high jobs of 10ms on 8 slots took %s while the low queue had a backlog; %d low jobs started meanwhile",
		highJobs, elapsed.Round(time.Millisecond), lowDuringHigh.Load())
	// Only low jobs pulled before the high queue was known busy may start:
	// at most the budget less the high queue's idle slot. Without
	// priorities, freed slots alternate between the queues (measured: 41 to
	// 43 low jobs start meanwhile, and the high jobs take twice as long).
	if n := lowDuringHigh.Load(); n > 7 {
		t.Fatalf("%d low jobs started while high jobs waited, want at most 7", n)
	}
	if left := lowJobs - lowStarted.Load(); left < 100 {
		t.Fatalf("only %d low jobs left: the high jobs were not ahead of the backlog", left)
	}
}

func TestPriorityConfigValidation(t *testing.T) {
	e := newEnv(t)
	two := map[string]worker.QueueConfig{"a": {Priority: 1}, "b": {Weight: 2}}
	for _, tc := range []struct {
		name string
		cfg  worker.Config
		ok   bool
	}{
		{"shared budget", worker.Config{Concurrency: 8, Queues: two}, true},
		{"budget of one slot per queue", worker.Config{Concurrency: 2, Queues: two}, true},
		{"budget below the queues", worker.Config{Concurrency: 1, Queues: two}, false},
		{"negative budget", worker.Config{Concurrency: -1}, false},
		{"priority without a budget", worker.Config{Queues: map[string]worker.QueueConfig{"a": {Priority: 1}}}, false},
		{"weight without a budget", worker.Config{Queues: map[string]worker.QueueConfig{"a": {Weight: 3}}}, false},
		{"negative weight", worker.Config{Concurrency: 8, Queues: map[string]worker.QueueConfig{"a": {Weight: -1}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := worker.New(e.js, tc.cfg)
			if ok := err == nil; ok != tc.ok {
				t.Fatalf("worker.New(%+v) = %v, want ok %v", tc.cfg, err, tc.ok)
			}
			if !tc.ok && !errors.Is(err, job.ErrInvalidOption) {
				t.Fatalf("error %v is not ErrInvalidOption", err)
			}
		})
	}
}
