package onnxio

import (
	"math"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/fewshot-go/fewshot/internal/testshared"
)

func loadConv4(t *testing.T) (*Plan, *Tensor, *Tensor) {
	t.Helper()
	dir := testshared.Path(t, "onnx-models/conv4-random-ortref")
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
	return plan, in, want
}

// TestConv4Fusion checks that each Conv→BN→Relu→MaxPool block became one
// step, leaving 4 conv steps and the Flatten.
func TestConv4Fusion(t *testing.T) {
	plan, _, _ := loadConv4(t)
	var ops []string
	for _, st := range plan.steps {
		ops = append(ops, st.node.OpType)
	}
	want := []string{"Conv", "Conv", "Conv", "Conv", "Flatten"}
	if !reflect.DeepEqual(ops, want) {
		t.Errorf("steps %v, want %v", ops, want)
	}
}

// TestConcurrentRun runs one plan from several goroutines; every result
// must match the reference (run with -race to check for shared state).
func TestConcurrentRun(t *testing.T) {
	plan, in, want := loadConv4(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for g := range errs {
		wg.Go(func() {
			for range 3 {
				outs, err := plan.RunPositional(in)
				if err == nil {
					err = Compare(outs[0], want, DefaultTolerance)
				}
				if err != nil {
					errs[g] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestBroadcastAndInPlace checks numpy broadcasting, the legacy opset-6
// axis rule and that in-place reuse never corrupts a value still needed.
func TestBroadcastAndInPlace(t *testing.T) {
	m := &Model{
		OpsetImport: []OperatorSetID{{Version: 17}},
		Graph: &Graph{
			Nodes: []*Node{
				NewNode("Mul", "m", []string{"x", "row"}, []string{"a"}), // [2,3] * [3]
				NewNode("Relu", "r", []string{"a"}, []string{"b"}),       // may overwrite a
				NewNode("Add", "s", []string{"a", "b"}, []string{"y"}),   // a must still be intact
			},
			Initializer: []*Tensor{NewFloatTensor("row", []int64{3}, []float32{1, -1, 2})},
			Inputs:      []*ValueInfo{NewValueInfo("x", Float, []int64{2, 3})},
			Outputs:     []*ValueInfo{{Name: "y"}},
		},
	}
	plan, err := Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := plan.RunPositional(NewFloatTensor("x", []int64{2, 3}, []float32{1, 2, 3, -4, 5, 6}))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := outs[0].Float32s()
	// a = [1 -2 6; -4 -5 12], y = a + relu(a).
	want := []float32{2, -2, 12, -4, -5, 24}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}

	// Opset 6: B of shape [3] broadcast along axis 1 of a [2,3,2] tensor.
	m.OpsetImport[0].Version = 6
	m.Graph.Nodes = []*Node{NewNode("Add", "add", []string{"x", "row"}, []string{"y"}, AttrInt("broadcast", 1), AttrInt("axis", 1))}
	m.Graph.Inputs[0] = NewValueInfo("x", Float, []int64{2, 3, 2})
	if plan, err = Compile(m); err != nil {
		t.Fatal(err)
	}
	outs, err = plan.RunPositional(NewFloatTensor("x", []int64{2, 3, 2}, make([]float32, 12)))
	if err != nil {
		t.Fatal(err)
	}
	got, _ = outs[0].Float32s()
	want = []float32{1, 1, -1, -1, 2, 2, 1, 1, -1, -1, 2, 2}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("legacy broadcast: got %v, want %v", got, want)
	}
}

// TestConv4WinogradAccuracy bounds the largest absolute difference from
// onnxruntime's output on the reference model, whose four 3×3 layers run as
// Winograd F(4×4, 3×3): exported models must match within 1e-4.
func TestConv4WinogradAccuracy(t *testing.T) {
	plan, in, want := loadConv4(t)
	outs, err := plan.RunPositional(in)
	if err != nil {
		t.Fatal(err)
	}
	got := outs[0].FloatData
	ref, err := want.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ref) {
		t.Fatalf("%d outputs, want %d", len(got), len(ref))
	}
	worst := 0.0
	for i, w := range ref {
		worst = max(worst, math.Abs(float64(got[i])-float64(w)))
	}
	t.Logf("largest difference from onnxruntime: %.3g", worst)
	if worst > 1e-4 {
		t.Errorf("largest difference from onnxruntime %.3g, above 1e-4", worst)
	}
}

// TestRunProfiled checks that RunProfiled returns RunPositional's outputs
// and one time per step in execution order: on Conv-4, the four fused
// convolution steps and the Flatten.
func TestRunProfiled(t *testing.T) {
	plan, in, _ := loadConv4(t)
	want, err := plan.RunPositional(in)
	if err != nil {
		t.Fatal(err)
	}
	got, times, err := plan.RunProfiled(in)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := want[0].Float32s()
	b, _ := got[0].Float32s()
	if !reflect.DeepEqual(a, b) {
		t.Error("RunProfiled's output differs from RunPositional's")
	}
	var ops []string
	for _, st := range times {
		ops = append(ops, st.Node.OpType)
		if st.Duration < 0 {
			t.Errorf("step %s took %v", st.Node, st.Duration)
		}
	}
	if w := []string{"Conv", "Conv", "Conv", "Conv", "Flatten"}; !reflect.DeepEqual(ops, w) {
		t.Errorf("steps %v, want %v", ops, w)
	}
	if _, _, err := plan.RunProfiled(); err == nil {
		t.Error("RunProfiled without the input succeeded")
	}
}
