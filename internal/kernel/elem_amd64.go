//go:build !purego

package kernel

// AVX-512 bodies of the element-wise loops (elem_amd64.s). Each takes a
// length that is a positive multiple of 16; the wrappers return how many
// elements they did so the portable loop can finish.

//go:noescape
func maskPositiveAVX512(z, v, x *float32, n int)

//go:noescape
func sumAVX512(x *float32, n int) float64

//go:noescape
func shiftedSumsAVX512(x *float32, n int, k float64) (s1, s2 float64)

//go:noescape
func gradSumsAVX512(gv, x *float32, n int, mu float64) (sg, sgx float64)

//go:noescape
func gatherGradSumsAVX512(gv, keep, x *float32, idx *int32, n, nx int, mu float64) (sg, sgx float64, bad bool)

//go:noescape
func addAxpbycAVX512(dst, gv, x *float32, n int, a, b, c float32)

//go:noescape
func gatherAxpbycAVX512(dst, gv, x *float32, idx *int32, n, ng int, a, b, c float32) (bad bool)

//go:noescape
func keptSumsAVX512(gv, keep *float32, n int) (sg, sgk float64)

//go:noescape
func erfAVX512(dst, x *float32, n int)

//go:noescape
func clampAVX512(dst, x *float32, n int, lo, hi float32)

//go:noescape
func mulAVX512(dst, a, b *float32, n int)

//go:noescape
func scaleShiftAVX512(dst, x *float32, n int, a, b float32)

//go:noescape
func axpbycAVX512(dst, gv, x *float32, n int, a, b, c float32)

// vecLen is the prefix of n elements the vector code takes: whole 16-lane
// blocks, or none without AVX-512.
func vecLen(n int) int {
	if !haveAVX512 {
		return 0
	}
	return n &^ 15
}

func maskPositiveVec(z, v, x []float32) int {
	n := vecLen(len(z))
	if n > 0 {
		_, _ = v[n-1], x[n-1]
		maskPositiveAVX512(&z[0], &v[0], &x[0], n)
	}
	return n
}

func sumVec(x []float32) (float64, int) {
	n := vecLen(len(x))
	if n == 0 {
		return 0, 0
	}
	return sumAVX512(&x[0], n), n
}

func shiftedSumsVec(x []float32, k float64) (s1, s2 float64, n int) {
	n = vecLen(len(x))
	if n == 0 {
		return 0, 0, 0
	}
	s1, s2 = shiftedSumsAVX512(&x[0], n, k)
	return s1, s2, n
}

func gradSumsVec(g, x []float32, mu float64) (sg, sgx float64, n int) {
	n = vecLen(len(g))
	if n == 0 {
		return 0, 0, 0
	}
	_ = x[n-1]
	sg, sgx = gradSumsAVX512(&g[0], &x[0], n, mu)
	return sg, sgx, n
}

func gatherGradSumsVec(g, keep, x []float32, idx []int32, mu float64) (sg, sgx float64, n int) {
	n = vecLen(len(g))
	if n == 0 || len(x) == 0 {
		return 0, 0, 0
	}
	_, _ = keep[n-1], idx[n-1]
	sg, sgx, bad := gatherGradSumsAVX512(&g[0], &keep[0], &x[0], &idx[0], n, len(x), mu)
	if bad {
		badGatherIndex("GatherGradSums32", x, keep[:n], idx[:n])
	}
	return sg, sgx, n
}

func addAxpbycVec(dst, g, x []float32, a, b, c float32) int {
	n := vecLen(len(dst))
	if n > 0 {
		_, _ = g[n-1], x[n-1]
		addAxpbycAVX512(&dst[0], &g[0], &x[0], n, a, b, c)
	}
	return n
}

func gatherAxpbycVec(dst, g, x []float32, idx []int32, a, b, c float32) int {
	n := vecLen(len(dst))
	if n == 0 || len(g) == 0 {
		return 0
	}
	_ = idx[n-1]
	if gatherAxpbycAVX512(&dst[0], &g[0], &x[0], &idx[0], n, len(g), a, b, c) {
		badIndex("GatherAxpbyc32", len(g), idx[:n])
	}
	return n
}

func keptSumsVec(g, keep []float32) (sg, sgk float64, n int) {
	n = vecLen(len(g))
	if n == 0 {
		return 0, 0, 0
	}
	_ = keep[n-1]
	sg, sgk = keptSumsAVX512(&g[0], &keep[0], n)
	return sg, sgk, n
}

func erfVec(dst, x []float32) int {
	n := vecLen(len(dst))
	if n > 0 {
		_ = x[n-1]
		erfAVX512(&dst[0], &x[0], n)
	}
	return n
}

func clampVec(dst, x []float32, lo, hi float32) int {
	n := vecLen(len(dst))
	if n > 0 {
		_ = x[n-1]
		clampAVX512(&dst[0], &x[0], n, lo, hi)
	}
	return n
}

func mulVec(dst, a, b []float32) int {
	n := vecLen(len(dst))
	if n > 0 {
		_, _ = a[n-1], b[n-1]
		mulAVX512(&dst[0], &a[0], &b[0], n)
	}
	return n
}

//go:noescape
func divAVX512(dst, a, b *float32, n int)

//go:noescape
func divByAVX512(dst, x *float32, n int, c float32)

// divVec and divByVec do Div32's and DivBy32's work on the longest prefix
// of a multiple of 16 elements and return its length.
func divVec(dst, a, b []float32) int {
	n := vecLen(len(dst))
	if n > 0 {
		_, _ = a[n-1], b[n-1]
		divAVX512(&dst[0], &a[0], &b[0], n)
	}
	return n
}

func divByVec(dst, x []float32, c float32) int {
	n := vecLen(len(dst))
	if n > 0 {
		_ = x[n-1]
		divByAVX512(&dst[0], &x[0], n, c)
	}
	return n
}

func scaleShiftVec(dst, x []float32, a, b float32) int {
	n := vecLen(len(dst))
	if n > 0 {
		_ = x[n-1]
		scaleShiftAVX512(&dst[0], &x[0], n, a, b)
	}
	return n
}

//go:noescape
func scaleShiftReLUAVX512(dst, x *float32, n int, a, b float32)

// scaleShiftReLUVec does ScaleShiftReLU32's work on the longest prefix of
// a multiple of 16 elements and returns its length.
func scaleShiftReLUVec(dst, x []float32, a, b float32) int {
	n := vecLen(len(dst))
	if n > 0 {
		_ = x[n-1]
		scaleShiftReLUAVX512(&dst[0], &x[0], n, a, b)
	}
	return n
}

//go:noescape
func sigmoidAVX512(dst, x *float32, n int)

//go:noescape
func expShiftedAVX512(dst, x *float32, n int, shift float32, lanes *[16]float32)

// expShiftedVec does ExpShiftedSum32's work on the longest prefix of a
// multiple of 16 elements; it returns the prefix's length and sum.
func expShiftedVec(dst, x []float32, shift float32) (int, float64) {
	n := vecLen(len(dst))
	if n == 0 {
		return 0, 0
	}
	_ = x[n-1]
	var lanes [16]float32
	expShiftedAVX512(&dst[0], &x[0], n, shift, &lanes)
	var sum float64
	for _, v := range lanes {
		sum += float64(v)
	}
	return n, sum
}

func sigmoidVec(dst, x []float32) int {
	n := vecLen(len(dst))
	if n > 0 {
		_ = x[n-1]
		sigmoidAVX512(&dst[0], &x[0], n)
	}
	return n
}

func axpbycVec(dst, g, x []float32, a, b, c float32) int {
	n := vecLen(len(dst))
	if n > 0 {
		_, _ = g[n-1], x[n-1]
		axpbycAVX512(&dst[0], &g[0], &x[0], n, a, b, c)
	}
	return n
}

//go:noescape
func dotShiftsAVX512(dy, p *float32, offs *int, nt, n int, out *float32)

// dotShifts does out[t] += Σ_{j<len(dy)} dy[j]·p[offs[t]+j] for each t;
// len(dy) is a positive multiple of 64.
func dotShifts(dy, p []float32, offs []int, out []float32) {
	if !haveAVX512 {
		dotShiftsGo(dy, p, offs, out)
		return
	}
	n := len(dy)
	_ = out[len(offs)-1]
	_ = p[maxShift(offs)+n-1]
	dotShiftsAVX512(&dy[0], &p[0], &offs[0], len(offs), n, &out[0])
}

// maxShift returns the largest of offs, which the vector code reads up to
// that shift past p's start; it panics on a negative shift, which would
// read before it.
func maxShift(offs []int) int {
	hi := 0
	for _, o := range offs {
		if o < 0 {
			panic("kernel: negative shift")
		}
		hi = max(hi, o)
	}
	return hi
}

//go:noescape
func dotShifts4x4AVX512(dy *float32, ld int, p *float32, offs *int, n int, out *float32, ldo int)

// dotShiftsRows does out[r*ldo+t] += Σ_{j<n} dy[r*ld+j]·p[offs[t]+j] for
// each row r < rows and tap t; n is a positive multiple of 64. Blocks of
// four rows and four taps share their loads (each shifted row of p serves
// four rows of dy, each row of dy four taps); the taps and rows left over
// go through dotShifts.
func dotShiftsRows(dy []float32, ld, rows, n int, p []float32, offs []int, out []float32, ldo int) {
	nt := len(offs)
	if !haveAVX512 || rows == 0 || nt == 0 {
		dotShiftsRowsGo(dy, ld, rows, n, p, offs, out, ldo)
		return
	}
	_ = dy[(rows-1)*ld+n-1]
	_ = out[(rows-1)*ldo+nt-1]
	_ = p[maxShift(offs)+n-1]
	r := 0
	for ; r+4 <= rows; r += 4 {
		t := 0
		for ; t+4 <= nt; t += 4 {
			dotShifts4x4AVX512(&dy[r*ld], ld, &p[0], &offs[t], n, &out[r*ldo+t], ldo)
		}
		if t < nt {
			for q := r; q < r+4; q++ {
				dotShifts(dy[q*ld:q*ld+n], p, offs[t:], out[q*ldo+t:q*ldo+nt])
			}
		}
	}
	for ; r < rows; r++ {
		dotShifts(dy[r*ld:r*ld+n], p, offs, out[r*ldo:r*ldo+nt])
	}
}

//go:noescape
func copyRowsAVX512(dst, src *float32, n, rows, ldd, lds int, bias *float32)

// copyRows sets dst[r*ldd+i] = src[r*lds+i] (+ bias[r] if bias is not nil)
// for r < rows and i < n.
func copyRows(dst, src []float32, n, rows, ldd, lds int, bias []float32) {
	if !haveAVX512 || n == 0 || rows == 0 {
		copyRowsGo(dst, src, n, rows, ldd, lds, bias)
		return
	}
	_ = dst[(rows-1)*ldd+n-1]
	_ = src[(rows-1)*lds+n-1]
	var b *float32
	if bias != nil {
		_ = bias[rows-1]
		b = &bias[0]
	}
	copyRowsAVX512(&dst[0], &src[0], n, rows, ldd, lds, b)
}
