package dashboard

import (
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/job"
)

// What happens between two samples is spread over the minutes between
// them; only the last hour is charted; a recreated consumer or purged dead
// letters count nothing.
func TestSamplerSpreadsOverTheMinutes(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 30, 0, time.UTC)
	for _, c := range []struct {
		name              string
		gap               time.Duration
		deliveries, dead  uint64
		wantDel, wantDead int
		wantBars          int
	}{
		{"two minutes", 2 * time.Minute, 1200, 30, 1200, 30, 3},
		{"thirty seconds", 30 * time.Second, 100, 0, 100, 0, 0},
		// 100 a minute; the chart's 60 minutes begin with the minute after
		// the one an hour ago, whose last half minute falls out.
		{"three hours: the last hour only", 3 * time.Hour, 18000, 0, 5950, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSampler()
			s.record([]job.QueueStats{{Queue: "q", Deliveries: 5000, DeadLetters: 7}}, t0)
			now := t0.Add(c.gap)
			s.record([]job.QueueStats{{Queue: "q", Deliveries: 5000 + c.deliveries, DeadLetters: 7 + c.dead}}, now)
			ch := s.chart("q", now)
			if ch.Deliveries != c.wantDel || ch.Dead != c.wantDead || len(ch.Bars) != c.wantBars {
				t.Fatalf("chart: %d deliveries, %d dead, %d bars; want %d, %d, %d", ch.Deliveries, ch.Dead, len(ch.Bars), c.wantDel, c.wantDead, c.wantBars)
			}
		})
	}
	s := newSampler()
	s.record([]job.QueueStats{{Queue: "q", Deliveries: 5000, DeadLetters: 70}}, t0)
	s.record([]job.QueueStats{{Queue: "q", Deliveries: 10, DeadLetters: 0}}, t0.Add(time.Minute))
	if ch := s.chart("q", t0.Add(time.Minute)); ch.Deliveries != 0 || ch.Dead != 0 {
		t.Fatalf("counters that went down counted %d deliveries, %d dead", ch.Deliveries, ch.Dead)
	}
	if ch := s.chart("other", t0); ch.Sampled || ch.Line == "" {
		t.Fatalf("an unsampled queue: %+v", ch)
	}
}
