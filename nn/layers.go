package nn

import (
	"fmt"
	"math"

	"github.com/fewshot-go/fewshot/engine"
)

// Layer is one stage of a [Network]. Shapes passed to OutShape describe one
// example (without the batch dimension); Forward works on a batch.
type Layer[T engine.Float] interface {
	// Specs lists the layer's parameters in the order Forward takes them.
	Specs() []ParamSpec
	// OutShape returns the shape of one output example for an input example
	// of shape in, or an error saying why the layer cannot take it.
	OutShape(in []int) ([]int, error)
	// Forward applies the layer to the batch x with params, which hold one
	// variable per spec, of the spec's shape.
	Forward(x *engine.Var[T], params []*engine.Var[T], mode Mode) *engine.Var[T]
}

// Conv2D is a 2-D convolution layer with weights [Out, In/Groups, KH, KW] and,
// if Bias, a bias [Out].
type Conv2D[T engine.Float] struct {
	Name       string
	In, Out    int
	KH, KW     int
	Geometry   engine.ConvParams
	Bias       bool
	WeightInit Init // the bias, if any, starts at zero
}

// NewConv2D returns a k×k convolution from in to out channels with stride 1,
// padding pad on every side and a bias, its weights He-normal initialised
// (fan-in mode) and its bias zero.
func NewConv2D[T engine.Float](name string, in, out, k, pad int) *Conv2D[T] {
	return &Conv2D[T]{Name: name, In: in, Out: out, KH: k, KW: k, Geometry: engine.ConvSame(1, pad), Bias: true,
		WeightInit: Init{Kind: InitHeNormal}}
}

// Specs returns the weight and, if present, the bias.
func (l *Conv2D[T]) Specs() []ParamSpec {
	s := []ParamSpec{{Name: l.Name + ".weight", Shape: []int{l.Out, l.In / max(l.Geometry.Groups, 1), l.KH, l.KW}, Init: l.WeightInit}}
	if l.Bias {
		s = append(s, ParamSpec{Name: l.Name + ".bias", Shape: []int{l.Out}, Init: Init{Kind: InitZeros}})
	}
	return s
}

// OutShape maps [In, H, W] to [Out, OH, OW].
func (l *Conv2D[T]) OutShape(in []int) ([]int, error) {
	if len(in) != 3 || in[0] != l.In {
		return nil, fmt.Errorf("nn: conv %q takes [%d, H, W] inputs, got %v", l.Name, l.In, in)
	}
	oh, ow, err := l.Geometry.OutputSize(in[0], in[1], in[2], l.Out, l.KH, l.KW)
	if err != nil {
		return nil, fmt.Errorf("nn: conv %q on input %v: %w", l.Name, in, err)
	}
	return []int{l.Out, oh, ow}, nil
}

// Forward convolves x with params[0] (and adds params[1]).
func (l *Conv2D[T]) Forward(x *engine.Var[T], params []*engine.Var[T], _ Mode) *engine.Var[T] {
	var b *engine.Var[T]
	if l.Bias {
		b = params[1]
	}
	return engine.Conv2D(x, params[0], b, l.Geometry)
}

// BatchNorm2D normalises each channel (see engine.BatchNorm2D) with a scale
// gamma (initially 1) and shift beta (initially 0) as parameters and the
// running statistics in State.
type BatchNorm2D[T engine.Float] struct {
	Name     string
	Channels int
	State    *engine.BNState[T]
}

// NewBatchNorm2D returns a batch-normalisation layer with PyTorch's defaults
// (momentum 0.1, eps 1e-5).
func NewBatchNorm2D[T engine.Float](name string, channels int) *BatchNorm2D[T] {
	return &BatchNorm2D[T]{Name: name, Channels: channels, State: engine.NewBNState[T](channels)}
}

// Specs returns gamma and beta.
func (l *BatchNorm2D[T]) Specs() []ParamSpec {
	return []ParamSpec{
		{Name: l.Name + ".gamma", Shape: []int{l.Channels}, Init: Init{Kind: InitConst, Value: 1}},
		{Name: l.Name + ".beta", Shape: []int{l.Channels}, Init: Init{Kind: InitZeros}},
	}
}

// OutShape returns in, which must be [Channels, H, W].
func (l *BatchNorm2D[T]) OutShape(in []int) ([]int, error) {
	if len(in) != 3 || in[0] != l.Channels {
		return nil, fmt.Errorf("nn: batch norm %q takes [%d, H, W] inputs, got %v", l.Name, l.Channels, in)
	}
	return in, nil
}

// Forward normalises x; see [Mode] for the statistics used.
func (l *BatchNorm2D[T]) Forward(x *engine.Var[T], params []*engine.Var[T], mode Mode) *engine.Var[T] {
	return engine.BatchNorm2D(x, params[0], params[1], l.modeState(mode), mode.training())
}

// forwardFused runs the layer together with the ReLU and then max-pool
// layers that follow it in next, if they do, as one engine op, and returns
// how many of next it ran (0: none, and y is nil). A recorded graph then
// keeps neither the normalised nor the rectified values, nor, in its
// backward pass, their gradients (see engine.BatchNormReLUMaxPool2D), which
// is most of the memory of a second-order training step.
func (l *BatchNorm2D[T]) forwardFused(x *engine.Var[T], params []*engine.Var[T], mode Mode, next []Layer[T]) (y *engine.Var[T], used int) {
	if len(next) == 0 {
		return nil, 0
	}
	if _, ok := next[0].(ReLU[T]); !ok {
		return nil, 0
	}
	st := l.modeState(mode)
	if len(next) > 1 {
		if p, ok := next[1].(MaxPool2D[T]); ok {
			return engine.BatchNormReLUMaxPool2D(x, params[0], params[1], st, mode.training(), p.Window), 2
		}
	}
	return engine.BatchNormReLU2D(x, params[0], params[1], st, mode.training()), 1
}

// forwardFusedEval runs the convolution with the batch norm, ReLU and 2×2
// max-pool layers that follow it in next, if they do and the engine's fused
// evaluation op applies, and returns how many of next it ran (0: none, and
// y is nil). params are the convolution's parameters followed by the batch
// norm's.
func (l *Conv2D[T]) forwardFusedEval(x *engine.Var[T], params []*engine.Var[T], next []Layer[T]) (y *engine.Var[T], used int) {
	bn, pool, b, ok := l.bnPoolNext(params, next)
	if !ok {
		return nil, 0
	}
	nc := len(l.Specs())
	y, ok = engine.ConvBatchNormReLUMaxPool2DEval(x, params[0], b, params[nc], params[nc+1], bn.State, l.Geometry, pool.Window)
	if !ok {
		return nil, 0
	}
	return y, 3
}

// forwardFusedTrain runs the convolution with the batch norm, ReLU and
// max-pool layers that follow it in next, if they do, as
// engine.ConvBatchNormReLUMaxPool2D in a training mode, and returns how
// many of next it ran (0: none, and y is nil). params are as for
// forwardFusedEval.
func (l *Conv2D[T]) forwardFusedTrain(x *engine.Var[T], params []*engine.Var[T], mode Mode, next []Layer[T]) (y *engine.Var[T], used int) {
	bn, pool, b, ok := l.bnPoolNext(params, next)
	if !ok || !mode.training() {
		return nil, 0
	}
	nc := len(l.Specs())
	return engine.ConvBatchNormReLUMaxPool2D(x, params[0], b, params[nc], params[nc+1], bn.modeState(mode), l.Geometry, pool.Window), 3
}

// bnPoolNext reports whether next starts with batch norm, ReLU and max
// pooling, returns the first and last of them, and the convolution's bias
// from params (nil without one).
func (l *Conv2D[T]) bnPoolNext(params []*engine.Var[T], next []Layer[T]) (bn *BatchNorm2D[T], pool MaxPool2D[T], b *engine.Var[T], ok bool) {
	if len(next) < 3 {
		return nil, pool, nil, false
	}
	bn, isBN := next[0].(*BatchNorm2D[T])
	_, isReLU := next[1].(ReLU[T])
	pool, isPool := next[2].(MaxPool2D[T])
	if !isBN || !isReLU || !isPool {
		return nil, pool, nil, false
	}
	if l.Bias {
		b = params[1]
	}
	return bn, pool, b, true
}

// modeState returns the statistics state to normalise with in mode.
func (l *BatchNorm2D[T]) modeState(mode Mode) *engine.BNState[T] {
	st := l.State
	if mode == TrainFrozenStats {
		// Batch statistics without an update: BatchNorm2D updates only
		// the state it is given, and needs only the eps from it.
		st = &engine.BNState[T]{RunningMean: st.RunningMean, RunningVar: st.RunningVar, Eps: st.Eps}
	}
	return st
}

// ReLU is the rectifier max(x, 0).
type ReLU[T engine.Float] struct{}

// Specs returns nil: ReLU has no parameters.
func (ReLU[T]) Specs() []ParamSpec { return nil }

// OutShape returns in.
func (ReLU[T]) OutShape(in []int) ([]int, error) { return in, nil }

// Forward applies max(x, 0).
func (ReLU[T]) Forward(x *engine.Var[T], _ []*engine.Var[T], _ Mode) *engine.Var[T] {
	return engine.ReLU(x)
}

// Sigmoid is the logistic function 1/(1+e^−x).
type Sigmoid[T engine.Float] struct{}

// Specs returns nil: Sigmoid has no parameters.
func (Sigmoid[T]) Specs() []ParamSpec { return nil }

// OutShape returns in.
func (Sigmoid[T]) OutShape(in []int) ([]int, error) { return in, nil }

// Forward applies the logistic function.
func (Sigmoid[T]) Forward(x *engine.Var[T], _ []*engine.Var[T], _ Mode) *engine.Var[T] {
	return engine.Sigmoid(x)
}

// MaxPool2D is max pooling with the given window.
type MaxPool2D[T engine.Float] struct {
	Window engine.PoolParams
}

// Specs returns nil: pooling has no parameters.
func (MaxPool2D[T]) Specs() []ParamSpec { return nil }

// OutShape maps [C, H, W] to [C, OH, OW].
func (l MaxPool2D[T]) OutShape(in []int) ([]int, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("nn: max pool takes [C, H, W] inputs, got %v", in)
	}
	oh, ow, err := l.Window.OutputSize(in[1], in[2])
	if err != nil {
		return nil, fmt.Errorf("nn: max pool on input %v: %w", in, err)
	}
	return []int{in[0], oh, ow}, nil
}

// Forward pools x.
func (l MaxPool2D[T]) Forward(x *engine.Var[T], _ []*engine.Var[T], _ Mode) *engine.Var[T] {
	return engine.MaxPool2D(x, l.Window)
}

// Flatten reshapes each example to a vector.
type Flatten[T engine.Float] struct{}

// Specs returns nil: Flatten has no parameters.
func (Flatten[T]) Specs() []ParamSpec { return nil }

// OutShape returns the number of elements of in as a one-element shape.
func (Flatten[T]) OutShape(in []int) ([]int, error) {
	n := 1
	for _, d := range in {
		n *= d
	}
	return []int{n}, nil
}

// Forward reshapes x to [N, rest].
func (Flatten[T]) Forward(x *engine.Var[T], _ []*engine.Var[T], _ Mode) *engine.Var[T] {
	return engine.Flatten(x, 1)
}

// Linear is a fully connected layer y = x·Wᵀ + b with W of shape [Out, In].
type Linear[T engine.Float] struct {
	Name                 string
	In, Out              int
	Bias                 bool
	WeightInit, BiasInit Init
}

// NewLinear returns a fully connected layer with a bias, initialised like
// PyTorch's default: weights and bias uniform in ±1/√In.
func NewLinear[T engine.Float](name string, in, out int) *Linear[T] {
	bound := 1 / math.Sqrt(float64(max(in, 1)))
	u := Init{Kind: InitUniform, Value: bound}
	return &Linear[T]{Name: name, In: in, Out: out, Bias: true, WeightInit: u, BiasInit: u}
}

// Specs returns the weight and, if present, the bias.
func (l *Linear[T]) Specs() []ParamSpec {
	s := []ParamSpec{{Name: l.Name + ".weight", Shape: []int{l.Out, l.In}, Init: l.WeightInit}}
	if l.Bias {
		s = append(s, ParamSpec{Name: l.Name + ".bias", Shape: []int{l.Out}, Init: l.BiasInit})
	}
	return s
}

// OutShape maps [In] to [Out].
func (l *Linear[T]) OutShape(in []int) ([]int, error) {
	if len(in) != 1 || in[0] != l.In {
		return nil, fmt.Errorf("nn: linear %q takes [%d] inputs, got %v", l.Name, l.In, in)
	}
	return []int{l.Out}, nil
}

// Forward applies the affine map to x of shape [N, In].
func (l *Linear[T]) Forward(x *engine.Var[T], params []*engine.Var[T], _ Mode) *engine.Var[T] {
	var b *engine.Var[T]
	if l.Bias {
		b = params[1]
	}
	return engine.Linear(x, params[0], b)
}
