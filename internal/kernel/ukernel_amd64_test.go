//go:build !purego

package kernel

import (
	"math"
	"testing"
)

// square returns x*x; a function so the compiler cannot fold it.
//
//go:noinline
func square(x float32) float32 { return x * x }

// TestMicroKernelFlushesDenormals checks that the assembly micro-kernels
// treat subnormal inputs as zero and give the caller back its MXCSR:
// ordinary Go float arithmetic still produces subnormals afterwards.
func TestMicroKernelFlushesDenormals(t *testing.T) {
	sub := math.Float32frombits(0x00000100) // ≈ 3.6e-43, subnormal
	for _, uk := range sgemmKernels() {
		if uk == goKernel32 {
			continue
		}
		t.Run(uk.name, func(t *testing.T) {
			const kc = 5
			a := make([]float32, kc*uk.mr)
			b := make([]float32, kc*uk.nr)
			for i := range a {
				a[i] = sub
			}
			for i := range b {
				b[i] = 1
			}
			c := make([]float32, uk.mr*uk.nr)
			uk.fn(kc, a, b, c, uk.nr, 1, 0)
			for i, v := range c {
				if v != 0 {
					t.Fatalf("c[%d] = %g, want 0 (subnormal inputs flushed)", i, v)
				}
			}
			// A product of normal numbers that underflows is flushed too.
			for i := range a {
				a[i] = 1e-20
				if i < len(b) {
					b[i] = 1e-20
				}
			}
			for i := range b {
				b[i] = 1e-20
			}
			uk.fn(kc, a, b, c, uk.nr, 1, 0)
			if c[0] != 0 {
				t.Fatalf("c[0] = %g, want 0 (subnormal products flushed)", c[0])
			}
			if got := square(1e-20); got == 0 {
				t.Fatal("after the kernel returned, Go arithmetic flushes subnormals: MXCSR was not restored")
			}
			// Normal values are unaffected.
			for i := range a {
				a[i] = 2
			}
			for i := range b {
				b[i] = 3
			}
			uk.fn(kc, a, b, c, uk.nr, 1, 0)
			if c[0] != 2*3*kc {
				t.Fatalf("c[0] = %g, want %d", c[0], 2*3*kc)
			}
		})
	}
}
