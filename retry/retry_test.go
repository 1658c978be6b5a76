package retry

import (
	"testing"
	"time"
)

func TestExponentialWithoutJitter(t *testing.T) {
	p := Exponential{Initial: time.Second, Max: 10 * time.Second, Jitter: NoJitter}
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{
		{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second},
		{4, 8 * time.Second}, {5, 10 * time.Second}, {100, 10 * time.Second},
	} {
		if got := p.Delay(tc.attempt); got != tc.want {
			t.Errorf("Delay(%d) = %s, want %s", tc.attempt, got, tc.want)
		}
	}
}

func TestDefaultPolicyBounds(t *testing.T) {
	p := Default()
	for attempt := 1; attempt <= 40; attempt++ {
		base := min(time.Second<<(attempt-1), time.Hour)
		if attempt > 20 {
			base = time.Hour
		}
		lo, hi := time.Duration(float64(base)*0.8), time.Duration(float64(base)*1.2)+time.Millisecond
		for range 20 {
			if d := p.Delay(attempt); d < lo || d > hi {
				t.Fatalf("Delay(%d) = %s, want within [%s, %s]", attempt, d, lo, hi)
			}
		}
	}
}

func TestJitterSpreads(t *testing.T) {
	p := Exponential{Initial: time.Second}
	seen := map[time.Duration]bool{}
	for range 50 {
		seen[p.Delay(3)] = true
	}
	if len(seen) < 10 {
		t.Fatalf("50 delays gave only %d distinct values; jitter is not applied", len(seen))
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		p  Exponential
		ok bool
	}{
		{Exponential{}, true},
		{Exponential{Initial: -1}, false},
		{Exponential{Multiplier: 0.5}, false},
		{Exponential{Jitter: 2}, false},
		{Exponential{Jitter: NoJitter}, true},
	} {
		if err := tc.p.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v.Validate() = %v, want ok=%v", tc.p, err, tc.ok)
		}
	}
}

func TestConstantAndFunc(t *testing.T) {
	if d := Constant(3 * time.Second).Delay(7); d != 3*time.Second {
		t.Fatalf("Constant.Delay = %s", d)
	}
	if d := PolicyFunc(func(n int) time.Duration { return time.Duration(n) }).Delay(5); d != 5 {
		t.Fatalf("PolicyFunc.Delay = %s", d)
	}
}
