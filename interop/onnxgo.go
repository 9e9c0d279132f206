package interop

import (
	"fmt"
	"os"

	onnx "github.com/owulveryck/onnx-go"
	"github.com/owulveryck/onnx-go/backend/x/gorgonnx"
	"gorgonia.org/tensor"
)

// OnnxGo runs models with github.com/owulveryck/onnx-go and its gorgonia
// backend (gorgonnx). See README.md for the operator forms it can read.
type OnnxGo struct{}

// Name returns "onnx-go".
func (OnnxGo) Name() string { return "onnx-go" }

// Run implements [Runner]. onnx-go and gorgonia panic on some inputs they do
// not support; such panics are returned as errors.
func (OnnxGo) Run(modelPath string, inputs []Tensor) (outs []Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			outs, err = nil, fmt.Errorf("onnx-go panicked: %v", r)
		}
	}()
	b, err := os.ReadFile(modelPath)
	if err != nil {
		return nil, err
	}
	backend := gorgonnx.NewGraph()
	m := onnx.NewModel(backend)
	if err := m.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if len(m.Input) != len(inputs) {
		return nil, fmt.Errorf("onnx-go sees %d inputs, got %d", len(m.Input), len(inputs))
	}
	// Model.SetInput indexes nodes by position rather than by m.Input[i],
	// which is wrong when initializers are listed among the graph inputs, so
	// the nodes are looked up by ID here.
	for i, in := range inputs {
		n, ok := backend.Node(m.Input[i]).(*gorgonnx.Node)
		if !ok {
			return nil, fmt.Errorf("input %d (%q) has no onnx-go node", i, in.Name)
		}
		if n.GetName() != in.Name {
			return nil, fmt.Errorf("input %d is %q in onnx-go, got %q", i, n.GetName(), in.Name)
		}
		data := make([]float32, len(in.Data))
		copy(data, in.Data)
		if err := n.SetTensor(tensor.New(tensor.WithShape(in.Dims...), tensor.WithBacking(data))); err != nil {
			return nil, fmt.Errorf("input %q: %w", in.Name, err)
		}
	}
	if err := backend.Run(); err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	got, err := m.GetOutputTensors()
	if err != nil {
		return nil, err
	}
	outs = make([]Tensor, len(got))
	for k, t := range got {
		name := ""
		if n, ok := backend.Node(m.Output[k]).(*gorgonnx.Node); ok {
			name = n.GetName()
		}
		data, ok := t.Data().([]float32)
		if !ok {
			return nil, fmt.Errorf("output %d (%q) is %T, want []float32", k, name, t.Data())
		}
		outs[k] = Tensor{Name: name, Dims: append([]int(nil), t.Shape()...), Data: append([]float32(nil), data...)}
		if err := outs[k].check(); err != nil {
			return nil, fmt.Errorf("output: %w", err)
		}
	}
	return outs, nil
}
