package train

import (
	"fmt"
	"math/rand/v2"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/nn"
)

// maml is MAML with a Conv-4 backbone and a linear softmax head of
// Spec.Way outputs. Each task's inner steps adapt all weights on the
// support cross-entropy; the outer loss is the query cross-entropy at the
// adapted weights, averaged over the meta-batch. Labels are the task's
// shuffled-per-task class indices, so the head is not tied to classes.
//
// Batch norm: every training pass (inner and outer) uses nn.Train, since
// MAML evaluates at adapted weights too; test-time adaptation and
// prediction use the running statistics.
type maml struct {
	spec                 Spec
	backbone, head       *nn.Network[float32]
	params               []*fvar
	nBackbone            int
	alpha                float32
	steps, testSteps, mb int
}

func newMAML(spec Spec, rng *rand.Rand) (Algorithm, error) {
	if spec.Way < 2 {
		return nil, fmt.Errorf("train: maml needs the task way (Spec.Way >= 2) for its output layer, got %d", spec.Way)
	}
	bb, err := nn.NewConv4[float32](spec.conv4(), rng)
	if err != nil {
		return nil, err
	}
	head, err := nn.NewNetwork([]int{bb.OutSize()}, rng, nn.Layer[float32](nn.NewLinear[float32]("head", bb.OutSize(), spec.Way)))
	if err != nil {
		return nil, err
	}
	a := &maml{spec: spec, backbone: bb, head: head, nBackbone: len(bb.Params()), alpha: spec.innerLR(),
		steps: spec.InnerSteps, testSteps: spec.TestInnerSteps, mb: spec.MetaBatch}
	a.params = allParams(a.Networks())
	if a.steps == 0 {
		a.steps = 5
	}
	if a.testSteps == 0 {
		a.testSteps = a.steps
	}
	if a.mb == 0 {
		a.mb = 4
	}
	return a, nil
}

func (a *maml) Spec() Spec                       { return a.spec }
func (a *maml) Networks() []*nn.Network[float32] { return []*nn.Network[float32]{a.backbone, a.head} }
func (a *maml) Params() []*fvar                  { return a.params }

func (a *maml) Sample(s *episode.Sampler, cfg episode.Config) (*Batch, error) {
	return sampleTasks(s, cfg, a.mb)
}

func (a *maml) logits(params []*fvar, s *episode.Set, mode nn.Mode) *fvar {
	e := a.backbone.Forward(engine.Const(setTensor[float32](s)), params[:a.nBackbone], mode)
	return a.head.Forward(e, params[a.nBackbone:], mode)
}

func (a *maml) adapt(params []*fvar, t *episode.Task, steps int, mode nn.Mode, createGraph bool) []*fvar {
	for k := 0; k < steps; k++ {
		loss := engine.CrossEntropy(a.logits(params, &t.Support, mode), t.Support.Labels)
		params = nn.SGDStep(params, engine.Grad(loss, params, createGraph), a.alpha)
	}
	return params
}

func (a *maml) Step(b *Batch) StepResult {
	var acc gradAccumulator
	var r StepResult
	for _, t := range b.Tasks {
		if t.Way != a.spec.Way {
			panic(fmt.Sprintf("train: maml built for %d-way tasks got a %d-way task", a.spec.Way, t.Way))
		}
		fast := a.adapt(a.params, t, a.steps, nn.Train, !a.spec.FirstOrder)
		logits := a.logits(fast, &t.Query, nn.Train)
		loss := engine.CrossEntropy(logits, t.Query.Labels)
		acc.add(engine.GradFree(loss, a.params))
		r.Loss += float64(loss.Item())
		r.Acc += engine.Accuracy(logits.Value(), t.Query.Labels)
	}
	n := float64(len(b.Tasks))
	r.Grads, r.Loss, r.Acc = acc.result(float32(1/n)), r.Loss/n, r.Acc/n
	return r
}

// Predict adapts a copy of the weights on t's supports and classifies the
// queries with it, all in evaluation mode.
func (a *maml) Predict(t *episode.Task) (*engine.Tensor[float32], error) {
	if err := checkTask(t, a.backbone.InShape()); err != nil {
		return nil, err
	}
	if t.Way != a.spec.Way {
		return nil, fmt.Errorf("train: maml was built for %d-way tasks, cannot classify a %d-way task", a.spec.Way, t.Way)
	}
	fast := a.adapt(leafCopies(a.params), t, a.testSteps, nn.Eval, false)
	return a.logits(engine.DetachAll(fast), &t.Query, nn.Eval).Value(), nil
}

// checkConfig rejects task shapes whose way is not the head's.
func (a *maml) checkConfig(cfg episode.Config) error {
	for _, w := range cfg.Ways {
		if w != a.spec.Way {
			return fmt.Errorf("train: maml was built for %d-way tasks, the task config asks for %d-way", a.spec.Way, w)
		}
	}
	return nil
}
