package interop

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	want := []Tensor{{Name: "y", Dims: []int{2, 2}, Data: []float32{1, -2, 1000, 0}}}
	tol := Tolerance{Abs: 1e-4, Rel: 1e-5}
	cases := []struct {
		name    string
		got     []Tensor
		maxAbs  float64
		errPart string
	}{
		{"equal", []Tensor{{Dims: []int{2, 2}, Data: []float32{1, -2, 1000, 0}}}, 0, ""},
		{"within abs", []Tensor{{Dims: []int{2, 2}, Data: []float32{1.00005, -2, 1000, 0}}}, 5e-5, ""},
		// 1000 * 1e-5 = 0.01 of relative room, on top of the 1e-4.
		{"within rel", []Tensor{{Dims: []int{2, 2}, Data: []float32{1, -2, 1000.0078125, 0}}}, 0.0078125, ""},
		{"outside", []Tensor{{Dims: []int{2, 2}, Data: []float32{1, -2.001, 1000, 0}}}, 0.001, "element 1"},
		{"dims", []Tensor{{Dims: []int{4}, Data: []float32{1, -2, 1000, 0}}}, 0, "dims [4]"},
		{"count", nil, 0, "got 0 outputs"},
		{"nan", []Tensor{{Dims: []int{2, 2}, Data: []float32{1, -2, 1000, float32(math.NaN())}}}, 0, "element 3"},
	}
	for _, c := range cases {
		diffs, err := Compare(want, c.got, tol)
		if c.errPart == "" {
			if err != nil {
				t.Errorf("%s: unexpected error %v", c.name, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), c.errPart) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.errPart)
		}
		if len(diffs) == 1 && math.Abs(diffs[0].MaxAbs-c.maxAbs) > 1e-5 {
			t.Errorf("%s: MaxAbs %g, want %g", c.name, diffs[0].MaxAbs, c.maxAbs)
		}
	}
}

func TestCrossCheckReportsDisagreement(t *testing.T) {
	ref := fixedRunner{"ref", []Tensor{{Name: "y", Dims: []int{1}, Data: []float32{1}}}}
	same := fixedRunner{"same", []Tensor{{Name: "y", Dims: []int{1}, Data: []float32{1.00001}}}}
	off := fixedRunner{"off", []Tensor{{Name: "y", Dims: []int{1}, Data: []float32{1.5}}}}
	in := []Tensor{{Name: "x", Dims: []int{1}, Data: []float32{0}}}
	res, err := CrossCheck("m.onnx", in, DefaultTolerance, ref, same, off)
	if err == nil || !strings.Contains(err.Error(), "off differs from ref") {
		t.Fatalf("error %v, want one naming the disagreeing runner", err)
	}
	if res[1].Err != nil || res[2].Err == nil || res[2].Diffs[0].MaxAbs != 0.5 {
		t.Errorf("results %+v", res)
	}
	if _, err := CrossCheck("m.onnx", []Tensor{{Dims: []int{2}, Data: []float32{0}}}, DefaultTolerance, ref); err == nil {
		t.Error("CrossCheck accepted an input whose data does not fill its dims")
	}
}

// fixedRunner returns the same outputs for any model.
type fixedRunner struct {
	name string
	out  []Tensor
}

func (f fixedRunner) Name() string                           { return f.name }
func (f fixedRunner) Run(string, []Tensor) ([]Tensor, error) { return f.out, nil }

// TestRunnersRejectBadModel checks that every runner turns a file that is
// not an ONNX model into an error (never a crash).
func TestRunnersRejectBadModel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.onnx")
	if err := os.WriteFile(path, []byte("this is not a protobuf \xff\xff\xff"), 0o644); err != nil {
		t.Fatal(err)
	}
	in := []Tensor{{Name: "x", Dims: []int{1}, Data: []float32{0}}}
	for _, r := range runners(t) {
		if _, err := r.Run(path, in); err == nil {
			t.Errorf("%s accepted a corrupt model", r.Name())
		} else {
			t.Logf("%s: %v", r.Name(), err)
		}
	}
}
