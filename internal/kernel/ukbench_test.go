package kernel

import "testing"

func BenchmarkMicroKernel(b *testing.B) {
	for _, uk := range sgemmKernels() {
		b.Run(uk.name, func(b *testing.B) {
			kc := 128
			a := make([]float32, kc*uk.mr)
			bb := make([]float32, kc*uk.nr)
			c := make([]float32, uk.mr*uk.nr)
			fm := startFlops(b, float64(2*kc*uk.mr*uk.nr))
			for b.Loop() {
				uk.fn(kc, a, bb, c, uk.nr, 1, 0)
			}
			fm.stop()
		})
	}
}
