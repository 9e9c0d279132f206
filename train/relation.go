package train

import (
	"math/rand/v2"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/nn"
)

// relationNet is the Relation Networks metric: an embedding network and a
// relation module scoring (class, query) feature-map pairs.
type relationNet[T engine.Float] struct {
	embed, relation *nn.Network[T]
	nEmbed          int // the first nEmbed parameters are the embedding's
}

func newRelationNet[T engine.Float](spec Spec, rng *rand.Rand) (*relationNet[T], error) {
	cfg := nn.RelationConfig{InChannels: spec.InChannels, Height: spec.Height, Width: spec.Width, Hidden: spec.Hidden}
	embed, rel, err := nn.NewRelationNet[T](cfg, rng)
	if err != nil {
		// Small inputs (Omniglot's 28×28) leave feature maps too small for
		// the unpadded relation convolutions; the original Omniglot model
		// pads them.
		cfg.RelationPad = 1
		var err2 error
		if embed, rel, err2 = nn.NewRelationNet[T](cfg, rng); err2 != nil {
			return nil, err
		}
	}
	return &relationNet[T]{embed: embed, relation: rel, nEmbed: len(embed.Params())}, nil
}

func newRelationAlgo(spec Spec, rng *rand.Rand) (Algorithm, error) {
	r, err := newRelationNet[float32](spec, rng)
	if err != nil {
		return nil, err
	}
	return newEpisodic(spec, r), nil
}

func (r *relationNet[T]) networks() []*nn.Network[T] {
	return []*nn.Network[T]{r.embed, r.relation}
}

// logits are the relation scores in (0, 1) of every query with every class,
// a class being the sum of its support feature maps. Supports and queries
// are embedded in separate batches, as in the original code.
func (r *relationNet[T]) logits(params []*engine.Var[T], support, query *episode.Set, way, shot int, mode nn.Mode) *engine.Var[T] {
	ep, rp := params[:r.nEmbed], params[r.nEmbed:]
	s := r.embed.Forward(engine.Const(setTensor[T](support)), ep, mode)
	q := s
	if query != support {
		q = r.embed.Forward(engine.Const(setTensor[T](query)), ep, mode)
	}
	fs := s.Shape()[1:]
	classes := engine.SumAxes(engine.Reshape(s, way, shot, fs[0], fs[1], fs[2]), []int{1}, false)
	nq := query.N
	ci, qi := make([]int, nq*way), make([]int, nq*way)
	for i := range ci {
		qi[i], ci[i] = i/way, i%way
	}
	pairs := engine.Concat(1, engine.IndexSelect(classes, 0, ci), engine.IndexSelect(q, 0, qi))
	return engine.Reshape(r.relation.Forward(pairs, rp, mode), nq, way)
}

func (r *relationNet[T]) criterion(scores *engine.Var[T], labels []int, way int) *engine.Var[T] {
	return engine.MSE(scores, engine.Const(engine.OneHot[T](labels, way)))
}
