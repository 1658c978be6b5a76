package job

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones are checked the same on machines without zoneinfo

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
)

// Periodic jobs are server message schedules (nats-server 2.14 or newer):
// one message per schedule on <SchedulePrefix>.cron.<name> in the schedule
// stream, with Nats-Schedule set to the spec. The server fires a copy to
// <SchedulePrefix>.fire.<queue>.<kind> each period and worker pools move it
// into the work stream, so no worker needs to be a leader and a schedule
// fires once per period however many workers run. Declaring a schedule
// replaces the message on its subject (the server rolls the subject up), so
// declaring is an upsert by name.

// Schedule is a periodic job: every time Spec says, a job of Kind with Args
// is enqueued. Declare it with Client.DeclareSchedule.
type Schedule struct {
	// Name identifies the schedule: one token of A-Z a-z 0-9 _ -. Declaring
	// another schedule with the same name replaces it.
	Name string
	// Spec says when the schedule fires, in whole seconds:
	//
	//   - "@every <duration>", a Go duration of at least 1s ("@every 15m");
	//   - a cron expression of 6 fields, the first being the second:
	//     "second minute hour day-of-month month day-of-week", such as
	//     "0 30 9 * * 1-5" (09:30:00 on weekdays);
	//   - a preset: @hourly, @daily (or @midnight), @weekly, @monthly,
	//     @yearly (or @annually).
	Spec string
	// TimeZone is the IANA time zone ("Europe/Berlin") in which cron
	// expressions and presets are read; empty means UTC. It is refused with
	// @every, which does not depend on a zone.
	TimeZone string
	// Kind and Args are the job each firing enqueues; Args is encoded as by
	// Client.Enqueue.
	Kind string
	Args any
	// Options apply to every fired job: Queue, MaxAttempts, Timeout and
	// Header. ID, Unique, At, In and Deadline are refused: each firing is a
	// new job with an ID of its own, "<name>-<n>".
	Options []Option
}

// ScheduleInfo is a periodic schedule as stored on the server.
type ScheduleInfo struct {
	Name     string
	Spec     string
	TimeZone string
	Queue    string
	Kind     string
	// Payload is the encoded arguments of every fired job.
	Payload []byte
	// MaxAttempts and Timeout are the fired jobs' limits; zero means the
	// worker's defaults.
	MaxAttempts int
	Timeout     time.Duration
	// Header holds every header of the schedule message.
	Header nats.Header
	// DeclaredAt is when the schedule was last declared with a change.
	DeclaredAt time.Time
	// Seq is the schedule message's sequence in the schedule stream.
	Seq uint64
}

// cronPresets are the presets the server knows.
var cronPresets = []string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}

// normalizeSpec checks spec and tz as far as the client can and returns
// spec with its spaces normalized. The server checks the cron fields.
func normalizeSpec(spec, tz string) (string, error) {
	spec = strings.Join(strings.Fields(spec), " ")
	if tz != "" {
		if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
			return "", fmt.Errorf("%w: time zone %q: use an IANA name such as Europe/Berlin or America/New_York", ErrInvalidOption, tz)
		}
	}
	switch {
	case spec == "":
		return "", fmt.Errorf("%w: schedule spec is empty; use \"@every 1h\", a 6-field cron expression or a preset such as @daily", ErrInvalidOption)
	case strings.HasPrefix(spec, "@at"):
		return "", fmt.Errorf("%w: schedule spec %q: for a one-shot job enqueue it with job.At", ErrInvalidOption, spec)
	case strings.HasPrefix(spec, "@every"):
		d, err := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(spec, "@every")))
		if err == nil && !strings.HasPrefix(spec, "@every ") {
			spec = "@every " + strings.TrimPrefix(spec, "@every") // the server needs the space
		}
		if err != nil || d < time.Second {
			return "", fmt.Errorf("%w: schedule spec %q: use \"@every\" and a Go duration of at least 1s, such as \"@every 90s\"", ErrInvalidOption, spec)
		}
		if tz != "" {
			return "", fmt.Errorf("%w: schedule spec %q: a time zone applies only to cron expressions and presets, not to @every", ErrInvalidOption, spec)
		}
		return spec, nil
	case strings.HasPrefix(spec, "@"):
		if !slices.Contains(cronPresets, spec) {
			return "", fmt.Errorf("%w: schedule spec %q: unknown preset; use one of %s, or @every", ErrInvalidOption, spec, strings.Join(cronPresets, " "))
		}
		return spec, nil
	}
	switch n := len(strings.Fields(spec)); n {
	case 6:
		return spec, nil
	case 5:
		return "", fmt.Errorf("%w: cron expression %q has 5 fields; jetjobs uses 6, starting with the second (\"second minute hour day-of-month month day-of-week\"): write \"0 %s\"", ErrInvalidOption, spec, spec)
	default:
		return "", fmt.Errorf("%w: cron expression %q has %d fields; use 6: second minute hour day-of-month month day-of-week", ErrInvalidOption, spec, n)
	}
}

// validateScheduleName checks a schedule's name: one subject token.
func validateScheduleName(name string) error {
	if name == "" || wire.InvalidTokenChar(name) >= 0 || len(name) > wire.MaxScheduleNameLen {
		return fmt.Errorf("%w: schedule name %q: use one token of A-Z a-z 0-9 _ -, at most %d characters", ErrInvalidName, clip(name), wire.MaxScheduleNameLen)
	}
	return nil
}

// Validate checks s as DeclareSchedule does, without a client or a
// connection: its name, spec, time zone, kind, arguments and options. The
// size limits, which depend on the server, and the cron fields, which the
// server reads, are left to DeclareSchedule. Tools call it to refuse bad
// input before connecting.
//
// Errors: ErrInvalidName, ErrInvalidOption, ErrEncode.
func (s Schedule) Validate() error {
	_, _, _, err := s.check("")
	return err
}

// check validates s and returns its normalized spec, its options (queue,
// unless an option sets it) and its encoded arguments.
func (s Schedule) check(queue string) (spec string, o options, data []byte, err error) {
	if err := validateScheduleName(s.Name); err != nil {
		return "", o, nil, err
	}
	spec, err = normalizeSpec(s.Spec, s.TimeZone)
	if err != nil {
		return "", o, nil, fmt.Errorf("schedule %s: %w", s.Name, err)
	}
	o.queue = queue
	for _, opt := range s.Options {
		if err := opt(&o); err != nil {
			return "", o, nil, fmt.Errorf("schedule %s: %w", s.Name, err)
		}
	}
	if o.id != "" || o.unique || !o.deadline.IsZero() || !o.runAt.IsZero() || o.sequence != "" {
		return "", o, nil, fmt.Errorf("%w: schedule %s: ID, Unique, At, In, Deadline and Sequence do not apply to periodic jobs; use Queue, MaxAttempts, Timeout or Header", ErrInvalidOption, s.Name)
	}
	if err := ValidateKind(s.Kind); err != nil {
		return "", o, nil, fmt.Errorf("schedule %s: %w", s.Name, err)
	}
	data, err = encodeArgs(s.Args)
	if err != nil {
		return "", o, nil, fmt.Errorf("%w: schedule %s: %w", ErrEncode, s.Name, err)
	}
	return spec, o, data, nil
}

// scheduleMessage builds and checks the schedule message of s.
func (c *Client) scheduleMessage(s Schedule) (*nats.Msg, error) {
	spec, o, data, err := s.check(c.queue)
	if err != nil {
		return nil, err
	}
	msg := &nats.Msg{Subject: c.topo.CronSubject(s.Name), Data: data, Header: make(nats.Header, 6+len(o.header))}
	for k, v := range o.header {
		msg.Header[k] = v
	}
	msg.Header.Set(HeaderSchedule, s.Name)
	if o.maxAttempts > 0 {
		msg.Header.Set(HeaderMaxAttempts, strconv.Itoa(o.maxAttempts))
	}
	if o.timeout > 0 {
		msg.Header.Set(HeaderTimeout, o.timeout.String())
	}
	msg.Header.Set(wire.ScheduleSpec, spec)
	msg.Header.Set(wire.ScheduleTarget, c.topo.FireSubject(o.queue, s.Kind))
	if s.TimeZone != "" {
		msg.Header.Set(wire.ScheduleTimeZone, s.TimeZone)
	}
	msg.Header.Set(wire.Rollup, wire.RollupSubject) // one message per schedule name
	if err := c.checkSize(len(msg.Subject) + len(msg.Data) + headerSize(msg.Header)); err != nil {
		return nil, err
	}
	return msg, nil
}

// DeclareSchedule creates the periodic schedule s, or replaces the schedule
// of the same name if it differs, and reports whether it changed anything.
// Declaring a schedule exactly as it is stored changes nothing, so its
// period is not restarted: every worker process may declare its schedules
// at start, at the same time, and each still fires once per period.
// Concurrent declarations of different specs under one name leave the last
// one stored.
//
// The trace context of the caller is not attached (ClientConfig.BeforePublish
// is not called): fired jobs start traces of their own.
//
// Errors: ErrInvalidName, ErrInvalidOption (a spec, time zone or option the
// client or server refuses), ErrEncode, ErrPayloadTooLarge,
// ErrSchedulingUnsupported (nats-server older than 2.14, or no schedule
// stream), or the connection's error.
func (c *Client) DeclareSchedule(ctx context.Context, s Schedule) (changed bool, err error) {
	msg, err := c.scheduleMessage(s)
	if err != nil {
		return false, err
	}
	if !SupportsSchedules(c.js, true) {
		return false, fmt.Errorf("%w: periodic jobs need nats-server 2.14 or newer (connected to %s)", ErrSchedulingUnsupported, c.js.Conn().ConnectedServerVersion())
	}
	stream, err := c.scheduleStream(ctx)
	if err != nil {
		return false, err
	}
	// Compare and swap on the subject's last sequence: of several processes
	// declaring at once, one stores the schedule and the others find it
	// stored as they want it.
	for {
		var last uint64
		have, err := stream.GetLastMsgForSubject(ctx, msg.Subject)
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
		case err != nil:
			return false, fmt.Errorf("jetjobs: read schedule %s: %w", s.Name, err)
		case sameSchedule(have, msg):
			return false, nil
		default:
			last = have.Sequence
		}
		_, err = c.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(last))
		if err == nil {
			return true, nil
		}
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) {
			switch apiErr.ErrorCode {
			case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant:
				if ctx.Err() != nil {
					return false, ctx.Err()
				}
				continue // declared concurrently: look again
			case 10189, 10223: // pattern or time zone invalid
				return false, fmt.Errorf("%w: schedule %s: the server refused spec %q (time zone %q): %s; check the cron fields (second minute hour day-of-month month day-of-week)",
					ErrInvalidOption, s.Name, s.Spec, s.TimeZone, apiErr.Description)
			}
		}
		return false, c.publishError(msg, err)
	}
}

// sameSchedule reports whether the stored schedule message have is what
// want would store: the same arguments, schedule headers and job headers.
func sameSchedule(have *jetstream.RawStreamMsg, want *nats.Msg) bool {
	return bytes.Equal(have.Data, want.Data) &&
		maps.EqualFunc(scheduleHeaders(have.Header), scheduleHeaders(want.Header), slices.Equal)
}

// scheduleHeaders drops the headers that are about storing a schedule
// message rather than about the schedule.
func scheduleHeaders(h nats.Header) nats.Header {
	out := make(nats.Header, len(h))
	for k, v := range h {
		switch {
		case k == wire.ScheduleSpec, k == wire.ScheduleTarget, k == wire.ScheduleTimeZone:
		case strings.HasPrefix(k, wire.NatsPrefix):
			continue
		}
		out[k] = v
	}
	return out
}

// Schedules returns the periodic schedules, sorted by name. Without a
// schedule stream (a server older than 2.12) there are none.
func (c *Client) Schedules(ctx context.Context) ([]ScheduleInfo, error) {
	stream, err := c.js.Stream(ctx, c.topo.ScheduleStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jetjobs: schedule stream %s: %w", c.topo.ScheduleStream, err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(c.topo.CronSubject(">")))
	if err != nil {
		return nil, fmt.Errorf("jetjobs: list schedules: %w", err)
	}
	out := make([]ScheduleInfo, 0, len(info.State.Subjects))
	for _, subject := range slices.Sorted(maps.Keys(info.State.Subjects)) {
		m, err := stream.GetLastMsgForSubject(ctx, subject)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("jetjobs: read schedule %s: %w", subject, err)
		}
		out = append(out, c.topo.scheduleInfo(m))
	}
	return out, nil
}

// LookupSchedule returns the periodic schedule named name, or
// ErrScheduleNotFound.
func (c *Client) LookupSchedule(ctx context.Context, name string) (ScheduleInfo, error) {
	if err := validateScheduleName(name); err != nil {
		return ScheduleInfo{}, fmt.Errorf("%w: %w", ErrScheduleNotFound, err)
	}
	stream, err := c.scheduleStream(ctx)
	if err != nil {
		return ScheduleInfo{}, err
	}
	m, err := stream.GetLastMsgForSubject(ctx, c.topo.CronSubject(name))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return ScheduleInfo{}, fmt.Errorf("%w: %q", ErrScheduleNotFound, name)
	}
	if err != nil {
		return ScheduleInfo{}, fmt.Errorf("jetjobs: read schedule %s: %w", name, err)
	}
	return c.topo.scheduleInfo(m), nil
}

// RemoveSchedule deletes the periodic schedule named name: it fires no
// more. Jobs it already fired are not affected.
//
// Errors: ErrScheduleNotFound, ErrSchedulingUnsupported (no schedule
// stream), or the connection's error.
func (c *Client) RemoveSchedule(ctx context.Context, name string) error {
	if err := validateScheduleName(name); err != nil {
		return fmt.Errorf("%w: %w", ErrScheduleNotFound, err)
	}
	stream, err := c.scheduleStream(ctx)
	if err != nil {
		return err
	}
	subject := c.topo.CronSubject(name)
	if _, err := stream.GetLastMsgForSubject(ctx, subject); errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("%w: %q", ErrScheduleNotFound, name)
	} else if err != nil {
		return fmt.Errorf("jetjobs: read schedule %s: %w", name, err)
	}
	if err := stream.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
		return fmt.Errorf("jetjobs: remove schedule %s: %w", name, err)
	}
	return nil
}

func (c *Client) scheduleStream(ctx context.Context) (jetstream.Stream, error) {
	stream, err := c.js.Stream(ctx, c.topo.ScheduleStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("%w: schedule stream %s not found; run EnsureTopology (or start a worker) against nats-server 2.12 or newer", ErrSchedulingUnsupported, c.topo.ScheduleStream)
	}
	if err != nil {
		return nil, fmt.Errorf("jetjobs: schedule stream %s: %w", c.topo.ScheduleStream, err)
	}
	return stream, nil
}

// scheduleInfo reads a stored schedule message.
func (t Topology) scheduleInfo(m *jetstream.RawStreamMsg) ScheduleInfo {
	name, _ := wire.CronName(t.SchedulePrefix, m.Subject)
	s := ScheduleInfo{
		Name:       name,
		Spec:       m.Header.Get(wire.ScheduleSpec),
		TimeZone:   m.Header.Get(wire.ScheduleTimeZone),
		Payload:    m.Data,
		Header:     m.Header,
		DeclaredAt: m.Time,
		Seq:        m.Sequence,
	}
	s.Queue, s.Kind, _ = wire.ParseFireSubject(t.SchedulePrefix, m.Header.Get(wire.ScheduleTarget))
	s.MaxAttempts, _ = strconv.Atoi(m.Header.Get(HeaderMaxAttempts))
	s.Timeout, _ = time.ParseDuration(m.Header.Get(HeaderTimeout))
	return s
}
