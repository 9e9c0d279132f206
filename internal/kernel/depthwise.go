package kernel

import "slices"

// Depthwise convolutions (Groups = C = K: one R×S filter per channel, as in
// MobileNet, MnasNet and EfficientNet) have too little work per channel for
// the GEMM routes: each channel would be a 1×(R·S) by (R·S)×(OutH·OutW)
// product, dominated by packing and per-product overhead. They run as direct
// loops instead, one (image, channel) plane at a time.
//
// Each plane is split into phase planes (see depthwiseConv) so that every
// filter tap reads one contiguous run for the whole plane: the plane is
// then a sum of R·S shifted, scaled runs with no bounds tests, one vector
// loop over all its outputs. Small planes (7×7 at the end of a MobileNet)
// would fill one vector per row; as one long row of the whole plane they
// fill several. Wide ones do better the same way than row by row: the
// per-row calls cost more than the cache misses of a larger buffer.

// depthwiseSuits reports whether Conv2D takes the depthwise route:
// one filter per channel, no dilation, and phase planes of a sensible size.
func depthwiseSuits(g *convGeom) bool {
	return g.groups == g.C && g.K == g.C && g.dilH == 1 && g.dilW == 1 && phasesFit(g)
}

// depthwiseConv is Conv2D for depthwise geometries. The padded plane is
// split into sh·sw phase planes of hq×pw, phase (a, b) holding padded rows
// a, a+sh, … and columns b, b+sw, …. Output (y, x), numbered j = y*pw + x,
// is then Σ w[r,s]·P[j + off(r,s)] with off(r,s) the start of phase
// (r%sh, s%sw) plus (r/sh)*pw + s/sw: one long row of (oh−1)*pw + ow
// outputs for the whole plane, with pw−ow junk columns per output row that
// never reach y. With AVX-512, dwPlaneVec writes y's plane directly, bias
// and Relu applied in registers; its Go twin computes the long row into a
// scratch row and copies the output columns out.
//
// pre, when not nil, may hold the weights laid out for the channel-blocked
// route of small float32 planes (depthwiseBlocked).
func depthwiseConv[E float32 | float64](g *convGeom, x, w, bias, y []E, relu bool, pre *groupPacks[E]) {
	if is32[E]() && dwBlockSuits(g) {
		var wb []float32
		if pre != nil {
			wb = pre.dwBlocked
		}
		depthwiseBlocked(g, as[float32](x), as[float32](w), as[float32](bias), as[float32](y), relu, wb)
		return
	}
	planes := g.N * g.C
	// Small planes are taken several at a time so each parallel item has
	// a few thousand outputs.
	per := max(1, 4096/g.ohw)
	items := (planes + per - 1) / per
	workers := Threads()
	if planes*g.ohw*g.R*g.S < 1<<15 {
		workers = 1 // smaller than the cost of waking a worker
	}
	ph := newPhaseLayout(g)
	pw := ph.pw
	long := (g.oh-1)*pw + g.ow
	taps := g.R * g.S
	offs := make([]int, 0, taps)
	for r := 0; r < g.R; r++ {
		for s := 0; s < g.S; s++ {
			offs = append(offs, ph.tap(g, r, s))
		}
	}
	var vp dwPlane
	if is32[E]() {
		vp = newDWPlane(g.oh, g.ow, pw)
	}
	sp := newDWRowSplit(g, ph)
	pLen := ph.size
	tmpLen := long // for dwRowGo's long row
	if vp.vecs != nil {
		tmpLen = 0
	}
	bufs := newBatchBufs[E](min(workers, items), pLen+tmpLen)
	defer bufs.release()
	parallelFor(workers, items, func(it, worker int) {
		buf, used := bufs.get(worker)
		p, tmp := buf[:pLen], buf[pLen:pLen+tmpLen]
		if !used {
			// Every plane writes the same positions of p and leaves the
			// padding alone: a worker's buffer is cleared once.
			clear(p)
		}
		for pl := it * per; pl < min(planes, (it+1)*per); pl++ {
			c := pl % g.C
			var b E
			if bias != nil {
				b = bias[c]
			}
			dwSplitRows(p, x[pl*g.hw:(pl+1)*g.hw], g, ph, &sp)
			wc := w[c*taps : (c+1)*taps]
			out := y[pl*g.ohw : (pl+1)*g.ohw]
			if is32[E]() && dwPlaneVec(as[float32](out), as[float32](p), offs, as[float32](wc), float32(b), relu, vp) {
				continue
			}
			dwRowGo(tmp, p, offs, wc, b)
			if is32[E]() {
				copyRows(as[float32](out), as[float32](tmp), g.ow, g.oh, g.ow, pw, nil) // one call: the rows are short
			} else {
				for oy := 0; oy < g.oh; oy++ {
					copy(out[oy*g.ow:(oy+1)*g.ow], tmp[oy*pw:])
				}
			}
			if relu {
				reluInPlace(out)
			}
		}
	})
}

// phaseLayout is the layout of one plane split into phases for the
// strides of g (see depthwiseConv): sh·sw phase planes of hq rows × pw.
type phaseLayout struct {
	pw, hq, phase, size int
}

func newPhaseLayout(g *convGeom) phaseLayout {
	l := phaseLayout{pw: g.ow + (g.S-1)/g.strW, hq: g.oh + (g.R-1)/g.strH}
	l.phase = l.hq * l.pw
	l.size = g.strH * g.strW * l.phase
	return l
}

// phasesFit reports whether g's phase-split planes (newPhaseLayout) stay
// within a small multiple of its input and output planes. Strides and
// padding far larger than the filter (which a hostile model file may
// give) would make them much larger; such geometries take the routes that
// need no phase planes.
func phasesFit(g *convGeom) bool {
	if g.dilH != 1 || g.dilW != 1 {
		return false
	}
	hq := float64(g.oh) + float64((g.R-1)/g.strH)
	pw := float64(g.ow) + float64((g.S-1)/g.strW)
	size := float64(g.strH) * float64(g.strW) * hq * pw
	return size <= 2*float64(g.hw)+4*float64(g.ohw)+4096
}

// tap is the offset of filter tap (r, s) in the layout: output j of the
// long row reads element j + tap(r, s). The last tap of a phase reads up
// to its row hq−1, column pw−1.
func (l phaseLayout) tap(g *convGeom, r, s int) int {
	return ((r%g.strH)*g.strW+s%g.strW)*l.phase + (r/g.strH)*l.pw + s/g.strW
}

// dwRowSplit is where dwSplitRows puts the elements of an image row: for
// each t < sw, elements t, t+sw, t+2sw, … go to the n[t] positions from
// off[t] on, counted from the start of the row's phase-plane row. It is
// the same for every row and plane of a layer, so it is worked out once
// (its divisions cost more than the copies of a narrow row).
type dwRowSplit struct {
	off, n []int // sw of each
	rows   int   // image rows the filters reach
}

func newDWRowSplit(g *convGeom, ph phaseLayout) dwRowSplit {
	sw := g.strW
	sp := dwRowSplit{off: make([]int, sw), n: make([]int, sw), rows: max(0, min(g.H, g.strH*ph.hq-g.PadTop))}
	for t := 0; t < sw && t < g.W; t++ {
		// Element t+sw*k is padded column pc = t+sw*k+padL: phase pc%sw,
		// column pc/sw.
		pc := t + g.PadLeft
		if n := min(ph.pw-pc/sw, (g.W-t+sw-1)/sw); n > 0 {
			sp.off[t], sp.n[t] = (pc%sw)*ph.phase+pc/sw, n
		}
	}
	return sp
}

// dwSplitRows writes the image rows of plane src into the phase planes p
// of depthwiseConv: padded row pr, column pc goes to row pr/sh, column
// pc/sw of phase (pr%sh, pc%sw). Only the positions the filters reach are
// written; the padding, the same for every plane, is left as it is.
func dwSplitRows[E float32 | float64](p, src []E, g *convGeom, ph phaseLayout, sp *dwRowSplit) {
	sh, sw := g.strH, g.strW
	if sh == 1 && sw == 1 && is32[E]() {
		// Row iy goes to row iy+PadTop: one call for the plane.
		if n := sp.n[0]; n > 0 && sp.rows > 0 {
			copyRows(as[float32](p[g.PadTop*ph.pw+sp.off[0]:]), as[float32](src), n, sp.rows, ph.pw, g.W, nil)
		}
		return
	}
	// Padded row pr = iy+PadTop is row pr/sh of phase pr%sh: base(iy)
	// below. Rows iy, iy+sh, iy+2sh, … land pw apart in the same phase.
	base := func(iy int) int { pr := iy + g.PadTop; return (pr%sh)*sw*ph.phase + (pr/sh)*ph.pw }
	k := 0 // elements of each run done for every row
	if sw == 2 && is32[E]() && min(sp.n[0], sp.n[1]) > 0 {
		m := min(sp.n[0], sp.n[1])
		k = m
		for iy0 := 0; iy0 < sh && iy0 < sp.rows; iy0++ {
			b := base(iy0)
			if !deinterleave2RowsVec(as[float32](p[b+sp.off[0]:]), as[float32](p[b+sp.off[1]:]), ph.pw,
				as[float32](src[iy0*g.W:]), sh*g.W, m, (sp.rows-iy0+sh-1)/sh) {
				k = 0
				break
			}
		}
	}
	if k >= slices.Max(sp.n) {
		return
	}
	for iy := 0; iy < sp.rows; iy++ {
		row := src[iy*g.W : (iy+1)*g.W]
		base := base(iy)
		for t := range sw {
			d := p[base+sp.off[t]:][:sp.n[t]]
			for j := k; j < len(d); j++ {
				d[j] = row[t+j*sw]
			}
		}
	}
}

// dwPlane is the layout of a plane of outs outputs for dwPlaneVec: vecs
// (nil without a vector kernel) are the 16-lane vectors of the long row
// that cover them, each with the lanes it keeps and reads.
type dwPlane struct {
	outs int
	vecs []uint64
}

// dwRowGo sets dst[j] = b + Σ_t w[t]·p[offs[t]+j] for j < len(dst). A full 3×3 filter is one pass with all
// nine taps; otherwise taps are added three at a time, so the output row is
// loaded and stored once per three taps.
func dwRowGo[E float32 | float64](dst, p []E, offs []int, w []E, b E) {
	n := len(dst)
	if len(offs) == 9 {
		a0, a1, a2 := p[offs[0]:][:n], p[offs[1]:][:n], p[offs[2]:][:n]
		a3, a4, a5 := p[offs[3]:][:n], p[offs[4]:][:n], p[offs[5]:][:n]
		a6, a7, a8 := p[offs[6]:][:n], p[offs[7]:][:n], p[offs[8]:][:n]
		w0, w1, w2, w3, w4, w5, w6, w7, w8 := w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8]
		for j := range dst {
			dst[j] = b + (w0*a0[j] + w1*a1[j] + w2*a2[j]) + (w3*a3[j] + w4*a4[j] + w5*a5[j]) + (w6*a6[j] + w7*a7[j] + w8*a8[j])
		}
		return
	}
	for j := range dst {
		dst[j] = b
	}
	t := 0
	for ; t+3 <= len(offs); t += 3 {
		a0, a1, a2 := p[offs[t]:][:n], p[offs[t+1]:][:n], p[offs[t+2]:][:n]
		w0, w1, w2 := w[t], w[t+1], w[t+2]
		for j := range dst {
			dst[j] += w0*a0[j] + w1*a1[j] + w2*a2[j]
		}
	}
	for ; t < len(offs); t++ {
		a0, w0 := p[offs[t]:][:n], w[t]
		for j := range dst {
			dst[j] += w0 * a0[j]
		}
	}
}
