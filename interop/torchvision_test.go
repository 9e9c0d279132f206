package interop

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// torchvisionTolerance scales the bound to the output: random-weight
// networks give logits from 1e-9 (MobileNetV3) to 1e11 (EfficientNetV2),
// so a fixed absolute bound would pass anything on the first and nothing
// on the second. An element may differ by 1e-4 of the largest |want| plus
// 1e-3 of its own size; measured differences are near 1e-6 of the largest.
func torchvisionTolerance(want []Tensor) Tolerance {
	scale := 0.0
	for _, w := range want {
		for _, v := range w.Data {
			scale = max(scale, math.Abs(float64(v)))
		}
	}
	return Tolerance{Abs: 1e-4 * scale, Rel: 1e-3}
}

// TestTorchvision runs PyTorch exports of torchvision classification
// networks, made by torchvision.sh (which run.sh calls), in onnxruntime and
// in the SDK: at batch 1 both are compared with PyTorch's own output, and
// at batch 2 (the input twice: the batch axis is dynamic) the SDK is
// compared with onnxruntime.
func TestTorchvision(t *testing.T) {
	dir := os.Getenv("FEWSHOT_TORCHVISION_DIR")
	if dir == "" {
		missing(t, "FEWSHOT_TORCHVISION_DIR is not set: run interop/run.sh, whose torchvision.sh exports the torchvision networks")
		return
	}
	cases := strings.Fields(os.Getenv("FEWSHOT_TORCHVISION_CASES"))
	if len(cases) == 0 {
		models, err := filepath.Glob(filepath.Join(dir, "*", "model.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range models {
			cases = append(cases, filepath.Base(filepath.Dir(m)))
		}
	}
	if len(cases) == 0 {
		t.Fatalf("no exports in %s", dir)
	}
	ort := ortRunner(t)
	for _, c := range cases {
		t.Run(c, func(t *testing.T) {
			model := filepath.Join(dir, c, "model.onnx")
			if _, err := os.Stat(model); err != nil {
				t.Fatalf("not exported (see torchvision.sh's output): %v", err)
			}
			inputs, want := readTestDataSet(t, model, filepath.Join(dir, c, "test_data_set_0"))
			tol := torchvisionTolerance(want)
			res, err := CrossCheck(model, inputs, tol, ort, SDK{})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				d, err := Compare(want, r.Outputs, tol)
				if err != nil {
					t.Errorf("%s vs PyTorch: %v", r.Runner, err)
					continue
				}
				t.Logf("%-11s vs PyTorch: max |diff| %.3g (max |output| %.3g)", r.Runner, d[0].MaxAbs, tol.Abs/1e-4)
			}
			t.Logf("fewshot     vs onnxruntime: max |diff| %.3g", res[1].Diffs[0].MaxAbs)

			two := slices.Clone(inputs)
			for i, in := range two {
				in.Dims = slices.Clone(in.Dims)
				in.Dims[0] *= 2
				in.Data = slices.Concat(in.Data, in.Data)
				two[i] = in
			}
			res, err = CrossCheck(model, two, tol, ort, SDK{})
			if err != nil {
				t.Fatalf("batch 2: %v", err)
			}
			t.Logf("batch 2: fewshot vs onnxruntime: max |diff| %.3g", res[1].Diffs[0].MaxAbs)
		})
	}
}
