package episode

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDecodeBadImages(t *testing.T) {
	good := pngBytes(t, codeImage(0, 0))
	root := t.TempDir()
	for i := range 3 {
		writeFile(t, filepath.Join(root, "a", name2("i", i)+".png"), good)
	}
	writeFile(t, filepath.Join(root, "b", "i00.png"), good)
	writeFile(t, filepath.Join(root, "b", "i01.png"), []byte("\x89PNG\r\n\x1a\nthis is not really a png"))
	writeFile(t, filepath.Join(root, "c", "huge.png"), hugePNG(t, 1<<16, 1<<16))
	ds, err := OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	pre := codePre()
	_, err = Decode(context.Background(), ds, pre, DecodeOptions{NoCache: true})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "b", "i01.png")) || !strings.Contains(err.Error(), "not a decodable image") {
		t.Fatalf("corrupt image: %v, want an error naming b/i01.png", err)
	}
	d, err := Decode(context.Background(), ds, pre, DecodeOptions{NoCache: true, SkipBad: true, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	// b/i01.png skipped, c/huge.png skipped, class c dropped: 3 records.
	if len(d.Skipped) != 3 || d.NumClasses() != 2 || d.ClassLen(0) != 3 || d.ClassLen(1) != 1 {
		t.Fatalf("skipped %v; %d classes", d.Skipped, d.NumClasses())
	}
	if !errors.Is(d.Skipped[1], ErrTooLarge) || !strings.Contains(d.Skipped[2].Error(), `class "c" dropped`) {
		t.Fatalf("skip records %v", d.Skipped)
	}
	// The pixel limit is an option.
	small := t.TempDir()
	writeFile(t, filepath.Join(small, "k", "x.png"), pngBytes(t, codeImage(0, 0)))
	ds3, err := OpenDir(small)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(context.Background(), ds3, pre, DecodeOptions{NoCache: true, MaxPixels: 15}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("16-pixel image under a 15-pixel limit: %v", err)
	}
}

func TestDecodeRotationNeedsSquare(t *testing.T) {
	ds, err := OpenOmniglot(fakeOmniglot(t), "vinyals-val")
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	_, err = Decode(context.Background(), ds, Preprocess{Width: 28, Height: 20, Channels: 1}, DecodeOptions{NoCache: true})
	if err == nil || !strings.Contains(err.Error(), "square") {
		t.Fatalf("rotation with a 28x20 size: %v", err)
	}
}

func TestDecodeCancelled(t *testing.T) {
	ds, err := OpenDir(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Decode(ctx, ds, OmniglotPreprocess(), DecodeOptions{NoCache: true}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled decode: %v", err)
	}
}

func TestCache(t *testing.T) {
	ds, err := OpenDir(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pre := OmniglotPreprocess()
	opt := DecodeOptions{CacheDir: dir}
	ctx := context.Background()
	cold, err := Decode(ctx, ds, pre, opt)
	if err != nil {
		t.Fatal(err)
	}
	if cold.Cache.Hit || cold.Cache.Err != nil || cold.Cache.Invalid != nil || filepath.Dir(cold.Cache.Path) != dir {
		t.Fatalf("cold cache info %+v", cold.Cache)
	}
	warm, err := Decode(ctx, ds, pre, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !warm.Cache.Hit || warm.Cache.Path != cold.Cache.Path || !slices.Equal(warm.pix, cold.pix) {
		t.Fatalf("warm cache info %+v, pixels equal %v", warm.Cache, slices.Equal(warm.pix, cold.pix))
	}
	// Normalisation is applied on read: changing it reuses the cache file.
	norm := pre
	norm.Mean, norm.Std = []float32{0.5}, []float32{0.25}
	n, err := Decode(ctx, ds, norm, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !n.Cache.Hit || (n.Image(0, 0)[0] != (0-0.5)/0.25) {
		t.Fatalf("normalised decode: hit %v, corner %v", n.Cache.Hit, n.Image(0, 0)[0])
	}
	// A different size is a different cache file.
	big := pre
	big.Width, big.Height = 32, 32
	b, err := Decode(ctx, ds, big, opt)
	if err != nil {
		t.Fatal(err)
	}
	if b.Cache.Hit || b.Cache.Path == cold.Cache.Path {
		t.Fatalf("resized decode reused %s", b.Cache.Path)
	}

	raw, err := os.ReadFile(cold.Cache.Path)
	if err != nil {
		t.Fatal(err)
	}
	damage := map[string][]byte{
		"flipped byte": flip(raw, len(raw)/2),
		"truncated":    raw[:len(raw)-7],
		"bad magic":    flip(raw, 2),
		"empty":        nil,
	}
	for what, bytes := range damage {
		writeFile(t, cold.Cache.Path, bytes)
		d, err := Decode(ctx, ds, pre, opt)
		if err != nil {
			t.Fatal(err)
		}
		if d.Cache.Hit || d.Cache.Invalid == nil || !slices.Equal(d.pix, cold.pix) {
			t.Fatalf("%s cache: info %+v", what, d.Cache)
		}
		again, err := Decode(ctx, ds, pre, opt)
		if err != nil {
			t.Fatal(err)
		}
		if !again.Cache.Hit {
			t.Fatalf("%s cache was not rebuilt: %+v", what, again.Cache)
		}
	}
	// Atomic writes leave no temporary files behind.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Fatalf("leftover temporary file %s", e.Name())
		}
	}
	// A modified source file changes the key.
	src := t.TempDir()
	zipTree(t, filepath.Join(src, "a.zip"), fixtures, "Greek", "")
	z1, _ := OpenZip(filepath.Join(src, "a.zip"))
	k1, _ := Decode(ctx, z1, pre, opt)
	z1.Close()
	zipTree(t, filepath.Join(src, "a.zip"), fixtures, "Latin", "")
	z2, _ := OpenZip(filepath.Join(src, "a.zip"))
	defer z2.Close()
	k2, err := Decode(ctx, z2, pre, opt)
	if err != nil {
		t.Fatal(err)
	}
	if k1.Cache.Path == k2.Cache.Path || k2.Cache.Hit {
		t.Fatal("rewritten zip reused the old cache")
	}
}

// An unwritable cache folder does not stop decoding; it is reported.
func TestCacheUnwritable(t *testing.T) {
	ds, err := OpenDir(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(t.TempDir(), "file")
	writeFile(t, blocker, []byte("x"))
	d, err := Decode(context.Background(), ds, OmniglotPreprocess(), DecodeOptions{CacheDir: filepath.Join(blocker, "sub")})
	if err != nil {
		t.Fatal(err)
	}
	if d.Cache.Err == nil || d.NumImages() != 30 {
		t.Fatalf("cache info %+v, %d images", d.Cache, d.NumImages())
	}
}

func flip(b []byte, i int) []byte {
	c := slices.Clone(b)
	c[i] ^= 0x55
	return c
}
