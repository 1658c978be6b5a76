package main

import (
	"regexp"
	"testing"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
)

// queues counts each queue's delayed jobs, and lists a queue that has
// nothing but delayed jobs.
func TestQueuesShowsDelayedJobs(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	ok(t, "enqueue", "-s", url, "--in", "1h", "--queue", "later", "k")
	ok(t, "enqueue", "-s", url, "--in", "2h", "--queue", "later", "k")
	ok(t, "enqueue", "-s", url, "--in", "1h", "k")
	ok(t, "enqueue", "-s", url, "k")

	qs := queueFigures(t, url)
	if q := qs["later"]; q.Delayed != 2 || q.Pending != 0 {
		t.Errorf("queue later = %+v, want 2 delayed, none pending", q)
	}
	if q := qs["default"]; q.Delayed != 1 || q.Pending != 1 {
		t.Errorf("queue default = %+v, want 1 delayed, 1 pending", q)
	}
	table := ok(t, "queues", "-s", url)
	if !regexp.MustCompile(`(?m)^QUEUE +PENDING +RUNNING +REDELIVERED +DEAD +DELAYED +UNSERVED +WAITING +OLDEST\n`).MatchString(table) ||
		!regexp.MustCompile(`(?m)^later +0 +0 +0 +0 +2 +0 +0 +- +no worker has served it yet$`).MatchString(table) {
		t.Errorf("queues table:\n%s\nwant a DELAYED column with 2 for queue later", table)
	}

	// Past its limit it counts the rest without reading them.
	_, js := srv.Connect(t)
	c, err := job.NewClient(js, job.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	per, counted, total, err := delayedByQueue(t.Context(), c, 2)
	if err != nil || counted != 2 || total != 3 || per["later"]+per["default"] != 2 {
		t.Errorf("delayedByQueue with limit 2 = %v, %d of %d, %v; want 2 of 3 counted", per, counted, total, err)
	}
}
