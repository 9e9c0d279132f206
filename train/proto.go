package train

import (
	"math/rand/v2"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/nn"
)

// protoNet is the Prototypical Networks metric on a Conv-4 embedding.
type protoNet[T engine.Float] struct {
	net *nn.Network[T]
}

func newProtoNet[T engine.Float](spec Spec, rng *rand.Rand) (*protoNet[T], error) {
	net, err := nn.NewConv4[T](spec.conv4(), rng)
	if err != nil {
		return nil, err
	}
	return &protoNet[T]{net: net}, nil
}

func newProtoAlgo(spec Spec, rng *rand.Rand) (Algorithm, error) {
	p, err := newProtoNet[float32](spec, rng)
	if err != nil {
		return nil, err
	}
	return newEpisodic(spec, p), nil
}

func (p *protoNet[T]) networks() []*nn.Network[T] { return []*nn.Network[T]{p.net} }

// embedPair embeds support and query with net in one batch (one set of
// batch statistics in training) and returns the two embeddings.
func embedPair[T engine.Float](net *nn.Network[T], params []*engine.Var[T], support, query *episode.Set, mode nn.Mode) (s, q *engine.Var[T]) {
	if query == support {
		e := net.Forward(engine.Const(setTensor[T](support)), params, mode)
		return e, e
	}
	e := net.Forward(engine.Const(joinSets[T](support, query)), params, mode)
	return engine.Slice(e, 0, 0, support.N), engine.Slice(e, 0, support.N, support.N+query.N)
}

// logits are −‖q − c_k‖² with c_k the mean support embedding of class k.
func (p *protoNet[T]) logits(params []*engine.Var[T], support, query *episode.Set, way, shot int, mode nn.Mode) *engine.Var[T] {
	s, q := embedPair(p.net, params, support, query, mode)
	protos := engine.MeanAxes(engine.Reshape(s, way, shot, -1), []int{1}, false)
	return engine.Neg(engine.PairwiseSqDist(q, protos))
}

func (p *protoNet[T]) criterion(logits *engine.Var[T], labels []int, _ int) *engine.Var[T] {
	return engine.CrossEntropy(logits, labels)
}
