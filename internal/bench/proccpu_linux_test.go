package bench

import (
	"os"
	"testing"
	"time"
)

func TestProcessCPUCountsAnotherProcessByID(t *testing.T) {
	self := []int{os.Getpid()}
	start := processCPU(self)
	deadline := time.Now().Add(10 * time.Second)
	x := 0
	for processCPU(self)-start < 50*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatalf("processCPU grew by %s in 10s of a busy loop", processCPU(self)-start)
		}
		for i := range 1_000_000 {
			x += i
		}
	}
	if x == 0 {
		t.Error("the busy loop did nothing")
	}
	if got := processCPU([]int{-1}); got != 0 {
		t.Errorf("processCPU of no process = %s, want 0", got)
	}
}
