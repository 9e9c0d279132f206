package fewshot_test

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/export"
	"github.com/fewshot-go/fewshot/fewshot"
)

func randWeights(rng *rand.Rand, n int, std float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * std)
	}
	return v
}

// convBlock is Conv 3×3 (pad 1) → BatchNorm → ReLU → MaxPool 2×2 with
// random weights.
func convBlock(rng *rand.Rand, in, out int) []export.Layer {
	vars := make([]float32, out)
	gamma := make([]float32, out)
	for i := range vars {
		vars[i], gamma[i] = 0.5+rng.Float32(), 0.5+rng.Float32()
	}
	return []export.Layer{
		&export.Conv{Weight: randWeights(rng, out*in*9, math.Sqrt(2/float64(in*9))), Bias: randWeights(rng, out, 0.05),
			In: in, Out: out, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		&export.BatchNorm{Gamma: gamma, Beta: randWeights(rng, out, 0.1), Mean: randWeights(rng, out, 0.1), Var: vars},
		export.ReLU{},
		&export.MaxPool{KH: 2, KW: 2},
	}
}

// modelBytes exports a random Conv-4-like model (blocks conv blocks of
// hidden filters) and returns its serialized bytes.
func modelBytes(tb testing.TB, seed uint64, pre episode.Preprocess, metric fewshot.Metric, blocks, hidden int) []byte {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	var emb []export.Layer
	in := pre.Channels
	for range blocks {
		emb = append(emb, convBlock(rng, in, hidden)...)
		in = hidden
	}
	spec := export.Spec{Preprocess: pre, Metric: metric, Algorithm: "random", TrainingData: "none"}
	if metric == fewshot.Relation {
		// Feature maps stay [hidden, h, w]; the relation module is one
		// conv block, a hidden layer and a sigmoid.
		h, w := pre.Height>>blocks, pre.Width>>blocks
		flat := hidden * (h / 2) * (w / 2)
		spec.Relation = append(convBlock(rng, 2*hidden, hidden), export.Flatten{},
			&export.Linear{Weight: randWeights(rng, 8*flat, 1/math.Sqrt(float64(flat))), Bias: randWeights(rng, 8, 0.1), In: flat, Out: 8},
			export.ReLU{},
			&export.Linear{Weight: randWeights(rng, 8, 0.5), Bias: randWeights(rng, 1, 0.1), In: 8, Out: 1},
			export.Sigmoid{})
	} else {
		emb = append(emb, export.Flatten{})
	}
	spec.Embedding = emb
	m, err := export.Model(spec)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func newClassifier(tb testing.TB, b []byte, opts ...fewshot.Option) *fewshot.Classifier {
	tb.Helper()
	m, err := fewshot.ParseModel(b)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := fewshot.New(m, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// noise returns a w×h image of random colours.
func noise(rng *rand.Rand, w, h int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255
	}
	return img
}

// blob returns a w×h gray image with a bright square at (x, y).
func blob(w, h, x, y, size int) image.Image {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range size {
		for j := range size {
			img.SetGray(x+i, y+j, color.Gray{Y: 255})
		}
	}
	return img
}

// task returns a support set of way classes with shot noise images each,
// labels "c0", "c1", ..., and the images by class.
func task(seed uint64, way, shot, w, h int) ([]fewshot.Example, [][]image.Image) {
	rng := rand.New(rand.NewPCG(seed, 7))
	var sup []fewshot.Example
	byClass := make([][]image.Image, way)
	for c := range way {
		for range shot {
			img := noise(rng, w, h)
			sup = append(sup, fewshot.Example{Label: label(c), Image: img})
			byClass[c] = append(byClass[c], img)
		}
	}
	return sup, byClass
}

func label(c int) string { return "c" + string(rune('0'+c)) }
