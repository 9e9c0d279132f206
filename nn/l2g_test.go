package nn_test

import (
	"math/rand/v2"
	"testing"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/engine/gradcheck"
	"github.com/fewshot-go/fewshot/nn"
)

// task is one few-shot episode: support images (class-major, shot images
// per class) followed by query images (class-major) in one batch.
type task[T engine.Float] struct {
	x                  *engine.Tensor[T]
	way, shot, queries int
	labels             []int // query labels
}

func randomTask[T engine.Float](rng *rand.Rand, way, shot, queries, c, h, w int) task[T] {
	n := way * (shot + queries)
	x := engine.RandNormal[T](rng, 1, n, c, h, w)
	// A class-dependent offset gives the classes something to separate.
	per := c * h * w
	for i := 0; i < n; i++ {
		cls := i / shot
		if i >= way*shot {
			cls = (i - way*shot) / queries
		}
		for j := 0; j < per; j++ {
			x.Data()[i*per+j] += T(0.3 * float64(cls) * float64(j%3))
		}
	}
	labels := make([]int, way*queries)
	for i := range labels {
		labels[i] = i / queries
	}
	return task[T]{x: x, way: way, shot: shot, queries: queries, labels: labels}
}

// protoLoss is the ProtoNet loss of a task under weights params: prototypes
// are class means of the support embeddings, logits the negative squared
// distances of the query embeddings to them.
func protoLoss[T engine.Float](net *nn.Network[T], params []*engine.Var[T], tk task[T], mode nn.Mode) *engine.Var[T] {
	emb := net.Forward(engine.Const(tk.x), params, mode)
	ns := tk.way * tk.shot
	support := engine.Slice(emb, 0, 0, ns)
	query := engine.Slice(emb, 0, ns, emb.Shape()[0])
	protos := engine.MeanAxes(engine.Reshape(support, tk.way, tk.shot, -1), []int{1}, false)
	logits := engine.Neg(engine.PairwiseSqDist(query, protos))
	return engine.CrossEntropy(logits, tk.labels)
}

// l2gObjective is L_j(θ − α∇_θ L_i(θ)): the inner gradient is recorded so
// that differentiating the result with respect to θ goes through it.
func l2gObjective[T engine.Float](net *nn.Network[T], params []*engine.Var[T], ti, tj task[T], alpha T, mode nn.Mode) *engine.Var[T] {
	inner := engine.Grad(protoLoss(net, params, ti, mode), params, true)
	return protoLoss(net, nn.SGDStep(params, inner, alpha), tj, mode)
}

// TestSecondOrderL2GConv4 differentiates the L2G objective of a small Conv-4
// (batch norm in training mode, max-pooling) through the inner gradient and
// compares with central finite differences of the whole objective.
func TestSecondOrderL2GConv4(t *testing.T) {
	net := mustConv4[float64](t, nn.Conv4Config{InChannels: 1, Height: 8, Width: 8, Hidden: 4, Blocks: 2}, 11)
	rng := rand.New(rand.NewPCG(11, 2))
	ti := randomTask[float64](rng, 3, 2, 2, 1, 8, 8)
	tj := randomTask[float64](rng, 3, 2, 2, 1, 8, 8)
	f := func(p []*V) *V { return l2gObjective(net, p, ti, tj, 0.5, nn.TrainFrozenStats) }
	params := make([]*engine.Tensor[float64], len(net.Params()))
	for i, p := range net.Params() {
		params[i] = p.Value()
	}
	coords := -1
	if testing.Short() {
		coords = 10
	}
	if err := gradcheck.First(f, params, gradcheck.Options{MaxCoords: coords}); err != nil {
		t.Fatal(err)
	}
	// The second-order part must matter: the first-order approximation
	// (treating the inner gradient as a constant) gives another gradient.
	vars := make([]*V, len(params))
	for i, p := range params {
		vars[i] = engine.Param(p)
	}
	exact := engine.Grad(f(vars), vars, false)
	inner := engine.DetachAll(engine.Grad(protoLoss(net, vars, ti, nn.TrainFrozenStats), vars, false))
	approx := engine.Grad(protoLoss(net, nn.SGDStep(vars, inner, 0.5), tj, nn.TrainFrozenStats), vars, false)
	var diff, norm float64
	for i := range exact {
		for j, v := range exact[i].Value().Data() {
			d := v - approx[i].Value().Data()[j]
			diff += d * d
			norm += v * v
		}
	}
	if diff < 1e-6*norm {
		t.Fatalf("exact and first-order L2G gradients agree (|diff|² %g, |g|² %g): the test does not see second order", diff, norm)
	}
}
