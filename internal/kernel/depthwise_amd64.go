//go:build !purego

package kernel

//go:noescape
func deinterleave2AVX512(even, odd, src *float32, n int)

//go:noescape
func dwRowAVX512(dst, p *float32, offs *int, w *float32, nt, nb int, tail uint64, b float32)

// newDWTail lays out rows of n outputs for dwRowAVX512.
func newDWTail(n int) dwTail {
	if !haveAVX512 || n == 0 {
		return dwTail{}
	}
	t := dwTail{ok: true, n: n, nb: n / 64}
	if rem := n % 64; rem > 0 {
		for v := 0; v < 4; v++ {
			c := min(max(rem-16*v, 0), 16)
			t.tail |= uint64(1<<c-1) << (16 * v)
		}
	}
	return t
}

// dwRowVec is dwRowGo for float32 with AVX-512, rows laid out by t (from
// newDWTail(len(dst))); it reports false, doing nothing, when t.ok is
// false. The caller guarantees p[offs[i]+j] in bounds for j < len(dst),
// which is not checked again here.
func dwRowVec(dst, p []float32, offs []int, w []float32, b float32, t dwTail) bool {
	if !t.ok || len(offs) == 0 {
		return false
	}
	if t.n != len(dst) {
		panic("kernel: dwRowVec: row layout for " + itoa(t.n) + " outputs, dst has " + itoa(len(dst)))
	}
	_ = w[len(offs)-1]
	dwRowAVX512(&dst[0], &p[0], &offs[0], &w[0], len(offs), t.nb, t.tail, b)
	return true
}

// dwFillRow2Vec is dwFillRowGo for float32 rows with stride 2, the pairs
// of the row split by AVX-512; false without it.
func dwFillRow2Vec(dst, src []float32, pw, padL int) bool {
	if !haveAVX512 {
		return false
	}
	// src[2k] and src[2k+1] are padded columns 2k+padL and 2k+1+padL.
	a := dst[(padL&1)*pw+min(pw, padL>>1) : (padL&1+1)*pw]
	b := dst[((padL+1)&1)*pw+min(pw, (padL+1)>>1) : ((padL+1)&1+1)*pw]
	n := min(len(src)/2, len(a), len(b)) &^ 15
	if n == 0 {
		return false
	}
	clear(dst[:2*pw])
	deinterleave2AVX512(&a[0], &b[0], &src[0], n)
	for k := n; k < min(len(a), (len(src)+1)/2); k++ {
		a[k] = src[2*k]
	}
	for k := n; k < min(len(b), len(src)/2); k++ {
		b[k] = src[2*k+1]
	}
	return true
}

// deinterleave2Vec splits the longest prefix of src of a multiple of 32
// elements into even and odd with AVX-512 and returns the pairs done (0
// without AVX-512).
func deinterleave2Vec(even, odd, src []float32) int {
	if !haveAVX512 {
		return 0
	}
	n := min(len(src)/2, len(even), len(odd)) &^ 15
	if n > 0 {
		deinterleave2AVX512(&even[0], &odd[0], &src[0], n)
	}
	return n
}
