package wire

import (
	"strconv"
	"strings"
	"time"
)

// Tokens of the schedule subjects under the schedule prefix.
const (
	ScheduleAtToken   = "at"
	ScheduleFireToken = "fire"
	ScheduleCronToken = "cron"
)

// AtSubject is the subject of the one-shot schedule of job id:
// <schedPrefix>.at.<SubjectToken(id)>.
func AtSubject(schedPrefix, id string) string {
	return schedPrefix + "." + ScheduleAtToken + "." + SubjectToken(id)
}

// FireSubject is where the server fires scheduled jobs of queue and kind:
// <schedPrefix>.fire.<queue>.<kind>. Worker pools move them to
// JobSubject(prefix, queue, kind).
func FireSubject(schedPrefix, queue, kind string) string {
	return schedPrefix + "." + ScheduleFireToken + "." + queue + "." + kind
}

// CronSubject is the subject of the periodic schedule named name:
// <schedPrefix>.cron.<name>.
func CronSubject(schedPrefix, name string) string {
	return schedPrefix + "." + ScheduleCronToken + "." + name
}

// ParseFireSubject splits a fire subject into the queue and kind of the
// job; ok is false when subject is not <schedPrefix>.fire.<queue>.<kind>.
func ParseFireSubject(schedPrefix, subject string) (queue, kind string, ok bool) {
	rest, under := strings.CutPrefix(subject, schedPrefix+"."+ScheduleFireToken+".")
	queue, kind, ok = strings.Cut(rest, ".")
	return queue, kind, ok && under
}

// FiredJobSubject is the job subject a job fired on fireSubject is moved
// to: <prefix>.<queue>.<kind>.
func FiredJobSubject(prefix, schedPrefix, fireSubject string) string {
	rest, _ := strings.CutPrefix(fireSubject, schedPrefix+"."+ScheduleFireToken+".")
	return prefix + "." + rest
}

// FireFilter is the subject filter of the fired jobs of queue.
func FireFilter(schedPrefix, queue string) string {
	return schedPrefix + "." + ScheduleFireToken + "." + queue + ".>"
}

// FireConsumer names the consumer through which worker pools move the
// fired jobs of queue into the work stream.
func FireConsumer(queue string) string {
	return "fire-" + queue
}

// CronName returns the name of the periodic schedule stored on
// cronSubject; ok is false when it is not <schedPrefix>.cron.<name>, and
// name is then cronSubject itself.
func CronName(schedPrefix, cronSubject string) (name string, ok bool) {
	return strings.CutPrefix(cronSubject, schedPrefix+"."+ScheduleCronToken+".")
}

// PeriodicJobID is the ID of the job a periodic schedule named schedule
// fired, stored at seq in the schedule stream: "<schedule>-<seq>". Moving
// the same fired job again gives it the same ID.
func PeriodicJobID(schedule string, seq uint64) string {
	return schedule + "-" + strconv.FormatUint(seq, 10)
}

// ScheduleAt returns the Nats-Schedule value that fires at t: "@at" and t
// rounded up to a whole second in RFC 3339.
func ScheduleAt(t time.Time) string {
	return "@at " + CeilSecond(t).UTC().Format(time.RFC3339)
}

// CeilSecond rounds t up to a whole second: schedules fire on whole
// seconds, and a job must never run before the time it was given.
func CeilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}
