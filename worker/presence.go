package worker

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nuid"

	"github.com/jetjobs/jetjobs/job"
)

// presence publishes the pool's presence (job.WorkerInfo) to the
// namespace's worker stream every job.PresenceInterval, so that `jetjobs
// workers` and the dashboard list the live pools. It is one of the pool's
// services: start launches its loop, stop ends it and marks the pool as
// stopped. Publishing is best effort: a pool whose presence cannot
// be published (no stream, no permission) works all the same, and says so
// in its log once.
type presence struct {
	client *job.Client
	log    *slog.Logger
	every  time.Duration
	// snapshot returns the queues with their busy slots, and the running
	// jobs, at the moment of the call.
	snapshot func() ([]job.WorkerQueue, []job.RunningJob)

	info   job.WorkerInfo // the fixed part
	loops  loops
	warned bool
}

// newPresence returns the pool's presence service.
func (p *Pool) newPresence() *presence {
	// The topology was validated by New, so NewClient cannot fail.
	client, _ := job.NewClient(p.js, job.ClientConfig{Topology: p.cfg.Topology})
	host, _ := os.Hostname()
	return &presence{
		client:   client,
		log:      p.log,
		every:    job.PresenceInterval,
		snapshot: p.presenceSnapshot,
		info: job.WorkerInfo{
			ID:        nuid.Next(),
			Host:      host,
			PID:       os.Getpid(),
			Version:   moduleVersion(),
			StartedAt: time.Now().UTC(),
			TTL:       job.PresenceTTL,
			Kinds:     p.kindNames,
		},
	}
}

// start publishes the presence at once and then every interval, and
// sooner (within presenceCheck) when the set of running jobs changed, until
// stop. It never fails: presence is best effort.
func (p *presence) start(context.Context) error {
	p.loops.run(func(ctx context.Context) {
		t := time.NewTicker(presenceCheck)
		defer t.Stop()
		var last time.Time
		var lastJobs string
		for {
			if jobs := p.runningKey(); jobs != lastJobs || time.Since(last) >= p.every {
				p.publish(ctx, false)
				last, lastJobs = time.Now(), jobs
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	return nil
}

// presenceCheck is how often the presence loop looks whether the running
// jobs changed.
const presenceCheck = time.Second

// runningKey identifies the set of running jobs, to tell when it changed.
func (p *presence) runningKey() string {
	_, running := p.snapshot()
	var b strings.Builder
	for _, r := range running {
		b.WriteString(strconv.FormatUint(r.Seq, 10))
		b.WriteByte(',')
	}
	return b.String()
}

// stop ends the loop and replaces the presence with a stopped entry that
// expires within a second, so the pool disappears at once rather than
// within its TTL.
func (p *presence) stop() {
	p.loops.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	p.publish(ctx, true)
}

func (p *presence) publish(ctx context.Context, stopped bool) {
	w := p.info
	w.Queues, w.Running = p.snapshot()
	w.LastSeen = time.Now().UTC()
	w.Stopped = stopped
	if stopped {
		w.TTL = time.Second
		w.Running = nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.every)
	defer cancel()
	err := p.client.PublishPresence(ctx, w)
	if err != nil && !p.warned && ctx.Err() == nil {
		p.warned = true
		p.log.LogAttrs(ctx, slog.LevelWarn, "cannot publish worker presence; the pool works, but `jetjobs workers` and the dashboard will not list it",
			slog.String("worker_id", w.ID), slog.String("error", err.Error()))
	}
}

// presenceSnapshot returns the pool's queues with their busy slots and the
// jobs it runs now.
func (p *Pool) presenceSnapshot() ([]job.WorkerQueue, []job.RunningJob) {
	running := p.inflight.snapshot(p.cfg.Topology, 100)
	busy := map[string]int{}
	for _, r := range running {
		busy[r.Queue]++
	}
	queues := make([]job.WorkerQueue, 0, len(p.queues))
	for _, q := range p.queues {
		queues = append(queues, job.WorkerQueue{Name: q.name, Concurrency: q.concurrency, Busy: busy[q.name]})
	}
	return queues, running
}

// snapshot returns up to limit of the running jobs, oldest first as far as
// the table's order goes.
func (f *inflight) snapshot(topo job.Topology, limit int) []job.RunningJob {
	f.mu.Lock()
	slots := make([]running, 0, f.n)
	for _, r := range f.slots {
		if r.msg != nil {
			slots = append(slots, r)
		}
	}
	f.mu.Unlock()
	out := make([]job.RunningJob, 0, min(len(slots), limit))
	for _, r := range slots {
		if len(out) == limit {
			break
		}
		rj := job.RunningJob{Since: r.since.UTC()}
		rj.Queue, rj.Kind, _ = job.ParseSubject(topo.Prefix, r.msg.Subject())
		if meta, err := r.msg.Metadata(); err == nil {
			rj.Seq = meta.Sequence.Stream
			rj.Attempt = int(meta.NumDelivered)
		}
		rj.ID = job.IDOf(r.msg.Headers(), topo.Stream, rj.Seq)
		out = append(out, rj)
	}
	return out
}

var (
	versionOnce sync.Once
	version     string
)

// moduleVersion is the version of the jetjobs module in this binary.
func moduleVersion() string {
	versionOnce.Do(func() {
		bi, ok := debug.ReadBuildInfo()
		if !ok {
			return
		}
		const path = "github.com/jetjobs/jetjobs"
		if bi.Main.Path == path {
			version = bi.Main.Version
			return
		}
		for _, d := range bi.Deps {
			if d.Path == path {
				version = d.Version
				return
			}
		}
	})
	return version
}
