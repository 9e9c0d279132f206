package interop

import (
	"errors"
	"fmt"
	"strings"
)

// Runner runs an ONNX model in one implementation.
type Runner interface {
	// Name identifies the implementation in reports, such as "onnxruntime".
	Name() string
	// Run executes the model file at modelPath on inputs, given in the
	// order of [ModelInputs], and returns the graph outputs in graph order.
	Run(modelPath string, inputs []Tensor) ([]Tensor, error)
}

// Result is what one Runner produced in a [CrossCheck].
type Result struct {
	Runner  string
	Outputs []Tensor
	// Diffs holds the per-output differences from the reference runner
	// (nil for the reference itself and for runners that failed).
	Diffs []Diff
	// Err is the runner's error, or the comparison's.
	Err error
}

// CrossCheck runs the model at modelPath in every runner and compares each
// runner's outputs with those of the first (the reference). It returns one
// Result per runner and an error joining every failure, or nil when all
// runners agree within tol. When the reference itself fails, no comparison
// is made.
func CrossCheck(modelPath string, inputs []Tensor, tol Tolerance, runners ...Runner) ([]Result, error) {
	if len(runners) == 0 {
		return nil, errors.New("CrossCheck needs at least one runner")
	}
	for _, in := range inputs {
		if err := in.check(); err != nil {
			return nil, fmt.Errorf("%s: input: %w", modelPath, err)
		}
	}
	results := make([]Result, len(runners))
	var errs []error
	for i, r := range runners {
		res := Result{Runner: r.Name()}
		res.Outputs, res.Err = r.Run(modelPath, inputs)
		if res.Err != nil {
			errs = append(errs, fmt.Errorf("%s in %s: %w", modelPath, r.Name(), res.Err))
		} else if i > 0 && results[0].Err == nil {
			res.Diffs, res.Err = Compare(results[0].Outputs, res.Outputs, tol)
			if res.Err != nil {
				errs = append(errs, fmt.Errorf("%s: %s differs from %s: %w", modelPath, r.Name(), results[0].Runner, res.Err))
			}
		}
		results[i] = res
	}
	return results, errors.Join(errs...)
}

// Summary formats results as one line per runner with its largest
// difference from the reference.
func Summary(results []Result) string {
	var b strings.Builder
	for i, r := range results {
		fmt.Fprintf(&b, "%-12s ", r.Runner)
		switch {
		case r.Err != nil:
			fmt.Fprintf(&b, "FAILED: %v", r.Err)
		case i == 0:
			b.WriteString("reference")
		default:
			worst := 0.0
			for _, d := range r.Diffs {
				worst = max(worst, d.MaxAbs)
			}
			fmt.Fprintf(&b, "max |diff| %.3g", worst)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
