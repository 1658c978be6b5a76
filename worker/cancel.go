package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
)

// How a pool learns of cancellations (job.Client.Cancel): the client puts
// the job's ID into the namespace's cancel bucket, and every pool watches
// that bucket from Start to Stop. The watch replays the cancels already
// recorded before Start returns, so a pool knows of every cancel made before
// it started; later ones arrive within milliseconds. A pool keeps the
// canceled IDs in memory, so the check before each job starts is a map
// lookup, and it keeps the running jobs by ID, so a cancel reaches a running
// job's context at once.

// cancels is a pool's view of the cancel bucket and of its running jobs.
type cancels struct {
	kv     jetstream.KeyValue
	maxAge time.Duration

	// ids maps the key (job.SubjectToken) of each canceled ID to when it was
	// canceled; count mirrors its size so the common case, no cancels, takes
	// no lock.
	idsMu sync.RWMutex
	ids   map[string]time.Time
	count atomic.Int64
	swept time.Time // when expired entries were last dropped

	mu      sync.Mutex // serializes writers of ids with running
	next    uint64
	running map[uint64]trackedJob
}

type trackedJob struct {
	key    string
	cancel context.CancelCauseFunc
}

func newCancels(kv jetstream.KeyValue, maxAge time.Duration) *cancels {
	return &cancels{kv: kv, maxAge: maxAge, running: map[uint64]trackedJob{}, ids: map[string]time.Time{}, swept: time.Now()}
}

// canceled reports whether the job with ID id was canceled. It is safe on a
// nil receiver (cancellation unavailable).
func (c *cancels) canceled(id string) bool {
	return c.canceledSince(id, time.Time{})
}

// canceledSince reports whether the job with ID id was canceled after
// since (any time when zero): a replayed job carries its replay time
// (job.HeaderReplayedAt), and only a cancel made after it applies to it.
func (c *cancels) canceledSince(id string, since time.Time) bool {
	if c == nil {
		return false
	}
	if c.count.Load() == 0 {
		return false
	}
	c.idsMu.RLock()
	at, ok := c.ids[job.SubjectToken(id)]
	c.idsMu.RUnlock()
	return ok && time.Since(at) < c.maxAge && at.After(since)
}

// replayedAt is when the job of info was replayed from its dead letter,
// zero if it was not (or the header cannot be read).
func replayedAt(info *job.Info) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, info.Header.Get(job.HeaderReplayedAt))
	return t
}

// confirm asks the bucket whether the cancel of id, known locally, still
// stands, before a job is dead-lettered for it: the record may have been
// deleted just now, and the watch may not have reported it yet. If the
// bucket cannot be read the local view stands.
func (c *cancels) confirm(id string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
	defer cancel()
	key := job.SubjectToken(id)
	_, err := c.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		c.remove(key)
		return false
	}
	return true
}

// canceledBeforeStart reports whether the job of info, about to start, was
// canceled (after its replay, if it was replayed): the local view,
// confirmed with the bucket (only for canceled jobs).
func (c *cancels) canceledBeforeStart(info *job.Info) bool {
	return c.canceled(info.ID) && c.canceledSince(info.ID, replayedAt(info)) && c.confirm(info.ID)
}

// track registers a starting job and returns its context, canceled with
// cause job.ErrCanceled if the job is canceled while it runs, and a token
// for untrack. It is safe on a nil receiver.
func (c *cancels) track(ctx context.Context, info *job.Info) (context.Context, uint64) {
	if c == nil {
		return ctx, 0
	}
	id := info.ID
	ctx, cancel := context.WithCancelCause(ctx)
	c.mu.Lock()
	c.next++
	n := c.next
	c.running[n] = trackedJob{key: job.SubjectToken(id), cancel: cancel}
	c.mu.Unlock()
	if c.canceled(id) && c.canceledSince(id, replayedAt(info)) {
		cancel(job.ErrCanceled) // canceled between the check before start and here
	}
	return ctx, n
}

// untrack unregisters the job of token n, whose handler returned err with
// ctx (both from track), and returns the error to settle the job with: that of a
// canceled job becomes a *job.CanceledError, so the job is dead-lettered and
// not retried. A handler that returns nil despite the cancel has done its
// work: the job succeeds.
func (c *cancels) untrack(ctx context.Context, n uint64, err error) error {
	if c == nil {
		return err
	}
	c.mu.Lock()
	r := c.running[n]
	delete(c.running, n)
	c.mu.Unlock()
	wasCanceled := errors.Is(context.Cause(ctx), job.ErrCanceled)
	r.cancel(nil)
	if wasCanceled && err != nil {
		// Declared here, not above: errors.As moves ce to the heap, and
		// every job would pay that allocation.
		var ce *job.CanceledError
		if !errors.As(err, &ce) {
			err = &job.CanceledError{Err: err}
		}
	}
	return err
}

// add records a cancel and cancels the running jobs it names. Expired
// cancels are dropped at most once a minute, so loading n recorded cancels
// costs O(n), not O(n²).
func (c *cancels) add(key string, at time.Time) {
	c.idsMu.Lock()
	c.ids[key] = at
	if now := time.Now(); now.Sub(c.swept) > time.Minute {
		for k, t := range c.ids {
			if now.Sub(t) >= c.maxAge {
				delete(c.ids, k)
			}
		}
		c.swept = now
	}
	c.count.Store(int64(len(c.ids)))
	c.idsMu.Unlock()

	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.running {
		if r.key == key {
			r.cancel(job.ErrCanceled)
		}
	}
}

// remove forgets a cancel whose record was deleted.
func (c *cancels) remove(key string) {
	c.idsMu.Lock()
	delete(c.ids, key)
	c.count.Store(int64(len(c.ids)))
	c.idsMu.Unlock()
}

// cancelWatch loads the recorded cancels and then follows the cancel bucket
// until stop, as a service. Without the bucket (Config.SkipTopology against
// a namespace set up by an older version) the pool runs without
// cancellation and says so; cancels is then nil.
type cancelWatch struct {
	js      jetstream.JetStream
	topo    job.Topology
	log     *slog.Logger
	cancels *cancels // set by start
	loops   loops
}

func (cw *cancelWatch) start(ctx context.Context) error {
	topo := cw.topo
	kv, err := cw.js.KeyValue(ctx, topo.CancelBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		cw.log.LogAttrs(ctx, slog.LevelWarn, "cancel bucket not found; jobs cannot be canceled by ID until a pool starts without SkipTopology",
			slog.String("bucket", topo.CancelBucket))
		return nil
	}
	if err != nil {
		return fmt.Errorf("jetjobs: cancel bucket %s: %w", topo.CancelBucket, err)
	}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	w, err := kv.WatchAll(watchCtx)
	if err != nil {
		stopWatch()
		return fmt.Errorf("jetjobs: watch cancel bucket %s: %w", topo.CancelBucket, err)
	}
	c := newCancels(kv, topo.CancelMaxAge)
	apply := func(e jetstream.KeyValueEntry) {
		if e.Operation() == jetstream.KeyValuePut {
			c.add(e.Key(), e.Created())
		} else {
			c.remove(e.Key())
		}
	}
	// The recorded cancels, up to the nil that ends them.
	for loaded := false; !loaded; {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				stopWatch()
				return fmt.Errorf("jetjobs: watch cancel bucket %s: the watch ended", topo.CancelBucket)
			}
			if e == nil {
				loaded = true
			} else {
				apply(e)
			}
		case <-ctx.Done():
			_ = w.Stop()
			stopWatch()
			return fmt.Errorf("jetjobs: load canceled jobs from %s: %w", topo.CancelBucket, ctx.Err())
		}
	}
	cw.cancels = c
	cw.loops.run(func(ctx context.Context) {
		defer stopWatch()
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e != nil {
					apply(e)
				}
			}
		}
	})
	return nil
}

func (cw *cancelWatch) stop() { cw.loops.stop() }
