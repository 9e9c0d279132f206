package fewshot_test

import (
	"fmt"
	"image"
	"image/color"
	"log"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/fewshot"
	"github.com/fewshot-go/fewshot/onnxio"
)

// tinyClassifier stands in for a pretrained network such as a torchvision
// ResNet exported to ONNX: a 1×1 convolution that copies the colour
// channels, global average pooling, and a 10-class fully connected layer.
// Real programs read theirs with onnxio.ReadFile, or call
// fewshot.ImportBackboneFile (or the "fewshot import" command) once and
// fewshot.LoadModel afterwards.
func tinyClassifier() *onnxio.Model {
	eye := []float32{1, 0, 0, 0, 1, 0, 0, 0, 1}
	return &onnxio.Model{
		IRVersion:   8,
		OpsetImport: []onnxio.OperatorSetID{{Version: 13}},
		Graph: &onnxio.Graph{
			Inputs: []*onnxio.ValueInfo{onnxio.NewValueInfo("image", onnxio.Float, []int64{-1, 3, 32, 32}, "N")},
			Initializer: []*onnxio.Tensor{
				onnxio.NewFloatTensor("conv.w", []int64{3, 3, 1, 1}, eye),
				onnxio.NewFloatTensor("fc.w", []int64{10, 3}, make([]float32, 30)),
			},
			Nodes: []*onnxio.Node{
				onnxio.NewNode("Conv", "conv", []string{"image", "conv.w"}, []string{"maps"}),
				onnxio.NewNode("Relu", "relu", []string{"maps"}, []string{"relu"}),
				onnxio.NewNode("GlobalAveragePool", "pool", []string{"relu"}, []string{"pooled"}),
				onnxio.NewNode("Flatten", "flatten", []string{"pooled"}, []string{"features"}),
				onnxio.NewNode("Gemm", "fc", []string{"features", "fc.w"}, []string{"logits"}, onnxio.AttrInt("transB", 1)),
			},
			Outputs: []*onnxio.ValueInfo{{Name: "logits"}},
		},
	}
}

func solidImage(w, h int, c color.Color) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	return img
}

// Turn a classification network into a few-shot classifier: the graph is
// cut before its final fully connected layer, and prototypes of the
// features recognise classes from one example each.
func ExampleImportBackbone() {
	pre := episode.ImageNetPreprocess()
	pre.Width, pre.Height, pre.ResizeShorter = 32, 32, 36 // this network takes 32×32 crops
	imp, err := fewshot.ImportBackbone(tinyClassifier(), fewshot.BackboneOptions{Preprocess: pre})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("embedding %q, %d values, classifier %s\n", imp.Embedding, imp.Info.EmbeddingSize(), imp.Head)

	model, err := fewshot.ParseModel(imp.Bytes) // or fewshot.LoadModel on the file ImportBackboneFile wrote
	if err != nil {
		log.Fatal(err)
	}
	clf, err := fewshot.New(model)
	if err != nil {
		log.Fatal(err)
	}
	supports := []fewshot.Example{
		{Label: "sky", Image: solidImage(48, 40, color.RGBA{60, 120, 230, 255})},
		{Label: "grass", Image: solidImage(40, 64, color.RGBA{50, 180, 40, 255})},
	}
	query := solidImage(100, 60, color.RGBA{70, 130, 210, 255})
	preds, err := clf.Classify(supports, []image.Image{query})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(preds[0].Label)
	// Output:
	// embedding "features", 3 values, classifier Gemm node "fc"
	// sky
}
