package kernel

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// PoolShape describes 2-D pooling over an NCHW input of N×C planes of H×W.
// The output is [N, C, OutH, OutW]. Zero values of StrideH, StrideW, DilH and
// DilW mean 1. With CeilMode the output size rounds up, but a window must
// still start inside the input or its leading padding.
type PoolShape struct {
	N, C, H, W int

	KH, KW, StrideH, StrideW             int
	PadTop, PadLeft, PadBottom, PadRight int
	DilH, DilW                           int
	CeilMode                             bool
}

func poolOut(in, k, stride, padA, padB, dil int, ceil bool) int {
	stride, dil = orOne(stride), orOne(dil)
	span := in + padA + padB - (dil*(k-1) + 1)
	if span < 0 || stride < 1 {
		return 0
	}
	if !ceil {
		return span/stride + 1
	}
	out := (span+stride-1)/stride + 1
	if (out-1)*stride >= in+padA {
		out--
	}
	return out
}

// OutH is the output height.
func (p PoolShape) OutH() int {
	return poolOut(p.H, p.KH, p.StrideH, p.PadTop, p.PadBottom, p.DilH, p.CeilMode)
}

// OutW is the output width.
func (p PoolShape) OutW() int {
	return poolOut(p.W, p.KW, p.StrideW, p.PadLeft, p.PadRight, p.DilW, p.CeilMode)
}

// Validate reports whether the geometry is usable: positive sizes and
// window, positive (or zero for default) strides and dilations, non-negative
// padding and an output of at least 1×1.
func (p PoolShape) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"N", p.N}, {"C", p.C}, {"H", p.H}, {"W", p.W}, {"KH", p.KH}, {"KW", p.KW}} {
		if f.v < 1 {
			return fmt.Errorf("kernel: pool shape: %s = %d, must be positive", f.name, f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"StrideH", p.StrideH}, {"StrideW", p.StrideW}, {"DilH", p.DilH}, {"DilW", p.DilW},
		{"PadTop", p.PadTop}, {"PadLeft", p.PadLeft}, {"PadBottom", p.PadBottom}, {"PadRight", p.PadRight}} {
		if f.v < 0 {
			return fmt.Errorf("kernel: pool shape: %s = %d, must not be negative", f.name, f.v)
		}
	}
	if p.OutH() < 1 || p.OutW() < 1 {
		return fmt.Errorf("kernel: pool shape: %dx%d window (dilation %dx%d) does not fit the padded %dx%d input",
			p.KH, p.KW, orOne(p.DilH), orOne(p.DilW), p.H+p.PadTop+p.PadBottom, p.W+p.PadLeft+p.PadRight)
	}
	return nil
}

// poolGeom is a validated PoolShape with defaults applied.
type poolGeom struct {
	PoolShape
	oh, ow, hw, ohw int
	sh, sw, dh, dw  int
	planes          int
}

func (p PoolShape) geom(fn string) poolGeom {
	if err := p.Validate(); err != nil {
		panic(errors.New(err.Error() + " (in " + fn + ")"))
	}
	return poolGeom{
		PoolShape: p,
		oh:        p.OutH(), ow: p.OutW(),
		hw: p.H * p.W, ohw: p.OutH() * p.OutW(),
		sh: orOne(p.StrideH), sw: orOne(p.StrideW),
		dh: orOne(p.DilH), dw: orOne(p.DilW),
		planes: p.N * p.C,
	}
}

// taps returns the first tap index and the end (exclusive) of the taps of a
// window starting at start with k taps spaced dil apart that land in [lo, hi).
func taps(start, k, dil, lo, hi int) (first, end int) {
	first = 0
	if start < lo {
		first = (lo - start + dil - 1) / dil
	}
	end = k
	if last := start + (k-1)*dil; last >= hi {
		end = (hi - start + dil - 1) / dil
	}
	if end < first {
		end = first
	}
	return first, end
}

// forPlanes runs fn over the N*C planes, in parallel when the work (about
// cost element visits per plane) is large enough to pay for goroutines.
func forPlanes(planes, cost int, fn func(pl int)) {
	nt := Threads()
	if planes*cost < 1<<15 {
		nt = 1
	}
	parallelFor(nt, planes, func(pl, _ int) { fn(pl) })
}

// MaxPool2D writes the window maxima of x to y and, in argmax, the index
// h*W+w within the input plane of each maximum (the first one on ties).
// Padding never wins; a window that covers no input element yields -Inf and
// argmax -1. NaN inputs propagate.
//
// MaxPool2D panics if p is invalid or a slice is too short for p.
func MaxPool2D[T Float](p PoolShape, x, y []T, argmax []int32) {
	g := p.geom("MaxPool2D")
	need("MaxPool2D", "x", len(x), g.planes*g.hw)
	need("MaxPool2D", "y", len(y), g.planes*g.ohw)
	need("MaxPool2D", "argmax", len(argmax), g.planes*g.ohw)
	forPlanes(g.planes, g.ohw*p.KH*p.KW, func(pl int) {
		maxPoolPlane(&g, x[pl*g.hw:(pl+1)*g.hw], y[pl*g.ohw:(pl+1)*g.ohw], argmax[pl*g.ohw:(pl+1)*g.ohw])
	})
}

// MaxPool2DValues writes the window maxima of x to y, as MaxPool2D does,
// without the indices: inference needs only the values. Without dilation
// the window is separable, so each plane takes the maxima of its rows over
// the horizontal taps first and then of those over the vertical taps, about
// KH + KW comparisons per output instead of KH·KW with a branch each.
// Padding never wins, a window that covers no input element yields −Inf,
// and NaNs propagate (which tap's signed zero wins may differ from
// MaxPool2D's).
//
// MaxPool2DValues panics if p is invalid or a slice is too short for p.
func MaxPool2DValues[T Float](p PoolShape, x, y []T) {
	g := p.geom("MaxPool2DValues")
	need("MaxPool2DValues", "x", len(x), g.planes*g.hw)
	need("MaxPool2DValues", "y", len(y), g.planes*g.ohw)
	if g.dh != 1 || g.dw != 1 {
		MaxPool2D(p, x, y, make([]int32, g.planes*g.ohw))
		return
	}
	nt := Threads()
	if g.planes*g.ohw*(p.KH+p.KW) < 1<<15 {
		nt = 1
	}
	if is32[T]() && maxPoolPhases(&g, as[float32](x), as[float32](y), nt) {
		return
	}
	nt = max(1, min(nt, g.planes))
	rows := make([]T, nt*p.H*g.ow) // per worker: every input row's horizontal maxima
	parallelFor(nt, g.planes, func(pl, worker int) {
		h := rows[worker*p.H*g.ow : (worker+1)*p.H*g.ow]
		maxPoolSeparable(&g, x[pl*g.hw:(pl+1)*g.hw], y[pl*g.ohw:(pl+1)*g.ohw], h)
	})
}

// maxPoolPhases is MaxPool2DValues for float32 without dilation where
// there is a vector maxRunsVec, and reports whether it ran. Each plane is
// split into phase planes as for depthwiseConv, padded with −Inf, so that
// a window tap reads one run for the whole plane and the plane's maxima
// are one vector pass per tap; the separable loops, with a data-dependent
// branch per comparison, were a tenth of SqueezeNet's time.
func maxPoolPhases(g *poolGeom, x, y []float32, nt int) bool {
	p := &g.PoolShape
	if !haveMaxRunsVec() {
		return false
	}
	// The phase layout needs only these fields of a convolution's
	// geometry; the output size is the pool's, ceil mode included.
	cg := convGeom{ConvShape: ConvShape{H: p.H, W: p.W, R: p.KH, S: p.KW, PadTop: p.PadTop, PadLeft: p.PadLeft}}
	cg.strH, cg.strW, cg.dilH, cg.dilW = g.sh, g.sw, 1, 1
	cg.oh, cg.ow, cg.hw, cg.ohw = g.oh, g.ow, g.hw, g.ohw
	if !phasesFit(&cg) {
		return false
	}
	ph := newPhaseLayout(&cg)
	sp := newDWRowSplit(&cg, ph)
	long := (g.oh-1)*ph.pw + g.ow
	offs := make([]int, 0, p.KH*p.KW)
	for r := 0; r < p.KH; r++ {
		for s := 0; s < p.KW; s++ {
			offs = append(offs, ph.tap(&cg, r, s))
		}
	}
	per := max(1, 4096/g.ohw) // small planes several at a time
	items := (g.planes + per - 1) / per
	workers := max(1, min(nt, items))
	bufs := newBatchBufs[float32](workers, ph.size+long)
	defer bufs.release()
	negInf := float32(math.Inf(-1))
	parallelFor(workers, items, func(it, worker int) {
		buf, used := bufs.get(worker)
		pp, tmp := buf[:ph.size], buf[ph.size:ph.size+long]
		if !used {
			for i := range pp {
				pp[i] = negInf // the padding; every plane writes the rest
			}
		}
		for pl := it * per; pl < min(g.planes, (it+1)*per); pl++ {
			dwSplitRows(pp, x[pl*g.hw:(pl+1)*g.hw], &cg, ph, &sp)
			maxRunsVec(tmp, pp, offs)
			copyRows(y[pl*g.ohw:(pl+1)*g.ohw], tmp, g.ow, g.oh, g.ow, ph.pw, nil)
		}
	})
	return true
}

// maxRunsGo is the portable maxRunsVec: dst[j] = max over t of
// p[offs[t]+j], NaN if any is.
func maxRunsGo(dst, p []float32, offs []int) {
	n := len(dst)
	copy(dst, p[offs[0]:][:n])
	for _, o := range offs[1:] {
		for j, v := range p[o:][:n] {
			dst[j] = max(dst[j], v)
		}
	}
}

// maxPoolSeparable pools one plane without dilation; h is scratch for
// H×OW horizontal maxima.
func maxPoolSeparable[T Float](g *poolGeom, x, y, h []T) {
	p := &g.PoolShape
	negInf := T(math.Inf(-1))
	for r := 0; r < p.H; r++ {
		xr, hr := x[r*p.W:(r+1)*p.W], h[r*g.ow:(r+1)*g.ow]
		for o := range hr {
			j0 := o*g.sw - p.PadLeft
			lo, hi := max(j0, 0), min(j0+p.KW, p.W)
			m := negInf
			if lo < hi {
				for _, v := range xr[lo:hi] {
					m = max(m, v)
				}
			}
			hr[o] = m
		}
	}
	for o := 0; o < g.oh; o++ {
		i0 := o*g.sh - p.PadTop
		lo, hi := max(i0, 0), min(i0+p.KH, p.H)
		yr := y[o*g.ow : (o+1)*g.ow]
		if lo >= hi {
			for j := range yr {
				yr[j] = negInf
			}
			continue
		}
		copy(yr, h[lo*g.ow:(lo+1)*g.ow])
		for r := lo + 1; r < hi; r++ {
			for j, v := range h[r*g.ow : (r+1)*g.ow] {
				yr[j] = max(yr[j], v)
			}
		}
	}
}

// MaxPoolPlane is MaxPool2D for one plane at a time, on the calling
// goroutine, with the geometry checked once: for callers that visit the
// planes themselves (batch normalisation pools each plane right after
// reading it), where a MaxPool2D call per small plane would cost more than
// the pooling.
type MaxPoolPlane[T Float] struct{ g poolGeom }

// NewMaxPoolPlane returns the pooler of one plane of p (p's N and C are
// ignored). It panics if p is invalid.
func NewMaxPoolPlane[T Float](p PoolShape) *MaxPoolPlane[T] {
	p.N, p.C = 1, 1
	return &MaxPoolPlane[T]{g: p.geom("NewMaxPoolPlane")}
}

// Pool writes the window maxima of the plane x to y and their indices to
// argmax, as MaxPool2D does. It panics if a slice is too short.
func (m *MaxPoolPlane[T]) Pool(x, y []T, argmax []int32) {
	g := &m.g
	need("MaxPoolPlane.Pool", "x", len(x), g.hw)
	need("MaxPoolPlane.Pool", "y", len(y), g.ohw)
	need("MaxPoolPlane.Pool", "argmax", len(argmax), g.ohw)
	maxPoolPlane(g, x[:g.hw], y[:g.ohw], argmax[:g.ohw])
}

// maxPoolPlane pools one plane: x, y and argmax hold exactly one plane each.
func maxPoolPlane[T Float](g *poolGeom, xp, yp []T, ap []int32) {
	p := &g.PoolShape
	if p.KH == 2 && p.KW == 2 && g.sh == 2 && g.sw == 2 && g.dh == 1 && g.dw == 1 &&
		p.PadTop == 0 && p.PadLeft == 0 && 2*g.oh <= p.H && 2*g.ow <= p.W {
		maxPool2x2(xp, yp, ap, p.W, g.oh, g.ow)
		return
	}
	negInf := T(math.Inf(-1))
	for oh := 0; oh < g.oh; oh++ {
		h0 := oh*g.sh - p.PadTop
		i0, i1 := taps(h0, p.KH, g.dh, 0, p.H)
		for ow := 0; ow < g.ow; ow++ {
			w0 := ow*g.sw - p.PadLeft
			j0, j1 := taps(w0, p.KW, g.dw, 0, p.W)
			best, arg := negInf, int32(-1)
			for i := i0; i < i1; i++ {
				row := (h0 + i*g.dh) * p.W
				for j := j0; j < j1; j++ {
					idx := row + w0 + j*g.dw
					v := xp[idx]
					if v > best || arg < 0 || (v != v && best == best) {
						best, arg = v, int32(idx)
					}
				}
			}
			yp[oh*g.ow+ow] = best
			ap[oh*g.ow+ow] = arg
		}
	}
}

// maxPool2x2 is MaxPool2D for the common 2×2, stride-2 window lying wholly
// inside the plane. Random data makes "which tap wins" unpredictable, so the
// winner is found without branches: the maximum first, then the first tap
// equal to it.
func maxPool2x2[T Float](x, y []T, arg []int32, w, oh, ow int) {
	for i := 0; i < oh; i++ {
		start := 0
		if is32[T]() {
			// The vector code takes whole rows until a NaN stops it.
			done := maxPool2x2Rows32(as[float32](x), as[float32](y), arg, w, i, oh, ow)
			i, start = i+done/ow, done%ow
			if i == oh {
				return
			}
		}
		r0 := x[2*i*w : 2*i*w+2*ow]
		r1 := x[(2*i+1)*w : (2*i+1)*w+2*ow]
		yr := y[i*ow : i*ow+ow]
		ar := arg[i*ow : i*ow+ow]
		base := int32(2 * i * w)
		for j := start; j < len(yr); j++ {
			a, b, c, d := r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1]
			m := max(max(a, b), max(c, d))
			// Tap k (0..3 in scan order) goes to bit k when it equals m.
			mask := b2u(a == m) | b2u(b == m)<<1 | b2u(c == m)<<2 | b2u(d == m)<<3
			if mask == 0 { // m is NaN: the first NaN tap wins
				mask = b2u(a != a) | b2u(b != b)<<1 | b2u(c != c)<<2 | b2u(d != d)<<3
			}
			k := bits.TrailingZeros8(mask)
			idx := base + int32(2*j+k&1) + int32(k>>1)*int32(w)
			ar[j] = idx
			yr[j] = x[idx] // the tap itself, so -0 and +0 keep their sign
		}
	}
}

func b2u(v bool) uint8 {
	if v {
		return 1
	}
	return 0
}

// MaxPoolScatter routes output gradients back to the winning inputs:
// dx is overwritten with zeros and then dx[plane][argmax[i]] += dy[i]. It is
// the backward pass of MaxPool2D.
//
// MaxPoolScatter panics if p is invalid or a slice is too short for p.
func MaxPoolScatter[T Float](p PoolShape, dy []T, argmax []int32, dx []T) {
	maxPoolScatter("MaxPoolScatter", p, dy, argmax, dx, true)
}

// MaxPoolScatterAdd is MaxPoolScatter without the zeroing: it adds the
// routed gradients to dx as it is. Callers whose dx is freshly allocated,
// and so already zero, save a pass over it.
//
// MaxPoolScatterAdd panics if p is invalid or a slice is too short for p.
func MaxPoolScatterAdd[T Float](p PoolShape, dy []T, argmax []int32, dx []T) {
	maxPoolScatter("MaxPoolScatterAdd", p, dy, argmax, dx, false)
}

func maxPoolScatter[T Float](fn string, p PoolShape, dy []T, argmax []int32, dx []T, zero bool) {
	g := p.geom(fn)
	need(fn, "dy", len(dy), g.planes*g.ohw)
	need(fn, "argmax", len(argmax), g.planes*g.ohw)
	need(fn, "dx", len(dx), g.planes*g.hw)
	forPlanes(g.planes, g.hw+g.ohw, func(pl int) {
		dxp := dx[pl*g.hw : (pl+1)*g.hw]
		if zero {
			clear(dxp)
		}
		ap := argmax[pl*g.ohw : (pl+1)*g.ohw]
		for i, v := range dy[pl*g.ohw : (pl+1)*g.ohw] {
			if a := ap[i]; a >= 0 {
				dxp[a] += v
			}
		}
	})
}

// MaxPoolGather is the adjoint of MaxPoolScatter: dy[i] = dx[plane][argmax[i]]
// (zero where argmax is -1). Second-order differentiation of max pooling
// needs it.
//
// MaxPoolGather panics if p is invalid or a slice is too short for p.
func MaxPoolGather[T Float](p PoolShape, dx []T, argmax []int32, dy []T) {
	g := p.geom("MaxPoolGather")
	need("MaxPoolGather", "dx", len(dx), g.planes*g.hw)
	need("MaxPoolGather", "argmax", len(argmax), g.planes*g.ohw)
	need("MaxPoolGather", "dy", len(dy), g.planes*g.ohw)
	forPlanes(g.planes, g.ohw, func(pl int) {
		dxp := dx[pl*g.hw : (pl+1)*g.hw]
		ap := argmax[pl*g.ohw : (pl+1)*g.ohw]
		dyp := dy[pl*g.ohw : (pl+1)*g.ohw]
		for i, a := range ap {
			if a >= 0 {
				dyp[i] = dxp[a]
			} else {
				dyp[i] = 0
			}
		}
	})
}

// avgDivisor is the number of elements a window's sum is divided by: the
// taps inside the input, or with countIncludePad the taps inside the padded
// input (taps beyond the padding, possible in ceil mode, never count).
func (g *poolGeom) avgDivisor(countIncludePad bool, h0, w0 int) int {
	lo, hi := 0, g.H
	lw, hw := 0, g.W
	if countIncludePad {
		lo, hi = -g.PadTop, g.H+g.PadBottom
		lw, hw = -g.PadLeft, g.W+g.PadRight
	}
	i0, i1 := taps(h0, g.KH, g.dh, lo, hi)
	j0, j1 := taps(w0, g.KW, g.dw, lw, hw)
	return (i1 - i0) * (j1 - j0)
}

// AvgPool2D writes window averages of x to y. With countIncludePad the
// divisor counts padding taps (but not taps past the padding in ceil mode);
// otherwise only taps inside the input. A window with a zero divisor yields 0.
//
// AvgPool2D panics if p is invalid or a slice is too short for p.
func AvgPool2D[T Float](p PoolShape, countIncludePad bool, x, y []T) {
	g := p.geom("AvgPool2D")
	need("AvgPool2D", "x", len(x), g.planes*g.hw)
	need("AvgPool2D", "y", len(y), g.planes*g.ohw)
	forPlanes(g.planes, g.ohw*p.KH*p.KW, func(pl int) {
		xp := x[pl*g.hw : (pl+1)*g.hw]
		yp := y[pl*g.ohw : (pl+1)*g.ohw]
		for oh := 0; oh < g.oh; oh++ {
			h0 := oh*g.sh - p.PadTop
			i0, i1 := taps(h0, p.KH, g.dh, 0, p.H)
			for ow := 0; ow < g.ow; ow++ {
				w0 := ow*g.sw - p.PadLeft
				j0, j1 := taps(w0, p.KW, g.dw, 0, p.W)
				var sum T
				for i := i0; i < i1; i++ {
					row := xp[(h0+i*g.dh)*p.W:]
					for j := j0; j < j1; j++ {
						sum += row[w0+j*g.dw]
					}
				}
				if d := g.avgDivisor(countIncludePad, h0, w0); d > 0 {
					sum /= T(d)
				} else {
					sum = 0
				}
				yp[oh*g.ow+ow] = sum
			}
		}
	})
}

// AvgPool2DBackward overwrites dx with the gradient of AvgPool2D given the
// output gradient dy; it is the adjoint of AvgPool2D.
//
// AvgPool2DBackward panics if p is invalid or a slice is too short for p.
func AvgPool2DBackward[T Float](p PoolShape, countIncludePad bool, dy, dx []T) {
	g := p.geom("AvgPool2DBackward")
	need("AvgPool2DBackward", "dy", len(dy), g.planes*g.ohw)
	need("AvgPool2DBackward", "dx", len(dx), g.planes*g.hw)
	forPlanes(g.planes, g.ohw*p.KH*p.KW, func(pl int) {
		dxp := dx[pl*g.hw : (pl+1)*g.hw]
		dyp := dy[pl*g.ohw : (pl+1)*g.ohw]
		clear(dxp)
		for oh := 0; oh < g.oh; oh++ {
			h0 := oh*g.sh - p.PadTop
			i0, i1 := taps(h0, p.KH, g.dh, 0, p.H)
			for ow := 0; ow < g.ow; ow++ {
				w0 := ow*g.sw - p.PadLeft
				d := g.avgDivisor(countIncludePad, h0, w0)
				if d == 0 {
					continue
				}
				v := dyp[oh*g.ow+ow] / T(d)
				j0, j1 := taps(w0, p.KW, g.dw, 0, p.W)
				for i := i0; i < i1; i++ {
					row := dxp[(h0+i*g.dh)*p.W:]
					for j := j0; j < j1; j++ {
						row[w0+j*g.dw] += v
					}
				}
			}
		}
	})
}

// UnpoolMode is what Unpool2x2 does besides placing the routed gradients:
// which dense terms it adds (bits the vector code tests).
type UnpoolMode int

const (
	unpoolX   = 1 // b·x + d
	unpoolAdd = 2 // + dst
	unpoolH   = 4 // + c·h

	// UnpoolSet writes the routed gradients, and zero where none lands.
	UnpoolSet UnpoolMode = 0
	// UnpoolAffine writes b·x + d plus the routed gradients.
	UnpoolAffine UnpoolMode = unpoolX
	// UnpoolAddAffine adds b·x + d plus the routed gradients to dst.
	UnpoolAddAffine UnpoolMode = unpoolX | unpoolAdd
	// UnpoolAffine2 writes b·x + c·h + d plus the routed gradients.
	UnpoolAffine2 UnpoolMode = unpoolX | unpoolH
	// UnpoolAddAffine2 adds b·x + c·h + d plus the routed gradients to dst.
	UnpoolAddAffine2 UnpoolMode = unpoolX | unpoolH | unpoolAdd
)

// Unpool2x2 is the backward pass of 2×2, stride-2 max pooling without
// padding on one h×w float32 plane, masked, scaled and fused with a dense
// affine part: a·g[j] goes to dst[arg[j]] for each window j (rows/2 rows of
// w/2) where keep[j] is positive (the pooled output after a ReLU, whose
// sign is the mask, tested on its bits as MaskPositive32 does), and mode
// says what else each element of dst gets. x is read only by the affine
// modes, hv only by the two-input ones. Each arg[j] must lie in window j,
// as MaxPool2D's argmax does. One pass writes every element: no separate
// clearing or affine pass over dst.
//
// Unpool2x2 panics if a slice is too short or mode is not one of the
// constants.
func Unpool2x2(dst, x, hv, g, keep []float32, arg []int32, rows, w int, a, b, c, d float32, mode UnpoolMode) {
	oh, ow := rows/2, w/2
	switch mode {
	case UnpoolSet, UnpoolAffine, UnpoolAddAffine, UnpoolAffine2, UnpoolAddAffine2:
	default:
		panic("kernel: Unpool2x2: mode " + itoa(int(mode)))
	}
	need("Unpool2x2", "dst", len(dst), rows*w)
	need("Unpool2x2", "g", len(g), oh*ow)
	need("Unpool2x2", "keep", len(keep), oh*ow)
	need("Unpool2x2", "arg", len(arg), oh*ow)
	if mode&unpoolX != 0 {
		need("Unpool2x2", "x", len(x), rows*w)
	}
	if mode&unpoolH != 0 {
		need("Unpool2x2", "h", len(hv), rows*w)
	}
	if !unpool2x2Vec(dst, x, hv, g, keep, arg, w, oh, ow, a, b, c, d, mode) {
		unpool2x2Go(dst[:rows*w], x, hv, g, keep, arg, w, oh, ow, a, b, c, d, mode)
		return
	}
	// The vector code covers the windows' rows and columns; an odd last
	// column or row gets the dense part only.
	if w > 2*ow {
		for y := range 2 * oh {
			unpoolDense(dst[y*w+2*ow:(y+1)*w], x, hv, y*w+2*ow, b, c, d, mode)
		}
	}
	if rows > 2*oh {
		unpoolDense(dst[2*oh*w:rows*w], x, hv, 2*oh*w, b, c, d, mode)
	}
}

// unpoolDense gives dst, which starts at element o of the plane, the dense
// part of mode.
func unpoolDense(dst, x, h []float32, o int, b, c, d float32, mode UnpoolMode) {
	switch mode {
	case UnpoolSet:
		clear(dst)
	case UnpoolAffine:
		for i := range dst {
			dst[i] = b*x[o+i] + d
		}
	case UnpoolAddAffine:
		for i := range dst {
			dst[i] += b*x[o+i] + d
		}
	case UnpoolAffine2:
		for i := range dst {
			dst[i] = b*x[o+i] + c*h[o+i] + d
		}
	default:
		for i := range dst {
			dst[i] += b*x[o+i] + c*h[o+i] + d
		}
	}
}

// unpool2x2Go is the portable Unpool2x2: the dense part, then the routed
// gradients.
func unpool2x2Go(dst, x, h, g, keep []float32, arg []int32, w, oh, ow int, a, b, c, d float32, mode UnpoolMode) {
	unpoolDense(dst, x, h, 0, b, c, d, mode)
	for j, v := range g[:oh*ow] {
		k := int32(math.Float32bits(keep[j]))
		dst[arg[j]] += a * math.Float32frombits(math.Float32bits(v)&uint32((-k & ^k)>>31))
	}
}
