package main

import (
	"fmt"
	"image"
	"image/color"

	"github.com/fewshot-go/fewshot/fewshot"
)

// chosenModel is the model a run uses and how it was chosen, for the line
// imagesort prints about it.
type chosenModel struct {
	model *fewshot.Model
	// name says which model it is and where it came from.
	name string
}

// Names of the built-in models, as imagesort prints them.
const (
	omniglotModelName = "built-in Omniglot model (fewshot.DefaultModel: handwritten characters, 28×28 grayscale)"
	photoModelName    = "built-in photo model (fewshot.DefaultPhotoModel: mini-ImageNet ProtoNet, 84×84 colour)"
)

// The default --min-confidence. With the built-in photo model, whose
// probabilities are calibrated (docs/RESULTS.md), photoMinConfidence was
// chosen on unseen mini-ImageNet test classes, 5 example photos per class,
// so that most sorted photos are right (see README.md for the measured
// precision and coverage).
const (
	defaultMinConfidence = 0.5
	photoMinConfidence   = 0.75
)

// isBuiltinPhotoModel reports whether m is the built-in photo model
// (or a file with the same bytes).
func isBuiltinPhotoModel(m *fewshot.Model) bool {
	p := fewshot.DefaultPhotoModel()
	return p.Err() == nil && m.Err() == nil && m.Fingerprint() == p.Fingerprint()
}

// chooseDefaultModel picks the built-in model for examples: the photo model
// when most of them are colour images, the Omniglot model otherwise.
func chooseDefaultModel(examples []fewshot.Example) chosenModel {
	colour := 0
	for _, e := range examples {
		if isColour(e.Image) {
			colour++
		}
	}
	if 2*colour > len(examples) {
		return chosenModel{fewshot.DefaultPhotoModel(), fmt.Sprintf("%s, chosen because %d of the %d examples are colour images",
			photoModelName, colour, len(examples))}
	}
	return chosenModel{fewshot.DefaultModel(), fmt.Sprintf("%s, chosen because %d of the %d examples are grayscale",
		omniglotModelName, len(examples)-colour, len(examples))}
}

// colourTolerance is how far apart, in 16-bit colour units, an image's
// red, green and blue may be for a pixel to count as gray: about 3 of 255
// levels, so that JPEG noise in a gray scan does not make it colour.
const colourTolerance = 3 * 257

// isColour reports whether img has pixels whose red, green and blue
// differ: it looks at up to 64×64 pixels on a regular grid and needs at
// least 1 % of them to be coloured. Images with a gray colour model are
// never colour.
func isColour(img image.Image) bool {
	if img == nil {
		return false
	}
	switch img.ColorModel() {
	case color.GrayModel, color.Gray16Model:
		return false
	}
	b := img.Bounds()
	if b.Empty() {
		return false
	}
	stepX, stepY := max(1, b.Dx()/64), max(1, b.Dy()/64)
	n, coloured := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y += stepY {
		for x := b.Min.X; x < b.Max.X; x += stepX {
			r, g, bl, _ := img.At(x, y).RGBA()
			n++
			if spread(r, g, bl) > colourTolerance {
				coloured++
			}
		}
	}
	return coloured*100 >= n
}

func spread(r, g, b uint32) uint32 {
	return max(r, g, b) - min(r, g, b)
}
