package kernel

import "math"

// Stride-1 convolutions run as an implicit GEMM without an im2col matrix.
// The input planes are copied once into a zero-padded block P of hp×wp
// planes. If output pixel (y, x) is numbered j = y*wp + x (so each output
// row carries wp-wout junk columns), then the patch-matrix entry for tap
// q = (i, r, s) is P[off(q) + j] with off(q) = i*hp*wp + r*dh*wp + s*dw: every
// row of the patch matrix is a contiguous slice of P. Packing B is then a
// plain row copy, and the junk columns cost (wp-wout)/wp extra arithmetic
// plus a compaction of the output. When a layer has fewer taps than output
// channels, and for the filter gradient (where pixels are the inner
// dimension), the junk-free numbering j = y*wout + x is used instead and
// panels are packed from a few row segments of P.

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
	ldt         int // cols rounded up to 16: row stride of scratch matrices
	plane, taps int // hp*wp, r*s
}

func newS1Geom(i, o, r, s, dh, dw, hin, win, hout, wout, padT, padL int) s1Geom {
	g := s1Geom{i: i, o: o, r: r, s: s, dh: dh, dw: dw, hin: hin, win: win, hout: hout, wout: wout, padT: padT, padL: padL}
	g.hp, g.wp = hout+(r-1)*dh, wout+(s-1)*dw
	g.cols = (hout-1)*g.wp + wout
	g.ldt = (g.cols + 15) &^ 15 // whole 64-byte lines per row
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

func (s *shiftSource[E]) pack(dst []E, uk *microKernel[E], p0, kc, j0, nc int) {
	var offs [maxKC]int
	for p := range kc {
		offs[p] = s.g.off(p0+p) + j0
	}
	packRows(dst, uk, s.p, offs[:kc], nc)
}

// denseShiftSource is the patch matrix without junk columns: column j is
// output pixel (j/wout, j%wout). A panel's columns then come from a few
// row segments of P instead of one run.
type denseShiftSource[E float32 | float64] struct {
	g *s1Geom
	p []E
}

func (s *denseShiftSource[E]) pack(dst []E, uk *microKernel[E], p0, kc, j0, nc int) {
	g, nr := s.g, uk.nr
	type segment struct{ at, src, n int }
	var segs [maxNR]segment
	for jp := 0; jp < nc; jp += nr {
		panel := dst[jp*kc : (jp+nr)*kc]
		// Split the panel's columns at output-row boundaries.
		ns := 0
		for j, end := j0+jp, j0+min(jp+nr, nc); j < end; {
			y, x := j/g.wout, j%g.wout
			n := min(end-j, g.wout-x)
			segs[ns] = segment{at: j - j0 - jp, src: y*g.wp + x, n: n}
			ns++
			j += n
		}
		for p := 0; p < kc; p++ {
			base := g.off(p0 + p)
			d := panel[p*nr : p*nr+nr]
			for _, sg := range segs[:ns] {
				copy(d[sg.at:sg.at+sg.n], s.p[base+sg.src:base+sg.src+sg.n])
			}
		}
	}
}

// denseShiftSourceT is the transposed junk-free patch matrix (output
// pixels × taps), the right operand of the filter gradient: entry (j, q) is
// P[off(q) + (j/wout)*wp + j%wout]. Packing is a transpose; with a gather
// helper it runs one gather sequence per output-row segment of the rows.
type denseShiftSourceT[E float32 | float64] struct {
	g *s1Geom
	p []E
}

func (s *denseShiftSourceT[E]) pack(dst []E, uk *microKernel[E], p0, kc, j0, nc int) {
	g, nr := s.g, uk.nr
	gather := uk.gatherPanel != nil && len(s.p) <= math.MaxInt32
	var idx [maxNR]int32
	for jp := 0; jp < nc; jp += nr {
		w := min(nr, nc-jp)
		panel := dst[jp*kc : (jp+nr)*kc]
		for j := range nr {
			// Columns past w repeat column 0: the driver never lets the
			// products of padding columns reach C.
			idx[j] = int32(g.off(j0 + jp + j*b2i(j < w)))
		}
		for p := 0; p < kc; {
			y, x := (p0+p)/g.wout, (p0+p)%g.wout
			n := min(kc-p, g.wout-x)
			base := y*g.wp + x
			if gather {
				uk.gatherPanel(panel[p*nr:], s.p[base:], idx[:nr], n)
			} else {
				for j := 0; j < w; j++ {
					src := s.p[base+int(idx[j]) : base+int(idx[j])+n]
					for i, v := range src {
						panel[(p+i)*nr+j] = v
					}
				}
			}
			p += n
		}
	}
}

// s1Forward computes out (o×hout×wout) = correlation of in with wt
// (o × i*r*s), plus bias if not nil, overwriting out. p and tmp are scratch
// of g.i*g.plane and g.o*g.ldt elements.
//
// pre is wt packed by prepackA, or nil.
func s1Forward[E float32 | float64](uk *microKernel[E], g *s1Geom, wt, pre, in, bias, out, p, tmp []E, nt int) {
	padPlanes(g, in, p)
	hw := g.hout * g.wout
	if g.i*g.taps <= g.o {
		// Few taps per output (an RGB first layer): copying the junk-free
		// patch matrix in short segments costs less than compacting the
		// much larger output, so the product is written straight to out.
		src := denseShiftSource[E]{g: g, p: p}
		addBias := func(i0, i1, j0, j1 int) {
			for o := i0; o < i1; o++ {
				if b := bias[o]; b != 0 {
					row := out[o*hw+j0 : o*hw+j1]
					for i := range row {
						row[i] += b
					}
				}
			}
		}
		if bias == nil {
			addBias = nil
		}
		gemmDriver(uk, false, g.o, hw, g.i*g.taps, 1, wt, g.i*g.taps, pre, &src, 0, out, hw, nt, addBias)
		return
	}
	src := shiftSource[E]{g: g, p: p}
	// Each finished column block of tmp is copied out while it is still in
	// cache, dropping the junk columns and adding the bias.
	compact := func(i0, i1, j0, j1 int) {
		for o := i0; o < i1; o++ {
			var b E
			if bias != nil {
				b = bias[o]
			}
			t := tmp[o*g.ldt : o*g.ldt+g.cols]
			dst := out[o*hw : (o+1)*hw]
			for j := j0; j < j1; {
				y, x := j/g.wp, j%g.wp
				end := min(j1, y*g.wp+g.wp)
				if x < g.wout {
					seg := t[j:min(end, y*g.wp+g.wout)]
					d := dst[y*g.wout+x : y*g.wout+x+len(seg)]
					if b == 0 {
						copy(d, seg)
					} else {
						for i, v := range seg {
							d[i] = v + b
						}
					}
				}
				j = end
			}
		}
	}
	gemmDriver(uk, false, g.o, g.cols, g.i*g.taps, 1, wt, g.i*g.taps, pre, &src, 0, tmp, g.ldt, nt, compact)
}

// s1Filter adds to dw (o × i*r*s) the filter gradient for one image: in is
// the layer input, dy the output gradient (o×hout×wout), the product's left
// operand as it is. p is scratch of g.i*g.plane elements.
func s1Filter[E float32 | float64](uk *microKernel[E], g *s1Geom, in, dy, dw, p []E, nt int) {
	padPlanes(g, in, p)
	hw := g.hout * g.wout
	src := denseShiftSourceT[E]{g: g, p: p}
	gemmDriver(uk, false, g.o, g.i*g.taps, hw, 1, dy, hw, nil, &src, 1, dw, g.i*g.taps, nt, nil)
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}
