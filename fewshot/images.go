package fewshot

import (
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"

	// Register the decoders the helpers below accept.
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"

	"github.com/fewshot-go/fewshot/episode"
)

// maxImageFileBytes bounds how much of one image file is read.
const maxImageFileBytes = 256 << 20

// DecodeImage decodes a PNG, JPEG or GIF image. It checks the size the
// header claims before decoding and refuses images over
// episode.DefaultMaxPixels pixels. name is used in error messages only.
func DecodeImage(name string, data []byte) (image.Image, error) {
	return episode.DecodeImage(name, data, 0)
}

// LoadImage reads and decodes the image file at path (see [DecodeImage]).
func LoadImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("fewshot: %w", err)
	}
	defer f.Close()
	return readImage(path, f)
}

func readImage(name string, r io.Reader) (image.Image, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxImageFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fewshot: reading %s: %w", name, err)
	}
	if len(data) > maxImageFileBytes {
		return nil, fmt.Errorf("fewshot: %s is larger than %d bytes", name, maxImageFileBytes)
	}
	return DecodeImage(name, data)
}

// ExampleFromBytes decodes an encoded image (see [DecodeImage]) into an
// Example with the given label.
func ExampleFromBytes(label, name string, data []byte) (Example, error) {
	img, err := DecodeImage(name, data)
	if err != nil {
		return Example{}, err
	}
	return Example{Label: label, Image: img}, nil
}

// ExamplesFromFiles loads image files as examples of one label.
func ExamplesFromFiles(label string, paths ...string) ([]Example, error) {
	out := make([]Example, 0, len(paths))
	for _, p := range paths {
		img, err := LoadImage(p)
		if err != nil {
			return nil, err
		}
		out = append(out, Example{Label: label, Image: img})
	}
	return out, nil
}

// LoadExamplesDir loads a folder of class folders: every folder under root
// that directly holds images (.png, .jpg, .jpeg, .gif) is a class labelled
// by its slash-separated path relative to root, such as "cats" or
// "Greek/character01". Hidden files and folders are skipped; an image
// directly in root or an empty class folder is an error. Examples are
// returned class by class in sorted order.
func LoadExamplesDir(root string) ([]Example, error) {
	ds, err := episode.OpenDir(root)
	if err != nil {
		return nil, err
	}
	defer ds.Close()
	var out []Example
	for _, cl := range ds.Classes {
		for _, it := range cl.Items {
			rc, err := it.Open()
			if err != nil {
				return nil, fmt.Errorf("fewshot: %w", err)
			}
			img, err := readImage(filepath.FromSlash(it.Path), rc)
			rc.Close()
			if err != nil {
				return nil, err
			}
			out = append(out, Example{Label: cl.Name, Image: img})
		}
	}
	return out, nil
}
