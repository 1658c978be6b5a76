package worker

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
)

// logVerdict writes the one line of a settled delivery: the verdict's
// message at its level, with job_id, queue, kind, attempt, max_attempts,
// the handler's duration if it ran, the dead-letter reason, the error (and
// a panic's value and stack), and the trace ID of a traced job. Payloads
// are never logged.
func (p *Pool) logVerdict(info *job.Info, v verdict, elapsed time.Duration) {
	ctx := context.Background()
	if !p.log.Enabled(ctx, v.level) {
		return
	}
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs,
		slog.String("job_id", info.ID), slog.String("queue", info.Queue), slog.String("kind", info.Kind),
		slog.Int("attempt", info.Attempt), slog.Int("max_attempts", info.MaxAttempts))
	if elapsed > 0 {
		attrs = append(attrs, slog.Duration("duration", elapsed))
	}
	if v.action == actDeadLetter || v.reason != "" {
		attrs = append(attrs, slog.String("reason", string(v.reason)))
	}
	if v.action == actWait || v.action == actRetry && v.err == nil {
		attrs = append(attrs, slog.Duration("delay", v.delay))
	}
	if v.err != nil {
		attrs = append(attrs, slog.String("error", v.err.Error()))
		var pe *job.PanicError
		if errors.As(v.err, &pe) {
			attrs = append(attrs, slog.Any("panic", pe.Value), slog.String("stack", string(pe.Stack)))
		}
	}
	if id := traceID(info); id != "" {
		attrs = append(attrs, slog.String("trace_id", id))
	}
	p.log.LogAttrs(ctx, v.level, v.msg, attrs...)
}

// traceID is the W3C trace ID of the job's traceparent header
// (version-traceid-parentid-flags), empty if it has none: every attempt's
// span belongs to the trace its enqueue started.
func traceID(info *job.Info) string {
	tp := info.Header.Get(wire.TraceParent)
	if len(tp) < 55 || tp[2] != '-' || tp[35] != '-' {
		return ""
	}
	id := tp[3:35]
	if strings.Trim(id, "0") == "" {
		return ""
	}
	return id
}
