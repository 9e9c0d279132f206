package engine

import (
	"github.com/fewshot-go/fewshot/internal/kernel"
)

// ConvBatchNormReLUMaxPool2D is, in training mode,
//
//	BatchNormReLUMaxPool2D(Conv2D(x, w, b, conv), gamma, beta, st, true, pool)
//
// with the batch statistics and the pooling taken while each image's
// convolution output is still in cache, instead of in a pass of their own
// over the full-size output: for a first layer, whose output is the
// largest tensor of a training step, that pass reads it all from memory.
// The result is the composition's, two recorded ops with their usual
// derivatives, up to the rounding of the statistics (summed per plane,
// then combined).
//
// It applies where the convolution takes the direct route (not float32
// Winograd: those layers' outputs are computed a tile at a time, across
// images) and the window is 2×2 with stride 2; elsewhere it is the
// composition itself.
func ConvBatchNormReLUMaxPool2D[T Float](x, w, b, gamma, beta *Var[T], st *BNState[T], conv ConvParams, pool PoolParams) *Var[T] {
	s := conv.shape("ConvBatchNormReLUMaxPool2D", x.Shape(), w.Shape())
	if pool != PoolSquare(2, 2) || (isFloat32[T]() && kernel.WinogradSuits(s)) || s.OutH() < 2 || s.OutW() < 2 {
		return BatchNormReLUMaxPool2D(Conv2D(x, w, b, conv), gamma, beta, st, true, pool)
	}
	ps := pool.shape("ConvBatchNormReLUMaxPool2D", []int{s.N, s.K, s.OutH(), s.OutW()})
	hw, ohw := s.OutH()*s.OutW(), ps.OutH()*ps.OutW()
	pre := &bnPrepass[T]{
		k: make([]float64, s.N*s.K), s1: make([]float64, s.N*s.K), s2: make([]float64, s.N*s.K),
		pooled: newOverwritten[T](s.N, s.K, ps.OutH(), ps.OutW()),
	}
	pre.argmax = makeIndex(pre.pooled.Len())
	mp := kernel.NewMaxPoolPlane[T](ps)
	y := conv2DThen(x, w, b, conv, func(yd []T, n0, n1 int) {
		for pl := n0 * s.K; pl < n1*s.K; pl++ {
			xp := yd[pl*hw : (pl+1)*hw]
			k := float64(xp[0])
			pre.k[pl] = k
			pre.s1[pl], pre.s2[pl] = shiftedSumsRun(xp, k)
			mp.Pool(xp, pre.pooled.data[pl*ohw:(pl+1)*ohw], pre.argmax[pl*ohw:(pl+1)*ohw])
		}
	})
	eps := checkBatchNorm("ConvBatchNormReLUMaxPool2D", y, gamma, beta, st)
	return batchNormTrain(y, gamma, beta, st, eps, true, &ps, pre)
}

// bnPrepass is what batchNormTrain's first pass computes, taken instead
// plane by plane while its input was computed: each plane's first value k
// and its sums s1 = Σ(x − k), s2 = Σ(x − k)², and the max-pooled input with
// its argmax.
type bnPrepass[T Float] struct {
	k, s1, s2 []float64
	pooled    *Tensor[T]
	argmax    []int32
}

// sums returns channel ch's shift (its first plane's k) and shifted sums
// over the batch of n images with c channels of hw values, combined from
// the planes' in image order.
func (p *bnPrepass[T]) sums(ch, n, c, hw int) (k, s1, s2 float64) {
	k = p.k[ch]
	m := float64(hw)
	for i := range n {
		pl := i*c + ch
		// Σ(x − k) = s1ᵢ + m·d and Σ(x − k)² = s2ᵢ + 2d·s1ᵢ + m·d² with
		// d = kᵢ − k.
		d := p.k[pl] - k
		s1 += p.s1[pl] + m*d
		s2 += p.s2[pl] + 2*d*p.s1[pl] + m*d*d
	}
	return k, s1, s2
}

// ConvBatchNormReLUMaxPool2DEval computes, for constants only,
//
//	MaxPool(ReLU(BatchNorm(Conv2D(x, w, b)))) with running statistics
//
// as one pass of the Winograd kernel that ONNX inference uses: the
// normalisation is an affine map per output channel, folded into the
// filters and the bias, and the rectifier and a 2×2 stride-2 max-pool run
// in the kernel's output transform, so neither the full-size convolution
// output nor its normalised copy is ever written. b may be nil; st holds
// the running statistics and the epsilon.
//
// It applies only where that kernel does: float32, a 3×3 unit-stride
// convolution that suits pooled Winograd (kernel.WinogradPooledSuits), a
// 2×2 stride-2 window without padding or ceiling, and no input tracked (there is no graph to record). Elsewhere it
// returns ok false and does nothing, and the caller composes the three ops.
// The result equals the composition up to float32 rounding (the scale
// multiplies the filters instead of the sums).
func ConvBatchNormReLUMaxPool2DEval[T Float](x, w, b, gamma, beta *Var[T], st *BNState[T], conv ConvParams, pool PoolParams) (y *Var[T], ok bool) {
	for _, v := range []*Var[T]{x, w, b, gamma, beta} {
		if v != nil && v.tracked {
			return nil, false
		}
	}
	x32, isF32 := any(x.value.data).([]float32)
	if !isF32 || st == nil || pool != PoolSquare(2, 2) || len(x.Shape()) != 4 || len(w.Shape()) != 4 {
		return nil, false
	}
	s := conv.shape("ConvBatchNormReLUMaxPool2DEval", x.Shape(), w.Shape())
	if !kernel.WinogradPooledSuits(s) {
		return nil, false
	}
	k, c := s.K, s.C
	if !sameShape(gamma.Shape(), []int{k}) || !sameShape(beta.Shape(), []int{k}) ||
		(b != nil && !sameShape(b.Shape(), []int{k})) ||
		st.RunningMean.Len() != k || st.RunningVar.Len() != k {
		return nil, false
	}
	w32 := any(w.value.data).([]float32)
	gd, bd := any(gamma.value.data).([]float32), any(beta.value.data).([]float32)
	mean, variance := any(st.RunningMean.data).([]float32), any(st.RunningVar.data).([]float32)
	folded := make([]float32, len(w32))
	bias := make([]float32, k)
	per := c * s.R * s.S
	for o := range k {
		scale, shift := inferAffine(gd[o], bd[o], mean[o], inferInvStd(variance[o], st.Eps))
		for i, v := range w32[o*per : (o+1)*per] {
			folded[o*per+i] = scale * v
		}
		bias[o] = shift
		if b != nil {
			bias[o] += scale * any(b.value.data).([]float32)[o]
		}
	}
	out := New[T](s.N, k, s.OutH()/2, s.OutW()/2)
	kernel.NewWinogradFilter(k, c, folded).Conv2D(s, x32, bias, any(out.data).([]float32),
		kernel.WinogradFuse{MaxPool2x2: true, ReLU: true})
	return freshConst(out), true
}
