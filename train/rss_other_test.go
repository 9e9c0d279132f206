//go:build !linux

package train

// peakRSS is not measured outside Linux.
func peakRSS() uint64 { return 0 }
