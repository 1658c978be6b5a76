package dashboard

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jetjobs/jetjobs/job"
)

// sampler keeps each queue's deliveries and dead letters per minute over
// the last hour, from the figures the overview reads. It samples when the
// overview is read (its live refresh reads it every few seconds while it is
// open), and spreads what happened between two reads evenly over the
// minutes between them. It starts no goroutine.
type sampler struct {
	mu     sync.Mutex
	queues map[string]*series
}

const minutes = 60

type series struct {
	last       time.Time // of the last sample
	deliveries uint64
	dead       uint64
	// per-minute buckets, indexed by unix minute modulo 60
	del, fail [minutes]float64
	stamp     [minutes]int64 // unix minute each bucket holds
}

func newSampler() *sampler { return &sampler{queues: map[string]*series{}} }

// record adds a sample of every queue's figures at now.
func (s *sampler) record(stats []job.QueueStats, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for _, q := range stats {
		seen[q.Queue] = true
		sr := s.queues[q.Queue]
		if sr == nil {
			s.queues[q.Queue] = &series{last: now, deliveries: q.Deliveries, dead: q.DeadLetters}
			continue
		}
		if now.Sub(sr.last) < time.Second {
			continue
		}
		var dDel, dDead float64
		if q.Deliveries >= sr.deliveries {
			dDel = float64(q.Deliveries - sr.deliveries)
		} // else: the consumer was recreated; count nothing
		if q.DeadLetters >= sr.dead {
			dDead = float64(q.DeadLetters - sr.dead)
		} // else: dead letters were replayed or deleted
		sr.spread(sr.last, now, dDel, dDead)
		sr.last, sr.deliveries, sr.dead = now, q.Deliveries, q.DeadLetters
	}
	for name := range s.queues {
		if !seen[name] {
			delete(s.queues, name)
		}
	}
}

// spread adds del and dead, which happened between from and to, to the
// minutes between them in proportion to the time of each.
func (sr *series) spread(from, to time.Time, del, dead float64) {
	total := to.Sub(from).Seconds()
	if total <= 0 {
		return
	}
	if to.Sub(from) > time.Hour {
		from = to.Add(-time.Hour)
	}
	for t := from; t.Before(to); {
		m := t.Truncate(time.Minute)
		end := m.Add(time.Minute)
		if end.After(to) {
			end = to
		}
		share := end.Sub(t).Seconds() / total
		sr.add(m.Unix()/60, del*share, dead*share)
		t = end
	}
}

func (sr *series) add(minute int64, del, dead float64) {
	i := int(minute % minutes)
	if sr.stamp[i] != minute {
		sr.stamp[i], sr.del[i], sr.fail[i] = minute, 0, 0
	}
	sr.del[i] += del
	sr.fail[i] += dead
}

// chart is a queue's last hour as an SVG sparkline: the deliveries per
// minute as a line, the dead letters per minute as bars.
type chart struct {
	Width, Height int
	Line          string // polyline points
	Bars          []bar
	Deliveries    int
	Dead          int
	PeakPerMin    int
	Sampled       bool
}

type bar struct{ X, Y, W, H float64 }

func (s *sampler) chart(queue string, now time.Time) chart {
	c := chart{Width: 180, Height: 36}
	s.mu.Lock()
	sr := s.queues[queue]
	var del, fail [minutes]float64
	if sr != nil {
		cur := now.Unix() / 60
		for k := range minutes {
			minute := cur - int64(minutes-1-k)
			i := int(minute % minutes)
			if sr.stamp[i] == minute {
				del[k], fail[k] = sr.del[i], sr.fail[i]
			}
		}
		c.Sampled = true
	}
	s.mu.Unlock()
	peak := 1.0
	var totalDel, totalDead float64
	for k := range minutes {
		peak = max(peak, del[k], fail[k])
		totalDel += del[k]
		totalDead += fail[k]
	}
	c.Deliveries, c.Dead, c.PeakPerMin = int(totalDel+0.5), int(totalDead+0.5), int(peak+0.5)
	w := float64(c.Width) / minutes
	h := float64(c.Height - 2)
	var pts strings.Builder
	for k := range minutes {
		x := w*float64(k) + w/2
		y := 1 + h - del[k]/peak*h
		fmt.Fprintf(&pts, "%.1f,%.1f ", x, y)
		if fail[k] > 0 {
			bh := max(fail[k]/peak*h, 1.5)
			c.Bars = append(c.Bars, bar{X: w * float64(k), Y: 1 + h - bh, W: max(w-0.5, 1), H: bh})
		}
	}
	c.Line = strings.TrimSpace(pts.String())
	return c
}
