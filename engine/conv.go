package engine

import (
	"fmt"

	"github.com/fewshot-go/fewshot/internal/kernel"
)

// ConvParams is the geometry of a 2-D convolution beyond the tensor shapes.
// Zero values of StrideH, StrideW, DilH, DilW and Groups mean 1, so the zero
// ConvParams is a stride-1, unpadded, undilated, ungrouped convolution.
type ConvParams struct {
	StrideH, StrideW                     int
	PadTop, PadLeft, PadBottom, PadRight int
	DilH, DilW                           int
	Groups                               int
}

// ConvSame returns the parameters of a stride-s convolution padded by pad on
// every side, the common case (pad 1 with a 3×3 kernel keeps the size).
func ConvSame(stride, pad int) ConvParams {
	return ConvParams{StrideH: stride, StrideW: stride, PadTop: pad, PadLeft: pad, PadBottom: pad, PadRight: pad}
}

// OutputSize returns the output height and width of convolving a c×h×w
// input with k filters of size r×s, or an error naming what does not fit
// (channels not divisible by the groups, a kernel larger than the padded
// input, a negative padding).
func (p ConvParams) OutputSize(c, h, w, k, r, s int) (oh, ow int, err error) {
	cs := p.kernelShape(1, c, h, w, k, r, s)
	if err := cs.Validate(); err != nil {
		return 0, 0, err
	}
	return cs.OutH(), cs.OutW(), nil
}

func (p ConvParams) kernelShape(n, c, h, w, k, r, s int) kernel.ConvShape {
	return kernel.ConvShape{
		N: n, C: c, H: h, W: w, K: k, R: r, S: s,
		StrideH: p.StrideH, StrideW: p.StrideW,
		PadTop: p.PadTop, PadLeft: p.PadLeft, PadBottom: p.PadBottom, PadRight: p.PadRight,
		DilH: p.DilH, DilW: p.DilW, Groups: p.Groups,
	}
}

// shape returns the kernel geometry of convolving an input of shape x
// ([N,C,H,W]) with weights of shape w ([K,C/G,R,S]); it panics, naming op,
// when the shapes do not fit together.
func (p ConvParams) shape(op string, x, w []int) kernel.ConvShape {
	if len(x) != 4 || len(w) != 4 {
		panic(fmt.Sprintf("engine.%s: input %v and weights %v must both have rank 4 (NCHW, KCRS)", op, x, w))
	}
	s := p.kernelShape(x[0], x[1], x[2], x[3], w[0], w[2], w[3])
	if err := s.Validate(); err != nil {
		panic(fmt.Sprintf("engine.%s: input %v, weights %v: %v", op, x, w, err))
	}
	if g := max(p.Groups, 1); w[1]*g != x[1] {
		panic(fmt.Sprintf("engine.%s: weights %v need %d input channels with %d groups, input %v has %d",
			op, w, w[1]*g, g, x, x[1]))
	}
	return s
}

// Conv2D returns the 2-D cross-correlation of x ([N,C,H,W]) with the filters
// w ([K,C/Groups,R,S]) plus the bias b ([K], or nil for none), of shape
// [N,K,OH,OW]. It panics if the shapes do not fit p.
//
// Its backward pass uses [Conv2DGradInput] and [Conv2DGradWeight], whose own
// backward passes are again convolutions, so it is differentiable to any
// order.
func Conv2D[T Float](x, w, b *Var[T], p ConvParams) *Var[T] { return conv2DThen(x, w, b, p, nil) }

// conv2DThen is Conv2D; with each not nil, it computes the output through
// kernel.Conv2DEach (never Winograd) and calls each(y, n0, n1) for each run
// of images as that describes, y being the whole output.
func conv2DThen[T Float](x, w, b *Var[T], p ConvParams, each func(y []T, n0, n1 int)) *Var[T] {
	s := p.shape("Conv2D", x.Shape(), w.Shape())
	var bias []T
	inputs := []*Var[T]{x, w}
	if b != nil {
		if !sameShape(b.Shape(), []int{s.K}) {
			panic(fmt.Sprintf("engine.Conv2D: bias of shape %v for %d output channels", b.Shape(), s.K))
		}
		bias = b.value.data
		inputs = append(inputs, b)
	}
	out := newOverwritten[T](s.N, s.K, s.OutH(), s.OutW())
	if each != nil {
		kernel.Conv2DEach(s, x.value.data, w.value.data, bias, out.data, func(n0, n1 int) { each(out.data, n0, n1) })
	} else {
		convForward(s, x.value.data, w.value.data, bias, out.data)
	}
	y := markFresh(record("Conv2D", out, func(g, out *Var[T], in []*Var[T], need []bool) []*Var[T] {
		res := make([]*Var[T], len(in))
		if g.deposit != nil {
			// Without the input gradient (a first layer), the filter
			// gradient takes g an image at a time, and the bias gradient
			// its plane sums: g is never built.
			if !need[0] && filterGradImagewise[T](s) && (len(in) < 3 || !need[2] || len(g.planeSums) == s.K) {
				if need[1] {
					res[1] = convGradWeightImagewise(s, in, out, g)
				}
				if len(in) > 2 && need[2] {
					res[2] = convBiasGrad(g)
				}
				return res
			}
			g = materialize(g)
		}
		if g.lazy != nil {
			// Recorded, from a lazy gradient (see Var.lazy) of a first
			// layer: the filter gradient takes it an image at a time,
			// and the recorded ops never read its value.
			if !need[0] && !in[0].tracked && filterGradImagewise[T](s) && (len(in) < 3 || !need[2] || len(g.planeSums) == s.K) {
				if need[1] {
					dw := convGradWeightImagewise(s, in, out, g.lazy)
					res[1] = recordConv2DGradWeight(in[0], g, dw.value, p)
				}
				if len(in) > 2 && need[2] {
					res[2] = convBiasGrad(g)
				}
				return res
			}
			ensure(g)
		}
		if need[0] {
			res[0] = convGradInputDeferred(g, in[1], in[0].Shape(), p)
		}
		if need[1] {
			res[1] = Conv2DGradWeight(in[0], g, in[1].Shape(), p)
		}
		if len(in) > 2 && need[2] {
			res[2] = convBiasGrad(g)
		}
		return res
	}, inputs...))
	if y.fn != nil {
		y.fn.imagewise = true
	}
	return y
}

// convGradWeightImagewise returns the filter gradient of the convolution
// with inputs in (x, w and maybe the bias) and output out, for the output
// gradient g deferred an image at a time (Var.depositImage). When g is an
// affine map of out itself plus a sparse part (Var.affine: a batch norm's
// backward pass), the affine part's gradient comes from the patch Gram
// matrix of x (kernel.ConvPatchGram) where that is cheap, and only the
// sparse part is built, image by image: out is not read again.
func convGradWeightImagewise[T Float](s kernel.ConvShape, in []*Var[T], out, g *Var[T]) *Var[T] {
	dw := newOverwritten[T](in[1].Shape()...)
	af := g.affine
	// float64 (the gradient checks) always takes the Gram route.
	if af == nil || len(af.of) == 0 || &af.of[0] != &out.value.data[0] || max(s.Groups, 1) != 1 ||
		(isFloat32[T]() && !kernel.ConvPatchGramCheap(s)) {
		kernel.Conv2DBackwardFilterFunc(s, in[0].value.data, g.depositImage, dw.data)
		return freshConst(dw)
	}
	kernel.Conv2DBackwardFilterFunc(s, in[0].value.data, af.sparse, dw.data)
	crs := dw.Len() / s.K
	gram, sums := make([]float64, crs*crs), make([]float64, crs)
	kernel.ConvPatchGram(s, in[0].value.data, gram, sums)
	wd := in[1].value.data
	for k := range s.K {
		// Σ_pixels (b·y + d)·P = b·(w·gram + bias·sums) + d·sums.
		var bias float64
		if len(in) > 2 {
			bias = float64(in[2].value.data[k])
		}
		b, d := float64(af.b[k]), float64(af.d[k])
		for q := range crs {
			v := bias * sums[q]
			for p := range crs {
				v += float64(wd[k*crs+p]) * gram[p*crs+q]
			}
			dw.data[k*crs+q] += T(b*v + d*sums[q])
		}
	}
	return freshConst(dw)
}

// filterGradImagewise reports whether convBackwardFilter would take the
// direct kernel for s, which also takes the output gradient an image at a
// time (kernel.Conv2DBackwardFilterFunc); the Winograd filter gradient
// needs it whole.
func filterGradImagewise[T Float](s kernel.ConvShape) bool {
	return !isFloat32[T]() || !kernel.WinogradBackwardFilterSuits(s)
}

// isFloat32 reports whether T is float32: the fast kernels' type.
func isFloat32[T Float]() bool {
	var z T
	_, ok := any(z).(float32)
	return ok
}

// Conv2DGradInput returns the gradient of Conv2D with respect to its input:
// the transposed convolution of g ([N,K,OH,OW]) with w, of shape xShape. It is
// linear in g and in w.
func Conv2DGradInput[T Float](g, w *Var[T], xShape []int, p ConvParams) *Var[T] {
	s := p.shape("Conv2DGradInput", xShape, w.Shape())
	checkConvOut("Conv2DGradInput", s, g.Shape())
	out := newOverwritten[T](xShape...)
	convBackwardData(s, g.value.data, w.value.data, out.data)
	return markFresh(record("Conv2DGradInput", out, func(gg, _ *Var[T], in []*Var[T], need []bool) []*Var[T] {
		// <gg, Aᵀ_w g> = <A_w gg, g>: the adjoint of the transposed
		// convolution is the convolution, and as a function of w it is the
		// filter gradient of convolving gg.
		res := make([]*Var[T], 2)
		if need[0] {
			res[0] = convDeferred(gg, in[1], p)
		}
		if need[1] {
			res[1] = Conv2DGradWeight(gg, in[0], in[1].Shape(), p)
		}
		return res
	}, g, w))
}

// Conv2DGradWeight returns the gradient of Conv2D with respect to its
// weights: the correlation of the input x with the output gradient g
// ([N,K,OH,OW]) summed over the batch, of shape wShape. It is linear in x and
// in g.
func Conv2DGradWeight[T Float](x, g *Var[T], wShape []int, p ConvParams) *Var[T] {
	s := p.shape("Conv2DGradWeight", x.Shape(), wShape)
	checkConvOut("Conv2DGradWeight", s, g.Shape())
	out := newOverwritten[T](wShape...)
	convBackwardFilter(s, x.value.data, g.value.data, out.data)
	return recordConv2DGradWeight(x, g, out, p)
}

// recordConv2DGradWeight returns dw, the filter gradient of convolving x
// with output gradient g, as Conv2DGradWeight records it.
func recordConv2DGradWeight[T Float](x, g *Var[T], dw *Tensor[T], p ConvParams) *Var[T] {
	return markFresh(record("Conv2DGradWeight", dw, func(gg, _ *Var[T], in []*Var[T], need []bool) []*Var[T] {
		// <gg, dW(x, g)> = <g, conv(x, gg)>.
		res := make([]*Var[T], 2)
		if need[0] {
			res[0] = convGradInputDeferred(ensure(in[1]), gg, in[0].Shape(), p)
		}
		if need[1] {
			res[1] = convDeferred(in[0], gg, p)
		}
		return res
	}, x, g))
}

func checkConvOut(op string, s kernel.ConvShape, g []int) {
	if want := []int{s.N, s.K, s.OutH(), s.OutW()}; !sameShape(g, want) {
		panic(fmt.Sprintf("engine.%s: output gradient of shape %v, the convolution's output has shape %v", op, g, want))
	}
}

// convBiasGrad sums the output gradient g ([N,K,OH,OW]) over all axes but
// the channels: the bias gradient, taken from g's plane sums when they are
// known (see Var.planeSums), else with one vector reduction per plane (the
// first layer's gradient is the largest tensor of a training step).
// Recorded for a higher derivative, its own backward pass spreads the
// incoming gradient over the planes, without building that tensor when
// there is no graph to record (see planeBroadcast).
func convBiasGrad[T Float](g *Var[T]) *Var[T] {
	sh := cloneInts(g.Shape())
	n, k, hw := sh[0], sh[1], sh[2]*sh[3]
	sums := g.planeSums
	if len(sums) != k {
		sums = make([]float64, k)
		gd := g.value.data
		for i := 0; i < n; i++ {
			for c := range sums {
				o := (i*k + c) * hw
				sums[c] += sumRun(gd[o : o+hw])
			}
		}
	}
	out := New[T](k)
	for c, v := range sums {
		out.data[c] = T(v)
	}
	if !g.tracked {
		return freshConst(out)
	}
	return record("ConvBiasGrad", out, func(h, _ *Var[T], _ []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{planeBroadcast(h, sh)}
	}, g)
}

// planeBroadcast returns h (of shape [C]) broadcast over the planes of an
// NCHW shape: recorded when h is tracked, otherwise as a deferred
// contribution that adds h[c] to each plane of channel c in place.
func planeBroadcast[T Float](h *Var[T], shape []int) *Var[T] {
	if h.tracked {
		return BroadcastTo(Reshape(h, 1, shape[1], 1, 1), shape)
	}
	if h32, ok := any(h.value.data).([]float32); ok {
		return winoDeferred[T](&winoTerm{bias: h32}, cloneInts(shape))
	}
	hd := h.value.data
	return deferred(shape, func(dst []T, overwrite bool) { broadcastPlanes(dst, shape, hd, !overwrite) })
}

// broadcastPlanes writes h[c] over every plane of channel c of dst (of an
// NCHW shape), or adds it with add.
func broadcastPlanes[T Float](dst []T, shape []int, h []T, add bool) {
	n, c, hw := shape[0], shape[1], shape[2]*shape[3]
	forChannels(c, len(dst), func(ch int) {
		v := h[ch]
		channelRuns(n, c, hw, ch, func(o int) {
			d := dst[o : o+hw]
			if add {
				scaleShiftRun(d, d, 1, v)
				return
			}
			fillValue(d, v)
		})
	})
}

// fillValue sets every element of d to v: by doubling copies, which move
// whole vectors, where an element loop stores one value at a time.
func fillValue[T Float](d []T, v T) {
	if len(d) == 0 {
		return
	}
	d[0] = v
	for k := 1; k < len(d); k *= 2 {
		copy(d[k:], d[:k])
	}
}

// convForward writes conv(x, w) + bias into y. A float32 3×3 convolution
// with unit stride that suits Winograd F(4×4, 3×3) goes through it: four
// times fewer multiplications than the patch-matrix product, for float32
// rounding a little worse than a direct sum (the weights are transformed on
// every call because they change with every step). float64, which the
// gradient checks use, always takes the direct route.
func convForward[T Float](s kernel.ConvShape, x, w, bias, y []T) {
	if t := winoConv(s, x, w); t != nil {
		t.bias, _ = any(bias).([]float32)
		t.deposit(any(y).([]float32), nil, false)
		return
	}
	kernel.Conv2D(s, x, w, bias, y)
}

// convBackwardData writes the input gradient of a convolution into dx. With
// a 3×3 kernel, unit stride and padding of at most 2 it is the correlation
// of dy with the flipped, channel-transposed kernel, padded by 2 minus the
// forward padding, which convForward may hand to Winograd.
func convBackwardData[T Float](s kernel.ConvShape, dy, w, dx []T) {
	if t := winoConvTransposed(s, dy, w); t != nil {
		t.deposit(any(dx).([]float32), nil, false)
		return
	}
	kernel.Conv2DBackwardData(s, dy, w, dx)
}

// winoTerm is a float32 convolution through Winograd, conv(x, f) over the
// geometry s, plus conv(x2, f2) when f2 is set, plus bias per output
// channel when bias is set; with f nil it is the bias alone, broadcast
// over the planes (see planeBroadcast). Kept as a deferred gradient
// contribution (see winoDeferred), it merges with a second one of the same
// geometry into one pass with one output transform (kernel's Conv2DSum):
// the backward rules of the recorded convolution ops send two such
// convolutions, and the bias gradient's rule a broadcast, to the same
// value.
type winoTerm struct {
	s     kernel.ConvShape
	x, x2 []float32
	f, f2 *kernel.WinogradFilter
	bias  []float32
}

// winoConv returns conv(x, w) over s as a winoTerm, or nil unless it is a
// float32 convolution that suits Winograd.
func winoConv[T Float](s kernel.ConvShape, x, w []T) *winoTerm {
	x32, ok := any(x).([]float32)
	if !ok || !kernel.WinogradSuits(s) {
		return nil
	}
	return &winoTerm{s: s, x: x32, f: kernel.NewWinogradFilter(s.K, s.C, any(w).([]float32))}
}

// winoConvTransposed returns the input gradient of the convolution over s
// for output gradient dy and weights w as a winoTerm (see
// convBackwardData), or nil where Winograd does not serve.
func winoConvTransposed[T Float](s kernel.ConvShape, dy, w []T) *winoTerm {
	dy32, ok := any(dy).([]float32)
	if !ok || !kernel.WinogradSuits(s) || max(s.PadTop, s.PadLeft, s.PadBottom, s.PadRight) > 2 {
		return nil
	}
	t := kernel.ConvShape{N: s.N, C: s.K, H: s.OutH(), W: s.OutW(), K: s.C, R: 3, S: 3,
		PadTop: 2 - s.PadTop, PadLeft: 2 - s.PadLeft, PadBottom: 2 - s.PadBottom, PadRight: 2 - s.PadRight}
	if !kernel.WinogradSuits(t) {
		return nil
	}
	w32 := any(w).([]float32)
	wt := make([]float32, len(w32))
	kernel.FlipTransposeFilters(1, s.K, s.C, 9, w32, wt)
	return &winoTerm{s: t, x: dy32, f: kernel.NewWinogradFilter(t.K, t.C, wt)}
}

// deposit writes the term into y, or adds it with add (a convolution is
// then built apart first). shape, y's NCHW shape, is read only for a bias
// alone.
func (t *winoTerm) deposit(y []float32, shape []int, add bool) {
	switch {
	case t.f == nil:
		broadcastPlanes(y, shape, t.bias, add)
	case add:
		tmp := makeOverwritten[float32](len(y))
		t.deposit(tmp, shape, false)
		addInto(y, tmp)
	case t.f2 == nil:
		t.f.Conv2D(t.s, t.x, t.bias, y, kernel.WinogradFuse{})
	default:
		t.f.Conv2DSum(t.s, t.x, t.f2, t.x2, t.bias, y, kernel.WinogradFuse{})
	}
}

// merge returns t + u as one term, or nil unless they are two single
// convolutions of the same geometry, or a bias and anything.
func (t *winoTerm) merge(u *winoTerm) *winoTerm {
	switch {
	case t.f == nil:
		return u.plusBias(t.bias)
	case u.f == nil:
		return t.plusBias(u.bias)
	case t.f2 != nil || u.f2 != nil || t.s != u.s:
		return nil
	}
	r := &winoTerm{s: t.s, x: t.x, f: t.f, x2: u.x, f2: u.f, bias: t.bias}
	return r.plusBias(u.bias)
}

// plusBias returns t with b added to its bias (nil: none).
func (t *winoTerm) plusBias(b []float32) *winoTerm {
	if b == nil {
		return t
	}
	r := *t
	if t.bias == nil {
		r.bias = b
		return &r
	}
	r.bias = make([]float32, len(b))
	for i := range b {
		r.bias[i] = t.bias[i] + b[i]
	}
	return &r
}

// winoDeferred returns t as a deferred contribution to a float32 value of
// the given shape (see Var.deposit); a convolution added into a sum is
// built apart first.
func winoDeferred[T Float](t *winoTerm, shape []int) *Var[T] {
	v := deferred(shape, func(dst []T, overwrite bool) {
		t.deposit(any(dst).([]float32), shape, !overwrite)
	})
	v.wino = t
	return v
}

// convDeferred is Conv2D(x, w, nil, p), but a deferred contribution (see
// winoTerm) where neither input is tracked and Winograd serves: for the
// backward rules of the recorded convolution ops, in a gradient pass
// without a graph.
func convDeferred[T Float](x, w *Var[T], p ConvParams) *Var[T] {
	if !x.tracked && !w.tracked {
		s := p.shape("Conv2D", x.Shape(), w.Shape())
		if t := winoConv(s, x.value.data, w.value.data); t != nil {
			return winoDeferred[T](t, []int{s.N, s.K, s.OutH(), s.OutW()})
		}
	}
	return Conv2D(x, w, nil, p)
}

// convGradInputDeferred is Conv2DGradInput(g, w, xShape, p), deferred as
// convDeferred is.
func convGradInputDeferred[T Float](g, w *Var[T], xShape []int, p ConvParams) *Var[T] {
	if !g.tracked && !w.tracked {
		s := p.shape("Conv2DGradInput", xShape, w.Shape())
		checkConvOut("Conv2DGradInput", s, g.Shape())
		if t := winoConvTransposed(s, g.value.data, w.value.data); t != nil {
			return winoDeferred[T](t, cloneInts(xShape))
		}
	}
	return Conv2DGradInput(g, w, xShape, p)
}

// convBackwardFilter writes the filter gradient of a convolution into dw:
// through Winograd F(4×4, 3×3) for float32 3×3 unit-stride layers with
// enough channels, else through the direct kernel (always for float64, so
// that the gradient checks see the exact sums).
func convBackwardFilter[T Float](s kernel.ConvShape, x, dy, dw []T) {
	if x32, ok := any(x).([]float32); ok && kernel.WinogradBackwardFilterSuits(s) {
		kernel.WinogradBackwardFilter(s, x32, any(dy).([]float32), any(dw).([]float32))
		return
	}
	kernel.Conv2DBackwardFilter(s, x, dy, dw)
}
