package episode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
)

// maxFileBytes bounds how much of one image file is read into memory; no
// real dataset image comes near it.
const maxFileBytes = 256 << 20

// DecodeOptions control [Decode]. The zero value decodes with all CPUs,
// caches under [DefaultCacheDir] and fails on the first bad image.
type DecodeOptions struct {
	// CacheDir is the folder for decoded-tensor cache files; "" means
	// [DefaultCacheDir].
	CacheDir string
	// NoCache disables reading and writing the cache.
	NoCache bool
	// Workers is the number of images decoded at once; 0 means GOMAXPROCS.
	Workers int
	// MaxPixels bounds width × height of any image, checked from its header
	// before decoding; 0 means [DefaultMaxPixels].
	MaxPixels int
	// SkipBad leaves out images that cannot be read or decoded instead of
	// failing; each is recorded in [Decoded.Skipped], and a class left with
	// no images is dropped and recorded too. A decode that skipped anything
	// is not cached, so the next run reports the same problems.
	SkipBad bool
}

// Decoded is a dataset held in memory, ready for sampling: every distinct
// source image decoded, resized and colour-converted once (8 bits per
// value), with classes referring to those images, possibly rotated. The
// float32 conversion of [Preprocess] happens when an image is read, so the
// memory cost is one byte per value (mini-ImageNet train: 19,200 × 84 × 84 ×
// 3 bytes, about 406 MB). A Decoded is immutable and safe for concurrent use.
type Decoded struct {
	// Name is the dataset's name.
	Name string
	// Pre is the preprocessing applied.
	Pre Preprocess
	// Skipped lists what [DecodeOptions.SkipBad] left out, each error
	// naming the file or class and the problem; len(Skipped) is the count.
	Skipped []error
	// Cache reports how the on-disk cache was used.
	Cache CacheInfo

	classes []string
	refs    [][]ref // per class: images, in dataset order
	pix     []uint8 // distinct images, Pre.Len() bytes each, CHW
	tab     *table
	minLen  int // fewest images in any class
}

// ref is one class member: a distinct image and a rotation.
type ref struct {
	img int32
	rot uint8
}

// CacheInfo reports how [Decode] used the on-disk cache.
type CacheInfo struct {
	// Path is the cache file for this dataset and preprocessing, or "" when
	// caching was off or no cache folder was available.
	Path string
	// Hit is true when the images came from the cache.
	Hit bool
	// Invalid says why an existing cache file was not trusted (corrupt,
	// truncated, written for other data); it was rebuilt. Nil if none.
	Invalid error
	// Err says why the cache could not be located or written; decoding
	// itself succeeded. Nil if none.
	Err error
}

// Decode reads and preprocesses every image of ds into memory, in parallel,
// using and refreshing the on-disk cache (see [DecodeOptions]). The cache
// key covers each source file's identity (path, size, modification time;
// for zip entries also name, size and CRC-32) and the size, channel count,
// filter and ResizeShorter of pre; Invert, Mean and Std are applied when
// images are read and do not affect the cache. An image that cannot be read, is not a
// PNG/JPEG/GIF, or exceeds the pixel limit is an error naming the file,
// unless opt.SkipBad. ctx cancels a running decode.
func Decode(ctx context.Context, ds *Dataset, pre Preprocess, opt DecodeOptions) (*Decoded, error) {
	if err := pre.Validate(); err != nil {
		return nil, err
	}
	if len(ds.Classes) == 0 {
		return nil, fmt.Errorf("episode: dataset %s has no classes", ds.Name)
	}
	d := &Decoded{Name: ds.Name, Pre: pre, tab: pre.newTable()}
	// Distinct source images, in first-use order; rotated classes share them.
	index := map[string]int32{}
	var uniq []Item
	refs := make([][]ref, len(ds.Classes))
	for c, cl := range ds.Classes {
		if len(cl.Items) == 0 {
			return nil, fmt.Errorf("episode: dataset %s: class %q has no images", ds.Name, cl.Name)
		}
		refs[c] = make([]ref, len(cl.Items))
		for i, it := range cl.Items {
			if it.Rot < 0 || it.Rot > 3 {
				return nil, fmt.Errorf("episode: %s: rotation %d quarter turns, want 0-3", it.Path, it.Rot)
			}
			if it.Rot%2 == 1 && pre.Width != pre.Height {
				return nil, fmt.Errorf("episode: %s: a quarter-turn rotation needs a square size, have %dx%d", it.Path, pre.Width, pre.Height)
			}
			key := it.id
			if key == "" {
				key = it.Path
			}
			k, ok := index[key]
			if !ok {
				k = int32(len(uniq))
				index[key] = k
				uniq = append(uniq, it)
			}
			refs[c][i] = ref{img: k, rot: uint8(it.Rot)}
		}
	}

	var cachePath string
	var key [32]byte
	if !opt.NoCache {
		dir := opt.CacheDir
		if dir == "" {
			var err error
			if dir, err = DefaultCacheDir(); err != nil {
				d.Cache.Err = err
			}
		}
		if dir != "" {
			key = cacheKey(pre, uniq)
			cachePath = cacheFile(dir, key)
			d.Cache.Path = cachePath
			pix, err := readCache(cachePath, key, len(uniq), pre)
			switch {
			case err == nil:
				d.Cache.Hit = true
				d.pix = pix
			case !errors.Is(err, errCacheMissing):
				d.Cache.Invalid = err
			}
		}
	}

	var bad []error
	if d.pix == nil {
		var err error
		d.pix, bad, err = decodeAll(ctx, uniq, pre, opt)
		if err != nil {
			return nil, err
		}
		if len(bad) == 0 && cachePath != "" {
			d.Cache.Err = writeCache(cachePath, key, len(uniq), pre, d.pix)
		}
	}

	for c, cl := range ds.Classes {
		kept := refs[c][:0]
		for _, r := range refs[c] {
			if bad != nil && bad[r.img] != nil {
				d.Skipped = append(d.Skipped, fmt.Errorf("class %q: %w", cl.Name, bad[r.img]))
				continue
			}
			kept = append(kept, r)
		}
		if len(kept) == 0 {
			d.Skipped = append(d.Skipped, fmt.Errorf("episode: dataset %s: class %q dropped: none of its %d images could be decoded", ds.Name, cl.Name, len(cl.Items)))
			continue
		}
		d.classes = append(d.classes, cl.Name)
		d.refs = append(d.refs, kept)
	}
	if len(d.classes) == 0 {
		return nil, fmt.Errorf("episode: dataset %s: no image could be decoded (first problem: %v)", ds.Name, d.Skipped[0])
	}
	d.minLen = len(d.refs[0])
	for _, r := range d.refs {
		d.minLen = min(d.minLen, len(r))
	}
	return d, nil
}

// decodeAll decodes uniq in parallel. Without SkipBad it returns the error
// of the lowest-numbered bad image (so the message does not depend on
// scheduling); with SkipBad it returns per-image errors (nil when all
// decoded).
func decodeAll(ctx context.Context, uniq []Item, pre Preprocess, opt DecodeOptions) (pix []uint8, bad []error, err error) {
	n, size := len(uniq), pre.Len()
	pix = make([]uint8, n*size)
	errs := make([]error, n)
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for {
				// Stop before claiming, so every claimed image is decoded:
				// all images below a failing one are then known to be good.
				if ctx.Err() != nil || (failed.Load() && !opt.SkipBad) {
					return
				}
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if errs[i] = decodeItem(uniq[i], pre, opt.MaxPixels, pix[i*size:(i+1)*size]); errs[i] != nil {
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if !failed.Load() {
		return pix, nil, nil
	}
	if opt.SkipBad {
		return pix, errs, nil
	}
	for _, e := range errs {
		if e != nil {
			return nil, nil, e
		}
	}
	return pix, nil, nil
}

// decodeItem reads one image and writes its 8-bit CHW pixels into dst.
func decodeItem(it Item, pre Preprocess, maxPixels int, dst []uint8) (err error) {
	// Image decoders run on untrusted bytes; should one panic, report it as
	// this file's error instead of crashing a long run.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("episode: %s: decoder panicked: %v", it.Path, r)
		}
	}()
	rc, err := it.Open()
	if err != nil {
		return fmt.Errorf("episode: opening %s: %w", it.Path, err)
	}
	data, err := io.ReadAll(io.LimitReader(rc, maxFileBytes+1))
	rc.Close()
	if err != nil {
		return fmt.Errorf("episode: reading %s: %w", it.Path, err)
	}
	if len(data) > maxFileBytes {
		return fmt.Errorf("episode: %s: file larger than %d bytes", it.Path, maxFileBytes)
	}
	img, err := DecodeImage(it.Path, data, maxPixels)
	if err != nil {
		return err
	}
	if b := img.Bounds(); b.Dx() <= 0 || b.Dy() <= 0 {
		return fmt.Errorf("episode: %s: decoded to an empty image", it.Path)
	}
	pre.pixels(img, dst)
	return nil
}

// NumClasses returns the number of classes.
func (d *Decoded) NumClasses() int { return len(d.classes) }

// ClassName returns the name of class c.
func (d *Decoded) ClassName(c int) string { return d.classes[c] }

// ClassLen returns the number of images in class c.
func (d *Decoded) ClassLen(c int) int { return len(d.refs[c]) }

// NumImages returns the number of images over all classes (a source image
// used by several rotated classes counts once per class).
func (d *Decoded) NumImages() int {
	n := 0
	for _, r := range d.refs {
		n += len(r)
	}
	return n
}

// Shape returns the channels, height and width of every image.
func (d *Decoded) Shape() (c, h, w int) { return d.Pre.Channels, d.Pre.Height, d.Pre.Width }

// Image returns image i of class c as a new CHW float32 tensor. It panics
// if c or i is out of range.
func (d *Decoded) Image(c, i int) []float32 {
	out := make([]float32, d.Pre.Len())
	d.fill(out, d.refs[c][i], nil)
	return out
}

// fill writes the float32 form of r into dst (Pre.Len() values); scratch,
// if at least Pre.Len() long, avoids an allocation for rotated images.
func (d *Decoded) fill(dst []float32, r ref, scratch []uint8) {
	size := d.Pre.Len()
	src := d.pix[int(r.img)*size : (int(r.img)+1)*size]
	if r.rot != 0 {
		if len(scratch) < size {
			scratch = make([]uint8, size)
		}
		rotateCHW(scratch[:size], src, d.Pre.Channels, d.Pre.Height, int(r.rot))
		src = scratch[:size]
	}
	d.tab.apply(dst, src)
}

// rotateCHW writes src (c planes of n×n) turned counterclockwise by q
// quarter turns into dst.
func rotateCHW(dst, src []uint8, c, n, q int) {
	for p := 0; p < c; p++ {
		s, t := src[p*n*n:(p+1)*n*n], dst[p*n*n:(p+1)*n*n]
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				var v uint8
				switch q {
				case 1:
					v = s[j*n+n-1-i]
				case 2:
					v = s[(n-1-i)*n+n-1-j]
				case 3:
					v = s[(n-1-j)*n+i]
				default:
					v = s[i*n+j]
				}
				t[i*n+j] = v
			}
		}
	}
}
