package interop

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// ortRunner returns the onnxruntime runner over ./ort, or skips the test
// when onnxruntime-node is not installed (fails under
// FEWSHOT_REQUIRE_SHARED=1: CI installs it through run.sh).
func ortRunner(t *testing.T) ORT {
	t.Helper()
	o := ORT{Dir: "ort", Threads: 1}
	if err := o.Available(); err != nil {
		msg := "onnxruntime unavailable, run ./run.sh or `npm ci --ignore-scripts` in interop/ort: " + err.Error()
		if requireShared() {
			t.Fatal(msg + " (FEWSHOT_REQUIRE_SHARED=1)")
		}
		t.Skip(msg)
	}
	return o
}

// runners are the implementations every model is checked in; onnxruntime
// comes first and is the reference.
func runners(t *testing.T) []Runner {
	return []Runner{ortRunner(t), SDK{}, OnnxGo{}}
}

// checkModel cross-checks the model at path on inputs in every runner and
// fails t on any error or disagreement.
func checkModel(t *testing.T, path string, inputs []Tensor) []Result {
	t.Helper()
	res, err := CrossCheck(path, inputs, DefaultTolerance, runners(t)...)
	t.Logf("%s, input dims %v:\n%s", filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), inputs[0].Dims, Summary(res))
	if err != nil {
		t.Error(err)
	}
	return res
}

// TestSharedModels runs the reference models of the shared folder on their
// stored test data in every runner, and also checks onnxruntime's outputs
// against the stored output_N.pb files (themselves made by onnxruntime, so
// this guards the ORT runner's plumbing).
func TestSharedModels(t *testing.T) {
	for _, name := range []string{"conv4-random-ortref", "mnist-8", "mnist-12"} {
		t.Run(name, func(t *testing.T) {
			dir := sharedPath(t, "onnx-models/"+name)
			model := filepath.Join(dir, "model.onnx")
			sets, err := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
			if err != nil || len(sets) == 0 {
				t.Fatalf("%s: no test_data_set_* folders (%v)", dir, err)
			}
			for _, set := range sets {
				inputs, want := readTestDataSet(t, model, set)
				res := checkModel(t, model, inputs)
				if res[0].Err == nil {
					if _, err := Compare(want, res[0].Outputs, DefaultTolerance); err != nil {
						t.Errorf("%s: onnxruntime vs stored outputs: %v", set, err)
					}
				}
			}
		})
	}
}

// TestConv4Batch1 checks the Conv-4 reference model at batch 1, where
// onnx-go takes another BatchNormalization code path than at batch 2.
func TestConv4Batch1(t *testing.T) {
	model := filepath.Join(sharedPath(t, "onnx-models/conv4-random-ortref"), "model.onnx")
	inputs, err := SyntheticInputs(model, 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	checkModel(t, model, inputs)
}

// TestExportedModels cross-checks every model the SDK has exported to the
// checkout's models/ folder, at batch 1 and 2 on synthetic inputs.
func TestExportedModels(t *testing.T) {
	root := checkoutRoot()
	if root == "" {
		t.Fatal("cannot locate the checkout (no go.mod above the working directory)")
	}
	models, err := filepath.Glob(filepath.Join(root, "models", "*.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if len(models) == 0 {
		t.Skip("no exported models in " + filepath.Join(root, "models") + " yet")
	}
	for _, model := range models {
		t.Run(strings.TrimSuffix(filepath.Base(model), ".onnx"), func(t *testing.T) {
			for _, batch := range []int{1, 2} {
				inputs, err := SyntheticInputs(model, batch, uint64(batch))
				if err != nil {
					t.Fatal(err)
				}
				checkModel(t, model, inputs)
			}
		})
	}
}

// readTestDataSet reads set/input_K.pb and set/output_K.pb. Inputs are
// named after the model's inputs when the files leave the name empty.
func readTestDataSet(t *testing.T, model, set string) (inputs, outputs []Tensor) {
	t.Helper()
	names, err := ModelInputs(model)
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"input", "output"} {
		files, err := filepath.Glob(filepath.Join(set, kind+"_*.pb"))
		if err != nil {
			t.Fatal(err)
		}
		for k := range files {
			// Glob sorts by name; build the names so that input_10 follows input_9.
			p := filepath.Join(set, kind+"_"+strconv.Itoa(k)+".pb")
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("%s: %d %s files but %v", set, len(files), kind, err)
			}
			tn, err := ReadTensorProto(p)
			if err != nil {
				t.Fatal(err)
			}
			if kind == "input" {
				if k >= len(names) {
					t.Fatalf("%s: more input files than the model's %d inputs", set, len(names))
				}
				if tn.Name == "" {
					tn.Name = names[k].Name
				}
				inputs = append(inputs, tn)
			} else {
				outputs = append(outputs, tn)
			}
		}
	}
	if len(inputs) == 0 || len(outputs) == 0 {
		t.Fatalf("%s: no input_N.pb or output_N.pb files", set)
	}
	return inputs, outputs
}
