//go:build purego || !amd64

package kernel

// No vector plane kernel here: dwRowGo does every plane.

func newDWPlane(oh, ow, pw int) dwPlane { return dwPlane{} }

func dwPlaneVec(dst, p []float32, offs []int, w []float32, b float32, relu bool, l dwPlane) bool {
	return false
}

func deinterleave2Vec(even, odd, src []float32) int { return 0 }

func deinterleave2RowsVec(even, odd []float32, ldd int, src []float32, lds, n, rows int) bool {
	return false
}
