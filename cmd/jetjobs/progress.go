package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws a one-line progress bar on a terminal:
//
//	enqueue [██████████········]  55%  5500/10000  41k/s  eta 1s
//
// It redraws at most ten times a second, from the caller's goroutine (no
// goroutine of its own). A progress that is not enabled draws nothing.
type progress struct {
	w       io.Writer
	enabled bool
	label   string
	total   int
	done    int
	start   time.Time
	drawn   time.Time
}

func newProgress(w io.Writer, enabled bool, label string, total int) *progress {
	return &progress{w: w, enabled: enabled && total > 0, label: label, total: total, start: time.Now()}
}

// set records that n of total are done and redraws if due.
func (p *progress) set(n int) {
	p.done = n
	if !p.enabled || (n < p.total && time.Since(p.drawn) < 100*time.Millisecond) {
		return
	}
	p.drawn = time.Now()
	fmt.Fprint(p.w, "\r"+p.line(p.drawn)+"\x1b[K")
}

// finish ends the bar's line.
func (p *progress) finish() {
	if p.enabled {
		p.set(p.done)
		fmt.Fprintln(p.w)
	}
}

func (p *progress) line(now time.Time) string {
	const width = 24
	frac := float64(p.done) / float64(p.total)
	frac = min(max(frac, 0), 1)
	full := int(frac * width)
	bar := strings.Repeat("█", full) + strings.Repeat("·", width-full)
	elapsed := now.Sub(p.start)
	s := fmt.Sprintf("%s [%s] %3.0f%%  %d/%d", p.label, bar, frac*100, p.done, p.total)
	if elapsed > 0 && p.done > 0 {
		rate := float64(p.done) / elapsed.Seconds()
		s += "  " + rateString(rate)
		if p.done < p.total {
			eta := time.Duration(float64(p.total-p.done) / rate * float64(time.Second))
			s += "  eta " + age(eta)
		}
	}
	return s
}

// rateString formats a rate per second: 950/s, 41k/s, 1.2M/s.
func rateString(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.1fM/s", r/1e6)
	case r >= 1e4:
		return fmt.Sprintf("%.0fk/s", r/1e3)
	case r >= 1e3:
		return fmt.Sprintf("%.1fk/s", r/1e3)
	}
	return fmt.Sprintf("%.0f/s", r)
}
