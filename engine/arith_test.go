package engine_test

import (
	"math/rand/v2"
	"testing"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/engine/gradcheck"
)

type V = engine.Var[float64]

func randT(rng *rand.Rand, shape ...int) *engine.Tensor[float64] {
	return engine.RandNormal[float64](rng, 1, shape...)
}

// positive returns a tensor with entries in [0.5, 2), safe as a divisor.
func positive(rng *rand.Rand, shape ...int) *engine.Tensor[float64] {
	return engine.RandUniform[float64](rng, 0.5, 2, shape...)
}

func checkBoth(t *testing.T, f gradcheck.Func, params ...*engine.Tensor[float64]) {
	t.Helper()
	if err := gradcheck.First(f, params, gradcheck.Options{}); err != nil {
		t.Error(err)
	}
	if err := gradcheck.Second(f, params, gradcheck.Options{}); err != nil {
		t.Error(err)
	}
}

func TestGradCheckArithBroadcast(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	shapes := [][2][]int{
		{{2, 3}, {2, 3}},
		{{2, 3}, {3}},
		{{4, 1, 3}, {2, 1}},
		{{2, 3, 2, 2}, {1, 3, 1, 1}},
		{{}, {2, 2}},
	}
	for _, sh := range shapes {
		a, b := randT(rng, sh[0]...), positive(rng, sh[1]...)
		// Products make every op nonlinear so that second-order checks see curvature.
		f := func(p []*V) *V {
			x, y := p[0], p[1]
			s := engine.Add(engine.Mul(x, y), engine.Sub(y, x))
			return engine.Sum(engine.Mul(engine.Div(s, y), engine.Add(x, y)))
		}
		t.Run("", func(t *testing.T) { checkBoth(t, f, a, b) })
	}
}

func TestSecondOrderDivSelf(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a := positive(rng, 5)
	f := func(p []*V) *V { return engine.Mean(engine.Div(engine.Scale(p[0], 3), engine.AddScalar(p[0], 1))) }
	checkBoth(t, f, a)
}

func TestBroadcastShapes(t *testing.T) {
	got, ok := engine.BroadcastShapes([]int{4, 1, 3}, []int{2, 1})
	if !ok || len(got) != 3 || got[0] != 4 || got[1] != 2 || got[2] != 3 {
		t.Fatalf("BroadcastShapes = %v, %v", got, ok)
	}
	if _, ok := engine.BroadcastShapes([]int{2, 3}, []int{4}); ok {
		t.Fatal("incompatible shapes accepted")
	}
}

func TestNoGraphForConstants(t *testing.T) {
	a := engine.Const(engine.Full[float32](2, 3))
	b := engine.Add(a, a)
	if b.Tracked() || b.Op() != "" {
		t.Fatalf("op on constants recorded a graph node: tracked=%v op=%q", b.Tracked(), b.Op())
	}
	if got := b.Value().Data()[0]; got != 4 {
		t.Fatalf("2+2 = %v", got)
	}
}

func TestGradUnreachableIsZero(t *testing.T) {
	p := engine.Param(engine.Full[float64](1, 2))
	q := engine.Param(engine.Full[float64](1, 2))
	g := engine.Grad(engine.Sum(engine.Mul(p, p)), []*V{p, q}, false)
	if d := g[0].Value().Data(); d[0] != 2 || d[1] != 2 {
		t.Fatalf("d/dp Σp² = %v, want [2 2]", d)
	}
	if d := g[1].Value().Data(); d[0] != 0 || d[1] != 0 {
		t.Fatalf("gradient of unused param = %v, want zeros", d)
	}
}
