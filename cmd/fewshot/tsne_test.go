package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/export"
	"github.com/fewshot-go/fewshot/fewshot"
)

// tsneFixture writes a random one-block convolutional model for 16×16
// grayscale images and a dataset of 6 classes × 10 images (a bright square
// at a class-specific place, plus noise), and returns their paths.
func tsneFixture(t *testing.T) (model, data string) {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	randn := func(n int, std float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * std)
		}
		return v
	}
	const hidden = 8
	spec := export.Spec{
		Preprocess: episode.Preprocess{Width: 16, Height: 16, Channels: 1, Filter: "linear"},
		Metric:     fewshot.Euclidean,
		Embedding: []export.Layer{
			&export.Conv{Weight: randn(hidden*9, math.Sqrt(2.0/9)), Bias: randn(hidden, 0.05),
				In: 1, Out: hidden, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
			export.ReLU{},
			&export.MaxPool{KH: 2, KW: 2},
			export.Flatten{},
		},
		Algorithm: "random", TrainingData: "none",
	}
	m, err := export.Model(spec)
	if err != nil {
		t.Fatal(err)
	}
	model = filepath.Join(dir, "model.onnx")
	if err := export.WriteFile(model, m); err != nil {
		t.Fatal(err)
	}
	data = filepath.Join(dir, "data")
	for c := range 6 {
		cdir := filepath.Join(data, fmt.Sprintf("class%d", c))
		if err := os.MkdirAll(cdir, 0o755); err != nil {
			t.Fatal(err)
		}
		for k := range 10 {
			img := image.NewGray(image.Rect(0, 0, 16, 16))
			for i := range img.Pix {
				img.Pix[i] = uint8(rng.IntN(40))
			}
			x, y := 2*c, 12-2*c
			for i := range 4 {
				for j := range 4 {
					img.SetGray(x+i, y+j-2, color.Gray{Y: 255})
				}
			}
			var buf bytes.Buffer
			if err := png.Encode(&buf, img); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(cdir, fmt.Sprintf("%02d.png", k)), buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return model, data
}

func TestTSNECommand(t *testing.T) {
	model, data := tsneFixture(t)
	out := filepath.Join(t.TempDir(), "tsne")
	cache := t.TempDir()
	var stdout, stderr bytes.Buffer
	env := &cmdEnv{stdout: &stdout, stderr: &stderr}
	args := []string{"tsne", "--model", model, "--data", data, "--way", "4", "--shot", "2", "--query", "5",
		"--seed", "3", "--iterations", "300", "--cache-dir", cache, "--out", out}
	if code := runMain(context.Background(), env, args); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "28 images, perplexity 9, KL ") ||
		!strings.HasSuffix(stdout.String(), "wrote "+out+".png\nwrote "+out+".svg\n") {
		t.Errorf("stdout %q", stdout.String())
	}
	f, err := os.Open(out + ".png")
	if err != nil {
		t.Fatal(err)
	}
	_, err = png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(out + ".svg")
	if err != nil {
		t.Fatal(err)
	}
	classes := 0
	for c := range 6 {
		if bytes.Contains(svg, []byte(fmt.Sprintf(">class%d<", c))) {
			classes++
		}
	}
	if classes != 4 || !bytes.Contains(svg, []byte("4-way 2-shot")) {
		t.Errorf("SVG names %d classes, want 4, or lacks the default title", classes)
	}

	// The same seed draws the same figure.
	first, _ := os.ReadFile(out + ".svg")
	stdout.Reset()
	if code := runMain(context.Background(), env, args); code != 0 {
		t.Fatalf("second run: exit %d: %s", code, stderr.String())
	}
	second, _ := os.ReadFile(out + ".svg")
	if !bytes.Equal(first, second) {
		t.Error("two runs with the same seed wrote different SVGs")
	}
}

func TestTSNECommandErrors(t *testing.T) {
	model, data := tsneFixture(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "x")
	cache := t.TempDir()
	missingModel := filepath.Join(dir, "none.onnx")
	missingData := filepath.Join(dir, "no-data")
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no model", []string{"--data", data, "--out", out}, 2, "--model is required"},
		{"no data", []string{"--model", model, "--out", out}, 2, "--data is required"},
		{"no out", []string{"--model", model, "--data", data}, 2, "--out is required"},
		{"bad way", []string{"--model", model, "--data", data, "--out", out, "--way", "0"}, 2, "--way 0"},
		{"bad flag", []string{"--model", model, "--data", data, "--out", out, "--seed", "x"}, 2, "seed"},
		{"missing model", []string{"--model", missingModel, "--data", data, "--out", out}, 1, missingModel},
		{"missing data", []string{"--model", model, "--data", missingData, "--out", out, "--cache-dir", cache}, 1, missingData},
		{"too many classes", []string{"--model", model, "--data", data, "--out", out, "--way", "7", "--cache-dir", cache}, 1, "7-way"},
	} {
		var stdout, stderr bytes.Buffer
		code := runMain(context.Background(), &cmdEnv{stdout: &stdout, stderr: &stderr}, append([]string{"tsne"}, tc.args...))
		if code != tc.code || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", tc.name, code, stderr.String(), tc.code, tc.msg)
		}
	}
	if _, err := os.Stat(out + ".png"); err == nil {
		t.Error("a failed run wrote a figure")
	}
}
