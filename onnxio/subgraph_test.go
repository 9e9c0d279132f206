package onnxio

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// mlpModel is x [N,4] → Gemm(w1, b1) → h1 → Relu → h2 → Gemm(w2, b2) →
// logits → Softmax → probs, plus a second input y feeding a Sigmoid
// output side that the classifier does not need, and an initializer no
// node reads.
func mlpModel() *Model {
	w1 := NewFloatTensor("w1", []int64{3, 4}, []float32{1, -1, 0.5, 2, 0, 1, 1, -2, 0.25, 0.5, -1, 1})
	b1 := NewFloatTensor("b1", []int64{3}, []float32{0.1, -0.2, 0.3})
	w2 := NewFloatTensor("w2", []int64{2, 3}, []float32{1, 2, 3, -1, 0, 1})
	b2 := NewFloatTensor("b2", []int64{2}, []float32{0, 1})
	unused := NewFloatTensor("unused", []int64{1}, []float32{7})
	return &Model{
		IRVersion: 8, OpsetImport: []OperatorSetID{{Version: 13}}, ProducerName: "test",
		MetadataProps: []StringStringEntry{{Key: "k", Value: "v"}},
		Graph: &Graph{
			Name: "mlp",
			Nodes: []*Node{
				NewNode("Gemm", "fc1", []string{"x", "w1", "b1"}, []string{"h1"}, AttrInt("transB", 1)),
				NewNode("Sigmoid", "side", []string{"y"}, []string{"ys"}),
				NewNode("Relu", "relu", []string{"h1"}, []string{"h2"}),
				NewNode("Gemm", "fc2", []string{"h2", "w2", "b2"}, []string{"logits"}, AttrInt("transB", 1)),
				NewNode("Softmax", "sm", []string{"logits"}, []string{"probs"}, AttrInt("axis", 1)),
			},
			Initializer: []*Tensor{w1, b1, w2, b2, unused},
			Inputs: []*ValueInfo{
				NewValueInfo("x", Float, []int64{-1, 4}, "N"),
				NewValueInfo("y", Float, []int64{-1, 2}, "N"),
			},
			Outputs: []*ValueInfo{
				NewValueInfo("probs", Float, []int64{-1, 2}, "N"),
				NewValueInfo("ys", Float, []int64{-1, 2}, "N"),
			},
			ValueInfo: []*ValueInfo{
				NewValueInfo("h1", Float, []int64{-1, 3}, "N"),
				NewValueInfo("h2", Float, []int64{-1, 3}, "N"),
				NewValueInfo("logits", Float, []int64{-1, 2}, "N"),
			},
		},
	}
}

func names[T any](xs []T, name func(T) string) []string {
	var out []string
	for _, x := range xs {
		out = append(out, name(x))
	}
	return out
}

func TestExtractSubgraph(t *testing.T) {
	m := mlpModel()
	sub, err := ExtractSubgraph(m, "h2")
	if err != nil {
		t.Fatal(err)
	}
	g := sub.Graph
	if got := names(g.Nodes, func(n *Node) string { return n.Name }); !slices.Equal(got, []string{"fc1", "relu"}) {
		t.Errorf("nodes %v, want [fc1 relu]", got)
	}
	if got := names(g.Initializer, func(t *Tensor) string { return t.Name }); !slices.Equal(got, []string{"w1", "b1"}) {
		t.Errorf("initializers %v, want [w1 b1]", got)
	}
	if got := names(g.Inputs, func(v *ValueInfo) string { return v.Name }); !slices.Equal(got, []string{"x"}) {
		t.Errorf("inputs %v, want [x]", got)
	}
	if len(g.Outputs) != 1 || g.Outputs[0].Name != "h2" || g.Outputs[0].ElemType != Float || len(g.Outputs[0].Shape) != 2 || g.Outputs[0].Shape[1].Value != 3 {
		t.Errorf("outputs %+v, want h2 float [N,3] (from value_info)", g.Outputs)
	}
	if got := names(g.ValueInfo, func(v *ValueInfo) string { return v.Name }); !slices.Equal(got, []string{"h1"}) {
		t.Errorf("value_info %v, want [h1]", got)
	}
	if sub.IRVersion != 8 || sub.Opset() != 13 || sub.ProducerName != "test" || len(sub.MetadataProps) != 1 {
		t.Errorf("header not copied: %+v", sub)
	}

	// The cut model computes what the full graph computes for h2.
	full := mlpModel()
	full.Graph.Outputs = append(full.Graph.Outputs, NewValueInfo("h2", Float, nil))
	x := NewFloatTensor("x", []int64{2, 4}, []float32{1, 2, 3, 4, -1, 0.5, 2, -3})
	y := NewFloatTensor("y", []int64{2, 2}, []float32{0, 0, 0, 0})
	want := runModel(t, full, map[string]*Tensor{"x": x, "y": y})["h2"]
	var buf bytes.Buffer
	if err := sub.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := DecodeBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	got := runModel(t, back, map[string]*Tensor{"x": x})["h2"]
	if err := Compare(got, want, Tolerance{}); err != nil {
		t.Error(err)
	}

	// Editing the result leaves the source alone.
	sub.Graph.Nodes[1].Outputs[0] = "renamed"
	sub.Graph.Outputs[0].Shape[1].Value = 99
	if m.Graph.Nodes[2].Outputs[0] != "h2" || m.Graph.ValueInfo[1].Shape[1].Value != 3 {
		t.Error("editing the subgraph changed the source model")
	}
	if len(m.Graph.Nodes) != 5 || len(m.Graph.Initializer) != 5 || len(m.Graph.Inputs) != 2 {
		t.Error("ExtractSubgraph changed the source model")
	}
}

func runModel(t *testing.T, m *Model, in map[string]*Tensor) map[string]*Tensor {
	t.Helper()
	p, err := Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestExtractSubgraphSeveralOutputs(t *testing.T) {
	sub, err := ExtractSubgraph(mlpModel(), "logits", "ys", "x", "w2")
	if err != nil {
		t.Fatal(err)
	}
	g := sub.Graph
	if got := names(g.Nodes, func(n *Node) string { return n.Name }); !slices.Equal(got, []string{"fc1", "side", "relu", "fc2"}) {
		t.Errorf("nodes %v", got)
	}
	if got := names(g.Inputs, func(v *ValueInfo) string { return v.Name }); !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("inputs %v", got)
	}
	if got := names(g.Outputs, func(v *ValueInfo) string { return v.Name }); !slices.Equal(got, []string{"logits", "ys", "x", "w2"}) {
		t.Errorf("outputs %v", got)
	}
	if o := g.Outputs[3]; o.ElemType != Float || len(o.Shape) != 2 || o.Shape[0].Value != 2 {
		t.Errorf("initializer output described as %+v", o)
	}
	if len(g.ValueInfo) != 2 { // h1, h2; logits is an output now
		t.Errorf("value_info %v", names(g.ValueInfo, func(v *ValueInfo) string { return v.Name }))
	}
	if _, err := Compile(sub); err != nil {
		t.Error(err)
	}
}

// A tensor the graph records nothing about becomes an untyped output.
func TestExtractSubgraphUntypedOutput(t *testing.T) {
	m := mlpModel()
	m.Graph.ValueInfo = nil
	sub, err := ExtractSubgraph(m, "h1")
	if err != nil {
		t.Fatal(err)
	}
	if o := sub.Graph.Outputs[0]; o.Name != "h1" || o.ElemType != Undefined || o.HasShape {
		t.Errorf("output %+v, want an untyped h1", o)
	}
	if len(sub.Graph.Nodes) != 1 {
		t.Errorf("%d nodes, want 1", len(sub.Graph.Nodes))
	}
}

// Control-flow bodies keep the outer tensors they read.
func TestExtractSubgraphKeepsOuterReferences(t *testing.T) {
	m := mlpModel()
	body := &Graph{
		Name:    "then",
		Nodes:   []*Node{NewNode("Relu", "inner", []string{"h1"}, []string{"r"})},
		Outputs: []*ValueInfo{{Name: "r"}},
	}
	m.Graph.Initializer = append(m.Graph.Initializer, NewFloatTensor("cond", nil, []float32{1}))
	m.Graph.Nodes = append(m.Graph.Nodes, &Node{Name: "if", OpType: "If", Inputs: []string{"cond"}, Outputs: []string{"z"},
		Attributes: []*Attribute{{Name: "then_branch", Type: AttrTypeGraph, G: body}}})
	sub, err := ExtractSubgraph(m, "z")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(sub.Graph.Nodes, func(n *Node) string { return n.Name }); !slices.Equal(got, []string{"fc1", "if"}) {
		t.Errorf("nodes %v, want [fc1 if]", got)
	}
}

func TestExtractSubgraphErrors(t *testing.T) {
	broken := mlpModel()
	broken.Graph.Nodes[2].Inputs[0] = "ghost"
	dup := mlpModel()
	dup.Graph.Nodes[1].Outputs[0] = "h1"
	for _, c := range []struct {
		name    string
		m       *Model
		outputs []string
		want    string
	}{
		{"unknown tensor", mlpModel(), []string{"features"}, `tensor "features" is not in the graph`},
		{"named twice", mlpModel(), []string{"h2", "h2"}, `"h2" is named twice`},
		{"no outputs", mlpModel(), nil, "no output tensor"},
		{"empty name", mlpModel(), []string{""}, "empty output tensor name"},
		{"no graph", &Model{}, []string{"x"}, "no graph"},
		{"nil model", nil, []string{"x"}, "no graph"},
		{"undefined input", broken, []string{"logits"}, `input "ghost" is not a graph input`},
		{"two producers", dup, []string{"h2"}, `"h1" is produced by both`},
	} {
		_, err := ExtractSubgraph(c.m, c.outputs...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
	// A broken node nothing needs does not matter.
	if _, err := ExtractSubgraph(broken, "h1"); err != nil {
		t.Errorf("cut below the broken node: %v", err)
	}
}
