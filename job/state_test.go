package job

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestFormatTTL(t *testing.T) {
	for _, tc := range []struct {
		ttl  time.Duration
		want string
	}{
		{time.Second, "1s"}, {1500 * time.Millisecond, "2s"}, {time.Hour, "3600s"}, {0, "1s"},
	} {
		if got := formatTTL(tc.ttl); got != tc.want {
			t.Errorf("formatTTL(%s) = %q, want %q", tc.ttl, got, tc.want)
		}
	}
}

func TestStateErrAndStatuses(t *testing.T) {
	for _, tc := range []struct {
		st      State
		final   bool
		wantErr string
	}{
		{State{ID: "a", Status: StatusRunning}, false, ""},
		{State{ID: "a", Status: StatusSucceeded}, true, ""},
		{State{ID: "a", Status: StatusDead, Reason: ReasonFailed, Error: "boom", Attempt: 3}, true, "jetjobs: job a dead (reason failed) after 3 attempt(s): boom"},
		{State{ID: "a", Status: StatusCanceled, Reason: ReasonCanceled}, true, "jetjobs: job a canceled"},
		{State{ID: "a", Status: StatusExpired, Reason: ReasonExpired, Error: "late"}, true, "jetjobs: job a expired: late"},
	} {
		if tc.st.Status.Final() != tc.final {
			t.Errorf("%s.Final() = %v", tc.st.Status, !tc.final)
		}
		err := tc.st.Err()
		if got := ""; err != nil {
			got = err.Error()
			if got != tc.wantErr {
				t.Errorf("Err() = %q, want %q", got, tc.wantErr)
			}
		} else if tc.wantErr != "" {
			t.Errorf("Err() = nil, want %q", tc.wantErr)
		}
	}
	if err := (&State{Status: StatusCanceled}).Err(); !errors.Is(err, ErrCanceled) {
		t.Errorf("a canceled job's error is not ErrCanceled: %v", err)
	}
	for r, want := range map[Reason]Status{ReasonCanceled: StatusCanceled, ReasonExpired: StatusExpired, ReasonFailed: StatusDead, ReasonMaxDeliveries: StatusDead, ReasonDecode: StatusDead} {
		if got := StatusOfReason(r); got != want {
			t.Errorf("StatusOfReason(%s) = %s, want %s", r, got, want)
		}
	}
}

func TestClipError(t *testing.T) {
	if got := ClipError(errors.New("a\nb\rc")); got != "a b c" {
		t.Errorf("ClipError = %q", got)
	}
	if got := ClipError(errors.New(strings.Repeat("x", 5000))); len(got) != maxStateError+len("…") {
		t.Errorf("ClipError of 5000 bytes is %d bytes", len(got))
	}
}

func TestResultOptionsAndBounds(t *testing.T) {
	var o options
	if err := KeepResult(500 * time.Millisecond)(&o); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("KeepResult(500ms): %v", err)
	}
	if _, err := EncodeResult(strings.Repeat("x", MaxResultSize)); !errors.Is(err, ErrResultTooLarge) {
		t.Errorf("too large a result: %v", err)
	}
	if b, err := EncodeResult(map[string]int{"n": 1}); err != nil || string(b) != `{"n":1}` {
		t.Errorf("EncodeResult = %s, %v", b, err)
	}
	if _, err := ResultOf[int](&State{ID: "a", Status: StatusRunning}); err == nil {
		t.Error("ResultOf a running job: no error")
	}
	if n, err := ResultOf[int](&State{ID: "a", Status: StatusSucceeded, Result: []byte("7")}); err != nil || n != 7 {
		t.Errorf("ResultOf = %d, %v", n, err)
	}
}
