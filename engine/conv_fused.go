package engine

import (
	"github.com/fewshot-go/fewshot/internal/kernel"
)

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
