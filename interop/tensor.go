package interop

import (
	"fmt"
	"math"
	"slices"

	"github.com/fewshot-go/fewshot/onnxio"
)

// Tensor is a named, dense, row-major float32 tensor: the only element type
// the cross-checks exchange.
type Tensor struct {
	Name string
	Dims []int
	Data []float32
}

// NumElements returns the product of t's dims.
func (t Tensor) NumElements() int {
	n := 1
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// check reports an error when Data does not match Dims.
func (t Tensor) check() error {
	for _, d := range t.Dims {
		if d < 0 {
			return fmt.Errorf("tensor %q: negative dim in %v", t.Name, t.Dims)
		}
	}
	if n := t.NumElements(); n != len(t.Data) {
		return fmt.Errorf("tensor %q: dims %v need %d values, have %d", t.Name, t.Dims, n, len(t.Data))
	}
	return nil
}

// ReadTensorProto reads a serialized onnx.TensorProto file (such as
// test_data_set_0/input_0.pb) holding float32 values.
func ReadTensorProto(path string) (Tensor, error) {
	pt, err := onnxio.ReadTensorFile(path)
	if err != nil {
		return Tensor{}, err
	}
	return fromProto(pt, path)
}

// fromProto converts an onnxio tensor to a Tensor; where names the tensor's
// origin in errors.
func fromProto(pt *onnxio.Tensor, where string) (Tensor, error) {
	data, err := pt.Float32s()
	if err != nil {
		return Tensor{}, fmt.Errorf("%s: tensor %q: %w", where, pt.Name, err)
	}
	dims := make([]int, len(pt.Dims))
	for i, d := range pt.Dims {
		dims[i] = int(d)
	}
	t := Tensor{Name: pt.Name, Dims: dims, Data: data}
	if err := t.check(); err != nil {
		return Tensor{}, fmt.Errorf("%s: %w", where, err)
	}
	return t, nil
}

// Tolerance bounds the difference allowed between two outputs: element i
// passes when |got-want| <= Abs + Rel*|want|.
type Tolerance struct {
	Abs, Rel float64
}

// DefaultTolerance is the bound the cross-checks use: float32 results of
// different kernels (summation order, fused multiply-add) agree to well
// within it on models of the SDK's size.
var DefaultTolerance = Tolerance{Abs: 1e-4, Rel: 1e-5}

// Diff summarises how far one output is from another.
type Diff struct {
	// MaxAbs is the largest |got-want| over all elements.
	MaxAbs float64
	// At is the flat index where MaxAbs occurs.
	At int
	// Want and Got are the values at At.
	Want, Got float32
}

// Compare checks that got matches want output by output: same count, same
// dims and every element within tol. It returns the per-output differences
// (as far as they could be measured) and an error naming the first output
// that fails. NaN in either tensor fails unless both hold NaN at that place.
func Compare(want, got []Tensor, tol Tolerance) ([]Diff, error) {
	if len(want) != len(got) {
		return nil, fmt.Errorf("got %d outputs, want %d", len(got), len(want))
	}
	diffs := make([]Diff, len(want))
	var firstErr error
	for k := range want {
		w, g := want[k], got[k]
		if !slices.Equal(w.Dims, g.Dims) {
			if firstErr == nil {
				firstErr = fmt.Errorf("output %d (%q): dims %v, want %v", k, w.Name, g.Dims, w.Dims)
			}
			continue
		}
		if len(w.Data) != len(g.Data) {
			if firstErr == nil {
				firstErr = fmt.Errorf("output %d (%q): %d values, want %d", k, w.Name, len(g.Data), len(w.Data))
			}
			continue
		}
		d := Diff{At: -1}
		bad := -1
		for i := range w.Data {
			a, b := float64(w.Data[i]), float64(g.Data[i])
			if math.IsNaN(a) || math.IsNaN(b) {
				if !(math.IsNaN(a) && math.IsNaN(b)) && bad < 0 {
					bad = i
				}
				continue
			}
			e := math.Abs(a - b)
			if e > d.MaxAbs || d.At < 0 {
				d = Diff{MaxAbs: e, At: i, Want: w.Data[i], Got: g.Data[i]}
			}
			if e > tol.Abs+tol.Rel*math.Abs(a) && bad < 0 {
				bad = i
			}
		}
		diffs[k] = d
		if bad >= 0 && firstErr == nil {
			firstErr = fmt.Errorf("output %d (%q) element %d: got %g, want %g (max |diff| %.3g at %d; tolerance abs %g rel %g)",
				k, w.Name, bad, g.Data[bad], w.Data[bad], d.MaxAbs, d.At, tol.Abs, tol.Rel)
		}
	}
	return diffs, firstErr
}
