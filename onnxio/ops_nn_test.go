package onnxio

import (
	"math"
	"testing"

	"github.com/fewshot-go/fewshot/internal/kernel"
)

// TestGlobalAveragePoolShared checks GlobalAveragePool on float32 planes
// large enough to be shared over the threads, with odd plane sizes,
// against float64 means, at one to three threads.
func TestGlobalAveragePoolShared(t *testing.T) {
	const n, c, h, w = 2, 41, 33, 35
	x := make([]float32, n*c*h*w)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.37)*2 + float64(i%7))
	}
	want := make([]float64, n*c)
	for p := range want {
		s := 0.0
		for _, v := range x[p*h*w : (p+1)*h*w] {
			s += float64(v)
		}
		want[p] = s / (h * w)
	}
	for _, threads := range []int{1, 2, 3} {
		prev := kernel.SetThreads(threads)
		node := NewNode("GlobalAveragePool", "gap", []string{"x"}, []string{"y"})
		out := mustRun(t, 13, node, tv("x", []int64{n, c, h, w}, x))
		wantClose(t, out[0], []int{n, c, 1, 1}, want, 1e-6)
		kernel.SetThreads(prev)
	}
}
