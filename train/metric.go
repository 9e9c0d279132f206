package train

import (
	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/nn"
)

// metric is a metric-based learner with functional weights: it scores the
// queries of a task against the task's support set, so it needs no
// task-specific output layer and handles any way and shot.
type metric[T engine.Float] interface {
	networks() []*nn.Network[T]
	// logits scores query against the way classes of support (shot images
	// each, class-major) under params: [query.N, way]. When query is
	// support the supports are embedded once and score themselves.
	logits(params []*engine.Var[T], support, query *episode.Set, way, shot int, mode nn.Mode) *engine.Var[T]
	// criterion is the training loss of logits for the given labels.
	criterion(logits *engine.Var[T], labels []int, way int) *engine.Var[T]
}

// taskLoss returns the query loss and logits of t.
func taskLoss[T engine.Float](m metric[T], params []*engine.Var[T], t *episode.Task, mode nn.Mode) (loss, logits *engine.Var[T]) {
	logits = m.logits(params, &t.Support, &t.Query, t.Way, t.Shot, mode)
	return m.criterion(logits, t.Query.Labels, t.Way), logits
}

// supportLoss is the support set's loss against its own prototypes: the
// inner objective of maml-proto and maml-relation, which must not see the
// queries.
func supportLoss[T engine.Float](m metric[T], params []*engine.Var[T], t *episode.Task, mode nn.Mode) *engine.Var[T] {
	logits := m.logits(params, &t.Support, &t.Support, t.Way, t.Shot, mode)
	return m.criterion(logits, t.Support.Labels, t.Way)
}

// metricPredict scores t's queries in evaluation mode without a graph.
func metricPredict(m metric[float32], params []*fvar, t *episode.Task) (*engine.Tensor[float32], error) {
	if err := checkTask(t, m.networks()[0].InShape()); err != nil {
		return nil, err
	}
	return m.logits(engine.DetachAll(params), &t.Support, &t.Query, t.Way, t.Shot, nn.Eval).Value(), nil
}

// episodic trains a metric learner on one task per step: ProtoNet,
// Relation Networks and Matching Networks.
type episodic struct {
	spec   Spec
	m      metric[float32]
	params []*fvar
}

func newEpisodic(spec Spec, m metric[float32]) *episodic {
	return &episodic{spec: spec, m: m, params: allParams(m.networks())}
}

func (a *episodic) Spec() Spec                       { return a.spec }
func (a *episodic) Networks() []*nn.Network[float32] { return a.m.networks() }
func (a *episodic) Params() []*fvar                  { return a.params }

func (a *episodic) Sample(s *episode.Sampler, cfg episode.Config) (*Batch, error) {
	return sampleTasks(s, cfg, 1)
}

func (a *episodic) Step(b *Batch) StepResult {
	var acc gradAccumulator
	var r StepResult
	for _, t := range b.Tasks {
		loss, logits := taskLoss(a.m, a.params, t, nn.Train)
		acc.add(engine.GradFree(loss, a.params))
		r.Loss += float64(loss.Item())
		r.Acc += engine.Accuracy(logits.Value(), t.Query.Labels)
	}
	n := float64(len(b.Tasks))
	r.Grads, r.Loss, r.Acc = acc.result(float32(1/n)), r.Loss/n, r.Acc/n
	return r
}

func (a *episodic) Predict(t *episode.Task) (*engine.Tensor[float32], error) {
	return metricPredict(a.m, a.params, t)
}
