package job

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
)

// Defaults of Topology.
const (
	DefaultStream = "JOBS"
	DefaultPrefix = "jobs"
	// DefaultMaxMsgSize is the server's default max_payload (1 MiB) less
	// the headers a dead letter adds, so that every job the work stream
	// accepts can be dead-lettered.
	DefaultMaxMsgSize       = 1<<20 - wire.DeadLetterHeadroom
	DefaultDuplicateWindow  = 2 * time.Minute
	DefaultDeadLetterMaxAge = 30 * 24 * time.Hour
	DefaultCancelMaxAge     = 24 * time.Hour
)

// Topology names and sizes the streams of one jetjobs namespace. The zero
// value is the default namespace: stream JOBS on jobs.>, dead letters in
// JOBS_DLQ on jobs_dlq.>. Workers and clients of one namespace must agree on
// Stream, Prefix and the dead-letter names. The other settings are used when
// Ensure creates a stream; on an existing stream Ensure applies only those
// set (non-zero), so a process with defaults never undoes an operator's or
// another process's choice (Replicas 3, limits).
type Topology struct {
	// Stream is the work stream's name; default "JOBS".
	Stream string
	// Prefix is the first token(s) of job subjects; default "jobs".
	Prefix string
	// DeadLetterStream defaults to Stream + "_DLQ".
	DeadLetterStream string
	// DeadLetterPrefix defaults to Prefix + "_dlq".
	DeadLetterPrefix string
	// ScheduleStream holds delayed and periodic jobs until the server fires
	// them; default Stream + "_SCHEDULES". It is separate from the work
	// stream because the server allows message schedules only on streams
	// that discard old messages when full, and the work stream must refuse
	// new jobs instead (DiscardNew).
	ScheduleStream string
	// SchedulePrefix defaults to Prefix + "_sched".
	SchedulePrefix string
	// CancelBucket is the key-value bucket that records canceled job IDs
	// (see Client.Cancel); default Stream + "_CANCELED".
	CancelBucket string
	// StateBucket is the key-value bucket that keeps the state and result
	// of jobs that ask for it (KeepResult); default Stream + "_STATE". Each
	// record expires on its own TTL; see docs/results.md.
	StateBucket string
	// FlowBucket is the key-value bucket of batches and workflows (their
	// records, task definitions and markers); default Stream + "_FLOWS".
	FlowBucket string
	// CounterStream holds the counters of batches and workflows (a counter
	// stream, nats-server 2.12); default Stream + "_COUNTERS", on subjects
	// CounterPrefix.>, default Prefix + "_count".
	CounterStream string
	CounterPrefix string
	// FlowMaxAge bounds how long a batch or workflow may live: its records
	// and counters are dropped this long after their last change; default
	// 30 days.
	FlowMaxAge time.Duration
	// CancelMaxAge is how long a cancel is remembered; default 24 hours. A
	// canceled job that reaches a worker later than this runs after all,
	// and a new job with the same ID enqueued within it is canceled too.
	CancelMaxAge time.Duration
	// Replicas of both streams; default 1. Use 3 on a cluster for jobs that
	// must survive the loss of a server.
	Replicas int
	// MaxAge drops jobs older than this from the work stream; zero keeps
	// them until they are worked.
	MaxAge time.Duration
	// MaxBytes and MaxMsgs bound the work stream; zero means unlimited. A
	// full stream refuses new jobs with ErrQueueFull.
	MaxBytes int64
	MaxMsgs  int64
	// MaxMsgSize bounds one job's encoded payload plus headers; default
	// DefaultMaxMsgSize. Ensure keeps the work stream's limit at most the
	// server's max_payload less the headers a dead letter adds (4 KiB): a
	// larger job could never be dead-lettered.
	MaxMsgSize int32
	// DuplicateWindow is how long job IDs are remembered for deduplication;
	// default 2 minutes.
	DuplicateWindow time.Duration
	// DeadLetterMaxAge is how long dead letters are kept; default 30 days.
	DeadLetterMaxAge time.Duration
	// MemoryStorage keeps both streams in memory instead of on disk (tests
	// and benchmarks only: a server restart loses every job).
	MemoryStorage bool
	// SequencePartitions is how many partitions the work stream hashes
	// sequence keys into (see Sequence and docs/sequences.md): jobs of
	// keys in different partitions run in parallel, keys sharing one wait
	// for each other. Zero keeps an existing stream's count, and creates a
	// stream with DefaultSequencePartitions (16); 1 to 256.
	SequencePartitions int
}

// WithDefaults returns t with every zero field set to its default.
func (t Topology) WithDefaults() Topology {
	if t.Stream == "" {
		t.Stream = DefaultStream
	}
	if t.Prefix == "" {
		t.Prefix = DefaultPrefix
	}
	if t.DeadLetterStream == "" {
		t.DeadLetterStream = t.Stream + "_DLQ"
	}
	if t.DeadLetterPrefix == "" {
		t.DeadLetterPrefix = t.Prefix + "_dlq"
	}
	if t.ScheduleStream == "" {
		t.ScheduleStream = t.Stream + "_SCHEDULES"
	}
	if t.SchedulePrefix == "" {
		t.SchedulePrefix = t.Prefix + "_sched"
	}
	if t.CancelBucket == "" {
		t.CancelBucket = t.Stream + "_CANCELED"
	}
	if t.StateBucket == "" {
		t.StateBucket = t.Stream + "_STATE"
	}
	if t.CancelMaxAge == 0 {
		t.CancelMaxAge = DefaultCancelMaxAge
	}
	t = t.flowDefaults()
	if t.Replicas == 0 {
		t.Replicas = 1
	}
	if t.MaxMsgSize == 0 {
		t.MaxMsgSize = DefaultMaxMsgSize
	}
	if t.DuplicateWindow == 0 {
		t.DuplicateWindow = DefaultDuplicateWindow
	}
	if t.DeadLetterMaxAge == 0 {
		t.DeadLetterMaxAge = DefaultDeadLetterMaxAge
	}
	if t.SequencePartitions == 0 {
		t.SequencePartitions = DefaultSequencePartitions
	}
	return t
}

// Validate reports the first setting of t (after defaults) that cannot work.
func (t Topology) Validate() error {
	t = t.WithDefaults()
	names := []struct{ what, name string }{{"Stream", t.Stream}, {"DeadLetterStream", t.DeadLetterStream}, {"ScheduleStream", t.ScheduleStream}}
	for i, s := range names {
		if strings.ContainsAny(s.name, ".*> \t\r\n") {
			return fmt.Errorf("%w: Topology.%s %q must not contain '.', '*', '>' or spaces", ErrInvalidOption, s.what, s.name)
		}
		for _, o := range names[:i] {
			if o.name == s.name {
				return fmt.Errorf("%w: Topology.%s and %s are both %q; they must differ", ErrInvalidOption, o.what, s.what, s.name)
			}
		}
	}
	prefixes := []struct{ what, name string }{{"Prefix", t.Prefix}, {"DeadLetterPrefix", t.DeadLetterPrefix}, {"SchedulePrefix", t.SchedulePrefix}}
	for i, p := range prefixes {
		if err := ValidatePrefix(p.name); err != nil {
			return fmt.Errorf("Topology.%s: %w", p.what, err)
		}
		for _, o := range prefixes[:i] {
			if o.name == p.name || strings.HasPrefix(o.name, p.name+".") || strings.HasPrefix(p.name, o.name+".") {
				return fmt.Errorf("%w: Topology.%s %q and %s %q overlap; choose disjoint prefixes", ErrInvalidOption, o.what, o.name, p.what, p.name)
			}
		}
	}
	switch {
	case t.Replicas < 1 || t.Replicas > 5:
		return fmt.Errorf("%w: Topology.Replicas is %d; use 1 to 5 (3 on a cluster)", ErrInvalidOption, t.Replicas)
	case t.MaxMsgSize < 0:
		return fmt.Errorf("%w: Topology.MaxMsgSize is %d; use a positive size in bytes", ErrInvalidOption, t.MaxMsgSize)
	case wire.InvalidTokenChar(t.CancelBucket) >= 0:
		return fmt.Errorf("%w: Topology.CancelBucket %q: use only A-Z a-z 0-9 _ -", ErrInvalidOption, t.CancelBucket)
	case wire.InvalidTokenChar(t.StateBucket) >= 0:
		return fmt.Errorf("%w: Topology.StateBucket %q: use only A-Z a-z 0-9 _ -", ErrInvalidOption, t.StateBucket)
	case t.StateBucket == t.CancelBucket:
		return fmt.Errorf("%w: Topology.StateBucket and CancelBucket are both %q; they must differ", ErrInvalidOption, t.StateBucket)
	case t.MaxAge < 0, t.DuplicateWindow < 0, t.DeadLetterMaxAge < 0, t.CancelMaxAge < 0:
		return fmt.Errorf("%w: Topology durations must not be negative", ErrInvalidOption)
	case t.MaxAge > 0 && t.DuplicateWindow > t.MaxAge:
		return fmt.Errorf("%w: Topology.DuplicateWindow %s exceeds MaxAge %s; shorten it", ErrInvalidOption, t.DuplicateWindow, t.MaxAge)
	case t.DeadLetterMaxAge > 0 && t.DuplicateWindow > t.DeadLetterMaxAge:
		return fmt.Errorf("%w: Topology.DeadLetterMaxAge %s is shorter than the DuplicateWindow %s (the dead-letter stream dedupes over the same window); keep dead letters longer or shorten the window", ErrInvalidOption, t.DeadLetterMaxAge, t.DuplicateWindow)
	case t.MaxBytes < 0, t.MaxMsgs < 0:
		return fmt.Errorf("%w: Topology.MaxBytes and MaxMsgs must not be negative (zero means unlimited)", ErrInvalidOption)
	case t.SequencePartitions != 0 && wire.ValidatePartitions(t.SequencePartitions) != nil:
		return fmt.Errorf("%w: Topology.SequencePartitions is %d; use 1 to %d (zero for the default, %d)", ErrInvalidOption, t.SequencePartitions, wire.MaxPartitions, DefaultSequencePartitions)
	}
	return t.validateFlows()
}

// StreamConfig returns the work stream's configuration.
func (t Topology) StreamConfig() jetstream.StreamConfig {
	t = t.WithDefaults()
	return jetstream.StreamConfig{
		Name:        t.Stream,
		Description: "jetjobs work queue (protocol v1)",
		Subjects:    []string{t.Prefix + ".>"},
		Retention:   jetstream.WorkQueuePolicy,
		Discard:     jetstream.DiscardNew,
		Storage:     t.storage(),
		Replicas:    t.Replicas,
		MaxAge:      t.MaxAge,
		MaxBytes:    orUnlimited(t.MaxBytes),
		MaxMsgs:     orUnlimited(t.MaxMsgs),
		MaxMsgSize:  t.MaxMsgSize,
		Duplicates:  t.DuplicateWindow,
		// Sequence jobs are stored under their partition (sequence.go).
		SubjectTransform: t.sequenceTransform(),
	}
}

// ScheduleStreamConfig returns the configuration of the stream that holds
// schedules (needs nats-server 2.12). Schedules wait on
// <SchedulePrefix>.at.<id> (one-shot) and <SchedulePrefix>.cron.<name>
// (periodic); the server fires each as a copy on
// <SchedulePrefix>.fire.<queue>.<kind>, which worker pools move into the work
// stream.
func (t Topology) ScheduleStreamConfig() jetstream.StreamConfig {
	t = t.WithDefaults()
	return jetstream.StreamConfig{
		Name:              t.ScheduleStream,
		Description:       "jetjobs schedules (protocol v1)",
		Subjects:          []string{t.SchedulePrefix + ".>"},
		Retention:         jetstream.WorkQueuePolicy,
		Discard:           jetstream.DiscardOld,
		Storage:           t.storage(),
		Replicas:          t.Replicas,
		MaxMsgSize:        t.MaxMsgSize,
		MaxBytes:          -1,
		MaxMsgs:           -1,
		Duplicates:        t.DuplicateWindow,
		AllowMsgSchedules: true,
		AllowRollup:       true,
	}
}

// DeadLetterStreamConfig returns the dead-letter stream's configuration.
func (t Topology) DeadLetterStreamConfig() jetstream.StreamConfig {
	t = t.WithDefaults()
	return jetstream.StreamConfig{
		Name:        t.DeadLetterStream,
		Description: "jetjobs dead letters (protocol v1)",
		Subjects:    []string{t.DeadLetterPrefix + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Storage:     t.storage(),
		Replicas:    t.Replicas,
		MaxAge:      t.DeadLetterMaxAge,
		MaxMsgSize:  -1,
		MaxBytes:    -1,
		MaxMsgs:     -1,
		Duplicates:  t.DuplicateWindow,
	}
}

func (t Topology) storage() jetstream.StorageType {
	if t.MemoryStorage {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

func orUnlimited(n int64) int64 {
	if n == 0 {
		return -1
	}
	return n
}

// Ensure creates the work, dead-letter, schedule and worker presence
// streams and the cancel and state buckets (the state bucket and the
// presence stream on nats-server 2.11 or newer, which has per-message
// TTLs), or brings existing ones in line with the settings t sets
// explicitly (zero fields leave an existing stream's values alone). It never
// changes what would lose jobs or alter their meaning: an existing stream
// with another retention policy, storage type, discard policy or subjects is
// reported with ErrTopologyMismatch and left as it is. The schedule stream is
// left out on servers older than 2.12. Ensure is idempotent and safe to call
// from many processes at once.
func (t Topology) Ensure(ctx context.Context, js jetstream.JetStream) error {
	if err := t.Validate(); err != nil {
		return err
	}
	set := t // before defaults: what the caller asked for explicitly
	t = t.WithDefaults()
	work := t.StreamConfig()
	apply := set.settings(set.MaxAge)
	if limit := js.Conn().MaxPayload() - wire.DeadLetterHeadroom; limit > 0 {
		// Every job the work stream accepts must fit, with the headers its
		// dead letter adds, under the server's max_payload: applied to an
		// existing stream too, whose larger limit is a trap, not a choice.
		work.MaxMsgSize = int32(min(int64(work.MaxMsgSize), limit))
		apply = func(have *jetstream.StreamConfig, want jetstream.StreamConfig) {
			set.settings(set.MaxAge)(have, want)
			if have.MaxMsgSize <= 0 || int64(have.MaxMsgSize) > limit {
				have.MaxMsgSize = int32(limit)
			}
		}
	}
	// A new work stream starts its sequences at the time of its creation in
	// microseconds: a job enqueued without an ID header is known by its
	// sequence (JOBS-<seq>), and a stream deleted and made again must not
	// give a new job the ID of one that ran before (handlers deduplicate by
	// ID). Applied only when the stream is created.
	work.FirstSeq = firstSequence(time.Now())
	if err := ensureStream(ctx, js, work, apply); err != nil {
		return err
	}
	if err := t.ensureSequences(ctx, js, set); err != nil {
		return err
	}
	if err := ensureStream(ctx, js, t.DeadLetterStreamConfig(), set.settings(set.DeadLetterMaxAge)); err != nil {
		return err
	}
	if err := t.ensureCancelBucket(ctx, js, set); err != nil {
		return err
	}
	if err := t.ensureStateBucket(ctx, js, set); err != nil {
		return err
	}
	if err := t.ensureWorkerStream(ctx, js); err != nil {
		return err
	}
	if err := t.ensureFlows(ctx, js); err != nil {
		return err
	}
	if !SupportsSchedules(js, false) {
		return nil // delayed jobs then fail with ErrSchedulingUnsupported
	}
	return ensureStream(ctx, js, t.ScheduleStreamConfig(), set.settings(0))
}

// settings returns the function that copies onto an existing stream's
// configuration the settings t sets explicitly (non-zero), maxAge being the
// age setting of the stream at hand. Zero fields leave the existing values
// alone: a process started with defaults must not undo what an operator or
// another process configured, such as Replicas 3 on a cluster.
func (t Topology) settings(maxAge time.Duration) func(have *jetstream.StreamConfig, want jetstream.StreamConfig) {
	return func(have *jetstream.StreamConfig, want jetstream.StreamConfig) {
		if t.Replicas != 0 {
			have.Replicas = want.Replicas
		}
		if maxAge != 0 {
			have.MaxAge = want.MaxAge
		}
		if t.MaxBytes != 0 && want.MaxBytes != -1 {
			have.MaxBytes = want.MaxBytes
		}
		if t.MaxMsgs != 0 && want.MaxMsgs != -1 {
			have.MaxMsgs = want.MaxMsgs
		}
		if t.MaxMsgSize != 0 && want.MaxMsgSize > 0 {
			have.MaxMsgSize = want.MaxMsgSize
		}
		if t.DuplicateWindow != 0 {
			have.Duplicates = want.Duplicates
		}
	}
}

// firstSequence is the first sequence of a work stream created at now.
func firstSequence(now time.Time) uint64 { return uint64(now.UnixMicro()) }

func ensureStream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig, apply func(have *jetstream.StreamConfig, want jetstream.StreamConfig)) error {
	s, err := js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateStream(ctx, want)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			// Another process created it first; check it like any other.
			s, err = js.Stream(ctx, want.Name)
		} else if err != nil {
			return fmt.Errorf("jetjobs: create stream %s: %w", want.Name, err)
		} else {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("jetjobs: look up stream %s: %w", want.Name, err)
	}
	have := s.CachedInfo().Config
	if err := compatible(have, want); err != nil {
		return err
	}
	upd := have
	apply(&upd, want)
	if !tunablesDiffer(have, upd) {
		return nil
	}
	if _, err := js.UpdateStream(ctx, upd); err != nil {
		return fmt.Errorf("jetjobs: update stream %s settings: %w", want.Name, err)
	}
	return nil
}

func compatible(have, want jetstream.StreamConfig) error {
	var bad []string
	if have.Retention != want.Retention {
		bad = append(bad, fmt.Sprintf("retention is %s, want %s", have.Retention, want.Retention))
	}
	if have.Storage != want.Storage {
		bad = append(bad, fmt.Sprintf("storage is %s, want %s", have.Storage, want.Storage))
	}
	if have.Discard != want.Discard {
		bad = append(bad, fmt.Sprintf("discard policy is %s, want %s", have.Discard, want.Discard))
	}
	if !slices.Equal(have.Subjects, want.Subjects) {
		bad = append(bad, fmt.Sprintf("subjects are %v, want %v", have.Subjects, want.Subjects))
	}
	if want.AllowMsgSchedules && !have.AllowMsgSchedules {
		bad = append(bad, "message schedules are not allowed (AllowMsgSchedules)")
	}
	if want.AllowRollup && !have.AllowRollup {
		bad = append(bad, "rollups are not allowed (AllowRollup)")
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%w: stream %s: %s; delete or rename the stream, or point jetjobs at another namespace (Topology.Stream and Prefix)",
		ErrTopologyMismatch, want.Name, strings.Join(bad, "; "))
}

func tunablesDiffer(have, want jetstream.StreamConfig) bool {
	return have.MaxAge != want.MaxAge || have.MaxBytes != want.MaxBytes || have.MaxMsgs != want.MaxMsgs ||
		have.MaxMsgSize != want.MaxMsgSize || have.Duplicates != want.Duplicates || have.Replicas != want.Replicas
}

// SupportsSchedules reports whether the connected server supports message
// schedules: "@at" from nats-server 2.12, "@every" and cron (periodic) from
// 2.14.
func SupportsSchedules(js jetstream.JetStream, periodic bool) bool {
	minor := 12
	if periodic {
		minor = 14
	}
	v := js.Conn().ConnectedServerVersion()
	if v == "" {
		// Not connected (reconnecting): unknown, not too old. What is sent
		// waits for the connection, and a server without schedules refuses
		// it with an error of its own.
		return true
	}
	return serverAtLeast(v, 2, minor)
}

// serverAtLeast reports whether version ("2.12.1", "v2.14.0-beta") is at
// least major.minor.
func serverAtLeast(version string, major, minor int) bool {
	version = strings.TrimPrefix(version, "v")
	var ma, mi int
	if _, err := fmt.Sscanf(version, "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}

// AtSubject is the subject of the one-shot schedule of job id.
func (t Topology) AtSubject(id string) string {
	return wire.AtSubject(t.WithDefaults().SchedulePrefix, id)
}

// FireSubject is where the server fires scheduled jobs of queue and kind;
// worker pools move them to Subject(Prefix, queue, kind).
func (t Topology) FireSubject(queue, kind string) string {
	return wire.FireSubject(t.WithDefaults().SchedulePrefix, queue, kind)
}

// CronSubject is the subject of the periodic schedule named name.
func (t Topology) CronSubject(name string) string {
	return wire.CronSubject(t.WithDefaults().SchedulePrefix, name)
}

// CancelBucketConfig returns the configuration of the key-value bucket that
// records canceled job IDs: one key per ID (SubjectToken of it), kept for
// CancelMaxAge.
func (t Topology) CancelBucketConfig() jetstream.KeyValueConfig {
	t = t.WithDefaults()
	return jetstream.KeyValueConfig{
		Bucket:      t.CancelBucket,
		Description: "jetjobs canceled job IDs (protocol v1)",
		History:     1,
		TTL:         t.CancelMaxAge,
		Storage:     t.storage(),
		Replicas:    t.Replicas,
	}
}

func (t Topology) ensureCancelBucket(ctx context.Context, js jetstream.JetStream, set Topology) error {
	want := t.CancelBucketConfig()
	have, created, err := ensureBucket(ctx, js, want, "cancel")
	if err != nil || created {
		return err
	}
	// Only settings given explicitly change an existing bucket, as with the
	// streams.
	if set.CancelMaxAge == 0 {
		want.TTL = have.MaxAge
	}
	if set.Replicas == 0 {
		want.Replicas = have.Replicas
	}
	if have.MaxAge == want.TTL && have.Replicas == want.Replicas {
		return nil
	}
	if _, err := js.UpdateKeyValue(ctx, want); err != nil {
		return fmt.Errorf("jetjobs: update cancel bucket %s settings: %w", want.Bucket, err)
	}
	return nil
}

// ensureBucket creates the key-value bucket want (what names it in errors)
// if it does not exist and returns created; otherwise, also when another
// process created it first, it returns the configuration of the bucket's
// stream as it is.
func ensureBucket(ctx context.Context, js jetstream.JetStream, want jetstream.KeyValueConfig, what string) (have jetstream.StreamConfig, created bool, err error) {
	_, err = js.KeyValue(ctx, want.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		_, err = js.CreateKeyValue(ctx, want)
		if err == nil {
			return have, true, nil
		}
		if !errors.Is(err, jetstream.ErrBucketExists) {
			return have, false, fmt.Errorf("jetjobs: create %s bucket %s: %w", what, want.Bucket, err)
		}
		// Another process created it first: check it like an existing one.
	} else if err != nil {
		return have, false, fmt.Errorf("jetjobs: look up %s bucket %s: %w", what, want.Bucket, err)
	}
	s, err := js.Stream(ctx, wire.KVStream(want.Bucket))
	if err != nil {
		return have, false, fmt.Errorf("jetjobs: %s bucket %s: %w", what, want.Bucket, err)
	}
	return s.CachedInfo().Config, false, nil
}

// stateMarkerTTL is how long the state bucket keeps the marker the server
// leaves where a record expired: long enough for a waiter to learn that
// the state it watched is gone.
const stateMarkerTTL = time.Minute

// StateBucketConfig returns the configuration of the key-value bucket that
// keeps job states: one key per job ID (SubjectToken of it), history 1,
// every record with its own TTL (Nats-TTL) and no age limit of the bucket's.
func (t Topology) StateBucketConfig() jetstream.KeyValueConfig {
	t = t.WithDefaults()
	return jetstream.KeyValueConfig{
		Bucket:         t.StateBucket,
		Description:    "jetjobs job states and results (protocol v1)",
		History:        1,
		LimitMarkerTTL: stateMarkerTTL,
		Storage:        t.storage(),
		Replicas:       t.Replicas,
	}
}

// SupportsState reports whether the connected server keeps per-message
// TTLs, which job states need (nats-server 2.11 or newer).
func SupportsState(js jetstream.JetStream) bool {
	v := js.Conn().ConnectedServerVersion()
	return v == "" || serverAtLeast(v, 2, 11)
}

func (t Topology) ensureStateBucket(ctx context.Context, js jetstream.JetStream, set Topology) error {
	if !SupportsState(js) {
		return nil // KeepResult then fails with ErrStateUnsupported
	}
	want := t.StateBucketConfig()
	have, created, err := ensureBucket(ctx, js, want, "state")
	if err != nil || created {
		return err
	}
	if !have.AllowMsgTTL {
		return fmt.Errorf("%w: state bucket %s does not allow per-message TTLs; delete it (its records are disposable) and let jetjobs create it again", ErrTopologyMismatch, want.Bucket)
	}
	if set.Replicas == 0 || have.Replicas == want.Replicas {
		return nil
	}
	have.Replicas = want.Replicas
	if _, err := js.UpdateStream(ctx, have); err != nil {
		return fmt.Errorf("jetjobs: update state bucket %s settings: %w", want.Bucket, err)
	}
	return nil
}
