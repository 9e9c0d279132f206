package kernel

import "math"

// Element-wise float32 loops for the layers around the convolutions (batch
// normalisation, ReLU). They run at memory speed on large activations, so
// the amd64 build does the bulk of each slice with AVX-512 (elem_amd64.s);
// the portable loops below finish the tail and are the whole computation
// elsewhere. Reductions accumulate in float64.

// MaskPositive32 sets z[i] = v[i] where x[i] > 0 and z[i] = +0 elsewhere:
// ReLU (v = x) and its backward pass (v the output gradient). The test is
// on the bit pattern read as a signed integer, so a NaN in x passes v[i]
// through exactly when its sign bit is clear, and −0 counts as not positive.
// v and x must be at least as long as z.
func MaskPositive32(z, v, x []float32) {
	need("MaskPositive32", "v", len(v), len(z))
	need("MaskPositive32", "x", len(x), len(z))
	d := maskPositiveVec(z, v, x)
	maskPositiveGo(z[d:], v[d:len(z)], x[d:len(z)])
}

// Sum32 returns Σ x, accumulated in float64.
func Sum32(x []float32) float64 {
	s, d := sumVec(x)
	return s + sumGo(x[d:])
}

// ShiftedSums32 returns Σ (x[i] − k) and Σ (x[i] − k)², accumulated in
// float64: with k near the mean (any sample will do) they give mean and
// variance in one pass without the cancellation of Σx² − (Σx)²/n.
func ShiftedSums32(x []float32, k float64) (s1, s2 float64) {
	s1, s2, d := shiftedSumsVec(x, k)
	a, b := shiftedSumsGo(x[d:], k)
	return s1 + a, s2 + b
}

// GradSums32 returns Σ g[i] and Σ g[i]·(x[i] − mu), accumulated in float64:
// the per-channel sums of the batch-normalisation backward pass. x must be
// at least as long as g.
func GradSums32(g, x []float32, mu float64) (sg, sgx float64) {
	need("GradSums32", "x", len(x), len(g))
	sg, sgx, d := gradSumsVec(g, x, mu)
	a, b := gradSumsGo(g[d:], x[d:len(g)], mu)
	return sg + a, sgx + b
}

// GatherGradSums32 returns Σ g[i] and Σ g[i]·(x[idx[i]] − mu) over the i
// where keep[i] > 0 (or is a NaN with the sign bit clear, as in
// MaskPositive32), accumulated in float64: GradSums32 of the masked g with x
// read through the indices, as the backward pass of a fused ReLU and
// max-pool reads the pooled positions without building the masked
// gradient. keep and idx must be at least as long as g; it panics if a
// counted index is outside x.
func GatherGradSums32(g, keep, x []float32, idx []int32, mu float64) (sg, sgx float64) {
	need("GatherGradSums32", "keep", len(keep), len(g))
	need("GatherGradSums32", "idx", len(idx), len(g))
	sg, sgx, d := gatherGradSumsVec(g, keep, x, idx, mu)
	a, b := gatherGradSumsGo(g[d:], keep[d:len(g)], x, idx[d:len(g)], mu)
	return sg + a, sgx + b
}

// KeptSums32 returns Σ g[i] and Σ g[i]·keep[i] over the i where keep[i] > 0
// (or is a NaN with the sign bit clear, as in MaskPositive32), accumulated
// in float64. keep must be at least as long as g.
func KeptSums32(g, keep []float32) (sg, sgk float64) {
	need("KeptSums32", "keep", len(keep), len(g))
	sg, sgk, d := keptSumsVec(g, keep)
	a, b := keptSumsGo(g[d:], keep[d:len(g)])
	return sg + a, sgk + b
}

// badGatherIndex panics naming the first index of idx outside x at a
// position that keep counts.
func badGatherIndex(fn string, x, keep []float32, idx []int32) {
	for i, j := range idx {
		if int32(math.Float32bits(keep[i])) > 0 && (j < 0 || int(j) >= len(x)) {
			panic("kernel: " + fn + ": index " + itoa(int(j)) + " at " + itoa(i) + " is outside x of length " + itoa(len(x)))
		}
	}
}

// ScaleShift32 sets dst[i] = a·x[i] + b. x must be at least as long as dst.
func ScaleShift32(dst, x []float32, a, b float32) {
	need("ScaleShift32", "x", len(x), len(dst))
	d := scaleShiftVec(dst, x, a, b)
	scaleShiftGo(dst[d:], x[d:len(dst)], a, b)
}

// ScaleShiftReLU32 sets dst[i] = max(a·x[i] + b, 0), NaNs kept: an
// inference batch normalization and the Relu after it in one pass. x must
// be at least as long as dst.
func ScaleShiftReLU32(dst, x []float32, a, b float32) {
	need("ScaleShiftReLU32", "x", len(x), len(dst))
	d := scaleShiftReLUVec(dst, x, a, b)
	scaleShiftReLUGo(dst[d:], x[d:len(dst)], a, b)
}

// Sigmoid32 sets dst[i] = 1/(1+e^−x[i]), within 3e-7 relative of the exact
// value (2^k times a degree-7 polynomial for the exponential); NaN stays
// NaN, +Inf gives 1 and −Inf 0. x must be at least as long as dst.
func Sigmoid32(dst, x []float32) {
	need("Sigmoid32", "x", len(x), len(dst))
	d := sigmoidVec(dst, x)
	sigmoidGo(dst[d:], x[d:len(dst)])
}

// Erf32 sets dst[i] = erf(x[i]), within 4e-7 of the exact value
// (relative below |x| = 1/2): there the Maclaurin series to x¹³, above it
// Abramowitz & Stegun's 7.1.26 (absolute error below 1.5e-7) with e^−x² as
// 2^k times a degree-7 polynomial, in float32 arithmetic, 16 lanes at a
// time with AVX-512. NaN stays NaN and ±Inf gives ±1. x must be at least as
// long as dst.
func Erf32(dst, x []float32) {
	need("Erf32", "x", len(x), len(dst))
	d := erfVec(dst, x)
	for i, v := range x[d:len(dst)] {
		dst[d+i] = erfOne(v)
	}
}

// erfOne is the arithmetic of erfAVX512, one element at a time (without
// its fused multiply-adds, so the two differ by rounding).
func erfOne(x float32) float32 {
	const (
		c                      = 1.1283791670955126 // 2/√π
		s1, s2, s3, s4, s5, s6 = -1.0 / 3, 1.0 / 10, -1.0 / 42, 1.0 / 216, -1.0 / 1320, 1.0 / 9360
		p                      = 0.3275911
		a1, a2, a3, a4, a5     = 0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429
		log2e                  = 1.44269504088896341
		ln2Hi                  = 0.693145751953125 // ln 2 in 12 bits: k·ln2Hi is exact
		ln2Lo                  = 1.42860682030941723212e-6
		round                  = 12582912 // 1.5·2²³: adding and subtracting it rounds to an integer
	)
	a := float32(math.Abs(float64(x)))
	if a < 0.5 {
		z := x * x
		return c * x * (1 + z*(s1+z*(s2+z*(s3+z*(s4+z*(s5+z*s6))))))
	}
	if a != a {
		return x
	}
	t := 1 / (1 + p*a)
	poly := t * (a1 + t*(a2+t*(a3+t*(a4+t*a5))))
	u := -min(a*a, 100)
	k := u*log2e + round
	k -= round
	r := u - k*ln2Hi - k*ln2Lo
	e := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	e = float32(math.Ldexp(float64(e), int(k)))
	return float32(math.Copysign(float64(1-poly*e), float64(x)))
}

// Clamp32 sets dst[i] = min(max(x[i], lo), hi), 16 lanes at a time with
// AVX-512: a NaN in x stays NaN, a −0 in x is kept when 0 is a bound, and
// lo > hi gives hi everywhere. x must be at least as long as dst.
func Clamp32(dst, x []float32, lo, hi float32) {
	need("Clamp32", "x", len(x), len(dst))
	d := clampVec(dst, x, lo, hi)
	for i, v := range x[d:len(dst)] {
		dst[d+i] = clampOne(v, lo, hi)
	}
}

// clampOne is the arithmetic of clampAVX512: x86's MAXPS and MINPS return
// their second operand when the comparison fails, so a NaN x passes.
func clampOne(v, lo, hi float32) float32 {
	if lo > v {
		v = lo
	}
	if hi < v {
		v = hi
	}
	return v
}

// Mul32 sets dst[i] = a[i]·b[i], 16 lanes at a time with AVX-512. a and b
// must be at least as long as dst, which may be either of them.
func Mul32(dst, a, b []float32) {
	need("Mul32", "a", len(a), len(dst))
	need("Mul32", "b", len(b), len(dst))
	d := mulVec(dst, a, b)
	for i := d; i < len(dst); i++ {
		dst[i] = a[i] * b[i]
	}
}

// Div32 sets dst[i] = a[i] / b[i], correctly rounded as Go's float32
// division is. a and b must be at least as long as dst.
func Div32(dst, a, b []float32) {
	need("Div32", "a", len(a), len(dst))
	need("Div32", "b", len(b), len(dst))
	d := divVec(dst, a, b)
	for i := d; i < len(dst); i++ {
		dst[i] = a[i] / b[i]
	}
}

// DivBy32 sets dst[i] = x[i] / c, correctly rounded (not a multiplication
// by 1/c, which rounds differently). x must be at least as long as dst.
func DivBy32(dst, x []float32, c float32) {
	need("DivBy32", "x", len(x), len(dst))
	d := divByVec(dst, x, c)
	for i := d; i < len(dst); i++ {
		dst[i] = x[i] / c
	}
}

// Axpbyc32 sets dst[i] = a·g[i] + b·x[i] + c. g and x must be at least as
// long as dst.
func Axpbyc32(dst, g, x []float32, a, b, c float32) {
	need("Axpbyc32", "g", len(g), len(dst))
	need("Axpbyc32", "x", len(x), len(dst))
	d := axpbycVec(dst, g, x, a, b, c)
	axpbycGo(dst[d:], g[d:len(dst)], x[d:len(dst)], a, b, c)
}

// AddAxpbyc32 adds a·g[i] + b·x[i] + c to dst[i]. g and x must be at
// least as long as dst.
func AddAxpbyc32(dst, g, x []float32, a, b, c float32) {
	need("AddAxpbyc32", "g", len(g), len(dst))
	need("AddAxpbyc32", "x", len(x), len(dst))
	d := addAxpbycVec(dst, g, x, a, b, c)
	addAxpbycGo(dst[d:], g[d:len(dst)], x[d:len(dst)], a, b, c)
}

// GatherAxpbyc32 sets dst[j] = a·g[idx[j]] + b·x[idx[j]] + c: Axpbyc32 with
// g and x read through the indices, as the second-order passes of a fused
// max-pool read the pooled positions. g and x must have the same length,
// idx must be at least as long as dst, and it panics if an index is outside
// g.
func GatherAxpbyc32(dst, g, x []float32, idx []int32, a, b, c float32) {
	need("GatherAxpbyc32", "x", len(x), len(g))
	need("GatherAxpbyc32", "g", len(g), len(x))
	need("GatherAxpbyc32", "idx", len(idx), len(dst))
	d := gatherAxpbycVec(dst, g, x, idx, a, b, c)
	gatherAxpbycGo(dst[d:], g, x, idx[d:len(dst)], a, b, c)
}

// badIndex panics naming the first index of idx outside [0, n).
func badIndex(fn string, n int, idx []int32) {
	for i, j := range idx {
		if j < 0 || int(j) >= n {
			panic("kernel: " + fn + ": index " + itoa(int(j)) + " at " + itoa(i) + " is outside [0, " + itoa(n) + ")")
		}
	}
}

// The portable twins. Each vector routine handles a prefix whose length it
// returns; these do the rest (or everything).

func maskPositiveGo(z, v, x []float32) {
	for i, e := range v {
		if int32(math.Float32bits(x[i])) > 0 {
			z[i] = e
		} else {
			z[i] = 0
		}
	}
}

func sumGo(x []float32) float64 {
	var s0, s1 float64
	i := 0
	for ; i+2 <= len(x); i += 2 {
		s0 += float64(x[i])
		s1 += float64(x[i+1])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	return s0 + s1
}

func shiftedSumsGo(x []float32, k float64) (s1, s2 float64) {
	for _, v := range x {
		d := float64(v) - k
		s1 += d
		s2 += d * d
	}
	return s1, s2
}

func gradSumsGo(g, x []float32, mu float64) (sg, sgx float64) {
	for i, v := range g {
		sg += float64(v)
		sgx += float64(v) * (float64(x[i]) - mu)
	}
	return sg, sgx
}

func gatherGradSumsGo(g, keep, x []float32, idx []int32, mu float64) (sg, sgx float64) {
	for i, v := range g {
		if int32(math.Float32bits(keep[i])) <= 0 {
			continue
		}
		j := idx[i]
		if uint(j) >= uint(len(x)) {
			panic("kernel: GatherGradSums32: index " + itoa(int(j)) + " is outside x of length " + itoa(len(x)))
		}
		sg += float64(v)
		sgx += float64(v) * (float64(x[j]) - mu)
	}
	return sg, sgx
}

func addAxpbycGo(dst, g, x []float32, a, b, c float32) {
	for i, v := range g {
		dst[i] += a*v + b*x[i] + c
	}
}

func gatherAxpbycGo(dst, g, x []float32, idx []int32, a, b, c float32) {
	for i, j := range idx[:len(dst)] {
		if uint(j) >= uint(len(g)) {
			panic("kernel: GatherAxpbyc32: index " + itoa(int(j)) + " is outside [0, " + itoa(len(g)) + ")")
		}
		dst[i] = a*g[j] + b*x[j] + c
	}
}

func keptSumsGo(g, keep []float32) (sg, sgk float64) {
	for i, v := range g {
		if int32(math.Float32bits(keep[i])) > 0 {
			sg += float64(v)
			sgk += float64(v) * float64(keep[i])
		}
	}
	return sg, sgk
}

func scaleShiftGo(dst, x []float32, a, b float32) {
	for i, v := range x {
		dst[i] = a*v + b
	}
}

func scaleShiftReLUGo(dst, x []float32, a, b float32) {
	for i, v := range x {
		dst[i] = max(a*v+b, 0)
	}
}

func sigmoidGo(dst, x []float32) {
	for i, v := range x {
		dst[i] = sigmoidOne(v)
	}
}

// sigmoidOne is the arithmetic of sigmoidAVX512, one element at a time
// (without its fused multiply-adds, so the two differ by rounding).
func sigmoidOne(v float32) float32 {
	t := -v // sigmoid(v) = 1/(1+e^t)
	switch {
	case t != t:
		return v // NaN
	case t >= 88:
		return 0 // e^t overflows float32; the true value is below 7e-39
	case t < -87:
		return 1 // e^t < 2e-38
	}
	return 1 / (1 + expReduced(t))
}

// expReduced returns e^t for −87.34 ≤ t < 88.73 (the result a normal
// float32):
// e^t = 2^k · e^r with k the integer nearest t/ln 2 and |r| ≤ ln2/2, e^r by
// its Taylor polynomial of degree 7 (remainder < 1e-8).
func expReduced(t float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2Hi = 0.693145751953125 // ln 2 in 12 bits: k·ln2Hi is exact
		ln2Lo = 1.42860682030941723212e-6
		round = 12582912 // 1.5·2²³: adding and subtracting it rounds to an integer
	)
	k := t*log2e + round
	k -= round
	r := t - k*ln2Hi - k*ln2Lo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	if k > 127 {
		return 2 * p * 0x1p127 // 2^128 is not a float32
	}
	return p * math.Float32frombits(uint32(int32(k)+127)<<23)
}

// expOne is e^t in float32 arithmetic over the whole range: NaN stays NaN,
// results below the smallest normal float32 flush to 0 and above the
// largest become +Inf.
func expOne(t float32) float32 {
	switch {
	case t != t:
		return t
	case t >= 88.72284:
		return float32(math.Inf(1))
	case t < -87.33654:
		return 0
	}
	return expReduced(t)
}

// ExpShiftedSum32 sets dst[i] = e^(x[i]−shift) and returns the sum of the
// results: the core of a softmax (shift the row's maximum). Each value is
// within 3e-7 relative of the exact one while it is a normal float32 (2^k
// times a degree-7 polynomial, 16 lanes at a time with AVX-512); smaller
// results may be 0 and larger ones +Inf; NaN stays NaN. x must be at least
// as long as dst.
func ExpShiftedSum32(dst, x []float32, shift float32) float64 {
	need("ExpShiftedSum32", "x", len(x), len(dst))
	d, sum := expShiftedVec(dst, x, shift)
	for i, v := range x[d:len(dst)] {
		e := expOne(v - shift)
		dst[d+i] = e
		sum += float64(e)
	}
	return sum
}

func axpbycGo(dst, g, x []float32, a, b, c float32) {
	for i, v := range g {
		dst[i] = a*v + b*x[i] + c
	}
}

// dotShiftsRowsGo is the portable dotShiftsRows: dotShifts row by row.
func dotShiftsRowsGo(dy []float32, ld, rows, n int, p []float32, offs []int, out []float32, ldo int) {
	for r := range rows {
		dotShiftsGo(dy[r*ld:r*ld+n], p, offs, out[r*ldo:r*ldo+len(offs)])
	}
}

// dotShiftsGo is the portable dotShifts: out[t] += Σ_j dy[j]·p[offs[t]+j],
// with four partial sums per tap like the vector code.
func dotShiftsGo(dy, p []float32, offs []int, out []float32) {
	for t, o := range offs {
		src := p[o : o+len(dy)]
		var s0, s1, s2, s3 float32
		j := 0
		for ; j+4 <= len(dy); j += 4 {
			s0 += dy[j] * src[j]
			s1 += dy[j+1] * src[j+1]
			s2 += dy[j+2] * src[j+2]
			s3 += dy[j+3] * src[j+3]
		}
		for ; j < len(dy); j++ {
			s0 += dy[j] * src[j]
		}
		out[t] += (s0 + s1) + (s2 + s3)
	}
}

// copyRowsGo is the portable copyRows.
func copyRowsGo(dst, src []float32, n, rows, ldd, lds int, bias []float32) {
	for r := 0; r < rows; r++ {
		d, s := dst[r*ldd:r*ldd+n], src[r*lds:r*lds+n]
		if bias == nil {
			copy(d, s)
			continue
		}
		b := bias[r]
		for i, v := range s {
			d[i] = v + b
		}
	}
}
