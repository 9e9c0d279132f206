package train

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/nn"
)

// fvar is the variable type of all training code: training runs in float32.
type fvar = engine.Var[float32]

// Algorithm is a few-shot meta-learner. Its weights live in the networks it
// returns; [Run] draws a [Batch] with Sample, takes Step's gradients and
// updates Params with Adam.
type Algorithm interface {
	// Spec returns the specification the algorithm was built from; [New]
	// rebuilds an identical (untrained) algorithm from it.
	Spec() Spec
	// Networks returns the networks whose parameters and batch-norm running
	// statistics make up the model, in a fixed order.
	Networks() []*nn.Network[float32]
	// Params returns the trainable parameters of all networks in order.
	Params() []*engine.Var[float32]
	// Sample draws the tasks of one training step shaped by cfg.
	Sample(s *episode.Sampler, cfg episode.Config) (*Batch, error)
	// Step computes the meta-training objective of b and returns its
	// gradients with respect to Params, with the mean loss and query
	// accuracy. It runs forward passes in training mode and so updates
	// batch-norm running statistics (see the package documentation).
	Step(b *Batch) StepResult
	// Predict scores the query images of t against its classes with the
	// current weights in evaluation mode: [NQ, Way] scores, higher meaning
	// more likely. It returns an error if the task's images do not have
	// the input shape the networks were built for, or if the algorithm
	// cannot classify Way classes.
	Predict(t *episode.Task) (*engine.Tensor[float32], error)
}

// Batch is the data of one training step: tasks for single-task and MAML
// learners, task pairs for L2G.
type Batch struct {
	Tasks []*episode.Task
	Pairs []*episode.Pair
}

// StepResult is the outcome of [Algorithm.Step].
type StepResult struct {
	// Grads holds one gradient per parameter, as constants.
	Grads []*engine.Var[float32]
	// Loss is the mean outer loss over the batch's tasks.
	Loss float64
	// Acc is the mean query accuracy, in [0, 1].
	Acc float64
}

// Spec describes an algorithm and its networks. The zero values of the
// optional fields select the defaults given.
type Spec struct {
	// Algo is one of [Algorithms].
	Algo string `json:"algo"`
	// InChannels, Height and Width are the input image shape.
	InChannels int `json:"in_channels"`
	Height     int `json:"height"`
	Width      int `json:"width"`
	// Hidden is the channel count of every convolution; 0 means 64.
	Hidden int `json:"hidden,omitempty"`
	// Blocks is the number of Conv-4 blocks (not for the relation
	// learners); 0 means 4.
	Blocks int `json:"blocks,omitempty"`
	// Way is the output size of the linear head of maml and meta-lstm,
	// which train and predict Way-way tasks only. Ignored by the other
	// algorithms.
	Way int `json:"way,omitempty"`
	// InnerLR is the inner-step learning rate α: 0 means 0.01 (L2G, MAML
	// family). For meta-lstm it is the initial input gate, its bias
	// starting at logit(α), so that training starts near SGD with step α.
	InnerLR float64 `json:"inner_lr,omitempty"`
	// InnerSteps is the number of MAML inner steps in training (0 means 1
	// for maml-proto and maml-relation, 5 for maml), or of meta-learner
	// updates T for meta-lstm (0 means 5); TestInnerSteps at
	// evaluation (0 means InnerSteps: with running batch-norm statistics
	// more test-time steps than training steps tend to overshoot).
	InnerSteps     int `json:"inner_steps,omitempty"`
	TestInnerSteps int `json:"test_inner_steps,omitempty"`
	// MetaBatch is the number of task pairs per L2G step (0 means 5) or of
	// tasks per MAML-family or meta-lstm step (0 means 4 for maml, 1
	// otherwise).
	MetaBatch int `json:"meta_batch,omitempty"`
	// FirstOrder detaches the inner gradient (L2G and MAML family): the
	// outer gradient is then ∇L(θ') instead of the exact meta-gradient.
	// meta-lstm rejects it: it always takes the learner's gradient as an
	// input, without second derivatives.
	FirstOrder bool `json:"first_order,omitempty"`
	// BPTTSteps truncates meta-lstm's backpropagation through its unrolled
	// updates: the meta-gradient flows through the meta-learner's gates
	// and first LSTM layer of only the last BPTTSteps updates, and through
	// the cell-state chain θ_t = f_t ⊙ θ_{t−1} − i_t ⊙ ∇_t of all of them
	// (so it always reaches the learner's initial weights). 0 means no
	// truncation, as in the paper. Ignored by the other algorithms.
	BPTTSteps int `json:"bptt_steps,omitempty"`
	// Scale multiplies Matching Networks' cosine similarities before the
	// softmax; 0 means 1, the original unscaled attention.
	Scale float64 `json:"scale,omitempty"`
	// Seed seeds the weight initialisation.
	Seed uint64 `json:"seed"`
}

// MaxSpec holds the largest value [New] accepts for each size field of a
// [Spec].
var MaxSpec = Spec{InChannels: 16, Height: 512, Width: 512, Hidden: 1024, Blocks: 8, Way: 64,
	MetaBatch: 1024, InnerSteps: 1000, TestInnerSteps: 1000, BPTTSteps: 1000}

// builders maps algorithm names to their constructors.
var builders = map[string]func(Spec, *rand.Rand) (Algorithm, error){
	"proto":         newProtoAlgo,
	"relation":      newRelationAlgo,
	"matching":      newMatchingAlgo,
	"maml":          newMAML,
	"maml-proto":    newMAMLProto,
	"maml-relation": newMAMLRelation,
	"l2g-proto":     newL2GProto,
	"l2g-relation":  newL2GRelation,
	"meta-lstm":     newMetaLSTM,
}

// Algorithms returns the names [New] accepts, sorted.
func Algorithms() []string {
	names := make([]string, 0, len(builders))
	for n := range builders {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New builds the algorithm spec names with freshly initialised weights
// drawn from spec.Seed. It returns an error for an unknown name or an input
// shape the networks cannot take.
func New(spec Spec) (Algorithm, error) {
	b, ok := builders[spec.Algo]
	if !ok {
		return nil, fmt.Errorf("train: unknown algorithm %q (want one of %s)", spec.Algo, strings.Join(Algorithms(), ", "))
	}
	if spec.InChannels < 1 || spec.Height < 1 || spec.Width < 1 {
		return nil, fmt.Errorf("train: %s: input shape %d×%d×%d must be positive", spec.Algo, spec.InChannels, spec.Height, spec.Width)
	}
	if spec.Hidden < 0 || spec.Blocks < 0 || spec.InnerSteps < 0 || spec.TestInnerSteps < 0 || spec.MetaBatch < 0 || spec.InnerLR < 0 || spec.Way < 0 || spec.BPTTSteps < 0 {
		return nil, fmt.Errorf("train: %s: negative setting in %+v", spec.Algo, spec)
	}
	// Specs also come from checkpoint files; the limits keep a damaged or
	// hostile one from asking for networks of unbounded size.
	if spec.InChannels > MaxSpec.InChannels || spec.Height > MaxSpec.Height || spec.Width > MaxSpec.Width ||
		spec.Hidden > MaxSpec.Hidden || spec.Blocks > MaxSpec.Blocks || spec.Way > MaxSpec.Way ||
		spec.MetaBatch > MaxSpec.MetaBatch || spec.InnerSteps > MaxSpec.InnerSteps || spec.TestInnerSteps > MaxSpec.TestInnerSteps ||
		spec.BPTTSteps > MaxSpec.BPTTSteps {
		return nil, fmt.Errorf("train: %s: setting beyond the limits %+v in %+v", spec.Algo, MaxSpec, spec)
	}
	return b(spec, rand.New(rand.NewPCG(spec.Seed, 0x1417)))
}

func (s Spec) innerLR() float32 {
	if s.InnerLR == 0 {
		return 0.01
	}
	return float32(s.InnerLR)
}

func (s Spec) conv4() nn.Conv4Config {
	return nn.Conv4Config{InChannels: s.InChannels, Height: s.Height, Width: s.Width, Hidden: s.Hidden, Blocks: s.Blocks}
}

// setTensor returns a set's images as an [N, C, H, W] tensor: the set's own
// storage for float32 (engine ops never write to their inputs), a converted
// copy otherwise.
func setTensor[T engine.Float](s *episode.Set) *engine.Tensor[T] {
	t := engine.FromSlice(s.Data, s.N, s.C, s.H, s.W)
	if r, ok := any(t).(*engine.Tensor[T]); ok {
		return r
	}
	return engine.Convert[T](t)
}

// joinSets returns the images of a and then b as one [Na+Nb, C, H, W] tensor.
func joinSets[T engine.Float](a, b *episode.Set) *engine.Tensor[T] {
	data := make([]T, 0, len(a.Data)+len(b.Data))
	for _, v := range a.Data {
		data = append(data, T(v))
	}
	for _, v := range b.Data {
		data = append(data, T(v))
	}
	return engine.FromSlice(data, a.N+b.N, a.C, a.H, a.W)
}

// checkTask reports whether t's images fit a network with input shape in
// and its sets are consistent with its way and shot.
func checkTask(t *episode.Task, in []int) error {
	for _, s := range []*episode.Set{&t.Support, &t.Query} {
		if s.N > 0 && (s.C != in[0] || s.H != in[1] || s.W != in[2]) {
			return fmt.Errorf("train: task images are %d×%d×%d (C×H×W), the network takes %d×%d×%d", s.C, s.H, s.W, in[0], in[1], in[2])
		}
		if len(s.Labels) != s.N || len(s.Data) != s.N*s.C*s.H*s.W {
			return fmt.Errorf("train: task set of %d images has %d labels and %d values", s.N, len(s.Labels), len(s.Data))
		}
	}
	if t.Way < 1 || t.Shot < 1 || t.Support.N != t.Way*t.Shot || t.Query.N != t.Way*t.QueryPerClass {
		return fmt.Errorf("train: task of way %d, shot %d, %d queries per class has %d supports and %d queries", t.Way, t.Shot, t.QueryPerClass, t.Support.N, t.Query.N)
	}
	return nil
}

// sampleTasks draws n tasks shaped by cfg.
func sampleTasks(s *episode.Sampler, cfg episode.Config, n int) (*Batch, error) {
	b := &Batch{Tasks: make([]*episode.Task, n)}
	for i := range b.Tasks {
		t, err := s.Task(cfg)
		if err != nil {
			return nil, err
		}
		b.Tasks[i] = t
	}
	return b, nil
}

// gradAccumulator sums gradients in place across tasks.
type gradAccumulator struct {
	sum []*engine.Tensor[float32]
}

func (a *gradAccumulator) add(grads []*fvar) {
	if a.sum == nil {
		a.sum = make([]*engine.Tensor[float32], len(grads))
		for i, g := range grads {
			a.sum[i] = g.Value().Clone()
		}
		return
	}
	for i, g := range grads {
		dst := a.sum[i].Data()
		for j, v := range g.Value().Data() {
			dst[j] += v
		}
	}
}

// result returns the sum scaled by c as constants.
func (a *gradAccumulator) result(c float32) []*fvar {
	out := make([]*fvar, len(a.sum))
	for i, t := range a.sum {
		if c != 1 {
			for j := range t.Data() {
				t.Data()[j] *= c
			}
		}
		out[i] = engine.Const(t)
	}
	return out
}

// allParams concatenates the parameters of nets.
func allParams(nets []*nn.Network[float32]) []*fvar {
	var p []*fvar
	for _, n := range nets {
		p = append(p, n.Params()...)
	}
	return p
}
