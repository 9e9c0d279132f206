package engine_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/engine/gradcheck"
)

// fusedBN is one of the fused ops under test, or the composition it
// stands for.
type fusedBN func(x, gamma, beta *V, st *engine.BNState[float64], training bool) *V

var (
	bnReLU fusedBN = engine.BatchNormReLU2D[float64]
	bnPool fusedBN = func(x, gamma, beta *V, st *engine.BNState[float64], training bool) *V {
		return engine.BatchNormReLUMaxPool2D(x, gamma, beta, st, training, engine.PoolSquare(2, 2))
	}
	bnReLUComposed fusedBN = func(x, gamma, beta *V, st *engine.BNState[float64], training bool) *V {
		return engine.ReLU(engine.BatchNorm2D(x, gamma, beta, st, training))
	}
	bnPoolComposed fusedBN = func(x, gamma, beta *V, st *engine.BNState[float64], training bool) *V {
		return engine.MaxPool2D(engine.ReLU(engine.BatchNorm2D(x, gamma, beta, st, training)), engine.PoolSquare(2, 2))
	}
)

// bnReLULoss is Σ y⊙(r⊙y + w) for the output y of op and a fourth
// parameter w: the square gives the rectified values curvature, and the
// term in w makes the output gradient nonzero where the rectifier cuts, so
// a missing mask on the second-order paths into it shows.
func bnReLULoss(op fusedBN, r *engine.Tensor[float64], st *engine.BNState[float64], training bool) gradcheck.Func {
	return func(p []*V) *V {
		y := op(p[0], p[1], p[2], st, training)
		return engine.Sum(engine.Mul(y, engine.Add(engine.Mul(y, engine.Const(r)), p[3])))
	}
}

// bnReLUCase returns fixed statistics and parameters for the checks below,
// for an input of shape [2,3,4,4] and an output of shape out. β is drawn
// wide so that some channels are mostly positive and others mostly cut off
// by the rectifier.
func bnReLUCase(seed uint64, out ...int) (*engine.BNState[float64], *engine.Tensor[float64], []*engine.Tensor[float64]) {
	rng := rand.New(rand.NewPCG(seed, 21))
	st := engine.NewBNState[float64](3)
	copy(st.RunningMean.Data(), []float64{0.3, -0.2, 0.1})
	copy(st.RunningVar.Data(), []float64{0.8, 1.5, 0.6})
	st.Momentum = 0 // finite differences must not move the statistics
	r := randT(rng, out...)
	beta := randT(rng, 3)
	for i := range beta.Data() {
		beta.Data()[i] *= 0.7
	}
	return st, r, []*engine.Tensor[float64]{randT(rng, 2, 3, 4, 4), positive(rng, 3), beta, randT(rng, out...)}
}

// fusedCases are the fused ops with their output shapes for bnReLUCase.
var fusedCases = []struct {
	name string
	op   fusedBN
	out  []int
}{
	{"BatchNormReLU2D", bnReLU, []int{2, 3, 4, 4}},
	{"BatchNormReLUMaxPool2D", bnPool, []int{2, 3, 2, 2}},
}

func TestGradCheckBatchNormReLU2D(t *testing.T)          { checkFused(t, 0, false) }
func TestSecondOrderBatchNormReLU2D(t *testing.T)        { checkFused(t, 0, true) }
func TestGradCheckBatchNormReLUMaxPool2D(t *testing.T)   { checkFused(t, 1, false) }
func TestSecondOrderBatchNormReLUMaxPool2D(t *testing.T) { checkFused(t, 1, true) }

func checkFused(t *testing.T, k int, second bool) {
	c := fusedCases[k]
	check := gradcheck.First
	if second {
		check = gradcheck.Second
	}
	for _, training := range []bool{true, false} {
		st, r, params := bnReLUCase(uint64(k+1), c.out...)
		if err := check(bnReLULoss(c.op, r, st, training), params, gradcheck.Options{MaxCoords: -1}); err != nil {
			t.Errorf("training=%v: %v", training, err)
		}
	}
}

// TestThirdOrderBatchNormReLU2D runs the fused ops' backward ops' own
// backward rules while recorded (composed from primitives), then
// differentiates them.
func TestThirdOrderBatchNormReLU2D(t *testing.T) {
	for k, c := range fusedCases {
		t.Run(c.name, func(t *testing.T) { checkThirdOrderFused(t, k) })
	}
}

func checkThirdOrderFused(t *testing.T, k int) {
	c := fusedCases[k]
	_, r, params := bnReLUCase(uint64(k+3), c.out...)
	f := bnReLULoss(c.op, r, nil, true)
	g := func(p []*V) *V {
		grads := engine.Grad(f(p), p, true)
		s := engine.Sum(engine.Mul(grads[0], grads[0]))
		for _, gi := range grads[1:] {
			s = engine.Add(s, engine.Sum(engine.Mul(gi, gi)))
		}
		return s
	}
	if err := gradcheck.First(g, params, gradcheck.Options{MaxCoords: -1}); err != nil {
		t.Error(err)
	}
	if err := gradcheck.Second(g, params, gradcheck.Options{MaxCoords: -1}); err != nil {
		t.Error(err)
	}
}

// TestBatchNormReLU2DMatchesComposition compares the fused ops with
// ReLU(BatchNorm2D) and MaxPool2D(ReLU(BatchNorm2D)) on values, gradients
// and the gradient of a function of the create-graph gradient (an
// L2G-shaped second derivative), on a shape large enough for the kernels'
// parallel path.
func TestBatchNormReLU2DMatchesComposition(t *testing.T) {
	t.Run("BatchNormReLU2D", func(t *testing.T) { checkFusedComposition(t, bnReLU, bnReLUComposed, 32) })
	t.Run("BatchNormReLUMaxPool2D", func(t *testing.T) { checkFusedComposition(t, bnPool, bnPoolComposed, 16) })
}

func checkFusedComposition(t *testing.T, fusedOp, composedOp fusedBN, outHW int) {
	rng := rand.New(rand.NewPCG(4, 4))
	shape := []int{4, 8, 32, 32}
	x, gamma, beta := randT(rng, shape...), positive(rng, 8), randT(rng, 8)
	r, w := randT(rng, 4, 8, outHW, outHW), randT(rng, 4, 8, outHW, outHW)
	run := func(fused bool) (y []float64, grads, second [][]float64) {
		ps := []*V{engine.Param(x), engine.Param(gamma), engine.Param(beta), engine.Param(w)}
		st := engine.NewBNState[float64](8)
		op := composedOp
		if fused {
			op = fusedOp
		}
		out := op(ps[0], ps[1], ps[2], st, true)
		loss := engine.Sum(engine.Mul(out, engine.Add(engine.Mul(out, engine.Const(r)), ps[3])))
		g := engine.Grad(loss, ps, true)
		// h = Σ <g_i, g_i + u_i> with fixed random u_i: the linear term
		// keeps every second-order term alive (for the input, <g, g>
		// alone is blind to some, as batch norm's input gradient is
		// orthogonal to the normalised input).
		var h *V
		for i, gi := range g {
			u := engine.Const(opRand(uint64(50+i), gi.Shape()...))
			t := engine.Sum(engine.Mul(gi, engine.Add(gi, u)))
			if h == nil {
				h = t
			} else {
				h = engine.Add(h, t)
			}
		}
		for _, v := range g {
			grads = append(grads, v.Value().Data())
		}
		for _, v := range engine.Grad(h, ps, false) {
			second = append(second, v.Value().Data())
		}
		return out.Value().Data(), grads, append(second, st.RunningMean.Data(), st.RunningVar.Data())
	}
	y1, g1, s1 := run(true)
	y2, g2, s2 := run(false)
	closeAll := func(what string, a, b []float64) {
		t.Helper()
		for i := range a {
			if math.Abs(a[i]-b[i]) > 1e-9*(1+math.Abs(b[i])) {
				t.Fatalf("%s[%d]: fused %v, composed %v", what, i, a[i], b[i])
			}
		}
	}
	closeAll("output", y1, y2)
	for i := range g1 {
		closeAll("gradient", g1[i], g2[i])
	}
	for i := range s1 {
		closeAll("second-order gradient or running statistics", s1[i], s2[i])
	}
}

// TestBatchNormReLUMaxPool2DEvalConstants checks the evaluation-mode path
// for constants, which pools before normalising, against the composition:
// bit for bit in float64, to float32's rounding in float32 (the vector
// kernel fuses the multiply-add, its scalar tail does not, and pooling moves
// elements between the two), with negative and zero γ (normalised first) among positive
// ones, on a large shape (parallel channels), a ragged one, and a padded
// overlapping window.
func TestBatchNormReLUMaxPool2DEvalConstants(t *testing.T) {
	t.Run("float32", func(t *testing.T) { checkEvalPool[float32](t) })
	t.Run("float64", func(t *testing.T) { checkEvalPool[float64](t) })
}

func checkEvalPool[T engine.Float](t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 9))
	cases := []struct {
		x []int
		p engine.PoolParams
	}{
		{[]int{4, 8, 32, 32}, engine.PoolSquare(2, 2)},
		{[]int{3, 8, 7, 9}, engine.PoolSquare(2, 2)},
		{[]int{2, 8, 6, 5}, engine.PoolParams{KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
	}
	for _, tc := range cases {
		c := tc.x[1]
		x := engine.Convert[T](randT(rng, tc.x...))
		gamma := engine.Convert[T](randT(rng, c))
		gamma.Data()[0], gamma.Data()[1] = 0, -gamma.Data()[1]*gamma.Data()[1]
		beta := engine.Convert[T](randT(rng, c))
		st := engine.NewBNState[T](c)
		copy(st.RunningMean.Data(), engine.Convert[T](randT(rng, c)).Data())
		copy(st.RunningVar.Data(), engine.Convert[T](positive(rng, c)).Data())
		got := engine.BatchNormReLUMaxPool2D(engine.Const(x), engine.Const(gamma), engine.Const(beta), st, false, tc.p)
		want := engine.MaxPool2D(engine.ReLU(engine.BatchNorm2D(engine.Const(x), engine.Const(gamma), engine.Const(beta), st, false)), tc.p)
		if got.Tracked() {
			t.Fatal("result of constants is tracked")
		}
		if !slices.Equal(got.Shape(), want.Shape()) {
			t.Fatalf("%v: shape %v, want %v", tc.x, got.Shape(), want.Shape())
		}
		tol := 0.0
		if _, ok := any(x.Data()).([]float32); ok {
			tol = 1e-6 // a rounded product of order 1, under cancellation
		}
		for i, v := range want.Value().Data() {
			if g := got.Value().Data()[i]; math.Abs(float64(g-v)) > tol*(1+math.Abs(float64(v))) {
				t.Fatalf("%v, %+v: element %d = %v, composition %v", tc.x, tc.p, i, g, v)
			}
		}
	}
}

// TestBatchNormReLUMaxPool2DTrainingEdgeCases checks the training-mode
// fused op, which pools each plane right after taking its statistics,
// against the composition with negative and zero γ (mapped before pooling),
// a γ small against β (whose backward pass gathers the input instead of
// reading it back from the output) and a padded overlapping window:
// values, running statistics and first derivatives, in float64 and float32.
func TestBatchNormReLUMaxPool2DTrainingEdgeCases(t *testing.T) {
	t.Run("float32", func(t *testing.T) { checkTrainPoolEdges[float32](t, 2e-4) })
	t.Run("float64", func(t *testing.T) { checkTrainPoolEdges[float64](t, 1e-9) })
}

func checkTrainPoolEdges[T engine.Float](t *testing.T, tol float64) {
	rng := rand.New(rand.NewPCG(4, 10))
	cases := []struct {
		x []int
		p engine.PoolParams
	}{
		{[]int{4, 8, 32, 32}, engine.PoolSquare(2, 2)},
		{[]int{3, 8, 7, 9}, engine.PoolSquare(2, 2)},
		{[]int{2, 8, 6, 5}, engine.PoolParams{KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
	}
	for _, tc := range cases {
		c := tc.x[1]
		x := engine.Convert[T](randT(rng, tc.x...))
		gamma := engine.Convert[T](randT(rng, c))
		gamma.Data()[0], gamma.Data()[1] = 0, -gamma.Data()[1]*gamma.Data()[1]
		beta := engine.Convert[T](randT(rng, c))
		gamma.Data()[2], beta.Data()[2] = 0.01, 1
		for ch := 3; ch < c; ch++ {
			gamma.Data()[ch] = T(math.Abs(float64(gamma.Data()[ch])) + 0.1)
		}
		run := func(fused bool) (vals [][]T) {
			ps := []*engine.Var[T]{engine.Param(x), engine.Param(gamma), engine.Param(beta)}
			st := engine.NewBNState[T](c)
			var out *engine.Var[T]
			if fused {
				out = engine.BatchNormReLUMaxPool2D(ps[0], ps[1], ps[2], st, true, tc.p)
			} else {
				out = engine.MaxPool2D(engine.ReLU(engine.BatchNorm2D(ps[0], ps[1], ps[2], st, true)), tc.p)
			}
			r := engine.Convert[T](opRand(77, out.Shape()...))
			vals = append(vals, out.Value().Data(), st.RunningMean.Data(), st.RunningVar.Data())
			first := engine.Grad(engine.Sum(engine.Mul(out, engine.Const(r))), ps, true)
			for _, g := range first {
				vals = append(vals, g.Value().Data())
			}
			// Second order, through every fused backward rule: the
			// squared γ gradient plus a random projection of the input's.
			u := engine.Const(engine.Convert[T](opRand(78, x.Shape()...)))
			pen := engine.Add(engine.Sum(engine.Mul(first[1], first[1])), engine.Sum(engine.Mul(first[0], u)))
			for _, g := range engine.Grad(pen, ps, false) {
				vals = append(vals, g.Value().Data())
			}
			return vals
		}
		got, want := run(true), run(false)
		for i := range want {
			for j, v := range want[i] {
				if g := got[i][j]; math.Abs(float64(g-v)) > tol*(1+math.Abs(float64(v))) {
					t.Fatalf("%v, %+v: value %d element %d = %v fused, %v composed", tc.x, tc.p, i, j, g, v)
				}
			}
		}
	}
}
