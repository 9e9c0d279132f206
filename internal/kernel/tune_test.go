package kernel

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// TestTuneGemm prints the best-of-many speed of several block sizes; it runs
// only with KERNEL_TUNE=1 and is a development aid, not a check.
func TestTuneGemm(t *testing.T) {
	if os.Getenv("KERNEL_TUNE") == "" {
		t.Skip("set KERNEL_TUNE=1 to run")
	}
	prevT := SetThreads(1)
	defer SetThreads(prevT)
	uk := sgemmKernel
	saved := *uk
	defer func() { *uk = saved }()
	rng := rand.New(rand.NewPCG(1, 1))
	for _, sz := range [][3]int{{512, 512, 512}, {64, 1764, 576}, {64, 7056, 27}} {
		m, n, k := sz[0], sz[1], sz[2]
		a := randSlice[float32](rng, m*k)
		b := randSlice[float32](rng, k*n)
		c := make([]float32, m*n)
		for _, kc := range []int{64, 128, 192, 256, 384} {
			for _, mc := range []int{128, 256, 512} {
				uk.kc, uk.mc = kc, mc
				best := time.Hour
				for r := 0; r < 30; r++ {
					t0 := time.Now()
					Gemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
					best = min(best, time.Since(t0))
				}
				fmt.Printf("%v kc=%d mc=%d: %.1f GFLOP/s\n", sz, kc, mc, 2*float64(m*n*k)/best.Seconds()/1e9)
			}
		}
	}
}
