package peers

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Conv4Config sizes a Conv-4 network: Blocks × [conv 3×3 with Channels
// filters and padding 1, batch normalization, ReLU, 2×2 max-pool].
type Conv4Config struct {
	Batch, InChannels, Height, Width int
	Channels, Blocks                 int
	// BatchNorm adds gorgonia's BatchNorm after each convolution. Without it
	// the convolution carries a bias instead.
	BatchNorm bool
	// Training builds the loss, its gradients and an SGD solver; otherwise
	// batch normalization uses its running statistics (inference form).
	Training bool
	// LearnRate is the SGD step size of a training network; 0 means 1e-3.
	LearnRate float64
}

// StandardConv4 is the SDK's mini-ImageNet Conv-4: 4 blocks of 64
// channels on 84×84 RGB images, batch 80 (a 5-way episode with 1 support
// and 15 queries per class).
func StandardConv4(training bool) Conv4Config {
	return Conv4Config{Batch: 80, InChannels: 3, Height: 84, Width: 84, Channels: 64, Blocks: 4,
		BatchNorm: true, Training: training}
}

// Conv4 is a Conv-4 network built as a gorgonia expression graph, with a
// tape machine to run it.
type Conv4 struct {
	cfg    Conv4Config
	g      *gorgonia.ExprGraph
	x      *gorgonia.Node
	out    *gorgonia.Node
	loss   *gorgonia.Node
	params gorgonia.Nodes
	bnOps  []*gorgonia.BatchNormOp
	vm     gorgonia.VM
	solver gorgonia.Solver
}

// NewConv4 builds the network with He-normal convolution weights drawn from
// a generator seeded with seed, and an input batch of values in [0, 1).
func NewConv4(cfg Conv4Config, seed uint64) (*Conv4, error) {
	rng := rand.New(rand.NewPCG(seed, 1))
	g := gorgonia.NewGraph()
	n := &Conv4{cfg: cfg, g: g}
	xs := randTensor(rng, []int{cfg.Batch, cfg.InChannels, cfg.Height, cfg.Width}, 0, 1)
	n.x = gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(xs.Shape()...), gorgonia.WithName("x"), gorgonia.WithValue(xs))
	h := n.x
	in := cfg.InChannels
	for b := 0; b < cfg.Blocks; b++ {
		std := math.Sqrt(2 / float64(in*9))
		w := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(cfg.Channels, in, 3, 3),
			gorgonia.WithName(fmt.Sprintf("w%d", b)),
			gorgonia.WithValue(randNormal(rng, []int{cfg.Channels, in, 3, 3}, std)))
		n.params = append(n.params, w)
		var err error
		if h, err = gorgonia.Conv2d(h, w, tensor.Shape{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1}); err != nil {
			return nil, fmt.Errorf("block %d conv: %w", b, err)
		}
		if cfg.BatchNorm {
			scale := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(1, cfg.Channels, 1, 1),
				gorgonia.WithName(fmt.Sprintf("gamma%d", b)), gorgonia.WithInit(gorgonia.Ones()))
			shift := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(1, cfg.Channels, 1, 1),
				gorgonia.WithName(fmt.Sprintf("beta%d", b)), gorgonia.WithInit(gorgonia.Zeroes()))
			var op *gorgonia.BatchNormOp
			if h, _, _, op, err = gorgonia.BatchNorm(h, scale, shift, 0.9, 1e-5); err != nil {
				return nil, fmt.Errorf("block %d batchnorm: %w", b, err)
			}
			n.bnOps = append(n.bnOps, op)
			n.params = append(n.params, scale, shift)
		} else {
			bias := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(1, cfg.Channels, 1, 1),
				gorgonia.WithName(fmt.Sprintf("bias%d", b)), gorgonia.WithInit(gorgonia.Zeroes()))
			if h, err = gorgonia.BroadcastAdd(h, bias, nil, []byte{0, 2, 3}); err != nil {
				return nil, fmt.Errorf("block %d bias: %w", b, err)
			}
			n.params = append(n.params, bias)
		}
		if h, err = gorgonia.Rectify(h); err != nil {
			return nil, fmt.Errorf("block %d relu: %w", b, err)
		}
		if h, err = gorgonia.MaxPool2D(h, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2}); err != nil {
			return nil, fmt.Errorf("block %d maxpool: %w", b, err)
		}
		in = cfg.Channels
	}
	s := h.Shape()
	var err error
	if n.out, err = gorgonia.Reshape(h, tensor.Shape{s[0], s[1] * s[2] * s[3]}); err != nil {
		return nil, fmt.Errorf("flatten: %w", err)
	}
	if cfg.Training {
		// A simple scalar loss (mean squared embedding) exercises the same
		// backward pass as any loss on the embeddings would.
		sq, err := gorgonia.Square(n.out)
		if err != nil {
			return nil, err
		}
		if n.loss, err = gorgonia.Mean(sq); err != nil {
			return nil, err
		}
		if _, err := gorgonia.Grad(n.loss, n.params...); err != nil {
			return nil, fmt.Errorf("gradient: %w", err)
		}
		n.vm = gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(n.params...))
		lr := cfg.LearnRate
		if lr == 0 {
			lr = 1e-3
		}
		n.solver = gorgonia.NewVanillaSolver(gorgonia.WithLearnRate(lr))
	} else {
		// The tape machine sets every BatchNorm's training flag from its
		// own mode, so inference needs EvalMode; the running statistics
		// then start as mean 0 and variance 1, as after training from
		// scratch.
		n.vm = gorgonia.NewTapeMachine(g, gorgonia.EvalMode())
		for _, op := range n.bnOps {
			mean := tensor.New(tensor.WithShape(cfg.Channels), tensor.WithBacking(make([]float32, cfg.Channels)))
			ones := make([]float32, cfg.Channels)
			for i := range ones {
				ones[i] = 1
			}
			if err := op.SetStats(mean, tensor.New(tensor.WithShape(cfg.Channels), tensor.WithBacking(ones))); err != nil {
				return nil, err
			}
		}
	}
	return n, nil
}

// OutputShape returns the embedding's shape: batch × features.
func (n *Conv4) OutputShape() tensor.Shape { return n.out.Shape() }

// Step runs the network once: the forward pass, and for a training network
// also the backward pass and an SGD update. It returns the loss (training)
// or the embeddings' mean (inference), so callers can check the result.
func (n *Conv4) Step() (float64, error) {
	n.vm.Reset()
	if err := n.vm.RunAll(); err != nil {
		return 0, err
	}
	if n.cfg.Training {
		if err := n.solver.Step(gorgonia.NodesToValueGrads(n.params)); err != nil {
			return 0, fmt.Errorf("solver: %w", err)
		}
		return float64(n.loss.Value().Data().(float32)), nil
	}
	var sum float64
	for _, v := range n.out.Value().Data().([]float32) {
		sum += float64(v)
	}
	return sum / float64(n.out.Shape().TotalSize()), nil
}

// Output returns a copy of the embeddings computed by the last Step.
func (n *Conv4) Output() []float32 {
	return append([]float32(nil), n.out.Value().Data().([]float32)...)
}

// Close releases the tape machine.
func (n *Conv4) Close() error { return n.vm.Close() }

func randTensor(rng *rand.Rand, shape []int, lo, hi float64) *tensor.Dense {
	t := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape...))
	for i, d := 0, t.Data().([]float32); i < len(d); i++ {
		d[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return t
}

func randNormal(rng *rand.Rand, shape []int, std float64) *tensor.Dense {
	t := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape...))
	for i, d := 0, t.Data().([]float32); i < len(d); i++ {
		d[i] = float32(std * rng.NormFloat64())
	}
	return t
}
