//go:build !linux

package bench

// resetPeakRSS is a no-op where the peak cannot be reset.
func resetPeakRSS() {}

// peakRSS returns zero: only Linux reports a resettable peak.
func peakRSS() uint64 { return 0 }
