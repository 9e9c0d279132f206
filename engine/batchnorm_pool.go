package engine

import (
	"math"

	"github.com/fewshot-go/fewshot/internal/kernel"
)

// The backward passes of BatchNormReLUMaxPool2D. The gradient of the
// normalised values, expand(g), is zero except at one input position per
// pooled output (its argmax, where the output is positive), so these passes
// read g at the pooled size and never build the full-size expanded gradient
// or the full-size gradient with respect to it: each is bnBackward,
// bnGradInputVJP or bnGradGammaVJP with the terms in g taken sparsely.
//
// The ReLU's mask is applied where g is read (gatherGradSumsRun,
// scatterKeptAdd), without a masked copy of g, and without a branch: half
// the outputs are cut by the ReLU, at random, and a branch on that would be
// mispredicted half the time. Every argmax is a valid position (see
// batchNormTrain), and a cut output adds zero there.

// poolPlanes calls fn for each of channel ch's planes with the offsets of
// the input plane (o) and of the pooled plane (po).
func (e *bnEpilogue[T]) poolPlanes(ch int, fn func(o, po int)) {
	p := e.pool
	hw, ohw := p.H*p.W, p.OutH()*p.OutW()
	for i := 0; i < p.N; i++ {
		pl := i*p.C + ch
		fn(pl*hw, pl*ohw)
	}
}

// poolHW returns the input and pooled plane sizes.
func (e *bnEpilogue[T]) poolHW() (hw, ohw int) {
	return e.pool.H * e.pool.W, e.pool.OutH() * e.pool.OutW()
}

// bnPoolBackward is bnBackward(e.expand(g), x, gamma, s, wantDx), with dx
// deferred (see Var.deposit): the sums are taken now, and dx is written or
// added plane by plane when the gradient pass places it.
func bnPoolBackward[T Float](e *bnEpilogue[T], g, x, gamma *Tensor[T], s *bnStats, wantDx bool) (dx *Var[T], dGamma, dBeta *Tensor[T], sumG, sumGXhat []float64) {
	c := x.shape[1]
	_, hw, m := bnPlanes(x.shape)
	_, ohw := e.poolHW()
	xd, gd, keep := x.data, g.data, e.out.data
	dBeta, dGamma = New[T](c), New[T](c)
	sumG, sumGXhat = make([]float64, c), make([]float64, c)
	// dx = a·g + b·x + d per channel, as in bnBackward.
	ta, tb, td := make([]T, c), make([]T, c), make([]T, c)
	// dx sums to a·Σg + b·Σx + d·m per channel, with Σx = m·μ.
	sums := make([]float64, c)
	forChannels(c, len(xd), func(ch int) {
		mu, is := s.mean[ch], s.invStd[ch]
		var sg, sgx float64
		if sc, bp, ok := s.fromOutput(ch); ok {
			var sgo float64
			e.poolPlanes(ch, func(_, po int) {
				a, b := keptSumsRun(gd[po:po+ohw], keep[po:po+ohw])
				sg += a
				sgo += b
			})
			sgx = (sgo - bp*sg) / sc
		} else {
			e.poolPlanes(ch, func(o, po int) {
				a, b := gatherGradSumsRun(gd[po:po+ohw], keep[po:po+ohw], xd[o:o+hw], e.argmax[po:po+ohw], mu)
				sg += a
				sgx += b
			})
		}
		sgx *= is
		dBeta.data[ch], dGamma.data[ch] = T(sg), T(sgx)
		sumG[ch], sumGXhat[ch] = sg, sgx
		k := float64(gamma.data[ch]) * is
		b := -k * is * sgx / float64(m)
		ta[ch], tb[ch], td[ch] = T(k), T(b), T(-k*sg/float64(m)-b*mu)
		fm := float64(m)
		sums[ch] = float64(ta[ch])*sg + float64(tb[ch])*fm*mu + float64(td[ch])*fm
	})
	if !wantDx {
		return nil, dGamma, dBeta, sumG, sumGXhat
	}
	dx = (&poolGrad[T]{e: e, x: xd, g: gd, a: ta, b: tb, d: td, sums: sums}).deferred(x.shape)
	return dx, dGamma, dBeta, sumG, sumGXhat
}

// poolGrad is a gradient with respect to the input x of a fused batch
// norm, ReLU and pooling, of the form every backward rule of the op gives
// it: per channel ch,
//
//	a[ch]·g routed to each window's argmax, masked by the output,
//	+ b[ch]·x + c[ch]·h + d[ch]
//
// with g at the pooled size and h at x's (h nil: no such term). sums are
// its plane sums per channel. Two of them for the same x and g add up to
// one of the same form (merge): the backward rules of the recorded
// batch norm (bnPoolGradInputVJP, bnPoolGradGammaVJP) both send one to x,
// and their sum is then placed in one pass, or an image at a time.
type poolGrad[T Float] struct {
	e          *bnEpilogue[T]
	x, g, h    []T
	a, b, c, d []T
	sums       []float64
}

// deferred returns p as a deferred contribution to a value of the given
// shape (see Var.deposit), deposited whole over the channels in parallel.
// It can also be deposited an image at a time
// (Var.depositImage), and split into the affine part b·x + d and the rest
// (Var.affine).
func (p *poolGrad[T]) deferred(shape []int) *Var[T] {
	e := p.e
	cost := len(p.x)
	if p.h != nil {
		cost *= 2
	}
	hw, ohw := e.poolHW()
	c := e.pool.C
	v := deferredWithSums(shape, p.sums, func(dst []T, overwrite bool) {
		forChannels(c, cost, func(ch int) {
			e.poolPlanes(ch, func(o, po int) { p.plane(dst[o:o+hw], ch, o, po, overwrite) })
		})
	})
	v.depositImage = func(n int, dst []T) {
		for ch := range c {
			pl := n*c + ch
			p.plane(dst[ch*hw:(ch+1)*hw], ch, pl*hw, pl*ohw, true)
		}
	}
	v.affine = &affineParts[T]{of: p.x, b: p.b, d: p.d, sparse: func(n int, dst []T) {
		for ch := range c {
			pl := n*c + ch
			p.sparsePlane(dst[ch*hw:(ch+1)*hw], ch, pl*hw, pl*ohw)
		}
	}}
	v.pooled = p
	return v
}

// plane writes, or adds, the plane of channel ch at input offset o (pooled
// offset po) into ds: the dense part and the routed gradients in one pass
// where kernel.Unpool2x2 serves, else the dense part first and then the
// routed gradients, while the plane is in cache.
func (p *poolGrad[T]) plane(ds []T, ch, o, po int, overwrite bool) {
	e := p.e
	hw, ohw := e.poolHW()
	xs := p.x[o : o+hw]
	gs, ks, am := p.g[po:po+ohw], e.out.data[po:po+ohw], e.argmax[po:po+ohw]
	if p.h == nil {
		mode := kernel.UnpoolAddAffine
		if overwrite {
			mode = kernel.UnpoolAffine
		}
		if !e.unpool(ds, xs, nil, gs, ks, am, p.a[ch], p.b[ch], 0, p.d[ch], mode) {
			affineInto(ds, xs, p.b[ch], p.d[ch], overwrite)
			scatterKeptAdd(ds, am, gs, ks, p.a[ch])
		}
		return
	}
	hs := p.h[o : o+hw]
	mode := kernel.UnpoolAddAffine2
	if overwrite {
		mode = kernel.UnpoolAffine2
	}
	if e.unpool(ds, xs, hs, gs, ks, am, p.a[ch], p.b[ch], p.c[ch], p.d[ch], mode) {
		return
	}
	if overwrite {
		axpbycRun(ds, hs, xs, p.c[ch], p.b[ch], p.d[ch])
	} else {
		addAxpbycRun(ds, hs, xs, p.c[ch], p.b[ch], p.d[ch])
	}
	scatterKeptAdd(ds, am, gs, ks, p.a[ch])
}

// sparsePlane writes into ds the plane of channel ch of everything but the
// affine part: the routed gradients and c·h.
func (p *poolGrad[T]) sparsePlane(ds []T, ch, o, po int) {
	e := p.e
	hw, ohw := e.poolHW()
	gs, ks, am := p.g[po:po+ohw], e.out.data[po:po+ohw], e.argmax[po:po+ohw]
	if p.h == nil {
		if !e.unpool(ds, nil, nil, gs, ks, am, p.a[ch], 0, 0, 0, kernel.UnpoolSet) {
			clear(ds)
			scatterKeptAdd(ds, am, gs, ks, p.a[ch])
		}
		return
	}
	// The kernel reads h only beside x (here with a zero coefficient).
	hs := p.h[o : o+hw]
	if !e.unpool(ds, p.x[o:o+hw], hs, gs, ks, am, p.a[ch], 0, p.c[ch], 0, kernel.UnpoolAffine2) {
		scaleShiftRun(ds, hs, p.c[ch], 0)
		scatterKeptAdd(ds, am, gs, ks, p.a[ch])
	}
}

// merge returns p + q as one poolGrad, or nil when they differ in x or
// the epilogue, or both have an h and they differ. When their pooled
// gradients differ, the sum routes a_p·g_p + a_q·g_q, built at the pooled
// size (a quarter of x's): the argmax and the mask are the epilogue's.
func (p *poolGrad[T]) merge(q *poolGrad[T]) *poolGrad[T] {
	if !p.e.same(q.e) || !sameData(p.x, q.x) || len(p.g) != len(q.g) ||
		(p.h != nil && q.h != nil && !sameData(p.h, q.h)) {
		return nil
	}
	r := &poolGrad[T]{e: p.e, x: p.x, g: p.g, h: p.h, c: p.c,
		a: addCoeffs(p.a, q.a), b: addCoeffs(p.b, q.b), d: addCoeffs(p.d, q.d)}
	if !sameData(p.g, q.g) {
		_, ohw := p.e.poolHW()
		r.g, r.a = make([]T, len(p.g)), make([]T, len(p.a))
		forChannels(len(p.a), len(p.g)/len(p.a), func(ch int) {
			r.a[ch] = 1
			p.e.poolPlanes(ch, func(_, po int) {
				axpbycRun(r.g[po:po+ohw], p.g[po:po+ohw], q.g[po:po+ohw], p.a[ch], q.a[ch], 0)
			})
		})
	}
	switch {
	case p.h != nil && q.h != nil:
		r.c = addCoeffs(p.c, q.c)
	case q.h != nil:
		r.h, r.c = q.h, q.c
	}
	r.sums = make([]float64, len(p.sums))
	for i := range r.sums {
		r.sums[i] = p.sums[i] + q.sums[i]
	}
	return r
}

// same reports whether e and f are the epilogue of the same forward pass
// (each backward pass of the op makes its own *bnEpilogue).
func (e *bnEpilogue[T]) same(f *bnEpilogue[T]) bool {
	return e.pool == f.pool && sameData(e.out.data, f.out.data) && len(e.argmax) == len(f.argmax) &&
		(len(e.argmax) == 0 || &e.argmax[0] == &f.argmax[0])
}

// addCoeffs returns the element-wise sum of two coefficient vectors.
func addCoeffs[T Float](u, v []T) []T {
	out := make([]T, len(u))
	for i := range out {
		out[i] = u[i] + v[i]
	}
	return out
}

// sameData reports whether u and v are the same slice of memory.
func sameData[T Float](u, v []T) bool {
	return len(u) == len(v) && (len(u) == 0 || &u[0] == &v[0])
}

// unpool runs kernel.Unpool2x2 on one plane and reports true, for float32
// and a 2×2, stride-2 pooling without padding; otherwise it does nothing
// and reports false.
func (e *bnEpilogue[T]) unpool(ds, xs, hs, gs, ks []T, am []int32, a, b, c, d T, mode kernel.UnpoolMode) bool {
	p := e.pool
	if p.KH != 2 || p.KW != 2 || p.StrideH != 2 || p.StrideW != 2 || max(p.DilH, p.DilW) > 1 ||
		p.PadTop != 0 || p.PadLeft != 0 || p.PadBottom != 0 || p.PadRight != 0 || p.CeilMode {
		return false
	}
	d32, ok := any(ds).([]float32)
	if !ok {
		return false
	}
	x32, _ := any(xs).([]float32)
	h32, _ := any(hs).([]float32)
	kernel.Unpool2x2(d32, x32, h32, any(gs).([]float32), any(ks).([]float32), am, p.H, p.W,
		float32(a), float32(b), float32(c), float32(d), mode)
	return true
}

// scatterKeptAdd adds a·g[j] to dst[idx[j]] for every j where keep[j] is
// positive (for float32 and float64 by the sign-and-zero test of the
// ReLU's mask, see leaky32).
func scatterKeptAdd[T Float](dst []T, idx []int32, g, keep []T, a T) {
	idx, keep = idx[:len(g)], keep[:len(g)]
	switch gg := any(g).(type) {
	case []float32:
		d, k, a := any(dst).([]float32), any(keep).([]float32), float32(a)
		for j, v := range gg {
			b := int32(math.Float32bits(k[j]))
			d[idx[j]] += a * math.Float32frombits(math.Float32bits(v)&uint32((-b & ^b)>>31))
		}
	case []float64:
		d, k, a := any(dst).([]float64), any(keep).([]float64), float64(a)
		for j, v := range gg {
			b := int64(math.Float64bits(k[j]))
			d[idx[j]] += a * math.Float64frombits(math.Float64bits(v)&uint64((-b & ^b)>>63))
		}
	default:
		for j, v := range g {
			if keep[j] > 0 {
				dst[idx[j]] += a * v
			}
		}
	}
}

// affineInto sets dst = a·x + b, or adds a·x + b to it unless overwrite.
func affineInto[T Float](dst, x []T, a, b T, overwrite bool) {
	if overwrite {
		scaleShiftRun(dst, x, a, b)
		return
	}
	axpbycRun(dst, dst, x, 1, a, b)
}

// bnPoolGradInputVJP is bnGradInputVJP for the pooled gradient g: the
// gradients with respect to g (pooled), x and γ, with the same formulas.
// The gradient with respect to x is deferred (see Var.deposit).
func bnPoolGradInputVJP[T Float](e *bnEpilogue[T], h, g, x, gamma *Tensor[T], s *bnStats) []*Var[T] {
	c := x.shape[1]
	n, hw, m := bnPlanes(x.shape)
	_, ohw := e.poolHW()
	hd, gd, xd, keep := h.data, g.data, x.data, e.out.data
	dg, dGamma := newOverwritten[T](g.shape...), New[T](c)
	// ∂/∂x = c0·(x − μ) + c1·H + c2·g + c3, as tc1·H + tc0·x + tc3 dense
	// and tc2·g at the pooled positions; it sums to
	// tc1·ΣH + tc0·m·μ + tc3·m + tc2·Σg per channel.
	tc0, tc1, tc2, tc3 := make([]T, c), make([]T, c), make([]T, c), make([]T, c)
	sums := make([]float64, c)
	fm := float64(m)
	forChannels(c, 2*len(xd), func(ch int) {
		mu, is, gam := s.mean[ch], s.invStd[ch], float64(gamma.data[ch])
		var sh, shx, sg, sgx, shg float64
		channelRuns(n, c, hw, ch, func(o int) {
			a, b := gradSumsRun(hd[o:o+hw], xd[o:o+hw], mu)
			sh += a
			shx += b
		})
		sc, bp, fromOut := s.fromOutput(ch)
		var sgo float64
		e.poolPlanes(ch, func(o, po int) {
			gs, ks, am := gd[po:po+ohw], keep[po:po+ohw], e.argmax[po:po+ohw]
			if fromOut {
				a, b := keptSumsRun(gs, ks)
				sg += a
				sgo += b
			} else {
				a, b := gatherGradSumsRun(gs, ks, xd[o:o+hw], am, mu)
				sg += a
				sgx += b
			}
			_, d := gatherGradSumsRun(gs, ks, hd[o:o+hw], am, 0)
			shg += d
		})
		if fromOut {
			sgx = (sgo - bp*sg) / sc
		}
		a, b := shx*is, sgx*is
		q := shg - sh*sg/fm - a*b/fm
		dGamma.data[ch] = T(is * q)
		k1, k2, k3 := gam*is, -gam*is*is*a/fm, -gam*is*sh/fm
		cm := -gam * is * is / fm
		c0, c1, c2, c3 := cm*is*(q-2*a*b/fm), cm*b, cm*a, -cm*(b*sh+a*sg)/fm
		tk1, tk2, tk3 := T(k1), T(k2), T(k3-k2*mu)
		tc0[ch], tc1[ch], tc2[ch], tc3[ch] = T(c0), T(c1), T(c2), T(c3-c0*mu)
		sums[ch] = float64(tc1[ch])*sh + float64(tc0[ch])*fm*mu + float64(tc3[ch])*fm + float64(tc2[ch])*sg
		e.poolPlanes(ch, func(o, po int) {
			// ∂/∂g at the input position, gathered (masked below).
			gatherAxpbycRun(dg.data[po:po+ohw], hd[o:o+hw], xd[o:o+hw], e.argmax[po:po+ohw], tk1, tk2, tk3)
		})
	})
	leakyKernel(dg.data, dg.data, e.out.data, 0)
	dx := (&poolGrad[T]{e: e, x: xd, g: gd, h: hd, a: tc2, b: tc0, c: tc1, d: tc3, sums: sums}).deferred(x.shape)
	return []*Var[T]{freshConst(dg), dx, freshConst(dGamma)}
}

// bnPoolGradGammaVJP is bnGradGammaVJP for the pooled gradient g, with the
// gradient with respect to x deferred (see Var.deposit).
func bnPoolGradGammaVJP[T Float](e *bnEpilogue[T], h, g, x *Tensor[T], s *bnStats, sumG, sumGXhat []float64) []*Var[T] {
	c := x.shape[1]
	_, hw, m := bnPlanes(x.shape)
	_, ohw := e.poolHW()
	gd, xd := g.data, x.data
	dg := newOverwritten[T](g.shape...)
	// ∂/∂x = tc1·g + tc0·x + tc2, the term in g at the pooled positions; it
	// sums to tc1·Σg + tc0·m·μ + tc2·m per channel.
	tc0, tc1, tc2 := make([]T, c), make([]T, c), make([]T, c)
	sums := make([]float64, c)
	fm := float64(m)
	forChannels(c, len(dg.data), func(ch int) {
		mu, is, hv := s.mean[ch], s.invStd[ch], float64(h.data[ch])
		sg, b := sumG[ch], sumGXhat[ch]
		k := hv * is
		c1, c0, c2 := hv*is, -hv*is*is*b/fm, -hv*is*sg/fm
		tk, tkm := T(k), T(-k*mu)
		tc1[ch], tc0[ch], tc2[ch] = T(c1), T(c0), T(c2-c0*mu)
		sums[ch] = float64(tc1[ch])*sg + float64(tc0[ch])*fm*mu + float64(tc2[ch])*fm
		if sc, bp, ok := s.fromOutput(ch); ok {
			// k·(x − μ) at the argmax, read back from the output where it
			// is positive (masked below).
			a, b := T(k/sc), T(-k*bp/sc)
			e.poolPlanes(ch, func(_, po int) {
				scaleShiftRun(dg.data[po:po+ohw], e.out.data[po:po+ohw], a, b)
			})
			return
		}
		e.poolPlanes(ch, func(o, po int) {
			xs := xd[o : o+hw]
			gatherAxpbycRun(dg.data[po:po+ohw], xs, xs, e.argmax[po:po+ohw], tk, 0, tkm)
		})
	})
	leakyKernel(dg.data, dg.data, e.out.data, 0)
	dx := (&poolGrad[T]{e: e, x: xd, g: gd, a: tc1, b: tc0, d: tc2, sums: sums}).deferred(x.shape)
	return []*Var[T]{freshConst(dg), dx}
}
