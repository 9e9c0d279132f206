package kernel

import "unsafe"

// The channel-blocked depthwise route. On small planes (the 7×7 and 14×14
// layers at the end of MobileNets and MnasNets) a plane is too short to
// fill vectors along its rows, and every tap of the plane route reads an
// unaligned vector that mostly straddles two cache lines. Here sixteen
// channels of one image go through together: their planes are transposed
// into a zero-padded buffer of 16-channel pixels (dwGather), each output
// pixel is Σ w[tap]·pixel[tap] with whole aligned vectors (dwBlock), and
// the result is transposed back into the sixteen output planes (dwScatter).
// Bias and Relu are applied in registers. The arithmetic per output is the
// plane route's, in the same order: b, then the taps in turn by fused
// multiply-adds.

// dwBlockMaxOut and dwBlockMaxIn bound the planes of the route: outputs
// per plane, and padded input pixels (a 64 KiB buffer at most).
const (
	dwBlockMaxOut = 196
	dwBlockMaxIn  = 1024
)

// dwBlockReach is the padded input window the outputs of g read: hn rows
// of wn pixels from the top-left padding corner.
func dwBlockReach(g *convGeom) (hn, wn int) {
	return (g.oh-1)*g.strH + g.R, (g.ow-1)*g.strW + g.S
}

// dwBlockSuits reports whether depthwiseConv takes the channel-blocked
// route for float32 data: stride 1 (a strided layer transposes several
// input pixels per output), and planes of at most 8×8 outputs, or up to
// 14×14 with 5×5 filters or larger, or up to 28×28 with such filters when
// there are at least 8 blocks of 16 channels to share out; there the two
// transposes cost less than the plane route loses (2 threads,
// BenchmarkDepthwise: 7×7 planes −26 to −48 %, 5×5 on 14×14 −7 to −17 %,
// 5×5 on 28×28 at batch 8 −33 %, but 3×3 on 14×14 +11 to +20 %, 3×3
// stride 2 from 28×28 +12 to +29 %, and 5×5 on 28×28 with five blocks
// for two threads +12 %).
func dwBlockSuits(g *convGeom) bool {
	hn, wn := dwBlockReach(g)
	items := g.N * ((g.C + 15) / 16)
	return haveDWBlock && g.C >= 16 && g.strH == 1 && g.strW == 1 &&
		(g.ohw <= 64 || g.R*g.S >= 25) && hn*wn <= dwBlockMaxIn &&
		(g.ohw <= dwBlockMaxOut || (g.ohw <= 4*dwBlockMaxOut && items >= 8))
}

// dwBlockWeights lays out the weights of a depthwise convolution with c
// channels of taps taps each as the channel-blocked route reads them:
// [block of 16 channels][tap][channel], zeros past the last channel.
func dwBlockWeights(w []float32, c, taps int) []float32 {
	blocks := (c + 15) / 16
	wb := make([]float32, blocks*taps*16)
	for b := range blocks {
		for l := range min(16, c-16*b) {
			wc := w[(16*b+l)*taps : (16*b+l+1)*taps]
			for t, v := range wc {
				wb[(b*taps+t)*16+l] = v
			}
		}
	}
	return wb
}

// depthwiseBlocked is depthwiseConv for dwBlockSuits geometries; wb, when
// not nil, is w laid out by dwBlockWeights (made once for a model's
// constant weights, since at batch 1 it costs as much as the layer).
func depthwiseBlocked(g *convGeom, x, w, bias, y []float32, relu bool, wb []float32) {
	hn, wn := dwBlockReach(g)
	taps := g.R * g.S
	dummy := int32(hn * wn * 16) // pixels no output reads are written here
	tLen := int(dummy) + 16
	// tab: where each input pixel goes, padded with dummies to whole
	// groups of 16; bases: each output's window; offs: each tap's pixel.
	tab := make([]int32, (g.hw+15)/16*16)
	for q := range tab {
		tab[q] = dummy
	}
	for iy := range g.H {
		for ix := range g.W {
			if ty, tx := iy+g.PadTop, ix+g.PadLeft; ty < hn && tx < wn {
				tab[iy*g.W+ix] = int32((ty*wn + tx) * 16)
			}
		}
	}
	bases := make([]int32, g.ohw)
	for oy := range g.oh {
		for ox := range g.ow {
			bases[oy*g.ow+ox] = int32((oy*g.strH*wn + ox*g.strW) * 16)
		}
	}
	offs := make([]int32, 0, taps)
	for r := range g.R {
		for s := range g.S {
			offs = append(offs, int32((r*wn+s)*16))
		}
	}
	blocks := (g.C + 15) / 16
	if wb == nil {
		wb = dwBlockWeights(w, g.C, taps)
	}
	bb := make([]float32, blocks*16)
	if bias != nil {
		copy(bb, bias[:g.C])
	}
	oLen := (g.ohw + 15) / 16 * 256
	items := g.N * blocks
	workers := Threads()
	if items*g.ohw*taps*16 < 1<<15 {
		workers = 1 // smaller than the cost of waking a worker
	}
	bufs := newBatchBufs[float32](min(workers, items), tLen+oLen+16)
	defer bufs.release()
	parallelFor(workers, items, func(it, worker int) {
		buf, used := bufs.get(worker)
		buf = align64(buf)
		t, o := buf[:tLen], buf[tLen:tLen+oLen]
		if !used {
			clear(t) // the padding is never written: cleared once
		}
		n, b := it/blocks, it%blocks
		c0 := b * 16
		rows := min(16, g.C-c0)
		src := x[(n*g.C+c0)*g.hw : (n*g.C+c0+rows)*g.hw]
		for q0 := 0; q0 < g.hw; q0 += 16 {
			dwGather(t, tab[q0:q0+16], src[q0:], g.hw, rows, min(16, g.hw-q0))
		}
		dwBlock(o, t, bases, offs, wb[b*taps*16:(b+1)*taps*16], bb[b*16:(b+1)*16], relu)
		dst := y[(n*g.C+c0)*g.ohw : (n*g.C+c0+rows)*g.ohw]
		for q0 := 0; q0 < g.ohw; q0 += 16 {
			dwScatter(dst[q0:], g.ohw, o[q0*16:q0*16+256], rows, min(16, g.ohw-q0))
		}
	})
}

// align64 returns the part of buf that starts on a 64-byte boundary,
// giving up at most 15 elements.
func align64(buf []float32) []float32 {
	off := int(uintptr(unsafe.Pointer(unsafe.SliceData(buf)))%64) / 4
	if off == 0 {
		return buf
	}
	return buf[16-off:]
}

// dwGatherGo is dwGather's portable twin: column j < cols of the rows×16
// block at src (rows ld apart) goes to t[tab[j]:], 16 channels, missing
// rows as zeros; columns from cols on are zeros.
func dwGatherGo(t []float32, tab []int32, src []float32, ld, rows, cols int) {
	for j := range 16 {
		px := t[tab[j] : tab[j]+16]
		for i := range 16 {
			px[i] = 0
			if i < rows && j < cols {
				px[i] = src[i*ld+j]
			}
		}
	}
}

// dwScatterGo is dwScatter's portable twin: lane i < rows of pixel j <
// cols (o[16j:]) goes to dst[i*ld+j].
func dwScatterGo(dst []float32, ld int, o []float32, rows, cols int) {
	for i := range rows {
		for j := range cols {
			dst[i*ld+j] = o[16*j+i]
		}
	}
}

// dwBlockGo is dwBlock's portable twin: o[16q:16q+16] = b + Σ_k
// w[16k:]·t[bases[q]+offs[k]:], then Relu.
func dwBlockGo(o, t []float32, bases, offs []int32, w, b []float32, relu bool) {
	for q, base := range bases {
		acc := o[16*q : 16*q+16]
		copy(acc, b[:16])
		for k, off := range offs {
			px := t[base+off : base+off+16]
			wk := w[16*k : 16*k+16]
			for l := range acc {
				acc[l] += wk[l] * px[l]
			}
		}
		if relu {
			for l, v := range acc {
				acc[l] = max(v, 0)
			}
		}
	}
}
