package episode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/disintegration/imaging"
)

func fixturePNG(t *testing.T) (string, []byte) {
	t.Helper()
	p := filepath.Join(fixtures, "Greek", "character01", "0394_01.png")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, b
}

// At full size the transform must reproduce the 1-bit PNG exactly: white
// background 1, black strokes 0, and the reverse when inverted.
func TestPreprocessOmniglotFullSize(t *testing.T) {
	name, b := fixturePNG(t)
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	g, ok := img.(*image.Gray)
	if !ok || g.Bounds().Dx() != 105 || g.Bounds().Dy() != 105 {
		t.Fatalf("fixture is %T %v, want 105x105 *image.Gray", img, img.Bounds())
	}
	for _, invert := range []bool{false, true} {
		p := Preprocess{Width: 105, Height: 105, Channels: 1, Invert: invert}
		x, err := p.DecodeBytes(name, b)
		if err != nil {
			t.Fatal(err)
		}
		strokes := 0
		for i, v := range x {
			want := float32(g.Pix[i]) / 255
			if invert {
				want = 1 - want
			}
			if v != want {
				t.Fatalf("invert=%v pixel %d = %v, want %v", invert, i, v, want)
			}
			if g.Pix[i] == 0 {
				strokes++
			}
		}
		if strokes == 0 || strokes > len(x)/3 {
			t.Fatalf("%d stroke pixels of %d: fixture is not a character", strokes, len(x))
		}
	}
}

// Shrinking to 28×28 keeps the ink: the mean intensity is preserved by an
// antialiasing filter, and the background corner stays 0 after inversion.
func TestPreprocessOmniglotResize(t *testing.T) {
	name, b := fixturePNG(t)
	full, err := (Preprocess{Width: 105, Height: 105, Channels: 1, Invert: true}).DecodeBytes(name, b)
	if err != nil {
		t.Fatal(err)
	}
	small, err := OmniglotPreprocess().DecodeBytes(name, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(small) != 28*28 {
		t.Fatalf("len %d, want 784", len(small))
	}
	if math.Abs(mean(full)-mean(small)) > 0.01 {
		t.Fatalf("mean ink %v at 105x105 but %v at 28x28", mean(full), mean(small))
	}
	if small[0] != 0 || small[len(small)-1] != 0 {
		t.Fatalf("corners %v, %v: background should be 0 after inversion", small[0], small[len(small)-1])
	}
	for _, v := range small {
		if v < 0 || v > 1 {
			t.Fatalf("value %v outside [0,1]", v)
		}
	}
}

func mean(x []float32) float64 {
	s := 0.0
	for _, v := range x {
		s += float64(v)
	}
	return s / float64(len(x))
}

func TestPreprocessColourAndNormalise(t *testing.T) {
	img := solid(6, 5, color.RGBA{R: 200, G: 100, B: 50, A: 255})
	p := Preprocess{Width: 3, Height: 2, Channels: 3, Filter: "box",
		Mean: []float32{0.5, 0.25, 0.125}, Std: []float32{0.5, 2, 0.25}}
	x, err := p.Image(img)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{(200.0/255 - 0.5) / 0.5, (100.0/255 - 0.25) / 2, (50.0/255 - 0.125) / 0.25}
	for c := range 3 {
		for i := range 6 {
			if got := x[c*6+i]; math.Abs(float64(got-want[c])) > 1e-6 {
				t.Fatalf("channel %d value %d = %v, want %v", c, i, got, want[c])
			}
		}
	}
	gray := Preprocess{Width: 6, Height: 5, Channels: 1, Invert: true}
	y, err := gray.Image(img)
	if err != nil {
		t.Fatal(err)
	}
	lum := (299*200 + 587*100 + 114*50 + 500) / 1000 // BT.601, rounded to 8 bits
	if want := 1 - float32(lum)/255; y[0] != want {
		t.Fatalf("gray inverted = %v, want %v", y[0], want)
	}
}

func TestPreprocessStringRoundTrip(t *testing.T) {
	for _, p := range []Preprocess{OmniglotPreprocess(), MiniImageNetPreprocess(),
		{Width: 32, Height: 16, Channels: 3, Filter: "lanczos", Invert: true}} {
		q, err := ParsePreprocess(p.String())
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if q.String() != p.String() {
			t.Fatalf("round trip changed %s into %s", p, q)
		}
	}
	if got := OmniglotPreprocess().String(); got != `{"width":28,"height":28,"channels":1,"filter":"linear","invert":true}` {
		t.Fatalf("Omniglot preprocess serialises as %s", got)
	}
	bad := map[string]string{
		`{"width":28,"height":28,"channels":1,"gamma":2}`:              "unknown field",
		`{"width":0,"height":28,"channels":1}`:                         "out of range",
		`{"width":28,"height":28,"channels":2}`:                        "channels 2",
		`{"width":28,"height":28,"channels":1,"filter":"cubic"}`:       "unknown resampling filter",
		`{"width":28,"height":28,"channels":1,"mean":[0.5]}`:           "1 means but 0 stds",
		`{"width":28,"height":28,"channels":3,"mean":[0.5],"std":[1]}`: "1 means for 3 channels",
		`{"width":28,"height":28,"channels":1,"mean":[0.5],"std":[0]}`: "std[0] = 0",
		`{"width":28,"height":28,"channels":1} {}`:                     "trailing data",
		`not json`: "parsing preprocess",
		`{"width":28,"height":28,"channels":1,"mean":[0.5],"std":[-1.5]}`: "std[0] = -1.5",
	}
	for s, want := range bad {
		if _, err := ParsePreprocess(s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePreprocess(%s) = %v, want error containing %q", s, err, want)
		}
	}
}

// rotateCHW must agree with imaging's counterclockwise rotations.
func TestRotateMatchesImaging(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	img := image.NewNRGBA(image.Rect(0, 0, 7, 7))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 255
	}
	p := Preprocess{Width: 7, Height: 7, Channels: 3}
	src := make([]uint8, p.Len())
	p.pixels(img, src)
	turns := []func(image.Image) *image.NRGBA{imaging.Clone, imaging.Rotate90, imaging.Rotate180, imaging.Rotate270}
	for q, turn := range turns {
		want := make([]uint8, p.Len())
		p.pixels(turn(img), want)
		got := make([]uint8, p.Len())
		rotateCHW(got, src, 3, 7, q)
		if !bytes.Equal(got, want) {
			t.Fatalf("%d quarter turns differ from imaging", q)
		}
	}
}

// hugePNG is a valid 1×1 PNG whose header was edited to claim w×h pixels.
func hugePNG(t testing.TB, w, h uint32) []byte {
	b := pngBytes(t, image.NewGray(image.Rect(0, 0, 1, 1)))
	// 8-byte signature, then the IHDR chunk: length, "IHDR", width, height, ...
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func TestDecodeImageRefusesHugeHeader(t *testing.T) {
	b := hugePNG(t, 100000, 100000)
	if _, _, err := image.DecodeConfig(bytes.NewReader(b)); err != nil {
		t.Fatalf("edited header should still parse: %v", err)
	}
	_, err := DecodeImage("huge.png", b, 0)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "huge.png") || !strings.Contains(err.Error(), "100000x100000") {
		t.Fatalf("got %v, want ErrTooLarge naming huge.png and its size", err)
	}
	// A custom limit applies too.
	if _, err := DecodeImage("small.png", hugePNG(t, 40, 40), 1000); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("40x40 under a 1000-pixel limit: %v", err)
	}
	if _, err := DecodeImage("junk.png", []byte("definitely not an image"), 0); err == nil || !strings.Contains(err.Error(), "junk.png: not a decodable image") {
		t.Fatalf("junk: %v", err)
	}
	// A correct header followed by garbage fails in the decoder, by name.
	name, good := fixturePNG(t)
	if _, err := DecodeImage(name, good[:60], 0); err == nil || !strings.Contains(err.Error(), name) {
		t.Fatalf("truncated PNG: %v", err)
	}
}

func TestPreprocessDecodesJPEGAndGIF(t *testing.T) {
	for _, ext := range []string{"jpg", "gif"} {
		b := encodeAs(t, ext, solid(10, 8, color.RGBA{R: 255, A: 255}))
		x, err := (Preprocess{Width: 5, Height: 4, Channels: 3}).DecodeBytes("red."+ext, b)
		if err != nil {
			t.Fatal(err)
		}
		if x[0] < 0.9 || x[20] > 0.1 || x[40] > 0.1 {
			t.Fatalf("%s: red pixel decoded as %v %v %v", ext, x[0], x[20], x[40])
		}
	}
}
