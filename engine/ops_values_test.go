package engine_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/engine"
)

// constOf wraps values as a float64 constant of the given shape.
func constOf(data []float64, shape ...int) *V {
	return engine.Const(engine.FromSlice(data, shape...))
}

// wantValues fails unless v has shape and data within tol of want.
func wantValues(t *testing.T, what string, v *V, shape []int, want []float64, tol float64) {
	t.Helper()
	got := v.Value()
	if !equalInts(got.Shape(), shape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), shape)
	}
	for i, w := range want {
		if g := got.Data()[i]; !(math.Abs(g-w) <= tol*math.Max(1, math.Abs(w))) {
			t.Fatalf("%s: element %d = %.12g, want %.12g (data %v)", what, i, g, w, got.Data())
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// wantPanic fails unless fn panics with a message containing substr.
func wantPanic(t *testing.T, substr string, fn func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("no panic, want one mentioning %q", substr)
		}
		if msg, _ := r.(string); !strings.Contains(msg, substr) {
			t.Fatalf("panic %v, want one mentioning %q", r, substr)
		}
	}()
	fn()
}

func TestElementwiseValues(t *testing.T) {
	x := constOf([]float64{-2, -0.5, 0, 1.5}, 4)
	cases := []struct {
		name string
		got  *V
		want []float64
	}{
		{"ReLU", engine.ReLU(x), []float64{0, 0, 0, 1.5}},
		{"LeakyReLU", engine.LeakyReLU(x, 0.1), []float64{-0.2, -0.05, 0, 1.5}},
		{"Square", engine.Square(x), []float64{4, 0.25, 0, 2.25}},
		{"Exp", engine.Exp(x), []float64{math.Exp(-2), math.Exp(-0.5), 1, math.Exp(1.5)}},
		{"Tanh", engine.Tanh(x), []float64{math.Tanh(-2), math.Tanh(-0.5), 0, math.Tanh(1.5)}},
		{"Sigmoid", engine.Sigmoid(x), []float64{1 / (1 + math.Exp(2)), 1 / (1 + math.Exp(0.5)), 0.5, 1 / (1 + math.Exp(-1.5))}},
		{"Log", engine.Log(constOf([]float64{1, math.E, 0.5}, 3)), []float64{0, 1, math.Log(0.5)}},
		{"Sqrt", engine.Sqrt(constOf([]float64{4, 2, 0}, 3)), []float64{2, math.Sqrt2, 0}},
	}
	for _, c := range cases {
		wantValues(t, c.name, c.got, []int{len(c.want)}, c.want, 1e-15)
	}
}

func TestSigmoidExtremes(t *testing.T) {
	s := engine.Sigmoid(constOf([]float64{-1000, 1000, -40}, 3))
	wantValues(t, "Sigmoid", s, []int{3}, []float64{0, 1, math.Exp(-40)}, 1e-15)
	if d := s.Value().Data()[2]; d <= 0 {
		t.Fatalf("Sigmoid(-40) = %g, want a positive value", d)
	}
}

func TestReLUGradientMask(t *testing.T) {
	x := engine.Param(engine.FromSlice([]float64{-1, 2, 0, 3}, 4))
	g := engine.Grad(engine.Sum(engine.LeakyReLU(x, 0.25)), []*V{x}, false)[0]
	wantValues(t, "dLeakyReLU", g, []int{4}, []float64{0.25, 1, 0.25, 1}, 0)
}

func TestReductionValues(t *testing.T) {
	// x[i][j][k] = 100i + 10j + k for shape [2,3,2]
	data := make([]float64, 12)
	for i := range 2 {
		for j := range 3 {
			for k := range 2 {
				data[i*6+j*2+k] = float64(100*i + 10*j + k)
			}
		}
	}
	x := constOf(data, 2, 3, 2)
	wantValues(t, "SumAxes(1)", engine.SumAxes(x, []int{1}, false), []int{2, 2}, []float64{30, 33, 330, 333}, 0)
	wantValues(t, "SumAxes(-1,keep)", engine.SumAxes(x, []int{-1}, true), []int{2, 3, 1}, []float64{1, 21, 41, 201, 221, 241}, 0)
	wantValues(t, "SumAxes(0,2)", engine.SumAxes(x, []int{0, 2}, false), []int{3}, []float64{202, 242, 282}, 0)
	wantValues(t, "SumAxes(all)", engine.SumAxes(x, nil, false), []int{}, []float64{726}, 0)
	wantValues(t, "MeanAxes(0)", engine.MeanAxes(x, []int{0}, true), []int{1, 3, 2}, []float64{50, 51, 60, 61, 70, 71}, 1e-15)
	wantPanic(t, "repeated", func() { engine.SumAxes(x, []int{1, -2}, false) })
	wantPanic(t, "out of range", func() { engine.SumAxes(x, []int{3}, false) })
}

func TestLogSoftmaxValues(t *testing.T) {
	// softmax([0, ln 3]) = [1/4, 3/4]
	ls := engine.LogSoftmax(constOf([]float64{0, math.Log(3)}, 1, 2), 1)
	wantValues(t, "LogSoftmax", ls, []int{1, 2}, []float64{math.Log(0.25), math.Log(0.75)}, 1e-15)

	// Large inputs must not overflow, and rows must be probability vectors.
	x := constOf([]float64{1000, 1001, 999, -1000, -1002, -999}, 2, 3)
	ls = engine.LogSoftmax(x, -1)
	shifted := engine.LogSoftmax(constOf([]float64{1, 2, 0, -1, -3, 0}, 2, 3), -1)
	for i, v := range ls.Value().Data() {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("LogSoftmax of large inputs gave %v", ls.Value().Data())
		}
		if w := shifted.Value().Data()[i]; math.Abs(v-w) > 1e-12 {
			t.Fatalf("LogSoftmax not shift invariant at %d: %v vs %v", i, v, w)
		}
	}
	rowSums := engine.SumAxes(engine.Exp(ls), []int{1}, false)
	wantValues(t, "Σ exp(LogSoftmax)", rowSums, []int{2}, []float64{1, 1}, 1e-14)

	sm := engine.Softmax(x, 1)
	wantValues(t, "Softmax", sm, []int{2, 3}, engine.Exp(ls).Value().Data(), 1e-14)
	// Along the first axis of a 3-D tensor (strided lines).
	y := constOf([]float64{0, 1, 2, 3, math.Log(3), 1, 2, 3}, 2, 2, 2)
	wantValues(t, "Softmax(axis 0)", engine.Softmax(y, 0), []int{2, 2, 2}, []float64{0.25, 0.5, 0.5, 0.5, 0.75, 0.5, 0.5, 0.5}, 1e-15)
}

func TestLogSumExpValues(t *testing.T) {
	x := constOf([]float64{1000, 1000, 0, math.Log(3), math.Inf(-1), math.Inf(-1)}, 3, 2)
	lse := engine.LogSumExp(x, 1, false)
	wantValues(t, "LogSumExp", lse, []int{3}, []float64{1000 + math.Log(2), math.Log(4)}, 1e-15)
	if v := lse.Value().Data()[2]; !math.IsInf(v, -1) {
		t.Fatalf("LogSumExp of all −∞ = %v, want −∞", v)
	}
	keep := engine.LogSumExp(constOf([]float64{0, 0, math.Log(3), 0}, 2, 2), 0, true)
	wantValues(t, "LogSumExp(axis 0, keep)", keep, []int{1, 2}, []float64{math.Log(4), math.Log(2)}, 1e-15)
}

func TestShapeOpValues(t *testing.T) {
	x := constOf([]float64{0, 1, 2, 3, 4, 5}, 2, 3)
	wantValues(t, "Transpose", engine.Transpose(x), []int{3, 2}, []float64{0, 3, 1, 4, 2, 5}, 0)
	wantValues(t, "Reshape", engine.Reshape(x, -1, 2), []int{3, 2}, []float64{0, 1, 2, 3, 4, 5}, 0)
	if &engine.Reshape(x, 6).Value().Data()[0] != &x.Value().Data()[0] {
		t.Error("Reshape copied the data")
	}
	y := constOf(make([]float64, 2*3*4*5), 2, 3, 4, 5)
	for _, c := range []struct{ axis, r, c int }{{0, 1, 120}, {1, 2, 60}, {-1, 24, 5}, {4, 120, 1}} {
		if s := engine.Flatten(y, c.axis).Shape(); !equalInts(s, []int{c.r, c.c}) {
			t.Errorf("Flatten(axis %d) shape %v, want [%d %d]", c.axis, s, c.r, c.c)
		}
	}
	z := constOf([]float64{6, 7}, 2, 1)
	wantValues(t, "Concat(1)", engine.Concat(1, x, z), []int{2, 4}, []float64{0, 1, 2, 6, 3, 4, 5, 7}, 0)
	wantValues(t, "Concat(0)", engine.Concat(0, x, x), []int{4, 3}, []float64{0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5}, 0)
	wantValues(t, "Slice", engine.Slice(x, 1, 1, -1), []int{2, 1}, []float64{1, 4}, 0)
	wantValues(t, "IndexSelect", engine.IndexSelect(x, -1, []int{2, 2, 0}), []int{2, 3}, []float64{2, 2, 0, 5, 5, 3}, 0)

	// The gradient of IndexSelect adds repeated picks.
	p := engine.Param(engine.FromSlice([]float64{1, 2, 3}, 3))
	g := engine.Grad(engine.Sum(engine.IndexSelect(p, 0, []int{2, 0, 2})), []*V{p}, false)[0]
	wantValues(t, "dIndexSelect", g, []int{3}, []float64{1, 0, 2}, 0)

	// Transposing a 3-D tensor: out[i][j][k] = x[k][i][j].
	w := constOf([]float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 2, 2, 3)
	wantValues(t, "Transpose(2,0,1)", engine.Transpose(w, 2, 0, 1), []int{3, 2, 2}, []float64{0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11}, 0)

	wantPanic(t, "Concat", func() { engine.Concat(0, x, z) })
	wantPanic(t, "out of bounds", func() { engine.Slice(x, 0, 1, 3) })
	wantPanic(t, "out of range", func() { engine.IndexSelect(x, 0, []int{2}) })
	wantPanic(t, "permutation", func() { engine.Transpose(w, 0, 0, 1) })
}

func TestMatMulValues(t *testing.T) {
	a := constOf([]float64{1, 2, 3, 4, 5, 6}, 2, 3) // [[1 2 3] [4 5 6]]
	b := constOf([]float64{1, 0, 0, 1, 1, 1}, 3, 2) // [[1 0] [0 1] [1 1]]
	want := []float64{4, 5, 10, 11}                 // a·b
	wantValues(t, "nn", engine.MatMul(a, b, false, false), []int{2, 2}, want, 0)
	at := engine.Transpose(a)
	bt := engine.Transpose(b)
	wantValues(t, "tn", engine.MatMul(at, b, true, false), []int{2, 2}, want, 0)
	wantValues(t, "nt", engine.MatMul(a, bt, false, true), []int{2, 2}, want, 0)
	wantValues(t, "tt", engine.MatMul(at, bt, true, true), []int{2, 2}, want, 0)

	ab := engine.Concat(0, engine.Reshape(a, 1, 2, 3), engine.Reshape(engine.Scale(a, 2), 1, 2, 3))
	bb := engine.Concat(0, engine.Reshape(b, 1, 3, 2), engine.Reshape(b, 1, 3, 2))
	wantValues(t, "batched", engine.MatMul(ab, bb, false, false), []int{2, 2, 2}, []float64{4, 5, 10, 11, 8, 10, 20, 22}, 0)

	lin := engine.Linear(a, bt, constOf([]float64{10, 20}, 2))
	wantValues(t, "Linear", lin, []int{2, 2}, []float64{14, 25, 20, 31}, 0)

	wantPanic(t, "MatMul", func() { engine.MatMul(a, a, false, false) })
	wantPanic(t, "Linear", func() { engine.Linear(a, b, nil) })
}

func TestPairwiseSqDistMatchesDirect(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	a := engine.RandNormal[float64](rng, 3, 7, 13)
	b := engine.RandNormal[float64](rng, 3, 5, 13)
	d := engine.PairwiseSqDist(engine.Const(a), engine.Const(b)).Value()
	for i := range 7 {
		for j := range 5 {
			var s float64
			for k := range 13 {
				diff := a.Data()[i*13+k] - b.Data()[j*13+k]
				s += diff * diff
			}
			if got := d.Data()[i*5+j]; math.Abs(got-s) > 1e-12*s {
				t.Fatalf("dist[%d][%d] = %v, want %v", i, j, got, s)
			}
		}
	}
	self := engine.PairwiseSqDist(engine.Const(a), engine.Const(a)).Value()
	for i := range 7 {
		if v := self.Data()[i*7+i]; v < 0 || v > 1e-12 {
			t.Fatalf("distance of row %d to itself = %v", i, v)
		}
	}
}

func TestCosineSimilarityValues(t *testing.T) {
	a := constOf([]float64{1, 0, 3, 4, 0, 0}, 3, 2)
	b := constOf([]float64{2, 0, 0, -5}, 2, 2)
	wantValues(t, "CosineSimilarity", engine.CosineSimilarity(a, b, 1e-8), []int{3, 2},
		[]float64{1, 0, 0.6, -0.8, 0, 0}, 1e-12)
}

func TestLossValues(t *testing.T) {
	uniform := constOf(make([]float64, 4*5), 4, 5)
	wantValues(t, "CrossEntropy(uniform)", engine.CrossEntropy(uniform, []int{0, 1, 4, 2}), []int{}, []float64{math.Log(5)}, 1e-15)

	// Rows [0, ln 3] with labels 1 and 0: losses −ln(3/4) and −ln(1/4).
	logits := constOf([]float64{0, math.Log(3), 0, math.Log(3)}, 2, 2)
	wantValues(t, "CrossEntropy", engine.CrossEntropy(logits, []int{1, 0}), []int{}, []float64{(math.Log(4.0/3) + math.Log(4)) / 2}, 1e-15)
	big := constOf([]float64{1000, 0, -1000, 0}, 2, 2)
	wantValues(t, "CrossEntropy(large)", engine.CrossEntropy(big, []int{1, 1}), []int{}, []float64{500}, 1e-12)

	// The gradient is (softmax − onehot)/N.
	p := engine.Param(engine.FromSlice([]float64{0, math.Log(3)}, 1, 2))
	g := engine.Grad(engine.CrossEntropy(p, []int{0}), []*V{p}, false)[0]
	wantValues(t, "dCrossEntropy", g, []int{1, 2}, []float64{-0.75, 0.75}, 1e-15)

	mse := engine.MSE(constOf([]float64{1, 2, 3}, 3), constOf([]float64{1, 0, 6}, 3))
	wantValues(t, "MSE", mse, []int{}, []float64{13.0 / 3}, 1e-15)

	oh := engine.OneHot[float32]([]int{2, 0}, 3)
	if d := oh.Data(); !equalInts(oh.Shape(), []int{2, 3}) || d[2] != 1 || d[3] != 1 || d[0]+d[1]+d[4]+d[5] != 0 {
		t.Fatalf("OneHot = %v", oh)
	}
	acc := engine.Accuracy(engine.FromSlice([]float64{0.1, 0.9, 2, 1, 0, 0, 5, 5}, 4, 2), []int{1, 0, 1, 0})
	if acc != 0.75 { // the tie in the last row goes to the first class
		t.Fatalf("Accuracy = %v, want 0.75", acc)
	}
	wantPanic(t, "label 5 of row 3", func() { engine.CrossEntropy(uniform, []int{0, 1, 3, 5}) })
	wantPanic(t, "labels", func() { engine.CrossEntropy(uniform, []int{0}) })
	wantPanic(t, "MSE", func() { engine.MSE(uniform, constOf([]float64{1}, 1)) })
}

func TestDropout(t *testing.T) {
	x := engine.Param(engine.Full[float64](1, 100, 100))
	if engine.Dropout(x, 0, nil) != x {
		t.Fatal("Dropout with p = 0 is not the identity")
	}
	y := engine.Dropout(x, 0.25, rand.New(rand.NewPCG(1, 1)))
	zeros := 0
	for _, v := range y.Value().Data() {
		switch {
		case v == 0:
			zeros++
		case math.Abs(v-4.0/3) > 1e-15:
			t.Fatalf("kept element scaled to %v, want 4/3", v)
		}
	}
	if frac := float64(zeros) / 1e4; math.Abs(frac-0.25) > 0.02 {
		t.Fatalf("dropped fraction %v, want about 0.25", frac)
	}
	// The backward pass reuses the forward mask.
	g := engine.Grad(engine.Sum(y), []*V{x}, false)[0]
	for i, v := range g.Value().Data() {
		if v != y.Value().Data()[i] {
			t.Fatalf("gradient %v at %d does not match mask %v", v, i, y.Value().Data()[i])
		}
	}
	wantPanic(t, "Dropout", func() { engine.Dropout(x, 1, nil) })
}

// TestFloat32MatchesFloat64 runs a small pipeline in both precisions.
func TestFloat32MatchesFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	xs := engine.RandNormal[float64](rng, 1, 6, 20)
	ws := engine.RandNormal[float64](rng, 0.3, 8, 20)
	ps := engine.RandNormal[float64](rng, 1, 3, 8)
	labels := []int{0, 1, 2, 0, 1, 2}

	type outs struct{ loss, dx, dw []float64 }
	run64 := func() outs {
		x, w, p := engine.Param(xs), engine.Param(ws), engine.Const(ps)
		h := engine.Sigmoid(engine.Linear(x, w, nil))
		logits := engine.Neg(engine.PairwiseSqDist(h, p))
		loss := engine.Add(engine.CrossEntropy(logits, labels), engine.Mean(engine.LogSoftmax(logits, 0)))
		g := engine.Grad(loss, []*V{x, w}, false)
		return outs{loss.Value().Data(), g[0].Value().Data(), g[1].Value().Data()}
	}
	run32 := func() outs {
		x, w := engine.Param(engine.Convert[float32](xs)), engine.Param(engine.Convert[float32](ws))
		p := engine.Const(engine.Convert[float32](ps))
		h := engine.Sigmoid(engine.Linear(x, w, nil))
		logits := engine.Neg(engine.PairwiseSqDist(h, p))
		loss := engine.Add(engine.CrossEntropy(logits, labels), engine.Mean(engine.LogSoftmax(logits, 0)))
		g := engine.Grad(loss, []*engine.Var[float32]{x, w}, false)
		return outs{
			engine.Convert[float64](loss.Value()).Data(),
			engine.Convert[float64](g[0].Value()).Data(),
			engine.Convert[float64](g[1].Value()).Data(),
		}
	}
	a, b := run64(), run32()
	for _, c := range []struct {
		name       string
		want, have []float64
	}{{"loss", a.loss, b.loss}, {"dx", a.dx, b.dx}, {"dw", a.dw, b.dw}} {
		for i := range c.want {
			if math.Abs(c.want[i]-c.have[i]) > 1e-5*math.Max(1, math.Abs(c.want[i])) {
				t.Fatalf("%s[%d]: float32 %v, float64 %v", c.name, i, c.have[i], c.want[i])
			}
		}
	}
}

// TestGradAccumulationManyUses sums gradients from several uses of one value,
// some of which pass the gradient through without copying (Reshape,
// AddScalar), in both modes.
func TestGradAccumulationManyUses(t *testing.T) {
	for _, create := range []bool{false, true} {
		x := engine.Param(engine.FromSlice([]float64{1, -2, 3, 0.5, 2, -1}, 2, 3))
		y := engine.Mul(x, x)
		a := engine.AddScalar(y, 1)
		loss := engine.Add(engine.Add(engine.Sum(y), engine.Sum(engine.Scale(y, 2))),
			engine.Add(engine.Sum(engine.Reshape(y, 6)), engine.Sum(engine.Add(a, engine.Add(a, a)))))
		loss = engine.Add(loss, engine.Sum(engine.Mul(engine.Reshape(a, 3, 2), engine.Const(engine.Full[float64](1, 3, 2)))))
		// dloss/dy = 1 + 2 + 1 + 3 + 1 = 8, so dloss/dx = 16x.
		g := engine.Grad(loss, []*V{x, y}, create)
		want := make([]float64, 6)
		for i, v := range x.Value().Data() {
			want[i] = 16 * v
		}
		wantValues(t, fmt.Sprintf("dx (create %v)", create), g[0], []int{2, 3}, want, 1e-15)
		wantValues(t, fmt.Sprintf("dy (create %v)", create), g[1], []int{2, 3}, []float64{8, 8, 8, 8, 8, 8}, 1e-15)
	}
}

type namedFloat float64

// TestReLUKernels covers the float32, float64 and named-type loops of ReLU
// and LeakyReLU, forward and backward, including infinities and −0.
func TestReLUKernels(t *testing.T) {
	inf := math.Inf(1)
	x := []float64{-inf, -2, math.Copysign(0, -1), 0, 1.5, inf}
	g := []float64{inf, 1, 2, 3, 4, -inf}
	for _, slope := range []float64{0, 0.1} {
		wantY := make([]float64, len(x))
		wantG := make([]float64, len(x))
		for i, v := range x {
			wantY[i], wantG[i] = v, g[i]
			if v <= 0 {
				wantY[i], wantG[i] = slope*v, slope*g[i]
			}
		}
		if slope == 0 {
			wantY[0], wantG[0] = 0, 0 // not −∞·0 = NaN
		}
		check := func(name string, y, dx []float64) {
			t.Helper()
			for i := range x {
				if !sameFloat(y[i], wantY[i]) || !sameFloat(dx[i], wantG[i]) {
					t.Fatalf("%s slope %v at x=%v: y=%v dx=%v, want %v %v", name, slope, x[i], y[i], dx[i], wantY[i], wantG[i])
				}
			}
		}
		{
			p := engine.Param(engine.FromSlice(append([]float64(nil), x...), len(x)))
			y := engine.LeakyReLU(p, slope)
			d := engine.GradSeed([]*V{y}, []*V{constOf(g, len(g))}, []*V{p}, false)[0]
			check("float64", y.Value().Data(), d.Value().Data())
		}
		{
			p := engine.Param(engine.Convert[float32](engine.FromSlice(x, len(x))))
			y := engine.LeakyReLU(p, float32(slope))
			seed := engine.Const(engine.Convert[float32](engine.FromSlice(g, len(g))))
			d := engine.GradSeed([]*engine.Var[float32]{y}, []*engine.Var[float32]{seed}, []*engine.Var[float32]{p}, false)[0]
			check("float32", engine.Convert[float64](y.Value()).Data(), engine.Convert[float64](d.Value()).Data())
		}
		{
			p := engine.Param(engine.Convert[namedFloat](engine.FromSlice(x, len(x))))
			y := engine.LeakyReLU(p, namedFloat(slope))
			seed := engine.Const(engine.Convert[namedFloat](engine.FromSlice(g, len(g))))
			d := engine.GradSeed([]*engine.Var[namedFloat]{y}, []*engine.Var[namedFloat]{seed}, []*engine.Var[namedFloat]{p}, false)[0]
			yy, dd := engine.Convert[float64](y.Value()).Data(), engine.Convert[float64](d.Value()).Data()
			if slope == 0 {
				yy[0], dd[0] = 0, 0 // the generic loop multiplies; only the bit-mask loops avoid −∞·0
			}
			check("named", yy, dd)
		}
	}
}

// sameFloat reports whether a and b agree to float32 precision (infinities
// exactly).
func sameFloat(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-7*math.Abs(b)
}
