package train

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/engine/gradcheck"
	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/nn"
)

// TestPreprocessGradLoss checks the gradient and loss preprocessing on both
// branches and its continuity at the branch point |x| = e^−10.
func TestPreprocessGradLoss(t *testing.T) {
	cut := math.Exp(-10)
	for _, c := range []struct{ x, a, b float64 }{
		{1, 0, 1},
		{-math.E, 0.1, -1},
		{math.Exp(5), 0.5, 1},
		{-math.Exp(-3), -0.3, -1},
		{cut, -1, 1},
		{-cut, -1, -1},
		{1e-6, -1, math.Exp(10) * 1e-6},
		{-2e-5, -1, -math.Exp(10) * 2e-5},
		{0, -1, 0},
	} {
		a, b := preprocessGradLoss(c.x)
		if math.Abs(a-c.a) > 1e-12 || math.Abs(b-c.b) > 1e-12 {
			t.Errorf("preprocess(%g) = (%g, %g), want (%g, %g)", c.x, a, b, c.a, c.b)
		}
	}
	// Approaching ±e^−10 from inside (second branch) and outside (first):
	// both components tend to the same limit, and differ by O(δ) nearby.
	for _, s := range []float64{1, -1} {
		for _, d := range []float64{1e-4, 1e-7, 1e-10} {
			ia, ib := preprocessGradLoss(s * cut * (1 - d))
			oa, ob := preprocessGradLoss(s * cut * (1 + d))
			if math.Abs(ia-oa) > 2*d || math.Abs(ib-ob) > 2*d {
				t.Errorf("discontinuity at %g·e^−10 (δ %g): inside (%g, %g), outside (%g, %g)", s, d, ia, ib, oa, ob)
			}
			if math.Abs(ia+1) > 1e-15 || math.Abs(ib-s*(1-d)) > 1e-12 || math.Abs(oa+1) > 2*d/10 || ob != s {
				t.Errorf("near %g·e^−10 (δ %g): inside (%g, %g), outside (%g, %g)", s, d, ia, ib, oa, ob)
			}
		}
	}
}

// randomMetaWeights returns meta-learner weights of moderate size, so that
// every path of an update (gates far from saturation) carries gradient.
func randomMetaWeights(rng *rand.Rand) []*engine.Tensor[float64] {
	var l metaLSTMLayer[float64]
	var ws []*engine.Tensor[float64]
	for _, s := range l.Specs() {
		ws = append(ws, engine.RandNormal[float64](rng, 0.4, s.Shape...))
	}
	return ws
}

// metaStepReference is metaLSTMStep for one coordinate in plain float64.
func metaStepReference(w []*engine.Tensor[float64], x []float64, h, c []float64, theta, fPrev, iPrev, grad float64) (hOut, cOut []float64, thetaOut, f, i float64) {
	const H = metaLSTMHidden
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	wih, whh, b := w[mlWih].Data(), w[mlWhh].Data(), w[mlB].Data()
	z := make([]float64, 4*H)
	for r := range z {
		z[r] = b[r]
		for k := range metaLSTMInputs {
			z[r] += wih[r*metaLSTMInputs+k] * x[k]
		}
		for k := range H {
			z[r] += whh[r*H+k] * h[k]
		}
	}
	hOut, cOut = make([]float64, H), make([]float64, H)
	for k := range H {
		ig, fg, gg, og := sig(z[k]), sig(z[H+k]), math.Tanh(z[2*H+k]), sig(z[3*H+k])
		cOut[k] = fg*c[k] + ig*gg
		hOut[k] = og * math.Tanh(cOut[k])
	}
	gate := func(wg, bg *engine.Tensor[float64], prev float64) float64 {
		s := bg.Data()[0]
		for k := range H {
			s += wg.Data()[k] * hOut[k]
		}
		return sig(s + wg.Data()[H]*theta + wg.Data()[H+1]*prev)
	}
	f, i = gate(w[mlWF], w[mlBF], fPrev), gate(w[mlWI], w[mlBI], iPrev)
	return hOut, cOut, f*theta - i*grad, f, i
}

// metaStepFixture is a recurrent state and inputs for n coordinates.
type metaStepFixture struct {
	x, grad, h, c, theta, f, i *engine.Tensor[float64]
}

func newMetaStepFixture(rng *rand.Rand, n int) metaStepFixture {
	u := func(lo, hi float64, shape ...int) *engine.Tensor[float64] {
		return engine.RandUniform[float64](rng, lo, hi, shape...)
	}
	return metaStepFixture{x: u(-1, 1, n, metaLSTMInputs), grad: engine.RandNormal[float64](rng, 1, n),
		h: u(-0.8, 0.8, n, metaLSTMHidden), c: u(-1.5, 1.5, n, metaLSTMHidden), theta: engine.RandNormal[float64](rng, 1, n),
		f: u(0.05, 0.95, n), i: u(0.05, 0.95, n)}
}

// TestMetaLSTMStepValues compares one update with a scalar implementation
// of the paper's equations, from zero and from a nonzero state.
func TestMetaLSTMStepValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, H = 7, metaLSTMHidden
	w := randomMetaWeights(rng)
	fx := newMetaStepFixture(rng, n)
	wv := make([]*engine.Var[float64], len(w))
	for k := range w {
		wv[k] = engine.Const(w[k])
	}
	for _, fromZero := range []bool{true, false} {
		st := metaLSTMState[float64]{theta: engine.Const(fx.theta)}
		if !fromZero {
			st.hc, st.f, st.i = engine.Concat(1, engine.Const(fx.h), engine.Const(fx.c)), engine.Const(fx.f), engine.Const(fx.i)
		}
		got := metaLSTMStep(wv, st, engine.Const(fx.x), engine.Const(fx.grad), true)
		for j := range n {
			h, c := make([]float64, H), make([]float64, H)
			fp, ip := 0.0, 0.0
			if !fromZero {
				copy(h, fx.h.Data()[j*H:])
				copy(c, fx.c.Data()[j*H:])
				fp, ip = fx.f.Data()[j], fx.i.Data()[j]
			}
			wh, wc, wt, wf, wi := metaStepReference(w, fx.x.Data()[j*metaLSTMInputs:(j+1)*metaLSTMInputs], h, c, fx.theta.Data()[j], fp, ip, fx.grad.Data()[j])
			near := func(what string, a, b float64) {
				if math.Abs(a-b) > 1e-12*(1+math.Abs(b)) {
					t.Errorf("from zero %v, coordinate %d: %s = %.15g, reference %.15g", fromZero, j, what, a, b)
				}
			}
			near("θ", got.theta.Value().Data()[j], wt)
			near("f", got.f.Value().Data()[j], wf)
			near("i", got.i.Value().Data()[j], wi)
			for k := range H {
				near("h", got.hc.Value().Data()[j*2*H+k], wh[k])
				near("c", got.hc.Value().Data()[j*2*H+H+k], wc[k])
			}
		}
	}
}

// TestMetaLSTMStepGradient checks the gradient of one update with respect
// to the meta-learner's own parameters and its incoming state against
// central differences, through every output of the step.
func TestMetaLSTMStepGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 6
	fx := newMetaStepFixture(rng, n)
	params := append(randomMetaWeights(rng), fx.theta, fx.h, fx.c, fx.f, fx.i)
	var probes []*engine.Var[float64]
	for _, shape := range [][]int{{n}, {n, metaLSTMHidden}, {n, metaLSTMHidden}, {n}, {n}} {
		probes = append(probes, engine.Const(engine.RandNormal[float64](rng, 1, shape...)))
	}
	f := func(p []*engine.Var[float64]) *engine.Var[float64] {
		st := metaLSTMState[float64]{theta: p[mlCount], hc: engine.Concat(1, p[mlCount+1], p[mlCount+2]), f: p[mlCount+3], i: p[mlCount+4]}
		out := metaLSTMStep(p[:mlCount], st, engine.Const(fx.x), engine.Const(fx.grad), true)
		s := engine.Sum(engine.Mul(out.theta, probes[0]))
		h, c := engine.Slice(out.hc, 1, 0, metaLSTMHidden), engine.Slice(out.hc, 1, metaLSTMHidden, 2*metaLSTMHidden)
		for k, v := range []*engine.Var[float64]{h, c, out.f, out.i} {
			s = engine.Add(s, engine.Sum(engine.Mul(v, probes[k+1])))
		}
		return s
	}
	if err := gradcheck.First(f, params, gradcheck.Options{Eps: 1e-5, MaxCoords: -1, RelTol: 1e-5, AbsTol: 1e-8}); err != nil {
		t.Fatal(err)
	}

	// Outside the truncation window only θ_{t−1} → θ_t is recorded, with
	// the gates as constants: ∂θ_t/∂θ_{t−1} = f_t.
	vars := make([]*engine.Var[float64], len(params))
	for k, p := range params {
		vars[k] = engine.Param(p)
	}
	st := metaLSTMState[float64]{theta: vars[mlCount], hc: engine.Concat(1, vars[mlCount+1], vars[mlCount+2]), f: vars[mlCount+3], i: vars[mlCount+4]}
	out := metaLSTMStep(vars[:mlCount], st, engine.Const(fx.x), engine.Const(fx.grad), false)
	if out.f.Tracked() || out.i.Tracked() || out.hc.Tracked() || !out.theta.Tracked() {
		t.Fatal("a step outside the window recorded its gates or layer 1, or dropped the cell-state path")
	}
	g := engine.Grad(engine.Sum(out.theta), vars, false)
	for j, v := range g[mlCount].Value().Data() {
		if want := out.f.Value().Data()[j]; math.Abs(v-want) > 1e-15 {
			t.Errorf("∂θ_t/∂θ_{t−1}[%d] = %g outside the window, want f_t = %g", j, v, want)
		}
	}
	for k := range mlCount {
		for _, v := range g[k].Value().Data() {
			if v != 0 {
				t.Fatalf("meta parameter %d gets gradient %g from a step outside the window", k, v)
			}
		}
	}
}

// tinyMetaLSTM returns a float64 meta-lstm on 8×8 images (one block of 2
// channels, a 3-way head) with random meta-learner weights of moderate
// size, its parameters as tensors and a random task.
func tinyMetaLSTM(t *testing.T, rng *rand.Rand) (*metaLSTMNet[float64], []*engine.Tensor[float64], *episode.Task) {
	m, err := newMetaLSTMNet[float64](Spec{InChannels: 1, Height: 8, Width: 8, Hidden: 2, Blocks: 1, Way: 3, InnerLR: 0.1}, rng)
	if err != nil {
		t.Fatal(err)
	}
	var params []*engine.Tensor[float64]
	for _, n := range m.networks() {
		for _, p := range n.Params() {
			params = append(params, p.Value())
		}
	}
	rw := randomMetaWeights(rng)
	for k, w := range rw {
		copy(params[m.nLearner+k].Data(), w.Data())
	}
	// Gates in their working range: f ≈ σ(1.5), i ≈ σ(−1.5).
	params[m.nLearner+mlBF].Data()[0] = 1.5
	params[m.nLearner+mlBI].Data()[0] = -1.5
	return m, params, randomTask(rng, 3, 2, 2, 1, 8, 8)
}

func paramsOf(ts []*engine.Tensor[float64]) []*engine.Var[float64] {
	vs := make([]*engine.Var[float64], len(ts))
	for i, p := range ts {
		vs[i] = engine.Param(p)
	}
	return vs
}

// TestMetaLSTMMetaGradient checks the meta-gradient through a 3-update
// unroll of a tiny float64 conv learner (batch norm on batch statistics,
// ReLU, max-pool, linear head) against central differences. The method
// takes the learner's gradient and loss as inputs (no second derivatives),
// so the finite differences are of the same objective with the gradients
// and losses of the base point replayed; the meta-gradient of the real
// objective must equal that of the replayed one exactly.
func TestMetaLSTMMetaGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	m, params, task := tinyMetaLSTM(t, rng)
	const steps = 3
	type obs struct {
		g    *engine.Tensor[float64]
		loss float64
	}
	var rec []obs
	real := m.observer(&task.Support, nn.TrainFrozenStats)
	m.unroll(paramsOf(params[:m.nLearner]), paramsOf(params[m.nLearner:]), steps, 0, func(s int, th *engine.Tensor[float64]) (*engine.Tensor[float64], float64) {
		g, l := real(s, th)
		rec = append(rec, obs{g, l})
		return g, l
	})
	replayed := func(bptt int) gradcheck.Func {
		return func(p []*engine.Var[float64]) *engine.Var[float64] {
			fast := m.unroll(p[:m.nLearner], p[m.nLearner:], steps, bptt, func(s int, _ *engine.Tensor[float64]) (*engine.Tensor[float64], float64) {
				return rec[s].g, rec[s].loss
			})
			return engine.CrossEntropy(m.logits(fast, &task.Query, nn.TrainFrozenStats), task.Query.Labels)
		}
	}
	if err := gradcheck.First(replayed(0), params, gradcheck.Options{MaxCoords: 30, RelTol: 1e-5, AbsTol: 1e-9}); err != nil {
		t.Fatal(err)
	}

	vars := paramsOf(params)
	loss, _ := m.objective(vars, task, steps, 0, nn.TrainFrozenStats)
	gReal := engine.Grad(loss, vars, false)
	gReplay := engine.Grad(replayed(0)(vars), vars, false)
	maxDiff := func(a, b []*engine.Var[float64]) (d float64) {
		for k := range a {
			for j, v := range a[k].Value().Data() {
				d = math.Max(d, math.Abs(v-b[k].Value().Data()[j]))
			}
		}
		return d
	}
	if d := maxDiff(gReal, gReplay); d > 1e-12 {
		t.Errorf("meta-gradient of the real objective differs from the replayed one by %g: the learner's gradient is not an input", d)
	}
	for k := range gReal {
		nz := false
		for _, v := range gReal[k].Value().Data() {
			nz = nz || v != 0
		}
		if !nz {
			t.Errorf("parameter %d (%v) gets no meta-gradient", k, params[k].Shape())
		}
	}

	// Truncation: a window of all updates is no truncation; a window of
	// one changes the gradient but still reaches θ_0 and every weight.
	gFull := engine.Grad(replayed(steps)(vars), vars, false)
	if d := maxDiff(gFull, gReplay); d != 0 {
		t.Errorf("BPTTSteps = T differs from no truncation by %g", d)
	}
	gTrunc := engine.Grad(replayed(1)(vars), vars, false)
	if d := maxDiff(gTrunc, gReplay); d < 1e-8 {
		t.Errorf("BPTTSteps = 1 gives the full meta-gradient (max difference %g)", d)
	}
	for k := range gTrunc {
		nz := false
		for _, v := range gTrunc[k].Value().Data() {
			nz = nz || v != 0
		}
		if !nz {
			t.Errorf("truncated: parameter %d (%v) gets no meta-gradient", k, params[k].Shape())
		}
	}
}

// TestMetaLSTMStartsNearSGD checks the initialisation: the first update of
// a fresh meta-lstm is close to an SGD step with the inner learning rate,
// θ_1 ≈ f·θ_0 − α·∇ with f ≈ σ(5).
func TestMetaLSTMStartsNearSGD(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const alpha = 0.02
	m, err := newMetaLSTMNet[float64](Spec{InChannels: 1, Height: 8, Width: 8, Hidden: 4, Blocks: 2, Way: 3, InnerLR: alpha}, rng)
	if err != nil {
		t.Fatal(err)
	}
	task := randomTask(rng, 3, 2, 2, 1, 8, 8)
	var learner, meta []*engine.Var[float64]
	for k, n := range m.networks() {
		for _, p := range n.Params() {
			if k < 2 {
				learner = append(learner, engine.Const(p.Value()))
			} else {
				meta = append(meta, engine.Const(p.Value()))
			}
		}
	}
	theta := m.flatten(learner)
	g, loss := m.supportGrad(theta.Value(), &task.Support, nn.TrainFrozenStats)
	st := metaLSTMStep(meta, metaLSTMState[float64]{theta: theta}, engine.Const(metaLSTMInput(g, loss)), engine.Const(g), true)
	fWant := 1 / (1 + math.Exp(-metaLSTMForgetBias))
	for j := range m.size() {
		f, i := st.f.Value().Data()[j], st.i.Value().Data()[j]
		if math.Abs(f-fWant) > 0.003 || i < alpha/1.4 || i > alpha*1.4 {
			t.Fatalf("coordinate %d: f %g, i %g; want f ≈ %g, i ≈ %g", j, f, i, fWant, alpha)
		}
	}
}

// TestMetaLSTMResume interrupts a meta-lstm run and resumes it from its
// checkpoint: the metrics log, the final weights (learner initialisation
// and meta-learner) and the best checkpoint equal those of an uninterrupted
// run bit for bit, and a reloaded checkpoint predicts exactly as the
// trained algorithm.
func TestMetaLSTMResume(t *testing.T) {
	d := fixtures(t)
	defer engine.SetThreads(engine.SetThreads(1))
	spec := Spec{Algo: "meta-lstm", InChannels: 1, Height: 28, Width: 28, Hidden: 8, Seed: 4, Way: 3, InnerSteps: 2, BPTTSteps: 1}
	opts := func(dir string) Options {
		return Options{Train: d, Task: episode.Fixed(3, 2, 2), Episodes: 12, Seed: 11, LR: 2e-3, LRDecayEvery: 5,
			ClipNorm: 0.25, Val: d, ValTask: episode.Fixed(3, 1, 3), ValEvery: 4, ValEpisodes: 4,
			Dir: dir, LogEvery: 5, CheckpointEvery: 3}
	}
	full, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	dirA := t.TempDir()
	if _, err := Run(context.Background(), full, opts(dirA)); err != nil {
		t.Fatal(err)
	}
	dirB := t.TempDir()
	first, _ := New(spec)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := Run(ctx, &stopAfter{Algorithm: first, n: 7, cancel: cancel}, opts(dirB)); err == nil {
		t.Fatal("interrupted run returned no error")
	}
	o := opts(dirB)
	o.Resume = true
	second, _ := New(spec)
	if _, err := Run(context.Background(), second, o); err != nil {
		t.Fatal(err)
	}
	ma, mb := readMetrics(t, dirA), readMetrics(t, dirB)
	if len(ma) != len(mb) {
		t.Fatalf("%d metrics lines uninterrupted, %d resumed", len(ma), len(mb))
	}
	for i := range ma {
		ma[i].Seconds, mb[i].Seconds = 0, 0
		ja, _ := json.Marshal(ma[i])
		jb, _ := json.Marshal(mb[i])
		if string(ja) != string(jb) {
			t.Errorf("metrics line %d: uninterrupted %s, resumed %s", i, ja, jb)
		}
	}
	sameWeights(t, "final", full, second)
	if len(full.Networks()) != 3 {
		t.Fatalf("meta-lstm has %d networks, want backbone, head and meta-learner", len(full.Networks()))
	}

	c, err := LoadCheckpoint(filepath.Join(dirA, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if c.Spec != spec {
		t.Fatalf("checkpoint spec %+v, want %+v", c.Spec, spec)
	}
	re, err := c.Algorithm()
	if err != nil {
		t.Fatal(err)
	}
	sameWeights(t, "reloaded", full, re)
	task, err := d.Episode(episode.Fixed(3, 2, 3), 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	p1, err1 := full.Predict(task)
	p2, err2 := re.Predict(task)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	for j, v := range p1.Data() {
		if math.Float32bits(v) != math.Float32bits(p2.Data()[j]) {
			t.Fatalf("reloaded checkpoint predicts %v at %d, the trained model %v", p2.Data()[j], j, v)
		}
	}
	// The meta-learner's weights moved away from their initialisation.
	fresh, _ := New(spec)
	moved := false
	for k, p := range full.Networks()[2].Params() {
		for j, v := range p.Value().Data() {
			moved = moved || v != fresh.Networks()[2].Params()[k].Value().Data()[j]
		}
	}
	if !moved {
		t.Error("training left the meta-learner LSTM's weights unchanged")
	}
	ba, err := LoadCheckpoint(filepath.Join(dirA, BestFile))
	if err != nil {
		t.Fatal(err)
	}
	bb, err := LoadCheckpoint(filepath.Join(dirB, BestFile))
	if err != nil {
		t.Fatal(err)
	}
	if ba.Progress != bb.Progress {
		t.Errorf("best checkpoints differ: %+v vs %+v", ba.Progress, bb.Progress)
	}
}

// TestMetaLSTMRejects checks the errors of a meta-lstm asked for what it
// cannot do.
func TestMetaLSTMRejects(t *testing.T) {
	base := Spec{Algo: "meta-lstm", InChannels: 1, Height: 28, Width: 28, Hidden: 4, Way: 5}
	for name, s := range map[string]Spec{
		"no way":      {Algo: "meta-lstm", InChannels: 1, Height: 28, Width: 28, Hidden: 4},
		"first order": func() Spec { s := base; s.FirstOrder = true; return s }(),
		"inner lr 1":  func() Spec { s := base; s.InnerLR = 1; return s }(),
		"bptt < 0":    func() Spec { s := base; s.BPTTSteps = -1; return s }(),
	} {
		if _, err := New(s); err == nil {
			t.Errorf("%s: built", name)
		}
	}
	a, err := New(base)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	if _, err := a.Predict(randomTask(rng, 3, 1, 2, 1, 28, 28)); err == nil || !strings.Contains(err.Error(), "5-way") {
		t.Errorf("5-way meta-lstm on a 3-way task: %v", err)
	}
	d := fixtures(t)
	if _, err := Run(context.Background(), a, Options{Train: d, Task: episode.Fixed(3, 1, 1), Episodes: 1}); err == nil {
		t.Error("5-way meta-lstm trained on 3-way tasks")
	}
	// A MAML checkpoint (two networks) does not restore into meta-lstm.
	mm, _ := New(Spec{Algo: "maml", InChannels: 1, Height: 28, Width: 28, Hidden: 4, Way: 5})
	path := filepath.Join(t.TempDir(), "c")
	if err := writeCheckpoint(path, mm, nil, runKey{}, Progress{}); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CopyWeights(a); err == nil {
		t.Error("maml checkpoint copied into meta-lstm")
	}
}
