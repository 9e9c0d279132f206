package train

import (
	"fmt"
	"math/rand/v2"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/nn"
)

// l2g is Learning to Generalize on a metric learner. One step draws k task
// pairs (T_i, T_j) on disjoint classes; for each, θ'_i = θ − α∇L_{T_i}(θ)
// with the inner gradient recorded, and the meta-gradient is
// d/dθ Σ_pairs L_{T_j}(θ'_i), through the inner step. Each pair's graph is
// differentiated and freed before the next is built, so memory holds one
// pair at a time.
//
// Batch norm: the inner pass at θ uses nn.Train (batch statistics, running
// statistics updated, since the model is evaluated at θ); the outer pass at
// θ' uses nn.TrainFrozenStats (batch statistics of T_j under θ', running
// statistics untouched).
type l2g struct {
	spec   Spec
	m      metric[float32]
	params []*fvar
	alpha  float32
	pairs  int
}

func newL2G(spec Spec, m metric[float32]) *l2g {
	k := spec.MetaBatch
	if k == 0 {
		k = 5
	}
	return &l2g{spec: spec, m: m, params: allParams(m.networks()), alpha: spec.innerLR(), pairs: k}
}

func newL2GProto(spec Spec, rng *rand.Rand) (Algorithm, error) {
	p, err := newProtoNet[float32](spec, rng)
	if err != nil {
		return nil, err
	}
	return newL2G(spec, p), nil
}

func newL2GRelation(spec Spec, rng *rand.Rand) (Algorithm, error) {
	r, err := newRelationNet[float32](spec, rng)
	if err != nil {
		return nil, err
	}
	return newL2G(spec, r), nil
}

func (a *l2g) Spec() Spec                       { return a.spec }
func (a *l2g) Networks() []*nn.Network[float32] { return a.m.networks() }
func (a *l2g) Params() []*fvar                  { return a.params }

// Sample draws the step's task pairs, both tasks of a pair shaped by cfg.
func (a *l2g) Sample(s *episode.Sampler, cfg episode.Config) (*Batch, error) {
	pairs, err := s.MetaBatch(cfg, cfg, a.pairs)
	if err != nil {
		return nil, err
	}
	return &Batch{Pairs: pairs}, nil
}

// l2gObjective returns L_{T_j}(θ − α∇L_{T_i}(θ)) and the outer logits for
// the pair p under weights params: the inner loss in mode inner, the outer
// in mode outer. Unless firstOrder the inner gradient is recorded, so that
// differentiating the result with respect to params goes through it.
func l2gObjective[T engine.Float](m metric[T], params []*engine.Var[T], p *episode.Pair, alpha T, firstOrder bool, inner, outer nn.Mode) (loss, logits *engine.Var[T]) {
	li, _ := taskLoss(m, params, p.First, inner)
	g := engine.Grad(li, params, !firstOrder)
	return taskLoss(m, nn.SGDStep(params, g, alpha), p.Second, outer)
}

// Step returns the gradient of the sum of the pairs' outer losses; Loss
// and Acc are means over the pairs' second tasks.
func (a *l2g) Step(b *Batch) StepResult {
	if len(b.Pairs) == 0 {
		panic(fmt.Sprintf("train: %s step on a batch without task pairs", a.spec.Algo))
	}
	var acc gradAccumulator
	var r StepResult
	for _, p := range b.Pairs {
		loss, logits := l2gObjective(a.m, a.params, p, a.alpha, a.spec.FirstOrder, nn.Train, nn.TrainFrozenStats)
		acc.add(engine.GradFree(loss, a.params))
		r.Loss += float64(loss.Item())
		r.Acc += engine.Accuracy(logits.Value(), p.Second.Query.Labels)
	}
	n := float64(len(b.Pairs))
	r.Grads, r.Loss, r.Acc = acc.result(1), r.Loss/n, r.Acc/n
	return r
}

// Predict classifies with θ, as the base learner does: L2G changes
// training only.
func (a *l2g) Predict(t *episode.Task) (*engine.Tensor[float32], error) {
	return metricPredict(a.m, a.params, t)
}
