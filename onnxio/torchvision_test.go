package onnxio

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fewshot-go/fewshot/internal/testshared"
)

// torchvisionShared are the exports in ../shared/torchvision (opset 13,
// random weights, PyTorch's own output as the expected one).
var torchvisionShared = []string{
	"squeezenet1_1-op13", "mnasnet0_5-op13", "mobilenet_v3_small-op13", "shufflenet_v2_x1_0-op13",
}

// envTorchvisionDir names a folder of further export.py cases (see
// ../shared/torchvision/README.md) for TestTorchvisionModels to run too.
const envTorchvisionDir = "FEWSHOT_TORCHVISION_DIR"

// maxDiff returns the largest absolute difference between got and want and
// the largest relative one, |got-want|/|want|, over the elements at least
// 1e-3 times the largest |want| (random-weight logits can be tiny, and
// near-zero elements make the ratio meaningless).
func maxDiff(t *testing.T, got, want []float32) (abs, rel float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d elements, want %d", len(got), len(want))
	}
	scale := maxAbs(want)
	for i, w := range want {
		d := math.Abs(float64(got[i]) - float64(w))
		abs = max(abs, d)
		if aw := math.Abs(float64(w)); aw > 0 && aw >= 1e-3*scale {
			rel = max(rel, d/aw)
		}
	}
	return abs, rel
}

func maxAbs(x []float32) float64 {
	m := 0.0
	for _, v := range x {
		m = max(m, math.Abs(float64(v)))
	}
	return m
}

// TestTorchvisionModels runs PyTorch exports of torchvision networks
// against PyTorch's outputs at batch 1, then at batch 2 (the input twice),
// since the batch axis is dynamic and the shape arithmetic around Reshape
// runs on the actual batch size.
func TestTorchvisionModels(t *testing.T) {
	var dirs []string
	for _, name := range torchvisionShared {
		dirs = append(dirs, "torchvision/"+name)
	}
	if extra := os.Getenv(envTorchvisionDir); extra != "" {
		more, err := filepath.Glob(filepath.Join(extra, "*", "model.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range more {
			dirs = append(dirs, filepath.Dir(m))
		}
	}
	for _, rel := range dirs {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			dir := rel
			if !filepath.IsAbs(rel) {
				dir = testshared.Path(t, rel)
			}
			checkTorchvision(t, dir)
		})
	}
}

func checkTorchvision(t *testing.T, dir string) {
	m, err := ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	in, err := ReadTensorFile(filepath.Join(dir, "test_data_set_0", "input_0.pb"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := ReadTensorFile(filepath.Join(dir, "test_data_set_0", "output_0.pb"))
	if err != nil {
		t.Fatal(err)
	}
	outs, err := plan.RunPositional(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := Compare(outs[0], want, DefaultTolerance); err != nil {
		t.Fatalf("batch 1: %v", err)
	}
	w, err := want.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	abs, rel := maxDiff(t, outs[0].FloatData, w)
	t.Logf("opset %d, batch 1: max |output| %.3g, max abs diff %.3g, max rel diff %.3g", m.Opset(), maxAbs(w), abs, rel)

	x, err := in.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	dims := slices.Clone(in.Dims)
	dims[0] = 2
	outs, err = plan.RunPositional(NewFloatTensor(in.Name, dims, slices.Concat(x, x)))
	if err != nil {
		t.Fatalf("batch 2: %v", err)
	}
	wdims := slices.Clone(want.Dims)
	wdims[0] = 2
	if err := Compare(outs[0], NewFloatTensor(want.Name, wdims, slices.Concat(w, w)), DefaultTolerance); err != nil {
		t.Fatalf("batch 2: %v", err)
	}
}
