package onnxio

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/fewshot-go/fewshot/internal/testshared"
)

// sharedModels lists every model file in the shared folders.
func sharedModels(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"onnx-conformance/*/*/model.onnx", "onnx-conformance/light/*.onnx", "onnx-models/*/model.onnx"} {
		root := testshared.Path(t, strings.Split(pat, "/")[0])
		m, err := filepath.Glob(filepath.Join(root, strings.SplitN(pat, "/", 2)[1]))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	return files
}

// TestRoundTrip decodes, encodes and decodes every shared model and every
// tensor file, and checks the two decodes are equal.
func TestRoundTrip(t *testing.T) {
	files := sharedModels(t)
	if len(files) < 255+9+3 {
		t.Errorf("found %d model files, want at least 267", len(files))
	}
	for _, f := range files {
		m1, err := ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := m1.Encode(&buf); err != nil {
			t.Fatal(err)
		}
		m2, err := DecodeBytes(buf.Bytes())
		if err != nil {
			t.Fatalf("%s: re-decode: %v", f, err)
		}
		if !reflect.DeepEqual(m1, m2) {
			t.Errorf("%s: model changed in a round trip", f)
		}
		pbs, _ := filepath.Glob(filepath.Join(filepath.Dir(f), "test_data_set_*", "*.pb"))
		for _, p := range pbs {
			t1, err := ReadTensorFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := t1.MarshalBinary()
			t2, err := DecodeTensor(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s: re-decode: %v", p, err)
			}
			if !reflect.DeepEqual(t1, t2) {
				t.Errorf("%s: tensor changed in a round trip", p)
			}
		}
	}
}

// TestBuildModel writes a model from the constructors, reads it back and
// runs it.
func TestBuildModel(t *testing.T) {
	m := &Model{
		IRVersion:     RecommendedIRVersion,
		OpsetImport:   []OperatorSetID{{Version: RecommendedOpset}},
		ProducerName:  "fewshot-test",
		MetadataProps: []StringStringEntry{{"z", "1"}, {"a", "2"}},
		Graph: &Graph{
			Name: "g",
			Nodes: []*Node{
				NewNode("Gemm", "fc", []string{"x", "w", "b"}, []string{"h"}, AttrInt("transB", 1), AttrFloat("alpha", 2)),
				NewNode("Relu", "", []string{"h"}, []string{"y"}),
			},
			Initializer: []*Tensor{
				NewFloatTensor("w", []int64{2, 3}, []float32{1, 0, -1, 0.5, 0.5, 0.5}),
				NewFloatTensor("b", []int64{2}, []float32{0.25, -10}),
			},
			Inputs:  []*ValueInfo{NewValueInfo("x", Float, []int64{-1, 3}, "N")},
			Outputs: []*ValueInfo{NewValueInfo("y", Float, []int64{-1, 2}, "N")},
		},
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	m2, err := DecodeBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, m2) {
		t.Fatalf("round trip changed the model:\n%+v\n%+v", m.Graph, m2.Graph)
	}
	plan, err := Compile(m2)
	if err != nil {
		t.Fatal(err)
	}
	out, err := plan.Run(map[string]*Tensor{"x": NewFloatTensor("x", []int64{2, 3}, []float32{1, 2, 3, 4, 5, 6})})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := out["y"].Float32s()
	// y = relu(2*x·wᵀ + b): row 1: 2*(1-3)+0.25 = -3.75 -> 0; 2*3+-10 = -4 -> 0.
	want := []float32{0, 0, 2*(4-6) + 0.25, 2*7.5 - 10}
	want[2] = max(want[2], 0)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// tensorBytes encodes a TensorProto by hand, so tests can forge bad ones.
func tensorBytes(dims []int64, dt DataType, raw []byte) []byte {
	var b []byte
	for _, d := range dims {
		b = protowire.AppendTag(b, fTensorDims, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(d))
	}
	b = protowire.AppendTag(b, fTensorDataType, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(dt))
	b = protowire.AppendTag(b, fTensorName, protowire.BytesType)
	b = protowire.AppendString(b, "evil")
	b = protowire.AppendTag(b, fTensorRawData, protowire.BytesType)
	return protowire.AppendBytes(b, raw)
}

func TestLimits(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"huge dims", tensorBytes([]int64{1000000, 1000000}, Float, nil), "claim 1000000000000 elements"},
		{"overflowing dims", tensorBytes([]int64{1 << 62, 1 << 62}, Float, nil), "invalid dims"},
		{"negative dim", tensorBytes([]int64{-1}, Float, nil), "invalid dims"},
		{"raw length", tensorBytes([]int64{2, 2}, Float, make([]byte, 12)), "raw_data has 12 bytes"},
		{"truncated", tensorBytes([]int64{2}, Float, make([]byte, 8))[:17], "truncated"},
		{"wrong wire type", []byte{0x0d, 1, 2, 3, 4}, "dims"},
	}
	for _, c := range cases {
		_, err := DecodeTensor(bytes.NewReader(c.data))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	big := tensorBytes([]int64{4}, Float, make([]byte, 16))
	if _, err := DecodeTensor(bytes.NewReader(big), WithLimits(Limits{MaxTensorElements: 3})); err == nil || !strings.Contains(err.Error(), "limit is 3") {
		t.Errorf("element limit: %v", err)
	}
	if _, err := DecodeTensor(bytes.NewReader(big), WithLimits(Limits{MaxModelBytes: 8})); err == nil || !strings.Contains(err.Error(), "8-byte limit") {
		t.Errorf("size limit: %v", err)
	}
	if _, err := DecodeTensor(bytes.NewReader(tensorBytes([]int64{1, 1, 1, 1}, Float, make([]byte, 4))), WithLimits(Limits{MaxRank: 3})); err == nil || !strings.Contains(err.Error(), "rank") {
		t.Errorf("rank limit: %v", err)
	}
}

// TestRunLimits checks that a shape computed at run time is bounded too.
func TestRunLimits(t *testing.T) {
	m := &Model{
		OpsetImport: []OperatorSetID{{Version: 17}},
		Graph: &Graph{
			Nodes:   []*Node{NewNode("ConstantOfShape", "fill", []string{"s"}, []string{"y"})},
			Inputs:  []*ValueInfo{NewValueInfo("s", Int64, []int64{2})},
			Outputs: []*ValueInfo{{Name: "y"}},
		},
	}
	plan, err := Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	_, err = plan.RunPositional(NewInt64Tensor("s", []int64{2}, []int64{1 << 40, 1 << 40}))
	if err == nil || !strings.Contains(err.Error(), "element limit") || !strings.Contains(err.Error(), `"fill"`) {
		t.Errorf("error %v, want an element-limit error naming the node", err)
	}
}

func TestCompileErrors(t *testing.T) {
	graph := func(nodes ...*Node) *Model {
		return &Model{OpsetImport: []OperatorSetID{{Version: 17}}, Graph: &Graph{
			Nodes: nodes, Inputs: []*ValueInfo{NewValueInfo("x", Float, []int64{1})},
			Outputs: []*ValueInfo{{Name: "y"}},
		}}
	}
	cases := []struct {
		m    *Model
		want string
	}{
		{graph(NewNode("Frobnicate", "f", []string{"x"}, []string{"y"})), `operator "Frobnicate" is not supported`},
		{graph(NewNode("Relu", "a", []string{"y"}, []string{"z"}), NewNode("Relu", "b", []string{"z"}, []string{"y"})), "cycle"},
		{graph(NewNode("Relu", "r", []string{"nope"}, []string{"y"})), `input "nope"`},
		{graph(NewNode("Relu", "r", []string{"x"}, []string{"y"}, AttrInt("colour", 3))), `attribute "colour"`},
		{graph(NewNode("Conv", "c", []string{"x", "x"}, []string{"y"}, AttrString("auto_pad", "DIAGONAL"))), "auto_pad"},
	}
	for _, c := range cases {
		_, err := Compile(c.m)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one containing %q", err, c.want)
		}
	}
}

// FuzzDecode checks that no input makes the decoder panic, and that what
// decodes also survives a round trip.
func FuzzDecode(f *testing.F) {
	for _, p := range []string{"onnx-conformance/simple/test_single_relu_model/model.onnx",
		"onnx-conformance/node/test_conv_with_strides_padding/model.onnx",
		"onnx-models/mnist-8/model.onnx"} {
		if root := testshared.Root(); root != "" {
			if b, err := os.ReadFile(filepath.Join(root, p)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add(tensorBytes([]int64{2}, Float, make([]byte, 8)))
	f.Add([]byte{0x3a, 0x02, 0x0a, 0x00})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := fuzzLimits
		m, err := DecodeBytes(b, lim)
		if err == nil {
			enc, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeBytes(enc, lim); err != nil {
				t.Fatalf("re-decode failed: %v", err)
			}
			// Compiling must fail cleanly or succeed, never panic.
			_, _ = Compile(m, lim)
		}
		_, _ = DecodeTensor(bytes.NewReader(b), lim)
	})
}

// TestReadFileLimit checks that a model file larger than MaxModelBytes is
// refused before it is read, with the file and the limit named, and that
// one exactly at the limit is read (its buffer is sized from the file).
func TestReadFileLimit(t *testing.T) {
	m := &Model{IRVersion: 8, Graph: &Graph{Name: "g"}}
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	size := int64(buf.Len())
	_, err := ReadFile(path, WithLimits(Limits{MaxModelBytes: size - 1}))
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "exceeds the "+strconv.FormatInt(size-1, 10)+"-byte limit") {
		t.Errorf("file over the limit: %v", err)
	}
	got, err := ReadFile(path, WithLimits(Limits{MaxModelBytes: size}))
	if err != nil {
		t.Fatal(err)
	}
	if got.Graph == nil || got.Graph.Name != "g" || got.IRVersion != 8 {
		t.Errorf("read back %+v", got)
	}
}
