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
// The forward pass is one fused kernel. For first-order gradients the
// backward pass is also fused (one pass over the data); when gradients are
// being recorded for a higher-order derivative it is composed from
// primitive ops instead, so that it can be differentiated again.
func BatchNorm2D[T Float](x, gamma, beta *Var[T], st *BNState[T], training bool) *Var[T] {
	shape := x.Shape()
	if len(shape) != 4 {
		panic(fmt.Sprintf("engine.BatchNorm2D: input of shape %v, want rank 4 (NCHW)", shape))
	}
	c := shape[1]
	if !sameShape(gamma.Shape(), []int{c}) || !sameShape(beta.Shape(), []int{c}) {
		panic(fmt.Sprintf("engine.BatchNorm2D: gamma %v and beta %v for %d channels", gamma.Shape(), beta.Shape(), c))
	}
	eps := DefaultBNEps
	if st != nil {
		if !sameShape(st.RunningMean.Shape(), []int{c}) || !sameShape(st.RunningVar.Shape(), []int{c}) {
			panic(fmt.Sprintf("engine.BatchNorm2D: running statistics of shapes %v and %v for %d channels",
				st.RunningMean.Shape(), st.RunningVar.Shape(), c))
		}
		eps = st.Eps
	}
	if training {
		return batchNormTrain(x, gamma, beta, st, eps)
	}
	if st == nil {
		panic("engine.BatchNorm2D: inference mode needs running statistics (st is nil)")
	}
	return batchNormInfer(x, gamma, beta, st, eps)
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

func batchNormTrain[T Float](x, gamma, beta *Var[T], st *BNState[T], eps float64) *Var[T] {
	shape := cloneInts(x.Shape())
	c := shape[1]
	n, hw, m := bnPlanes(shape)
	xd, gd, bd := x.value.data, gamma.value.data, beta.value.data
	out := New[T](shape...)
	yd := out.data
	// mean and invStd are kept for the fused backward pass; batchVar for the
	// running-statistics update.
	mean, invStd, batchVar := make([]float64, c), make([]float64, c), make([]float64, c)
	forChannels(c, len(xd), func(ch int) {
		var s float64
		for i := 0; i < n; i++ {
			s += sumRun(xd[(i*c+ch)*hw : (i*c+ch+1)*hw])
		}
		mu := s / float64(m)
		// Two passes: the variance from centred values stays accurate when
		// the mean is large compared with the spread.
		var ss float64
		for i := 0; i < n; i++ {
			ss += sqDevRun(xd[(i*c+ch)*hw:(i*c+ch+1)*hw], mu)
		}
		v := ss / float64(m)
		is := 1 / math.Sqrt(v+eps)
		mean[ch], invStd[ch], batchVar[ch] = mu, is, v
		scale := float64(gd[ch]) * is
		shift := float64(bd[ch]) - mu*scale
		sc, sh := T(scale), T(shift)
		for i := 0; i < n; i++ {
			o := (i*c + ch) * hw
			dst := yd[o : o+hw]
			for j, v := range xd[o : o+hw] {
				dst[j] = v*sc + sh
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
	return record("BatchNorm2D", out, func(g, _ *Var[T], in []*Var[T], need []bool) []*Var[T] {
		if g.tracked || in[0].tracked || in[1].tracked || in[2].tracked {
			return batchNormTrainBackwardGraph(g, in[0], in[1], eps)
		}
		return batchNormTrainBackwardFused(g, in[0], in[1], mean, invStd, need)
	}, x, gamma, beta)
}

// batchNormTrainBackwardFused computes the three gradients of training-mode
// batch normalisation in two passes over the data, as constants:
//
//	dβ = Σ g,  dγ = Σ g·x̂,  dx = γ·invStd·(g − dβ/M − x̂·dγ/M)
//
// with sums over N, H and W and M values per channel.
func batchNormTrainBackwardFused[T Float](g, x, gamma *Var[T], mean, invStd []float64, need []bool) []*Var[T] {
	shape := x.Shape()
	c := shape[1]
	n, hw, m := bnPlanes(shape)
	xd, gd, gam := x.value.data, g.value.data, gamma.value.data
	dBeta, dGamma := New[T](c), New[T](c)
	var dx *Tensor[T]
	if need[0] {
		dx = New[T](shape...)
	}
	forChannels(c, 2*len(xd), func(ch int) {
		mu, is := mean[ch], invStd[ch]
		var sg, sgx float64
		for i := 0; i < n; i++ {
			o := (i*c + ch) * hw
			a, b := gradSumsRun(gd[o:o+hw], xd[o:o+hw], mu)
			sg += a
			sgx += b
		}
		sgx *= is // Σ g·x̂
		dBeta.data[ch], dGamma.data[ch] = T(sg), T(sgx)
		if dx == nil {
			return
		}
		// dx = a·g + b·x + d with per-channel constants, folded from the
		// formula above.
		k := float64(gam[ch]) * is
		a := k
		b := -k * is * sgx / float64(m)
		d := -k*sg/float64(m) - b*mu
		ta, tb, td := T(a), T(b), T(d)
		for i := 0; i < n; i++ {
			o := (i*c + ch) * hw
			xs := xd[o : o+hw]
			dst := dx.data[o : o+hw]
			for j, gv := range gd[o : o+hw] {
				dst[j] = ta*gv + tb*xs[j] + td
			}
		}
	})
	res := []*Var[T]{nil, Const(dGamma), Const(dBeta)}
	if dx != nil {
		res[0] = Const(dx)
	}
	return res
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
	dx := Mul(Mul(Reshape(gamma, ch...), invStd), centred)
	return []*Var[T]{dx, Reshape(dGamma, c), Reshape(dBeta, c)}
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
		invStd.data[ch] = T(1 / math.Sqrt(float64(v)+eps))
	}
	xd, gd, bd := x.value.data, gamma.value.data, beta.value.data
	out := New[T](shape...)
	forChannels(c, len(xd), func(ch int) {
		scale := float64(gd[ch]) * float64(invStd.data[ch])
		sc, sh := T(scale), T(float64(bd[ch])-float64(runMean.data[ch])*scale)
		for i := 0; i < n; i++ {
			o := (i*c + ch) * hw
			dst := out.data[o : o+hw]
			for j, v := range xd[o : o+hw] {
				dst[j] = v*sc + sh
			}
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

// sqDevRun returns Σ (x − mu)².
func sqDevRun[T Float](x []T, mu float64) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		d0, d1, d2, d3 := float64(x[i])-mu, float64(x[i+1])-mu, float64(x[i+2])-mu, float64(x[i+3])-mu
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(x); i++ {
		d := float64(x[i]) - mu
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// gradSumsRun returns Σ g and Σ g·(x − mu) over equal-length runs.
func gradSumsRun[T Float](g, x []T, mu float64) (sg, sgx float64) {
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
