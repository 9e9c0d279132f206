package engine_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fewshot-go/fewshot/engine"
)

// lstmComposite is LSTMCell from elementary ops, the reference of the tests.
func lstmComposite[T engine.Float](pre, state *engine.Var[T]) *engine.Var[T] {
	h := pre.Shape()[1] / 4
	gate := func(k int) *engine.Var[T] { return engine.Slice(pre, 1, k*h, (k+1)*h) }
	c := engine.Mul(engine.Sigmoid(gate(0)), engine.Tanh(gate(2)))
	if state != nil {
		c = engine.Add(c, engine.Mul(engine.Sigmoid(gate(1)), engine.Slice(state, 1, h, 2*h)))
	}
	return engine.Concat(1, engine.Mul(engine.Sigmoid(gate(3)), engine.Tanh(c)), c)
}

func init() {
	// Pre-activations of both signs and up to |x| ≈ 6 (scale 2), so that
	// the gates reach their flat ends; "chained" feeds one cell's state
	// into another and into the pre-activations, as an unrolled LSTM does.
	pre, state := opRand(201, 3, 8), opRand(202, 3, 4)
	opCases["LSTMCell"] = []opCase{
		{"with-state", func(p []*V) *V { return weighted(engine.LSTMCell(engine.Scale(p[0], 2), p[1])) },
			[]*engine.Tensor[float64]{pre, state}},
		{"first-step", func(p []*V) *V { return weighted(engine.LSTMCell(engine.Scale(p[0], 2), nil)) },
			[]*engine.Tensor[float64]{pre}},
		{"chained", func(p []*V) *V {
			s := engine.LSTMCell(p[0], nil)
			return weighted(engine.LSTMCell(engine.Mul(p[0], engine.Slice(engine.Concat(1, s, s), 1, 0, 8)), s))
		}, []*engine.Tensor[float64]{pre}},
	}
}

func TestGradCheckLSTMCell(t *testing.T)   { runOpCases(t, "LSTMCell", false) }
func TestSecondOrderLSTMCell(t *testing.T) { runOpCases(t, "LSTMCell", true) }

// TestLSTMCellMatchesComposite compares the fused op's value and
// first-order gradients with the composition's, in float64 (to rounding)
// and float32 (to the accuracy of kernel.Sigmoid32), with and without a
// previous state, on enough rows to be split between threads.
func TestLSTMCellMatchesComposite(t *testing.T) {
	const n, h = 300, 20
	for _, withState := range []bool{true, false} {
		pre64 := engine.RandNormal[float64](rand.New(rand.NewPCG(3, 4)), 3, n, 4*h)
		st64 := engine.RandNormal[float64](rand.New(rand.NewPCG(5, 6)), 2, n, 2*h)
		seed64 := engine.RandNormal[float64](rand.New(rand.NewPCG(7, 8)), 1, n, 2*h)
		t.Run(map[bool]string{true: "state", false: "no-state"}[withState], func(t *testing.T) {
			checkLSTMCell(t, pre64, st64, seed64, withState, 1e-12)
			checkLSTMCell(t, toF32(pre64), toF32(st64), toF32(seed64), withState, 2e-6)
		})
	}
}

func toF32(x *engine.Tensor[float64]) *engine.Tensor[float32] {
	y := engine.New[float32](x.Shape()...)
	for i, v := range x.Data() {
		y.Data()[i] = float32(v)
	}
	return y
}

func checkLSTMCell[T engine.Float](t *testing.T, preT, stT, seedT *engine.Tensor[T], withState bool, tol float64) {
	t.Helper()
	run := func(cell func(pre, st *engine.Var[T]) *engine.Var[T]) (out []T, grads [][]T) {
		pre, st := engine.Param(preT.Clone()), engine.Param(stT.Clone())
		wrt := []*engine.Var[T]{pre, st}
		if !withState {
			st, wrt = nil, wrt[:1]
		}
		y := cell(pre, st)
		for _, g := range engine.GradSeed([]*engine.Var[T]{y}, []*engine.Var[T]{engine.Const(seedT)}, wrt, false) {
			grads = append(grads, g.Value().Data())
		}
		return y.Value().Data(), grads
	}
	got, gotG := run(engine.LSTMCell[T])
	want, wantG := run(lstmComposite[T])
	near := func(what string, a, b []T) {
		for i := range b {
			if d := math.Abs(float64(a[i] - b[i])); d > tol || math.IsNaN(float64(a[i])) {
				t.Fatalf("%T %s element %d: fused %g, composite %g", a[0], what, i, a[i], b[i])
			}
		}
	}
	near("output", got, want)
	near("gradient of pre", gotG[0], wantG[0])
	if withState {
		near("gradient of state", gotG[1], wantG[1])
	}
}

// TestLSTMCellShapes checks the panics for shapes that do not fit.
func TestLSTMCellShapes(t *testing.T) {
	for name, f := range map[string]func(){
		"pre not 4H": func() { engine.LSTMCell(engine.Const(engine.New[float32](2, 6)), nil) },
		"pre rank 1": func() { engine.LSTMCell(engine.Const(engine.New[float32](8)), nil) },
		"state rows": func() {
			engine.LSTMCell(engine.Const(engine.New[float32](2, 8)), engine.Const(engine.New[float32](3, 4)))
		},
		"state width": func() {
			engine.LSTMCell(engine.Const(engine.New[float32](2, 8)), engine.Const(engine.New[float32](2, 2)))
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
