//go:build !purego

package kernel

//go:noescape
func deinterleave2AVX512(even, odd *float32, ldd int, src *float32, lds, n, rows int, tail uint64)

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

// deinterleave2Vec sets even[k] = src[2k], odd[k] = src[2k+1] for the
// n = min(len(src)/2, len(even), len(odd)) pairs there are with AVX-512
// and returns n (0 without AVX-512).
func deinterleave2Vec(even, odd, src []float32) int {
	n := min(len(src)/2, len(even), len(odd))
	if n > 0 && deinterleave2RowsVec(even, odd, 0, src, 0, n, 1) {
		return n
	}
	return 0
}

// deinterleave2RowsVec does deinterleave2Vec's split of n ≥ 1 pairs for
// each of rows rows: row r of src starts at r*lds, its phases at r*ldd of
// even and odd. It reports false, doing nothing, without AVX-512.
func deinterleave2RowsVec(even, odd []float32, ldd int, src []float32, lds, n, rows int) bool {
	if !haveAVX512 {
		return false
	}
	_ = even[(rows-1)*ldd+n-1]
	_ = odd[(rows-1)*ldd+n-1]
	_ = src[(rows-1)*lds+2*n-1]
	var tail uint64
	if r := n % 16; r > 0 {
		lanes := func(k int) uint64 { return 1<<min(max(k, 0), 16) - 1 }
		tail = lanes(r) | lanes(2*r)<<16 | lanes(2*r-16)<<32
	}
	deinterleave2AVX512(&even[0], &odd[0], ldd, &src[0], lds, n, rows, tail)
	return true
}
