//go:build !purego

package kernel

//go:noescape
func reluAVX512(x *float32, n int)

// reluVec applies max(x, 0) to the whole 16-lane blocks of x with AVX-512
// and returns how many elements it did.
func reluVec(x []float32) int {
	n := vecLen(len(x))
	if n > 0 {
		reluAVX512(&x[0], n)
	}
	return n
}
