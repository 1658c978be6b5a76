package wire

import (
	"strconv"
	"strings"
	"time"
)

// Kinds of the copies jetjobs makes of a stored message. Each is the first
// field of the copy's Nats-Msg-Id (see CopyID) and a reserved job-ID prefix.
const (
	CopyHandBack   = "handback" // a job handed back without using an attempt
	CopySnooze     = "snooze"   // a snoozed job republished to its queue
	CopyFired      = "fired"    // a fired schedule relayed into the work stream
	CopyDeadLetter = "dlq"      // a dead letter
	CopyReplay     = "replay"   // a dead letter replayed into the work stream
	CopyUnserved   = "unserved" // a job passed on by a worker without its kind
)

// ReservedIDPrefixes start the message IDs of jetjobs' own copies of jobs:
// a job ID equal to one would make the work stream drop such a copy as a
// duplicate, so job IDs may not start with any of them.
var ReservedIDPrefixes = []string{CopyReplay + ":", CopyFired + ":", CopyHandBack + ":", CopySnooze + ":", CopyDeadLetter + ":", CopyUnserved + ":"}

// ReservedIDPrefix returns the reserved prefix id starts with, or "".
func ReservedIDPrefix(id string) string {
	for _, p := range ReservedIDPrefixes {
		if strings.HasPrefix(id, p) {
			return p
		}
	}
	return ""
}

// CopyID is the message ID of a copy jetjobs makes of the message stored at
// seq in stream at time stored:
//
//	<kind>:<stream>:<seq>:<stored-unix-ns>[:<extra>...]
//
// It is the same for every copy of the same stored message, so the target
// stream stores it once, and different for another message. The stored
// time tells apart two messages with the same sequence, as a stream deleted
// and created again within the duplicate window has them; extra tells
// apart copies made at different deliveries (hand-backs and snoozes pass
// the delivery count).
func CopyID(kind, stream string, seq uint64, stored time.Time, extra ...uint64) string {
	b := make([]byte, 0, 64)
	b = append(b, kind...)
	b = append(b, ':')
	b = append(b, stream...)
	b = append(b, ':')
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, stored.UnixNano(), 10)
	for _, x := range extra {
		b = append(b, ':')
		b = strconv.AppendUint(b, x, 10)
	}
	return string(b)
}

// DeadLetterID is the one message ID of the dead letter of the job message
// stored at seq in stream at time stored: dlq:<stream>:<seq>:<stored-ns>.
// Two workers dead-lettering the same message store it once.
func DeadLetterID(stream string, seq uint64, stored time.Time) string {
	return CopyID(CopyDeadLetter, stream, seq, stored)
}
