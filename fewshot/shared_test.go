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
// characters it never saw far above chance: each task takes one random
// character from each of five alphabets whose characters are all in the
// Vinyals test split (the model trains on the Vinyals train split).
func TestDefaultModelOmniglot(t *testing.T) {
	// Alphabets of the evaluation set wholly in the Vinyals test split, with
	// their character counts (shared/data/omniglot/README.md).
	testAlphabets := []struct {
		name  string
		chars int
	}{{"Kannada", 41}, {"Keble", 26}, {"Malayalam", 47}, {"Manipuri", 40}, {"Mongolian", 30},
		{"Old_Church_Slavonic_(Cyrillic)", 45}, {"Oriya", 46}, {"Sylheti", 28}, {"Syriac_(Serto)", 23},
		{"Tengwar", 25}, {"Tibetan", 42}, {"ULOG", 26}}
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
		return readZipImage(t, f)
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
		for _, a := range rng.Perm(len(testAlphabets))[:5] {
			alphabet := testAlphabets[a]
			char := 1 + rng.IntN(alphabet.chars)
			label := fmt.Sprintf("%s-%02d", alphabet.name, char)
			sup = append(sup, fewshot.Example{Label: label, Image: load(alphabet.name, char, 1)})
			for d := 2; d <= 4; d++ {
				queries = append(queries, load(alphabet.name, char, d))
				want = append(want, label)
			}
		}
		correct += countCorrect(t, clf, sup, queries, want)
		total += len(queries)
	}
	// Trained ProtoNets reach ~96-98% on 5-way 1-shot; chance is 20%.
	if acc := float64(correct) / float64(total); acc < 0.85 {
		t.Errorf("accuracy %.2f on %d queries, want >= 0.85", acc, total)
	}
}

// readZipImage decodes the image stored in f.
func readZipImage(t *testing.T, f *zip.File) image.Image {
	t.Helper()
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

// countCorrect classifies queries against sup and counts the predictions
// that equal want.
func countCorrect(t *testing.T, clf *fewshot.Classifier, sup []fewshot.Example, queries []image.Image, want []string) int {
	t.Helper()
	preds, err := clf.Classify(sup, queries)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, p := range preds {
		if p.Label == want[i] {
			n++
		}
	}
	return n
}
