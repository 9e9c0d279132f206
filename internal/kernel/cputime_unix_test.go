//go:build unix

package kernel

import (
	"syscall"
	"time"
)

// processCPU returns the user+system CPU time consumed by this process. On a
// shared machine, FLOPs per CPU second is a steadier measure of kernel
// efficiency than wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
