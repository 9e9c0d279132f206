package train

import (
	"math/rand/v2"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/nn"
)

// mamlMetric is the MAML bilevel step on one task with a metric learner:
// inner steps on the support set's own loss (supports scored against their
// class prototypes), then the query loss at the adapted weights, whose
// gradient with respect to θ goes through the inner steps. At test time the
// same inner steps adapt the weights to the support set, in evaluation mode.
type mamlMetric struct {
	spec                 Spec
	m                    metric[float32]
	params               []*fvar
	alpha                float32
	steps, testSteps, mb int
}

func newMAMLMetric(spec Spec, m metric[float32]) *mamlMetric {
	a := &mamlMetric{spec: spec, m: m, params: allParams(m.networks()), alpha: spec.innerLR(),
		steps: spec.InnerSteps, testSteps: spec.TestInnerSteps, mb: spec.MetaBatch}
	if a.steps == 0 {
		a.steps = 1
	}
	if a.testSteps == 0 {
		a.testSteps = a.steps
	}
	if a.mb == 0 {
		a.mb = 1
	}
	return a
}

func newMAMLProto(spec Spec, rng *rand.Rand) (Algorithm, error) {
	p, err := newProtoNet[float32](spec, rng)
	if err != nil {
		return nil, err
	}
	return newMAMLMetric(spec, p), nil
}

func newMAMLRelation(spec Spec, rng *rand.Rand) (Algorithm, error) {
	r, err := newRelationNet[float32](spec, rng)
	if err != nil {
		return nil, err
	}
	return newMAMLMetric(spec, r), nil
}

func (a *mamlMetric) Spec() Spec                       { return a.spec }
func (a *mamlMetric) Networks() []*nn.Network[float32] { return a.m.networks() }
func (a *mamlMetric) Params() []*fvar                  { return a.params }

func (a *mamlMetric) Sample(s *episode.Sampler, cfg episode.Config) (*Batch, error) {
	return sampleTasks(s, cfg, a.mb)
}

// adapt takes steps inner SGD steps on t's support loss from params;
// createGraph records them for the outer gradient.
func (a *mamlMetric) adapt(params []*fvar, t *episode.Task, steps int, mode nn.Mode, createGraph bool) []*fvar {
	for k := 0; k < steps; k++ {
		g := engine.Grad(supportLoss(a.m, params, t, mode), params, createGraph)
		params = nn.SGDStep(params, g, a.alpha)
	}
	return params
}

func (a *mamlMetric) Step(b *Batch) StepResult {
	var acc gradAccumulator
	var r StepResult
	for _, t := range b.Tasks {
		fast := a.adapt(a.params, t, a.steps, nn.Train, !a.spec.FirstOrder)
		loss, logits := taskLoss(a.m, fast, t, nn.Train)
		acc.add(engine.GradFree(loss, a.params))
		r.Loss += float64(loss.Item())
		r.Acc += engine.Accuracy(logits.Value(), t.Query.Labels)
	}
	n := float64(len(b.Tasks))
	r.Grads, r.Loss, r.Acc = acc.result(float32(1/n)), r.Loss/n, r.Acc/n
	return r
}

// Predict adapts a copy of the weights to t's supports (running batch-norm
// statistics, no recorded graph) and scores the queries with it.
func (a *mamlMetric) Predict(t *episode.Task) (*engine.Tensor[float32], error) {
	if err := checkTask(t, a.m.networks()[0].InShape()); err != nil {
		return nil, err
	}
	fast := a.adapt(leafCopies(a.params), t, a.testSteps, nn.Eval, false)
	return metricPredict(a.m, fast, t)
}

// leafCopies returns new parameter leaves sharing params' values, so that
// gradients can be taken at test time without touching the model's own
// variables.
func leafCopies(params []*fvar) []*fvar {
	out := make([]*fvar, len(params))
	for i, p := range params {
		out[i] = engine.Param(p.Value())
	}
	return out
}
