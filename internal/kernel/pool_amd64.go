//go:build !purego

package kernel

import "golang.org/x/sys/cpu"

//go:noescape
func maxPool2x2AVX512(r0, r1, y *float32, arg *int32, n int, base, w int32) int

var haveAVX512 = cpu.X86.HasAVX512F

// maxPool2x2Row32 pools as many outputs of one float32 row as the vector
// code can and returns how many it wrote; the caller finishes the row.
func maxPool2x2Row32(r0, r1, y []float32, arg []int32, base, w int) int {
	n := len(y)
	if !haveAVX512 || n == 0 {
		return 0
	}
	_ = r0[2*n-1]
	_ = r1[2*n-1]
	_ = arg[n-1]
	return maxPool2x2AVX512(&r0[0], &r1[0], &y[0], &arg[0], n, int32(base), int32(w))
}
