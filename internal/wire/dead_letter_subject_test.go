package wire_test

import (
	"fmt"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/jetjobs/jetjobs/internal/wire"
)

func TestDeadLetterSubject(t *testing.T) {
	for _, tc := range []struct{ name, got, want string }{
		{"dead letter", wire.DeadLetterSubject("jobs_dlq", "mail", "failed", "order-1", "email.send"), "jobs_dlq.mail.failed.order-1.email.send"},
		{"no queue", wire.DeadLetterSubject("jobs_dlq", "", "failed", "order-1", "email"), "jobs_dlq._invalid.failed.order-1.email"},
		{"bad queue", wire.DeadLetterSubject("jobs_dlq", "a.b", "failed", "order-1", "email"), "jobs_dlq._invalid.failed.order-1.email"},
		{"no kind", wire.DeadLetterSubject("jobs_dlq", "mail", "decode", "order-1", ""), "jobs_dlq.mail.decode.order-1._invalid"},
		{"bad kind", wire.DeadLetterSubject("jobs_dlq", "mail", "decode", "order-1", "a..b"), "jobs_dlq.mail.decode.order-1._invalid"},
		{"wildcard kind", wire.DeadLetterSubject("jobs_dlq", "mail", "decode", "order-1", "a.>"), "jobs_dlq.mail.decode.order-1._invalid"},
		{"no reason", wire.DeadLetterSubject("jobs_dlq", "mail", "", "order-1", "email"), "jobs_dlq.mail._invalid.order-1.email"},
		{"bad reason", wire.DeadLetterSubject("jobs_dlq", "mail", "a.b", "order-1", "email"), "jobs_dlq.mail._invalid.order-1.email"},
		{"ID hashed", wire.DeadLetterSubject("jobs_dlq", "mail", "failed", "a b", "email"), "jobs_dlq.mail.failed." + wire.SubjectToken("a b") + ".email"},
		{"namespace prefix", wire.DeadLetterSubject("acme.jobs_dlq", "mail", "failed", "order-1", "email"), "acme.jobs_dlq.mail.failed.order-1.email"},
		{"v1", wire.DeadLetterSubjectV1("jobs_dlq", "mail", "order-1"), "jobs_dlq.mail.order-1"},
		{"v1, bad queue", wire.DeadLetterSubjectV1("jobs_dlq", "a.b", "order-1"), "jobs_dlq._invalid.order-1"},
		{"filter, all", wire.DeadLetterFilter("jobs_dlq", ""), "jobs_dlq.>"},
		{"filter, queue", wire.DeadLetterFilter("jobs_dlq", "mail"), "jobs_dlq.mail.>"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestParseDeadLetterSubject(t *testing.T) {
	for _, tc := range []struct {
		subject string
		want    wire.DeadLetterPlace
		ok      bool
	}{
		{"jobs_dlq.mail.failed.order-1.email.send", wire.DeadLetterPlace{Queue: "mail", Reason: "failed", Token: "order-1", Kind: "email.send"}, true},
		{"jobs_dlq.mail.failed.order-1.email", wire.DeadLetterPlace{Queue: "mail", Reason: "failed", Token: "order-1", Kind: "email"}, true},
		{"jobs_dlq.mail.order-1", wire.DeadLetterPlace{Queue: "mail", Token: "order-1", V1: true}, true},
		{"jobs_dlq._invalid.h-00", wire.DeadLetterPlace{Queue: "_invalid", Token: "h-00", V1: true}, true},
		{"jobs_dlq.mail.failed.order-1", wire.DeadLetterPlace{}, false}, // three tokens: neither form
		{"jobs_dlq.mail", wire.DeadLetterPlace{}, false},
		{"jobs_dlq.mail.", wire.DeadLetterPlace{}, false},
		{"jobs_dlq..failed.x.y", wire.DeadLetterPlace{}, false},
		{"jobs_dlq.mail.failed..email", wire.DeadLetterPlace{}, false},
		{"jobs.mail.order-1", wire.DeadLetterPlace{}, false},
		{"jobs_dlqx.mail.order-1", wire.DeadLetterPlace{}, false},
	} {
		got, ok := wire.ParseDeadLetterSubject("jobs_dlq", tc.subject)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseDeadLetterSubject(%q) = %+v, %v; want %+v, %v", tc.subject, got, ok, tc.want, tc.ok)
		}
	}
	// What DeadLetterSubject files, ParseDeadLetterSubject reads back.
	got, ok := wire.ParseDeadLetterSubject("a.dlq", wire.DeadLetterSubject("a.dlq", "mail", "no-handler", "a b", "x.y.z"))
	want := wire.DeadLetterPlace{Queue: "mail", Reason: "no-handler", Token: wire.SubjectToken("a b"), Kind: "x.y.z"}
	if !ok || got != want {
		t.Errorf("round trip: %+v, %v; want %+v", got, ok, want)
	}
}

// deadLetterCase is a dead letter filed by its subject.
type deadLetterCase struct {
	subject                 string
	queue, reason, kind, id string
	v1                      bool
}

// TestDeadLetterFiltersSelectExactly checks every filter against a set of
// dead letters chosen to confuse them (kinds that are prefixes of each
// other, IDs and queues named like reasons and kinds, both forms), with
// the server's own subject matching: each filter selects exactly the dead
// letters it names, and the current and v1 filters never overlap.
func TestDeadLetterFiltersSelectExactly(t *testing.T) {
	const p = "jobs_dlq"
	var all []deadLetterCase
	queues := []string{"mail", "failed"}
	reasons := []string{"failed", "decode", "max-deliveries"}
	kinds := []string{"email", "email.send", "email.send.bulk", "send", "failed"}
	ids := []string{"order-1", "email", "send", "with space"}
	for _, q := range queues {
		for _, id := range ids {
			all = append(all, deadLetterCase{subject: wire.DeadLetterSubjectV1(p, q, id), queue: q, id: id, v1: true})
			for _, r := range reasons {
				for _, k := range kinds {
					all = append(all, deadLetterCase{subject: wire.DeadLetterSubject(p, q, r, id, k), queue: q, reason: r, kind: k, id: id})
				}
			}
		}
	}
	for _, dl := range all {
		if !server.IsValidSubject(dl.subject) {
			t.Fatalf("%q is not a valid subject", dl.subject)
		}
	}
	for _, q := range append([]string{""}, queues...) {
		for _, r := range append([]string{""}, reasons...) {
			for _, k := range append([]string{""}, kinds...) {
				current, v1 := wire.DeadLetterFilters(p, q, r, k)
				name := fmt.Sprintf("queue %q reason %q kind %q", q, r, k)
				if server.SubjectsCollide(current, v1) {
					t.Errorf("%s: filters %q and %q overlap", name, current, v1)
				}
				for _, dl := range all {
					wantCurrent := !dl.v1 && (q == "" || dl.queue == q) && (r == "" || dl.reason == r) && (k == "" || dl.kind == k)
					wantV1 := dl.v1 && (q == "" || dl.queue == q)
					if got := server.SubjectMatchesFilter(dl.subject, current); got != wantCurrent {
						t.Errorf("%s: %q matches %q: %v, want %v", name, current, dl.subject, got, wantCurrent)
					}
					if got := server.SubjectMatchesFilter(dl.subject, v1); got != wantV1 {
						t.Errorf("%s: %q matches %q: %v, want %v", name, v1, dl.subject, got, wantV1)
					}
				}
			}
		}
		// The queue filter selects both forms.
		for _, dl := range all {
			want := q == "" || dl.queue == q
			if got := server.SubjectMatchesFilter(dl.subject, wire.DeadLetterFilter(p, q)); got != want {
				t.Errorf("DeadLetterFilter(%q) matches %q: %v, want %v", q, dl.subject, got, want)
			}
		}
	}
	for _, id := range ids {
		current, v1 := wire.DeadLetterIDFilters(p, id)
		for _, dl := range all {
			got := server.SubjectMatchesFilter(dl.subject, current) || server.SubjectMatchesFilter(dl.subject, v1)
			if want := dl.id == id; got != want {
				t.Errorf("ID %q: %q matches: %v, want %v", id, dl.subject, got, want)
			}
		}
	}
	// Every subject parses back to where it was filed.
	for _, dl := range all {
		place, ok := wire.ParseDeadLetterSubject(p, dl.subject)
		want := wire.DeadLetterPlace{Queue: dl.queue, Reason: dl.reason, Token: wire.SubjectToken(dl.id), Kind: dl.kind, V1: dl.v1}
		if !ok || place != want {
			t.Errorf("ParseDeadLetterSubject(%q) = %+v, %v; want %+v", dl.subject, place, ok, want)
		}
	}
}
