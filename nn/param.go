package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fewshot-go/fewshot/engine"
)

// Mode selects training or inference behaviour of a forward pass; it matters
// for batch normalisation (see the package documentation).
type Mode int

const (
	// Train normalises with batch statistics and updates running statistics.
	Train Mode = iota
	// TrainFrozenStats normalises with batch statistics and leaves the
	// running statistics unchanged.
	TrainFrozenStats
	// Eval normalises with the running statistics.
	Eval
)

// String returns the mode's name.
func (m Mode) String() string {
	switch m {
	case Train:
		return "Train"
	case TrainFrozenStats:
		return "TrainFrozenStats"
	case Eval:
		return "Eval"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// training reports whether batch normalisation uses batch statistics.
func (m Mode) training() bool { return m != Eval }

// InitKind names a way of drawing a parameter's initial values.
type InitKind int

const (
	// InitZeros fills with 0.
	InitZeros InitKind = iota
	// InitConst fills with Init.Value.
	InitConst
	// InitNormal draws from N(0, Init.Value²).
	InitNormal
	// InitUniform draws from U(−Init.Value, Init.Value).
	InitUniform
	// InitHeNormal draws from N(0, 2/fanIn), He et al. (2015) for layers
	// followed by ReLU; fanIn is the product of all dimensions but the first
	// (input channels × kernel area for a [K,C,R,S] filter).
	InitHeNormal
	// InitHeNormalFanOut draws from N(0, 2/fanOut) with fanOut = K·R·S, the
	// variant the original Relation Network code used.
	InitHeNormalFanOut
)

// Init describes how a parameter is initialised.
type Init struct {
	Kind  InitKind
	Value float64 // the constant, standard deviation or bound, by Kind
}

// ParamSpec describes one parameter of a network: a name for checkpoints and
// error messages, a shape and an initialisation.
type ParamSpec struct {
	Name  string
	Shape []int
	Init  Init
}

// Numel returns the number of elements of the parameter.
func (s ParamSpec) Numel() int {
	n := 1
	for _, d := range s.Shape {
		n *= d
	}
	return n
}

// NewTensor returns a tensor of the spec's shape initialised as the spec
// says, drawing random values from rng.
func NewTensor[T engine.Float](s ParamSpec, rng *rand.Rand) *engine.Tensor[T] {
	switch s.Init.Kind {
	case InitZeros:
		return engine.New[T](s.Shape...)
	case InitConst:
		return engine.Full(T(s.Init.Value), s.Shape...)
	case InitNormal:
		return engine.RandNormal[T](rng, s.Init.Value, s.Shape...)
	case InitUniform:
		return engine.RandUniform[T](rng, -s.Init.Value, s.Init.Value, s.Shape...)
	case InitHeNormal, InitHeNormalFanOut:
		fan := s.Numel()
		if len(s.Shape) > 0 && s.Shape[0] > 0 {
			fan /= s.Shape[0] // fan-in: all dimensions but the output one
		}
		if s.Init.Kind == InitHeNormalFanOut && len(s.Shape) > 1 && s.Shape[1] > 0 {
			fan = s.Numel() / s.Shape[1]
		}
		return engine.RandNormal[T](rng, math.Sqrt(2/float64(max(fan, 1))), s.Shape...)
	}
	panic(fmt.Sprintf("nn.NewTensor: parameter %q has unknown init kind %d", s.Name, s.Init.Kind))
}
