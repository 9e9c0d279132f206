package onnxio_test

import (
	"bytes"
	"fmt"

	"github.com/fewshot-go/fewshot/onnxio"
)

// Build a one-node model in code, serialize it, read it back and run it.
func Example() {
	m := &onnxio.Model{
		IRVersion:    onnxio.RecommendedIRVersion,
		OpsetImport:  []onnxio.OperatorSetID{{Version: onnxio.RecommendedOpset}},
		ProducerName: "example",
		Graph: &onnxio.Graph{
			Name:    "softmax",
			Nodes:   []*onnxio.Node{onnxio.NewNode("Softmax", "sm", []string{"x"}, []string{"y"}, onnxio.AttrInt("axis", -1))},
			Inputs:  []*onnxio.ValueInfo{onnxio.NewValueInfo("x", onnxio.Float, []int64{-1, 3}, "N")},
			Outputs: []*onnxio.ValueInfo{onnxio.NewValueInfo("y", onnxio.Float, []int64{-1, 3}, "N")},
		},
	}
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		panic(err)
	}
	m2, err := onnxio.Decode(&buf)
	if err != nil {
		panic(err)
	}
	plan, err := onnxio.Compile(m2)
	if err != nil {
		panic(err)
	}
	out, err := plan.Run(map[string]*onnxio.Tensor{
		"x": onnxio.NewFloatTensor("x", []int64{1, 3}, []float32{0, 0, 0}),
	})
	if err != nil {
		panic(err)
	}
	y, _ := out["y"].Float32s()
	fmt.Printf("%.4f\n", y)
	// Output: [0.3333 0.3333 0.3333]
}

// Time a plan step by step: which operators take a network's time.
func ExamplePlan_RunProfiled() {
	m := &onnxio.Model{
		IRVersion:   onnxio.RecommendedIRVersion,
		OpsetImport: []onnxio.OperatorSetID{{Version: onnxio.RecommendedOpset}},
		Graph: &onnxio.Graph{
			Name: "relu-softmax",
			Nodes: []*onnxio.Node{
				onnxio.NewNode("Relu", "relu", []string{"x"}, []string{"r"}),
				onnxio.NewNode("Softmax", "sm", []string{"r"}, []string{"y"}, onnxio.AttrInt("axis", -1)),
			},
			Inputs:  []*onnxio.ValueInfo{onnxio.NewValueInfo("x", onnxio.Float, []int64{1, 3})},
			Outputs: []*onnxio.ValueInfo{onnxio.NewValueInfo("y", onnxio.Float, []int64{1, 3})},
		},
	}
	plan, err := onnxio.Compile(m)
	if err != nil {
		panic(err)
	}
	_, times, err := plan.RunProfiled(onnxio.NewFloatTensor("x", []int64{1, 3}, []float32{-1, 0, 1}))
	if err != nil {
		panic(err)
	}
	for _, st := range times {
		fmt.Println(st.Node.OpType, st.Duration >= 0)
	}
	// Output:
	// Relu true
	// Softmax true
}
