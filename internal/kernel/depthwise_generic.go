//go:build purego || !amd64

package kernel

// No vector row kernel here: dwRowGo does every row.

func newDWTail(n int) dwTail { return dwTail{} }

func dwRowVec(dst, p []float32, offs []int, w []float32, b float32, t dwTail) bool { return false }

func deinterleave2Vec(even, odd, src []float32) int { return 0 }

func deinterleave2RowsVec(even, odd []float32, ldd int, src []float32, lds, n, rows int) bool {
	return false
}
