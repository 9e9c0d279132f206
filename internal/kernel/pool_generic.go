//go:build purego || !amd64

package kernel

// maxPool2x2Rows32 has no vector version here; the portable loop does all.
func maxPool2x2Rows32(x, y []float32, arg []int32, w, row0, oh, ow int) int { return 0 }

// unpool2x2Vec has no vector version here.
func unpool2x2Vec(dst, x, h, g, keep []float32, arg []int32, w, oh, ow int, a, b, c, d float32, mode UnpoolMode) bool {
	return false
}

func haveMaxRunsVec() bool { return false }

// maxRunsVec has no vector version here: maxRunsGo does all.
func maxRunsVec(dst, p []float32, offs []int) bool { return false }
