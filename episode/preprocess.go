package episode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"
	"strings"

	"github.com/disintegration/imaging"
)

// DefaultMaxPixels is the largest image (width × height, read from the file
// header before decoding) that [DecodeImage] accepts when given no limit.
// It guards against files that claim absurd dimensions to exhaust memory.
const DefaultMaxPixels = 64 << 20

// MaxSide is the largest Width or Height a [Preprocess] may ask for.
const MaxSide = 4096

// Preprocess describes how an image becomes a CHW float32 tensor. The steps,
// in order, are:
//
//  1. bring the image to Width × Height with Filter: when ResizeShorter is
//     0, resize it to exactly that size (skipped when the size already
//     matches; the aspect ratio is not preserved); when ResizeShorter is
//     set, resize it keeping the aspect ratio so that its shorter side is
//     ResizeShorter pixels, then cut out the central Width × Height region
//     (see [Preprocess.ResizeShorter]);
//  2. colour conversion: Channels 3 keeps R, G, B; Channels 1 takes the
//     luminance 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601, as PIL's "L"),
//     rounded to 8 bits; alpha is ignored;
//  3. scaling of each 8-bit value v to x = v/255 in [0, 1] (0 = black);
//  4. if Invert, x = 1 - x (for Omniglot: strokes become 1, background 0);
//  5. if Mean and Std are set, x = (x - Mean[c]) / Std[c] for channel c.
//
// Steps 3-5 are one lookup table per channel, so every path through this
// package ([Preprocess.Image], [Decode], the samplers) produces bit-identical
// values for the same image.
//
// The zero value is not usable; start from [OmniglotPreprocess],
// [MiniImageNetPreprocess], [ImageNetPreprocess] (or [PresetPreprocess] by
// name) or fill in the fields and call [Preprocess.Validate]. A Preprocess serialises to JSON with
// [Preprocess.String] and back with [ParsePreprocess]; models store it so
// that inference applies the transform they were trained with.
type Preprocess struct {
	// Width and Height are the output size in pixels (1..MaxSide).
	Width  int `json:"width"`
	Height int `json:"height"`
	// Channels is 1 (grayscale) or 3 (RGB).
	Channels int `json:"channels"`
	// Filter names the resampling filter: "nearest", "box", "linear",
	// "catmullrom" or "lanczos" (as implemented by
	// github.com/disintegration/imaging, which widens the filter when
	// shrinking, so downsampling is antialiased). Empty means "linear".
	Filter string `json:"filter,omitempty"`
	// Invert maps each value x in [0, 1] to 1 - x before normalisation.
	Invert bool `json:"invert,omitempty"`
	// Mean and Std normalise each channel; both empty (no normalisation) or
	// both of length Channels, with every Std > 0.
	Mean []float32 `json:"mean,omitempty"`
	Std  []float32 `json:"std,omitempty"`
	// ResizeShorter, when > 0, keeps the aspect ratio in step 1: the image
	// is resized so that its shorter side is ResizeShorter pixels and its
	// longer side is scaled by the same factor, rounded down (a w×h image
	// with w <= h becomes ResizeShorter × floor(ResizeShorter·h/w)), and the
	// central Width × Height region is cut out, at offsets (size − crop)/2
	// rounded half to even in each direction. This is the evaluation
	// transform of ImageNet classifiers (torchvision's Resize(256) then
	// CenterCrop(224)); it needs ResizeShorter >= max(Width, Height), and
	// at most [MaxSide]. Images already ResizeShorter pixels on their
	// shorter side are only cropped. An image more elongated than
	// [MaxAspect]:1 is first trimmed around its centre to that ratio, which
	// bounds the memory a hostile file can claim and does not change what
	// the crop sees beyond rounding. 0 (the default, and what models written
	// before this field existed mean) stretches the image to Width × Height.
	ResizeShorter int `json:"resize_shorter,omitempty"`
}

// MaxAspect is the most elongated aspect ratio (longer side over shorter
// side) that [Preprocess.ResizeShorter] resizes whole; longer images are
// trimmed to it around their centre first.
const MaxAspect = 4

// OmniglotPreprocess returns the usual Omniglot transform: 28×28 grayscale,
// inverted so that strokes are 1 and the background 0, not normalised.
func OmniglotPreprocess() Preprocess {
	return Preprocess{Width: 28, Height: 28, Channels: 1, Filter: "linear", Invert: true}
}

// MiniImageNetPreprocess returns the usual mini-ImageNet (and
// tiered-ImageNet) transform: 84×84 RGB, normalised with the ImageNet
// channel statistics.
func MiniImageNetPreprocess() Preprocess {
	return Preprocess{
		Width: 84, Height: 84, Channels: 3, Filter: "linear",
		Mean: []float32{0.485, 0.456, 0.406},
		Std:  []float32{0.229, 0.224, 0.225},
	}
}

// ImageNetPreprocess returns the classic evaluation transform of networks
// trained on ImageNet (such as torchvision's ResNet, MobileNet or
// EfficientNet classifiers): shorter side resized to 256 pixels keeping the
// aspect ratio, the central 224×224 region, RGB, scaled to [0, 1] and
// normalised with the ImageNet channel statistics mean (0.485, 0.456,
// 0.406) and std (0.229, 0.224, 0.225). Change Width, Height and
// ResizeShorter for networks that take another size.
func ImageNetPreprocess() Preprocess {
	p := MiniImageNetPreprocess()
	p.Width, p.Height, p.ResizeShorter = 224, 224, 256
	return p
}

// Names of the presets [PresetPreprocess] knows.
const (
	PresetOmniglot     = "omniglot"      // [OmniglotPreprocess]
	PresetMiniImageNet = "mini-imagenet" // [MiniImageNetPreprocess]
	PresetImageNet     = "imagenet"      // [ImageNetPreprocess]
)

// PresetPreprocess returns the preset transform called name: "omniglot"
// ([OmniglotPreprocess]), "mini-imagenet" ([MiniImageNetPreprocess]) or
// "imagenet" ([ImageNetPreprocess]). Any other name is an error that lists
// the known ones.
func PresetPreprocess(name string) (Preprocess, error) {
	switch name {
	case PresetOmniglot:
		return OmniglotPreprocess(), nil
	case PresetMiniImageNet:
		return MiniImageNetPreprocess(), nil
	case PresetImageNet:
		return ImageNetPreprocess(), nil
	}
	return Preprocess{}, fmt.Errorf("episode: unknown preprocessing preset %q (want %q, %q or %q)",
		name, PresetOmniglot, PresetMiniImageNet, PresetImageNet)
}

var filters = map[string]imaging.ResampleFilter{
	"nearest":    imaging.NearestNeighbor,
	"box":        imaging.Box,
	"linear":     imaging.Linear,
	"catmullrom": imaging.CatmullRom,
	"lanczos":    imaging.Lanczos,
}

// Validate reports whether p describes a usable transform.
func (p Preprocess) Validate() error {
	if p.Width < 1 || p.Width > MaxSide || p.Height < 1 || p.Height > MaxSide {
		return fmt.Errorf("episode: preprocess size %dx%d out of range 1..%d", p.Width, p.Height, MaxSide)
	}
	if p.Channels != 1 && p.Channels != 3 {
		return fmt.Errorf("episode: preprocess channels %d, want 1 or 3", p.Channels)
	}
	if _, ok := filters[p.filterName()]; !ok {
		return fmt.Errorf("episode: unknown resampling filter %q (want nearest, box, linear, catmullrom or lanczos)", p.Filter)
	}
	if p.ResizeShorter < 0 || p.ResizeShorter > MaxSide {
		return fmt.Errorf("episode: preprocess resize_shorter %d out of range 0..%d", p.ResizeShorter, MaxSide)
	}
	if p.ResizeShorter > 0 && p.ResizeShorter < max(p.Width, p.Height) {
		return fmt.Errorf("episode: preprocess resize_shorter %d is smaller than the %dx%d crop (the shorter side must be at least %d)",
			p.ResizeShorter, p.Width, p.Height, max(p.Width, p.Height))
	}
	if len(p.Mean) != len(p.Std) {
		return fmt.Errorf("episode: preprocess has %d means but %d stds", len(p.Mean), len(p.Std))
	}
	if len(p.Mean) != 0 && len(p.Mean) != p.Channels {
		return fmt.Errorf("episode: preprocess has %d means for %d channels", len(p.Mean), p.Channels)
	}
	for c := range p.Mean {
		m, s := float64(p.Mean[c]), float64(p.Std[c])
		if math.IsNaN(m) || math.IsInf(m, 0) {
			return fmt.Errorf("episode: preprocess mean[%d] = %v is not finite", c, m)
		}
		if !(s > 0) || math.IsInf(s, 0) {
			return fmt.Errorf("episode: preprocess std[%d] = %v, want a finite value > 0", c, s)
		}
	}
	return nil
}

func (p Preprocess) filterName() string {
	if p.Filter == "" {
		return "linear"
	}
	return p.Filter
}

// Len returns the number of float32 values in one preprocessed image,
// Channels × Height × Width.
func (p Preprocess) Len() int { return p.Channels * p.Height * p.Width }

// String returns p as compact JSON, the form stored in model metadata.
func (p Preprocess) String() string {
	b, err := json.Marshal(p)
	if err != nil {
		// Only ints, bools, strings and finite-or-not float32 slices: the
		// single failure mode is a NaN/Inf mean or std, which Validate rejects.
		return fmt.Sprintf("invalid preprocess: %v", err)
	}
	return string(b)
}

// ParsePreprocess parses the JSON produced by [Preprocess.String] and
// validates the result. Unknown fields are an error, so a model made by a
// newer version with steps this version does not know is refused rather than
// silently preprocessed differently.
func ParsePreprocess(s string) (Preprocess, error) {
	var p Preprocess
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Preprocess{}, fmt.Errorf("episode: parsing preprocess %q: %w", s, err)
	}
	if dec.More() {
		return Preprocess{}, fmt.Errorf("episode: parsing preprocess %q: trailing data", s)
	}
	if err := p.Validate(); err != nil {
		return Preprocess{}, err
	}
	return p, nil
}

// Image applies p to img and returns a new CHW tensor of p.Len() values.
func (p Preprocess) Image(img image.Image) ([]float32, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, fmt.Errorf("episode: empty image (%dx%d)", b.Dx(), b.Dy())
	}
	pix := make([]uint8, p.Len())
	p.pixels(img, pix)
	out := make([]float32, p.Len())
	p.newTable().apply(out, pix)
	return out, nil
}

// DecodeBytes decodes an encoded image (PNG, JPEG or GIF) with
// [DecodeImage] under [DefaultMaxPixels] and applies p. name is used in
// error messages only.
func (p Preprocess) DecodeBytes(name string, data []byte) ([]float32, error) {
	img, err := DecodeImage(name, data, 0)
	if err != nil {
		return nil, err
	}
	out, err := p.Image(img)
	if err != nil {
		return nil, fmt.Errorf("%w (image %s)", err, name)
	}
	return out, nil
}

// ErrTooLarge is wrapped by the error [DecodeImage] returns for an image
// whose header claims more pixels than allowed.
var ErrTooLarge = errors.New("image too large")

// DecodeImage decodes a PNG, JPEG or GIF image held in data. It first reads
// only the header and refuses images with a non-positive side or more than
// maxPixels pixels (maxPixels <= 0 means [DefaultMaxPixels]), so a small
// hostile file cannot make the decoder allocate gigabytes. name is used in
// error messages only.
func DecodeImage(name string, data []byte, maxPixels int) (image.Image, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("episode: %s: not a decodable image: %w", name, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("episode: %s: %s header gives size %dx%d", name, format, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(maxPixels) {
		return nil, fmt.Errorf("episode: %s: %s header gives %dx%d, over the limit of %d pixels: %w",
			name, format, cfg.Width, cfg.Height, maxPixels, ErrTooLarge)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("episode: %s: decoding %s: %w", name, format, err)
	}
	return img, nil
}

// pixels writes the 8-bit CHW form of img (steps 1 and 2 of Preprocess)
// into dst, which must hold p.Len() bytes. img must be non-empty.
func (p Preprocess) pixels(img image.Image, dst []uint8) {
	n, x0, y0 := p.fit(img)
	hw := p.Width * p.Height
	for y := 0; y < p.Height; y++ {
		off := (y0+y)*n.Stride + 4*x0
		row := n.Pix[off : off+4*p.Width]
		for x := 0; x < p.Width; x++ {
			r, g, b := uint32(row[4*x]), uint32(row[4*x+1]), uint32(row[4*x+2])
			i := y*p.Width + x
			if p.Channels == 3 {
				dst[i], dst[hw+i], dst[2*hw+i] = uint8(r), uint8(g), uint8(b)
			} else {
				dst[i] = uint8((299*r + 587*g + 114*b + 500) / 1000)
			}
		}
	}
}

// fit does step 1 of Preprocess: it returns an image whose region of
// p.Width × p.Height pixels starting at (x0, y0) (relative to the
// returned image's Pix, whose bounds start at 0, 0) is the result.
func (p Preprocess) fit(img image.Image) (n *image.NRGBA, x0, y0 int) {
	b := img.Bounds()
	if p.ResizeShorter == 0 {
		if b.Dx() != p.Width || b.Dy() != p.Height {
			return imaging.Resize(img, p.Width, p.Height, filters[p.filterName()]), 0, 0
		}
		return imaging.Clone(img), 0, 0
	}
	if w, h := b.Dx(), b.Dy(); max(w, h) > MaxAspect*min(w, h) {
		// Trim the longer side around the centre to MaxAspect:1.
		long := MaxAspect * min(w, h)
		r := b
		if w > h {
			r.Min.X += (w - long) / 2
			r.Max.X = r.Min.X + long
		} else {
			r.Min.Y += (h - long) / 2
			r.Max.Y = r.Min.Y + long
		}
		img = imaging.Crop(img, r)
		b = img.Bounds()
	}
	w, h := b.Dx(), b.Dy()
	rw, rh := resizedShorter(w, h, p.ResizeShorter)
	if rw == w && rh == h {
		n = imaging.Clone(img)
	} else {
		n = imaging.Resize(img, rw, rh, filters[p.filterName()])
	}
	return n, centreOffset(rw, p.Width), centreOffset(rh, p.Height)
}

// resizedShorter returns the size of a w×h image resized so that its
// shorter side is s, the longer side scaled alike and rounded down.
func resizedShorter(w, h, s int) (rw, rh int) {
	if w <= h {
		return s, int(int64(s) * int64(h) / int64(w))
	}
	return int(int64(s) * int64(w) / int64(h)), s
}

// centreOffset returns where a crop of length crop starts in a side of
// length size: (size - crop)/2, halves rounded to even.
func centreOffset(size, crop int) int {
	d := size - crop
	off := d / 2
	if d%2 == 1 && off%2 == 1 {
		off++
	}
	return off
}

// table maps 8-bit values to final float32 values, one row per channel
// (steps 3-5 of Preprocess).
type table struct {
	rows [][256]float32
	hw   int
}

func (p Preprocess) newTable() *table {
	t := &table{rows: make([][256]float32, p.Channels), hw: p.Width * p.Height}
	for c := range t.rows {
		for v := range 256 {
			x := float32(v) / 255
			if p.Invert {
				x = 1 - x
			}
			if len(p.Mean) > 0 {
				x = (x - p.Mean[c]) / p.Std[c]
			}
			t.rows[c][v] = x
		}
	}
	return t
}

// apply converts one 8-bit CHW image to float32.
func (t *table) apply(dst []float32, src []uint8) {
	for c := range t.rows {
		row := &t.rows[c]
		d, s := dst[c*t.hw:(c+1)*t.hw], src[c*t.hw:(c+1)*t.hw]
		for i, v := range s {
			d[i] = row[v]
		}
	}
}
