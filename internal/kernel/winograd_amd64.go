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

//go:noescape
func winoAdjoint16AVX512(e *float32, exi int, dy *float32, w, plane int, rows *uint16, tmp *float32)

//go:noescape
func winoAdjointAVX512(e *float32, exi int, dy *float32, w int, idx *int32, masks *uint16)

// winoOutputAdjoint is winoOutputAdjointGo, on the vector code when the CPU
// has AVX-512 and 16 channels stay inside one packed panel. The vector code
// takes one tile and 16 channels at a time; it also zeroes the columns of
// the last 16 up to a multiple of 16, which lie in the panels' padding.
func winoOutputAdjoint(e []float32, eXi, col0, nr int, dy []float32, l *winoLanes, nk, plane, w int) {
	if !haveAVX512 || nr%16 != 0 {
		winoOutputAdjointGo(e, eXi, col0, nr, dy, l, nk, plane, w)
		return
	}
	// The gathers are unchecked: every selected element must lie in dy.
	lo, hi := winoSpan(&l.out, l.outMask[:], 4, w)
	if hi >= lo && (lo < 0 || hi+(nk-1)*plane >= len(dy)) {
		panic("kernel: winoOutputAdjoint: tile outside the output gradient")
	}
	var idx [16]int32
	for j := range idx {
		idx[j] = int32(j * plane)
	}
	groups := (nk + 15) / 16
	// Lanes without a tile (past the end of the batch): their column of E
	// is zero.
	for lane := 0; lane < 16; lane++ {
		if l.outMask[0]&(1<<lane) == 0 {
			t := col0 + lane
			_ = e[35*eXi+eIndex(t, 16*groups-1, nr)]
			for xi := 0; xi < 36; xi++ {
				for k0 := 0; k0 < nk; k0 += 16 {
					clear(e[xi*eXi+eIndex(t, k0, nr):][:16])
				}
			}
		}
	}
	// 16 channels of all the tiles, then the next 16: fewer planes of dy
	// are read at once, which the hardware prefetchers follow better. Full
	// groups of 16 channels load whole tile rows and transpose them in
	// registers; a last, partial group gathers.
	var masks [16]uint16
	var tmp [256]float32
	for k0 := 0; k0 < nk; k0 += 16 {
		kmask := uint16(1<<min(16, nk-k0) - 1)
		for lane := 0; lane < 16; lane++ {
			bit := uint16(1) << lane
			if l.outMask[0]&bit == 0 {
				continue
			}
			t := col0 + lane
			_ = e[35*eXi+eIndex(t, 16*groups-1, nr)]
			if nk-k0 >= 16 {
				var rows [4]uint16
				for p, m := range l.outMask {
					if m&bit != 0 {
						rows[p/4] |= 1 << (p % 4)
					}
				}
				winoAdjoint16AVX512(&e[eIndex(t, k0, nr)], eXi, &dy[int(l.out[lane])+k0*plane], w, plane, &rows[0], &tmp[0])
				continue
			}
			for p := range masks {
				masks[p] = 0
				if l.outMask[p]&bit != 0 {
					masks[p] = kmask
				}
			}
			winoAdjointAVX512(&e[eIndex(t, k0, nr)], eXi, &dy[int(l.out[lane])+k0*plane], w, &idx[0], &masks[0])
		}
	}
}
