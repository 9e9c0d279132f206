package engine_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/engine/gradcheck"
)

// naiveBatchNorm normalises each channel with the given statistics, or with
// the batch's own (biased) ones when mean is nil; it also returns the batch
// mean and biased variance.
func naiveBatchNorm(x, gamma, beta *engine.Tensor[float64], mean, variance []float64, eps float64) (y *engine.Tensor[float64], bm, bv []float64) {
	n, c, hw := x.Dim(0), x.Dim(1), x.Dim(2)*x.Dim(3)
	bm, bv = make([]float64, c), make([]float64, c)
	xd := x.Data()
	at := func(i, ch, j int) int { return (i*c+ch)*hw + j }
	for ch := 0; ch < c; ch++ {
		for i := 0; i < n; i++ {
			for j := 0; j < hw; j++ {
				bm[ch] += xd[at(i, ch, j)] / float64(n*hw)
			}
		}
		for i := 0; i < n; i++ {
			for j := 0; j < hw; j++ {
				d := xd[at(i, ch, j)] - bm[ch]
				bv[ch] += d * d / float64(n*hw)
			}
		}
	}
	if mean == nil {
		mean, variance = bm, bv
	}
	y = engine.New[float64](x.Shape()...)
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			for j := 0; j < hw; j++ {
				k := at(i, ch, j)
				y.Data()[k] = gamma.Data()[ch]*(xd[k]-mean[ch])/math.Sqrt(variance[ch]+eps) + beta.Data()[ch]
			}
		}
	}
	return y, bm, bv
}

func TestBatchNorm2DTrainingValuesAndRunningStats(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 1))
	x := randT(rng, 3, 4, 2, 3)
	for i := range x.Data() {
		x.Data()[i] = 5 + 2*x.Data()[i] // a large mean tests the variance's accuracy
	}
	gamma, beta := randT(rng, 4), randT(rng, 4)
	st := engine.NewBNState[float64](4)
	st.RunningMean.Data()[1] = 2
	st.RunningVar.Data()[2] = 3
	oldMean, oldVar := st.RunningMean.Clone(), st.RunningVar.Clone()

	y := engine.BatchNorm2D(engine.Const(x), engine.Const(gamma), engine.Const(beta), st, true)
	want, bm, bv := naiveBatchNorm(x, gamma, beta, nil, nil, st.Eps)
	assertTensorsClose(t, "training BatchNorm2D", y.Value(), want, 1e-12)

	m := float64(3 * 2 * 3)
	for ch := 0; ch < 4; ch++ {
		wm := 0.9*oldMean.Data()[ch] + 0.1*bm[ch]
		wv := 0.9*oldVar.Data()[ch] + 0.1*bv[ch]*m/(m-1)
		if math.Abs(st.RunningMean.Data()[ch]-wm) > 1e-12 || math.Abs(st.RunningVar.Data()[ch]-wv) > 1e-12 {
			t.Fatalf("channel %d: running stats (%v, %v), want (%v, %v)", ch,
				st.RunningMean.Data()[ch], st.RunningVar.Data()[ch], wm, wv)
		}
	}

	// Inference uses the running statistics and leaves them alone.
	before := st.RunningMean.Clone()
	yi := engine.BatchNorm2D(engine.Const(x), engine.Const(gamma), engine.Const(beta), st, false)
	wantI, _, _ := naiveBatchNorm(x, gamma, beta, st.RunningMean.Data(), st.RunningVar.Data(), st.Eps)
	assertTensorsClose(t, "inference BatchNorm2D", yi.Value(), wantI, 1e-12)
	assertTensorsClose(t, "running mean after inference", st.RunningMean, before, 0)

	// Zero momentum freezes the statistics; a nil state is allowed in training.
	st.Momentum = 0
	engine.BatchNorm2D(engine.Const(x), engine.Const(gamma), engine.Const(beta), st, true)
	assertTensorsClose(t, "frozen running mean", st.RunningMean, before, 0)
	y2 := engine.BatchNorm2D(engine.Const(x), engine.Const(gamma), engine.Const(beta), nil, true)
	assertTensorsClose(t, "stateless training BatchNorm2D", y2.Value(), want, 1e-12)
}

// bnLoss weights the squared output by fixed random values so that no
// direction of the input is trivially normalised away.
func bnLoss(r *engine.Tensor[float64], st *engine.BNState[float64], training bool) gradcheck.Func {
	return func(p []*V) *V {
		y := engine.BatchNorm2D(p[0], p[1], p[2], st, training)
		return engine.Sum(engine.Mul(engine.Mul(y, y), engine.Const(r)))
	}
}

func TestGradCheckBatchNorm2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 2))
	for _, training := range []bool{true, false} {
		st := engine.NewBNState[float64](3)
		copy(st.RunningMean.Data(), []float64{0.3, -0.2, 0.1})
		copy(st.RunningVar.Data(), []float64{0.8, 1.5, 0.6})
		st.Momentum = 0 // finite differences must not move the statistics
		r := randT(rng, 2, 3, 3, 2)
		params := []*engine.Tensor[float64]{randT(rng, 2, 3, 3, 2), positive(rng, 3), randT(rng, 3)}
		if err := gradcheck.First(bnLoss(r, st, training), params, gradcheck.Options{MaxCoords: -1}); err != nil {
			t.Errorf("training=%v: %v", training, err)
		}
	}
}

func TestSecondOrderBatchNorm2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 3))
	for _, training := range []bool{true, false} {
		st := engine.NewBNState[float64](3)
		copy(st.RunningMean.Data(), []float64{0.3, -0.2, 0.1})
		copy(st.RunningVar.Data(), []float64{0.8, 1.5, 0.6})
		st.Momentum = 0
		r := randT(rng, 2, 3, 3, 2)
		params := []*engine.Tensor[float64]{randT(rng, 2, 3, 3, 2), positive(rng, 3), randT(rng, 3)}
		if err := gradcheck.Second(bnLoss(r, st, training), params, gradcheck.Options{MaxCoords: -1}); err != nil {
			t.Errorf("training=%v: %v", training, err)
		}
	}
}

// TestThirdOrderBatchNorm2D differentiates a function of the create-graph
// gradient twice more, so the backward ops' own backward rules run while
// recorded (composed from primitives) and are then differentiated. The
// upstream gradient depends on x, which the partial derivatives must ignore.
func TestThirdOrderBatchNorm2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 6))
	r := randT(rng, 2, 2, 2, 3)
	f := bnLoss(r, nil, true)
	g := func(p []*V) *V {
		grads := engine.Grad(f(p), p, true)
		return engine.Add(engine.Sum(engine.Mul(grads[0], grads[0])), engine.Sum(engine.Mul(grads[1], grads[1])))
	}
	params := []*engine.Tensor[float64]{randT(rng, 2, 2, 2, 3), positive(rng, 2), randT(rng, 2)}
	if err := gradcheck.First(g, params, gradcheck.Options{MaxCoords: -1}); err != nil {
		t.Error(err)
	}
	if err := gradcheck.Second(g, params, gradcheck.Options{MaxCoords: -1}); err != nil {
		t.Error(err)
	}
}

// composedBatchNorm is training-mode batch normalisation written with
// primitive ops, as a reference for the fused op.
func composedBatchNorm(x, gamma, beta *V) *V {
	c := x.Shape()[1]
	axes := []int{0, 2, 3}
	xc := engine.Sub(x, engine.MeanAxes(x, axes, true))
	variance := engine.MeanAxes(engine.Mul(xc, xc), axes, true)
	xhat := engine.Div(xc, engine.Sqrt(engine.AddScalar(variance, engine.DefaultBNEps)))
	return engine.Add(engine.Mul(xhat, engine.Reshape(gamma, 1, c, 1, 1)), engine.Reshape(beta, 1, c, 1, 1))
}

// TestBatchNorm2DMatchesComposition compares the fused op's values,
// gradients and Hessian-vector products with those of the composition.
func TestBatchNorm2DMatchesComposition(t *testing.T) {
	// The second shape is large enough for the kernels' parallel path.
	for _, shape := range [][]int{{4, 5, 3, 3}, {4, 8, 32, 32}} {
		t.Run(fmt.Sprint(shape), func(t *testing.T) { checkBatchNormComposition(t, shape) })
	}
}

func checkBatchNormComposition(t *testing.T, shape []int) {
	rng := rand.New(rand.NewPCG(12, 4))
	c, hw := shape[1], shape[2]*shape[3]
	x, gamma, beta := engine.Param(randT(rng, shape...)), engine.Param(positive(rng, c)), engine.Param(randT(rng, c))
	wrt := []*V{x, gamma, beta}
	r := engine.Const(randT(rng, shape...))
	v := []*V{engine.Const(randT(rng, shape...)), engine.Const(randT(rng, c)), engine.Const(randT(rng, c))}
	type result struct{ y, grads, hvp []*engine.Tensor[float64] }
	run := func(bn func(x, gamma, beta *V) *V) result {
		y := bn(x, gamma, beta)
		loss := engine.Sum(engine.Mul(engine.Mul(y, y), r))
		var res result
		res.y = []*engine.Tensor[float64]{y.Value()}
		for _, g := range engine.Grad(loss, wrt, false) {
			res.grads = append(res.grads, g.Value())
		}
		gs := engine.Grad(loss, wrt, true)
		dot := engine.Add(engine.Add(engine.Sum(engine.Mul(gs[0], v[0])), engine.Sum(engine.Mul(gs[1], v[1]))), engine.Sum(engine.Mul(gs[2], v[2])))
		for _, h := range engine.Grad(dot, wrt, false) {
			res.hvp = append(res.hvp, h.Value())
		}
		return res
	}
	fused := run(func(x, g, b *V) *V { return engine.BatchNorm2D(x, g, b, nil, true) })
	ref := run(composedBatchNorm)
	assertTensorsClose(t, "output", fused.y[0], ref.y[0], 1e-10)
	for i := range wrt {
		assertTensorsClose(t, fmt.Sprintf("gradient %d", i), fused.grads[i], ref.grads[i], 1e-9)
		assertTensorsClose(t, fmt.Sprintf("Hessian-vector product %d", i), fused.hvp[i], ref.hvp[i], 1e-8)
	}
	// The normalised output is invariant to shifting a channel, so the
	// input gradient sums to zero over each channel.
	g := fused.grads[0].Data()
	for ch := 0; ch < c; ch++ {
		var s float64
		for i := 0; i < shape[0]; i++ {
			for _, v := range g[(i*c+ch)*hw : (i*c+ch+1)*hw] {
				s += v
			}
		}
		if math.Abs(s) > 1e-9 {
			t.Fatalf("channel %d: input gradient sums to %v, want 0", ch, s)
		}
	}
}

func TestBatchNorm2DFloat32MatchesFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 5))
	x, gamma, beta := randT(rng, 4, 3, 5, 5), positive(rng, 3), randT(rng, 3)
	r := randT(rng, 4, 3, 5, 5)
	loss64 := func(p []*V) *V {
		y := engine.BatchNorm2D(p[0], p[1], p[2], nil, true)
		return engine.Sum(engine.Mul(engine.Mul(y, y), engine.Const(r)))
	}
	r32 := engine.Const(engine.Convert[float32](r))
	p32 := []*engine.Var[float32]{engine.Param(engine.Convert[float32](x)), engine.Param(engine.Convert[float32](gamma)), engine.Param(engine.Convert[float32](beta))}
	y32 := engine.BatchNorm2D(p32[0], p32[1], p32[2], nil, true)
	l32 := engine.Sum(engine.Mul(engine.Mul(y32, y32), r32))
	p64 := []*V{engine.Param(x), engine.Param(gamma), engine.Param(beta)}
	l64 := loss64(p64)
	if math.Abs(float64(l32.Item())-l64.Item()) > 1e-4*(1+math.Abs(l64.Item())) {
		t.Fatalf("loss float32 %v, float64 %v", l32.Item(), l64.Item())
	}
	g32 := engine.Grad(l32, p32, false)
	g64 := engine.Grad(l64, p64, false)
	for i := range g64 {
		assertTensorsClose(t, "float32 BatchNorm2D gradient", engine.Convert[float64](g32[i].Value()), g64[i].Value(), 1e-3)
	}
}

func TestBatchNorm2DInferenceNeedsState(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("inference without running statistics did not panic")
		}
	}()
	x := engine.Const(engine.New[float64](1, 2, 2, 2))
	p := engine.Const(engine.New[float64](2))
	engine.BatchNorm2D(x, p, p, nil, false)
}

// BenchmarkBatchNorm2D measures batch normalisation of a Conv-4 second-block
// activation (100 images, 64 channels, 42×42) in float32: the fused forward
// pass, forward plus the fused first-order backward pass, and forward plus
// the composed backward pass recorded for second order.
func BenchmarkBatchNorm2D(b *testing.B) {
	rng := rand.New(rand.NewPCG(12, 9))
	x := engine.Param(engine.RandNormal[float32](rng, 1, 100, 64, 42, 42))
	gamma, beta := engine.Param(engine.Full[float32](1, 64)), engine.Param(engine.New[float32](64))
	seed := engine.Const(engine.RandNormal[float32](rng, 1, 100, 64, 42, 42))
	wrt := []*engine.Var[float32]{x, gamma, beta}
	b.Run("forward", func(b *testing.B) {
		xc := engine.Const(x.Value())
		for b.Loop() {
			engine.BatchNorm2D(xc, engine.Detach(gamma), engine.Detach(beta), nil, true)
		}
	})
	for _, create := range []bool{false, true} {
		name := "forward+backward"
		if create {
			name = "forward+backward/create-graph"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				y := engine.BatchNorm2D(x, gamma, beta, nil, true)
				engine.GradSeed([]*engine.Var[float32]{y}, []*engine.Var[float32]{seed}, wrt, create)
			}
		})
	}
}

// TestBatchNorm2DFloat32LargeMean normalises float32 data whose mean is
// 10⁴ times its spread (the sums run on the vector path) and compares with
// float64 arithmetic on the same values: the one-pass statistics must not
// lose the variance to cancellation.
func TestBatchNorm2DFloat32LargeMean(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 9))
	x := randT(rng, 4, 3, 6, 7)
	for i := range x.Data() {
		x.Data()[i] = 1e4 + x.Data()[i]
	}
	x32 := engine.Convert[float32](x)
	x64 := engine.Convert[float64](x32) // the same, rounded, values
	gamma, beta := randT(rng, 3), randT(rng, 3)
	y := engine.BatchNorm2D(engine.Const(x32), engine.Const(engine.Convert[float32](gamma)),
		engine.Const(engine.Convert[float32](beta)), nil, true)
	want, _, _ := naiveBatchNorm(x64, gamma, beta, nil, nil, engine.DefaultBNEps)
	assertTensorsClose(t, "float32 BatchNorm2D, mean 1e4", engine.Convert[float64](y.Value()), want, 2e-3)
}
