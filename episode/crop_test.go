package episode

import (
	"context"
	"crypto/sha256"
	"fmt"
	"image"
	"path/filepath"
	"strings"
	"testing"
)

func TestCentreOffset(t *testing.T) {
	for _, c := range []struct{ size, crop, want int }{
		{224, 224, 0}, {256, 224, 16}, {257, 224, 16}, // 16.5 rounds to 16
		{259, 224, 18}, // 17.5 rounds to 18
		{10, 8, 1}, {11, 8, 2}, {13, 8, 2}, {23, 8, 8},
	} {
		if got := centreOffset(c.size, c.crop); got != c.want {
			t.Errorf("centreOffset(%d, %d) = %d, want %d", c.size, c.crop, got, c.want)
		}
	}
}

// blockImage returns a w×h RGBA image made of 2×2 blocks of one colour
// each; blockColour gives the colour of block (bx, by).
func blockImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			r, g, b := blockColour(x/2, y/2)
			i := img.PixOffset(x, y)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = r, g, b, 255
		}
	}
	return img
}

func blockColour(bx, by int) (r, g, b uint8) {
	return uint8(bx*7 + 3), uint8(by*11 + 5), uint8((bx*13 + by*17) % 251)
}

// Halving an image of uniform 2×2 blocks with the box filter gives each
// block's colour exactly, so resize-shorter-then-crop has a simple
// reference: pixel (x, y) of the result is block (x+x0, y+y0).
func TestResizeShorterCropReference(t *testing.T) {
	for _, c := range []struct {
		srcW, srcH, shorter, w, h int
		x0, y0                    int // expected crop offsets in the resized image
	}{
		{20, 32, 10, 8, 8, 1, 4}, // portrait: 10×16, crop at (1, 4)
		{46, 20, 10, 8, 6, 8, 2}, // landscape: 23×10, 7.5 rounds to 8
		{24, 24, 12, 12, 12, 0, 0},
	} {
		t.Run(fmt.Sprintf("%dx%d", c.srcW, c.srcH), func(t *testing.T) {
			p := Preprocess{Width: c.w, Height: c.h, Channels: 3, Filter: "box", ResizeShorter: c.shorter}
			out, err := p.Image(blockImage(c.srcW, c.srcH))
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != 3*c.w*c.h {
				t.Fatalf("%d values, want %d", len(out), 3*c.w*c.h)
			}
			hw := c.w * c.h
			for y := range c.h {
				for x := range c.w {
					r, g, b := blockColour(x+c.x0, y+c.y0)
					i := y*c.w + x
					for ch, v := range []uint8{r, g, b} {
						if got, want := out[ch*hw+i], float32(v)/255; got != want {
							t.Fatalf("channel %d pixel (%d, %d) = %v, want %v", ch, x, y, got, want)
						}
					}
				}
			}
		})
	}
}

// An image whose shorter side already has the size is only cropped.
func TestResizeShorterOnlyCrops(t *testing.T) {
	src := blockImage(9, 14) // shorter side 9
	p := Preprocess{Width: 5, Height: 7, Channels: 3, Filter: "lanczos", ResizeShorter: 9}
	out, err := p.Image(src)
	if err != nil {
		t.Fatal(err)
	}
	x0, y0 := 2, 4 // (9-5)/2; (14-7)/2 = 3.5 rounds to 4
	for y := range 7 {
		for x := range 5 {
			i := src.PixOffset(x+x0, y+y0)
			if got, want := out[y*5+x], float32(src.Pix[i])/255; got != want {
				t.Fatalf("pixel (%d, %d) = %v, want %v", x, y, got, want)
			}
		}
	}
}

func TestResizeShorterSizes(t *testing.T) {
	p := ImageNetPreprocess()
	p.Width, p.Height, p.ResizeShorter = 16, 12, 20
	for _, sz := range [][2]int{{20, 20}, {640, 480}, {480, 640}, {21, 1000}, {1, 5000}, {3000, 2}, {1, 1}, {19, 20}} {
		src := blockImage(sz[0], sz[1])
		out, err := p.Image(src)
		if err != nil {
			t.Fatalf("%v: %v", sz, err)
		}
		if len(out) != p.Len() {
			t.Fatalf("%v: %d values, want %d", sz, len(out), p.Len())
		}
		n, x0, y0 := p.fit(src)
		w, h := n.Bounds().Dx(), n.Bounds().Dy()
		if min(w, h) != p.ResizeShorter || max(w, h) > MaxAspect*p.ResizeShorter {
			t.Errorf("%v: resized to %dx%d, want shorter side %d and at most %d:1", sz, w, h, p.ResizeShorter, MaxAspect)
		}
		if x0 < 0 || y0 < 0 || x0+p.Width > w || y0+p.Height > h {
			t.Errorf("%v: crop at (%d, %d) does not fit %dx%d", sz, x0, y0, w, h)
		}
		// The aspect ratio is kept (up to rounding and the trim).
		if sz[0] <= MaxAspect*sz[1] && sz[1] <= MaxAspect*sz[0] {
			if got, want := float64(w)/float64(h), float64(sz[0])/float64(sz[1]); got/want < 0.9 || got/want > 1.1 {
				t.Errorf("%v: resized to %dx%d, aspect %.3f, want %.3f", sz, w, h, got, want)
			}
		}
	}
}

func TestResizeShorterValidate(t *testing.T) {
	for _, c := range []struct {
		shorter, w, h int
		want          string
	}{
		{200, 224, 224, "smaller than the 224x224 crop"},
		{100, 64, 128, "at least 128"},
		{-1, 8, 8, "resize_shorter -1 out of range"},
		{MaxSide + 1, 8, 8, "out of range"},
	} {
		p := ImageNetPreprocess()
		p.ResizeShorter, p.Width, p.Height = c.shorter, c.w, c.h
		err := p.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("resize_shorter %d crop %dx%d: %v, want an error saying %q", c.shorter, c.w, c.h, err, c.want)
		}
		if _, err := ParsePreprocess(p.String()); err == nil {
			t.Errorf("ParsePreprocess(%s) accepted it", p)
		}
	}
	p := ImageNetPreprocess()
	p.ResizeShorter = 224 // equal to the crop: valid
	if err := p.Validate(); err != nil {
		t.Error(err)
	}
}

func TestPresetPreprocess(t *testing.T) {
	for name, want := range map[string]Preprocess{
		"omniglot": OmniglotPreprocess(), "mini-imagenet": MiniImageNetPreprocess(), "imagenet": ImageNetPreprocess(),
	} {
		p, err := PresetPreprocess(name)
		if err != nil || p.String() != want.String() {
			t.Errorf("PresetPreprocess(%q) = %s, %v; want %s", name, p, err, want)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, err := PresetPreprocess("sepia")
	if err == nil || !strings.Contains(err.Error(), `"sepia"`) || !strings.Contains(err.Error(), `"imagenet"`) {
		t.Errorf("unknown preset: %v", err)
	}
	im := ImageNetPreprocess()
	if im.Width != 224 || im.Height != 224 || im.ResizeShorter != 256 || im.Channels != 3 ||
		im.Mean[0] != 0.485 || im.Mean[1] != 0.456 || im.Mean[2] != 0.406 ||
		im.Std[0] != 0.229 || im.Std[1] != 0.224 || im.Std[2] != 0.225 {
		t.Errorf("ImageNetPreprocess() = %s", im)
	}
	back, err := ParsePreprocess(im.String())
	if err != nil || back.String() != im.String() || back.ResizeShorter != 256 {
		t.Errorf("round trip of %s: %s, %v", im, back, err)
	}
}

// Transforms without ResizeShorter serialise and cache exactly as before
// the field existed, so old models and caches keep working.
func TestResizeShorterAbsentIsOldBehaviour(t *testing.T) {
	const old = `{"width":84,"height":84,"channels":3,"filter":"linear","mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]}`
	if s := MiniImageNetPreprocess().String(); s != old {
		t.Errorf("String() = %s, want %s", s, old)
	}
	p, err := ParsePreprocess(old)
	if err != nil || p.ResizeShorter != 0 {
		t.Fatalf("ParsePreprocess(old) = %+v, %v", p, err)
	}
	items := []Item{{Path: "a/b.png"}, {Path: "c.png"}}
	h := sha256.New()
	fmt.Fprintf(h, "fewshot episode cache v1\nsize %dx%d channels %d filter %s\n", 84, 84, 3, "linear")
	h.Write([]byte("\"a/b.png\"\n\"c.png\"\n"))
	var want [32]byte
	h.Sum(want[:0])
	if got := cacheKey(p, items); got != want {
		t.Errorf("cache key of a stretching transform changed")
	}
	p.ResizeShorter = 100
	if cacheKey(p, items) == want {
		t.Errorf("cache key ignores ResizeShorter")
	}
	// A stretch still ignores the aspect ratio.
	src := blockImage(40, 20)
	out, err := Preprocess{Width: 10, Height: 10, Channels: 3, Filter: "box"}.Image(src)
	if err != nil || len(out) != 300 {
		t.Fatalf("stretch: %d values, %v", len(out), err)
	}
}

// Decode (training data loading) and Preprocess.Image (serving) give the
// same values for the resize-and-crop transform.
func TestResizeShorterDecodeMatchesImage(t *testing.T) {
	root := t.TempDir()
	imgs := map[string]image.Image{
		"a/wide.png": blockImage(50, 30), "a/tall.png": blockImage(30, 44),
		"b/square.png": blockImage(33, 33), "b/thin.png": blockImage(7, 90),
	}
	for name, img := range imgs {
		writeFile(t, filepath.Join(root, filepath.FromSlash(name)), pngBytes(t, img))
	}
	ds, err := OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	p := ImageNetPreprocess()
	p.Width, p.Height, p.ResizeShorter = 12, 12, 14
	for _, cache := range []string{"", t.TempDir()} {
		d, err := Decode(context.Background(), ds, p, DecodeOptions{NoCache: cache == "", CacheDir: cache})
		if err != nil {
			t.Fatal(err)
		}
		for c := range d.NumClasses() {
			for i := range d.ClassLen(c) {
				it := ds.Classes[c].Items[i]
				rel, _ := filepath.Rel(root, it.Path)
				want, err := p.Image(imgs[filepath.ToSlash(rel)])
				if err != nil {
					t.Fatal(err)
				}
				got := d.Image(c, i)
				for k := range want {
					if got[k] != want[k] {
						t.Fatalf("%s value %d: Decode %v, Image %v", it.Path, k, got[k], want[k])
					}
				}
			}
		}
	}
}
