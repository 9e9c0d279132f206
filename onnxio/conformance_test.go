package onnxio

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/internal/testshared"
)

// nodeTolerance is the ONNX backend suite's own tolerance.
var nodeTolerance = Tolerance{RTol: 1e-3, ATol: 1e-7}

func caseDirs(t *testing.T, root string) []string {
	t.Helper()
	var dirs []string
	for _, cat := range []string{"node", "pytorch-converted", "pytorch-operator", "simple"} {
		ents, err := os.ReadDir(filepath.Join(root, cat))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.IsDir() {
				dirs = append(dirs, filepath.Join(root, cat, e.Name()))
			}
		}
	}
	sort.Strings(dirs)
	return dirs
}

// TestConformance runs every ONNX backend case in the shared folder.
func TestConformance(t *testing.T) {
	root := testshared.Path(t, "onnx-conformance")
	dirs := caseDirs(t, root)
	if len(dirs) != 255 {
		t.Errorf("found %d cases, the README lists 255", len(dirs))
	}
	passed := 0
	for _, dir := range dirs {
		name := filepath.Base(filepath.Dir(dir)) + "/" + filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			if err := CheckCase(dir, nodeTolerance); err != nil {
				t.Fatal(err)
			}
			passed++
		})
	}
	t.Logf("%d of %d conformance cases passed", passed, len(dirs))
}

// TestReferenceModels runs mnist-8, mnist-12 and conv4-random-ortref against
// their onnxruntime outputs.
func TestReferenceModels(t *testing.T) {
	for _, name := range []string{"mnist-8", "mnist-12", "conv4-random-ortref"} {
		t.Run(name, func(t *testing.T) {
			dir := testshared.Path(t, "onnx-models/"+name)
			if err := CheckCase(dir, DefaultTolerance); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// arangeInput builds upstream's light-model input: arange(n)/n in float32,
// shaped like the graph input with symbolic dims taken as 1.
func arangeInput(vi *ValueInfo) *Tensor {
	dims := make([]int64, len(vi.Shape))
	n := int64(1)
	for i, d := range vi.Shape {
		dims[i] = max(d.Value, 1)
		n *= dims[i]
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(i) / float32(n)
	}
	return NewFloatTensor(vi.Name, dims, data)
}

// TestLightModels runs the 9 deep CNNs whose weights are ConstantOfShape
// nodes; they are slow, so -short skips them.
func TestLightModels(t *testing.T) {
	if testing.Short() {
		t.Skip("light models take several seconds each")
	}
	root := testshared.Path(t, "onnx-conformance/light")
	models, err := filepath.Glob(filepath.Join(root, "light_*.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if len(models) != 9 {
		t.Errorf("found %d light models, want 9", len(models))
	}
	for _, path := range models {
		name := strings.TrimSuffix(filepath.Base(path), ".onnx")
		t.Run(name, func(t *testing.T) {
			m, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := Compile(m)
			if err != nil {
				t.Fatal(err)
			}
			if len(plan.Inputs()) != 1 {
				t.Fatalf("%d inputs, want 1", len(plan.Inputs()))
			}
			outs, err := plan.RunPositional(arangeInput(plan.Inputs()[0]))
			if err != nil {
				t.Fatal(err)
			}
			got, err := outs[0].Float64Values()
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range got {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("output element %d is %v", i, v)
				}
			}
			want, err := ReadTensorFile(filepath.Join(root, name+"_output_0.pb"))
			if err != nil {
				t.Fatal(err)
			}
			if err := Compare(outs[0], want, DefaultTolerance); err != nil {
				t.Fatal(fmt.Errorf("output: %w", err))
			}
		})
	}
}
