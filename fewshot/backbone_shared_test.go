package fewshot_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/fewshot"
	"github.com/fewshot-go/fewshot/internal/testshared"
	"github.com/fewshot-go/fewshot/onnxio"
)

// Real torchvision exports (random weights: this machine has no pretrained
// ones) import with the default rule, load with LoadModel, classify a
// 3-way episode, and embed exactly as the original graph's tensor does.
// MNASNet ends in ReduceMean then Gemm; SqueezeNet's classifier is a 1×1
// convolution, ReLU and global average pooling, so its embedding is the
// 512 feature maps entering that convolution, averaged.
func TestImportTorchvision(t *testing.T) {
	for _, c := range []struct {
		name, tensor, head string
		pooled             bool
		dim                int
	}{
		{"mnasnet0_5-op13", "/ReduceMean_output_0", `Gemm node "/classifier/classifier.1/Gemm"`, false, 1280},
		{"squeezenet1_1-op13", "/features/features.12/Concat_output_0", `Conv node "/classifier/classifier.1/Conv"`, true, 512},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := filepath.Join(testshared.Path(t, "torchvision/"+c.name), "model.onnx")
			out := filepath.Join(t.TempDir(), c.name+"-fewshot.onnx")
			imp, err := fewshot.ImportBackboneFile(in, out, fewshot.BackboneOptions{TrainingData: "random weights"})
			if err != nil {
				t.Fatal(err)
			}
			if imp.Embedding != c.tensor || imp.Pooled != c.pooled || !strings.HasPrefix(imp.Head, c.head) {
				t.Errorf("cut at %q pooled=%v (%s); want %q pooled=%v (%s)", imp.Embedding, imp.Pooled, imp.Head, c.tensor, c.pooled, c.head)
			}
			m, err := fewshot.LoadModel(out)
			if err != nil {
				t.Fatal(err)
			}
			info := m.Info()
			if !slices.Equal(info.EmbeddingShape, []int{c.dim}) || info.Preprocess.Width != 224 || info.Preprocess.ResizeShorter != 256 {
				t.Errorf("loaded: embedding %v, preprocess %s", info.EmbeddingShape, info.Preprocess)
			}
			src, err := onnxio.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			checkImported(t, src, imp, c.dim)
		})
	}
}
