package worker

import "time"

// SetSequenceProbeInterval sets how often pools look in the work stream for
// sequence jobs of queues whose partitions are not open, for pools started
// after it, and returns a function that puts it back.
func SetSequenceProbeInterval(d time.Duration) (restore func()) {
	old := sequenceProbeInterval
	sequenceProbeInterval = d
	return func() { sequenceProbeInterval = old }
}
