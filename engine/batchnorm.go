package engine

import (
	"fmt"
	"math"
	"sync"

	"github.com/fewshot-go/fewshot/internal/kernel"
)

// BNState holds the running statistics of a batch-normalisation layer. They
// are model state, not parameters: no gradient flows into them.
type BNState[T Float] struct {
	// RunningMean and RunningVar have one element per channel. Inference
	// normalises with them.
	RunningMean, RunningVar *Tensor[T]
	// Momentum is the weight of the current batch in the running averages:
	// running = (1 − Momentum)·running + Momentum·batch. Zero freezes them.
	Momentum float64
	// Eps is added to the variance before the square root.
	Eps float64
}

// NewBNState returns the state of a batch-normalisation layer over channels
// channels with PyTorch's defaults: running mean 0, running variance 1,
// momentum 0.1 and eps 1e-5.
func NewBNState[T Float](channels int) *BNState[T] {
	return &BNState[T]{
		RunningMean: New[T](channels),
		RunningVar:  Full[T](1, channels),
		Momentum:    0.1,
		Eps:         DefaultBNEps,
	}
}

// DefaultBNEps is the variance offset BatchNorm2D uses when it has no state.
const DefaultBNEps = 1e-5

// BatchNorm2D normalises each channel of x ([N,C,H,W]) and applies the
// per-channel affine map gamma·x̂ + beta (gamma and beta of shape [C]).
//
// In training mode x̂ uses the batch statistics: the mean and the biased
// variance over N, H and W. Gradients flow through those statistics. If st is
// not nil its running statistics are then updated with st.Momentum, using
// the unbiased variance (divided by N·H·W − 1) for the running variance, as
// PyTorch does. The update is a side effect on st's tensors and is not part
// of any graph; st.Eps is the variance offset (DefaultBNEps when st is nil).
//
// In inference mode x̂ uses st's running statistics, which st must hold, and
// st is not changed.
//
// The forward pass is one fused kernel and so is the backward pass. When
// the backward pass is recorded (create-graph, for second order) it is made
// of two fused ops, for dx and dγ, whose own backward passes are fused
// kernels of the second derivatives; recorded once more (third order and
// beyond) those are composed from primitive ops.
func BatchNorm2D[T Float](x, gamma, beta *Var[T], st *BNState[T], training bool) *Var[T] {
	eps := checkBatchNorm("BatchNorm2D", x, gamma, beta, st)
	if training {
		return batchNormTrain(x, gamma, beta, st, eps, false, nil, nil)
	}
	if st == nil {
		panic("engine.BatchNorm2D: inference mode needs running statistics (st is nil)")
	}
	return batchNormInfer(x, gamma, beta, st, eps)
}

// checkBatchNorm panics, naming op, unless the shapes of x, gamma, beta and
// st's statistics fit; it returns the variance offset to use.
func checkBatchNorm[T Float](op string, x, gamma, beta *Var[T], st *BNState[T]) (eps float64) {
	shape := x.Shape()
	if len(shape) != 4 {
		panic(fmt.Sprintf("engine.%s: input of shape %v, want rank 4 (NCHW)", op, shape))
	}
	c := shape[1]
	if !sameShape(gamma.Shape(), []int{c}) || !sameShape(beta.Shape(), []int{c}) {
		panic(fmt.Sprintf("engine.%s: gamma %v and beta %v for %d channels", op, gamma.Shape(), beta.Shape(), c))
	}
	if st == nil {
		return DefaultBNEps
	}
	if !sameShape(st.RunningMean.Shape(), []int{c}) || !sameShape(st.RunningVar.Shape(), []int{c}) {
		panic(fmt.Sprintf("engine.%s: running statistics of shapes %v and %v for %d channels",
			op, st.RunningMean.Shape(), st.RunningVar.Shape(), c))
	}
	return st.Eps
}

// bnPlanes returns the number of images, the plane size and the number of
// values per channel of an NCHW shape.
func bnPlanes(shape []int) (n, hw, m int) {
	n, hw = shape[0], shape[2]*shape[3]
	return n, hw, n * hw
}

// forChannels runs fn for every channel, in parallel when there is enough
// work (size is the number of elements touched in all).
func forChannels(c, size int, fn func(ch int)) {
	workers := min(kernel.Threads(), c)
	if size < 1<<15 || workers <= 1 {
		for ch := 0; ch < c; ch++ {
			fn(ch)
		}
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ch := w; ch < c; ch += workers {
				fn(ch)
			}
		}()
	}
	wg.Wait()
}

// BatchNormReLU2D returns ReLU(BatchNorm2D(x, gamma, beta, st, training)),
// with the same panics and the same update of st.
//
// In training mode it is one op: the normalised values are never kept, and
// the rectifier's mask is read from the output (positive exactly where the
// normalised value is), so a recorded graph holds the input and the output
// only, and the recorded backward pass holds no masked copy of the
// gradient. Every derivative is the one of the composition, to any order.
func BatchNormReLU2D[T Float](x, gamma, beta *Var[T], st *BNState[T], training bool) *Var[T] {
	if !training {
		return ReLU(BatchNorm2D(x, gamma, beta, st, false))
	}
	eps := checkBatchNorm("BatchNormReLU2D", x, gamma, beta, st)
	return batchNormTrain(x, gamma, beta, st, eps, true, nil, nil)
}

// BatchNormReLUMaxPool2D returns MaxPool2D(ReLU(BatchNorm2D(x, gamma, beta,
// st, training)), p), with the same panics and the same update of st.
//
// In training mode it is one op, like [BatchNormReLU2D], that also pools:
// a recorded graph holds the input, the pooled output and the pooling's
// argmax indices, and the recorded backward pass holds only the gradient
// of the pooled output where the composition held three full-size
// gradients. It pools before rectifying, which gives the same values and
// the same derivatives, to any order (the gradient of a window whose
// maximum is not positive is zero either way).
func BatchNormReLUMaxPool2D[T Float](x, gamma, beta *Var[T], st *BNState[T], training bool, p PoolParams) *Var[T] {
	if !training {
		if !(x.tracked || gamma.tracked || beta.tracked) {
			eps := checkBatchNorm("BatchNormReLUMaxPool2D", x, gamma, beta, st)
			return bnInferReLUMaxPool(x.value, gamma.value, beta.value, st, eps, p.shape("BatchNormReLUMaxPool2D", x.Shape()))
		}
		return MaxPool2D(ReLU(BatchNorm2D(x, gamma, beta, st, false)), p)
	}
	eps := checkBatchNorm("BatchNormReLUMaxPool2D", x, gamma, beta, st)
	s := p.shape("BatchNormReLUMaxPool2D", x.Shape())
	return batchNormTrain(x, gamma, beta, st, eps, true, &s, nil)
}

// bnInferReLUMaxPool is evaluation-mode BatchNormReLUMaxPool2D of
// constants: with running statistics, an affine map per channel, then the
// rectifier and the pooling, which poolAffineReLU fuses.
func bnInferReLUMaxPool[T Float](x, gamma, beta *Tensor[T], st *BNState[T], eps float64, s kernel.PoolShape) *Var[T] {
	scale, shift := make([]T, s.C), make([]T, s.C)
	for ch := range scale {
		scale[ch], shift[ch] = inferAffine(gamma.data[ch], beta.data[ch], st.RunningMean.data[ch], inferInvStd(st.RunningVar.data[ch], eps))
	}
	out, _ := poolAffineReLU(s, x.data, scale, shift)
	return freshConst(out)
}

// poolAffineReLU returns ReLU(MaxPool(a·x + b)) for x of the pooling's
// input shape, a and b per channel, and the argmax of the pooling.
func poolAffineReLU[T Float](s kernel.PoolShape, x, scale, shift []T) (*Tensor[T], []int32) {
	n, c := s.N, s.C
	hw, ohw := s.H*s.W, s.OutH()*s.OutW()
	out := newOverwritten[T](n, c, s.OutH(), s.OutW())
	argmax := makeIndex(out.Len())
	mp := kernel.NewMaxPoolPlane[T](s)
	forChannels(c, len(x), func(ch int) {
		for i := 0; i < n; i++ {
			o, po := (i*c+ch)*hw, (i*c+ch)*ohw
			mp.Pool(x[o:o+hw], out.data[po:po+ohw], argmax[po:po+ohw])
		}
		poolPlanesAffineReLU(s, mp, x, out.data, argmax, n, c, ch, scale[ch], shift[ch])
	})
	return out, argmax
}

// poolPlanesAffineReLU turns the max-pooled planes of channel ch (pooled
// from x of the pooling's input shape s by mp into y and argmax) into
// ReLU(MaxPool(a·x + b)). For a > 0 the map is monotone (so is its float
// rounding): mapping the maxima gives the values of mapping every element
// and pooling, without the full-size intermediate (in float32 up to a
// rounding of a·x, as ScaleShift32 fuses the multiply-add in its vector part
// only). With a ≤ 0 (rare: γ ≤ 0) each plane is mapped first and pooled
// again. A window with no input position (all padding) gets argmax 0
// instead of −1, which lets the backward passes skip the test: they mask by
// the output, which the ReLU cut there.
func poolPlanesAffineReLU[T Float](s kernel.PoolShape, mp *kernel.MaxPoolPlane[T], x, y []T, argmax []int32, n, c, ch int, a, b T) {
	hw, ohw := s.H*s.W, s.OutH()*s.OutW()
	padded := s.PadTop > 0 || s.PadLeft > 0 || s.PadBottom > 0 || s.PadRight > 0 || s.CeilMode
	var tmp []T
	for i := 0; i < n; i++ {
		yp, ap := y[(i*c+ch)*ohw:][:ohw], argmax[(i*c+ch)*ohw:][:ohw]
		if a > 0 {
			scaleShiftRun(yp, yp, a, b)
		} else {
			if tmp == nil {
				tmp = make([]T, hw)
			}
			scaleShiftRun(tmp, x[(i*c+ch)*hw:][:hw], a, b)
			mp.Pool(tmp, yp, ap)
		}
		leakyKernel(yp, yp, yp, 0)
		if padded {
			for j, v := range ap {
				if v < 0 {
					ap[j] = 0
				}
			}
		}
	}
}

// batchNormTrain is training-mode BatchNorm2D, followed by a ReLU when relu
// is set and then by max pooling of geometry pool when that is not nil
// (pooling is only fused together with the ReLU).
//
// pre, when not nil, holds the first pass's results, taken while x was
// being computed (see ConvBatchNormReLUMaxPool2D); it requires pool.
func batchNormTrain[T Float](x, gamma, beta *Var[T], st *BNState[T], eps float64, relu bool, pool *kernel.PoolShape, pre *bnPrepass[T]) *Var[T] {
	shape := cloneInts(x.Shape())
	c := shape[1]
	n, hw, m := bnPlanes(shape)
	xd, gd, bd := x.value.data, gamma.value.data, beta.value.data
	// Without pooling, out is the op's result; with pooling, the
	// normalised values are never stored (poolAffineReLU).
	var out *Tensor[T]
	var yd []T
	var argmax []int32
	var mp *kernel.MaxPoolPlane[T]
	ohw := 0
	switch {
	case pool == nil:
		out = New[T](shape...)
		yd = out.data
	case pre != nil:
		mp = kernel.NewMaxPoolPlane[T](*pool)
		out, argmax = pre.pooled, pre.argmax
	default:
		mp = kernel.NewMaxPoolPlane[T](*pool)
		ohw = pool.OutH() * pool.OutW()
		out = newOverwritten[T](n, c, pool.OutH(), pool.OutW())
		argmax = makeIndex(out.Len())
	}
	scales, shifts := make([]T, c), make([]T, c)
	// mean and invStd are kept for the fused backward pass; batchVar for the
	// running-statistics update.
	mean, invStd, batchVar := make([]float64, c), make([]float64, c), make([]float64, c)
	forChannels(c, len(xd), func(ch int) {
		// One pass over sums shifted by a sample of the channel: with the
		// shift near the mean, the variance keeps the accuracy of centred
		// values even when the mean is large compared with the spread.
		var k, s1, s2 float64
		if pre != nil {
			k, s1, s2 = pre.sums(ch, n, c, hw)
		} else if m > 0 {
			k = float64(xd[ch*hw])
		}
		for i := 0; i < n && pre == nil; i++ {
			xp := xd[(i*c+ch)*hw : (i*c+ch+1)*hw]
			a, b := shiftedSumsRun(xp, k)
			s1 += a
			s2 += b
			if pool != nil {
				// Pooled while the plane is in cache from the sums: with a
				// positive scale the affine map commutes with the maximum
				// (see poolAffineReLU), applied below.
				po := (i*c + ch) * ohw
				mp.Pool(xp, out.data[po:po+ohw], argmax[po:po+ohw])
			}
		}
		fm := float64(m)
		mu := k + s1/fm
		v := max(0, (s2-s1*s1/fm)/fm)
		is := 1 / math.Sqrt(v+eps)
		mean[ch], invStd[ch], batchVar[ch] = mu, is, v
		scale := float64(gd[ch]) * is
		shift := float64(bd[ch]) - mu*scale
		sc, sh := T(scale), T(shift)
		scales[ch], shifts[ch] = sc, sh
		if pool != nil {
			poolPlanesAffineReLU(*pool, mp, xd, out.data, argmax, n, c, ch, sc, sh)
			return
		}
		for i := 0; i < n; i++ {
			o := (i*c + ch) * hw
			scaleShiftRun(yd[o:o+hw], xd[o:o+hw], sc, sh)
			if relu {
				leakyKernel(yd[o:o+hw], yd[o:o+hw], yd[o:o+hw], 0)
			}
		}
	})
	if st != nil && st.Momentum != 0 {
		mom := st.Momentum
		unbias := 1.0
		if m > 1 {
			unbias = float64(m) / float64(m-1)
		}
		rm, rv := st.RunningMean.data, st.RunningVar.data
		for ch := 0; ch < c; ch++ {
			rm[ch] = T((1-mom)*float64(rm[ch]) + mom*mean[ch])
			rv[ch] = T((1-mom)*float64(rv[ch]) + mom*batchVar[ch]*unbias)
		}
	}
	stats := &bnStats{mean: mean, invStd: invStd, eps: eps}
	if pool != nil {
		stats.scale, stats.shift = make([]float64, c), make([]float64, c)
		for ch := range c {
			stats.scale[ch], stats.shift[ch] = float64(scales[ch]), float64(shifts[ch])
		}
	}
	op := "BatchNorm2D"
	switch {
	case pool != nil:
		op = "BatchNormReLUMaxPool2D"
	case relu:
		op = "BatchNormReLU2D"
	}
	return record(op, out, func(g, out *Var[T], in []*Var[T], need []bool) []*Var[T] {
		// The output is positive exactly where the ReLU passes, so it is
		// the mask; with pooling, argmax places each output's gradient.
		var ep *bnEpilogue[T]
		if relu {
			ep = &bnEpilogue[T]{out: out.value, pool: pool, argmax: argmax}
		}
		if !(g.tracked || in[0].tracked || in[1].tracked || in[2].tracked) {
			dx, dGamma, dBeta, _, _ := ep.bnBackward(g.value, in[0].value, in[1].value, stats, need[0])
			return []*Var[T]{dx, freshConst(dGamma), freshConst(dBeta)}
		}
		// Recording for a higher derivative: the same fused passes, as ops
		// of g (not of the masked gb, which is not kept) whose own backward
		// rules know the second derivatives.
		res := make([]*Var[T], 3)
		dx, dGamma, _, sumG, sumGXhat := ep.bnBackward(g.value, in[0].value, in[1].value, stats, need[0])
		if need[0] {
			res[0] = bnGradInput(dx, g, in[0], in[1], stats, ep)
		}
		if need[1] {
			res[1] = bnGradGamma(dGamma, sumG, sumGXhat, g, in[0], stats, ep)
		}
		if need[2] {
			c := in[0].Shape()[1]
			if ep == nil {
				res[2] = Reshape(SumTo(g, []int{1, c, 1, 1}), c)
			} else {
				res[2] = bnGradBeta(sumG, g, in[0].Shape(), ep)
			}
		}
		return res
	}, x, gamma, beta)
}

// bnEpilogue is what follows the normalisation in a fused op: a ReLU, and
// optionally max pooling. A nil *bnEpilogue stands for none. The backward
// rules see it through expand, the map from the gradient of the op's output
// to the gradient of the normalised values, and its adjoint contract; both
// are linear, with the mask and argmax fixed. With pooling, the unrecorded
// passes apply them sparsely instead (batchnorm_pool.go).
type bnEpilogue[T Float] struct {
	out    *Tensor[T]        // the op's output: positive where the ReLU passes
	pool   *kernel.PoolShape // nil: no pooling
	argmax []int32           // with pool, the input position of each output
}

// bnBackward is bnBackward for g, the gradient of the fused op's output,
// with dx (nil unless wantDx) as a fresh value or, with pooling, a deferred
// contribution (see Var.deposit).
func (e *bnEpilogue[T]) bnBackward(g, x, gamma *Tensor[T], s *bnStats, wantDx bool) (dx *Var[T], dGamma, dBeta *Tensor[T], sumG, sumGXhat []float64) {
	if e != nil && e.pool != nil {
		return bnPoolBackward(e, g, x, gamma, s, wantDx)
	}
	dxt, dGamma, dBeta, sumG, sumGXhat := bnBackward(e.expand(g), x, gamma, s, wantDx) // the expanded g is a transient
	if dxt != nil {
		dx = freshConst(dxt)
	}
	return dx, dGamma, dBeta, sumG, sumGXhat
}

// expand returns the gradient of the normalised values for g, the gradient
// of the output, for an epilogue without pooling: g masked.
func (e *bnEpilogue[T]) expand(g *Tensor[T]) *Tensor[T] {
	if e == nil {
		return g
	}
	m := New[T](g.shape...)
	leakyKernel(m.data, g.data, e.out.data, 0)
	return m
}

// contract is the adjoint of expand: d masked, in place.
func (e *bnEpilogue[T]) contract(d *Tensor[T]) *Tensor[T] {
	if e != nil {
		leakyKernel(d.data, d.data, e.out.data, 0)
	}
	return d
}

// expandVar is expand recorded, from differentiable ops; with pooling,
// the masked g is then scattered to the argmax positions.
func (e *bnEpilogue[T]) expandVar(g *Var[T]) *Var[T] {
	if e == nil {
		return g
	}
	m := leakyGrad(g, Const(e.out), 0)
	if e.pool == nil {
		return m
	}
	return maxPoolScatter(m, *e.pool, e.argmax)
}

// contractVar is contract recorded, from differentiable ops; with pooling,
// d is first gathered from the argmax positions.
func (e *bnEpilogue[T]) contractVar(d *Var[T]) *Var[T] {
	if e == nil {
		return d
	}
	if e.pool != nil {
		d = maxPoolGather(d, *e.pool, e.argmax)
	}
	return leakyGrad(d, Const(e.out), 0)
}

// spread returns contract(h broadcast over the normalised values), h of
// shape [C]: h[c] wherever the output of channel c is positive, zero
// elsewhere.
func (e *bnEpilogue[T]) spread(h *Tensor[T]) *Tensor[T] {
	sh := e.out.shape
	c, plane := sh[1], sh[2]*sh[3]
	res := newOverwritten[T](sh...)
	for pl := 0; pl < sh[0]*c; pl++ {
		rs := res.data[pl*plane : (pl+1)*plane]
		fillValue(rs, h.data[pl%c])
		leakyKernel(rs, rs, e.out.data[pl*plane:(pl+1)*plane], 0)
	}
	return res
}

// bnGradBeta records dβ = Σ expand(g) over N, H and W, given those sums
// (of shape [C]): the β gradient of a fused op, as an op of g, so that the
// expanded gradient (of shape xShape) is not kept. Its adjoint spreads h
// over the normalised values and contracts.
func bnGradBeta[T Float](sums []float64, g *Var[T], xShape []int, e *bnEpilogue[T]) *Var[T] {
	c := len(sums)
	out := New[T](c)
	for ch, v := range sums {
		out.data[ch] = T(v)
	}
	return record("BatchNorm2DGradBeta", out, func(h, _ *Var[T], _ []*Var[T], _ []bool) []*Var[T] {
		if !h.tracked {
			return []*Var[T]{freshConst(e.spread(h.value))}
		}
		return []*Var[T]{e.contractVar(BroadcastTo(Reshape(h, 1, c, 1, 1), xShape))}
	}, g)
}

// bnStats are the per-channel batch statistics of a training-mode forward
// pass, kept for its backward pass and the backward ops it creates (they
// all see the same x).
type bnStats struct {
	mean, invStd []float64
	eps          float64
	// scale and shift, with pooling, are the per-channel affine map the
	// forward pass applied (as rounded to the element type): the pooled
	// output is ReLU(scale·x + shift) at each window's argmax.
	scale, shift []float64
}

// fromOutput reports whether the values x − μ at the argmax positions of
// channel ch may be read back from the pooled output, as
// (out − β′)/scale with β′ = shift + μ·scale, where the output is positive,
// instead of gathering x from the full-size input: the first-order backward
// pass then reads no full-size tensor but x for its dense part. It needs a
// positive scale and |β′| ≤ 16·scale/invStd (|β/γ| ≤ 16): out carries one
// rounding of its own size, so the value read back is off by at most
// ε·(|x̂| + |β/γ|)/invStd, about 17 float32 roundings of the spread.
func (s *bnStats) fromOutput(ch int) (scale, betaP float64, ok bool) {
	if s.scale == nil {
		return 0, 0, false
	}
	sc := s.scale[ch]
	bp := s.shift[ch] + s.mean[ch]*sc
	if !(sc > 0) || math.Abs(bp)*s.invStd[ch] > 16*sc {
		return 0, 0, false
	}
	return sc, bp, true
}

// channelRuns calls fn with the offset of each of channel ch's n planes.
func channelRuns(n, c, hw, ch int, fn func(o int)) {
	for i := 0; i < n; i++ {
		fn((i*c + ch) * hw)
	}
}

// bnBackward computes the gradients of training-mode batch normalisation in
// two passes over the data:
//
//	dβ = Σ g,  dγ = Σ g·x̂,  dx = γ·invStd·(g − dβ/M − x̂·dγ/M)
//
// with sums over N, H and W and M values per channel. dx is nil unless
// wantDx. It also returns dβ and dγ in float64, for reuse.
func bnBackward[T Float](g, x, gamma *Tensor[T], s *bnStats, wantDx bool) (dx, dGamma, dBeta *Tensor[T], sumG, sumGXhat []float64) {
	c := x.shape[1]
	n, hw, m := bnPlanes(x.shape)
	xd, gd := x.data, g.data
	dBeta, dGamma = New[T](c), New[T](c)
	sumG, sumGXhat = make([]float64, c), make([]float64, c)
	if wantDx {
		dx = New[T](x.shape...)
	}
	forChannels(c, 2*len(xd), func(ch int) {
		mu, is := s.mean[ch], s.invStd[ch]
		var sg, sgx float64
		channelRuns(n, c, hw, ch, func(o int) {
			a, b := gradSumsRun(gd[o:o+hw], xd[o:o+hw], mu)
			sg += a
			sgx += b
		})
		sgx *= is // Σ g·x̂
		dBeta.data[ch], dGamma.data[ch] = T(sg), T(sgx)
		sumG[ch], sumGXhat[ch] = sg, sgx
		if dx == nil {
			return
		}
		// dx = a·g + b·x + d with per-channel constants.
		k := float64(gamma.data[ch]) * is
		b := -k * is * sgx / float64(m)
		ta, tb, td := T(k), T(b), T(-k*sg/float64(m)-b*mu)
		channelRuns(n, c, hw, ch, func(o int) {
			axpbycRun(dx.data[o:o+hw], gd[o:o+hw], xd[o:o+hw], ta, tb, td)
		})
	})
	return dx, dGamma, dBeta, sumG, sumGXhat
}

// bnGradInput records dx, computed by bnBackward, as an op of (g, x, gamma).
// With an epilogue, g is the gradient of the fused op's output and is
// expanded before use. Its backward pass is fused for first order;
// recorded, it is composed from primitives. A deferred dx (with pooling)
// stays deferred as the result's lazy value (see Var.lazy).
func bnGradInput[T Float](dx *Var[T], g, x, gamma *Var[T], s *bnStats, ep *bnEpilogue[T]) *Var[T] {
	value := dx.value
	if dx.deposit != nil {
		value = &Tensor[T]{shape: cloneInts(dx.Shape())}
	}
	v := record("BatchNorm2DGradInput", value, func(h, _ *Var[T], in []*Var[T], _ []bool) []*Var[T] {
		if h.tracked || in[0].tracked || in[1].tracked || in[2].tracked {
			return bnEpilogueComposedVJP(0, h, in, s.eps, ep)
		}
		if ep != nil && ep.pool != nil {
			return bnPoolGradInputVJP(ep, h.value, in[0].value, in[1].value, in[2].value, s)
		}
		res := bnGradInputVJP(h.value, ep.expand(in[0].value), in[1].value, in[2].value, s)
		res[0] = freshConst(ep.contract(res[0].value))
		return res
	}, g, x, gamma)
	if dx.deposit != nil {
		v.lazy, v.planeSums = dx, dx.planeSums
	}
	return v
}

// bnEpilogueComposedVJP is bnComposedVJP where in[0] is the gradient of the
// output of a fused op with epilogue ep: in[0] is expanded before, and the
// gradient with respect to it contracted after.
func bnEpilogueComposedVJP[T Float](k int, seed *Var[T], in []*Var[T], eps float64, ep *bnEpilogue[T]) []*Var[T] {
	if ep == nil {
		return bnComposedVJP(k, seed, in, eps)
	}
	ei := append([]*Var[T]{ep.expandVar(in[0])}, in[1:]...)
	res := bnComposedVJP(k, seed, ei, eps)
	res[0] = ep.contractVar(res[0])
	return res
}

// bnGradInputVJP returns the gradients of <H, dx(g, x, γ)> in two passes.
// Per channel, with x̂ = (x − μ)·is, sums over the M values and
// A = Σ H·x̂, B = Σ g·x̂, Q = Σ H·g − ΣH·Σg/M − A·B/M:
//
//	∂/∂g = γ·is·(H − ΣH/M − x̂·A/M)
//	∂/∂γ = is·Q
//	∂/∂x = −(γ·is²/M)·(x̂·(Q − 2AB/M) + B·(H − ΣH/M) + A·(g − Σg/M))
func bnGradInputVJP[T Float](h, g, x, gamma *Tensor[T], s *bnStats) []*Var[T] {
	c := x.shape[1]
	n, hw, m := bnPlanes(x.shape)
	hd, gd, xd := h.data, g.data, x.data
	dg, dx, dGamma := New[T](x.shape...), New[T](x.shape...), New[T](c)
	fm := float64(m)
	forChannels(c, 3*len(xd), func(ch int) {
		mu, is, gam := s.mean[ch], s.invStd[ch], float64(gamma.data[ch])
		var sh, sg, shx, sgx, shg float64
		channelRuns(n, c, hw, ch, func(o int) {
			xs, gs := xd[o:o+hw], gd[o:o+hw]
			for j, hv := range hd[o : o+hw] {
				hf, gf, d := float64(hv), float64(gs[j]), float64(xs[j])-mu
				sh += hf
				sg += gf
				shx += hf * d
				sgx += gf * d
				shg += hf * gf
			}
		})
		a, b := shx*is, sgx*is
		q := shg - sh*sg/fm - a*b/fm
		dGamma.data[ch] = T(is * q)
		// ∂/∂g = k1·H + k2·(x − μ) + k3
		k1, k2, k3 := gam*is, -gam*is*is*a/fm, -gam*is*sh/fm
		// ∂/∂x = c0·(x − μ) + c1·H + c2·g + c3
		cm := -gam * is * is / fm
		c0, c1, c2, c3 := cm*is*(q-2*a*b/fm), cm*b, cm*a, -cm*(b*sh+a*sg)/fm
		tk1, tk2, tk3 := T(k1), T(k2), T(k3-k2*mu)
		tc0, tc1, tc2, tc3 := T(c0), T(c1), T(c2), T(c3-c0*mu)
		channelRuns(n, c, hw, ch, func(o int) {
			xs, gs, og, ox := xd[o:o+hw], gd[o:o+hw], dg.data[o:o+hw], dx.data[o:o+hw]
			for j, hv := range hd[o : o+hw] {
				og[j] = tk1*hv + tk2*xs[j] + tk3
				ox[j] = tc0*xs[j] + tc1*hv + tc2*gs[j] + tc3
			}
		})
	})
	return []*Var[T]{freshConst(dg), freshConst(dx), freshConst(dGamma)}
}

// bnGradGamma records dγ = Σ g·x̂, computed by bnBackward with the sums
// that go with it, as an op of (g, x), with the same backward-pass
// arrangement (and epilogue) as bnGradInput.
func bnGradGamma[T Float](dGamma *Tensor[T], sumG, sumGXhat []float64, g, x *Var[T], s *bnStats, ep *bnEpilogue[T]) *Var[T] {
	return record("BatchNorm2DGradGamma", dGamma, func(h, _ *Var[T], in []*Var[T], _ []bool) []*Var[T] {
		if h.tracked || in[0].tracked || in[1].tracked {
			return bnEpilogueComposedVJP(1, h, in, s.eps, ep)
		}
		// in holds the values the sums were taken over (once expanded).
		if ep != nil && ep.pool != nil {
			return bnPoolGradGammaVJP(ep, h.value, in[0].value, in[1].value, s, sumG, sumGXhat)
		}
		res := bnGradGammaVJP(h.value, ep.expand(in[0].value), in[1].value, s, sumG, sumGXhat)
		res[0] = freshConst(ep.contract(res[0].value))
		return res
	}, g, x)
}

// bnGradGammaVJP returns the gradients of <h, dγ(g, x)> for h of shape [C]
// in one pass, given the sums Σg and B = Σ g·x̂ per channel:
//
//	∂/∂g = h·x̂,  ∂/∂x = h·is·(g − Σg/M − x̂·B/M).
func bnGradGammaVJP[T Float](h, g, x *Tensor[T], s *bnStats, sumG, sumGXhat []float64) []*Var[T] {
	c := x.shape[1]
	n, hw, m := bnPlanes(x.shape)
	gd, xd := g.data, x.data
	dg, dx := New[T](x.shape...), New[T](x.shape...)
	forChannels(c, 2*len(xd), func(ch int) {
		mu, is, hv := s.mean[ch], s.invStd[ch], float64(h.data[ch])
		sg, b := sumG[ch], sumGXhat[ch]
		// ∂/∂g = k·(x − μ); ∂/∂x = c1·g + c0·(x − μ) + c2
		k := hv * is
		c1, c0, c2 := hv*is, -hv*is*is*b/float64(m), -hv*is*sg/float64(m)
		tk, tkm := T(k), T(-k*mu)
		tc1, tc0, tc2 := T(c1), T(c0), T(c2-c0*mu)
		channelRuns(n, c, hw, ch, func(o int) {
			xs, gs, og, ox := xd[o:o+hw], gd[o:o+hw], dg.data[o:o+hw], dx.data[o:o+hw]
			for j, xv := range xs {
				og[j] = tk*xv + tkm
				ox[j] = tc1*gs[j] + tc0*xv + tc2
			}
		})
	})
	return []*Var[T]{freshConst(dg), freshConst(dx)}
}

// bnComposedVJP differentiates output k (0: dx, 1: dγ) of the backward pass
// composed from primitive ops with seed, recording the result: the third
// and higher derivatives. The inputs pass through identity ops first so
// that the gradient is the partial one with respect to each input, even
// when one input (g) depends on another (x) in the enclosing graph.
func bnComposedVJP[T Float](k int, seed *Var[T], in []*Var[T], eps float64) []*Var[T] {
	ids := make([]*Var[T], len(in))
	for i, v := range in {
		ids[i] = identity(v)
	}
	gamma := Const(Full[T](1, in[1].Shape()[1]))
	if len(ids) > 2 {
		gamma = ids[2]
	}
	out := batchNormTrainBackwardGraph(ids[0], ids[1], gamma, eps)[k]
	return GradSeed([]*Var[T]{out}, []*Var[T]{seed}, ids, true)
}

// identity returns a new graph node with x's value (shared).
func identity[T Float](x *Var[T]) *Var[T] {
	return record("Identity", x.value, func(g, _ *Var[T], _ []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{g}
	}, x)
}

// batchNormTrainBackwardGraph computes the same gradients as the fused pass
// with differentiable ops, recomputing the batch statistics from x so that
// second derivatives flow through them. Per-channel values are kept as
// [1,C,1,1] views that broadcast, so only the unavoidable full-size
// intermediates are materialised.
func batchNormTrainBackwardGraph[T Float](g, x, gamma *Var[T], eps float64) []*Var[T] {
	shape := x.Shape()
	c := shape[1]
	_, _, m := bnPlanes(shape)
	invM := 1 / T(m)
	ch := []int{1, c, 1, 1}
	xc := Sub(x, Scale(SumTo(x, ch), invM))
	variance := Scale(SumTo(Mul(xc, xc), ch), invM)
	invStd := Div(Const(Full[T](1, ch...)), Sqrt(AddScalar(variance, T(eps))))
	xhat := Mul(xc, invStd)
	dBeta := SumTo(g, ch)
	dGamma := SumTo(Mul(g, xhat), ch)
	centred := Sub(Sub(g, Scale(dBeta, invM)), Mul(xhat, Scale(dGamma, invM)))
	// The full-size operand goes first: that is the broadcast fast path.
	dx := Mul(centred, Mul(Reshape(gamma, ch...), invStd))
	return []*Var[T]{dx, Reshape(dGamma, c), Reshape(dBeta, c)}
}

// inferInvStd is 1/√(v+ε) for a running variance v, rounded to T.
func inferInvStd[T Float](v T, eps float64) T { return T(1 / math.Sqrt(float64(v)+eps)) }

// inferAffine returns the scale and shift of evaluation-mode batch norm for
// one channel: y = γ·(x − μ)·invStd + β = scale·x + shift. Every
// evaluation-mode path rounds them here, so they agree bit for bit.
func inferAffine[T Float](gamma, beta, mean, invStd T) (scale, shift T) {
	sc := float64(gamma) * float64(invStd)
	return T(sc), T(float64(beta) - float64(mean)*sc)
}

func batchNormInfer[T Float](x, gamma, beta *Var[T], st *BNState[T], eps float64) *Var[T] {
	shape := cloneInts(x.Shape())
	c := shape[1]
	n, hw, _ := bnPlanes(shape)
	// Copies: the running statistics may change after this call, but the
	// backward pass must see the values used here.
	runMean := st.RunningMean.Clone()
	invStd := New[T](c)
	for ch, v := range st.RunningVar.data {
		invStd.data[ch] = inferInvStd(v, eps)
	}
	xd, gd, bd := x.value.data, gamma.value.data, beta.value.data
	out := New[T](shape...)
	forChannels(c, len(xd), func(ch int) {
		sc, sh := inferAffine(gd[ch], bd[ch], runMean.data[ch], invStd.data[ch])
		for i := 0; i < n; i++ {
			o := (i*c + ch) * hw
			scaleShiftRun(out.data[o:o+hw], xd[o:o+hw], sc, sh)
		}
	})
	return record("BatchNorm2D", out, func(g, _ *Var[T], in []*Var[T], need []bool) []*Var[T] {
		// With fixed statistics the map is affine in x, so plain ops are
		// as cheap as a fused pass would be.
		res := make([]*Var[T], 3)
		ch := []int{1, c, 1, 1}
		is := Const(invStd.Reshape(ch...))
		if need[0] {
			res[0] = Mul(g, Mul(Reshape(in[1], ch...), is))
		}
		if need[1] {
			xhat := Mul(Sub(in[0], Const(runMean.Reshape(ch...))), is)
			res[1] = Reshape(SumTo(Mul(g, xhat), ch), c)
		}
		if need[2] {
			res[2] = Reshape(SumTo(g, ch), c)
		}
		return res
	}, x, gamma, beta)
}

// The reductions below keep four partial sums so that the additions do not
// wait on each other, and accumulate in float64 for float32 data.

// sumRun returns Σ x.
func sumRun[T Float](x []T) float64 {
	if x32, ok := any(x).([]float32); ok {
		return kernel.Sum32(x32)
	}
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i])
		s1 += float64(x[i+1])
		s2 += float64(x[i+2])
		s3 += float64(x[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// shiftedSumsRun returns Σ (x − k) and Σ (x − k)².
func shiftedSumsRun[T Float](x []T, k float64) (s1, s2 float64) {
	if x32, ok := any(x).([]float32); ok {
		return kernel.ShiftedSums32(x32, k)
	}
	var a0, a1, b0, b1 float64
	i := 0
	for ; i+2 <= len(x); i += 2 {
		d0, d1 := float64(x[i])-k, float64(x[i+1])-k
		a0 += d0
		a1 += d1
		b0 += d0 * d0
		b1 += d1 * d1
	}
	for ; i < len(x); i++ {
		d := float64(x[i]) - k
		a0 += d
		b0 += d * d
	}
	return a0 + a1, b0 + b1
}

// gradSumsRun returns Σ g and Σ g·(x − mu) over equal-length runs.
func gradSumsRun[T Float](g, x []T, mu float64) (sg, sgx float64) {
	if g32, ok := any(g).([]float32); ok {
		return kernel.GradSums32(g32, any(x).([]float32), mu)
	}
	x = x[:len(g)]
	var a0, a1, b0, b1 float64
	i := 0
	for ; i+2 <= len(g); i += 2 {
		g0, g1 := float64(g[i]), float64(g[i+1])
		a0 += g0
		a1 += g1
		b0 += g0 * (float64(x[i]) - mu)
		b1 += g1 * (float64(x[i+1]) - mu)
	}
	for ; i < len(g); i++ {
		a0 += float64(g[i])
		b0 += float64(g[i]) * (float64(x[i]) - mu)
	}
	return a0 + a1, b0 + b1
}

// keptSumsRun returns Σ g and Σ g·keep over the positions where keep is
// positive (the ReLU's mask, as in scatterKeptAdd); keep is at least as long
// as g.
func keptSumsRun[T Float](g, keep []T) (sg, sgk float64) {
	if g32, ok := any(g).([]float32); ok {
		return kernel.KeptSums32(g32, any(keep).([]float32))
	}
	for j, v := range g {
		if kept(keep[j]) {
			sg += float64(v)
			sgk += float64(v) * float64(keep[j])
		}
	}
	return sg, sgk
}

// kept reports whether the ReLU's mask passes where the output is v: v > 0,
// or for float32 and float64 a NaN with the sign bit clear, as leakyKernel
// and scatterKeptAdd test it.
func kept[T Float](v T) bool {
	switch f := any(v).(type) {
	case float32:
		return int32(math.Float32bits(f)) > 0
	case float64:
		return int64(math.Float64bits(f)) > 0
	}
	return v > 0
}

// gatherGradSumsRun returns Σ g and Σ g·(x[idx] − mu) over the positions
// where keep is positive (the ReLU's mask, as in scatterKeptAdd); keep and
// idx are at least as long as g.
func gatherGradSumsRun[T Float](g, keep, x []T, idx []int32, mu float64) (sg, sgx float64) {
	if g32, ok := any(g).([]float32); ok {
		return kernel.GatherGradSums32(g32, any(keep).([]float32), any(x).([]float32), idx, mu)
	}
	idx = idx[:len(g)]
	for j, v := range g {
		if kept(keep[j]) {
			sg += float64(v)
			sgx += float64(v) * (float64(x[idx[j]]) - mu)
		}
	}
	return sg, sgx
}

// scaleShiftRun sets dst = x·a + b over equal-length runs.
func scaleShiftRun[T Float](dst, x []T, a, b T) {
	if d32, ok := any(dst).([]float32); ok {
		kernel.ScaleShift32(d32, any(x).([]float32), float32(a), float32(b))
		return
	}
	x = x[:len(dst)]
	for j, v := range x {
		dst[j] = v*a + b
	}
}

// addAxpbycRun adds a·g + b·x + c to dst over equal-length runs.
func addAxpbycRun[T Float](dst, g, x []T, a, b, c T) {
	if d32, ok := any(dst).([]float32); ok {
		kernel.AddAxpbyc32(d32, any(g).([]float32), any(x).([]float32), float32(a), float32(b), float32(c))
		return
	}
	g, x = g[:len(dst)], x[:len(dst)]
	for j, v := range g {
		dst[j] += a*v + b*x[j] + c
	}
}

// gatherAxpbycRun sets dst[j] = a·g[idx[j]] + b·x[idx[j]] + c, with g and
// x of equal length.
func gatherAxpbycRun[T Float](dst, g, x []T, idx []int32, a, b, c T) {
	if d32, ok := any(dst).([]float32); ok {
		kernel.GatherAxpbyc32(d32, any(g).([]float32), any(x).([]float32), idx, float32(a), float32(b), float32(c))
		return
	}
	for j, i := range idx[:len(dst)] {
		dst[j] = a*g[i] + b*x[i] + c
	}
}

// axpbycRun sets dst = a·g + b·x + c over equal-length runs.
func axpbycRun[T Float](dst, g, x []T, a, b, c T) {
	if d32, ok := any(dst).([]float32); ok {
		kernel.Axpbyc32(d32, any(g).([]float32), any(x).([]float32), float32(a), float32(b), float32(c))
		return
	}
	g, x = g[:len(dst)], x[:len(dst)]
	for j, v := range g {
		dst[j] = a*v + b*x[j] + c
	}
}
