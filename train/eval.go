package train

import (
	"context"
	"fmt"
	"math"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/episode"
)

// EvalResult summarises an evaluation over many episodes.
type EvalResult struct {
	// Mean is the mean query accuracy over the episodes, in [0, 1].
	Mean float64
	// CI95 is the half-width of the 95 % confidence interval of the mean,
	// 1.96·std/√n (std with n−1 in the denominator).
	CI95 float64
	// Accs holds each episode's accuracy, in episode order.
	Accs []float64
}

// String formats the result as a percentage with its interval.
func (r EvalResult) String() string {
	return fmt.Sprintf("%.2f%% ± %.2f%% (%d episodes)", 100*r.Mean, 100*r.CI95, len(r.Accs))
}

// Evaluate classifies the queries of episodes 0..n-1 of d's evaluation list
// for (cfg, seed) (see episode.Decoded.Episode) with a's current weights in
// evaluation mode, and returns the mean accuracy. The episodes depend only
// on the data, cfg, seed and n, so two models evaluated with the same
// arguments see the same tasks. The standard protocol is 600 episodes of
// episode.Fixed(way, shot, 15).
func Evaluate(ctx context.Context, a Algorithm, d *episode.Decoded, cfg episode.Config, n int, seed uint64) (EvalResult, error) {
	if n < 1 {
		return EvalResult{}, fmt.Errorf("train: evaluation over %d episodes, want >= 1", n)
	}
	if cfg.Query < 1 {
		return EvalResult{}, fmt.Errorf("train: evaluation needs query images, task config has %d per class", cfg.Query)
	}
	r := EvalResult{Accs: make([]float64, n)}
	for i := range n {
		if err := ctx.Err(); err != nil {
			return EvalResult{}, err
		}
		t, err := d.Episode(cfg, seed, i)
		if err != nil {
			return EvalResult{}, fmt.Errorf("train: evaluation episode %d: %w", i, err)
		}
		scores, err := a.Predict(t)
		if err != nil {
			return EvalResult{}, fmt.Errorf("train: evaluation episode %d: %w", i, err)
		}
		r.Accs[i] = engine.Accuracy(scores, t.Query.Labels)
	}
	r.Mean, r.CI95 = meanCI(r.Accs)
	return r, nil
}

// meanCI returns the mean of xs and 1.96·s/√n, s the sample standard
// deviation (0 for a single value).
func meanCI(xs []float64) (mean, ci float64) {
	n := float64(len(xs))
	for _, x := range xs {
		mean += x
	}
	mean /= n
	if len(xs) < 2 {
		return mean, 0
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, 1.96 * math.Sqrt(ss/(n-1)) / math.Sqrt(n)
}
