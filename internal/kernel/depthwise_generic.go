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

// The channel-blocked route needs the vector kernels.
var haveDWBlock = false

func dwGather(t []float32, tab []int32, src []float32, ld, rows, cols int) {
	dwGatherGo(t, tab, src, ld, rows, cols)
}

func dwScatter(dst []float32, ld int, o []float32, rows, cols int) {
	dwScatterGo(dst, ld, o, rows, cols)
}

func dwBlock(o, t []float32, bases, offs []int32, w, b []float32, relu bool) {
	dwBlockGo(o, t, bases, offs, w, b, relu)
}
