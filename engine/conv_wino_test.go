package engine_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fewshot-go/fewshot/engine"
)

// In a gradient pass without a graph, the float32 Winograd convolutions
// that the recorded convolution ops' backward rules send to one value
// (and the bias gradient's broadcast) are summed in one pass with one
// output transform. This checks an L2G-shaped second derivative through
// two Winograd-sized blocks in float32, where those sums happen, against
// float64, where every convolution is direct.

// twoBlocks is conv → BatchNormReLUMaxPool2D twice on the constant x, with
// the loss Σ r⊙y.
func twoBlocks[T engine.Float](x *engine.Var[T], p []*engine.Var[T], r *engine.Tensor[T]) *engine.Var[T] {
	y := x
	for b := range 2 {
		y = engine.Conv2D(y, p[4*b], p[4*b+1], engine.ConvSame(1, 1))
		y = engine.BatchNormReLUMaxPool2D(y, p[4*b+2], p[4*b+3], engine.NewBNState[T](y.Shape()[1]), true, engine.PoolSquare(2, 2))
	}
	return engine.Sum(engine.Mul(y, engine.Const(r)))
}

// gradOfGradTerms returns the gradient with respect to p of
// Σ <g_i, g_i + u_i> over the first-order gradients g_i of loss, as an L2G
// outer step takes it (the linear term keeps every second-order term
// alive).
func gradOfGradTerms[T engine.Float](loss *engine.Var[T], p []*engine.Var[T], u []*engine.Tensor[T]) []*engine.Var[T] {
	g := engine.Grad(loss, p, true)
	var h *engine.Var[T]
	for i, gi := range g {
		s := engine.Sum(engine.Mul(gi, engine.Add(gi, engine.Const(u[i]))))
		if h == nil {
			h = s
		} else {
			h = engine.Add(h, s)
		}
	}
	return engine.Grad(h, p, false)
}

func TestWinogradGradientSumsSecondOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 1))
	const n, c, k, hw = 4, 8, 16, 16
	shapes := [][]int{{k, c, 3, 3}, {k}, {k}, {k}, {k, k, 3, 3}, {k}, {k}, {k}}
	x64 := engine.RandNormal[float64](rng, 1, n, c, hw, hw)
	r64 := engine.RandNormal[float64](rng, 1, n, k, hw/4, hw/4)
	p64, u64 := make([]*engine.Tensor[float64], len(shapes)), make([]*engine.Tensor[float64], len(shapes))
	for i, s := range shapes {
		p64[i], u64[i] = engine.RandNormal[float64](rng, 0.3, s...), engine.RandNormal[float64](rng, 1, s...)
		if i%4 == 2 { // γ > 0
			for j, v := range p64[i].Data() {
				p64[i].Data()[j] = 0.5 + v*v
			}
		}
	}
	f32 := func(t64 *engine.Tensor[float64]) *engine.Tensor[float32] {
		o := engine.New[float32](t64.Shape()...)
		for i, v := range t64.Data() {
			o.Data()[i] = float32(v)
		}
		return o
	}
	ps64, ps32 := make([]*engine.Var[float64], len(shapes)), make([]*engine.Var[float32], len(shapes))
	u32 := make([]*engine.Tensor[float32], len(shapes))
	for i := range shapes {
		ps64[i], ps32[i], u32[i] = engine.Param(p64[i]), engine.Param(f32(p64[i])), f32(u64[i])
	}
	want := gradOfGradTerms(twoBlocks(engine.Const(x64), ps64, r64), ps64, u64)
	got := gradOfGradTerms(twoBlocks(engine.Const(f32(x64)), ps32, f32(r64)), ps32, u32)
	// The convolutions' biases have zero gradients but for rounding (the
	// batch norms take out the mean): the scale is the largest of all.
	scale := 0.0
	for i := range want {
		for _, v := range want[i].Value().Data() {
			scale = max(scale, math.Abs(v))
		}
	}
	for i := range want {
		for j, v := range got[i].Value().Data() {
			if w := want[i].Value().Data()[j]; math.Abs(float64(v)-w) > 1e-3*scale {
				t.Fatalf("gradient %d: element %d is %v, float64 %v (largest %v)", i, j, v, w, scale)
			}
		}
	}
}
