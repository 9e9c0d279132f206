package interop

import (
	"fmt"
	"math/rand/v2"

	"github.com/fewshot-go/fewshot/onnxio"
)

// Input describes one input a model expects from its caller (a graph input
// that no initializer supplies). A negative dim is symbolic (such as a
// batch dimension "N") or unknown.
type Input struct {
	Name string
	Dims []int
}

// ModelInputs lists the inputs of the ONNX model at path, in graph order.
// Graph inputs that are also initializers (as IR version 3 files list their
// weights) are left out. Every input must be float32.
func ModelInputs(path string) ([]Input, error) {
	m, err := onnxio.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if m.Graph == nil {
		return nil, fmt.Errorf("%s: model has no graph", path)
	}
	inits := make(map[string]bool, len(m.Graph.Initializer))
	for _, t := range m.Graph.Initializer {
		inits[t.Name] = true
	}
	var ins []Input
	for _, vi := range m.Graph.Inputs {
		if inits[vi.Name] {
			continue
		}
		if vi.ElemType != onnxio.Float {
			return nil, fmt.Errorf("%s: input %q is %v; only float32 inputs are supported", path, vi.Name, vi.ElemType)
		}
		if !vi.HasShape {
			return nil, fmt.Errorf("%s: input %q has no shape", path, vi.Name)
		}
		dims := make([]int, len(vi.Shape))
		for i, d := range vi.Shape {
			dims[i] = int(d.Value)
			if d.Value <= 0 {
				dims[i] = -1
			}
		}
		ins = append(ins, Input{Name: vi.Name, Dims: dims})
	}
	if len(ins) == 0 {
		return nil, fmt.Errorf("%s: model has no inputs to feed", path)
	}
	return ins, nil
}

// SyntheticInputs makes one deterministic tensor per input of the model at
// path, with every symbolic or unknown dim set to batch and values drawn
// uniformly from [-1, 1) by a generator seeded with seed.
func SyntheticInputs(path string, batch int, seed uint64) ([]Tensor, error) {
	if batch <= 0 {
		return nil, fmt.Errorf("batch must be positive, got %d", batch)
	}
	ins, err := ModelInputs(path)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	out := make([]Tensor, len(ins))
	for k, in := range ins {
		t := Tensor{Name: in.Name, Dims: make([]int, len(in.Dims))}
		for i, d := range in.Dims {
			if d < 0 {
				d = batch
			}
			t.Dims[i] = d
		}
		t.Data = make([]float32, t.NumElements())
		for i := range t.Data {
			t.Data[i] = float32(2*rng.Float64() - 1)
		}
		out[k] = t
	}
	return out, nil
}
