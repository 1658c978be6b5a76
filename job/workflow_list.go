package job

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/jetjobs/jetjobs/internal/wire"
)

// WorkflowSummary names a workflow the flow bucket holds.
type WorkflowSummary struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	// Tasks is the number of the workflow's tasks.
	Tasks int `json:"tasks"`
}

// Workflows returns the newest limit workflows of the flow bucket (all
// for limit <= 0), newest first, and how many older ones were left off:
// one read of each listed workflow's record, none of its tasks' states
// (Client.Workflow reads those).
//
// Errors: ErrFlowsUnsupported, the connection's error.
func (c *Client) Workflows(ctx context.Context, limit int) ([]WorkflowSummary, int, error) {
	ids, more, err := c.newestFlowKeys(ctx, wire.WorkflowKey(""), limit)
	if err != nil {
		return nil, 0, err
	}
	out := make([]WorkflowSummary, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fireParallelism)
	for i, id := range ids {
		g.Go(func() error {
			rec, err := c.workflowRecord(gctx, id)
			if errors.Is(err, ErrWorkflowNotFound) {
				return nil // deleted since it was listed
			}
			if err != nil {
				return err
			}
			out[i] = WorkflowSummary{ID: rec.ID, CreatedAt: rec.CreatedAt, Tasks: len(rec.Tasks)}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, 0, err
	}
	out = slices.DeleteFunc(out, func(s WorkflowSummary) bool { return s.ID == "" })
	slices.SortFunc(out, func(a, b WorkflowSummary) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, more, nil
}

// RecentBatches returns the progress of the newest limit batches (all for
// limit <= 0), newest first, and how many older ones were left off.
//
// Errors: ErrFlowsUnsupported, the connection's error.
func (c *Client) RecentBatches(ctx context.Context, limit int) ([]*BatchStatus, int, error) {
	ids, more, err := c.newestFlowKeys(ctx, wire.BatchKey(""), limit)
	if err != nil {
		return nil, 0, err
	}
	out := make([]*BatchStatus, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fireParallelism)
	for i, id := range ids {
		g.Go(func() error {
			st, err := c.Batch(gctx, id)
			if errors.Is(err, ErrBatchNotFound) {
				return nil
			}
			out[i] = st
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, 0, err
	}
	out = slices.DeleteFunc(out, func(s *BatchStatus) bool { return s == nil })
	slices.SortFunc(out, func(a, b *BatchStatus) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, more, nil
}

// newestFlowKeys lists the IDs of the records under prefix ("b." or "w.")
// and returns the last limit of them in the bucket's order, which is the
// order they were written: records are written once, when the batch or
// workflow is created.
func (c *Client) newestFlowKeys(ctx context.Context, prefix string, limit int) ([]string, int, error) {
	kv, _, err := c.flowHandles(ctx)
	if err != nil {
		return nil, 0, err
	}
	lister, err := kv.ListKeysFiltered(ctx, prefix+"*")
	if err != nil {
		return nil, 0, fmt.Errorf("jetjobs: list the flow bucket's %s records: %w", prefix, err)
	}
	var ids []string
	for key := range lister.Keys() {
		ids = append(ids, strings.TrimPrefix(key, prefix))
	}
	if limit <= 0 || len(ids) <= limit {
		return ids, 0, nil
	}
	return ids[len(ids)-limit:], len(ids) - limit, nil
}
