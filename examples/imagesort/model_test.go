package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/fewshot"
)

func colourImage(rng *rand.Rand, w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255
	}
	return img
}

func TestIsColour(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gray := image.NewGray(image.Rect(0, 0, 50, 40))
	grayRGB := image.NewNRGBA(image.Rect(0, 0, 300, 200)) // gray content in an RGB image, with slight JPEG-like noise
	for i := 0; i < len(grayRGB.Pix); i += 4 {
		v := uint8(rng.IntN(250))
		grayRGB.Pix[i], grayRGB.Pix[i+1], grayRGB.Pix[i+2], grayRGB.Pix[i+3] = v, v+uint8(rng.IntN(3)), v, 255
	}
	mostlyGray := image.NewNRGBA(image.Rect(0, 0, 100, 100))
	copy(mostlyGray.Pix, grayRGB.Pix)
	for x := range 100 { // one coloured row of 100: 1 % of the pixels
		mostlyGray.Set(x, 50, color.NRGBA{R: 255, A: 255})
	}
	for _, c := range []struct {
		name string
		img  image.Image
		want bool
	}{
		{"random colour", colourImage(rng, 84, 84), true},
		{"gray model", gray, false},
		{"gray content in RGB", grayRGB, false},
		{"1 % coloured", mostlyGray, true},
		{"empty", image.NewNRGBA(image.Rect(0, 0, 0, 0)), false},
		{"nil", nil, false},
	} {
		if got := isColour(c.img); got != c.want {
			t.Errorf("%s: isColour = %v, want %v", c.name, got, c.want)
		}
	}
	ex := func(imgs ...image.Image) []fewshot.Example {
		var out []fewshot.Example
		for _, im := range imgs {
			out = append(out, fewshot.Example{Label: "a", Image: im})
		}
		return out
	}
	c := colourImage(rng, 20, 20)
	if m := chooseDefaultModel(ex(c, c, gray)); m.model != fewshot.DefaultPhotoModel() || !strings.Contains(m.name, "2 of the 3") {
		t.Errorf("2 colour of 3: %s", m.name)
	}
	if m := chooseDefaultModel(ex(c, gray)); m.model != fewshot.DefaultModel() || !strings.Contains(m.name, "Omniglot") {
		t.Errorf("1 colour of 2: %s", m.name)
	}
}

// Without --model, colour photos are sorted with the built-in photo model
// at its own default confidence, and drawings with the Omniglot model; the
// run says which.
func TestRunChoosesModel(t *testing.T) {
	if err := fewshot.DefaultPhotoModel().Err(); errors.Is(err, fewshot.ErrNoDefaultModel) {
		t.Skip("no built-in photo model")
	}
	root := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, p := range []string{"examples/red/a.png", "examples/red/b.png", "examples/blue/c.png", "in/x.png", "in/y.png"} {
		var buf bytes.Buffer
		if err := png.Encode(&buf, colourImage(rng, 90, 90)); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(root, filepath.FromSlash(p)), buf.Bytes())
	}
	var stdout, stderr bytes.Buffer
	args := []string{"--examples", filepath.Join(root, "examples"), "--in", filepath.Join(root, "in"), "--out", filepath.Join(root, "out")}
	if got := run(context.Background(), args, &stdout, &stderr); got != exitOK {
		t.Fatalf("run = %d, stderr %s", got, stderr.String())
	}
	if want := "model: " + photoModelName; !strings.Contains(stdout.String(), want) || !strings.Contains(stdout.String(), "min confidence "+fmt.Sprint(photoMinConfidence)+"\n") {
		t.Errorf("stdout %q, want %q and min confidence %v", stdout.String(), want, photoMinConfidence)
	}
	stdout.Reset()
	if got := run(context.Background(), append(args, "--min-confidence", "0.2", "--dry-run"), &stdout, &stderr); got != exitOK ||
		!strings.Contains(stdout.String(), "min confidence 0.2\n") {
		t.Errorf("explicit --min-confidence: run = %d, stdout %q", got, stdout.String())
	}

	f := newFixture(t, 1)
	stdout.Reset()
	if got := run(context.Background(), []string{"--examples", f.examples, "--in", f.in, "--out", f.out}, &stdout, &stderr); got != exitOK {
		t.Fatalf("run = %d, stderr %s", got, stderr.String())
	}
	if want := "model: " + omniglotModelName; !strings.Contains(stdout.String(), want) || !strings.Contains(stdout.String(), "min confidence 0.5\n") {
		t.Errorf("stdout %q, want %q", stdout.String(), want)
	}
}
