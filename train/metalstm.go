package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/nn"
)

// The meta-learner LSTM of Ravi & Larochelle, "Optimization as a Model for
// Few-Shot Learning" (ICLR 2017).
//
// The learner is MAML's classifier: Conv-4 and a linear Spec.Way-way head,
// its n weights θ flattened into one vector [n]. The meta-learner is a
// two-layer coordinate-wise LSTM, its weights shared by all n coordinates:
//
//   - layer 1, a standard LSTM of hidden size metaLSTMHidden, reads
//     x_t = [pre(∇_t), pre(L_t)] per coordinate (4 inputs; pre is
//     preprocessGradLoss) and gives h_t [n, 20];
//   - layer 2, the meta-learner cell, whose cell state is θ itself:
//     f_t = σ(W_F·[h_t, θ_{t−1}, f_{t−1}] + b_F),
//     i_t = σ(W_I·[h_t, θ_{t−1}, i_{t−1}] + b_I),
//     θ_t = f_t ⊙ θ_{t−1} − i_t ⊙ ∇_t,
//     with f_0 = i_0 = 0 and θ_0 the learner's meta-learned initial weights
//     (the learner networks' own parameters).
//
// ∇_t and L_t are the gradient and loss of the learner's cross-entropy on
// the whole support set at θ_{t−1}. As in the paper they are inputs: taken
// without a graph, so the meta-gradient has no second derivatives through
// them. It does flow through everything else of the unrolled updates: the
// cell-state chain, both gates (through θ_{t−1}, h_t and the previous
// gate) and layer 1's recurrence. Spec.BPTTSteps truncates that
// backpropagation (see metaLSTMStep).
//
// Initialisation makes training start near plain SGD: b_F = 5 (f ≈ 0.993),
// b_I = logit(α) with α the inner learning rate (i ≈ α), W_F and W_I
// uniform in ±0.01, layer 1 uniform in ±1/√20 as PyTorch initialises an
// LSTM (with one bias instead of two).

// metaLSTMHidden is the hidden size of the first LSTM layer (the paper's).
const metaLSTMHidden = 20

// metaLSTMInputs is the per-coordinate input size of the first layer: the
// preprocessed gradient and loss, two values each.
const metaLSTMInputs = 4

// gradLossP is the p of the gradient and loss preprocessing.
const gradLossP = 10

// metaLSTMForgetBias is the initial forget-gate bias: f starts at
// σ(5) ≈ 0.993, so the learner's weights are nearly kept.
const metaLSTMForgetBias = 5

// Indices of the meta-learner network's parameters.
const (
	mlWih = iota // layer 1 input weights [4H, 4], gates in the order i, f, g, o
	mlWhh        // layer 1 recurrent weights [4H, H]
	mlB          // layer 1 bias [4H]
	mlWF         // forget gate weights [1, H+2] over [h, θ, f_prev]
	mlBF         // forget gate bias [1]
	mlWI         // input gate weights [1, H+2] over [h, θ, i_prev]
	mlBI         // input gate bias [1]
	mlCount
)

// preprocessGradLoss is the preprocessing of Andrychowicz et al. (2016)
// that the paper applies to each gradient coordinate and to the loss:
// (log|x|/p, sgn x) if |x| ≥ e^−p, else (−1, e^p·x), with p = 10. Both
// components are continuous at |x| = e^−p, where they equal (−1, ±1).
func preprocessGradLoss(x float64) (float64, float64) {
	if math.Abs(x) >= math.Exp(-gradLossP) {
		s := 1.0
		if x < 0 {
			s = -1
		}
		return math.Log(math.Abs(x)) / gradLossP, s
	}
	return -1, math.Exp(gradLossP) * x
}

// metaLSTMLayer holds the meta-learner's parameters so that they live in an
// nn.Network (checkpoints, Adam) like every other weight. It is not a
// feed-forward layer: the LSTM runs through metaLSTMStep.
type metaLSTMLayer[T engine.Float] struct {
	// inputBias is the initial input-gate bias.
	inputBias float64
}

// Specs lists the parameters in the order of the ml* indices.
func (l *metaLSTMLayer[T]) Specs() []nn.ParamSpec {
	const h = metaLSTMHidden
	lstm := nn.Init{Kind: nn.InitUniform, Value: 1 / math.Sqrt(h)}
	gate := nn.Init{Kind: nn.InitUniform, Value: 0.01}
	return []nn.ParamSpec{
		{Name: "metalstm.lstm.weight_ih", Shape: []int{4 * h, metaLSTMInputs}, Init: lstm},
		{Name: "metalstm.lstm.weight_hh", Shape: []int{4 * h, h}, Init: lstm},
		{Name: "metalstm.lstm.bias", Shape: []int{4 * h}, Init: lstm},
		{Name: "metalstm.forget.weight", Shape: []int{1, h + 2}, Init: gate},
		{Name: "metalstm.forget.bias", Shape: []int{1}, Init: nn.Init{Kind: nn.InitConst, Value: metaLSTMForgetBias}},
		{Name: "metalstm.input.weight", Shape: []int{1, h + 2}, Init: gate},
		{Name: "metalstm.input.bias", Shape: []int{1}, Init: nn.Init{Kind: nn.InitConst, Value: l.inputBias}},
	}
}

// OutShape accepts the per-coordinate input [4] and returns it.
func (l *metaLSTMLayer[T]) OutShape(in []int) ([]int, error) {
	if len(in) != 1 || in[0] != metaLSTMInputs {
		return nil, fmt.Errorf("train: the meta-learner LSTM takes [%d] inputs per coordinate, got %v", metaLSTMInputs, in)
	}
	return in, nil
}

// Forward panics: the meta-learner is recurrent and runs through
// metaLSTMStep, never through nn.Network.Forward.
func (l *metaLSTMLayer[T]) Forward(*engine.Var[T], []*engine.Var[T], nn.Mode) *engine.Var[T] {
	panic("train: the meta-learner LSTM is not a feed-forward network; it runs through metaLSTMStep")
}

// metaLSTMState is the recurrent state between two updates: layer 1's
// hidden and cell states side by side, hc [n, 2H] (engine.LSTMCell's
// layout), the learner's weights θ [n] (the meta cell's state) and the
// previous forget and input gates [n]. Nil hc, f and i stand for zeros
// (before the first update).
type metaLSTMState[T engine.Float] struct {
	hc, theta, f, i *engine.Var[T]
}

// metaLSTMStep is one update of the meta-learner: x [n, 4] holds the
// preprocessed gradient and loss, grad [n] the raw gradient ∇_t, both
// constants; w are the meta-learner's parameters (ml* order).
//
// With graph false the step is outside the truncated-backpropagation
// window: the gates and layer 1 are computed from detached weights and
// states, so no gradient flows through them, but θ_t = f_t ⊙ θ_{t−1} −
// i_t ⊙ ∇_t is still recorded through θ_{t−1} (with f_t and i_t as
// constants). The meta-gradient thus always reaches the learner's initial
// weights θ_0, at the cost of two [n] products per step.
func metaLSTMStep[T engine.Float](w []*engine.Var[T], st metaLSTMState[T], x, grad *engine.Var[T], graph bool) metaLSTMState[T] {
	const h = metaLSTMHidden
	theta := st.theta
	if !graph {
		w = engine.DetachAll(w)
		theta = engine.Detach(theta)
		st.hc, st.f, st.i = detachOrNil(st.hc), detachOrNil(st.f), detachOrNil(st.i)
	}
	n := theta.Shape()[0]
	// Layer 1: a standard LSTM cell (gates i, f, g, o), its pre-activations
	// one product of [x, h_{t−1}] with [W_ih, W_hh], then one fused op.
	xh, wxh := x, w[mlWih]
	if st.hc != nil {
		xh, wxh = engine.Concat(1, x, engine.Slice(st.hc, 1, 0, h)), engine.Concat(1, w[mlWih], w[mlWhh])
	}
	hc := engine.LSTMCell(engine.Linear(xh, wxh, w[mlB]), st.hc)
	hid := engine.Slice(hc, 1, 0, h)
	// Layer 2: the meta-learner cell, whose state is θ. wg·[h, θ, prev]
	// is computed as wg[:H]·h + wg[H]·θ + wg[H+1]·prev.
	gate := func(wg, bg, prev *engine.Var[T]) *engine.Var[T] {
		z := engine.Reshape(engine.Linear(hid, engine.Slice(wg, 1, 0, h), bg), n)
		z = engine.Add(z, engine.Mul(theta, engine.Reshape(engine.Slice(wg, 1, h, h+1), 1)))
		if prev != nil {
			z = engine.Add(z, engine.Mul(prev, engine.Reshape(engine.Slice(wg, 1, h+1, h+2), 1)))
		}
		return engine.Sigmoid(z)
	}
	f := gate(w[mlWF], w[mlBF], st.f)
	i := gate(w[mlWI], w[mlBI], st.i)
	next := engine.Sub(engine.Mul(f, st.theta), engine.Mul(i, grad))
	return metaLSTMState[T]{hc: hc, theta: next, f: f, i: i}
}

func detachOrNil[T engine.Float](v *engine.Var[T]) *engine.Var[T] {
	if v == nil {
		return nil
	}
	return engine.Detach(v)
}

// metaLSTMInput builds the first layer's input [n, 4] from the flat
// gradient g [n] and the loss: (pre(g_j), pre(loss)) per coordinate.
func metaLSTMInput[T engine.Float](g *engine.Tensor[T], loss float64) *engine.Tensor[T] {
	gd := g.Data()
	x := engine.New[T](len(gd), metaLSTMInputs)
	d := x.Data()
	l0, l1 := preprocessGradLoss(loss)
	for j, v := range gd {
		a, b := preprocessGradLoss(float64(v))
		d[4*j], d[4*j+1], d[4*j+2], d[4*j+3] = T(a), T(b), T(l0), T(l1)
	}
	return x
}

// metaLSTMNet is the learner (backbone and head) and the meta-learner, in
// any float type (float64 for the gradient checks).
type metaLSTMNet[T engine.Float] struct {
	backbone, head, meta *nn.Network[T]
	nBackbone, nLearner  int   // learner parameter tensors: backbone, backbone + head
	offsets              []int // learner tensor k is θ[offsets[k]:offsets[k+1]]
	shapes               [][]int
}

func newMetaLSTMNet[T engine.Float](spec Spec, rng *rand.Rand) (*metaLSTMNet[T], error) {
	bb, err := nn.NewConv4[T](spec.conv4(), rng)
	if err != nil {
		return nil, err
	}
	head, err := nn.NewNetwork([]int{bb.OutSize()}, rng, nn.Layer[T](nn.NewLinear[T]("head", bb.OutSize(), spec.Way)))
	if err != nil {
		return nil, err
	}
	alpha := float64(spec.innerLR())
	meta, err := nn.NewNetwork([]int{metaLSTMInputs}, rng, nn.Layer[T](&metaLSTMLayer[T]{inputBias: math.Log(alpha / (1 - alpha))}))
	if err != nil {
		return nil, err
	}
	m := &metaLSTMNet[T]{backbone: bb, head: head, meta: meta, nBackbone: len(bb.Params()), offsets: []int{0}}
	for _, net := range []*nn.Network[T]{bb, head} {
		for _, s := range net.Specs() {
			m.shapes = append(m.shapes, s.Shape)
			m.offsets = append(m.offsets, m.offsets[len(m.offsets)-1]+s.Numel())
		}
	}
	m.nLearner = len(m.shapes)
	return m, nil
}

func (m *metaLSTMNet[T]) networks() []*nn.Network[T] {
	return []*nn.Network[T]{m.backbone, m.head, m.meta}
}

// size is the number of learner weights n.
func (m *metaLSTMNet[T]) size() int { return m.offsets[len(m.offsets)-1] }

// logits runs the learner with weights params (backbone, then head).
func (m *metaLSTMNet[T]) logits(params []*engine.Var[T], s *episode.Set, mode nn.Mode) *engine.Var[T] {
	e := m.backbone.Forward(engine.Const(setTensor[T](s)), params[:m.nBackbone], mode)
	return m.head.Forward(e, params[m.nBackbone:], mode)
}

// flatten stacks the learner weights into θ [n].
func (m *metaLSTMNet[T]) flatten(params []*engine.Var[T]) *engine.Var[T] {
	cols := make([]*engine.Var[T], len(params))
	for k, p := range params {
		cols[k] = engine.Reshape(p, m.offsets[k+1]-m.offsets[k])
	}
	return engine.Concat(0, cols...)
}

// unflatten splits θ into the learner's weights, differentiably.
func (m *metaLSTMNet[T]) unflatten(theta *engine.Var[T]) []*engine.Var[T] {
	out := make([]*engine.Var[T], m.nLearner)
	for k := range out {
		out[k] = engine.Reshape(engine.Slice(theta, 0, m.offsets[k], m.offsets[k+1]), m.shapes[k]...)
	}
	return out
}

// supportGrad returns the gradient [n] and the value of the learner's
// cross-entropy on s at the flat weights theta, without a graph.
func (m *metaLSTMNet[T]) supportGrad(theta *engine.Tensor[T], s *episode.Set, mode nn.Mode) (*engine.Tensor[T], float64) {
	data := theta.Data()
	leaves := make([]*engine.Var[T], m.nLearner)
	for k := range leaves {
		leaves[k] = engine.Param(engine.FromSlice(data[m.offsets[k]:m.offsets[k+1]], m.shapes[k]...))
	}
	loss := engine.CrossEntropy(m.logits(leaves, s, mode), s.Labels)
	gs := engine.GradFree(loss, leaves)
	g := engine.New[T](m.size())
	for k, gk := range gs {
		copy(g.Data()[m.offsets[k]:m.offsets[k+1]], gk.Value().Data())
	}
	return g, float64(loss.Item())
}

// metaLSTMObserver returns the learner's support gradient [n] and loss
// at the flat weights theta before update t (counting from 0).
type metaLSTMObserver[T engine.Float] func(t int, theta *engine.Tensor[T]) (*engine.Tensor[T], float64)

// observer is the usual metaLSTMObserver: the support cross-entropy of s,
// in mode first at θ_0 and with batch statistics left alone afterwards.
func (m *metaLSTMNet[T]) observer(s *episode.Set, first nn.Mode) metaLSTMObserver[T] {
	return func(t int, theta *engine.Tensor[T]) (*engine.Tensor[T], float64) {
		mode := nn.TrainFrozenStats
		if t == 0 {
			mode = first
		}
		return m.supportGrad(theta, s, mode)
	}
}

// unroll runs steps meta-learner updates from the learner weights learner
// (θ_0) with the meta-learner weights meta, reading the learner's gradient
// and loss from observe, and returns the adapted learner weights θ_T. With
// bptt > 0 only the last bptt updates are backpropagated through in full
// (see metaLSTMStep); 0 means all.
func (m *metaLSTMNet[T]) unroll(learner, meta []*engine.Var[T], steps, bptt int, observe metaLSTMObserver[T]) []*engine.Var[T] {
	st := metaLSTMState[T]{theta: m.flatten(learner)}
	for t := range steps {
		g, loss := observe(t, st.theta.Value())
		graph := bptt == 0 || t >= steps-bptt
		st = metaLSTMStep(meta, st, engine.Const(metaLSTMInput(g, loss)), engine.Const(g), graph)
	}
	return m.unflatten(st.theta)
}

// objective is the meta-training loss of t: the query cross-entropy of the
// learner after steps updates on the supports (batch statistics
// throughout; first is the mode of the first support pass). params are
// the parameters of networks() in order. It returns the loss and the
// query logits.
func (m *metaLSTMNet[T]) objective(params []*engine.Var[T], t *episode.Task, steps, bptt int, first nn.Mode) (loss, logits *engine.Var[T]) {
	fast := m.unroll(params[:m.nLearner], params[m.nLearner:], steps, bptt, m.observer(&t.Support, first))
	logits = m.logits(fast, &t.Query, nn.TrainFrozenStats)
	return engine.CrossEntropy(logits, t.Query.Labels), logits
}

// metaLSTM is the "meta-lstm" algorithm: the meta-learner LSTM of Ravi &
// Larochelle (2017) training a Conv-4 classifier with a Spec.Way-way head
// (see metaLSTMNet). Each training task runs Spec.InnerSteps updates (T,
// default 5) on the whole support set; the meta-loss is the query
// cross-entropy after the last, averaged over Spec.MetaBatch tasks
// (default 1, the paper's one episode per update).
//
// Batch norm, as in the paper: the learner always normalises with the
// statistics of the batch it is given, the supports in the updates and
// the queries (all of them in one batch) for the loss and at test time,
// so Predict is transductive over a task's queries. The running
// statistics are never used by the method; they are updated by the first
// support pass of each training task, at θ_0, only so that the exported
// embedding (θ_0 without adaptation) has statistics that fit it.
type metaLSTM struct {
	spec                       Spec
	net                        *metaLSTMNet[float32]
	params                     []*fvar
	steps, testSteps, bptt, mb int
}

func newMetaLSTM(spec Spec, rng *rand.Rand) (Algorithm, error) {
	if spec.Way < 2 {
		return nil, fmt.Errorf("train: meta-lstm needs the task way (Spec.Way >= 2) for its output layer, got %d", spec.Way)
	}
	if spec.FirstOrder {
		return nil, fmt.Errorf("train: meta-lstm always takes the learner's gradient as an input, without second derivatives; FirstOrder does not apply")
	}
	if a := spec.innerLR(); !(a > 0 && a < 1) {
		return nil, fmt.Errorf("train: meta-lstm starts its input gate at the inner learning rate, which must lie in (0, 1), got %g", a)
	}
	net, err := newMetaLSTMNet[float32](spec, rng)
	if err != nil {
		return nil, err
	}
	a := &metaLSTM{spec: spec, net: net, steps: spec.InnerSteps, testSteps: spec.TestInnerSteps, bptt: spec.BPTTSteps, mb: spec.MetaBatch}
	a.params = allParams(net.networks())
	if a.steps == 0 {
		a.steps = 5
	}
	if a.testSteps == 0 {
		a.testSteps = a.steps
	}
	if a.mb == 0 {
		a.mb = 1
	}
	return a, nil
}

func (a *metaLSTM) Spec() Spec                       { return a.spec }
func (a *metaLSTM) Networks() []*nn.Network[float32] { return a.net.networks() }
func (a *metaLSTM) Params() []*fvar                  { return a.params }

func (a *metaLSTM) Sample(s *episode.Sampler, cfg episode.Config) (*Batch, error) {
	return sampleTasks(s, cfg, a.mb)
}

func (a *metaLSTM) Step(b *Batch) StepResult {
	var acc gradAccumulator
	var r StepResult
	for _, t := range b.Tasks {
		if t.Way != a.spec.Way {
			panic(fmt.Sprintf("train: meta-lstm built for %d-way tasks got a %d-way task", a.spec.Way, t.Way))
		}
		loss, logits := a.net.objective(a.params, t, a.steps, a.bptt, nn.Train)
		acc.add(engine.GradFree(loss, a.params))
		r.Loss += float64(loss.Item())
		r.Acc += engine.Accuracy(logits.Value(), t.Query.Labels)
	}
	n := float64(len(b.Tasks))
	r.Grads, r.Loss, r.Acc = acc.result(float32(1/n)), r.Loss/n, r.Acc/n
	return r
}

// Predict runs the meta-learner's test-time updates on t's supports from
// θ_0 and classifies the queries with the adapted learner, without a graph
// and with batch statistics (of the supports, then of all the queries).
func (a *metaLSTM) Predict(t *episode.Task) (*engine.Tensor[float32], error) {
	if err := checkTask(t, a.net.backbone.InShape()); err != nil {
		return nil, err
	}
	if t.Way != a.spec.Way {
		return nil, fmt.Errorf("train: meta-lstm was built for %d-way tasks, cannot classify a %d-way task", a.spec.Way, t.Way)
	}
	_, logits := a.net.objective(engine.DetachAll(a.params), t, a.testSteps, 0, nn.TrainFrozenStats)
	return logits.Value(), nil
}

// checkConfig rejects task shapes whose way is not the head's.
func (a *metaLSTM) checkConfig(cfg episode.Config) error {
	for _, w := range cfg.Ways {
		if w != a.spec.Way {
			return fmt.Errorf("train: meta-lstm was built for %d-way tasks, the task config asks for %d-way", a.spec.Way, w)
		}
	}
	return nil
}
