package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// nextRun returns when a periodic schedule with spec (and time zone tz,
// "" for UTC) fires next after now; declared is when the schedule was
// stored, from which an @every period counts. It reads specs as
// nats-server does (its cron.go, after robfig/cron): six fields, second
// minute hour day-of-month month day-of-week, each *, ?, N, N-M, with /step
// and comma lists, months and weekdays also by name; when neither day field
// is * or ?, a day matching either runs. An @every period starts again
// after a server restart, which this cannot know.
func nextRun(spec, tz string, declared, now time.Time) (time.Time, error) {
	spec = strings.Join(strings.Fields(spec), " ")
	if d, ok := strings.CutPrefix(spec, "@every "); ok {
		period, err := time.ParseDuration(d)
		if err != nil || period < time.Second {
			return time.Time{}, fmt.Errorf("@every %q: not a duration of at least 1s", d)
		}
		next := declared.Round(time.Second).Add(period)
		if !next.After(now) {
			next = next.Add(((now.Sub(next) / period) + 1) * period)
		}
		return next, nil
	}
	switch spec {
	case "@yearly", "@annually":
		spec = "0 0 0 1 1 *"
	case "@monthly":
		spec = "0 0 0 1 * *"
	case "@weekly":
		spec = "0 0 0 * * 0"
	case "@daily", "@midnight":
		spec = "0 0 0 * * *"
	case "@hourly":
		spec = "0 0 * * * *"
	}
	loc := time.UTC
	if tz != "" {
		var err error
		if loc, err = time.LoadLocation(tz); err != nil {
			return time.Time{}, err
		}
	}
	c, err := parseCronSpec(spec)
	if err != nil {
		return time.Time{}, err
	}
	return c.next(now.In(loc))
}

// cronSpec is a parsed six-field cron expression: one bit per allowed
// value of each field; starBit marks a field given as * or ?.
type cronSpec struct{ second, minute, hour, dom, month, dow uint64 }

const starBit = 1 << 63

type cronField struct {
	min, max uint
	names    []string // names[i] is value min+i
}

var cronFields = [6]cronField{
	{0, 59, nil}, {0, 59, nil}, {0, 23, nil}, {1, 31, nil},
	{1, 12, []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{0, 6, []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

func parseCronSpec(spec string) (cronSpec, error) {
	fields := strings.Fields(spec)
	if len(fields) != 6 {
		return cronSpec{}, fmt.Errorf("%q: want 6 fields (second minute hour day-of-month month day-of-week), got %d", spec, len(fields))
	}
	var bits [6]uint64
	for i, f := range fields {
		for expr := range strings.SplitSeq(f, ",") {
			b, err := cronRange(expr, cronFields[i])
			if err != nil {
				return cronSpec{}, fmt.Errorf("%q: %w", spec, err)
			}
			bits[i] |= b
		}
	}
	return cronSpec{bits[0], bits[1], bits[2], bits[3], bits[4], bits[5]}, nil
}

func cronRange(expr string, f cronField) (uint64, error) {
	rangePart, stepPart, hasStep := strings.Cut(expr, "/")
	lo, hi, isRange := strings.Cut(rangePart, "-")
	var start, end uint
	var extra uint64
	var err error
	if rangePart == "*" || rangePart == "?" {
		start, end, extra = f.min, f.max, starBit
	} else {
		if start, err = cronValue(lo, f); err != nil {
			return 0, err
		}
		end = start
		if isRange {
			if end, err = cronValue(hi, f); err != nil {
				return 0, err
			}
		}
	}
	step := uint(1)
	if hasStep {
		n, err := strconv.ParseUint(stepPart, 10, 8)
		if err != nil || n == 0 {
			return 0, fmt.Errorf("step %q: want a positive number", stepPart)
		}
		step = uint(n)
		if !isRange {
			end = f.max
		}
		if step > 1 {
			extra = 0
		}
	}
	if start < f.min || end > f.max || start > end {
		return 0, fmt.Errorf("%q: out of %d-%d", expr, f.min, f.max)
	}
	var bits uint64
	for v := start; v <= end; v += step {
		bits |= 1 << v
	}
	return bits | extra, nil
}

func cronValue(s string, f cronField) (uint, error) {
	for i, name := range f.names {
		if strings.EqualFold(s, name) {
			return f.min + uint(i), nil
		}
	}
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		return 0, fmt.Errorf("%q: not a number", s)
	}
	return uint(n), nil
}

// next is the first time after t (in t's zone) the spec matches, found
// field by field from the month down, within five years.
func (c cronSpec) next(t time.Time) (time.Time, error) {
	loc := t.Location()
	t = t.Truncate(time.Second).Add(time.Second)
	limit := t.Year() + 5
	truncated := false
wrap:
	if t.Year() > limit {
		return time.Time{}, errors.New("it never fires")
	}
	for 1<<uint(t.Month())&c.month == 0 {
		if !truncated {
			truncated = true
			t = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
		}
		if t = t.AddDate(0, 1, 0); t.Month() == time.January {
			goto wrap
		}
	}
	for !c.dayMatches(t) {
		if !truncated {
			truncated = true
			t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		}
		if t = t.AddDate(0, 0, 1); t.Day() == 1 {
			goto wrap
		}
	}
	for 1<<uint(t.Hour())&c.hour == 0 {
		if !truncated {
			truncated = true
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, loc)
		}
		if t = t.Add(time.Hour); t.Hour() == 0 {
			goto wrap
		}
	}
	for 1<<uint(t.Minute())&c.minute == 0 {
		if !truncated {
			truncated = true
			t = t.Truncate(time.Minute)
		}
		if t = t.Add(time.Minute); t.Minute() == 0 {
			goto wrap
		}
	}
	for 1<<uint(t.Second())&c.second == 0 {
		if !truncated {
			truncated = true
			t = t.Truncate(time.Second)
		}
		if t = t.Add(time.Second); t.Second() == 0 {
			goto wrap
		}
	}
	return t, nil
}

func (c cronSpec) dayMatches(t time.Time) bool {
	domMatch := 1<<uint(t.Day())&c.dom > 0
	dowMatch := 1<<uint(t.Weekday())&c.dow > 0
	if c.dom&starBit > 0 || c.dow&starBit > 0 {
		return domMatch && dowMatch
	}
	return domMatch || dowMatch
}
