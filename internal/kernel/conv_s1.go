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
//
// Several images can share one product when their planes are too small to
// fill register tiles (7×7 and 3×3 in Conv-4 on Omniglot): P then holds, per
// channel, imgs padded planes one after another, and the columns of image m
// follow those of image m−1 at a distance of one plane. Each image's taps
// stay inside its own plane, so the plane's last (r−1)*dh rows are junk
// columns like the row ends.
type s1Geom struct {
	i, o, r, s  int // input and output channels, kernel size
	dh, dw      int
	hin, win    int
	hout, wout  int
	padT, padL  int // may be negative: the input is then cropped
	hp, wp      int // padded plane
	cols        int // (hout-1)*wp + wout: GEMM columns of one image incl. junk
	ldt         int // columns of imgs images rounded up to 16: row stride of scratch matrices
	plane, taps int // hp*wp, r*s
	// imgs is the number of images per product; inStride and outStride
	// are the distances between consecutive images in in and out.
	imgs, inStride, outStride int
	// offs[q] is off(q), tabulated: packing asks for it once per packed
	// row, and the divisions would otherwise cost as much as the copy.
	offs []int
}

func newS1Geom(i, o, r, s, dh, dw, hin, win, hout, wout, padT, padL int) s1Geom {
	g := s1Geom{i: i, o: o, r: r, s: s, dh: dh, dw: dw, hin: hin, win: win, hout: hout, wout: wout, padT: padT, padL: padL}
	g.hp, g.wp = hout+(r-1)*dh, wout+(s-1)*dw
	g.cols = (hout-1)*g.wp + wout
	g.plane, g.taps = g.hp*g.wp, r*s
	g.setImages(1, 0, 0)
	return g
}

// setImages lays P out for imgs images per product.
func (g *s1Geom) setImages(imgs, inStride, outStride int) {
	g.imgs, g.inStride, g.outStride = imgs, inStride, outStride
	g.ldt = (g.batchCols(imgs) + 15) &^ 15 // whole 64-byte lines per row
	g.offs = make([]int, 0, g.i*g.taps)
	for c := 0; c < g.i; c++ {
		for y := 0; y < g.r; y++ {
			for x := 0; x < g.s; x++ {
				g.offs = append(g.offs, c*imgs*g.plane+y*g.dh*g.wp+x*g.dw)
			}
		}
	}
}

// batchCols is the number of product columns for n images.
func (g *s1Geom) batchCols(n int) int { return (n-1)*g.plane + g.cols }

// s1Images is the number of images a product should cover for a batch of
// n: one, unless the planes are small and the junk-column route is taken.
// Then enough images share a product to give it about a thousand columns,
// which keeps the partial register tiles and per-product costs rare.
func s1Images(g *s1Geom, n int) int {
	if g.i*g.taps <= g.o || g.plane >= 128 {
		return 1
	}
	return max(1, min(n, 1024/g.plane))
}

// off is the offset in P of patch row q = (i, r, s).
func (g *s1Geom) off(q int) int { return g.offs[q] }

// padPlanes copies g.i planes of each of n images of in (hin×win each,
// images g.inStride apart) into p (hp×wp each) at offset (padT, padL). The
// border is zero-filled unless zeroed says that p already holds this
// geometry's border: the copy writes the same positions for every batch,
// so a buffer kept across a batch is cleared only once.
func padPlanes[E float32 | float64](g *s1Geom, in, p []E, n int, zeroed bool) {
	if !zeroed {
		clear(p[:g.i*g.imgs*g.plane])
	}
	x0, x1 := max(0, -g.padL), min(g.win, g.wp-g.padL) // source columns kept
	y0, y1 := max(0, -g.padT), min(g.hin, g.hp-g.padT) // source rows kept
	if x0 >= x1 || y0 >= y1 {
		return
	}
	w := x1 - x0
	for i := 0; i < g.i; i++ {
		for m := 0; m < n; m++ {
			src := in[m*g.inStride+i*g.hin*g.win : m*g.inStride+(i+1)*g.hin*g.win]
			pl := (i*g.imgs + m) * g.plane
			dst := p[pl+(y0+g.padT)*g.wp+x0+g.padL : pl+g.plane]
			for sy := y0; sy < y1; sy++ {
				copy(dst[:w], src[sy*g.win+x0:sy*g.win+x1])
				dst = dst[min(g.wp, len(dst)):]
			}
		}
	}
}

// batchBufs gives each worker of a batch loop one scratch buffer for the
// whole batch, so that padded planes keep their zero border between images.
type batchBufs[E float32 | float64] struct {
	n    int
	sps  []*scratch
	bufs [][]E
}

func newBatchBufs[E float32 | float64](workers, n int) *batchBufs[E] {
	return &batchBufs[E]{n: n, sps: make([]*scratch, workers), bufs: make([][]E, workers)}
}

// get returns worker's buffer and whether it was used before (and so holds
// the zero border of the padded planes at its start).
func (b *batchBufs[E]) get(worker int) (buf []E, used bool) {
	if b.sps[worker] != nil {
		return b.bufs[worker], true
	}
	b.sps[worker], b.bufs[worker] = getScratch[E](b.n)
	return b.bufs[worker], false
}

func (b *batchBufs[E]) release() {
	for _, sp := range b.sps {
		if sp != nil {
			putScratch(sp)
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
	offs := getRowOffsets()
	defer rowOffsetsPool.Put(offs)
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

// s1Forward computes out (o×hout×wout per image) = correlation of in with
// wt (o × i*r*s), plus bias if not nil, overwriting out, for n images (at
// most g.imgs; more than one only on the junk-column route). p and tmp are
// scratch of g.i*g.imgs*g.plane and g.o*g.ldt elements; zeroed reports that
// p holds the zero border of this geometry from an earlier call.
//
// pre is wt packed by prepackA, or nil.
func s1Forward[E float32 | float64](uk *microKernel[E], g *s1Geom, wt, pre, in, bias, out, p, tmp []E, n int, zeroed bool, nt int) {
	padPlanes(g, in, p, n, zeroed)
	hw := g.hout * g.wout
	if g.i*g.taps <= g.o {
		// Few taps per output (an RGB first layer): copying the junk-free
		// patch matrix in short segments costs less than compacting the
		// much larger output, so the product is written straight to out.
		src := denseShiftSource[E]{g: g, p: p}
		addBias := func(i0, i1, j0, j1 int) {
			for o := i0; o < i1; o++ {
				if b := bias[o]; b != 0 {
					addScalar(out[o*hw+j0:o*hw+j1], b)
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
		// Walk the padded rows that overlap [j0, j1) once; each kept
		// segment (a plane row, short) is then moved for all output
		// channels in one call, or by plain loops for float64.
		m, r := j0/g.plane, j0%g.plane
		y, x := r/g.wp, r%g.wp
		for j := j0; j < j1; {
			rowEnd := j - x + g.wp
			if y < g.hout && x < g.wout {
				n := min(j1, rowEnd-(g.wp-g.wout)) - j
				at := m*g.outStride + y*g.wout + x
				if is32[E]() {
					var b []float32
					if bias != nil {
						b = as[float32](bias[i0:i1])
					}
					copyRows(as[float32](out[at+i0*hw:]), as[float32](tmp[i0*g.ldt+j:]), n, i1-i0, hw, g.ldt, b)
				} else {
					for o := i0; o < i1; o++ {
						seg := tmp[o*g.ldt+j : o*g.ldt+j+n]
						d := out[at+o*hw : at+o*hw+n]
						if bias == nil || bias[o] == 0 {
							for i, v := range seg {
								d[i] = v
							}
						} else {
							b := bias[o]
							for i, v := range seg {
								d[i] = v + b
							}
						}
					}
				}
			}
			j, x = rowEnd, 0
			if y++; y == g.hp {
				y, m = 0, m+1
			}
		}
	}
	gemmDriver(uk, false, g.o, g.batchCols(n), g.i*g.taps, 1, wt, g.i*g.taps, pre, &src, 0, tmp, g.ldt, nt, compact)
}

// s1Filter adds to dw (o × i*r*s) the filter gradient for one image: in is
// the layer input, dy the output gradient (o×hout×wout), the product's left
// operand as it is. p is scratch of g.i*g.plane elements, with zeroed as
// for s1Forward.
func s1Filter[E float32 | float64](uk *microKernel[E], g *s1Geom, in, dy, dw, p []E, zeroed bool, nt int) {
	padPlanes(g, in, p, 1, zeroed)
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

// fewTaps is the largest C/Groups*R*S for which the float32 filter gradient
// of a stride-1 convolution skips the GEMM (a one-channel first layer has
// 9 taps). With so few columns the product would mostly pack and transpose
// dy; dot products of each dy row with shifted rows of the padded input
// read it in place. Each of those loads two operands per multiply-add, so
// from about 27 taps (an RGB first layer) the GEMM is faster again.
const fewTaps = 16

// s1FilterFewTaps adds the filter gradient of every image to the partial
// sums acc(chunk) of the outer fixed chunks of consecutive images, one
// batch worker per chunk. Per image, dy is copied into
// the junk-column layout (zero in the junk columns, rows padded to a
// multiple of 64 elements), so that tap q's contribution to output channel
// o is the dot product of row o with P shifted by off(q), taken for all
// channels and taps together (dotShiftsRows).
func s1FilterFewTaps(sg *s1Geom, g *convGeom, x []float32, dyOf func(n, worker int) []float32, outer int, acc func(chunk int) []float32) {
	ld := (sg.cols + 63) &^ 63
	// P needs ld−cols readable elements past the last tap's row (zero).
	pLen := sg.i*sg.plane + ld
	bufs := newBatchBufs[float32](outer, pLen+sg.o*ld)
	defer bufs.release()
	hw := sg.hout * sg.wout
	forChunks(outer, g.N, func(n, chunk, worker int) {
		buf, used := bufs.get(worker)
		if !used {
			// The junk columns of dy and the border of P are the same
			// for every image and group: cleared once, never written.
			clear(buf)
		}
		p, dyj := buf[:pLen], buf[pLen:]
		a := acc(chunk)
		dyn := dyOf(n, worker)
		for grp := 0; grp < g.groups; grp++ {
			padPlanes(sg, x[n*g.xLen+grp*g.cg*g.hw:], p, 1, true)
			dyg := dyn[grp*g.kg*g.ohw:]
			for o := 0; o < sg.o; o++ {
				row := dyj[o*ld : (o+1)*ld]
				src := dyg[o*hw : (o+1)*hw]
				for y := 0; y < sg.hout; y++ {
					copy(row[y*sg.wp:y*sg.wp+sg.wout], src[y*sg.wout:(y+1)*sg.wout])
				}
			}
			dotShiftsRows(dyj, ld, sg.o, ld, p, sg.offs, a[grp*g.wGroupLen:], g.crs)
		}
	})
}
