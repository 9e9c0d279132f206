package onnxio

import (
	"path/filepath"
	"testing"

	"github.com/fewshot-go/fewshot/internal/kernel"
	"github.com/fewshot-go/fewshot/internal/testshared"
)

// BenchmarkTorchvision runs the shared torchvision exports on their test
// input (batch 1) with 2 threads; for profiles of whole networks.
func BenchmarkTorchvision(b *testing.B) {
	defer kernel.SetThreads(kernel.SetThreads(2))
	for _, name := range []string{"mnasnet0_5-op13", "mobilenet_v3_small-op13"} {
		b.Run(name, func(b *testing.B) {
			dir := testshared.Path(b, "torchvision/"+name)
			m, err := ReadFile(filepath.Join(dir, "model.onnx"))
			if err != nil {
				b.Fatal(err)
			}
			plan, err := Compile(m)
			if err != nil {
				b.Fatal(err)
			}
			in, err := ReadTensorFile(filepath.Join(dir, "test_data_set_0", "input_0.pb"))
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := plan.RunPositional(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
