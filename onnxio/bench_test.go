package onnxio

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/fewshot-go/fewshot/internal/kernel"
	"github.com/fewshot-go/fewshot/internal/testshared"
)

// BenchmarkConv4ORTRef runs the Conv-4 reference model on 84×84×3 images
// with 2 threads, at batch 80 (an episode's worth) and batch 1.
func BenchmarkConv4ORTRef(b *testing.B) {
	path := filepath.Join(testshared.Path(b, "onnx-models/conv4-random-ortref"), "model.onnx")
	m, err := ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	plan, err := Compile(m)
	if err != nil {
		b.Fatal(err)
	}
	defer kernel.SetThreads(kernel.SetThreads(2))
	for _, batch := range []int{80, 1} {
		b.Run(fmt.Sprintf("batch%d", batch), func(b *testing.B) {
			data := make([]float32, batch*3*84*84)
			for i := range data {
				data[i] = float32(i%251) / 250
			}
			x := NewFloatTensor("input", []int64{int64(batch), 3, 84, 84}, data)
			for b.Loop() {
				if _, err := plan.RunPositional(x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
