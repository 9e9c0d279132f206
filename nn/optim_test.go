package nn_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/nn"
)

// TestAdamQuadratic minimises Σ c_i (θ_i − t_i)², whose curvature differs by
// coordinate, and checks the first step against the closed form: with bias
// correction Adam's first move is lr·sign(g) (up to ε).
func TestAdamQuadratic(t *testing.T) {
	target := engine.Const(engine.FromSlice([]float64{1, -2, 3, 0.5}, 4))
	curv := engine.Const(engine.FromSlice([]float64{1, 10, 0.1, 100}, 4))
	theta := engine.Param(engine.New[float64](4))
	opt := nn.NewAdam[float64](0.05)
	loss := func() *V {
		d := engine.Sub(theta, target)
		return engine.Sum(engine.Mul(curv, engine.Mul(d, d)))
	}
	opt.Step([]*V{theta}, engine.Grad(loss(), []*V{theta}, false))
	for i, v := range theta.Value().Data() {
		want := 0.05 * math.Copysign(1, target.Value().Data()[i])
		if math.Abs(v-want) > 1e-8 {
			t.Fatalf("after one step θ[%d] = %v, want %v", i, v, want)
		}
	}
	for step := 0; step < 2000; step++ {
		opt.LR = nn.StepLR{Base: 0.05, Every: 500, Factor: 0.5}.At(step)
		opt.Step([]*V{theta}, engine.Grad(loss(), []*V{theta}, false))
	}
	for i, v := range theta.Value().Data() {
		if w := target.Value().Data()[i]; math.Abs(v-w) > 1e-3 {
			t.Errorf("θ[%d] = %v, want %v", i, v, w)
		}
	}
	if opt.Steps != 2001 {
		t.Errorf("Steps = %d", opt.Steps)
	}
}

func TestAdamWeightDecay(t *testing.T) {
	// With a zero loss gradient only the decay acts, pulling θ toward 0.
	theta := engine.Param(engine.FromSlice([]float64{2, -3}, 2))
	opt := nn.NewAdam[float64](0.01)
	opt.WeightDecay = 0.1
	for i := 0; i < 10; i++ {
		opt.Step([]*V{theta}, []*V{engine.Const(engine.New[float64](2))})
	}
	d := theta.Value().Data()
	if math.Abs(d[0]-1.9) > 1e-3 || math.Abs(d[1]+2.9) > 1e-3 {
		t.Fatalf("θ = %v, want about [1.9 -2.9] (ten steps of about lr·sign)", d)
	}
}

// TestAdamCheckpoint saves the optimiser mid-run, restores it into a fresh
// one and checks that both continue identically.
func TestAdamCheckpoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 1))
	p1 := []*engine.Var[float32]{engine.Param(engine.RandNormal[float32](rng, 1, 3, 2)), engine.Param(engine.RandNormal[float32](rng, 1, 5))}
	grads := func() []*engine.Var[float32] {
		return []*engine.Var[float32]{engine.Const(engine.RandNormal[float32](rng, 1, 3, 2)), engine.Const(engine.RandNormal[float32](rng, 1, 5))}
	}
	a := nn.NewAdam[float32](0.01)
	a.WeightDecay = 1e-4
	for i := 0; i < 3; i++ {
		a.Step(p1, grads())
	}
	blob, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var b nn.Adam[float32]
	if err := b.UnmarshalBinary(blob); err != nil {
		t.Fatal(err)
	}
	if b.Steps != 3 || b.LR != 0.01 || b.WeightDecay != 1e-4 || len(b.M) != 2 {
		t.Fatalf("restored %+v", b)
	}
	p2 := []*engine.Var[float32]{engine.Param(p1[0].Value().Clone()), engine.Param(p1[1].Value().Clone())}
	g := grads()
	a.Step(p1, g)
	b.Step(p2, g)
	for i := range p1 {
		for j, v := range p1[i].Value().Data() {
			if p2[i].Value().Data()[j] != v {
				t.Fatalf("restored optimiser diverges at param %d[%d]", i, j)
			}
		}
	}

	var c nn.Adam[float64]
	if err := c.UnmarshalBinary(blob); err == nil {
		t.Error("float64 optimiser accepted a float32 checkpoint")
	}
	for _, cut := range []int{0, 5, 20, len(blob) - 1} {
		if err := b.UnmarshalBinary(blob[:cut]); err == nil {
			t.Errorf("checkpoint cut to %d bytes accepted", cut)
		}
	}
	if b.Steps != 4 {
		t.Errorf("failed restores changed the optimiser: Steps = %d", b.Steps)
	}
}

func TestSGDStepIsDifferentiable(t *testing.T) {
	// θ' = θ − lr·∇(θ²/2·c) = θ(1 − lr·c), so dθ'/dθ = 1 − lr·c.
	theta := engine.Param(engine.FromSlice([]float64{1.5}, 1))
	g := engine.Grad(engine.Scale(engine.Sum(engine.Mul(theta, theta)), 1.5), []*V{theta}, true)
	next := nn.SGDStep([]*V{theta}, g, 0.1)
	if v := next[0].Item(); math.Abs(v-1.5*(1-0.3)) > 1e-12 {
		t.Fatalf("θ' = %v", v)
	}
	d := engine.Grad(engine.Sum(next[0]), []*V{theta}, false)[0].Item()
	if math.Abs(d-0.7) > 1e-12 {
		t.Fatalf("dθ'/dθ = %v, want 0.7", d)
	}
}

func TestClipGradNorm(t *testing.T) {
	g := []*V{engine.Const(engine.FromSlice([]float64{3, 0}, 2)), engine.Const(engine.FromSlice([]float64{4}, 1))}
	clipped, norm := nn.ClipGradNorm(g, 1)
	if norm != 5 {
		t.Fatalf("norm %v, want 5", norm)
	}
	if a, b := clipped[0].Value().Data()[0], clipped[1].Value().Data()[0]; math.Abs(a-0.6) > 1e-12 || math.Abs(b-0.8) > 1e-12 {
		t.Fatalf("clipped to %v, %v", a, b)
	}
	if g[0].Value().Data()[0] != 3 {
		t.Fatal("ClipGradNorm modified its argument")
	}
	if same, _ := nn.ClipGradNorm(g, 10); same[0] != g[0] {
		t.Fatal("gradients under the limit were replaced")
	}
}

func TestStepLR(t *testing.T) {
	s := nn.StepLR{Base: 1e-3, Every: 100, Factor: 0.5}
	for _, c := range []struct {
		step int
		want float64
	}{{0, 1e-3}, {99, 1e-3}, {100, 5e-4}, {250, 2.5e-4}} {
		if got := s.At(c.step); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("At(%d) = %v, want %v", c.step, got, c.want)
		}
	}
}
