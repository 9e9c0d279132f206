package engine

import (
	"math"
	"math/rand/v2"
	"testing"
)

// twoOut is a test op y = a + b whose backward pass returns, without a
// graph, the same fresh tensor for both inputs (or, with lazy, a deferred
// one): the gradient pass must not add later contributions of one input
// into the other's gradient.
func twoOut(a, b *Var[float64], lazy bool) *Var[float64] {
	return record("TwoOut", binary(opAdd, a.value, b.value), func(g, _ *Var[float64], _ []*Var[float64], _ []bool) []*Var[float64] {
		if g.tracked {
			return []*Var[float64]{g, g}
		}
		gd := g.value.data
		if lazy {
			d := deferred(g.value.shape, func(dst []float64, overwrite bool) {
				for i, v := range gd {
					if overwrite {
						dst[i] = v
					} else {
						dst[i] += v
					}
				}
			})
			return []*Var[float64]{d, d}
		}
		t := g.value.Clone()
		f := freshConst(t)
		return []*Var[float64]{f, f}
	}, a, b)
}

// TestGradOwnedSumsStayApart checks the in-place accumulation of fresh and
// deferred gradients against the recorded pass, which adds with new
// tensors: y = Σ r⊙twoOut(a, b) + Σ s⊙a + Σ u⊙b, so a and b each get the
// shared contribution and one of their own.
func TestGradOwnedSumsStayApart(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	rt := func() *Tensor[float64] { return RandNormal[float64](rng, 1, 2, 3) }
	r, s, u := Const(rt()), Const(rt()), Const(rt())
	for _, lazy := range []bool{false, true} {
		for _, createGraph := range []bool{false, true} {
			a, b := Param(rt()), Param(rt())
			y := Add(Add(Sum(Mul(twoOut(a, b, lazy), r)), Sum(Mul(a, s))), Sum(Mul(u, b)))
			g := Grad(y, []*Var[float64]{a, b}, createGraph)
			for i := range r.value.data {
				wa, wb := r.value.data[i]+s.value.data[i], r.value.data[i]+u.value.data[i]
				if ga, gb := g[0].value.data[i], g[1].value.data[i]; math.Abs(ga-wa) > 1e-12 || math.Abs(gb-wb) > 1e-12 {
					t.Fatalf("lazy=%v createGraph=%v element %d: gradients %v, %v, want %v, %v", lazy, createGraph, i, ga, gb, wa, wb)
				}
			}
		}
	}
}

// TestGradOwnedSameInputTwice: a fresh tensor returned twice for the same
// input (x used for both operands) is added to itself.
func TestGradOwnedSameInputTwice(t *testing.T) {
	x := Param(FromSlice([]float64{1, -2, 3}, 3))
	for _, lazy := range []bool{false, true} {
		g := Grad(Sum(twoOut(x, x, lazy)), []*Var[float64]{x}, false)[0]
		for i, v := range g.value.data {
			if v != 2 {
				t.Fatalf("lazy=%v element %d: gradient %v, want 2", lazy, i, v)
			}
		}
	}
}

// TestPlaneBroadcastDeposit checks both modes of the deferred bias-gradient
// broadcast against BroadcastTo.
func TestPlaneBroadcastDeposit(t *testing.T) {
	shape := []int{2, 3, 2, 5}
	h := Const(FromSlice([]float64{1.5, -2, 0.25}, 3))
	want := BroadcastTo(Reshape(h, 1, 3, 1, 1), shape).value.data
	d := planeBroadcast(h, shape)
	if d.deposit == nil {
		t.Fatal("untracked planeBroadcast is not deferred")
	}
	got := materialize(d).value.data
	acc := make([]float64, len(want))
	for i := range acc {
		acc[i] = float64(i)
	}
	d.deposit(acc, false)
	for i, w := range want {
		if got[i] != w || acc[i] != w+float64(i) {
			t.Fatalf("element %d: written %v, added %v, want %v and %v", i, got[i], acc[i], w, w+float64(i))
		}
	}
}

// TestAddIntoBlocks checks the threaded sum of large gradients, with a
// length that does not divide into the blocks evenly, in both precisions.
func TestAddIntoBlocks(t *testing.T) {
	n := 3<<16 + 5
	d64, s64 := make([]float64, n), make([]float64, n)
	d32, s32 := make([]float32, n), make([]float32, n)
	for i := range d64 {
		d64[i], s64[i] = float64(i%7)-3, float64(i%5)*0.5
		d32[i], s32[i] = float32(d64[i]), float32(s64[i])
	}
	addInto(d64, s64)
	addInto(d32, s32)
	for i := range d64 {
		want := float64(i%7) - 3 + float64(i%5)*0.5
		if d64[i] != want || float64(d32[i]) != want {
			t.Fatalf("element %d: %v and %v, want %v", i, d64[i], d32[i], want)
		}
	}
}

// TestFillValue checks the doubling fill on lengths around the powers of
// two, over garbage.
func TestFillValue(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 7, 8, 9, 63, 64, 65, 784} {
		d := make([]float32, n+1)
		for i := range d {
			d[i] = float32(i) - 5
		}
		fillValue(d[:n], 2.5)
		for i, v := range d[:n] {
			if v != 2.5 {
				t.Fatalf("n=%d: element %d = %v", n, i, v)
			}
		}
		if d[n] != float32(n)-5 {
			t.Fatalf("n=%d: wrote past the end", n)
		}
	}
}
