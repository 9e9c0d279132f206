package main

import (
	"context"
	"fmt"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/fewshot"
	"github.com/fewshot-go/fewshot/internal/plot"
	"github.com/fewshot-go/fewshot/internal/tsne"
)

func init() {
	register(&command{
		name:    "tsne",
		summary: "draw a t-SNE map of a model's embeddings of one episode",
		run:     runTSNE,
	})
}

const tsneExamples = `
# 5 unseen Omniglot characters, 5 supports and 15 queries each
fewshot tsne --model runs/l2g-omni/model.onnx --data shared/data/omniglot --out docs/figures/omniglot-tsne

# mini-ImageNet test classes, another episode
fewshot tsne --model mini.onnx --data shared/data/mini-imagenet --split test --seed 7 --out tsne-mini`

func runTSNE(ctx context.Context, env *cmdEnv, args []string) error {
	fl := newFlagSet(env, "tsne", "--model M.onnx --data PATH --out PREFIX [flags]",
		"Draws one episode of classes the model has not seen, embedded by the model and laid out in 2-D\n"+
			"with t-SNE: supports as stars, queries as dots, one colour per class. Writes PREFIX.png and\n"+
			"PREFIX.svg. Images are preprocessed as the model's metadata says.",
		tsneExamples)
	model := fl.String("model", "", "fewshot ONNX model (required)")
	data := fl.String("data", "", "dataset folder or zip (required; see episode.Load)")
	split := fl.String("split", "", "split to draw classes from (default as for eval: vinyals-test for Omniglot, test where there is a test.zip, else all)")
	out := fl.String("out", "", "output path without extension (required)")
	way := fl.Int("way", 5, "classes in the episode")
	shot := fl.Int("shot", 5, "support images per class")
	query := fl.Int("query", 15, "query images per class")
	seed := fl.Uint64("seed", 1, "seed for the episode and the t-SNE layout")
	perplexity := fl.Float64("perplexity", 30, "t-SNE perplexity (lowered to (n-1)/3 for n small)")
	iterations := fl.Int("iterations", 1000, "t-SNE gradient steps")
	title := fl.String("title", "", `title (default "t-SNE of a W-way S-shot episode")`)
	preprocess := fl.String("preprocess", "", `image transform for a model without fewshot metadata: "omniglot", "mini-imagenet" or JSON (see episode.Preprocess)`)
	cacheDir := fl.String("cache-dir", "", "decoded-image cache folder (default: the user cache folder)")
	if err := parseFlags(fl, args); err != nil {
		return err
	}
	switch {
	case fl.NArg() > 0:
		return usagef("unexpected argument %q", fl.Arg(0))
	case *model == "":
		return usagef("--model is required")
	case *data == "":
		return usagef("--data is required")
	case *out == "":
		return usagef("--out is required")
	case *way < 1 || *shot < 1 || *query < 0:
		return usagef("--way %d --shot %d --query %d: want way, shot >= 1 and query >= 0", *way, *shot, *query)
	case !(*perplexity >= 1):
		return usagef("--perplexity %v: want >= 1", *perplexity)
	case *iterations < 1:
		return usagef("--iterations %d: want >= 1", *iterations)
	}

	m, err := loadModelFlags(*model, *preprocess, "")
	if err != nil {
		return err
	}
	c, err := fewshot.New(m)
	if err != nil {
		return err
	}
	if *split == "" {
		*split = defaultEvalSplit(*data)
	}
	ds, err := episode.Load(*data, *split)
	if err != nil {
		return err
	}
	defer ds.Close()
	d, err := episode.Decode(ctx, ds, m.Info().Preprocess, episode.DecodeOptions{CacheDir: *cacheDir})
	if err != nil {
		return err
	}
	task, err := episode.NewSampler(d, *seed).Task(episode.Fixed(*way, *shot, *query))
	if err != nil {
		return fmt.Errorf("drawing a %d-way %d-shot %d-query episode from %s: %w", *way, *shot, *query, *data, err)
	}

	var x [][]float32
	var pts []plot.Point
	for _, set := range []struct {
		s       *episode.Set
		support bool
	}{{&task.Support, true}, {&task.Query, false}} {
		if set.s.N == 0 {
			continue
		}
		emb, err := c.EmbedTensor(set.s.Data, set.s.N)
		if err != nil {
			return err
		}
		dim := len(emb) / set.s.N
		for k := range set.s.N {
			x = append(x, emb[k*dim:(k+1)*dim])
			pts = append(pts, plot.Point{Class: set.s.Labels[k], Support: set.support})
		}
	}
	res, err := tsne.Embed(x, tsne.Options{Perplexity: *perplexity, Iterations: *iterations, Seed: *seed})
	if err != nil {
		return err
	}
	for i, y := range res.Y {
		pts[i].X, pts[i].Y = y[0], y[1]
	}
	if *title == "" {
		*title = fmt.Sprintf("t-SNE of a %d-way %d-shot episode", *way, *shot)
	}
	paths, err := plot.WriteScatter(*out, task.Classes, pts, plot.ScatterOptions{Title: *title})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "%d images, perplexity %.3g, KL %.4f\n", len(pts), res.Perplexity, res.KL)
	for _, p := range paths {
		fmt.Fprintln(env.stdout, "wrote", p)
	}
	return nil
}
