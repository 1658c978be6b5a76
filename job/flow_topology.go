package job

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
)

// DefaultFlowMaxAge is how long a batch or workflow lives after its last
// change when Topology.FlowMaxAge does not say.
const DefaultFlowMaxAge = 30 * 24 * time.Hour

// Errors of batches and workflows.
var (
	// ErrFlowsUnsupported: batches and workflows need counter streams
	// (nats-server 2.12 or newer).
	ErrFlowsUnsupported = errors.New("jetjobs: the NATS server does not support counter streams, which batches and workflows need (nats-server 2.12 or newer)")
	// ErrBatchExists: a batch with this ID was already created.
	ErrBatchExists = errors.New("jetjobs: a batch with this ID exists")
	// ErrBatchNotFound: no batch with this ID (or it expired, FlowMaxAge).
	ErrBatchNotFound = errors.New("jetjobs: batch not found")
	// ErrWorkflowExists: a workflow with this ID was already started.
	ErrWorkflowExists = errors.New("jetjobs: a workflow with this ID exists")
	// ErrWorkflowNotFound: no workflow with this ID (or it expired).
	ErrWorkflowNotFound = errors.New("jetjobs: workflow not found")
	// ErrInvalidWorkflow: the workflow's declaration cannot run (a cycle,
	// an unknown dependency, a bad name); the error says what to change.
	ErrInvalidWorkflow = errors.New("jetjobs: invalid workflow")
	// ErrNotInBatch: AddToBatch was called outside a running job of a batch.
	ErrNotInBatch = errors.New("jetjobs: not a job of a batch")
)

func (t Topology) flowDefaults() Topology {
	if t.FlowBucket == "" {
		t.FlowBucket = t.Stream + "_FLOWS"
	}
	if t.CounterStream == "" {
		t.CounterStream = t.Stream + "_COUNTERS"
	}
	if t.CounterPrefix == "" {
		t.CounterPrefix = t.Prefix + "_count"
	}
	if t.FlowMaxAge == 0 {
		t.FlowMaxAge = DefaultFlowMaxAge
	}
	return t
}

// validateFlows checks the names of the flow bucket, counter stream and
// counter prefix of t (with defaults).
func (t Topology) validateFlows() error {
	switch {
	case wire.InvalidTokenChar(t.FlowBucket) >= 0:
		return fmt.Errorf("%w: Topology.FlowBucket %q: use only A-Z a-z 0-9 _ -", ErrInvalidOption, t.FlowBucket)
	case t.FlowBucket == t.StateBucket || t.FlowBucket == t.CancelBucket:
		return fmt.Errorf("%w: Topology.FlowBucket %q is also the state or cancel bucket; they must differ", ErrInvalidOption, t.FlowBucket)
	case strings.ContainsAny(t.CounterStream, ".*> \t\r\n"):
		return fmt.Errorf("%w: Topology.CounterStream %q must not contain '.', '*', '>' or spaces", ErrInvalidOption, t.CounterStream)
	case t.CounterStream == t.Stream || t.CounterStream == t.DeadLetterStream || t.CounterStream == t.ScheduleStream:
		return fmt.Errorf("%w: Topology.CounterStream %q is also another stream of the namespace; they must differ", ErrInvalidOption, t.CounterStream)
	case t.FlowMaxAge < 0:
		return fmt.Errorf("%w: Topology.FlowMaxAge must not be negative", ErrInvalidOption)
	}
	if err := ValidatePrefix(t.CounterPrefix); err != nil {
		return fmt.Errorf("Topology.CounterPrefix: %w", err)
	}
	for _, o := range []string{t.Prefix, t.DeadLetterPrefix, t.SchedulePrefix} {
		if o == t.CounterPrefix || strings.HasPrefix(o, t.CounterPrefix+".") || strings.HasPrefix(t.CounterPrefix, o+".") {
			return fmt.Errorf("%w: Topology.CounterPrefix %q overlaps the subject prefix %q; choose a disjoint one", ErrInvalidOption, t.CounterPrefix, o)
		}
	}
	return nil
}

// CounterStreamConfig returns the configuration of the stream of batch and
// workflow counters: a counter stream (each message's Nats-Incr is added by
// the server to the subject's value), one value per subject, deduplicated
// by message ID over the namespace's duplicate window.
func (t Topology) CounterStreamConfig() jetstream.StreamConfig {
	t = t.WithDefaults()
	return jetstream.StreamConfig{
		Name:              t.CounterStream,
		Description:       "jetjobs batch and workflow counters (protocol v1)",
		Subjects:          []string{t.CounterPrefix + ".>"},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		Storage:           t.storage(),
		Replicas:          t.Replicas,
		MaxAge:            t.FlowMaxAge,
		MaxMsgsPerSubject: 1,
		MaxMsgSize:        -1,
		MaxBytes:          -1,
		MaxMsgs:           -1,
		Duplicates:        t.DuplicateWindow,
		AllowMsgCounter:   true,
		AllowDirect:       true,
	}
}

// FlowBucketConfig returns the configuration of the key-value bucket of
// batch and workflow records and markers.
func (t Topology) FlowBucketConfig() jetstream.KeyValueConfig {
	t = t.WithDefaults()
	return jetstream.KeyValueConfig{
		Bucket:      t.FlowBucket,
		Description: "jetjobs batches and workflows (protocol v1)",
		History:     1,
		TTL:         t.FlowMaxAge,
		Storage:     t.storage(),
		Replicas:    t.Replicas,
	}
}

// SupportsFlows reports whether the connected server has counter streams,
// which batches and workflows need (nats-server 2.12 or newer).
func SupportsFlows(js jetstream.JetStream) bool {
	v := js.Conn().ConnectedServerVersion()
	return v == "" || serverAtLeast(v, 2, 12)
}

// ensureFlows creates the counter stream and the flow bucket on servers
// that have counters; older servers go without (batches and workflows then
// fail with ErrFlowsUnsupported).
func (t Topology) ensureFlows(ctx context.Context, js jetstream.JetStream) error {
	if !SupportsFlows(js) {
		return nil
	}
	if err := ensureStream(ctx, js, t.CounterStreamConfig(), func(*jetstream.StreamConfig, jetstream.StreamConfig) {}); err != nil {
		return err
	}
	if _, _, err := ensureBucket(ctx, js, t.FlowBucketConfig(), "flow"); err != nil {
		return err
	}
	return nil
}

// flowStore holds the handles of the flow bucket and counter stream, looked
// up on first use.
type flowStore struct {
	mu       sync.Mutex
	kv       jetstream.KeyValue
	counters jetstream.Stream

	defs   sync.Map     // task definition key -> cachedDef
	cached atomic.Int64 // definitions stored in defs since it was cleared
}

// flowHandles returns the flow bucket and the counter stream.
func (c *Client) flowHandles(ctx context.Context) (jetstream.KeyValue, jetstream.Stream, error) {
	c.flows.mu.Lock()
	defer c.flows.mu.Unlock()
	if c.flows.kv != nil {
		return c.flows.kv, c.flows.counters, nil
	}
	if !SupportsFlows(c.js) {
		return nil, nil, fmt.Errorf("%w (connected to %s)", ErrFlowsUnsupported, c.js.Conn().ConnectedServerVersion())
	}
	kv, err := c.js.KeyValue(ctx, c.topo.FlowBucket)
	if err != nil {
		return nil, nil, fmt.Errorf("jetjobs: flow bucket %s: %w; run EnsureTopology or start a worker pool", c.topo.FlowBucket, err)
	}
	s, err := c.js.Stream(ctx, c.topo.CounterStream)
	if err != nil {
		return nil, nil, fmt.Errorf("jetjobs: counter stream %s: %w; run EnsureTopology or start a worker pool", c.topo.CounterStream, err)
	}
	c.flows.kv, c.flows.counters = kv, s
	return kv, s, nil
}
