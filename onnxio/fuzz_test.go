package onnxio

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/internal/testshared"
)

// fuzzLimits keeps each fuzz input to milliseconds of work and megabytes
// of memory, so the fuzzer explores instead of computing.
var fuzzLimits = WithLimits(Limits{
	MaxTensorElements:   1 << 20,
	MaxNodes:            1000,
	MaxNodeOps:          1 << 24,
	MaxFoldOps:          1 << 25,
	MaxInitializerBytes: 64 << 20,
})

// addShared adds the files under ../shared named by rels as seeds, when
// the shared folder is present.
func addShared(f *testing.F, rels ...string) {
	root := testshared.Root()
	if root == "" {
		return
	}
	for _, rel := range rels {
		if b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel))); err == nil {
			f.Add(b)
		}
	}
}

// FuzzDecodeTensor checks that DecodeTensor never panics, that what it
// accepts is valid against the limits, and that it survives a round trip.
func FuzzDecodeTensor(f *testing.F) {
	addShared(f,
		"onnx-conformance/node/test_conv_with_strides_padding/test_data_set_0/input_0.pb",
		"onnx-conformance/node/test_gather_0/test_data_set_0/input_1.pb",
		"onnx-conformance/node/test_add_uint8/test_data_set_0/input_0.pb",
		"onnx-models/mnist-8/test_data_set_0/input_0.pb")
	f.Add(tensorBytes([]int64{2, 2}, Float, make([]byte, 16)))
	f.Add(tensorBytes([]int64{3}, Int64, make([]byte, 24)))
	f.Add(tensorBytes([]int64{1000000, 1000000}, Float, nil))
	if b, err := NewFloatTensor("t", []int64{2}, []float32{1, -2}).MarshalBinary(); err == nil {
		f.Add(b)
	}
	if b, err := NewInt64Tensor("i", []int64{2}, []int64{7, -1}).MarshalBinary(); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tt, err := DecodeTensor(bytes.NewReader(b), fuzzLimits)
		if err != nil {
			return
		}
		lim := buildOptions([]Option{fuzzLimits}).limits
		if err := tt.Validate(lim); err != nil {
			t.Fatalf("decoded tensor fails validation: %v", err)
		}
		enc, err := tt.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeTensor(bytes.NewReader(enc), fuzzLimits)
		if err != nil {
			t.Fatalf("re-decode failed: %v", err)
		}
		if back.NumElements() != tt.NumElements() || back.DataType != tt.DataType {
			t.Fatalf("round trip changed %v %v to %v %v", tt.DataType, tt.Dims, back.DataType, back.Dims)
		}
		// Values must survive too, for the types that can be executed.
		v1, err1 := tt.Float64Values()
		v2, err2 := back.Float64Values()
		if (err1 == nil) != (err2 == nil) || !sameFloats(v1, v2) {
			t.Fatalf("round trip changed the values: %v %v", err1, err2)
		}
	})
}

// maxFuzzInputElements bounds the inputs FuzzCompileRun builds per model.
const maxFuzzInputElements = 100_000

// FuzzCompileRun decodes a model, compiles it and runs it on zero-filled
// inputs shaped from the declared input shapes (symbolic dims taken as 1).
// Nothing may panic, every output must be a valid tensor, and two runs of
// one plan must agree (buffers are pooled and recycled between runs).
func FuzzCompileRun(f *testing.F) {
	addShared(f,
		"onnx-conformance/simple/test_single_relu_model/model.onnx",
		"onnx-conformance/node/test_conv_with_strides_padding/model.onnx",
		"onnx-conformance/node/test_maxpool_2d_pads/model.onnx",
		"onnx-conformance/node/test_matmul_bcast/model.onnx",
		"onnx-conformance/node/test_gemm_default_vector_bias/model.onnx",
		"onnx-conformance/node/test_batchnorm_example/model.onnx",
		"onnx-conformance/node/test_gather_0/model.onnx",
		"onnx-models/mnist-8/model.onnx")
	for _, m := range fuzzSeedModels() {
		if b, err := m.MarshalBinary(); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeBytes(b, fuzzLimits)
		if err != nil {
			return
		}
		plan, err := Compile(m, fuzzLimits)
		if err != nil {
			return
		}
		inputs, ok := zeroInputs(plan.Inputs())
		if !ok {
			return
		}
		out1, err1 := plan.RunPositional(inputs...)
		out2, err2 := plan.RunPositional(inputs...)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("runs disagree: %v / %v", err1, err2)
		}
		if err1 != nil {
			return
		}
		lim := buildOptions([]Option{fuzzLimits}).limits
		for i := range out1 {
			if err := out1[i].Validate(lim); err != nil {
				t.Fatalf("output %d: %v", i, err)
			}
			v1, e1 := out1[i].Float64Values()
			v2, e2 := out2[i].Float64Values()
			if (e1 == nil) != (e2 == nil) || !sameFloats(v1, v2) {
				t.Fatalf("output %q differs between two runs", out1[i].Name)
			}
		}
	})
}

// zeroInputs builds a zero tensor for each input, or reports false when a
// type cannot be built or the inputs would be too large.
func zeroInputs(vis []*ValueInfo) ([]*Tensor, bool) {
	var total int64
	var ts []*Tensor
	for _, vi := range vis {
		dt := vi.ElemType
		if dt == Undefined {
			dt = Float
		}
		sz := dt.Size()
		if sz == 0 || dt == Float16 || dt == BFloat16 {
			return nil, false
		}
		dims := make([]int64, len(vi.Shape))
		for i, d := range vi.Shape {
			dims[i] = max(d.Value, 1)
		}
		n := numElements(dims)
		if n < 0 || n > maxFuzzInputElements {
			return nil, false
		}
		if total += n; total > maxFuzzInputElements {
			return nil, false
		}
		ts = append(ts, &Tensor{Name: vi.Name, DataType: dt, Dims: dims, RawData: make([]byte, n*int64(sz))})
	}
	return ts, true
}

// sameFloats compares two value lists, treating NaNs as equal.
func sameFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return false
		}
	}
	return true
}

// fuzzSeedModels are small graphs that exercise fusion, folding and
// in-place reuse, so the fuzzer has structure to mutate even without the
// shared conformance cases.
func fuzzSeedModels() []*Model {
	opset := []OperatorSetID{{Version: RecommendedOpset}}
	conv := &Model{IRVersion: RecommendedIRVersion, OpsetImport: opset, Graph: &Graph{
		Name: "conv",
		Nodes: []*Node{
			NewNode("Conv", "c", []string{"x", "w", "b"}, []string{"h"}, AttrInts("pads", 1, 1, 1, 1)),
			NewNode("BatchNormalization", "bn", []string{"h", "s", "b", "b", "s"}, []string{"n"}),
			NewNode("Relu", "r", []string{"n"}, []string{"a"}),
			NewNode("MaxPool", "p", []string{"a"}, []string{"q"}, AttrInts("kernel_shape", 2, 2), AttrInts("strides", 2, 2)),
			NewNode("Flatten", "f", []string{"q"}, []string{"y"}),
		},
		Initializer: []*Tensor{
			NewFloatTensor("w", []int64{2, 1, 3, 3}, []float32{1, 0, -1, 2, 0, -2, 1, 0, -1, 0, 1, 0, 1, -4, 1, 0, 1, 0}),
			NewFloatTensor("b", []int64{2}, []float32{0.5, -0.5}),
			NewFloatTensor("s", []int64{2}, []float32{1, 2}),
		},
		Inputs:  []*ValueInfo{NewValueInfo("x", Float, []int64{-1, 1, 6, 6}, "N")},
		Outputs: []*ValueInfo{{Name: "y"}},
	}}
	shape := &Model{IRVersion: RecommendedIRVersion, OpsetImport: opset, Graph: &Graph{
		Name: "shape",
		Nodes: []*Node{
			NewNode("Shape", "sh", []string{"x"}, []string{"s"}),
			NewNode("ConstantOfShape", "cs", []string{"s"}, []string{"z"}, AttrTensor("value", NewFloatTensor("", []int64{1}, []float32{2}))),
			NewNode("Add", "add", []string{"x", "z"}, []string{"u"}),
			NewNode("MatMul", "mm", []string{"u", "m"}, []string{"v"}),
			NewNode("Softmax", "sm", []string{"v"}, []string{"y"}, AttrInt("axis", -1)),
		},
		Initializer: []*Tensor{NewFloatTensor("m", []int64{3, 2}, []float32{1, 2, 3, 4, 5, 6})},
		Inputs:      []*ValueInfo{NewValueInfo("x", Float, []int64{-1, 3}, "N")},
		Outputs:     []*ValueInfo{{Name: "y"}},
	}}
	// The patterns of PyTorch's torchvision exports: padding and
	// activations, then the run-time shape arithmetic around Reshape
	// (Shape, Gather, Unsqueeze, Concat) and a strided Slice.
	i64 := func(name string, v ...int64) *Tensor { return NewInt64Tensor(name, []int64{int64(len(v))}, v) }
	scalar := func(name string, v int64) *Tensor { return NewInt64Tensor(name, nil, []int64{v}) }
	ones := make([]float32, 12)
	for i := range ones {
		ones[i] = 1
	}
	tvnet := &Model{IRVersion: RecommendedIRVersion, OpsetImport: opset, Graph: &Graph{
		Name: "torchvision",
		Nodes: []*Node{
			NewNode("Pad", "pad", []string{"x", "pads"}, []string{"p"}, AttrString("mode", "reflect")),
			NewNode("Clip", "clip", []string{"p", "zero", "six"}, []string{"c"}),
			NewNode("HardSigmoid", "hsig", []string{"c"}, []string{"hs"}, AttrFloat("alpha", 1.0/6)),
			NewNode("HardSwish", "hswish", []string{"p"}, []string{"hw"}),
			NewNode("Mul", "mul", []string{"hs", "hw"}, []string{"m"}),
			NewNode("Split", "split", []string{"m", "halves"}, []string{"s1", "s2"}, AttrInt("axis", 1)),
			NewNode("Add", "add", []string{"s1", "s2"}, []string{"a"}),
			NewNode("Shape", "shape", []string{"a"}, []string{"sh"}),
			NewNode("Gather", "batch", []string{"sh", "i0"}, []string{"n0"}, AttrInt("axis", 0)),
			NewNode("Unsqueeze", "unsq", []string{"n0", "ax0"}, []string{"n1"}),
			NewNode("Concat", "cat", []string{"n1", "minus1"}, []string{"newshape"}, AttrInt("axis", 0)),
			NewNode("Reshape", "reshape", []string{"a", "newshape"}, []string{"r"}),
			NewNode("Slice", "slice", []string{"r", "st", "en", "ax1", "step2"}, []string{"sl"}),
			NewNode("Erf", "erf", []string{"sl"}, []string{"e"}),
			NewNode("LayerNormalization", "ln", []string{"e", "scale", "bias"}, []string{"y"}),
		},
		Initializer: []*Tensor{
			i64("pads", 0, 0, 1, 1, 0, 0, 1, 1), NewFloatTensor("zero", nil, []float32{0}), NewFloatTensor("six", nil, []float32{6}),
			i64("halves", 1, 1), scalar("i0", 0), i64("ax0", 0), i64("minus1", -1),
			i64("st", 1), i64("en", math.MaxInt64), i64("ax1", 1), i64("step2", 2),
			NewFloatTensor("scale", []int64{12}, ones), NewFloatTensor("bias", []int64{12}, make([]float32, 12)),
		},
		Inputs:  []*ValueInfo{NewValueInfo("x", Float, []int64{-1, 2, 3, 3}, "N")},
		Outputs: []*ValueInfo{{Name: "y"}},
	}}
	// ViT's class-token expand (Shape, Equal, Where, Expand) and masking
	// ops on a run-time batch.
	mask := &Model{IRVersion: RecommendedIRVersion, OpsetImport: opset, Graph: &Graph{
		Name: "mask",
		Nodes: []*Node{
			NewNode("Shape", "shape", []string{"x"}, []string{"s"}),
			NewNode("Equal", "eq", []string{"s", "neg"}, []string{"eq"}),
			NewNode("Where", "where", []string{"eq", "one", "s"}, []string{"s2"}),
			NewNode("Expand", "expand", []string{"tok", "s2"}, []string{"e"}),
			NewNode("Add", "add", []string{"x", "e"}, []string{"a"}),
			NewNode("Range", "range", []string{"r0", "r3", "r1"}, []string{"r"}),
			NewNode("Mod", "mod", []string{"r", "two"}, []string{"md"}),
			NewNode("Cast", "cast", []string{"md"}, []string{"mf"}, AttrInt("to", int64(Float))),
			NewNode("Mul", "mul", []string{"a", "mf"}, []string{"b"}),
			NewNode("ScatterND", "scatter", []string{"b", "idx", "upd"}, []string{"sc"}),
			NewNode("Less", "less", []string{"x", "fzero"}, []string{"lt"}),
			NewNode("Not", "not", []string{"lt"}, []string{"nt"}),
			NewNode("Where", "keep", []string{"nt", "sc", "fzero"}, []string{"y"}),
		},
		Initializer: []*Tensor{
			i64("neg", -1, -1), scalar("one", 1), NewFloatTensor("tok", []int64{1, 3}, []float32{0.5, -1, 2}),
			scalar("r0", 0), scalar("r3", 3), scalar("r1", 1), scalar("two", 2),
			NewInt64Tensor("idx", []int64{1, 2}, []int64{0, 0}), NewFloatTensor("upd", []int64{1}, []float32{5}),
			NewFloatTensor("fzero", nil, []float32{0}),
		},
		Inputs:  []*ValueInfo{NewValueInfo("x", Float, []int64{-1, 3}, "N")},
		Outputs: []*ValueInfo{{Name: "y"}},
	}}
	return []*Model{conv, shape, tvnet, mask}
}

// TestFuzzSeedModels checks that the synthetic seeds are valid models, so
// the fuzzer starts from inputs that reach the executor.
func TestFuzzSeedModels(t *testing.T) {
	seeds := fuzzSeedModels()
	want := []int{18, 2, 12, 3}
	for i, m := range seeds {
		plan, err := Compile(m, fuzzLimits)
		if err != nil {
			t.Fatalf("%s: %v", m.Graph.Name, err)
		}
		in, ok := zeroInputs(plan.Inputs())
		if !ok {
			t.Fatalf("%s: inputs not built", m.Graph.Name)
		}
		out, err := plan.RunPositional(in...)
		if err != nil {
			t.Fatalf("%s: %v", m.Graph.Name, err)
		}
		v, _ := out[0].Float64Values()
		if len(v) != want[i] {
			t.Errorf("%s: %d outputs, want %d", m.Graph.Name, len(v), want[i])
		}
	}
	// Softmax of (0+2)·m rows: logits 2·(1+3+5)=18 and 2·(2+4+6)=24.
	plan, _ := Compile(seeds[1])
	out, err := plan.RunPositional(NewFloatTensor("x", []int64{1, 3}, []float32{0, 0, 0}))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := out[0].Float32s()
	if want := 1 / (1 + math.Exp(6)); math.Abs(float64(v[0])-want) > 1e-6 || math.Abs(float64(v[0]+v[1])-1) > 1e-6 {
		t.Errorf("softmax %v, want [%g, %g]", v, want, 1-want)
	}
	// mask at batch 2: (x + tok) · [0 1 0], element [0,0] set to 5, and
	// elements where x < 0 zeroed.
	plan, _ = Compile(seeds[3])
	out, err = plan.RunPositional(NewFloatTensor("x", []int64{2, 3}, []float32{0, 0, 0, 1, -1, 1}))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := out[0].Float32s(); !slices.Equal(v, []float32{5, -1, 0, 0, 0, 0}) || !slices.Equal(out[0].Dims, []int64{2, 3}) {
		t.Errorf("mask: %v %v, want [2 3] [5 -1 0 0 0 0]", out[0].Dims, v)
	}
}

// TestOpArityComplete checks that every executable operator declares its
// input counts, since Compile rejects operators that do not.
func TestOpArityComplete(t *testing.T) {
	for op := range opTable {
		if _, ok := opArity[op]; !ok {
			t.Errorf("operator %s has no entry in opArity", op)
		}
	}
	n := NewNode("Flatten", "f", nil, []string{"y"})
	if err := checkArity(n); err == nil || !strings.Contains(err.Error(), "has 0 inputs, want 1") {
		t.Errorf("Flatten without inputs: %v", err)
	}
	n = NewNode("Sum", "s", []string{"a", "", "b"}, []string{"y"})
	if err := checkArity(n); err == nil || !strings.Contains(err.Error(), "required input 1") {
		t.Errorf("Sum with an empty input: %v", err)
	}
}

// TestOperatorDocs checks that the package documentation's operator list
// names every operator the executor registers.
func TestOperatorDocs(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	words := map[string]bool{}
	for _, w := range strings.FieldsFunc(string(doc), func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
	}) {
		words[w] = true
	}
	for op := range opTable {
		if !words[op] {
			t.Errorf("operator %s is missing from the list in doc.go", op)
		}
	}
}
