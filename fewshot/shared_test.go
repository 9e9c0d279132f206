package fewshot_test

import (
	"archive/zip"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/fewshot"
	"github.com/fewshot-go/fewshot/internal/testshared"
)

// The built-in Omniglot model classifies 5-way 1-shot tasks of real
// evaluation-set characters (alphabets it never saw) far above chance.
func TestDefaultModelOmniglot(t *testing.T) {
	m := fewshot.DefaultModel()
	if m.Err() != nil {
		t.Skipf("no trained default model yet: %v", m.Err())
	}
	zr, err := zip.OpenReader(filepath.Join(testshared.Path(t, "data/omniglot"), "evaluation.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		files[f.Name] = f
	}
	load := func(alphabet string, char, drawer int) image.Image {
		t.Helper()
		var f *zip.File
		for name, zf := range files {
			if matched, _ := filepath.Match(fmt.Sprintf("%s/character%02d/*_%02d.png", alphabet, char, drawer), name); matched {
				f = zf
			}
		}
		if f == nil {
			t.Fatalf("%s character %d drawer %d not in evaluation.zip", alphabet, char, drawer)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		img, err := episode.DecodeImage(f.Name, b, 0)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	clf, err := fewshot.New(m)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	correct, total := 0, 0
	for range 4 {
		var sup []fewshot.Example
		var queries []image.Image
		var want []string
		for c := range 5 {
			char := 1 + rng.IntN(20)
			label := fmt.Sprintf("%d-%d", c, char)
			sup = append(sup, fewshot.Example{Label: label, Image: load("Angelic", char, 1)})
			for d := 2; d <= 4; d++ {
				queries = append(queries, load("Angelic", char, d))
				want = append(want, label)
			}
		}
		preds, err := clf.Classify(sup, queries)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range preds {
			total++
			if p.Label == want[i] {
				correct++
			}
		}
	}
	// Trained ProtoNets reach ~98% on 5-way 1-shot; chance is 20%.
	if acc := float64(correct) / float64(total); acc < 0.8 {
		t.Errorf("accuracy %.2f on %d queries, want >= 0.8", acc, total)
	}
}
