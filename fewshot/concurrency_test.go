package fewshot_test

import (
	"fmt"
	"image"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/fewshot"
)

// TestConcurrentMatchesSequential runs 8 goroutines × 1000 query
// classifications (×100 with -short) against one Classifier and one
// Prototypes value and checks every answer, label and scores, is bitwise
// equal to the sequential one. Run it under -race: the plan, the buffer
// pools and the copy-on-write prototypes are shared by all goroutines.
func TestConcurrentMatchesSequential(t *testing.T) {
	pre := episode.Preprocess{Width: 28, Height: 28, Channels: 1}
	c := newClassifier(t, modelBytes(t, 77, pre, fewshot.Euclidean, 2, 8), fewshot.WithBatchSize(5))
	const way, shot, nq = 5, 2, 10
	sup, byClass := task(78, way, shot, 28, 28)
	p, err := c.Fit(sup)
	if err != nil {
		t.Fatal(err)
	}
	// Queries: noisy copies of support images, so the answers are not ties.
	rng := rand.New(rand.NewPCG(79, 1))
	queries := make([]image.Image, nq)
	for i := range queries {
		src := byClass[i%way][i%shot].(*image.NRGBA)
		q := image.NewNRGBA(src.Rect)
		for k, v := range src.Pix {
			q.Pix[k] = v ^ uint8(rng.IntN(16))
		}
		queries[i] = q
	}
	want, err := p.Predict(queries)
	if err != nil {
		t.Fatal(err)
	}
	wantFull, err := c.Classify(sup, queries)
	if err != nil {
		t.Fatal(err)
	}
	// Fit and Classify share the embedding path, so they agree exactly.
	for i := range want {
		if want[i].Label != wantFull[i].Label || !slices.Equal(want[i].Scores, wantFull[i].Scores) {
			t.Fatalf("query %d: Predict %v, Classify %v", i, want[i], wantFull[i])
		}
	}
	perG := 1000
	if testing.Short() {
		perG = 100
	}
	const goroutines = 8
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < perG; done += nq {
				var got []fewshot.Prediction
				var err error
				// Every fourth call re-embeds the supports too.
				if (done/nq)%4 == g%4 {
					got, err = c.Classify(sup, queries)
				} else {
					got, err = p.Predict(queries)
				}
				if err != nil {
					errs <- err
					return
				}
				for i := range got {
					if got[i].Label != want[i].Label || !slices.Equal(got[i].Scores, want[i].Scores) {
						errs <- fmt.Errorf("goroutine %d, query %d: got %s %v, want %s %v", g, i, got[i].Label, got[i].Scores, want[i].Label, want[i].Scores)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
