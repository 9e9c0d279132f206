package nn_test

import (
	"math/rand/v2"
	"testing"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/nn"
)

// benchSizes are the two standard inputs, each with a 5-way 5-shot 15-query
// task: 100 images per batch.
var benchSizes = []struct {
	name    string
	c, h, w int
}{{"84x84x3", 3, 84, 84}, {"28x28x1", 1, 28, 28}}

func benchSetup(b *testing.B, c, h, w int) (*nn.Network[float32], task[float32], task[float32]) {
	net := mustConv4[float32](b, nn.Conv4Config{InChannels: c, Height: h, Width: w}, 1)
	rng := rand.New(rand.NewPCG(2, 3))
	return net, randomTask[float32](rng, 5, 5, 15, c, h, w), randomTask[float32](rng, 5, 5, 15, c, h, w)
}

// BenchmarkConv4Forward embeds one task's 100 images without recording a
// graph.
func BenchmarkConv4Forward(b *testing.B) { benchForward(b, nn.TrainFrozenStats) }

// BenchmarkConv4Eval embeds them in evaluation mode (running statistics),
// as validation and evaluation do.
func BenchmarkConv4Eval(b *testing.B) { benchForward(b, nn.Eval) }

func benchForward(b *testing.B, mode nn.Mode) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			net, tk, _ := benchSetup(b, s.c, s.h, s.w)
			params := engine.DetachAll(net.Params())
			x := engine.Const(tk.x)
			for b.Loop() {
				net.Forward(x, params, mode)
			}
		})
	}
}

// BenchmarkProtoNetStep is one first-order ProtoNet training step on one
// task: forward with a graph, loss and backward.
func BenchmarkProtoNetStep(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			net, tk, _ := benchSetup(b, s.c, s.h, s.w)
			for b.Loop() {
				engine.Grad(protoLoss(net, net.Params(), tk, nn.TrainFrozenStats), net.Params(), false)
			}
		})
	}
}

// BenchmarkL2GTaskPair is the exact second-order gradient of the L2G
// objective L_j(θ − α∇L_i(θ)) for one task pair.
func BenchmarkL2GTaskPair(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			net, ti, tj := benchSetup(b, s.c, s.h, s.w)
			for b.Loop() {
				params := net.Params()
				engine.Grad(l2gObjective(net, params, ti, tj, 0.01, nn.TrainFrozenStats), params, false)
			}
		})
	}
}

// BenchmarkConv4TrainStep is the training step that `fewshot bench --arch
// conv4` times: forward in training mode and the gradient of the summed
// embedding, on a 60-way 5-shot 5-query Omniglot batch (600 images) and on
// a mini-ImageNet batch of 80.
func BenchmarkConv4TrainStep(b *testing.B) {
	for _, s := range []struct {
		name           string
		c, h, w, batch int
	}{{"28x28x1-600", 1, 28, 28, 600}, {"84x84x3-80", 3, 84, 84, 80}} {
		b.Run(s.name, func(b *testing.B) {
			net := mustConv4[float32](b, nn.Conv4Config{InChannels: s.c, Height: s.h, Width: s.w}, 1)
			rng := rand.New(rand.NewPCG(2, 3))
			x := engine.Const(engine.RandNormal[float32](rng, 1, s.batch, s.c, s.h, s.w))
			params := net.Params()
			for b.Loop() {
				engine.Grad(engine.Sum(net.Forward(x, params, nn.Train)), params, false)
			}
		})
	}
}
