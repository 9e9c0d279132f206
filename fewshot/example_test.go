package fewshot_test

import (
	"fmt"
	"image"
	"image/color"
	"log"
	"math"
	"math/rand/v2"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/export"
	"github.com/fewshot-go/fewshot/fewshot"
)

// exampleModel stands in for a trained model file: a random Conv-4
// embedding for 28×28 grayscale images, written by package export. Real
// programs call fewshot.LoadModel or fewshot.DefaultModel instead.
func exampleModel() *fewshot.Model {
	rng := rand.New(rand.NewPCG(1, 2))
	w := func(n int, std float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * std)
		}
		return v
	}
	var layers []export.Layer
	in := 1
	for range 4 {
		layers = append(layers,
			&export.Conv{Weight: w(16*in*9, math.Sqrt(2/float64(in*9))), Bias: w(16, 0.01), In: in, Out: 16, KH: 3, KW: 3,
				PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
			export.ReLU{}, &export.MaxPool{KH: 2, KW: 2})
		in = 16
	}
	layers = append(layers, export.Flatten{})
	m, err := export.Model(export.Spec{Embedding: layers, Preprocess: episode.OmniglotPreprocess(), Metric: fewshot.Euclidean})
	if err != nil {
		log.Fatal(err)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		log.Fatal(err)
	}
	model, err := fewshot.ParseModel(b)
	if err != nil {
		log.Fatal(err)
	}
	return model
}

// glyph draws a black stroke pattern on white, like an Omniglot character.
func glyph(seed uint64) image.Image {
	rng := rand.New(rand.NewPCG(seed, seed))
	img := image.NewGray(image.Rect(0, 0, 105, 105))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	x, y := 52, 52
	for range 400 {
		x = min(max(x+rng.IntN(5)-2, 10), 94)
		y = min(max(y+rng.IntN(5)-2, 10), 94)
		for dx := range 4 {
			for dy := range 4 {
				img.SetGray(x+dx, y+dy, color.Gray{})
			}
		}
	}
	return img
}

func ExampleClassifier_Classify() {
	clf, err := fewshot.New(exampleModel()) // or fewshot.New(fewshot.DefaultModel())
	if err != nil {
		log.Fatal(err)
	}
	supports := []fewshot.Example{
		{Label: "alpha", Image: glyph(1)},
		{Label: "beta", Image: glyph(2)},
		{Label: "gamma", Image: glyph(3)},
	}
	queries := []image.Image{glyph(3), glyph(1)}
	preds, err := clf.Classify(supports, queries)
	if err != nil {
		log.Fatal(err)
	}
	for i, p := range preds {
		fmt.Printf("query %d: %s (classes %v)\n", i, p.Label, p.Classes)
	}
	// Output:
	// query 0: gamma (classes [alpha beta gamma])
	// query 1: alpha (classes [alpha beta gamma])
}

// Fit once, then predict many times and add classes as they come.
func ExampleClassifier_Fit() {
	clf, err := fewshot.New(exampleModel())
	if err != nil {
		log.Fatal(err)
	}
	protos, err := clf.Fit([]fewshot.Example{
		{Label: "alpha", Image: glyph(1)},
		{Label: "beta", Image: glyph(2)},
	})
	if err != nil {
		log.Fatal(err)
	}
	// A new class needs only its examples: no retraining.
	if err := protos.Add("delta", glyph(4)); err != nil {
		log.Fatal(err)
	}
	for _, q := range []uint64{4, 2} {
		preds, err := protos.Predict([]image.Image{glyph(q)})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(preds[0].Label)
	}
	fmt.Println(protos.Classes())
	// Output:
	// delta
	// beta
	// [alpha beta delta]
}
