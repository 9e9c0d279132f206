package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/fewshot"
	"github.com/fewshot-go/fewshot/internal/atomicfile"
	"github.com/fewshot-go/fewshot/internal/plot"
	"github.com/fewshot-go/fewshot/internal/progress"
)

func init() {
	register(&command{
		name:    "calibrate",
		summary: "fit a model's temperature on validation episodes so its probabilities are calibrated",
		run:     runCalibrate,
	})
}

const calibrateExamples = `
# fit the temperature of a mini-ImageNet model on 500 validation episodes, check it on 500 others
# and on the test split, and draw the reliability diagram
fewshot calibrate --model mini.onnx --data shared/data/mini-imagenet --split val --way 5 --shot 5 \
    --episodes 500 --eval-split test --out mini-calibrated.onnx --plot reliability.png

# measure only (no --out): the calibration error of a model as it is, as JSON
fewshot calibrate --model omniglot-proto.onnx --data shared/data/omniglot --split vinyals-val --json

# recalibrate a model in place (explicitly)
fewshot calibrate --model mini.onnx --data shared/data/mini-imagenet --out mini.onnx --overwrite`

// calibrateFlags are the parsed flags of the calibrate command.
type calibrateFlags struct {
	model, data, split, evalSplit, out, plotFile, cacheDir, title string
	way, shot, query, episodes, evalEpisodes, threads, bins       int
	seed, evalSeed                                                uint64
	jsonOut, quiet, overwrite                                     bool
}

// calibrateSet is the calibration of one set of episodes.
type calibrateSet struct {
	Split    string  `json:"split"`
	Seed     uint64  `json:"seed"`
	Episodes int     `json:"episodes"`
	Queries  int     `json:"queries"`
	Accuracy float64 `json:"accuracy"`
	// Before is at the input model's temperature, After at the fitted one.
	Before calibrateFigures `json:"before"`
	After  calibrateFigures `json:"after"`
}

// calibrateFigures are the calibration figures at one temperature.
type calibrateFigures struct {
	Temperature float64      `json:"temperature"`
	ECE         float64      `json:"ece"`
	NLL         float64      `json:"nll"`
	Confidence  float64      `json:"confidence"`
	Bins        []plot.Bin   `json:"-"`
	JSONBins    []jsonBinOut `json:"bins"`
}

type jsonBinOut struct {
	Lower      float64 `json:"lower"`
	Upper      float64 `json:"upper"`
	Count      int     `json:"count"`
	Confidence float64 `json:"confidence"`
	Accuracy   float64 `json:"accuracy"`
}

// calibrateReport is the result of the calibrate command, printed as JSON
// with --json.
type calibrateReport struct {
	Model string `json:"model"`
	Out   string `json:"out,omitempty"`
	Plot  string `json:"plot,omitempty"`
	Data  string `json:"data"`
	Way   int    `json:"way"`
	Shot  int    `json:"shot"`
	Query int    `json:"query"`
	Bins  int    `json:"bins"`
	// TemperatureBefore is the input model's; Temperature the fitted one.
	TemperatureBefore float64 `json:"temperature_before"`
	Temperature       float64 `json:"temperature"`
	// Fit are the episodes the temperature was fitted on, Heldout other
	// episodes of the same split and Eval those of --eval-split.
	Fit     calibrateSet  `json:"fit"`
	Heldout calibrateSet  `json:"heldout"`
	Eval    *calibrateSet `json:"eval,omitempty"`
	Seconds float64       `json:"seconds"`
}

func runCalibrate(ctx context.Context, env *cmdEnv, args []string) error {
	var f calibrateFlags
	fl := newFlagSet(env, "calibrate", "--model FILE.onnx --data PATH [--out CALIBRATED.onnx] [flags]",
		"Fits the temperature T of a model so that its probabilities mean what they say: among the queries\n"+
			"it classifies with confidence p, a fraction p should be right. The classifier's probabilities are\n"+
			"softmax(logits / T), the logits being the metric's scores (log scores for the relation metric), so T\n"+
			"changes confidences, never predictions. T minimises the negative log-likelihood (NLL) of the query\n"+
			"labels of --episodes episodes of --split drawn with --seed (a golden-section search on log T in\n"+
			"[1e-3, 1e3]; deterministic). The expected calibration error (ECE) is Σ_b (n_b/n)·|acc_b − conf_b|\n"+
			"over --bins equal-width bins of the confidence (the largest probability): 0 is perfect.\n"+
			"ECE and NLL are reported before (at the model's current temperature, 1 unless it was calibrated)\n"+
			"and after, on the fitting episodes, on --eval-episodes held-out episodes of the same split drawn\n"+
			"with --eval-seed, and with --eval-split on episodes of another split (such as test).\n\n"+
			"--out writes the model with the fitted temperature in its metadata (fewshot.temperature), all else\n"+
			"unchanged, atomically: a temporary file renamed over --out. It refuses to replace --model unless\n"+
			"--overwrite is given. --plot writes the reliability diagram (accuracy against confidence per bin,\n"+
			"before and after, with the diagonal) as PNG or SVG, by the file's extension.\n\n"+
			"With --json the result is one object: model, out, plot, data, way, shot, query, bins,\n"+
			"temperature_before, temperature, fit, heldout and eval (each {split, seed, episodes, queries,\n"+
			"accuracy, before, after}, before and after being {temperature, ece, nll, confidence, bins}) and seconds.",
		calibrateExamples)
	fl.StringVar(&f.model, "model", "", "ONNX model file (required)")
	fl.StringVar(&f.data, "data", "", "dataset folder or zip (required; see episode.Load)")
	fl.StringVar(&f.split, "split", "", `split to fit on (default "vinyals-val" for an Omniglot folder, "val" for a folder holding val.zip, else the whole folder)`)
	fl.StringVar(&f.evalSplit, "eval-split", "", "also report the calibration on episodes of this split (such as test)")
	fl.StringVar(&f.out, "out", "", "write the calibrated model to this file (default: measure only)")
	fl.BoolVar(&f.overwrite, "overwrite", false, "allow --out to be the --model file")
	fl.StringVar(&f.plotFile, "plot", "", "write the reliability diagram to this .png or .svg file")
	fl.StringVar(&f.title, "title", "", "title of the reliability diagram (default: the model's file name)")
	fl.StringVar(&f.cacheDir, "cache-dir", "", "decoded-image cache folder (default: the user cache folder)")
	fl.IntVar(&f.way, "way", 5, "classes per episode")
	fl.IntVar(&f.shot, "shot", 5, "support images per class")
	fl.IntVar(&f.query, "query", 15, "query images per class")
	fl.IntVar(&f.episodes, "episodes", 300, "episodes to fit the temperature on")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the fitting episodes")
	fl.IntVar(&f.evalEpisodes, "eval-episodes", 0, "held-out episodes (and --eval-split episodes) (default: --episodes)")
	fl.Uint64Var(&f.evalSeed, "eval-seed", 0, "seed of the held-out episodes, different from --seed (default: --seed + 1000)")
	fl.IntVar(&f.bins, "bins", fewshot.DefaultBins, "confidence bins of the ECE and the diagram")
	fl.IntVar(&f.threads, "threads", 0, "episodes evaluated at once, one CPU each (default: all CPUs)")
	fl.BoolVar(&f.jsonOut, "json", false, "print the result as one JSON object")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress on standard error")
	if err := parseFlagsNoArgs(fl, args); err != nil {
		return err
	}
	if err := f.validate(); err != nil {
		return err
	}
	return calibrate(ctx, env, &f)
}

func (f *calibrateFlags) validate() error {
	switch {
	case f.model == "":
		return usagef("--model is required")
	case f.data == "":
		return usagef("--data is required")
	case f.way < 2:
		return usagef("--way %d: an episode needs at least 2 classes", f.way)
	case f.bins < 1 || f.bins > 1000:
		return usagef("--bins %d, want 1 to 1000", f.bins)
	}
	for _, c := range []struct {
		name   string
		v, min int
	}{{"shot", f.shot, 1}, {"query", f.query, 1}, {"episodes", f.episodes, 1}, {"eval-episodes", f.evalEpisodes, 0}, {"threads", f.threads, 0}} {
		if c.v < c.min {
			return usagef("--%s %d, want >= %d", c.name, c.v, c.min)
		}
	}
	if f.evalEpisodes == 0 {
		f.evalEpisodes = f.episodes
	}
	if f.evalSeed == 0 {
		f.evalSeed = f.seed + 1000
	}
	if f.evalSeed == f.seed {
		return usagef("--eval-seed %d equals --seed: the held-out episodes must differ from the fitting ones", f.seed)
	}
	if f.split == "" {
		f.split = presentSplit(f.data, "val")
	}
	if f.plotFile != "" {
		if ext := strings.ToLower(filepath.Ext(f.plotFile)); ext != ".png" && ext != ".svg" {
			return usagef("--plot %s: want a file name ending in .png or .svg", f.plotFile)
		}
	}
	if f.out != "" && !f.overwrite {
		if same, err := sameFile(f.model, f.out); err != nil {
			return err
		} else if same {
			return usagef("--out %s is the --model file; pass --overwrite to replace it", f.out)
		}
	}
	return nil
}

// sameFile reports whether a and b name the same existing file (b may not
// exist).
func sameFile(a, b string) (bool, error) {
	sb, err := os.Stat(b)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	sa, err := os.Stat(a)
	if err != nil {
		return false, fmt.Errorf("loading model: %w", err)
	}
	return os.SameFile(sa, sb), nil
}

func calibrate(ctx context.Context, env *cmdEnv, f *calibrateFlags) error {
	start := time.Now()
	raw, err := os.ReadFile(f.model)
	if err != nil {
		return fmt.Errorf("loading model: %w", err)
	}
	model, err := fewshot.ParseModel(raw)
	if err != nil {
		return fmt.Errorf("%w (model file %s)", err, f.model)
	}
	clf, err := fewshot.New(model, fewshot.WithBatchSize(min(f.way*(f.shot+f.query), 128)))
	if err != nil {
		return err
	}
	workers := f.threads
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	defer engine.SetThreads(engine.SetThreads(1))
	cfg := episode.Config{Ways: []int{f.way}, Shots: []int{f.shot}, Query: f.query}

	val, err := f.decode(ctx, env, model, f.split)
	if err != nil {
		return err
	}
	fitData, err := collectLogits(ctx, env, f, clf, val, cfg, f.episodes, f.seed, workers, "fitting episodes")
	if err != nil {
		return err
	}
	heldData, err := collectLogits(ctx, env, f, clf, val, cfg, f.evalEpisodes, f.evalSeed, workers, "held-out episodes")
	if err != nil {
		return err
	}
	t, err := fewshot.FitTemperature(fitData)
	if err != nil {
		return err
	}
	t0 := model.Temperature()
	rep := calibrateReport{Model: f.model, Out: f.out, Plot: f.plotFile, Data: f.data, Way: f.way, Shot: f.shot,
		Query: f.query, Bins: f.bins, TemperatureBefore: t0, Temperature: t}
	if rep.Fit, err = calibrationOf(fitData, f.split, f.seed, f.episodes, t0, t, f.bins); err != nil {
		return err
	}
	if rep.Heldout, err = calibrationOf(heldData, f.split, f.evalSeed, f.evalEpisodes, t0, t, f.bins); err != nil {
		return err
	}
	if f.evalSplit != "" {
		dec, err := f.decode(ctx, env, model, f.evalSplit)
		if err != nil {
			return err
		}
		data, err := collectLogits(ctx, env, f, clf, dec, cfg, f.evalEpisodes, f.evalSeed, workers, f.evalSplit+" episodes")
		if err != nil {
			return err
		}
		s, err := calibrationOf(data, f.evalSplit, f.evalSeed, f.evalEpisodes, t0, t, f.bins)
		if err != nil {
			return err
		}
		rep.Eval = &s
	}
	if f.plotFile != "" {
		if err := writeReliabilityPlot(f, &rep); err != nil {
			return err
		}
	}
	if f.out != "" {
		b, err := fewshot.SetTemperature(raw, t)
		if err != nil {
			return err
		}
		if err := atomicfile.Write(f.out, 0o644, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
			return err
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	if f.jsonOut {
		b, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(env.stdout, "%s\n", b)
		return err
	}
	return printCalibrateSummary(env.stdout, &rep)
}

func (f *calibrateFlags) decode(ctx context.Context, env *cmdEnv, model *fewshot.Model, split string) (*episode.Decoded, error) {
	ds, err := episode.Load(f.data, split)
	if err != nil {
		return nil, err
	}
	defer ds.Close()
	pre := model.Info().Preprocess
	if !f.quiet {
		fmt.Fprintf(env.stderr, "decoding %s (%d images) at %d×%d×%d\n", ds.Name, ds.NumItems(), pre.Channels, pre.Height, pre.Width)
	}
	dec, err := episode.Decode(ctx, ds, pre, episode.DecodeOptions{CacheDir: f.cacheDir})
	if err != nil {
		return nil, err
	}
	if dec.NumClasses() < f.way {
		return nil, fmt.Errorf("%s has %d classes, fewer than the %d an episode needs", dec.Name, dec.NumClasses(), f.way)
	}
	return dec, nil
}

// collectLogits classifies the queries of episodes 0..n-1 of (cfg, seed)
// and returns their logits and labels in episode order, whatever the
// number of workers.
func collectLogits(ctx context.Context, env *cmdEnv, f *calibrateFlags, clf *fewshot.Classifier, dec *episode.Decoded,
	cfg episode.Config, n int, seed uint64, workers int, what string) ([]fewshot.Labelled, error) {
	bar := progress.New(env.stderr, int64(n), what, progress.Options{Quiet: f.quiet})
	defer bar.Finish()
	res := make([][]fewshot.Labelled, n)
	err := runEpisodes(ctx, n, workers, func(_, i int) error {
		l, err := episodeLogits(clf, dec, cfg, seed, i)
		if err != nil {
			return err
		}
		res[i] = l
		bar.Add(1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []fewshot.Labelled
	for _, l := range res {
		out = append(out, l...)
	}
	return out, nil
}

// episodeLogits draws episode i of (cfg, seed) and returns the logits of
// each query (see fewshot.Metric.Logits) with its label.
func episodeLogits(clf *fewshot.Classifier, dec *episode.Decoded, cfg episode.Config, seed uint64, i int) ([]fewshot.Labelled, error) {
	t, err := dec.Episode(cfg, seed, i)
	if err != nil {
		return nil, fmt.Errorf("episode %d (seed %d): %w", i, seed, err)
	}
	// Zero-padded labels sort in label order, so class k of the
	// predictions is label k of the episode.
	labels := make([]string, t.Way)
	for l := range labels {
		labels[l] = fmt.Sprintf("%04d", l)
	}
	ns, nq := t.Support.N, t.Query.N
	x := make([]float32, 0, len(t.Support.Data)+len(t.Query.Data))
	x = append(append(x, t.Support.Data...), t.Query.Data...)
	emb, err := clf.EmbedTensor(x, ns+nq)
	if err != nil {
		return nil, fmt.Errorf("episode %d (seed %d): %w", i, seed, err)
	}
	d := len(emb) / (ns + nq)
	sup := make([]string, ns)
	for k, l := range t.Support.Labels {
		sup[k] = labels[l]
	}
	protos, err := clf.FitEmbeddings(sup, emb[:ns*d])
	if err != nil {
		return nil, fmt.Errorf("episode %d (seed %d): %w", i, seed, err)
	}
	preds, err := protos.PredictEmbeddings(emb[ns*d:])
	if err != nil {
		return nil, fmt.Errorf("episode %d (seed %d): %w", i, seed, err)
	}
	metric := clf.Model().Info().Metric
	out := make([]fewshot.Labelled, nq)
	for k, p := range preds {
		out[k] = fewshot.Labelled{Logits: metric.Logits(p.Scores), Label: t.Query.Labels[k]}
	}
	return out, nil
}

func calibrationOf(data []fewshot.Labelled, split string, seed uint64, episodes int, t0, t float64, bins int) (calibrateSet, error) {
	s := calibrateSet{Split: split, Seed: seed, Episodes: episodes, Queries: len(data)}
	for i, temp := range []float64{t0, t} {
		r, err := fewshot.ComputeReliability(data, temp, bins)
		if err != nil {
			return s, err
		}
		nll, err := fewshot.NLL(data, temp)
		if err != nil {
			return s, err
		}
		fig := calibrateFigures{Temperature: temp, ECE: r.ECE, NLL: nll, Confidence: r.Confidence}
		for _, b := range r.Bins {
			fig.Bins = append(fig.Bins, plot.Bin{Lower: b.Lower, Upper: b.Upper, Count: b.Count, Confidence: b.Confidence, Accuracy: b.Accuracy})
			fig.JSONBins = append(fig.JSONBins, jsonBinOut(b))
		}
		s.Accuracy = r.Accuracy
		if i == 0 {
			s.Before = fig
		} else {
			s.After = fig
		}
	}
	return s, nil
}

func writeReliabilityPlot(f *calibrateFlags, rep *calibrateReport) error {
	sets := []*calibrateSet{&rep.Heldout}
	if rep.Eval != nil {
		sets = append(sets, rep.Eval)
	}
	var series []plot.ReliabilitySeries
	for _, s := range sets {
		name := s.Split + " held-out"
		if s != &rep.Heldout {
			name = s.Split
		}
		series = append(series,
			plot.ReliabilitySeries{Name: fmt.Sprintf("%s, T = %.3g: ECE %.1f %%", name, s.Before.Temperature, 100*s.Before.ECE), Bins: s.Before.Bins},
			plot.ReliabilitySeries{Name: fmt.Sprintf("%s, T = %.3g: ECE %.1f %%", name, s.After.Temperature, 100*s.After.ECE), Bins: s.After.Bins})
	}
	title := f.title
	if title == "" {
		title = fmt.Sprintf("%s, %d-way %d-shot", filepath.Base(f.model), f.way, f.shot)
	}
	format := plot.PNG
	if strings.EqualFold(filepath.Ext(f.plotFile), ".svg") {
		format = plot.SVG
	}
	var buf bytes.Buffer
	if err := plot.RenderReliability(&buf, format, series, plot.ReliabilityOptions{Title: title}); err != nil {
		return err
	}
	return atomicfile.Write(f.plotFile, 0o644, func(w io.Writer) error { _, err := buf.WriteTo(w); return err })
}

func printCalibrateSummary(w io.Writer, r *calibrateReport) error {
	fmt.Fprintf(w, "temperature %.4g (was %.4g), fitted on %d queries of %d %d-way %d-shot episodes of %q (seed %d)\n",
		r.Temperature, r.TemperatureBefore, r.Fit.Queries, r.Fit.Episodes, r.Way, r.Shot, r.Fit.Split, r.Fit.Seed)
	fmt.Fprintf(w, "%-28s %9s %17s %17s\n", "episodes", "accuracy", "ECE before→after", "NLL before→after")
	for _, s := range []*calibrateSet{&r.Fit, &r.Heldout, r.Eval} {
		if s == nil {
			continue
		}
		name := fmt.Sprintf("%s seed %d (fit)", s.Split, s.Seed)
		if s != &r.Fit {
			name = fmt.Sprintf("%s seed %d", s.Split, s.Seed)
		}
		fmt.Fprintf(w, "%-28s %8.2f%% %7.2f%% → %5.2f%% %7.4f → %7.4f\n", name, 100*s.Accuracy,
			100*s.Before.ECE, 100*s.After.ECE, s.Before.NLL, s.After.NLL)
	}
	if r.Plot != "" {
		fmt.Fprintln(w, "wrote", r.Plot)
	}
	if r.Out != "" {
		fmt.Fprintln(w, "wrote", r.Out)
	}
	return nil
}
