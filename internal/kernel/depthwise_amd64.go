//go:build !purego

package kernel

import "golang.org/x/sys/cpu"

//go:noescape
func deinterleave2AVX512(even, odd *float32, ldd int, src *float32, lds, n, rows int, tail uint64)

//go:noescape
func dwPlaneAVX512(dst, p *float32, offs *int, w *float32, nt int, vecs *uint64, full, rem int, b float32, relu bool)

// haveDWPlane reports whether dwPlaneAVX512 runs here (it also needs
// POPCNT and BMI2, which every AVX-512 processor has).
var haveDWPlane = haveAVX512 && cpu.X86.HasPOPCNT && cpu.X86.HasBMI2

// newDWPlane lays out, for dwPlaneVec, the vectors of a plane of oh×ow
// outputs whose long row has rows pw apart. Narrow planes are covered
// by consecutive vectors of the long row, junk columns and all (a 7×7
// plane of 5×5 filters: 5 vectors instead of 7, one per row); wide ones
// by vectors that start at each output row, so that the junk columns
// are not computed and the stores stay aligned.
func newDWPlane(oh, ow, pw int) dwPlane {
	n := (oh-1)*pw + ow
	if !haveDWPlane || n <= 0 || n >= 1<<31 {
		return dwPlane{}
	}
	perRow := (ow + 15) / 16
	var vecs []uint64
	add := func(j, keep int) {
		read := uint64(1)<<min(n-j, 16) - 1
		vecs = append(vecs, uint64(keep)|read<<16|uint64(j)<<32)
	}
	if oh*perRow <= (n+15)/16+(n+15)/16/8 {
		for y := range oh {
			for c := range perRow {
				add(y*pw+16*c, 1<<min(ow-16*c, 16)-1)
			}
		}
	} else {
		for j := 0; j < n; j += 16 {
			keep := 0
			for l := range min(16, n-j) {
				if (j+l)%pw < ow {
					keep |= 1 << l
				}
			}
			add(j, keep)
		}
	}
	return dwPlane{outs: oh * ow, vecs: vecs}
}

// dwPlaneVec sets dst to the outputs b + Σ_t w[t]·p[offs[t]+j] of the long
// row laid out by l (from newDWPlane), then max(·, 0) if relu, with the
// junk columns left out: the compact output plane. It reports false,
// doing nothing, when l is empty (no vector kernel). The caller
// guarantees p[offs[t]+j] in bounds for j in the long row, which is not
// checked again here.
func dwPlaneVec(dst, p []float32, offs []int, w []float32, b float32, relu bool, l dwPlane) bool {
	if l.vecs == nil || len(offs) == 0 {
		return false
	}
	if len(dst) != l.outs {
		panic("kernel: dwPlaneVec: layout for " + itoa(l.outs) + " outputs, dst has " + itoa(len(dst)))
	}
	_ = w[len(offs)-1]
	// The vectors that read all their lanes come first.
	full := len(l.vecs)
	for full > 0 && l.vecs[full-1]>>16&0xffff != 0xffff {
		full--
	}
	full /= 4
	dwPlaneAVX512(&dst[0], &p[0], &offs[0], &w[0], len(offs), &l.vecs[0], full, len(l.vecs)-4*full, b, relu)
	return true
}

//go:noescape
func dwGatherAVX512(t *float32, tab *int32, src *float32, lds, rows int, mask uint16)

//go:noescape
func dwScatterAVX512(dst *float32, ldd int, o *float32, rows int, mask uint16)

//go:noescape
func dwBlockAVX512(o, t *float32, bases *int32, nq int, offs *int32, nt int, w, bias *float32, relu bool)

// haveDWBlock reports whether the channel-blocked depthwise kernels run
// here.
var haveDWBlock = haveAVX512

// dwGather transposes the rows×cols block at src (rows ld apart, rows ≤
// 16, cols ≤ 16) into 16-channel pixels: column j goes to t[tab[j]:] (16
// entries; columns from cols on, and missing rows, as zeros).
func dwGather(t []float32, tab []int32, src []float32, ld, rows, cols int) {
	_ = src[(rows-1)*ld+cols-1]
	for _, o := range tab[:16] {
		_ = t[o+15]
	}
	dwGatherAVX512(&t[0], &tab[0], &src[0], ld, rows, uint16(1<<cols-1))
}

// dwScatter writes lane i < rows of pixel j < cols (o[16j:], 16 pixels
// in o) to dst[i*ld+j].
func dwScatter(dst []float32, ld int, o []float32, rows, cols int) {
	_ = o[255]
	_ = dst[(rows-1)*ld+cols-1]
	dwScatterAVX512(&dst[0], ld, &o[0], rows, uint16(1<<cols-1))
}

// dwBlock sets o[16q:16q+16] = b + Σ_k w[16k:16k+16]·t[bases[q]+offs[k]:]
// (16 channels at a time) for every output q, then Relu if relu.
func dwBlock(o, t []float32, bases, offs []int32, w, b []float32, relu bool) {
	if len(bases) == 0 || len(offs) == 0 {
		return
	}
	_ = o[16*len(bases)-1]
	_ = w[16*len(offs)-1]
	_ = b[15]
	hi := int32(0)
	for _, q := range bases {
		hi = max(hi, q)
	}
	for _, k := range offs {
		_ = t[hi+k+15]
	}
	dwBlockAVX512(&o[0], &t[0], &bases[0], len(bases), &offs[0], len(offs), &w[0], &b[0], relu)
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
