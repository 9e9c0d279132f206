package engine_test

import (
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/engine"
)

// secondOrderObjective builds an L2G-shaped objective: the loss at
// θ − 0.1·∇L_a(θ) of a second input, with the inner gradient recorded.
func secondOrderObjective(ps []*V) *V {
	x1 := engine.Const(opRand(40, 2, 2, 5, 5))
	x2 := engine.Const(opRand(41, 2, 2, 5, 5))
	f := func(x *V, w []*V) *V {
		y := engine.Conv2D(x, w[0], w[1], engine.ConvSame(1, 1))
		y = engine.BatchNorm2D(y, w[2], w[3], nil, true)
		return weighted(engine.MaxPool2D(engine.ReLU(y), engine.PoolSquare(2, 2)))
	}
	g := engine.Grad(f(x1, ps), ps, true)
	inner := make([]*V, len(ps))
	for i := range ps {
		inner[i] = engine.Sub(ps[i], engine.Scale(g[i], 0.1))
	}
	return f(x2, inner)
}

func freeTestParams() []*V {
	return []*V{
		engine.Param(opRand(42, 3, 2, 3, 3)), engine.Param(opRand(43, 3)),
		engine.Param(opPositive(44, 3)), engine.Param(opRand(45, 3)),
	}
}

func TestGradFreeMatchesGrad(t *testing.T) {
	ps := freeTestParams()
	want := engine.Grad(secondOrderObjective(ps), ps, false)
	y := secondOrderObjective(ps)
	got := engine.GradFree(y, ps)
	for i := range ps {
		w, g := want[i].Value().Data(), got[i].Value().Data()
		for j := range w {
			if w[j] != g[j] {
				t.Fatalf("param %d element %d: GradFree %v, Grad %v", i, j, g[j], w[j])
			}
		}
	}
	if y.Op() == "" {
		t.Error("released value lost its op name")
	}
}

func TestGradFreeReleasesGraph(t *testing.T) {
	ps := freeTestParams()
	h := engine.Mul(ps[1], ps[1]) // not on the path from y: must stay usable
	y := secondOrderObjective(ps)
	engine.GradFree(y, ps)
	if d := engine.Grad(engine.Sum(h), ps[1:2], false)[0].Value().Data(); d[0] != 2*ps[1].Value().Data()[0] {
		t.Fatalf("gradient through an untouched value = %v", d)
	}
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "released") {
			t.Fatalf("differentiating a released graph: recovered %v, want a panic naming the release", r)
		}
	}()
	engine.Grad(engine.Scale(y, 2), ps, false)
}
