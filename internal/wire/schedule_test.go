package wire_test

import (
	"testing"

	"github.com/jetjobs/jetjobs/internal/wire"
)

func TestParseFireSubject(t *testing.T) {
	for _, tc := range []struct {
		subject, queue, kind string
		ok                   bool
	}{
		{"jobs_sched.fire.mail.email.send", "mail", "email.send", true},
		{"jobs_sched.fire.mail", "mail", "", false},
		{"other.fire.mail.k", "other", "fire.mail.k", false},
	} {
		q, k, ok := wire.ParseFireSubject("jobs_sched", tc.subject)
		if q != tc.queue || k != tc.kind || ok != tc.ok {
			t.Errorf("ParseFireSubject(%q) = %q, %q, %v; want %q, %q, %v", tc.subject, q, k, ok, tc.queue, tc.kind, tc.ok)
		}
	}
}

func TestScheduleNames(t *testing.T) {
	for _, tc := range []struct{ name, got, want string }{
		{"fired job subject", wire.FiredJobSubject("jobs", "jobs_sched", "jobs_sched.fire.mail.email.send"), "jobs.mail.email.send"},
		{"fire filter", wire.FireFilter("jobs_sched", "mail"), "jobs_sched.fire.mail.>"},
		{"fire consumer", wire.FireConsumer("mail"), "fire-mail"},
		{"periodic job ID", wire.PeriodicJobID("nightly", 42), "nightly-42"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	for _, tc := range []struct {
		subject, name string
		ok            bool
	}{
		{"jobs_sched.cron.nightly", "nightly", true},
		{"jobs_sched.at.x", "jobs_sched.at.x", false},
	} {
		if name, ok := wire.CronName("jobs_sched", tc.subject); name != tc.name || ok != tc.ok {
			t.Errorf("CronName(%q) = %q, %v; want %q, %v", tc.subject, name, ok, tc.name, tc.ok)
		}
	}
}
