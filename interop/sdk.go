package interop

import (
	"fmt"

	"github.com/fewshot-go/fewshot/onnxio"
)

// SDK runs models with the fewshot SDK's own executor ([onnxio.Compile]).
type SDK struct{}

// Name returns "fewshot".
func (SDK) Name() string { return "fewshot" }

// Run implements [Runner].
func (SDK) Run(modelPath string, inputs []Tensor) ([]Tensor, error) {
	m, err := onnxio.ReadFile(modelPath)
	if err != nil {
		return nil, err
	}
	plan, err := onnxio.Compile(m)
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	feeds := make(map[string]*onnxio.Tensor, len(inputs))
	for _, in := range inputs {
		dims := make([]int64, len(in.Dims))
		for i, d := range in.Dims {
			dims[i] = int64(d)
		}
		feeds[in.Name] = onnxio.NewFloatTensor(in.Name, dims, in.Data)
	}
	got, err := plan.Run(feeds)
	if err != nil {
		return nil, err
	}
	outs := make([]Tensor, 0, len(plan.Outputs()))
	for _, vi := range plan.Outputs() {
		pt, ok := got[vi.Name]
		if !ok {
			return nil, fmt.Errorf("output %q missing from the run's results", vi.Name)
		}
		t, err := fromProto(pt, "output")
		if err != nil {
			return nil, err
		}
		t.Name = vi.Name
		outs = append(outs, t)
	}
	return outs, nil
}
