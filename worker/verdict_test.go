package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/retry"
)

// decide is the one place a job's outcome is decided: every path, with the
// log line that says so.
func TestDecide(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	boom := errors.New("boom")
	type want struct {
		action action
		delay  time.Duration
		reason job.Reason
		level  slog.Level
		msg    string
	}
	for _, tc := range []struct {
		name string
		a    attempt
		want want
	}{
		{"may start", attempt{}, want{action: actRun}},
		{"undecodable header", attempt{decodeErr: fmt.Errorf("%w: header", job.ErrDecode)}, want{actDeadLetter, 0, job.ReasonDecode, slog.LevelError, "job dead-lettered"}},
		{"over its attempts", attempt{info: &job.Info{Attempt: 4, MaxAttempts: 3}}, want{actDeadLetter, 0, job.ReasonMaxDeliveries, slog.LevelError, "job dead-lettered"}},
		{"canceled before start", attempt{canceled: true}, want{actDeadLetter, 0, job.ReasonCanceled, slog.LevelError, "job dead-lettered"}},
		{"deadline passed", attempt{info: &job.Info{Attempt: 1, MaxAttempts: 3, Deadline: now.Add(-time.Second)}}, want{actDeadLetter, 0, job.ReasonExpired, slog.LevelError, "job dead-lettered"}},
		{"not due yet", attempt{info: &job.Info{Attempt: 1, MaxAttempts: 3, NotBefore: now.Add(3 * time.Second)}}, want{actWait, 3 * time.Second, "", slog.LevelDebug, "job not due yet; waiting"}},
		{"due within the slack", attempt{info: &job.Info{Attempt: 1, MaxAttempts: 3, NotBefore: now.Add(notBeforeSlack / 2)}}, want{action: actRun}},
		{"no handler", attempt{served: false, unservedLimit: time.Hour, info: &job.Info{Attempt: 3, MaxAttempts: 3}}, want{actPass, time.Second, "", slog.LevelDebug, "job has no handler here; passed on"}},
		{"no handler for a while", attempt{served: false, unservedLimit: time.Hour, unservedSince: now.Add(-90 * time.Second)}, want{actPass, 90 * time.Second / 4, "", slog.LevelDebug, "job has no handler here; passed on"}},
		{"no handler for long", attempt{served: false, unservedLimit: time.Hour, unservedSince: now.Add(-50 * time.Minute)}, want{actPass, 5 * time.Minute, "", slog.LevelDebug, "job has no handler here; passed on"}},
		{"no handler until the limit", attempt{served: false, unservedLimit: time.Hour, unservedSince: now.Add(-58 * time.Minute)}, want{actPass, 2 * time.Minute, "", slog.LevelDebug, "job has no handler here; passed on"}},
		{"no handler past the limit", attempt{served: false, unservedLimit: time.Hour, unservedSince: now.Add(-time.Hour)}, want{actDeadLetter, 0, job.ReasonNoHandler, slog.LevelError, "job dead-lettered"}},
		{"succeeded", attempt{ran: true}, want{actAck, 0, "", slog.LevelDebug, "job succeeded"}},
		{"failed", attempt{ran: true, err: boom}, want{actRetry, 7 * time.Second, "", slog.LevelWarn, "job failed, will retry"}},
		{"panicked", attempt{ran: true, err: &job.PanicError{Value: "x"}}, want{actRetry, 7 * time.Second, "", slog.LevelWarn, "job failed, will retry"}},
		{"failed its last attempt", attempt{ran: true, err: boom, info: &job.Info{Attempt: 3, MaxAttempts: 3}}, want{actDeadLetter, 0, job.ReasonFailed, slog.LevelError, "job failed on its last attempt"}},
		{"permanent", attempt{ran: true, err: job.Permanent(boom)}, want{actDeadLetter, 0, job.ReasonFailed, slog.LevelError, "job failed permanently"}},
		{"undecodable payload", attempt{ran: true, err: fmt.Errorf("%w: payload", job.ErrDecode)}, want{actDeadLetter, 0, job.ReasonDecode, slog.LevelError, "job failed permanently"}},
		{"snoozed", attempt{ran: true, err: job.Snooze(time.Minute)}, want{actSnooze, time.Minute, "", slog.LevelInfo, "job snoozed"}},
		{"snoozed on its last attempt", attempt{ran: true, err: job.Snooze(time.Minute), info: &job.Info{Attempt: 3, MaxAttempts: 3}}, want{actSnooze, time.Minute, "", slog.LevelInfo, "job snoozed"}},
		{"canceled while it ran", attempt{ran: true, err: &job.CanceledError{Err: context.Canceled}}, want{actDeadLetter, 0, job.ReasonCanceled, slog.LevelInfo, "job canceled"}},
		{"interrupted by shutdown", attempt{ran: true, err: context.Canceled, interrupted: true, info: &job.Info{Attempt: 3, MaxAttempts: 3}}, want{actHandBack, 0, "", slog.LevelWarn, "job interrupted; it will run again"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.a
			if a.info == nil {
				a.info = &job.Info{ID: "j1", Queue: "default", Kind: "k", Attempt: 1, MaxAttempts: 3}
			}
			if !strings.HasPrefix(tc.name, "no handler") {
				a.served = true
			}
			a.now = now
			a.policy = retry.Constant(7 * time.Second)
			v := decide(a)
			got := want{v.action, v.delay, v.reason, v.level, v.msg}
			if tc.want.action == actRun {
				got = want{action: v.action}
			}
			if got != tc.want {
				t.Fatalf("decide = %+v, want %+v", got, tc.want)
			}
			if v.action != actRun && v.action != actAck && v.action != actWait && v.err == nil {
				t.Errorf("verdict %v carries no error", v.action)
			}
		})
	}
}
