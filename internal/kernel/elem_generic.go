//go:build purego || !amd64

package kernel

// No vector versions here: the portable loops do every element.

func maskPositiveVec(z, v, x []float32) int                           { return 0 }
func sumVec(x []float32) (float64, int)                               { return 0, 0 }
func shiftedSumsVec(x []float32, k float64) (s1, s2 float64, n int)   { return 0, 0, 0 }
func gradSumsVec(g, x []float32, mu float64) (sg, sgx float64, n int) { return 0, 0, 0 }
func gatherGradSumsVec(g, keep, x []float32, idx []int32, mu float64) (sg, sgx float64, n int) {
	return 0, 0, 0
}
func scaleShiftVec(dst, x []float32, a, b float32) int       { return 0 }
func scaleShiftReLUVec(dst, x []float32, a, b float32) int   { return 0 }
func divVec(dst, a, b []float32) int                         { return 0 }
func divByVec(dst, x []float32, c float32) int               { return 0 }
func mulVec(dst, a, b []float32) int                         { return 0 }
func erfVec(dst, x []float32) int                            { return 0 }
func clampVec(dst, x []float32, lo, hi float32) int          { return 0 }
func keptSumsVec(g, keep []float32) (sg, sgk float64, n int) { return 0, 0, 0 }
func axpbycVec(dst, g, x []float32, a, b, c float32) int     { return 0 }
func addAxpbycVec(dst, g, x []float32, a, b, c float32) int {
	return 0
}
func gatherAxpbycVec(dst, g, x []float32, idx []int32, a, b, c float32) int { return 0 }
func expShiftedVec(dst, x []float32, shift float32) (int, float64)          { return 0, 0 }
func sigmoidVec(dst, x []float32) int                                       { return 0 }

// dotShifts does out[t] += Σ_{j<len(dy)} dy[j]·p[offs[t]+j] for each t.
func dotShifts(dy, p []float32, offs []int, out []float32) { dotShiftsGo(dy, p, offs, out) }

// dotShiftsRows does out[r*ldo+t] += Σ_{j<n} dy[r*ld+j]·p[offs[t]+j] for
// each row r < rows and tap t.
func dotShiftsRows(dy []float32, ld, rows, n int, p []float32, offs []int, out []float32, ldo int) {
	dotShiftsRowsGo(dy, ld, rows, n, p, offs, out, ldo)
}

// copyRows sets dst[r*ldd+i] = src[r*lds+i] (+ bias[r] if bias is not nil)
// for r < rows and i < n.
func copyRows(dst, src []float32, n, rows, ldd, lds int, bias []float32) {
	copyRowsGo(dst, src, n, rows, ldd, lds, bias)
}
