package wire

import "strings"

// A dead letter is stored on
//
//	<dlqPrefix>.<queue>.<reason>.<id-token>.<kind…>
//
// so that the server selects dead letters by queue, reason and kind with
// subject filters, and counts them without a message being read. The kind
// is last because it is one or more tokens: every token before it has a
// fixed place, so a filter names a kind exactly by its tokens
// (<queue>.*.*.email.send does not select kind email.send.bulk) and a job
// ID by its place (*.*.<id-token>.>). Dead letters stored before this form
// are on <dlqPrefix>.<queue>.<id-token> (protocol v1's form), still read:
// the two are told apart by the number of tokens after the prefix, two for
// the old form and at least four for this one.

// InvalidKind and InvalidReason are the kind and reason tokens of the dead
// letters of jobs whose kind could not be read (or is longer than
// MaxKindLen) and whose reason is not one subject token. Kinds may start
// with '_', so InvalidKind can be a job's own kind: the replay check of
// such a dead letter still reads its Jetjobs-Subject.
const (
	InvalidKind   = "_invalid"
	InvalidReason = "_invalid"
)

// DeadLetterSubject is the subject the dead letter of job id of queue, of
// kind, that died for reason is stored on:
// <dlqPrefix>.<queue>.<reason>.<SubjectToken(id)>.<kind>. An empty or
// invalid queue is filed as InvalidQueue, an invalid kind as InvalidKind and
// a reason that is not one token as InvalidReason.
func DeadLetterSubject(dlqPrefix, queue, reason, id, kind string) string {
	if queue == "" || ValidateQueue(queue) != nil {
		queue = InvalidQueue
	}
	if reason == "" || InvalidTokenChar(reason) >= 0 {
		reason = InvalidReason
	}
	if ValidateKind(kind) != nil {
		kind = InvalidKind
	}
	return dlqPrefix + "." + queue + "." + reason + "." + SubjectToken(id) + "." + kind
}

// DeadLetterSubjectV1 is the subject protocol v1 stored the dead letter of
// job id of queue on: <dlqPrefix>.<queue>.<SubjectToken(id)>. jetjobs no
// longer writes it and still reads it; tests use it to write such dead
// letters.
func DeadLetterSubjectV1(dlqPrefix, queue, id string) string {
	if queue == "" || ValidateQueue(queue) != nil {
		queue = InvalidQueue
	}
	return dlqPrefix + "." + queue + "." + SubjectToken(id)
}

// DeadLetterPlace is where a dead letter is filed, read from its subject.
type DeadLetterPlace struct {
	// Queue and Token (the job ID's SubjectToken) are in both forms.
	Queue, Token string
	// Reason and Kind are empty for a V1 subject, which does not carry
	// them.
	Reason, Kind string
	// V1 is true for a subject of protocol v1's form
	// <dlqPrefix>.<queue>.<id-token>.
	V1 bool
}

// ParseDeadLetterSubject reads where a dead letter stored on subject is
// filed; ok is false when subject is neither
// <dlqPrefix>.<queue>.<reason>.<id-token>.<kind…> nor
// <dlqPrefix>.<queue>.<id-token>.
func ParseDeadLetterSubject(dlqPrefix, subject string) (place DeadLetterPlace, ok bool) {
	rest, under := strings.CutPrefix(subject, dlqPrefix+".")
	if !under {
		return DeadLetterPlace{}, false
	}
	queue, rest, ok := strings.Cut(rest, ".")
	if !ok || queue == "" || rest == "" {
		return DeadLetterPlace{}, false
	}
	first, rest, more := strings.Cut(rest, ".")
	if !more {
		return DeadLetterPlace{Queue: queue, Token: first, V1: true}, first != ""
	}
	token, kind, ok := strings.Cut(rest, ".")
	if !ok || first == "" || token == "" || kind == "" {
		return DeadLetterPlace{}, false
	}
	return DeadLetterPlace{Queue: queue, Reason: first, Token: token, Kind: kind}, true
}

// DeadLetterFilter is the subject filter of the dead letters of queue, or
// of every queue when queue is empty, in both forms.
func DeadLetterFilter(dlqPrefix, queue string) string {
	if queue == "" {
		return dlqPrefix + ".>"
	}
	return dlqPrefix + "." + queue + ".>"
}

// DeadLetterFilters are the subject filters of the dead letters of queue,
// reason and kind (each: any when empty): current selects exactly those
// of the current form, and v1 every dead letter of protocol v1's form of
// queue, whose reason and kind only its headers tell. The two never select
// the same subject, so counts of the two add up. queue,
// reason and kind must be valid (ValidateQueue, one token, ValidateKind);
// the caller checks them, since a wildcard in one would widen the filter.
func DeadLetterFilters(dlqPrefix, queue, reason, kind string) (current, v1 string) {
	q, r, k := "*", "*", ">"
	if queue != "" {
		q = queue
	}
	if reason != "" {
		r = reason
	}
	if kind != "" {
		k = kind
	}
	return dlqPrefix + "." + q + "." + r + ".*." + k, dlqPrefix + "." + q + ".*"
}

// DeadLetterIDFilters are the subject filters of the dead letters of job
// id, in any queue: current for the current form and v1 for protocol v1's.
func DeadLetterIDFilters(dlqPrefix, id string) (current, v1 string) {
	tok := SubjectToken(id)
	return dlqPrefix + ".*.*." + tok + ".>", dlqPrefix + ".*." + tok
}
