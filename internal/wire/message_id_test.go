package wire_test

import (
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/internal/wire"
)

func TestCopyID(t *testing.T) {
	stored := time.Unix(1767323045, 6)
	for _, tc := range []struct {
		name string
		got  string
		want string
	}{
		{"handback", wire.CopyID(wire.CopyHandBack, "JOBS", 41, stored, 3), "handback:JOBS:41:1767323045000000006:3"},
		{"snooze", wire.CopyID(wire.CopySnooze, "JOBS", 41, stored, 2), "snooze:JOBS:41:1767323045000000006:2"},
		{"fired", wire.CopyID(wire.CopyFired, "JOBS_SCHEDULES", 7, stored), "fired:JOBS_SCHEDULES:7:1767323045000000006"},
		{"dlq", wire.CopyID(wire.CopyDeadLetter, "JOBS", 41, stored), "dlq:JOBS:41:1767323045000000006"},
		{"replay", wire.CopyID(wire.CopyReplay, "JOBS_DLQ", 9, stored), "replay:JOBS_DLQ:9:1767323045000000006"},
		{"several extras", wire.CopyID("x", "S", 1, time.Unix(0, 0), 1, 2), "x:S:1:0:1:2"},
		{"dead letter ID", wire.DeadLetterID("JOBS", 41, stored), "dlq:JOBS:41:1767323045000000006"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestReservedIDPrefix(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		{"replay:JOBS_DLQ:1", "replay:"},
		{"fired:x", "fired:"},
		{"handback:JOBS:1:1", "handback:"},
		{"snooze:JOBS:1:1", "snooze:"},
		{"dlq:JOBS:1", "dlq:"},
		{"order-42", ""},
		{"dlq", ""},
		{"DLQ:x", ""},
	} {
		if got := wire.ReservedIDPrefix(tc.id); got != tc.want {
			t.Errorf("ReservedIDPrefix(%q) = %q, want %q", tc.id, got, tc.want)
		}
	}
	// Every copy kind is reserved, so no job ID can equal a copy's ID.
	for _, kind := range []string{wire.CopyHandBack, wire.CopySnooze, wire.CopyFired, wire.CopyDeadLetter, wire.CopyReplay} {
		id := wire.CopyID(kind, "S", 1, time.Unix(0, 1))
		if wire.ReservedIDPrefix(id) == "" {
			t.Errorf("copy ID %q is not reserved", id)
		}
	}
}
