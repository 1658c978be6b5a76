package worker

import (
	"strconv"
	"testing"
	"time"
)

// BenchmarkCancelsLoad measures loading recorded cancels, as Start does from
// the cancel bucket: each add must cost the same however many came before.
func BenchmarkCancelsLoad(b *testing.B) {
	c := newCancels(nil, 24*time.Hour)
	now := time.Now()
	b.ReportAllocs()
	for i := range b.N {
		c.add("job-"+strconv.Itoa(i), now)
	}
	if !c.canceled("job-0") {
		b.Fatal("first cancel lost")
	}
}

func TestCancelsExpireAndRemove(t *testing.T) {
	c := newCancels(nil, time.Hour)
	c.add("old", time.Now().Add(-2*time.Hour))
	c.add("new", time.Now())
	if c.canceled("old") || !c.canceled("new") {
		t.Fatal("expiry not applied")
	}
	c.remove("new")
	if c.canceled("new") {
		t.Fatal("removed cancel still reported")
	}
}
