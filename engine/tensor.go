package engine

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Float is the set of element types a Tensor can hold.
type Float interface{ ~float32 | ~float64 }

// Tensor is a dense, row-major array with a shape. Ops never modify their
// inputs' data, so tensors may share storage (Reshape does).
type Tensor[T Float] struct {
	shape []int
	data  []T
}

// New returns a zero-filled tensor of the given shape. A tensor with no
// dimensions is a scalar holding one element.
func New[T Float](shape ...int) *Tensor[T] {
	return &Tensor[T]{shape: cloneInts(shape), data: makeData[T](numElements(shape))}
}

// FromSlice wraps data (not copied) as a tensor of the given shape.
// It panics if len(data) does not match the shape.
func FromSlice[T Float](data []T, shape ...int) *Tensor[T] {
	if n := numElements(shape); n != len(data) {
		panic(fmt.Sprintf("engine.FromSlice: %d values for shape %v (%d elements)", len(data), shape, n))
	}
	return &Tensor[T]{shape: cloneInts(shape), data: data}
}

// Scalar returns a tensor of shape [] holding v.
func Scalar[T Float](v T) *Tensor[T] { return &Tensor[T]{data: []T{v}} }

// Full returns a tensor of the given shape with every element set to v.
func Full[T Float](v T, shape ...int) *Tensor[T] {
	t := New[T](shape...)
	if v != 0 {
		for i := range t.data {
			t.data[i] = v
		}
	}
	return t
}

// RandNormal returns a tensor of independent normal samples with mean 0 and
// the given standard deviation, drawn from rng.
func RandNormal[T Float](rng *rand.Rand, std float64, shape ...int) *Tensor[T] {
	t := New[T](shape...)
	for i := range t.data {
		t.data[i] = T(rng.NormFloat64() * std)
	}
	return t
}

// RandUniform returns a tensor of independent samples uniform in [lo, hi).
func RandUniform[T Float](rng *rand.Rand, lo, hi float64, shape ...int) *Tensor[T] {
	t := New[T](shape...)
	for i := range t.data {
		t.data[i] = T(lo + (hi-lo)*rng.Float64())
	}
	return t
}

// Convert returns a copy of t with elements converted to type To.
func Convert[To, From Float](t *Tensor[From]) *Tensor[To] {
	out := New[To](t.shape...)
	for i, v := range t.data {
		out.data[i] = To(v)
	}
	return out
}

// Shape returns the tensor's dimensions. The caller must not modify it.
func (t *Tensor[T]) Shape() []int { return t.shape }

// Data returns the tensor's elements in row-major order. It is the tensor's
// storage, not a copy.
func (t *Tensor[T]) Data() []T { return t.data }

// Len returns the number of elements.
func (t *Tensor[T]) Len() int { return len(t.data) }

// Rank returns the number of dimensions.
func (t *Tensor[T]) Rank() int { return len(t.shape) }

// Dim returns dimension i; negative i counts from the end.
func (t *Tensor[T]) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	return t.shape[i]
}

// Clone returns a deep copy.
func (t *Tensor[T]) Clone() *Tensor[T] {
	return &Tensor[T]{shape: cloneInts(t.shape), data: append([]T(nil), t.data...)}
}

// Reshape returns a tensor with the same data (shared, not copied) and a new
// shape with the same number of elements. One dimension may be -1, meaning
// "whatever is left".
func (t *Tensor[T]) Reshape(shape ...int) *Tensor[T] {
	return &Tensor[T]{shape: resolveShape("Reshape", shape, len(t.data)), data: t.data}
}

// Item returns the single element of a one-element tensor.
func (t *Tensor[T]) Item() T {
	if len(t.data) != 1 {
		panic(fmt.Sprintf("engine.Tensor.Item: tensor of shape %v has %d elements", t.shape, len(t.data)))
	}
	return t.data[0]
}

// String formats small tensors fully and large ones by shape only.
func (t *Tensor[T]) String() string {
	if len(t.data) > 32 {
		return fmt.Sprintf("Tensor%v", t.shape)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Tensor%v%v", t.shape, t.data)
	return b.String()
}

func numElements(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("engine: negative dimension in shape %v", shape))
		}
		n *= d
	}
	return n
}

func cloneInts(s []int) []int { return append([]int{}, s...) }

func sameShape(a, b []int) bool {
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

// resolveShape replaces a single -1 in shape so that it holds n elements.
func resolveShape(op string, shape []int, n int) []int {
	out := cloneInts(shape)
	free, known := -1, 1
	for i, d := range out {
		switch {
		case d == -1 && free < 0:
			free = i
		case d < 0:
			panic(fmt.Sprintf("engine.%s: invalid shape %v", op, shape))
		default:
			known *= d
		}
	}
	if free >= 0 {
		if known == 0 || n%known != 0 {
			panic(fmt.Sprintf("engine.%s: cannot infer -1 in %v for %d elements", op, shape, n))
		}
		out[free] = n / known
		known = n
	}
	if known != n {
		panic(fmt.Sprintf("engine.%s: shape %v does not hold %d elements", op, shape, n))
	}
	return out
}
