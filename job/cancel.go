package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
)

// Cancellation works through a key-value bucket (Topology.CancelBucket):
// Cancel puts the job's ID there, and every worker pool watches the bucket.
// A pool keeps the canceled IDs in memory, so checking a job before it starts
// costs no round trip, and it cancels the context of a running job whose ID
// appears. A delayed or snoozed job waiting for its time is removed from the
// schedule stream at once.

// CancelResult is the outcome of Client.Cancel.
type CancelResult struct {
	// ID is the canceled job's ID.
	ID string
	// Unscheduled is true when the job was waiting for its time (delayed
	// with At or In, or snoozed) and that schedule was removed: it never
	// reaches a worker and leaves no dead letter.
	Unscheduled bool
}

// cancelRecord is the value stored under a canceled job's key.
type cancelRecord struct {
	ID         string    `json:"id"`
	CanceledAt time.Time `json:"canceled_at"`
}

// Cancel cancels the job with the given ID, wherever it is:
//
//   - pending in a queue: it never runs; the worker that receives it
//     dead-letters it with reason "canceled";
//   - running: its context is canceled with cause ErrCanceled
//     (context.Cause), and unless its handler still returns nil the job is
//     dead-lettered with reason "canceled" and not retried;
//   - delayed or snoozed: its schedule is removed (Unscheduled).
//
// The cancel is remembered for Topology.CancelMaxAge (24 hours by default):
// a job with this ID enqueued in that time is canceled too; the job that
// Replay publishes from the dead letter runs all the same (it carries its
// replay time, and only a later cancel applies to it). Canceling an unknown or finished
// job is not an error: nothing happens, except that a later job with the ID
// is canceled. A cancel that races with a job's start may let the handler
// begin; its context is then canceled as soon as the worker learns of it
// (milliseconds).
//
// Errors: ErrInvalidOption for an empty ID, ErrNoStream if the cancel
// bucket does not exist (run EnsureTopology), or the connection's error.
func (c *Client) Cancel(ctx context.Context, id string) (CancelResult, error) {
	if err := validateID(id); err != nil {
		return CancelResult{}, err
	}
	kv, err := c.cancelBucket(ctx)
	if err != nil {
		return CancelResult{}, err
	}
	rec, _ := json.Marshal(cancelRecord{ID: id, CanceledAt: time.Now().UTC()})
	if _, err := kv.Put(ctx, SubjectToken(id), rec); err != nil {
		return CancelResult{}, fmt.Errorf("jetjobs: record cancel of job %q: %w", id, err)
	}
	res := CancelResult{ID: id}
	_, err = c.js.Stream(ctx, c.topo.ScheduleStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return res, nil // no schedules on this server
	}
	if err != nil {
		return res, fmt.Errorf("jetjobs: schedule stream %s: %w", c.topo.ScheduleStream, err)
	}
	// The job's delayed schedule is on its at-subject; snoozes of it are
	// on subjects below that, one per snoozed message.
	var purged uint64
	for _, subject := range []string{c.topo.AtSubject(id), c.topo.AtSubject(id) + ".>"} {
		var resp struct {
			Purged uint64              `json:"purged"`
			Error  *jetstream.APIError `json:"error"`
		}
		req := struct {
			Filter string `json:"filter"`
		}{subject}
		if err := c.apiRequest(ctx, "STREAM.PURGE."+c.topo.ScheduleStream, req, &resp); err != nil {
			return res, fmt.Errorf("jetjobs: remove schedule of job %q: %w", id, err)
		}
		if resp.Error != nil {
			return res, fmt.Errorf("jetjobs: remove schedule of job %q: %w", id, resp.Error)
		}
		purged += resp.Purged
	}
	if purged == 0 {
		return res, nil
	}
	res.Unscheduled = true
	c.recordUnscheduled(ctx, id)
	return res, nil
}

// Canceled reports whether a cancel of the job with the given ID is
// recorded (and not yet expired or forgotten by a replay).
func (c *Client) Canceled(ctx context.Context, id string) (bool, error) {
	if err := validateID(id); err != nil {
		return false, err
	}
	kv, err := c.cancelBucket(ctx)
	if err != nil {
		return false, err
	}
	_, err = kv.Get(ctx, SubjectToken(id))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("jetjobs: read cancel of job %q: %w", id, err)
	}
	return true, nil
}

func (c *Client) cancelBucket(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := c.js.KeyValue(ctx, c.topo.CancelBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("%w: cancel bucket %s not found; run EnsureTopology or start a worker", ErrNoStream, c.topo.CancelBucket)
	}
	if err != nil {
		return nil, fmt.Errorf("jetjobs: cancel bucket %s: %w", c.topo.CancelBucket, err)
	}
	return kv, nil
}

func validateID(id string) error {
	// Header values lose surrounding whitespace on the wire, so such an ID
	// would reach the worker as another ID than the enqueuer was given.
	if id == "" || strings.ContainsAny(id, "\r\n") || len(id) > wire.MaxIDLen || strings.TrimSpace(id) != id {
		return fmt.Errorf("%w: job ID %q must be 1 to %d characters without line breaks or surrounding spaces", ErrInvalidOption, clip(id), wire.MaxIDLen)
	}
	// A job ID equal to the message ID of one of jetjobs' own copies of a
	// job would make the work stream drop that copy as a duplicate.
	if p := wire.ReservedIDPrefix(id); p != "" {
		return fmt.Errorf("%w: job ID %q: IDs starting with %q are reserved for the message IDs jetjobs gives its own copies of jobs", ErrInvalidOption, id, p)
	}
	return nil
}
