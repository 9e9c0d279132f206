//go:build !purego

package kernel

import "math/bits"

//go:noescape
func winoInputAVX512(v *float32, vc, vxi int, x *float32, seg *winoSegment, nseg, nc, plane, w int)

//go:noescape
func winoOutputAVX512(y *float32, idx *int32, masks *uint16, m *float32, mk, mxi, nk, plane, w int, bias *float32, flags int)

// winoInput is winoInputGo, on the vector code when the CPU has AVX-512
// and 16 lanes stay inside one packed panel.
func winoInput(v []float32, vXi, col0, nr, nc int, x []float32, l *winoLanes, plane, w int) {
	if !haveAVX512 || nr%16 != 0 {
		winoInputGo(v, vXi, col0, nr, nc, x, l, plane, w)
		return
	}
	// The gathers are unchecked: every lane with a tap inside the image
	// must stay inside x, and the stores inside v.
	lo, hi := winoSpan(&l.in, l.inMask[:], 6, w)
	if hi >= lo {
		if lo < 0 || hi+(nc-1)*plane >= len(x) {
			panic("kernel: winoInput: tile outside the input")
		}
	}
	_ = v[35*vXi+vIndex(col0+15, nc-1, nr, nc)]
	winoInputAVX512(&v[vIndex(col0, 0, nr, nc)], nr, vXi, &x[0], &l.seg[0], l.nseg, nc, plane, w)
}

// winoOutput is winoOutputGo, on the vector code when the CPU has AVX-512.
func winoOutput(y []float32, l *winoLanes, m []float32, mK, mXi, nk, plane, w int, bias []float32, fuse WinogradFuse) {
	if !haveAVX512 {
		winoOutputGo(y, l, m, mK, mXi, nk, plane, w, bias, fuse)
		return
	}
	side, flags := 4, 0
	if fuse.MaxPool2x2 {
		side, flags = 2, 2
	}
	if fuse.ReLU {
		flags |= 1
	}
	lo, hi := winoSpan(&l.out, l.outMask[:side*side], side, w)
	if hi >= lo {
		if lo < 0 || hi+(nk-1)*plane >= len(y) {
			panic("kernel: winoOutput: tile outside the output")
		}
	}
	_ = m[35*mXi+(nk-1)*mK+15]
	var bp *float32
	if bias != nil {
		_ = bias[nk-1]
		bp = &bias[0]
	}
	winoOutputAVX512(&y[0], &l.out[0], &l.store[0], &m[0], mK, mXi, nk, plane, w, bp, flags)
}

// winoSpan returns the smallest and largest offset that the masks select:
// mask t stands for offset offs[ℓ] + (t/side)*w + t%side of lane ℓ. hi < lo
// when no bit is set.
func winoSpan(offs *[16]int32, masks []uint16, side, w int) (lo, hi int) {
	lo, hi = 1<<62, -1<<62
	for t, m := range masks {
		d := (t/side)*w + t%side
		for ; m != 0; m &= m - 1 {
			o := int(offs[bits.TrailingZeros16(m)]) + d
			lo, hi = min(lo, o), max(hi, o)
		}
	}
	return lo, hi
}
