//go:build !unix

package peers

import "time"

// processCPU is not measured on this platform; the cpu-ms/op metric reads 0.
func processCPU() time.Duration { return 0 }
