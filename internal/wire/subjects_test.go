package wire_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
)

func TestValidateNames(t *testing.T) {
	for _, tc := range []struct {
		name     string
		validate func(string) error
		in       string
		ok       bool
	}{
		{"queue", wire.ValidateQueue, "default", true},
		{"queue with dash and underscore", wire.ValidateQueue, "high-prio_2", true},
		{"empty queue", wire.ValidateQueue, "", false},
		{"reserved queue", wire.ValidateQueue, "_internal", false},
		{"queue with dot", wire.ValidateQueue, "a.b", false},
		{"queue with wildcard", wire.ValidateQueue, "a*", false},
		{"queue of max length", wire.ValidateQueue, strings.Repeat("q", wire.MaxQueueLen), true},
		{"queue too long", wire.ValidateQueue, strings.Repeat("q", wire.MaxQueueLen+1), false},
		{"kind", wire.ValidateKind, "email.send", true},
		{"one-token kind", wire.ValidateKind, "email", true},
		{"empty kind", wire.ValidateKind, "", false},
		{"kind with empty token", wire.ValidateKind, "email..send", false},
		{"kind ending in dot", wire.ValidateKind, "email.", false},
		{"kind with space", wire.ValidateKind, "email send", false},
		{"kind with >", wire.ValidateKind, "email.>", false},
		{"kind too long", wire.ValidateKind, strings.Repeat("k", wire.MaxKindLen+1), false},
		{"prefix", wire.ValidatePrefix, "acme.jobs", true},
		{"empty prefix", wire.ValidatePrefix, "", false},
		{"prefix with wildcard", wire.ValidatePrefix, "jobs.*", false},
	} {
		err := tc.validate(tc.in)
		if tc.ok && err != nil {
			t.Errorf("%s: %q: %v", tc.name, tc.in, err)
		}
		if !tc.ok && !errors.Is(err, wire.ErrInvalidName) {
			t.Errorf("%s: %q: %v, want ErrInvalidName", tc.name, tc.in, err)
		}
	}
}

func TestValidateNamesCharacterInError(t *testing.T) {
	err := wire.ValidateQueue("caf\u00e9")
	if err == nil || !strings.Contains(err.Error(), "'\u00e9'") {
		t.Errorf("error %v does not name the character", err)
	}
}

func TestInvalidTokenChar(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{{"", -1}, {"abc-_09XYZ", -1}, {"a.b", 1}, {" a", 0}, {"ab*", 2}} {
		if got := wire.InvalidTokenChar(tc.in); got != tc.want {
			t.Errorf("InvalidTokenChar(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestJobSubjectAndParse(t *testing.T) {
	for _, tc := range []struct {
		prefix, subject, queue, kind string
		ok                           bool
	}{
		{"jobs", "jobs.default.email.send", "default", "email.send", true},
		{"acme.jobs", "acme.jobs.mail.k", "mail", "k", true},
		{"jobs", "jobs.default", "", "", false},
		{"jobs", "other.default.k", "", "", false},
		{"jobs", "jobs._x.k", "", "", false},
		{"jobs", "jobs.q.a..b", "", "", false},
		{"jobs", "jobsx.q.k", "", "", false},
	} {
		q, k, err := wire.ParseSubject(tc.prefix, tc.subject)
		if tc.ok != (err == nil) || q != tc.queue || k != tc.kind {
			t.Errorf("ParseSubject(%q, %q) = %q, %q, %v", tc.prefix, tc.subject, q, k, err)
		}
		if !tc.ok && !errors.Is(err, wire.ErrInvalidName) {
			t.Errorf("ParseSubject(%q, %q): %v, want ErrInvalidName", tc.prefix, tc.subject, err)
		}
		if tc.ok {
			if got := wire.JobSubject(tc.prefix, q, k); got != tc.subject {
				t.Errorf("JobSubject(%q, %q, %q) = %q, want %q", tc.prefix, q, k, got, tc.subject)
			}
		}
	}
}

func TestSubjectToken(t *testing.T) {
	for _, tc := range []struct {
		id     string
		hashed bool
	}{
		{"order-42", false},
		{strings.Repeat("a", wire.MaxIDLen), false},
		{strings.Repeat("a", wire.MaxIDLen+1), true},
		{"", true},
		{"a.b", true},
		{"with space", true},
	} {
		got := wire.SubjectToken(tc.id)
		if !tc.hashed && got != tc.id {
			t.Errorf("SubjectToken(%q) = %q, want the ID itself", tc.id, got)
		}
		if tc.hashed && (len(got) != 34 || !strings.HasPrefix(got, "h-") || wire.InvalidTokenChar(got) >= 0) {
			t.Errorf("SubjectToken(%q) = %q, want h- and 32 hex digits", tc.id, got)
		}
		if again := wire.SubjectToken(tc.id); again != got {
			t.Errorf("SubjectToken(%q) is not stable: %q then %q", tc.id, got, again)
		}
	}
}

func TestSubjects(t *testing.T) {
	for _, tc := range []struct{ name, got, want string }{
		{"at", wire.AtSubject("jobs_sched", "order-1"), "jobs_sched.at.order-1"},
		{"fire", wire.FireSubject("jobs_sched", "mail", "email.send"), "jobs_sched.fire.mail.email.send"},
		{"cron", wire.CronSubject("jobs_sched", "nightly"), "jobs_sched.cron.nightly"},
		{"next", wire.NextSubject("$JS.API.", "JOBS", "default"), "$JS.API.CONSUMER.MSG.NEXT.JOBS.default"},
		{"max deliveries", wire.MaxDeliveriesSubject("JOBS", "default"), "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JOBS.default"},
		{"advisory group", wire.AdvisoryGroup("JOBS"), "jetjobs-JOBS"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

// optionsJS is a JetStream whose only working method is Options.
type optionsJS struct {
	jetstream.JetStream
	o jetstream.JetStreamOptions
}

func (js optionsJS) Options() jetstream.JetStreamOptions { return js.o }

func TestAPIPrefix(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    jetstream.JetStreamOptions
		want string
	}{
		{"default", jetstream.JetStreamOptions{}, "$JS.API."},
		{"domain", jetstream.JetStreamOptions{Domain: "hub"}, "$JS.hub.API."},
		{"domain wins", jetstream.JetStreamOptions{Domain: "hub", APIPrefix: "x.API"}, "$JS.hub.API."},
		{"prefix without dot", jetstream.JetStreamOptions{APIPrefix: "acct.API"}, "acct.API."},
		{"prefix with dot", jetstream.JetStreamOptions{APIPrefix: "acct.API."}, "acct.API."},
	} {
		if got := wire.APIPrefix(optionsJS{o: tc.o}); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestScheduleAt(t *testing.T) {
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "@at 2026-01-02T03:04:05Z"},
		{time.Date(2026, 1, 2, 3, 4, 5, 1, time.UTC), "@at 2026-01-02T03:04:06Z"},
		{time.Date(2026, 1, 2, 4, 4, 5, 0, time.FixedZone("CET", 3600)), "@at 2026-01-02T03:04:05Z"},
	} {
		if got := wire.ScheduleAt(tc.in); got != tc.want {
			t.Errorf("ScheduleAt(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
