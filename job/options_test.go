package job_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/job"
)

// ValidateOptions and Schedule.Validate refuse what Enqueue and
// DeclareSchedule refuse, with no client: tools check input before they
// connect.
func TestValidateWithoutAClient(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []job.Option
		want error
	}{
		{"none", nil, nil},
		{"all that go together", []job.Option{job.Unique(), job.UniqueUntilDone(), job.Deadline(time.Now()), job.Header("Tenant", "acme"), job.KeepResult(time.Hour)}, nil},
		{"ID with Unique", []job.Option{job.ID("a"), job.Unique()}, job.ErrInvalidOption},
		{"UniqueUntilDone without an ID", []job.Option{job.UniqueUntilDone()}, job.ErrInvalidOption},
		{"reserved header", []job.Option{job.Header("Jetjobs-Reason", "x")}, job.ErrInvalidOption},
		{"padded header value", []job.Option{job.Header("Tenant", " acme")}, job.ErrInvalidOption},
		{"zero deadline", []job.Option{job.Deadline(time.Time{})}, job.ErrInvalidOption},
		{"bad ID", []job.Option{job.ID(" a")}, job.ErrInvalidOption},
		{"bad queue", []job.Option{job.Queue("a b")}, job.ErrInvalidName},
	} {
		if err := job.ValidateOptions(tc.opts...); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: ValidateOptions = %v, want %v", tc.name, err, tc.want)
		}
	}

	for _, tc := range []struct {
		name string
		s    job.Schedule
		want error
	}{
		{"good", job.Schedule{Name: "x", Spec: "0 30 2 * * *", TimeZone: "Europe/Berlin", Kind: "k", Args: map[string]int{"n": 1}, Options: []job.Option{job.Header("Tenant", "acme")}}, nil},
		{"five fields", job.Schedule{Name: "x", Spec: "30 2 * * *", Kind: "k"}, job.ErrInvalidOption},
		{"unknown zone", job.Schedule{Name: "x", Spec: "@daily", TimeZone: "Nowhere/Town", Kind: "k"}, job.ErrInvalidOption},
		{"bad name", job.Schedule{Name: "x.y", Spec: "@daily", Kind: "k"}, job.ErrInvalidName},
		{"bad kind", job.Schedule{Name: "x", Spec: "@daily", Kind: "k..k"}, job.ErrInvalidName},
		{"reserved header", job.Schedule{Name: "x", Spec: "@daily", Kind: "k", Options: []job.Option{job.Header("Nats-Msg-Id", "1")}}, job.ErrInvalidOption},
		{"deadline", job.Schedule{Name: "x", Spec: "@daily", Kind: "k", Options: []job.Option{job.Deadline(time.Now())}}, job.ErrInvalidOption},
		{"arguments", job.Schedule{Name: "x", Spec: "@daily", Kind: "k", Args: func() {}}, job.ErrEncode},
	} {
		if err := tc.s.Validate(); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: Schedule.Validate = %v, want %v", tc.name, err, tc.want)
		}
	}
}
