package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Worker presence: every worker pool publishes what it is and what it runs
// to the namespace's worker stream, <Stream>_WORKERS, on
// <Prefix>_workers.<queue>.<worker ID> for each queue it serves (a
// per-queue subject, so that a worker allowed to publish only under its
// queues can announce itself and cannot overwrite the entries of other
// queues' workers). The stream keeps one message per subject, and each
// message carries a TTL (the Nats-TTL header): a pool refreshes its entry
// every PresenceInterval, and a killed pool's entries vanish within
// PresenceTTL. A pool that stops cleanly replaces its entries with a
// "stopped" one of 1 second. See docs/protocol.md.

// Presence timing.
const (
	// PresenceInterval is how often a pool refreshes its presence at
	// least; it refreshes it within a second when its running jobs change.
	PresenceInterval = 5 * time.Second
	// PresenceTTL is how long a presence entry lives without a refresh.
	PresenceTTL = 15 * time.Second
	// presenceMaxAge bounds every entry, a backstop for servers that would
	// not apply per-message TTLs.
	presenceMaxAge = time.Hour
)

// WorkerStream is the name of the stream of worker presence:
// Stream + "_WORKERS".
func (t Topology) WorkerStream() string { return t.WithDefaults().Stream + "_WORKERS" }

// WorkerPrefix is the subject prefix of worker presence: Prefix + "_workers".
func (t Topology) WorkerPrefix() string { return t.WithDefaults().Prefix + "_workers" }

// WorkerSubject is the subject of worker id's presence for queue.
func (t Topology) WorkerSubject(queue, id string) string {
	return t.WorkerPrefix() + "." + queue + "." + SubjectToken(id)
}

// WorkerStreamConfig returns the configuration of the worker presence
// stream: one message per subject, per-message TTLs, an hour at most.
func (t Topology) WorkerStreamConfig() jetstream.StreamConfig {
	t = t.WithDefaults()
	return jetstream.StreamConfig{
		Name:              t.WorkerStream(),
		Description:       "jetjobs worker presence (protocol v1)",
		Subjects:          []string{t.WorkerPrefix() + ".>"},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		Storage:           jetstream.MemoryStorage, // presence is rebuilt within seconds
		Replicas:          t.Replicas,
		MaxMsgsPerSubject: 1,
		MaxAge:            presenceMaxAge,
		MaxMsgSize:        -1,
		MaxBytes:          -1,
		MaxMsgs:           -1,
		AllowMsgTTL:       true,
	}
}

// ensureWorkerStream creates the worker presence stream, or leaves an
// existing one as it is when it can serve (a stream with other subjects or
// without per-message TTLs is reported with ErrTopologyMismatch). Servers
// older than 2.11 have no per-message TTLs: there presence is left out.
func (t Topology) ensureWorkerStream(ctx context.Context, js jetstream.JetStream) error {
	if v := js.Conn().ConnectedServerVersion(); v != "" && !serverAtLeast(v, 2, 11) {
		return nil
	}
	want := t.WorkerStreamConfig()
	return ensureStream(ctx, js, want, func(have *jetstream.StreamConfig, want jetstream.StreamConfig) {
		have.Replicas = max(have.Replicas, 1)
	})
}

// WorkerInfo is what a worker pool publishes about itself.
type WorkerInfo struct {
	// ID identifies the pool; it is new at every start.
	ID string `json:"id"`
	// Host and PID of the process, and the jetjobs Version it runs.
	Host    string `json:"host"`
	PID     int    `json:"pid"`
	Version string `json:"version,omitempty"`
	// Queues are the queues the pool serves, and Kinds the kinds it has
	// handlers for (in every queue it serves).
	Queues []WorkerQueue `json:"queues"`
	Kinds  []string      `json:"kinds,omitempty"`
	// Running are the jobs it runs now (at most the first 100).
	Running []RunningJob `json:"running"`
	// StartedAt is when the pool started, LastSeen when it last published.
	StartedAt time.Time `json:"started_at"`
	LastSeen  time.Time `json:"last_seen"`
	// TTL is how long the entry lives without a refresh (in JSON:
	// ttl_seconds).
	TTL time.Duration `json:"-"`
	// Stopped marks the entry of a pool that stopped; Workers leaves such
	// entries out.
	Stopped bool `json:"stopped,omitempty"`
}

// workerJSON is WorkerInfo on the wire: the TTL in seconds.
type workerJSON struct {
	workerFields
	TTLSeconds float64 `json:"ttl_seconds"`
}

type workerFields WorkerInfo

// MarshalJSON encodes w as docs/protocol.md describes, the TTL in seconds.
func (w WorkerInfo) MarshalJSON() ([]byte, error) {
	return json.Marshal(workerJSON{workerFields: workerFields(w), TTLSeconds: w.TTL.Seconds()})
}

// UnmarshalJSON decodes a presence entry.
func (w *WorkerInfo) UnmarshalJSON(data []byte) error {
	var v workerJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*w = WorkerInfo(v.workerFields)
	w.TTL = time.Duration(v.TTLSeconds * float64(time.Second))
	return nil
}

// WorkerQueue is one queue a worker pool serves.
type WorkerQueue struct {
	Name string `json:"name"`
	// Concurrency is the jobs of the queue the pool runs at once at most;
	// Busy how many it runs now.
	Concurrency int `json:"concurrency"`
	Busy        int `json:"busy"`
}

// RunningJob is a job a worker runs now.
type RunningJob struct {
	ID    string `json:"id"`
	Queue string `json:"queue"`
	Kind  string `json:"kind"`
	// Seq is the job's sequence in the work stream, Attempt its attempt.
	Seq     uint64    `json:"seq"`
	Attempt int       `json:"attempt"`
	Since   time.Time `json:"since"`
}

// Slots is the sum of the concurrency of w's queues, and Busy of their
// running jobs.
func (w WorkerInfo) Slots() (slots, busy int) {
	for _, q := range w.Queues {
		slots += q.Concurrency
		busy += q.Busy
	}
	return slots, busy
}

// maxPresenceJobs bounds the running jobs a presence entry lists.
const maxPresenceJobs = 100

// PublishPresence publishes w as the presence of a worker pool, one entry
// for each of its queues, living for w.TTL (PresenceTTL when zero). Worker
// pools call it; it is exported for pools written in other code and for
// tests.
//
// Errors: ErrInvalidOption for an empty ID or no queue, ErrNoStream when
// the presence stream does not exist (run EnsureTopology), or the
// connection's error.
func (c *Client) PublishPresence(ctx context.Context, w WorkerInfo) error {
	if w.ID == "" || len(w.Queues) == 0 {
		return fmt.Errorf("%w: a presence needs an ID and at least one queue", ErrInvalidOption)
	}
	if w.TTL <= 0 {
		w.TTL = PresenceTTL
	}
	w.TTL = max(w.TTL.Truncate(time.Second), time.Second)
	if len(w.Running) > maxPresenceJobs {
		w.Running = w.Running[:maxPresenceJobs]
	}
	if w.LastSeen.IsZero() {
		w.LastSeen = time.Now()
	}
	data, err := json.Marshal(w)
	if err != nil {
		return fmt.Errorf("%w: presence: %w", ErrEncode, err)
	}
	for _, q := range w.Queues {
		msg := &nats.Msg{Subject: c.topo.WorkerSubject(q.Name, w.ID), Data: data}
		if _, err := c.js.PublishMsg(ctx, msg, jetstream.WithMsgTTL(w.TTL)); err != nil {
			if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
				return fmt.Errorf("%w: worker presence stream %s not found; run EnsureTopology (or start a worker without SkipTopology): %w", ErrNoStream, c.topo.WorkerStream(), err)
			}
			return fmt.Errorf("jetjobs: publish presence of worker %s: %w", w.ID, err)
		}
	}
	return nil
}

// Workers returns the live worker pools of the namespace, sorted by host,
// PID and ID: those whose presence was refreshed within its TTL and that
// did not stop. It reads one message per queue and worker, never jobs.
// Without a presence stream there are none.
//
// Errors: the connection's error.
func (c *Client) Workers(ctx context.Context) ([]WorkerInfo, error) {
	s, err := c.js.Stream(ctx, c.topo.WorkerStream())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jetjobs: worker stream %s: %w", c.topo.WorkerStream(), err)
	}
	total := s.CachedInfo().State.Msgs
	if total == 0 {
		return nil, nil
	}
	// An ephemeral consumer that delivers the last message of each subject,
	// deleted when done (or by the server a minute later).
	cons, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		FilterSubject:     c.topo.WorkerPrefix() + ".>",
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute,
		Replicas:          1,
		MemoryStorage:     true,
	})
	if err != nil {
		return nil, fmt.Errorf("jetjobs: read worker presence: %w", err)
	}
	defer func() { _ = s.DeleteConsumer(context.WithoutCancel(ctx), cons.CachedInfo().Name) }()
	pending := cons.CachedInfo().NumPending
	byID := map[string]WorkerInfo{}
	now := time.Now()
	for pending > 0 {
		batch, err := cons.FetchNoWait(int(min(pending, 500)))
		if err != nil {
			return nil, fmt.Errorf("jetjobs: read worker presence: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var w WorkerInfo
			if json.Unmarshal(m.Data(), &w) != nil || w.ID == "" {
				continue
			}
			if have, ok := byID[w.ID]; !ok || w.LastSeen.After(have.LastSeen) {
				byID[w.ID] = w
			}
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("jetjobs: read worker presence: %w", err)
		}
		if n == 0 {
			break // expired meanwhile
		}
		pending -= min(pending, uint64(n))
	}
	out := make([]WorkerInfo, 0, len(byID))
	for _, id := range slices.Sorted(maps.Keys(byID)) {
		w := byID[id]
		// The server removes an expired entry within a moment of its TTL;
		// one read in that moment must not show it.
		if w.Stopped || (w.TTL > 0 && now.Sub(w.LastSeen) > w.TTL+time.Second) {
			continue
		}
		out = append(out, w)
	}
	slices.SortStableFunc(out, func(a, b WorkerInfo) int {
		if a.Host != b.Host {
			return cmpString(a.Host, b.Host)
		}
		if a.PID != b.PID {
			return a.PID - b.PID
		}
		return cmpString(a.ID, b.ID)
	})
	return out, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
