package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fewshot-go/fewshot/internal/kernel"
)

// The input gradients of a fused batch norm, ReLU and pooling are deferred
// poolGrads; two for the same forward pass merge into one (poolGrad.merge)
// in a gradient pass without a graph. These tests build the merged sum
// every way it can be deposited and compare it with the two contributions
// built apart and added.

// poolGradPair runs the backward rule of one BatchNormReLUMaxPool2D, as a
// gradient pass without a graph does, for two output gradients (the same
// tensor twice when sameG) and returns the two deferred input gradients.
func poolGradPair[T Float](rng *rand.Rand, sameG bool) (shape []int, p, q *poolGrad[T]) {
	shape = []int{3, 8, 12, 12}
	x := Param(RandNormal[T](rng, 1, shape...))
	gamma, beta := Param(RandNormal[T](rng, 0.3, 8)), Param(RandNormal[T](rng, 0.7, 8))
	for i := range gamma.value.data {
		gamma.value.data[i] += 1
	}
	y := BatchNormReLUMaxPool2D(x, gamma, beta, nil, true, PoolSquare(2, 2))
	back := func(g *Tensor[T]) *poolGrad[T] {
		res := y.fn.backward(Const(g), Detach(y), DetachAll(y.fn.inputs), []bool{true, false, false})
		if res[0].pooled == nil {
			panic("the fused op's input gradient is not a poolGrad")
		}
		return res[0].pooled
	}
	g1 := RandNormal[T](rng, 1, y.Shape()...)
	g2 := g1
	if !sameG {
		g2 = RandNormal[T](rng, 1, y.Shape()...)
	}
	return shape, back(g1), back(g2)
}

// withH returns p plus c·h for a random h of x's size and random c, with
// its plane sums.
func withH[T Float](rng *rand.Rand, shape []int, p *poolGrad[T]) *poolGrad[T] {
	r := *p
	r.h = RandNormal[T](rng, 1, shape...).data
	r.c = RandNormal[T](rng, 1, len(p.a)).data
	r.sums = planeSumsOf(shape, built(shape, &r))
	return &r
}

// built returns p deposited whole into a new slice.
func built[T Float](shape []int, p *poolGrad[T]) []T {
	dst := make([]T, numElements(shape))
	p.deferred(shape).deposit(dst, true)
	return dst
}

func planeSumsOf[T Float](shape []int, d []T) []float64 {
	c, hw := shape[1], shape[2]*shape[3]
	sums := make([]float64, c)
	for i, v := range d {
		sums[i/hw%c] += float64(v)
	}
	return sums
}

func TestPoolGradMerge(t *testing.T) {
	t.Run("float64", testPoolGradMerge[float64])
	t.Run("float32", testPoolGradMerge[float32])
}

func testPoolGradMerge[T Float](t *testing.T) {
	tol := 1e-12
	if isFloat32[T]() {
		tol = 1e-5
	}
	for _, sameG := range []bool{true, false} {
		for _, hs := range []string{"none", "first", "second", "both"} {
			rng := rand.New(rand.NewPCG(7, 8))
			shape, p, q := poolGradPair[T](rng, sameG)
			switch hs {
			case "first":
				p = withH(rng, shape, p)
			case "second":
				q = withH(rng, shape, q)
			case "both":
				p, q = withH(rng, shape, p), withH(rng, shape, q)
			}
			name := fmt.Sprintf("same g %v, h %s", sameG, hs)
			m := p.merge(q)
			if hs == "both" {
				// Two different h cannot share one term.
				if m != nil {
					t.Errorf("%s: merged", name)
				}
				continue
			}
			if m == nil {
				t.Fatalf("%s: not merged", name)
			}
			want, bq := built(shape, p), built(shape, q)
			for i, v := range bq {
				want[i] += v
			}
			scale := 0.0
			for _, v := range want {
				scale = max(scale, math.Abs(float64(v)))
			}
			check := func(how string, got []T) {
				t.Helper()
				for i, v := range got {
					if math.Abs(float64(v-want[i])) > tol*scale {
						t.Fatalf("%s, %s: element %d is %v, want %v", name, how, i, v, want[i])
					}
				}
			}
			d := m.deferred(shape)
			check("whole", built(shape, m))
			added := make([]T, len(want))
			for i := range added {
				added[i] = 1
			}
			d.deposit(added, false)
			for i := range added {
				added[i]--
			}
			check("added", added)
			n, img := shape[0], numElements(shape[1:])
			byImage, affine := make([]T, len(want)), make([]T, len(want))
			hw := shape[2] * shape[3]
			for k := range n {
				d.depositImage(k, byImage[k*img:(k+1)*img])
				part := affine[k*img : (k+1)*img]
				d.affine.sparse(k, part)
				for i := range part {
					ch := i / hw % shape[1]
					part[i] += d.affine.b[ch]*d.affine.of[k*img+i] + d.affine.d[ch]
				}
			}
			check("an image at a time", byImage)
			check("affine and sparse parts", affine)
			sums := planeSumsOf(shape, want)
			for ch, s := range d.planeSums {
				if math.Abs(s-sums[ch]) > 1e3*tol*scale {
					t.Errorf("%s: plane sum %d is %v, want %v", name, ch, s, sums[ch])
				}
			}
		}
	}
}

// TestPoolGradMergeRefusesOtherPass: contributions from two forward passes
// (another argmax and mask) must not merge.
func TestPoolGradMergeRefusesOtherPass(t *testing.T) {
	_, p, _ := poolGradPair[float64](rand.New(rand.NewPCG(1, 2)), false)
	_, q, _ := poolGradPair[float64](rand.New(rand.NewPCG(1, 3)), false)
	if p.merge(q) != nil {
		t.Error("input gradients of two forward passes merged")
	}
}

// TestWinoTermMerge sums two Winograd convolutions and two broadcast
// biases in every order (winoTerm.merge) and compares the merged deposit,
// written and added, with the parts deposited one by one.
func TestWinoTermMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	s := kernel.ConvShape{N: 2, C: 8, H: 9, W: 10, K: 16, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}
	shape := []int{s.N, s.K, s.OutH(), s.OutW()}
	rnd := func(n int) []float32 { return RandNormal[float32](rng, 1, n).data }
	conv := func() *winoTerm {
		return winoConv(s, rnd(s.N*s.C*s.H*s.W), rnd(s.K*s.C*9))
	}
	a, b := conv(), conv()
	h1, h2 := &winoTerm{bias: rnd(s.K)}, &winoTerm{bias: rnd(s.K)}
	size := numElements(shape)
	want := make([]float32, size)
	for _, p := range []*winoTerm{a, b, h1, h2} {
		p.deposit(want, shape, true)
	}
	orders := map[string][]*winoTerm{
		"conv, conv, bias, bias": {a, b, h1, h2},
		"bias, conv, bias, conv": {h1, a, h2, b},
		"bias, bias, conv, conv": {h1, h2, a, b},
	}
	for name, ts := range orders {
		m := ts[0]
		for _, u := range ts[1:] {
			if m = m.merge(u); m == nil {
				t.Fatalf("%s: not merged", name)
			}
		}
		if m.merge(a) != nil {
			t.Errorf("%s: a third convolution merged", name)
		}
		got := make([]float32, size)
		m.deposit(got, shape, false)
		added := make([]float32, size)
		for i := range added {
			added[i] = 1
		}
		m.deposit(added, shape, true)
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-4 || math.Abs(float64(added[i]-1-want[i])) > 1e-4 {
				t.Fatalf("%s: element %d written %v, added %v, want %v", name, i, got[i], added[i]-1, want[i])
			}
		}
	}
}
