package episode

import (
	"errors"
	"image"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fuzzMaxPixels keeps decoded fuzz images small so each input runs fast.
const fuzzMaxPixels = 1 << 16

// FuzzDecodeImage feeds arbitrary bytes to DecodeImage and, when they
// decode, to Preprocess.Image in grey and colour. Nothing may panic, the
// pixel limit must hold, and the tensor must have the promised length with
// every value in [0, 1] (no normalisation is configured).
func FuzzDecodeImage(f *testing.F) {
	for _, ext := range []string{".png", ".jpg", ".gif"} {
		f.Add(encodeAs(f, ext, solid(5, 3, color.RGBA{200, 40, 10, 255})))
	}
	f.Add(pngBytes(f, codeImage(1, 2)))
	f.Add(hugePNG(f, 30000, 30000))
	if b, err := os.ReadFile(filepath.Join(fixtures, "Greek", "character01", "0394_01.png")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("GIF89a"))
	pres := []Preprocess{
		{Width: 6, Height: 5, Channels: 1},
		{Width: 4, Height: 4, Channels: 3, Invert: true, Filter: "nearest"},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := DecodeImage("fuzz.img", data, fuzzMaxPixels)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.img") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		b := img.Bounds()
		if b.Dx() <= 0 || b.Dy() <= 0 || b.Dx()*b.Dy() > fuzzMaxPixels {
			t.Fatalf("decoded image of %v beyond the limits", b)
		}
		for _, pre := range pres {
			out, err := pre.Image(img)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != pre.Len() {
				t.Fatalf("got %d values, want %d", len(out), pre.Len())
			}
			for _, v := range out {
				if !(v >= 0 && v <= 1) {
					t.Fatalf("value %v outside [0, 1]", v)
				}
			}
		}
	})
}

// FuzzOpenZip writes arbitrary bytes as a zip file and lists it as a
// dataset: it must fail with an error naming the file or yield classes
// whose items open, read and decode (to an error or an image) without
// panicking, and whose entry paths never escape the archive.
func FuzzOpenZip(f *testing.F) {
	dir := f.TempDir()
	img := pngBytes(f, codeImage(3, 4))
	seeds := map[string][]string{
		"good.zip":     {"a/", "a/1.png", "a/2.png", "b/1.png"},
		"nested.zip":   {"root/x/1.png", "root/y/1.png", "root/y/2.jpg"},
		"escape.zip":   {"../evil/1.png", "a/1.png"},
		"absolute.zip": {"/etc/a/1.png"},
	}
	for name, entries := range seeds {
		data := map[string][]byte{}
		for _, e := range entries {
			if !strings.HasSuffix(e, "/") {
				data[e] = img
			}
		}
		p := filepath.Join(dir, name)
		writeZip(f, p, entries, data)
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	// One file, rewritten per input: the fuzz function runs sequentially
	// within a process, and a fresh t.TempDir per input costs more than
	// the code under test.
	p := filepath.Join(f.TempDir(), "fuzz.zip")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ds, err := OpenZip(p)
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error does not name the zip: %v", err)
			}
			return
		}
		defer ds.Close()
		pre := Preprocess{Width: 4, Height: 4, Channels: 1}
		dst := make([]uint8, pre.Len())
		for _, c := range ds.Classes {
			if c.Name == "" || len(c.Items) == 0 {
				t.Fatalf("class %q with %d items", c.Name, len(c.Items))
			}
			for _, it := range c.Items {
				entry := strings.TrimPrefix(it.Path, p+"!")
				if checkEntryName(entry) != nil {
					t.Fatalf("unsafe entry %q listed", entry)
				}
				rc, err := it.Open()
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, io.LimitReader(rc, 1<<20))
				rc.Close()
				// Decoding goes through Decode's per-item path.
				if err := decodeItem(it, pre, fuzzMaxPixels, dst); err != nil && !strings.Contains(err.Error(), it.Path) {
					t.Fatalf("decode error does not name the item: %v", err)
				}
			}
		}
	})
}

// FuzzReadCache feeds arbitrary files to the decoded-pixel cache reader:
// it must return the exact pixel count or an error naming the file, never
// panic or allocate more than the dataset's pixels.
func FuzzReadCache(f *testing.F) {
	pre := Preprocess{Width: 3, Height: 2, Channels: 1}
	var key [32]byte
	copy(key[:], "fuzz-cache-key")
	const n = 4
	pix := make([]uint8, n*pre.Len())
	for i := range pix {
		pix[i] = uint8(i * 11)
	}
	p := filepath.Join(f.TempDir(), "seed.zst")
	if err := writeCache(p, key, n, pre, pix); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(p)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(append([]byte{}, cacheMagic...))
	path := filepath.Join(f.TempDir(), "c.zst")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := readCache(path, key, n, pre)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the cache file: %v", err)
			}
			return
		}
		if len(got) != len(pix) {
			t.Fatalf("read %d pixels, want %d", len(got), len(pix))
		}
	})
}

// TestDecompressionBombHeader checks that a 30000×30000 PNG (2.7 GB of
// RGBA once decoded) stored in a few dozen bytes is refused from its header
// with ErrTooLarge, allocating almost nothing.
func TestDecompressionBombHeader(t *testing.T) {
	b := hugePNG(t, 30000, 30000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := DecodeImage("bomb.png", b, 0)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "bomb.png") || !strings.Contains(err.Error(), "30000x30000") {
		t.Fatalf("got %v, want ErrTooLarge naming bomb.png and its size", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Errorf("refusing the bomb allocated %d bytes", d)
	}
	if _, err := (Preprocess{Width: 4, Height: 4, Channels: 1}).DecodeBytes("bomb.png", b); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Preprocess.DecodeBytes: %v", err)
	}
}

// TestPreprocessOutputRange pins the invariant FuzzDecodeImage relies on.
func TestPreprocessOutputRange(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 3, 3))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 29)
	}
	out, err := (Preprocess{Width: 5, Height: 2, Channels: 3, Filter: "lanczos"}).Image(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range out {
		if v < 0 || v > 1 || math.IsNaN(float64(v)) {
			t.Fatalf("value %v outside [0, 1]", v)
		}
	}
}
