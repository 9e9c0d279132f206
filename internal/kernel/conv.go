package kernel

import (
	"errors"
	"fmt"
)

// ConvShape describes a 2-D convolution: input x is NCHW, weights w are
// [K, C/Groups, R, S], bias has K elements and output y is [N, K, OutH, OutW].
// Zero values of StrideH, StrideW, DilH, DilW and Groups mean 1.
type ConvShape struct {
	N, C, H, W int // input batch, channels, height, width
	K, R, S    int // output channels, kernel height, kernel width

	StrideH, StrideW                     int
	PadTop, PadLeft, PadBottom, PadRight int
	DilH, DilW                           int // 1 = no dilation
	Groups                               int // C and K must be divisible by Groups
}

// orOne maps the zero value of an optional geometry field to its default, 1.
func orOne(v int) int {
	if v == 0 {
		return 1
	}
	return v
}

// outSize is the number of floor-mode window positions along one axis, or a
// value < 1 when the (dilated) window does not fit.
func outSize(in, k, stride, padA, padB, dil int) int {
	span := in + padA + padB - (dil*(k-1) + 1)
	if span < 0 || stride < 1 {
		return 0
	}
	return span/stride + 1
}

// OutH is the output height.
func (s ConvShape) OutH() int {
	return outSize(s.H, s.R, orOne(s.StrideH), s.PadTop, s.PadBottom, orOne(s.DilH))
}

// OutW is the output width.
func (s ConvShape) OutW() int {
	return outSize(s.W, s.S, orOne(s.StrideW), s.PadLeft, s.PadRight, orOne(s.DilW))
}

// Validate reports whether the geometry is usable: positive sizes, strides,
// dilations and groups (or zero for the defaults), non-negative padding,
// channel counts divisible by Groups and an output of at least 1×1.
func (s ConvShape) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"N", s.N}, {"C", s.C}, {"H", s.H}, {"W", s.W}, {"K", s.K}, {"R", s.R}, {"S", s.S}} {
		if f.v < 1 {
			return fmt.Errorf("kernel: conv shape: %s = %d, must be positive", f.name, f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"StrideH", s.StrideH}, {"StrideW", s.StrideW}, {"DilH", s.DilH}, {"DilW", s.DilW}, {"Groups", s.Groups},
		{"PadTop", s.PadTop}, {"PadLeft", s.PadLeft}, {"PadBottom", s.PadBottom}, {"PadRight", s.PadRight}} {
		if f.v < 0 {
			return fmt.Errorf("kernel: conv shape: %s = %d, must not be negative", f.name, f.v)
		}
	}
	g := orOne(s.Groups)
	if s.C%g != 0 || s.K%g != 0 {
		return fmt.Errorf("kernel: conv shape: channels C = %d and K = %d must both be divisible by Groups = %d", s.C, s.K, g)
	}
	if s.OutH() < 1 || s.OutW() < 1 {
		return fmt.Errorf("kernel: conv shape: %dx%d kernel (dilation %dx%d) does not fit the padded %dx%d input",
			s.R, s.S, orOne(s.DilH), orOne(s.DilW), s.H+s.PadTop+s.PadBottom, s.W+s.PadLeft+s.PadRight)
	}
	return nil
}

// convGeom is a validated ConvShape with defaults applied and derived sizes.
type convGeom struct {
	ConvShape
	oh, ow     int
	cg, kg     int // channels and output channels per group
	crs        int // cg*R*S: rows of the im2col matrix of one group
	ohw, hw    int
	xLen, yLen int // per image
	wGroupLen  int // kg*crs
	strH, strW int
	dilH, dilW int
	groups     int
}

func (s ConvShape) geom(fn string) convGeom {
	if err := s.Validate(); err != nil {
		panic(errors.New(err.Error() + " (in " + fn + ")"))
	}
	g := convGeom{ConvShape: s}
	g.strH, g.strW = orOne(s.StrideH), orOne(s.StrideW)
	g.dilH, g.dilW = orOne(s.DilH), orOne(s.DilW)
	g.groups = orOne(s.Groups)
	g.oh, g.ow = s.OutH(), s.OutW()
	g.cg, g.kg = s.C/g.groups, s.K/g.groups
	g.crs = g.cg * s.R * s.S
	g.ohw, g.hw = g.oh*g.ow, s.H*s.W
	g.xLen, g.yLen = s.C*g.hw, s.K*g.ohw
	g.wGroupLen = g.kg * g.crs
	return g
}

// im2col writes the (cg*R*S)×(oh*ow) patch matrix of group grp of one image
// x (C×H×W) into col; taps that fall in the padding are zero. Channels are
// shared out over nt goroutines.
func im2col[T Float](g *convGeom, x []T, grp int, col []T, nt int) {
	parts := min(nt, g.cg)
	if g.cg*g.R*g.S*g.ohw < 1<<15 {
		parts = 1 // too little to share
	}
	parallelFor(parts, parts, func(i, _ int) {
		im2colChannels(g, x, grp, col, i*g.cg/parts, (i+1)*g.cg/parts)
	})
}

// im2colChannels writes the rows of channels [c0, c1) of im2col's matrix.
// Each output row of a tap is a shifted copy of an input row, or, with
// stride 2, of its even or odd elements (split once per input row for all
// taps); only other strides and dilations copy element by element.
func im2colChannels[T Float](g *convGeom, x []T, grp int, col []T, c0, c1 int) {
	var stack [1024]T
	var halves []T
	split := g.strW == 2 && g.dilW == 1
	if split {
		halves = stack[:]
		if g.W > len(stack) {
			halves = make([]T, g.W)
		}
	}
	for c := c0; c < c1; c++ {
		plane := x[(grp*g.cg+c)*g.hw : (grp*g.cg+c+1)*g.hw]
		for r := 0; r < g.R; r++ {
			first := (c*g.R + r) * g.S // the row of tap (r, 0)
			for oh := 0; oh < g.oh; oh++ {
				h := oh*g.strH - g.PadTop + r*g.dilH
				if h < 0 || h >= g.H {
					for s := 0; s < g.S; s++ {
						clear(col[(first+s)*g.ohw+oh*g.ow:][:g.ow])
					}
					continue
				}
				src := plane[h*g.W : (h+1)*g.W]
				var even, odd []T
				if split {
					even, odd = halves[:(g.W+1)/2], halves[(g.W+1)/2:g.W]
					deinterleave2(even, odd, src)
				}
				for s := 0; s < g.S; s++ {
					out := col[(first+s)*g.ohw+oh*g.ow:][:g.ow]
					w0 := s*g.dilW - g.PadLeft // input column of output 0
					switch {
					case g.strW == 1:
						shiftedCopy(out, src, w0)
					case split:
						if w0&1 == 0 {
							shiftedCopy(out, even, w0>>1)
						} else {
							shiftedCopy(out, odd, (w0-1)>>1)
						}
					default:
						for ow := range out {
							w := w0 + ow*g.strW
							if w >= 0 && w < g.W {
								out[ow] = src[w]
							} else {
								out[ow] = 0
							}
						}
					}
				}
			}
		}
	}
}

// shiftedCopy sets out[i] = src[i+off], zero where i+off is outside src.
func shiftedCopy[T Float](out, src []T, off int) {
	lo := min(max(0, -off), len(out))
	hi := max(lo, min(len(out), len(src)-off))
	clear(out[:lo])
	copy(out[lo:hi], src[lo+off:])
	clear(out[hi:])
}

// deinterleave2 splits src into its even and odd elements (even has
// (len(src)+1)/2 elements, odd len(src)/2), 16 pairs at a time with
// AVX-512 for float32.
func deinterleave2[T Float](even, odd, src []T) {
	k := 0
	if e32, ok := any(even).([]float32); ok {
		k = deinterleave2Vec(e32, any(odd).([]float32), any(src).([]float32))
	}
	for ; 2*k+1 < len(src); k++ {
		even[k], odd[k] = src[2*k], src[2*k+1]
	}
	if len(src)%2 == 1 {
		even[len(even)-1] = src[len(src)-1]
	}
}

// col2im adds the patch matrix col of group grp back into image dx, the
// adjoint of im2col.
func col2im[T Float](g *convGeom, col []T, grp int, dx []T) {
	i := 0
	for c := 0; c < g.cg; c++ {
		plane := dx[(grp*g.cg+c)*g.hw : (grp*g.cg+c+1)*g.hw]
		for r := 0; r < g.R; r++ {
			for s := 0; s < g.S; s++ {
				row := col[i*g.ohw : (i+1)*g.ohw]
				i++
				for oh := 0; oh < g.oh; oh++ {
					h := oh*g.strH - g.PadTop + r*g.dilH
					if h < 0 || h >= g.H {
						continue
					}
					dst := plane[h*g.W : (h+1)*g.W]
					in := row[oh*g.ow : (oh+1)*g.ow]
					w0 := s*g.dilW - g.PadLeft
					for ow, v := range in {
						w := w0 + ow*g.strW
						if w >= 0 && w < g.W {
							dst[w] += v
						}
					}
				}
			}
		}
	}
}

// forChunks cuts n images into outer fixed chunks of consecutive images and
// runs fn(image, chunk, worker) for each, a chunk's images in order on one
// worker, so that per-chunk sums round the same way whatever the schedule.
func forChunks(outer, n int, fn func(image, chunk, worker int)) {
	parallelFor(outer, outer, func(chunk, worker int) {
		for i := chunk * n / outer; i < (chunk+1)*n/outer; i++ {
			fn(i, chunk, worker)
		}
	})
}

// FlipTransposeFilters writes to wt the filters w ([groups·kg, cg, rs])
// rotated by 180° with input and output channels swapped within each group
// ([groups·cg, kg, rs]): with unit stride, the input gradient of a
// convolution is the correlation of the output gradient with them.
func FlipTransposeFilters[T Float](groups, kg, cg, rs int, w, wt []T) {
	for grp := 0; grp < groups; grp++ {
		for k := 0; k < kg; k++ {
			for c := 0; c < cg; c++ {
				src := w[((grp*kg+k)*cg+c)*rs:][:rs]
				dst := wt[((grp*cg+c)*kg+k)*rs:][:rs]
				for t, v := range src {
					dst[rs-1-t] = v
				}
			}
		}
	}
}

// batchSplit decides how to spend nt goroutines on n images: parallel over
// images with single-threaded products (no synchronisation, so preferred
// when the images divide evenly or are many), or images in turn with the
// products themselves parallel. It returns the workers for the batch loop
// and the threads for each inner product; never both above one.
func batchSplit(n, nt int) (outer, inner int) {
	if nt > 1 && (n%nt == 0 || n >= 4*nt) {
		return nt, 1
	}
	return 1, nt
}

// kernelFor returns the micro-kernel in use for element type E.
func kernelFor[E float32 | float64]() *microKernel[E] {
	var uk any
	if is32[E]() {
		uk = sgemmKernel
	} else {
		uk = dgemmKernel
	}
	return uk.(*microKernel[E])
}

// groupPacks holds the packed weights of every group of a convolution,
// and for a depthwise one the weights in the channel-blocked route's
// layout (dwBlockWeights) when they were made.
type groupPacks[E float32 | float64] struct {
	holders   []*scratch
	packed    [][]E
	dwBlocked []float32
}

// prepackGroups packs each group's rows×cols weight matrix once, for reuse
// by every image of the batch.
func prepackGroups[E float32 | float64](uk *microKernel[E], g *convGeom, w []E, rows, cols int) groupPacks[E] {
	var gp groupPacks[E]
	for grp := 0; grp < g.groups; grp++ {
		sp, pa := prepackA(uk, false, rows, cols, w[grp*g.wGroupLen:], cols)
		gp.holders = append(gp.holders, sp)
		gp.packed = append(gp.packed, pa)
	}
	return gp
}

func releaseGroups[E float32 | float64](gp groupPacks[E]) {
	for _, sp := range gp.holders {
		putScratch(sp)
	}
}

// Conv2D computes y = conv(x, w) + bias for the geometry s, overwriting y.
// bias may be nil; otherwise it holds K values. (Like most frameworks, conv
// means cross-correlation: the kernel is not flipped.)
//
// Conv2D panics if s is invalid or a slice is too short for s.
func Conv2D[T Float](s ConvShape, x, w, bias, y []T) { convChecked("Conv2D", s, x, w, bias, y, false) }

// Conv2DReLU is Conv2D followed by y = max(y, 0) (NaNs kept), applied to
// each part of the output as soon as it is computed, by the goroutine that
// computed it, instead of in a separate pass over y.
func Conv2DReLU[T Float](s ConvShape, x, w, bias, y []T) {
	convChecked("Conv2DReLU", s, x, w, bias, y, true)
}

// Conv2DEach is Conv2D that calls each(n0, n1) for every run of images
// [n0, n1) as soon as their outputs are in y, from the goroutine that
// computed them, so that a pass over those outputs (batch statistics,
// pooling) finds them in cache instead of in memory. The runs are disjoint
// and cover the batch; calls may run concurrently.
//
// Conv2DEach panics if s is invalid or a slice is too short for s.
func Conv2DEach[T Float](s ConvShape, x, w, bias, y []T, each func(n0, n1 int)) {
	g := convCheck("Conv2DEach", s, x, w, bias, y)
	if is32[T]() {
		conv2DEach(&g, as[float32](x), as[float32](w), as[float32](bias), as[float32](y), each)
	} else {
		conv2DEach(&g, as[float64](x), as[float64](w), as[float64](bias), as[float64](y), each)
	}
}

func conv2DEach[E float32 | float64](g *convGeom, x, w, bias, y []E, each func(n0, n1 int)) {
	if vectorsSuits[E](g) || depthwiseSuits(g) || (pointwiseSuits(g) && (g.N == 1 || g.hw >= 256)) || (is32[E]() && stemSuits(g)) {
		// Routes with their own parallel structure: the runs come after.
		// Small 1×1 planes of a batch keep the stride-1 route here, which
		// hands each run of images to each while it is in cache.
		conv2D(g, x, w, bias, y, false, nil)
		each(0, g.N)
		return
	}
	conv2DGEMMEach(g, x, w, bias, y, false, nil, each)
}

// convCheck returns s's geometry after checking the slices' lengths.
func convCheck[T Float](fn string, s ConvShape, x, w, bias, y []T) convGeom {
	g := s.geom(fn)
	need(fn, "x", len(x), s.N*g.xLen)
	need(fn, "w", len(w), s.K*g.crs)
	need(fn, "y", len(y), s.N*g.yLen)
	if bias != nil {
		need(fn, "bias", len(bias), s.K)
	}
	return g
}

func convChecked[T Float](fn string, s ConvShape, x, w, bias, y []T, relu bool) {
	g := convCheck(fn, s, x, w, bias, y)
	if is32[T]() {
		conv2D(&g, as[float32](x), as[float32](w), as[float32](bias), as[float32](y), relu, nil)
	} else {
		conv2D(&g, as[float64](x), as[float64](w), as[float64](bias), as[float64](y), relu, nil)
	}
}

// conv2D is the one dispatch point of the forward convolution. pre, when
// not nil, holds w packed by prepackGroups for the micro-kernel in use.
func conv2D[E float32 | float64](g *convGeom, x, w, bias, y []E, relu bool, pre *groupPacks[E]) {
	switch {
	case vectorsSuits[E](g):
		vectors(g, as[float32](x), as[float32](w), as[float32](bias), as[float32](y), relu)
	case depthwiseSuits(g):
		depthwiseConv(g, x, w, bias, y, relu, pre)
	case pointwiseSuits(g):
		pointwise(g, x, w, bias, y, relu, pre)
	case is32[E]() && stemSuits(g):
		stemConv(g, as[float32](x), as[float32](w), as[float32](bias), as[float32](y), relu)
	default:
		conv2DGEMM(g, x, w, bias, y, relu, pre)
	}
}

// ConvWeights are float32 convolution weights packed once for the GEMM
// micro-kernel, for weights that never change (an ONNX model's
// initializers): Conv2D with them skips packing the weights on every call,
// which at batch 1 is about a tenth of a ResNet-50's time.
type ConvWeights struct {
	w                   []float32
	k, cg, r, s, groups int
	uk                  *microKernel[float32]
	packs               groupPacks[float32]
}

// NewConvWeights packs w ([K, C/groups, R, S], the layout of Conv2D). The
// caller must not change w afterwards. It panics if a dimension is not
// positive, k is not a multiple of groups, or w is too short.
func NewConvWeights(k, cPerGroup, r, s, groups int, w []float32) *ConvWeights {
	if k < 1 || cPerGroup < 1 || r < 1 || s < 1 || groups < 1 || k%groups != 0 {
		panic("kernel: NewConvWeights: k = " + itoa(k) + ", c/groups = " + itoa(cPerGroup) + ", r = " + itoa(r) +
			", s = " + itoa(s) + ", groups = " + itoa(groups) + " do not describe a filter bank")
	}
	crs := cPerGroup * r * s
	need("NewConvWeights", "w", len(w), k*crs)
	cw := &ConvWeights{w: w[:k*crs], k: k, cg: cPerGroup, r: r, s: s, groups: groups, uk: sgemmKernel}
	if cPerGroup == 1 && groups == k {
		// Depthwise: the direct routes read the weights as they are, and
		// the channel-blocked one in its own layout; no GEMM panels.
		if haveDWBlock {
			cw.packs.dwBlocked = dwBlockWeights(cw.w, k, r*s)
		}
		return cw
	}
	kg := k / groups
	for grp := 0; grp < groups; grp++ {
		// Packed like prepackA, into memory of its own: the weights live
		// as long as the model.
		uk := cw.uk
		kcMax := min(uk.kc, crs, maxKC)
		mPad := (kg + uk.mr - 1) / uk.mr * uk.mr
		pa := make([]float32, mPad*crs)
		for pc := 0; pc < crs; pc += kcMax {
			packA(pa[mPad*pc:], uk, cw.w[grp*kg*crs:], crs, false, 0, kg, pc, min(kcMax, crs-pc))
		}
		cw.packs.packed = append(cw.packs.packed, pa)
	}
	return cw
}

// Conv2D is the package's Conv2D, followed by max(y, 0) when relu is set,
// with these weights, for a geometry s whose K, C/Groups, R, S and Groups
// are the weights'. It panics if they are not or a slice is too short.
func (cw *ConvWeights) Conv2D(s ConvShape, x, bias, y []float32, relu bool) {
	g := s.geom("ConvWeights.Conv2D")
	if g.K != cw.k || g.cg != cw.cg || g.R != cw.r || g.S != cw.s || g.groups != cw.groups {
		panic("kernel: ConvWeights.Conv2D: geometry K=" + itoa(g.K) + " C/groups=" + itoa(g.cg) + " R=" + itoa(g.R) +
			" S=" + itoa(g.S) + " groups=" + itoa(g.groups) + " does not match the weights' K=" + itoa(cw.k) +
			" C/groups=" + itoa(cw.cg) + " R=" + itoa(cw.r) + " S=" + itoa(cw.s) + " groups=" + itoa(cw.groups))
	}
	need("ConvWeights.Conv2D", "x", len(x), s.N*g.xLen)
	need("ConvWeights.Conv2D", "y", len(y), s.N*g.yLen)
	if bias != nil {
		need("ConvWeights.Conv2D", "bias", len(bias), s.K)
	}
	pre := &cw.packs
	if cw.uk != sgemmKernel || (pre.packed == nil && !depthwiseSuits(&g)) {
		// Packed for another micro-kernel (tests swap them), or depthwise
		// weights (no GEMM panels) in a geometry the depthwise route
		// does not take.
		pre = nil
	}
	conv2D(&g, x, cw.w, bias, y, relu, pre)
}

// vectorsSuits reports whether Conv2D takes the vectors route: a float32
// 1×1 convolution of 1×1 planes (the squeeze-and-excitation layers of
// MobileNetV3 and EfficientNet), which is the product of the batch's
// C-vectors with the K×C weights, output laid out as the batch's
// K-vectors. With a few images and rows long enough for the vector dot
// products it runs as dot products (gemvRowsT): a GEMM would pack the
// weights' transpose and fill a 32-column tile for each image.
func vectorsSuits[E float32 | float64](g *convGeom) bool {
	return is32[E]() && g.hw == 1 && g.ohw == 1 && g.R == 1 && g.S == 1 && g.groups == 1 &&
		g.PadTop == 0 && g.PadLeft == 0 && g.PadBottom == 0 && g.PadRight == 0 &&
		g.N <= gemvRowsMaxM && g.C >= 64
}

// vectors is Conv2D for vectorsSuits geometries.
func vectors(g *convGeom, x, w, bias, y []float32, relu bool) {
	gemvRowsT(g.N, g.K, g.C, 1, x, g.C, w, g.C, 0, y, g.K, Threads())
	if bias == nil && !relu {
		return
	}
	for n := range g.N {
		yn := y[n*g.K : (n+1)*g.K]
		if bias != nil {
			for k, b := range bias[:g.K] {
				yn[k] += b
			}
		}
		if relu {
			reluInPlace(yn)
		}
	}
}

// pointwiseSuits reports whether Conv2D takes the pointwise route: a 1×1
// convolution without stride, padding or groups, on one image or planes
// of at least 16 pixels. Its patch matrix is the input itself. Even 7×7
// planes, whose 49 columns leave part of a tile idle, are faster this way
// than through the stride-1 route's padded copies of several images (2
// threads, batch 8: 576→96 channels 529 → 322 µs, 64→128 on 10×10 at
// batch 80 1148 → 922 µs); on smaller planes the two are level.
func pointwiseSuits(g *convGeom) bool {
	return g.R == 1 && g.S == 1 && g.strH == 1 && g.strW == 1 && g.groups == 1 &&
		g.PadTop == 0 && g.PadLeft == 0 && g.PadBottom == 0 && g.PadRight == 0 &&
		(g.N == 1 || g.hw >= 16)
}

// pointwise computes each image's output as one product of the weights
// (K×C) with the image's input planes (C×H·W) read in place: no padded
// copy and no output compaction, unlike the general stride-1 route. Bias
// and Relu are applied to each block of the product while it is in cache.
// Small planes at batch > 1 keep the stride-1 route, which gives several
// images one product.
func pointwise[E float32 | float64](g *convGeom, x, w, bias, y []E, relu bool, pre *groupPacks[E]) {
	uk := kernelFor[E]()
	outer, inner := batchSplit(g.N, Threads())
	pres := pre
	if pres == nil {
		p := prepackGroups(uk, g, w, g.K, g.C)
		defer releaseGroups(p)
		pres = &p
	}
	parallelFor(outer, g.N, func(n, _ int) {
		xn := x[n*g.xLen : (n+1)*g.xLen]
		yn := y[n*g.yLen : (n+1)*g.yLen]
		src := matSource[E]{b: xn, ld: g.hw}
		gemmDriver(uk, false, g.K, g.hw, g.C, 1, w, g.C, pres.packed[0], &src, 0, yn, g.hw, inner, biasReLU(yn, g.hw, bias, relu))
	})
}

// biasReLU is the epilogue that adds bias[i] to row i of the product c
// (row stride ld) and applies Relu if relu is set; nil when there is
// nothing to do.
func biasReLU[E float32 | float64](c []E, ld int, bias []E, relu bool) epilogue {
	if bias == nil && !relu {
		return nil
	}
	return func(i0, i1, j0, j1 int) {
		for i := i0; i < i1; i++ {
			row := c[i*ld+j0 : i*ld+j1]
			if bias != nil && bias[i] != 0 {
				addScalar(row, bias[i])
			}
			if relu {
				reluInPlace(row)
			}
		}
	}
}

// addScalar adds b to every element of v, with AVX-512 for float32 where
// there is one (1·v + b rounds as v + b).
func addScalar[E float32 | float64](v []E, b E) {
	if is32[E]() {
		w := as[float32](v)
		d := scaleShiftVec(w, w, 1, float32(b))
		v = v[d:]
	}
	for i := range v {
		v[i] += b
	}
}

// reluInPlace sets v = max(v, 0), keeping NaNs: the builtin max, after an
// AVX-512 loop for float32 where there is one.
func reluInPlace[E float32 | float64](v []E) {
	if is32[E]() {
		v = v[reluVec(as[float32](v)):]
	}
	for i, a := range v {
		v[i] = max(a, 0)
	}
}

// conv2DGEMM runs the convolution as GEMMs: implicit for unit stride,
// through im2col otherwise.
func conv2DGEMM[E float32 | float64](g *convGeom, x, w, bias, y []E, relu bool, pre *groupPacks[E]) {
	conv2DGEMMEach(g, x, w, bias, y, relu, pre, nil)
}

// conv2DGEMMEach is conv2DGEMM that calls each, when not nil, as
// Conv2DEach describes.
func conv2DGEMMEach[E float32 | float64](g *convGeom, x, w, bias, y []E, relu bool, pre *groupPacks[E], each func(n0, n1 int)) {
	uk := kernelFor[E]()
	outer, inner := batchSplit(g.N, Threads())
	if g.strH == 1 && g.strW == 1 {
		sg := newS1Geom(g.cg, g.kg, g.R, g.S, g.dilH, g.dilW, g.H, g.W, g.oh, g.ow, g.PadTop, g.PadLeft)
		imgs := s1Images(&sg, g.N)
		sg.setImages(imgs, g.xLen, g.yLen)
		batches := (g.N + imgs - 1) / imgs
		outer, inner := batchSplit(batches, Threads())
		pres := pre
		if pres == nil {
			p := prepackGroups(uk, g, w, g.kg, g.crs)
			defer releaseGroups(p)
			pres = &p
		}
		pLen := sg.i * sg.imgs * sg.plane
		bufs := newBatchBufs[E](outer, pLen+sg.o*sg.ldt)
		defer bufs.release()
		parallelFor(outer, batches, func(bi, worker int) {
			buf, zeroed := bufs.get(worker)
			p, tmp := buf[:pLen], buf[pLen:]
			n0 := bi * imgs
			for grp := 0; grp < g.groups; grp++ {
				var b []E
				if bias != nil {
					b = bias[grp*g.kg : (grp+1)*g.kg]
				}
				s1Forward(uk, &sg, w[grp*g.wGroupLen:(grp+1)*g.wGroupLen], pres.packed[grp],
					x[n0*g.xLen+grp*g.cg*g.hw:], b, y[n0*g.yLen+grp*g.kg*g.ohw:], p, tmp,
					min(imgs, g.N-n0), zeroed || grp > 0, inner)
			}
			if relu {
				reluInPlace(y[n0*g.yLen : min(g.N, n0+imgs)*g.yLen])
			}
			if each != nil {
				each(n0, min(g.N, n0+imgs))
			}
		})
		return
	}
	if phasesFit(g) {
		stridedPhases(uk, g, x, w, bias, y, relu, pre, each)
		return
	}
	// Dilated strided convolutions, and strides far beyond the filter, use
	// an explicit patch matrix per image.
	parallelFor(outer, g.N, func(n, _ int) {
		sp, col := getScratch[E](g.crs * g.ohw)
		defer putScratch(sp)
		xn := x[n*g.xLen : (n+1)*g.xLen]
		yn := y[n*g.yLen : (n+1)*g.yLen]
		for grp := 0; grp < g.groups; grp++ {
			im2col(g, xn, grp, col, inner)
			src := matSource[E]{b: col, ld: g.ohw}
			packed, b := groupParts(g, pre, bias, grp)
			c := yn[grp*g.kg*g.ohw : (grp+1)*g.kg*g.ohw]
			gemmDriver(uk, false, g.kg, g.ohw, g.crs, 1, w[grp*g.wGroupLen:], g.crs, packed, &src, 0, c, g.ohw, inner, biasReLU(c, g.ohw, b, relu))
		}
		if each != nil {
			each(n, n+1)
		}
	})
}

// groupParts returns group grp's packed weights (nil without pre) and
// bias (nil without bias).
func groupParts[E float32 | float64](g *convGeom, pre *groupPacks[E], bias []E, grp int) (packed, b []E) {
	if pre != nil {
		packed = pre.packed[grp]
	}
	if bias != nil {
		b = bias[grp*g.kg : (grp+1)*g.kg]
	}
	return packed, b
}

// stridedPhases is conv2DGEMMEach for strided convolutions without
// dilation. Each image's input planes are split into phase planes as for
// depthwiseConv, where every tap (c, r, s) of the filter reads one run of
// the long row of outputs: the patch matrix is then those runs, packed for
// the GEMM straight from the phase planes like the stride-1 route's shifted
// rows, instead of written out by im2col first (which cost more than the
// product for the three-channel first layers of ImageNet networks). The
// product has pw−ow junk columns per output row, dropped with the bias
// added when the rows are copied out.
func stridedPhases[E float32 | float64](uk *microKernel[E], g *convGeom, x, w, bias, y []E, relu bool, pre *groupPacks[E], each func(n0, n1 int)) {
	outer, inner := batchSplit(g.N, Threads())
	ph := newPhaseLayout(g)
	sp := newDWRowSplit(g, ph)
	long := (g.oh-1)*ph.pw + g.ow
	offs := make([]int, 0, g.crs)
	for c := 0; c < g.cg; c++ {
		for r := 0; r < g.R; r++ {
			for s := 0; s < g.S; s++ {
				offs = append(offs, c*ph.size+ph.tap(g, r, s))
			}
		}
	}
	parallelFor(outer, g.N, func(n, _ int) {
		spP, p := getScratch[E](g.cg * ph.size)
		defer putScratch(spP)
		spT, tmp := getScratch[E](g.kg * long)
		defer putScratch(spT)
		clear(p) // the padding; the split writes the rest
		xn := x[n*g.xLen : (n+1)*g.xLen]
		yn := y[n*g.yLen : (n+1)*g.yLen]
		for grp := 0; grp < g.groups; grp++ {
			parts := min(inner, g.cg)
			if g.cg*g.hw < 1<<15 {
				parts = 1
			}
			parallelFor(parts, g.cg, func(c, _ int) {
				dwSplitRows(p[c*ph.size:(c+1)*ph.size], xn[(grp*g.cg+c)*g.hw:(grp*g.cg+c+1)*g.hw], g, ph, &sp)
			})
			src := phaseSource[E]{p: p, offs: offs}
			packed, b := groupParts(g, pre, bias, grp)
			out := yn[grp*g.kg*g.ohw : (grp+1)*g.kg*g.ohw]
			compact := compactRows(g, out, tmp, long, ph.pw, b, relu)
			if inner > 1 {
				// Sharing one image: each goroutine compacts the blocks it
				// computed. Otherwise one pass after the product makes
				// fewer, longer copies.
				gemmDriver(uk, false, g.kg, long, g.crs, 1, w[grp*g.wGroupLen:], g.crs, packed, &src, 0, tmp, long, inner, compact)
			} else {
				gemmDriver(uk, false, g.kg, long, g.crs, 1, w[grp*g.wGroupLen:], g.crs, packed, &src, 0, tmp, long, inner, nil)
				compact(0, g.kg, 0, long)
			}
		}
		if each != nil {
			each(n, n+1)
		}
	})
}

// compactRows is the epilogue of stridedPhases: it copies the block of
// the product tmp (rows of long, pw columns per output row of which the
// first ow are outputs) into the output planes out, adding bias and
// applying Relu, while the block is in cache and on the goroutine that
// computed it.
func compactRows[E float32 | float64](g *convGeom, out, tmp []E, long, pw int, bias []E, relu bool) epilogue {
	return func(i0, i1, j0, j1 int) {
		var b []E
		if bias != nil {
			b = bias[i0:i1]
		}
		for j := j0; j < j1; {
			oy, ox := j/pw, j%pw
			end := min(j1, (oy+1)*pw) // the rest of padded row oy in the block
			if n := min(end, oy*pw+g.ow) - j; n > 0 {
				dst := out[i0*g.ohw+oy*g.ow+ox:]
				src := tmp[i0*long+j:]
				compactSegment(dst, src, n, i1-i0, g.ohw, long, b, relu)
			}
			j = end
		}
	}
}

// compactSegment copies n elements of each of rows rows (ldd and lds apart)
// from src to dst, plus bias[r] for row r when bias is not nil, then
// Relu.
func compactSegment[E float32 | float64](dst, src []E, n, rows, ldd, lds int, bias []E, relu bool) {
	if is32[E]() {
		copyRows(as[float32](dst), as[float32](src), n, rows, ldd, lds, as[float32](bias))
	} else {
		for r := range rows {
			d, s := dst[r*ldd:][:n], src[r*lds:][:n]
			var br E
			if bias != nil {
				br = bias[r]
			}
			for i, v := range s {
				d[i] = v + br
			}
		}
	}
	if relu {
		for r := range rows {
			reluInPlace(dst[r*ldd:][:n])
		}
	}
}

// phaseSource is the patch matrix of stridedPhases: row q (tap q of the
// filter) is the run of phase planes p from offs[q] on.
type phaseSource[E float32 | float64] struct {
	p    []E
	offs []int
}

func (s *phaseSource[E]) pack(dst []E, uk *microKernel[E], p0, kc, j0, nc int) {
	offs := getRowOffsets()
	defer rowOffsetsPool.Put(offs)
	for q := range kc {
		offs[q] = s.offs[p0+q] + j0
	}
	packRows(dst, uk, s.p, offs[:kc], nc)
}

// Conv2DBackwardData computes dx, the gradient of the convolution with
// respect to its input x given the output gradient dy, overwriting dx. It is
// the adjoint of Conv2D's linear map x -> conv(x, w).
//
// Conv2DBackwardData panics if s is invalid or a slice is too short for s.
func Conv2DBackwardData[T Float](s ConvShape, dy, w, dx []T) {
	g := s.geom("Conv2DBackwardData")
	need("Conv2DBackwardData", "dy", len(dy), s.N*g.yLen)
	need("Conv2DBackwardData", "w", len(w), s.K*g.crs)
	need("Conv2DBackwardData", "dx", len(dx), s.N*g.xLen)
	if is32[T]() {
		conv2DBackwardData(&g, as[float32](dy), as[float32](w), as[float32](dx))
	} else {
		conv2DBackwardData(&g, as[float64](dy), as[float64](w), as[float64](dx))
	}
}

func conv2DBackwardData[E float32 | float64](g *convGeom, dy, w, dx []E) {
	uk := kernelFor[E]()
	outer, inner := batchSplit(g.N, Threads())
	// With unit stride the input gradient is itself a stride-1 correlation
	// of dy with the flipped, channel-transposed kernel, padded by the
	// kernel extent minus the forward padding. Its products have only
	// C/Groups rows, so for few input channels (an RGB first layer) the
	// patch-matrix route, with C/Groups*R*S rows, uses the kernel better.
	if g.strH == 1 && g.strW == 1 && g.cg >= uk.mr {
		spW, wt := getScratch[E](g.K * g.crs)
		defer putScratch(spW)
		FlipTransposeFilters(g.groups, g.kg, g.cg, g.R*g.S, w, wt)
		sg := newS1Geom(g.kg, g.cg, g.R, g.S, g.dilH, g.dilW, g.oh, g.ow, g.H, g.W,
			(g.R-1)*g.dilH-g.PadTop, (g.S-1)*g.dilW-g.PadLeft)
		imgs := s1Images(&sg, g.N)
		sg.setImages(imgs, g.yLen, g.xLen)
		batches := (g.N + imgs - 1) / imgs
		outer, inner := batchSplit(batches, Threads())
		pres := prepackGroups(uk, g, wt, g.cg, g.kg*g.R*g.S)
		defer releaseGroups(pres)
		pLen := sg.i * sg.imgs * sg.plane
		bufs := newBatchBufs[E](outer, pLen+sg.o*sg.ldt)
		defer bufs.release()
		parallelFor(outer, batches, func(bi, worker int) {
			buf, zeroed := bufs.get(worker)
			p, tmp := buf[:pLen], buf[pLen:]
			n0 := bi * imgs
			for grp := 0; grp < g.groups; grp++ {
				s1Forward(uk, &sg, wt[grp*g.wGroupLen:(grp+1)*g.wGroupLen], pres.packed[grp],
					dy[n0*g.yLen+grp*g.kg*g.ohw:], nil, dx[n0*g.xLen+grp*g.cg*g.hw:], p, tmp,
					min(imgs, g.N-n0), zeroed || grp > 0, inner)
			}
		})
		return
	}
	parallelFor(outer, g.N, func(n, _ int) {
		sp, col := getScratch[E](g.crs * g.ohw)
		defer putScratch(sp)
		dyn := dy[n*g.yLen : (n+1)*g.yLen]
		dxn := dx[n*g.xLen : (n+1)*g.xLen]
		clear(dxn)
		for grp := 0; grp < g.groups; grp++ {
			src := matSource[E]{b: dyn[grp*g.kg*g.ohw:], ld: g.ohw}
			gemmDriver(uk, true, g.crs, g.ohw, g.kg, 1, w[grp*g.wGroupLen:], g.crs, nil, &src, 0, col, g.ohw, inner, nil)
			col2im(g, col, grp, dxn)
		}
	})
}

// Conv2DBackwardFilter computes dw, the gradient of the convolution with
// respect to the weights given input x and output gradient dy, summed over
// the batch, overwriting dw.
//
// Conv2DBackwardFilter panics if s is invalid or a slice is too short for s.
func Conv2DBackwardFilter[T Float](s ConvShape, x, dy, dw []T) {
	g := s.geom("Conv2DBackwardFilter")
	need("Conv2DBackwardFilter", "dy", len(dy), s.N*g.yLen)
	conv2DBackwardFilterOf(&g, "Conv2DBackwardFilter", x, dw, func(n, _ int) []T {
		return dy[n*g.yLen : (n+1)*g.yLen]
	})
}

// Conv2DBackwardFilterFunc is Conv2DBackwardFilter with the output gradient
// handed over an image at a time: dy(n, dst) writes image n's gradient
// (K·OH·OW values, every one of them) into dst. So a gradient that is cheap
// to recompute, such as a batch-norm backward pass, never has to exist at
// full size: each image's part is built in a small buffer, in cache, just
// before the filter gradient reads it. dy is called once per image, from
// several goroutines at a time, each with a buffer of its own.
//
// Conv2DBackwardFilterFunc panics if s is invalid or a slice is too short
// for s.
func Conv2DBackwardFilterFunc[T Float](s ConvShape, x []T, dy func(n int, dst []T), dw []T) {
	g := s.geom("Conv2DBackwardFilterFunc")
	outer, _ := batchSplit(g.N, Threads())
	sps, bufs := make([]*scratch, outer), make([][]T, outer)
	defer func() {
		for _, sp := range sps {
			if sp != nil {
				putScratch(sp)
			}
		}
	}()
	conv2DBackwardFilterOf(&g, "Conv2DBackwardFilterFunc", x, dw, func(n, worker int) []T {
		if sps[worker] == nil {
			sps[worker], bufs[worker] = getScratch[T](g.yLen)
		}
		dy(n, bufs[worker])
		return bufs[worker]
	})
}

// conv2DBackwardFilterOf checks x and dw and runs conv2DBackwardFilter with
// image n's output gradient from dyOf(n, worker).
func conv2DBackwardFilterOf[T Float](g *convGeom, op string, x, dw []T, dyOf func(n, worker int) []T) {
	need(op, "x", len(x), g.N*g.xLen)
	need(op, "dw", len(dw), g.K*g.crs)
	if is32[T]() {
		conv2DBackwardFilter(g, as[float32](x), as[float32](dw), func(n, worker int) []float32 {
			return as[float32](dyOf(n, worker))
		})
	} else {
		conv2DBackwardFilter(g, as[float64](x), as[float64](dw), func(n, worker int) []float64 {
			return as[float64](dyOf(n, worker))
		})
	}
}

// conv2DBackwardFilter computes the filter gradient with image n's output
// gradient from dyOf(n, worker), where worker is the batch worker (below
// batchSplit's outer) that asks.
func conv2DBackwardFilter[E float32 | float64](g *convGeom, x, dw []E, dyOf func(n, worker int) []E) {
	uk := kernelFor[E]()
	wLen := g.K * g.crs
	dw = dw[:wLen]
	outer, inner := batchSplit(g.N, Threads())
	// The batch is cut into outer fixed chunks of consecutive images; each
	// chunk is summed into its own partial gradient (the first straight
	// into dw) and the partials are added in chunk order at the end. So no
	// two goroutines write one slice, and the rounding does not depend on
	// which worker happened to take which image: a training run gives the
	// same bits every time with the same number of threads.
	spP, partial := getScratch[E]((outer - 1) * wLen)
	defer putScratch(spP)
	clear(dw)
	clear(partial)
	acc := func(chunk int) []E {
		if chunk == 0 {
			return dw
		}
		return partial[(chunk-1)*wLen : chunk*wLen]
	}
	if g.strH == 1 && g.strW == 1 && is32[E]() && g.crs <= fewTaps {
		sg := newS1Geom(g.cg, g.kg, g.R, g.S, g.dilH, g.dilW, g.H, g.W, g.oh, g.ow, g.PadTop, g.PadLeft)
		s1FilterFewTaps(&sg, g, as[float32](x), func(n, worker int) []float32 {
			return as[float32](dyOf(n, worker))
		}, outer, func(chunk int) []float32 {
			return as[float32](acc(chunk))
		})
	} else if g.strH == 1 && g.strW == 1 {
		sg := newS1Geom(g.cg, g.kg, g.R, g.S, g.dilH, g.dilW, g.H, g.W, g.oh, g.ow, g.PadTop, g.PadLeft)
		bufs := newBatchBufs[E](outer, sg.i*sg.plane)
		defer bufs.release()
		forChunks(outer, g.N, func(n, chunk, worker int) {
			p, zeroed := bufs.get(worker)
			a := acc(chunk)
			dyn := dyOf(n, worker)
			for grp := 0; grp < g.groups; grp++ {
				s1Filter(uk, &sg, x[n*g.xLen+grp*g.cg*g.hw:n*g.xLen+(grp+1)*g.cg*g.hw],
					dyn[grp*g.kg*g.ohw:(grp+1)*g.kg*g.ohw],
					a[grp*g.wGroupLen:(grp+1)*g.wGroupLen], p, zeroed || grp > 0, inner)
			}
		})
	} else {
		forChunks(outer, g.N, func(n, chunk, worker int) {
			sp, col := getScratch[E](g.crs * g.ohw)
			defer putScratch(sp)
			xn := x[n*g.xLen : (n+1)*g.xLen]
			dyn := dyOf(n, worker)
			a := acc(chunk)
			for grp := 0; grp < g.groups; grp++ {
				im2col(g, xn, grp, col, 1)
				src := matSource[E]{b: col, ld: g.ohw, trans: true}
				gemmDriver(uk, false, g.kg, g.crs, g.ohw, 1, dyn[grp*g.kg*g.ohw:], g.ohw, nil, &src, 1, a[grp*g.wGroupLen:], g.crs, inner, nil)
			}
		})
	}
	for wk := 1; wk < outer; wk++ {
		for i, v := range partial[(wk-1)*wLen : wk*wLen] {
			dw[i] += v
		}
	}
}

// ConvPatchGram computes, over the batch, the Gram matrix of the
// convolution's patches and their sums: with P the patch matrix of an
// image (C·R·S rows, one per filter tap, and OH·OW columns, the input
// values under that tap at each output position, zero in the padding),
// gram (C·R·S × C·R·S, row-major) = Σ_images P·Pᵀ and sums = Σ_images of
// P's row sums. Both are overwritten. Groups are not supported.
//
// They give the filter gradient of any output gradient that is an affine
// map of the convolution's own output, b·y + d per output channel, without
// reading y: Σ_pixels y·P is w·gram + bias·sums. A batch-normalised first
// layer's gradient has that form plus a sparse part (see engine.Conv2D).
//
// ConvPatchGram panics if s is invalid, has groups, or a slice is too short.
func ConvPatchGram[T Float](s ConvShape, x []T, gram, sums []float64) {
	g := s.geom("ConvPatchGram")
	if g.groups != 1 {
		panic("kernel: ConvPatchGram: " + itoa(g.groups) + " groups")
	}
	need("ConvPatchGram", "x", len(x), s.N*g.xLen)
	need("ConvPatchGram", "gram", len(gram), g.crs*g.crs)
	need("ConvPatchGram", "sums", len(sums), g.crs)
	if is32[T]() {
		convPatchGram(&g, as[float32](x), gram, sums)
	} else {
		convPatchGram(&g, as[float64](x), gram, sums)
	}
}

// ConvPatchGramCheap reports whether ConvPatchGram of float32 values has
// its fast route for s (unit stride, no groups, at most 16 taps: a
// one-channel first layer), which costs a small part of the filter
// gradient; elsewhere it goes through the patch matrix, which costs about
// as much as reading the convolution's output again.
func ConvPatchGramCheap(s ConvShape) bool {
	return max(s.StrideH, 1) == 1 && max(s.StrideW, 1) == 1 && max(s.Groups, 1) == 1 && s.C*s.R*s.S <= fewTaps
}

func convPatchGram[E float32 | float64](g *convGeom, x []E, gram, sums []float64) {
	uk := kernelFor[E]()
	crs := g.crs
	outer, _ := batchSplit(g.N, Threads())
	// Each image's product is rounded in E and added in float64 to the
	// partial sums of its fixed chunk, which are added in chunk order: the
	// same bits for a given number of threads.
	part := make([]float64, outer*(crs*crs+crs))
	if g.strH == 1 && g.strW == 1 && is32[E]() && crs <= fewTaps {
		patchGramFewTaps(g, as[float32](x), outer, part)
	} else {
		patchGramGEMM(uk, g, x, outer, part)
	}
	clear(gram[:crs*crs])
	clear(sums[:crs])
	for chunk := range outer {
		acc := part[chunk*(crs*crs+crs):][:crs*crs+crs]
		for i := range crs * crs {
			gram[i] += acc[i]
		}
		for q := range crs {
			sums[q] += acc[crs*crs+q]
		}
	}
}

// patchGramFewTaps adds each image's Gram matrix and patch sums to its
// chunk's part, for a stride-1 layer with few taps: the shifted rows of the
// padded input are laid out as s1FilterFewTaps lays out dy, with a row of
// ones for the sums, and dotted with the shifted input in 4×4 blocks
// (dotShiftsRows).
func patchGramFewTaps(g *convGeom, x []float32, outer int, part []float64) {
	crs := g.crs
	sg := newS1Geom(g.cg, g.kg, g.R, g.S, g.dilH, g.dilW, g.H, g.W, g.oh, g.ow, g.PadTop, g.PadLeft)
	ld := (sg.cols + 63) &^ 63
	pLen := sg.i*sg.plane + ld
	bufs := newBatchBufs[float32](outer, pLen+(crs+1)*ld+(crs+1)*crs)
	defer bufs.release()
	forChunks(outer, g.N, func(n, chunk, worker int) {
		buf, used := bufs.get(worker)
		p, rows, pp := buf[:pLen], buf[pLen:pLen+(crs+1)*ld], buf[pLen+(crs+1)*ld:]
		if !used {
			// Borders, junk columns and the row of ones are the same for
			// every image.
			clear(buf)
			ones := rows[crs*ld : (crs+1)*ld]
			for y := 0; y < sg.hout; y++ {
				for j := range sg.wout {
					ones[y*sg.wp+j] = 1
				}
			}
		}
		padPlanes(&sg, x[n*g.xLen:(n+1)*g.xLen], p, 1, true)
		for q, off := range sg.offs {
			row := rows[q*ld : (q+1)*ld]
			for y := 0; y < sg.hout; y++ {
				copy(row[y*sg.wp:y*sg.wp+sg.wout], p[off+y*sg.wp:])
			}
		}
		clear(pp)
		dotShiftsRows(rows, ld, crs+1, ld, p, sg.offs, pp, crs)
		acc := part[chunk*(crs*crs+crs):][:crs*crs+crs]
		for i, v := range pp {
			acc[i] += float64(v)
		}
	})
}

// patchGramGEMM adds each image's Gram matrix and patch sums to its
// chunk's part through the image's patch matrix.
func patchGramGEMM[E float32 | float64](uk *microKernel[E], g *convGeom, x []E, outer int, part []float64) {
	crs := g.crs
	forChunks(outer, g.N, func(n, chunk, _ int) {
		sp, col := getScratch[E](crs*g.ohw + crs*crs)
		defer putScratch(sp)
		col, pp := col[:crs*g.ohw], col[crs*g.ohw:]
		im2col(g, x[n*g.xLen:(n+1)*g.xLen], 0, col, 1)
		src := matSource[E]{b: col, ld: g.ohw, trans: true}
		gemmDriver(uk, false, crs, crs, g.ohw, 1, col, g.ohw, nil, &src, 0, pp, crs, 1, nil)
		acc := part[chunk*(crs*crs+crs):][:crs*crs+crs]
		for i, v := range pp {
			acc[i] += float64(v)
		}
		for q := range crs {
			var t float64
			for _, v := range col[q*g.ohw : (q+1)*g.ohw] {
				t += float64(v)
			}
			acc[crs*crs+q] += t
		}
	})
}
