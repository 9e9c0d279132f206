package engine_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/engine/gradcheck"
)

// A first convolution (constant input) followed by batch norm, ReLU and
// pooling takes its output gradient an image at a time (Var.depositImage),
// and in training its batch statistics while each image's output is in
// cache (ConvBatchNormReLUMaxPool2D): these tests pin both routes to the
// plain ones, and check the cases that must fall back to them.

// firstLayer is conv → BatchNormReLUMaxPool2D on the constant x, with the
// loss Σ r⊙y; extra, when not nil, adds a second use of the convolution's
// output, so that its gradient is a sum and has to be built.
func firstLayer[T engine.Float](x *engine.Var[T], p []*engine.Var[T], r *engine.Tensor[T], extra func(y *engine.Var[T]) *engine.Var[T]) *engine.Var[T] {
	y := engine.Conv2D(x, p[0], p[1], engine.ConvSame(1, 1))
	st := engine.NewBNState[T](p[0].Shape()[0])
	z := engine.BatchNormReLUMaxPool2D(y, p[2], p[3], st, true, engine.PoolSquare(2, 2))
	loss := engine.Sum(engine.Mul(z, engine.Const(r)))
	if extra != nil {
		loss = engine.Add(loss, engine.Sum(extra(y)))
	}
	return loss
}

func firstLayerParams[T engine.Float](rng *rand.Rand, k, c int) []*engine.Var[T] {
	shapes := [][]int{{k, c, 3, 3}, {k}, {k}, {k}}
	p := make([]*engine.Var[T], len(shapes))
	for i, s := range shapes {
		p[i] = engine.Param(engine.RandNormal[T](rng, 0.5, s...))
	}
	for i, v := range p[2].Value().Data() {
		p[2].Value().Data()[i] = 0.5 + v*v // γ > 0
	}
	return p
}

func TestFirstConvImagewiseMatchesFull(t *testing.T) {
	for _, c := range []int{1, 3} {
		rng := rand.New(rand.NewPCG(11, uint64(c)))
		x := engine.Const(engine.RandNormal[float32](rng, 1, 6, c, 8, 10))
		p := firstLayerParams[float32](rng, 16, c)
		r := engine.RandNormal[float32](rng, 1, 6, 16, 4, 5)
		got := engine.Grad(firstLayer(x, p, r, nil), p, false)
		// A second use that adds exactly zero forces the full-size sum.
		zero := func(y *engine.Var[float32]) *engine.Var[float32] {
			return engine.Mul(y, engine.Const(engine.New[float32](y.Shape()...)))
		}
		want := engine.Grad(firstLayer(x, p, r, zero), p, false)
		for i := 2; i < len(p); i++ {
			if !slices.Equal(got[i].Value().Data(), want[i].Value().Data()) {
				t.Errorf("C=%d: gradient %d differs between the imagewise and the full-size route", c, i)
			}
		}
		// The filter gradient, partly from the patch Gram matrix, and the
		// bias gradient, from the batch norm's plane sums (zero but for
		// rounding: the batch norm takes out the mean), round differently
		// from sums over the built gradient.
		scale := 0.0
		for _, w := range want[0].Value().Data() {
			scale = max(scale, math.Abs(float64(w)))
		}
		for i := range 2 {
			for j, v := range got[i].Value().Data() {
				if w := want[i].Value().Data()[j]; math.Abs(float64(v-w)) > 1e-5*scale {
					t.Errorf("C=%d: gradient %d[%d]: %v, built %v (largest %v)", c, i, j, v, w, scale)
				}
			}
		}
	}
}

func TestFirstConvImagewiseGradCheck(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 1))
	x := engine.Const(randT(rng, 3, 2, 6, 6))
	r := randT(rng, 3, 4, 3, 3)
	params := []*engine.Tensor[float64]{randT(rng, 4, 2, 3, 3), randT(rng, 4), positive(rng, 4), randT(rng, 4)}
	f := func(p []*V) *V { return firstLayer(x, p, r, nil) }
	if err := gradcheck.First(f, params, gradcheck.Options{MaxCoords: -1}); err != nil {
		t.Error(err)
	}
	// Second order: through the lazy recorded input gradient (Var.lazy).
	if err := gradcheck.Second(f, params, gradcheck.Options{MaxCoords: -1}); err != nil {
		t.Error(err)
	}
	// A tracked input needs the input gradient, so the route is not
	// taken; a second use of the output sums two contributions.
	xt := engine.Param(randT(rng, 3, 2, 6, 6))
	g := func(p []*V) *V {
		return firstLayer(p[4], p[:4], r, func(y *V) *V { return engine.Mul(y, y) })
	}
	if err := gradcheck.First(g, append(params, xt.Value()), gradcheck.Options{MaxCoords: -1}); err != nil {
		t.Error(err)
	}
}

// TestFirstConvImagewiseGradOfOutput asks for the gradient of the
// convolution's output itself, which the pass must hand over built.
func TestFirstConvImagewiseGradOfOutput(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 1))
	x := engine.Const(engine.RandNormal[float32](rng, 1, 4, 1, 6, 6))
	p := firstLayerParams[float32](rng, 4, 1)
	y := engine.Conv2D(x, p[0], p[1], engine.ConvSame(1, 1))
	st := engine.NewBNState[float32](4)
	z := engine.BatchNormReLUMaxPool2D(y, p[2], p[3], st, true, engine.PoolSquare(2, 2))
	g := engine.Grad(engine.Sum(z), []*engine.Var[float32]{y, p[0]}, false)
	if got := g[0].Value(); got.Len() != y.Value().Len() || got.Data() == nil {
		t.Fatalf("gradient of the convolution's output not built: shape %v", got.Shape())
	}
	want := engine.Grad(engine.Sum(engine.BatchNormReLUMaxPool2D(y, p[2], p[3], engine.NewBNState[float32](4), true, engine.PoolSquare(2, 2))), []*engine.Var[float32]{y}, false)
	if !slices.Equal(g[0].Value().Data(), want[0].Value().Data()) {
		t.Error("gradient of the convolution's output differs from the batch norm's own")
	}
}

// TestConvBatchNormReLUMaxPool2D compares the fused training op with the
// composition it stands for: values, running statistics and gradients
// agree up to the rounding of the statistics, and its derivatives pass the
// finite-difference checks to second order.
func TestConvBatchNormReLUMaxPool2D(t *testing.T) {
	pool := engine.PoolSquare(2, 2)
	for _, c := range []int{1, 3} {
		rng := rand.New(rand.NewPCG(14, uint64(c)))
		x := engine.Const(engine.RandNormal[float32](rng, 1, 5, c, 9, 10))
		p := firstLayerParams[float32](rng, 16, c)
		// A large common offset checks the per-plane shifts' combination.
		for i := range p[1].Value().Data() {
			p[1].Value().Data()[i] += 40
		}
		r := engine.RandNormal[float32](rng, 1, 5, 16, 4, 5)
		stF, stC := engine.NewBNState[float32](16), engine.NewBNState[float32](16)
		fused := engine.ConvBatchNormReLUMaxPool2D(x, p[0], p[1], p[2], p[3], stF, engine.ConvSame(1, 1), pool)
		comp := engine.BatchNormReLUMaxPool2D(engine.Conv2D(x, p[0], p[1], engine.ConvSame(1, 1)), p[2], p[3], stC, true, pool)
		closeF32(t, "output", fused.Value().Data(), comp.Value().Data(), 1e-4)
		closeF32(t, "running mean", stF.RunningMean.Data(), stC.RunningMean.Data(), 1e-5)
		closeF32(t, "running variance", stF.RunningVar.Data(), stC.RunningVar.Data(), 1e-5)
		gf := engine.Grad(engine.Sum(engine.Mul(fused, engine.Const(r))), p, false)
		gc := engine.Grad(engine.Sum(engine.Mul(comp, engine.Const(r))), p, false)
		for i := range p {
			closeF32(t, "gradient", gf[i].Value().Data(), gc[i].Value().Data(), 1e-3)
		}
	}
	rng := rand.New(rand.NewPCG(15, 1))
	x := engine.Const(randT(rng, 3, 2, 6, 6))
	r := randT(rng, 3, 4, 3, 3)
	params := []*engine.Tensor[float64]{randT(rng, 4, 2, 3, 3), randT(rng, 4), positive(rng, 4), randT(rng, 4)}
	f := func(p []*V) *V {
		st := engine.NewBNState[float64](4)
		y := engine.ConvBatchNormReLUMaxPool2D(x, p[0], p[1], p[2], p[3], st, engine.ConvSame(1, 1), pool)
		return engine.Sum(engine.Mul(y, engine.Add(engine.Mul(y, engine.Const(r)), engine.Const(r))))
	}
	if err := gradcheck.First(f, params, gradcheck.Options{MaxCoords: -1}); err != nil {
		t.Error(err)
	}
	if err := gradcheck.Second(f, params, gradcheck.Options{MaxCoords: -1}); err != nil {
		t.Error(err)
	}
}

func closeF32(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	for i, v := range got {
		if d := math.Abs(float64(v - want[i])); d > tol*(1+math.Abs(float64(want[i]))) {
			t.Errorf("%s %d: %v, composition %v", what, i, v, want[i])
			return
		}
	}
}

// TestBatchNormReLUMaxPool2DFloat32Backward checks the float32 backward
// pass of the pooled batch norm (its vector sums and scatter) against
// float64, with the input's gradient written fresh and, through a
// second use of the input, added to a sum, on even and odd planes.
func TestBatchNormReLUMaxPool2DFloat32Backward(t *testing.T) {
	for _, hw := range [][2]int{{8, 10}, {7, 9}, {28, 28}} {
		rng := rand.New(rand.NewPCG(16, uint64(hw[1])))
		x64 := randT(rng, 3, 5, hw[0], hw[1])
		r64 := randT(rng, 3, 5, hw[0]/2, hw[1]/2)
		s64 := randT(rng, 3, 5, hw[0], hw[1])
		gamma64, beta64 := positive(rng, 5), randT(rng, 5)
		for _, twice := range []bool{false, true} {
			loss64 := func(x, gm, bt *V) *V {
				y := engine.BatchNormReLUMaxPool2D(x, gm, bt, engine.NewBNState[float64](5), true, engine.PoolSquare(2, 2))
				l := engine.Sum(engine.Mul(y, engine.Const(r64)))
				if twice {
					l = engine.Add(l, engine.Sum(engine.Mul(x, engine.Const(s64))))
				}
				return l
			}
			f32 := func(t64 *engine.Tensor[float64]) *engine.Tensor[float32] {
				o := engine.New[float32](t64.Shape()...)
				for i, v := range t64.Data() {
					o.Data()[i] = float32(v)
				}
				return o
			}
			x, gm, bt := engine.Param(x64), engine.Param(gamma64), engine.Param(beta64)
			want := engine.Grad(loss64(x, gm, bt), []*V{x, gm, bt}, false)
			x32, gm32, bt32 := engine.Param(f32(x64)), engine.Param(f32(gamma64)), engine.Param(f32(beta64))
			y := engine.BatchNormReLUMaxPool2D(x32, gm32, bt32, engine.NewBNState[float32](5), true, engine.PoolSquare(2, 2))
			l := engine.Sum(engine.Mul(y, engine.Const(f32(r64))))
			if twice {
				l = engine.Add(l, engine.Sum(engine.Mul(x32, engine.Const(f32(s64)))))
			}
			got := engine.Grad(l, []*engine.Var[float32]{x32, gm32, bt32}, false)
			for i := range got {
				w32 := f32(want[i].Value())
				closeF32(t, "gradient", got[i].Value().Data(), w32.Data(), 1e-4)
			}
		}
	}
}

// TestBatchNormReLUMaxPool2DFloat32SecondOrder checks a float32
// Hessian-vector product through the pooled batch norm (its second-order
// rules' vector passes) against float64.
func TestBatchNormReLUMaxPool2DFloat32SecondOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 1))
	x64, r64, v64 := randT(rng, 3, 4, 28, 28), randT(rng, 3, 4, 14, 14), randT(rng, 3, 4, 28, 28)
	gamma64, beta64 := positive(rng, 4), randT(rng, 4)
	f32 := func(t64 *engine.Tensor[float64]) *engine.Tensor[float32] {
		o := engine.New[float32](t64.Shape()...)
		for i, v := range t64.Data() {
			o.Data()[i] = float32(v)
		}
		return o
	}
	hvp64 := func() []*V {
		x, gm, bt := engine.Param(x64), engine.Param(gamma64), engine.Param(beta64)
		y := engine.BatchNormReLUMaxPool2D(x, gm, bt, engine.NewBNState[float64](4), true, engine.PoolSquare(2, 2))
		l := engine.Sum(engine.Mul(engine.Mul(y, y), engine.Const(r64)))
		gx := engine.Grad(l, []*V{x}, true)[0]
		return engine.Grad(engine.Sum(engine.Mul(gx, engine.Const(v64))), []*V{x, gm, bt}, false)
	}()
	x, gm, bt := engine.Param(f32(x64)), engine.Param(f32(gamma64)), engine.Param(f32(beta64))
	y := engine.BatchNormReLUMaxPool2D(x, gm, bt, engine.NewBNState[float32](4), true, engine.PoolSquare(2, 2))
	l := engine.Sum(engine.Mul(engine.Mul(y, y), engine.Const(f32(r64))))
	gx := engine.Grad(l, []*engine.Var[float32]{x}, true)[0]
	got := engine.Grad(engine.Sum(engine.Mul(gx, engine.Const(f32(v64)))), []*engine.Var[float32]{x, gm, bt}, false)
	for i := range got {
		closeF32(t, "Hessian-vector product", got[i].Value().Data(), f32(hvp64[i].Value()).Data(), 1e-3)
	}
}

// In a gradient pass with a graph, the first convolution's output gradient
// (the batch norm's recorded input gradient) stays unbuilt, and the
// recorded filter gradient takes it an image at a time (Var.lazy).
// TestFirstConvImagewiseGradCheck checks second derivatives through that
// route against finite differences in float64; this checks them in
// float32 against the route that builds the gradient because the output
// has a second use that adds zero.

func TestFirstConvLazyGradMatchesBuilt(t *testing.T) {
	for _, c := range []int{1, 3} {
		rng := rand.New(rand.NewPCG(17, uint64(c)))
		x := engine.Const(engine.RandNormal[float32](rng, 1, 6, c, 16, 16))
		p := firstLayerParams[float32](rng, 16, c)
		r := engine.RandNormal[float32](rng, 1, 6, 16, 8, 8)
		u := make([]*engine.Tensor[float32], len(p))
		for i := range p {
			u[i] = engine.RandNormal[float32](rng, 1, p[i].Shape()...)
		}
		second := func(extra func(y *engine.Var[float32]) *engine.Var[float32]) []*engine.Var[float32] {
			return gradOfGradTerms(firstLayer(x, p, r, extra), p, u)
		}
		zero := func(y *engine.Var[float32]) *engine.Var[float32] {
			return engine.Mul(y, engine.Const(engine.New[float32](y.Shape()...)))
		}
		got, want := second(nil), second(zero)
		for i := range p {
			closeF32(t, fmt.Sprintf("C=%d: second-order gradient %d", c, i), got[i].Value().Data(), want[i].Value().Data(), 1e-3)
		}
	}
}
