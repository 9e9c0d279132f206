package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/fewshot-go/fewshot/engine"
)

// Network is a sequence of layers with its own weights. Its forward pass
// takes the weights as an argument, so it can run with substituted ones (see
// the package documentation).
type Network[T engine.Float] struct {
	layers   []Layer[T]
	inShape  []int
	outShape []int
	specs    []ParamSpec
	offsets  []int // layer i's parameters are params[offsets[i]:offsets[i+1]]
	params   []*engine.Var[T]
}

// NewNetwork chains layers for examples of shape inShape (without the batch
// dimension) and initialises their parameters from rng. It returns an error
// if a layer cannot take its predecessor's output.
func NewNetwork[T engine.Float](inShape []int, rng *rand.Rand, layers ...Layer[T]) (*Network[T], error) {
	n := &Network[T]{layers: layers, inShape: append([]int(nil), inShape...), offsets: []int{0}}
	var err error
	if n.outShape, err = chainShape(n.inShape, layers); err != nil {
		return nil, err
	}
	for _, l := range layers {
		n.specs = append(n.specs, l.Specs()...)
		n.offsets = append(n.offsets, len(n.specs))
	}
	for _, s := range n.specs {
		n.params = append(n.params, engine.Param(NewTensor[T](s, rng)).SetName(s.Name))
	}
	return n, nil
}

// chainShape returns the example shape after layers, or the first layer's
// error.
func chainShape[T engine.Float](in []int, layers []Layer[T]) ([]int, error) {
	shape := in
	for _, l := range layers {
		var err error
		if shape, err = l.OutShape(shape); err != nil {
			return nil, err
		}
	}
	return shape, nil
}

// Layers returns the network's layers in order. The caller must not modify
// the slice.
func (n *Network[T]) Layers() []Layer[T] { return n.layers }

// InShape returns the shape of one input example.
func (n *Network[T]) InShape() []int { return n.inShape }

// OutShape returns the shape of one output example.
func (n *Network[T]) OutShape() []int { return n.outShape }

// OutSize returns the number of elements of one output example (the
// embedding dimension of a backbone ending with Flatten).
func (n *Network[T]) OutSize() int {
	s := 1
	for _, d := range n.outShape {
		s *= d
	}
	return s
}

// Specs describes the parameters in the order of [Network.Params].
func (n *Network[T]) Specs() []ParamSpec { return n.specs }

// Params returns the current weights as parameter variables. Updating their
// tensors in place (as [Adam] does) changes the network.
func (n *Network[T]) Params() []*engine.Var[T] { return n.params }

// NumParams returns the total number of scalar parameters.
func (n *Network[T]) NumParams() int {
	c := 0
	for _, s := range n.specs {
		c += s.Numel()
	}
	return c
}

// SetParams copies values into the network's weights; values must match
// [Network.Specs] in number and shape.
func (n *Network[T]) SetParams(values []*engine.Tensor[T]) error {
	if len(values) != len(n.params) {
		return fmt.Errorf("nn: SetParams: %d tensors for %d parameters", len(values), len(n.params))
	}
	for i, v := range values {
		if !equalInts(v.Shape(), n.specs[i].Shape) {
			return fmt.Errorf("nn: SetParams: parameter %q has shape %v, got %v", n.specs[i].Name, n.specs[i].Shape, v.Shape())
		}
	}
	for i, v := range values {
		copy(n.params[i].Value().Data(), v.Data())
	}
	return nil
}

// State returns the model state that is not a parameter: the running mean
// and variance of each batch-normalisation layer, in layer order. The
// tensors are the network's own, so writing to them restores a checkpoint.
func (n *Network[T]) State() []*engine.Tensor[T] {
	var s []*engine.Tensor[T]
	for _, l := range n.layers {
		if bn, ok := l.(*BatchNorm2D[T]); ok {
			s = append(s, bn.State.RunningMean, bn.State.RunningVar)
		}
	}
	return s
}

// Forward runs the network on the batch x ([N, inShape...]) with the given
// weights, which must match [Network.Specs] in number and shape: the
// network's own [Network.Params] or any substitute. It panics otherwise, as
// that is a programming error.
//
// In [Eval] mode on constant weights and input, a [Conv2D] followed by
// [BatchNorm2D], [ReLU] and a 2×2 [MaxPool2D] runs as one pass of the
// inference kernel (engine.ConvBatchNormReLUMaxPool2DEval) where it applies;
// in the training modes, as engine.ConvBatchNormReLUMaxPool2D, which takes
// the batch statistics while the convolution's output is in cache.
// A [BatchNorm2D] layer followed by [ReLU] (and then [MaxPool2D]) runs as
// one engine op, engine.BatchNormReLU2D or engine.BatchNormReLUMaxPool2D:
// the same values and derivatives, with far less memory held by a
// recorded graph.
func (n *Network[T]) Forward(x *engine.Var[T], params []*engine.Var[T], mode Mode) *engine.Var[T] {
	if len(params) != len(n.specs) {
		panic(fmt.Sprintf("nn.Network.Forward: %d parameters, the network has %d", len(params), len(n.specs)))
	}
	for i, p := range params {
		if !equalInts(p.Shape(), n.specs[i].Shape) {
			panic(fmt.Sprintf("nn.Network.Forward: parameter %q has shape %v, want %v", n.specs[i].Name, p.Shape(), n.specs[i].Shape))
		}
	}
	if xs := x.Shape(); len(xs) != len(n.inShape)+1 || !equalInts(xs[1:], n.inShape) {
		panic(fmt.Sprintf("nn.Network.Forward: input of shape %v, want [N %v]", xs, n.inShape))
	}
	for i := 0; i < len(n.layers); i++ {
		ps := params[n.offsets[i]:n.offsets[i+1]]
		if conv, ok := n.layers[i].(*Conv2D[T]); ok {
			cps := params[n.offsets[i]:n.offsets[min(i+2, len(n.layers))]]
			var y *engine.Var[T]
			used := 0
			if mode == Eval {
				y, used = conv.forwardFusedEval(x, cps, n.layers[i+1:])
			} else {
				y, used = conv.forwardFusedTrain(x, cps, mode, n.layers[i+1:])
			}
			if used > 0 {
				x, i = y, i+used
				continue
			}
		}
		if bn, ok := n.layers[i].(*BatchNorm2D[T]); ok {
			if y, used := bn.forwardFused(x, ps, mode, n.layers[i+1:]); used > 0 {
				x, i = y, i+used
				continue
			}
		}
		x = n.layers[i].Forward(x, ps, mode)
	}
	return x
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
