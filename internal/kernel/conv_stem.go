package kernel

// The stem route: the first layer of an ImageNet network, a stride-2
// convolution of the three colour planes into 16 to 64 channels. Through
// the GEMM it is a product with only K rows and C·R·S ≤ 27 steps, whose
// packing and 48-column tiles cost more than its arithmetic. Here sixteen
// output pixels of a row are computed for sixteen channels at a time, one
// vector per pixel: every tap broadcasts one input value into a fused
// multiply-add with the tap's sixteen weights, and the pixel vectors are
// transposed into the output planes at the end, bias and Relu applied in
// registers (stemAVX512; stemGo is its twin).

// stemSuits reports whether Conv2D takes the stem route for float32 data.
func stemSuits(g *convGeom) bool {
	return haveStem && g.groups == 1 && g.C <= 4 && g.K <= 64 && g.C*g.R*g.S <= 160 &&
		g.strH == 2 && g.strW == 2 && g.dilH == 1 && g.dilW == 1 &&
		g.PadTop <= g.R && g.PadBottom <= g.R && g.PadLeft <= g.S && g.PadRight <= g.S
}

// stemConv is Conv2D for stemSuits geometries.
func stemConv(g *convGeom, x, w, bias, y []float32, relu bool) {
	taps := g.C * g.R * g.S
	groups := (g.ow + 15) / 16
	// Padded planes wide and tall enough for the last group's sixteen
	// pixels and the last row's taps.
	wp := max(g.W+g.PadLeft+g.PadRight, 2*(groups*16-1)+g.S)
	hp := max(g.H+g.PadTop+g.PadBottom, 2*(g.oh-1)+g.R)
	plane := hp * wp
	blocks := (g.K + 15) / 16
	wb := dwBlockWeights(w, g.K, taps) // [block][tap][channel], as the blocked depthwise route
	bb := make([]float32, blocks*16)
	if bias != nil {
		copy(bb, bias[:g.K])
	}
	offs := make([]int32, 0, taps)
	for c := range g.C {
		for r := range g.R {
			for s := range g.S {
				offs = append(offs, int32(c*plane+r*wp+s))
			}
		}
	}
	sp, xp := getScratch[float32](g.N * g.C * plane)
	defer putScratch(sp)
	parallelFor(Threads(), g.N*g.C, func(pl, _ int) {
		dst := xp[pl*plane : (pl+1)*plane]
		clear(dst)
		copyRows(dst[g.PadTop*wp+g.PadLeft:], x[pl*g.hw:(pl+1)*g.hw], g.W, g.H, wp, g.W, nil)
	})
	parallelFor(Threads(), g.N*g.oh, func(it, _ int) {
		n, oy := it/g.oh, it%g.oh
		xrow := xp[n*g.C*plane+2*oy*wp : (n+1)*g.C*plane]
		for b := range blocks {
			rows := min(16, g.K-16*b)
			for gi := range groups {
				ox0 := 16 * gi
				dst := y[n*g.yLen+16*b*g.ohw+oy*g.ow+ox0:]
				stem(dst, g.ohw, xrow[2*ox0:], offs, wb[b*taps*16:(b+1)*taps*16], bb[b*16:(b+1)*16], relu, rows, min(16, g.ow-ox0))
			}
		}
	})
}

// stemGo is stem's portable twin: for pixels i < cols and channels j <
// rows, y[j*ldy+i] = b[j] + Σ_t w[16t+j]·x[offs[t]+2i], then Relu.
func stemGo(y []float32, ldy int, x []float32, offs []int32, w, b []float32, relu bool, rows, cols int) {
	for j := range rows {
		for i := range cols {
			acc := b[j]
			for t, o := range offs {
				acc += w[16*t+j] * x[int(o)+2*i]
			}
			if relu {
				acc = max(acc, 0)
			}
			y[j*ldy+i] = acc
		}
	}
}
