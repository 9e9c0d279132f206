package engine_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fewshot-go/fewshot/engine"
)

// fusedPairObjective is an L2G pair on a two-layer Conv-BN-ReLU-pool net
// built from the fused op: the loss on x2 at θ − 0.1·∇L(x1; θ), with the
// inner gradient recorded. Its gradient without a graph takes the fused
// ops' deferred, in-place paths; with a graph, the composed ones.
func fusedPairObjective[T engine.Float](ps []*engine.Var[T], x1, x2, r *engine.Tensor[T]) *engine.Var[T] {
	f := func(x *engine.Var[T], w []*engine.Var[T]) *engine.Var[T] {
		for l := 0; l < 2; l++ {
			y := engine.Conv2D(x, w[4*l], w[4*l+1], engine.ConvSame(1, 1))
			x = engine.BatchNormReLUMaxPool2D(y, w[4*l+2], w[4*l+3], nil, true, engine.PoolSquare(2, 2))
		}
		return engine.Sum(engine.Mul(x, engine.Add(x, engine.Const(r))))
	}
	g := engine.Grad(f(engine.Const(x1), ps), ps, true)
	inner := make([]*engine.Var[T], len(ps))
	for i := range ps {
		inner[i] = engine.Sub(ps[i], engine.Scale(g[i], 0.1))
	}
	return f(engine.Const(x2), inner)
}

func checkInPlaceMatchesRecorded[T engine.Float](t *testing.T, tol float64) {
	rng := rand.New(rand.NewPCG(7, 8))
	rt := func(shape ...int) *engine.Tensor[T] { return engine.RandNormal[T](rng, 1, shape...) }
	pos := func(n int) *engine.Tensor[T] {
		p := engine.RandUniform[T](rng, 0.5, 1.5, n)
		return p
	}
	x1, x2, r := rt(3, 2, 8, 8), rt(3, 2, 8, 8), rt(3, 3, 2, 2)
	params := []*engine.Tensor[T]{rt(3, 2, 3, 3), rt(3), pos(3), rt(3), rt(3, 3, 3, 3), rt(3), pos(3), rt(3)}
	ps := make([]*engine.Var[T], len(params))
	for i, p := range params {
		ps[i] = engine.Param(p)
	}
	want := engine.Grad(fusedPairObjective(ps, x1, x2, r), ps, true)
	for _, free := range []bool{false, true} {
		y := fusedPairObjective(ps, x1, x2, r)
		var got []*engine.Var[T]
		if free {
			got = engine.GradFree(y, ps)
		} else {
			got = engine.Grad(y, ps, false)
		}
		for i := range ps {
			w, g := want[i].Value().Data(), got[i].Value().Data()
			for j := range w {
				if d := math.Abs(float64(w[j] - g[j])); d > tol*(1+math.Abs(float64(w[j]))) {
					t.Fatalf("free=%v param %d element %d: without a graph %v, recorded %v", free, i, j, g[j], w[j])
				}
			}
		}
	}
}

// TestGradInPlaceMatchesRecorded compares the meta-gradient of an L2G pair
// taken without a graph (fused backward rules, deferred contributions
// added in place) with the one taken with a graph (composed rules, sums as
// new tensors), in both precisions.
func TestGradInPlaceMatchesRecorded(t *testing.T) {
	t.Run("float64", func(t *testing.T) { checkInPlaceMatchesRecorded[float64](t, 1e-9) })
	t.Run("float32", func(t *testing.T) { checkInPlaceMatchesRecorded[float32](t, 2e-3) })
}
