package kernel

import (
	"math"
	"math/bits"
)

// Winograd convolution F(4×4, 3×3) (Lavin & Gray, 2015). A 3×3 stride-1
// correlation is computed on 4×4 output tiles: each 6×6 input tile d becomes
// V = Bᵀ·d·B, each filter g becomes U = G·g·Gᵀ, and the output tile is
// Aᵀ·(Σ_c U⊙V)·A. The sum over input channels of the 36 element-wise
// products is 36 independent matrix products U_ξ (K×C) · V_ξ (C×tiles),
// which run on the packed SGEMM micro-kernel; that is 4× fewer
// multiplications than the direct convolution, at the price of the
// transforms and of float32 rounding a little worse than a direct sum.
//
// Tiles are processed in blocks of winoBlock tiles: the block's transformed
// inputs are written straight into the micro-kernel's packed B layout, the
// products go to a block-sized scratch matrix, and the output transform
// reads it while it is still in cache. Bias, ReLU and a following 2×2
// max-pooling are applied in the output transform, so the full-size
// convolution output is never stored when the pooling is fused. The
// transforms work on 16 tiles at once (one AVX-512 lane each), with masks
// for the image border; winograd_amd64.s holds the vector code, winoInputGo
// and winoOutputGo the portable twins.

// The transform matrices for the interpolation points 0, ±1, ±2 and ∞:
//
//	Bᵀ = [4  0 -5  0 1 0]   G = [ 1/4     0    0]   Aᵀ = [1 1  1 1  1 0]
//	     [0 -4 -4  1 1 0]       [-1/6 -1/6 -1/6]        [0 1 -1 2 -2 0]
//	     [0  4 -4 -1 1 0]       [-1/6  1/6 -1/6]        [0 1  1 4  4 0]
//	     [0 -2 -1  2 1 0]       [1/24 1/12  1/6]        [0 1 -1 8 -8 1]
//	     [0  2 -1 -2 1 0]       [1/24 -1/12 1/6]
//	     [0  4  0 -5 0 1]       [   0     0    1]
var winoG = [6][3]float64{
	{1.0 / 4, 0, 0},
	{-1.0 / 6, -1.0 / 6, -1.0 / 6},
	{-1.0 / 6, 1.0 / 6, -1.0 / 6},
	{1.0 / 24, 1.0 / 12, 1.0 / 6},
	{1.0 / 24, -1.0 / 12, 1.0 / 6},
	{0, 0, 1},
}

// winoBlock is the number of tiles per block: a multiple of 16 (the lanes of
// one transform call) and of every micro-kernel's nr, small enough that a
// block's transformed inputs and products (36·(C+K)·winoBlock floats) stay
// in L2.
const winoBlock = 48

// winoSkew pads the distance between the block's 36 matrices (in floats).
// Unpadded, that distance is a multiple of 4 KiB for 64 channels, so the
// 36 elements of one tile would all fall in the same L1 cache set.
const winoSkew = 16

// winoStrides returns the distances between the 36 transformed-input and
// product matrices of a block.
func (f *WinogradFilter) winoStrides() (vXi, mXi int) {
	return f.c*winoBlock + winoSkew, f.kPad*winoBlock + winoSkew
}

// WinogradSuits reports whether Conv2D-equivalent work for s is done faster
// by a WinogradFilter: a float32 3×3 convolution with unit stride and
// dilation, one group, and enough channels that the 36 products are real
// matrix products rather than thin ones. Few tiles do not rule it out:
// blocks multiply only their tiles' columns (BenchmarkWinogradOrDirect).
func WinogradSuits(s ConvShape) bool {
	return winogradShape(s) && s.C >= 3 && s.K >= 8
}

// WinogradPooledSuits is WinogradSuits for a convolution whose output is
// max-pooled 2×2 in the same pass (WinogradFuse.MaxPool2x2): then a
// one- or two-channel first layer pays as well, since the output transform
// writes a quarter of the outputs that a direct convolution followed by a
// pooling pass writes (Omniglot's 28×28×1 Conv-4 at batch 600 on one
// thread: 97 → 75–79 ms for the inference forward pass).
func WinogradPooledSuits(s ConvShape) bool {
	return winogradShape(s) && s.K >= 8
}

// winogradShape reports whether the geometry is one Winograd F(4×4, 3×3)
// handles at all.
func winogradShape(s ConvShape) bool {
	return s.Validate() == nil && s.R == 3 && s.S == 3 && orOne(s.StrideH) == 1 && orOne(s.StrideW) == 1 &&
		orOne(s.DilH) == 1 && orOne(s.DilW) == 1 && orOne(s.Groups) == 1
}

// WinogradFilter is a 3×3 filter bank transformed for Winograd F(4×4, 3×3)
// and packed for the float32 micro-kernel, computed once and reused for
// every batch. It is immutable and safe for concurrent use.
type WinogradFilter struct {
	k, c int
	kPad int       // k rounded up to the micro-kernel's mr
	kc   int       // depth of one packed slice of the channels
	u    []float32 // 36 packed K×C matrices U_ξ, each kPad·c long
	uk   *microKernel[float32]
}

// NewWinogradFilter transforms the weights w ([K, C, 3, 3], the layout of
// Conv2D) of a convolution with k output and c input channels.
//
// It panics if k or c is not positive or w is too short.
func NewWinogradFilter(k, c int, w []float32) *WinogradFilter {
	if k < 1 || c < 1 {
		panic("kernel: NewWinogradFilter: k = " + itoa(k) + " and c = " + itoa(c) + " must be positive")
	}
	need("NewWinogradFilter", "w", len(w), k*c*9)
	uk := sgemmKernel
	f := &WinogradFilter{k: k, c: c, uk: uk}
	f.kPad = (k + uk.mr - 1) / uk.mr * uk.mr
	f.kc = min(uk.kc, c, maxKC)
	// U_ξ as plain K×C matrices first, in float64 so that the transform
	// adds no rounding of its own beyond the final conversion.
	plain := make([]float32, 36*k*c)
	for o := 0; o < k; o++ {
		for i := 0; i < c; i++ {
			g := w[(o*c+i)*9 : (o*c+i)*9+9]
			var t [6][3]float64 // G·g
			for r := 0; r < 6; r++ {
				for s := 0; s < 3; s++ {
					t[r][s] = winoG[r][0]*float64(g[s]) + winoG[r][1]*float64(g[3+s]) + winoG[r][2]*float64(g[6+s])
				}
			}
			for r := 0; r < 6; r++ {
				for q := 0; q < 6; q++ {
					v := t[r][0]*winoG[q][0] + t[r][1]*winoG[q][1] + t[r][2]*winoG[q][2]
					plain[(r*6+q)*k*c+o*c+i] = float32(v)
				}
			}
		}
	}
	f.u = make([]float32, 36*f.kPad*c)
	for xi := 0; xi < 36; xi++ {
		dst := f.u[xi*f.kPad*c : (xi+1)*f.kPad*c]
		for pc := 0; pc < c; pc += f.kc {
			packA(dst[f.kPad*pc:], uk, plain[xi*k*c:], c, false, 0, k, pc, min(f.kc, c-pc))
		}
	}
	return f
}

// WinogradFuse selects what the output transform applies after the bias.
type WinogradFuse struct {
	// MaxPool2x2 pools the convolution output with a 2×2 window and stride
	// 2 (floor mode, no padding); y is then [N, K, OutH/2, OutW/2].
	MaxPool2x2 bool
	// ReLU replaces negative results (after pooling, if any) by zero.
	ReLU bool
}

// Conv2D computes y = conv(x, w) + bias for the geometry s with the filter's
// weights, then applies fuse, overwriting y. s must satisfy R = S = 3, unit
// strides and dilations and one group, and its C and K must match the
// filter. bias may be nil; otherwise it holds K values.
//
// Conv2D panics if s does not fit the filter or a slice is too short.
func (f *WinogradFilter) Conv2D(s ConvShape, x, bias, y []float32, fuse WinogradFuse) {
	f.conv2D("Conv2D", s, x, nil, nil, bias, y, fuse)
}

// Conv2DSum computes y = conv(x, w) + conv(x2, w2) + bias, w2 being f2's
// weights, then applies fuse, overwriting y: one output transform for both
// convolutions, whose products add up in the transformed domain. f2 must
// have f's shape; otherwise it is Conv2D for both.
//
// Conv2DSum panics if s does not fit the filters or a slice is too short.
func (f *WinogradFilter) Conv2DSum(s ConvShape, x []float32, f2 *WinogradFilter, x2, bias, y []float32, fuse WinogradFuse) {
	if f2.k != f.k || f2.c != f.c {
		panic("kernel: WinogradFilter.Conv2DSum: filters of K = " + itoa(f.k) + ", C = " + itoa(f.c) +
			" and K = " + itoa(f2.k) + ", C = " + itoa(f2.c))
	}
	need("WinogradFilter.Conv2DSum", "x2", len(x2), s.N*s.C*s.H*s.W)
	f.conv2D("Conv2DSum", s, x, f2, x2, bias, y, fuse)
}

// conv2D is Conv2D, plus conv(x2, w2) when f2 is not nil.
func (f *WinogradFilter) conv2D(op string, s ConvShape, x []float32, f2 *WinogradFilter, x2, bias, y []float32, fuse WinogradFuse) {
	if !winogradShape(s) {
		panic("kernel: WinogradFilter." + op + ": needs a valid 3×3 convolution with unit stride and dilation and one group")
	}
	if s.C != f.c || s.K != f.k {
		panic("kernel: WinogradFilter." + op + ": shape has C = " + itoa(s.C) + ", K = " + itoa(s.K) +
			"; the filter has C = " + itoa(f.c) + ", K = " + itoa(f.k))
	}
	oh, ow := s.OutH(), s.OutW()
	yh, yw := oh, ow
	if fuse.MaxPool2x2 {
		yh, yw = oh/2, ow/2
		if yh < 1 || yw < 1 {
			panic("kernel: WinogradFilter." + op + ": output " + itoa(oh) + "×" + itoa(ow) + " is too small for 2×2 pooling")
		}
	}
	need("WinogradFilter."+op, "x", len(x), s.N*s.C*s.H*s.W)
	need("WinogradFilter."+op, "y", len(y), s.N*s.K*yh*yw)
	if bias != nil {
		need("WinogradFilter."+op, "bias", len(bias), s.K)
	}
	// Lane offsets are int32: keep the per-block address range within it.
	if int64(s.C)*int64(s.H*s.W)*2 > math.MaxInt32 || int64(s.K)*int64(yh*yw)*2 > math.MaxInt32 {
		panic("kernel: WinogradFilter." + op + ": images too large for 32-bit lane offsets")
	}
	g := winoGeom{s: s, oh: oh, ow: ow, yh: yh, yw: yw, fuse: fuse}
	g.th, g.tw = (oh+3)/4, (ow+3)/4
	g.tiles = s.N * g.th * g.tw
	blocks := (g.tiles + winoBlock - 1) / winoBlock
	vXi, mXi := f.winoStrides()
	vLen, mLen := 36*vXi, 36*mXi
	// Few blocks (a single image, late layers) do not share out evenly
	// over the threads: then each block is also split by output channels.
	// The parts transform the same inputs, which costs less than handing
	// data from thread to thread inside a block.
	nt := Threads()
	panels := f.kPad / f.uk.mr
	parts := 1
	if nt > 1 && blocks < 4*nt {
		parts = min(nt, panels)
	}
	items := blocks * parts
	nt = min(nt, items)
	bufs := newBatchBufs[float32](max(nt, 1), vLen+mLen)
	defer bufs.release()
	parallelFor(nt, items, func(i, worker int) {
		b, part := i/parts, i%parts
		buf, _ := bufs.get(worker)
		k0, k1 := panels*part/parts*f.uk.mr, panels*(part+1)/parts*f.uk.mr
		f.block(&g, b*winoBlock, x, f2, x2, bias, y, buf[:vLen], buf[vLen:vLen+mLen], k0, k1)
	})
}

// winoGeom is one Conv2D call's geometry.
type winoGeom struct {
	s              ConvShape
	oh, ow, yh, yw int // convolution and stored output sizes
	th, tw, tiles  int // tiles per column and row, tiles in the batch
	fuse           WinogradFuse
}

// winoLanes describes 16 tiles for the transforms: per lane, the offset of
// the tile's input origin (row 4ty−padTop, column 4tx−padLeft; possibly
// negative) and of its output origin, relative to the block's first image,
// and per tap the lanes whose pixel lies inside the image.
type winoLanes struct {
	in, out [16]int32
	inMask  [36]uint16 // tap (i, j) of the 6×6 input tile, i*6+j
	outMask [16]uint16 // output (a, b) of the tile (a*2+b when pooled)
	// store[a*16+ℓ] has a bit per column of output row a of lane ℓ's tile
	// that lies inside the image, placed where the vector code holds that
	// row: four floats, or two in the lower or upper half (ℓ odd) of four
	// when pooled.
	store [64]uint16
	// The vector code reads the input rows without gathers: the lanes
	// split into runs of tiles that share a tile row, and each run loads
	// 80 consecutive floats per tile row and splits them into the six
	// tap columns. nseg runs are in seg.
	nseg int
	seg  [16]winoSegment
}

// winoSegment is one run of lanes whose tiles are consecutive in a tile
// row. The 80 floats for tap row i start at x[base + i*w] (base is shifted
// back four columns per lane before the run, so that lane ℓ's taps land in
// lane ℓ); mask[i] says which of them lie inside the image and belong to
// the run, lanes which lanes the run fills.
type winoSegment struct {
	base  int32
	lanes uint16
	_     uint16
	mask  [6][5]uint16
}

// lanes fills l for tiles t0 .. t0+15 of the batch, relative to image n0.
func (g *winoGeom) lanes(l *winoLanes, t0, n0 int) {
	*l = winoLanes{}
	s := &g.s
	per := g.th * g.tw
	var rows, cols [6]uint16
	var orow, ocol [4]uint16
	var sg *winoSegment
	for lane := 0; lane < 16; lane++ {
		t := t0 + lane
		if t >= g.tiles {
			break // masks stay zero: the lane reads and writes nothing
		}
		n, r := t/per, t%per
		ty, tx := r/g.tw, r%g.tw
		y0, x0 := 4*ty-s.PadTop, 4*tx-s.PadLeft
		bit := uint16(1) << lane
		l.in[lane] = int32(((n-n0)*s.C*s.H+y0)*s.W + x0)
		if lane == 0 || tx == 0 {
			sg = &l.seg[l.nseg]
			l.nseg++
			sg.base = l.in[lane] - int32(4*lane)
		}
		sg.lanes |= bit
		for i := 0; i < 6; i++ {
			if y0+i < 0 || y0+i >= s.H {
				continue
			}
			for j := 0; j < 6; j++ {
				if x := x0 + j; x >= 0 && x < s.W {
					e := 4*lane + j
					sg.mask[i][e/16] |= 1 << (e % 16)
				}
			}
		}
		for i := 0; i < 6; i++ {
			if y := y0 + i; y >= 0 && y < s.H {
				rows[i] |= bit
			}
			if x := x0 + i; x >= 0 && x < s.W {
				cols[i] |= bit
			}
		}
		if g.fuse.MaxPool2x2 {
			l.out[lane] = int32(((n-n0)*s.K*g.yh+2*ty)*g.yw + 2*tx)
			for a := 0; a < 2; a++ {
				if 2*ty+a < g.yh {
					orow[a] |= bit
				}
				if 2*tx+a < g.yw {
					ocol[a] |= bit
				}
			}
		} else {
			l.out[lane] = int32(((n-n0)*s.K*g.yh+4*ty)*g.yw + 4*tx)
			for a := 0; a < 4; a++ {
				if 4*ty+a < g.yh {
					orow[a] |= bit
				}
				if 4*tx+a < g.yw {
					ocol[a] |= bit
				}
			}
		}
	}
	for i := 0; i < 6; i++ {
		for j := 0; j < 6; j++ {
			l.inMask[i*6+j] = rows[i] & cols[j]
		}
	}
	side := 4
	if g.fuse.MaxPool2x2 {
		side = 2
	}
	for a := 0; a < side; a++ {
		for b := 0; b < side; b++ {
			l.outMask[a*side+b] = orow[a] & ocol[b]
		}
	}
	l.fillStore(side)
}

// fillStore sets l.store from l.outMask for tiles of side × side outputs.
func (l *winoLanes) fillStore(side int) {
	l.store = [64]uint16{}
	for a := 0; a < side; a++ {
		for b := 0; b < side; b++ {
			for m := l.outMask[a*side+b]; m != 0; m &= m - 1 {
				lane := bits.TrailingZeros16(m)
				shift := b
				if side == 2 {
					shift += 2 * (lane % 2)
				}
				l.store[a*16+lane] |= 1 << shift
			}
		}
	}
}

// block computes output channels [k0, k1) (multiples of the micro-kernel's
// mr, k1 ≤ kPad) of the winoBlock tiles starting at tile t0. v and m are
// scratch for the transformed inputs (36 packed C×winoBlock matrices) and
// the products (36 kPad×winoBlock matrices).
func (f *WinogradFilter) block(g *winoGeom, t0 int, x []float32, f2 *WinogradFilter, x2, bias, y, v, m []float32, k0, k1 int) {
	s := &g.s
	_, mXi := f.winoStrides()
	n0 := t0 / (g.th * g.tw)
	in := n0 * s.C * s.H * s.W
	plane := g.yh * g.yw
	yb := y[(n0*s.K+k0)*plane:]
	// Lane groups past the last tile are skipped: a product's columns are
	// independent, and the output transform never reads theirs.
	groups := min(winoBlock/16, (g.tiles-t0+15)/16)
	var lanes [winoBlock / 16]winoLanes
	for gi := 0; gi < groups; gi++ {
		g.lanes(&lanes[gi], t0+16*gi, n0)
	}
	f.multiply(s, x[in:], &lanes, groups, v, m, k0, k1, false)
	if f2 != nil {
		f2.multiply(s, x2[in:], &lanes, groups, v, m, k0, k1, true)
	}
	k1 = min(k1, f.k)
	if bias != nil {
		bias = bias[k0:k1]
	}
	for gi := 0; gi < groups; gi++ {
		winoOutput(yb, &lanes[gi], m[k0*winoBlock+16*gi:], winoBlock, mXi, k1-k0, plane, g.yw, bias, g.fuse)
	}
}

// multiply transforms the block's input tiles of xb (from the block's
// first image) into v and multiplies them with the filter's transformed
// weights for output channels k0 .. k1, into m, or adding to m with
// accumulate.
func (f *WinogradFilter) multiply(s *ConvShape, xb []float32, lanes *[winoBlock / 16]winoLanes, groups int, v, m []float32, k0, k1 int, accumulate bool) {
	uk := f.uk
	nr, mr := uk.nr, uk.mr
	vXi, mXi := f.winoStrides()
	for gi := 0; gi < groups; gi++ {
		// Lane group gi starts at column 16*gi of the block: in panel
		// 16*gi/nr, at column 16*gi%nr (16 columns never straddle two
		// panels when nr is a multiple of 16; otherwise the portable code
		// walks the columns one by one).
		winoInput(v, vXi, 16*gi, nr, f.c, xb, &lanes[gi], s.H*s.W, s.W)
	}
	// Only the lane groups' columns are multiplied: with few tiles (a
	// single small image) most of a full block would be padding. A panel
	// cut short takes the micro-kernel's narrow form, which gives each
	// column the same bits, so no output depends on the batch around it.
	cols := 16 * groups
	for xi := 0; xi < 36; xi++ {
		u := f.u[xi*f.kPad*f.c : (xi+1)*f.kPad*f.c]
		vx := v[xi*vXi : xi*vXi+f.c*winoBlock]
		mx := m[xi*mXi : xi*mXi+f.kPad*winoBlock]
		for pc := 0; pc < f.c; pc += f.kc {
			kc := min(f.kc, f.c-pc)
			beta := float32(0)
			if pc > 0 || accumulate {
				beta = 1
			}
			for ip := k0; ip < k1; ip += mr {
				a := u[f.kPad*pc+ip*kc : f.kPad*pc+(ip+mr)*kc]
				for jp := 0; jp < cols; jp += nr {
					b := vx[jp*f.c+pc*nr : jp*f.c+(pc+kc)*nr]
					if w := cols - jp; w < nr && uk.narrow != nil {
						uk.narrow(w, kc, a, b, mx[ip*winoBlock+jp:], winoBlock, 1, beta)
					} else {
						uk.fn(kc, a, b, mx[ip*winoBlock+jp:], winoBlock, 1, beta)
					}
				}
			}
		}
	}
}

// vIndex is the position in a block's packed B matrices of channel c and
// block column t, for panels nr wide and c channels deep.
func vIndex(t, c, nr, channels int) int { return (t/nr)*channels*nr + c*nr + t%nr }

// winoInputGo transforms the 16 tiles of l for channels [0, nc): tap (i, j)
// of lane ℓ reads x[l.in[ℓ] + c*plane + i*w + j] (zero where the mask bit is
// clear), and element ξ of the transformed tile goes to
// v[ξ*vXi + vIndex(col0+ℓ, c, nr, nc)].
func winoInputGo(v []float32, vXi, col0, nr, nc int, x []float32, l *winoLanes, plane, w int) {
	for c := 0; c < nc; c++ {
		for lane := 0; lane < 16; lane++ {
			var d [6][6]float32
			bit := uint16(1) << lane
			base := int(l.in[lane]) + c*plane
			for i := 0; i < 6; i++ {
				for j := 0; j < 6; j++ {
					if l.inMask[i*6+j]&bit != 0 {
						d[i][j] = x[base+i*w+j]
					}
				}
			}
			var h [6][6]float32 // rows of d times B
			for i := 0; i < 6; i++ {
				h[i] = winoBT(d[i])
			}
			at := vIndex(col0+lane, c, nr, nc)
			for k := 0; k < 6; k++ {
				o := winoBT([6]float32{h[0][k], h[1][k], h[2][k], h[3][k], h[4][k], h[5][k]})
				for i := 0; i < 6; i++ {
					v[(i*6+k)*vXi+at] = o[i]
				}
			}
		}
	}
}

// winoBT returns Bᵀ·d for one column d, in the operation order of the
// vector code.
func winoBT(d [6]float32) [6]float32 {
	a := d[4] - 4*d[2]
	b := d[3] - 4*d[1]
	c := d[4] - d[2]
	e := 2 * (d[3] - d[1])
	return [6]float32{a + 4*d[0] - d[2], a + b, a - b, c + e, c - e, d[5] - b - 4*d[3]}
}

// winoAT returns Aᵀ·m for one column m.
func winoAT(m [6]float32) [4]float32 {
	p, q := m[1]+m[2], m[1]-m[2]
	r, s := m[3]+m[4], m[3]-m[4]
	return [4]float32{m[0] + p + r, q + 2*s, p + 4*r, q + 8*s + m[5]}
}

// winoOutputGo applies the output transform to the 16 tiles of l for
// output channels [0, nk): element ξ of lane ℓ's product for channel k is
// m[ξ*mXi + k*mK + ℓ]. It adds bias, pools and applies ReLU as fuse says,
// and stores output (a, b) of lane ℓ at y[l.out[ℓ] + k*plane + a*w + b]
// where the mask bit is set.
func winoOutputGo(y []float32, l *winoLanes, m []float32, mK, mXi, nk, plane, w int, bias []float32, fuse WinogradFuse) {
	for k := 0; k < nk; k++ {
		var bk float32
		if bias != nil {
			bk = bias[k]
		}
		for lane := 0; lane < 16; lane++ {
			var t [6][4]float32
			for i := 0; i < 6; i++ {
				var row [6]float32
				for j := 0; j < 6; j++ {
					row[j] = m[(i*6+j)*mXi+k*mK+lane]
				}
				t[i] = winoAT(row)
			}
			var o [4][4]float32
			for b := 0; b < 4; b++ {
				col := winoAT([6]float32{t[0][b], t[1][b], t[2][b], t[3][b], t[4][b], t[5][b]})
				for a := 0; a < 4; a++ {
					o[a][b] = col[a]
				}
			}
			side := 4
			if fuse.MaxPool2x2 {
				side = 2
				for a := 0; a < 2; a++ {
					for b := 0; b < 2; b++ {
						o[a][b] = max(o[2*a][2*b], o[2*a][2*b+1], o[2*a+1][2*b], o[2*a+1][2*b+1])
					}
				}
			}
			bit := uint16(1) << lane
			base := int(l.out[lane]) + k*plane
			for a := 0; a < side; a++ {
				for b := 0; b < side; b++ {
					if l.outMask[a*side+b]&bit == 0 {
						continue
					}
					r := o[a][b] + bk
					if fuse.ReLU {
						r = max(r, 0)
					}
					y[base+a*w+b] = r
				}
			}
		}
	}
}
