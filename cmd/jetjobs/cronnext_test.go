package main

import (
	"testing"
	"time"
)

func TestNextRun(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	// Saturday 2026-12-05 10:20:30 UTC.
	now := time.Date(2026, 12, 5, 10, 20, 30, 0, time.UTC)
	declared := time.Date(2026, 12, 5, 9, 0, 0, 400_000_000, time.UTC)
	for _, c := range []struct {
		spec, tz string
		want     time.Time
	}{
		{"@every 15m", "", time.Date(2026, 12, 5, 10, 30, 0, 0, time.UTC)},
		{"@every 1h", "", time.Date(2026, 12, 5, 11, 0, 0, 0, time.UTC)},
		{"@every  90s", "", time.Date(2026, 12, 5, 10, 21, 0, 0, time.UTC)},
		{"@hourly", "", time.Date(2026, 12, 5, 11, 0, 0, 0, time.UTC)},
		{"@daily", "", time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)},
		{"@weekly", "", time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)}, // Sunday
		{"@monthly", "", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"@yearly", "", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"0 30 9 * * 1-5", "", time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)}, // Monday
		{"0 30 9 * * MON-FRI", "", time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)},
		{"*/20 * * * * *", "", time.Date(2026, 12, 5, 10, 20, 40, 0, time.UTC)},
		{"0 0/25 * * * ?", "", time.Date(2026, 12, 5, 10, 25, 0, 0, time.UTC)},
		{"0 0 12 1,15 * *", "", time.Date(2026, 12, 15, 12, 0, 0, 0, time.UTC)},
		{"0 0 0 29 feb *", "", time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC)},
		// Day of month or weekday when neither is *.
		{"0 0 8 10 * 0", "", time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)},
		// 02:30 in Berlin is 01:30 UTC in winter.
		{"0 30 2 * * *", "Europe/Berlin", time.Date(2026, 12, 6, 2, 30, 0, 0, berlin)},
	} {
		got, err := nextRun(c.spec, c.tz, declared, now)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("nextRun(%q, %q) = %s, %v; want %s", c.spec, c.tz, got, err, c.want)
		}
	}
	for _, bad := range []string{"* * * * *", "0 61 * * * *", "0 0 0 0 * *", "0 0 0 * * 7", "0 0 0 * * */0", "@every 10ms", "@every soon", "0 0 0 30 2 *"} {
		if got, err := nextRun(bad, "", declared, now); err == nil {
			t.Errorf("nextRun(%q) = %s, want an error", bad, got)
		}
	}
}
