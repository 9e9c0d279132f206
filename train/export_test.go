package train

import (
	"context"
	"image"
	"math"
	"path/filepath"
	"sort"
	"testing"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/fewshot"
)

// TestExportMatchesPredict trains each exportable kind of learner briefly,
// exports it to ONNX, loads it with package fewshot and checks that the
// classifier's scores equal the trained network's own evaluation-mode
// scores on a task built from the same image files.
func TestExportMatchesPredict(t *testing.T) {
	d := fixtures(t)
	files, err := filepath.Glob(filepath.Join("..", "testdata", "omniglot", "*", "*", "*.png"))
	if err != nil || len(files) < 15 {
		t.Fatalf("fixture images: %d (%v)", len(files), err)
	}
	sort.Strings(files)
	pre := episode.OmniglotPreprocess()
	// Three characters, five drawings each: two supports and three queries.
	const way, shot, query = 3, 2, 3
	labels := []string{"a", "b", "c"}
	task := &episode.Task{Way: way, Shot: shot, QueryPerClass: query}
	task.Support = episode.Set{N: way * shot, C: 1, H: 28, W: 28}
	task.Query = episode.Set{N: way * query, C: 1, H: 28, W: 28}
	var supports []fewshot.Example
	var queries []image.Image
	for c := range way {
		for k := range shot + query {
			img, err := fewshot.LoadImage(files[5*c+k])
			if err != nil {
				t.Fatal(err)
			}
			x, err := pre.Image(img)
			if err != nil {
				t.Fatal(err)
			}
			set := &task.Support
			if k >= shot {
				set = &task.Query
				queries = append(queries, img)
			} else {
				supports = append(supports, fewshot.Example{Label: labels[c], Image: img})
			}
			set.Data = append(set.Data, x...)
			set.Labels = append(set.Labels, c)
		}
	}
	for _, name := range []string{"proto", "relation", "matching"} {
		t.Run(name, func(t *testing.T) {
			a, err := New(Spec{Algo: name, InChannels: 1, Height: 28, Width: 28, Hidden: 8, Seed: 6})
			if err != nil {
				t.Fatal(err)
			}
			// A few steps make the running statistics and weights
			// non-trivial.
			if _, err := Run(context.Background(), a, Options{Train: d, Task: episode.Fixed(3, 2, 2), Episodes: 5, Seed: 1}); err != nil {
				t.Fatal(err)
			}
			want, err := a.Predict(task)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "model.onnx")
			if err := ExportFile(path, a, pre, "omniglot fixtures"); err != nil {
				t.Fatal(err)
			}
			m, err := fewshot.LoadModel(path)
			if err != nil {
				t.Fatal(err)
			}
			clf, err := fewshot.New(m)
			if err != nil {
				t.Fatal(err)
			}
			preds, err := clf.Classify(supports, queries)
			if err != nil {
				t.Fatal(err)
			}
			for q, p := range preds {
				for c := range way {
					w := float64(want.Data()[q*way+c])
					if g := p.Scores[c]; math.Abs(g-w) > 1e-3*math.Max(1, math.Abs(w)) {
						t.Fatalf("query %d class %d: exported model scores %v, trained network %v", q, c, g, w)
					}
				}
			}
		})
	}
	m, _ := New(Spec{Algo: "maml", InChannels: 1, Height: 28, Width: 28, Hidden: 4, Way: 3})
	if _, err := ExportSpec(m, pre, ""); err == nil {
		t.Error("MAML with a linear head was exported")
	}
}
