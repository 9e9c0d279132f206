package onnxio

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// constModel builds a model whose Conv, MatMul, ... runs on tensors made by
// ConstantOfShape nodes from tiny shape initializers: a file of a few
// hundred bytes that asks for arbitrary amounts of work.
func constModel(shapes map[string][]int64, nodes []*Node, inputs ...*ValueInfo) *Model {
	g := &Graph{Name: "hostile", Nodes: nodes, Inputs: inputs, Outputs: []*ValueInfo{{Name: "y"}}}
	for name, s := range shapes {
		g.Initializer = append(g.Initializer, NewInt64Tensor(name+"_shape", []int64{int64(len(s))}, s))
		g.Nodes = append([]*Node{NewNode("ConstantOfShape", name+"_fill", []string{name + "_shape"}, []string{name},
			AttrTensor("value", NewFloatTensor("", []int64{1}, []float32{0.5})))}, g.Nodes...)
	}
	return &Model{IRVersion: RecommendedIRVersion, OpsetImport: []OperatorSetID{{Version: RecommendedOpset}}, Graph: g}
}

// TestHostileWork checks that graphs asking for enormous work or scratch
// memory fail at once with an error naming the node and the limit, instead
// of running for hours or exhausting memory.
func TestHostileWork(t *testing.T) {
	cases := []struct {
		name string
		m    *Model
		lim  Limits
		want []string
	}{
		{"conv of 1e12 multiply-adds folded at compile time",
			constModel(map[string][]int64{"x": {1, 1, 1, 1}, "w": {1, 1, 1000, 1000}},
				[]*Node{NewNode("Conv", "bigconv", []string{"x", "w"}, []string{"y"}, AttrInts("pads", 999, 999, 999, 999))}),
			Limits{}, []string{`"bigconv"`, "MaxFoldOps"}},
		{"dilated conv whose padded planes need 1e12 elements",
			constModel(map[string][]int64{"x": {1, 1, 1, 1}, "w": {1, 1, 2, 2}},
				[]*Node{NewNode("Conv", "dilated", []string{"x", "w"}, []string{"y"},
					AttrInts("dilations", 1<<20, 1<<20), AttrInts("pads", 1<<19, 1<<19, 1<<19, 1<<19))}),
			Limits{}, []string{`"dilated"`, "scratch", "MaxTensorElements"}},
		{"strided conv whose patch matrix needs 1.6e10 elements",
			constModel(map[string][]int64{"x": {1, 1, 1000, 1000}, "w": {1, 1, 500, 500}},
				[]*Node{NewNode("Conv", "strided", []string{"x", "w"}, []string{"y"}, AttrInts("strides", 2, 2))}),
			Limits{MaxFoldOps: 1 << 50}, []string{`"strided"`, "scratch"}},
		{"huge window attribute",
			constModel(map[string][]int64{"x": {1, 1, 4, 4}},
				[]*Node{NewNode("MaxPool", "pool", []string{"x"}, []string{"y"}, AttrInts("kernel_shape", 1<<40, 1))}),
			Limits{}, []string{`"pool"`, "exceed"}},
		{"constant of 1e12 elements",
			constModel(map[string][]int64{"y": {1000000, 1000000}}, nil),
			Limits{}, []string{`"y_fill"`, "element limit"}},
		{"folded constants beyond the initializer budget",
			constModel(map[string][]int64{"a": {1 << 18}, "b": {1 << 18}},
				[]*Node{NewNode("Add", "sum", []string{"a", "b"}, []string{"y"})}),
			Limits{MaxInitializerBytes: 2 << 20}, []string{"MaxInitializerBytes"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compile(c.m, WithLimits(c.lim))
			if err == nil {
				t.Fatal("Compile succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestNodeOpsAtRun checks the per-node work limit on a node that only runs
// once the inputs are known.
func TestNodeOpsAtRun(t *testing.T) {
	m := constModel(map[string][]int64{"b": {256, 256}},
		[]*Node{NewNode("MatMul", "mm", []string{"x", "b"}, []string{"y"})},
		NewValueInfo("x", Float, []int64{-1, 256}, "N"))
	plan, err := Compile(m, WithLimits(Limits{MaxNodeOps: 1 << 24}))
	if err != nil {
		t.Fatal(err)
	}
	// 64×256×256 = 2^22 multiply-adds fit; 1024×256×256 = 2^26 do not.
	small := NewFloatTensor("x", []int64{64, 256}, make([]float32, 64*256))
	out, err := plan.RunPositional(small)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := out[0].Float32s(); len(got) != 64*256 || got[0] != 0 {
		t.Fatalf("unexpected result %d values", len(got))
	}
	big := NewFloatTensor("x", []int64{1024, 256}, make([]float32, 1024*256))
	if _, err := plan.RunPositional(big); err == nil || !strings.Contains(err.Error(), `"mm"`) || !strings.Contains(err.Error(), "MaxNodeOps") {
		t.Errorf("error %v, want a MaxNodeOps error naming the node", err)
	}
}

// TestClaimedElementsAllocateNothing checks that a file claiming 10^12
// elements is rejected from its header: the decode allocates a few
// kilobytes, not the terabytes the dims ask for.
func TestClaimedElementsAllocateNothing(t *testing.T) {
	tensor := tensorBytes([]int64{1000000, 1000000}, Float, make([]byte, 16))
	forged := forgedModel(tensor)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, errT := DecodeTensor(bytes.NewReader(tensor))
	_, errM := DecodeBytes(forged)
	runtime.ReadMemStats(&after)
	for _, err := range []error{errT, errM} {
		if err == nil || !strings.Contains(err.Error(), "1000000000000 elements") {
			t.Errorf("error %v, want one naming the claimed element count", err)
		}
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Errorf("decoding allocated %d bytes", d)
	}
}

// forgedModel wraps an encoded TensorProto as the only initializer of a
// model's graph, bypassing the encoder's checks.
func forgedModel(tensor []byte) []byte {
	g := protowire.AppendTag(nil, fGraphInitializer, protowire.BytesType)
	g = protowire.AppendBytes(g, tensor)
	m := protowire.AppendTag(nil, fModelGraph, protowire.BytesType)
	return protowire.AppendBytes(m, g)
}
