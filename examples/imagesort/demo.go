package main

import (
	"context"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fewshot-go/fewshot/fewshot"
)

// demoFS holds Omniglot characters of the Vinyals test split (see demo/README.md).
//
//go:embed demo
var demoFS embed.FS

// The demo's task shape: demoWay classes per round, demoShot labelled
// examples per class.
const (
	demoWay  = 5
	demoShot = 1
)

// demoClass is one character of the demo set: its label and its embedded
// files in drawer order.
type demoClass struct {
	label string
	files []string
}

// demoResult is the outcome of the demo.
type demoResult struct {
	Rounds  int
	Images  int            // unsorted images classified
	Correct int            // of which predicted with their true label
	Unsure  int            // of which placed in UnsureDir
	Counts  map[string]int // images placed per folder, all rounds together
}

// Accuracy is the fraction of images whose predicted label is their true
// one, wherever the confidence threshold placed them.
func (r demoResult) Accuracy() float64 {
	if r.Images == 0 {
		return 0
	}
	return float64(r.Correct) / float64(r.Images)
}

// demoClasses lists the embedded characters, labelled "<alphabet>-<NN>"
// and ordered by character number, then alphabet, so that each round of
// demoWay classes mixes different alphabets.
func demoClasses() ([]demoClass, error) {
	byDir := map[string][]string{}
	err := fs.WalkDir(demoFS, "demo/omniglot", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".png") {
			byDir[path.Dir(p)] = append(byDir[path.Dir(p)], p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the demo images: %w", err)
	}
	type key struct{ char, alphabet string }
	keys := map[string]key{}
	var classes []demoClass
	for dir, files := range byDir {
		k := key{char: strings.TrimPrefix(path.Base(dir), "character"), alphabet: path.Base(path.Dir(dir))}
		label := k.alphabet + "-" + k.char
		keys[label] = k
		sort.Strings(files)
		classes = append(classes, demoClass{label: label, files: files})
	}
	sort.Slice(classes, func(i, j int) bool {
		a, b := keys[classes[i].label], keys[classes[j].label]
		if a.char != b.char {
			return a.char < b.char
		}
		return a.alphabet < b.alphabet
	})
	if len(classes) < demoWay {
		return nil, fmt.Errorf("the demo holds %d characters, want at least %d", len(classes), demoWay)
	}
	return classes, nil
}

// runDemo sorts the embedded characters with model in a temporary folder,
// demoWay classes at a time, prints per-class counts and the accuracy to
// w, and removes the folder. Images with a best probability below
// minConfidence go to UnsureDir but still count towards the accuracy by
// their predicted label.
func runDemo(ctx context.Context, model *fewshot.Model, minConfidence float64, w, stderr io.Writer) (demoResult, error) {
	res := demoResult{Counts: map[string]int{}}
	classes, err := demoClasses()
	if err != nil {
		return res, err
	}
	tmp, err := os.MkdirTemp("", "imagesort-demo-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(tmp)

	rounds := len(classes) / demoWay
	for r := range rounds {
		dir := filepath.Join(tmp, fmt.Sprintf("round%d", r+1))
		truth, err := writeDemoRound(dir, classes[r*demoWay:(r+1)*demoWay], uint64(r))
		if err != nil {
			return res, err
		}
		sum, err := sortImages(ctx, Config{
			Examples:      filepath.Join(dir, "examples"),
			In:            filepath.Join(dir, "unsorted"),
			Out:           filepath.Join(dir, "sorted"),
			Model:         model,
			MinConfidence: minConfidence,
			Stderr:        stderr,
			Quiet:         true,
		})
		if err != nil {
			return res, err
		}
		if sum.Failed > 0 {
			return res, fmt.Errorf("demo round %d: %d images could not be sorted", r+1, sum.Failed)
		}
		correct, unsure := 0, 0
		for _, x := range sum.Results {
			if x.Label == truth[x.File] {
				correct++
			}
			if x.Unsure {
				unsure++
			}
		}
		var counts []string
		for _, c := range classes[r*demoWay : (r+1)*demoWay] {
			counts = append(counts, fmt.Sprintf("%s %d", c.label, sum.Counts[c.label]))
			res.Counts[c.label] += sum.Counts[c.label]
		}
		if unsure > 0 {
			counts = append(counts, fmt.Sprintf("%s %d", UnsureDir, unsure))
			res.Counts[UnsureDir] += unsure
		}
		fmt.Fprintf(w, "round %d: %s; %d/%d correct\n", r+1, strings.Join(counts, ", "), correct, len(sum.Results))
		res.Rounds++
		res.Images += len(sum.Results)
		res.Correct += correct
		res.Unsure += unsure
	}
	fmt.Fprintf(w, "demo: %d-way %d-shot, %d rounds, %d images, accuracy %.1f %%", demoWay, demoShot, res.Rounds, res.Images, 100*res.Accuracy())
	if res.Unsure > 0 {
		fmt.Fprintf(w, " (%d below confidence %g went to %s)", res.Unsure, minConfidence, UnsureDir)
	}
	fmt.Fprintln(w)
	return res, nil
}

// writeDemoRound writes one round under dir: examples/<label>/ holds the
// first demoShot drawings of each class, unsorted/ the others under
// shuffled neutral names (img-001.png, ...), so that neither names nor
// order give the answer away. It returns the true label of each unsorted
// file.
func writeDemoRound(dir string, classes []demoClass, seed uint64) (map[string]string, error) {
	type query struct{ src, label string }
	var queries []query
	for _, c := range classes {
		exDir := filepath.Join(dir, "examples", c.label)
		if err := os.MkdirAll(exDir, 0o755); err != nil {
			return nil, err
		}
		for i, f := range c.files {
			if i >= demoShot {
				queries = append(queries, query{f, c.label})
				continue
			}
			if err := copyEmbedded(f, filepath.Join(exDir, path.Base(f))); err != nil {
				return nil, err
			}
		}
	}
	in := filepath.Join(dir, "unsorted")
	if err := os.MkdirAll(in, 0o755); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 2015))
	truth := map[string]string{}
	for i, j := range rng.Perm(len(queries)) {
		name := fmt.Sprintf("img-%03d.png", i+1)
		if err := copyEmbedded(queries[j].src, filepath.Join(in, name)); err != nil {
			return nil, err
		}
		truth[name] = queries[j].label
	}
	return truth, nil
}

func copyEmbedded(name, dst string) error {
	b, err := demoFS.ReadFile(name)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
