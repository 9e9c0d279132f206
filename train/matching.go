package train

import (
	"math/rand/v2"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/nn"
)

// matchingNet is the Matching Networks metric without full context
// embeddings: attention a(q, s) = softmax_s(scale · cos(q, s)) over all
// supports, and p(k | q) = Σ_{s in class k} a(q, s).
type matchingNet[T engine.Float] struct {
	net   *nn.Network[T]
	scale T
}

func newMatchingAlgo(spec Spec, rng *rand.Rand) (Algorithm, error) {
	net, err := nn.NewConv4[float32](spec.conv4(), rng)
	if err != nil {
		return nil, err
	}
	scale := float32(spec.Scale)
	if scale == 0 {
		scale = 1
	}
	return newEpisodic(spec, &matchingNet[float32]{net: net, scale: scale}), nil
}

func (m *matchingNet[T]) networks() []*nn.Network[T] { return []*nn.Network[T]{m.net} }

// logits are log Σ_{s in class k} exp(scale·cos(q, s)). They differ from
// log p(k | q) by a per-query constant, so their softmax is p(k | q) and
// cross-entropy on them is Matching Networks' loss.
func (m *matchingNet[T]) logits(params []*engine.Var[T], support, query *episode.Set, way, shot int, mode nn.Mode) *engine.Var[T] {
	s, q := embedPair(m.net, params, support, query, mode)
	cos := engine.CosineSimilarity(q, s, 1e-8)
	if m.scale != 1 {
		cos = engine.Scale(cos, m.scale)
	}
	return engine.LogSumExp(engine.Reshape(cos, query.N, way, shot), 2, false)
}

func (m *matchingNet[T]) criterion(logits *engine.Var[T], labels []int, _ int) *engine.Var[T] {
	return engine.CrossEntropy(logits, labels)
}
