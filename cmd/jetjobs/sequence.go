package main

import (
	"time"

	"github.com/jetjobs/jetjobs/job"
)

// sequenceOption reads --sequence KEY: the job joins the sequence KEY of its
// queue. A delay (--in) cannot go with it.
func sequenceOption(key string, in time.Duration) (job.Option, error) {
	if in != 0 {
		return nil, usagef("--sequence %s with --in %s: a sequence job takes its place in the key's order when it is stored, so it cannot be delayed; enqueue it when it is due", key, in)
	}
	opt := job.Sequence(key)
	if err := job.ValidateOptions(opt); err != nil {
		return nil, usagef("--sequence: %w", err)
	}
	return opt, nil
}
