package kernel_test

import (
	"fmt"

	"github.com/fewshot-go/fewshot/internal/kernel"
)

func ExampleGemm() {
	// C = A·Bᵀ with A 2×3 and B 2×3, so C is 2×2.
	a := []float32{1, 2, 3, 4, 5, 6}
	b := []float32{1, 0, 1, 0, 1, 0}
	c := make([]float32, 4)
	kernel.Gemm(false, true, 2, 2, 3, 1, a, 3, b, 3, 0, c, 2)
	fmt.Println(c)
	// Output: [4 2 10 5]
}

func ExampleConv2D() {
	// One 3×3 single-channel image, a 2×2 kernel of ones, no padding: each
	// output is the sum of a 2×2 window.
	s := kernel.ConvShape{N: 1, C: 1, H: 3, W: 3, K: 1, R: 2, S: 2}
	if err := s.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	x := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}
	w := []float64{1, 1, 1, 1}
	y := make([]float64, s.N*s.K*s.OutH()*s.OutW())
	kernel.Conv2D(s, x, w, []float64{0.5}, y)
	fmt.Println(s.OutH(), s.OutW(), y)
	// Output: 2 2 [12.5 16.5 24.5 28.5]
}

func ExampleMaxPool2D() {
	p := kernel.PoolShape{N: 1, C: 1, H: 2, W: 4, KH: 2, KW: 2, StrideH: 2, StrideW: 2}
	x := []float32{1, 5, 2, 0, 3, 4, 8, 1}
	y := make([]float32, 2)
	argmax := make([]int32, 2)
	kernel.MaxPool2D(p, x, y, argmax)
	fmt.Println(y, argmax)
	// Output: [5 8] [1 6]
}
