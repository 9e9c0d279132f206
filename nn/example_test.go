package nn_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/nn"
)

func ExampleNewConv4() {
	rng := rand.New(rand.NewPCG(1, 2))
	net, err := nn.NewConv4[float32](nn.Conv4Config{InChannels: 3, Height: 84, Width: 84}, rng)
	if err != nil {
		panic(err)
	}
	fmt.Println("embedding size:", net.OutSize())
	fmt.Println("parameters:", net.NumParams())

	// Embed two images without building a graph: Eval mode and constant
	// inputs.
	images := engine.Const(engine.New[float32](2, 3, 84, 84))
	emb := net.Forward(images, engine.DetachAll(net.Params()), nn.Eval)
	fmt.Println("embeddings:", emb.Shape(), "tracked:", emb.Tracked())
	// Output:
	// embedding size: 1600
	// parameters: 113088
	// embeddings: [2 1600] tracked: false
}

func ExampleSGDStep() {
	rng := rand.New(rand.NewPCG(3, 4))
	net, err := nn.NewMLP[float64](rng, 4, 8, 3)
	if err != nil {
		panic(err)
	}
	x := engine.Const(engine.RandNormal[float64](rng, 1, 6, 4))
	labels := []int{0, 1, 2, 0, 1, 2}
	loss := func(params []*engine.Var[float64]) *engine.Var[float64] {
		return engine.CrossEntropy(net.Forward(x, params, nn.Train), labels)
	}

	// Inner step with a recorded gradient: the adapted weights stay
	// differentiable functions of the network's own.
	theta := net.Params()
	grads := engine.Grad(loss(theta), theta, true)
	adapted := nn.SGDStep(theta, grads, 0.5)
	before, after := loss(theta).Item(), loss(adapted).Item()
	fmt.Println("loss decreased:", after < before)

	// The outer gradient flows through the inner step to θ.
	outer := engine.Grad(loss(adapted), theta, false)
	fmt.Println("outer gradients:", len(outer), "first shape:", outer[0].Shape())
	// Output:
	// loss decreased: true
	// outer gradients: 4 first shape: [8 4]
}
