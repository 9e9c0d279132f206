package kernel

// Stride-1 convolutions run as an implicit GEMM without an im2col matrix.
// The input planes are copied once into a zero-padded block P of hp×wp
// planes. If output pixel (y, x) is numbered j = y*wp + x (so each output
// row carries wp-wout junk columns), then the patch-matrix entry for tap
// q = (i, r, s) is P[off(q) + j] with off(q) = i*hp*wp + r*dh*wp + s*dw: every
// row of the patch matrix is a contiguous slice of P. Packing B is then a
// plain row copy, and the junk columns cost (wp-wout)/wp extra arithmetic.

// s1Geom is one stride-1 correlation: out[o, y, x] = sum over i, r, s of
// wt[o, i, r, s] * in[i, y + r*dh - padT, x + s*dw - padL], zero outside in.
type s1Geom struct {
	i, o, r, s  int // input and output channels, kernel size
	dh, dw      int
	hin, win    int
	hout, wout  int
	padT, padL  int // may be negative: the input is then cropped
	hp, wp      int // padded plane
	cols        int // (hout-1)*wp + wout: GEMM columns incl. junk
	plane, taps int // hp*wp, r*s
}

func newS1Geom(i, o, r, s, dh, dw, hin, win, hout, wout, padT, padL int) s1Geom {
	g := s1Geom{i: i, o: o, r: r, s: s, dh: dh, dw: dw, hin: hin, win: win, hout: hout, wout: wout, padT: padT, padL: padL}
	g.hp, g.wp = hout+(r-1)*dh, wout+(s-1)*dw
	g.cols = (hout-1)*g.wp + wout
	g.plane, g.taps = g.hp*g.wp, r*s
	return g
}

// off is the offset in P of patch row q = (i, r, s).
func (g *s1Geom) off(q int) int {
	i, t := q/g.taps, q%g.taps
	return i*g.plane + (t/g.s)*g.dh*g.wp + (t%g.s)*g.dw
}

// padPlanes copies g.i planes of in (hin×win each) into p (hp×wp each) at
// offset (padT, padL), zero-filling the rest.
func padPlanes[E float32 | float64](g *s1Geom, in, p []E) {
	x0, x1 := max(0, -g.padL), min(g.win, g.wp-g.padL) // source columns kept
	for i := 0; i < g.i; i++ {
		src := in[i*g.hin*g.win : (i+1)*g.hin*g.win]
		dst := p[i*g.plane : (i+1)*g.plane]
		for y := 0; y < g.hp; y++ {
			row := dst[y*g.wp : (y+1)*g.wp]
			sy := y - g.padT
			if sy < 0 || sy >= g.hin || x0 >= x1 {
				clear(row)
				continue
			}
			clear(row[:x0+g.padL])
			copy(row[x0+g.padL:], src[sy*g.win+x0:sy*g.win+x1])
			clear(row[x1+g.padL:])
		}
	}
}

// shiftSource is the patch matrix (taps × output columns) over a padded
// block.
type shiftSource[E float32 | float64] struct {
	g *s1Geom
	p []E
}

func (s *shiftSource[E]) pack(dst []E, row rowPacker[E], nr, p0, kc, j0, nc int) {
	for p := 0; p < kc; p++ {
		o := s.g.off(p0+p) + j0
		row(dst, nr, p, kc, s.p[o:o+nc])
	}
}

// shiftSourceT is the transposed patch matrix (output columns × taps), the
// right operand of the filter gradient.
type shiftSourceT[E float32 | float64] struct {
	g *s1Geom
	p []E
}

func (s *shiftSourceT[E]) pack(dst []E, _ rowPacker[E], nr, p0, kc, j0, nc int) {
	for jp := 0; jp < nc; jp += nr {
		w := min(nr, nc-jp)
		panel := dst[jp*kc : (jp+nr)*kc]
		for j := 0; j < w; j++ {
			o := s.g.off(j0+jp+j) + p0
			for p, v := range s.p[o : o+kc] {
				panel[p*nr+j] = v
			}
		}
		if w < nr {
			for p := 0; p < kc; p++ {
				clear(panel[p*nr+w : p*nr+nr])
			}
		}
	}
}

// s1Forward computes out (o×hout×wout) = correlation of in with wt
// (o × i*r*s), plus bias if not nil, overwriting out. p and tmp are scratch
// of g.i*g.plane and g.o*g.cols elements.
func s1Forward[E float32 | float64](uk *microKernel[E], g *s1Geom, wt, in, bias, out, p, tmp []E, nt int) {
	padPlanes(g, in, p)
	src := shiftSource[E]{g: g, p: p}
	gemmDriver(uk, false, g.o, g.cols, g.i*g.taps, 1, wt, g.i*g.taps, &src, 0, tmp, g.cols, nt)
	hw := g.hout * g.wout
	for o := 0; o < g.o; o++ {
		var b E
		if bias != nil {
			b = bias[o]
		}
		dst := out[o*hw : (o+1)*hw]
		t := tmp[o*g.cols:]
		for y := 0; y < g.hout; y++ {
			d := dst[y*g.wout : (y+1)*g.wout]
			copy(d, t[y*g.wp:y*g.wp+g.wout])
			if b != 0 {
				for x := range d {
					d[x] += b
				}
			}
		}
	}
}

// s1Filter adds to dw (o × i*r*s) the filter gradient for one image: in is
// the layer input, dy the output gradient (o×hout×wout). p and tmp are
// scratch of g.i*g.plane and g.o*g.cols elements.
func s1Filter[E float32 | float64](uk *microKernel[E], g *s1Geom, in, dy, dw, p, tmp []E, nt int) {
	padPlanes(g, in, p)
	hw := g.hout * g.wout
	for o := 0; o < g.o; o++ {
		t := tmp[o*g.cols : (o+1)*g.cols]
		src := dy[o*hw : (o+1)*hw]
		for y := 0; y < g.hout; y++ {
			copy(t[y*g.wp:], src[y*g.wout:(y+1)*g.wout])
			if y < g.hout-1 {
				clear(t[y*g.wp+g.wout : (y+1)*g.wp])
			}
		}
	}
	srcT := shiftSourceT[E]{g: g, p: p}
	gemmDriver(uk, false, g.o, g.i*g.taps, g.cols, 1, tmp, g.cols, &srcT, 1, dw, g.i*g.taps, nt)
}
