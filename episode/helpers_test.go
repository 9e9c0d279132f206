package episode

import (
	"archive/zip"
	"bytes"
	"context"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtures is the folder of Omniglot PNGs shipped with the repository:
// Greek and Latin, character01-03, drawers 01-05.
const fixtures = "../testdata/omniglot"

// writeZip stores files (entry name -> content) in a new zip at dst.
func writeZip(t testing.TB, dst string, names []string, data map[string][]byte) {
	t.Helper()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, n := range names {
		var w interface{ Write([]byte) (int, error) }
		if strings.HasSuffix(n, "/") {
			w, err = zw.Create(n)
		} else {
			w, err = zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Store})
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data[n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// zipTree zips the files below dir/sub (paths relative to dir, with
// prefix prepended) into dst.
func zipTree(t testing.TB, dst, dir, sub, prefix string) {
	t.Helper()
	var names []string
	data := map[string][]byte{}
	err := filepath.WalkDir(filepath.Join(dir, sub), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		n := prefix + filepath.ToSlash(rel)
		names = append(names, n)
		data[n] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	writeZip(t, dst, names, data)
}

// fakeOmniglot builds an Omniglot-shaped folder from the fixtures: Greek in
// background.zip, Latin in evaluation.zip, and Vinyals-style split lists.
func fakeOmniglot(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	zipTree(t, filepath.Join(dir, "background.zip"), fixtures, "Greek", "")
	zipTree(t, filepath.Join(dir, "evaluation.zip"), fixtures, "Latin", "")
	lists := map[string][]string{
		"train":    {"Greek/character01", "Latin/character01"},
		"val":      {"Greek/character02"},
		"trainval": {"Greek/character01", "Latin/character01", "Greek/character02"},
		"test":     {"Greek/character03", "Latin/character02", "Latin/character03"},
	}
	if err := os.MkdirAll(filepath.Join(dir, "splits", "vinyals"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, chars := range lists {
		var b strings.Builder
		for _, c := range chars {
			for _, r := range []string{"rot000", "rot090", "rot180", "rot270"} {
				b.WriteString(c + "/" + r + "\n")
			}
		}
		writeFile(t, filepath.Join(dir, "splits", "vinyals", name+".txt"), []byte(b.String()))
	}
	return dir
}

func writeFile(t testing.TB, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// codeImage is a 4×4 grayscale image whose first pixel is the class and
// second the image index, so that a sampled tensor reveals its origin.
func codeImage(class, idx int) image.Image {
	g := image.NewGray(image.Rect(0, 0, 4, 4))
	for i := range g.Pix {
		g.Pix[i] = uint8(7*i + 3)
	}
	g.Pix[0], g.Pix[1] = uint8(class), uint8(idx)
	return g
}

func pngBytes(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b strings.Builder
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return []byte(b.String())
}

// codeDataset writes classes × per coded PNGs as root/cNN/iNN.png and
// decodes them at 4×4 gray, no inversion.
func codeDataset(t testing.TB, classes, per int) *Decoded {
	t.Helper()
	root := t.TempDir()
	for c := range classes {
		for i := range per {
			writeFile(t, filepath.Join(root, name2("c", c), name2("i", i)+".png"), pngBytes(t, codeImage(c, i)))
		}
	}
	ds, err := OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Decode(context.Background(), ds, codePre(), DecodeOptions{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func codePre() Preprocess { return Preprocess{Width: 4, Height: 4, Channels: 1} }

func name2(p string, i int) string { return p + string(rune('0'+i/10)) + string(rune('0'+i%10)) }

// origin reads back the (class, index) code of a 4×4 coded image.
func origin(img []float32) (int, int) {
	return int(img[0]*255 + 0.5), int(img[1]*255 + 0.5)
}

// solid returns a w×h RGBA image of one colour.
func solid(w, h int, c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

// encodeAs encodes img as "png", "jpg" or "gif".
func encodeAs(t testing.TB, ext string, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch ext {
	case "png":
		err = png.Encode(&b, img)
	case "jpg":
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 95})
	case "gif":
		err = gif.Encode(&b, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
