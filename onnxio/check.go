package onnxio

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Tolerance bounds the difference between a computed and an expected
// element: |got-want| <= ATol + RTol*|want|. NaN must match NaN.
type Tolerance struct {
	RTol, ATol float64
}

// DefaultTolerance is the tolerance used for reference models: rtol 1e-3,
// atol 1e-5.
var DefaultTolerance = Tolerance{RTol: 1e-3, ATol: 1e-5}

// Compare checks got against want: same data type, same dims and every
// element within tol. The error describes the first mismatches.
func Compare(got, want *Tensor, tol Tolerance) error {
	if got.DataType != want.DataType {
		return fmt.Errorf("data type %v, want %v", got.DataType, want.DataType)
	}
	if !equalDims(got.Dims, want.Dims) {
		return fmt.Errorf("dims %v, want %v", got.Dims, want.Dims)
	}
	g, err := got.Float64Values()
	if err != nil {
		return err
	}
	w, err := want.Float64Values()
	if err != nil {
		return err
	}
	var bad []string
	nbad := 0
	for i := range w {
		a, b := g[i], w[i]
		if math.IsNaN(a) || math.IsNaN(b) {
			if math.IsNaN(a) != math.IsNaN(b) {
				nbad++
				if len(bad) < 3 {
					bad = append(bad, fmt.Sprintf("[%d] got %g want %g", i, a, b))
				}
			}
			continue
		}
		if a == b { // also equal infinities
			continue
		}
		if !(math.Abs(a-b) <= tol.ATol+tol.RTol*math.Abs(b)) {
			nbad++
			if len(bad) < 3 {
				bad = append(bad, fmt.Sprintf("[%d] got %g want %g", i, a, b))
			}
		}
	}
	if nbad > 0 {
		return fmt.Errorf("%d of %d elements differ: %s", nbad, len(w), strings.Join(bad, ", "))
	}
	return nil
}

func equalDims(a, b []int64) bool {
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

// CheckCase runs one ONNX backend test case directory (model.onnx plus
// test_data_set_*/input_N.pb and output_N.pb) and compares every output
// with tol. input_N.pb feeds the N-th graph input that is not an
// initializer. The error lists every failing data set and output.
func CheckCase(dir string, tol Tolerance, opts ...Option) error {
	m, err := ReadFile(filepath.Join(dir, "model.onnx"), opts...)
	if err != nil {
		return err
	}
	plan, err := Compile(m, opts...)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	sets, err := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if err != nil {
		return err
	}
	if len(sets) == 0 {
		return fmt.Errorf("%s: no test_data_set_* directories", dir)
	}
	sort.Strings(sets)
	var errs []error
	for _, set := range sets {
		if err := checkDataSet(plan, set, tol, opts); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func checkDataSet(plan *Plan, set string, tol Tolerance, opts []Option) error {
	inputs := make([]*Tensor, len(plan.Inputs()))
	for i := range inputs {
		t, err := ReadTensorFile(filepath.Join(set, fmt.Sprintf("input_%d.pb", i)), opts...)
		if err != nil {
			return err
		}
		inputs[i] = t
	}
	if _, err := os.Stat(filepath.Join(set, fmt.Sprintf("input_%d.pb", len(inputs)))); err == nil {
		return fmt.Errorf("%s: more input files than the model's %d inputs", set, len(inputs))
	}
	outs, err := plan.RunPositional(inputs...)
	if err != nil {
		return fmt.Errorf("%s: %w", set, err)
	}
	var errs []error
	for i, got := range outs {
		want, err := ReadTensorFile(filepath.Join(set, fmt.Sprintf("output_%d.pb", i)), opts...)
		if errors.Is(err, os.ErrNotExist) {
			continue // the case does not check this output
		}
		if err != nil {
			return err
		}
		if err := Compare(got, want, tol); err != nil {
			errs = append(errs, fmt.Errorf("%s: output %d (%s): %w", set, i, plan.Outputs()[i].Name, err))
		}
	}
	return errors.Join(errs...)
}
